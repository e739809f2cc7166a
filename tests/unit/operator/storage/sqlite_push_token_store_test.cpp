#include "operator/storage/sqlite_push_token_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace pharos {
namespace {

class SqlitePushTokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "pharos-push-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string DbPath() const { return (dir_ / "pharos.db").string(); }

  std::filesystem::path dir_;
};

TEST_F(SqlitePushTokenStoreTest, GeneratesOncePerMonitorAndKeepsItAcrossReopening) {
  int generated = 0;
  auto generate = [&generated] { return "token-" + std::to_string(++generated); };
  {
    auto store = SqlitePushTokenStore::Open(DbPath());
    ASSERT_TRUE(store.ok()) << store.error();
    EXPECT_EQ((*store)->TokenFor("uid-a", generate).value(), "token-1");
    EXPECT_EQ((*store)->TokenFor("uid-a", generate).value(), "token-1");
    EXPECT_EQ((*store)->TokenFor("uid-b", generate).value(), "token-2");
  }
  auto reopened = SqlitePushTokenStore::Open(DbPath());
  ASSERT_TRUE(reopened.ok()) << reopened.error();
  EXPECT_EQ((*reopened)->TokenFor("uid-a", generate).value(), "token-1");
  EXPECT_EQ((*reopened)->TokenFor("uid-b", generate).value(), "token-2");
  EXPECT_EQ(generated, 2);
}

TEST_F(SqlitePushTokenStoreTest, AnUnusableFileIsAnErrorNamingIt) {
  std::filesystem::create_directory(dir_ / "not-a-db");
  auto store = SqlitePushTokenStore::Open((dir_ / "not-a-db").string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().find("not-a-db"), std::string::npos) << store.error();
}

}  // namespace
}  // namespace pharos
