#include "common/logging.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/rfc3339.h"

namespace pharos {
namespace {

// The fields of the log call running on this thread, read by the formatter during that call.
thread_local const LogFields* t_fields = nullptr;

constexpr std::array<std::string_view, 4> kReservedKeys = {"ts", "level", "logger", "msg"};

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kCritical:
      return spdlog::level::critical;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

bool IsReservedKey(std::string_view key) {
  return std::find(kReservedKeys.begin(), kReservedKeys.end(), key) != kReservedKeys.end();
}

void AppendJsonString(std::string& out, std::string_view text) {
  // The replace handler turns invalid UTF-8 into U+FFFD instead of throwing.
  out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Text mode: control characters (a newline from user data could forge a log line) become escapes.
void AppendTextEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7F) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\x%02x", byte);
      out += escape;
    } else {
      out += c;
    }
  }
}

// logfmt: quoted when empty or holding spaces, quotes, '=' or control characters.
void AppendTextValue(std::string& out, std::string_view value) {
  const bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
    return c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
           c == 0x7F;
  });
  if (plain) {
    out += value;
    return;
  }
  out += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      AppendTextEscaped(out, std::string_view(&c, 1));
    }
  }
  out += '"';
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view message(msg.payload.data(), msg.payload.size());
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    std::string line = json_ ? Json(msg, logger, message) : Text(msg, logger, message);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(json_);
  }

 private:
  static std::string FieldKey(const LogField& field) {
    return IsReservedKey(field.key()) ? "fields." + field.key() : field.key();
  }

  static std::string Json(const spdlog::details::log_msg& msg, std::string_view logger,
                          std::string_view message) {
    std::string line = "{\"ts\":\"" + FormatRfc3339(msg.time) + "\",\"level\":\"";
    line += LevelName(msg.level);
    line += "\",\"logger\":";
    AppendJsonString(line, logger);
    line += ",\"msg\":";
    AppendJsonString(line, message);
    if (t_fields != nullptr) {
      for (const LogField& field : *t_fields) {
        line += ',';
        AppendJsonString(line, FieldKey(field));
        line += ':';
        if (field.literal()) {
          line += field.value();
        } else {
          AppendJsonString(line, field.value());
        }
      }
    }
    line += '}';
    return line;
  }

  static std::string Text(const spdlog::details::log_msg& msg, std::string_view logger,
                          std::string_view message) {
    std::string level(LevelName(msg.level));
    std::transform(level.begin(), level.end(), level.begin(),
                   [](char c) { return static_cast<char>(c - 'a' + 'A'); });
    level.resize(std::max<size_t>(level.size(), 5), ' ');
    std::string line = FormatRfc3339(msg.time) + " " + level + " ";
    AppendTextEscaped(line, logger);
    line += ": ";
    AppendTextEscaped(line, message);
    if (t_fields != nullptr) {
      for (const LogField& field : *t_fields) {
        line += ' ';
        AppendTextEscaped(line, FieldKey(field));
        line += '=';
        AppendTextValue(line, field.value());
      }
    }
    return line;
  }

  bool json_;
};

// Set once SetupLogging ran; until then the first Log call sets up the defaults, so that fields
// are never dropped by spdlog's stock formatter.
std::atomic<bool>& Configured() {
  static std::atomic<bool> configured{false};
  return configured;
}

void EnsureConfigured() {
  if (Configured().load(std::memory_order_acquire)) return;
  static std::once_flag once;
  std::call_once(once, [] {
    if (!Configured().load()) SetupLogging({});
  });
}

std::mutex& LoggerCreationMutex() {
  static std::mutex mutex;
  return mutex;
}

// The registered spdlog logger of that name, created with the default logger's sinks and level.
std::shared_ptr<spdlog::logger> NamedLogger(const std::string& name) {
  if (auto logger = spdlog::get(name)) return logger;
  std::lock_guard lock(LoggerCreationMutex());
  if (auto logger = spdlog::get(name)) return logger;
  const auto fallback = spdlog::default_logger();
  auto logger =
      std::make_shared<spdlog::logger>(name, fallback->sinks().begin(), fallback->sinks().end());
  logger->set_level(fallback->level());
  spdlog::register_logger(logger);
  return logger;
}

void LogTo(spdlog::logger& logger, LogLevel level, std::string_view message,
           const LogFields& fields) {
  const auto spdlog_level = ToSpdlog(level);
  if (!logger.should_log(spdlog_level)) return;
  const LogFields* previous = t_fields;
  t_fields = &fields;
  logger.log(spdlog::source_loc{}, spdlog_level,
             spdlog::string_view_t(message.data(), message.size()));
  t_fields = previous;
}

std::string Lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return lower;
}

bool ContainsAny(std::string_view text, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view needle) { return text.find(needle) != text.npos; });
}

bool IsSensitiveQueryName(std::string_view name) {
  const std::string lower = Lowercase(name);
  return ContainsAny(lower, {"token", "secret", "passw", "key", "auth", "signature", "credential",
                             "session"}) ||
         lower == "sig" || lower == "pwd";
}

}  // namespace

void LogField::SetNumber(double value, bool integral, std::string integral_text) {
  literal_ = true;
  if (integral) {
    value_ = std::move(integral_text);
    return;
  }
  if (!std::isfinite(value)) {  // JSON has no NaN or Infinity: keep them as strings
    literal_ = false;
    value_ = std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  (void)error;  // any shortest double fits in 32 characters
  value_.assign(buffer, end);
}

Result<LogFormat> ParseLogFormat(std::string_view text) {
  const std::string lower = Lowercase(text);
  if (lower == "auto") return LogFormat::kAuto;
  if (lower == "text") return LogFormat::kText;
  if (lower == "json") return LogFormat::kJson;
  return Error{"unknown log format \"" + std::string(text) + "\": use text, json or auto"};
}

Result<LogLevel> ParseLogLevel(std::string_view text) {
  const std::string lower = Lowercase(text);
  if (lower == "trace") return LogLevel::kTrace;
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  if (lower == "critical") return LogLevel::kCritical;
  if (lower == "off") return LogLevel::kOff;
  return Error{"unknown log level \"" + std::string(text) +
               "\": use trace, debug, info, warn, error, critical or off"};
}

void SetupLogging(const LoggingOptions& options) {
  spdlog::sink_ptr sink;
  bool terminal = false;
  if (options.output != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*options.output, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    terminal = isatty(fileno(stderr)) == 1;
  }
  const bool json =
      options.format == LogFormat::kJson || (options.format == LogFormat::kAuto && !terminal);
  sink->set_formatter(std::make_unique<LineFormatter>(json));
  const auto level = ToSpdlog(options.level);

  std::lock_guard lock(LoggerCreationMutex());
  auto logger = std::make_shared<spdlog::logger>("pharos", sink);
  logger->set_level(level);
  spdlog::set_default_logger(logger);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& other) {
    if (other == logger) return;
    other->sinks() = {sink};
    other->set_level(level);
  });
  Configured().store(true, std::memory_order_release);
}

Logger::Logger(std::string name) : name_(std::move(name)) {}

void Logger::Log(LogLevel level, std::string_view message, const LogFields& fields) const {
  EnsureConfigured();
  LogTo(*NamedLogger(name_), level, message, fields);
}

void Log(LogLevel level, std::string_view message, const LogFields& fields) {
  EnsureConfigured();
  LogTo(*spdlog::default_logger_raw(), level, message, fields);
}

std::string RedactSecret(std::string_view secret) {
  if (secret.empty()) return "[empty]";
  return "[redacted, " + std::to_string(secret.size()) + " bytes]";
}

std::string RedactUrl(std::string_view url) {
  constexpr std::string_view kRedacted = "REDACTED";
  std::string result;
  const size_t scheme_end = url.find("://");
  const size_t authority_start = scheme_end == url.npos ? 0 : scheme_end + 3;
  const size_t authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
  const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  result.append(url.substr(0, authority_start));
  const size_t at = authority.rfind('@');
  if (at != authority.npos) {
    const std::string_view user_info = authority.substr(0, at);
    const size_t colon = user_info.find(':');
    result.append(user_info.substr(0, colon));
    if (colon != user_info.npos) {
      result += ':';
      result += kRedacted;
    }
    result.append(authority.substr(at));
  } else {
    result.append(authority);
  }
  const size_t query_start = url.find('?', authority_end);
  const size_t fragment_start = std::min(url.find('#', authority_end), url.size());
  if (query_start == url.npos || query_start > fragment_start) {
    result.append(url.substr(authority_end));
    return result;
  }
  result.append(url.substr(authority_end, query_start + 1 - authority_end));
  const std::string_view query = url.substr(query_start + 1, fragment_start - query_start - 1);
  size_t position = 0;
  while (position <= query.size()) {
    const size_t end = std::min(query.find('&', position), query.size());
    const std::string_view pair = query.substr(position, end - position);
    const size_t equals = pair.find('=');
    if (equals != pair.npos && IsSensitiveQueryName(pair.substr(0, equals))) {
      result.append(pair.substr(0, equals + 1));
      result += kRedacted;
    } else {
      result.append(pair);
    }
    if (end < query.size()) result += '&';
    position = end + 1;
  }
  result.append(url.substr(fragment_start));
  return result;
}

bool IsSensitiveHeader(std::string_view name) {
  const std::string lower = Lowercase(name);
  return lower == "authorization" || lower == "proxy-authorization" || lower == "cookie" ||
         lower == "set-cookie" ||
         ContainsAny(lower, {"token", "secret", "key", "auth", "passw", "session"});
}

}  // namespace pharos
