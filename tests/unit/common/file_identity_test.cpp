#include "common/file_identity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace pharos {
namespace {

class FileIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("file_identity_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(FileIdentityTest, SameFileUnchangedHasTheSameIdentity) {
  const std::string path = Write("token", "abc");
  auto first = FileIdentity::Of(path);
  auto second = FileIdentity::Of(path);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(first->size, 3);
}

TEST_F(FileIdentityTest, ReplacingTheFileThroughASymlinkChangesTheIdentity) {
  // A mounted Secret is updated by pointing a symlink at a new file of the same size.
  const std::string old_file = Write("old", "abc");
  const std::string new_file = Write("new", "xyz");
  const std::string link = (dir_ / "token").string();
  std::filesystem::create_symlink(old_file, link);
  auto before = FileIdentity::Of(link);
  ASSERT_TRUE(before.ok());
  std::filesystem::remove(link);
  std::filesystem::create_symlink(new_file, link);
  auto after = FileIdentity::Of(link);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(before->size, after->size);
  EXPECT_NE(*before, *after);
}

TEST_F(FileIdentityTest, GrowingTheFileChangesTheIdentity) {
  const std::string path = Write("token", "abc");
  auto before = FileIdentity::Of(path);
  std::ofstream(path, std::ios::app) << "def";
  auto after = FileIdentity::Of(path);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*before, *after);
}

TEST_F(FileIdentityTest, AMissingFileIsAnErrorNamingThePath) {
  const std::string path = (dir_ / "absent").string();
  auto identity = FileIdentity::Of(path);
  ASSERT_FALSE(identity.ok());
  EXPECT_NE(identity.error().find(path), std::string::npos);
  EXPECT_NE(identity.error().find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace pharos
