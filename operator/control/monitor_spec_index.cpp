#include "operator/control/monitor_spec_index.h"

namespace pharos {

void MonitorSpecIndex::Set(const std::shared_ptr<const Monitor>& monitor) {
  MutexLock lock(mu_);
  // Slots key on the strings of the Monitor they hold, so an entry is replaced (erased and
  // inserted), never re-pointed.
  EraseLocked(monitor->uid);
  by_uid_.Insert(monitor);
  by_key_.Erase(ByKey().KeyOf(monitor.get()));
  by_key_.Insert(monitor.get());
}

void MonitorSpecIndex::Erase(std::string_view uid) {
  MutexLock lock(mu_);
  EraseLocked(uid);
}

void MonitorSpecIndex::EraseLocked(std::string_view uid) {
  const std::shared_ptr<const Monitor>* found = by_uid_.Find(uid);
  if (found == nullptr) {
    return;
  }
  // Keep the Monitor alive until both indexes let go of it.
  const std::shared_ptr<const Monitor> spec = *found;
  const ByKey::Key key = ByKey().KeyOf(spec.get());
  if (const Monitor* const* by_key = by_key_.Find(key);
      by_key != nullptr && *by_key == spec.get()) {
    by_key_.Erase(key);
  }
  by_uid_.Erase(uid);
}

std::shared_ptr<const Monitor> MonitorSpecIndex::Find(std::string_view uid) const {
  MutexLock lock(mu_);
  const std::shared_ptr<const Monitor>* found = by_uid_.Find(uid);
  return found == nullptr ? nullptr : *found;
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
