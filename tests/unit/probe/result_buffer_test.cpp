#include "probe/result_buffer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos {
namespace {

std::vector<std::string> Ids(const std::vector<ResultBuffer::Entry>& entries) {
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (const ResultBuffer::Entry& entry : entries) ids.push_back(entry.item_id);
  return ids;
}

TEST(ResultBufferTest, PeekReturnsTheOldestWithoutRemoving) {
  ResultBuffer buffer(10);
  for (const char* id : {"a", "b", "c"}) EXPECT_TRUE(buffer.Add(id, "{}", nullptr));
  EXPECT_THAT(Ids(buffer.Peek(2, 1000)), ::testing::ElementsAre("a", "b"));
  EXPECT_THAT(Ids(buffer.Peek(2, 1000)), ::testing::ElementsAre("a", "b"));
  EXPECT_EQ(buffer.size(), 3u);
}

TEST(ResultBufferTest, PeekStopsAtTheByteLimitButReturnsAtLeastOne) {
  ResultBuffer buffer(10);
  buffer.Add("a", std::string(60, 'x'), nullptr);
  buffer.Add("b", std::string(60, 'x'), nullptr);
  EXPECT_THAT(Ids(buffer.Peek(10, 100)), ::testing::ElementsAre("a"));
  EXPECT_THAT(Ids(buffer.Peek(10, 10)), ::testing::ElementsAre("a"));
  EXPECT_THAT(Ids(buffer.Peek(10, 120)), ::testing::ElementsAre("a", "b"));
}

TEST(ResultBufferTest, RemoveForgetsByIdAndIgnoresUnknownIds) {
  ResultBuffer buffer(10);
  for (const char* id : {"a", "b", "c"}) buffer.Add(id, "{}", nullptr);
  EXPECT_EQ(buffer.Remove({"b", "zzz"}), 1u);
  EXPECT_THAT(Ids(buffer.Peek(10, 1000)), ::testing::ElementsAre("a", "c"));
  EXPECT_EQ(buffer.Remove({"b"}), 0u);
}

TEST(ResultBufferTest, SecondResultForAnItemIsIgnored) {
  ResultBuffer buffer(10);
  EXPECT_TRUE(buffer.Add("a", "first", nullptr));
  EXPECT_FALSE(buffer.Add("a", "second", nullptr));
  ASSERT_EQ(buffer.size(), 1u);
  EXPECT_EQ(buffer.Peek(1, 1000).front().json, "first");
}

TEST(ResultBufferTest, FullBufferDropsTheOldest) {
  ResultBuffer buffer(2);
  std::optional<ResultBuffer::Entry> dropped;
  buffer.Add("a", "1", &dropped);
  buffer.Add("b", "2", &dropped);
  EXPECT_FALSE(dropped.has_value());
  buffer.Add("c", "3", &dropped);
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->item_id, "a");
  EXPECT_THAT(Ids(buffer.Peek(10, 1000)), ::testing::ElementsAre("b", "c"));
  // The dropped id may come again (a redelivered item) and is kept like any other.
  dropped.reset();
  EXPECT_TRUE(buffer.Add("a", "4", &dropped));
  EXPECT_EQ(dropped->item_id, "b");
}

TEST(ResultBufferTest, CountsUnansweredDeliveries) {
  ResultBuffer buffer(10);
  buffer.Add("a", "{}", nullptr);
  EXPECT_EQ(buffer.MarkUnanswered("a"), 1);
  EXPECT_EQ(buffer.MarkUnanswered("a"), 2);
  EXPECT_EQ(buffer.MarkUnanswered("zzz"), 0);
  EXPECT_EQ(buffer.Peek(1, 1000).front().unanswered, 2);
}

}  // namespace
}  // namespace pharos
