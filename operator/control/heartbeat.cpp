#include "operator/control/heartbeat.h"

#include <utility>

#include "common/duration.h"
#include "common/latency_assertion.h"
#include "common/rfc3339.h"

namespace pharos {

const char* ToString(PushPing ping) {
  switch (ping) {
    case PushPing::kSuccess:
      return "success";
    case PushPing::kStart:
      return "start";
    case PushPing::kFail:
      return "fail";
  }
  return "success";
}

Heartbeat::Heartbeat(const PushSpec& spec, std::optional<Millis> degraded_after,
                     TimePoint last_seen, std::vector<Assertion> assertions)
    : spec_(spec),
      degraded_after_(degraded_after),
      assertions_(std::move(assertions)),
      last_seen_(last_seen) {}

void Heartbeat::Reconfigure(const PushSpec& spec, std::optional<Millis> degraded_after,
                            std::vector<Assertion> assertions) {
  spec_ = spec;
  degraded_after_ = degraded_after;
  assertions_ = std::move(assertions);
}

std::optional<Heartbeat::TimePoint> Heartbeat::run_deadline() const {
  if (!started_at_ || !spec_.max_run_time || overrun_reported_) {
    return std::nullopt;
  }
  return *started_at_ + *spec_.max_run_time;
}

std::optional<HeartbeatVerdict> Heartbeat::Ping(PushPing ping, TimePoint now) {
  if (ping == PushPing::kStart) {
    started_at_ = now;
    overrun_reported_ = false;
    return std::nullopt;
  }
  HeartbeatVerdict verdict;
  verdict.at = now;
  if (started_at_ && *started_at_ <= now) {
    verdict.run_time = std::chrono::duration_cast<Millis>(now - *started_at_);
  }
  started_at_.reset();
  overrun_reported_ = false;
  last_seen_ = now;
  if (ping == PushPing::kFail) {
    verdict.outcome = Outcome::kDown;
    verdict.message = "the job reported a failure (/fail ping)";
    verdict.rule = "fail";
    return verdict;
  }
  if (verdict.run_time && spec_.max_run_time && *verdict.run_time > *spec_.max_run_time) {
    verdict.outcome = Outcome::kDown;
    verdict.message = "the job ran " + FormatDuration(*verdict.run_time) +
                      ", longer than maxRunTime " + FormatDuration(*spec_.max_run_time);
    verdict.rule = "maxRunTime";
    return verdict;
  }
  if (verdict.run_time) {
    const auto run_time = std::chrono::duration_cast<std::chrono::microseconds>(*verdict.run_time);
    for (const Assertion& assertion : assertions_) {
      if (assertion.type != AssertionType::kLatency) continue;
      if (std::optional<FailedAssertion> failed = JudgeLatency(assertion, run_time)) {
        verdict.outcome = Outcome::kDown;
        verdict.message = std::move(failed->message);
        verdict.rule = std::move(failed->type);
        verdict.expected = std::move(failed->expected);
        verdict.actual = std::move(failed->actual);
        return verdict;
      }
    }
  }
  if (verdict.run_time && degraded_after_ && *verdict.run_time > *degraded_after_) {
    verdict.outcome = Outcome::kDegraded;
    verdict.message = "the job ran " + FormatDuration(*verdict.run_time) +
                      ", longer than degradedAfter " + FormatDuration(*degraded_after_);
    verdict.rule = "degradedAfter";
    return verdict;
  }
  verdict.outcome = Outcome::kUp;
  return verdict;
}

std::vector<HeartbeatVerdict> Heartbeat::Due(TimePoint now) {
  std::vector<HeartbeatVerdict> verdicts;
  if (std::optional<TimePoint> overrun = run_deadline(); overrun && *overrun <= now) {
    HeartbeatVerdict verdict;
    verdict.at = *overrun;
    verdict.run_time = *spec_.max_run_time;
    verdict.message = "the job started at " + FormatRfc3339(*started_at_) +
                      " has not finished within maxRunTime " + FormatDuration(*spec_.max_run_time);
    verdict.rule = "maxRunTime";
    overrun_reported_ = true;
    verdicts.push_back(std::move(verdict));
  }
  if (const TimePoint due = deadline(); due <= now) {
    HeartbeatVerdict verdict;
    verdict.at = due;
    verdict.message = "no ping within expectEvery " + FormatDuration(spec_.expect_every) +
                      " + grace " + FormatDuration(spec_.grace);
    verdict.rule = "missed";
    // After a long silence the next verdict is a period after now, not one per period missed.
    last_seen_ = due + Period() > now ? due : now;
    if (!verdicts.empty() && verdicts.front().at > verdict.at) {
      verdicts.insert(verdicts.begin(), std::move(verdict));
    } else {
      verdicts.push_back(std::move(verdict));
    }
  }
  return verdicts;
}

}  // namespace pharos
