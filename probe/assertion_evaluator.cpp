#include "probe/assertion_evaluator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/duration.h"
#include "common/duration_text.h"
#include "common/json_numbers.h"
#include "common/json_path.h"
#include "common/latency_assertion.h"
#include "common/regex.h"
#include "probe/error_text.h"

namespace pharos {
namespace {

// Bodies nested deeper than this are not parsed: the selected values are printed recursively.
constexpr int kMaxJsonDepth = 256;
constexpr size_t kActualExcerptBytes = 200;

// One value an assertion looks at: `text` is compared, `display` is shown to people.
struct Value {
  std::string text;
  std::string display;
  bool empty = false;
};

Value TextValue(std::string text) {
  Value value;
  value.empty = text.empty();
  value.display = text;
  value.text = std::move(text);
  return value;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(number)) {
    return std::nullopt;
  }
  return number;
}

std::string Lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

bool IsNegativeOp(CompareOp op) {
  return op == CompareOp::kNotEq || op == CompareOp::kNotContains || op == CompareOp::kEmpty;
}

// Whether `actual op expected` holds for one value; a regex engine failure sets *problem.
bool Holds(const Value& actual, CompareOp op, const std::string& expected, const Regex* regex,
           std::string* problem) {
  const auto actual_number = ParseNumber(actual.text);
  const auto expected_number = ParseNumber(expected);
  const bool numeric = actual_number && expected_number;
  int order = 0;  // <0, 0, >0: actual compared with expected
  if (numeric) {
    order = *actual_number < *expected_number ? -1 : (*actual_number > *expected_number ? 1 : 0);
  } else {
    const int c = actual.text.compare(expected);
    order = c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  switch (op) {
    case CompareOp::kEq:
      return order == 0;
    case CompareOp::kNotEq:
      return order != 0;
    case CompareOp::kGt:
      return order > 0;
    case CompareOp::kGte:
      return order >= 0;
    case CompareOp::kLt:
      return order < 0;
    case CompareOp::kLte:
      return order <= 0;
    case CompareOp::kContains:
      return actual.text.find(expected) != std::string::npos;
    case CompareOp::kNotContains:
      return actual.text.find(expected) == std::string::npos;
    case CompareOp::kMatches: {
      if (regex == nullptr) return false;
      auto matched = regex->Search(actual.text);
      if (!matched.ok()) {
        *problem = matched.error();
        return false;
      }
      return matched.value();
    }
    case CompareOp::kEmpty:
      return actual.empty;
    case CompareOp::kNotEmpty:
      return !actual.empty;
  }
  return false;
}

// Any/every over `values` (see the class comment). On failure returns the reason when one is
// more specific than "did not hold" (a regex that gave up).
bool HoldsForValues(const std::vector<Value>& values, CompareOp op, const std::string& expected,
                    const Regex* regex, std::string* problem) {
  if (IsNegativeOp(op)) {
    return std::all_of(values.begin(), values.end(), [&](const Value& value) {
      return Holds(value, op, expected, regex, problem);
    });
  }
  std::string first_problem;
  for (const Value& value : values) {
    std::string value_problem;
    if (Holds(value, op, expected, regex, &value_problem)) return true;
    if (first_problem.empty()) first_problem = value_problem;
  }
  *problem = first_problem;
  return false;
}

std::string ExpectedText(const Assertion& assertion) {
  if (assertion.op == CompareOp::kEmpty || assertion.op == CompareOp::kNotEmpty) {
    return ToString(assertion.op);
  }
  return std::string(ToString(assertion.op)) + " " + assertion.value;
}

FailedAssertion MakeFailure(const Assertion& assertion, const std::string& actual,
                            const std::string& message) {
  FailedAssertion failure;
  failure.type = ToString(assertion.type);
  failure.expected = SanitizeText(ExpectedText(assertion), kActualExcerptBytes);
  failure.actual = SanitizeText(actual, kActualExcerptBytes);
  failure.message = SanitizeText(message, 2 * kActualExcerptBytes);
  return failure;
}

std::string Quoted(const std::string& text) {
  return "\"" + SanitizeText(text, kActualExcerptBytes) + "\"";
}

std::string JoinDisplays(const std::vector<Value>& values) {
  std::string joined;
  for (const Value& value : values) {
    if (!joined.empty()) joined += ", ";
    joined += value.display;
    if (joined.size() > kActualExcerptBytes) break;
  }
  return joined;
}

// JSON nesting depth of `text`, stopping early once beyond `limit`.
int JsonDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Value JsonValue(const nlohmann::json& json) {
  Value value;
  if (json.is_string()) {
    value.text = json.get<std::string>();
  } else {
    value.text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  value.display = value.text;
  value.empty = json.is_null() || (json.is_string() && value.text.empty()) ||
                (json.is_array() && json.empty()) || (json.is_object() && json.empty());
  return value;
}

std::string JsonErrorText(const std::exception& error) {
  std::string text = error.what();
  // "[json.exception.parse_error.101] parse error at ..." → "parse error at ..."
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("] ");
    if (close != std::string::npos) text = text.substr(close + 2);
  }
  return text;
}

bool IsNameRecordType(DnsRecordType type) {
  return type == DnsRecordType::kCNAME || type == DnsRecordType::kNS || type == DnsRecordType::kMX;
}

}  // namespace

AssertionEvaluator::Verdict AssertionEvaluator::Judge(const Monitor& monitor,
                                                      const Observation& observation) const {
  Verdict verdict;
  if (!observation.error.empty()) {
    verdict.outcome = observation.probe_fault ? Outcome::kError : Outcome::kDown;
    return verdict;
  }
  if (monitor.type == MonitorType::kGrpc && observation.grpc_serving != "SERVING") {
    // The health protocol's answer is the check; assertions come on top of it.
    const std::string service = monitor.grpc && !monitor.grpc->service.empty()
                                    ? " for service " + Quoted(monitor.grpc->service)
                                    : " for the server";
    verdict.outcome = Outcome::kDown;
    verdict.failed_assertion = FailedAssertion{
        "grpcHealth", "SERVING", observation.grpc_serving,
        "gRPC health is " + observation.grpc_serving + service + ", expected SERVING"};
    return verdict;
  }
  if (monitor.assertions.empty()) {
    verdict.failed_assertion = EvaluateDefault(monitor, observation);
  } else {
    for (const Assertion& assertion : monitor.assertions) {
      verdict.failed_assertion = Evaluate(monitor, assertion, observation);
      if (verdict.failed_assertion) break;
    }
  }
  if (verdict.failed_assertion) {
    verdict.outcome = Outcome::kDown;
  } else if (monitor.degraded_after &&
             observation.timings.total_us >
                 std::chrono::duration_cast<std::chrono::microseconds>(*monitor.degraded_after)
                     .count()) {
    verdict.outcome = Outcome::kDegraded;
  } else {
    verdict.outcome = Outcome::kUp;
  }
  return verdict;
}

std::optional<FailedAssertion> AssertionEvaluator::EvaluateDefault(
    const Monitor& monitor, const Observation& observation) const {
  switch (monitor.type) {
    case MonitorType::kHttp:
      if (observation.status_code >= 200 && observation.status_code < 300) return std::nullopt;
      return FailedAssertion{
          "statusCode", "2xx", std::to_string(observation.status_code),
          "status code is " + std::to_string(observation.status_code) + ", expected 2xx"};
    case MonitorType::kTcp:
    case MonitorType::kIcmp:
    case MonitorType::kGrpc:
    case MonitorType::kPush:
      // No connection (or handshake), a ping without any reply, a failed call: those are errors
      // already. SERVING is checked before any assertion.
      return std::nullopt;
    case MonitorType::kDns: {
      if (!observation.dns_records.empty()) return std::nullopt;
      const std::string type = monitor.dns ? ToString(monitor.dns->record_type) : "A";
      const std::string name = monitor.dns ? monitor.dns->name : std::string();
      return FailedAssertion{"dnsRecord", "not_empty", "",
                             "no " + type + " records for " + SanitizeText(name)};
    }
  }
  return std::nullopt;
}

std::optional<FailedAssertion> AssertionEvaluator::Evaluate(const Monitor& monitor,
                                                            const Assertion& assertion,
                                                            const Observation& observation) const {
  std::optional<Regex> regex;
  if (assertion.op == CompareOp::kMatches) {
    auto compiled = Regex::Compile(assertion.value);
    if (!compiled.ok()) {
      return MakeFailure(
          assertion, "",
          "invalid regular expression " + Quoted(assertion.value) + ": " + compiled.error());
    }
    regex = std::move(compiled).value();
  }
  const Regex* pattern = regex ? &*regex : nullptr;
  std::string expected = assertion.value;
  std::vector<Value> values;
  std::string subject;
  bool quote_actual = false;

  switch (assertion.type) {
    case AssertionType::kStatusCode:
      subject = "status code";
      values.push_back(TextValue(std::to_string(observation.status_code)));
      break;
    case AssertionType::kHeader: {
      subject = "header " + SanitizeText(assertion.name);
      quote_actual = true;
      for (const auto& [name, value] : observation.headers) {
        if (Lowercase(name) == Lowercase(assertion.name)) values.push_back(TextValue(value));
      }
      if (values.empty()) {
        values.push_back(TextValue(""));
        std::string problem;
        if (HoldsForValues(values, assertion.op, expected, pattern, &problem)) return std::nullopt;
        return MakeFailure(assertion, "",
                           !problem.empty()
                               ? subject + ": " + problem
                               : subject + " is missing, expected " + ExpectedText(assertion));
      }
      break;
    }
    case AssertionType::kBody:
      subject = "body";
      quote_actual = true;
      values.push_back(TextValue(observation.body));
      break;
    case AssertionType::kJsonPath: {
      subject = assertion.path;
      quote_actual = true;
      auto path = JsonPath::Parse(assertion.path);
      if (!path.ok()) {
        return MakeFailure(assertion, "",
                           "invalid JSONPath " + Quoted(assertion.path) + ": " + path.error());
      }
      const std::string truncated =
          observation.body_truncated
              ? " (the body was cut at " + std::to_string(observation.body.size()) + " bytes)"
              : std::string();
      if (observation.body.empty()) {
        return MakeFailure(assertion, "", "body is not JSON: the body is empty");
      }
      if (JsonDepth(observation.body, kMaxJsonDepth) > kMaxJsonDepth) {
        return MakeFailure(
            assertion, observation.body,
            "body is not JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      }
      nlohmann::json document;
      try {
        document = ParseJsonClampingNumbers(observation.body);
      } catch (const std::exception& error) {
        return MakeFailure(assertion, observation.body,
                           "body is not JSON: " + JsonErrorText(error) + truncated);
      }
      for (const nlohmann::json* selected : path->Select(document)) {
        values.push_back(JsonValue(*selected));
      }
      if (values.empty()) {
        std::string problem;
        if (HoldsForValues(values, assertion.op, expected, pattern, &problem)) return std::nullopt;
        return MakeFailure(assertion, "",
                           subject + " selected nothing, expected " + ExpectedText(assertion));
      }
      break;
    }
    case AssertionType::kLatency: {
      std::optional<FailedAssertion> failure =
          JudgeLatency(assertion, std::chrono::microseconds(observation.timings.total_us));
      if (failure) {
        failure->expected = SanitizeText(failure->expected, kActualExcerptBytes);
        failure->message = SanitizeText(failure->message, 2 * kActualExcerptBytes);
      }
      return failure;
    }
    case AssertionType::kPacketLoss: {
      subject = "packet loss";
      const double loss = observation.icmp ? observation.icmp->LossPercent() : 100.0;
      char text[32];
      std::snprintf(text, sizeof text, "%.4g", loss);
      Value value = TextValue(text);
      value.display = std::string(text) + "%";
      if (observation.icmp) {
        value.display += " (" + std::to_string(observation.icmp->received) + " of " +
                         std::to_string(observation.icmp->sent) + " replies)";
      }
      values.push_back(value);
      break;
    }
    case AssertionType::kCertExpiry: {
      subject = "certificate expiry";
      auto limit = ParseDuration(assertion.value);
      if (!limit.ok()) return MakeFailure(assertion, "", limit.error());
      if (!observation.cert_earliest_expiry) {
        return MakeFailure(assertion, "", "no TLS certificate to check");
      }
      expected = std::to_string(std::chrono::microseconds(*limit).count());
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(
          *observation.cert_earliest_expiry - clock_.Now());
      Value value;
      value.text = std::to_string(std::chrono::microseconds(left).count());
      value.display = FormatMicros(left);
      values.push_back(value);
      std::string problem;
      if (HoldsForValues(values, assertion.op, expected, pattern, &problem)) return std::nullopt;
      const std::string when = left.count() < 0 ? "expired " + FormatMicros(-left) + " ago"
                                                : "expires in " + value.display;
      return MakeFailure(
          assertion, value.display,
          "certificate " + when + " (earliest in the chain), expected " + ExpectedText(assertion));
    }
    case AssertionType::kDnsRecord: {
      const DnsRecordType type = monitor.dns ? monitor.dns->record_type : DnsRecordType::kA;
      subject = std::string(ToString(type)) + " records";
      const bool names = IsNameRecordType(type);
      if (names) {
        expected = Lowercase(expected);
        if (!expected.empty() && expected.back() == '.' && expected != ".") expected.pop_back();
      }
      for (const std::string& record : observation.dns_records) {
        Value value = TextValue(names ? Lowercase(record) : record);
        value.display = record;
        values.push_back(std::move(value));
      }
      std::string problem;
      if (HoldsForValues(values, assertion.op, expected, pattern, &problem)) return std::nullopt;
      const std::string actual = JoinDisplays(values);
      if (!problem.empty()) return MakeFailure(assertion, actual, subject + ": " + problem);
      return MakeFailure(assertion, actual,
                         (values.empty() ? "no " + subject : subject + " are " + actual) +
                             ", expected " + ExpectedText(assertion));
    }
  }

  std::string problem;
  if (HoldsForValues(values, assertion.op, expected, pattern, &problem)) return std::nullopt;
  const std::string actual = JoinDisplays(values);
  if (!problem.empty()) return MakeFailure(assertion, actual, subject + ": " + problem);
  const bool is_empty =
      std::all_of(values.begin(), values.end(), [](const Value& value) { return value.empty; });
  std::string shown;
  if (is_empty && quote_actual) {
    shown = "empty";
  } else if (quote_actual) {
    shown = values.size() == 1 ? Quoted(values.front().display) : SanitizeText(actual);
  } else {
    shown = SanitizeText(actual);
  }
  return MakeFailure(assertion, actual,
                     subject + " is " + shown + ", expected " + ExpectedText(assertion));
}

}  // namespace pharos
