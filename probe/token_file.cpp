#include "probe/token_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/logging.h"

namespace pharos {

TokenFile::TokenFile(std::string path) : path_(std::move(path)) {}

Result<std::string> TokenFile::Read() const {
  std::ifstream input(path_, std::ios::binary);
  if (!input) {
    return Error{"cannot read the token file " + path_ + ": " + std::strerror(errno)};
  }
  std::ostringstream text;
  text << input.rdbuf();
  std::string token = text.str();
  const size_t begin = token.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    return Error{"the token file " + path_ + " is empty"};
  }
  token = token.substr(begin, token.find_last_not_of(" \t\r\n") - begin + 1);
  if (token.find_first_of("\r\n") != std::string::npos) {
    return Error{"the token file " + path_ +
                 " holds more than one line; it must hold exactly one token"};
  }
  return token;
}

Result<std::string> TokenFile::Token() {
  MutexLock lock(mutex_);
  std::string problem;
  Result<FileIdentity> identity = FileIdentity::Of(path_);
  if (!identity) {
    problem = "cannot read the token file " + identity.error();
  } else {
    if (have_identity_ && *identity == identity_) return token_;
    Result<std::string> read = Read();
    if (read.ok()) {
      if (!token_.empty() && *read != token_) {
        LogInfo("the probe token file changed; using the new token", {{"file", path_}});
      }
      token_ = std::move(read).value();
      identity_ = *identity;
      have_identity_ = true;
      last_problem_.clear();
      return token_;
    }
    problem = read.error();
  }
  if (token_.empty()) return Error{problem};
  if (problem != last_problem_) {
    LogWarn("keeping the previous probe token: " + problem, {{"file", path_}});
    last_problem_ = problem;
  }
  return token_;
}

}  // namespace pharos
