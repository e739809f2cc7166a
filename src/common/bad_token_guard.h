#pragma once

// BadTokenGuard: slows down the guessing of bearer tokens (docs/security.md#tokens). Every client
// address may present a wrong or missing token `burst` times in a row, then one more each
// `refill` interval; beyond that, its requests to a guarded API are answered 429 with a
// Retry-After before any token is looked at, so a guesser gets a handful of tries a minute
// whatever it sends. A right token costs nothing. Counted per API in
// pharos_auth_failures_total{api} and pharos_auth_throttled_total{api}.
// At most `max_clients` addresses are remembered; when full, addresses whose allowance has come
// back in full are forgotten first, then the least recently seen.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/counter_family.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "common/mutex.h"

namespace pharos {

class BadTokenGuard {
 public:
  struct Options {
    int burst = 10;
    std::chrono::milliseconds refill{6'000};
    size_t max_clients = 4'096;
  };

  BadTokenGuard(const Clock& clock, MetricsRegistry& registry, Options options);
  BadTokenGuard(const Clock& clock, MetricsRegistry& registry)
      : BadTokenGuard(clock, registry, Options{}) {}

  // nullopt: `remote` may try a token now. Otherwise the whole seconds to wait (at least 1), and
  // the refusal is counted for `api`.
  std::optional<std::chrono::seconds> Admit(std::string_view api, const std::string& remote);
  // `remote` presented a wrong or missing token to `api`.
  void RecordFailure(std::string_view api, const std::string& remote);

 private:
  struct Allowance {
    double tries = 0;  // tries left, refilled continuously up to burst
    std::chrono::steady_clock::time_point updated;
  };
  // The allowance of `remote` brought up to `now` (remembered from now on).
  Allowance& Refilled(const std::string& remote, std::chrono::steady_clock::time_point now)
      REQUIRES(mu_);
  void MakeRoom(std::chrono::steady_clock::time_point now) REQUIRES(mu_);

  const Clock& clock_;
  const Options options_;
  CounterFamily& failures_;
  CounterFamily& throttled_;
  Mutex mu_;
  std::unordered_map<std::string, Allowance> clients_ GUARDED_BY(mu_);
};

// The answer to a request Admit refused: 429 with Retry-After `wait`.
HttpResponse TooManyWrongTokens(std::chrono::seconds wait);

}  // namespace pharos
