#include "common/http_server_flags.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using std::chrono::milliseconds;

Result<HttpServerOptions> Parse(const std::vector<std::string>& args,
                                const HttpServerOptions& defaults = {}) {
  CommandLine flags;
  AddHttpServerFlags(flags, defaults);
  if (Status parsed = flags.Parse(args); !parsed.ok()) {
    return Error{parsed.error()};
  }
  return HttpServerOptionsFromFlags(flags, defaults);
}

TEST(HttpServerFlagsTest, DefaultsAreTheOptionsDefaultsAndShownInHelp) {
  const auto options = Parse({});
  ASSERT_TRUE(options.ok()) << options.error();
  const HttpServerOptions defaults;
  EXPECT_EQ(options->header_timeout, defaults.header_timeout);
  EXPECT_EQ(options->idle_timeout, defaults.idle_timeout);
  EXPECT_EQ(options->max_connections, defaults.max_connections);
  CommandLine flags;
  AddHttpServerFlags(flags);
  const std::string help = flags.FlagsHelp();
  EXPECT_NE(help.find("--http-header-timeout DURATION"), std::string::npos) << help;
  EXPECT_NE(help.find("(default 10s)"), std::string::npos) << help;
  EXPECT_NE(help.find("--http-max-connections N"), std::string::npos) << help;
  EXPECT_NE(help.find("(default 10000)"), std::string::npos) << help;
}

TEST(HttpServerFlagsTest, EveryFlagSetsItsOption) {
  const auto options =
      Parse({"--http-header-timeout", "2s", "--http-idle-timeout=5m", "--http-body-timeout", "30s",
             "--http-send-timeout", "1500ms", "--http-max-header-bytes", "8192",
             "--http-max-body-bytes", "1048576", "--http-max-connections", "500",
             "--http-max-connections-per-client", "20", "--http-fd-reserve", "256"});
  ASSERT_TRUE(options.ok()) << options.error();
  EXPECT_EQ(options->header_timeout, milliseconds(2000));
  EXPECT_EQ(options->idle_timeout, milliseconds(300'000));
  EXPECT_EQ(options->body_timeout, milliseconds(30'000));
  EXPECT_EQ(options->stream_stall_timeout, milliseconds(1500));
  EXPECT_EQ(options->max_header_bytes, 8192u);
  EXPECT_EQ(options->max_body_bytes, 1048576u);
  EXPECT_EQ(options->max_connections, 500u);
  EXPECT_EQ(options->max_connections_per_client, 20u);
  EXPECT_EQ(options->fd_reserve, 256u);
}

TEST(HttpServerFlagsTest, FlagsNotGivenKeepTheCallersDefaults) {
  HttpServerOptions probe;
  probe.max_connections = 512;
  probe.io_threads = 1;
  const auto options = Parse({"--http-idle-timeout", "10s"}, probe);
  ASSERT_TRUE(options.ok()) << options.error();
  EXPECT_EQ(options->max_connections, 512u);
  EXPECT_EQ(options->io_threads, 1);
  EXPECT_EQ(options->idle_timeout, milliseconds(10'000));
}

TEST(HttpServerFlagsTest, BadValuesNameTheFlagAndTheRange) {
  const auto expect_error = [](const std::vector<std::string>& args, const std::string& text) {
    const auto options = Parse(args);
    ASSERT_FALSE(options.ok()) << args[0];
    EXPECT_NE(options.error().find(text), std::string::npos) << options.error();
  };
  expect_error({"--http-header-timeout", "soon"}, "--http-header-timeout: invalid duration");
  expect_error({"--http-body-timeout", "50ms"}, "--http-body-timeout must be at least 100ms");
  expect_error({"--http-max-connections", "0"},
               "--http-max-connections: expected a whole number from 1 to 10000000, got \"0\"");
  expect_error({"--http-max-header-bytes", "12"}, "--http-max-header-bytes: expected");
  expect_error({"--http-fd-reserve", "-1"}, "--http-fd-reserve: expected");
  expect_error({"--http-max-body-bytes", ""}, "--http-max-body-bytes: expected");
}

}  // namespace
}  // namespace pharos
