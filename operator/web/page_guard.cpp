#include "operator/web/page_guard.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

namespace pharos {
namespace {

constexpr size_t kMaxTrackedClients = 10'000;

std::string Hmac(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string CookieMessage(const StatusPage& page, int64_t expiry) {
  return "pharos-status\n" + page.slug + "\n" + std::to_string(expiry);
}

// The value of cookie `name` in a Cookie header; "" when absent.
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
      return pair.substr(equals + 1);
    }
  }
  return {};
}

// The password of an "Authorization: Basic" header; nullopt without one.
std::optional<std::string> BasicPassword(std::string_view header) {
  constexpr std::string_view kScheme = "Basic ";
  if (header.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  const std::string_view encoded = header.substr(kScheme.size());
  if (encoded.size() > 4'096 || encoded.size() % 4 != 0) return std::nullopt;
  std::string decoded(encoded.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(encoded.data()),
                                     static_cast<int>(encoded.size()));
  if (length < 0) return std::nullopt;
  size_t padding = 0;
  for (size_t i = encoded.size(); i > 0 && encoded[i - 1] == '='; --i) ++padding;
  decoded.resize(static_cast<size_t>(length) - padding);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return decoded.substr(colon + 1);
}

}  // namespace

std::string PageGuard::CookieName(const StatusPage& page) { return "pharos_status_" + page.slug; }

std::string PageGuard::ClientAddress(const HttpRequest& request) const {
  auto trusted = [&](std::string_view address) {
    for (const IpRange& range : trusted_proxies_) {
      if (range.Contains(address)) return true;
    }
    return false;
  };
  std::string client = request.remote_address;
  if (!trusted(client)) return client;
  std::string_view forwarded = request.Header("X-Forwarded-For");
  // Walk from the nearest hop back, skipping our own proxies.
  while (!forwarded.empty()) {
    const size_t comma = forwarded.rfind(',');
    std::string_view hop =
        comma == std::string_view::npos ? forwarded : forwarded.substr(comma + 1);
    forwarded = comma == std::string_view::npos ? std::string_view() : forwarded.substr(0, comma);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    if (hop.empty()) continue;
    client = std::string(hop);
    if (!trusted(client)) break;
  }
  return client;
}

bool PageGuard::ValidCookie(const StatusPage& page, const HttpRequest& request,
                            TimePoint now) const {
  const std::string_view value = CookieValue(request.Header("Cookie"), CookieName(page));
  const size_t dot = value.find('.');
  if (dot == std::string_view::npos) return false;
  int64_t expiry = 0;
  const std::string_view digits = value.substr(0, dot);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), expiry);
  if (error != std::errc() || end != digits.data() + digits.size()) return false;
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (expiry < now_s) return false;
  return SameText(value.substr(dot + 1), Hmac(page.access.password, CookieMessage(page, expiry)));
}

PageGuard::Verdict PageGuard::Check(const StatusPage& page, const HttpRequest& request,
                                    TimePoint now) const {
  if (!page.access.allowed_cidrs.empty()) {
    const std::string client = ClientAddress(request);
    bool allowed = false;
    for (const IpRange& range : page.access.allowed_cidrs) {
      allowed = allowed || range.Contains(client);
    }
    if (!allowed) return Verdict::kForbidden;
  }
  if (page.access.password.empty()) {
    // A page whose Secret could not be read stays closed rather than public.
    return page.access.password_secret ? Verdict::kNeedsPassword : Verdict::kAllowed;
  }
  if (ValidCookie(page, request, now)) return Verdict::kAllowed;
  if (std::optional<std::string> basic = BasicPassword(request.Header("Authorization"))) {
    if (SameText(*basic, page.access.password)) return Verdict::kAllowed;
  }
  return Verdict::kNeedsPassword;
}

PageGuard::Login PageGuard::TryLogin(const StatusPage& page, const HttpRequest& request,
                                     const std::string& password, TimePoint now,
                                     std::string* set_cookie) {
  const std::string client = page.slug + " " + ClientAddress(request);
  {
    MutexLock lock(mu_);
    const auto found = failures_.find(client);
    if (found != failures_.end() && now - found->second.first < std::chrono::minutes(1) &&
        found->second.second >= kMaxFailuresPerMinute) {
      return Login::kThrottled;
    }
  }
  if (page.access.password.empty() || !SameText(password, page.access.password)) {
    MutexLock lock(mu_);
    if (failures_.size() >= kMaxTrackedClients) {
      std::erase_if(failures_, [&](const auto& entry) {
        return now - entry.second.first >= std::chrono::minutes(1);
      });
      if (failures_.size() >= kMaxTrackedClients) failures_.clear();
    }
    auto& [start, count] = failures_[client];
    if (now - start >= std::chrono::minutes(1)) {
      start = now;
      count = 0;
    }
    ++count;
    return Login::kWrong;
  }
  const int64_t expiry =
      std::chrono::duration_cast<std::chrono::seconds>((now + kCookieLifetime).time_since_epoch())
          .count();
  const bool https = request.Header("X-Forwarded-Proto") == "https";
  *set_cookie =
      fmt::format("{}={}.{}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}", CookieName(page),
                  expiry, Hmac(page.access.password, CookieMessage(page, expiry)),
                  std::chrono::seconds(kCookieLifetime).count(), https ? "; Secure" : "");
  return Login::kAccepted;
}

}  // namespace pharos
