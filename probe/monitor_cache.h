#pragma once

// MonitorCache: the Monitors a probe checks, converted from the API objects the operator sends
// (MonitorFromApiObject parses and validates them) and kept by uid, generation and version —
// the operator's spec version, or a digest of the object when it gave none — so that a monitor
// leased every 10 s is converted once per change instead of on every lease. A lease item that
// names a version the cache holds (Holds) needs no spec; a reply that leaves out a monitor the
// cache holds at the item's generation (or a newer one) is served from the cache. A
// Monitor the probe cannot use (invalid, or absent from the reply and not cached) is an error
// naming it. Entries not used for `idle_expiry` are dropped by Prune (deleted Monitors).
// Thread-safety: not thread-safe; owned by the lease loop.

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "common/monitor.h"
#include "common/result.h"

namespace pharos {

class MonitorCache {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  explicit MonitorCache(std::chrono::milliseconds idle_expiry = std::chrono::hours(1))
      : idle_expiry_(idle_expiry) {}

  // The Monitor of `uid` for an item of `generation`. `object` is the spec the operator sent for
  // the uid (null when none), `version` its version (empty: the cache digests the object):
  // converted unless the cache holds the same version.
  Result<std::shared_ptr<const Monitor>> Get(const std::string& uid, int64_t generation,
                                             const nlohmann::json* object, SteadyTime now,
                                             const std::string& version = "");
  // Whether the spec of `uid` at the operator's `version` is held (converted, valid or not).
  bool Holds(const std::string& uid, const std::string& version) const;

  // Drops entries last used more than idle_expiry before `now`.
  void Prune(SteadyTime now);

  size_t size() const { return entries_.size(); }
  uint64_t conversions() const { return conversions_; }

 private:
  struct Entry {
    int64_t generation = 0;
    std::string version;  // the operator's, or "#" and a digest of the object's JSON text
    std::shared_ptr<const Monitor> monitor;  // null when the object was invalid
    std::string error;                       // why it was invalid
    SteadyTime last_used{};
  };

  const std::chrono::milliseconds idle_expiry_;
  std::unordered_map<std::string, Entry> entries_;
  uint64_t conversions_ = 0;
};

}  // namespace pharos
