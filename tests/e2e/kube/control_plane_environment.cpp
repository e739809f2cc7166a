#include "e2e/kube/control_plane_environment.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

extern char** environ;

namespace pharos::e2e {
namespace {

namespace fs = std::filesystem;

ControlPlaneEnvironment* g_environment = nullptr;

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) trimmed.pop_back();
  const auto newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

std::string Tail(const std::string& text, size_t bytes = 4000) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// DIR/env is written with printf %q: plain words, or '' for an empty value.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    std::string value = line.substr(equals + 1);
    if (value == "''") value.clear();
    values[line.substr(0, equals)] = value;
  }
  return values;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& args) {
  CommandResult result;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = "pipe() failed";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // The control plane's daemons outlive the script: they must not inherit the pipe (we would
  // wait for its end forever) nor any of this process's sockets.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    result.output = "cannot run " + args[0] + ": " + std::strerror(spawned);
    return result;
  }
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) result.output.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ControlPlaneEnvironment& ControlPlaneEnvironment::Get() { return *g_environment; }

void ControlPlaneEnvironment::SetUp() {
  g_environment = this;
  setup_error_ = Start();
  if (!setup_error_.empty()) std::cerr << setup_error_ << "\n";
}

std::string ControlPlaneEnvironment::Start() {
  source_dir_ = PHAROS_SOURCE_DIR;
  const char* bin = std::getenv("PHAROS_K8S_BIN");
  if (bin != nullptr && *bin != '\0') {
    bin_dir_ = bin;
  } else {
    const CommandResult built = RunCommand({source_dir_ + "/tests/k8s/build-tools"});
    if (built.exit_code != 0) {
      return "kube_e2e needs etcd, kube-apiserver and kubectl, and tests/k8s/build-tools could "
             "not provide them (exit " +
             std::to_string(built.exit_code) +
             "). Install Go (see tests/k8s/README.md) or point PHAROS_K8S_BIN at a folder with "
             "the binaries.\n" +
             Tail(built.output);
    }
    bin_dir_ = LastLine(built.output);
  }
  for (const char* tool : {"etcd", "kube-apiserver", "kubectl"}) {
    const fs::path path = fs::path(bin_dir_) / tool;
    if (access(path.c_str(), X_OK) != 0) {
      return "kube_e2e needs " + path.string() +
             ", which is missing or not executable. Run tests/k8s/build-tools or set "
             "PHAROS_K8S_BIN to a folder with etcd, kube-apiserver and kubectl.";
    }
  }

  std::string pattern = (fs::temp_directory_path() / "pharos-kube-e2e-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return "mkdtemp failed: " + std::string(strerror(errno));
  dir_ = pattern;
  setenv("PHAROS_K8S_BIN", bin_dir_.c_str(), 1);
  // Without the watch cache, compacted resource versions answer 410 Gone (tests/k8s/README.md).
  setenv("PHAROS_K8S_APISERVER_ARGS", "--watch-cache=false", 1);
  const CommandResult started =
      RunCommand({source_dir_ + "/tests/k8s/control-plane", "start", dir_ + "/cp"});
  if (started.exit_code != 0) {
    return "tests/k8s/control-plane start failed (exit " + std::to_string(started.exit_code) +
           "):\n" + Tail(started.output);
  }
  started_ = true;
  env_ = ReadEnvFile(dir_ + "/cp/env");
  if (Env("KUBECONFIG_ADMIN").empty()) return dir_ + "/cp/env has no KUBECONFIG_ADMIN";
  return "";
}

void ControlPlaneEnvironment::TearDown() {
  if (started_) {
    const CommandResult stopped =
        RunCommand({source_dir_ + "/tests/k8s/control-plane", "stop", dir_ + "/cp"});
    EXPECT_EQ(stopped.exit_code, 0) << Tail(stopped.output);
  }
  if (dir_.empty()) return;
  if (::testing::UnitTest::GetInstance()->Passed()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  } else {
    std::cerr << "kube_e2e: control plane files kept in " << dir_ << "/cp (logs: etcd.log, "
              << "apiserver.log)\n";
  }
}

std::string ControlPlaneEnvironment::Env(const std::string& key) const {
  const auto it = env_.find(key);
  return it == env_.end() ? "" : it->second;
}

std::unique_ptr<CurlKubeClient> ControlPlaneEnvironment::ClientFor(const std::string& kubeconfig) {
  auto config = KubeConfig::FromFiles({kubeconfig}, "");
  EXPECT_TRUE(config.ok()) << config.error();
  if (!config.ok()) return nullptr;
  KubeClientOptions options;
  options.qps = 200;
  options.burst = 400;
  auto client = CurlKubeClient::New(*config, options);
  EXPECT_TRUE(client.ok()) << client.error();
  if (!client.ok()) return nullptr;
  return std::move(client).value();
}

std::unique_ptr<CurlKubeClient> ControlPlaneEnvironment::AdminClient() const {
  return ClientFor(Env("KUBECONFIG_ADMIN"));
}

void ControlPlaneEnvironment::RestartApiServer() const {
  const CommandResult restarted =
      RunCommand({source_dir_ + "/tests/k8s/control-plane", "restart-apiserver", dir_ + "/cp"});
  ASSERT_EQ(restarted.exit_code, 0) << Tail(restarted.output);
}

std::string ControlPlaneEnvironment::Compact() const {
  const CommandResult compacted =
      RunCommand({source_dir_ + "/tests/k8s/control-plane", "compact", dir_ + "/cp"});
  EXPECT_EQ(compacted.exit_code, 0) << Tail(compacted.output);
  return LastLine(compacted.output);
}

CommandResult ControlPlaneEnvironment::Kubectl(const std::vector<std::string>& args) const {
  std::vector<std::string> command = {bin_dir_ + "/kubectl", "--kubeconfig",
                                      Env("KUBECONFIG_ADMIN")};
  command.insert(command.end(), args.begin(), args.end());
  return RunCommand(command);
}

}  // namespace pharos::e2e
