#include "operator/kube/leader_elector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/manual_clock.h"
#include "common/rfc3339.h"
#include "unit/operator/kube/fake_kube_client.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeKubeClient;
using testing::MakeStatusResponse;
using testing::RecordedCall;

LeaderElectionConfig Config(const std::string& identity) {
  LeaderElectionConfig config;
  config.namespace_name = "pharos-system";
  config.lease_name = "pharos-operator";
  config.identity = identity;
  return config;
}

std::unique_ptr<LeaderElector> Elector(FakeKubeClient& client, const Clock& clock,
                                       LeaderElectionConfig config,
                                       LeaderElector::Sleeper sleeper = {}) {
  auto elector = LeaderElector::New(client, std::move(config), clock, std::move(sleeper));
  EXPECT_TRUE(elector.ok()) << elector.error();
  return std::move(elector).value();
}

nlohmann::json StoredLease(FakeKubeClient& client) {
  auto lease = client.Stored(ApiResource::Leases(), "pharos-system", "pharos-operator");
  EXPECT_TRUE(lease.has_value());
  return lease.value_or(nlohmann::json::object());
}

TEST(LeaderElectorTest, CreatesTheLeaseWhenItDoesNotExist) {
  FakeKubeClient client;
  ManualClock clock;
  auto a = Elector(client, clock, Config("a"));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  const nlohmann::json lease = StoredLease(client);
  EXPECT_EQ(lease["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(lease["kind"], "Lease");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "a");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
  EXPECT_EQ(lease["spec"]["acquireTime"], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(lease["spec"]["renewTime"], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(a->Leader(), "a");
}

TEST(LeaderElectorTest, RenewingKeepsAcquireTimeAndMovesRenewTime) {
  FakeKubeClient client;
  ManualClock clock;
  auto a = Elector(client, clock, Config("a"));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  clock.Advance(milliseconds(2'000'123));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  const nlohmann::json lease = StoredLease(client);
  EXPECT_EQ(lease["spec"]["acquireTime"], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(lease["spec"]["renewTime"], "2026-01-01T00:33:20.123000Z");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
}

TEST(LeaderElectorTest, TakesOverOnlyAfterTheRecordStayedUnchangedForTheLeaseDuration) {
  FakeKubeClient client;
  ManualClock clock;
  auto a = Elector(client, clock, Config("a"));
  auto b = Elector(client, clock, Config("b"));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());  // b sees the record for the first time now
  clock.Advance(seconds(10));
  ASSERT_TRUE(a->TryAcquireOrRenew());   // a renews: the record changes
  EXPECT_FALSE(b->TryAcquireOrRenew());  // b sees the change: its 15 s start again
  clock.Advance(milliseconds(14'999));
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock.Advance(milliseconds(1));
  ASSERT_TRUE(b->TryAcquireOrRenew());
  const nlohmann::json lease = StoredLease(client);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  EXPECT_EQ(lease["spec"]["acquireTime"], lease["spec"]["renewTime"]);
  EXPECT_EQ(lease["spec"]["acquireTime"], FormatRfc3339(clock.Now(), Rfc3339Precision::kMicros));
  EXPECT_EQ(b->Leader(), "b");
  // a, seeing b's record, does not take it back.
  EXPECT_FALSE(a->TryAcquireOrRenew());
  EXPECT_EQ(a->Leader(), "b");
}

TEST(LeaderElectorTest, ExpiryIgnoresTheHoldersRenewTime) {
  FakeKubeClient client;
  ManualClock clock;
  // Another replica with a badly skewed clock wrote a renewTime a year ago.
  client.Put(ApiResource::Leases(),
             {{"apiVersion", "coordination.k8s.io/v1"},
              {"kind", "Lease"},
              {"metadata", {{"name", "pharos-operator"}, {"namespace", "pharos-system"}}},
              {"spec",
               {{"holderIdentity", "skewed"},
                {"leaseDurationSeconds", 15},
                {"renewTime", "2025-01-01T00:00:00.000000Z"},
                {"leaseTransitions", 4}}}});
  auto b = Elector(client, clock, Config("b"));
  EXPECT_FALSE(b->TryAcquireOrRenew()) << "the record was only just observed";
  clock.Advance(seconds(14));
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock.Advance(seconds(1));
  ASSERT_TRUE(b->TryAcquireOrRenew());
  EXPECT_EQ(StoredLease(client)["spec"]["leaseTransitions"], 5);
}

TEST(LeaderElectorTest, LosingThePutRaceIsNotLeading) {
  FakeKubeClient client;
  ManualClock clock;
  auto a = Elector(client, clock, Config("a"));
  client.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "create") return MakeStatusResponse(409, "AlreadyExists", "exists");
    return std::nullopt;
  });
  EXPECT_FALSE(a->TryAcquireOrRenew());
  client.SetInterceptor({});
  ASSERT_TRUE(a->TryAcquireOrRenew());
  client.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "update") return MakeStatusResponse(409, "Conflict", "modified");
    return std::nullopt;
  });
  EXPECT_FALSE(a->TryAcquireOrRenew());
}

TEST(LeaderElectorTest, TwoCandidatesRacingExactlyOneWins) {
  FakeKubeClient client;
  ManualClock clock;
  auto a = Elector(client, clock, Config("a"));
  auto b = Elector(client, clock, Config("b"));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  ASSERT_FALSE(b->TryAcquireOrRenew());
  clock.Advance(seconds(15));
  // Both see the expired lease; a third party's write lands between b's GET and PUT.
  bool interfered = false;
  client.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "update" && !interfered) {
      interfered = true;
      auto lease = client.Stored(ApiResource::Leases(), "pharos-system", "pharos-operator");
      client.Put(ApiResource::Leases(), *lease);  // bumps the resourceVersion
    }
    return std::nullopt;
  });
  EXPECT_FALSE(b->TryAcquireOrRenew()) << "the PUT carried a stale resourceVersion";
  EXPECT_EQ(StoredLease(client)["spec"]["holderIdentity"], "a");
}

TEST(LeaderElectorTest, ReleaseLetsASuccessorTakeOverAtOnce) {
  FakeKubeClient client;
  ManualClock clock;
  auto b = Elector(client, clock, Config("b"));
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  // Run a's loop briefly on a thread: it acquires, then sleeps (returns at once) and renews.
  LeaderElectionConfig looping = Config("a");
  looping.on_started_leading = [&] { started = true; };
  looping.on_stopped_leading = [&] { stopped = true; };
  auto running = Elector(client, clock, looping, [&](milliseconds) {
    std::this_thread::yield();
    return true;
  });
  running->Start();
  while (!started) std::this_thread::yield();
  EXPECT_TRUE(running->IsLeader());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  running->Stop();
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(running->IsLeader());
  const nlohmann::json lease = StoredLease(client);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 1);
  ASSERT_TRUE(b->TryAcquireOrRenew()) << "a released lease is free at once";
  EXPECT_EQ(StoredLease(client)["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElectorTest, StopWithoutReleaseLeavesTheLeaseToExpire) {
  FakeKubeClient client;
  ManualClock clock;
  auto config = Config("a");
  config.release_on_stop = false;
  std::atomic<bool> started{false};
  config.on_started_leading = [&] { started = true; };
  auto a = Elector(client, clock, config, [](milliseconds) {
    std::this_thread::yield();
    return true;
  });
  a->Start();
  while (!started) std::this_thread::yield();
  a->Stop();
  EXPECT_EQ(StoredLease(client)["spec"]["holderIdentity"], "a");
  auto b = Elector(client, clock, Config("b"));
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock.Advance(seconds(15));
  EXPECT_TRUE(b->TryAcquireOrRenew());
}

TEST(LeaderElectorTest, StopsLeadingAtOnceWhenRenewalFailsPastTheDeadline) {
  FakeKubeClient client;
  ManualClock clock;
  std::atomic<bool> fail_renewals{false};
  client.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (fail_renewals && call.verb == "get") {
      return MakeStatusResponse(503, "ServiceUnavailable", "apiserver away");
    }
    return std::nullopt;
  });
  auto config = Config("a");
  std::chrono::steady_clock::time_point last_success{};
  std::chrono::steady_clock::time_point stopped_at{};
  std::atomic<bool> stopped{false};
  std::atomic<int> renewals{0};
  config.on_started_leading = [&] { last_success = clock.SteadyNow(); };
  config.on_stopped_leading = [&] {
    stopped_at = clock.SteadyNow();
    stopped = true;
  };
  LeaderElector* self = nullptr;
  auto a = Elector(client, clock, config, [&](milliseconds delay) {
    // Virtual time: each sleep moves the clock. After three good renewals the API server
    // becomes unreachable.
    if (self->IsLeader() && !fail_renewals && ++renewals == 3) {
      last_success = clock.SteadyNow();
      fail_renewals = true;
    }
    clock.Advance(delay);
    return !stopped;
  });
  self = a.get();
  a->Run();  // returns when the sleeper says stop (after OnStoppedLeading)
  ASSERT_TRUE(stopped);
  const auto lost_after = stopped_at - last_success;
  // The deadline is 10 s after the last renewal; the lease (15 s) would still be ours.
  EXPECT_GE(lost_after, seconds(10));
  EXPECT_LT(lost_after, seconds(15));
  EXPECT_FALSE(a->IsLeader());
}

TEST(LeaderElectorTest, IsLeaderTurnsFalseOnItsOwnWhenRenewalsStall) {
  FakeKubeClient client;
  ManualClock clock;
  std::atomic<bool> started{false};
  std::atomic<bool> hold{true};
  auto config = Config("a");
  config.on_started_leading = [&] { started = true; };
  // The loop's sleep never returns while `hold` is set: a stalled renewal.
  auto a = Elector(client, clock, config, [&](milliseconds) {
    while (hold) std::this_thread::yield();
    return false;
  });
  a->Start();
  while (!started) std::this_thread::yield();
  EXPECT_TRUE(a->IsLeader());
  clock.Advance(milliseconds(9'999));
  EXPECT_TRUE(a->IsLeader());
  clock.Advance(milliseconds(1));
  EXPECT_FALSE(a->IsLeader());
  hold = false;
  a->Stop();
}

TEST(LeaderElectorTest, ARenewalCountsFromWhenItWasSentNotFromItsSlowAnswer) {
  FakeKubeClient client;
  ManualClock clock;
  // The lease already names "a" (a restarted replica): taking it is a PUT, stored at once but
  // answered 8 s later (a slow API server or network).
  ASSERT_TRUE(Elector(client, clock, Config("a"))->TryAcquireOrRenew());
  client.SetInterceptor([&](const RecordedCall& call) -> std::optional<KubeResponse> {
    if (call.verb == "update") clock.Advance(seconds(8));
    return std::nullopt;
  });
  std::atomic<bool> started{false};
  std::atomic<bool> hold{true};
  auto config = Config("a");
  config.on_started_leading = [&] { started = true; };
  auto a = Elector(client, clock, config, [&](milliseconds) {
    while (hold) std::this_thread::yield();
    return false;
  });
  const auto sent = clock.SteadyNow();
  a->Start();
  while (!started) std::this_thread::yield();
  ASSERT_EQ(clock.SteadyNow() - sent, seconds(8));
  EXPECT_TRUE(a->IsLeader());
  // Another replica saw the write at about `sent` and may take over at sent + 15 s, so this one
  // must stop at sent + 10 s (the renew deadline), not 10 s after the answer.
  clock.Advance(milliseconds(1'999));
  EXPECT_TRUE(a->IsLeader());
  clock.Advance(milliseconds(1));
  EXPECT_FALSE(a->IsLeader());
  hold = false;
  a->Stop();
}

TEST(LeaderElectorTest, NewChecksTheConfiguration) {
  FakeKubeClient client;
  ManualClock clock;
  auto bad = Config("a");
  bad.renew_deadline = seconds(15);
  EXPECT_FALSE(LeaderElector::New(client, bad, clock).ok());
  bad = Config("a");
  bad.retry_period = milliseconds(8'400);  // 1.2 × 8.4 s > 10 s
  EXPECT_FALSE(LeaderElector::New(client, bad, clock).ok());
  bad = Config("");
  auto no_identity = LeaderElector::New(client, bad, clock);
  ASSERT_FALSE(no_identity.ok());
  EXPECT_NE(no_identity.error().find("identity"), std::string::npos);
  EXPECT_TRUE(LeaderElector::New(client, Config("a"), clock).ok());
}

}  // namespace
}  // namespace pharos
