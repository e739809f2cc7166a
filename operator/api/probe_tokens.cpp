#include "operator/api/probe_tokens.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/logging.h"
#include "common/name_syntax.h"

namespace pharos {
namespace {

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Constant-time for equal lengths; tokens of other lengths differ anyway.
bool SameToken(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

ProbeTokens::ProbeTokens(std::string path, std::chrono::milliseconds recheck_interval)
    : path_(std::move(path)), recheck_interval_(recheck_interval) {}

Result<std::unique_ptr<ProbeTokens>> ProbeTokens::Load(std::string path,
                                                       std::chrono::milliseconds recheck_interval) {
  auto tokens = std::make_unique<ProbeTokens>(std::move(path), recheck_interval);
  MutexLock lock(tokens->mutex_);
  if (Status loaded = tokens->ReloadLocked(); !loaded) {
    return Error{loaded.error()};
  }
  return tokens;
}

Result<std::vector<ProbeTokens::Entry>> ProbeTokens::Parse(std::string_view text,
                                                           std::string_view file_name) {
  std::vector<Entry> entries;
  int line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view line = Trim(text.substr(start, end - start));
    ++line_number;
    start = end + 1;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    Entry entry;
    const size_t equals = line.find('=');
    if (equals != std::string_view::npos && IsDns1123Label(Trim(line.substr(0, equals)))) {
      entry.region = std::string(Trim(line.substr(0, equals)));
      entry.token = std::string(Trim(line.substr(equals + 1)));
      if (entry.token.empty()) {
        return Error{std::string(file_name) + ":" + std::to_string(line_number) +
                     ": no token after \"" + entry.region + "=\""};
      }
    } else {
      entry.token = std::string(line);
    }
    if (entry.token.find_first_of(" \t") != std::string::npos) {
      return Error{std::string(file_name) + ":" + std::to_string(line_number) +
                   ": a token cannot contain spaces (one token per line, REGION=TOKEN to bind "
                   "it to a region)"};
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Status ProbeTokens::ReloadLocked() {
  checked_at_ = std::chrono::steady_clock::now();
  Result<FileIdentity> identity = FileIdentity::Of(path_);
  if (!identity) {
    return Error{"probe token file " + identity.error()};
  }
  std::ifstream file(path_, std::ios::binary);
  if (!file) {
    return Error{"probe token file " + path_ + ": cannot be read: " + std::strerror(errno)};
  }
  std::stringstream text;
  text << file.rdbuf();
  Result<std::vector<Entry>> entries = Parse(text.str(), path_);
  if (!entries) {
    return Error{entries.error()};
  }
  if (entries->empty()) {
    LogWarn("the probe token file holds no token: every probe will be refused (401)",
            {{"file", path_}, {"hint", "add one token per line, or REGION=TOKEN"}});
  }
  entries_ = std::move(entries).value();
  identity_ = *identity;
  return OkStatus();
}

Status ProbeTokens::Reload() {
  MutexLock lock(mutex_);
  Status reloaded = ReloadLocked();
  if (reloaded) {
    LogInfo("probe tokens loaded", {{"file", path_}, {"tokens", entries_.size()}});
  } else {
    LogError("re-reading the probe token file failed; the previous tokens stay in use",
             {{"error", reloaded.error()}});
  }
  return reloaded;
}

ProbeTokens::Verdict ProbeTokens::Check(std::string_view token, std::string_view region) {
  if (token.empty()) {
    return Verdict::kMissing;
  }
  MutexLock lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_at_ >= recheck_interval_) {
    checked_at_ = now;
    Result<FileIdentity> identity = FileIdentity::Of(path_);
    if (identity && !(*identity == identity_)) {
      if (Status reloaded = ReloadLocked(); !reloaded) {
        LogError("re-reading the changed probe token file failed; the previous tokens stay in use",
                 {{"error", reloaded.error()}});
      } else {
        LogInfo("probe token file changed; tokens reloaded",
                {{"file", path_}, {"tokens", entries_.size()}});
      }
    }
  }
  bool known = false;
  bool allowed = false;
  for (const Entry& entry : entries_) {
    if (SameToken(entry.token, token)) {
      known = true;
      allowed = allowed || entry.region.empty() || entry.region == region;
    }
  }
  if (allowed) {
    return Verdict::kAllowed;
  }
  return known ? Verdict::kWrongRegion : Verdict::kUnknown;
}

size_t ProbeTokens::size() const {
  MutexLock lock(mutex_);
  return entries_.size();
}

}  // namespace pharos
