#pragma once

// ReadLocalPushToken: the ping token a push monitor of `pharos run` takes from
// spec.push.tokenFrom (an environment variable or a file), checked to be usable in a URL
// (PushTokens::Acceptable rules: 16 to 256 characters of A-Z a-z 0-9 . _ ~ -). Errors name the
// variable or file, never the value. Re-read whenever the files are reloaded (SIGHUP).
// Thread-safety: a pure function of the environment and the file system.

#include <string>

#include "common/monitor.h"
#include "common/result.h"

namespace pharos {

Result<std::string> ReadLocalPushToken(const Monitor& monitor, const PushTokenSource& source);

}  // namespace pharos
