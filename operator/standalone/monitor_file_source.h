#pragma once

// MonitorFileSource: the Monitors of `pharos run PATH...` — YAML/JSON files and directories read
// with LoadMonitorFiles — delivered as whole sets, with the documents of the other kinds the
// edition reads from the same files (Options::other_kinds: each kind's check runs at every load,
// and its errors block the set like a Monitor's). It reloads when the set of files or any
// file's size or modification time changes (polled every `poll_interval` on the thread
// "pharos-files") and on Reload() (SIGHUP). A load with any error applies nothing: the last good
// set keeps running and every error is logged with its file:line:col. Never a partial set.
// Generations: a monitor whose spec changed between two loads gets generation + 1 (files carry
// no generation of their own), so work items and results tell the specs apart.
// Memory: the source keeps no copy of the monitors it applied (the consumer holds them), only a
// digest of each declared spec with its generation, enough to detect changes (24 bytes each).
// Thread-safety: Reload/Start/Stop/last_error may be called from any thread; loads are
// serialised; `apply` runs on the loading thread, one set at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/document_node.h"
#include "common/monitor.h"
#include "common/monitor_loader.h"
#include "common/mutex.h"
#include "common/result.h"

namespace pharos {

class MonitorFileSource {
 public:
  // A kind besides Monitor read from the same files, and its validation (errors located, as
  // for Monitors; empty when the document is good).
  struct OtherKind {
    std::string kind;
    std::function<std::vector<ValidationError>(const DocumentNode& document)> check;
  };
  struct Options {
    std::chrono::milliseconds poll_interval{2'000};
    std::vector<OtherKind> other_kinds;
  };
  using Apply = std::function<void(const std::vector<Monitor>& monitors,
                                   const std::vector<OtherDocument>& others)>;

  MonitorFileSource(std::vector<std::string> paths, Apply apply, Options options);
  ~MonitorFileSource();  // Stop()
  MonitorFileSource(const MonitorFileSource&) = delete;
  MonitorFileSource& operator=(const MonitorFileSource&) = delete;

  // Loads now and applies the set when it is valid and differs from the one applied last (or
  // when none was applied yet). Returns the number of monitors in force, or every error (one
  // per line, located) when the files are invalid — the previous set then stays in force.
  Result<size_t> Reload();

  // Polls for changes on "pharos-files".
  void Start();
  void Stop();

  // The errors of the last load; empty when it succeeded.
  std::string last_error() const;

 private:
  // (path, size, mtime ns) of every file LoadMonitorFiles would read, sorted.
  struct FileStamp {
    std::string path;
    int64_t size = -1;
    int64_t modified_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };

  std::vector<FileStamp> Fingerprint() const;
  void Poll(const std::stop_token& stop);
  Result<size_t> ReloadLocked(std::vector<FileStamp> fingerprint) REQUIRES(load_mu_);
  // What the source remembers of an applied monitor: its generation and a digest of its
  // declared spec (StableHash64 of its JSON form without source location and generation), found
  // by the StableHash64 of its uid. 24 bytes a monitor; two uids of one set sharing a 64-bit hash
  // (odds ~1e-10 at 50,000 monitors) would share a generation count, never a spec.
  struct AppliedSpec {
    uint64_t uid_hash = 0;
    int64_t generation = 0;
    uint64_t digest = 0;
    bool operator==(const AppliedSpec&) const = default;
  };
  using AppliedSpecs = std::vector<AppliedSpec>;  // sorted by uid_hash

  // Gives every monitor its generation and returns what to remember of the set.
  AppliedSpecs AssignGenerationsLocked(std::vector<Monitor>& monitors) const REQUIRES(load_mu_);

  const std::vector<std::string> paths_;
  const Apply apply_;
  const Options options_;

  mutable Mutex load_mu_;
  std::vector<FileStamp> fingerprint_ GUARDED_BY(load_mu_);  // of the last load attempt
  bool applied_once_ GUARDED_BY(load_mu_) = false;
  AppliedSpecs applied_ GUARDED_BY(load_mu_);         // the set in force
  uint64_t applied_others_ GUARDED_BY(load_mu_) = 0;  // digest of its other documents
  std::string last_error_ GUARDED_BY(load_mu_);

  Mutex wake_mu_;
  CondVar wake_cv_;
  std::jthread thread_;
};

}  // namespace pharos
