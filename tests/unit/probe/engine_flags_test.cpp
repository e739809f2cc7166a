#include "probe/engine_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace pharos {
namespace {

using ::testing::HasSubstr;

Result<CheckEngine::Options> Parse(const std::vector<std::string>& args) {
  CommandLine flags;
  EngineFlags::Add(flags);
  if (Status parsed = flags.Parse(args); !parsed.ok()) return Error{parsed.error()};
  CheckEngine::Options options;
  if (Status read = EngineFlags::Read(flags, &options); !read.ok()) return Error{read.error()};
  return options;
}

TEST(EngineFlagsTest, DefaultsAreTheSystemResolverAndAutomaticIcmpSockets) {
  unsetenv("PHAROS_RESOLVER");
  Result<CheckEngine::Options> options = Parse({});
  ASSERT_TRUE(options.ok()) << options.error();
  EXPECT_EQ(options->resolver, "");
  EXPECT_EQ(options->icmp_socket, IcmpSocket::Kind::kAuto);
}

TEST(EngineFlagsTest, ResolverFromTheFlagOrTheEnvironment) {
  Result<CheckEngine::Options> options =
      Parse({"--resolver", "127.0.0.1:5353,[::1]:53,10.0.0.10", "--icmp-socket", "raw"});
  ASSERT_TRUE(options.ok()) << options.error();
  EXPECT_EQ(options->resolver, "127.0.0.1:5353,[::1]:53,10.0.0.10");
  EXPECT_EQ(options->icmp_socket, IcmpSocket::Kind::kRaw);
  setenv("PHAROS_RESOLVER", "127.0.0.53", 1);
  options = Parse({});
  unsetenv("PHAROS_RESOLVER");
  ASSERT_TRUE(options.ok()) << options.error();
  EXPECT_EQ(options->resolver, "127.0.0.53");
}

TEST(EngineFlagsTest, BadValuesNameTheFlag) {
  for (const std::string bad : {"dns.example:53", "127.0.0.1:53,", "[::1", "[::1]x", "::1:53x",
                                "127.0.0.1:dns", "[::1]:70000"}) {
    Result<CheckEngine::Options> options = Parse({"--resolver", bad});
    ASSERT_FALSE(options.ok()) << bad;
    EXPECT_THAT(options.error(), HasSubstr("--resolver")) << bad;
  }
  Result<CheckEngine::Options> options = Parse({"--icmp-socket", "udp"});
  ASSERT_FALSE(options.ok());
  EXPECT_THAT(options.error(), HasSubstr("--icmp-socket must be auto, datagram or raw"));
}

}  // namespace
}  // namespace pharos
