#include "operator/api/push_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>

namespace pharos {

std::string PushTokens::Generate() {
  std::array<unsigned char, 24> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // No usable randomness: a guessable token would be worse than no process.
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    token.push_back(kHex[byte >> 4]);
    token.push_back(kHex[byte & 0x0f]);
  }
  return token;
}

bool PushTokens::Acceptable(std::string_view token) {
  if (token.size() < 16 || token.size() > 256) return false;
  for (char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string PushTokens::Digest(std::string_view token) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    std::abort();  // SHA-256 is always available in the OpenSSL Pharos links
  }
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

void PushTokens::Set(const std::string& uid, const std::string& token) {
  MutexLock lock(mu_);
  SetLocked(uid, token);
}

void PushTokens::Remove(const std::string& uid) {
  MutexLock lock(mu_);
  RemoveLocked(uid);
}

void PushTokens::ReplaceAll(const std::map<std::string, std::string>& tokens) {
  MutexLock lock(mu_);
  by_digest_.clear();
  digest_by_uid_.clear();
  for (const auto& [uid, token] : tokens) {
    SetLocked(uid, token);
  }
}

void PushTokens::SetLocked(const std::string& uid, const std::string& token) {
  RemoveLocked(uid);
  std::string digest = Digest(token);
  // Two monitors given one token (the same Secret): the last one set gets the pings.
  if (auto taken = by_digest_.find(digest); taken != by_digest_.end()) {
    digest_by_uid_.erase(taken->second.uid);
  }
  by_digest_[digest] = Entry{uid, token};
  digest_by_uid_[uid] = std::move(digest);
}

void PushTokens::RemoveLocked(const std::string& uid) {
  auto found = digest_by_uid_.find(uid);
  if (found == digest_by_uid_.end()) return;
  by_digest_.erase(found->second);
  digest_by_uid_.erase(found);
}

std::optional<std::string> PushTokens::FindMonitor(std::string_view token) const {
  const std::string digest = Digest(token);
  MutexLock lock(mu_);
  auto found = by_digest_.find(digest);
  if (found == by_digest_.end()) return std::nullopt;
  const std::string& held = found->second.token;
  if (held.size() != token.size() || CRYPTO_memcmp(held.data(), token.data(), token.size()) != 0) {
    return std::nullopt;
  }
  return found->second.uid;
}

std::optional<std::string> PushTokens::TokenOf(const std::string& uid) const {
  MutexLock lock(mu_);
  auto found = digest_by_uid_.find(uid);
  if (found == digest_by_uid_.end()) return std::nullopt;
  return by_digest_.at(found->second).token;
}

size_t PushTokens::size() const {
  MutexLock lock(mu_);
  return digest_by_uid_.size();
}

}  // namespace pharos
