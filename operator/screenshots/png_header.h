#pragma once

// ReadPngHeader: checks that bytes uploaded as a screenshot are a PNG (the signature, then an
// IHDR chunk of 13 bytes with a width and height of 1 to 65535 pixels) before the operator
// stores and serves them as image/png. It does not decode the image: browsers do that, and the
// size is bounded by the caller.
// Thread-safety: a pure function.

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace pharos {

struct PngHeader {
  uint32_t width = 0;
  uint32_t height = 0;
};

// Errors (kInvalidArgument) say what is wrong: "not a PNG (no PNG signature)", ...
Result<PngHeader> ReadPngHeader(std::string_view bytes);

}  // namespace pharos
