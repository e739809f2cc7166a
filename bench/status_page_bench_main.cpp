// pharos-bench-status-page: how fast a status page answers with 10,000 monitors loaded
// (BENCHMARKS.md §4, issue #14: "a page of 200 components × 90 days in under 50 ms p99").
//
//   pharos-bench-status-page [--monitors 10000] [--components 200] [--requests 500]
//                            [--db DIR [--reuse-db]] [--page-dir DIR] [--nginx-port P]
//
// Set-up: a SQLite store in DIR (a fresh temporary directory by default) and an OperatorCore
// holding N monitors (not scheduling). History goes in through ResultStore::Append, the path
// probes' results take, so the rollups are the ones production writes: one result per hour for
// 90 days for each of the page's components, one per day for every other monitor (the rollup
// tables then hold every monitor's 90 days, as after three months of running), and incidents
// through SaveMonitorStates (one every 10 days for each component, every 30 days for the other
// monitors); then the retention prune runs once, so that none runs beside the measurements.
// Then the real HTTP server with the web routes (WebFrontend, page cache off: every request
// builds the page from the rollups) answers sequential GETs from one libcurl client over
// keep-alive, for:
//   status page HTML (200 components × 90 days), the same gzip-compressed, its JSON, the
//   dashboard's first page (all N monitors sorted by state), one monitor page, and the status
//   page with the page cache on (5 s).
// Peer, same run: nginx (Debian nginx-light) serving the very same HTML bytes as a static file
// (--nginx-port, started by bench/status_page: see BENCHMARKS.md).
// Prints latency percentiles per case and one JSON line.

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/process_stats.h"
#include "common/clock.h"
#include "common/command_line.h"
#include "common/http_server.h"
#include "common/logging.h"
#include "common/manual_clock.h"
#include "common/metrics_registry.h"
#include "operator/control/operator_core.h"
#include "operator/storage/sqlite_result_store.h"
#include "operator/web/history_incident_reader.h"
#include "operator/web/no_maintenance_calendar.h"
#include "operator/web/status_page_builder.h"
#include "operator/web/status_page_directory.h"
#include "operator/web/status_page_html.h"
#include "operator/web/web_frontend.h"

namespace pharos::bench {
namespace {

using std::chrono::days;
using std::chrono::hours;

struct Latencies {
  std::string name;
  std::vector<double> ms;
  size_t bytes = 0;

  double Percentile(double q) const {
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
  }
};

size_t Discard(char*, size_t size, size_t count, void* total) {
  *static_cast<size_t*>(total) += size * count;
  return size * count;
}

// `requests` sequential GETs of `url` on one keep-alive connection; fails on any non-200.
Latencies Measure(const std::string& name, const std::string& url, int requests, bool gzip) {
  Latencies out{name, {}, 0};
  CURL* curl = curl_easy_init();
  size_t received = 0;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_slist* headers = nullptr;
  if (gzip) headers = curl_slist_append(headers, "Accept-Encoding: gzip");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  for (int i = -5; i < requests; ++i) {  // 5 warm-up requests
    received = 0;
    const auto start = std::chrono::steady_clock::now();
    const CURLcode code = curl_easy_perform(curl);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || status != 200) {
      std::cerr << name << ": GET " << url << " failed: " << curl_easy_strerror(code) << " status "
                << status << "\n";
      std::exit(1);
    }
    if (i >= 0) out.ms.push_back(ms);
    out.bytes = received;
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return out;
}

Monitor BenchMonitor(int index) {
  Monitor monitor;
  monitor.namespace_name = "ns" + std::to_string(index % 20);
  monitor.name = "monitor-" + std::to_string(index);
  monitor.uid = "uid-" + std::to_string(index);
  monitor.frequency = std::chrono::minutes(1);
  monitor.http = HttpSpec{};
  monitor.http->url = "https://service-" + std::to_string(index) + ".example.com/health";
  monitor.regions = {"eu-west"};
  return monitor;
}

CheckResult BenchResult(const Monitor& monitor, TimePoint at, int64_t serial) {
  CheckResult result;
  result.monitor_namespace = monitor.namespace_name;
  result.monitor_name = monitor.name;
  result.monitor_uid = monitor.uid;
  result.generation = 1;
  result.target = monitor.Target();
  result.region = "eu-west";
  result.probe = "bench";
  result.item_id = "bench-" + std::to_string(serial);
  result.scheduled_at = at;
  result.started_at = at;
  // About one failed check in 200 and one slow one in 50.
  result.outcome = serial % 197 == 0  ? Outcome::kDown
                   : serial % 53 == 0 ? Outcome::kDegraded
                                      : Outcome::kUp;
  result.status_code = result.outcome == Outcome::kDown ? 503 : 200;
  result.timings =
      Timings{1'000, 2'000, 5'000, 30'000 + serial % 40'000, 500, 38'500 + serial % 40'000};
  return result;
}

int Main(int argc, char** argv) {
  CommandLine flags;
  flags.AddFlag("monitors", '\0', "N", "monitors loaded", "10000");
  flags.AddFlag("components", '\0', "N", "components of the status page", "200");
  flags.AddFlag("requests", '\0', "N", "requests per case", "500");
  flags.AddFlag("db", '\0', "DIR", "directory for the SQLite file (default: a temporary one)");
  flags.AddFlag("nginx-port", '\0', "PORT", "nginx serving DIR/page.html (the peer); 0: none", "0");
  flags.AddSwitch("reuse-db", '\0', "keep DIR/bench.db from an earlier run (skips filling it)");
  flags.AddFlag("page-dir", '\0', "DIR", "where page.html goes for the peer (default: --db's DIR)");
  LoggingOptions logging;
  logging.level = LogLevel::kWarn;
  SetupLogging(logging);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status parsed = flags.Parse(args); !parsed) {
    std::cerr << parsed.error() << "\n" << flags.FlagsHelp();
    return 2;
  }
  const int monitors = static_cast<int>(*flags.GetInteger("monitors", 1, 1'000'000));
  const int components = static_cast<int>(*flags.GetInteger("components", 1, 10'000));
  const int requests = static_cast<int>(*flags.GetInteger("requests", 10, 1'000'000));
  const int64_t nginx_port = *flags.GetInteger("nginx-port", 0, 65'535);
  std::filesystem::path dir =
      flags.IsSet("db") ? std::filesystem::path(flags.Get("db"))
                        : std::filesystem::temp_directory_path() / "pharos-bench-status-page";
  std::filesystem::create_directories(dir);
  const bool reuse = flags.IsSet("reuse-db");
  if (!reuse) std::filesystem::remove(dir / "bench.db");
  if (!reuse) {
    std::filesystem::remove(dir / "bench.db-wal");
    std::filesystem::remove(dir / "bench.db-shm");
  }

  SqliteResultStore::Options store_options;
  store_options.path = (dir / "bench.db").string();
  Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(store_options);
  if (!store) {
    std::cerr << store.error() << "\n";
    return 1;
  }
  const TimePoint now =
      std::chrono::time_point_cast<TimePoint::duration>(std::chrono::system_clock::now());
  ManualClock clock(now);
  MetricsRegistry registry;
  OperatorCore::Options core_options;
  core_options.scheduling = false;
  Result<std::unique_ptr<OperatorCore>> core =
      OperatorCore::Create(clock, **store, registry, core_options);
  if (!core) {
    std::cerr << core.error() << "\n";
    return 1;
  }
  std::vector<Monitor> all;
  all.reserve(static_cast<size_t>(monitors));
  for (int i = 0; i < monitors; ++i) all.push_back(BenchMonitor(i));
  (*core)->ReplaceAll(all);

  // History through Append, in batches.
  const auto fill_start = std::chrono::steady_clock::now();
  const TimePoint first_day =
      TimePoint(now.time_since_epoch() - now.time_since_epoch() % days(1)) - days(89);
  std::vector<CheckResult> batch;
  int64_t serial = 0;
  int64_t appended = 0;
  auto flush = [&] {
    Result<AppendResult> result = (*store)->Append(batch);
    if (!result) {
      std::cerr << result.error() << "\n";
      std::exit(1);
    }
    appended += static_cast<int64_t>(batch.size());
    batch.clear();
  };
  for (int i = 0; i < monitors && !reuse; ++i) {
    const bool on_page = i < components;
    for (TimePoint at = first_day; at < now; at += on_page ? hours(1) : hours(24)) {
      batch.push_back(
          BenchResult(all[static_cast<size_t>(i)], at + std::chrono::minutes(i % 60), serial++));
      if (batch.size() == 5'000) flush();
    }
  }
  if (!batch.empty()) flush();
  // Incidents, as the state machine records them: for each of the page's components one of
  // 20 minutes every 10 days, for every other monitor one every 30 days (31,200 in all), all
  // resolved, so that the incident queries of a page have a realistic table to search.
  int64_t incidents_saved = 0;
  std::vector<MonitorStateSave> saves;
  auto save = [&] {
    if (Status saved = (*store)->SaveMonitorStates(saves); !saved) {
      std::cerr << saved.error() << "\n";
      std::exit(1);
    }
    saves.clear();
  };
  for (int i = 0; i < monitors && !reuse; ++i) {
    const Monitor& monitor = all[static_cast<size_t>(i)];
    MonitorStateSave one;
    one.state.monitor_uid = monitor.uid;
    one.state.monitor_key = monitor.Key();
    one.state.state = MonitorState::kUp;
    one.state.since = first_day;
    one.state.updated_at = now;
    const auto every = i < components ? days(10) : days(30);
    for (TimePoint at = first_day + hours(i % 48); at + hours(1) < now; at += every) {
      StateEvent opened{monitor.uid, monitor.Key(), MonitorState::kUp, MonitorState::kDown, at};
      opened.failing_regions = {"eu-west"};
      opened.first_error = "HTTP 503";
      opened.opened_incident_id =
          "inc-" + std::to_string(i) + "-" + std::to_string(incidents_saved++);
      StateEvent resolved{monitor.uid, monitor.Key(), MonitorState::kDown, MonitorState::kUp,
                          at + std::chrono::minutes(20)};
      resolved.resolved_incident_id = opened.opened_incident_id;
      one.events.push_back(std::move(opened));
      one.events.push_back(std::move(resolved));
    }
    saves.push_back(std::move(one));
    if (saves.size() == 500) save();
  }
  if (!saves.empty()) save();
  // What the writer's retention prune would leave (raw results of the last 30 days), done now
  // so that no prune runs beside the measurements.
  if (Result<PruneReport> pruned = (*store)->Prune(now); !pruned) {
    std::cerr << pruned.error() << "\n";
    return 1;
  }
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
  std::cerr << "appended " << appended << " results and " << incidents_saved << " incidents in "
            << fill_s << " s\n";

  StatusPage page;
  page.namespace_name = "bench";
  page.name = "bench";
  page.slug = "bench";
  page.title = "Benchmark status";
  for (int i = 0; i < components; ++i) {
    if (i % 50 == 0) page.groups.push_back({"Group " + std::to_string(i / 50 + 1), {}});
    StatusPageComponent component;
    component.namespace_name = all[static_cast<size_t>(i)].namespace_name;
    component.monitor = all[static_cast<size_t>(i)].name;
    page.groups.back().components.push_back(component);
  }
  StatusPageDirectory pages(false);
  pages.ReplaceAll({page});
  HistoryIncidentReader incidents(**store);
  NoMaintenanceCalendar calendar;
  HttpServer server;
  WebFrontend::Options uncached;
  uncached.page_cache_ttl = std::chrono::milliseconds(0);
  WebFrontend web(WebFrontend::Sources{**core, **store, incidents, calendar, nullptr, nullptr},
                  pages, clock, uncached);
  auto add = [&server](std::string_view method, std::string_view pattern, HttpHandler handler) {
    return server.Route(method, pattern, std::move(handler));
  };
  if (Status routed = web.Register(add); !routed) {
    std::cerr << routed.error() << "\n";
    return 1;
  }
  // The same page with the page cache on, at another slug's worth of routes: a second frontend
  // on a second server.
  HttpServer cached_server;
  WebFrontend cached(WebFrontend::Sources{**core, **store, incidents, calendar, nullptr, nullptr},
                     pages, clock, WebFrontend::Options{});
  (void)cached.Register(
      [&cached_server](std::string_view method, std::string_view pattern, HttpHandler handler) {
        return cached_server.Route(method, pattern, std::move(handler));
      });
  if (!server.Start("127.0.0.1:0") || !cached_server.Start("127.0.0.1:0")) {
    std::cerr << "cannot listen\n";
    return 1;
  }
  const std::string base = server.base_url();

  // The bytes of the page, for the peer.
  {
    CURL* curl = curl_easy_init();
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, (base + "/status/bench").c_str());
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* out) {
          static_cast<std::string*>(out)->append(data, size * count);
          return size * count;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    const std::filesystem::path page_dir =
        flags.IsSet("page-dir") ? std::filesystem::path(flags.Get("page-dir")) : dir;
    std::ofstream(page_dir / "page.html") << body;
  }

  // Where the time of one uncached page goes, in process: building the view (status snapshots,
  // rollup and incident queries) and rendering it, in wall time and in CPU time of the thread
  // (which the machine's load does not inflate), and the incident query of a build alone.
  std::vector<Latencies> cases;
  {
    StatusPageBuilder builder(**core, **store, incidents, calendar, nullptr);
    BarCellCache cells;  // as WebFrontend renders
    const auto shared = std::make_shared<const StatusPage>(page);
    Latencies build{"in process: build the view (queries)", {}, 0};
    Latencies render{"in process: render the HTML", {}, 0};
    Latencies build_cpu{"in process: build, CPU time of the thread", {}, 0};
    Latencies render_cpu{"in process: render, CPU time of the thread", {}, 0};
    Latencies incident_cpu{"in process: its incident query, CPU time", {}, 0};
    IncidentWindowQuery incident_query;
    for (int i = 0; i < components; ++i) incident_query.monitor_uids.push_back(all[i].uid);
    incident_query.to =
        TimePoint(now.time_since_epoch() - now.time_since_epoch() % days(1)) + days(1);
    incident_query.from = incident_query.to - days(StatusPageBuilder::kDays);
    incident_query.limit_per_monitor = StatusPageBuilder::kIncidentsPerMonitor;
    // CLOCK_THREAD_CPUTIME_ID, not getrusage: the latter counts in scheduler ticks (4 ms).
    auto thread_cpu = [] {
      timespec now{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
      return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
    };
    for (int i = 0; i < requests; ++i) {
      const double c0 = thread_cpu();
      const auto t0 = std::chrono::steady_clock::now();
      Result<StatusPageView> view = builder.Build(shared, clock.Now());
      const auto t1 = std::chrono::steady_clock::now();
      const double c1 = thread_cpu();
      const std::string html = StatusPageHtml::Render(*view, &cells);
      const auto t2 = std::chrono::steady_clock::now();
      const double c2 = thread_cpu();
      (void)incidents.ListIncidentsInWindow(incident_query);
      const double c3 = thread_cpu();
      build.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      render.ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      build_cpu.ms.push_back(c1 - c0);
      render_cpu.ms.push_back(c2 - c1);
      incident_cpu.ms.push_back(c3 - c2);
      render.bytes = html.size();
    }
    cases.push_back(build);
    cases.push_back(render);
    cases.push_back(build_cpu);
    cases.push_back(render_cpu);
    cases.push_back(incident_cpu);
  }
  const CpuTimes cpu_before = ProcessCpu();
  cases.push_back(Measure("status page HTML (uncached)", base + "/status/bench", requests, false));
  cases.push_back(
      Measure("status page HTML gzip (uncached)", base + "/status/bench", requests, true));
  cases.push_back(
      Measure("status page JSON (uncached)", base + "/api/v1/status/bench", requests, false));
  cases.push_back(Measure("status page HTML (5 s page cache)",
                          cached_server.base_url() + "/status/bench", requests, false));
  cases.push_back(Measure("dashboard, first page of all monitors", base + "/ui/",
                          std::max(10, requests / 5), false));
  cases.push_back(Measure("monitor page (24 h charts, results)",
                          base + "/ui/monitors/ns0/monitor-0", std::max(10, requests / 5), false));
  if (nginx_port > 0) {
    cases.push_back(Measure("peer: nginx, the same HTML as a static file",
                            "http://127.0.0.1:" + std::to_string(nginx_port) + "/page.html",
                            requests, false));
  }
  const CpuTimes cpu = ProcessCpu() - cpu_before;

  std::printf(
      "%d monitors, status page of %d components x 90 days, %d requests per case (sequential, "
      "keep-alive)\n",
      monitors, components, requests);
  std::printf("%-46s %9s %9s %9s %9s %9s\n", "case", "bytes", "p50 ms", "p90 ms", "p99 ms",
              "max ms");
  nlohmann::json json = {{"monitors", monitors}, {"components", components},
                         {"requests", requests}, {"fill_seconds", fill_s},
                         {"results", appended},  {"cpu_seconds", cpu.total()}};
  for (const Latencies& one : cases) {
    std::printf("%-46s %9zu %9.2f %9.2f %9.2f %9.2f\n", one.name.c_str(), one.bytes,
                one.Percentile(0.5), one.Percentile(0.9), one.Percentile(0.99),
                one.Percentile(1.0));
    json["cases"].push_back({{"name", one.name},
                             {"bytes", one.bytes},
                             {"p50_ms", one.Percentile(0.5)},
                             {"p90_ms", one.Percentile(0.9)},
                             {"p99_ms", one.Percentile(0.99)},
                             {"max_ms", one.Percentile(1.0)}});
  }
  std::printf("%s\n", json.dump().c_str());
  server.Stop();
  cached_server.Stop();
  return 0;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) { return pharos::bench::Main(argc, argv); }
