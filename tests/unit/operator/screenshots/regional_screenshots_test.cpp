#include "operator/screenshots/regional_screenshots.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/manual_clock.h"
#include "operator/screenshots/png_header.h"
#include "unit/operator/screenshots/recording_incidents.h"
#include "unit/operator/screenshots/screenshot_scenario.h"
#include "unit/temp_directory.h"

namespace pharos {
namespace {

using std::chrono::seconds;
using testing::RecordingIncidents;
using testing::TempDirectory;

// The smallest header ReadPngHeader accepts: signature, IHDR of 13 bytes (w × h), a CRC.
std::string Png(uint32_t width, uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  const auto be32 = [&png](uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) png += static_cast<char>((value >> shift) & 0xff);
  };
  be32(13);
  png += "IHDR";
  be32(width);
  be32(height);
  png += std::string("\x08\x06\x00\x00\x00", 5);
  be32(0);
  return png;
}

using testing::IncidentOpened;
using testing::IncidentResolved;
using testing::ScreenshotHttpMonitor;

class RegionalScreenshotsTest : public ::testing::Test {
 protected:
  RegionalScreenshotsTest()
      : files_(ScreenshotDirectory::Options{(dir_.path() / "shots").string()}),
        shots_(files_, incidents_, Options()) {}

  static RegionalScreenshots::Options Options() {
    RegionalScreenshots::Options options;
    options.pickup_timeout = seconds(60);
    options.capture_timeout = seconds(30);
    options.lease_grace = seconds(15);
    options.max_waiting = 3;
    options.max_png_bytes = 1024;
    return options;
  }

  TempDirectory dir_;
  ManualClock clock_;
  ScreenshotDirectory files_;
  RecordingIncidents incidents_;
  RegionalScreenshots shots_;
};

TEST_F(RegionalScreenshotsTest, DownGoesToTheFailingRegionAndTheUploadIsAttached) {
  shots_.OnStateChange(ScreenshotHttpMonitor("storefront", true),
                       IncidentOpened("inc-1", {"us-east"}), clock_.Now());
  EXPECT_TRUE(shots_.Lease("eu-west", "probe-eu", 4, clock_.Now()).empty());
  std::vector<ScreenshotRequest> leased = shots_.Lease("us-east", "probe-us", 4, clock_.Now());
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].url, "http://127.0.0.1:9/storefront");
  EXPECT_EQ(leased[0].monitor_key, "shop/storefront");
  EXPECT_EQ(leased[0].incident_id, "inc-1");
  EXPECT_EQ(leased[0].moment, "down");
  EXPECT_EQ(leased[0].id.size(), 32u);
  EXPECT_EQ(leased[0].lease_expires_at, clock_.Now() + seconds(45));
  // Leased once: another probe of the region does not get it again.
  EXPECT_TRUE(shots_.Lease("us-east", "probe-us-2", 4, clock_.Now()).empty());

  Result<std::string> url =
      shots_.Complete("us-east", "probe-us", leased[0].id, Png(1280, 2000), clock_.Now());
  ASSERT_TRUE(url.ok()) << url.error();
  EXPECT_EQ(url->rfind("/api/v1/screenshots/", 0), 0u);
  EXPECT_EQ(incidents_.screenshots("inc-1"), std::vector<std::string>{*url});
  const std::string id = url->substr(20, 32);
  EXPECT_EQ(files_.ReadPng(id), Png(1280, 2000));
  // Answered once.
  EXPECT_FALSE(shots_.Complete("us-east", "probe-us", leased[0].id, Png(1, 1), clock_.Now()));
  EXPECT_EQ(shots_.counters().taken, 1);
  EXPECT_EQ(shots_.waiting(), 0u);
}

TEST_F(RegionalScreenshotsTest, RecoveryGoesToTheRegionOfTheDownCapture) {
  const Monitor monitor = ScreenshotHttpMonitor("storefront", true);
  shots_.OnStateChange(monitor, IncidentOpened("inc-1", {"us-east"}), clock_.Now());
  ASSERT_EQ(shots_.Lease("us-east", "probe-us", 1, clock_.Now()).size(), 1u);
  shots_.OnStateChange(monitor, IncidentResolved("inc-1"), clock_.Now());
  EXPECT_TRUE(shots_.Lease("eu-west", "probe-eu", 1, clock_.Now()).empty());
  std::vector<ScreenshotRequest> recovery = shots_.Lease("us-east", "probe-us", 1, clock_.Now());
  ASSERT_EQ(recovery.size(), 1u);
  EXPECT_EQ(recovery[0].moment, "recovery");
  EXPECT_EQ(recovery[0].incident_id, "inc-1");
  // An incident it never saw open (an operator restart): the monitor's first region.
  shots_.OnStateChange(monitor, IncidentResolved("inc-older"), clock_.Now());
  EXPECT_EQ(shots_.Lease("eu-west", "probe-eu", 1, clock_.Now()).size(), 1u);
}

TEST_F(RegionalScreenshotsTest, OnlyHttpMonitorsThatAskForItAndOnlyIncidentTransitions) {
  shots_.OnStateChange(ScreenshotHttpMonitor("off", false), IncidentOpened("inc-off", {"eu-west"}),
                       clock_.Now());
  Monitor tcp = ScreenshotHttpMonitor("tcp", true);
  tcp.type = MonitorType::kTcp;
  shots_.OnStateChange(tcp, IncidentOpened("inc-tcp", {"eu-west"}), clock_.Now());
  StateEvent degraded;
  degraded.from = MonitorState::kUp;
  degraded.to = MonitorState::kDegraded;
  shots_.OnStateChange(ScreenshotHttpMonitor("slow", true), degraded, clock_.Now());
  EXPECT_EQ(shots_.waiting(), 0u);
  EXPECT_EQ(shots_.counters().requested, 0);
}

TEST_F(RegionalScreenshotsTest, OnlyTheProbeItWasLeasedToMayAnswerAndOnlyWithAPng) {
  shots_.OnStateChange(ScreenshotHttpMonitor("storefront", true),
                       IncidentOpened("inc-1", {"eu-west"}), clock_.Now());
  const std::string id = shots_.Lease("eu-west", "probe-eu", 1, clock_.Now()).at(0).id;
  Result<std::string> other = shots_.Complete("eu-west", "probe-eu-2", id, Png(1, 1), clock_.Now());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error_kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(shots_.Complete("us-east", "probe-eu", id, Png(1, 1), clock_.Now()).ok());

  Result<std::string> garbage =
      shots_.Complete("eu-west", "probe-eu", id, std::string("<html>"), clock_.Now());
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error_kind(), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(incidents_.screenshots("inc-1").empty());
  shots_.Flush(clock_.Now());
  EXPECT_EQ(incidents_.notes("inc-1"),
            std::vector<std::string>{
                "Screenshot (down) failed: the probe sent not a PNG (no PNG signature)"});
}

TEST_F(RegionalScreenshotsTest, AnOversizedImageIsRefusedAndRecorded) {
  shots_.OnStateChange(ScreenshotHttpMonitor("storefront", true),
                       IncidentOpened("inc-1", {"eu-west"}), clock_.Now());
  const std::string id = shots_.Lease("eu-west", "probe-eu", 1, clock_.Now()).at(0).id;
  Result<std::string> big = shots_.Complete("eu-west", "probe-eu", id,
                                            Png(10, 10) + std::string(2000, 'x'), clock_.Now());
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("at most 1024"), std::string::npos) << big.error();
  EXPECT_EQ(shots_.counters().failed, 1);
}

TEST_F(RegionalScreenshotsTest, AProbesErrorIsRecordedOnTheIncidentByFlush) {
  shots_.OnStateChange(ScreenshotHttpMonitor("storefront", true),
                       IncidentOpened("inc-1", {"eu-west"}), clock_.Now());
  const std::string id = shots_.Lease("eu-west", "probe-eu", 1, clock_.Now()).at(0).id;
  Result<std::string> done =
      shots_.Complete("eu-west", "probe-eu", id,
                      Error{"screenshot of http://127.0.0.1:9/storefront timed out"}, clock_.Now());
  ASSERT_TRUE(done.ok()) << done.error();
  EXPECT_EQ(*done, "");
  // Nothing is written to the incident by Complete itself (the probe API's thread).
  EXPECT_TRUE(incidents_.notes("inc-1").empty());
  shots_.Flush(clock_.Now());
  EXPECT_EQ(incidents_.notes("inc-1"),
            std::vector<std::string>{"Screenshot (down) failed in region eu-west: screenshot of "
                                     "http://127.0.0.1:9/storefront timed out"});
}

TEST_F(RegionalScreenshotsTest, ARequestNobodyTakesOrAnswersExpiresOnceAndIsRecorded) {
  const Monitor monitor = ScreenshotHttpMonitor("storefront", true);
  shots_.OnStateChange(monitor, IncidentOpened("inc-nobody", {"ap-south"}), clock_.Now());
  shots_.OnStateChange(monitor, IncidentOpened("inc-silent", {"eu-west"}), clock_.Now());
  ASSERT_EQ(shots_.Lease("eu-west", "probe-eu", 4, clock_.Now()).size(), 1u);

  clock_.Advance(seconds(44));
  shots_.Flush(clock_.Now());
  EXPECT_EQ(shots_.waiting(), 2u);
  EXPECT_TRUE(incidents_.notes("inc-silent").empty());

  clock_.Advance(seconds(1));  // 45 s: the lease has expired
  shots_.Flush(clock_.Now());
  EXPECT_EQ(incidents_.notes("inc-silent"),
            std::vector<std::string>{"Screenshot (down) failed: probe probe-eu of region eu-west "
                                     "sent no screenshot within 45 s"});
  EXPECT_TRUE(incidents_.notes("inc-nobody").empty());

  clock_.Advance(seconds(15));  // 60 s: nobody of ap-south took it
  EXPECT_TRUE(shots_.Lease("ap-south", "late", 1, clock_.Now()).empty());
  shots_.Flush(clock_.Now());
  EXPECT_EQ(incidents_.notes("inc-nobody"),
            std::vector<std::string>{
                "Screenshot (down) failed: no probe of region ap-south took it within 60 s (do "
                "that region's probes run the screenshot sidecar?)"});
  EXPECT_EQ(shots_.waiting(), 0u);
  EXPECT_EQ(shots_.counters().failed, 2);
  shots_.Flush(clock_.Now());
  EXPECT_EQ(incidents_.notes("inc-silent").size(), 1u);
}

TEST_F(RegionalScreenshotsTest, AtMostMaxWaitingAndTheRestAreSkipped) {
  const Monitor monitor = ScreenshotHttpMonitor("storefront", true);
  for (const char* id : {"a", "b", "c", "d"}) {
    shots_.OnStateChange(monitor, IncidentOpened(id, {"eu-west"}), clock_.Now());
  }
  EXPECT_EQ(shots_.waiting(), 3u);
  EXPECT_EQ(shots_.counters().skipped, 1);
  shots_.Flush(clock_.Now());
  EXPECT_EQ(incidents_.notes("d"),
            std::vector<std::string>{"Screenshot (down) skipped: 3 captures were already waiting"});
  EXPECT_EQ(shots_.Lease("eu-west", "probe-eu", 2, clock_.Now()).size(), 2u);
}

TEST(PngHeaderTest, ReadsTheSizeAndRefusesWhatIsNotAPng) {
  const std::string png = [] {
    std::string bytes("\x89PNG\r\n\x1a\n", 8);
    bytes += std::string("\x00\x00\x00\x0dIHDR", 8);
    bytes += std::string("\x00\x00\x05\x00\x00\x00\x07\xd0", 8);  // 1280 × 2000
    bytes += std::string(9, '\0');
    return bytes;
  }();
  Result<PngHeader> header = ReadPngHeader(png);
  ASSERT_TRUE(header.ok()) << header.error();
  EXPECT_EQ(header->width, 1280u);
  EXPECT_EQ(header->height, 2000u);

  EXPECT_EQ(ReadPngHeader("GIF89a").error(), "not a PNG (no PNG signature)");
  EXPECT_EQ(ReadPngHeader(png.substr(0, 20)).error(),
            "not a PNG (20 bytes, too short for a PNG header)");
  std::string wrong_chunk = png;
  wrong_chunk.replace(12, 4, "IDAT");
  EXPECT_EQ(ReadPngHeader(wrong_chunk).error(),
            "not a PNG (the first chunk is not a 13-byte IHDR)");
  std::string empty = png;
  empty.replace(16, 4, std::string(4, '\0'));
  EXPECT_EQ(ReadPngHeader(empty).error(),
            "not a PNG (an image of 0x2000 pixels; expected 1 to 65535 each way)");
  EXPECT_EQ(ReadPngHeader(empty).error_kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace pharos
