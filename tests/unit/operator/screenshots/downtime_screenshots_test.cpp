#include "operator/screenshots/downtime_screenshots.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "common/manual_clock.h"
#include "unit/eventually.h"
#include "unit/operator/control/core_test_support.h"
#include "unit/operator/screenshots/recording_incidents.h"
#include "unit/operator/screenshots/screenshot_scenario.h"

namespace pharos {
namespace {

using testing::RecordingIncidents;
using testing::TempDirectory;

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "not really an image";

// Answers captures from a script; can hold them until released (a hanging page).
class ScriptedCapturer final : public ScreenshotCapturer {
 public:
  Result<std::string> Capture(const std::string& url, const TargetPolicy& /*added*/) override {
    std::unique_lock lock(mu_);
    urls_.push_back(url);
    cv_.notify_all();
    cv_.wait(lock, [this] { return !hold_; });
    if (!fail_with_.empty()) return Error{fail_with_};
    return kPng;
  }
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  void FailWith(std::string error) {
    std::lock_guard lock(mu_);
    fail_with_ = std::move(error);
  }
  std::vector<std::string> urls() const {
    std::lock_guard lock(mu_);
    return urls_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::string fail_with_;
  std::vector<std::string> urls_;
};

using ::pharos::testing::Eventually;

Monitor HttpMonitor(bool screenshot) { return testing::ScreenshotHttpMonitor("shop", screenshot); }

class DowntimeScreenshotsTest : public ::testing::Test {
 protected:
  DowntimeScreenshotsTest()
      : files_(ScreenshotDirectory::Options{(dir_.path() / "shots").string()}),
        shots_(capturer_, files_, incidents_, clock_, DowntimeScreenshots::Options{2}) {
    shots_.Start();
  }

  TempDirectory dir_;
  ManualClock clock_;
  ScriptedCapturer capturer_;
  ScreenshotDirectory files_;
  RecordingIncidents incidents_;
  DowntimeScreenshots shots_;
};

TEST_F(DowntimeScreenshotsTest, DownAndRecoveryAreCapturedStoredAndAttached) {
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-1"));
  ASSERT_TRUE(Eventually([&] { return incidents_.screenshots("inc-1").size() == 1; }));
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentResolved("inc-1"));
  ASSERT_TRUE(Eventually([&] { return incidents_.screenshots("inc-1").size() == 2; }));

  EXPECT_EQ(capturer_.urls(),
            (std::vector<std::string>{"http://127.0.0.1:9/shop", "http://127.0.0.1:9/shop"}));
  const std::vector<std::string> urls = incidents_.screenshots("inc-1");
  EXPECT_NE(urls[0], urls[1]);
  for (const std::string& url : urls) {
    ASSERT_EQ(url.rfind("/api/v1/screenshots/", 0), 0u) << url;
    const std::string id = url.substr(20, url.size() - 20 - 4);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(files_.ReadPng(id), kPng);
  }
  EXPECT_EQ(shots_.counters().taken, 2);
  EXPECT_TRUE(incidents_.notes("inc-1").empty());
}

TEST_F(DowntimeScreenshotsTest, OnlyHttpMonitorsThatAskForItAndOnlyIncidentTransitions) {
  shots_.OnStateChange(HttpMonitor(false), testing::IncidentOpened("inc-off"));
  Monitor tcp = HttpMonitor(true);
  tcp.type = MonitorType::kTcp;
  shots_.OnStateChange(tcp, testing::IncidentOpened("inc-tcp"));
  StateEvent degraded;
  degraded.to = MonitorState::kDegraded;
  shots_.OnStateChange(HttpMonitor(true), degraded);
  // A marker capture after them: when it is attached, the others were skipped, not pending.
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-marker"));
  ASSERT_TRUE(Eventually([&] { return !incidents_.screenshots("inc-marker").empty(); }));
  EXPECT_EQ(capturer_.urls().size(), 1u);
  EXPECT_TRUE(incidents_.screenshots("inc-off").empty());
  EXPECT_TRUE(incidents_.screenshots("inc-tcp").empty());
}

TEST_F(DowntimeScreenshotsTest, AFailedCaptureIsRecordedOnTheIncident) {
  capturer_.FailWith("screenshot of http://127.0.0.1:9/shop timed out after 30 s");
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-2"));
  ASSERT_TRUE(Eventually([&] { return !incidents_.notes("inc-2").empty(); }));
  EXPECT_EQ(incidents_.notes("inc-2")[0],
            "Screenshot (down) failed: screenshot of http://127.0.0.1:9/shop timed out after 30 s");
  EXPECT_TRUE(incidents_.screenshots("inc-2").empty());
  EXPECT_EQ(shots_.counters().failed, 1);
}

TEST_F(DowntimeScreenshotsTest, AHangingCaptureNeverBlocksTheCallerAndTheQueueIsBounded) {
  capturer_.Hold(true);
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-a"));
  ASSERT_TRUE(Eventually([&] { return capturer_.urls().size() == 1; }));  // in progress
  // The caller (the core's transition thread) returns at once while the capture hangs; two wait
  // (max_queued), the next is skipped and says so.
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-b"));
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-c"));
  shots_.OnStateChange(HttpMonitor(true), testing::IncidentOpened("inc-d"));
  EXPECT_EQ(shots_.counters().skipped, 1);
  ASSERT_EQ(incidents_.notes("inc-d").size(), 1u);
  EXPECT_EQ(incidents_.notes("inc-d")[0],
            "Screenshot (down) skipped: 2 captures were already queued.");
  capturer_.Hold(false);
  ASSERT_TRUE(Eventually([&] { return shots_.counters().taken == 3; }));
  EXPECT_EQ(incidents_.screenshots("inc-c").size(), 1u);
}

TEST(ScreenshotDirectoryTest, RetentionKeepsTheNewestAndRefusesBadIds) {
  TempDirectory dir;
  ScreenshotDirectory::Options options;
  options.path = (dir.path() / "shots").string();
  options.max_files = 2;
  options.max_age = std::chrono::hours(24);
  ScreenshotDirectory files(options);
  EXPECT_FALSE(files.ReadPng("0123456789abcdef0123456789abcdef").has_value());  // no directory

  const auto age = [&](const std::string& id, std::chrono::hours by) {
    const std::filesystem::path path = std::filesystem::path(options.path) / (id + ".png");
    std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) - by);
  };
  Result<std::string> oldest = files.Save("one");
  ASSERT_TRUE(oldest.ok()) << oldest.error();
  age(*oldest, std::chrono::hours(3));
  Result<std::string> middle = files.Save("two");
  ASSERT_TRUE(middle.ok());
  age(*middle, std::chrono::hours(2));
  Result<std::string> newest = files.Save("three");
  ASSERT_TRUE(newest.ok());
  EXPECT_FALSE(files.ReadPng(*oldest).has_value());  // over max_files
  EXPECT_EQ(files.ReadPng(*middle), "two");
  EXPECT_EQ(files.ReadPng(*newest), "three");

  age(*middle, std::chrono::hours(30));  // older than max_age
  Result<std::string> fourth = files.Save("four");
  ASSERT_TRUE(fourth.ok());
  EXPECT_FALSE(files.ReadPng(*middle).has_value());
  EXPECT_EQ(files.ReadPng(*newest), "three");

  for (const char* bad : {"../../etc/passwd", "", "0123456789ABCDEF0123456789ABCDEF",
                          "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdeg"}) {
    EXPECT_FALSE(files.ReadPng(bad).has_value()) << bad;
  }
}

TEST(ScreenshotDirectoryTest, AnUnwritableDirectoryIsAnErrorNamingTheFlag) {
  TempDirectory dir;
  const std::filesystem::path blocker = dir.path() / "file";
  { std::ofstream(blocker) << "x"; }
  ScreenshotDirectory files(ScreenshotDirectory::Options{(blocker / "shots").string()});
  Result<std::string> saved = files.Save("png");
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.error().find("--screenshot-dir"), std::string::npos) << saved.error();
}

}  // namespace
}  // namespace pharos
