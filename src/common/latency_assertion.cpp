#include "common/latency_assertion.h"

#include <string>

#include "common/duration.h"
#include "common/duration_text.h"

namespace pharos {
namespace {

// Whether `measured op limit` holds; nullopt for an op that does not compare numbers.
std::optional<bool> Compare(CompareOp op, std::chrono::microseconds measured,
                            std::chrono::microseconds limit) {
  switch (op) {
    case CompareOp::kEq:
      return measured == limit;
    case CompareOp::kNotEq:
      return measured != limit;
    case CompareOp::kGt:
      return measured > limit;
    case CompareOp::kGte:
      return measured >= limit;
    case CompareOp::kLt:
      return measured < limit;
    case CompareOp::kLte:
      return measured <= limit;
    case CompareOp::kContains:
    case CompareOp::kNotContains:
    case CompareOp::kMatches:
    case CompareOp::kEmpty:
    case CompareOp::kNotEmpty:
      break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<FailedAssertion> JudgeLatency(const Assertion& assertion,
                                            std::chrono::microseconds measured) {
  FailedAssertion failure;
  failure.type = ToString(AssertionType::kLatency);
  failure.expected = std::string(ToString(assertion.op)) + " " + assertion.value;
  const Result<Millis> limit = ParseDuration(assertion.value);
  if (!limit.ok()) {
    failure.message = limit.error();
    return failure;
  }
  const std::optional<bool> holds = Compare(
      assertion.op, measured, std::chrono::duration_cast<std::chrono::microseconds>(*limit));
  failure.actual = FormatMicros(measured);
  if (!holds) {
    failure.message = std::string(
                          "latency assertions compare durations with eq, not_eq, gt, gte, "
                          "lt or lte, not ") +
                      ToString(assertion.op);
    return failure;
  }
  if (*holds) return std::nullopt;
  failure.message = "latency is " + failure.actual + ", expected " + failure.expected;
  return failure;
}

}  // namespace pharos
