#pragma once

// SplitOutbox: one Outbox over two — the deliveries about an incident in one (in Kubernetes, the
// Incident resources, which a new leader reads), the others (degraded, test) in another (the
// leader's SQLite file) — so the dispatcher and the engine see a single queue per channel.
// Thread-safety: as the two outboxes (both must be thread-safe).

#include "operator/alerting/outbox.h"

namespace pharos {

class SplitOutbox final : public Outbox {
 public:
  SplitOutbox(Outbox& incidents, Outbox& others) : incidents_(incidents), others_(others) {}

  Result<size_t> Add(const std::vector<Delivery>& deliveries) override;
  Result<std::optional<Delivery>> NextPending(const std::string& channel) override;
  Result<std::vector<std::string>> PendingChannels() override;
  Status Update(const Delivery& delivery) override;
  Result<std::vector<Delivery>> ForIncident(const std::string& incident_id) override;
  Result<OutboxStats> Stats() override;

 private:
  Outbox& For(const Delivery& delivery) {
    return delivery.notification.incident ? incidents_ : others_;
  }

  Outbox& incidents_;
  Outbox& others_;
};

}  // namespace pharos
