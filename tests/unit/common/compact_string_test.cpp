#include "common/compact_string.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/monitor.h"

namespace pharos {
namespace {

static_assert(sizeof(CompactString) == sizeof(void*), "an empty CompactString costs one pointer");

TEST(CompactStringTest, ReadsLikeTheStringItHolds) {
  const CompactString empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_STREQ(empty.c_str(), "");
  EXPECT_EQ(empty.str(), "");

  const std::string long_text = R"({"probe": "a body longer than the small-string buffer"})";
  const CompactString body = long_text;
  EXPECT_FALSE(body.empty());
  EXPECT_EQ(body.size(), long_text.size());
  const std::string& text = body;  // the implicit read access
  EXPECT_EQ(text, long_text);
  EXPECT_TRUE(body == std::string_view(long_text));
  EXPECT_TRUE(body == long_text);  // a std::string compares without ambiguity, either way round
  EXPECT_TRUE(long_text == body);
  EXPECT_FALSE(body == std::string("other"));
}

TEST(CompactStringTest, AnEmptyValueHoldsNothingAndCopiesAreDeep) {
  CompactString assigned = "x";
  assigned = std::string();
  EXPECT_TRUE(assigned.empty());
  EXPECT_EQ(assigned, CompactString());

  CompactString original = "shop.example.com";
  CompactString copy = original;
  original = "other.example.com";
  EXPECT_EQ(copy.str(), "shop.example.com");
  EXPECT_FALSE(copy == original);

  CompactString moved = std::move(copy);
  EXPECT_EQ(moved.str(), "shop.example.com");
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
}

TEST(CompactStringTest, MonitorSpecsWithTheSameTextCompareEqual) {
  HttpSpec a;
  a.body = "{}";
  a.tls.server_name = "shop.example.com";
  HttpSpec b = a;
  EXPECT_EQ(a, b);
  b.body = std::string();
  EXPECT_FALSE(a == b);
  EXPECT_LE(sizeof(HttpSpec), 96u) << "HttpSpec grew past jemalloc's 96-byte size class";
}

}  // namespace
}  // namespace pharos
