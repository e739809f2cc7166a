#include "operator/alerting/secret_resolver.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pharos {

Result<std::string> LocalSecretResolver::Resolve(const AlertChannel& channel,
                                                 const ValueSource& source) {
  if (source.value) return *source.value;
  if (!source.env.empty()) {
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr || *value == '\0') {
      return Error{"AlertChannel " + channel.Key() + ": environment variable " + source.env +
                       " is not set: set it where pharos runs",
                   ErrorKind::kInvalidArgument};
    }
    return std::string(value);
  }
  if (!source.file.empty()) {
    std::ifstream in(source.file, std::ios::binary);
    if (!in) {
      return Error{"AlertChannel " + channel.Key() + ": cannot read file " + source.file,
                   ErrorKind::kInvalidArgument};
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string value = text.str();
    // Files written by `echo` end with a newline that is not part of the secret.
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
      return Error{"AlertChannel " + channel.Key() + ": file " + source.file + " is empty",
                   ErrorKind::kInvalidArgument};
    }
    return value;
  }
  if (!source.secret_name.empty()) {
    return Error{"AlertChannel " + channel.Key() +
                     ": secretKeyRef works in Kubernetes only; use valueFrom env or file",
                 ErrorKind::kInvalidArgument};
  }
  return std::string();
}

}  // namespace pharos
