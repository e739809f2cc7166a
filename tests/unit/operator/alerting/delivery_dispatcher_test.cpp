#include "operator/alerting/delivery_dispatcher.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/manual_clock.h"
#include "operator/alerting/memory_outbox.h"
#include "tests/unit/operator/alerting/fake_notification_transport.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

AlertChannel Webhook(const std::string& name) {
  AlertChannel channel;
  channel.meta.namespace_name = "shop";
  channel.meta.name = name;
  channel.type = ChannelType::kWebhook;
  channel.url.value = "http://127.0.0.1:9/" + name;
  return channel;
}

Notification Down(const std::string& incident) {
  Notification n;
  n.event = NotificationEvent::kDown;
  n.monitor_uid = "uid-1";
  n.monitor_namespace = "shop";
  n.monitor_name = "checkout";
  n.monitor_type = "http";
  n.monitor_target = "https://shop.example.com/health";
  n.state = "Down";
  n.incident = NotificationIncident{incident, ManualClock::DefaultStart(), std::nullopt};
  n.occurred_at = ManualClock::DefaultStart();
  return n;
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() {
    channels_["shop/hook"] = std::make_shared<const AlertChannel>(Webhook("hook"));
    DeliveryDispatcher::Options options;
    options.initial_backoff = seconds(2);
    options.max_backoff = minutes(1);
    options.give_up_after = minutes(30);
    dispatcher_ = std::make_unique<DeliveryDispatcher>(
        outbox_, transport_, secrets_,
        [this](const std::string& key) -> std::shared_ptr<const AlertChannel> {
          auto found = channels_.find(key);
          return found == channels_.end() ? nullptr : found->second;
        },
        clock_, options);
  }

  std::string Add(const Notification& n, const std::string& channel = "shop/hook") {
    Delivery delivery = Delivery::Of(n, channel, clock_.Now());
    EXPECT_EQ(*outbox_.Add({delivery}), 1u);
    return delivery.id;
  }

  ManualClock clock_;
  MemoryOutbox outbox_;
  testing::FakeNotificationTransport transport_;
  LocalSecretResolver secrets_;
  std::map<std::string, std::shared_ptr<const AlertChannel>> channels_;
  std::unique_ptr<DeliveryDispatcher> dispatcher_;
};

TEST_F(DispatcherTest, DeliveredOnTwoHundredWithTheSameIdInPayloadAndHeader) {
  const std::string id = Add(Down("inc-1"));
  EXPECT_EQ(dispatcher_->DeliverDue("shop/hook", clock_.Now()), std::nullopt);
  const Delivery done = *outbox_.Get(id);
  EXPECT_EQ(done.state, DeliveryState::kDelivered);
  EXPECT_EQ(done.attempts, 1);
  const std::vector<OutgoingMessage> sent = transport_.sent();
  ASSERT_EQ(sent.size(), 1u);
  const auto& http = std::get<HttpMessage>(sent[0].content);
  EXPECT_EQ(nlohmann::json::parse(http.body)["deliveryId"], id);
  EXPECT_NE(std::find(http.headers.begin(), http.headers.end(),
                      std::pair<std::string, std::string>{"X-Pharos-Delivery", id}),
            http.headers.end());
}

TEST_F(DispatcherTest, ServerErrorsRetryWithGrowingBackoffUntilAccepted) {
  transport_.Then(500);
  transport_.Then(503);
  transport_.ThenUnreachable();
  const std::string id = Add(Down("inc-1"));
  auto next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  ASSERT_TRUE(next);
  const auto first_wait = *next - clock_.Now();
  EXPECT_GE(first_wait, milliseconds(1600));  // 2 s ± 20%
  EXPECT_LE(first_wait, milliseconds(2400));
  EXPECT_EQ(outbox_.Get(id)->last_error, "HTTP 500");
  // Not due yet: nothing is sent.
  EXPECT_EQ(dispatcher_->DeliverDue("shop/hook", clock_.Now()), next);
  EXPECT_EQ(transport_.sent().size(), 1u);
  clock_.SetNow(*next);
  next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  ASSERT_TRUE(next);
  EXPECT_GE(*next - clock_.Now(), milliseconds(3200));  // 4 s ± 20%
  clock_.SetNow(*next);
  next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  ASSERT_TRUE(next);
  EXPECT_NE(outbox_.Get(id)->last_error.find("Couldn't connect"), std::string::npos);
  clock_.SetNow(*next);
  EXPECT_EQ(dispatcher_->DeliverDue("shop/hook", clock_.Now()), std::nullopt);
  EXPECT_EQ(outbox_.Get(id)->state, DeliveryState::kDelivered);
  EXPECT_EQ(outbox_.Get(id)->attempts, 4);
}

TEST_F(DispatcherTest, TooManyRequestsWaitsForRetryAfter) {
  transport_.Then(429, seconds(30));
  const std::string id = Add(Down("inc-1"));
  auto next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  ASSERT_TRUE(next);
  EXPECT_EQ(*next - clock_.Now(), seconds(30));
  clock_.Advance(seconds(29));
  EXPECT_EQ(dispatcher_->DeliverDue("shop/hook", clock_.Now()), next);
  clock_.Advance(seconds(1));
  EXPECT_EQ(dispatcher_->DeliverDue("shop/hook", clock_.Now()), std::nullopt);
  EXPECT_EQ(outbox_.Get(id)->state, DeliveryState::kDelivered);
}

TEST_F(DispatcherTest, ClientErrorsFailAtOnceWithTheReason) {
  transport_.Then(400, seconds(0), "{\"error\":\"invalid_payload\"}");
  transport_.Then(408);  // a timeout answer is retried
  const std::string bad = Add(Down("inc-1"));
  clock_.Advance(milliseconds(1));
  const std::string next_one = Add(Down("inc-2"));
  auto next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  EXPECT_EQ(outbox_.Get(bad)->state, DeliveryState::kFailed);
  EXPECT_EQ(outbox_.Get(bad)->last_error, "HTTP 400: {\"error\":\"invalid_payload\"}");
  EXPECT_EQ(outbox_.Get(next_one)->state, DeliveryState::kPending);
  EXPECT_TRUE(next);
}

TEST_F(DispatcherTest, OneChannelsNotificationsGoInOrder) {
  transport_.Then(500);
  const std::string first = Add(Down("inc-1"));
  clock_.Advance(milliseconds(1));
  const std::string second = Add(Down("inc-2"));
  auto next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  ASSERT_TRUE(next);
  // The second waits behind the first: a recovery never overtakes its outage.
  EXPECT_EQ(transport_.sent().size(), 1u);
  EXPECT_EQ(outbox_.Get(second)->attempts, 0);
  clock_.SetNow(*next);
  EXPECT_EQ(dispatcher_->DeliverDue("shop/hook", clock_.Now()), std::nullopt);
  const auto bodies = transport_.Bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[1]["deliveryId"], first);
  EXPECT_EQ(bodies[2]["deliveryId"], second);
}

TEST_F(DispatcherTest, GivesUpAfterTheLimitAndFailsForAGoneChannel) {
  for (int i = 0; i < 100; ++i) transport_.Then(502);
  const std::string id = Add(Down("inc-1"));
  std::optional<Clock::TimePoint> next = clock_.Now();
  while (next) {
    clock_.SetNow(*next);
    next = dispatcher_->DeliverDue("shop/hook", clock_.Now());
  }
  const Delivery done = *outbox_.Get(id);
  EXPECT_EQ(done.state, DeliveryState::kFailed);
  EXPECT_NE(done.last_error.find("gave up after"), std::string::npos);
  EXPECT_GE(clock_.Now() - done.created_at, minutes(30));

  const std::string orphan = Add(Down("inc-2"), "shop/deleted");
  EXPECT_EQ(dispatcher_->DeliverDue("shop/deleted", clock_.Now()), std::nullopt);
  EXPECT_EQ(outbox_.Get(orphan)->state, DeliveryState::kFailed);
  EXPECT_NE(outbox_.Get(orphan)->last_error.find("does not exist"), std::string::npos);
}

TEST_F(DispatcherTest, AMissingSecretIsRetriedAndNamedNeverShown) {
  AlertChannel channel = Webhook("signed");
  channel.secret.env = "PHAROS_TEST_UNSET_SECRET_VARIABLE";
  channels_["shop/signed"] = std::make_shared<const AlertChannel>(channel);
  const std::string id = Add(Down("inc-1"), "shop/signed");
  ASSERT_TRUE(dispatcher_->DeliverDue("shop/signed", clock_.Now()));
  EXPECT_EQ(outbox_.Get(id)->state, DeliveryState::kPending);
  EXPECT_NE(outbox_.Get(id)->last_error.find("environment variable "
                                             "PHAROS_TEST_UNSET_SECRET_VARIABLE is not set"),
            std::string::npos);
  EXPECT_TRUE(transport_.sent().empty());
}

}  // namespace
}  // namespace pharos
