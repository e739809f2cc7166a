#pragma once

// ProbeFleet: the probe DaemonSets of the regions in --regions-config (docs/install.md, "Regions
// and probes"). It reads the file (and again whenever its content changes: a ConfigMap update, or
// Reload() on SIGHUP; an invalid edit is logged and the last good configuration stays), and while
// this replica leads it applies one DaemonSet per region through DaemonSetApplier, deleting those
// of regions no longer listed: at once on becoming leader, on every configuration change, again
// after a failure (every `retry_interval`) and every `resync_interval` to repair manual edits.
// Before applying it checks that the probe token Secrets exist and warns when one is missing (the
// pods could not start). Thread-safety: every public method may be called from any thread; one
// thread ("probe-fleet") reads the file and talks to the API server.

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/controller/daemon_set_applier.h"
#include "operator/controller/regions_config.h"
#include "operator/kube/kube_client.h"

namespace pharos {

class ProbeFleet {
 public:
  struct Options {
    std::string config_path;         // --regions-config
    std::string namespace_name;      // the DaemonSets' namespace when the file names none
    RegionsConfigDefaults defaults;  // --probe-image, --operator-url: when the file sets none
    std::chrono::milliseconds poll_interval{2'000};
    std::chrono::milliseconds retry_interval{10'000};
    std::chrono::milliseconds resync_interval{600'000};
  };

  struct Stats {
    int64_t applies = 0;          // Apply rounds that succeeded
    int64_t failures = 0;         // Apply rounds with an error
    int64_t reloads = 0;          // configuration changes taken
    int64_t invalid_reloads = 0;  // changed files refused as invalid
    size_t regions = 0;           // regions configured now
  };

  // Reads and validates the regions file; `defaults` fill in what it leaves out (the file's own
  // probe.image and operatorUrl win).
  static Result<RegionsConfig> LoadConfig(const std::string& path,
                                          const RegionsConfigDefaults& defaults);

  // `initial` is the configuration already loaded from options.config_path.
  ProbeFleet(KubeClient& client, Options options, RegionsConfig initial);
  ~ProbeFleet();
  ProbeFleet(const ProbeFleet&) = delete;
  ProbeFleet& operator=(const ProbeFleet&) = delete;

  void Start();
  void Stop();

  // Applies only while leading; becoming leader applies at once.
  void SetLeader(bool leader);
  // Reads the file now (SIGHUP).
  void Reload();

  Stats stats() const;

 private:
  void Loop();
  // Reads the file when its content changed; true when a new valid configuration was taken.
  bool CheckFile();
  bool ApplyNow();

  KubeClient& client_;
  const Options options_;
  DaemonSetApplier applier_;
  std::thread thread_;

  mutable Mutex mutex_;
  CondVar wake_;
  RegionsConfig config_ GUARDED_BY(mutex_);
  std::string config_text_ GUARDED_BY(mutex_);  // the text `config_` was read from
  bool leader_ GUARDED_BY(mutex_) = false;
  bool apply_pending_ GUARDED_BY(mutex_) = false;
  bool reload_pending_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  Stats stats_ GUARDED_BY(mutex_);
};

}  // namespace pharos
