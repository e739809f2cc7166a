#pragma once

// MemoryOutbox: an Outbox in memory — for `pharos notify test` (one delivery, nothing to keep)
// and for unit tests of the delivery logic. Not durable.
// Thread-safety: every method may be called from any thread.

#include <map>
#include <mutex>

#include "operator/alerting/outbox.h"

namespace pharos {

class MemoryOutbox final : public Outbox {
 public:
  Result<size_t> Add(const std::vector<Delivery>& deliveries) override;
  Result<std::optional<Delivery>> NextPending(const std::string& channel) override;
  Result<std::vector<std::string>> PendingChannels() override;
  Status Update(const Delivery& delivery) override;
  Result<std::vector<Delivery>> ForIncident(const std::string& incident_id) override;
  Result<OutboxStats> Stats() override;

  std::optional<Delivery> Get(const std::string& id) const;
  std::vector<Delivery> All() const;  // in the order added

 private:
  mutable std::mutex mu_;
  std::vector<Delivery> deliveries_;  // GUARDED_BY(mu_)
};

}  // namespace pharos
