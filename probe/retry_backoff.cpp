#include "probe/retry_backoff.h"

#include <algorithm>

namespace pharos {

RetryBackoff::RetryBackoff(Options options, Random random)
    : options_(options),
      random_(std::move(random)),
      engine_(std::random_device{}()),
      step_(options.initial) {
  if (options_.max < options_.initial) options_.max = options_.initial;
}

std::chrono::milliseconds RetryBackoff::NextDelay() {
  const double fraction =
      random_ ? random_() : std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  const auto step = static_cast<double>(step_.count());
  const auto delay = std::chrono::milliseconds(
      static_cast<int64_t>(step / 2.0 + step / 2.0 * std::clamp(fraction, 0.0, 1.0)));
  step_ = std::min(options_.max, step_ * 2);
  return delay;
}

}  // namespace pharos
