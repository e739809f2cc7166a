#pragma once

// A latency assertion for tests of the latency rule (the probe's and push monitors').

#include <string>
#include <utility>

#include "common/monitor.h"

namespace pharos {

inline Assertion LatencyAssertion(CompareOp op, std::string value) {
  Assertion assertion;
  assertion.type = AssertionType::kLatency;
  assertion.op = op;
  assertion.value = std::move(value);
  return assertion;
}

}  // namespace pharos
