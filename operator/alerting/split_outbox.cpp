#include "operator/alerting/split_outbox.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace pharos {

Result<size_t> SplitOutbox::Add(const std::vector<Delivery>& deliveries) {
  std::vector<Delivery> with_incident, without;
  for (const Delivery& delivery : deliveries) {
    (delivery.notification.incident ? with_incident : without).push_back(delivery);
  }
  size_t added = 0;
  for (auto [outbox, part] :
       {std::pair{&incidents_, &with_incident}, std::pair{&others_, &without}}) {
    if (part->empty()) continue;
    Result<size_t> count = outbox->Add(*part);
    if (!count) return count;
    added += *count;
  }
  return added;
}

Result<std::optional<Delivery>> SplitOutbox::NextPending(const std::string& channel) {
  Result<std::optional<Delivery>> a = incidents_.NextPending(channel);
  if (!a) return a;
  Result<std::optional<Delivery>> b = others_.NextPending(channel);
  if (!b) return b;
  if (!a->has_value()) return b;
  if (!b->has_value()) return a;
  return std::tie((*a)->created_at, (*a)->id) <= std::tie((*b)->created_at, (*b)->id) ? a : b;
}

Result<std::vector<std::string>> SplitOutbox::PendingChannels() {
  std::set<std::string> channels;
  for (Outbox* outbox : {&incidents_, &others_}) {
    Result<std::vector<std::string>> some = outbox->PendingChannels();
    if (!some) return some;
    channels.insert(some->begin(), some->end());
  }
  return std::vector<std::string>(channels.begin(), channels.end());
}

Status SplitOutbox::Update(const Delivery& delivery) { return For(delivery).Update(delivery); }

Result<std::vector<Delivery>> SplitOutbox::ForIncident(const std::string& incident_id) {
  return incidents_.ForIncident(incident_id);
}

Result<OutboxStats> SplitOutbox::Stats() {
  OutboxStats total;
  for (Outbox* outbox : {&incidents_, &others_}) {
    Result<OutboxStats> stats = outbox->Stats();
    if (!stats) return stats;
    total.pending += stats->pending;
    if (stats->oldest_pending &&
        (!total.oldest_pending || *stats->oldest_pending < *total.oldest_pending)) {
      total.oldest_pending = stats->oldest_pending;
    }
  }
  return total;
}

}  // namespace pharos
