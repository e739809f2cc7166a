#pragma once

// BearerTokenSource: the bearer token to send to the API server. A token file (the projected
// service account token, or a kubeconfig tokenFile) rotates, so it is re-read when the copy in
// memory is older than `refresh` (one minute, as client-go does); if a re-read fails the last good
// token is kept and the failure is logged.
// Thread-safety: Token() may be called from any thread.

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"

namespace pharos {

class BearerTokenSource {
 public:
  // `token` is used when `token_file` is empty; both empty = no token.
  BearerTokenSource(std::string token, std::string token_file, const Clock& clock,
                    std::chrono::seconds refresh = std::chrono::seconds(60));

  // The current token ("" when none is configured); an error only when the file was never read.
  Result<std::string> Token();

 private:
  const std::string static_token_;
  const std::string token_file_;
  const Clock& clock_;
  const std::chrono::seconds refresh_;
  Mutex mutex_;
  std::string cached_ GUARDED_BY(mutex_);
  bool loaded_ GUARDED_BY(mutex_) = false;
  std::chrono::steady_clock::time_point loaded_at_ GUARDED_BY(mutex_){};
};

}  // namespace pharos
