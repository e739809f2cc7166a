#include "operator/api/probe_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::TempDirectory;
using ::testing::HasSubstr;
using Verdict = ProbeTokens::Verdict;

TEST(ProbeTokensTest, ParsesTokensRegionBindingsCommentsAndBlankLines) {
  auto entries = ProbeTokens::Parse(
      "# probes\n\n  shared-token  \neu-west=eu-token\r\nQUJD=\nabc==\n", "tokens");
  ASSERT_TRUE(entries.ok()) << entries.error();
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].region, "");
  EXPECT_EQ((*entries)[0].token, "shared-token");
  EXPECT_EQ((*entries)[1].region, "eu-west");
  EXPECT_EQ((*entries)[1].token, "eu-token");
  // Base64 padding: the part before '=' is not a region name (upper case), so it is a token.
  EXPECT_EQ((*entries)[2].region, "");
  EXPECT_EQ((*entries)[2].token, "QUJD=");
  EXPECT_EQ((*entries)[3].region, "abc");
  EXPECT_EQ((*entries)[3].token, "=");
}

TEST(ProbeTokensTest, NamesTheLineOfABadEntry) {
  auto missing = ProbeTokens::Parse("ok\neu-west=\n", "/etc/pharos/tokens");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error(), HasSubstr("/etc/pharos/tokens:2"));
  auto spaced = ProbeTokens::Parse("two tokens\n", "tokens");
  ASSERT_FALSE(spaced.ok());
  EXPECT_THAT(spaced.error(), HasSubstr("tokens:1"));
}

TEST(ProbeTokensTest, ChecksTokensAndRegions) {
  TempDirectory dir;
  const std::string path = (dir.path() / "tokens").string();
  std::ofstream(path) << "shared\neu-west=eu-token\n";
  auto tokens = ProbeTokens::Load(path);
  ASSERT_TRUE(tokens.ok()) << tokens.error();
  ProbeTokens& check = **tokens;
  EXPECT_EQ(check.Check("", "eu-west"), Verdict::kMissing);
  EXPECT_EQ(check.Check("nope", "eu-west"), Verdict::kUnknown);
  EXPECT_EQ(check.Check("share", "eu-west"), Verdict::kUnknown) << "a prefix is not a token";
  EXPECT_EQ(check.Check("shared", "anywhere"), Verdict::kAllowed);
  EXPECT_EQ(check.Check("eu-token", "eu-west"), Verdict::kAllowed);
  EXPECT_EQ(check.Check("eu-token", "us-east"), Verdict::kWrongRegion);
}

TEST(ProbeTokensTest, ReloadPicksUpNewTokensAndKeepsTheOldOnesOnError) {
  TempDirectory dir;
  const std::string path = (dir.path() / "tokens").string();
  std::ofstream(path) << "first\n";
  auto tokens = ProbeTokens::Load(path, std::chrono::hours(1));
  ASSERT_TRUE(tokens.ok());
  std::ofstream(path) << "second\n";
  ASSERT_TRUE((*tokens)->Reload().ok());
  EXPECT_EQ((*tokens)->Check("first", "local"), Verdict::kUnknown);
  EXPECT_EQ((*tokens)->Check("second", "local"), Verdict::kAllowed);

  std::ofstream(path) << "eu-west=\n";
  EXPECT_FALSE((*tokens)->Reload().ok());
  EXPECT_EQ((*tokens)->Check("second", "local"), Verdict::kAllowed);
  std::filesystem::remove(path);
  EXPECT_FALSE((*tokens)->Reload().ok());
  EXPECT_EQ((*tokens)->Check("second", "local"), Verdict::kAllowed);
}

TEST(ProbeTokensTest, NoticesARotatedFileOnCheck) {
  TempDirectory dir;
  const std::string path = (dir.path() / "tokens").string();
  std::ofstream(path) << "old-token\n";
  auto tokens = ProbeTokens::Load(path, std::chrono::milliseconds(0));
  ASSERT_TRUE(tokens.ok());
  // Replaced atomically, like a Kubernetes Secret volume.
  const std::string next = (dir.path() / "tokens.next").string();
  std::ofstream(next) << "new-token-longer\n";
  std::filesystem::rename(next, path);
  EXPECT_EQ((*tokens)->Check("new-token-longer", "local"), Verdict::kAllowed);
  EXPECT_EQ((*tokens)->Check("old-token", "local"), Verdict::kUnknown);
}

TEST(ProbeTokensTest, AnUnreadableFileIsAnErrorNamingIt) {
  auto tokens = ProbeTokens::Load("/nonexistent/pharos-tokens");
  ASSERT_FALSE(tokens.ok());
  EXPECT_THAT(tokens.error(), HasSubstr("/nonexistent/pharos-tokens"));
}

}  // namespace
}  // namespace pharos
