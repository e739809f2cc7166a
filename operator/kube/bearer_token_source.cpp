#include "operator/kube/bearer_token_source.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"token file " + path + " cannot be read"};
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto end = token.find_last_not_of(" \t\r\n");
  token.erase(end == std::string::npos ? 0 : end + 1);
  token.erase(0, token.find_first_not_of(" \t\r\n"));
  if (token.empty()) return Error{"token file " + path + " is empty"};
  return token;
}

}  // namespace

BearerTokenSource::BearerTokenSource(std::string token, std::string token_file, const Clock& clock,
                                     std::chrono::seconds refresh)
    : static_token_(std::move(token)),
      token_file_(std::move(token_file)),
      clock_(clock),
      refresh_(refresh) {}

Result<std::string> BearerTokenSource::Token() {
  if (token_file_.empty()) return static_token_;
  MutexLock lock(mutex_);
  const auto now = clock_.SteadyNow();
  if (loaded_ && now - loaded_at_ < refresh_) return cached_;
  auto token = ReadToken(token_file_);
  if (!token.ok()) {
    if (!loaded_) return Error{token.error()};
    LogWarn("could not re-read the API token; using the previous one", {{"error", token.error()}});
    loaded_at_ = now;  // retry at the next refresh, not on every request
    return cached_;
  }
  cached_ = std::move(*token);
  loaded_ = true;
  loaded_at_ = now;
  return cached_;
}

}  // namespace pharos
