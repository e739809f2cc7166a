#pragma once

// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection package does it, so that of several operator replicas exactly one leads.
// Each round (every retry period, plus up to 1.2 × that as jitter, as client-go) GETs the Lease
// (creating it when it does not exist). Another holder's lease counts as expired only when its
// record has not changed for leaseDuration since this replica last *saw* it change (local monotonic
// time, so clock skew between nodes does not matter; renewTime is not trusted). Taking over PUTs
// the record with the Lease's resourceVersion, so of two candidates only one wins (the other gets
// 409 Conflict), and bumps leaseTransitions. The leader renews the same way; when it cannot
// renew within the renew deadline it stops leading at once (OnStoppedLeading) and goes back to
// candidate. IsLeader() also turns false by itself once the last successful renewal is older
// than the renew deadline, even while a request hangs. A renewal counts from when its write was
// sent, not from when the answer came: the API server stored it at some time in between, and the
// other replicas count the lease's expiry from when they saw that, so a slow answer must not
// stretch this replica's leadership past the point where another may take over. On a clean Stop() a
// leader releases the lease (holderIdentity "", leaseDurationSeconds 1) so that a successor does
// not wait for expiry. Defaults 15 s / 10 s / 2 s; New() checks leaseDuration > renewDeadline > 1.2
// × retryPeriod. Thread-safety: Start/Stop from one owner thread; IsLeader/Leader from any thread;
// callbacks run on the elector's thread ("leader-elect") and must return promptly.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/kube/kube_client.h"

namespace pharos {

struct LeaderElectionConfig {
  std::string namespace_name;
  std::string lease_name;
  std::string identity;  // unique per replica, e.g. the pod name
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
  // Release the lease on Stop() when leading. False makes Stop() behave like a crash (tests).
  bool release_on_stop = true;
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  // Called when the observed holder changes (including to this replica); may be empty.
  std::function<void(const std::string& holder)> on_new_leader;
};

// The spec of a Lease as leader election reads and writes it.
struct LeaderElectionRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // RFC 3339 with microseconds, as written by the holder
  std::string renew_time;
  int lease_transitions = 0;

  static LeaderElectionRecord FromLease(const nlohmann::json& lease);
  nlohmann::json ToSpec() const;
  bool operator==(const LeaderElectionRecord& other) const = default;
};

class LeaderElector {
 public:
  // Waits `delay`; false when the elector is stopping. Tests inject a virtual-time sleeper.
  using Sleeper = std::function<bool(std::chrono::milliseconds delay)>;

  // Fails when a field is missing or the durations break the rule above. `clock` (Now for the
  // record's timestamps, SteadyNow for expiry and deadlines) must outlive the elector.
  static Result<std::unique_ptr<LeaderElector>> New(KubeClient& client, LeaderElectionConfig config,
                                                    const Clock& clock, Sleeper sleeper = {});
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Starts the election thread. Call at most once.
  void Start();
  // Stops the loop and joins; a leader then releases the lease (unless release_on_stop is
  // false) and OnStoppedLeading runs. Idempotent.
  void Stop();
  // The election loop on the calling thread until Stop().
  void Run();

  // One acquire-or-renew attempt (GET, create or PUT); true when this replica holds the lease
  // afterwards. The loop calls it; tests call it directly.
  bool TryAcquireOrRenew();

  bool IsLeader() const;
  // The holder last observed ("" when none or unknown).
  std::string Leader() const;

 private:
  LeaderElector(KubeClient& client, LeaderElectionConfig config, const Clock& clock,
                Sleeper sleeper);
  bool Sleep(std::chrono::milliseconds delay);
  std::chrono::milliseconds JitteredRetryPeriod();
  // Sets the observed record and the local time it was seen changing.
  void Observe(const LeaderElectionRecord& record);
  void SetLeading(bool leading);
  void Release();
  std::string MicroTime() const;

  KubeClient& client_;
  const LeaderElectionConfig config_;
  const Clock& clock_;
  Sleeper sleeper_;
  std::stop_source stop_;
  std::thread thread_;
  std::atomic<bool> leading_{false};
  // Monotonic nanoseconds at which the last successful acquire/renew was sent.
  std::atomic<int64_t> last_renew_ns_{0};

  mutable Mutex mutex_;
  LeaderElectionRecord observed_ GUARDED_BY(mutex_);
  std::string observed_resource_version_ GUARDED_BY(mutex_);
  std::chrono::steady_clock::time_point observed_time_ GUARDED_BY(mutex_){};
  bool observed_any_ GUARDED_BY(mutex_) = false;
};

}  // namespace pharos
