#pragma once

// PushReceiver: where the pings of push monitors enter the control plane. The push API
// (operator/api/push_api.h) matches the token to a monitor and hands the ping over; OperatorCore
// implements it (its Heartbeat gives the verdict, ingested as a result of region "push").
// Thread-safety: implementations are safe to call from any thread.

#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "operator/control/heartbeat.h"

namespace pharos {

class PushReceiver {
 public:
  // The verdict stored (none for a start ping). Errors: kInvalidArgument — no push monitor has
  // this uid (any more); kUnavailable — not the leader or shutting down (retry); kFailed — the
  // store refused it.
  using PingDone = std::function<void(Result<std::optional<HeartbeatVerdict>>)>;

  virtual ~PushReceiver() = default;

  // `done` runs once: after the result is committed (writer thread), or at once.
  virtual void Ping(const std::string& uid, PushPing ping, PingDone done) = 0;
};

}  // namespace pharos
