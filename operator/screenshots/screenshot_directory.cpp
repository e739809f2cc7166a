#include "operator/screenshots/screenshot_directory.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

namespace pharos {
namespace {

namespace fs = std::filesystem;

bool IsId(const std::string& id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string ScreenshotDirectory::NewId() {
  static thread_local std::random_device device;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) {
    uint32_t word = device();
    for (int j = 0; j < 4; ++j) {
      id += kHex[word & 0xf];
      word >>= 4;
    }
  }
  return id;
}

std::string ScreenshotDirectory::UrlOf(const std::string& id) {
  return "/api/v1/screenshots/" + id + ".png";
}

Result<std::string> ScreenshotDirectory::Save(const std::string& png) {
  MutexLock lock(mu_);
  std::error_code created;
  fs::create_directories(options_.path, created);
  if (created || access(options_.path.c_str(), W_OK) != 0) {
    return Error{"screenshot directory " + options_.path + ": cannot create or write it" +
                     (created ? " (" + created.message() + ")" : std::string()) +
                     "; give a writable --screenshot-dir",
                 ErrorKind::kInvalidArgument};
  }
  const std::string id = NewId();
  const std::string path = options_.path + "/" + id + ".png";
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(png.data(), static_cast<std::streamsize>(png.size()));
    if (!out) {
      std::error_code ignored;
      fs::remove(partial, ignored);
      return Error{"writing a screenshot to " + options_.path + " failed (disk full?)"};
    }
  }
  std::error_code error;
  fs::rename(partial, path, error);
  if (error) return Error{"storing a screenshot in " + options_.path + ": " + error.message()};
  Prune();
  return id;
}

std::optional<std::string> ScreenshotDirectory::ReadPng(const std::string& id) const {
  if (!IsId(id)) return std::nullopt;
  std::ifstream in(options_.path + "/" + id + ".png", std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ScreenshotDirectory::Prune() {
  struct File {
    fs::path path;
    fs::file_time_type written;
    uint64_t size;
  };
  std::vector<File> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.path, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 36 || !IsId(name.substr(0, 32)) || name.substr(32) != ".png") continue;
    std::error_code stat_error;
    const auto written = entry.last_write_time(stat_error);
    const auto size = entry.file_size(stat_error);
    if (!stat_error) files.push_back({entry.path(), written, size});
  }
  std::sort(files.begin(), files.end(),
            [](const File& a, const File& b) { return a.written > b.written; });  // newest first
  const auto now = fs::file_time_type::clock::now();
  uint64_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    total += files[i].size;
    const bool too_old = now - files[i].written > options_.max_age;
    if (i > 0 && (i >= options_.max_files || total > options_.max_total_bytes || too_old)) {
      std::error_code ignored;
      fs::remove(files[i].path, ignored);
    }
  }
}

}  // namespace pharos
