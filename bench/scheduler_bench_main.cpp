// pharos-bench-scheduler: the Scheduler + WorkDispatcher at scale (see BENCHMARKS.md).
//
//   pharos-bench-scheduler --mode virtual|real --monitors N [--mix mixed|1m] [--duration S]
//                          [--batch B]
//
// Loads N monitors (one region each; --mix mixed = 60% 1m, 20% 30s, 10% 5m, 10% 10s; --mix 1m =
// all one-minute) and runs them for S seconds with a consumer that leases and completes items at
// once (instant probes):
//   virtual: a ManualClock jumps from one due time to the next; measures the CPU cost of
//            scheduling and dispatching, and memory in steady state (S should exceed the
//            dispatcher's memory of acked ids: visibility timeout + 30 s margin).
//   real:    the SystemClock, Scheduler::Run on its own thread and a consumer thread
//            long-polling LeaseOrWait for batches of B; measures lateness (lease time −
//            scheduledAt, from the dispatcher's lateness observer), CPU and RSS.
// Prints a readable summary and one JSON line.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/process_stats.h"
#include "common/clock.h"
#include "common/command_line.h"
#include "common/manual_clock.h"
#include "common/monitor.h"
#include "operator/control/scheduler.h"
#include "operator/control/work_dispatcher.h"

namespace pharos::bench {
namespace {

constexpr const char* kRegion = "bench-region";
constexpr const char* kProbe = "bench-probe";

// Lateness samples from the dispatcher's observer, as a fixed-size histogram (10 us buckets up
// to 1 s, then 1 ms buckets up to 120 s, then one overflow bucket) allocated and touched before
// the memory baseline, so that recording millions of samples does not count as operator memory.
// Thread-safety: any thread may call any method.
class LatenessHistogram {
 public:
  LatenessHistogram() : counts_(kFineBuckets + kCoarseBuckets + 1, 0) {}

  void Add(double seconds) {
    const double us = std::max(0.0, seconds * 1e6);
    size_t bucket = kFineBuckets + kCoarseBuckets;  // overflow
    if (us < static_cast<double>(kFineBuckets) * kFineUs) {
      bucket = static_cast<size_t>(us / kFineUs);
    } else if (us < static_cast<double>(kCoarseBuckets) * kCoarseUs) {
      bucket = kFineBuckets + static_cast<size_t>(us / kCoarseUs);
    }
    std::lock_guard lock(mu_);
    counts_[bucket]++;
    total_++;
    max_seconds_ = std::max(max_seconds_, seconds);
  }

  uint64_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  double max_seconds() const {
    std::lock_guard lock(mu_);
    return max_seconds_;
  }
  // The upper edge of the bucket holding the `fraction` quantile (never above the maximum seen),
  // in seconds; 0 when empty.
  double Quantile(double fraction) const {
    std::lock_guard lock(mu_);
    if (total_ == 0) {
      return 0;
    }
    const uint64_t rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(total_))));
    uint64_t seen = 0;
    for (size_t bucket = 0; bucket < counts_.size(); ++bucket) {
      seen += counts_[bucket];
      if (seen >= rank) {
        const double upper_us = bucket < kFineBuckets
                                    ? static_cast<double>(bucket + 1) * kFineUs
                                    : static_cast<double>(bucket - kFineBuckets + 1) * kCoarseUs;
        return std::min(upper_us / 1e6, max_seconds_);
      }
    }
    return max_seconds_;
  }

 private:
  static constexpr size_t kFineBuckets = 100'000;  // [0, 1 s) in 10 us steps
  static constexpr double kFineUs = 10;
  static constexpr size_t kCoarseBuckets = 120'000;  // [0, 120 s) in 1 ms steps (below 1 s unused)
  static constexpr double kCoarseUs = 1000;

  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // GUARDED_BY(mu_)
  uint64_t total_ = 0;            // GUARDED_BY(mu_)
  double max_seconds_ = 0;        // GUARDED_BY(mu_)
};

// The frequency of monitor `index` under `mix`: mixed spreads 60/20/10/10 over 1m/30s/5m/10s.
Millis FrequencyFor(size_t index, const std::string& mix) {
  if (mix == "1m") {
    return Millis(60'000);
  }
  const size_t bucket = index % 10;
  if (bucket < 6) {
    return Millis(60'000);
  }
  if (bucket < 8) {
    return Millis(30'000);
  }
  if (bucket < 9) {
    return Millis(300'000);
  }
  return Millis(10'000);
}

// A UID shaped like a Kubernetes one (36 characters), unique per index.
std::string UidFor(size_t index) {
  char uid[64];
  std::snprintf(uid, sizeof(uid), "%08zx-bench-4000-8000-%012zx", index * 2654435761U % 0xffffffffU,
                index);
  return uid;
}

struct Setup {
  size_t monitors = 0;
  double load_cpu_s = 0;
  int64_t rss_before = 0;
  int64_t rss_loaded = 0;
  double expected_items_per_s = 0;
};

// The monitors' specs, shared as the operator core shares them with the Scheduler (their memory
// is not part of the figures: they exist before the RSS baseline is taken).
std::vector<std::shared_ptr<const Monitor>> MakeMonitors(size_t count, const std::string& mix) {
  std::vector<std::shared_ptr<const Monitor>> monitors;
  monitors.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto monitor = std::make_shared<Monitor>();
    monitor->namespace_name = "team-" + std::to_string(i % 100);
    monitor->name = "monitor-" + std::to_string(i);
    monitor->uid = UidFor(i);
    monitor->frequency = FrequencyFor(i, mix);
    monitor->timeout = Millis(10'000);
    monitor->regions = {kRegion};
    monitor->http = HttpSpec{};
    monitor->http->url = "http://127.0.0.1:9/" + monitor->name;
    monitors.push_back(std::move(monitor));
  }
  return monitors;
}

Setup LoadMonitors(Scheduler& scheduler,
                   const std::vector<std::shared_ptr<const Monitor>>& monitors,
                   int64_t rss_before) {
  Setup setup;
  setup.monitors = monitors.size();
  setup.rss_before = rss_before;
  const CpuTimes cpu_before = ProcessCpu();
  for (const auto& monitor : monitors) {
    const Status status = scheduler.Upsert(monitor);
    if (!status.ok()) {
      std::cerr << "pharos-bench-scheduler: " << status.error() << "\n";
      std::exit(1);
    }
    setup.expected_items_per_s += 1000.0 / static_cast<double>(monitor->frequency.count());
  }
  setup.load_cpu_s = (ProcessCpu() - cpu_before).total();
  TrimHeap();
  setup.rss_loaded = ResidentBytes();
  return setup;
}

struct RunFigures {
  double seconds = 0;  // wall (real) or virtual
  CpuTimes cpu;
  double scheduler_thread_cpu_s = -1;  // real mode only
  double consumer_thread_cpu_s = -1;
  int64_t rss_end = 0;       // after the run, heap trimmed
  int64_t rss_max_seen = 0;  // largest sample during the run
};

// Leases and completes everything queued now (virtual mode: the consumer between ticks).
void DrainQueue(WorkDispatcher& dispatcher, size_t batch) {
  while (true) {
    std::vector<WorkItem> items = dispatcher.Lease(kRegion, kProbe, batch);
    if (items.empty()) {
      return;
    }
    for (const auto& item : items) {
      dispatcher.Complete(item.id);
    }
  }
}

RunFigures RunVirtual(ManualClock& clock, Scheduler& scheduler, WorkDispatcher& dispatcher,
                      double duration_s, size_t batch) {
  RunFigures figures;
  const auto start = clock.Now();
  const auto end = start + std::chrono::duration_cast<Clock::TimePoint::duration>(
                               std::chrono::duration<double>(duration_s));
  const CpuTimes cpu_before = ProcessCpu();
  size_t ticks = 0;
  while (clock.Now() < end) {
    const auto next = scheduler.Tick();
    DrainQueue(dispatcher, batch);
    if (++ticks % 4096 == 0) {
      figures.rss_max_seen = std::max(figures.rss_max_seen, ResidentBytes());
    }
    const auto target = next ? std::min(*next, end) : end;
    if (target > clock.Now()) {
      clock.Advance(target - clock.Now());
    } else {
      clock.Advance(Millis(1));  // a due time in the past was just served; never spin
    }
  }
  figures.cpu = ProcessCpu() - cpu_before;
  figures.seconds = duration_s;
  TrimHeap();
  figures.rss_end = ResidentBytes();
  return figures;
}

// The consumer of the real-time run: long-polls for batches and completes them at once.
void ConsumeUntilStopped(WorkDispatcher& dispatcher, const Clock& clock, size_t batch,
                         const std::stop_token& stop, double& thread_cpu_s) {
  pthread_setname_np(pthread_self(), "bench-consumer");
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    std::optional<std::vector<WorkItem>> delivered;
    const auto id =
        dispatcher.LeaseOrWait(kRegion, kProbe, batch, clock.Now() + std::chrono::seconds(1),
                               std::chrono::milliseconds(0),  // no batching wait: as before
                               [&](std::vector<WorkItem> items) {
                                 {
                                   std::lock_guard lock(mu);
                                   delivered = std::move(items);
                                 }
                                 cv.notify_one();
                               });
    {
      std::unique_lock lock(mu);
      // The dispatcher answers by the 1 s deadline while the scheduler ticks it; 5 s is a
      // backstop, and a stop request ends the wait (the scheduler may be gone by then).
      if (!cv.wait_for(lock, stop, std::chrono::seconds(5),
                       [&] { return delivered.has_value(); })) {
        lock.unlock();
        if (!dispatcher.CancelWait(id)) {
          lock.lock();
          cv.wait(lock, [&] { return delivered.has_value(); });
        }
      }
    }
    if (delivered) {
      for (const auto& item : *delivered) {
        dispatcher.Complete(item.id);
      }
    }
  }
  thread_cpu_s = ThreadCpu().total();
}

RunFigures RunReal(const Clock& clock, Scheduler& scheduler, WorkDispatcher& dispatcher,
                   double duration_s, size_t batch) {
  RunFigures figures;
  const CpuTimes cpu_before = ProcessCpu();
  double scheduler_cpu = 0;
  double consumer_cpu = 0;
  const auto begin = std::chrono::steady_clock::now();
  {
    std::jthread scheduler_thread([&](const std::stop_token& stop) {
      scheduler.Run(stop);
      scheduler_cpu = ThreadCpu().total();
    });
    std::jthread consumer_thread([&](const std::stop_token& stop) {
      ConsumeUntilStopped(dispatcher, clock, batch, stop, consumer_cpu);
    });
    const auto end = begin + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(duration_s));
    // Samples RSS once a second until the run's end (this is measurement, not synchronisation).
    while (std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::seconds(1), end - std::chrono::steady_clock::now()));
      figures.rss_max_seen = std::max(figures.rss_max_seen, ResidentBytes());
    }
    scheduler_thread.request_stop();
    consumer_thread.request_stop();
    scheduler.Wake();
  }
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  figures.cpu = ProcessCpu() - cpu_before;
  figures.scheduler_thread_cpu_s = scheduler_cpu;
  figures.consumer_thread_cpu_s = consumer_cpu;
  TrimHeap();
  figures.rss_end = ResidentBytes();
  return figures;
}

Result<double> PositiveNumber(const std::string& name, const std::string& text) {
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && value > 0) {
      return value;
    }
  } catch (const std::exception&) {
  }
  return Error{"--" + name + " must be a positive number, got '" + text + "'"};
}

int Main(int argc, char** argv) {
  CommandLine flags;
  flags.AddFlag("mode", '\0', "virtual|real", "clock to run on", "virtual");
  flags.AddFlag("monitors", '\0', "N", "monitors to schedule", "50000");
  flags.AddFlag("mix", '\0', "mixed|1m", "frequency mix", "mixed");
  flags.AddFlag("duration", '\0', "S",
                "seconds to run (virtual seconds in virtual mode); default 1800 virtual, 90 real");
  flags.AddFlag("batch", '\0', "B", "items per lease", "1000");
  const Status parsed = flags.Parse(std::vector<std::string>(argv + 1, argv + argc));
  const std::string mode = flags.Get("mode");
  const std::string mix = flags.Get("mix");
  if (!parsed.ok() || (mode != "virtual" && mode != "real") || (mix != "mixed" && mix != "1m")) {
    std::cerr << "pharos-bench-scheduler: "
              << (parsed.ok() ? "--mode must be virtual or real, --mix mixed or 1m"
                              : parsed.error())
              << "\n"
              << flags.FlagsHelp();
    return 2;
  }
  const std::string duration_text = flags.Get("duration").empty()
                                        ? std::string(mode == "virtual" ? "1800" : "90")
                                        : flags.Get("duration");
  auto monitors = PositiveNumber("monitors", flags.Get("monitors"));
  auto duration = PositiveNumber("duration", duration_text);
  auto batch = PositiveNumber("batch", flags.Get("batch"));
  for (const auto* number : {&monitors, &duration, &batch}) {
    if (!number->ok()) {
      std::cerr << "pharos-bench-scheduler: " << number->error() << "\n";
      return 2;
    }
  }

  LatenessHistogram lateness;
  const auto specs = MakeMonitors(static_cast<size_t>(*monitors), mix);
  TrimHeap();
  const int64_t rss_before = ResidentBytes();
  SystemClock system_clock;
  ManualClock manual_clock(std::chrono::floor<std::chrono::seconds>(system_clock.Now()));
  const Clock& clock = mode == "virtual" ? static_cast<const Clock&>(manual_clock)
                                         : static_cast<const Clock&>(system_clock);
  WorkDispatcher dispatcher(clock, WorkDispatcher::Options{});
  dispatcher.SetLatenessObserver([&](Millis, double seconds) { lateness.Add(seconds); });
  Scheduler scheduler(clock, dispatcher, Scheduler::Options{});

  const Setup setup = LoadMonitors(scheduler, specs, rss_before);
  const RunFigures run =
      mode == "virtual"
          ? RunVirtual(manual_clock, scheduler, dispatcher, *duration, static_cast<size_t>(*batch))
          : RunReal(system_clock, scheduler, dispatcher, *duration, static_cast<size_t>(*batch));

  const auto sched = scheduler.totals();
  const auto totals = dispatcher.Totals();
  const double p50_ms = lateness.Quantile(0.50) * 1000;
  const double p99_ms = lateness.Quantile(0.99) * 1000;
  const double max_ms = lateness.max_seconds() * 1000;
  const double n = static_cast<double>(setup.monitors);
  const double items = static_cast<double>(totals.leased);
  nlohmann::json out{
      {"mode", mode},
      {"monitors", setup.monitors},
      {"mix", mix},
      {"seconds", run.seconds},
      {"expected_items", setup.expected_items_per_s * run.seconds},
      {"emitted", sched.emitted},
      {"leased", totals.leased},
      {"acked", totals.acked},
      {"coalesced", totals.coalesced},
      {"redelivered", totals.redelivered},
      {"failed", totals.failed},
      {"missed_slots", sched.missed_slots},
      {"lateness_samples", lateness.total()},
      {"lateness_p50_ms", p50_ms},
      {"lateness_p99_ms", p99_ms},
      {"lateness_max_ms", max_ms},
      {"load_cpu_s", setup.load_cpu_s},
      {"run_cpu_s", run.cpu.total()},
      {"run_cpu_user_s", run.cpu.user_s},
      {"run_cpu_sys_s", run.cpu.system_s},
      {"cpu_fraction_of_core", run.cpu.total() / run.seconds},
      {"cpu_us_per_item", items > 0 ? run.cpu.total() / items * 1e6 : 0.0},
      {"scheduler_thread_cpu_s", run.scheduler_thread_cpu_s},
      {"consumer_thread_cpu_s", run.consumer_thread_cpu_s},
      {"rss_before_mb", static_cast<double>(setup.rss_before) / 1048576},
      {"rss_loaded_mb", static_cast<double>(setup.rss_loaded) / 1048576},
      {"rss_end_mb", static_cast<double>(run.rss_end) / 1048576},
      {"rss_max_seen_mb", static_cast<double>(run.rss_max_seen) / 1048576},
      {"bytes_per_monitor_loaded", static_cast<double>(setup.rss_loaded - setup.rss_before) / n},
      {"bytes_per_monitor_end", static_cast<double>(run.rss_end - setup.rss_before) / n},
      {"bytes_per_monitor_max",
       static_cast<double>(std::max(run.rss_max_seen, run.rss_end) - setup.rss_before) / n},
  };
  std::printf(
      "%s %zu monitors (%s) for %.0f s: emitted %llu (expected ~%.0f), coalesced %llu, missed "
      "slots %llu\n  lateness p50 %.2f ms p99 %.2f ms max %.2f ms (%zu samples)\n  CPU %.2f s "
      "(%.1f%% of a core, %.2f us/item); load %.2f s\n  RSS %.1f MB before, %.1f MB loaded, %.1f "
      "MB end, %.1f MB max seen: %.0f B/monitor loaded, %.0f B/monitor at end, %.0f B/monitor "
      "max\n",
      mode.c_str(), setup.monitors, mix.c_str(), run.seconds,
      static_cast<unsigned long long>(sched.emitted), setup.expected_items_per_s * run.seconds,
      static_cast<unsigned long long>(totals.coalesced),
      static_cast<unsigned long long>(sched.missed_slots), p50_ms, p99_ms, max_ms,
      static_cast<size_t>(lateness.total()), run.cpu.total(), 100 * run.cpu.total() / run.seconds,
      items > 0 ? run.cpu.total() / items * 1e6 : 0.0, setup.load_cpu_s,
      static_cast<double>(setup.rss_before) / 1048576,
      static_cast<double>(setup.rss_loaded) / 1048576, static_cast<double>(run.rss_end) / 1048576,
      static_cast<double>(run.rss_max_seen) / 1048576,
      out["bytes_per_monitor_loaded"].get<double>(), out["bytes_per_monitor_end"].get<double>(),
      out["bytes_per_monitor_max"].get<double>());
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) { return pharos::bench::Main(argc, argv); }
