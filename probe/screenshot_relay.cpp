#include "probe/screenshot_relay.h"

#include <pthread.h>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("screenshots");
  return logger;
}

}  // namespace

ScreenshotRelay::~ScreenshotRelay() { Stop(); }

void ScreenshotRelay::Start() {
  worker_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "pharos-shots");
    Loop(stop);
  });
}

void ScreenshotRelay::Stop() {
  if (!worker_.joinable()) return;
  worker_.request_stop();
  cv_.NotifyAll();
  worker_.join();
}

ScreenshotRelay::Round ScreenshotRelay::RunOnce(const std::stop_token& stop) {
  OperatorReply<std::vector<ScreenshotLeaseItem>> leased = client_.LeaseScreenshots(1, stop);
  if (!leased.ok()) {
    if (leased.error.kind == OperatorErrorKind::kCancelled) return Round::kIdle;
    Log().Warn("leasing screenshot requests failed", {{"error", leased.error.message}});
    return leased.error.kind == OperatorErrorKind::kConfiguration ? Round::kConfigurationError
                                                                  : Round::kOperatorError;
  }
  if (leased.value->empty()) return Round::kIdle;
  for (const ScreenshotLeaseItem& item : *leased.value) {
    Result<std::string> png = capturer_.Capture(item.url, item.cluster_policy);
    if (png) {
      OperatorReply<std::string> uploaded = client_.UploadScreenshot(item.id, *png, stop);
      if (!uploaded.ok()) {
        Log().Warn("uploading a screenshot failed; the operator records it as failed",
                   {{"incident", item.incident}, {"error", uploaded.error.message}});
        continue;
      }
      Log().Info("screenshot uploaded", {{"monitor", item.monitor},
                                         {"incident", item.incident},
                                         {"moment", item.moment},
                                         {"bytes", static_cast<int64_t>(png->size())},
                                         {"url", *uploaded.value}});
    } else {
      Log().Warn("screenshot failed; reporting it to the operator",
                 {{"monitor", item.monitor}, {"incident", item.incident}, {"error", png.error()}});
      OperatorReply<bool> reported = client_.ReportScreenshotFailure(item.id, png.error(), stop);
      if (!reported.ok()) {
        Log().Warn("reporting a failed screenshot failed",
                   {{"incident", item.incident}, {"error", reported.error.message}});
      }
    }
  }
  return Round::kHandled;
}

void ScreenshotRelay::Loop(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    const Round round = RunOnce(stop);
    if (round == Round::kHandled) continue;  // more may be waiting
    const std::chrono::milliseconds pause = round == Round::kConfigurationError
                                                ? options_.configuration_backoff
                                                : options_.poll_interval;
    MutexLock lock(mu_);
    cv_.WaitFor(mu_, stop, pause, [] { return false; });
  }
}

}  // namespace pharos
