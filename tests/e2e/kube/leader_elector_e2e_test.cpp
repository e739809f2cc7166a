// LeaderElector against a real kube-apiserver: exactly one leader, takeover after a crash,
// fast handover on release.

#include <atomic>
#include <chrono>

#include "e2e/kube/kube_e2e_helpers.h"
#include "operator/kube/leader_elector.h"

namespace pharos::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LeaderElectorE2ETest : public KubeE2ETest {
 protected:
  // Short durations keep the test quick; the rule 4 s > 3 s > 1.2 × 0.5 s holds.
  LeaderElectionConfig Config(const std::string& identity, seconds lease = seconds(4)) {
    LeaderElectionConfig config;
    config.namespace_name = namespace_;
    config.lease_name = "pharos-operator";
    config.identity = identity;
    config.lease_duration = lease;
    config.renew_deadline = seconds(3);
    config.retry_period = milliseconds(500);
    return config;
  }
  std::unique_ptr<LeaderElector> Elector(LeaderElectionConfig config) {
    auto elector = LeaderElector::New(*client_, std::move(config), clock_);
    EXPECT_TRUE(elector.ok()) << elector.error();
    return std::move(elector).value();
  }
  nlohmann::json Lease() {
    return client_->Get(ApiResource::Leases(), namespace_, "pharos-operator").body;
  }

  SystemClock clock_;
};

TEST_F(LeaderElectorE2ETest, ExactlyOneOfTwoLeads) {
  std::atomic<int> started{0};
  auto a_config = Config("replica-a");
  a_config.on_started_leading = [&] { ++started; };
  auto b_config = Config("replica-b");
  b_config.on_started_leading = [&] { ++started; };
  auto a = Elector(a_config);
  auto b = Elector(b_config);
  a->Start();
  b->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader() || b->IsLeader(); }));
  // Watch the lease being renewed several times; at no point may both lead.
  const std::string first_renew = JsonStringAt(Lease(), {"spec", "renewTime"});
  int renewals = 0;
  std::string last_renew = first_renew;
  ASSERT_TRUE(Eventually([&] {
    EXPECT_FALSE(a->IsLeader() && b->IsLeader());
    const std::string renew = JsonStringAt(Lease(), {"spec", "renewTime"});
    if (renew != last_renew) {
      ++renewals;
      last_renew = renew;
    }
    return renewals >= 4;
  }));
  EXPECT_EQ(started.load(), 1);
  const std::string holder = JsonStringAt(Lease(), {"spec", "holderIdentity"});
  EXPECT_EQ(holder, a->IsLeader() ? "replica-a" : "replica-b");
  EXPECT_EQ(a->Leader(), holder);
  EXPECT_EQ(b->Leader(), holder);
  a->Stop();
  b->Stop();
}

TEST_F(LeaderElectorE2ETest, ACrashedLeaderIsReplacedWithinTheLeaseDuration) {
  auto crashing = Config("replica-a");
  crashing.release_on_stop = false;  // Stop() then behaves like a crash: no release
  auto a = Elector(crashing);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }));
  auto b = Elector(Config("replica-b"));
  b->Start();
  // b observes a renewing.
  ASSERT_TRUE(Eventually([&] { return b->Leader() == "replica-a"; }));
  EXPECT_FALSE(b->IsLeader());
  const int transitions = Lease()["spec"]["leaseTransitions"].get<int>();

  a->Stop();
  const auto crashed = std::chrono::steady_clock::now();
  EXPECT_EQ(JsonStringAt(Lease(), {"spec", "holderIdentity"}), "replica-a");
  // b may take over only once the record stayed unchanged for the lease duration (4 s), and
  // then within a retry period or two (0.5 s + jitter up to 0.6 s each).
  ASSERT_TRUE(Eventually([&] { return b->IsLeader(); }, seconds(15)));
  const auto took = std::chrono::steady_clock::now() - crashed;
  EXPECT_GE(took, milliseconds(3'000)) << "took over before the lease could have expired";
  EXPECT_LT(took, seconds(9)) << "took over much later than the lease duration allows";
  const nlohmann::json lease = Lease();
  EXPECT_EQ(JsonStringAt(lease, {"spec", "holderIdentity"}), "replica-b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"].get<int>(), transitions + 1);
  b->Stop();
}

TEST_F(LeaderElectorE2ETest, ReleaseOnShutdownHandsOverWithoutWaitingForExpiry) {
  // A long lease: a successor that had to wait for expiry would need 30 s.
  std::atomic<bool> a_stopped{false};
  auto a_config = Config("replica-a", seconds(30));
  a_config.on_stopped_leading = [&] { a_stopped = true; };
  auto a = Elector(a_config);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }));
  auto b = Elector(Config("replica-b", seconds(30)));
  b->Start();
  ASSERT_TRUE(Eventually([&] { return b->Leader() == "replica-a"; }));

  a->Stop();
  EXPECT_TRUE(a_stopped);
  EXPECT_FALSE(a->IsLeader());
  const nlohmann::json released = Lease();
  // Either still released, or b already took it.
  const std::string holder = JsonStringAt(released, {"spec", "holderIdentity"});
  EXPECT_TRUE(holder.empty() || holder == "replica-b") << holder;
  ASSERT_TRUE(Eventually([&] { return b->IsLeader(); }, seconds(10)))
      << "b should lead within a few retry periods, far below the 30 s lease";
  EXPECT_EQ(JsonStringAt(Lease(), {"spec", "holderIdentity"}), "replica-b");
  b->Stop();
  const nlohmann::json after = Lease();
  EXPECT_EQ(JsonStringAt(after, {"spec", "holderIdentity"}), "");
  EXPECT_EQ(after["spec"]["leaseDurationSeconds"], 1);
}

}  // namespace
}  // namespace pharos::e2e
