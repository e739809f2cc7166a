#include "common/http_listen_address.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(HttpListenAddressTest, AcceptedForms) {
  const auto v4 = HttpListenAddress::Parse("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_FALSE(v4->ipv6_literal);
  EXPECT_EQ(v4->UrlHost(), "127.0.0.1");

  const auto any = HttpListenAddress::Parse(":9091");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 9091);

  const auto name = HttpListenAddress::Parse("localhost:0");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "localhost");
  EXPECT_EQ(name->port, 0);

  const auto loopback6 = HttpListenAddress::Parse("[::1]:8080");
  ASSERT_TRUE(loopback6.ok()) << loopback6.error();
  EXPECT_EQ(loopback6->host, "::1");
  EXPECT_TRUE(loopback6->ipv6_literal);
  EXPECT_EQ(loopback6->UrlHost(), "[::1]");

  const auto any6 = HttpListenAddress::Parse("[::]:65535");
  ASSERT_TRUE(any6.ok());
  EXPECT_EQ(any6->host, "::");
  EXPECT_EQ(any6->port, 65535);
}

TEST(HttpListenAddressTest, ErrorsSayWhatIsWrong) {
  const auto expect_error = [](const std::string& listen, const std::string& why) {
    const auto parsed = HttpListenAddress::Parse(listen);
    ASSERT_FALSE(parsed.ok()) << listen;
    EXPECT_NE(parsed.error().find("invalid listen address \"" + listen + "\""), std::string::npos)
        << parsed.error();
    EXPECT_NE(parsed.error().find(why), std::string::npos) << parsed.error();
    EXPECT_NE(parsed.error().find("[::]:8080"), std::string::npos) << "shows the forms";
  };
  expect_error("nonsense", "missing :PORT");
  expect_error("", "missing :PORT");
  expect_error("127.0.0.1:", "from 0 to 65535");
  expect_error("127.0.0.1:99999", "from 0 to 65535");
  expect_error("127.0.0.1:8x", "from 0 to 65535");
  expect_error("::1:80", "must be written in brackets");
  expect_error("[::1", "missing ]");
  expect_error("[::1]", "missing :PORT after ]");
  expect_error("[::1]8080", "missing :PORT after ]");
  expect_error("[not-v6]:80", "is not an IPv6 address");
  expect_error("[127.0.0.1]:80", "is not an IPv6 address");
}

}  // namespace
}  // namespace pharos
