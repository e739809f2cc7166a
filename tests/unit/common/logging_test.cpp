#include "common/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace pharos {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// Routes logs into a string for the test's duration, then back to stderr.
class LoggingTest : public ::testing::Test {
 protected:
  void StartLogging(LogFormat format, LogLevel level = LogLevel::kInfo) {
    SetupLogging({.format = format, .level = level, .output = &output_});
  }
  void TearDown() override { SetupLogging({.format = LogFormat::kText}); }

  std::ostringstream output_;
};

TEST_F(LoggingTest, JsonLinesHaveTheStandardKeysAndFields) {
  StartLogging(LogFormat::kJson);
  LogInfo("monitor went down", {{"monitor", "shop/api"},
                                {"region", std::string("eu-west")},
                                {"status", 503},
                                {"latency_seconds", 0.25},
                                {"retried", true}});
  const auto lines = Lines(output_.str());
  ASSERT_EQ(lines.size(), 1u) << output_.str();
  const auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["level"], "info");
  EXPECT_EQ(json["logger"], "pharos");
  EXPECT_EQ(json["msg"], "monitor went down");
  EXPECT_EQ(json["monitor"], "shop/api");
  EXPECT_EQ(json["region"], "eu-west");
  EXPECT_EQ(json["status"], 503);
  EXPECT_EQ(json["latency_seconds"], 0.25);
  EXPECT_EQ(json["retried"], true);
  const std::string ts = json["ts"];
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-25T23:17:54.123Z
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(ts[10], 'T');
  // Key order: ts, level, logger, msg, then the fields in the given order.
  EXPECT_EQ(lines[0].find("{\"ts\":"), 0u);
  EXPECT_LT(lines[0].find("\"msg\""), lines[0].find("\"monitor\""));
}

TEST_F(LoggingTest, JsonEscapesEverythingIntoOneValidLine) {
  StartLogging(LogFormat::kJson);
  LogWarn("quote \" backslash \\ newline \n tab \t bell \x07 end", {{"body", "line1\nline2 \"q\""},
                                                                    {"bytes", "bad \xFF utf8"},
                                                                    {"msg", "shadow"},
                                                                    {"nan", std::nan("")}});
  const auto lines = Lines(output_.str());
  ASSERT_EQ(lines.size(), 1u) << output_.str();
  const auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["level"], "warn");
  EXPECT_EQ(json["msg"], "quote \" backslash \\ newline \n tab \t bell \x07 end");
  EXPECT_EQ(json["body"], "line1\nline2 \"q\"");
  EXPECT_EQ(json["bytes"], "bad \xEF\xBF\xBD utf8");
  EXPECT_EQ(json["fields.msg"], "shadow");  // a field cannot overwrite the message
  EXPECT_EQ(json["nan"], "NaN");            // JSON has no NaN
}

TEST_F(LoggingTest, PlainSpdlogCallsAndNamedLoggersUseTheSameFormat) {
  StartLogging(LogFormat::kJson, LogLevel::kDebug);
  spdlog::error("plain {} call with {{braces}}", 42);
  Logger("scheduler").Debug("tick", {{"due", 3}});
  LogDebug("{not a format string}");
  const auto lines = Lines(output_.str());
  ASSERT_EQ(lines.size(), 3u) << output_.str();
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "error");
  EXPECT_EQ(first["msg"], "plain 42 call with {braces}");
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["logger"], "scheduler");
  EXPECT_EQ(second["due"], 3);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["msg"], "{not a format string}");
}

TEST_F(LoggingTest, LevelFilters) {
  StartLogging(LogFormat::kJson, LogLevel::kWarn);
  LogInfo("hidden");
  Logger("component").Info("hidden too");
  LogError("shown");
  const auto lines = Lines(output_.str());
  ASSERT_EQ(lines.size(), 1u) << output_.str();
  EXPECT_EQ(nlohmann::json::parse(lines[0])["msg"], "shown");
}

TEST_F(LoggingTest, SetupAppliesToLoggersCreatedBefore) {
  Logger early("early-component");
  early.Info("created before setup");  // registers the logger with the old output
  StartLogging(LogFormat::kJson);
  early.Info("after setup");
  const auto lines = Lines(output_.str());
  ASSERT_EQ(lines.size(), 1u) << output_.str();
  EXPECT_EQ(nlohmann::json::parse(lines[0])["logger"], "early-component");
}

TEST_F(LoggingTest, AutoIsJsonWhenNotATerminal) {
  StartLogging(LogFormat::kAuto);
  LogInfo("auto");
  EXPECT_NO_THROW(
      { [[maybe_unused]] auto parsed = nlohmann::json::parse(Lines(output_.str()).at(0)); });
}

TEST_F(LoggingTest, TextFormatIsLogfmtLike) {
  StartLogging(LogFormat::kText);
  LogInfo("monitor went down", {{"monitor", "shop/api"},
                                {"reason", "connection refused"},
                                {"empty", ""},
                                {"quote", "say \"hi\""}});
  LogError("two\nlines");
  const auto lines = Lines(output_.str());
  ASSERT_EQ(lines.size(), 2u) << output_.str();
  // 2026-11-25T23:17:54.123Z INFO  pharos: ...
  EXPECT_EQ(lines[0].substr(24),
            " INFO  pharos: monitor went down monitor=shop/api reason=\"connection refused\" "
            "empty=\"\" quote=\"say \\\"hi\\\"\"");
  EXPECT_EQ(lines[1].substr(24), " ERROR pharos: two\\nlines");
}

TEST(LoggingParseTest, FormatsAndLevels) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("TEXT"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("auto"), LogFormat::kAuto);
  EXPECT_EQ(ParseLogFormat("xml").error(), "unknown log format \"xml\": use text, json or auto");
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("Debug"), LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
}

TEST(RedactTest, SecretsNeverAppear) {
  EXPECT_EQ(RedactSecret("s3cr3t-token-value"), "[redacted, 18 bytes]");
  EXPECT_EQ(RedactSecret(""), "[empty]");
}

TEST(RedactTest, Urls) {
  EXPECT_EQ(RedactUrl("https://user:hunter2@example.com/path?q=1"),
            "https://user:REDACTED@example.com/path?q=1");
  EXPECT_EQ(RedactUrl("https://user@example.com/"), "https://user@example.com/");
  EXPECT_EQ(RedactUrl("https://example.com/x?token=abc&page=2&api_key=k&X-Amz-Signature=s#frag"),
            "https://example.com/x?token=REDACTED&page=2&api_key=REDACTED&"
            "X-Amz-Signature=REDACTED#frag");
  EXPECT_EQ(RedactUrl("https://example.com/?sig=1&design=2"),
            "https://example.com/?sig=REDACTED&design=2");
  EXPECT_EQ(RedactUrl("http://example.com"), "http://example.com");
  EXPECT_EQ(RedactUrl("example.com:8080/a?password=x"), "example.com:8080/a?password=REDACTED");
  EXPECT_EQ(RedactUrl("https://a:b@c@host/"), "https://a:REDACTED@host/");
}

TEST(RedactTest, SensitiveHeaders) {
  EXPECT_TRUE(IsSensitiveHeader("Authorization"));
  EXPECT_TRUE(IsSensitiveHeader("cookie"));
  EXPECT_TRUE(IsSensitiveHeader("X-API-Key"));
  EXPECT_TRUE(IsSensitiveHeader("X-Auth-Token"));
  EXPECT_FALSE(IsSensitiveHeader("Content-Type"));
  EXPECT_FALSE(IsSensitiveHeader("Accept"));
}

}  // namespace
}  // namespace pharos
