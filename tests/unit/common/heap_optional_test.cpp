#include "common/heap_optional.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>

#include "common/monitor.h"

namespace pharos {
namespace {

TEST(HeapOptionalTest, EmptyUntilSetAndComparesLikeOptional) {
  HeapOptional<std::string> a;
  HeapOptional<std::string> b = std::nullopt;
  EXPECT_FALSE(a.has_value());
  EXPECT_FALSE(a);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a == std::nullopt);
  a = std::string("x");
  EXPECT_TRUE(a.has_value());
  EXPECT_EQ(*a, "x");
  EXPECT_EQ(a->size(), 1u);
  EXPECT_FALSE(a == b);
  b.emplace(1, 'x');
  EXPECT_TRUE(a == b);
  b = std::nullopt;
  EXPECT_FALSE(b.has_value());
  EXPECT_THROW((void)b.value(), std::bad_optional_access);
}

TEST(HeapOptionalTest, CopiesAreDeepAndMovesLeaveNothingShared) {
  HeapOptional<std::string> original = std::string("spec");
  HeapOptional<std::string> copy = original;
  copy->append("-changed");
  EXPECT_EQ(*original, "spec");
  EXPECT_EQ(*copy, "spec-changed");
  copy = original;
  EXPECT_TRUE(copy == original);
  EXPECT_NE(&*copy, &*original);
  HeapOptional<std::string> moved = std::move(copy);
  EXPECT_EQ(*moved, "spec");
  original.reset();
  EXPECT_FALSE(original.has_value());
  EXPECT_EQ(*moved, "spec");
}

// What it is for: a Monitor carries one spec section inline-sized as a pointer each.
TEST(HeapOptionalTest, MonitorCopiesKeepTheirOwnSpecSection) {
  Monitor monitor;
  monitor.http = HttpSpec{.url = "http://127.0.0.1/"};
  Monitor copy = monitor;
  copy.http->url = "http://127.0.0.1/other";
  EXPECT_EQ(monitor.http->url, "http://127.0.0.1/");
  EXPECT_FALSE(monitor == copy);
  copy.http->url = monitor.http->url;
  EXPECT_TRUE(monitor == copy);
  EXPECT_FALSE(copy.tcp.has_value());
  EXPECT_LE(sizeof(HeapOptional<HttpSpec>), sizeof(void*));
}

}  // namespace
}  // namespace pharos
