#include "operator/alerting/delivery_dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>

#include "common/logging.h"
#include "operator/alerting/message_renderer.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("alerting");
  return logger;
}

// How long a worker waits when the outbox cannot be read, and at most between looks.
constexpr std::chrono::milliseconds kStoreRetry{5'000};
constexpr std::chrono::milliseconds kMaxSleep{60'000};

std::string Reason(const TransportResult& result) {
  std::string body = result.body;
  for (char& c : body) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (body.size() > 300) body = body.substr(0, 297) + "...";
  if (!result.error.empty()) {
    return (result.smtp ? "SMTP: " : "") + result.error +
           (result.status != 0 ? " (reply " + std::to_string(result.status) + ")" : "");
  }
  return (result.smtp ? "SMTP " : "HTTP ") + std::to_string(result.status) +
         (body.empty() ? "" : ": " + body);
}

}  // namespace

const char* ToString(DeliveryOutcome outcome) {
  switch (outcome) {
    case DeliveryOutcome::kDelivered:
      return "delivered";
    case DeliveryOutcome::kRetry:
      return "retry";
    case DeliveryOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

DeliveryDispatcher::DeliveryDispatcher(Outbox& outbox, NotificationTransport& transport,
                                       SecretResolver& secrets, ChannelLookup channels,
                                       const Clock& clock, Options options)
    : outbox_(outbox),
      transport_(transport),
      secrets_(secrets),
      channels_(std::move(channels)),
      clock_(clock),
      options_(std::move(options)),
      random_(std::random_device{}()) {}

DeliveryDispatcher::~DeliveryDispatcher() { Stop(); }

void DeliveryDispatcher::SetObserver(Observer observer) { observer_ = std::move(observer); }

void DeliveryDispatcher::Start() {
  Result<std::vector<std::string>> channels = outbox_.PendingChannels();
  MutexLock lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  if (!channels) {
    Log().Error(
        "reading the notification outbox failed; pending notifications are sent when "
        "their channel next gets one",
        {{"error", channels.error()}});
    return;
  }
  for (const std::string& channel : *channels) EnsureWorkerLocked(channel);
}

void DeliveryDispatcher::Stop() {
  std::map<std::string, std::unique_ptr<Worker>> workers;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    workers = std::move(workers_);
  }
  cv_.NotifyAll();
  for (auto& [channel, worker] : workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void DeliveryDispatcher::Wake(const std::string& channel) {
  {
    MutexLock lock(mu_);
    if (!started_ || stopping_) return;
    EnsureWorkerLocked(channel);
    woken_channels_.insert(channel);
  }
  cv_.NotifyAll();
}

void DeliveryDispatcher::SetActive(bool active) {
  // A new leader sends what the previous one left pending, on channels it has no worker for yet.
  Result<std::vector<std::string>> pending =
      active ? outbox_.PendingChannels()
             : Result<std::vector<std::string>>(std::vector<std::string>{});
  {
    MutexLock lock(mu_);
    active_ = active;
    if (started_ && !stopping_ && pending) {
      for (const std::string& channel : *pending) EnsureWorkerLocked(channel);
    }
    for (const auto& [channel, worker] : workers_) woken_channels_.insert(channel);
  }
  cv_.NotifyAll();
}

void DeliveryDispatcher::EnsureWorkerLocked(const std::string& channel) {
  if (workers_.contains(channel)) return;
  auto worker = std::make_unique<Worker>();
  worker->channel = channel;
  Worker* raw = worker.get();
  const int number = next_worker_number_++;
  worker->thread = std::thread([this, raw, number] {
    const std::string name = "notify-" + std::to_string(number);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    Run(*raw);
  });
  workers_.emplace(channel, std::move(worker));
}

void DeliveryDispatcher::Run(Worker& worker) {
  MutexLock lock(mu_);
  while (!stopping_) {
    std::optional<Clock::TimePoint> next;
    woken_channels_.erase(worker.channel);
    if (active_) {
      lock.Unlock();
      next = DeliverDue(worker.channel, clock_.Now());
      lock.Lock();
    }
    if (stopping_) break;
    if (woken_channels_.contains(worker.channel)) continue;
    auto wait = kMaxSleep;
    if (active_ && next) {
      const auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
      wait = std::clamp(until, std::chrono::milliseconds(1), kMaxSleep);
    }
    cv_.WaitFor(mu_, wait, [&]() REQUIRES(mu_) {
      return stopping_ || woken_channels_.contains(worker.channel);
    });
  }
}

std::optional<Clock::TimePoint> DeliveryDispatcher::DeliverDue(const std::string& channel,
                                                               Clock::TimePoint now) {
  while (true) {
    Result<std::optional<Delivery>> next = outbox_.NextPending(channel);
    if (!next) {
      Log().Error("reading the notification outbox failed; retrying",
                  {{"channel", channel}, {"error", next.error()}});
      return now + kStoreRetry;
    }
    if (!next->has_value()) return std::nullopt;
    Delivery delivery = std::move(**next);
    if (delivery.next_attempt_at > now) return delivery.next_attempt_at;
    std::string type;
    const DeliveryOutcome outcome = Attempt(delivery, &type);
    if (Status recorded = outbox_.Update(delivery); !recorded) {
      // Sent but not recorded: it is sent again later with the same deliveryId.
      Log().Error("recording a notification attempt failed; it will be attempted again",
                  {{"channel", channel}, {"delivery", delivery.id}, {"error", recorded.error()}});
      return clock_.Now() + kStoreRetry;
    }
    if (observer_) observer_(delivery, outcome, type);
    if (outcome == DeliveryOutcome::kRetry) return delivery.next_attempt_at;
    {
      MutexLock lock(mu_);
      if (stopping_ || !active_) return std::nullopt;
    }
    now = clock_.Now();
  }
}

std::chrono::milliseconds DeliveryDispatcher::Backoff(int attempts) {
  const double base = static_cast<double>(options_.initial_backoff.count()) *
                      std::pow(2.0, std::clamp(attempts - 1, 0, 30));
  const double capped = std::min(base, static_cast<double>(options_.max_backoff.count()));
  MutexLock lock(random_mu_);
  // ±20%: receivers coming back are not hit by every sender at once.
  const double jitter = std::uniform_real_distribution<double>(0.8, 1.2)(random_);
  return std::chrono::milliseconds(static_cast<int64_t>(capped * jitter));
}

DeliveryOutcome DeliveryDispatcher::Attempt(Delivery& delivery, std::string* channel_type) {
  const auto fail = [&](std::string reason) {
    delivery.state = DeliveryState::kFailed;
    delivery.last_error = std::move(reason);
    Log().Warn("notification failed and will not be retried",
               {{"channel", delivery.channel},
                {"event", ToString(delivery.notification.event)},
                {"delivery", delivery.id},
                {"reason", delivery.last_error},
                {"hint",
                 "fix the AlertChannel (URL, credentials) or the receiver; "
                 "`pharos notify test` checks a channel"}});
    return DeliveryOutcome::kFailed;
  };
  const auto retry = [&](std::string reason, std::chrono::seconds retry_after) {
    const Clock::TimePoint now = clock_.Now();
    delivery.last_error = std::move(reason);
    if (now - delivery.created_at >= options_.give_up_after) {
      return fail("gave up after " + std::to_string(delivery.attempts) +
                  " attempts; last: " + delivery.last_error);
    }
    const auto delay = retry_after.count() > 0 ? std::min<std::chrono::milliseconds>(
                                                     retry_after, options_.max_retry_after)
                                               : Backoff(delivery.attempts);
    delivery.next_attempt_at = now + delay;
    Log().Info("notification not delivered yet; retrying",
               {{"channel", delivery.channel},
                {"delivery", delivery.id},
                {"attempts", delivery.attempts},
                {"retry_in_ms", static_cast<int64_t>(delay.count())},
                {"reason", delivery.last_error}});
    return DeliveryOutcome::kRetry;
  };

  std::shared_ptr<const AlertChannel> channel = channels_(delivery.channel);
  if (!channel) {
    return fail("AlertChannel " + delivery.channel + " does not exist (any more)");
  }
  *channel_type = ToString(channel->type);
  if (!MessageRenderer::Accepts(channel->type, delivery.notification.event)) {
    return fail(std::string("a ") + ToString(channel->type) + " channel takes no " +
                ToString(delivery.notification.event) + " notifications");
  }
  ChannelValues values;
  Result<std::string> url = secrets_.Resolve(*channel, channel->url);
  if (!url) {
    ++delivery.attempts;
    return retry(url.error(), std::chrono::seconds(0));
  }
  values.url = std::move(url).value();
  if (!channel->secret.empty()) {
    Result<std::string> secret = secrets_.Resolve(*channel, channel->secret);
    if (!secret) {
      ++delivery.attempts;
      return retry(secret.error(), std::chrono::seconds(0));
    }
    values.secret = std::move(secret).value();
  }
  Result<OutgoingMessage> message =
      MessageRenderer::Render(*channel, delivery, values, options_.user_agent);
  if (!message) return fail(message.error());
  ++delivery.attempts;
  const TransportResult result = transport_.Send(*message);
  if (result.error.empty() && ((!result.smtp && result.status >= 200 && result.status < 300) ||
                               (result.smtp && result.status == 250))) {
    delivery.state = DeliveryState::kDelivered;
    delivery.delivered_at = clock_.Now();
    delivery.last_error.clear();
    return DeliveryOutcome::kDelivered;
  }
  if (result.permanent_error) return fail(Reason(result));
  if (!result.error.empty() || result.smtp) return retry(Reason(result), result.retry_after);
  const int status = result.status;
  if (status == 408 || status == 429 || status >= 500) {
    return retry(Reason(result), result.retry_after);
  }
  return fail(Reason(result));
}

}  // namespace pharos
