#include "operator/controller/push_token_keeper.h"

#include <string>

#include "operator/kube/kube_client.h"

namespace pharos {

void PushTokenKeeper::Follow(const nlohmann::json& object) {
  const std::string uid = JsonStringAt(object, {"metadata", "uid"});
  if (uid.empty()) return;
  if (JsonStringAt(object, {"spec", "type"}) != "push") {
    tokens_.Remove(uid);  // not (or no longer) a push monitor
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
