#include "probe/token_file.h"

#include <sys/stat.h>

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
  std::lock_guard<std::mutex> lock(mutex_);
  struct stat info {};
  std::string problem;
  if (stat(path_.c_str(), &info) != 0) {
    problem = "cannot read the token file " + path_ + ": " + std::strerror(errno);
  } else {
    const Identity identity{
        info.st_ino, info.st_size,
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
    if (have_identity_ && identity == identity_) return token_;
    Result<std::string> read = Read();
    if (read.ok()) {
      if (!token_.empty() && *read != token_) {
        LogInfo("the probe token file changed; using the new token", {{"file", path_}});
      }
      token_ = std::move(read).value();
      identity_ = identity;
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
