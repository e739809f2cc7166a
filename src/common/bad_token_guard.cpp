#include "common/bad_token_guard.h"

#include <algorithm>
#include <cmath>

namespace pharos {

BadTokenGuard::BadTokenGuard(const Clock& clock, MetricsRegistry& registry, Options options)
    : clock_(clock),
      options_(options),
      failures_(registry.AddCounter("pharos_auth_failures_total",
                                    "Requests with a wrong or missing bearer token, by API.",
                                    {"api"})),
      throttled_(registry.AddCounter(
          "pharos_auth_throttled_total",
          "Requests refused with 429 because their client sent too many wrong tokens, by API.",
          {"api"})) {}

BadTokenGuard::Allowance& BadTokenGuard::Refilled(const std::string& remote,
                                                  std::chrono::steady_clock::time_point now) {
  auto found = clients_.find(remote);
  if (found == clients_.end()) {
    MakeRoom(now);
    found = clients_.emplace(remote, Allowance{static_cast<double>(options_.burst), now}).first;
  }
  Allowance& allowance = found->second;
  const double elapsed = std::chrono::duration<double>(now - allowance.updated).count();
  const double per_second = 1.0 / std::chrono::duration<double>(options_.refill).count();
  allowance.tries =
      std::min<double>(options_.burst, allowance.tries + std::max(0.0, elapsed) * per_second);
  allowance.updated = now;
  return allowance;
}

void BadTokenGuard::MakeRoom(std::chrono::steady_clock::time_point now) {
  if (clients_.size() < options_.max_clients) return;
  const auto full_again = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      options_.refill * options_.burst);
  std::erase_if(clients_,
                [&](const auto& entry) { return now - entry.second.updated >= full_again; });
  if (clients_.size() < options_.max_clients) return;
  auto oldest = std::min_element(
      clients_.begin(), clients_.end(),
      [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
  clients_.erase(oldest);
}

std::optional<std::chrono::seconds> BadTokenGuard::Admit(std::string_view api,
                                                         const std::string& remote) {
  const auto now = clock_.SteadyNow();
  MutexLock lock(mu_);
  if (clients_.find(remote) == clients_.end()) return std::nullopt;
  const Allowance& allowance = Refilled(remote, now);
  if (allowance.tries >= 1.0) return std::nullopt;
  const double wait =
      (1.0 - allowance.tries) * std::chrono::duration<double>(options_.refill).count();
  throttled_.WithLabels({std::string(api)}).Inc();
  return std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait))));
}

void BadTokenGuard::RecordFailure(std::string_view api, const std::string& remote) {
  const auto now = clock_.SteadyNow();
  failures_.WithLabels({std::string(api)}).Inc();
  MutexLock lock(mu_);
  Allowance& allowance = Refilled(remote, now);
  allowance.tries = std::max(0.0, allowance.tries - 1.0);
}

HttpResponse TooManyWrongTokens(std::chrono::seconds wait) {
  HttpResponse response = HttpResponse::Error(
      429, "too many requests with a wrong token from this address; retry later");
  response.headers.emplace_back("Retry-After", std::to_string(wait.count()));
  return response;
}

}  // namespace pharos
