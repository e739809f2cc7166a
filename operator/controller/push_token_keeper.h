#pragma once

// PushTokenKeeper: keeps the ping tokens of push Monitors (spec.type: push) in PushTokens, from
// the Monitor objects the informer sees, on every replica. A Monitor's token is the one its
// status holds (status.push.token, written by the leader's MonitorStatusWriter), so the ping URL
// stays the same across operator restarts and leader changes and every replica knows it; a
// Monitor whose status has none yet gets one generated (PushTokens::Generate), which the leader
// then writes to its status (a follower's own stays unused until the leader's arrives).
// With spec.push.tokenFrom.secretKeyRef the token is the Secret's key instead (read when the
// Monitor is added or changes, and at every informer resync); a Secret that cannot be read, or
// whose value is not a usable token, is logged (never the value) and the monitor has no token
// (its pings are 404) until it can.
// Tokens are never logged.
// Thread-safety: every method may be called from any thread (PushTokens is thread-safe).

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "operator/api/push_tokens.h"

namespace pharos {

class PushTokenKeeper {
 public:
  // The value of `key` in Secret `namespace_name/name`; errors name the Secret, never a value.
  using SecretReader = std::function<Result<std::string>(
      const std::string& namespace_name, const std::string& name, const std::string& key)>;

  // `tokens` must outlive the keeper.
  PushTokenKeeper(PushTokens& tokens, SecretReader secrets)
      : tokens_(tokens), secrets_(std::move(secrets)) {}

  // A Monitor added or updated (status updates included).
  void Follow(const nlohmann::json& object);
  // A Monitor deleted.
  void Forget(const nlohmann::json& object);

 private:
  PushTokens& tokens_;
  SecretReader secrets_;
};

}  // namespace pharos
