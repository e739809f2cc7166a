#include "operator/kube/watch_event_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pharos {
namespace {

const char* kStream =
    R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","namespace":"ns","resourceVersion":"11"}}})"
    "\n"
    R"({"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"name":"a","namespace":"ns","resourceVersion":"12"},"data":{"k":"é"}}})"
    "\n"
    R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"15"}}})"
    "\n"
    R"({"type":"DELETED","object":{"kind":"ConfigMap","metadata":{"name":"a","namespace":"ns","resourceVersion":"16"}}})"
    "\n";

std::vector<WatchEvent> FeedInPieces(const std::string& text, size_t piece) {
  WatchEventParser parser;
  std::vector<WatchEvent> events;
  const KubeClient::WatchHandler collect = [&](const WatchEvent& event) {
    events.push_back(event);
    return true;
  };
  for (size_t at = 0; at < text.size(); at += piece) {
    const Status status = parser.Feed(std::string_view(text).substr(at, piece), collect);
    EXPECT_TRUE(status.ok()) << status.error();
  }
  EXPECT_TRUE(parser.Finish(collect).ok());
  EXPECT_EQ(parser.events(), events.size());
  return events;
}

TEST(WatchEventParserTest, ParsesEventsWhateverTheChunkBoundaries) {
  for (size_t piece = 1; piece <= std::string(kStream).size(); piece += 7) {
    const auto events = FeedInPieces(kStream, piece);
    ASSERT_EQ(events.size(), 4u) << "piece size " << piece;
    EXPECT_EQ(events[0].type, WatchEvent::Type::kAdded);
    EXPECT_EQ(events[0].ResourceVersion(), "11");
    EXPECT_EQ(events[1].type, WatchEvent::Type::kModified);
    EXPECT_EQ(events[1].object["data"]["k"], "é");  // a UTF-8 character split across chunks
    EXPECT_EQ(events[2].type, WatchEvent::Type::kBookmark);
    EXPECT_EQ(events[2].ResourceVersion(), "15");
    EXPECT_EQ(events[3].type, WatchEvent::Type::kDeleted);
    EXPECT_EQ(ObjectKey(events[3].object), "ns/a");
  }
}

TEST(WatchEventParserTest, IgnoresBlankLinesAndCarriageReturns) {
  const std::string text =
      "\r\n\n"
      R"({"type":"ADDED","object":{"metadata":{"name":"x","resourceVersion":"1"}}})"
      "\r\n  \n";
  const auto events = FeedInPieces(text, 3);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(ObjectKey(events[0].object), "x");
}

TEST(WatchEventParserTest, DecodesAnErrorEventWithItsStatus) {
  const std::string text =
      R"js({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 123 (456)","reason":"Expired","code":410}})js"
      "\n";
  const auto events = FeedInPieces(text, 5);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kError);
  EXPECT_EQ(events[0].status.code, 410);
  EXPECT_EQ(events[0].status.reason, "Expired");
  EXPECT_EQ(events[0].status.message, "too old resource version: 123 (456)");
}

TEST(WatchEventParserTest, DeliversALastEventWithoutNewline) {
  WatchEventParser parser;
  int count = 0;
  const KubeClient::WatchHandler collect = [&](const WatchEvent&) { return ++count > 0; };
  ASSERT_TRUE(parser.Feed(R"({"type":"ADDED","object":{"metadata":{"name":"x"}}})", collect).ok());
  EXPECT_EQ(count, 0);
  EXPECT_TRUE(parser.Finish(collect).ok());
  EXPECT_EQ(count, 1);
}

TEST(WatchEventParserTest, AnIncompleteEventAtTheEndIsAnError) {
  WatchEventParser parser;
  const KubeClient::WatchHandler collect = [](const WatchEvent&) { return true; };
  ASSERT_TRUE(parser.Feed(R"({"type":"ADDED","obj)", collect).ok());
  const Status finish = parser.Finish(collect);
  ASSERT_FALSE(finish.ok());
  EXPECT_NE(finish.error().find("middle of an event"), std::string::npos) << finish.error();
}

TEST(WatchEventParserTest, RejectsMalformedLines) {
  const KubeClient::WatchHandler collect = [](const WatchEvent&) { return true; };
  {
    WatchEventParser parser;
    const Status status = parser.Feed("not json\n", collect);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().find("not a JSON object"), std::string::npos);
  }
  {
    WatchEventParser parser;
    const Status status = parser.Feed(R"({"type":"SURPRISE","object":{}})"
                                      "\n",
                                      collect);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().find("unknown event type \"SURPRISE\""), std::string::npos);
  }
  {
    WatchEventParser parser;
    const Status status = parser.Feed(R"({"type":"ADDED"})"
                                      "\n",
                                      collect);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().find("without an object"), std::string::npos);
  }
}

TEST(WatchEventParserTest, StopsWhenTheHandlerSaysSo) {
  WatchEventParser parser;
  int count = 0;
  const KubeClient::WatchHandler first_only = [&](const WatchEvent&) {
    ++count;
    return false;
  };
  ASSERT_TRUE(parser.Feed(kStream, first_only).ok());
  EXPECT_EQ(count, 1);
  EXPECT_TRUE(parser.stopped());
  ASSERT_TRUE(parser.Feed(kStream, first_only).ok());
  EXPECT_EQ(count, 1);
}

}  // namespace
}  // namespace pharos
