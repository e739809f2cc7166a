#include "operator/analytics/clickhouse_history_reader.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "common/monitor.h"
#include "operator/analytics/clickhouse_schema.h"
#include "operator/storage/latency_histogram.h"
#include "operator/storage/rollup_window.h"

namespace pharos {
namespace {

constexpr std::string_view kPassing = "outcome IN ('up', 'degraded')";

int64_t ToMs(TimePoint at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}
TimePoint FromMs(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

// ClickHouse quotes 64-bit integers in JSON output; both forms are read.
int64_t Int(const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number()) return static_cast<int64_t>(value.get<double>());
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    int64_t out = 0;
    bool negative = false;
    for (size_t i = 0; i < text.size(); ++i) {
      if (i == 0 && text[i] == '-') {
        negative = true;
      } else if (text[i] >= '0' && text[i] <= '9') {
        out = out * 10 + (text[i] - '0');
      } else {
        break;
      }
    }
    return negative ? -out : out;
  }
  return 0;
}

std::string Text(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// What to aggregate: which monitors and regions, and how rows are grouped.
struct ClickHouseHistoryReader::Selection {
  enum class Key { kNone, kHour, kDay, kStep };
  std::vector<std::string> monitor_uids;
  std::vector<std::string> regions;  // empty = every region
  bool by_region = false;            // one row per region (else regions merged, region "")
  Key key = Key::kNone;
  int64_t step_from_ms = 0;  // kStep: bucket i = [step_from_ms + i·step_ms, ...)
  int64_t step_ms = 1;
  bool latency = true;  // read the histogram (percentiles)
  // Whole hours from the rollups only, the last ones included (else raw after SettledMs()).
  bool rollups_only = false;
};

// One aggregated group: counts, latency sums and the histogram.
struct ClickHouseHistoryReader::Row {
  size_t window = 0;  // index into Aggregate's windows
  int64_t key = 0;
  std::string monitor_uid;
  std::string region;
  int64_t total = 0, up = 0, degraded = 0, down = 0, errors = 0;
  int64_t latency_sum = 0, latency_min = 0, latency_max = 0;
  int64_t phases[5] = {};
  std::map<int, int64_t> buckets;

  void Merge(const Row& other) {
    const bool had = up + degraded > 0;
    const bool has = other.up + other.degraded > 0;
    if (has) {
      latency_min = had ? std::min(latency_min, other.latency_min) : other.latency_min;
      latency_max = had ? std::max(latency_max, other.latency_max) : other.latency_max;
    }
    total += other.total;
    up += other.up;
    degraded += other.degraded;
    down += other.down;
    errors += other.errors;
    latency_sum += other.latency_sum;
    for (int i = 0; i < 5; ++i) phases[i] += other.phases[i];
    for (const auto& [bucket, count] : other.buckets) buckets[bucket] += count;
  }

  WindowStats ToStats() const {
    WindowStats stats;
    stats.total = total;
    stats.up = up;
    stats.degraded = degraded;
    stats.down = down;
    stats.errors = errors;
    const int64_t passed = up + degraded;
    if (passed == 0) return stats;
    stats.latency.samples = passed;
    stats.latency.sum_us = latency_sum;
    stats.latency.mean_us = latency_sum / passed;
    stats.latency.min_us = latency_min;
    stats.latency.max_us = latency_max;
    stats.latency.phases = PhaseMeans{passed,
                                      phases[0] / passed,
                                      phases[1] / passed,
                                      phases[2] / passed,
                                      phases[3] / passed,
                                      phases[4] / passed};
    // The histogram in SQLite's stored form, so that percentiles are estimated the same way.
    std::string encoded = "v1;" + std::to_string(passed) + ";" + std::to_string(latency_sum) + ";" +
                          std::to_string(latency_min) + ";" + std::to_string(latency_max) + ";";
    bool first = true;
    for (const auto& [bucket, count] : buckets) {
      if (count == 0) continue;
      encoded += (first ? "" : ",") + std::to_string(bucket) + ":" + std::to_string(count);
      first = false;
    }
    if (Result<LatencyHistogram> histogram = LatencyHistogram::Decode(encoded); histogram) {
      stats.latency.p50_us = histogram->Percentile(0.50);
      stats.latency.p95_us = histogram->Percentile(0.95);
      stats.latency.p99_us = histogram->Percentile(0.99);
    }
    return stats;
  }
};

int64_t ClickHouseHistoryReader::SettledMs() const {
  return FloorTo(ToMs(clock_.Now()), kHourMs) - kHourMs;
}

Result<std::string> ClickHouseHistoryReader::Query(const std::string& sql) {
  Result<ClickHouseResponse> answer = transport_.Send({"", sql, false});
  if (!answer) {
    return Error{"ClickHouse is unreachable: " + answer.error(), ErrorKind::kUnavailable};
  }
  if (!answer->ok()) {
    return Error{"ClickHouse refused a history query: " + ClassifyClickHouseAnswer(*answer).message,
                 ErrorKind::kUnavailable};
  }
  if (answer->truncated) {
    return Error{"the answer of ClickHouse to a history query was longer than the reader keeps",
                 ErrorKind::kUnavailable};
  }
  return std::move(answer->body);
}

Result<std::vector<ClickHouseHistoryReader::Row>> ClickHouseHistoryReader::Aggregate(
    const Selection& selection, const std::vector<Window>& windows) {
  // Every window's plan. Raw segments are one SELECT each (one SELECT per source over the union
  // of the windows' raw segments, rows tagged with arrayJoin, was measured slower on 18.16:
  // BENCHMARKS.md §5a); the rollup segments of a table are read once for all windows, each row
  // tagged with the windows it lies in (BENCHMARKS.md §5b).
  struct Part {
    RollupSource source;
    size_t window;
    int64_t from_ms;
    int64_t to_ms;
  };
  std::vector<Part> parts;
  const int64_t settled =
      selection.rollups_only ? std::numeric_limits<int64_t>::max() : SettledMs();
  for (size_t w = 0; w < windows.size(); ++w) {
    for (RollupSegment& segment : SplitByRollups(windows[w].from_ms, windows[w].to_ms, settled)) {
      // Hour buckets cannot come out of day rows, nor arbitrary steps out of rollups.
      if (selection.key == Selection::Key::kStep) {
        segment.source = RollupSource::kRaw;
      } else if (selection.key == Selection::Key::kHour && segment.source == RollupSource::kDaily) {
        segment.source = RollupSource::kHourly;
      }
      parts.push_back({segment.source, w, segment.from_ms, segment.to_ms});
    }
  }
  const std::string passing(kPassing);
  std::string filter =
      "monitor_uid IN (" + ClickHouseSchema::QuoteList(selection.monitor_uids) + ")";
  if (!selection.regions.empty()) {
    filter += " AND region IN (" + ClickHouseSchema::QuoteList(selection.regions) + ")";
  }
  const auto key_of = [&](const std::string& time) {
    switch (selection.key) {
      case Selection::Key::kNone:
        break;
      case Selection::Key::kHour:
        return "toUInt64(toUInt32(toStartOfHour(" + time + ")))";
      case Selection::Key::kDay:
        return "toUInt64(toUInt32(toStartOfDay(" + time + ")))";
      case Selection::Key::kStep:
        return "toUInt64(intDiv(scheduled_at_ms - " + std::to_string(selection.step_from_ms) +
               ", " + std::to_string(selection.step_ms) + "))";
    }
    return std::string("toUInt64(0)");
  };
  // The aggregates of raw results, the same for every raw segment.
  std::string raw_columns =
      "count() AS n, countIf(outcome = 'up') AS n_up, countIf(outcome = 'degraded') AS "
      "n_degraded, countIf(outcome = 'down') AS n_down, countIf(outcome = 'error') AS "
      "n_errors, sumIf(total_us, " +
      passing + ") AS l_sum, minIf(total_us, " + passing + ") AS l_min, maxIf(total_us, " +
      passing + ") AS l_max, sumIf(dns_us, " + passing + ") AS p_dns, sumIf(connect_us, " +
      passing + ") AS p_connect, sumIf(tls_us, " + passing + ") AS p_tls, sumIf(first_byte_us, " +
      passing + ") AS p_first_byte, sumIf(transfer_us, " + passing + ") AS p_transfer";
  if (selection.latency) {
    raw_columns += ", sumMapIf([" + ClickHouseSchema::LatencyBucketExpression("total_us") +
                   "], [toUInt64(1)], " + passing + ") AS h";
  }
  const auto append = [](std::string& out, std::initializer_list<std::string_view> pieces) {
    for (std::string_view piece : pieces) out += piece;
  };
  std::vector<std::string> selects;
  for (const Part& part : parts) {
    if (part.source != RollupSource::kRaw) continue;
    // Raw results keep FINAL: a result sent twice by two processes (the same scheduled check)
    // may differ in its outcome, and FINAL keeps the row the rollups were computed from.
    std::string sql;
    append(sql, {"SELECT toUInt8(",
                 std::to_string(part.window),
                 ") AS w, ",
                 key_of("time"),
                 " AS k, monitor_uid AS m, ",
                 selection.by_region ? "region" : "''",
                 " AS r, ",
                 raw_columns,
                 " FROM ",
                 database_,
                 ".check_results FINAL WHERE ",
                 filter,
                 " AND time >= toDateTime(",
                 std::to_string(FloorTo(part.from_ms, 1000) / 1000),
                 ") AND time <= toDateTime(",
                 std::to_string(FloorTo(part.to_ms - 1, 1000) / 1000),
                 ") AND scheduled_at_ms >= ",
                 std::to_string(part.from_ms),
                 " AND scheduled_at_ms < ",
                 std::to_string(part.to_ms),
                 " GROUP BY w, k, m, r"});
    selects.push_back(std::move(sql));
  }
  for (RollupSource source : {RollupSource::kHourly, RollupSource::kDaily}) {
    // Which windows a bucket lies in (255: none), and the buckets any window needs.
    std::string tags;
    std::string ranges;
    for (const Part& part : parts) {
      if (part.source != source) continue;
      std::string range;
      append(range, {"bucket_start >= toDateTime(", std::to_string(part.from_ms / 1000),
                     ") AND bucket_start < toDateTime(", std::to_string(part.to_ms / 1000), ")"});
      append(tags, {tags.empty() ? "" : ", ", "if(", range, ", toUInt8(",
                    std::to_string(part.window), "), toUInt8(255))"});
      append(ranges, {ranges.empty() ? "(" : " OR (", range, ")"});
    }
    if (tags.empty()) continue;
    // One row per (monitor, bucket, region) without FINAL: the row with the largest count
    // (the latest recomputation, what the ReplacingMergeTree keeps) by argMax.
    std::string sql;
    append(sql, {"SELECT arrayJoin(arrayFilter(x -> x != 255, [", tags, "])) AS w, ",
                 key_of("bucket_start"), " AS k, c_monitor AS m, ",
                 selection.by_region ? "c_region" : "''",
                 " AS r, sum(c_total) AS n, sum(c_up) AS n_up, sum(c_degraded) AS n_degraded, "
                 "sum(c_down) AS n_down, sum(c_errors) AS n_errors, sum(c_latency_sum) AS "
                 "l_sum, minIf(c_latency_min, c_up + c_degraded > 0) AS l_min, "
                 "maxIf(c_latency_max, c_up + c_degraded > 0) AS l_max, sum(c_dns) AS "
                 "p_dns, sum(c_connect) AS p_connect, sum(c_tls) AS p_tls, "
                 "sum(c_first_byte) AS p_first_byte, sum(c_transfer) AS p_transfer",
                 selection.latency ? ", sumMap(c_buckets, c_counts) AS h" : "",
                 " FROM (SELECT monitor_uid AS c_monitor, region AS c_region, bucket_start, "
                 "max(total) AS c_total, argMax(up, total) AS c_up, argMax(degraded, total) AS "
                 "c_degraded, argMax(down, total) AS c_down, argMax(errors, total) AS c_errors, "
                 "argMax(latency_sum_us, total) AS c_latency_sum, argMax(latency_min_us, total) "
                 "AS c_latency_min, argMax(latency_max_us, total) AS c_latency_max, "
                 "argMax(dns_us, total) AS c_dns, argMax(connect_us, total) AS c_connect, "
                 "argMax(tls_us, total) AS c_tls, argMax(first_byte_us, total) AS c_first_byte, "
                 "argMax(transfer_us, total) AS c_transfer",
                 selection.latency ? ", argMax(latency_buckets, total) AS c_buckets, "
                                     "argMax(latency_counts, total) AS c_counts"
                                   : "",
                 " FROM ", database_, ".",
                 source == RollupSource::kHourly ? ClickHouseSchema::kHourlyTable
                                                 : ClickHouseSchema::kDailyTable,
                 " WHERE ", filter, " AND (", ranges,
                 ") GROUP BY monitor_uid, region, bucket_start) GROUP BY w, k, m, r"});
    selects.push_back(std::move(sql));
  }
  std::vector<Row> out;
  if (selects.empty()) return out;
  std::string sql;
  for (const std::string& select : selects) {
    append(sql, {sql.empty() ? "" : " UNION ALL ", select});
  }
  sql += " FORMAT JSONEachRow";
  Result<std::string> body = Query(sql);
  if (!body) return Error{body.error(), body.error_kind()};
  std::map<std::tuple<size_t, int64_t, std::string, std::string>, Row> merged;
  size_t start = 0;
  while (start < body->size()) {
    size_t end = body->find('\n', start);
    if (end == std::string::npos) end = body->size();
    const nlohmann::json json =
        nlohmann::json::parse(body->begin() + static_cast<ptrdiff_t>(start),
                              body->begin() + static_cast<ptrdiff_t>(end), nullptr, false);
    const bool empty = end == start;
    start = end + 1;
    if (empty) continue;
    if (json.is_discarded() || !json.is_object()) {
      return Error{"ClickHouse answered a history query with something that is not JSON",
                   ErrorKind::kUnavailable};
    }
    Row row;
    const int64_t window = Int(json.value("w", nlohmann::json(0)));
    if (window < 0 || static_cast<size_t>(window) >= windows.size()) {
      return Error{"ClickHouse answered a history query with a window it was not asked for",
                   ErrorKind::kUnavailable};
    }
    row.window = static_cast<size_t>(window);
    row.key = Int(json.value("k", nlohmann::json(0)));
    row.monitor_uid = Text(json, "m");
    row.region = Text(json, "r");
    row.total = Int(json.value("n", nlohmann::json(0)));
    row.up = Int(json.value("n_up", nlohmann::json(0)));
    row.degraded = Int(json.value("n_degraded", nlohmann::json(0)));
    row.down = Int(json.value("n_down", nlohmann::json(0)));
    row.errors = Int(json.value("n_errors", nlohmann::json(0)));
    row.latency_sum = Int(json.value("l_sum", nlohmann::json(0)));
    row.latency_min = Int(json.value("l_min", nlohmann::json(0)));
    row.latency_max = Int(json.value("l_max", nlohmann::json(0)));
    const char* phases[] = {"p_dns", "p_connect", "p_tls", "p_first_byte", "p_transfer"};
    for (int i = 0; i < 5; ++i) row.phases[i] = Int(json.value(phases[i], nlohmann::json(0)));
    if (auto h = json.find("h"); h != json.end() && h->is_array() && h->size() == 2 &&
                                 (*h)[0].is_array() && (*h)[1].is_array() &&
                                 (*h)[0].size() == (*h)[1].size()) {
      for (size_t i = 0; i < (*h)[0].size(); ++i) {
        const int64_t bucket = Int((*h)[0][i]);
        if (bucket >= 0 && bucket < LatencyHistogram::BucketCount()) {
          row.buckets[static_cast<int>(bucket)] += Int((*h)[1][i]);
        }
      }
    }
    auto [it, inserted] =
        merged.try_emplace({row.window, row.key, row.monitor_uid, row.region}, row);
    if (!inserted) it->second.Merge(row);
  }
  for (auto& [key, row] : merged) out.push_back(std::move(row));
  return out;
}

Result<WindowStats> ClickHouseHistoryReader::Stats(const StatsQuery& query) {
  Selection selection;
  selection.monitor_uids = {query.monitor_uid};
  if (query.region) selection.regions = {*query.region};
  Result<std::vector<Row>> rows = Aggregate(selection, {{ToMs(query.from), ToMs(query.to)}});
  if (!rows) return Error{rows.error(), rows.error_kind()};
  Row total;
  for (const Row& row : *rows) total.Merge(row);
  return total.ToStats();
}

Result<std::vector<MonitorSummary>> ClickHouseHistoryReader::SummarizeMany(
    const std::vector<std::string>& monitor_uids, TimePoint now) {
  std::vector<MonitorSummary> out(monitor_uids.size());
  if (monitor_uids.empty()) return out;
  std::map<std::string, std::vector<size_t>> positions;
  for (size_t i = 0; i < monitor_uids.size(); ++i) positions[monitor_uids[i]].push_back(i);
  Selection selection;
  for (const auto& [uid, at] : positions) selection.monitor_uids.push_back(uid);
  selection.rollups_only = true;
  using std::chrono::hours;
  const std::pair<hours, WindowStats MonitorSummary::*> windows[] = {
      {hours(24), &MonitorSummary::last_24h},
      {hours(24 * 7), &MonitorSummary::last_7d},
      {hours(24 * 30), &MonitorSummary::last_30d}};
  std::vector<Window> spans;
  // Whole hours: those starting in the last `length`, the current one included.
  const int64_t end = FloorTo(ToMs(now), kHourMs) + kHourMs;
  for (const auto& [length, field] : windows) {
    spans.push_back({CeilTo(ToMs(now - length), kHourMs), end});
  }
  Result<std::vector<Row>> rows = Aggregate(selection, spans);
  if (!rows) return Error{rows.error(), rows.error_kind()};
  std::map<std::pair<size_t, std::string>, Row> per_monitor;
  for (const Row& row : *rows) per_monitor[{row.window, row.monitor_uid}].Merge(row);
  for (const auto& [window_uid, row] : per_monitor) {
    auto found = positions.find(window_uid.second);
    if (found == positions.end()) continue;
    const WindowStats stats = row.ToStats();
    for (size_t i : found->second) out[i].*windows[window_uid.first].second = stats;
  }
  return out;
}

Result<std::vector<Rollup>> ClickHouseHistoryReader::Rollups(const RollupQuery& query) {
  const int64_t unit = query.period == RollupPeriod::kHour ? kHourMs : kDayMs;
  Selection selection;
  selection.monitor_uids = {query.monitor_uid};
  if (query.region) selection.regions = {*query.region};
  selection.by_region = query.region.has_value();
  selection.key =
      query.period == RollupPeriod::kHour ? Selection::Key::kHour : Selection::Key::kDay;
  // Buckets starting in [from, to) cover the whole of their period.
  Result<std::vector<Row>> rows =
      Aggregate(selection, {{CeilTo(ToMs(query.from), unit), CeilTo(ToMs(query.to), unit)}});
  if (!rows) return Error{rows.error(), rows.error_kind()};
  std::vector<Rollup> out;
  for (const Row& row : *rows) {
    out.push_back(Rollup{FromMs(row.key * 1000), row.region, row.ToStats()});
  }
  return out;
}

Result<std::vector<BucketCounts>> ClickHouseHistoryReader::CountRollups(
    const BucketCountsQuery& query) {
  std::vector<BucketCounts> out;
  if (query.monitor_uids.empty()) return out;
  const int64_t unit = query.period == RollupPeriod::kHour ? kHourMs : kDayMs;
  Selection selection;
  selection.monitor_uids = query.monitor_uids;
  selection.regions = query.regions;
  selection.key =
      query.period == RollupPeriod::kHour ? Selection::Key::kHour : Selection::Key::kDay;
  selection.latency = false;
  Result<std::vector<Row>> rows =
      Aggregate(selection, {{CeilTo(ToMs(query.from), unit), CeilTo(ToMs(query.to), unit)}});
  if (!rows) return Error{rows.error(), rows.error_kind()};
  for (const Row& row : *rows) {
    BucketCounts counts;
    counts.monitor_uid = row.monitor_uid;
    counts.bucket_start = FromMs(row.key * 1000);
    counts.total = row.total;
    counts.up = row.up;
    counts.degraded = row.degraded;
    counts.down = row.down;
    counts.errors = row.errors;
    counts.latency_sum_us = row.latency_sum;
    out.push_back(std::move(counts));
  }
  std::sort(out.begin(), out.end(), [](const BucketCounts& a, const BucketCounts& b) {
    return std::tie(a.monitor_uid, a.bucket_start) < std::tie(b.monitor_uid, b.bucket_start);
  });
  return out;
}

Result<std::vector<Rollup>> ClickHouseHistoryReader::ResultSeries(const SeriesQuery& query) {
  if (query.step <= std::chrono::milliseconds(0)) {
    return Error{"result series: the step must be positive", ErrorKind::kInvalidArgument};
  }
  Selection selection;
  selection.monitor_uids = {query.monitor_uid};
  if (query.region) selection.regions = {*query.region};
  selection.key = Selection::Key::kStep;
  selection.step_from_ms = ToMs(query.from);
  selection.step_ms = query.step.count();
  Result<std::vector<Row>> rows = Aggregate(selection, {{ToMs(query.from), ToMs(query.to)}});
  if (!rows) return Error{rows.error(), rows.error_kind()};
  std::vector<Rollup> out;
  for (const Row& row : *rows) {
    out.push_back(
        Rollup{query.from + row.key * query.step, query.region.value_or(""), row.ToStats()});
  }
  return out;
}

Result<std::vector<CheckResult>> ClickHouseHistoryReader::Results(const ResultQuery& query) {
  const int64_t since = ToMs(query.since);
  const char* order = query.newest_first ? "DESC" : "ASC";
  std::string sql =
      "SELECT item_id, monitor_uid, monitor_namespace, monitor_name, generation, type, target, "
      "region, probe, scheduled_at_ms, started_at_ms, outcome, status_code, dns_us, connect_us, "
      "tls_us, first_byte_us, transfer_us, total_us, attempts, toInt64(cert_expiry) AS ce, "
      "toInt64(cert_earliest_expiry) AS cee, assertion_type, assertion_expected, "
      "assertion_actual, assertion_message, error FROM " +
      database_ +
      ".check_results FINAL WHERE monitor_uid = " + ClickHouseSchema::Quote(query.monitor_uid) +
      " AND time >= toDateTime(" +
      std::to_string(std::max<int64_t>(0, FloorTo(since, 1000) / 1000)) +
      ") AND scheduled_at_ms >= " + std::to_string(since);
  if (query.region) sql += " AND region = " + ClickHouseSchema::Quote(*query.region);
  sql += std::string(" ORDER BY scheduled_at_ms ") + order + ", item_id " + order + " LIMIT " +
         std::to_string(std::clamp(query.limit, 0, 100'000)) + " FORMAT JSONEachRow";
  Result<std::string> body = Query(sql);
  if (!body) return Error{body.error(), body.error_kind()};
  std::vector<CheckResult> out;
  size_t start = 0;
  while (start < body->size()) {
    size_t end = body->find('\n', start);
    if (end == std::string::npos) end = body->size();
    const nlohmann::json row =
        nlohmann::json::parse(body->begin() + static_cast<ptrdiff_t>(start),
                              body->begin() + static_cast<ptrdiff_t>(end), nullptr, false);
    start = end + 1;
    if (row.is_discarded() || !row.is_object()) continue;
    CheckResult result;
    result.item_id = Text(row, "item_id");
    if (result.item_id.rfind("local-", 0) == 0) result.item_id.clear();
    result.monitor_uid = Text(row, "monitor_uid");
    result.monitor_namespace = Text(row, "monitor_namespace");
    result.monitor_name = Text(row, "monitor_name");
    result.generation = Int(row.value("generation", nlohmann::json(0)));
    result.type = ParseMonitorType(Text(row, "type")).value_or(MonitorType::kHttp);
    result.target = Text(row, "target");
    result.region = Text(row, "region");
    result.probe = Text(row, "probe");
    result.scheduled_at = FromMs(Int(row.value("scheduled_at_ms", nlohmann::json(0))));
    result.started_at = FromMs(Int(row.value("started_at_ms", nlohmann::json(0))));
    result.outcome = ParseOutcome(Text(row, "outcome")).value_or(Outcome::kError);
    result.status_code = static_cast<int>(Int(row.value("status_code", nlohmann::json(0))));
    result.timings.dns_us = Int(row.value("dns_us", nlohmann::json(0)));
    result.timings.connect_us = Int(row.value("connect_us", nlohmann::json(0)));
    result.timings.tls_us = Int(row.value("tls_us", nlohmann::json(0)));
    result.timings.first_byte_us = Int(row.value("first_byte_us", nlohmann::json(0)));
    result.timings.transfer_us = Int(row.value("transfer_us", nlohmann::json(0)));
    result.timings.total_us = Int(row.value("total_us", nlohmann::json(0)));
    result.attempts = static_cast<int>(Int(row.value("attempts", nlohmann::json(1))));
    if (auto ce = row.find("ce"); ce != row.end() && !ce->is_null()) {
      result.cert_expiry = FromMs(Int(*ce) * 1000);
    }
    if (auto cee = row.find("cee"); cee != row.end() && !cee->is_null()) {
      result.cert_earliest_expiry = FromMs(Int(*cee) * 1000);
    }
    if (std::string type = Text(row, "assertion_type"); !type.empty()) {
      result.failed_assertion =
          FailedAssertion{type, Text(row, "assertion_expected"), Text(row, "assertion_actual"),
                          Text(row, "assertion_message")};
    }
    result.error = Text(row, "error");
    out.push_back(std::move(result));
  }
  return out;
}

Result<std::vector<Incident>> ClickHouseHistoryReader::Incidents(const IncidentQuery&) {
  return Error{"incidents are not kept in ClickHouse", ErrorKind::kInvalidArgument};
}

}  // namespace pharos
