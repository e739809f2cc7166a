#pragma once

// StatusPageDirectory: the StatusPages in force, found by slug. `pharos run` replaces the whole
// set at each load of its files; the operator upserts and removes pages as its informer sees
// them. When two pages claim one slug, the one with the smaller namespace/name serves it (the
// other is logged by whoever adds it). With `default_page`, a set without pages serves the
// default page (slug "default", every monitor).
// Thread-safety: every method may be called from any thread.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "operator/web/status_page.h"

namespace pharos {

class StatusPageDirectory {
 public:
  explicit StatusPageDirectory(bool default_page);

  void ReplaceAll(std::vector<StatusPage> pages);
  // False when the page's slug is already served by another page (this one is kept and takes
  // over if that one goes).
  bool Upsert(StatusPage page);
  void Remove(const std::string& key);  // namespace/name

  // nullptr when no page has this slug.
  std::shared_ptr<const StatusPage> Find(std::string_view slug) const;
  // The pages that serve their slug, by title.
  std::vector<std::shared_ptr<const StatusPage>> List() const;

 private:
  // REQUIRES: mu_
  std::shared_ptr<const StatusPage> FindLocked(std::string_view slug) const;

  const bool default_page_;
  const std::shared_ptr<const StatusPage> default_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const StatusPage>> by_key_;  // GUARDED_BY(mu_)
};

}  // namespace pharos
