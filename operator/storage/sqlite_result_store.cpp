#include "operator/storage/sqlite_result_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "common/check_result_json.h"
#include "operator/storage/latency_histogram.h"
#include "operator/storage/rollup_window.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kPruneChunk = 5'000;

int64_t ToMs(TimePoint time) {
  return std::chrono::duration_cast<milliseconds>(time.time_since_epoch()).count();
}

TimePoint FromMs(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(milliseconds(ms)));
}

std::optional<int64_t> ToMs(const std::optional<TimePoint>& time) {
  if (!time) return std::nullopt;
  return ToMs(*time);
}

std::optional<TimePoint> FromMs(const std::optional<int64_t>& ms) {
  if (!ms) return std::nullopt;
  return FromMs(*ms);
}

// The time a result counts at.
TimePoint ResultTime(const CheckResult& result) {
  return result.scheduled_at != TimePoint{} ? result.scheduled_at : result.started_at;
}

// Counters plus a latency histogram and the phase sums: what a rollup row holds and what a window
// query sums.
struct Aggregate {
  int64_t total = 0, up = 0, degraded = 0, down = 0, errors = 0;
  LatencyHistogram latency;
  // Over the passing results whose phases were kept (rows written before schema 3 have none).
  int64_t phase_samples = 0;
  int64_t phase_sums[5] = {};  // dns, connect, tls, first byte, transfer

  void Add(Outcome outcome, const Timings& timings) {
    ++total;
    switch (outcome) {
      case Outcome::kUp:
      case Outcome::kDegraded:
        ++(outcome == Outcome::kUp ? up : degraded);
        latency.Add(timings.total_us);
        ++phase_samples;
        phase_sums[0] += timings.dns_us;
        phase_sums[1] += timings.connect_us;
        phase_sums[2] += timings.tls_us;
        phase_sums[3] += timings.first_byte_us;
        phase_sums[4] += timings.transfer_us;
        break;
      case Outcome::kDown:
        ++down;
        break;
      case Outcome::kError:
        ++errors;
        break;
    }
  }

  void Merge(const Aggregate& other) {
    total += other.total;
    up += other.up;
    degraded += other.degraded;
    down += other.down;
    errors += other.errors;
    latency.Merge(other.latency);
    phase_samples += other.phase_samples;
    for (int i = 0; i < 5; ++i) phase_sums[i] += other.phase_sums[i];
  }

  WindowStats ToStats() const {
    WindowStats stats;
    stats.total = total;
    stats.up = up;
    stats.degraded = degraded;
    stats.down = down;
    stats.errors = errors;
    stats.latency.samples = latency.count();
    stats.latency.p50_us = latency.Percentile(0.50);
    stats.latency.p95_us = latency.Percentile(0.95);
    stats.latency.p99_us = latency.Percentile(0.99);
    stats.latency.min_us = latency.min_us();
    stats.latency.max_us = latency.max_us();
    if (latency.count() > 0) stats.latency.mean_us = latency.sum_us() / latency.count();
    stats.latency.sum_us = latency.sum_us();
    if (phase_samples > 0) {
      stats.latency.phases = PhaseMeans{phase_samples,
                                        phase_sums[0] / phase_samples,
                                        phase_sums[1] / phase_samples,
                                        phase_sums[2] / phase_samples,
                                        phase_sums[3] / phase_samples,
                                        phase_sums[4] / phase_samples};
    }
    return stats;
  }
};

// The rollup columns ReadAggregate reads, in order.
constexpr std::string_view kAggregateColumns =
    "total, up, degraded, down, errors, latency, phase_samples, dns_sum_us, connect_sum_us, "
    "tls_sum_us, first_byte_sum_us, transfer_sum_us";

// Reads kAggregateColumns starting at `first`.
Result<Aggregate> ReadAggregate(const SqliteStatement& row, int first) {
  Aggregate aggregate;
  aggregate.total = row.Int64(first);
  aggregate.up = row.Int64(first + 1);
  aggregate.degraded = row.Int64(first + 2);
  aggregate.down = row.Int64(first + 3);
  aggregate.errors = row.Int64(first + 4);
  Result<LatencyHistogram> latency = LatencyHistogram::Decode(row.Text(first + 5));
  if (!latency) return Error{"rollup row: " + latency.error()};
  aggregate.latency = std::move(latency).value();
  aggregate.phase_samples = row.Int64(first + 6);
  for (int i = 0; i < 5; ++i) aggregate.phase_sums[i] = row.Int64(first + 7 + i);
  return aggregate;
}

struct RollupKey {
  int64_t period_ms;
  std::string monitor_uid;
  std::string region;
  int64_t bucket_start_ms;
  bool operator<(const RollupKey& o) const {
    return std::tie(period_ms, monitor_uid, region, bucket_start_ms) <
           std::tie(o.period_ms, o.monitor_uid, o.region, o.bucket_start_ms);
  }
};

// Days from `daily_mark` on are read from their hourly rollups (not compacted yet).
std::vector<RollupSegment> PlanWindow(int64_t from, int64_t to, int64_t raw_mark,
                                      int64_t hourly_mark, int64_t daily_mark) {
  if (from < hourly_mark) {
    from = FloorTo(from, kDayMs);
  } else if (from < raw_mark) {
    from = FloorTo(from, kHourMs);
  }
  if (FloorTo(to, kDayMs) < hourly_mark) {
    to = CeilTo(to, kDayMs);
  } else if (FloorTo(to, kHourMs) < raw_mark) {
    to = CeilTo(to, kHourMs);
  }
  std::vector<RollupSegment> plan;
  for (const RollupSegment& segment : SplitByRollups(from, to)) {
    if (segment.source != RollupSource::kDaily || segment.to_ms <= daily_mark) {
      plan.push_back(segment);
    } else if (segment.from_ms >= daily_mark) {
      plan.push_back({RollupSource::kHourly, segment.from_ms, segment.to_ms});
    } else {
      plan.push_back({RollupSource::kDaily, segment.from_ms, daily_mark});
      plan.push_back({RollupSource::kHourly, daily_mark, segment.to_ms});
    }
  }
  return plan;
}

// Where the buckets of a rollup query over [from_ms, to_ms) are read: rows of the query's period
// in [from_ms, to_ms), and for a daily query the hourly rows in [hours_from_ms, hours_to_ms) of
// the days from `daily_mark` on (not compacted yet), each counted in its day. Empty ranges have
// from >= to.
struct RollupSources {
  int64_t from_ms, to_ms, hours_from_ms, hours_to_ms;
};
RollupSources SourcesOf(bool daily, int64_t from_ms, int64_t to_ms, int64_t daily_mark) {
  if (!daily) return {from_ms, to_ms, 0, 0};
  // A day D counts when from <= D < to: its hours run up to the day after the last such D.
  return {from_ms, std::min(to_ms, daily_mark), std::max(CeilTo(from_ms, kDayMs), daily_mark),
          CeilTo(to_ms, kDayMs)};
}

// Writes `aggregate` as the rollup row of `key`, replacing the row there was.
Status WriteRollup(SqliteDatabase& db, const RollupKey& key, const Aggregate& aggregate) {
  Result<SqliteStatement> upsert = db.Prepare(
      "INSERT INTO rollups (monitor_uid, period_ms, bucket_start_ms, region, total, up, "
      "degraded, down, errors, latency, latency_sum_us, phase_samples, dns_sum_us, "
      "connect_sum_us, tls_sum_us, first_byte_sum_us, transfer_sum_us) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) "
      "ON CONFLICT (monitor_uid, period_ms, bucket_start_ms, region) DO UPDATE SET "
      "total = excluded.total, up = excluded.up, degraded = excluded.degraded, "
      "down = excluded.down, errors = excluded.errors, latency = excluded.latency, "
      "latency_sum_us = excluded.latency_sum_us, phase_samples = excluded.phase_samples, "
      "dns_sum_us = excluded.dns_sum_us, connect_sum_us = excluded.connect_sum_us, "
      "tls_sum_us = excluded.tls_sum_us, first_byte_sum_us = excluded.first_byte_sum_us, "
      "transfer_sum_us = excluded.transfer_sum_us");
  if (!upsert) return Error{upsert.error()};
  upsert->Bind(1, std::string_view(key.monitor_uid))
      .Bind(2, key.period_ms)
      .Bind(3, key.bucket_start_ms)
      .Bind(4, std::string_view(key.region))
      .Bind(5, aggregate.total)
      .Bind(6, aggregate.up)
      .Bind(7, aggregate.degraded)
      .Bind(8, aggregate.down)
      .Bind(9, aggregate.errors)
      .Bind(10, std::string_view(aggregate.latency.Encode()))
      .Bind(11, aggregate.latency.sum_us())
      .Bind(12, aggregate.phase_samples);
  for (int i = 0; i < 5; ++i) upsert->Bind(13 + i, aggregate.phase_sums[i]);
  return upsert->Run();
}

// Adds `delta` to the rollup row of `key` (creating it).
Status AddToRollup(SqliteDatabase& db, const RollupKey& key, Aggregate delta) {
  static const std::string select_sql = fmt::format(
      "SELECT {} FROM rollups WHERE monitor_uid = ?1 AND period_ms = ?2 AND "
      "bucket_start_ms = ?3 AND region = ?4",
      kAggregateColumns);
  Result<SqliteStatement> select = db.Prepare(select_sql);
  if (!select) return Error{select.error()};
  select->Bind(1, std::string_view(key.monitor_uid))
      .Bind(2, key.period_ms)
      .Bind(3, key.bucket_start_ms)
      .Bind(4, std::string_view(key.region));
  Result<bool> row = select->Step();
  if (!row) return Error{row.error()};
  if (*row) {
    Result<Aggregate> stored = ReadAggregate(*select, 0);
    if (!stored) return Error{stored.error()};
    delta.Merge(*stored);
  }
  return WriteRollup(db, key, delta);
}

// JSON helpers for the few list-valued columns; exceptions stop here.
std::string ToJsonText(const std::vector<std::string>& values) {
  return nlohmann::json(values).dump();
}

// The common case of a stored list: strings without escapes (region names), read without a
// JSON parser (a status page reads thousands per build); nullopt for anything else.
std::optional<std::vector<std::string>> PlainStrings(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  std::vector<std::string> out;
  size_t at = 1;
  const size_t end = text.size() - 1;
  while (at < end) {
    if (text[at] != '"') return std::nullopt;
    const size_t close = text.find('"', at + 1);
    if (close == std::string_view::npos || close >= end) return std::nullopt;
    const std::string_view value = text.substr(at + 1, close - at - 1);
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return c == '\\' || static_cast<unsigned char>(c) < 0x20; })) {
      return std::nullopt;
    }
    out.emplace_back(value);
    at = close + 1;
    if (at < end) {
      if (text[at] != ',') return std::nullopt;
      ++at;
    }
  }
  return out;
}

Result<std::vector<std::string>> StringsFromJson(const std::string& text, std::string_view what) {
  if (std::optional<std::vector<std::string>> plain = PlainStrings(text)) return *std::move(plain);
  try {
    return nlohmann::json::parse(text).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("{}: stored value is not a JSON list of strings: {}", what, e.what())};
  }
}

std::string OpenRoundsToJson(const std::vector<OpenRound>& rounds) {
  nlohmann::json out = nlohmann::json::array();
  for (const OpenRound& round : rounds) {
    nlohmann::json verdicts = nlohmann::json::array();
    for (const RoundVerdict& v : round.verdicts) {
      verdicts.push_back(
          {{"region", v.region}, {"outcome", ToString(v.outcome)}, {"message", v.message}});
    }
    out.push_back({{"scheduledAtMs", ToMs(round.scheduled_at)}, {"verdicts", verdicts}});
  }
  return out.dump();
}

Result<std::vector<OpenRound>> OpenRoundsFromJson(const std::string& text,
                                                  std::string_view monitor) {
  try {
    std::vector<OpenRound> rounds;
    for (const nlohmann::json& item : nlohmann::json::parse(text)) {
      OpenRound round;
      round.scheduled_at = FromMs(item.at("scheduledAtMs").get<int64_t>());
      for (const nlohmann::json& v : item.at("verdicts")) {
        const std::string outcome = v.at("outcome").get<std::string>();
        std::optional<Outcome> parsed = ParseOutcome(outcome);
        if (!parsed) {
          return Error{fmt::format("state of monitor {}: unknown outcome '{}' in an open round",
                                   monitor, outcome)};
        }
        round.verdicts.push_back(RoundVerdict{v.at("region").get<std::string>(), *parsed,
                                              v.at("message").get<std::string>()});
      }
      rounds.push_back(std::move(round));
    }
    return rounds;
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("state of monitor {}: bad open rounds: {}", monitor, e.what())};
  }
}

Result<MonitorState> StateColumn(const SqliteStatement& row, int column, std::string_view monitor) {
  const std::string text = row.Text(column);
  std::optional<MonitorState> state = ParseMonitorState(text);
  if (!state) return Error{fmt::format("state of monitor {}: unknown state '{}'", monitor, text)};
  return *state;
}

// Reads total_us, dns_us, connect_us, tls_us, first_byte_us, transfer_us starting at `first`.
Timings ReadTimings(const SqliteStatement& row, int first) {
  Timings timings;
  timings.total_us = row.Int64(first);
  timings.dns_us = row.Int64(first + 1);
  timings.connect_us = row.Int64(first + 2);
  timings.tls_us = row.Int64(first + 3);
  timings.first_byte_us = row.Int64(first + 4);
  timings.transfer_us = row.Int64(first + 5);
  return timings;
}

// The raw results table columns, in bind/read order.
constexpr std::string_view kResultColumns =
    "item_id, monitor_uid, monitor_namespace, monitor_name, generation, type, target, region, "
    "probe, at_ms, scheduled_at_ms, started_at_ms, outcome, status_code, dns_us, connect_us, "
    "tls_us, first_byte_us, transfer_us, total_us, cert_expiry_ms, cert_earliest_expiry_ms, "
    "assertion_type, assertion_expected, assertion_actual, assertion_message, error, attempts, "
    "dns_records, details";

void BindResult(SqliteStatement& statement, const CheckResult& r) {
  statement.Bind(1, r.item_id.empty() ? std::optional<std::string>() : r.item_id)
      .Bind(2, std::string_view(r.monitor_uid))
      .Bind(3, std::string_view(r.monitor_namespace))
      .Bind(4, std::string_view(r.monitor_name))
      .Bind(5, r.generation)
      .Bind(6, std::string_view(ToString(r.type)))
      .Bind(7, std::string_view(r.target))
      .Bind(8, std::string_view(r.region))
      .Bind(9, std::string_view(r.probe))
      .Bind(10, ToMs(ResultTime(r)))
      .Bind(11, ToMs(r.scheduled_at))
      .Bind(12, ToMs(r.started_at))
      .Bind(13, std::string_view(ToString(r.outcome)))
      .Bind(14, int64_t{r.status_code})
      .Bind(15, r.timings.dns_us)
      .Bind(16, r.timings.connect_us)
      .Bind(17, r.timings.tls_us)
      .Bind(18, r.timings.first_byte_us)
      .Bind(19, r.timings.transfer_us)
      .Bind(20, r.timings.total_us)
      .Bind(21, ToMs(r.cert_expiry))
      .Bind(22, ToMs(r.cert_earliest_expiry));
  if (r.failed_assertion) {
    statement.Bind(23, std::string_view(r.failed_assertion->type))
        .Bind(24, std::string_view(r.failed_assertion->expected))
        .Bind(25, std::string_view(r.failed_assertion->actual))
        .Bind(26, std::string_view(r.failed_assertion->message));
  } else {
    statement.BindNull(23).BindNull(24).BindNull(25).BindNull(26);
  }
  statement.Bind(27, std::string_view(r.error))
      .Bind(28, int64_t{r.attempts})
      .Bind(29, std::string_view(ToJsonText(r.dns_records)))
      .Bind(30, r.icmp || !r.addresses.empty()
                    ? std::optional<std::string>(CheckDetailsToJson(r).dump())
                    : std::nullopt);
}

Result<CheckResult> ReadResult(const SqliteStatement& row) {
  CheckResult r;
  r.item_id = row.Text(0);
  r.monitor_uid = row.Text(1);
  r.monitor_namespace = row.Text(2);
  r.monitor_name = row.Text(3);
  r.generation = row.Int64(4);
  const std::string where =
      fmt::format("stored result of {} (item '{}')", r.monitor_uid, r.item_id);
  const std::string type = row.Text(5);
  std::optional<MonitorType> parsed_type = ParseMonitorType(type);
  if (!parsed_type) return Error{fmt::format("{}: unknown type '{}'", where, type)};
  r.type = *parsed_type;
  r.target = row.Text(6);
  r.region = row.Text(7);
  r.probe = row.Text(8);
  r.scheduled_at = FromMs(row.Int64(10));
  r.started_at = FromMs(row.Int64(11));
  const std::string outcome = row.Text(12);
  std::optional<Outcome> parsed_outcome = ParseOutcome(outcome);
  if (!parsed_outcome) return Error{fmt::format("{}: unknown outcome '{}'", where, outcome)};
  r.outcome = *parsed_outcome;
  r.status_code = static_cast<int>(row.Int64(13));
  r.timings = Timings{row.Int64(14), row.Int64(15), row.Int64(16),
                      row.Int64(17), row.Int64(18), row.Int64(19)};
  r.cert_expiry = FromMs(row.OptionalInt64(20));
  r.cert_earliest_expiry = FromMs(row.OptionalInt64(21));
  if (!row.IsNull(22)) {
    r.failed_assertion = FailedAssertion{row.Text(22), row.Text(23), row.Text(24), row.Text(25)};
  }
  r.error = row.Text(26);
  r.attempts = static_cast<int>(row.Int64(27));
  Result<std::vector<std::string>> records = StringsFromJson(row.Text(28), where);
  if (!records) return Error{records.error()};
  r.dns_records = std::move(records).value();
  if (!row.IsNull(29)) {
    const nlohmann::json details = nlohmann::json::parse(row.Text(29), nullptr, false);
    if (Status read = CheckDetailsFromJson(details, r); !read) {
      return Error{fmt::format("{}: stored icmp stats and addresses: {}", where, read.error())};
    }
  }
  return r;
}

// The scheduled time (Unix ms) an item id of the scheduler ("<uid>@<region>@<ms>") names; nullopt
// for an id of another form. Results are told apart by (scheduled time, item id), so a result
// whose scheduledAt disagrees with its id is refused rather than stored as a second check.
std::optional<int64_t> ScheduledMsOfItem(std::string_view item_id) {
  const size_t at = item_id.rfind('@');
  if (at == std::string_view::npos || at + 1 == item_id.size()) return std::nullopt;
  const std::string_view digits = item_id.substr(at + 1);
  int64_t ms = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), ms);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return ms;
}

// Why a result cannot be stored; empty when it can.
std::string RejectionReason(const CheckResult& result) {
  std::string problem;
  if (result.monitor_uid.empty()) {
    problem = "monitor uid is empty";
  } else if (result.region.empty()) {
    problem = "region is empty";
  } else if (ResultTime(result) == TimePoint{}) {
    problem = "neither scheduledAt nor startedAt is set";
  } else if (std::optional<int64_t> named = ScheduledMsOfItem(result.item_id);
             named && *named != ToMs(result.scheduled_at)) {
    problem = fmt::format("its item id names scheduled time {} ms, but its scheduledAt is {} ms",
                          *named, ToMs(result.scheduled_at));
  } else {
    return {};
  }
  return fmt::format("item '{}' of monitor '{}': {}", result.item_id, result.monitor_uid, problem);
}

}  // namespace

const std::vector<SqliteDatabase::Migration>& SqliteResultStore::Migrations() {
  static const std::vector<SqliteDatabase::Migration> migrations = {
      {1, "raw results and hourly/daily rollups",
       R"sql(
CREATE TABLE results (
  id INTEGER PRIMARY KEY,
  item_id TEXT UNIQUE,
  monitor_uid TEXT NOT NULL,
  monitor_namespace TEXT NOT NULL,
  monitor_name TEXT NOT NULL,
  generation INTEGER NOT NULL,
  type TEXT NOT NULL,
  target TEXT NOT NULL,
  region TEXT NOT NULL,
  probe TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  scheduled_at_ms INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('up', 'degraded', 'down', 'error')),
  status_code INTEGER NOT NULL,
  dns_us INTEGER NOT NULL,
  connect_us INTEGER NOT NULL,
  tls_us INTEGER NOT NULL,
  first_byte_us INTEGER NOT NULL,
  transfer_us INTEGER NOT NULL,
  total_us INTEGER NOT NULL,
  cert_expiry_ms INTEGER,
  cert_earliest_expiry_ms INTEGER,
  assertion_type TEXT,
  assertion_expected TEXT,
  assertion_actual TEXT,
  assertion_message TEXT,
  error TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  dns_records TEXT NOT NULL
);
CREATE INDEX results_by_monitor_time ON results (monitor_uid, at_ms);
CREATE INDEX results_by_time ON results (at_ms);
CREATE TABLE rollups (
  monitor_uid TEXT NOT NULL,
  period_ms INTEGER NOT NULL CHECK (period_ms IN (3600000, 86400000)),
  bucket_start_ms INTEGER NOT NULL,
  region TEXT NOT NULL,
  total INTEGER NOT NULL,
  up INTEGER NOT NULL,
  degraded INTEGER NOT NULL,
  down INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  latency TEXT NOT NULL,
  PRIMARY KEY (monitor_uid, period_ms, bucket_start_ms, region)
) WITHOUT ROWID;
CREATE INDEX rollups_by_time ON rollups (period_ms, bucket_start_ms);
CREATE TABLE prune_marks (
  kind TEXT PRIMARY KEY CHECK (kind IN ('raw', 'hourly')),
  cutoff_ms INTEGER NOT NULL
);
)sql"},
      {2, "incidents and monitor states",
       R"sql(
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  monitor_uid TEXT NOT NULL,
  monitor_key TEXT NOT NULL,
  opened_at_ms INTEGER NOT NULL,
  resolved_at_ms INTEGER,
  failing_regions TEXT NOT NULL,
  first_error TEXT NOT NULL
);
CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_uid)
  WHERE resolved_at_ms IS NULL;
CREATE INDEX incidents_by_monitor ON incidents (monitor_uid, opened_at_ms);
CREATE TABLE monitor_states (
  monitor_uid TEXT PRIMARY KEY,
  monitor_key TEXT NOT NULL,
  state TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  consecutive_failures INTEGER NOT NULL,
  consecutive_successes INTEGER NOT NULL,
  open_incident_id TEXT REFERENCES incidents (id),
  streak_first_error TEXT NOT NULL,
  last_round_ms INTEGER,
  open_rounds TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE region_states (
  monitor_uid TEXT NOT NULL REFERENCES monitor_states (monitor_uid) ON DELETE CASCADE,
  region TEXT NOT NULL,
  state TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  probe_error INTEGER NOT NULL,
  probe_error_message TEXT NOT NULL,
  last_scheduled_ms INTEGER,
  last_check_ms INTEGER,
  latency_us INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (monitor_uid, region)
) WITHOUT ROWID;
)sql"},
      {3, "rollups keep their latency sum and per-phase sums",
       // latency_sum_us is the sum the histogram text already holds ("v1;count;sum;..."), as a
       // column so that uptime bars and sparklines of many monitors are read without decoding
       // histograms; older rows get it from their histogram. Phase sums start now: older rows
       // have phase_samples 0 (their phase means are unknown).
       R"sql(
ALTER TABLE rollups ADD COLUMN latency_sum_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN phase_samples INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN dns_sum_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN connect_sum_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN tls_sum_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN first_byte_sum_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN transfer_sum_us INTEGER NOT NULL DEFAULT 0;
UPDATE rollups SET latency_sum_us = CAST(substr(
    substr(substr(latency, 4), instr(substr(latency, 4), ';') + 1), 1,
    instr(substr(substr(latency, 4), instr(substr(latency, 4), ';') + 1), ';') - 1) AS INTEGER)
  WHERE latency LIKE 'v1;%';
)sql"},
      {4, "results keep icmp stats and the check of every address",
       // JSON as in the results API ({"icmp": ..., "addresses": [...]}); NULL for a result with
       // neither (most of them), and for every row written before.
       R"sql(
ALTER TABLE results ADD COLUMN details TEXT;
)sql"},
      {5, "results are told apart by scheduled time and item; daily rollups are compacted",
       // A result's item id begins with its monitor's uid, so a unique index on the id alone put
       // every insert on a random page of a large index; keyed by scheduled time first, inserts
       // land at its end. The column constraint cannot be dropped: the table is rebuilt (once).
       // Daily rollups are no longer written with every result: a day is compacted from its
       // hourly rollups once it is over (Prune). rollup_marks.through_ms says up to where daily
       // rows are complete; a store that already had rollups kept them complete up to now.
       R"sql(
CREATE TABLE results_v5 (
  id INTEGER PRIMARY KEY,
  item_id TEXT,
  monitor_uid TEXT NOT NULL,
  monitor_namespace TEXT NOT NULL,
  monitor_name TEXT NOT NULL,
  generation INTEGER NOT NULL,
  type TEXT NOT NULL,
  target TEXT NOT NULL,
  region TEXT NOT NULL,
  probe TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  scheduled_at_ms INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('up', 'degraded', 'down', 'error')),
  status_code INTEGER NOT NULL,
  dns_us INTEGER NOT NULL,
  connect_us INTEGER NOT NULL,
  tls_us INTEGER NOT NULL,
  first_byte_us INTEGER NOT NULL,
  transfer_us INTEGER NOT NULL,
  total_us INTEGER NOT NULL,
  cert_expiry_ms INTEGER,
  cert_earliest_expiry_ms INTEGER,
  assertion_type TEXT,
  assertion_expected TEXT,
  assertion_actual TEXT,
  assertion_message TEXT,
  error TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  dns_records TEXT NOT NULL,
  details TEXT
);
INSERT INTO results_v5 SELECT * FROM results;
DROP TABLE results;
ALTER TABLE results_v5 RENAME TO results;
CREATE INDEX results_by_monitor_time ON results (monitor_uid, at_ms);
CREATE INDEX results_by_time ON results (at_ms);
CREATE UNIQUE INDEX results_by_item ON results (scheduled_at_ms, item_id);
CREATE TABLE rollup_marks (
  kind TEXT PRIMARY KEY CHECK (kind IN ('daily')),
  through_ms INTEGER NOT NULL
);
INSERT INTO rollup_marks (kind, through_ms)
  SELECT 'daily', CAST(strftime('%s', 'now') AS INTEGER) / 86400 * 86400000
  WHERE EXISTS (SELECT 1 FROM rollups);
)sql"},
  };
  return migrations;
}

Result<std::unique_ptr<SqliteResultStore>> SqliteResultStore::Open(Options options) {
  if (options.path.empty()) return Error{"result store: no database path given"};
  const auto positive = [](std::chrono::hours h) { return h.count() > 0; };
  if (!positive(options.raw_retention) || !positive(options.hourly_retention) ||
      !positive(options.daily_retention) || !positive(options.incident_retention)) {
    return Error{"result store: retention periods must be positive"};
  }
  SqliteDatabase::Options db_options;
  db_options.busy_timeout = options.busy_timeout;
  db_options.synchronous_full = options.synchronous_full;
  SqliteDatabase::Options writer_options = db_options;
  writer_options.wal_autocheckpoint_pages = options.wal_autocheckpoint_pages;
  Result<std::unique_ptr<SqliteDatabase>> writer =
      SqliteDatabase::Open(options.path, writer_options);
  if (!writer) return Error{writer.error()};
  if (Status status = (*writer)->Migrate(kSchemaComponent, Migrations()); !status) {
    return Error{status.error()};
  }
  std::unique_ptr<SqliteDatabase> reader;
  if (options.path != ":memory:") {
    SqliteDatabase::Options reader_options = db_options;
    reader_options.cache_kib = options.reader_cache_kib;
    Result<std::unique_ptr<SqliteDatabase>> opened =
        SqliteDatabase::Open(options.path, reader_options);
    if (!opened) return Error{opened.error()};
    reader = std::move(opened).value();
  }
  auto store = std::make_unique<SqliteResultStore>(Key{}, std::move(options),
                                                   std::move(writer).value(), std::move(reader));
  MutexLock lock(store->write_mutex_);
  if (Status status = store->LoadPruneMarks(); !status) return Error{status.error()};
  return store;
}

Status SqliteResultStore::LoadPruneMarks() {
  Result<SqliteStatement> select = writer_->Prepare("SELECT kind, cutoff_ms FROM prune_marks");
  if (!select) return Error{select.error()};
  while (true) {
    Result<bool> row = select->Step();
    if (!row) return Error{"reading prune marks of " + options_.path + ": " + row.error()};
    if (!*row) break;
    (select->Text(0) == "raw" ? raw_mark_ : hourly_mark_).store(select->Int64(1));
  }
  Result<SqliteStatement> daily =
      writer_->Prepare("SELECT through_ms FROM rollup_marks WHERE kind = 'daily'");
  if (!daily) return Error{daily.error()};
  Result<bool> row = daily->Step();
  if (!row) return Error{"reading the rollup mark of " + options_.path + ": " + row.error()};
  if (*row) daily_mark_.store(daily->Int64(0));
  return OkStatus();
}

Status SqliteResultStore::CompactDays(int64_t until_ms, int64_t& days) {
  int64_t day = daily_mark_.load();
  if (day == std::numeric_limits<int64_t>::min()) {
    // Nothing compacted yet: from the first hour on record.
    Result<SqliteStatement> first =
        writer_->Prepare("SELECT min(bucket_start_ms) FROM rollups WHERE period_ms = 3600000");
    if (!first) return Error{first.error()};
    Result<bool> row = first->Step();
    if (!row) return Error{row.error()};
    day = first->IsNull(0) ? until_ms : FloorTo(first->Int64(0), kDayMs);
  }
  static const std::string hours_sql = fmt::format(
      "SELECT monitor_uid, region, {} FROM rollups WHERE period_ms = 3600000 AND "
      "bucket_start_ms >= ?1 AND bucket_start_ms < ?2 ORDER BY monitor_uid, region",
      kAggregateColumns);
  // One transaction per day, so appends wait for one day's rows at most.
  for (; day < until_ms; day += kDayMs) {
    Status status = writer_->InTransaction(true, [&]() REQUIRES(write_mutex_) -> Status {
      Result<SqliteStatement> hours = writer_->Prepare(hours_sql);
      if (!hours) return Error{hours.error()};
      hours->Bind(1, day).Bind(2, day + kDayMs);
      std::optional<RollupKey> key;
      Aggregate sum;
      while (true) {
        Result<bool> row = hours->Step();
        if (!row) return Error{row.error()};
        if (!*row || !key || key->monitor_uid != hours->Text(0) || key->region != hours->Text(1)) {
          if (key) {
            if (Status written = WriteRollup(*writer_, *key, sum); !written) return written;
          }
          if (!*row) break;
          key = RollupKey{kDayMs, hours->Text(0), hours->Text(1), day};
          sum = Aggregate();
        }
        Result<Aggregate> hour = ReadAggregate(*hours, 2);
        if (!hour) return Error{hour.error()};
        sum.Merge(*hour);
      }
      Result<SqliteStatement> mark = writer_->Prepare(
          "INSERT INTO rollup_marks (kind, through_ms) VALUES ('daily', ?1) ON CONFLICT (kind) "
          "DO UPDATE SET through_ms = excluded.through_ms");
      if (!mark) return Error{mark.error()};
      return mark->Bind(1, day + kDayMs).Run();
    });
    if (!status) return Error{fmt::format("compacting the day of {} ms: {}", day, status.error())};
    daily_mark_.store(day + kDayMs);
    ++days;
  }
  return OkStatus();
}

SqliteResultStore::SqliteResultStore(Key, Options options, std::unique_ptr<SqliteDatabase> writer,
                                     std::unique_ptr<SqliteDatabase> reader)
    : options_(std::move(options)), writer_(std::move(writer)), reader_(std::move(reader)) {}

Status SqliteResultStore::Read(const std::function<Status(SqliteDatabase&)>& body) {
  if (reader_ == nullptr) {
    MutexLock lock(write_mutex_);
    return writer_->InTransaction(false, [&]() REQUIRES(write_mutex_) { return body(*writer_); });
  }
  MutexLock lock(read_mutex_);
  return reader_->InTransaction(false, [&]() REQUIRES(read_mutex_) { return body(*reader_); });
}

Result<AppendResult> SqliteResultStore::Append(const std::vector<CheckResult>& results) {
  AppendResult out;
  out.statuses.assign(results.size(), AppendStatus::kRejected);
  if (results.empty()) return out;
  static const std::string insert_sql = fmt::format(
      "INSERT INTO results ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
      "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, "
      "?26, ?27, ?28, ?29, ?30) ON CONFLICT (scheduled_at_ms, item_id) DO NOTHING",
      kResultColumns);
  MutexLock lock(write_mutex_);
  SqliteDatabase& db = *writer_;
  const int64_t daily_mark = daily_mark_.load();
  Status status = db.InTransaction(true, [&]() -> Status {
    std::map<RollupKey, Aggregate> deltas;
    for (size_t i = 0; i < results.size(); ++i) {
      const CheckResult& result = results[i];
      if (std::string problem = RejectionReason(result); !problem.empty()) {
        out.rejections.push_back(Rejection{i, std::move(problem)});
        continue;
      }
      Result<SqliteStatement> insert = db.Prepare(insert_sql);
      if (!insert) return Error{insert.error()};
      BindResult(*insert, result);
      if (Status run = insert->Run(); !run) return run;
      if (db.Changes() == 0) {
        out.statuses[i] = AppendStatus::kDuplicate;
        continue;
      }
      out.statuses[i] = AppendStatus::kNew;
      const int64_t at = ToMs(ResultTime(result));
      deltas[RollupKey{kHourMs, result.monitor_uid, result.region, FloorTo(at, kHourMs)}].Add(
          result.outcome, result.timings);
      // A day not compacted yet is read from its hourly rollups (CompactDays).
      if (const int64_t day = FloorTo(at, kDayMs); day < daily_mark) {
        deltas[RollupKey{kDayMs, result.monitor_uid, result.region, day}].Add(result.outcome,
                                                                              result.timings);
      }
    }
    for (auto& [key, delta] : deltas) {
      if (Status added = AddToRollup(db, key, std::move(delta)); !added) return added;
    }
    return OkStatus();
  });
  if (!status) return Error{"storing results in " + options_.path + ": " + status.error()};
  return out;
}

Result<WindowStats> SqliteResultStore::Stats(const StatsQuery& query) {
  Aggregate total;
  const int64_t from = ToMs(query.from);
  const int64_t to = ToMs(query.to);
  if (from >= to) return total.ToStats();
  const std::vector<RollupSegment> plan =
      PlanWindow(from, to, raw_mark_.load(), hourly_mark_.load(), daily_mark_.load());
  Status status = Read([&](SqliteDatabase& db) -> Status {
    for (const RollupSegment& segment : plan) {
      if (segment.source == RollupSource::kRaw) {
        Result<SqliteStatement> raw = db.Prepare(
            "SELECT outcome, total_us, dns_us, connect_us, tls_us, first_byte_us, transfer_us "
            "FROM results WHERE monitor_uid = ?1 AND at_ms >= ?2 AND at_ms < ?3 AND "
            "(?4 IS NULL OR region = ?4)");
        if (!raw) return Error{raw.error()};
        raw->Bind(1, std::string_view(query.monitor_uid))
            .Bind(2, segment.from_ms)
            .Bind(3, segment.to_ms)
            .Bind(4, query.region);
        while (true) {
          Result<bool> row = raw->Step();
          if (!row) return Error{row.error()};
          if (!*row) break;
          total.Add(ParseOutcome(raw->Text(0)).value_or(Outcome::kError), ReadTimings(*raw, 1));
        }
        continue;
      }
      static const std::string rollups_sql = fmt::format(
          "SELECT {} FROM rollups WHERE monitor_uid = ?1 AND period_ms = ?2 AND "
          "bucket_start_ms >= ?3 AND bucket_start_ms < ?4 AND (?5 IS NULL OR region = ?5)",
          kAggregateColumns);
      Result<SqliteStatement> rollups = db.Prepare(rollups_sql);
      if (!rollups) return Error{rollups.error()};
      rollups->Bind(1, std::string_view(query.monitor_uid))
          .Bind(2, segment.source == RollupSource::kHourly ? kHourMs : kDayMs)
          .Bind(3, segment.from_ms)
          .Bind(4, segment.to_ms)
          .Bind(5, query.region);
      while (true) {
        Result<bool> row = rollups->Step();
        if (!row) return Error{row.error()};
        if (!*row) break;
        Result<Aggregate> bucket = ReadAggregate(*rollups, 0);
        if (!bucket) return Error{bucket.error()};
        total.Merge(*bucket);
      }
    }
    return OkStatus();
  });
  if (!status) return Error{"reading stats from " + options_.path + ": " + status.error()};
  return total.ToStats();
}

Result<std::vector<Rollup>> SqliteResultStore::Rollups(const RollupQuery& query) {
  // Per (bucket, region); the region is empty when regions are merged.
  std::map<std::pair<int64_t, std::string>, Aggregate> buckets;
  const bool daily = query.period == RollupPeriod::kDay;
  const RollupSources sources =
      SourcesOf(daily, ToMs(query.from), ToMs(query.to), daily_mark_.load());
  Status status = Read([&](SqliteDatabase& db) -> Status {
    static const std::string sql = fmt::format(
        "SELECT bucket_start_ms, region, {} FROM rollups WHERE monitor_uid = ?1 AND "
        "period_ms = ?2 AND bucket_start_ms >= ?3 AND bucket_start_ms < ?4 AND "
        "(?5 IS NULL OR region = ?5)",
        kAggregateColumns);
    for (const auto& [period, from, to] :
         {std::tuple(daily ? kDayMs : kHourMs, sources.from_ms, sources.to_ms),
          std::tuple(kHourMs, sources.hours_from_ms, sources.hours_to_ms)}) {
      if (from >= to) continue;
      Result<SqliteStatement> select = db.Prepare(sql);
      if (!select) return Error{select.error()};
      select->Bind(1, std::string_view(query.monitor_uid))
          .Bind(2, period)
          .Bind(3, from)
          .Bind(4, to)
          .Bind(5, query.region);
      while (true) {
        Result<bool> row = select->Step();
        if (!row) return Error{row.error()};
        if (!*row) break;
        Result<Aggregate> bucket = ReadAggregate(*select, 2);
        if (!bucket) return Error{bucket.error()};
        const int64_t start = daily ? FloorTo(select->Int64(0), kDayMs) : select->Int64(0);
        buckets[{start, query.region ? select->Text(1) : std::string()}].Merge(*bucket);
      }
    }
    return OkStatus();
  });
  if (!status) return Error{"reading rollups from " + options_.path + ": " + status.error()};
  std::vector<Rollup> out;
  out.reserve(buckets.size());
  for (const auto& [key, aggregate] : buckets) {
    out.push_back(Rollup{FromMs(key.first), key.second, aggregate.ToStats()});
  }
  return out;
}

Result<std::vector<BucketCounts>> SqliteResultStore::CountRollups(const BucketCountsQuery& query) {
  std::vector<BucketCounts> out;
  if (query.monitor_uids.empty()) return out;
  // One statement for any number of monitors: the lists are bound as JSON arrays.
  const std::string uids = ToJsonText(query.monitor_uids);
  const std::optional<std::string> regions =
      query.regions.empty() ? std::nullopt : std::optional(ToJsonText(query.regions));
  Status status = Read([&](SqliteDatabase& db) -> Status {
    // The second part sums the hours of days not compacted yet into their days.
    Result<SqliteStatement> select = db.Prepare(
        "SELECT monitor_uid, bucket, SUM(total), SUM(up), SUM(degraded), SUM(down), SUM(errors), "
        "SUM(latency_sum_us) FROM ("
        "SELECT monitor_uid, bucket_start_ms AS bucket, total, up, degraded, down, errors, "
        "latency_sum_us FROM rollups WHERE monitor_uid IN (SELECT value FROM json_each(?1)) AND "
        "period_ms = ?2 AND bucket_start_ms >= ?3 AND bucket_start_ms < ?4 AND "
        "(?5 IS NULL OR region IN (SELECT value FROM json_each(?5))) "
        "UNION ALL "
        "SELECT monitor_uid, bucket_start_ms - ((bucket_start_ms % 86400000) + 86400000) % "
        "86400000, total, up, degraded, down, errors, latency_sum_us FROM rollups WHERE "
        "monitor_uid IN (SELECT value FROM json_each(?1)) AND period_ms = 3600000 AND "
        "bucket_start_ms >= ?6 AND bucket_start_ms < ?7 AND "
        "(?5 IS NULL OR region IN (SELECT value FROM json_each(?5)))) "
        "GROUP BY monitor_uid, bucket ORDER BY monitor_uid, bucket");
    if (!select) return Error{select.error()};
    const bool daily = query.period == RollupPeriod::kDay;
    const RollupSources sources =
        SourcesOf(daily, ToMs(query.from), ToMs(query.to), daily_mark_.load());
    select->Bind(1, std::string_view(uids))
        .Bind(2, daily ? kDayMs : kHourMs)
        .Bind(3, sources.from_ms)
        .Bind(4, sources.to_ms)
        .Bind(5, regions)
        .Bind(6, sources.hours_from_ms)
        .Bind(7, sources.hours_to_ms);
    while (true) {
      Result<bool> row = select->Step();
      if (!row) return Error{row.error()};
      if (!*row) return OkStatus();
      BucketCounts bucket;
      bucket.monitor_uid = select->Text(0);
      bucket.bucket_start = FromMs(select->Int64(1));
      bucket.total = select->Int64(2);
      bucket.up = select->Int64(3);
      bucket.degraded = select->Int64(4);
      bucket.down = select->Int64(5);
      bucket.errors = select->Int64(6);
      bucket.latency_sum_us = select->Int64(7);
      out.push_back(std::move(bucket));
    }
  });
  if (!status) return Error{"reading rollup counts from " + options_.path + ": " + status.error()};
  return out;
}

Result<std::vector<Rollup>> SqliteResultStore::ResultSeries(const SeriesQuery& query) {
  const int64_t step = query.step.count();
  if (step <= 0) {
    return Error{"result series: the step must be positive", ErrorKind::kInvalidArgument};
  }
  const int64_t from = ToMs(query.from);
  std::map<int64_t, Aggregate> buckets;
  Status status = Read([&](SqliteDatabase& db) -> Status {
    Result<SqliteStatement> select = db.Prepare(
        "SELECT at_ms, outcome, total_us, dns_us, connect_us, tls_us, first_byte_us, "
        "transfer_us FROM results WHERE monitor_uid = ?1 AND at_ms >= ?2 AND at_ms < ?3 AND "
        "(?4 IS NULL OR region = ?4)");
    if (!select) return Error{select.error()};
    select->Bind(1, std::string_view(query.monitor_uid))
        .Bind(2, from)
        .Bind(3, ToMs(query.to))
        .Bind(4, query.region);
    while (true) {
      Result<bool> row = select->Step();
      if (!row) return Error{row.error()};
      if (!*row) return OkStatus();
      buckets[(select->Int64(0) - from) / step].Add(
          ParseOutcome(select->Text(1)).value_or(Outcome::kError), ReadTimings(*select, 2));
    }
  });
  if (!status) {
    return Error{"reading a result series from " + options_.path + ": " + status.error()};
  }
  std::vector<Rollup> out;
  out.reserve(buckets.size());
  for (const auto& [index, aggregate] : buckets) {
    out.push_back(
        Rollup{FromMs(from + index * step), query.region.value_or(""), aggregate.ToStats()});
  }
  return out;
}

Result<std::vector<CheckResult>> SqliteResultStore::Results(const ResultQuery& query) {
  std::vector<CheckResult> out;
  const std::string sql = fmt::format(
      "SELECT {} FROM results WHERE monitor_uid = ?1 AND at_ms >= ?2 AND "
      "(?3 IS NULL OR region = ?3) ORDER BY at_ms {}, id {} LIMIT ?4",
      kResultColumns, query.newest_first ? "DESC" : "ASC", query.newest_first ? "DESC" : "ASC");
  Status status = Read([&](SqliteDatabase& db) -> Status {
    Result<SqliteStatement> select = db.Prepare(sql);
    if (!select) return Error{select.error()};
    select->Bind(1, std::string_view(query.monitor_uid))
        .Bind(2, ToMs(query.since))
        .Bind(3, query.region)
        .Bind(4, int64_t{std::clamp(query.limit, 0, 100'000)});
    while (true) {
      Result<bool> row = select->Step();
      if (!row) return Error{row.error()};
      if (!*row) return OkStatus();
      Result<CheckResult> result = ReadResult(*select);
      if (!result) return Error{result.error()};
      out.push_back(std::move(result).value());
    }
  });
  if (!status) return Error{"reading results from " + options_.path + ": " + status.error()};
  return out;
}

Status SqliteResultStore::SaveMonitorState(const MonitorStateSnapshot& state,
                                           const std::vector<StateEvent>& events) {
  if (state.monitor_uid.empty()) return Error{"saving monitor state: monitor uid is empty"};
  MutexLock lock(write_mutex_);
  Status status = writer_->InTransaction(
      true, [&]() REQUIRES(write_mutex_) -> Status { return WriteMonitorState(state, events); });
  if (!status) {
    return Error{fmt::format("saving state of monitor {} in {}: {}", state.monitor_key,
                             options_.path, status.error())};
  }
  return OkStatus();
}

Status SqliteResultStore::SaveMonitorStates(const std::vector<MonitorStateSave>& saves) {
  for (const MonitorStateSave& save : saves) {
    if (save.state.monitor_uid.empty()) return Error{"saving monitor state: monitor uid is empty"};
  }
  if (saves.empty()) return OkStatus();
  MutexLock lock(write_mutex_);
  Status status = writer_->InTransaction(true, [&]() REQUIRES(write_mutex_) -> Status {
    for (const MonitorStateSave& save : saves) {
      if (Status written = WriteMonitorState(save.state, save.events); !written) {
        return Error{fmt::format("monitor {}: {}", save.state.monitor_key, written.error())};
      }
    }
    return OkStatus();
  });
  if (!status) {
    return Error{fmt::format("saving the states of {} monitors in {}: {}", saves.size(),
                             options_.path, status.error())};
  }
  return OkStatus();
}

Status SqliteResultStore::WriteMonitorState(const MonitorStateSnapshot& state,
                                            const std::vector<StateEvent>& events) {
  SqliteDatabase& db = *writer_;
  for (const StateEvent& event : events) {
    if (!event.opened_incident_id.empty()) {
      Result<SqliteStatement> open = db.Prepare(
          "INSERT INTO incidents (id, monitor_uid, monitor_key, opened_at_ms, failing_regions, "
          "first_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING");
      if (!open) return Error{open.error()};
      open->Bind(1, std::string_view(event.opened_incident_id))
          .Bind(2, std::string_view(event.monitor_uid))
          .Bind(3, std::string_view(event.monitor_key))
          .Bind(4, ToMs(event.at))
          .Bind(5, std::string_view(ToJsonText(event.failing_regions)))
          .Bind(6, std::string_view(event.first_error));
      if (Status run = open->Run(); !run) {
        return Error{
            fmt::format("opening incident {}: {} (is another incident of monitor {} "
                        "still open?)",
                        event.opened_incident_id, run.error(), event.monitor_key)};
      }
    }
    if (!event.resolved_incident_id.empty()) {
      Result<SqliteStatement> resolve = db.Prepare(
          "UPDATE incidents SET resolved_at_ms = ?2 WHERE id = ?1 AND resolved_at_ms IS NULL");
      if (!resolve) return Error{resolve.error()};
      resolve->Bind(1, std::string_view(event.resolved_incident_id)).Bind(2, ToMs(event.at));
      if (Status run = resolve->Run(); !run) return run;
    }
  }
  Result<SqliteStatement> upsert = db.Prepare(
      "INSERT INTO monitor_states (monitor_uid, monitor_key, state, since_ms, reason, "
      "consecutive_failures, consecutive_successes, open_incident_id, streak_first_error, "
      "last_round_ms, open_rounds, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
      "?10, ?11, ?12) ON CONFLICT (monitor_uid) DO UPDATE SET monitor_key = "
      "excluded.monitor_key, "
      "state = excluded.state, since_ms = excluded.since_ms, reason = excluded.reason, "
      "consecutive_failures = excluded.consecutive_failures, "
      "consecutive_successes = excluded.consecutive_successes, "
      "open_incident_id = excluded.open_incident_id, "
      "streak_first_error = excluded.streak_first_error, "
      "last_round_ms = excluded.last_round_ms, open_rounds = excluded.open_rounds, "
      "updated_at_ms = excluded.updated_at_ms");
  if (!upsert) return Error{upsert.error()};
  upsert->Bind(1, std::string_view(state.monitor_uid))
      .Bind(2, std::string_view(state.monitor_key))
      .Bind(3, std::string_view(ToString(state.state)))
      .Bind(4, ToMs(state.since))
      .Bind(5, std::string_view(state.reason.str()))
      .Bind(6, int64_t{state.consecutive_failures})
      .Bind(7, int64_t{state.consecutive_successes})
      .Bind(8, state.open_incident_id.empty() ? std::optional<std::string>()
                                              : state.open_incident_id.str())
      .Bind(9, std::string_view(state.streak_first_error.str()))
      .Bind(10, ToMs(state.last_round_at))
      .Bind(11, std::string_view(OpenRoundsToJson(state.open_rounds)))
      .Bind(12, ToMs(state.updated_at));
  if (Status run = upsert->Run(); !run) return run;

  Result<SqliteStatement> clear = db.Prepare("DELETE FROM region_states WHERE monitor_uid = ?1");
  if (!clear) return Error{clear.error()};
  if (Status run = clear->Bind(1, std::string_view(state.monitor_uid)).Run(); !run) return run;
  for (const RegionStateSnapshot& region : state.regions) {
    Result<SqliteStatement> insert = db.Prepare(
        "INSERT INTO region_states (monitor_uid, region, state, since_ms, probe_error, "
        "probe_error_message, last_scheduled_ms, last_check_ms, latency_us, status_code, "
        "message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!insert) return Error{insert.error()};
    insert->Bind(1, std::string_view(state.monitor_uid))
        .Bind(2, std::string_view(region.region))
        .Bind(3, std::string_view(ToString(region.state)))
        .Bind(4, ToMs(region.since))
        .Bind(5, int64_t{region.probe_error ? 1 : 0})
        .Bind(6, std::string_view(region.probe_error_message.str()))
        .Bind(7, ToMs(region.last_scheduled_at))
        .Bind(8, ToMs(region.last_check_at))
        .Bind(9, region.latency_us)
        .Bind(10, int64_t{region.status_code})
        .Bind(11, std::string_view(region.message.str()));
    if (Status run = insert->Run(); !run) return run;
  }
  return OkStatus();
}

Result<std::vector<MonitorStateSnapshot>> SqliteResultStore::LoadMonitorStates() {
  std::vector<MonitorStateSnapshot> out;
  Status status = Read([&](SqliteDatabase& db) -> Status {
    std::map<std::string, size_t> index;  // monitor uid → position in out
    Result<SqliteStatement> states = db.Prepare(
        "SELECT monitor_uid, monitor_key, state, since_ms, reason, consecutive_failures, "
        "consecutive_successes, open_incident_id, streak_first_error, last_round_ms, "
        "open_rounds, updated_at_ms FROM monitor_states ORDER BY monitor_key, monitor_uid");
    if (!states) return Error{states.error()};
    while (true) {
      Result<bool> row = states->Step();
      if (!row) return Error{row.error()};
      if (!*row) break;
      MonitorStateSnapshot s;
      s.monitor_uid = states->Text(0);
      s.monitor_key = states->Text(1);
      Result<MonitorState> state = StateColumn(*states, 2, s.monitor_key);
      if (!state) return Error{state.error()};
      s.state = *state;
      s.since = FromMs(states->Int64(3));
      s.reason = states->Text(4);
      s.consecutive_failures = static_cast<int>(states->Int64(5));
      s.consecutive_successes = static_cast<int>(states->Int64(6));
      s.open_incident_id = states->Text(7);
      s.streak_first_error = states->Text(8);
      s.last_round_at = FromMs(states->OptionalInt64(9));
      Result<std::vector<OpenRound>> rounds = OpenRoundsFromJson(states->Text(10), s.monitor_key);
      if (!rounds) return Error{rounds.error()};
      s.open_rounds = std::move(rounds).value();
      s.updated_at = FromMs(states->Int64(11));
      index[s.monitor_uid] = out.size();
      out.push_back(std::move(s));
    }
    Result<SqliteStatement> regions = db.Prepare(
        "SELECT monitor_uid, region, state, since_ms, probe_error, probe_error_message, "
        "last_scheduled_ms, last_check_ms, latency_us, status_code, message FROM region_states "
        "ORDER BY monitor_uid, region");
    if (!regions) return Error{regions.error()};
    while (true) {
      Result<bool> row = regions->Step();
      if (!row) return Error{row.error()};
      if (!*row) break;
      auto owner = index.find(regions->Text(0));
      if (owner == index.end()) continue;  // cannot happen: foreign key
      MonitorStateSnapshot& s = out[owner->second];
      RegionStateSnapshot r;
      r.region = regions->Text(1);
      Result<MonitorState> state = StateColumn(*regions, 2, s.monitor_key);
      if (!state) return Error{state.error()};
      r.state = *state;
      r.since = FromMs(regions->Int64(3));
      r.probe_error = regions->Int64(4) != 0;
      r.probe_error_message = regions->Text(5);
      r.last_scheduled_at = FromMs(regions->OptionalInt64(6));
      r.last_check_at = FromMs(regions->OptionalInt64(7));
      r.latency_us = regions->Int64(8);
      r.status_code = static_cast<int>(regions->Int64(9));
      r.message = regions->Text(10);
      s.regions.push_back(std::move(r));
    }
    return OkStatus();
  });
  if (!status) {
    return Error{"loading monitor states from " + options_.path + ": " + status.error()};
  }
  return out;
}

Status SqliteResultStore::ForgetMonitor(std::string_view monitor_uid, TimePoint now) {
  MutexLock lock(write_mutex_);
  SqliteDatabase& db = *writer_;
  Status status = db.InTransaction(true, [&]() -> Status {
    Result<SqliteStatement> resolve = db.Prepare(
        "UPDATE incidents SET resolved_at_ms = ?2 WHERE monitor_uid = ?1 AND "
        "resolved_at_ms IS NULL");
    if (!resolve) return Error{resolve.error()};
    if (Status run = resolve->Bind(1, monitor_uid).Bind(2, ToMs(now)).Run(); !run) return run;
    Result<SqliteStatement> drop = db.Prepare("DELETE FROM monitor_states WHERE monitor_uid = ?1");
    if (!drop) return Error{drop.error()};
    return drop->Bind(1, monitor_uid).Run();
  });
  if (!status) {
    return Error{
        fmt::format("forgetting monitor {} in {}: {}", monitor_uid, options_.path, status.error())};
  }
  return OkStatus();
}

namespace {

// Reads the rows of a statement selecting id, monitor_uid, monitor_key, opened_at_ms,
// resolved_at_ms, failing_regions, first_error.
Status ReadIncidents(SqliteStatement& select, std::vector<Incident>& out) {
  while (true) {
    Result<bool> row = select.Step();
    if (!row) return Error{row.error()};
    if (!*row) return OkStatus();
    Incident incident;
    incident.id = select.Text(0);
    incident.monitor_uid = select.Text(1);
    incident.monitor_key = select.Text(2);
    incident.opened_at = FromMs(select.Int64(3));
    incident.resolved_at = FromMs(select.OptionalInt64(4));
    Result<std::vector<std::string>> regions =
        StringsFromJson(select.Text(5), "incident " + incident.id);
    if (!regions) return Error{regions.error()};
    incident.failing_regions = std::move(regions).value();
    incident.first_error = select.Text(6);
    out.push_back(std::move(incident));
  }
}

}  // namespace

Result<std::vector<Incident>> SqliteResultStore::Incidents(const IncidentQuery& query) {
  std::vector<Incident> out;
  Status status = Read([&](SqliteDatabase& db) -> Status {
    Result<SqliteStatement> select = db.Prepare(
        "SELECT id, monitor_uid, monitor_key, opened_at_ms, resolved_at_ms, failing_regions, "
        "first_error FROM incidents WHERE (?1 IS NULL OR monitor_uid = ?1) AND "
        "(?2 = 1 OR resolved_at_ms IS NULL) ORDER BY resolved_at_ms IS NOT NULL, "
        "opened_at_ms DESC, id LIMIT ?3");
    if (!select) return Error{select.error()};
    select->Bind(1, query.monitor_uid)
        .Bind(2, int64_t{query.include_resolved ? 1 : 0})
        .Bind(3, int64_t{std::clamp(query.limit, 0, 100'000)});
    return ReadIncidents(*select, out);
  });
  if (!status) return Error{"reading incidents from " + options_.path + ": " + status.error()};
  return out;
}

Result<std::vector<Incident>> SqliteResultStore::IncidentsInWindow(
    const IncidentWindowQuery& query) {
  std::vector<Incident> out;
  if (query.monitor_uids.empty()) return out;
  const std::string uids = ToJsonText(query.monitor_uids);
  const size_t limit = static_cast<size_t>(std::clamp(query.limit_per_monitor, 0, 100'000));
  Status status = Read([&](SqliteDatabase& db) -> Status {
    // One statement for every monitor (incidents_by_monitor finds each monitor's rows opened
    // before the window's end), newest first; each monitor's first `limit` rows, its open one
    // first, are kept here (a window function did that in SQL at twice the statement's cost).
    Result<SqliteStatement> select = db.Prepare(
        "SELECT id, monitor_uid, monitor_key, opened_at_ms, resolved_at_ms, failing_regions, "
        "first_error FROM incidents WHERE monitor_uid IN (SELECT value FROM json_each(?1)) AND "
        "opened_at_ms < ?3 AND (resolved_at_ms IS NULL OR MAX(resolved_at_ms, opened_at_ms + 1) > "
        "?2) ORDER BY monitor_uid, opened_at_ms DESC, id");
    if (!select) return Error{select.error()};
    select->Bind(1, std::string_view(uids)).Bind(2, ToMs(query.from)).Bind(3, ToMs(query.to));
    size_t monitor_start = 0;  // where the current monitor's rows begin in `out`
    size_t resolved_kept = 0;  // of the current monitor
    auto finish_monitor = [&] {
      // Open first (there is at most one), then newest first as read; at most `limit`.
      std::stable_partition(out.begin() + static_cast<std::ptrdiff_t>(monitor_start), out.end(),
                            [](const Incident& one) { return !one.resolved_at; });
      if (out.size() - monitor_start > limit) out.resize(monitor_start + limit);
    };
    while (true) {
      Result<bool> row = select->Step();
      if (!row) return Error{row.error()};
      if (!*row) break;
      const std::string uid = select->Text(1);
      if (monitor_start < out.size() && out[monitor_start].monitor_uid != uid) {
        finish_monitor();
        monitor_start = out.size();
        resolved_kept = 0;
      }
      const bool open = select->IsNull(4);
      if (!open && resolved_kept >= limit) continue;  // beyond the limit: not even decoded
      if (!open) ++resolved_kept;
      Incident incident;
      incident.id = select->Text(0);
      incident.monitor_uid = uid;
      incident.monitor_key = select->Text(2);
      incident.opened_at = FromMs(select->Int64(3));
      incident.resolved_at = FromMs(select->OptionalInt64(4));
      Result<std::vector<std::string>> regions =
          StringsFromJson(select->Text(5), "incident " + incident.id);
      if (!regions) return Error{regions.error()};
      incident.failing_regions = std::move(regions).value();
      incident.first_error = select->Text(6);
      out.push_back(std::move(incident));
    }
    if (monitor_start < out.size()) finish_monitor();
    return OkStatus();
  });
  if (!status) return Error{"reading incidents from " + options_.path + ": " + status.error()};
  return out;
}

Status SqliteResultStore::DeleteInChunks(std::string_view sql, int64_t cutoff_ms,
                                         int64_t& deleted) {
  while (true) {
    int64_t changed = 0;
    Status status = writer_->InTransaction(true, [&]() REQUIRES(write_mutex_) -> Status {
      Result<SqliteStatement> statement = writer_->Prepare(sql);
      if (!statement) return Error{statement.error()};
      if (Status run = statement->Bind(1, cutoff_ms).Bind(2, kPruneChunk).Run(); !run) return run;
      changed = writer_->Changes();
      return OkStatus();
    });
    if (!status) return status;
    deleted += changed;
    if (changed < kPruneChunk) return OkStatus();
  }
}

Result<PruneReport> SqliteResultStore::Prune(TimePoint now) {
  const auto cutoff = [&](std::chrono::hours retention) { return ToMs(now - retention); };
  PruneReport report;
  MutexLock lock(write_mutex_);
  // Days are compacted before hourly rows go, and the hourly rows of a day not compacted yet
  // are kept whatever the retention: they are that day's only rollups.
  Status status = CompactDays(FloorTo(ToMs(now), kDayMs), report.compacted_days);
  // Nothing compacted yet (the minimum mark): every hourly row may still be its day's only one.
  const int64_t daily_mark = daily_mark_.load();
  const bool prune_hours = daily_mark != std::numeric_limits<int64_t>::min();
  const int64_t hourly_cutoff =
      prune_hours ? FloorTo(std::min(cutoff(options_.hourly_retention), daily_mark), kHourMs) : 0;
  // Chunks keep each write transaction short, so appends are not held up by a large prune.
  if (status) {
    status = DeleteInChunks(
        "DELETE FROM results WHERE id IN (SELECT id FROM results WHERE at_ms < ?1 LIMIT ?2)",
        cutoff(options_.raw_retention), report.results);
  }
  // A rollup goes once its whole bucket is older than the retention.
  if (status && prune_hours) {
    status = DeleteInChunks(
        "DELETE FROM rollups WHERE (monitor_uid, period_ms, bucket_start_ms, region) IN ("
        "SELECT monitor_uid, period_ms, bucket_start_ms, region FROM rollups WHERE "
        "period_ms = 3600000 AND bucket_start_ms <= ?1 - 3600000 LIMIT ?2)",
        hourly_cutoff, report.hourly_rollups);
  }
  if (status) {
    status = DeleteInChunks(
        "DELETE FROM rollups WHERE (monitor_uid, period_ms, bucket_start_ms, region) IN ("
        "SELECT monitor_uid, period_ms, bucket_start_ms, region FROM rollups WHERE "
        "period_ms = 86400000 AND bucket_start_ms <= ?1 - 86400000 LIMIT ?2)",
        cutoff(options_.daily_retention), report.daily_rollups);
  }
  if (status) {
    status = DeleteInChunks(
        "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE resolved_at_ms < ?1 "
        "AND id NOT IN (SELECT open_incident_id FROM monitor_states WHERE open_incident_id IS "
        "NOT NULL) LIMIT ?2)",
        cutoff(options_.incident_retention), report.incidents);
  }
  if (status) {
    std::vector<std::pair<const char*, int64_t>> marks = {{"raw", cutoff(options_.raw_retention)}};
    if (prune_hours) marks.emplace_back("hourly", hourly_cutoff);
    status = writer_->InTransaction(true, [&]() REQUIRES(write_mutex_) -> Status {
      for (const auto& [kind, mark] : marks) {
        Result<SqliteStatement> upsert = writer_->Prepare(
            "INSERT INTO prune_marks (kind, cutoff_ms) VALUES (?1, ?2) ON CONFLICT (kind) DO "
            "UPDATE SET cutoff_ms = max(cutoff_ms, excluded.cutoff_ms)");
        if (!upsert) return Error{upsert.error()};
        if (Status run = upsert->Bind(1, std::string_view(kind)).Bind(2, mark).Run(); !run) {
          return run;
        }
      }
      return OkStatus();
    });
  }
  if (status) status = LoadPruneMarks();
  if (!status) return Error{"pruning " + options_.path + ": " + status.error()};
  return report;
}

}  // namespace pharos
