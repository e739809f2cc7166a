#pragma once

// Logging: sets up the process-wide spdlog output — readable text on a terminal, one JSON object
// per line for log collectors — and logs messages with key=value fields:
//
//   LogInfo("monitor went down", {{"monitor", key}, {"region", region}, {"status", 503}});
//   text: 2026-11-25T23:17:54.123Z INFO  pharos: monitor went down monitor=shop/api region=eu ...
//   json: {"ts":"2026-11-25T23:17:54.123Z","level":"info","logger":"pharos","msg":"monitor went
//          down","monitor":"shop/api","region":"eu","status":503}
//
// Plain spdlog calls (spdlog::warn("...{}", x)) come out in the same format, without fields.
// Fields whose key is ts, level, logger or msg are written as "fields.<key>". Numbers and bools
// are JSON numbers/bools; everything else is a string.
//
// Secrets: never pass a token, password, Authorization/Cookie header or a URL with credentials to a
// log call. Log RedactSecret(token) (says only that there was one and its length), RedactUrl(url)
// (drops user-info passwords and credential-like query values), and check IsSensitiveHeader(name)
// before logging a header value.
//
// Thread-safety: call SetupLogging at the start of main, before other threads log (tests may call
// it again while single-threaded). Everything else is safe from any thread. Fields reach the
// formatter through a thread-local, which is why the sinks are synchronous.

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/result.h"

namespace spdlog {
class logger;
}

namespace pharos {

enum class LogFormat { kAuto, kText, kJson };
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

struct LoggingOptions {
  // kAuto: text when the output is a terminal, JSON otherwise.
  LogFormat format = LogFormat::kAuto;
  LogLevel level = LogLevel::kInfo;
  // Where lines go; null means standard error. A stream given here must outlive the logging setup
  // (tests pass a std::ostringstream and call SetupLogging again before it dies).
  std::ostream* output = nullptr;
};

// "auto", "text", "json".
Result<LogFormat> ParseLogFormat(std::string_view text);
// "trace", "debug", "info", "warn" (or "warning"), "error", "critical", "off"; any case.
Result<LogLevel> ParseLogLevel(std::string_view text);

// Replaces the default logger (named "pharos") and points every registered logger at the new
// output, format and level. Without a call, the first Log* call sets up the defaults (standard
// error, auto format, info).
void SetupLogging(const LoggingOptions& options);

// One key=value of a log line.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  LogField(std::string_view key, const char* value) : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, const std::string& value)
      : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, bool value)
      : key_(key), value_(value ? "true" : "false"), literal_(true) {}
  template <typename T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>)
      LogField(std::string_view key, T value)
      : key_(key) {
    SetNumber(static_cast<double>(value), std::is_integral_v<T>, std::to_string(value));
  }

  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  // True when value() is a JSON literal (number or bool) rather than a string.
  bool literal() const { return literal_; }

 private:
  void SetNumber(double value, bool integral, std::string integral_text);

  std::string key_;
  std::string value_;
  bool literal_ = false;
};

using LogFields = std::vector<LogField>;

// A named source of log lines ("logger" in JSON), e.g. Logger("scheduler"); cheap to keep as a
// member.
class Logger {
 public:
  explicit Logger(std::string name);
  void Log(LogLevel level, std::string_view message, const LogFields& fields = {}) const;
  void Debug(std::string_view message, const LogFields& fields = {}) const {
    Log(LogLevel::kDebug, message, fields);
  }
  void Info(std::string_view message, const LogFields& fields = {}) const {
    Log(LogLevel::kInfo, message, fields);
  }
  void Warn(std::string_view message, const LogFields& fields = {}) const {
    Log(LogLevel::kWarn, message, fields);
  }
  void Error(std::string_view message, const LogFields& fields = {}) const {
    Log(LogLevel::kError, message, fields);
  }

 private:
  std::string name_;
};

// The default logger ("pharos").
void Log(LogLevel level, std::string_view message, const LogFields& fields = {});
inline void LogDebug(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kDebug, message, fields);
}
inline void LogInfo(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kInfo, message, fields);
}
inline void LogWarn(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kWarn, message, fields);
}
inline void LogError(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kError, message, fields);
}
inline void LogCritical(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kCritical, message, fields);
}

// What to log instead of a secret: "[redacted, 40 bytes]" ("[empty]" for an empty one). Says that
// a value was present without revealing any of it.
std::string RedactSecret(std::string_view secret);

// `url` with the password of its user-info and the values of credential-like query parameters
// (names containing token, secret, passw, key, auth, signature, credential, session; or sig, pwd)
// replaced by "REDACTED".
std::string RedactUrl(std::string_view url);

// True for headers that carry credentials: Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, and names containing token, secret, key, auth, passw or session.
bool IsSensitiveHeader(std::string_view name);

}  // namespace pharos
