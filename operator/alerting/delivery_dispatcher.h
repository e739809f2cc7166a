#pragma once

// DeliveryDispatcher: sends what the Outbox holds (docs/alerting.md#delivery). Each channel has
// a worker thread of its own ("notify-N"), so a slow or dead receiver delays only its own
// channel — never checks, state decisions or other channels. A worker takes its channel's
// pending deliveries oldest first (a recovery never overtakes its outage) and, for each:
// reads the channel's secrets, renders the message, sends it with the channel's timeout, and
// records the attempt before taking the next:
// * 2xx (SMTP 250): delivered.
// * 408, 429, 5xx, no answer (refused, timeout, TLS), a secret that cannot be read yet: retried
//   after a jittered exponential backoff (initial_backoff doubling to max_backoff), or after the
//   receiver's Retry-After (at most max_retry_after); given up (failed) once the delivery is
//   older than give_up_after.
// * any other answer (400, 401, 403, 404, a refused SMTP login...), a message that cannot be
//   rendered, a channel that no longer exists: failed, with the reason, never retried.
// A delivery is written before it is first sent and marked after the receiver's answer, so a
// process killed in between sends it again after restart — with the same deliveryId. Workers
// hold no queue of their own: the outbox is the queue, which keeps memory bounded however many
// notifications wait.
// Thread-safety: every public method may be called from any thread; Start/Stop by the owner.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/alerting/alert_channel.h"
#include "operator/alerting/notification_transport.h"
#include "operator/alerting/outbox.h"
#include "operator/alerting/secret_resolver.h"

namespace pharos {

// What one attempt came to.
enum class DeliveryOutcome { kDelivered, kRetry, kFailed };
const char* ToString(DeliveryOutcome outcome);  // "delivered" "retry" "failed"

class DeliveryDispatcher {
 public:
  struct Options {
    std::chrono::milliseconds initial_backoff{2'000};
    std::chrono::milliseconds max_backoff{300'000};
    std::chrono::milliseconds max_retry_after{3'600'000};
    std::chrono::milliseconds give_up_after{24 * 3'600'000};
    std::string user_agent = "pharos";
  };
  // The channel of a key, as configured now; null when it does not exist.
  using ChannelLookup = std::function<std::shared_ptr<const AlertChannel>(const std::string& key)>;
  // After each attempt (on the worker thread): the delivery as recorded, its outcome, the
  // channel's type ("" when the channel is gone).
  using Observer = std::function<void(const Delivery& delivery, DeliveryOutcome outcome,
                                      const std::string& channel_type)>;

  // Every reference must outlive the dispatcher.
  DeliveryDispatcher(Outbox& outbox, NotificationTransport& transport, SecretResolver& secrets,
                     ChannelLookup channels, const Clock& clock, Options options);
  ~DeliveryDispatcher();  // Stop()
  DeliveryDispatcher(const DeliveryDispatcher&) = delete;
  DeliveryDispatcher& operator=(const DeliveryDispatcher&) = delete;

  void SetObserver(Observer observer);  // before Start

  // Starts a worker for every channel with pending deliveries.
  void Start();
  // Stops the workers (an attempt in flight finishes, bounded by its timeout).
  void Stop();
  // A channel has new deliveries: its worker (started when needed) looks at once.
  void Wake(const std::string& channel);
  // Paused workers send nothing (a replica that is not the leader); resuming looks again.
  void SetActive(bool active);

  // One pass over `channel` at `now` (the workers' step; tests call it directly): attempts the
  // due deliveries in order until one must wait. Returns when the next pending one is due;
  // nullopt when none is pending.
  std::optional<Clock::TimePoint> DeliverDue(const std::string& channel, Clock::TimePoint now);

 private:
  struct Worker {
    std::string channel;
    std::thread thread;
  };

  // Attempts one delivery; updates `delivery` in place. Returns the outcome.
  DeliveryOutcome Attempt(Delivery& delivery, std::string* channel_type);
  std::chrono::milliseconds Backoff(int attempts);
  void Run(Worker& worker);
  void EnsureWorkerLocked(const std::string& channel) REQUIRES(mu_);

  Outbox& outbox_;
  NotificationTransport& transport_;
  SecretResolver& secrets_;
  const ChannelLookup channels_;
  const Clock& clock_;
  const Options options_;
  Observer observer_;

  Mutex mu_;
  CondVar cv_;
  std::map<std::string, std::unique_ptr<Worker>> workers_ GUARDED_BY(mu_);
  // Channels whose worker must look again before it sleeps (Wake, SetActive).
  std::set<std::string> woken_channels_ GUARDED_BY(mu_);
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool active_ GUARDED_BY(mu_) = true;
  int next_worker_number_ GUARDED_BY(mu_) = 1;
  Mutex random_mu_;
  std::mt19937_64 random_ GUARDED_BY(random_mu_);
};

}  // namespace pharos
