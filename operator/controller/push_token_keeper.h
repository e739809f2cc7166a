#pragma once

// PushTokenKeeper: keeps the ping tokens of push Monitors (spec.type: push) in PushTokens, from
// the Monitor objects the informer sees, on every replica. A Monitor's token is the one its
// status holds (status.push.token, written by the leader's MonitorStatusWriter), so the ping URL
// stays the same across operator restarts and leader changes and every replica knows it; a
// Monitor whose status has none yet gets one generated (PushTokens::Generate), which the leader
// then writes to its status (a follower's own stays unused until the leader's arrives).
// Tokens are never logged.
// Thread-safety: every method may be called from any thread (PushTokens is thread-safe).

#include <nlohmann/json.hpp>

#include "operator/api/push_tokens.h"

namespace pharos {

class PushTokenKeeper {
 public:
  // `tokens` must outlive the keeper.
  explicit PushTokenKeeper(PushTokens& tokens) : tokens_(tokens) {}

  // A Monitor added or updated (status updates included).
  void Follow(const nlohmann::json& object);
  // A Monitor deleted.
  void Forget(const nlohmann::json& object);

 private:
  PushTokens& tokens_;
};

}  // namespace pharos
