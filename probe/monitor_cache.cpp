#include "probe/monitor_cache.h"

#include <algorithm>
#include <functional>
#include <string>

#include "common/monitor_loader.h"

namespace pharos {

Result<std::shared_ptr<const Monitor>> MonitorCache::Get(const std::string& uid, int64_t generation,
                                                         const nlohmann::json* object,
                                                         SteadyTime now,
                                                         const std::string& version) {
  auto found = entries_.find(uid);
  if (object == nullptr) {
    if (found == entries_.end() || found->second.generation < generation) {
      return Error{"the operator sent no spec of monitor " + uid + " (generation " +
                   std::to_string(generation) +
                   "; deleted meanwhile, or not checked from this "
                   "region)"};
    }
  } else {
    // The object itself decides: a Monitor file edited in standalone mode may keep its
    // generation, so an equal generation alone does not prove an equal spec.
    const std::string key =
        version.empty() ? "#" + std::to_string(std::hash<std::string>{}(object->dump())) : version;
    if (found == entries_.end() || found->second.version != key) {
      Entry entry;
      entry.generation = generation;
      entry.version = key;
      ++conversions_;
      Result<Monitor> monitor = MonitorFromApiObject(*object, nullptr);
      if (monitor.ok()) {
        if (monitor->uid.empty()) monitor->uid = uid;
        entry.generation = std::max(generation, monitor->generation);
        entry.monitor = std::make_shared<const Monitor>(std::move(monitor).value());
      } else {
        entry.error = monitor.error();
      }
      found = entries_.insert_or_assign(uid, std::move(entry)).first;
    }
  }
  found->second.last_used = now;
  if (!found->second.monitor) {
    return Error{"monitor " + uid + " (generation " + std::to_string(found->second.generation) +
                 ") is invalid: " + found->second.error};
  }
  return found->second.monitor;
}

bool MonitorCache::Holds(const std::string& uid, const std::string& version) const {
  const auto found = entries_.find(uid);
  return found != entries_.end() && found->second.version == version;
}

void MonitorCache::Prune(SteadyTime now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.last_used > idle_expiry_) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace pharos
