#pragma once

// Outbox: the durable record of every notification to every channel (docs/alerting.md#delivery).
// A delivery is written here before it is sent and updated after each attempt, so a process
// killed at any moment resends exactly what was not yet confirmed — with the same deliveryId.
// SqliteAlertStore (operator/storage/) is the outbox of `pharos run`; in Kubernetes the delivery
// records of an incident live in its Incident's status (IncidentResourceStore,
// operator/controller/) and the others (degraded, test) in the leader's SQLite file.
// Thread-safety: implementations are safe to call from any thread.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "operator/alerting/notification.h"

namespace pharos {

struct OutboxStats {
  int64_t pending = 0;
  // created_at of the oldest pending delivery; nullopt when none.
  std::optional<std::chrono::system_clock::time_point> oldest_pending;
};

class Outbox {
 public:
  virtual ~Outbox() = default;

  // Records the deliveries whose id is not yet known (a known id is left as it is, whatever its
  // state); returns how many were new.
  virtual Result<size_t> Add(const std::vector<Delivery>& deliveries) = 0;
  // The pending delivery of `channel` to attempt next: the oldest (created_at, then id), so a
  // channel receives its notifications in order. nullopt when none is pending.
  virtual Result<std::optional<Delivery>> NextPending(const std::string& channel) = 0;
  // Channels with at least one pending delivery.
  virtual Result<std::vector<std::string>> PendingChannels() = 0;
  // Writes the bookkeeping of an attempt (state, attempts, next_attempt_at, delivered_at,
  // last_error) of a delivery added before.
  virtual Status Update(const Delivery& delivery) = 0;
  // Every delivery of the notifications about this incident, oldest first.
  virtual Result<std::vector<Delivery>> ForIncident(const std::string& incident_id) = 0;
  virtual Result<OutboxStats> Stats() = 0;
};

}  // namespace pharos
