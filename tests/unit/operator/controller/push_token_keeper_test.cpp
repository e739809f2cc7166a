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

TEST(PushTokenKeeperTest, APushMonitorWithoutATokenInItsStatusGetsOneGenerated) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens);
  keeper.Follow(MonitorObject("u1", "push"));
  const std::optional<std::string> token = tokens.TokenOf("u1");
  ASSERT_TRUE(token);
  EXPECT_TRUE(PushTokens::Acceptable(*token));
  keeper.Follow(MonitorObject("u1", "push"));
  EXPECT_EQ(tokens.TokenOf("u1"), token) << "kept until the status says otherwise";
}

TEST(PushTokenKeeperTest, TheTokenInTheStatusWins) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens);
  keeper.Follow(MonitorObject("u1", "push"));
  const std::string leaders = "leaders-token-0123456789abcdef";
  keeper.Follow(MonitorObject("u1", "push", {{"push", {{"token", leaders}}}}));
  EXPECT_EQ(tokens.TokenOf("u1"), leaders);
  EXPECT_EQ(tokens.FindMonitor(leaders), "u1");
}

TEST(PushTokenKeeperTest, AnUnusableTokenInTheStatusIsReplaced) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens);
  keeper.Follow(MonitorObject("u1", "push", {{"push", {{"token", "short"}}}}));
  ASSERT_TRUE(tokens.TokenOf("u1"));
  EXPECT_NE(*tokens.TokenOf("u1"), "short");
}

TEST(PushTokenKeeperTest, OtherTypesAndDeletedMonitorsHaveNone) {
  PushTokens tokens;
  PushTokenKeeper keeper(tokens);
  keeper.Follow(MonitorObject("u1", "push"));
  keeper.Follow(MonitorObject("u1", "http"));
  EXPECT_FALSE(tokens.TokenOf("u1"));
  keeper.Follow(MonitorObject("u2", "push"));
  keeper.Forget(MonitorObject("u2", "push"));
  EXPECT_FALSE(tokens.TokenOf("u2"));
  EXPECT_EQ(tokens.size(), 0u);
}

}  // namespace
}  // namespace pharos
