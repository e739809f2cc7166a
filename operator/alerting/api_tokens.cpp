#include "operator/alerting/api_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <fstream>

namespace pharos {
namespace {

std::string Digest(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool IsName(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (const char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '@') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<ApiTokens::Entry>> ApiTokens::Read(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{"cannot read the API token file " + path, ErrorKind::kInvalidArgument};
  }
  std::vector<Entry> entries;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    Entry entry;
    const size_t equals = text.find('=');
    if (equals != std::string_view::npos && IsName(text.substr(0, equals))) {
      entry.name = std::string(text.substr(0, equals));
      text = text.substr(equals + 1);
    }
    if (text.size() < 16) {
      return Error{path + ":" + std::to_string(number) +
                       ": a token must have at least 16 characters (e.g. `openssl rand -hex 24`)",
                   ErrorKind::kInvalidArgument};
    }
    entry.digest = Digest(text);
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) {
    return Error{"the API token file " + path + " holds no token", ErrorKind::kInvalidArgument};
  }
  return entries;
}

Result<ApiTokens> ApiTokens::Load(const std::string& path) {
  Result<std::vector<Entry>> entries = Read(path);
  if (!entries) return Error{entries.error(), entries.error_kind()};
  return ApiTokens(path, std::move(entries).value());
}

ApiTokens::ApiTokens(const ApiTokens& other) : path_(other.path_) {
  MutexLock lock(other.mu_);
  entries_ = other.entries_;
}

Status ApiTokens::Reload() {
  Result<std::vector<Entry>> entries = Read(path_);
  if (!entries) return Error{entries.error(), entries.error_kind()};
  MutexLock lock(mu_);
  entries_ = std::move(entries).value();
  return OkStatus();
}

std::optional<std::string> ApiTokens::Check(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return std::nullopt;
  }
  const std::string digest = Digest(Trim(authorization.substr(kBearer.size())));
  MutexLock lock(mu_);
  std::optional<std::string> found;
  for (const Entry& entry : entries_) {
    // Every entry is compared, so the time does not depend on which one matches.
    if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0 && !found) {
      found = entry.name;
    }
  }
  return found;
}

size_t ApiTokens::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

}  // namespace pharos
