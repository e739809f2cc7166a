#include "operator/controller/push_token_keeper.h"

#include <string>

#include "common/logging.h"
#include "operator/kube/kube_client.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("push-tokens");
  return logger;
}

}  // namespace

void PushTokenKeeper::Follow(const nlohmann::json& object) {
  const std::string uid = JsonStringAt(object, {"metadata", "uid"});
  if (uid.empty()) return;
  if (JsonStringAt(object, {"spec", "type"}) != "push") {
    tokens_.Remove(uid);  // not (or no longer) a push monitor
    return;
  }
  const std::string secret =
      JsonStringAt(object, {"spec", "push", "tokenFrom", "secretKeyRef", "name"});
  if (!secret.empty()) {
    const std::string namespace_name = JsonStringAt(object, {"metadata", "namespace"});
    const std::string key =
        JsonStringAt(object, {"spec", "push", "tokenFrom", "secretKeyRef", "key"});
    const std::string monitor = namespace_name + "/" + JsonStringAt(object, {"metadata", "name"});
    Result<std::string> token = secrets_(namespace_name, secret, key);
    if (!token || !PushTokens::Acceptable(*token)) {
      tokens_.Remove(uid);
      Log().Error(
          "a push monitor's ping token could not be read: its pings are answered 404 "
          "until the Secret holds a token of 16 to 256 characters of A-Z a-z 0-9 . _ ~ - "
          "and the operator may read it (chart value pushMonitors.secretNames)",
          {{"monitor", monitor},
           {"secret", namespace_name + "/" + secret},
           {"key", key},
           {"error", token ? std::string("not a usable token") : token.error()}});
      return;
    }
    if (tokens_.TokenOf(uid) != *token) tokens_.Set(uid, *token);
    return;
  }
  const std::string kept = JsonStringAt(object, {"status", "push", "token"});
  if (PushTokens::Acceptable(kept)) {
    if (tokens_.TokenOf(uid) != kept) tokens_.Set(uid, kept);
    return;
  }
  if (!tokens_.TokenOf(uid)) tokens_.Set(uid, PushTokens::Generate());
}

void PushTokenKeeper::Forget(const nlohmann::json& object) {
  const std::string uid = JsonStringAt(object, {"metadata", "uid"});
  if (!uid.empty()) tokens_.Remove(uid);
}

}  // namespace pharos
