#include "common/http_router.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(HttpRouterTest, MatchesLiteralsAndParams) {
  HttpRouter router;
  ASSERT_EQ(*router.Add("GET", "/metrics"), 0u);
  ASSERT_EQ(*router.Add("GET", "/api/v1/monitors/{namespace}/{name}/results"), 1u);
  RouteMatch match = router.Match("GET", "/api/v1/monitors/shop/check%2Dout/results");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.route, 1u);
  EXPECT_EQ(match.params,
            (std::map<std::string, std::string>{{"namespace", "shop"}, {"name", "check-out"}}));
  EXPECT_EQ(router.Match("GET", "/metrics").kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(router.Match("GET", "/metrics/").kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(router.Match("GET", "/metrics/x").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "/api/v1/monitors/shop/results").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "/api/v1/monitors//x/results").kind, RouteMatch::Kind::kNotFound);
}

TEST(HttpRouterTest, RootRoute) {
  HttpRouter router;
  ASSERT_TRUE(router.Add("GET", "/").ok());
  EXPECT_EQ(router.Match("GET", "/").kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(router.Match("GET", "/x").kind, RouteMatch::Kind::kNotFound);
}

TEST(HttpRouterTest, MethodNotAllowedListsAllowedMethods) {
  HttpRouter router;
  ASSERT_TRUE(router.Add("GET", "/api/v1/monitors/{ns}").ok());
  ASSERT_TRUE(router.Add("DELETE", "/api/v1/monitors/{ns}").ok());
  RouteMatch match = router.Match("POST", "/api/v1/monitors/shop");
  EXPECT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allowed_methods, (std::set<std::string>{"DELETE", "GET", "HEAD"}));
}

TEST(HttpRouterTest, HeadUsesGet) {
  HttpRouter router;
  ASSERT_TRUE(router.Add("GET", "/a").ok());
  ASSERT_TRUE(router.Add("HEAD", "/b").ok());
  ASSERT_TRUE(router.Add("GET", "/b").ok());
  EXPECT_EQ(router.Match("HEAD", "/a").route, 0u);
  EXPECT_EQ(router.Match("HEAD", "/b").route, 1u);
}

TEST(HttpRouterTest, MostSpecificRouteWins) {
  HttpRouter router;
  ASSERT_TRUE(router.Add("GET", "/monitors/{name}").ok());    // 0
  ASSERT_TRUE(router.Add("GET", "/monitors/stats").ok());     // 1
  ASSERT_TRUE(router.Add("GET", "/files/{path...}").ok());    // 2
  ASSERT_TRUE(router.Add("GET", "/files/{dir}/index").ok());  // 3
  ASSERT_TRUE(router.Add("POST", "/monitors/stats").ok());    // 4
  EXPECT_EQ(router.Match("GET", "/monitors/stats").route, 1u);
  EXPECT_EQ(router.Match("GET", "/monitors/api").route, 0u);
  EXPECT_EQ(router.Match("GET", "/files/a/index").route, 3u);
  RouteMatch rest = router.Match("GET", "/files/a/b/c.css");
  EXPECT_EQ(rest.route, 2u);
  EXPECT_EQ(rest.params.at("path"), "a/b/c.css");
  EXPECT_EQ(router.Match("GET", "/files").kind, RouteMatch::Kind::kNotFound);
  // A more specific path with another method does not hide a matching method.
  EXPECT_EQ(router.Match("POST", "/monitors/stats").route, 4u);
}

TEST(HttpRouterTest, BadPatternsAreRejectedWithReasons) {
  HttpRouter router;
  EXPECT_EQ(router.Add("get", "/x").error(),
            "route get /x: the method must be an upper-case token such as GET");
  EXPECT_FALSE(router.Add("GET", "x").ok());
  EXPECT_FALSE(router.Add("GET", "/a//b").ok());
  EXPECT_FALSE(router.Add("GET", "/a/{b").ok());
  EXPECT_FALSE(router.Add("GET", "/a/x{b}").ok());
  EXPECT_FALSE(router.Add("GET", "/a/{b-c}").ok());
  EXPECT_FALSE(router.Add("GET", "/a/{b}/{b}").ok());
  EXPECT_FALSE(router.Add("GET", "/a/{rest...}/x").ok());
  ASSERT_TRUE(router.Add("GET", "/m/{ns}/{name}").ok());
  EXPECT_EQ(router.Add("GET", "/m/{a}/{b}/").error(),
            "route GET /m/{a}/{b}/ conflicts with GET /m/{ns}/{name}");
  EXPECT_TRUE(router.Add("PUT", "/m/{a}/{b}").ok());
}

TEST(HttpRouterTest, BadPercentEscapeIsBadPath) {
  HttpRouter router;
  ASSERT_TRUE(router.Add("GET", "/{x}").ok());
  RouteMatch match = router.Match("GET", "/a%zz");
  EXPECT_EQ(match.kind, RouteMatch::Kind::kBadPath);
  EXPECT_EQ(match.error, "path: bad percent-escape \"%zz\" at offset 1");
  EXPECT_EQ(router.Match("GET", "/a%2").kind, RouteMatch::Kind::kBadPath);
  EXPECT_EQ(router.Match("GET", "/a%2F").params.at("x"), "a/");
}

TEST(HttpRouterTest, QueryStrings) {
  auto query = ParseQueryString("a=1&b=two%20words&c=x+y&flag&a=second&&=empty");
  ASSERT_TRUE(query.ok()) << query.error();
  EXPECT_EQ(*query,
            (std::map<std::string, std::string>{
                {"a", "1"}, {"b", "two words"}, {"c", "x y"}, {"flag", ""}, {"", "empty"}}));
  EXPECT_FALSE(ParseQueryString("a=%G1").ok());
  EXPECT_TRUE(ParseQueryString("")->empty());
}

}  // namespace
}  // namespace pharos
