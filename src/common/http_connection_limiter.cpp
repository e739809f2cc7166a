#include "common/http_connection_limiter.h"

namespace pharos {

HttpConnectionLimiter::Decision HttpConnectionLimiter::Admit(std::string_view client) {
  std::lock_guard lock(mu_);
  Decision decision;
  const auto counted = per_client_.find(std::string(client));
  if (limits_.max_per_client > 0 && counted != per_client_.end() &&
      counted->second >= limits_.max_per_client) {
    decision.verdict = Verdict::kRefuseClientLimit;
    return decision;
  }
  if (entries_.size() - evicting_ >= limits_.max_connections) {
    if (waiting_.empty() || evicting_ >= limits_.max_pending_evictions) {
      decision.verdict = Verdict::kRefuseAtLimit;
      return decision;
    }
    decision.evict = waiting_.front();
    waiting_.pop_front();
    Entry& victim = entries_.at(decision.evict);
    victim.waiting = false;
    victim.evicting = true;
    ++evicting_;
  }
  decision.id = next_id_++;
  Entry& entry = entries_[decision.id];
  entry.client = std::string(client);
  entry.waiting = true;
  entry.position = waiting_.insert(waiting_.end(), decision.id);
  ++per_client_[entry.client];
  return decision;
}

void HttpConnectionLimiter::Waiting(uint64_t id) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(id);
  if (it == entries_.end() || it->second.waiting || it->second.evicting) {
    return;
  }
  it->second.waiting = true;
  it->second.position = waiting_.insert(waiting_.end(), id);
}

void HttpConnectionLimiter::Busy(uint64_t id) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.waiting) {
    return;
  }
  waiting_.erase(it->second.position);
  it->second.waiting = false;
}

void HttpConnectionLimiter::Closed(uint64_t id) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) {
    return;
  }
  if (it->second.waiting) {
    waiting_.erase(it->second.position);
  }
  if (it->second.evicting) {
    --evicting_;
  }
  const auto counted = per_client_.find(it->second.client);
  if (counted != per_client_.end() && --counted->second == 0) {
    per_client_.erase(counted);
  }
  entries_.erase(it);
}

size_t HttpConnectionLimiter::open() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace pharos
