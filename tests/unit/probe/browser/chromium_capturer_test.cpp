#include "probe/browser/chromium_capturer.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "unit/temp_directory.h"

namespace pharos {
namespace {

using testing::TempDirectory;

// A stand-in for chromium: a shell script that finds its --screenshot=FILE argument and does
// what the test says (`body` sees it as $shot and the URL as $url).
std::string FakeBrowser(const std::filesystem::path& dir, const std::string& body) {
  const std::filesystem::path path = dir / "fake-chromium";
  std::ofstream(path)
      << "#!/bin/sh\n"
         "for a in \"$@\"; do case \"$a\" in --screenshot=*) shot=${a#--screenshot=};;"
         " http*) url=$a;; esac; done\n"
      << body << "\n";
  chmod(path.c_str(), 0755);
  return path.string();
}

ChromiumCapturer::Options OptionsFor(const TempDirectory& dir, const std::string& browser) {
  ChromiumCapturer::Options options;
  options.executable = browser;
  options.timeout = std::chrono::milliseconds(1'500);
  options.max_bytes = 1'000;
  options.temp_dir = dir.path().string();
  return options;
}

int LeftoverDirectories(const TempDirectory& dir) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind("pharos-shot-", 0) == 0) ++count;
  }
  return count;
}

TEST(ChromiumCapturerTest, ReturnsThePngAndPassesTheIsolationFlags) {
  TempDirectory dir;
  const std::filesystem::path args = dir.path() / "args";
  const std::string browser =
      FakeBrowser(dir.path(), "echo \"$@\" > " + args.string() +
                                  "\nprintf '\\211PNG\\r\\n\\032\\nfake' > \"$shot\"");
  ChromiumCapturer capturer(OptionsFor(dir, browser));
  Result<std::string> png = capturer.Capture("http://127.0.0.1:9/page", {});
  ASSERT_TRUE(png.ok()) << png.error();
  EXPECT_EQ(*png, std::string("\x89PNG\r\n\x1a\nfake", 12));
  std::ifstream in(args);
  std::string line;
  std::getline(in, line);
  for (const char* flag :
       {"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--user-data-dir=", "http://127.0.0.1:9/page",
        "--proxy-server=http://127.0.0.1:", "--proxy-bypass-list=<-loopback>", "--disable-quic",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"}) {
    EXPECT_NE(line.find(flag), std::string::npos) << flag << " in " << line;
  }
  EXPECT_EQ(LeftoverDirectories(dir), 0);  // the profile and the image are gone
}

TEST(ChromiumCapturerTest, AHangingBrowserIsKilledWithItsChildrenAtTheTimeout) {
  TempDirectory dir;
  const std::filesystem::path pid_file = dir.path() / "child.pid";
  // A helper process in the background (like chromium's renderers), then a hang.
  const std::string browser =
      FakeBrowser(dir.path(), "sleep 600 & echo $! > " + pid_file.string() + "\nsleep 600");
  ChromiumCapturer capturer(OptionsFor(dir, browser));
  Result<std::string> png = capturer.Capture("http://127.0.0.1:9/hangs", {});
  ASSERT_FALSE(png.ok());
  EXPECT_NE(png.error().find("timed out after 1 s"), std::string::npos) << png.error();
  std::ifstream in(pid_file);
  pid_t child = 0;
  in >> child;
  ASSERT_GT(child, 0);
  // The child was killed with the group; once reaped by init it is gone (or a zombie at most).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string text;
    std::getline(stat, text);
    gone = !stat || text.find(") Z ") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "the browser's child " << child << " survived";
  EXPECT_EQ(LeftoverDirectories(dir), 0);
}

TEST(ChromiumCapturerTest, NoImageTooLargeOrNotPngAreErrorsThatSayWhy) {
  TempDirectory dir;
  ChromiumCapturer failing(OptionsFor(
      dir, FakeBrowser(dir.path(),
                       "echo '[1:1:0101/000000.000:ERROR:headless_command_handler.cc(403)] "
                       "Page load failed: net::ERR_CONNECTION_REFUSED' >&2")));
  Result<std::string> none = failing.Capture("http://127.0.0.1:9/", {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("chromium wrote no image (exit 0): Page load failed: "
                              "net::ERR_CONNECTION_REFUSED"),
            std::string::npos)
      << none.error();

  ChromiumCapturer huge(
      OptionsFor(dir, FakeBrowser(dir.path(), "head -c 5000 /dev/zero > \"$shot\"")));
  Result<std::string> big = huge.Capture("http://127.0.0.1:9/", {});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("5000 bytes, over the limit of 1000"), std::string::npos)
      << big.error();

  ChromiumCapturer text(OptionsFor(dir, FakeBrowser(dir.path(), "echo hello > \"$shot\"")));
  Result<std::string> not_png = text.Capture("http://127.0.0.1:9/", {});
  ASSERT_FALSE(not_png.ok());
  EXPECT_NE(not_png.error().find("not a PNG"), std::string::npos) << not_png.error();

  ChromiumCapturer missing(OptionsFor(dir, (dir.path() / "no-such-browser").string()));
  Result<std::string> absent = missing.Capture("http://127.0.0.1:9/", {});
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().find("install Debian's chromium"), std::string::npos) << absent.error();

  Result<std::string> bad_url = missing.Capture("file:///etc/passwd", {});
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.error_kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(LeftoverDirectories(dir), 0);
}

TEST(ChromiumCapturerTest, APageTheTargetPolicyBlocksFailsWithItsReasonAndNoBrowser) {
  TempDirectory dir;
  const std::filesystem::path started = dir.path() / "started";
  ChromiumCapturer::Options options = OptionsFor(
      dir, FakeBrowser(dir.path(), "touch " + started.string() +
                                       "\nprintf '\\211PNG\\r\\n\\032\\nfake' > \"$shot\""));
  Result<TargetPolicy> own = TargetPolicy::Create({"127.0.0.2/32"}, {});
  ASSERT_TRUE(own.ok());
  options.policy = *own;
  ChromiumCapturer capturer(options);
  Result<std::string> refused = capturer.Capture("http://127.0.0.2:9/", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(),
            "screenshot of http://127.0.0.2:9/: target address 127.0.0.2 is "
            "blocked by the probe's policy");
  // The defaults and the added (cluster) policy count too.
  EXPECT_FALSE(capturer.Capture("https://169.254.169.254/", {}).ok());
  Result<TargetPolicy> cluster = TargetPolicy::Create({"127.0.0.3/32"}, {});
  ASSERT_TRUE(cluster.ok());
  EXPECT_FALSE(capturer.Capture("http://127.0.0.3:9/", *cluster).ok());
  EXPECT_FALSE(std::filesystem::exists(started)) << "a browser was started for a refused page";
  EXPECT_TRUE(capturer.Capture("http://127.0.0.1:9/", {}).ok());
  EXPECT_TRUE(std::filesystem::exists(started));
}

TEST(ChromiumCapturerTest, TheBrowsersConnectionsGoThroughTheProxyWhichRefusesBlockedOnes) {
  TempDirectory dir;
  // A browser whose page load goes to a blocked address through the proxy it was given (curl
  // as the browser), then fails as Chromium does.
  const std::string browser = FakeBrowser(
      dir.path(),
      "for a in \"$@\"; do case \"$a\" in --proxy-server=*) proxy=${a#--proxy-server=};; esac; "
      "done\n"
      "curl -s -o /dev/null -w '%{http_code}' -x \"$proxy\" http://127.0.0.2:9/ > " +
          (dir.path() / "code").string() +
          "\necho 'Page load failed: net::ERR_TUNNEL_CONNECTION_FAILED' >&2");
  ChromiumCapturer::Options options = OptionsFor(dir, browser);
  Result<TargetPolicy> own = TargetPolicy::Create({"127.0.0.2/32"}, {});
  ASSERT_TRUE(own.ok());
  options.policy = *own;
  ChromiumCapturer capturer(options);
  Result<std::string> png = capturer.Capture("http://127.0.0.1:9/", {});
  ASSERT_FALSE(png.ok());
  EXPECT_EQ(png.error(),
            "screenshot of http://127.0.0.1:9/: target address 127.0.0.2 is blocked by the "
            "probe's policy (127.0.0.2; the browser: Page load failed: "
            "net::ERR_TUNNEL_CONNECTION_FAILED)");
  std::ifstream code(dir.path() / "code");
  std::string answered;
  code >> answered;
  EXPECT_EQ(answered, "403");
}

}  // namespace
}  // namespace pharos
