#include "common/backoff.h"

#include <algorithm>
#include <memory>
#include <random>
#include <utility>

namespace pharos {
namespace {

const Clock& SystemClockInstance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

Backoff::Options Backoff::KubernetesDefaults() {
  Options options;
  options.initial = std::chrono::milliseconds(800);
  options.max = std::chrono::milliseconds(30'000);
  options.reset_after = std::chrono::milliseconds(120'000);
  return options;
}

Backoff::Options Backoff::ProbeDefaults() {
  Options options;
  options.min_fraction = 0.5;
  return options;
}

Backoff::Backoff(Options options, Random random, const Clock* clock)
    : options_(options),
      random_(std::move(random)),
      clock_(clock != nullptr ? *clock : SystemClockInstance()),
      step_(options.initial) {
  options_.max = std::max(options_.max, options_.initial);
  options_.min_fraction = std::clamp(options_.min_fraction, 0.0, 1.0);
  if (!random_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
}

std::chrono::milliseconds Backoff::NextDelay() {
  const auto now = clock_.SteadyNow();
  if (failed_before_ && options_.reset_after.count() > 0 &&
      now - last_failure_ >= options_.reset_after) {
    step_ = options_.initial;
  }
  failed_before_ = true;
  last_failure_ = now;
  const auto step = static_cast<double>(std::min(step_, options_.max).count());
  const double fraction =
      options_.min_fraction + (1.0 - options_.min_fraction) * std::clamp(random_(), 0.0, 1.0);
  const auto delay = std::chrono::milliseconds(static_cast<int64_t>(step * fraction));
  const double next = std::min(step * options_.factor, static_cast<double>(options_.max.count()));
  step_ = std::chrono::milliseconds(static_cast<int64_t>(next));
  return delay;
}

void Backoff::Reset() {
  step_ = options_.initial;
  failed_before_ = false;
}

}  // namespace pharos
