#include "operator/control/state_seed.h"

namespace pharos {

std::optional<TimePoint> StateSeed::EvidenceOf(const MonitorProgress& state) {
  std::optional<TimePoint> newest = state.last_round_at;
  for (const RegionStateSnapshot& region : state.regions) {
    if (region.last_check_at && (!newest || *region.last_check_at > *newest)) {
      newest = region.last_check_at;
    }
  }
  return newest;
}

}  // namespace pharos
