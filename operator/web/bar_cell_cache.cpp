#include "operator/web/bar_cell_cache.h"

#include <algorithm>
#include <utility>

namespace pharos {

size_t BarCellCache::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

uint64_t BarCellCache::hits() const {
  MutexLock lock(mu_);
  return hits_;
}

void BarCellCache::Append(std::string& out, const std::string& key, std::span<const DayView> days,
                          const Renderer& render) {
  {
    MutexLock lock(mu_);
    const auto found = entries_.find(key);
    if (found != entries_.end() && std::equal(days.begin(), days.end(), found->second.days.begin(),
                                              found->second.days.end())) {
      found->second.last_used = ++uses_;
      ++hits_;
      out += found->second.html;
      return;
    }
  }
  Entry entry;
  entry.days.assign(days.begin(), days.end());
  render(entry.html, days);
  out += entry.html;
  MutexLock lock(mu_);
  entry.last_used = ++uses_;
  entries_.insert_or_assign(key, std::move(entry));
  if (entries_.size() > max_entries_) {
    std::vector<uint64_t> uses;
    uses.reserve(entries_.size());
    for (const auto& [name, kept] : entries_) uses.push_back(kept.last_used);
    const auto middle = uses.begin() + static_cast<std::ptrdiff_t>(uses.size() / 2);
    std::nth_element(uses.begin(), middle, uses.end());
    const uint64_t median = *middle;
    std::erase_if(entries_, [&](const auto& item) { return item.second.last_used < median; });
  }
}

}  // namespace pharos
