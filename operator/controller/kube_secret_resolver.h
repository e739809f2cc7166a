#pragma once

// KubeSecretResolver: the SecretResolver of pharos-operator — reads `valueFrom.secretKeyRef` from
// Secrets in the AlertChannel's own namespace (never another), with a short cache so a burst of
// notifications costs one GET. The operator may read only the Secrets the chart grants
// (values alerting.secretNames); anything else answers 403, reported as such. env and file
// sources are refused (the parser already refuses them for API objects). Errors name the Secret
// and key, never a value.
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/alerting/secret_resolver.h"
#include "operator/kube/kube_client.h"

namespace pharos {

// The value of `key` in Secret `namespace_name/name` (one GET, no cache; a trailing newline
// dropped), for the other readers of Secrets (push monitors' spec.push.tokenFrom). Errors name the
// Secret and key, never a value; a 403 says the chart must name the Secret.
Result<std::string> ReadSecretKey(KubeClient& client, const std::string& namespace_name,
                                  const std::string& name, const std::string& key);

class KubeSecretResolver final : public SecretResolver {
 public:
  KubeSecretResolver(KubeClient& client, const Clock& clock,
                     std::chrono::milliseconds cache_for = std::chrono::milliseconds(10'000))
      : client_(client), clock_(clock), cache_for_(cache_for) {}

  Result<std::string> Resolve(const AlertChannel& channel, const ValueSource& source) override;

 private:
  struct Cached {
    std::chrono::steady_clock::time_point at;
    nlohmann::json data;  // the Secret's .data
  };

  KubeClient& client_;
  const Clock& clock_;
  const std::chrono::milliseconds cache_for_;
  Mutex mu_;
  std::map<std::string, Cached> cache_ GUARDED_BY(mu_);  // by namespace/name
};

}  // namespace pharos
