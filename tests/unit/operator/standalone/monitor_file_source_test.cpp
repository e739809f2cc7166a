#include "operator/standalone/monitor_file_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::TempDirectory;
using ::testing::HasSubstr;

std::string MonitorYaml(const std::string& name, const std::string& frequency = "10s") {
  return "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n  name: " + name +
         "\nspec:\n  type: http\n  frequency: " + frequency +
         "\n  http:\n    url: http://127.0.0.1:9/" + name + "\n";
}

class MonitorFileSourceTest : public ::testing::Test {
 protected:
  void Write(const std::string& file, const std::string& text) {
    std::ofstream(dir_.path() / file) << text;
  }

  MonitorFileSource::Apply Recorder() {
    return [this](const std::vector<Monitor>& monitors, const std::vector<OtherDocument>& others) {
      std::lock_guard lock(mu_);
      applied_.push_back(monitors);
      others_.push_back(others);
    };
  }

  std::vector<std::vector<Monitor>> Applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }

  TempDirectory dir_;
  std::mutex mu_;
  std::vector<std::vector<Monitor>> applied_;
  std::vector<std::vector<OtherDocument>> others_;  // GUARDED_BY(mu_)
};

TEST_F(MonitorFileSourceTest, LoadsFilesAndDirectories) {
  Write("a.yaml", MonitorYaml("a") + "---\n" + MonitorYaml("b"));
  std::filesystem::create_directory(dir_.path() / "more");
  Write("more/c.yml", MonitorYaml("c"));
  Write("more/notes.txt", "not a monitor");
  MonitorFileSource source({dir_.path().string()}, Recorder(), {});

  auto loaded = source.Reload();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(*loaded, 3u);
  ASSERT_EQ(Applied().size(), 1u);
  EXPECT_EQ(Applied()[0].size(), 3u);
  EXPECT_EQ(Applied()[0][0].uid, "file:default/a");
}

TEST_F(MonitorFileSourceTest, AnInvalidEditKeepsTheLastGoodSet) {
  Write("m.yaml", MonitorYaml("a"));
  MonitorFileSource source({(dir_.path() / "m.yaml").string()}, Recorder(), {});
  ASSERT_TRUE(source.Reload().ok());

  Write("m.yaml", MonitorYaml("a") + "---\n" + MonitorYaml("b", "7s"));
  auto loaded = source.Reload();

  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error(), HasSubstr("m.yaml:"));
  EXPECT_THAT(loaded.error(), HasSubstr("frequency"));
  EXPECT_THAT(source.last_error(), HasSubstr("frequency"));
  EXPECT_EQ(Applied().size(), 1u) << "nothing applied, not even the valid monitor a";
}

TEST_F(MonitorFileSourceTest, BumpsTheGenerationOfAChangedSpecOnly) {
  Write("m.yaml", MonitorYaml("a") + "---\n" + MonitorYaml("b"));
  MonitorFileSource source({(dir_.path() / "m.yaml").string()}, Recorder(), {});
  ASSERT_TRUE(source.Reload().ok());
  Write("m.yaml", MonitorYaml("a", "30s") + "---\n" + MonitorYaml("b"));
  ASSERT_TRUE(source.Reload().ok());

  auto applied = Applied();
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[1][0].generation, applied[0][0].generation + 1);
  EXPECT_EQ(applied[1][1].generation, applied[0][1].generation);
}

TEST_F(MonitorFileSourceTest, AnUnchangedSetIsNotAppliedAgain) {
  Write("m.yaml", MonitorYaml("a"));
  MonitorFileSource source({(dir_.path() / "m.yaml").string()}, Recorder(), {});
  ASSERT_TRUE(source.Reload().ok());
  Write("m.yaml", "# a comment\n" + MonitorYaml("a"));
  ASSERT_TRUE(source.Reload().ok());
  EXPECT_EQ(Applied().size(), 1u);
}

TEST_F(MonitorFileSourceTest, OtherKindsAreCheckedAndDeliveredWithTheMonitors) {
  const std::string channel =
      "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: hook}\n"
      "spec: {type: webhook}\n";
  Write("a.yaml", MonitorYaml("a") + "---\n" + channel);
  MonitorFileSource::Options options;
  bool refuse = false;
  options.other_kinds.push_back(
      {"AlertChannel", [&refuse](const DocumentNode& document) {
         std::vector<ValidationError> errors;
         if (refuse) {
           errors.push_back({document.location, "spec.type", "refused by the test"});
         }
         return errors;
       }});
  MonitorFileSource source({dir_.path().string()}, Recorder(), options);
  ASSERT_TRUE(source.Reload().ok());
  {
    std::lock_guard lock(mu_);
    ASSERT_EQ(others_.size(), 1u);
    ASSERT_EQ(others_[0].size(), 1u);
    EXPECT_EQ(others_[0][0].kind, "AlertChannel");
  }

  // A change to the other document alone is a new set.
  Write("a.yaml", MonitorYaml("a") + "---\n" + channel + "  # edited\n---\n" +
                      "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: b}\n"
                      "spec: {type: slack}\n");
  ASSERT_TRUE(source.Reload().ok());
  EXPECT_EQ(Applied().size(), 2u);

  // Its errors block the whole set, like a Monitor's.
  refuse = true;
  Write("a.yaml", MonitorYaml("changed") + "---\n" + channel);
  Result<size_t> refused = source.Reload();
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error(), ::testing::HasSubstr("a.yaml:11:1: spec.type: refused by the test"));
  EXPECT_EQ(Applied().size(), 2u) << "nothing applied";
}

TEST_F(MonitorFileSourceTest, PollingNoticesNewFiles) {
  Write("a.yaml", MonitorYaml("a"));
  MonitorFileSource source({dir_.path().string()}, Recorder(), {std::chrono::milliseconds(20)});
  ASSERT_TRUE(source.Reload().ok());
  source.Start();
  Write("b.yaml", MonitorYaml("b"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Applied().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  source.Stop();
  ASSERT_EQ(Applied().size(), 2u);
  EXPECT_EQ(Applied()[1].size(), 2u);
}

}  // namespace
}  // namespace pharos
