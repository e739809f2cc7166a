#include "common/file_identity.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace pharos {

Result<FileIdentity> FileIdentity::Of(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return Error{path + ": " + std::strerror(errno)};
  FileIdentity identity;
  identity.inode = info.st_ino;
  identity.size = info.st_size;
  identity.modified_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                         static_cast<int64_t>(info.st_mtim.tv_nsec);
  return identity;
}

}  // namespace pharos
