#include "operator/api/result_bounds.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/rfc3339.h"

namespace pharos {
namespace {

Error Bad(const std::string& field, const std::string& why) {
  return Error{field + ": " + why, ErrorKind::kInvalidArgument};
}

// Text a probe writes: bounded, and without NUL (the probe escapes control characters).
std::optional<Error> CheckText(const std::string& field, std::string_view text, size_t max) {
  if (text.size() > max) {
    return Bad(field, std::to_string(text.size()) + " bytes; at most " + std::to_string(max));
  }
  if (text.find('\0') != std::string_view::npos) return Bad(field, "contains a NUL character");
  return std::nullopt;
}

}  // namespace

Status CheckResultBounds(const CheckResult& result, std::chrono::system_clock::time_point now) {
  using std::chrono::system_clock;
  // Nothing a probe measured predates Pharos' first release.
  constexpr auto kEarliest = std::chrono::sys_days(std::chrono::year(2020) / 1 / 1);
  const auto latest = now + ResultBounds::kMaxClockAhead;
  const std::pair<const char*, system_clock::time_point> times[] = {
      {"scheduledAt", result.scheduled_at}, {"startedAt", result.started_at}};
  for (const auto& [field, time] : times) {
    if (time < kEarliest || time > latest) {
      return Bad(field, FormatRfc3339(time) +
                            " is not a time a probe could have checked at "
                            "(2020-01-01 up to a day from now)");
    }
  }
  if (result.generation < 0) return Bad("generation", "must not be negative");
  if (result.status_code != 0 && (result.status_code < 100 || result.status_code > 999)) {
    return Bad("statusCode", std::to_string(result.status_code) + " is not 0 or 100-999");
  }
  if (result.attempts < 0 || result.attempts > ResultBounds::kMaxAttempts) {
    return Bad("attempts", "must be 0 to " + std::to_string(ResultBounds::kMaxAttempts));
  }
  const std::pair<const char*, int64_t> phases[] = {
      {"timings.dnsUs", result.timings.dns_us},
      {"timings.connectUs", result.timings.connect_us},
      {"timings.tlsUs", result.timings.tls_us},
      {"timings.firstByteUs", result.timings.first_byte_us},
      {"timings.transferUs", result.timings.transfer_us},
      {"timings.totalUs", result.timings.total_us}};
  for (const auto& [field, value] : phases) {
    if (value < 0 || value > ResultBounds::kMaxPhaseUs) {
      return Bad(field, std::to_string(value) + " is not 0 to " +
                            std::to_string(ResultBounds::kMaxPhaseUs) + " (one day)");
    }
  }
  if (auto bad = CheckText("itemId", result.item_id, ResultBounds::kMaxItemIdBytes)) return *bad;
  if (auto bad = CheckText("target", result.target, ResultBounds::kMaxTargetBytes)) return *bad;
  if (auto bad = CheckText("error", result.error, ResultBounds::kMaxErrorBytes)) return *bad;
  if (result.failed_assertion) {
    const FailedAssertion& failed = *result.failed_assertion;
    const std::pair<const char*, const std::string*> fields[] = {
        {"failedAssertion.type", &failed.type},
        {"failedAssertion.expected", &failed.expected},
        {"failedAssertion.actual", &failed.actual},
        {"failedAssertion.message", &failed.message}};
    for (const auto& [field, text] : fields) {
      if (auto bad = CheckText(field, *text, ResultBounds::kMaxAssertionFieldBytes)) return *bad;
    }
  }
  if (result.dns_records.size() > ResultBounds::kMaxDnsRecords) {
    return Bad("dnsRecords", std::to_string(result.dns_records.size()) + " records; at most " +
                                 std::to_string(ResultBounds::kMaxDnsRecords));
  }
  for (size_t i = 0; i < result.dns_records.size(); ++i) {
    if (auto bad = CheckText("dnsRecords[" + std::to_string(i) + "]", result.dns_records[i],
                             ResultBounds::kMaxDnsRecordBytes)) {
      return *bad;
    }
  }
  return OkStatus();
}

}  // namespace pharos
