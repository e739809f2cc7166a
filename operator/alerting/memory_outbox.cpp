#include "operator/alerting/memory_outbox.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace pharos {

Result<size_t> MemoryOutbox::Add(const std::vector<Delivery>& deliveries) {
  MutexLock lock(mu_);
  size_t added = 0;
  for (const Delivery& delivery : deliveries) {
    const bool known = std::any_of(deliveries_.begin(), deliveries_.end(),
                                   [&](const Delivery& d) { return d.id == delivery.id; });
    if (!known) {
      deliveries_.push_back(delivery);
      ++added;
    }
  }
  return added;
}

Result<std::optional<Delivery>> MemoryOutbox::NextPending(const std::string& channel) {
  MutexLock lock(mu_);
  const Delivery* best = nullptr;
  for (const Delivery& delivery : deliveries_) {
    if (delivery.channel != channel || delivery.state != DeliveryState::kPending) continue;
    if (best == nullptr ||
        std::tie(delivery.created_at, delivery.id) < std::tie(best->created_at, best->id)) {
      best = &delivery;
    }
  }
  if (best == nullptr) return std::optional<Delivery>();
  return std::optional<Delivery>(*best);
}

Result<std::vector<std::string>> MemoryOutbox::PendingChannels() {
  MutexLock lock(mu_);
  std::set<std::string> channels;
  for (const Delivery& delivery : deliveries_) {
    if (delivery.state == DeliveryState::kPending) channels.insert(delivery.channel);
  }
  return std::vector<std::string>(channels.begin(), channels.end());
}

Status MemoryOutbox::Update(const Delivery& delivery) {
  MutexLock lock(mu_);
  for (Delivery& known : deliveries_) {
    if (known.id == delivery.id) {
      known = delivery;
      return OkStatus();
    }
  }
  return Error{"no delivery " + delivery.id};
}

Result<std::vector<Delivery>> MemoryOutbox::ForIncident(const std::string& incident_id) {
  MutexLock lock(mu_);
  std::vector<Delivery> out;
  for (const Delivery& delivery : deliveries_) {
    if (delivery.notification.incident && delivery.notification.incident->id == incident_id) {
      out.push_back(delivery);
    }
  }
  return out;
}

Result<OutboxStats> MemoryOutbox::Stats() {
  MutexLock lock(mu_);
  OutboxStats stats;
  for (const Delivery& delivery : deliveries_) {
    if (delivery.state != DeliveryState::kPending) continue;
    ++stats.pending;
    if (!stats.oldest_pending || delivery.created_at < *stats.oldest_pending) {
      stats.oldest_pending = delivery.created_at;
    }
  }
  return stats;
}

std::optional<Delivery> MemoryOutbox::Get(const std::string& id) const {
  MutexLock lock(mu_);
  for (const Delivery& delivery : deliveries_) {
    if (delivery.id == id) return delivery;
  }
  return std::nullopt;
}

std::vector<Delivery> MemoryOutbox::All() const {
  MutexLock lock(mu_);
  return deliveries_;
}

}  // namespace pharos
