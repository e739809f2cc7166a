#pragma once

// Heartbeat: when a push monitor (spec.push) is due a ping and what each ping amounts to
// (docs/monitor-reference.md#specpush). Pure logic in virtual time: every call is given `now`.
// OperatorCore keeps one per push monitor and turns its verdicts into results of region "push"
// that it ingests like a probe's, so pings and missed pings are stored, counted and judged by the
// monitor's state machine like any check (and never leased to a probe).
//
// Rules:
// * A success or fail ping ends a run. The next one is due expectEvery + grace later.
// * When that deadline passes without one, a missed-ping verdict (down) is given, stamped at the
//   deadline, and another every expectEvery + grace while none comes (after a long silence, such
//   as a process stopped for days, the next one is due that long after `now`: no burst).
// * A start ping begins a run (another start restarts it); it gives no verdict and does not move
//   the deadline. The ping that ends the run carries its run time (the result's latency).
// * maxRunTime: a run that lasts longer is down, even when it ends with a success ping; a run
//   still going maxRunTime after its start gives a down verdict at that moment.
// * Latency assertions (spec.assertions, type latency) are judged on the run time of a success
//   ping, by the probe's rule for a check's latency (common/latency_assertion.h), after
//   maxRunTime: the first that fails makes the ping down. A ping without a run time (no /start
//   before it) has no measured run, so its latency assertions cannot fail; nor can a run still
//   going (maxRunTime is the rule for that).
// * A success ping is up, or degraded when the run took longer than spec.degradedAfter; a fail
//   ping is down.
// * Deadlines resume across restarts from the time of the monitor's last result (`last_seen`).
//   A run started before a restart is forgotten (its end is then a ping without run time).
// Thread-safety: not thread-safe; one owner (OperatorCore, under its state lock) drives it.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/monitor.h"

namespace pharos {

enum class PushPing { kSuccess, kStart, kFail };
const char* ToString(PushPing ping);  // "success" "start" "fail"

// The region of every push monitor's results (no probe checks them).
inline constexpr std::string_view kPushRegion = "push";

struct HeartbeatVerdict {
  Outcome outcome = Outcome::kDown;
  std::chrono::system_clock::time_point at{};  // the result's scheduledAt and startedAt
  std::optional<Millis> run_time;              // a run that pinged /start: its length
  std::string message;                         // why it is down or degraded; empty when up
  // The rule that failed (the result's failedAssertion.type): "fail" (a /fail ping), "missed"
  // (no ping in time), "maxRunTime", "latency" (an assertion), "degradedAfter"; empty when up.
  std::string rule;
  std::string expected;  // a failed latency assertion's expectation ("lt 5m") and the run time
  std::string actual;    // ("7m12s"); empty for the other rules
};

class Heartbeat {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // `last_seen`: when the monitor last had a result, or when it was added. `assertions`: the
  // monitor's spec.assertions (validation lets push monitors have latency assertions only; any
  // other type is not judged here).
  Heartbeat(const PushSpec& spec, std::optional<Millis> degraded_after, TimePoint last_seen,
            std::vector<Assertion> assertions = {});

  // A changed spec: deadlines from the last ping (or miss) under the new expectEvery and grace.
  void Reconfigure(const PushSpec& spec, std::optional<Millis> degraded_after,
                   std::vector<Assertion> assertions = {});

  // The verdict of a ping at `now`; none for a start ping.
  std::optional<HeartbeatVerdict> Ping(PushPing ping, TimePoint now);

  // The verdicts whose deadline is at or before `now`: a missed ping, an overrun run.
  std::vector<HeartbeatVerdict> Due(TimePoint now);

  // When the next ping is due at the latest (before a missed-ping verdict).
  TimePoint deadline() const { return last_seen_ + Period(); }
  // When the run in progress overruns; none without a run or maxRunTime.
  std::optional<TimePoint> run_deadline() const;

 private:
  Millis Period() const { return spec_.expect_every + spec_.grace; }

  PushSpec spec_;
  std::optional<Millis> degraded_after_;
  std::vector<Assertion> assertions_;
  TimePoint last_seen_;                  // last success/fail ping or missed-ping verdict
  std::optional<TimePoint> started_at_;  // the run in progress
  bool overrun_reported_ = false;        // its overrun was given as a verdict already
};

}  // namespace pharos
