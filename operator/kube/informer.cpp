#include "operator/kube/informer.h"

#include <pthread.h>

#include <algorithm>
#include <exception>
#include <random>
#include <set>
#include <utility>

#include "common/logging.h"
#include "common/stoppable_wait.h"

namespace pharos {
namespace {

Backoff::Random DefaultRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace

Informer::Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers)
    : Informer(client, std::move(options), std::move(handlers), nullptr, {}, {}) {}

Informer::Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers,
                   const Clock& clock, Sleeper sleeper, Backoff::Random random)
    : Informer(client, std::move(options), std::move(handlers), &clock, std::move(sleeper),
               std::move(random)) {}

Informer::Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers,
                   const Clock* clock, Sleeper sleeper, Backoff::Random random)
    : client_(client),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      owned_clock_(clock == nullptr ? std::make_unique<SystemClock>() : nullptr),
      clock_(clock == nullptr ? *owned_clock_ : *clock),
      sleeper_(std::move(sleeper)),
      random_(random ? std::move(random) : DefaultRandom()) {}

Informer::~Informer() { Stop(); }

void Informer::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), options_.thread_name.substr(0, 15).c_str());
    Run();
  });
}

void Informer::Stop() {
  stop_.request_stop();
  synced_changed_.NotifyAll();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  MutexLock lock(mutex_);
  synced_changed_.WaitFor(mutex_, timeout,
                          [this] { return HasSynced() || stop_.stop_requested(); });
  return HasSynced();
}

Informer::CachedObject Informer::Cache(const nlohmann::json& object) {
  return {JsonStringAt(object, {"metadata", "resourceVersion"}),
          object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

nlohmann::json Informer::Parse(const CachedObject& cached) {
  // The text was written by dump(): it parses (no exception, but never a crash either).
  return nlohmann::json::parse(cached.text, nullptr, /*allow_exceptions=*/false);
}

std::optional<nlohmann::json> Informer::Get(const std::string& key) const {
  CachedObject cached;
  {
    MutexLock lock(mutex_);
    const auto it = cache_.find(key);
    if (it == cache_.end()) return std::nullopt;
    cached = it->second;
  }
  return Parse(cached);
}

std::vector<nlohmann::json> Informer::List() const {
  std::vector<CachedObject> cached;
  {
    MutexLock lock(mutex_);
    cached.reserve(cache_.size());
    for (const auto& [key, object] : cache_) cached.push_back(object);
  }
  std::vector<nlohmann::json> objects;
  objects.reserve(cached.size());
  for (const CachedObject& object : cached) objects.push_back(Parse(object));
  return objects;
}

std::string Informer::LastResourceVersion() const {
  MutexLock lock(mutex_);
  return resource_version_;
}

InformerStats Informer::stats() const {
  MutexLock lock(mutex_);
  return stats_;
}

bool Informer::Sleep(std::chrono::milliseconds delay) {
  if (stop_.stop_requested()) return false;
  if (sleeper_) return sleeper_(delay) && !stop_.stop_requested();
  return SleepUnlessStopped(stop_.get_token(), delay);
}

std::chrono::seconds Informer::RandomWatchTimeout() {
  const int64_t low = options_.min_watch_timeout.count();
  const int64_t high = std::max(low, options_.max_watch_timeout.count());
  const double fraction = std::clamp(random_(), 0.0, 1.0);
  return std::chrono::seconds(std::min<int64_t>(
      high, low + static_cast<int64_t>(fraction * static_cast<double>(high - low + 1))));
}

void Informer::CallHandler(const char* which, const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    LogError("informer handler failed",
             {{"informer", options_.thread_name}, {"handler", which}, {"error", e.what()}});
  }
}

void Informer::Replace(nlohmann::json items, const std::string& resource_version) {
  // Which listed items are new or changed (by index in `items`), with the cached text of
  // the changed ones; objects gone since.
  struct Change {
    size_t index = 0;
    std::optional<CachedObject> old_object;
  };
  std::vector<Change> changes;
  std::vector<CachedObject> deleted;
  if (!items.is_array()) items = nlohmann::json::array();  // a LIST without items: none
  {
    MutexLock lock(mutex_);
    std::map<std::string, CachedObject> fresh;
    for (size_t i = 0; i < items.size(); ++i) {
      nlohmann::json& item = items[i];
      if (options_.transform) options_.transform(item);
      const std::string key = ObjectKey(item);
      if (key.empty()) continue;
      CachedObject cached = Cache(item);
      const auto old = cache_.find(key);
      if (old == cache_.end()) {
        changes.push_back({i, std::nullopt});
      } else if (old->second.resource_version != cached.resource_version) {
        changes.push_back({i, std::move(old->second)});
      }
      fresh[key] = std::move(cached);
    }
    for (auto& [key, object] : cache_) {
      if (fresh.find(key) == fresh.end()) deleted.push_back(std::move(object));
    }
    cache_ = std::move(fresh);
    resource_version_ = resource_version;
  }
  for (const auto& change : changes) {
    const nlohmann::json& new_object = items[change.index];
    if (change.old_object) {
      if (handlers_.on_update) {
        const nlohmann::json old_object = Parse(*change.old_object);
        CallHandler("update", [&] { handlers_.on_update(old_object, new_object); });
      }
    } else if (handlers_.on_add) {
      CallHandler("add", [&] { handlers_.on_add(new_object); });
    }
  }
  for (const auto& object : deleted) {
    if (handlers_.on_delete) {
      const nlohmann::json parsed = Parse(object);
      CallHandler("delete", [&] { handlers_.on_delete(parsed); });
    }
  }
}

bool Informer::OnEvent(const WatchEvent& event, int64_t* count, bool* gone, std::string* error) {
  ++*count;
  {
    MutexLock lock(mutex_);
    ++stats_.events;
  }
  if (event.type == WatchEvent::Type::kError) {
    if (event.status.code == 410 || event.status.reason == "Expired" ||
        event.status.reason == "Gone") {
      *gone = true;
    } else {
      *error = "watch ERROR event: " +
               (event.status.reason.empty() ? std::string() : event.status.reason + ": ") +
               event.status.message;
    }
    return false;
  }
  const std::string resource_version = event.ResourceVersion();
  if (event.type == WatchEvent::Type::kBookmark) {
    if (!resource_version.empty()) {
      MutexLock lock(mutex_);
      resource_version_ = resource_version;
    }
    return !stop_.stop_requested();
  }
  nlohmann::json object = event.object;
  if (options_.transform) options_.transform(object);
  const std::string key = ObjectKey(object);
  if (key.empty()) {
    *error = std::string("watch ") + WatchEvent::TypeName(event.type) + " event without a name";
    return false;
  }
  std::optional<CachedObject> old_object;
  bool known = false;
  {
    MutexLock lock(mutex_);
    if (!resource_version.empty()) resource_version_ = resource_version;
    const auto it = cache_.find(key);
    known = it != cache_.end();
    if (known) old_object = std::move(it->second);
    if (event.type == WatchEvent::Type::kDeleted) {
      if (known) cache_.erase(it);
    } else if (known) {
      it->second = Cache(object);
    } else {
      cache_.emplace(key, Cache(object));
    }
  }
  if (event.type == WatchEvent::Type::kDeleted) {
    if (known && handlers_.on_delete) {
      CallHandler("delete", [&] { handlers_.on_delete(object); });
    }
  } else if (known) {
    if (handlers_.on_update) {
      const nlohmann::json old_parsed = Parse(*old_object);
      CallHandler("update", [&] { handlers_.on_update(old_parsed, object); });
    }
  } else if (handlers_.on_add) {
    CallHandler("add", [&] { handlers_.on_add(object); });
  }
  return !stop_.stop_requested();
}

bool Informer::ListAndReplace(Backoff& backoff) {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  list_options.stop = stop_.get_token();
  {
    MutexLock lock(mutex_);
    ++stats_.lists;
  }
  KubeResponse response = client_.ListAll(options_.resource, options_.namespace_name, list_options);
  if (response.cancelled || stop_.stop_requested()) return false;
  if (!response.ok()) {
    {
      MutexLock lock(mutex_);
      ++stats_.list_failures;
    }
    auto delay = backoff.NextDelay();
    if (response.retry_after > delay) {
      delay = std::chrono::duration_cast<std::chrono::milliseconds>(response.retry_after);
    }
    LogWarn("listing failed; retrying", {{"informer", options_.thread_name},
                                         {"resource", options_.resource.plural},
                                         {"error", response.Describe()},
                                         {"retry_in_ms", delay.count()}});
    Sleep(delay);
    return false;
  }
  const std::string resource_version = JsonStringAt(response.body, {"metadata", "resourceVersion"});
  Replace(std::move(response.body["items"]), resource_version);
  if (!synced_.exchange(true, std::memory_order_acq_rel)) {
    {
      MutexLock lock(mutex_);  // pairs with WaitForSync's predicate check
    }
    synced_changed_.NotifyAll();
    LogInfo("informer synced", {{"informer", options_.thread_name},
                                {"resource", options_.resource.plural},
                                {"objects", static_cast<int64_t>(List().size())},
                                {"resource_version", resource_version}});
  }
  return true;
}

void Informer::Run() {
  Backoff backoff(options_.backoff, random_, &clock_);
  bool need_list = true;
  bool failing = false;  // watch failures in a row since `failing_since`
  std::chrono::steady_clock::time_point failing_since{};
  while (!stop_.stop_requested()) {
    if (need_list) {
      if (!ListAndReplace(backoff)) continue;
      need_list = false;
      failing = false;
    }

    WatchOptions watch_options;
    watch_options.label_selector = options_.label_selector;
    watch_options.field_selector = options_.field_selector;
    watch_options.resource_version = LastResourceVersion();
    watch_options.allow_bookmarks = true;
    watch_options.timeout = RandomWatchTimeout();
    {
      MutexLock lock(mutex_);
      ++stats_.watches;
    }
    int64_t events = 0;
    bool gone = false;
    std::string stream_error;
    const auto started = clock_.SteadyNow();
    const KubeResponse response = client_.Watch(
        options_.resource, options_.namespace_name, watch_options,
        [&](const WatchEvent& event) { return OnEvent(event, &events, &gone, &stream_error); },
        stop_.get_token());
    if (response.cancelled || stop_.stop_requested()) break;
    const auto lasted = clock_.SteadyNow() - started;

    if (gone || response.IsGone()) {
      MutexLock lock(mutex_);
      ++stats_.relists_after_gone;
      LogInfo("resource version too old (410 Gone); listing again",
              {{"informer", options_.thread_name}, {"resource_version", resource_version_}});
      need_list = true;
      continue;
    }
    std::string failure = stream_error;
    const bool healthy = events > 0 || lasted >= options_.min_healthy_watch;
    if (failure.empty() && response.stream_broken && healthy) {
      // A watch that worked and then lost its connection ends like one that timed out
      // (client-go's reflector does the same): watch again at once from the last version.
      LogInfo("watch stream broke off; watching again from the last resourceVersion",
              {{"informer", options_.thread_name},
               {"resource", options_.resource.plural},
               {"error", response.transport_error}});
      failing = false;
      continue;
    }
    if (failure.empty() && !response.ok()) failure = response.Describe();
    if (failure.empty() && !healthy) {
      failure =
          "watch closed after " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(lasted).count()) +
          " ms without events";
    }
    if (failure.empty()) {
      failing = false;  // ended by its timeout: watch again from the last version
      continue;
    }

    const auto now = clock_.SteadyNow();
    if (!failing) {
      failing = true;
      failing_since = now;
    }
    {
      MutexLock lock(mutex_);
      ++stats_.watch_failures;
    }
    if (now - failing_since >= options_.relist_after_failures) {
      need_list = true;
      failing = false;
    }
    auto delay = backoff.NextDelay();
    if (response.retry_after > delay) {
      delay = std::chrono::duration_cast<std::chrono::milliseconds>(response.retry_after);
    }
    LogWarn("watch failed; retrying", {{"informer", options_.thread_name},
                                       {"resource", options_.resource.plural},
                                       {"error", failure},
                                       {"relist", need_list},
                                       {"retry_in_ms", delay.count()}});
    if (!Sleep(delay)) break;
  }
}

}  // namespace pharos
