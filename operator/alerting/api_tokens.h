#pragma once

// ApiTokens: the bearer tokens that may change incidents through the JSON API (acknowledge, add
// notes: `pharos run --api-token-file`). The file holds one token per line, `TOKEN` or
// `NAME=TOKEN` (NAME, letters digits '-' '_' '.' '@', is who the change is recorded as when the
// request names no one); blank lines and '#' comments are ignored. Re-read by Reload (SIGHUP); a
// failed re-read keeps the previous tokens. Tokens are never logged. Every comparison takes the
// same time whatever the token (CRYPTO_memcmp over SHA-256 digests), so timing reveals nothing.
// Thread-safety: every method may be called from any thread.

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

class ApiTokens {
 public:
  static Result<ApiTokens> Load(const std::string& path);
  ApiTokens(const ApiTokens& other);
  ApiTokens& operator=(const ApiTokens&) = delete;

  Status Reload();
  // The token's name ("" for an unnamed token) when `authorization` ("Bearer TOKEN") holds a
  // known token; nullopt otherwise.
  std::optional<std::string> Check(std::string_view authorization) const;
  size_t size() const;

 private:
  struct Entry {
    std::string name;
    std::string digest;  // SHA-256 of the token
  };
  explicit ApiTokens(std::string path) : path_(std::move(path)) {}
  static Result<std::vector<Entry>> Read(const std::string& path);

  const std::string path_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // GUARDED_BY(mu_)
};

}  // namespace pharos
