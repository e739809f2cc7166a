// pharos-bench-store: the SQLite result store's write path on its own (see BENCHMARKS.md).
//
//   pharos-bench-store --monitors N [--batch B] [--warmup-minutes W] [--minutes M] [--dir D]
//
// Simulates N one-minute monitors checked from one region: each simulated minute every monitor
// yields one result (in the order of its phase in the minute, as the scheduler hands them out),
// appended in batches of B (the ResultWriter's batch at 50,000 one-minute monitors is ~80). Runs W
// minutes to warm the file up, then M measured minutes, and prints the CPU time (user, system)
// of the appending thread per result and the file sizes; then the CPU time of compacting the
// simulated day's daily rollups (Prune on the next day). Time is simulated: nothing sleeps.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench/process_stats.h"
#include "common/check_result.h"
#include "common/command_line.h"
#include "common/stable_hash.h"
#include "operator/storage/sqlite_result_store.h"

namespace pharos::bench {
namespace {

std::string UidFor(std::mt19937_64& random) {
  const uint64_t high = random();
  const uint64_t low = random();
  char text[40];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xffff),
                static_cast<unsigned>(high & 0xffff), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

int Main(int argc, char** argv) {
  CommandLine flags;
  flags.AddFlag("monitors", 'n', "N", "one-minute monitors", "50000");
  flags.AddFlag("batch", 'b', "B", "results per Append", "80");
  flags.AddFlag("warmup-minutes", 'w', "W", "simulated minutes before the measurement", "5");
  flags.AddFlag("minutes", 'm', "M", "simulated minutes measured", "3");
  flags.AddFlag("dir", 'd', "D", "directory for the database file (a temporary one by default)",
                "");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status parsed = flags.Parse(args); !parsed) {
    std::cerr << parsed.error() << "\n" << flags.FlagsHelp();
    return 2;
  }
  const auto monitors = flags.GetInteger("monitors", 1, 10'000'000);
  const auto batch = flags.GetInteger("batch", 1, 100'000);
  const auto warmup = flags.GetInteger("warmup-minutes", 0, 10'000);
  const auto minutes = flags.GetInteger("minutes", 1, 10'000);
  for (const auto* value : {&monitors, &batch, &warmup, &minutes}) {
    if (!*value) {
      std::cerr << value->error() << "\n";
      return 2;
    }
  }
  std::filesystem::path dir = flags.Get("dir");
  bool remove_dir = false;
  if (dir.empty()) {
    dir = std::filesystem::temp_directory_path() /
          ("pharos-bench-store-" + std::to_string(::getpid()));
    remove_dir = true;
  }
  std::filesystem::create_directories(dir);
  SqliteResultStore::Options options;
  options.path = (dir / "results.db").string();
  auto store = SqliteResultStore::Open(options);
  if (!store) {
    std::cerr << store.error() << "\n";
    return 1;
  }

  struct Subject {
    std::string uid;
    std::string name;
    std::string target;
    int64_t phase_ms;
  };
  std::mt19937_64 random(42);
  std::vector<Subject> subjects;
  subjects.reserve(static_cast<size_t>(*monitors));
  for (int64_t i = 0; i < *monitors; ++i) {
    Subject subject{UidFor(random), "m-" + std::to_string(i),
                    "http://127.0.0.1:8080/?m=" + std::to_string(i), 0};
    subject.phase_ms = static_cast<int64_t>(StableHash64(subject.uid) % 60'000);
    subjects.push_back(std::move(subject));
  }
  std::sort(subjects.begin(), subjects.end(),
            [](const Subject& a, const Subject& b) { return a.phase_ms < b.phase_ms; });

  const auto start = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(int64_t{1'780'000'000'000} / 3'600'000 * 3'600'000));
  CpuTimes measured_from{};
  const int64_t total_minutes = *warmup + *minutes;
  std::vector<CheckResult> pending;
  size_t measured_results = 0;
  for (int64_t minute = 0; minute < total_minutes; ++minute) {
    if (minute == *warmup) measured_from = ThreadCpu();
    for (const Subject& subject : subjects) {
      CheckResult result;
      result.monitor_namespace = "bench";
      result.monitor_name = subject.name;
      result.monitor_uid = subject.uid;
      result.generation = 1;
      result.target = subject.target;
      result.region = "bench";
      result.probe = "bench-probe-0";
      result.scheduled_at = start + std::chrono::milliseconds(minute * 60'000 + subject.phase_ms);
      result.item_id = subject.uid + "@bench@" +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          result.scheduled_at.time_since_epoch())
                                          .count());
      result.started_at = result.scheduled_at + std::chrono::milliseconds(3);
      result.outcome = Outcome::kUp;
      result.status_code = 200;
      result.timings = Timings{0, 90, 0, 300, 20, 410 + static_cast<int64_t>(random() % 200)};
      pending.push_back(std::move(result));
      if (pending.size() == static_cast<size_t>(*batch)) {
        auto appended = (*store)->Append(pending);
        if (!appended) {
          std::cerr << appended.error() << "\n";
          return 1;
        }
        if (minute >= *warmup) measured_results += pending.size();
        pending.clear();
      }
    }
  }
  const CpuTimes used = ThreadCpu() - measured_from;
  // The day is over: its daily rollups are compacted from its hourly ones (one per monitor and
  // simulated hour here).
  const CpuTimes before_compaction = ThreadCpu();
  auto pruned = (*store)->Prune(start + std::chrono::hours(25));
  if (!pruned) {
    std::cerr << pruned.error() << "\n";
    return 1;
  }
  const double compaction_s = (ThreadCpu() - before_compaction).total();
  const auto file_size = [&](const std::string& suffix) -> int64_t {
    std::error_code error;
    const auto size = std::filesystem::file_size(options.path + suffix, error);
    return error ? 0 : static_cast<int64_t>(size);
  };
  const double per_result_us = used.total() * 1e6 / static_cast<double>(measured_results);
  std::printf(
      "%lld monitors, batch %lld, %lld measured minutes after %lld: %.1f us CPU per result "
      "(user %.1f, system %.1f); file %.1f MiB, WAL %.1f MiB\n",
      static_cast<long long>(*monitors), static_cast<long long>(*batch),
      static_cast<long long>(*minutes), static_cast<long long>(*warmup), per_result_us,
      used.user_s * 1e6 / static_cast<double>(measured_results),
      used.system_s * 1e6 / static_cast<double>(measured_results),
      static_cast<double>(file_size("")) / 1048576.0,
      static_cast<double>(file_size("-wal")) / 1048576.0);
  std::printf("compacting %lld day(s) of %lld hourly rollups: %.2f s CPU\n",
              static_cast<long long>(pruned->compacted_days),
              static_cast<long long>(*monitors) * ((total_minutes + 59) / 60), compaction_s);
  nlohmann::json report = {
      {"monitors", *monitors},
      {"batch", *batch},
      {"results", measured_results},
      {"cpu_us_per_result", per_result_us},
      {"user_us_per_result", used.user_s * 1e6 / static_cast<double>(measured_results)},
      {"system_us_per_result", used.system_s * 1e6 / static_cast<double>(measured_results)},
      {"compaction_cpu_s", compaction_s}};
  std::cout << report.dump() << "\n";
  store->reset();
  if (remove_dir) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) { return pharos::bench::Main(argc, argv); }
