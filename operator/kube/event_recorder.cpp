#include "operator/kube/event_recorder.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

constexpr size_t kMaxReasonBytes = 128;
constexpr size_t kMaxMessageBytes = 1024;
// The longest real-time wait while backing off: the clock may be virtual (ManualClock), whose
// time moves without waking anyone.
constexpr std::chrono::milliseconds kBackoffSlice{100};

// A 401 or 403 is tried this many times in all: an API server that has just started answers
// them until its authorizer has synced (seconds), and a rotated token takes a moment to load;
// beyond that it is a real refusal (RBAC).
constexpr int kMaxDeniedAttempts = 5;

// Whether a failed request may succeed when made again: no answer, 5xx, 429 (always), 401/403
// (a few times; `denied` counts them). Not a request that was cancelled (shutting down) nor a
// refusal (404, 422...).
bool Retryable(const KubeResponse& response, int* denied) {
  if (response.cancelled) return false;
  if (response.http_status == 401 || response.http_status == 403) {
    return ++*denied < kMaxDeniedAttempts;
  }
  return response.IsTransportError() || response.IsServerError() || response.IsTooManyRequests();
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 character.
void CutUtf8(std::string* text, size_t max) {
  if (text->size() <= max) return;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>((*text)[end]) & 0xC0) == 0x80) --end;
  text->resize(end);
}

std::string ObjectKeyOf(const ObjectReference& object) {
  return object.api_version + "|" + object.kind + "|" + object.namespace_name + "|" + object.name +
         "|" + object.uid;
}

// Drops the least recently used half when `map` has grown past `max`.
template <typename Map, typename LastUsed>
void Trim(Map* map, size_t max, LastUsed last_used) {
  if (map->size() <= max) return;
  std::vector<std::chrono::steady_clock::time_point> times;
  times.reserve(map->size());
  for (const auto& entry : *map) times.push_back(last_used(entry.second));
  auto middle = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), middle, times.end());
  const auto cutoff = *middle;
  for (auto it = map->begin(); it != map->end();) {
    it = last_used(it->second) < cutoff ? map->erase(it) : std::next(it);
  }
}

}  // namespace

ObjectReference ObjectReference::FromObject(const nlohmann::json& object) {
  ObjectReference reference;
  reference.api_version = JsonStringAt(object, {"apiVersion"});
  reference.kind = JsonStringAt(object, {"kind"});
  reference.namespace_name = JsonStringAt(object, {"metadata", "namespace"});
  reference.name = JsonStringAt(object, {"metadata", "name"});
  reference.uid = JsonStringAt(object, {"metadata", "uid"});
  reference.resource_version = JsonStringAt(object, {"metadata", "resourceVersion"});
  return reference;
}

nlohmann::json ObjectReference::ToJson() const {
  nlohmann::json json = nlohmann::json::object();
  if (!api_version.empty()) json["apiVersion"] = api_version;
  if (!kind.empty()) json["kind"] = kind;
  if (!namespace_name.empty()) json["namespace"] = namespace_name;
  if (!name.empty()) json["name"] = name;
  if (!uid.empty()) json["uid"] = uid;
  if (!resource_version.empty()) json["resourceVersion"] = resource_version;
  return json;
}

EventRecorder::EventRecorder(KubeClient& client, EventRecorderOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {}

EventRecorder::~EventRecorder() { Stop(std::chrono::milliseconds(0)); }

void EventRecorder::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "event-recorder");
    Loop();
  });
}

void EventRecorder::Stop(std::chrono::milliseconds drain) {
  {
    MutexLock lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      drain_deadline_ = std::chrono::steady_clock::now() + drain;
    }
  }
  changed_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::Record(const ObjectReference& object, EventType type, std::string reason,
                           std::string message) {
  CutUtf8(&reason, kMaxReasonBytes);
  CutUtf8(&message, kMaxMessageBytes);
  Pending event{
      object, type, std::move(reason), std::move(message), clock_.Now(), clock_.SteadyNow()};
  bool log_overflow = false;
  {
    MutexLock lock(mutex_);
    if (stopping_) return;
    if (queue_.size() >= std::max<size_t>(1, options_.queue_capacity)) log_overflow = DropOldest();
    queue_.push_back(std::move(event));
    ++stats_.recorded;
  }
  if (log_overflow) LogOverflow();
  changed_.NotifyAll();
}

bool EventRecorder::DropOldest() {
  queue_.pop_front();
  ++stats_.dropped_full;
  const bool first = !overflow_logged_;
  overflow_logged_ = true;
  return first;
}

void EventRecorder::LogOverflow() {
  LogWarn(
      "Kubernetes Events are not getting through and their queue is full: dropping the oldest "
      "(pharos_kube_events_dropped_total{reason=\"queue_full\"}); check that the API server is "
      "reachable and that this operator may create Events",
      {{"queue_capacity", static_cast<int64_t>(options_.queue_capacity)}});
}

bool EventRecorder::WaitIdle(std::chrono::milliseconds timeout) const {
  MutexLock lock(mutex_);
  return changed_.WaitFor(mutex_, timeout,
                          [this]() REQUIRES(mutex_) { return queue_.empty() && !busy_; });
}

EventRecorderStats EventRecorder::stats() const {
  MutexLock lock(mutex_);
  EventRecorderStats stats = stats_;
  stats.queued = static_cast<int64_t>(queue_.size()) + (busy_ ? 1 : 0);
  stats.retry_at = next_attempt_;
  return stats;
}

void EventRecorder::Count(int64_t EventRecorderStats::*field) {
  MutexLock lock(mutex_);
  ++(stats_.*field);
}

void EventRecorder::Loop() {
  while (true) {
    Pending event;
    {
      MutexLock lock(mutex_);
      busy_ = false;
      if (queue_.empty()) overflow_logged_ = false;
      changed_.NotifyAll();
      while (true) {
        changed_.Wait(mutex_, [this]() REQUIRES(mutex_) { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        if (stopping_ && std::chrono::steady_clock::now() >= drain_deadline_) {
          LogWarn("stopping with Kubernetes Events unsent",
                  {{"unsent", static_cast<int64_t>(queue_.size())}});
          queue_.clear();
          return;
        }
        const auto now = clock_.SteadyNow();
        if (now >= next_attempt_) break;
        changed_.WaitFor(mutex_, std::min<std::chrono::steady_clock::duration>(next_attempt_ - now,
                                                                               kBackoffSlice));
      }
      event = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    const Attempt attempt = Send(event);
    if (attempt.retry) {
      Retry(std::move(event), attempt.retry_after);
    } else {
      MutexLock lock(mutex_);
      consecutive_failures_ = 0;
      next_attempt_ = {};
    }
  }
}

void EventRecorder::Retry(Pending event, std::chrono::seconds retry_after) {
  bool log_overflow = false;
  {
    MutexLock lock(mutex_);
    ++stats_.retried;
    const int doublings = std::min(consecutive_failures_, 30);
    ++consecutive_failures_;
    auto delay = options_.retry_min * (int64_t{1} << doublings);
    delay = std::min(delay, options_.retry_max);
    delay = std::max<std::chrono::milliseconds>(delay, retry_after);
    next_attempt_ = clock_.SteadyNow() + delay;
    // The event is the oldest of all: when newer ones filled the queue meanwhile, it goes.
    queue_.push_front(std::move(event));
    busy_ = false;  // it waits in the queue now
    if (queue_.size() > std::max<size_t>(1, options_.queue_capacity)) {
      log_overflow = DropOldest();
    }
  }
  if (log_overflow) LogOverflow();
}

bool EventRecorder::AllowedBySpamFilter(const ObjectReference& object) {
  const auto now = clock_.SteadyNow();
  auto& entry = spam_[ObjectKeyOf(object)];
  if (!entry.bucket) {
    entry.bucket = std::make_unique<TokenBucket>(
        1.0 / static_cast<double>(std::max<int64_t>(1, options_.per_object_refill.count())),
        options_.per_object_burst, clock_);
  }
  entry.last_used = now;
  const bool allowed = entry.bucket->TryAcquire();
  Trim(&spam_, options_.max_tracked, [](const Spam& spam) { return spam.last_used; });
  return allowed;
}

EventRecorder::Attempt EventRecorder::Send(Pending& event) {
  if (!event.admitted) {
    if (!AllowedBySpamFilter(event.object)) {
      Count(&EventRecorderStats::dropped_spam);
      return {};
    }
    event.admitted = true;
  }
  const char* type = event.type == EventType::kWarning ? "Warning" : "Normal";
  const std::string key =
      ObjectKeyOf(event.object) + "|" + type + "|" + event.reason + "|" + event.message;
  const std::string timestamp = FormatRfc3339(event.happened_wall, Rfc3339Precision::kSeconds);
  const ApiResource events = ApiResource::CoreEvents();
  // Logged when an attempt fails and will be made again.
  const auto log_retry = [&](const char* what, const KubeResponse& response) {
    LogWarn(what, {{"object", event.object.kind + " " + event.object.namespace_name + "/" +
                                  event.object.name},
                   {"reason", event.reason},
                   {"error", response.Describe()}});
  };

  const auto previous = sent_.find(key);
  if (previous != sent_.end() && event.name.empty() &&
      event.happened - previous->second.last_sent < options_.aggregation_window) {
    Sent& sent = previous->second;
    const nlohmann::json patch = {{"count", sent.count + 1}, {"lastTimestamp", timestamp}};
    const KubeResponse patched = client_.Patch(events, sent.event_namespace, sent.event_name,
                                               PatchType::kMerge, patch, PatchOptions{});
    if (patched.ok()) {
      sent.count += 1;
      sent.last_sent = event.happened;
      Count(&EventRecorderStats::aggregated);
      return {};
    }
    if (Retryable(patched, &event.denied)) {
      log_retry("could not update a Kubernetes Event now; it will be sent again", patched);
      return {true, patched.retry_after};
    }
    if (!patched.IsNotFound()) {
      Count(&EventRecorderStats::failed);
      LogWarn("could not update a Kubernetes Event",
              {{"event", sent.event_namespace + "/" + sent.event_name},
               {"reason", event.reason},
               {"error", patched.Describe()}});
      return {};
    }
    sent_.erase(previous);  // the Event expired (TTL) or was deleted: create a new one
  }

  const std::string event_namespace =
      event.object.namespace_name.empty() ? "default" : event.object.namespace_name;
  if (event.name.empty()) {
    const auto nanos =
        std::chrono::duration_cast<std::chrono::nanoseconds>(event.happened_wall.time_since_epoch())
            .count();
    // client-go names Events "<object>.<unix nanos in hex>"; the sequence number keeps two
    // events of one object in the same clock tick apart. A retry keeps the name, so an attempt
    // whose answer was lost cannot create the Event twice.
    char suffix[40];
    std::snprintf(suffix, sizeof(suffix), ".%llx%04x", static_cast<unsigned long long>(nanos),
                  static_cast<unsigned>(++sequence_ & 0xFFFF));
    event.name = (event.object.name.empty() ? "pharos" : event.object.name) + suffix;
  }
  const std::string& name = event.name;
  nlohmann::json body = {{"apiVersion", "v1"},
                         {"kind", "Event"},
                         {"metadata", {{"name", name}, {"namespace", event_namespace}}},
                         {"involvedObject", event.object.ToJson()},
                         {"reason", event.reason},
                         {"message", event.message},
                         {"type", type},
                         {"count", 1},
                         {"firstTimestamp", timestamp},
                         {"lastTimestamp", timestamp},
                         {"source", {{"component", options_.component}}},
                         {"reportingComponent", options_.component}};
  if (!options_.instance.empty()) {
    body["source"]["host"] = options_.instance;
    body["reportingInstance"] = options_.instance;
  }
  const KubeResponse created = client_.Create(events, event_namespace, body);
  // AlreadyExists: an earlier attempt got through although its answer did not.
  if (!created.ok() && !created.IsAlreadyExists()) {
    if (Retryable(created, &event.denied)) {
      log_retry("could not create a Kubernetes Event now; it will be sent again", created);
      return {true, created.retry_after};
    }
    Count(&EventRecorderStats::failed);
    LogWarn("could not create a Kubernetes Event",
            {{"object", event.object.kind + " " + event_namespace + "/" + event.object.name},
             {"reason", event.reason},
             {"error", created.Describe()}});
    return {};
  }
  sent_[key] = Sent{name, event_namespace, 1, event.happened};
  Trim(&sent_, options_.max_tracked, [](const Sent& sent) { return sent.last_sent; });
  Count(&EventRecorderStats::created);
  return {};
}

}  // namespace pharos
