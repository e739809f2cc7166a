#include "common/target_policy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace pharos {
namespace {

// The default list is tested as data: addresses are only parsed and compared, never contacted.

sockaddr_storage Address(const std::string& text) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "bad test address " << text;
  }
  return storage;
}

std::optional<std::string> CheckAddress(const TargetPolicy& policy, const std::string& text) {
  const sockaddr_storage storage = Address(text);
  return policy.Check(reinterpret_cast<const sockaddr*>(&storage));
}

TEST(TargetPolicyTest, EveryDefaultEntryParsesAndBlocksItsOwnNetwork) {
  const TargetPolicy policy;
  ASSERT_FALSE(TargetPolicy::DefaultDenied().empty());
  for (const auto& entry : TargetPolicy::DefaultDenied()) {
    auto cidr = Cidr::Parse(entry.cidr);
    ASSERT_TRUE(cidr.ok()) << entry.cidr;
    EXPECT_NE(std::string(entry.why), "");
    const std::string network = cidr->ToString().substr(0, cidr->ToString().find('/'));
    EXPECT_TRUE(CheckAddress(policy, network).has_value()) << entry.cidr;
  }
}

TEST(TargetPolicyTest, DefaultsBlockMetadataAndLinkLocalWithTheDocumentedReason) {
  const TargetPolicy policy;
  EXPECT_EQ(CheckAddress(policy, "169.254.169.254"),
            "target address 169.254.169.254 is blocked by the probe's policy");
  for (const char* blocked : {"169.254.0.1", "169.254.170.2", "169.254.255.255", "fe80::1",
                              "febf:ffff::1", "fd00:ec2::254", "fd20:ce::254", "100.100.100.200",
                              "192.0.0.192", "168.63.129.16", "64:ff9b::a9fe:a9fe"}) {
    EXPECT_TRUE(CheckAddress(policy, blocked).has_value()) << blocked;
  }
}

TEST(TargetPolicyTest, DefaultsAllowLoopbackPrivateAndPublicAddresses) {
  const TargetPolicy policy;
  for (const char* allowed :
       {"127.0.0.1", "127.0.0.2", "::1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.100.100.201",
        "169.253.255.255", "169.255.0.0", "fd00:ec2::253", "fec0::1", "8.8.8.8", "2001:db8::1"}) {
    EXPECT_EQ(CheckAddress(policy, allowed), std::nullopt) << allowed;
  }
}

TEST(TargetPolicyTest, Ipv4MappedIpv6IsJudgedAsTheIpv4Address) {
  const TargetPolicy policy;
  EXPECT_EQ(CheckAddress(policy, "::ffff:169.254.169.254"),
            "target address ::ffff:169.254.169.254 is blocked by the probe's policy");
  EXPECT_EQ(CheckAddress(policy, "::ffff:127.0.0.1"), std::nullopt);
  auto denied = TargetPolicy::Create({"127.0.0.2/32"}, {});
  ASSERT_TRUE(denied.ok());
  EXPECT_TRUE(CheckAddress(*denied, "::ffff:127.0.0.2").has_value());
}

TEST(TargetPolicyTest, AllowWinsOverDefaultsAndDenyWinsOverAllow) {
  auto policy = TargetPolicy::Create({"169.254.169.254/32", "127.0.0.2"}, {"169.254.0.0/16"});
  ASSERT_TRUE(policy.ok()) << policy.error();
  EXPECT_EQ(CheckAddress(*policy, "169.254.1.1"), std::nullopt);      // allow > defaults
  EXPECT_TRUE(CheckAddress(*policy, "169.254.169.254").has_value());  // deny > allow
  EXPECT_EQ(CheckAddress(*policy, "127.0.0.2"),
            "target address 127.0.0.2 is blocked by the probe's policy");
  EXPECT_EQ(CheckAddress(*policy, "127.0.0.3"), std::nullopt);
}

TEST(TargetPolicyTest, MergedPolicyAddsTheOthersEntries) {
  auto probe = TargetPolicy::Create({"127.0.0.2/32"}, {});
  auto cluster = TargetPolicy::Create({"10.0.0.0/8"}, {"169.254.10.0/24"});
  ASSERT_TRUE(probe.ok() && cluster.ok());
  const TargetPolicy merged = probe->MergedWith(*cluster);
  EXPECT_TRUE(CheckAddress(merged, "127.0.0.2").has_value());
  EXPECT_TRUE(CheckAddress(merged, "10.1.2.3").has_value());
  EXPECT_EQ(CheckAddress(merged, "169.254.10.9"), std::nullopt);
  EXPECT_TRUE(CheckAddress(merged, "169.254.169.254").has_value());
}

TEST(TargetPolicyTest, CidrParsingNormalisesAndRefusesBadText) {
  auto cidr = Cidr::Parse("10.1.2.3/8");
  ASSERT_TRUE(cidr.ok());
  EXPECT_EQ(cidr->ToString(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::Parse("[fe80::1]/10")->ToString(), "fe80::/10");
  EXPECT_EQ(Cidr::Parse("::1")->ToString(), "::1/128");
  EXPECT_EQ(Cidr::Parse("0.0.0.0/0")->prefix, 0);
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0/8",
                          "example.com/8", "10.0.0.0/8x", "1.2.3.4/ 8"}) {
    EXPECT_FALSE(Cidr::Parse(bad).ok()) << bad;
  }
  auto refused = TargetPolicy::Create({"nonsense"}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("--deny-cidr: \"nonsense\" is not a CIDR"), std::string::npos)
      << refused.error();
  EXPECT_FALSE(TargetPolicy::Create({}, {"1.2.3.4/40"}).ok());
}

TEST(TargetPolicyTest, ZeroPrefixCoversTheWholeFamilyOnly) {
  auto policy = TargetPolicy::Create({"0.0.0.0/0"}, {});
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(CheckAddress(*policy, "127.0.0.1").has_value());
  EXPECT_EQ(CheckAddress(*policy, "::1"), std::nullopt);
}

TEST(TargetPolicyTest, LiteralsAreCheckedAndNamesAreLeftToTheLookup) {
  const TargetPolicy policy;
  EXPECT_TRUE(policy.CheckLiteral("169.254.169.254").has_value());
  EXPECT_TRUE(policy.CheckLiteral("[fd00:ec2::254]").has_value());
  EXPECT_EQ(policy.CheckLiteral("metadata.google.internal"), std::nullopt);
  EXPECT_EQ(policy.CheckLiteral("127.0.0.1"), std::nullopt);
  EXPECT_EQ(policy.CheckLiteral("169.254.0.0/16"), std::nullopt);
}

}  // namespace
}  // namespace pharos
