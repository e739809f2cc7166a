#pragma once

// Measured durations for people: "250us", "734.5ms", "10s", "1m30s", "719h59m", "-3h". Durations
// users write (and their exact spelling) are common/duration.h's ParseDuration/FormatDuration.
// Thread-safety: pure function.

#include <chrono>
#include <string>

namespace pharos {

// Zero units left out, at most three decimals on the smallest unit; rounded to whole
// milliseconds from one second up.
std::string FormatMicros(std::chrono::microseconds duration);

}  // namespace pharos
