#pragma once

// SecretResolver: reads the values an AlertChannel takes from elsewhere (valueFrom) at the
// moment a notification is sent, so a rotated secret is used at once and no secret is kept in
// the channel. LocalSecretResolver reads environment variables and files (`pharos run`); the
// Kubernetes one reads Secrets (operator/controller/). Errors name the source, never its value.
// Thread-safety: implementations are safe to call from any thread.

#include <string>

#include "common/result.h"
#include "operator/alerting/alert_channel.h"

namespace pharos {

class SecretResolver {
 public:
  virtual ~SecretResolver() = default;
  // The value of `source` for `channel` (a written value is returned as is).
  virtual Result<std::string> Resolve(const AlertChannel& channel, const ValueSource& source) = 0;
};

// env and file sources; secretKeyRef is refused (files never carry one: the parser says so).
class LocalSecretResolver final : public SecretResolver {
 public:
  Result<std::string> Resolve(const AlertChannel& channel, const ValueSource& source) override;
};

}  // namespace pharos
