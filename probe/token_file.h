#pragma once

// TokenFile: the bearer token a probe presents to the operator, read from a file that may be
// rotated underneath it (a mounted Kubernetes Secret is replaced atomically through a symlink).
// Every Token() call checks the file's identity (inode, size, modification time) and re-reads it
// when it changed, so a rotated token is used on the very next request. Surrounding whitespace
// is trimmed. If a re-read fails or finds an empty file, the last good token stays in use and
// the problem is logged once. The token itself is never logged.
// Thread-safety: Token() may be called from any thread.

#include <string>

#include "common/file_identity.h"
#include "common/mutex.h"
#include "common/result.h"

namespace pharos {

class TokenFile {
 public:
  explicit TokenFile(std::string path);

  // The current token; an error (naming the file and what is wrong) only while no good token was
  // ever read.
  Result<std::string> Token();

  const std::string& path() const { return path_; }

 private:
  // Reads the file; an error says why it cannot serve as a token.
  Result<std::string> Read() const;

  const std::string path_;
  Mutex mutex_;
  std::string token_ GUARDED_BY(mutex_);
  FileIdentity identity_ GUARDED_BY(mutex_);  // of the file token_ came from
  bool have_identity_ GUARDED_BY(mutex_) = false;
  std::string last_problem_ GUARDED_BY(mutex_);  // logged once until it changes
};

}  // namespace pharos
