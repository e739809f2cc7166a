#pragma once

// TempTokenFile: a probe token file in a fresh temporary directory, removed with its owner.
// Rotate swaps in a new file the way a mounted Kubernetes Secret changes (a new file renamed over
// the old one).
// Thread-safety: not thread-safe; owned by one test.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace pharos::testing {

class TempTokenFile {
 public:
  explicit TempTokenFile(const std::string& token) {
    char dir[] = "/tmp/pharos-token-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = dir;
    Rotate(token);
  }
  ~TempTokenFile() { std::filesystem::remove_all(dir_); }
  TempTokenFile(const TempTokenFile&) = delete;
  TempTokenFile& operator=(const TempTokenFile&) = delete;

  void Rotate(const std::string& token) {
    const std::string staged = dir_ + "/token.new";
    std::ofstream(staged) << token << "\n";
    std::filesystem::rename(staged, path());
  }
  std::string path() const { return dir_ + "/token"; }

 private:
  std::string dir_;
};

}  // namespace pharos::testing
