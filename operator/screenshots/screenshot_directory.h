#pragma once

// ScreenshotDirectory: the screenshots `pharos run` took, as files <id>.png in one directory,
// with bounded retention: at most `max_files`, at most `max_total_bytes` together, none older
// than `max_age` by the file's modification time (the oldest go first, checked at each Save;
// the newest is always kept). The incident keeps its URL after
// the file is pruned; the URL then answers 404. Ids are 32 random hex digits, so a URL cannot
// be guessed from another. Serves the web frontend's /api/v1/screenshots/{id}.png.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/web/web_frontend.h"

namespace pharos {

class ScreenshotDirectory final : public ScreenshotFiles {
 public:
  struct Options {
    std::string path;
    size_t max_files = 500;
    uint64_t max_total_bytes = 512ull * 1024 * 1024;
    std::chrono::hours max_age{24 * 30};
  };

  // Stores `png` (creating the directory at the first one); returns its id. Prunes past the
  // limits. Errors: the directory cannot be created or written.
  Result<std::string> Save(const std::string& png);
  std::optional<std::string> ReadPng(const std::string& id) const override;
  // "/api/v1/screenshots/<id>.png"
  static std::string UrlOf(const std::string& id);
  // 32 random hex digits (the ids of screenshots, and of the requests for them).
  static std::string NewId();

  explicit ScreenshotDirectory(Options options) : options_(std::move(options)) {}

 private:
  void Prune() REQUIRES(mu_);

  const Options options_;
  mutable Mutex mu_;  // one Save (and its pruning) at a time
};

}  // namespace pharos
