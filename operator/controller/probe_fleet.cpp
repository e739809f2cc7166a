#include "operator/controller/probe_fleet.h"

#include <pthread.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("probe-fleet");
  return logger;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"regions config " + path + " cannot be read"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<RegionsConfig> ParseConfig(const std::string& text, const std::string& path,
                                  const RegionsConfigDefaults& defaults) {
  return RegionsConfig::Parse(text, path, defaults);
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) {
    joined += (joined.empty() ? "" : ",") + name;
  }
  return joined;
}

}  // namespace

Result<RegionsConfig> ProbeFleet::LoadConfig(const std::string& path,
                                             const RegionsConfigDefaults& defaults) {
  Result<std::string> text = ReadFile(path);
  if (!text) {
    return Error{text.error()};
  }
  return ParseConfig(*text, path, defaults);
}

ProbeFleet::ProbeFleet(KubeClient& client, Options options, RegionsConfig initial)
    : client_(client),
      options_(std::move(options)),
      applier_(client, options_.namespace_name),
      config_(std::move(initial)) {
  Result<std::string> text = ReadFile(options_.config_path);
  if (text) {
    config_text_ = std::move(text).value();
  }
  stats_.regions = config_.regions.size();
}

ProbeFleet::~ProbeFleet() { Stop(); }

void ProbeFleet::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "probe-fleet");
    Loop();
  });
}

void ProbeFleet::Stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void ProbeFleet::SetLeader(bool leader) {
  {
    MutexLock lock(mutex_);
    if (leader_ == leader) {
      return;
    }
    leader_ = leader;
    apply_pending_ = leader;
  }
  wake_.NotifyAll();
}

void ProbeFleet::Reload() {
  {
    MutexLock lock(mutex_);
    reload_pending_ = true;
  }
  wake_.NotifyAll();
}

ProbeFleet::Stats ProbeFleet::stats() const {
  MutexLock lock(mutex_);
  return stats_;
}

bool ProbeFleet::CheckFile() {
  Result<std::string> text = ReadFile(options_.config_path);
  if (!text) {
    Log().Warn("cannot read the regions config; keeping the probe DaemonSets as they are",
               {{"file", options_.config_path}, {"error", text.error()}});
    return false;
  }
  {
    MutexLock lock(mutex_);
    if (*text == config_text_) {
      return false;
    }
  }
  Result<RegionsConfig> parsed = ParseConfig(*text, options_.config_path, options_.defaults);
  MutexLock lock(mutex_);
  config_text_ = std::move(text).value();
  if (!parsed) {
    ++stats_.invalid_reloads;
    Log().Error(
        "the changed regions config is invalid; the last good one stays in force: fix "
        "the file",
        {{"file", options_.config_path}, {"error", parsed.error()}});
    return false;
  }
  config_ = std::move(parsed).value();
  ++stats_.reloads;
  stats_.regions = config_.regions.size();
  std::vector<std::string> names;
  for (const ProbeRegionConfig& region : config_.regions) {
    names.push_back(region.name);
  }
  Log().Info("regions config changed",
             {{"file", options_.config_path}, {"regions", JoinNames(names)}});
  return true;
}

bool ProbeFleet::ApplyNow() {
  RegionsConfig config;
  {
    MutexLock lock(mutex_);
    config = config_;
  }
  // Pods whose token Secret is missing stay in ContainerCreating: say so.
  const std::string namespace_name = applier_.NamespaceOf(config);
  const std::string secret = config.probe.token_secret_name;
  const KubeResponse found = client_.Get(ApiResource::Secrets(), namespace_name, secret);
  if (found.IsNotFound()) {
    Log().Warn(
        "the probe token Secret does not exist: probe pods cannot start until it is "
        "created (see docs/install.md)",
        {{"secret", namespace_name + "/" + secret}});
  } else if (!found.ok()) {
    Log().Debug("cannot check the probe token Secret",
                {{"secret", namespace_name + "/" + secret}, {"error", found.Describe()}});
  }
  const DaemonSetApplyReport report = applier_.Apply(config);
  MutexLock lock(mutex_);
  if (!report.ok()) {
    ++stats_.failures;
    std::string errors;
    for (const std::string& error : report.errors) {
      errors += (errors.empty() ? "" : "; ") + error;
    }
    Log().Error("applying the probe DaemonSets failed; trying again",
                {{"namespace", namespace_name},
                 {"errors", errors},
                 {"retry_in_s", options_.retry_interval.count() / 1000}});
    return false;
  }
  ++stats_.applies;
  if (!report.applied.empty() || !report.deleted.empty()) {
    Log().Info("probe DaemonSets applied", {{"namespace", namespace_name},
                                            {"applied", JoinNames(report.applied)},
                                            {"deleted", JoinNames(report.deleted)}});
  }
  return true;
}

void ProbeFleet::Loop() {
  using Steady = std::chrono::steady_clock;
  Steady::time_point next_check = Steady::now();
  Steady::time_point next_apply = Steady::time_point::max();
  MutexLock lock(mutex_);
  while (!stopping_) {
    const Steady::time_point now = Steady::now();
    if (now >= next_check || reload_pending_) {
      reload_pending_ = false;
      lock.Unlock();
      const bool changed = CheckFile();
      lock.Lock();
      next_check = now + options_.poll_interval;
      if (changed) {
        apply_pending_ = true;
      }
    }
    if (leader_ && (apply_pending_ || now >= next_apply)) {
      apply_pending_ = false;
      lock.Unlock();
      const bool applied = ApplyNow();
      lock.Lock();
      next_apply = Steady::now() + (applied ? options_.resync_interval : options_.retry_interval);
      continue;
    }
    if (!leader_) {
      next_apply = Steady::time_point::max();
    }
    const Steady::time_point wake = std::min(next_check, next_apply);
    wake_.WaitUntil(mutex_, wake, [this]() REQUIRES(mutex_) {
      return stopping_ || reload_pending_ || (leader_ && apply_pending_);
    });
  }
}

}  // namespace pharos
