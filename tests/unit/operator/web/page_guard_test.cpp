#include "operator/web/page_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/manual_clock.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using V = PageGuard::Verdict;

const TimePoint kNow = ManualClock::DefaultStart();

StatusPage Page(std::string password = "", const std::vector<std::string>& cidrs = {}) {
  StatusPage page;
  page.namespace_name = "shop";
  page.name = "shop";
  page.slug = "shop";
  page.access.password = std::move(password);
  for (const std::string& cidr : cidrs) page.access.allowed_cidrs.push_back(*IpRange::Parse(cidr));
  return page;
}

HttpRequest From(std::string address) {
  HttpRequest request;
  request.remote_address = std::move(address);
  return request;
}

std::string CookiePair(const std::string& set_cookie) {
  return set_cookie.substr(0, set_cookie.find(';'));
}

TEST(PageGuardTest, PublicPagesAreOpen) {
  PageGuard guard;
  EXPECT_EQ(guard.Check(Page(), From("203.0.113.9"), kNow), V::kAllowed);
}

TEST(PageGuardTest, AllowedCidrsWithTrustedProxies) {
  PageGuard direct;
  const StatusPage page = Page("", {"10.0.0.0/8"});
  EXPECT_EQ(direct.Check(page, From("10.1.2.3"), kNow), V::kAllowed);
  EXPECT_EQ(direct.Check(page, From("192.0.2.1"), kNow), V::kForbidden);
  // Without trusting the proxy, X-Forwarded-For is ignored.
  HttpRequest proxied = From("192.0.2.1");
  proxied.headers["X-Forwarded-For"] = "10.9.9.9";
  EXPECT_EQ(direct.Check(page, proxied, kNow), V::kForbidden);
  PageGuard behind({*IpRange::Parse("192.0.2.0/24")});
  EXPECT_EQ(behind.Check(page, proxied, kNow), V::kAllowed);
  // The client is the last hop the trusted proxies did not add: a forged first hop is ignored.
  proxied.headers["X-Forwarded-For"] = "10.9.9.9, 198.51.100.7, 192.0.2.8";
  EXPECT_EQ(behind.ClientAddress(proxied), "198.51.100.7");
  EXPECT_EQ(behind.Check(page, proxied, kNow), V::kForbidden);
}

TEST(PageGuardTest, PasswordFormSetsACookieThatExpires) {
  PageGuard guard;
  const StatusPage page = Page("s3cret");
  HttpRequest request = From("10.0.0.1");
  EXPECT_EQ(guard.Check(page, request, kNow), V::kNeedsPassword);
  std::string cookie;
  EXPECT_EQ(guard.TryLogin(page, request, "wrong", kNow, &cookie), PageGuard::Login::kWrong);
  ASSERT_EQ(guard.TryLogin(page, request, "s3cret", kNow, &cookie), PageGuard::Login::kAccepted);
  EXPECT_THAT(cookie, StartsWith("pharos_status_shop="));
  EXPECT_THAT(cookie, HasSubstr("; HttpOnly; SameSite=Lax"));
  request.headers["Cookie"] = "other=1; " + CookiePair(cookie);
  EXPECT_EQ(guard.Check(page, request, kNow), V::kAllowed);
  EXPECT_EQ(guard.Check(page, request, kNow + PageGuard::kCookieLifetime + std::chrono::seconds(1)),
            V::kNeedsPassword);
  // A changed password revokes the cookie; a cookie of another page does not open this one.
  EXPECT_EQ(guard.Check(Page("new"), request, kNow), V::kNeedsPassword);
  StatusPage other = Page("s3cret");
  other.slug = "other";
  request.headers["Cookie"] =
      "pharos_status_other=" + CookiePair(cookie).substr(CookiePair(cookie).find('=') + 1);
  EXPECT_EQ(guard.Check(other, request, kNow), V::kNeedsPassword);
  request.headers["Cookie"] = "pharos_status_shop=99999999999.forged";
  EXPECT_EQ(guard.Check(page, request, kNow), V::kNeedsPassword);
}

TEST(PageGuardTest, BasicAuthForFeedsAndApi) {
  PageGuard guard;
  const StatusPage page = Page("s3cret");
  HttpRequest request = From("10.0.0.1");
  request.headers["Authorization"] = "Basic cmVhZGVyOnMzY3JldA==";  // reader:s3cret
  EXPECT_EQ(guard.Check(page, request, kNow), V::kAllowed);
  request.headers["Authorization"] = "Basic cmVhZGVyOm5vcGU=";  // reader:nope
  EXPECT_EQ(guard.Check(page, request, kNow), V::kNeedsPassword);
  request.headers["Authorization"] = "Basic !!!";
  EXPECT_EQ(guard.Check(page, request, kNow), V::kNeedsPassword);
}

TEST(PageGuardTest, WrongPasswordsAreThrottledPerClient) {
  PageGuard guard;
  const StatusPage page = Page("s3cret");
  std::string cookie;
  for (int i = 0; i < PageGuard::kMaxFailuresPerMinute; ++i) {
    EXPECT_EQ(guard.TryLogin(page, From("10.0.0.1"), "guess", kNow, &cookie),
              PageGuard::Login::kWrong);
  }
  EXPECT_EQ(guard.TryLogin(page, From("10.0.0.1"), "s3cret", kNow, &cookie),
            PageGuard::Login::kThrottled);
  EXPECT_EQ(guard.TryLogin(page, From("10.0.0.2"), "s3cret", kNow, &cookie),
            PageGuard::Login::kAccepted);
  EXPECT_EQ(
      guard.TryLogin(page, From("10.0.0.1"), "s3cret", kNow + std::chrono::seconds(61), &cookie),
      PageGuard::Login::kAccepted);
}

TEST(PageGuardTest, AnUnreadSecretKeepsThePageClosed) {
  StatusPage page = Page();
  page.access.password_secret = SecretKeyRef{"status", "password"};
  PageGuard guard;
  EXPECT_EQ(guard.Check(page, From("10.0.0.1"), kNow), V::kNeedsPassword);
  std::string cookie;
  EXPECT_EQ(guard.TryLogin(page, From("10.0.0.1"), "", kNow, &cookie), PageGuard::Login::kWrong);
}

}  // namespace
}  // namespace pharos
