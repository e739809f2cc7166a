#pragma once

// Eventually: polls a condition that another thread makes true (a worker, an informer, a
// dispatcher), in real time, until it holds (anything that tests true: a bool, an optional) or
// 10 s passed; false on the timeout. For the unit
// suites' multi-threaded tests; single-threaded ones move a ManualClock instead.
// Thread-safety: calls `condition` from the calling thread only.

#include <chrono>
#include <thread>

namespace pharos::testing {

template <typename Condition>
bool Eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace pharos::testing
