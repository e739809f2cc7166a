#include "operator/standalone/local_push_token.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "operator/api/push_tokens.h"

namespace pharos {

Result<std::string> ReadLocalPushToken(const Monitor& monitor, const PushTokenSource& source) {
  const std::string where = "monitor " + monitor.Key() + ": spec.push.tokenFrom: ";
  std::string token;
  std::string described;
  if (!source.env.empty()) {
    described = "environment variable " + source.env;
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr || *value == '\0') {
      return Error{where + described + " is not set: set it where pharos runs",
                   ErrorKind::kInvalidArgument};
    }
    token = value;
  } else if (!source.file.empty()) {
    described = "file " + source.file;
    std::ifstream in(source.file, std::ios::binary);
    if (!in) {
      return Error{where + "cannot read " + described, ErrorKind::kInvalidArgument};
    }
    std::ostringstream text;
    text << in.rdbuf();
    token = text.str();
    // Files written by `echo` end with a newline that is not part of the token.
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  } else {
    return Error{where + "secretKeyRef works in Kubernetes only; use env or file",
                 ErrorKind::kInvalidArgument};
  }
  if (!PushTokens::Acceptable(token)) {
    return Error{where + "the token in " + described +
                     " must be 16 to 256 characters of A-Z a-z 0-9 . _ ~ -",
                 ErrorKind::kInvalidArgument};
  }
  return token;
}

}  // namespace pharos
