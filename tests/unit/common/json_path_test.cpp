#include "common/json_path.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using nlohmann::json;

std::vector<json> Values(const std::string& expression, const json& document) {
  Result<JsonPath> path = JsonPath::Parse(expression);
  EXPECT_TRUE(path.ok()) << expression << ": " << (path.ok() ? "" : path.error());
  std::vector<json> values;
  if (!path.ok()) return values;
  for (const json* value : path->Select(document)) values.push_back(*value);
  return values;
}

std::string ParseError(const std::string& expression) {
  Result<JsonPath> path = JsonPath::Parse(expression);
  return path.ok() ? "(parsed)" : path.error();
}

const json kDocument = json::parse(R"({
  "status": "ok",
  "checks": {"db": "up", "cache": "down"},
  "items": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}, {"id": 3}],
  "odd key": {"a.b": 7, "it's": 8, "q\"uote": 9},
  "empty": null
})");

TEST(JsonPathTest, RootSelectsTheWholeDocument) {
  EXPECT_EQ(Values("$", kDocument), std::vector<json>{kDocument});
}

TEST(JsonPathTest, DotMembers) {
  EXPECT_EQ(Values("$.status", kDocument), std::vector<json>{"ok"});
  EXPECT_EQ(Values("$.checks.db", kDocument), std::vector<json>{"up"});
  EXPECT_EQ(Values("$.empty", kDocument), std::vector<json>{nullptr});
}

TEST(JsonPathTest, MissingMembersSelectNothing) {
  EXPECT_TRUE(Values("$.nope", kDocument).empty());
  EXPECT_TRUE(Values("$.status.deeper", kDocument).empty());
  EXPECT_TRUE(Values("$.items.id", kDocument).empty());
}

TEST(JsonPathTest, Indexes) {
  EXPECT_EQ(Values("$.items[0].id", kDocument), std::vector<json>{1});
  EXPECT_EQ(Values("$.items[2].id", kDocument), std::vector<json>{3});
  EXPECT_TRUE(Values("$.items[3]", kDocument).empty());
  EXPECT_TRUE(Values("$.checks[0]", kDocument).empty());
}

TEST(JsonPathTest, NegativeIndexCountsFromTheEnd) {
  EXPECT_EQ(Values("$.items[-1].id", kDocument), std::vector<json>{3});
  EXPECT_EQ(Values("$.items[-3].id", kDocument), std::vector<json>{1});
  EXPECT_TRUE(Values("$.items[-4]", kDocument).empty());
}

TEST(JsonPathTest, Wildcards) {
  EXPECT_EQ(Values("$.items[*].id", kDocument), (std::vector<json>{1, 2, 3}));
  EXPECT_EQ(Values("$.items.*.id", kDocument), (std::vector<json>{1, 2, 3}));
  EXPECT_EQ(Values("$.items[*].tags[*]", kDocument), (std::vector<json>{"a", "b"}));
  // Objects: every member value, in key order.
  EXPECT_EQ(Values("$.checks.*", kDocument), (std::vector<json>{"down", "up"}));
  EXPECT_TRUE(Values("$.status[*]", kDocument).empty());
}

TEST(JsonPathTest, QuotedMembers) {
  EXPECT_EQ(Values("$['status']", kDocument), std::vector<json>{"ok"});
  EXPECT_EQ(Values("$[\"checks\"]['db']", kDocument), std::vector<json>{"up"});
  EXPECT_EQ(Values("$['odd key']['a.b']", kDocument), std::vector<json>{7});
  EXPECT_EQ(Values(R"($['odd key']['it\'s'])", kDocument), std::vector<json>{8});
  EXPECT_EQ(Values(R"($['odd key']["q\"uote"])", kDocument), std::vector<json>{9});
  EXPECT_EQ(Values("$[ 'status' ]", kDocument), std::vector<json>{"ok"});
}

TEST(JsonPathTest, KeepsTheExpression) {
  Result<JsonPath> path = JsonPath::Parse("$.a[0]");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->expression(), "$.a[0]");
}

TEST(JsonPathTest, ParseErrorsSayWhere) {
  EXPECT_EQ(ParseError(""), "JSONPath is empty; it must start with '$'");
  EXPECT_EQ(ParseError("status"), "JSONPath must start with '$' at character 1");
  EXPECT_EQ(ParseError("$."), "expected a member name or '*' after '.' at character 3");
  EXPECT_EQ(ParseError("$.a.!"), "expected a member name or '*' after '.' at character 5");
  EXPECT_EQ(ParseError("$..a"), "recursive descent ('..') is not supported at character 2");
  EXPECT_EQ(ParseError("$.a["), "unterminated '[' at character 4");
  EXPECT_EQ(ParseError("$.a[1"), "unterminated '[' at character 4");
  EXPECT_EQ(ParseError("$.a[1x]"), "expected ']' at character 6");
  EXPECT_EQ(ParseError("$.a[x]"),
            "expected an index, '*' or a quoted name after '[' at character 5");
  EXPECT_EQ(ParseError("$['a"), "unterminated quoted name at character 3");
  EXPECT_EQ(ParseError(R"($['a\n'])"), "unknown escape '\\n' at character 5");
  EXPECT_EQ(ParseError("$[-]"), "expected digits after '-' at character 4");
  EXPECT_EQ(ParseError("$[99999999999999999999]"), "index out of range at character 3");
  EXPECT_EQ(ParseError("$a"), "unexpected 'a'; expected '.' or '[' at character 2");
}

}  // namespace
}  // namespace pharos
