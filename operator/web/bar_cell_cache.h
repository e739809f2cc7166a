#pragma once

// BarCellCache: the HTML of the complete days of each component's uptime bar (every day before
// today), kept from one rendering of a page to the next. 90 cells × hundreds of components are
// most of a status page's bytes and of its rendering time, and the days before today rarely
// change. An entry is reused only when the days it was rendered from equal the days being
// rendered (date, level, uptime and every fact), so it can never show stale facts: a late result,
// a new incident or a changed maintenance window changes the days and the cells are rendered
// again. At most `max_entries` entries are kept; beyond, the least recently used half is dropped.
// Thread-safety: Append may be called from any thread (one lock; rendering happens outside it).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "operator/web/status_page_view.h"

namespace pharos {

class BarCellCache {
 public:
  // Renders the cells of `days` onto `out`.
  using Renderer = std::function<void(std::string& out, std::span<const DayView> days)>;

  explicit BarCellCache(size_t max_entries = 20'000) : max_entries_(max_entries) {}

  // Appends the cells of `days` for the bar named `key` (a page and a component): those
  // rendered last time for `key` when its days were the same, else `render`'s (then kept).
  void Append(std::string& out, const std::string& key, std::span<const DayView> days,
              const Renderer& render);

  // Entries kept, and renderings reused (tests).
  size_t size() const;
  uint64_t hits() const;

 private:
  struct Entry {
    std::vector<DayView> days;
    std::string html;
    uint64_t last_used = 0;
  };

  const size_t max_entries_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
  uint64_t uses_ GUARDED_BY(mu_) = 0;
  uint64_t hits_ GUARDED_BY(mu_) = 0;
};

}  // namespace pharos
