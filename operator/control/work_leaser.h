#pragma once

// WorkLeaser: what a probe needs from the control plane to get work: long-poll leases of its
// region's work items, and being counted as connected. The probe API (remote probes) and the
// in-process probe of `pharos run` lease through it; OperatorCore implements it over its
// WorkDispatcher, refusing leases while it does not schedule (not the leader, stopping).
// Thread-safety: implementations are safe to call from any thread; lease callbacks may run on
// the calling thread or on the dispatcher's (see WorkDispatcher::LeaseOrWait).

#include <cstddef>
#include <string>

#include "common/clock.h"
#include "common/duration.h"
#include "operator/control/work_dispatcher.h"

namespace pharos {

class WorkLeaser {
 public:
  using WaiterId = WorkDispatcher::WaiterId;
  using LeaseCallback = WorkDispatcher::LeaseCallback;

  virtual ~WorkLeaser() = default;

  // False while leases would be refused (this replica is not the leader, or it is stopping).
  virtual bool accepting_work() const = 0;
  // Leases up to `max_items` items of `region` now, or parks until some arrive or `wait` has
  // passed (monotonic time: a wall-clock step neither cuts nor stretches it); a parked request
  // then waits up to `batch_wait` for `max_items` (0: answered at the first item). `done` runs
  // exactly once unless CancelWait wins (see WorkDispatcher::LeaseOrWait).
  virtual WaiterId LeaseOrWait(const std::string& region, const std::string& probe,
                               size_t max_items, Millis wait, Millis batch_wait,
                               LeaseCallback done) = 0;
  // Forgets a parked long-poll (its client went away); false when it already completed.
  virtual bool CancelWait(WaiterId id) = 0;
  // A probe registered or reported: it counts as connected in its region.
  virtual void TouchProbe(const std::string& region, const std::string& probe) = 0;
  // A lease's visibility timeout is the item's timeout plus this.
  virtual Millis lease_grace() const = 0;
  // The time line work items' scheduledAt and deadline are on (see ScheduleClock): whether an
  // item's deadline passed is decided against it, never against the wall clock.
  virtual const Clock& schedule_clock() const = 0;
};

}  // namespace pharos
