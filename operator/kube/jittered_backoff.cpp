#include "operator/kube/jittered_backoff.h"

#include <algorithm>
#include <memory>
#include <random>

namespace pharos {

JitteredBackoff::JitteredBackoff(Options options, const Clock& clock, Random random)
    : options_(options), clock_(clock), random_(std::move(random)), step_(options.initial) {
  if (!random_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
}

std::chrono::milliseconds JitteredBackoff::NextDelay() {
  const auto now = clock_.SteadyNow();
  if (failed_before_ && now - last_failure_ >= options_.reset_after) step_ = options_.initial;
  failed_before_ = true;
  last_failure_ = now;
  const std::chrono::milliseconds step = std::min(step_, options_.max);
  const double fraction = std::clamp(random_(), 0.0, 1.0);
  const auto delay =
      std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(step.count()) * fraction));
  const double next = static_cast<double>(step.count()) * options_.factor;
  step_ = std::min(options_.max, std::chrono::milliseconds(static_cast<int64_t>(
                                     std::min(next, static_cast<double>(options_.max.count())))));
  return delay;
}

void JitteredBackoff::Reset() {
  step_ = options_.initial;
  failed_before_ = false;
}

}  // namespace pharos
