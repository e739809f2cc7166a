#pragma once

// CheckResult: what one check of one monitor produced (docs/architecture.md, "Results"). Written by
// the probe, carried over the probe protocol, stored by the operator, printed by `pharos check`.
// Thread-safety: a value type.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/monitor.h"

namespace pharos {

enum class Outcome { kUp, kDegraded, kDown, kError };
const char* ToString(Outcome outcome);  // "up" "degraded" "down" "error"
std::optional<Outcome> ParseOutcome(std::string_view text);

// Microseconds spent in each phase; 0 when a phase did not happen (no TLS on http://).
struct Timings {
  int64_t dns_us = 0;
  int64_t connect_us = 0;
  int64_t tls_us = 0;
  int64_t first_byte_us = 0;  // request sent → first response byte
  int64_t transfer_us = 0;    // first byte → last byte
  int64_t total_us = 0;
};

struct FailedAssertion {
  std::string type;      // "statusCode", "header", ...
  std::string expected;  // e.g. "eq 200"
  std::string actual;    // e.g. "503"
  std::string message;   // plain words: "status code 503, expected eq 200"
};

// The echo requests of an icmp check.
struct IcmpStats {
  int sent = 0;
  int received = 0;
  // Round-trip times of the replies; 0 when none came back.
  int64_t rtt_min_us = 0;
  int64_t rtt_avg_us = 0;
  int64_t rtt_max_us = 0;

  // 0..100; 100 when nothing was sent.
  double LossPercent() const;
  bool operator==(const IcmpStats&) const = default;
};

// The check of one address of a target, when every address is checked (resolve: all, or the
// ready endpoints of a Service). The result's own outcome is what they amount to under
// spec.alerting.addressQuorum (see AddressVerdict).
struct AddressResult {
  std::string address;  // "127.0.0.2", "::1", "10.1.2.3:8080"
  std::string name;     // the endpoint's name (its Pod) when known
  Outcome outcome = Outcome::kError;
  int status_code = 0;  // http: the answer's status; grpc: 0
  int64_t total_us = 0;
  std::string message;  // why it failed (transport error or failed assertion); empty when up
  std::optional<IcmpStats> icmp;

  // "10.1.2.3:8080 (web-7d9f)", or the address alone.
  std::string Label() const;
  bool operator==(const AddressResult&) const = default;
};

// The work item a result answers, as whoever reports it knows it.
struct WorkReference {
  std::string monitor_uid;
  int64_t generation = 0;
  std::string region;
  std::string probe;
  std::string item_id;
  std::chrono::system_clock::time_point scheduled_at{};
};

struct CheckResult {
  // A result naming `monitor`: namespace, name, uid, generation, type and target.
  static CheckResult Of(const Monitor& monitor);
  // The answer for an item that was not checked (the probe could not, or got it too late):
  // outcome error — a probe failure, never the target down — with `reason`, started at `at`,
  // 0 attempts.
  static CheckResult NotChecked(const WorkReference& item, std::chrono::system_clock::time_point at,
                                std::string reason);

  // Identity (filled by whoever runs the check).
  std::string monitor_namespace;
  std::string monitor_name;
  std::string monitor_uid;
  int64_t generation = 0;
  MonitorType type = MonitorType::kHttp;
  std::string target;
  std::string region;
  std::string probe;
  std::string item_id;  // work item this answers; empty for `pharos check`
  std::chrono::system_clock::time_point scheduled_at{};
  std::chrono::system_clock::time_point started_at{};

  // What happened.
  Outcome outcome = Outcome::kError;
  int status_code = 0;  // HTTP only; 0 when no response
  Timings timings;
  std::optional<std::chrono::system_clock::time_point> cert_expiry;           // leaf
  std::optional<std::chrono::system_clock::time_point> cert_earliest_expiry;  // whole chain
  std::optional<FailedAssertion> failed_assertion;
  std::string error;  // transport error in plain words; empty when the transport succeeded
  int attempts = 1;
  std::vector<std::string> dns_records;  // DNS checks: the answers, as text
  std::optional<IcmpStats> icmp;         // icmp checks (of the first address with several)
  std::vector<AddressResult> addresses;  // one per address when every address is checked
};

}  // namespace pharos
