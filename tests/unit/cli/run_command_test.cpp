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

  int Run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    // Never the real ./monitors.yaml or /etc/pharos/monitors.d of the machine running the tests.
    return RunCommand(out_, err_, {Path("monitors.yaml"), Path("monitors.d")}).Run(args);
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
  EXPECT_THAT(err_.str(), HasSubstr("no PATH given and none of " + Path("monitors.yaml") + " " +
                                    Path("monitors.d") + " exists"));
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

TEST_F(RunCommandTest, WithoutPathLooksInMonitorsYamlThenTheSystemDirectory) {
  EXPECT_EQ(RunCommand::DefaultPaths(),
            (std::vector<std::string>{"./monitors.yaml", "/etc/pharos/monitors.d"}));
}

// An invalid file in the default location proves it was loaded: its error names it and nothing
// starts.
TEST_F(RunCommandTest, WithoutPathRunsTheSecondDefaultWhenTheFirstIsMissing) {
  std::filesystem::create_directory(dir_ / "monitors.d");
  std::ofstream(dir_ / "monitors.d" / "bad.yaml")
      << "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: bad}\nspec:\n"
         "  type: http\n  frequency: 7s\n  http: {url: 'http://127.0.0.1:9/'}\n";
  EXPECT_EQ(Run({"--db", Path("a.db"), "--listen", "127.0.0.1:0"}), 2);
  EXPECT_THAT(out_.str(),
              HasSubstr("no PATH given: running the Monitors in " + Path("monitors.d")));
  EXPECT_THAT(err_.str(), HasSubstr("monitors.d/bad.yaml:6:"));
  EXPECT_FALSE(std::filesystem::exists(Path("a.db")));
}

TEST_F(RunCommandTest, WithoutPathTheFirstDefaultWins) {
  std::filesystem::create_directory(dir_ / "monitors.d");
  std::ofstream(dir_ / "monitors.yaml") << "kind: Monitor\nspec: [\n";
  EXPECT_EQ(Run({"--db", Path("a.db"), "--listen", "127.0.0.1:0"}), 2);
  EXPECT_THAT(out_.str(), HasSubstr("running the Monitors in " + Path("monitors.yaml") + "\n"));
  EXPECT_THAT(err_.str(), HasSubstr("monitors.yaml:"));
}

TEST_F(RunCommandTest, ADatabaseThatCannotBeOpenedIsStatus1) {
  EXPECT_EQ(Run({"--db", Path("no/such/dir/a.db"), Path("ok.yaml")}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("opening the database"));
}

}  // namespace
}  // namespace pharos
