#pragma once

// PageGuard: who may read a status page (docs/status-pages.md, "Access"). A public page is open
// to all. `allowedCidrs` admits only clients from those ranges (403 otherwise; behind a proxy
// in `trusted_proxies` the client is the last X-Forwarded-For hop outside them). A `password`
// asks readers for it once: the form sets a cookie valid for 30 days, an HMAC-SHA256 of the
// slug and expiry keyed by the password — every replica can check it, and changing the password
// revokes it; feeds and the JSON API also take HTTP Basic (any user name). Wrong passwords are
// throttled per client: after 10 in a minute, a minute's wait.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/http_server.h"
#include "common/mutex.h"
#include "operator/control/monitor_state.h"
#include "operator/web/ip_range.h"
#include "operator/web/status_page.h"

namespace pharos {

class PageGuard {
 public:
  enum class Verdict { kAllowed, kForbidden, kNeedsPassword };

  static constexpr std::chrono::hours kCookieLifetime{24 * 30};
  static constexpr int kMaxFailuresPerMinute = 10;

  explicit PageGuard(std::vector<IpRange> trusted_proxies = {})
      : trusted_proxies_(std::move(trusted_proxies)) {}

  Verdict Check(const StatusPage& page, const HttpRequest& request, TimePoint now) const;

  // The client's address, as described above.
  std::string ClientAddress(const HttpRequest& request) const;

  enum class Login { kAccepted, kWrong, kThrottled };
  // Checks a submitted password; on success `set_cookie` is the Set-Cookie header's value.
  Login TryLogin(const StatusPage& page, const HttpRequest& request, const std::string& password,
                 TimePoint now, std::string* set_cookie);

  static std::string CookieName(const StatusPage& page);

 private:
  bool ValidCookie(const StatusPage& page, const HttpRequest& request, TimePoint now) const;

  const std::vector<IpRange> trusted_proxies_;
  Mutex mu_;
  // Wrong passwords per "slug client", with the start of their minute.
  std::map<std::string, std::pair<TimePoint, int>> failures_ GUARDED_BY(mu_);
};

}  // namespace pharos
