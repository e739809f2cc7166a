#include "cli/run_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pharos {
namespace {

using ::testing::HasSubstr;

// Bad input is refused before anything starts (no server, no thread, no database).
class RunCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "pharos-run-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ / "ok.yaml") << "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\n"
                                       "metadata: {name: ok}\nspec:\n  type: http\n"
                                       "  http: {url: 'http://127.0.0.1:9/'}\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunCommand(out_, err_).Run(args);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(RunCommandTest, HelpListsTheFlags) {
  EXPECT_EQ(Run({"--help"}), 0);
  for (const char* flag : {"--listen", "--db", "--probe-token-file", "--region-name",
                           "--log-format", "--log-level", "--retention", "--duration-phases"}) {
    EXPECT_THAT(out_.str(), HasSubstr(flag));
  }
}

TEST_F(RunCommandTest, RefusesBadFlagsWithStatus2) {
  EXPECT_EQ(Run({"--db", Path("a.db")}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("no PATH given"));
  EXPECT_EQ(Run({"--retention", "10m", Path("ok.yaml")}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--retention"));
  EXPECT_EQ(Run({"--retention", "soon", Path("ok.yaml")}), 2);
  EXPECT_EQ(Run({"--log-level", "loud", Path("ok.yaml")}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--log-level"));
  EXPECT_EQ(Run({"--region-name", "Not A Region", Path("ok.yaml")}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--region-name"));
  EXPECT_EQ(Run({"--duration-phases", "some", Path("ok.yaml")}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--duration-phases must be \"all\""));
  EXPECT_EQ(Run({"--bogus", Path("ok.yaml")}), 2);
  EXPECT_FALSE(std::filesystem::exists(Path("a.db")));
}

TEST_F(RunCommandTest, RefusesAnUnreadableTokenFile) {
  EXPECT_EQ(
      Run({"--probe-token-file", Path("missing-tokens"), "--db", Path("a.db"), Path("ok.yaml")}),
      2);
  EXPECT_THAT(err_.str(), HasSubstr("missing-tokens"));
}

TEST_F(RunCommandTest, InvalidMonitorFilesStartNothing) {
  std::ofstream(dir_ / "bad.yaml") << "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\n"
                                      "metadata: {name: bad}\nspec:\n  type: http\n"
                                      "  frequency: 7s\n  http: {url: 'http://127.0.0.1:9/'}\n";
  EXPECT_EQ(Run({"--db", Path("a.db"), "--listen", "127.0.0.1:0", Path("bad.yaml")}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("bad.yaml:6:"));
  EXPECT_THAT(err_.str(), HasSubstr("nothing was started"));
  EXPECT_FALSE(std::filesystem::exists(Path("a.db")));
}

TEST_F(RunCommandTest, ADatabaseThatCannotBeOpenedIsStatus1) {
  EXPECT_EQ(Run({"--db", Path("no/such/dir/a.db"), Path("ok.yaml")}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("opening the database"));
}

}  // namespace
}  // namespace pharos
