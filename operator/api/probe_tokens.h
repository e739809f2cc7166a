#pragma once

// ProbeTokens: the bearer tokens probes present to the operator (docs/probe-protocol.md), read
// from a token file: one token per line; `TOKEN` admits a probe of any region, `REGION=TOKEN`
// only probes of REGION (a DNS-1123 label). Blank lines and lines starting with '#' are
// ignored; surrounding whitespace is trimmed. A line whose part before the first '=' is not a
// region name is a token of any region (base64 tokens may contain '=').
// The file is re-read by Reload() (SIGHUP) and, when its size, inode or modification time
// changed, at most once per `recheck_interval` on Check() (a rotated Kubernetes Secret). A
// failed re-read keeps the previous tokens and is logged; tokens are never logged.
// Comparisons take the same time whatever the token, so timing does not reveal a prefix.
// Thread-safety: every method may be called from any thread.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_identity.h"
#include "common/mutex.h"
#include "common/result.h"

namespace pharos {

class ProbeTokens {
 public:
  enum class Verdict {
    kAllowed,
    kMissing,      // no token: 401
    kUnknown,      // not in the file: 401
    kWrongRegion,  // a token bound to another region: 403
  };

  struct Entry {
    std::string region;  // empty = any region
    std::string token;
  };

  // Reads `path`; an error names the file and the problem (unreadable, a line without token).
  static Result<std::unique_ptr<ProbeTokens>> Load(
      std::string path, std::chrono::milliseconds recheck_interval = std::chrono::seconds(5));
  // The entries of a token file's text; errors name the line.
  static Result<std::vector<Entry>> Parse(std::string_view text, std::string_view file_name);

  // Re-reads the file now; on error the previous tokens stay in use.
  Status Reload();

  // Whether `token` (from "Authorization: Bearer TOKEN"; empty when absent) may act for a probe
  // of `region`.
  Verdict Check(std::string_view token, std::string_view region);

  size_t size() const;
  const std::string& path() const { return path_; }

  // Use Load.
  ProbeTokens(std::string path, std::chrono::milliseconds recheck_interval);

 private:
  Status ReloadLocked() REQUIRES(mutex_);

  const std::string path_;
  const std::chrono::milliseconds recheck_interval_;
  mutable Mutex mutex_;
  std::vector<Entry> entries_ GUARDED_BY(mutex_);
  FileIdentity identity_ GUARDED_BY(mutex_);
  std::chrono::steady_clock::time_point checked_at_ GUARDED_BY(mutex_){};
};

}  // namespace pharos
