#include "probe/probe_agent.h"

#include <pthread.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "common/check_result_json.h"
#include "common/logging.h"

namespace pharos {
namespace {

const Logger& AgentLog() {
  static const Logger logger("probe");
  return logger;
}

std::string Seconds(std::chrono::milliseconds delay) {
  char text[32];
  snprintf(text, sizeof(text), "%.1fs", static_cast<double>(delay.count()) / 1000.0);
  return text;
}

CheckEngine::Options EngineOptions(const ProbeAgent::Options& options) {
  CheckEngine::Options engine = options.engine;
  engine.max_concurrency = std::max<size_t>(1, options.capacity);
  return engine;
}

}  // namespace

ProbeAgent::ProbeAgent(Options options, OperatorClient& client, MetricsRegistry& metrics,
                       const Clock& clock)
    : options_(std::move(options)),
      client_(client),
      clock_(clock),
      probe_(client.options().probe),
      results_(options_.max_pending_results),
      result_batch_max_(std::max<size_t>(1, options_.result_batch_max)),
      probe_metrics_(metrics,
                     [this] {
                       MutexLock lock(mutex_);
                       return ProbeMetrics::Gauges{in_flight_, options_.capacity, results_.size()};
                     }),
      engine_(std::make_unique<CheckEngine>(EngineOptions(options_))) {}

ProbeAgent::~ProbeAgent() {
  Stop();
  engine_.reset();
}

void ProbeAgent::Start() {
  {
    MutexLock lock(mutex_);
    if (started_) return;
    started_ = true;
  }
  AgentLog().Info("probe starting", {{"probe", probe_.name},
                                     {"region", probe_.region},
                                     {"operator", RedactUrl(client_.options().operator_url)},
                                     {"capacity", options_.capacity}});
  lease_thread_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "pharos-lease");
    LeaseLoop(stop);
  });
  report_thread_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "pharos-report");
    ReportLoop(stop);
  });
}

ProbeAgent::Status ProbeAgent::status() const {
  MutexLock lock(mutex_);
  Status status;
  status.running = started_ && !stop_called_;
  status.draining = stop_called_;
  status.registered = registered_;
  status.last_contact = last_contact_;
  status.last_error = last_error_;
  status.in_flight = in_flight_;
  status.pending_results = results_.size();
  return status;
}

// ------------------------------------------------------------------------------- failures

void ProbeAgent::NoteContact() {
  MutexLock lock(mutex_);
  last_contact_ = clock_.Now();
  last_error_.clear();
}

void ProbeAgent::WaitFor(std::chrono::milliseconds delay, const std::stop_token& stop) {
  MutexLock lock(mutex_);
  changed_.WaitFor(mutex_, stop, delay, [] { return false; });
}

void ProbeAgent::FailedCall(const std::string& call, const OperatorError& error, Backoff& backoff,
                            const std::stop_token& stop) {
  probe_metrics_.CountOperatorError();
  {
    MutexLock lock(mutex_);
    last_error_ = error.message;
  }
  std::chrono::milliseconds delay;
  if (error.kind == OperatorErrorKind::kConfiguration) {
    delay = options_.configuration_retry;
    AgentLog().Error("the operator refuses this probe; fix the configuration: " + error.message,
                     {{"call", call}, {"status", error.http_status}, {"retry_in", Seconds(delay)}});
  } else {
    delay = backoff.NextDelay();
    AgentLog().Warn("operator call failed: " + error.message, {{"call", call},
                                                               {"status", error.http_status},
                                                               {"kind", ToString(error.kind)},
                                                               {"retry_in", Seconds(delay)}});
  }
  WaitFor(delay, stop);
}

// ------------------------------------------------------------------------------- leasing

bool ProbeAgent::RegisterOnce(const std::stop_token& stop, Backoff& backoff) {
  OperatorReply<RegisterReply> reply = client_.Register(options_.capacity, stop);
  if (!reply.ok()) {
    if (reply.error.kind != OperatorErrorKind::kCancelled) {
      FailedCall("register", reply.error, backoff, stop);
    }
    return false;
  }
  NoteContact();
  backoff.Reset();
  {
    MutexLock lock(mutex_);
    registered_ = true;
    lease_wait_max_seconds_ = reply.value->lease_wait_max_seconds;
    result_batch_max_ = reply.value->result_batch_max;
  }
  changed_.NotifyAll();
  AgentLog().Info("registered with the operator",
                  {{"probe", probe_.name},
                   {"region", probe_.region},
                   {"lease_wait_max_seconds", reply.value->lease_wait_max_seconds},
                   {"result_batch_max", reply.value->result_batch_max}});
  return true;
}

void ProbeAgent::LeaseLoop(const std::stop_token& stop) {
  Backoff backoff(options_.backoff);
  auto last_prune = clock_.SteadyNow();
  bool registered = false;
  while (!stop.stop_requested()) {
    if (!registered) {
      registered = RegisterOnce(stop, backoff);
      continue;
    }
    size_t free_slots = 0;
    int wait_seconds = 0;
    {
      MutexLock lock(mutex_);
      changed_.Wait(mutex_, stop, [this]() REQUIRES(mutex_) {
        return in_flight_ < options_.capacity && results_.size() < results_.max_results();
      });
      if (stop.stop_requested()) break;
      free_slots = options_.capacity - in_flight_;
      wait_seconds = std::clamp(options_.lease_wait_seconds, 0, lease_wait_max_seconds_);
    }
    OperatorReply<LeaseReply> reply = client_.Lease(free_slots, wait_seconds, stop);
    if (!reply.ok()) {
      if (reply.error.kind == OperatorErrorKind::kCancelled) break;
      FailedCall("lease", reply.error, backoff, stop);
      continue;
    }
    NoteContact();
    LeaseReply& lease = *reply.value;
    if (!lease.unreadable_items.empty()) {
      // One line per lease, not per item: a broken operator may send thousands.
      AgentLog().Error("the operator sent work items the probe cannot read; they are not checked",
                       {{"unreadable", lease.unreadable_items.size()},
                        {"readable", lease.items.size()},
                        {"first_problem", lease.unreadable_items.front()}});
    }
    if (lease.items.size() > free_slots) {
      // The probe asked for free_slots: it never runs more than its capacity, whatever it got.
      // The rest are left alone; their leases lapse and the operator hands them out again.
      AgentLog().Warn(
          "the operator sent more work items than asked for; only those asked for "
          "are checked",
          {{"asked", free_slots}, {"received", lease.items.size()}});
      lease.items.resize(free_slots);
    }
    engine_->SetClusterPolicy(lease.cluster_policy);
    FetchMissingSpecs(lease, stop);
    StartItems(lease);
    if (lease.items.empty() && !lease.unreadable_items.empty()) {
      // Nothing usable came back: asking again at once would only get the same again.
      const auto delay = backoff.NextDelay();
      {
        MutexLock lock(mutex_);
        last_error_ = "the operator's work items cannot be read: " + lease.unreadable_items.front();
      }
      WaitFor(delay, stop);
    } else {
      backoff.Reset();
    }
    const auto now = clock_.SteadyNow();
    if (now - last_prune > std::chrono::minutes(5)) {
      monitors_.Prune(now);
      last_prune = now;
    }
  }
}

void ProbeAgent::FetchMissingSpecs(LeaseReply& lease, const std::stop_token& stop) {
  std::vector<std::string> missing;
  // The newest generation the items of each missing uid name: what the fetched spec serves.
  std::unordered_map<std::string_view, int64_t> generations;
  for (const LeaseItem& item : lease.items) {
    if (item.spec_version.empty() || lease.monitors.contains(item.monitor_uid) ||
        monitors_.Holds(item.monitor_uid, item.spec_version)) {
      continue;
    }
    const auto [entry, added] = generations.try_emplace(item.monitor_uid, item.generation);
    entry->second = std::max(entry->second, item.generation);
    if (added) {
      missing.push_back(item.monitor_uid);
    }
  }
  if (missing.empty()) {
    return;
  }
  OperatorReply<MonitorSpecsReply> reply = client_.FetchMonitorSpecs(missing, stop);
  if (!reply.ok()) {
    // Checking with a spec older than the item's could report on a target the monitor no
    // longer has: the items are left alone, their leases lapse and the operator hands them out
    // again.
    if (reply.error.kind != OperatorErrorKind::kCancelled) {
      probe_metrics_.CountOperatorError();
      AgentLog().Warn(
          "cannot fetch the specs of leased monitors; their items are left for the operator to "
          "hand out again",
          {{"monitors", missing.size()}, {"error", reply.error.message}});
    }
    const std::unordered_set<std::string> lacking(missing.begin(), missing.end());
    std::erase_if(lease.items,
                  [&](const LeaseItem& item) { return lacking.contains(item.monitor_uid); });
    return;
  }
  const auto now = clock_.SteadyNow();
  for (const auto& [uid, object] : reply.value->monitors.items()) {
    // Converted now; an invalid spec is reported per item by StartItems.
    const auto generation = generations.find(uid);
    (void)monitors_.Get(uid, generation != generations.end() ? generation->second : 0, &object, now,
                        reply.value->versions.at(uid));
  }
}

void ProbeAgent::StartItems(const LeaseReply& reply) {
  // The operator's clock decides whether a deadline passed (the probe's may be off).
  const auto operator_now = clock_.Now() + reply.clock_offset;
  size_t late = 0;
  std::string first_late;
  for (const LeaseItem& item : reply.items) {
    const auto object = reply.monitors.find(item.monitor_uid);
    Result<std::shared_ptr<const Monitor>> monitor =
        monitors_.Get(item.monitor_uid, item.generation,
                      object != reply.monitors.end() ? &*object : nullptr, clock_.SteadyNow());
    if (!monitor.ok()) {
      AgentLog().Error("cannot check a work item: " + monitor.error(),
                       {{"item", item.id}, {"monitor_uid", item.monitor_uid}});
      ReportUnchecked(item, nullptr, "the probe could not use the monitor: " + monitor.error());
      continue;
    }
    if (item.deadline && *item.deadline <= operator_now) {
      if (late == 0) first_late = item.id;
      ++late;
      ReportUnchecked(item, monitor->get(), "deadline passed before the check could start");
      continue;
    }
    {
      MutexLock lock(mutex_);
      ++in_flight_;
    }
    engine_->Submit(
        *monitor,
        [this, id = item.id, scheduled = item.scheduled_at](CheckResult result) {
          OnCheckDone(id, scheduled, std::move(result));
        },
        item.endpoints);
  }
  if (late > 0) {
    AgentLog().Warn(
        "work items arrived after their next round was due; answered as errors without checking "
        "(is the operator overloaded?)",
        {{"items", late}, {"first_item", first_late}});
  }
}

void ProbeAgent::ReportUnchecked(const LeaseItem& item, const Monitor* monitor,
                                 const std::string& why) {
  CheckResult result = CheckResult::NotChecked(
      {item.monitor_uid, item.generation, probe_.region, probe_.name, item.id, item.scheduled_at},
      clock_.Now(), why);
  if (monitor != nullptr) {
    result.monitor_namespace = monitor->namespace_name;
    result.monitor_name = monitor->name;
    result.type = monitor->type;
    result.target = monitor->Target();
  }
  probe_metrics_.CountCheck(result.outcome);
  Keep(result);
}

void ProbeAgent::OnCheckDone(const std::string& item_id,
                             std::chrono::system_clock::time_point scheduled_at,
                             CheckResult result) {
  result.region = probe_.region;
  result.probe = probe_.name;
  result.item_id = item_id;
  result.scheduled_at = scheduled_at;
  probe_metrics_.CountCheck(result.outcome);
  // Kept before in_flight_ drops, so that a drain never sees neither.
  Keep(result);
  {
    MutexLock lock(mutex_);
    --in_flight_;
  }
  changed_.NotifyAll();
}

void ProbeAgent::Keep(const CheckResult& result) {
  std::string json = CheckResultToJson(result).dump();
  std::optional<ResultBuffer::Entry> dropped;
  bool wake_reporter = false;
  {
    MutexLock lock(mutex_);
    if (!results_.Add(result.item_id, std::move(json), &dropped)) {
      AgentLog().Debug("a result for this work item is already waiting; keeping the first",
                       {{"item", result.item_id}});
    }
    const size_t size = results_.size();
    wake_reporter = size == 1 || size >= result_batch_max_;
    if (dropped) {
      ++dropped_since_log_;
      const auto now = clock_.SteadyNow();
      if (last_drop_log_ == std::chrono::steady_clock::time_point{} ||
          now - last_drop_log_ >= std::chrono::seconds(10)) {
        AgentLog().Error(
            "the buffer of unacknowledged results is full: dropped the oldest results; the "
            "operator has not acknowledged results for a while (see earlier errors)",
            {{"dropped", dropped_since_log_},
             {"oldest_dropped_item", dropped->item_id},
             {"max_pending_results", results_.max_results()}});
        dropped_since_log_ = 0;
        last_drop_log_ = now;
      }
    }
  }
  if (dropped) probe_metrics_.CountDropped("buffer_full");
  if (wake_reporter) changed_.NotifyAll();
}

void ProbeAgent::CountDropped(const std::string& reason, size_t count) {
  probe_metrics_.CountDropped(reason, count);
}

// ------------------------------------------------------------------------------- reporting

void ProbeAgent::ReportLoop(const std::stop_token& stop) {
  Backoff backoff(options_.backoff);
  size_t batch_limit = SIZE_MAX;
  bool send_now = false;
  while (!stop.stop_requested()) {
    if (!send_now) {
      MutexLock lock(mutex_);
      // Something to send (or the drain is over)...
      changed_.Wait(mutex_, stop, [this]() REQUIRES(mutex_) {
        return !results_.empty() || (draining_ && in_flight_ == 0);
      });
      if (stop.stop_requested()) break;
      if (draining_ && in_flight_ == 0 && results_.empty()) {
        report_done_ = true;
        break;
      }
      // ...then a full batch or the flush interval, whichever comes first; no waiting to fill a
      // batch while draining.
      changed_.WaitFor(mutex_, stop, options_.flush_interval, [this]() REQUIRES(mutex_) {
        return draining_ || results_.size() >= result_batch_max_;
      });
      if (stop.stop_requested()) break;
    }
    send_now = SendBatch(stop, backoff, &batch_limit);
  }
  changed_.NotifyAll();
}

bool ProbeAgent::SendBatch(const std::stop_token& stop, Backoff& backoff, size_t* batch_limit) {
  size_t batch_max = 0;
  {
    MutexLock lock(mutex_);
    batch_max = result_batch_max_;
  }
  const std::vector<ResultBuffer::Entry> batch =
      results_.Peek(std::min(batch_max, *batch_limit), options_.result_batch_max_bytes);
  if (batch.empty()) return false;
  std::vector<std::string> bodies;
  bodies.reserve(batch.size());
  for (const ResultBuffer::Entry& entry : batch) bodies.push_back(entry.json);

  OperatorReply<ResultsReply> reply = client_.SendResults(bodies, stop);
  if (reply.ok()) {
    NoteContact();
    backoff.Reset();
    HandleAnswered(batch, *reply.value);
    if (*batch_limit != SIZE_MAX) {
      *batch_limit = *batch_limit * 2 >= batch_max ? SIZE_MAX : *batch_limit * 2;
    }
    return false;
  }
  const OperatorError& error = reply.error;
  if (error.kind == OperatorErrorKind::kCancelled) return false;
  if (error.kind == OperatorErrorKind::kTooLarge || error.kind == OperatorErrorKind::kBadRequest) {
    probe_metrics_.CountOperatorError();
    if (batch.size() > 1) {
      // Halving finds the result the operator refuses in log2(batch) steps; the others get
      // through on the way.
      *batch_limit = batch.size() / 2;
      AgentLog().Warn("the operator refused a batch of results; sending smaller batches",
                      {{"results", batch.size()},
                       {"next_batch", *batch_limit},
                       {"status", error.http_status},
                       {"error", error.message}});
    } else {
      DropRefused(batch.front(), error);
    }
    return true;
  }
  FailedCall("results", error, backoff, stop);
  return false;
}

void ProbeAgent::DropRefused(const ResultBuffer::Entry& entry, const OperatorError& error) {
  size_t removed = 0;
  {
    MutexLock lock(mutex_);
    removed = results_.Remove({entry.item_id});
  }
  CountDropped(error.kind == OperatorErrorKind::kTooLarge ? "too_large" : "bad_request", removed);
  AgentLog().Error(
      "the operator refuses this result; dropping it (this is a bug: please report it with this "
      "line)",
      {{"item", entry.item_id},
       {"status", error.http_status},
       {"error", error.message},
       {"result_bytes", entry.json.size()}});
  changed_.NotifyAll();
}

void ProbeAgent::HandleAnswered(const std::vector<ResultBuffer::Entry>& batch,
                                const ResultsReply& reply) {
  std::vector<std::string> answered = reply.accepted;
  answered.insert(answered.end(), reply.duplicates.begin(), reply.duplicates.end());
  std::vector<std::string> rejected;
  for (const RejectedResult& result : reply.rejected) rejected.push_back(result.id);
  std::unordered_set<std::string> named(answered.begin(), answered.end());
  named.insert(rejected.begin(), rejected.end());

  std::vector<std::string> given_up;
  size_t rejected_removed = 0;
  {
    MutexLock lock(mutex_);
    results_.Remove(answered);
    rejected_removed = results_.Remove(rejected);
    for (const ResultBuffer::Entry& entry : batch) {
      if (named.count(entry.item_id) != 0) continue;
      if (results_.MarkUnanswered(entry.item_id) >= options_.max_unanswered_deliveries) {
        given_up.push_back(entry.item_id);
      }
    }
    results_.Remove(given_up);
  }
  changed_.NotifyAll();
  CountDropped("rejected", rejected_removed);
  CountDropped("unacknowledged", given_up.size());
  for (size_t i = 0; i < reply.rejected.size() && i < 5; ++i) {
    AgentLog().Error("the operator rejected a result; dropping it",
                     {{"item", reply.rejected[i].id}, {"reason", reply.rejected[i].reason}});
  }
  if (reply.rejected.size() > 5) {
    AgentLog().Error("the operator rejected more results; dropping them",
                     {{"more", reply.rejected.size() - 5}});
  }
  if (!given_up.empty()) {
    AgentLog().Error(
        "the operator answered several deliveries without acknowledging these results; dropping "
        "them",
        {{"results", given_up.size()}, {"first_item", given_up.front()}});
  }
}

// ------------------------------------------------------------------------------- stopping

void ProbeAgent::AbortDrain() {
  {
    MutexLock lock(mutex_);
    abort_drain_ = true;
  }
  changed_.NotifyAll();
}

ProbeAgent::StopSummary ProbeAgent::Stop() {
  {
    MutexLock lock(mutex_);
    if (stop_called_ || !started_) {
      stop_called_ = true;
      return stop_summary_;
    }
    stop_called_ = true;
  }
  const auto deadline = clock_.SteadyNow() + options_.drain_timeout;
  lease_thread_.request_stop();
  changed_.NotifyAll();
  lease_thread_.join();
  size_t waiting_checks = 0;
  {
    MutexLock lock(mutex_);
    draining_ = true;
    waiting_checks = in_flight_;
  }
  changed_.NotifyAll();
  AgentLog().Info("stopping: no more leases; finishing the checks in flight and reporting",
                  {{"in_flight", waiting_checks},
                   {"pending_results", results_.size()},
                   {"drain_timeout", Seconds(options_.drain_timeout)}});
  {
    MutexLock lock(mutex_);
    changed_.WaitFor(mutex_, deadline - clock_.SteadyNow(),
                     [this]() REQUIRES(mutex_) { return report_done_ || abort_drain_; });
  }
  report_thread_.request_stop();
  report_thread_.join();
  StopSummary summary;
  {
    MutexLock lock(mutex_);
    summary.unfinished_checks = in_flight_;
    summary.unreported_results = results_.size();
    stop_summary_ = summary;
  }
  CountDropped("shutdown", summary.unreported_results);
  if (summary.unfinished_checks > 0 || summary.unreported_results > 0) {
    AgentLog().Warn(
        "stopped before everything was reported; the operator re-queues these items when their "
        "leases expire",
        {{"unfinished_checks", summary.unfinished_checks},
         {"unreported_results", summary.unreported_results}});
  } else {
    AgentLog().Info("stopped; every result was reported");
  }
  return summary;
}

}  // namespace pharos
