#include "operator/web/status_page_directory.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace pharos {

StatusPageDirectory::StatusPageDirectory(bool default_page)
    : default_page_(default_page),
      default_(std::make_shared<const StatusPage>(DefaultStatusPage())) {}

void StatusPageDirectory::ReplaceAll(std::vector<StatusPage> pages) {
  std::map<std::string, std::shared_ptr<const StatusPage>> by_key;
  for (StatusPage& page : pages) {
    std::string key = page.Key();
    by_key.emplace(std::move(key), std::make_shared<const StatusPage>(std::move(page)));
  }
  std::lock_guard lock(mu_);
  by_key_ = std::move(by_key);
}

bool StatusPageDirectory::Upsert(StatusPage page) {
  std::string key = page.Key();
  const std::string slug = page.slug;
  std::lock_guard lock(mu_);
  by_key_[key] = std::make_shared<const StatusPage>(std::move(page));
  return FindLocked(slug)->Key() == key;
}

void StatusPageDirectory::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  by_key_.erase(key);
}

std::shared_ptr<const StatusPage> StatusPageDirectory::FindLocked(std::string_view slug) const {
  // by_key_ is ordered by key: the first match is the page with the smallest key.
  for (const auto& [key, page] : by_key_) {
    if (page->slug == slug) return page;
  }
  if (default_page_ && by_key_.empty() && slug == default_->slug) return default_;
  return nullptr;
}

std::shared_ptr<const StatusPage> StatusPageDirectory::Find(std::string_view slug) const {
  std::lock_guard lock(mu_);
  return FindLocked(slug);
}

std::vector<std::shared_ptr<const StatusPage>> StatusPageDirectory::List() const {
  std::vector<std::shared_ptr<const StatusPage>> pages;
  {
    std::lock_guard lock(mu_);
    if (default_page_ && by_key_.empty()) return {default_};
    for (const auto& [key, page] : by_key_) {
      if (FindLocked(page->slug) == page) pages.push_back(page);
    }
  }
  std::sort(pages.begin(), pages.end(), [](const auto& a, const auto& b) {
    return std::tie(a->title, a->slug) < std::tie(b->title, b->slug);
  });
  return pages;
}

}  // namespace pharos
