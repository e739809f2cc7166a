#include "operator/standalone/monitor_file_source.h"

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "common/logging.h"
#include "common/stable_hash.h"

namespace pharos {
namespace {

namespace fs = std::filesystem;

const Logger& Log() {
  static const Logger logger("files");
  return logger;
}

bool IsMonitorFile(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

// A digest of the spec without what the source adds (location, generation). The JSON form
// names every declared field, so two monitors with the same digest declare the same thing (up
// to a 2^-64 chance of collision).
uint64_t DeclaredDigest(const Monitor& monitor) {
  Monitor declared = monitor;
  declared.source = {};
  declared.generation = 0;
  return StableHash64(MonitorToJson(declared).dump());
}

// A digest of what documents declare (not where): kinds, keys and values in order.
void AppendCanonical(const DocumentNode& node, std::string& out) {
  switch (node.kind) {
    case DocumentNode::Kind::kNull:
      out += "~";
      break;
    case DocumentNode::Kind::kScalar:
      out += node.quoted ? "\"" : "'";
      out += std::to_string(node.scalar.size()) + ":" + node.scalar;
      break;
    case DocumentNode::Kind::kSequence:
      out += "[";
      for (const DocumentNode& item : node.items) {
        AppendCanonical(item, out);
      }
      out += "]";
      break;
    case DocumentNode::Kind::kMapping:
      out += "{";
      for (const DocumentNode::Member& member : node.members) {
        out += std::to_string(member.key.size()) + ":" + member.key;
        AppendCanonical(member.value, out);
      }
      out += "}";
      break;
  }
}

uint64_t OthersDigest(const std::vector<OtherDocument>& others) {
  std::string canonical;
  for (const OtherDocument& other : others) {
    AppendCanonical(*other.document, canonical);
  }
  return StableHash64(canonical);
}

}  // namespace

MonitorFileSource::MonitorFileSource(std::vector<std::string> paths, Apply apply, Options options)
    : paths_(std::move(paths)), apply_(std::move(apply)), options_(std::move(options)) {}

MonitorFileSource::~MonitorFileSource() { Stop(); }

std::vector<MonitorFileSource::FileStamp> MonitorFileSource::Fingerprint() const {
  std::vector<FileStamp> stamps;
  const auto stamp = [&](const fs::path& path) {
    std::error_code error;
    FileStamp file;
    file.path = path.string();
    const auto size = fs::file_size(path, error);
    file.size = error ? -1 : static_cast<int64_t>(size);
    const auto modified = fs::last_write_time(path, error);
    file.modified_ns =
        error ? 0
              : std::chrono::duration_cast<std::chrono::nanoseconds>(modified.time_since_epoch())
                    .count();
    stamps.push_back(std::move(file));
  };
  for (const std::string& root : paths_) {
    std::error_code error;
    if (fs::is_directory(root, error)) {
      for (auto it = fs::recursive_directory_iterator(root, error);
           !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        if (it->is_regular_file(error) && IsMonitorFile(it->path())) {
          stamp(it->path());
        }
      }
      if (error) {
        stamps.push_back(FileStamp{root + " (unreadable directory)", -1, 0});
      }
    } else {
      stamp(root);  // a missing file stamps as size -1, so its reappearance is noticed
    }
  }
  std::sort(stamps.begin(), stamps.end(),
            [](const FileStamp& a, const FileStamp& b) { return a.path < b.path; });
  return stamps;
}

Result<size_t> MonitorFileSource::Reload() {
  MutexLock lock(load_mu_);
  return ReloadLocked(Fingerprint());
}

Result<size_t> MonitorFileSource::ReloadLocked(std::vector<FileStamp> fingerprint) {
  fingerprint_ = std::move(fingerprint);
  OtherKinds kinds;
  for (const OtherKind& other : options_.other_kinds) {
    kinds.push_back(other.kind);
  }
  LoadedMonitors loaded = LoadMonitorFiles(paths_, kinds);
  for (const OtherDocument& other : loaded.others) {
    for (const OtherKind& kind : options_.other_kinds) {
      if (kind.kind == other.kind && kind.check) {
        for (ValidationError& error : kind.check(*other.document)) {
          loaded.errors.push_back(std::move(error));
        }
      }
    }
  }
  // Parsing built document trees several times the size of the monitors (about 7 KB per
  // monitor), freed by now but kept by glibc as free heap of this thread's arena, which the
  // process would otherwise carry at that size for good: hand it back to the system.
  malloc_trim(0);
  if (!loaded.errors.empty()) {
    std::string errors;
    for (const ValidationError& error : loaded.errors) {
      Log().Error("invalid monitor file", {{"error", error.ToString()}});
      errors += error.ToString() + "\n";
    }
    last_error_ = errors;
    if (applied_once_) {
      Log().Error(
          "monitor files are invalid; nothing was changed, the last good set keeps "
          "running",
          {{"errors", loaded.errors.size()},
           {"monitors", applied_.size()},
           {"hint", "fix the errors above (pharos validate PATH shows them too)"}});
    }
    return Error{errors};
  }
  last_error_.clear();
  AppliedSpecs specs = AssignGenerationsLocked(loaded.monitors);
  const uint64_t others = OthersDigest(loaded.others);
  if (applied_once_ && specs == applied_ && others == applied_others_) {
    Log().Debug("monitor files changed but declare the same monitors");
    return applied_.size();
  }
  if (applied_once_) {
    Log().Info("monitor files changed; applying the new set",
               {{"monitors", loaded.monitors.size()}, {"files", loaded.files}});
  }
  applied_ = std::move(specs);
  applied_others_ = others;
  applied_once_ = true;
  apply_(loaded.monitors, loaded.others);
  return applied_.size();
}

MonitorFileSource::AppliedSpecs MonitorFileSource::AssignGenerationsLocked(
    std::vector<Monitor>& monitors) const {
  const auto by_uid_hash = [](const AppliedSpec& spec, uint64_t uid_hash) {
    return spec.uid_hash < uid_hash;
  };
  AppliedSpecs specs;
  specs.reserve(monitors.size());
  for (Monitor& monitor : monitors) {
    const uint64_t uid_hash = StableHash64(monitor.uid);
    const uint64_t digest = DeclaredDigest(monitor);
    const auto found = std::lower_bound(applied_.begin(), applied_.end(), uid_hash, by_uid_hash);
    if (found != applied_.end() && found->uid_hash == uid_hash) {
      monitor.generation = found->digest == digest ? found->generation : found->generation + 1;
    }
    specs.push_back(AppliedSpec{uid_hash, monitor.generation, digest});
  }
  std::sort(specs.begin(), specs.end(),
            [](const AppliedSpec& a, const AppliedSpec& b) { return a.uid_hash < b.uid_hash; });
  return specs;
}

void MonitorFileSource::Start() {
  if (thread_.joinable()) {
    return;
  }
  thread_ = std::jthread([this](const std::stop_token& stop) { Poll(stop); });
}

void MonitorFileSource::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void MonitorFileSource::Poll(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "pharos-files");
  while (!stop.stop_requested()) {
    {
      MutexLock lock(wake_mu_);
      wake_cv_.WaitFor(wake_mu_, stop, options_.poll_interval, [] { return false; });
    }
    if (stop.stop_requested()) {
      return;
    }
    std::vector<FileStamp> fingerprint = Fingerprint();
    MutexLock lock(load_mu_);
    if (fingerprint != fingerprint_) {
      (void)ReloadLocked(std::move(fingerprint));
    }
  }
}

std::string MonitorFileSource::last_error() const {
  MutexLock lock(load_mu_);
  return last_error_;
}

}  // namespace pharos
