// pharos-bench-clickhouse-history: how fast history is read from ClickHouse at volume
// (BENCHMARKS.md §5, issue #17: "the 90-day status page of 200 components and the JSON API for
// 50,000 monitors must stay fast").
//
//   pharos-bench-clickhouse-history --url http://127.0.0.1:PORT [--user U] [--database bench]
//       [--monitors 10000] [--days 30] [--step-minutes 5] [--components 200]
//       [--api-monitors 1000] [--repeats 5] [--sqlite-peer] [--skip-load] [--skip-rollups]
//
// Load: --days days (ending now) of one result every --step-minutes for each of --monitors
// monitors, one region, generated inside ClickHouse (INSERT ... SELECT FROM numbers(), one day
// per statement; ~0.3% down, totals 20-220 ms), then the hourly and daily rollups recomputed
// with the very statements the sink uses (ClickHouseSchema::RefreshHourly/RefreshDaily, here for
// every monitor and a day of hours at a time; the sink recomputes only the monitors and hours a
// batch touched).
// Measured (median and max of --repeats, reader = ClickHouseHistoryReader over HTTP):
//   status page: CountRollups of --components monitors, day buckets, 90 days;
//   the same counted from check_results FINAL without rollups (peer: what the rollups save);
//   JSON API: SummarizeMany (24 h, 7 d, 30 d windows) of --api-monitors monitors in batches of
//   200 (as OperatorCore refreshes them); peer: Summarize one monitor at a time;
//   /results: the newest 100 results of one monitor.
// --sqlite-peer: the same status page from a SqliteResultStore holding the components' results
// (appended through ResultStore::Append, the path probes' results take).
// Prints one line per figure and one JSON line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/command_line.h"
#include "operator/analytics/clickhouse_history_reader.h"
#include "operator/analytics/clickhouse_schema.h"
#include "operator/analytics/curl_clickhouse_transport.h"
#include "operator/storage/sqlite_result_store.h"

namespace pharos {
namespace {

using Seconds = std::chrono::duration<double>;

struct Timing {
  double median = 0;
  double max = 0;
};

template <typename F>
Timing Time(int repeats, F&& body) {
  std::vector<double> runs;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    runs.push_back(Seconds(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(runs.begin(), runs.end());
  return {runs[runs.size() / 2], runs.back()};
}

std::string Uid(int64_t monitor) { return "bench:ns/m" + std::to_string(monitor); }

void Must(ClickHouseTransport& transport, const std::string& sql) {
  Result<ClickHouseResponse> answer = transport.Send({"", sql, false});
  if (!answer || !answer->ok()) {
    std::cerr << "ClickHouse failed: " << (answer ? answer->body : answer.error()) << "\n"
              << sql.substr(0, 400) << "\n";
    std::exit(1);
  }
}

std::string Scalar(ClickHouseTransport& transport, const std::string& sql) {
  Result<ClickHouseResponse> answer = transport.Send({"", sql, false});
  if (!answer || !answer->ok()) {
    std::cerr << "ClickHouse failed: " << (answer ? answer->body : answer.error()) << "\n";
    std::exit(1);
  }
  std::string text = answer->body;
  while (!text.empty() && (text.back() == '\n')) text.pop_back();
  return text;
}

int Main(int argc, char** argv) {
  CommandLine flags;
  flags.AddFlag("url", '\0', "URL", "ClickHouse HTTP interface", "http://127.0.0.1:8123");
  flags.AddFlag("database", '\0', "NAME", "database", "bench");
  flags.AddFlag("user", '\0', "NAME", "ClickHouse user ($PHAROS_CLICKHOUSE_PASSWORD: password)",
                "default");
  flags.AddFlag("monitors", '\0', "N", "monitors", "10000");
  flags.AddFlag("days", '\0', "N", "days of history", "30");
  flags.AddFlag("step-minutes", '\0', "N", "minutes between results of a monitor", "5");
  flags.AddFlag("components", '\0', "N", "monitors on the status page", "200");
  flags.AddFlag("api-monitors", '\0', "N", "monitors summarized for the JSON API", "1000");
  flags.AddFlag("repeats", '\0', "N", "repeats per query", "5");
  flags.AddSwitch("sqlite-peer", '\0', "also time the status page on SQLite");
  flags.AddSwitch("skip-load", '\0', "reuse the data of an earlier run");
  flags.AddSwitch("skip-rollups", '\0', "reuse the rollups of an earlier run");
  if (Status parsed = flags.Parse(std::vector<std::string>(argv + 1, argv + argc)); !parsed) {
    std::cerr << parsed.error() << "\n";
    return 2;
  }
  const int64_t monitors = std::stoll(flags.Get("monitors"));
  const int64_t days = std::stoll(flags.Get("days"));
  const int64_t step_s = 60 * std::stoll(flags.Get("step-minutes"));
  const int64_t components = std::stoll(flags.Get("components"));
  const int64_t api_monitors = std::stoll(flags.Get("api-monitors"));
  const int repeats = std::stoi(flags.Get("repeats"));
  const std::string db = flags.Get("database");

  CurlClickHouseTransport::Options options;
  options.url = flags.Get("url");
  options.user = flags.Get("user");
  if (const char* password = std::getenv("PHAROS_CLICKHOUSE_PASSWORD")) options.password = password;
  options.timeout = std::chrono::milliseconds(3'600'000);
  options.max_response_bytes = 256u << 20;
  Result<CurlClickHouseTransport> created = CurlClickHouseTransport::Create(options);
  if (!created) {
    std::cerr << created.error() << "\n";
    return 2;
  }
  CurlClickHouseTransport transport = std::move(created).value();
  SystemClock clock;
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
  const int64_t end_s = now_s - now_s % step_s;
  const int64_t start_s = end_s - days * 86400;
  nlohmann::json report = {{"monitors", monitors},
                           {"days", days},
                           {"step_s", step_s},
                           {"components", components},
                           {"api_monitors", api_monitors},
                           {"repeats", repeats}};

  if (!flags.IsSet("skip-load")) {
    Must(transport, "DROP DATABASE IF EXISTS " + db);
    if (Status ensured = ClickHouseSchema::Ensure(transport, db); !ensured) {
      std::cerr << ensured.error() << "\n";
      return 1;
    }
    const auto load_start = std::chrono::steady_clock::now();
    const int64_t slots_per_day = 86400 / step_s;
    for (int64_t day = 0; day < days; ++day) {
      const int64_t day_s = start_s + day * 86400;
      const std::string n = "number";
      const std::string hash = "cityHash64(number, " + std::to_string(day) + ")";
      Must(transport,
           "INSERT INTO " + db +
               ".check_results (item_id, monitor_uid, monitor_namespace, monitor_name, type, "
               "target, region, probe, time, scheduled_at_ms, started_at_ms, outcome, "
               "status_code, first_byte_us, total_us, attempts) SELECT concat('i', toString(" +
               std::to_string(day) +
               "), '-', toString(number)) AS item_id, concat('bench:ns/m', "
               "toString(number % " +
               std::to_string(monitors) +
               ")) AS monitor_uid, 'ns', "
               "concat('m', toString(number % " +
               std::to_string(monitors) +
               ")), 'http', 'https://example.test/', 'eu', 'probe-1', toDateTime(" +
               std::to_string(day_s) + " + intDiv(number, " + std::to_string(monitors) + ") * " +
               std::to_string(step_s) + ") AS t, toInt64(t) * 1000, toInt64(t) * 1000, if(" + hash +
               " % 1000 < 3, 'down', 'up'), if(" + hash +
               " % 1000 < 3, 503, 200), toInt64(15000 + " + hash + " % 200000), toInt64(20000 + " +
               hash + " % 200000), 1 FROM numbers(" + std::to_string(monitors * slots_per_day) +
               ")");
    }
    const double load_s = Seconds(std::chrono::steady_clock::now() - load_start).count();
    report["load_s"] = load_s;
    std::printf("load: %.1f s\n", load_s);
  }
  if (!flags.IsSet("skip-rollups")) {
    // A day of hours per statement (hour-aligned, so no hour is split between statements), then
    // the days they cover.
    const auto rollup_start = std::chrono::steady_clock::now();
    const int64_t first_hour = start_s - start_s % 3600;
    for (int64_t from = first_hour; from < end_s; from += 86400) {
      Must(transport, ClickHouseSchema::RefreshHourly(db, {}, from, from + 86400));
    }
    const int64_t first_day = start_s - start_s % 86400;
    for (int64_t day = first_day; day < end_s; day += 86400) {
      Must(transport, ClickHouseSchema::RefreshDaily(db, {}, day, day + 86400));
    }
    const double rollup_s = Seconds(std::chrono::steady_clock::now() - rollup_start).count();
    report["rollup_s"] = rollup_s;
    std::printf("rollups: %.1f s (%.2f s per day of all monitors)\n", rollup_s,
                rollup_s / static_cast<double>(days));
  }
  const std::string rows = Scalar(transport, "SELECT count() FROM " + db + ".check_results");
  const std::string bytes =
      Scalar(transport, "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '" + db +
                            "' AND table = 'check_results' AND active");
  report["rows"] = std::stoll(rows);
  report["bytes_on_disk"] = std::stoll(bytes);
  std::printf("rows: %s, on disk: %s bytes\n", rows.c_str(), bytes.c_str());

  ClickHouseHistoryReader reader(transport, db, clock);
  std::vector<std::string> page;
  for (int64_t i = 0; i < components; ++i) page.push_back(Uid(i * (monitors / components)));
  const TimePoint now = clock.Now();
  const TimePoint today = TimePoint(std::chrono::seconds(now_s - now_s % 86400));
  BucketCountsQuery status_page{page,
                                RollupPeriod::kDay,
                                {},
                                today - std::chrono::hours(24 * 89),
                                today + std::chrono::hours(24)};
  size_t buckets = 0;
  const Timing page_timing = Time(repeats, [&] {
    Result<std::vector<BucketCounts>> counts = reader.CountRollups(status_page);
    if (!counts) {
      std::cerr << counts.error() << "\n";
      std::exit(1);
    }
    buckets = counts->size();
  });
  std::printf("status page (%lld components x 90 days, %zu buckets): median %.3f s, max %.3f s\n",
              static_cast<long long>(components), buckets, page_timing.median, page_timing.max);
  report["status_page_s"] = page_timing.median;
  report["status_page_max_s"] = page_timing.max;

  const std::string raw_page =
      "SELECT monitor_uid, toStartOfDay(time) AS d, count(), countIf(outcome = 'up'), "
      "countIf(outcome = 'down') FROM " +
      db + ".check_results FINAL WHERE monitor_uid IN (" + ClickHouseSchema::QuoteList(page) +
      ") AND time >= toDateTime(" + std::to_string(now_s - now_s % 86400 - 89 * 86400) +
      ") GROUP BY monitor_uid, d FORMAT Null";
  const Timing raw_timing = Time(repeats, [&] { Must(transport, raw_page); });
  std::printf("status page from check_results FINAL (no rollups): median %.3f s, max %.3f s\n",
              raw_timing.median, raw_timing.max);
  report["status_page_raw_final_s"] = raw_timing.median;

  // What pharos does every minute for /api/v1/monitors: SummarizeMany per housekeeping batch of
  // 200 monitors (OperatorCore's summary_batch), for --api-monitors monitors.
  std::vector<std::string> api_uids;
  for (int64_t i = 0; i < api_monitors; ++i) api_uids.push_back(Uid(i % monitors));
  const Timing api_timing = Time(repeats, [&] {
    for (size_t begin = 0; begin < api_uids.size(); begin += 200) {
      const std::vector<std::string> batch(
          api_uids.begin() + static_cast<ptrdiff_t>(begin),
          api_uids.begin() + static_cast<ptrdiff_t>(std::min(api_uids.size(), begin + 200)));
      Result<std::vector<MonitorSummary>> summaries = reader.SummarizeMany(batch, now);
      if (!summaries || summaries->size() != batch.size()) {
        std::cerr << (summaries ? "summaries missing" : summaries.error()) << "\n";
        std::exit(1);
      }
    }
  });
  const double per_monitor = api_timing.median / static_cast<double>(api_monitors);
  std::printf(
      "JSON API summaries (24h/7d/30d, batches of 200) of %lld monitors: median %.3f s, max "
      "%.3f s (%.3f ms per monitor; 50,000 monitors: %.0f s)\n",
      static_cast<long long>(api_monitors), api_timing.median, api_timing.max, per_monitor * 1000,
      per_monitor * 50'000);
  report["api_summaries_s"] = api_timing.median;
  report["api_per_monitor_ms"] = per_monitor * 1000;
  // Peer: the same one monitor at a time (HistoryReader::Summarize, three queries each).
  const int64_t single = std::min<int64_t>(200, api_monitors);
  const Timing single_timing = Time(repeats, [&] {
    for (int64_t i = 0; i < single; ++i) {
      if (!reader.Summarize(api_uids[static_cast<size_t>(i)], now)) std::exit(1);
    }
  });
  const double single_per_monitor = single_timing.median / static_cast<double>(single);
  std::printf("  peer, one monitor at a time (%lld monitors): %.2f ms per monitor (%.1fx)\n",
              static_cast<long long>(single), single_per_monitor * 1000,
              single_per_monitor / per_monitor);
  report["api_single_per_monitor_ms"] = single_per_monitor * 1000;

  const Timing results_timing = Time(repeats, [&] {
    Result<std::vector<CheckResult>> results =
        reader.Results({Uid(7), std::nullopt, now - std::chrono::hours(24), 100, true});
    if (!results || results->size() != 100) {
      std::cerr << "results: " << (results ? std::to_string(results->size()) : results.error())
                << "\n";
      std::exit(1);
    }
  });
  std::printf("/results (newest 100 of one monitor): median %.4f s\n", results_timing.median);
  report["results_s"] = results_timing.median;

  if (flags.IsSet("sqlite-peer")) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("pharos-ch-bench-" + std::to_string(now_s));
    std::filesystem::create_directories(dir);
    SqliteResultStore::Options sqlite;
    sqlite.path = (dir / "pharos.db").string();
    sqlite.raw_retention = std::chrono::hours(24 * 400);
    sqlite.hourly_retention = std::chrono::hours(24 * 400);
    auto store = std::move(SqliteResultStore::Open(sqlite)).value();
    const auto append_start = std::chrono::steady_clock::now();
    std::vector<CheckResult> batch;
    for (int64_t t = start_s; t < end_s; t += step_s) {
      for (const std::string& uid : page) {
        CheckResult result;
        result.monitor_uid = uid;
        result.monitor_namespace = "ns";
        result.monitor_name = uid.substr(9);
        result.region = "eu";
        result.probe = "probe-1";
        result.item_id = uid + "-" + std::to_string(t);
        result.scheduled_at = TimePoint(std::chrono::seconds(t));
        result.started_at = result.scheduled_at;
        result.outcome = Outcome::kUp;
        result.status_code = 200;
        result.timings.total_us = 20000 + (t % 200000);
        batch.push_back(std::move(result));
      }
      if (batch.size() >= 5000) {
        if (!store->Append(batch)) return 1;
        batch.clear();
      }
    }
    if (!batch.empty() && !store->Append(batch)) return 1;
    const double append_s = Seconds(std::chrono::steady_clock::now() - append_start).count();
    const Timing sqlite_timing = Time(repeats, [&] {
      Result<std::vector<BucketCounts>> counts = store->CountRollups(status_page);
      if (!counts) std::exit(1);
      buckets = counts->size();
    });
    std::printf(
        "SQLite peer: %lld components appended in %.1f s; status page median %.3f s, "
        "max %.3f s (%zu buckets)\n",
        static_cast<long long>(components), append_s, sqlite_timing.median, sqlite_timing.max,
        buckets);
    report["sqlite_status_page_s"] = sqlite_timing.median;
    store.reset();
    std::filesystem::remove_all(dir);
  }
  std::cout << report.dump() << "\n";
  return 0;
}

}  // namespace
}  // namespace pharos

int main(int argc, char** argv) { return pharos::Main(argc, argv); }
