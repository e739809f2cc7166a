// pharos-bench-clickhouse-history: how fast history is read from ClickHouse at volume
// (BENCHMARKS.md §5, issue #17: "the 90-day status page of 200 components and the JSON API for
// 50,000 monitors must stay fast").
//
//   pharos-bench-clickhouse-history --url http://127.0.0.1:PORT [--user U] [--database bench]
//       [--monitors 10000] [--days 30] [--step-minutes 5] [--components 200]
//       [--api-monitors 1000] [--repeats 5] [--sqlite-peer] [--skip-load] [--skip-rollups]
//       [--at UNIX_SECONDS] [--api-batch 200]
//       [--core-monitors 0 [--core-batch 2000] [--core-pause 0s] [--core-timeout 1800s]]
//
// Load: --days days (ending now) of one result every --step-minutes for each of --monitors
// monitors, one region, generated inside ClickHouse (INSERT ... SELECT FROM numbers(), one day
// per statement; ~0.3% down, totals 20-220 ms), then the hourly and daily rollups recomputed
// with the very statements the sink uses (ClickHouseSchema::RefreshHourly/RefreshDaily, here for
// every monitor and a day of hours at a time; the sink recomputes only the monitors and hours a
// batch touched).
// Measured (median and max of --repeats, reader = ClickHouseHistoryReader over HTTP):
//   status page: CountRollups of --components monitors, day buckets, 90 days; then the same
//   page again through RollupCountsCache (as pages are built: complete days kept);
//   the same counted from check_results FINAL without rollups (peer: what the rollups save);
//   JSON API: SummarizeMany (24 h, 7 d, 30 d windows) of --api-monitors monitors in batches of
//   --api-batch (200: what OperatorCore asks at once on SQLite; 2,000 with ClickHouse,
//   --clickhouse-summary-batch); peer: Summarize one
//   monitor at a time;
//   /results: the newest 100 results of one monitor.
// --at: the time the history ends and the reads are made at (default: now), so that runs of
// different builds on data loaded once read the same windows (a later run's "now" would leave
// the last hours empty).
// --sqlite-peer: the same status page from a SqliteResultStore holding the components' results
// (appended through ResultStore::Append, the path probes' results take).
// --core-monitors N (instead of the reads above): a running OperatorCore (scheduling off, on a
// temporary SQLite store) with N monitors "K/UID" whose summaries ClickHouse computes from the
// data of the generated monitor UID (N may exceed --monitors: 50,000 = the 10,000 five times,
// as §5b; uids sort by K, so one call never asks for one UID twice). Measures, from Start(), the
// time until every monitor had its summary computed (the first sweep), with summary_batch
// --core-batch and summary_pause --core-pause; the core's clock is real time shifted to --at.
// Prints one line per figure and one JSON line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/command_line.h"
#include "common/logging.h"
#include "common/manual_clock.h"
#include "common/mutex.h"
#include "operator/analytics/clickhouse_history_reader.h"
#include "operator/analytics/clickhouse_schema.h"
#include "operator/analytics/curl_clickhouse_transport.h"
#include "operator/control/operator_core.h"
#include "operator/storage/sqlite_result_store.h"
#include "operator/web/rollup_counts_cache.h"

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

// Real time, shifted so that the measurement starts at `start` (the end of the loaded data).
class ShiftedClock final : public Clock {
 public:
  explicit ShiftedClock(TimePoint start) : offset_(std::chrono::system_clock::now() - start) {}
  TimePoint Now() const override { return std::chrono::system_clock::now() - offset_; }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::now();
  }

 private:
  const std::chrono::system_clock::duration offset_;
};

// The core's store for --core-monitors: `local` (SQLite) for everything the core writes and
// loads; the summaries of monitors "K/UID" from `shared` (ClickHouse) as those of UID. Notes
// when every one of `monitors` monitors has been answered once.
// Thread-safety: SummarizeMany from the core's summary thread, the rest from any thread.
class CoreBenchStore final : public ResultStore {
 public:
  CoreBenchStore(ResultStore& local, HistoryReader& shared, size_t monitors)
      : local_(local), shared_(shared), monitors_(monitors) {}

  Result<std::vector<MonitorSummary>> SummarizeMany(const std::vector<std::string>& uids,
                                                    TimePoint now) override {
    std::vector<std::string> data;
    data.reserve(uids.size());
    for (const std::string& uid : uids) data.push_back(uid.substr(uid.find('/') + 1));
    const auto start = std::chrono::steady_clock::now();
    Result<std::vector<MonitorSummary>> answer = shared_.SummarizeMany(data, now);
    const auto end = std::chrono::steady_clock::now();
    MutexLock lock(mu_);
    call_seconds_.push_back(Seconds(end - start).count());
    if (!answer) {
      ++failures_;
      return answer;
    }
    for (const std::string& uid : uids) answered_.insert(uid);
    if (answered_.size() == monitors_ && !all_at_) {
      all_at_ = end;
      done_.NotifyAll();
    }
    return answer;
  }

  // When every monitor had been answered; nullopt at the timeout.
  std::optional<std::chrono::steady_clock::time_point> WaitAll(std::chrono::seconds timeout) {
    MutexLock lock(mu_);
    done_.WaitFor(mu_, timeout, [&]() REQUIRES(mu_) { return all_at_.has_value(); });
    return all_at_;
  }
  std::vector<double> call_seconds() {
    MutexLock lock(mu_);
    return call_seconds_;
  }
  size_t failures() {
    MutexLock lock(mu_);
    return failures_;
  }

  Result<AppendResult> Append(const std::vector<CheckResult>& results) override {
    return local_.Append(results);
  }
  Result<WindowStats> Stats(const StatsQuery& query) override { return local_.Stats(query); }
  Result<std::vector<Rollup>> Rollups(const RollupQuery& query) override {
    return local_.Rollups(query);
  }
  Result<std::vector<CheckResult>> Results(const ResultQuery& query) override {
    return local_.Results(query);
  }
  Result<std::vector<Incident>> Incidents(const IncidentQuery& query) override {
    return local_.Incidents(query);
  }
  Status SaveMonitorState(const MonitorStateSnapshot& state,
                          const std::vector<StateEvent>& events) override {
    return local_.SaveMonitorState(state, events);
  }
  Status SaveMonitorStates(const std::vector<MonitorStateSave>& saves) override {
    return local_.SaveMonitorStates(saves);
  }
  Result<std::vector<MonitorStateSnapshot>> LoadMonitorStates() override {
    return local_.LoadMonitorStates();
  }
  Status ForgetMonitor(std::string_view uid, TimePoint now) override {
    return local_.ForgetMonitor(uid, now);
  }
  Result<PruneReport> Prune(TimePoint now) override { return local_.Prune(now); }

 private:
  ResultStore& local_;
  HistoryReader& shared_;
  const size_t monitors_;
  Mutex mu_;
  CondVar done_;
  std::set<std::string> answered_ GUARDED_BY(mu_);
  std::optional<std::chrono::steady_clock::time_point> all_at_ GUARDED_BY(mu_);
  std::vector<double> call_seconds_ GUARDED_BY(mu_);
  size_t failures_ GUARDED_BY(mu_) = 0;
};

// --core-monitors: see the header.
int MeasureCore(const CommandLine& flags, ClickHouseTransport& transport, const std::string& db,
                int64_t data_monitors, TimePoint at, nlohmann::json& report) {
  const size_t monitors = std::stoull(flags.Get("core-monitors"));
  Result<Millis> pause = flags.GetDuration("core-pause", Millis(0));
  Result<Millis> timeout = flags.GetDuration("core-timeout", Millis(1'000));
  if (!pause || !timeout) {
    std::cerr << (pause ? timeout.error() : pause.error()) << "\n";
    return 2;
  }
  LoggingOptions logging;
  logging.level = LogLevel::kWarn;  // not a line per monitor added
  SetupLogging(logging);
  const ShiftedClock clock(at);
  ClickHouseHistoryReader reader(transport, db, clock);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("pharos-ch-core-bench-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  SqliteResultStore::Options sqlite;
  sqlite.path = (dir / "pharos.db").string();
  auto local = std::move(SqliteResultStore::Open(sqlite)).value();
  CoreBenchStore store(*local, reader, monitors);
  MetricsRegistry registry;
  OperatorCore::Options options;
  options.default_regions = {"eu"};
  options.scheduling = false;  // only the summaries are measured
  options.summary_batch = std::stoull(flags.Get("core-batch"));
  options.summary_pause = *pause;
  std::unique_ptr<OperatorCore> core =
      std::move(OperatorCore::Create(clock, store, registry, options)).value();
  for (size_t i = 0; i < monitors; ++i) {
    const int64_t data = static_cast<int64_t>(i) % data_monitors;
    const int64_t copy = static_cast<int64_t>(i) / data_monitors;
    Monitor monitor;
    monitor.namespace_name = "ns";
    monitor.name = "m" + std::to_string(data) + "-" + std::to_string(copy);
    monitor.uid = std::to_string(copy) + "/" + Uid(data);
    monitor.frequency = Millis(60'000);
    monitor.timeout = Millis(10'000);
    monitor.http = HttpSpec{};
    monitor.http->url = "https://example.test/";
    if (Status added = core->UpsertMonitor(monitor); !added) {
      std::cerr << added.error() << "\n";
      return 1;
    }
  }
  core->MarkMonitorsLoaded();
  const auto start = std::chrono::steady_clock::now();
  core->Start();
  const auto all = store.WaitAll(std::chrono::duration_cast<std::chrono::seconds>(*timeout));
  size_t with_uptime = 0;
  for (const MonitorStatus& status : core->SnapshotAll()) {
    with_uptime += status.uptime_24h.has_value() ? 1 : 0;
  }
  core->Stop();
  std::vector<double> calls = store.call_seconds();
  std::sort(calls.begin(), calls.end());
  const double median = calls.empty() ? 0 : calls[calls.size() / 2];
  report["core_monitors"] = monitors;
  report["core_batch"] = options.summary_batch;
  report["core_pause_ms"] = pause->count();
  report["core_calls"] = calls.size();
  report["core_call_median_s"] = median;
  report["core_failures"] = store.failures();
  report["core_with_uptime"] = with_uptime;
  if (!all) {
    std::printf("core: not every summary computed within %lld s (%zu calls)\n",
                static_cast<long long>(timeout->count() / 1000), calls.size());
    std::cout << report.dump() << "\n";
    return 1;
  }
  const double all_s = Seconds(*all - start).count();
  report["core_all_fresh_s"] = all_s;
  std::printf(
      "core: every one of %zu monitors had a summary %.1f s after Start (summary_batch %zu, "
      "pause %lld ms; %zu calls, median %.3f s each, %zu failed); %zu show a 24 h uptime\n",
      monitors, all_s, options.summary_batch, static_cast<long long>(pause->count()), calls.size(),
      median, store.failures(), with_uptime);
  std::cout << report.dump() << "\n";
  std::filesystem::remove_all(dir);
  return 0;
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
  flags.AddFlag("at", '\0', "UNIX_SECONDS", "when the history ends and reads happen", "0");
  flags.AddFlag("api-batch", '\0', "N", "monitors per SummarizeMany call", "200");
  flags.AddFlag("core-monitors", '\0', "N",
                "measure a running OperatorCore's first sweep of N monitors instead", "0");
  flags.AddFlag("core-batch", '\0', "N", "the core's summary_batch", "2000");
  flags.AddFlag("core-pause", '\0', "DURATION", "the core's summary_pause", "0s");
  flags.AddFlag("core-timeout", '\0', "DURATION", "longest wait for the first sweep", "1800s");
  if (Status parsed = flags.Parse(std::vector<std::string>(argv + 1, argv + argc)); !parsed) {
    std::cerr << parsed.error() << "\n";
    return 2;
  }
  const int64_t monitors = std::stoll(flags.Get("monitors"));
  const int64_t days = std::stoll(flags.Get("days"));
  const int64_t step_s = 60 * std::stoll(flags.Get("step-minutes"));
  const int64_t components = std::stoll(flags.Get("components"));
  const int64_t api_monitors = std::stoll(flags.Get("api-monitors"));
  const size_t api_batch = std::max<size_t>(1, std::stoull(flags.Get("api-batch")));
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
  const int64_t at_s = std::stoll(flags.Get("at"));
  ManualClock clock(at_s > 0 ? TimePoint(std::chrono::seconds(at_s)) : SystemClock().Now());
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
      const std::string hash = "cityHash64(number, " + std::to_string(day) + ")";
      const std::string per_monitor = "toString(number % " + std::to_string(monitors) + ")";
      std::string sql = "INSERT INTO ";
      for (const std::string& piece :
           {db,
            std::string(".check_results (item_id, monitor_uid, monitor_namespace, monitor_name, "
                        "type, target, region, probe, time, scheduled_at_ms, started_at_ms, "
                        "outcome, status_code, first_byte_us, total_us, attempts) SELECT "
                        "concat('i', toString("),
            std::to_string(day),
            std::string("), '-', toString(number)) AS item_id, concat('bench:ns/m', "),
            per_monitor,
            std::string(") AS monitor_uid, 'ns', concat('m', "),
            per_monitor,
            std::string("), 'http', 'https://example.test/', 'eu', 'probe-1', toDateTime("),
            std::to_string(day_s),
            std::string(" + intDiv(number, "),
            std::to_string(monitors),
            std::string(") * "),
            std::to_string(step_s),
            std::string(") AS t, toInt64(t) * 1000, toInt64(t) * 1000, if("),
            hash,
            std::string(" % 1000 < 3, 'down', 'up'), if("),
            hash,
            std::string(" % 1000 < 3, 503, 200), toInt64(15000 + "),
            hash,
            std::string(" % 200000), toInt64(20000 + "),
            hash,
            std::string(" % 200000), 1 FROM numbers("),
            std::to_string(monitors * slots_per_day),
            std::string(")")}) {
        sql += piece;
      }
      Must(transport, sql);
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

  if (std::stoll(flags.Get("core-monitors")) > 0) {
    return MeasureCore(flags, transport, db, monitors, clock.Now(), report);
  }
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

  // What a page build costs once the page has been built before: the status page reads through
  // RollupCountsCache, which keeps the complete days and reads only today's bucket.
  RollupCountsCache page_cache(reader, RollupCountsCache::Options{});
  auto read_through_cache = [&] {
    Result<std::vector<RollupCountsCache::MonitorBuckets>> read = page_cache.Read(status_page, now);
    if (!read) {
      std::cerr << read.error() << "\n";
      std::exit(1);
    }
  };
  read_through_cache();
  const Timing cached_timing = Time(repeats, read_through_cache);
  std::printf(
      "status page again, through RollupCountsCache (today's bucket read): median %.3f s, "
      "max %.3f s\n",
      cached_timing.median, cached_timing.max);
  report["status_page_cached_s"] = cached_timing.median;
  report["status_page_cached_max_s"] = cached_timing.max;

  const std::string raw_page =
      "SELECT monitor_uid, toStartOfDay(time) AS d, count(), countIf(outcome = 'up'), "
      "countIf(outcome = 'down') FROM " +
      db + ".check_results FINAL WHERE monitor_uid IN (" + ClickHouseSchema::QuoteList(page) +
      ") AND time >= toDateTime(" + std::to_string(now_s - now_s % 86400 - int64_t{89} * 86400) +
      ") GROUP BY monitor_uid, d FORMAT Null";
  const Timing raw_timing = Time(repeats, [&] { Must(transport, raw_page); });
  std::printf("status page from check_results FINAL (no rollups): median %.3f s, max %.3f s\n",
              raw_timing.median, raw_timing.max);
  report["status_page_raw_final_s"] = raw_timing.median;

  // What pharos does every minute for /api/v1/monitors: SummarizeMany per batch of the core's
  // SummaryRefresher, for --api-monitors monitors.
  std::vector<std::string> api_uids;
  for (int64_t i = 0; i < api_monitors; ++i) api_uids.push_back(Uid(i % monitors));
  const Timing api_timing = Time(repeats, [&] {
    for (size_t begin = 0; begin < api_uids.size(); begin += api_batch) {
      const std::vector<std::string> batch(
          api_uids.begin() + static_cast<ptrdiff_t>(begin),
          api_uids.begin() + static_cast<ptrdiff_t>(std::min(api_uids.size(), begin + api_batch)));
      Result<std::vector<MonitorSummary>> summaries = reader.SummarizeMany(batch, now);
      if (!summaries || summaries->size() != batch.size()) {
        std::cerr << (summaries ? "summaries missing" : summaries.error()) << "\n";
        std::exit(1);
      }
    }
  });
  const double per_monitor = api_timing.median / static_cast<double>(api_monitors);
  std::printf(
      "JSON API summaries (24h/7d/30d, batches of %zu) of %lld monitors: median %.3f s, max "
      "%.3f s (%.3f ms per monitor; 50,000 monitors: %.0f s)\n",
      api_batch, static_cast<long long>(api_monitors), api_timing.median, api_timing.max,
      per_monitor * 1000, per_monitor * 50'000);
  report["api_batch"] = api_batch;
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
