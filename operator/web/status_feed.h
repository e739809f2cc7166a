#pragma once

// StatusFeed: /status/{slug}/feed.rss (RSS 2.0) and /status/{slug}/feed.atom (Atom 1.0): one
// entry per incident of the page's components in the last 90 days, newest first, with its
// timeline as the entry's content. Links are absolute, from `base_url` (the scheme and host the
// reader used).
// Thread-safety: free functions.

#include <string>

#include "operator/web/status_page_view.h"

namespace pharos {

class StatusFeed {
 public:
  static constexpr size_t kMaxEntries = 50;

  static std::string Rss(const StatusPageView& view, const std::string& base_url);
  static std::string Atom(const StatusPageView& view, const std::string& base_url);
};

}  // namespace pharos
