#pragma once

// FileIdentity: what tells that a file was replaced or rewritten since it was last read (inode,
// size, modification time). Files that are re-read when they change — token files, a mounted
// Kubernetes Secret replaced atomically through a symlink — compare identities instead of
// re-reading on every use.
// Thread-safety: a value type.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace pharos {

struct FileIdentity {
  ino_t inode = 0;
  off_t size = -1;
  int64_t modified_ns = 0;

  bool operator==(const FileIdentity&) const = default;

  // The identity of the file `path` names now (symlinks followed); an error is
  // "<path>: <reason>".
  static Result<FileIdentity> Of(const std::string& path);
};

}  // namespace pharos
