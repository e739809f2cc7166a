#include "operator/web/web_frontend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/http_router.h"
#include "common/manual_clock.h"
#include "operator/web/web_assets.h"
#include "unit/operator/web/web_test_doubles.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace ::pharos::testing;

std::string Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

HttpRequest Get(std::string path, std::map<std::string, std::string> params = {},
                std::map<std::string, std::string> query = {}) {
  HttpRequest request;
  request.method = "GET";
  request.path = std::move(path);
  request.path_params = std::move(params);
  request.query = std::move(query);
  request.remote_address = "10.0.0.5";
  request.headers["Host"] = "status.example.com";
  return request;
}

class PngFiles final : public ScreenshotFiles {
 public:
  std::optional<std::string> ReadPng(const std::string& id) const override {
    if (id == "abc") return std::string("\x89PNG\r\n\x1a\n", 8);
    return std::nullopt;
  }
};

class WebFrontendTest : public ::testing::Test {
 protected:
  WebFrontendTest() : clock_(kNow) {}

  void SetUp() override {
    web_ = WebMonitor("shop", "web");
    status_.Add(StatusOf(web_, MonitorState::kUp));
    history_.AddHour(web_->uid, kNow - std::chrono::hours(1), 10, int64_t{10} * 12'000);
    frontend_ = std::make_unique<WebFrontend>(
        WebFrontend::Sources{status_, history_, incidents_, calendar_, nullptr, &files_}, pages_,
        clock_, WebFrontend::Options{});
  }

  HttpResponse Call(void (WebFrontend::*handler)(const HttpRequest&, const WebFrontend::Reply&),
                    const HttpRequest& request) {
    HttpResponse response;
    response.status = 0;
    ((*frontend_).*handler)(request, [&](HttpResponse out) { response = std::move(out); });
    return response;
  }

  StatusPage Page(const std::string& slug) {
    StatusPage page;
    page.namespace_name = "shop";
    page.name = slug;
    page.slug = slug;
    page.title = "Shop " + slug;
    StatusPageComponent component;
    component.namespace_name = "shop";
    component.monitor = "web";
    page.groups = {{"", {component}}};
    return page;
  }

  FakeStatusReader status_;
  FakeHistory history_;
  FakeIncidentReader incidents_;
  FakeCalendar calendar_;
  PngFiles files_;
  ManualClock clock_;
  StatusPageDirectory pages_{/*default_page=*/true};
  std::shared_ptr<const Monitor> web_;
  std::unique_ptr<WebFrontend> frontend_;
};

TEST_F(WebFrontendTest, EveryRouteRegistersWithoutConflict) {
  HttpRouter router;
  int routes = 0;
  ASSERT_TRUE(
      frontend_
          ->Register([&](std::string_view method, std::string_view pattern, const HttpHandler&) {
            ++routes;
            Result<size_t> added = router.Add(method, pattern);
            return added.ok() ? OkStatus() : Status(Error{added.error()});
          })
          .ok());
  EXPECT_EQ(routes, 11);
  EXPECT_EQ(router.Match("GET", "/ui/").kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(router.Match("POST", "/status/shop/login").kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(router.Match("GET", "/status/shop/feed.atom").params.at("feed"), "feed.atom");
}

TEST_F(WebFrontendTest, RootAndIndexLeadToTheDefaultPage) {
  HttpResponse root = Call(&WebFrontend::HandleRoot, Get("/"));
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(Header(root, "Location"), "/status");
  HttpResponse index = Call(&WebFrontend::HandleStatusIndex, Get("/status"));
  EXPECT_EQ(index.status, 200);
  EXPECT_THAT(index.body, HasSubstr("<h1>Service status</h1>"));
  HttpResponse page =
      Call(&WebFrontend::HandleStatusPage, Get("/status/default", {{"slug", "default"}}));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, index.body);
  EXPECT_EQ(Header(page, "Cache-Control"), "public, max-age=30");
}

TEST_F(WebFrontendTest, DeclaredPagesReplaceTheDefaultOne) {
  pages_.ReplaceAll({Page("a"), Page("b")});
  EXPECT_EQ(
      Call(&WebFrontend::HandleStatusPage, Get("/status/default", {{"slug", "default"}})).status,
      404);
  HttpResponse index = Call(&WebFrontend::HandleStatusIndex, Get("/status"));
  EXPECT_THAT(index.body, HasSubstr("<a href=\"/status/a\">Shop a</a>"));
  EXPECT_THAT(index.body, HasSubstr("<a href=\"/status/b\">Shop b</a>"));
}

TEST_F(WebFrontendTest, UnknownPagesAre404PagesNotErrors) {
  HttpResponse html = Call(&WebFrontend::HandleStatusPage, Get("/status/nope", {{"slug", "nope"}}));
  EXPECT_EQ(html.status, 404);
  EXPECT_THAT(html.content_type, StartsWith("text/html"));
  EXPECT_THAT(html.body, HasSubstr("No such status page"));
  EXPECT_THAT(html.body, HasSubstr("There is no status page called &quot;nope&quot;."));
  HttpResponse json =
      Call(&WebFrontend::HandleStatusJson, Get("/api/v1/status/nope", {{"slug", "nope"}}));
  EXPECT_EQ(json.status, 404);
  EXPECT_EQ(json.content_type, "application/json");
  HttpResponse feed =
      Call(&WebFrontend::HandleFeed,
           Get("/status/default/feed.xml", {{"slug", "default"}, {"feed", "feed.xml"}}));
  EXPECT_EQ(feed.status, 404);
  HttpResponse monitor =
      Call(&WebFrontend::HandleMonitorPage,
           Get("/ui/monitors/shop/nope", {{"namespace", "shop"}, {"name", "nope"}}));
  EXPECT_EQ(monitor.status, 404);
  EXPECT_THAT(monitor.body, HasSubstr("There is no monitor shop/nope."));
}

TEST_F(WebFrontendTest, PagesAreBuiltOncePerTtlAndAnswer304ToTheirEtag) {
  const HttpRequest request = Get("/status/default", {{"slug", "default"}});
  HttpResponse first = Call(&WebFrontend::HandleStatusPage, request);
  ASSERT_EQ(first.status, 200);
  const int reads = history_.count_calls;
  HttpResponse again = Call(&WebFrontend::HandleStatusPage, request);
  EXPECT_EQ(history_.count_calls, reads);  // from the cache
  EXPECT_EQ(again.body, first.body);
  HttpRequest conditional = request;
  conditional.headers["If-None-Match"] = Header(first, "ETag");
  EXPECT_EQ(Call(&WebFrontend::HandleStatusPage, conditional).status, 304);
  clock_.Advance(std::chrono::seconds(1));
  frontend_->ForgetCachedPages();
  Call(&WebFrontend::HandleStatusPage, request);
  EXPECT_GT(history_.count_calls, reads);
}

TEST_F(WebFrontendTest, AStoreFailureIsA503PageNotACrash) {
  history_.fail = true;
  HttpResponse page =
      Call(&WebFrontend::HandleStatusPage, Get("/status/default", {{"slug", "default"}}));
  EXPECT_EQ(page.status, 503);
  EXPECT_THAT(page.body, HasSubstr("try again shortly"));
}

TEST_F(WebFrontendTest, JsonAndFeeds) {
  HttpResponse json =
      Call(&WebFrontend::HandleStatusJson, Get("/api/v1/status/default", {{"slug", "default"}}));
  ASSERT_EQ(json.status, 200);
  const auto parsed = nlohmann::json::parse(json.body);
  EXPECT_EQ(parsed["status"], "operational");
  EXPECT_EQ(parsed["components"][0]["uptimeDays"].size(), 90u);
  HttpResponse rss =
      Call(&WebFrontend::HandleFeed,
           Get("/status/default/feed.rss", {{"slug", "default"}, {"feed", "feed.rss"}}));
  EXPECT_EQ(rss.content_type, "application/rss+xml; charset=utf-8");
  EXPECT_THAT(rss.body, HasSubstr("<link>http://status.example.com/status/default</link>"));
  HttpRequest https =
      Get("/status/default/feed.atom", {{"slug", "default"}, {"feed", "feed.atom"}});
  https.headers["X-Forwarded-Proto"] = "https";
  HttpResponse atom = Call(&WebFrontend::HandleFeed, https);
  EXPECT_EQ(atom.content_type, "application/atom+xml; charset=utf-8");
  EXPECT_THAT(atom.body, HasSubstr("<id>https://status.example.com/status/default</id>"));
}

TEST_F(WebFrontendTest, ProtectedPagesAskForTheirPassword) {
  StatusPage page = Page("private");
  page.access.password = "s3cret";
  pages_.ReplaceAll({page});
  const HttpRequest request = Get("/status/private", {{"slug", "private"}});
  HttpResponse form = Call(&WebFrontend::HandleStatusPage, request);
  EXPECT_EQ(form.status, 401);
  EXPECT_THAT(
      form.body,
      HasSubstr("<form class=\"card login\" method=\"post\" action=\"/status/private/login\">"));
  EXPECT_EQ(Header(form, "Cache-Control"), "private, no-cache");
  HttpResponse api =
      Call(&WebFrontend::HandleStatusJson, Get("/api/v1/status/private", {{"slug", "private"}}));
  EXPECT_EQ(api.status, 401);
  EXPECT_EQ(Header(api, "WWW-Authenticate"), "Basic realm=\"private\", charset=\"UTF-8\"");

  HttpRequest login = Get("/status/private/login", {{"slug", "private"}});
  login.method = "POST";
  login.body = "password=wrong";
  HttpResponse wrong = Call(&WebFrontend::HandleLogin, login);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, HasSubstr("That password is not right."));
  login.body = "password=s3cret";
  HttpResponse accepted = Call(&WebFrontend::HandleLogin, login);
  EXPECT_EQ(accepted.status, 303);
  EXPECT_EQ(Header(accepted, "Location"), "/status/private");
  const std::string cookie = Header(accepted, "Set-Cookie");
  HttpRequest with_cookie = request;
  with_cookie.headers["Cookie"] = cookie.substr(0, cookie.find(';'));
  HttpResponse shown = Call(&WebFrontend::HandleStatusPage, with_cookie);
  EXPECT_EQ(shown.status, 200);
  EXPECT_EQ(Header(shown, "Cache-Control"), "private, no-cache");
  // The only page, but protected: /status sends readers to its form instead of showing it.
  EXPECT_EQ(Call(&WebFrontend::HandleStatusIndex, Get("/status")).status, 302);
}

TEST_F(WebFrontendTest, CidrPagesRefuseOtherNetworks) {
  StatusPage page = Page("internal");
  page.access.allowed_cidrs = {*IpRange::Parse("192.168.0.0/16")};
  pages_.ReplaceAll({page});
  HttpResponse refused =
      Call(&WebFrontend::HandleStatusPage, Get("/status/internal", {{"slug", "internal"}}));
  EXPECT_EQ(refused.status, 403);
  EXPECT_THAT(refused.body, HasSubstr("Not available from your network"));
  HttpRequest inside = Get("/status/internal", {{"slug", "internal"}});
  inside.remote_address = "192.168.3.4";
  EXPECT_EQ(Call(&WebFrontend::HandleStatusPage, inside).status, 200);
}

TEST_F(WebFrontendTest, Badges) {
  HttpResponse status =
      Call(&WebFrontend::HandleBadge,
           Get("/badge/shop/web/status.svg",
               {{"namespace", "shop"}, {"name", "web"}, {"badge", "status.svg"}}));
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.content_type, "image/svg+xml");
  EXPECT_EQ(Header(status, "Cache-Control"), "public, max-age=60, s-maxage=60");
  EXPECT_THAT(status.body, HasSubstr(">up</text>"));
  HttpResponse missing = Call(&WebFrontend::HandleBadge,
                              Get("/badge/shop/x/uptime.svg",
                                  {{"namespace", "shop"}, {"name", "x"}, {"badge", "uptime.svg"}}));
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr(">not found</text>"));
  HttpResponse window = Call(
      &WebFrontend::HandleBadge,
      Get("/badge/shop/web/uptime.svg",
          {{"namespace", "shop"}, {"name", "web"}, {"badge", "uptime.svg"}}, {{"window", "1y"}}));
  EXPECT_EQ(window.status, 400);
  HttpResponse week = Call(
      &WebFrontend::HandleBadge,
      Get("/badge/shop/web/uptime.svg",
          {{"namespace", "shop"}, {"name", "web"}, {"badge", "uptime.svg"}}, {{"window", "7d"}}));
  EXPECT_THAT(week.body, HasSubstr(">uptime 7d</text>"));
}

TEST_F(WebFrontendTest, AssetsAndScreenshots) {
  HttpResponse css = Call(&WebFrontend::HandleAsset,
                          Get("/assets/pharos.css", {{"name", "pharos.css"}}, {{"v", "x"}}));
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(Header(css, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_THAT(css.body, HasSubstr("--up-fill"));
  EXPECT_THAT(WebAssets::Url("pharos.js"), StartsWith("/assets/pharos.js?v="));
  EXPECT_EQ(Call(&WebFrontend::HandleAsset, Get("/assets/x.js", {{"name", "x.js"}})).status, 404);
  HttpResponse png = Call(&WebFrontend::HandleScreenshot,
                          Get("/api/v1/screenshots/abc.png", {{"file", "abc.png"}}));
  EXPECT_EQ(png.status, 200);
  EXPECT_EQ(png.content_type, "image/png");
  EXPECT_EQ(Call(&WebFrontend::HandleScreenshot, Get("/x", {{"file", "abc"}})).status, 404);
  EXPECT_EQ(Call(&WebFrontend::HandleScreenshot, Get("/x", {{"file", "zzz.png"}})).status, 404);
}

TEST_F(WebFrontendTest, DashboardRejectsBadFiltersWithA400Page) {
  HttpResponse bad = Call(&WebFrontend::HandleDashboard, Get("/ui/", {}, {{"sort", "colour"}}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("sort: unknown column"));
  HttpResponse list = Call(&WebFrontend::HandleDashboard, Get("/ui/"));
  EXPECT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("<tr data-monitor=\"shop/web\" data-state=\"Up\">"));
  EXPECT_THAT(list.body, Not(HasSubstr("No monitor matches")));
}

}  // namespace
}  // namespace pharos
