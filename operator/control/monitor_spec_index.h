#pragma once

// MonitorSpecIndex: the spec in force of every monitor, found by uid and by (namespace, name).
// OperatorCore keeps one Monitor per monitor, shared with the scheduler and its state; this index
// holds the same object. Lookups take only this index's own lock, so lease callbacks (which may
// run under the scheduler's lock) and ingestion may read specs without the core's state lock.
// Each spec also has a version, a digest of its Kubernetes JSON text that lease replies carry
// instead of the spec for probes that keep specs (docs/probe-protocol.md): computed once per
// spec, when it is first asked for, so that specs no probe leases are never rendered.
// Memory: two FlatIndex slots per monitor (~50 bytes), no copy of the Monitor.
// Thread-safety: every method may be called from any thread (one leaf lock).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/flat_index.h"
#include "common/monitor.h"
#include "common/mutex.h"

namespace pharos {

class MonitorSpecIndex {
 public:
  // Adds or replaces the spec of `monitor->uid` (and its (namespace, name) entry).
  void Set(const std::shared_ptr<const Monitor>& monitor);
  void Erase(std::string_view uid);
  // Null when unknown.
  std::shared_ptr<const Monitor> Find(std::string_view uid) const;
  // The version of the spec in force (SpecVersion of its JSON text); nullopt when unknown.
  std::optional<uint64_t> FindVersion(std::string_view uid) const;
  // The version of a spec's Kubernetes JSON text (MonitorToJson(...).dump()): equal texts, equal
  // versions; the same in every process of the same build; never 0.
  static uint64_t SpecVersion(std::string_view json_text);
  // The uid of namespace/name; nullopt when unknown.
  std::optional<std::string> FindUid(std::string_view namespace_name, std::string_view name) const;

 private:
  static constexpr uint64_t kNoVersionYet = 0;
  struct Versioned {
    std::shared_ptr<const Monitor> monitor;
    // Filled in by the first FindVersion (under mu_), which is why a const slot may change it.
    mutable uint64_t version = kNoVersionYet;
  };
  struct ByUid {
    std::string_view KeyOf(const Versioned& spec) const { return spec.monitor->uid; }
    static bool IsEmpty(const Versioned& spec) { return spec.monitor == nullptr; }
  };
  struct ByKey {
    using Key = std::pair<std::string_view, std::string_view>;  // (namespace, name)
    Key KeyOf(const Monitor* spec) const { return {spec->namespace_name, spec->name}; }
    size_t Hash(const Key& key) const;
    static bool IsEmpty(const Monitor* spec) { return spec == nullptr; }
  };

  void EraseLocked(std::string_view uid) REQUIRES(mu_);

  mutable Mutex mu_;
  // Every Monitor in by_key_ is one held by by_uid_.
  FlatIndex<Versioned, ByUid> by_uid_ GUARDED_BY(mu_);
  FlatIndex<const Monitor*, ByKey> by_key_ GUARDED_BY(mu_);
};

}  // namespace pharos
