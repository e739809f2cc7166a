#include "operator/controller/push_token_keeper.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using Json = nlohmann::json;

Json MonitorObject(const std::string& uid, const std::string& type, const Json& status = nullptr) {
  Json object = {{"metadata", {{"namespace", "ops"}, {"name", "backup"}, {"uid", uid}}},
                 {"spec", {{"type", type}}}};
  if (!status.is_null()) object["status"] = status;
  return object;
}

Result<std::string> NoSecrets(const std::string&, const std::string&, const std::string&) {
  ADD_FAILURE() << "no Secret is read for a generated token";
  return Error{"no Secret"};
}

TEST(PushTokenKeeperTest, APushMonitorWithoutATokenInItsStatusGetsOneGenerated) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens, NoSecrets);
  keeper.Follow(MonitorObject("u1", "push"));
  const std::optional<std::string> token = tokens.TokenOf("u1");
  ASSERT_TRUE(token);
  EXPECT_TRUE(PushTokens::Acceptable(*token));
  keeper.Follow(MonitorObject("u1", "push"));
  EXPECT_EQ(tokens.TokenOf("u1"), token) << "kept until the status says otherwise";
}

TEST(PushTokenKeeperTest, TheTokenInTheStatusWins) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens, NoSecrets);
  keeper.Follow(MonitorObject("u1", "push"));
  const std::string leaders = "leaders-token-0123456789abcdef";
  keeper.Follow(MonitorObject("u1", "push", {{"push", {{"token", leaders}}}}));
  EXPECT_EQ(tokens.TokenOf("u1"), leaders);
  EXPECT_EQ(tokens.FindMonitor(leaders), "u1");
}

TEST(PushTokenKeeperTest, AnUnusableTokenInTheStatusIsReplaced) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens, NoSecrets);
  keeper.Follow(MonitorObject("u1", "push", {{"push", {{"token", "short"}}}}));
  ASSERT_TRUE(tokens.TokenOf("u1"));
  EXPECT_NE(*tokens.TokenOf("u1"), "short");
}

TEST(PushTokenKeeperTest, OtherTypesAndDeletedMonitorsHaveNone) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens, NoSecrets);
  keeper.Follow(MonitorObject("u1", "push"));
  keeper.Follow(MonitorObject("u1", "http"));
  EXPECT_FALSE(tokens.TokenOf("u1"));
  keeper.Follow(MonitorObject("u2", "push"));
  keeper.Forget(MonitorObject("u2", "push"));
  EXPECT_FALSE(tokens.TokenOf("u2"));
  EXPECT_EQ(tokens.size(), 0u);
}

TEST(PushTokenKeeperTest, ATokenFromASecretIsReadThereAndNotGenerated) {
  PushTokens tokens;
  std::string read;
  std::string value = "secret-ping-token-0123456789";
  PushTokenKeeper keeper(tokens,
                         [&](const std::string& ns, const std::string& name,
                             const std::string& key) -> Result<std::string> {
                           read = ns + "/" + name + ":" + key;
                           if (value.empty()) return Error{"Secret ops/ping-tokens does not exist"};
                           return value;
                         });
  Json object = MonitorObject("u1", "push");
  object["spec"]["push"] = {
      {"tokenFrom", {{"secretKeyRef", {{"name", "ping-tokens"}, {"key", "backup"}}}}}};
  keeper.Follow(object);
  EXPECT_EQ(read, "ops/ping-tokens:backup");
  EXPECT_EQ(tokens.TokenOf("u1"), "secret-ping-token-0123456789");

  value = "short";  // not a usable token: none rather than a guessable one
  keeper.Follow(object);
  EXPECT_FALSE(tokens.TokenOf("u1"));
  value = "rotated-ping-token-0123456789";
  keeper.Follow(object);
  EXPECT_EQ(tokens.TokenOf("u1"), "rotated-ping-token-0123456789");
  value.clear();  // the Secret is gone
  keeper.Follow(object);
  EXPECT_FALSE(tokens.TokenOf("u1"));
}

}  // namespace
}  // namespace pharos
