#include "probe/result_buffer.h"

#include <algorithm>

namespace pharos {

ResultBuffer::ResultBuffer(size_t max_results) : max_results_(std::max<size_t>(1, max_results)) {}

bool ResultBuffer::Add(std::string item_id, std::string json, std::optional<Entry>* dropped) {
  MutexLock lock(mutex_);
  if (by_id_.count(item_id) != 0) return false;
  if (entries_.size() >= max_results_) {
    by_id_.erase(entries_.front().item_id);
    if (dropped != nullptr) *dropped = std::move(entries_.front());
    entries_.pop_front();
  }
  entries_.push_back(Entry{item_id, std::move(json), 0});
  by_id_.emplace(std::move(item_id), std::prev(entries_.end()));
  return true;
}

std::vector<ResultBuffer::Entry> ResultBuffer::Peek(size_t max_results, size_t max_bytes) const {
  MutexLock lock(mutex_);
  std::vector<Entry> batch;
  size_t bytes = 0;
  for (const Entry& entry : entries_) {
    if (batch.size() >= max_results) break;
    if (!batch.empty() && bytes + entry.json.size() > max_bytes) break;
    bytes += entry.json.size();
    batch.push_back(entry);
  }
  return batch;
}

size_t ResultBuffer::Remove(const std::vector<std::string>& item_ids) {
  MutexLock lock(mutex_);
  size_t removed = 0;
  for (const std::string& id : item_ids) {
    auto found = by_id_.find(id);
    if (found == by_id_.end()) continue;
    entries_.erase(found->second);
    by_id_.erase(found);
    ++removed;
  }
  return removed;
}

int ResultBuffer::MarkUnanswered(const std::string& item_id) {
  MutexLock lock(mutex_);
  auto found = by_id_.find(item_id);
  if (found == by_id_.end()) return 0;
  return ++found->second->unanswered;
}

size_t ResultBuffer::size() const {
  MutexLock lock(mutex_);
  return entries_.size();
}

}  // namespace pharos
