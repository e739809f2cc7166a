#include "operator/control/monitor_spec_index.h"

#include "common/monitor_loader.h"

namespace pharos {

void MonitorSpecIndex::Set(const std::shared_ptr<const Monitor>& monitor) {
  MutexLock lock(mu_);
  // Slots key on the strings of the Monitor they hold, so an entry is replaced (erased and
  // inserted), never re-pointed.
  EraseLocked(monitor->uid);
  by_uid_.Insert(Versioned{monitor, kNoVersionYet});
  by_key_.Erase(ByKey().KeyOf(monitor.get()));
  by_key_.Insert(monitor.get());
}

void MonitorSpecIndex::Erase(std::string_view uid) {
  MutexLock lock(mu_);
  EraseLocked(uid);
}

void MonitorSpecIndex::EraseLocked(std::string_view uid) {
  const Versioned* found = by_uid_.Find(uid);
  if (found == nullptr) {
    return;
  }
  // Keep the Monitor alive until both indexes let go of it.
  const std::shared_ptr<const Monitor> spec = found->monitor;
  const ByKey::Key key = ByKey().KeyOf(spec.get());
  if (const Monitor* const* by_key = by_key_.Find(key);
      by_key != nullptr && *by_key == spec.get()) {
    by_key_.Erase(key);
  }
  by_uid_.Erase(uid);
}

std::shared_ptr<const Monitor> MonitorSpecIndex::Find(std::string_view uid) const {
  MutexLock lock(mu_);
  const Versioned* found = by_uid_.Find(uid);
  return found == nullptr ? nullptr : found->monitor;
}

std::optional<uint64_t> MonitorSpecIndex::FindVersion(std::string_view uid) const {
  std::shared_ptr<const Monitor> monitor;
  {
    MutexLock lock(mu_);
    const Versioned* found = by_uid_.Find(uid);
    if (found == nullptr) {
      return std::nullopt;
    }
    if (found->version != kNoVersionYet) {
      return found->version;
    }
    monitor = found->monitor;
  }
  // Rendered outside the lock, once per spec: specs only the in-process probe checks (or push
  // monitors) never need a version, so loading and resyncs render nothing.
  const uint64_t version = SpecVersion(MonitorToJson(*monitor).dump());
  MutexLock lock(mu_);
  if (const Versioned* found = by_uid_.Find(uid); found != nullptr && found->monitor == monitor) {
    found->version = version;
  }
  return version;
}

uint64_t MonitorSpecIndex::SpecVersion(std::string_view json_text) {
  // FNV-1a, 64 bits: fixed by its definition, unlike std::hash, so a probe's cached versions stay
  // comparable with those of an operator built with another standard library.
  uint64_t hash = 0xcbf29ce484222325u;
  for (const char c : json_text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3u;
  }
  return hash == kNoVersionYet ? 1 : hash;
}

std::optional<std::string> MonitorSpecIndex::FindUid(std::string_view namespace_name,
                                                     std::string_view name) const {
  MutexLock lock(mu_);
  const Monitor* const* found = by_key_.Find(ByKey::Key(namespace_name, name));
  if (found == nullptr) {
    return std::nullopt;
  }
  return (*found)->uid;
}

size_t MonitorSpecIndex::ByKey::Hash(const Key& key) const {
  const size_t namespace_hash = std::hash<std::string_view>()(key.first);
  return namespace_hash ^ (std::hash<std::string_view>()(key.second) + 0x9e3779b97f4a7c15u +
                           (namespace_hash << 6) + (namespace_hash >> 2));
}

}  // namespace pharos
