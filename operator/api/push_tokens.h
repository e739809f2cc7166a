#pragma once

// PushTokens: which push monitor a ping URL's token (/api/v1/push/{token}) belongs to, and the
// token of each push monitor (shown in the JSON API and in Monitor.status). The editions fill it:
// `pharos run` with tokens kept in its SQLite file or read through spec.push.tokenFrom,
// pharos-operator with tokens kept in Monitor.status or read from a Secret.
// Lookups go by the token's SHA-256 digest and end with a constant-time comparison, so the time
// taken reveals nothing about the tokens held. Tokens are never logged.
// Thread-safety: every method may be called from any thread.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/mutex.h"

namespace pharos {

class PushTokens {
 public:
  // A new token: 24 bytes from OpenSSL's CSPRNG (RAND_bytes), hex (48 characters).
  static std::string Generate();
  // Whether `token` can be a ping token: 16 to 256 characters of A-Z a-z 0-9 . _ ~ - (they go in
  // a URL path unescaped). Generated tokens are.
  static bool Acceptable(std::string_view token);

  // Monitor `uid`'s token is `token` (replacing its previous one).
  void Set(const std::string& uid, const std::string& token);
  void Remove(const std::string& uid);
  // Makes the set exactly `tokens` (uid → token).
  void ReplaceAll(const std::map<std::string, std::string>& tokens);

  // The uid of the monitor whose token is `token`; nullopt when none is.
  std::optional<std::string> FindMonitor(std::string_view token) const;
  // The token of monitor `uid`; nullopt when it has none.
  std::optional<std::string> TokenOf(const std::string& uid) const;
  size_t size() const;

 private:
  struct Entry {
    std::string uid;
    std::string token;
  };

  static std::string Digest(std::string_view token);
  void SetLocked(const std::string& uid, const std::string& token) REQUIRES(mu_);
  void RemoveLocked(const std::string& uid) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<std::string, Entry> by_digest_ GUARDED_BY(mu_);
  std::map<std::string, std::string> digest_by_uid_ GUARDED_BY(mu_);
};

}  // namespace pharos
