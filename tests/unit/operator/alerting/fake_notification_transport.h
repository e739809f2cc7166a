#pragma once

// A NotificationTransport double for the delivery tests: records every message and answers
// from a script (then 200).

#include <deque>
#include <mutex>
#include <vector>

#include "operator/alerting/notification_transport.h"

namespace pharos::testing {

class FakeNotificationTransport final : public NotificationTransport {
 public:
  TransportResult Send(const OutgoingMessage& message) override {
    std::lock_guard lock(mu_);
    sent_.push_back(message);
    if (script_.empty()) {
      TransportResult ok;
      ok.status = std::holds_alternative<MailMessage>(message.content) ? 250 : 200;
      ok.smtp = std::holds_alternative<MailMessage>(message.content);
      return ok;
    }
    TransportResult next = script_.front();
    script_.pop_front();
    return next;
  }
  void Then(int status, std::chrono::seconds retry_after = std::chrono::seconds(0),
            std::string body = "") {
    TransportResult result;
    result.status = status;
    result.retry_after = retry_after;
    result.body = std::move(body);
    std::lock_guard lock(mu_);
    script_.push_back(result);
  }
  void ThenUnreachable() {
    TransportResult result;
    result.error = "Couldn't connect to server";
    std::lock_guard lock(mu_);
    script_.push_back(result);
  }
  std::vector<OutgoingMessage> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  // The bodies of the HTTP messages sent, as JSON.
  std::vector<nlohmann::json> Bodies() const {
    std::vector<nlohmann::json> out;
    for (const OutgoingMessage& message : sent()) {
      if (const auto* http = std::get_if<HttpMessage>(&message.content)) {
        out.push_back(nlohmann::json::parse(http->body));
      }
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<OutgoingMessage> sent_;
  std::deque<TransportResult> script_;
};

}  // namespace pharos::testing
