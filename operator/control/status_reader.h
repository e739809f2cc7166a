#pragma once

// StatusReader: what the control plane knows about its monitors right now: their status
// (state, regions, uptime, latency, open incident), the spec in force, and whether it is ready to
// serve. The JSON API, status pages, the Kubernetes status writer and the probes' spec lookups
// read through it; OperatorCore implements it.
// Thread-safety: implementations are safe to call from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "operator/control/monitor_status.h"

namespace pharos {

class StatusReader {
 public:
  virtual ~StatusReader() = default;

  virtual std::optional<MonitorStatus> Snapshot(const std::string& uid) = 0;
  virtual std::optional<MonitorStatus> SnapshotByKey(const std::string& namespace_name,
                                                     const std::string& name) = 0;
  // Every monitor, sorted by namespace/name.
  virtual std::vector<MonitorStatus> SnapshotAll() = 0;
  // The spec in force; null when unknown.
  virtual std::shared_ptr<const Monitor> MonitorSpec(const std::string& uid) const = 0;
  // The spec in force as Kubernetes JSON text (work leases carry it); null when unknown.
  virtual std::shared_ptr<const std::string> MonitorJsonText(const std::string& uid) const = 0;
  // The version of that text (MonitorSpecIndex::SpecVersion), without rendering it; nullopt when
  // unknown. Leases carry it to probes that keep specs between leases.
  virtual std::optional<uint64_t> MonitorSpecVersion(const std::string& uid) const = 0;
  // Ready to serve; otherwise `why` (when given) says what is missing.
  virtual bool Ready(std::string* why) const = 0;
};

}  // namespace pharos
