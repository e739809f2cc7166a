#include "common/name_syntax.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(NameSyntaxTest, Dns1123Label) {
  EXPECT_TRUE(IsDns1123Label("eu-west"));
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("0abc9"));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a-"));
  EXPECT_FALSE(IsDns1123Label("EU"));
  EXPECT_FALSE(IsDns1123Label("a.b"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
}

TEST(NameSyntaxTest, Dns1123Subdomain) {
  EXPECT_TRUE(IsDns1123Subdomain("checkout-api"));
  EXPECT_TRUE(IsDns1123Subdomain("api.v2"));
  EXPECT_TRUE(IsDns1123Subdomain(std::string(253, 'a')));
  EXPECT_FALSE(IsDns1123Subdomain(std::string(254, 'a')));
  EXPECT_FALSE(IsDns1123Subdomain(""));
  EXPECT_FALSE(IsDns1123Subdomain("a..b"));
  EXPECT_FALSE(IsDns1123Subdomain(".a"));
  EXPECT_FALSE(IsDns1123Subdomain("a."));
  EXPECT_FALSE(IsDns1123Subdomain("a-.b"));
  EXPECT_FALSE(IsDns1123Subdomain("Checkout"));
}

TEST(NameSyntaxTest, DomainName) {
  EXPECT_TRUE(IsDomainName("example.com"));
  EXPECT_TRUE(IsDomainName("example.com."));
  EXPECT_TRUE(IsDomainName("_dmarc.Example.COM"));
  EXPECT_TRUE(IsDomainName("localhost"));
  EXPECT_TRUE(IsDomainName("10.0.0.1"));
  EXPECT_FALSE(IsDomainName(""));
  EXPECT_FALSE(IsDomainName("."));
  EXPECT_FALSE(IsDomainName("exa mple.com"));
  EXPECT_FALSE(IsDomainName("a..com"));
  EXPECT_FALSE(IsDomainName("-a.com"));
  EXPECT_FALSE(IsDomainName(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(IsDomainName("https://example.com"));
}

TEST(NameSyntaxTest, HttpToken) {
  EXPECT_TRUE(IsHttpToken("Content-Type"));
  EXPECT_TRUE(IsHttpToken("X-Api_Key.v2!#$%&'*+^`|~"));
  EXPECT_FALSE(IsHttpToken(""));
  EXPECT_FALSE(IsHttpToken("Bad Name"));
  EXPECT_FALSE(IsHttpToken("a:b"));
  EXPECT_FALSE(IsHttpToken("caf\xc3\xa9"));
}

TEST(NameSyntaxTest, IpAddress) {
  EXPECT_TRUE(IsIpAddress("127.0.0.1"));
  EXPECT_TRUE(IsIpAddress("::1"));
  EXPECT_TRUE(IsIpAddress("2001:db8::1"));
  EXPECT_FALSE(IsIpAddress("256.0.0.1"));
  EXPECT_FALSE(IsIpAddress("example.com"));
  EXPECT_FALSE(IsIpAddress("[::1]"));
}

TEST(NameSyntaxTest, HostPort) {
  Result<HostPort> plain = ParseHostPort("dns.example.com");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "dns.example.com");
  EXPECT_EQ(plain->port, 0);
  Result<HostPort> v4 = ParseHostPort("127.0.0.1:5353");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 5353);
  Result<HostPort> v6 = ParseHostPort("[2001:db8::1]:53");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 53);
  Result<HostPort> v6_bare = ParseHostPort("[::1]");
  ASSERT_TRUE(v6_bare.ok());
  EXPECT_EQ(v6_bare->port, 0);
}

TEST(NameSyntaxTest, HostPortErrors) {
  EXPECT_EQ(ParseHostPort("").error(), "empty; expected host or host:port");
  EXPECT_EQ(ParseHostPort("127.0.0.1:0").error(),
            "port must be a number from 1 to 65535 (got \"0\")");
  EXPECT_EQ(ParseHostPort("127.0.0.1:65536").error(),
            "port must be a number from 1 to 65535 (got \"65536\")");
  EXPECT_EQ(ParseHostPort("127.0.0.1:").error(),
            "port must be a number from 1 to 65535 (got \"\")");
  EXPECT_EQ(ParseHostPort("127.0.0.1:5x").error(),
            "port must be a number from 1 to 65535 (got \"5x\")");
  EXPECT_EQ(ParseHostPort("::1").error(), "IPv6 addresses need brackets, e.g. [::1]:53");
  EXPECT_EQ(ParseHostPort("[::1").error(), "missing ']' after the IPv6 address");
  EXPECT_EQ(ParseHostPort("[example.com]:53").error(), "\"example.com\" is not an IPv6 address");
  EXPECT_EQ(ParseHostPort("[::1]x").error(), "expected ':port' after ']'");
  EXPECT_EQ(ParseHostPort("bad host:53").error(),
            "\"bad host\" is not a valid host name or IPv4 address");
}

}  // namespace
}  // namespace pharos
