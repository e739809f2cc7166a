#include "operator/web/ip_range.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos {
namespace {

using ::testing::HasSubstr;

IpRange Range(const char* text) {
  Result<IpRange> range = IpRange::Parse(text);
  EXPECT_TRUE(range.ok()) << range.error();
  return range.ok() ? *range : IpRange();
}

TEST(IpRangeTest, MatchesAddressesInsideTheRange) {
  const IpRange net = Range("10.0.0.0/8");
  EXPECT_TRUE(net.Contains("10.0.0.1"));
  EXPECT_TRUE(net.Contains("10.255.255.255"));
  EXPECT_FALSE(net.Contains("11.0.0.1"));
  EXPECT_TRUE(net.Contains("::ffff:10.1.2.3"));  // IPv4-mapped
  EXPECT_FALSE(net.Contains("not an address"));
  EXPECT_FALSE(net.Contains("2001:db8::1"));
  const IpRange odd = Range("192.168.1.128/25");
  EXPECT_TRUE(odd.Contains("192.168.1.200"));
  EXPECT_FALSE(odd.Contains("192.168.1.127"));
  EXPECT_TRUE(Range("0.0.0.0/0").Contains("8.8.8.8"));
}

TEST(IpRangeTest, SingleHostsAndIpv6) {
  EXPECT_TRUE(Range("127.0.0.1").Contains("127.0.0.1"));
  EXPECT_FALSE(Range("127.0.0.1").Contains("127.0.0.2"));
  EXPECT_EQ(Range("127.0.0.1").ToString(), "127.0.0.1/32");
  const IpRange v6 = Range("2001:db8::/32");
  EXPECT_TRUE(v6.Contains("2001:db8:ffff::1"));
  EXPECT_FALSE(v6.Contains("2001:db9::1"));
  EXPECT_TRUE(Range("::1").Contains("::1"));
}

TEST(IpRangeTest, RefusesMalformedRangesSayingWhy) {
  EXPECT_THAT(IpRange::Parse("10.0.0.0/").error(), HasSubstr("must be a number"));
  EXPECT_THAT(IpRange::Parse("10.0.0.0/33").error(),
              HasSubstr("prefix length 33 is larger than 32"));
  EXPECT_THAT(IpRange::Parse("10.0.0.1/24").error(), HasSubstr("did you mean 10.0.0.0/24?"));
  EXPECT_THAT(IpRange::Parse("example.com").error(), HasSubstr("is not an IP address"));
  EXPECT_EQ(IpRange::Parse("x").error_kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace pharos
