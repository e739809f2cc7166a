#pragma once

// Informer: keeps a local copy of one kind of Kubernetes object (in one namespace or all) and
// tells handlers what changed, with client-go reflector semantics: a paged LIST, then a WATCH
// from the list's resourceVersion (bookmarks on, timeoutSeconds random in 300-600 s). A watch
// that ends by its timeout, or whose stream breaks off after it worked (it had events or lasted
// `min_healthy_watch`), is restarted at once from the last resourceVersion seen (as client-go's
// reflector does); a 410 Gone (as the
// HTTP status or as an ERROR event in the stream) starts over with a LIST, whose difference to
// the cache becomes adds, updates and deletes (so objects deleted while disconnected are
// reported). Failures — errors, 429, 5xx, a watch closing within 1 s without events — are
// retried after a jittered exponential backoff (800 ms doubling to 30 s, reset after 2 min
// without failure); when watching keeps failing for `relist_after_failures` the informer lists
// again. One named thread runs the loop and calls the handlers, in order; Stop() is prompt.
// Thread-safety: Start/Stop from one owner thread; HasSynced, WaitForSync, Get, List,
// LastResourceVersion and stats from any thread. Handlers run on the informer thread and may
// call Get/List.
// The cache keeps each object as compact JSON text (a parsed object costs about seven times its
// text in memory, which matters at 10,000 objects); Get/List parse on demand.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "operator/kube/kube_client.h"

namespace pharos {

struct InformerOptions {
  ApiResource resource;
  std::string namespace_name;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  std::string thread_name = "informer";  // at most 15 characters are kept
  Backoff::Options backoff = Backoff::KubernetesDefaults();
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  // A watch that ends sooner than this without a single event counts as a failure.
  std::chrono::milliseconds min_healthy_watch{1000};
  // Watch failures in a row for this long make the informer LIST again.
  std::chrono::seconds relist_after_failures{120};
  // Applied to every object (listed or watched) before it is cached and handed to the handlers,
  // e.g. to drop what the owner never reads (metadata.managedFields) and so keep the cache
  // small (client-go's SetTransform). Runs on the informer thread; empty = objects kept whole.
  std::function<void(nlohmann::json& object)> transform;
};

// Each may be empty. `on_delete` gets the last known state of the object.
struct InformerHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
  std::function<void(const nlohmann::json& object)> on_delete;
};

struct InformerStats {
  int64_t lists = 0;  // LIST attempts (each may be several pages)
  int64_t list_failures = 0;
  int64_t watches = 0;  // WATCH requests
  int64_t watch_failures = 0;
  int64_t relists_after_gone = 0;  // 410 Gone seen (HTTP or in-stream)
  int64_t events = 0;              // watch events received (bookmarks included)
};

class Informer {
 public:
  // Waits `delay`; returns false when the informer is stopping. Tests inject one that records
  // the delays.
  using Sleeper = std::function<bool(std::chrono::milliseconds delay)>;

  Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers);
  // For tests: `clock` (monotonic time: watch durations, backoff reset), `sleeper` (backoff
  // waits; empty = a real wait that Stop() interrupts) and `random` (jitter and watch timeouts,
  // [0, 1)). `clock` must outlive the informer.
  Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers,
           const Clock& clock, Sleeper sleeper, Backoff::Random random);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Starts the thread. Call at most once.
  void Start();
  // Ends the loop (interrupting a request, watch or backoff) and joins the thread. Idempotent;
  // an informer cannot be started again.
  void Stop();
  // The loop itself, on the calling thread, until Stop(); Start() runs it on a new thread.
  void Run();

  // True once the first LIST has been delivered to the handlers.
  bool HasSynced() const { return synced_.load(std::memory_order_acquire); }
  // Waits until synced; false on timeout or when stopped.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // The cached object with key "namespace/name" (or "name" when cluster-scoped).
  std::optional<nlohmann::json> Get(const std::string& key) const;
  std::vector<nlohmann::json> List() const;
  std::string LastResourceVersion() const;
  InformerStats stats() const;

 private:
  // `clock` null = a SystemClock of its own.
  Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers,
           const Clock* clock, Sleeper sleeper, Backoff::Random random);

  bool ListAndReplace(Backoff& backoff);
  void Replace(nlohmann::json items, const std::string& resource_version);
  // Handles one watch event; false ends the watch.
  bool OnEvent(const WatchEvent& event, int64_t* count, bool* gone, std::string* error);
  bool Sleep(std::chrono::milliseconds delay);
  std::chrono::seconds RandomWatchTimeout();
  void CallHandler(const char* which, const std::function<void()>& call);

  KubeClient& client_;
  const InformerOptions options_;
  const InformerHandlers handlers_;
  std::unique_ptr<Clock> owned_clock_;
  const Clock& clock_;
  Sleeper sleeper_;
  Backoff::Random random_;
  std::stop_source stop_;
  std::thread thread_;

  // One cached object: its resourceVersion (compared on re-list) and its compact JSON text.
  struct CachedObject {
    std::string resource_version;
    std::string text;
  };
  static CachedObject Cache(const nlohmann::json& object);
  static nlohmann::json Parse(const CachedObject& cached);

  mutable Mutex mutex_;
  mutable CondVar synced_changed_;
  std::map<std::string, CachedObject> cache_ GUARDED_BY(mutex_);
  std::string resource_version_ GUARDED_BY(mutex_);
  InformerStats stats_ GUARDED_BY(mutex_);
  std::atomic<bool> synced_{false};
};

}  // namespace pharos
