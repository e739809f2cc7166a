#include "operator/api/push_tokens.h"

#include <gtest/gtest.h>

#include <set>

namespace pharos {
namespace {

TEST(PushTokensTest, GeneratedTokensAreLongUnguessableAndAcceptable) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string token = PushTokens::Generate();
    EXPECT_EQ(token.size(), 48u);
    EXPECT_TRUE(PushTokens::Acceptable(token)) << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(PushTokensTest, AcceptableTokensAreUrlSafeAndNotTooShort) {
  EXPECT_TRUE(PushTokens::Acceptable("abcdefghij-KLMNO_p.q~"));
  EXPECT_FALSE(PushTokens::Acceptable("short"));
  EXPECT_FALSE(PushTokens::Acceptable("has/a/slash/in/it/123"));
  EXPECT_FALSE(PushTokens::Acceptable("has a space in it 1234"));
  EXPECT_FALSE(PushTokens::Acceptable(std::string(257, 'a')));
}

TEST(PushTokensTest, FindsTheMonitorOfATokenAndNothingForNearMisses) {
  PushTokens tokens;
  tokens.Set("uid-a", "token-of-a-0123456789");
  tokens.Set("uid-b", "token-of-b-0123456789");
  EXPECT_EQ(tokens.FindMonitor("token-of-a-0123456789"), "uid-a");
  EXPECT_EQ(tokens.FindMonitor("token-of-b-0123456789"), "uid-b");
  EXPECT_EQ(tokens.FindMonitor("token-of-a-012345678"), std::nullopt);
  EXPECT_EQ(tokens.FindMonitor("token-of-a-01234567890"), std::nullopt);
  EXPECT_EQ(tokens.FindMonitor(""), std::nullopt);
  EXPECT_EQ(tokens.TokenOf("uid-a"), "token-of-a-0123456789");
  EXPECT_EQ(tokens.TokenOf("uid-c"), std::nullopt);
}

TEST(PushTokensTest, ANewTokenReplacesTheOldOneAndRemoveForgetsIt) {
  PushTokens tokens;
  tokens.Set("uid-a", "first-token-0123456789");
  tokens.Set("uid-a", "second-token-0123456789");
  EXPECT_EQ(tokens.FindMonitor("first-token-0123456789"), std::nullopt);
  EXPECT_EQ(tokens.FindMonitor("second-token-0123456789"), "uid-a");
  tokens.Remove("uid-a");
  EXPECT_EQ(tokens.FindMonitor("second-token-0123456789"), std::nullopt);
  EXPECT_EQ(tokens.size(), 0u);
}

TEST(PushTokensTest, ReplaceAllMakesTheSetExactly) {
  PushTokens tokens;
  tokens.Set("uid-gone", "gone-token-0123456789");
  tokens.ReplaceAll({{"uid-a", "token-of-a-0123456789"}});
  EXPECT_EQ(tokens.FindMonitor("gone-token-0123456789"), std::nullopt);
  EXPECT_EQ(tokens.FindMonitor("token-of-a-0123456789"), "uid-a");
  EXPECT_EQ(tokens.size(), 1u);
}

TEST(PushTokensTest, OneTokenForTwoMonitorsBelongsToTheLastSet) {
  PushTokens tokens;
  tokens.Set("uid-a", "shared-token-0123456789");
  tokens.Set("uid-b", "shared-token-0123456789");
  EXPECT_EQ(tokens.FindMonitor("shared-token-0123456789"), "uid-b");
  EXPECT_EQ(tokens.TokenOf("uid-a"), std::nullopt);
  EXPECT_EQ(tokens.size(), 1u);
}

}  // namespace
}  // namespace pharos
