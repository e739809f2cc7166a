#include "operator/kube/leader_elector.h"

#include <pthread.h>

#include <cstdio>
#include <random>
#include <utility>

#include "common/logging.h"
#include "common/rfc3339.h"
#include "common/stoppable_wait.h"

namespace pharos {
namespace {

int64_t SteadyNanos(std::chrono::steady_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

LeaderElectionRecord LeaderElectionRecord::FromLease(const nlohmann::json& lease) {
  LeaderElectionRecord record;
  record.holder_identity = JsonStringAt(lease, {"spec", "holderIdentity"});
  record.acquire_time = JsonStringAt(lease, {"spec", "acquireTime"});
  record.renew_time = JsonStringAt(lease, {"spec", "renewTime"});
  const auto spec = lease.find("spec");
  if (spec != lease.end() && spec->is_object()) {
    const auto duration = spec->find("leaseDurationSeconds");
    if (duration != spec->end() && duration->is_number_integer()) {
      record.lease_duration_seconds = duration->get<int>();
    }
    const auto transitions = spec->find("leaseTransitions");
    if (transitions != spec->end() && transitions->is_number_integer()) {
      record.lease_transitions = transitions->get<int>();
    }
  }
  return record;
}

nlohmann::json LeaderElectionRecord::ToSpec() const {
  nlohmann::json spec = {{"holderIdentity", holder_identity},
                         {"leaseDurationSeconds", lease_duration_seconds},
                         {"leaseTransitions", lease_transitions}};
  if (!acquire_time.empty()) spec["acquireTime"] = acquire_time;
  if (!renew_time.empty()) spec["renewTime"] = renew_time;
  return spec;
}

Result<std::unique_ptr<LeaderElector>> LeaderElector::New(KubeClient& client,
                                                          LeaderElectionConfig config,
                                                          const Clock& clock, Sleeper sleeper) {
  if (config.namespace_name.empty() || config.lease_name.empty()) {
    return Error{"leader election: the Lease namespace and name must be set"};
  }
  if (config.identity.empty()) return Error{"leader election: the identity must not be empty"};
  if (config.lease_duration <= config.renew_deadline) {
    return Error{"leader election: the lease duration must be longer than the renew deadline"};
  }
  if (config.renew_deadline.count() * 10 <= config.retry_period.count() * 12) {
    return Error{"leader election: the renew deadline must be longer than 1.2 × retry period"};
  }
  if (config.retry_period <= std::chrono::milliseconds::zero()) {
    return Error{"leader election: the retry period must be positive"};
  }
  if (config.lease_duration < std::chrono::seconds(1)) {
    return Error{"leader election: the lease duration must be at least 1 s"};
  }
  return std::unique_ptr<LeaderElector>(
      new LeaderElector(client, std::move(config), clock, std::move(sleeper)));
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config, const Clock& clock,
                             Sleeper sleeper)
    : client_(client), config_(std::move(config)), clock_(clock), sleeper_(std::move(sleeper)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "leader-elect");
    Run();
  });
}

void LeaderElector::Stop() {
  stop_.request_stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool LeaderElector::IsLeader() const {
  if (!leading_.load(std::memory_order_acquire)) return false;
  const int64_t since = SteadyNanos(clock_.SteadyNow()) - last_renew_ns_.load();
  return since <
         std::chrono::duration_cast<std::chrono::nanoseconds>(config_.renew_deadline).count();
}

std::string LeaderElector::Leader() const {
  MutexLock lock(mutex_);
  return observed_.holder_identity;
}

bool LeaderElector::Sleep(std::chrono::milliseconds delay) {
  if (stop_.stop_requested()) return false;
  if (sleeper_) return sleeper_(delay) && !stop_.stop_requested();
  return SleepUnlessStopped(stop_.get_token(), delay);
}

std::chrono::milliseconds LeaderElector::JitteredRetryPeriod() {
  thread_local std::mt19937_64 engine(std::random_device{}());
  const double factor = std::uniform_real_distribution<double>(0.0, 1.2)(engine);
  return config_.retry_period + std::chrono::milliseconds(static_cast<int64_t>(
                                    static_cast<double>(config_.retry_period.count()) * factor));
}

std::string LeaderElector::MicroTime() const {
  return FormatRfc3339(clock_.Now(), Rfc3339Precision::kMicros);
}

void LeaderElector::Observe(const LeaderElectionRecord& record) {
  bool holder_changed = false;
  {
    MutexLock lock(mutex_);
    if (observed_any_ && record == observed_) return;
    holder_changed = !observed_any_ || record.holder_identity != observed_.holder_identity;
    observed_any_ = true;
    observed_ = record;
    observed_time_ = clock_.SteadyNow();
  }
  if (holder_changed && config_.on_new_leader) config_.on_new_leader(record.holder_identity);
}

bool LeaderElector::TryAcquireOrRenew() {
  const std::string now = MicroTime();
  const int duration_seconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
  LeaderElectionRecord desired;
  desired.holder_identity = config_.identity;
  desired.lease_duration_seconds = duration_seconds;
  desired.acquire_time = now;
  desired.renew_time = now;

  const ApiResource leases = ApiResource::Leases();
  KubeResponse current = client_.Get(leases, config_.namespace_name, config_.lease_name);
  if (current.IsNotFound()) {
    const nlohmann::json lease = {
        {"apiVersion", leases.ApiVersion()},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.namespace_name}}},
        {"spec", desired.ToSpec()}};
    // A write counts from when it was sent, not from its answer (see the class comment).
    const auto sent = clock_.SteadyNow();
    const KubeResponse created = client_.Create(leases, config_.namespace_name, lease);
    if (!created.ok()) {
      LogDebug("leader election: creating the lease failed",
               {{"lease", config_.lease_name}, {"error", created.Describe()}});
      return false;
    }
    Observe(desired);
    last_renew_ns_.store(SteadyNanos(sent));
    return true;
  }
  if (!current.ok()) {
    LogWarn("leader election: reading the lease failed",
            {{"lease", config_.namespace_name + "/" + config_.lease_name},
             {"error", current.Describe()}});
    return false;
  }

  const LeaderElectionRecord old = LeaderElectionRecord::FromLease(current.body);
  Observe(old);
  const bool held_by_me = old.holder_identity == config_.identity;
  if (!old.holder_identity.empty() && !held_by_me) {
    MutexLock lock(mutex_);
    if (observed_time_ + std::chrono::seconds(old.lease_duration_seconds) > clock_.SteadyNow()) {
      return false;  // somebody else holds an unexpired lease
    }
  }
  if (held_by_me) {
    desired.acquire_time = old.acquire_time;
    desired.lease_transitions = old.lease_transitions;
  } else {
    desired.lease_transitions = old.lease_transitions + 1;
  }
  nlohmann::json lease = std::move(current.body);
  lease["spec"] = desired.ToSpec();
  const auto sent = clock_.SteadyNow();
  const KubeResponse updated =
      client_.Update(leases, config_.namespace_name, config_.lease_name, lease, UpdateOptions{});
  if (!updated.ok()) {
    if (updated.IsConflict()) {
      LogDebug("leader election: lost the race for the lease", {{"lease", config_.lease_name}});
    } else {
      LogWarn("leader election: updating the lease failed",
              {{"lease", config_.namespace_name + "/" + config_.lease_name},
               {"error", updated.Describe()}});
    }
    return false;
  }
  Observe(desired);
  last_renew_ns_.store(SteadyNanos(sent));
  return true;
}

void LeaderElector::SetLeading(bool leading) {
  if (leading_.exchange(leading) == leading) return;
  if (leading) {
    LogInfo("became the leader", {{"lease", config_.namespace_name + "/" + config_.lease_name},
                                  {"identity", config_.identity}});
    if (config_.on_started_leading) config_.on_started_leading();
  } else {
    LogWarn("stopped leading", {{"lease", config_.namespace_name + "/" + config_.lease_name},
                                {"identity", config_.identity}});
    if (config_.on_stopped_leading) config_.on_stopped_leading();
  }
}

void LeaderElector::Release() {
  const ApiResource leases = ApiResource::Leases();
  KubeResponse current = client_.Get(leases, config_.namespace_name, config_.lease_name);
  if (!current.ok()) {
    LogWarn("leader election: could not read the lease to release it",
            {{"error", current.Describe()}});
    return;
  }
  const LeaderElectionRecord old = LeaderElectionRecord::FromLease(current.body);
  if (old.holder_identity != config_.identity) return;
  LeaderElectionRecord released;
  released.holder_identity = "";
  released.lease_duration_seconds = 1;
  released.acquire_time = MicroTime();
  released.renew_time = released.acquire_time;
  released.lease_transitions = old.lease_transitions;
  nlohmann::json lease = std::move(current.body);
  lease["spec"] = released.ToSpec();
  const KubeResponse updated =
      client_.Update(leases, config_.namespace_name, config_.lease_name, lease, UpdateOptions{});
  if (!updated.ok()) {
    LogWarn("leader election: releasing the lease failed; the next leader waits for it to expire",
            {{"error", updated.Describe()}});
    return;
  }
  Observe(released);
  LogInfo("released the lease", {{"lease", config_.namespace_name + "/" + config_.lease_name}});
}

void LeaderElector::Run() {
  while (!stop_.stop_requested()) {
    // Candidate: try until this replica holds the lease.
    if (!TryAcquireOrRenew()) {
      if (!Sleep(JitteredRetryPeriod())) break;
      continue;
    }
    SetLeading(true);
    // Leader: renew every retry period; give up once the renew deadline has passed.
    bool lost = false;
    while (!stop_.stop_requested()) {
      if (!Sleep(config_.retry_period)) break;
      const auto deadline =
          std::chrono::steady_clock::time_point(std::chrono::nanoseconds(last_renew_ns_.load())) +
          config_.renew_deadline;
      bool renewed = false;
      while (!stop_.stop_requested()) {
        // A renewal that returns after the deadline is too late: others may already be
        // counting the lease as expired.
        if (TryAcquireOrRenew() && clock_.SteadyNow() < deadline) {
          renewed = true;
          break;
        }
        const auto left = deadline - clock_.SteadyNow();
        if (left <= std::chrono::steady_clock::duration::zero()) break;
        if (!Sleep(std::min(config_.retry_period,
                            std::chrono::ceil<std::chrono::milliseconds>(left)))) {
          break;
        }
      }
      if (stop_.stop_requested()) break;
      if (!renewed) {
        LogError("could not renew the lease before the renew deadline",
                 {{"lease", config_.namespace_name + "/" + config_.lease_name},
                  {"renew_deadline_ms", static_cast<int64_t>(config_.renew_deadline.count())}});
        lost = true;
        break;
      }
    }
    if (lost) SetLeading(false);
  }
  if (leading_.load()) {
    if (config_.release_on_stop) Release();
    SetLeading(false);
  }
}

}  // namespace pharos
