#include "probe/browser/chromium_capturer.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "probe/browser/policy_proxy.h"

extern char** environ;

namespace pharos {
namespace {

constexpr std::string_view kPngSignature = "\x89PNG\r\n\x1a\n";
constexpr std::chrono::milliseconds kPollPeriod{25};

// A temporary directory removed (with what the browser left in it) when it goes.
class TempDir {
 public:
  explicit TempDir(const std::string& parent) {
    std::string pattern =
        (parent.empty() ? std::filesystem::temp_directory_path().string() : parent) +
        "/pharos-shot-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The browser's last complaint ("Page load failed: net::ERR_CONNECTION_REFUSED"), without its
// "[pid:tid:time:ERROR:file(line)] " prefix.
std::string LastError(const std::string& path, size_t max_chars) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (line.front() == '[') {
      const size_t end = line.find("] ");
      if (end != std::string::npos) line = line.substr(end + 2);
    }
    last = line;
  }
  if (last.empty()) return "no message";
  return last.size() > max_chars ? last.substr(0, max_chars) + "..." : last;
}

}  // namespace

Result<std::string> ChromiumCapturer::Capture(const std::string& url, const TargetPolicy& added) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return Error{"screenshot: \"" + url + "\" is not an http(s) URL", ErrorKind::kInvalidArgument};
  }
  Result<ProxyRequest> target = ProxyRequest::ForUrl(url);
  if (!target) {
    return Error{"screenshot of " + url + ": " + target.error(), ErrorKind::kInvalidArgument};
  }
  TargetPolicy policy = options_.policy.MergedWith(added);
  // A page the policy refuses needs no browser (the proxy would refuse it all the same).
  if (Result<sockaddr_storage> admitted = PolicyProxy::Admit(policy, target->host, target->port);
      !admitted && admitted.error_kind() == ErrorKind::kInvalidArgument) {
    return Error{"screenshot of " + url + ": " + admitted.error(), ErrorKind::kInvalidArgument};
  }
  PolicyProxy proxy(std::move(policy), {});
  if (Status started = proxy.Start(); !started) return Error{started.error()};
  TempDir dir(options_.temp_dir);
  if (dir.path().empty()) {
    return Error{"screenshot: cannot create a temporary directory (set TMPDIR to a writable one)"};
  }
  const std::string png_path = dir.path() + "/shot.png";
  const std::string log_path = dir.path() + "/chromium.log";
  std::vector<std::string> args = {
      options_.executable, "--headless", "--no-sandbox", "--disable-gpu",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
      // Every connection through the policy proxy, loopback too ("<-loopback>" removes Chromium's
      // implicit bypass); QUIC and WebRTC's UDP would not go through an HTTP proxy.
      "--proxy-server=" + proxy.url(), "--proxy-bypass-list=<-loopback>", "--disable-quic",
      "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
      "--webrtc-ip-handling-policy=disable_non_proxied_udp",
      "--user-data-dir=" + dir.path() + "/profile",
      "--window-size=" + std::to_string(options_.width) + "," + std::to_string(options_.height),
      "--screenshot=" + png_path, url};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // A group of its own: the browser's helper processes are killed with it.
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, options_.executable.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    return Error{"screenshot: cannot start " + options_.executable + ": " +
                     std::string(strerror(spawned)) + " (install Debian's chromium)",
                 ErrorKind::kUnavailable};
  }

  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  int wait_status = 0;
  bool exited = false;
  while (!exited) {
    const pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      exited = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollPeriod);
  }
  // Whatever is left of the group goes, finished or not, and every tunnel with it.
  kill(-pid, SIGKILL);
  proxy.Stop();
  const std::vector<PolicyProxy::Refusal> refusals = proxy.Refusals();
  const auto refused_navigation =
      std::find_if(refusals.begin(), refusals.end(),
                   [](const PolicyProxy::Refusal& refusal) { return refusal.navigation; });
  if (!exited) {
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
    return Error{"screenshot of " + url + " timed out after " +
                 std::to_string(options_.timeout.count() / 1000) + " s (the page did not load)"};
  }
  std::error_code size_error;
  const auto size = std::filesystem::file_size(png_path, size_error);
  if (size_error) {
    const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    // The browser could not load the page: a refusal is the likely why (an https page or
    // redirect refused shows only as a failed tunnel to the browser).
    if (!refusals.empty()) {
      return Error{"screenshot of " + url + ": " + refusals.front().reason + " (" +
                       refusals.front().host + "; the browser: " + LastError(log_path, 200) + ")",
                   ErrorKind::kInvalidArgument};
    }
    return Error{"screenshot of " + url + ": chromium wrote no image (" +
                 (clean                    ? std::string("exit 0")
                  : WIFEXITED(wait_status) ? "exit " + std::to_string(WEXITSTATUS(wait_status))
                                           : "signal " + std::to_string(WTERMSIG(wait_status))) +
                 "): " + LastError(log_path, 300)};
  }
  if (refused_navigation != refusals.end()) {
    return Error{"screenshot of " + url + ": the page navigated to " + refused_navigation->host +
                     ": " + refused_navigation->reason,
                 ErrorKind::kInvalidArgument};
  }
  if (size > options_.max_bytes) {
    return Error{"screenshot of " + url + " is " + std::to_string(size) +
                 " bytes, over the limit of " + std::to_string(options_.max_bytes)};
  }
  std::ifstream in(png_path, std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (png.size() != size || png.compare(0, kPngSignature.size(), kPngSignature) != 0) {
    return Error{"screenshot of " + url + ": chromium wrote something that is not a PNG"};
  }
  return png;
}

}  // namespace pharos
