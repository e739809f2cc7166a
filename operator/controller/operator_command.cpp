#include "operator/controller/operator_command.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <ostream>

#include "common/command_line.h"
#include "common/duration.h"
#include "common/http_server_flags.h"
#include "common/logging.h"
#include "common/process_signals.h"
#include "common/target_policy_flags.h"
#include "common/version.h"
#include "operator/alerting/alerting_flags.h"
#include "operator/analytics/clickhouse_analytics.h"
#include "operator/control/operator_metrics.h"

namespace pharos {
namespace {

constexpr int kExitClean = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

constexpr const char* kHelp =
    "Usage: pharos-operator [FLAGS]\n\n"
    "Runs the Pharos control plane in Kubernetes: watches Monitor resources, schedules their\n"
    "checks on the probes of every region, writes Monitor.status and Events, keeps the results in\n"
    "SQLite and serves the probe API, the JSON API and /metrics. With --leader-elect, one replica\n"
    "leads (a Lease) and the others stand by. See docs/operator.md.\n\n"
    "Flags:\n";

std::string DefaultIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "pharos-operator");
  }
  return std::string(host) + "_" + std::to_string(getpid());
}

}  // namespace

Result<OperatorCommand::Parsed> OperatorCommand::Parse(const std::vector<std::string>& args) {
  CommandLine flags;
  flags.AddFlag("kubeconfig", '\0', "FILE",
                "kubeconfig file (default: $KUBECONFIG, else the in-cluster service account, "
                "else ~/.kube/config)");
  flags.AddFlag("context", '\0', "NAME", "kubeconfig context (default: its current-context)");
  flags.AddFlag("namespace", '\0', "NS", "watch Monitors in this namespace only (\"\" = all)", "");
  flags.AddFlag("listen", '\0', "HOST:PORT",
                "address of the probe API, JSON API, /healthz, /readyz and /metrics",
                "0.0.0.0:8080");
  flags.AddFlag("db", '\0', "FILE", "SQLite database (created if missing)", "pharos.db");
  flags.AddFlag("retention", '\0', "DURATION", "how long raw results are kept", "720h");
  flags.AddFlag("screenshot-dir", '\0', "DIR",
                "where screenshots on downtime uploaded by the probes' sidecars are kept; default "
                "<--db>.screenshots");
  flags.AddFlag("screenshot-retention", '\0', "N",
                "screenshots kept (the oldest are deleted; also at most 512 MiB and 30 days)",
                "500");
  flags.AddFlag("screenshot-timeout", '\0', "DURATION",
                "the time a probe's sidecar gets for one capture; a probe that sends nothing "
                "15 s past it is recorded as failed",
                "30s");
  flags.AddFlag("screenshot-pickup-timeout", '\0', "DURATION",
                "a screenshot request no probe of its region took within this is recorded as "
                "failed",
                "60s");
  flags.AddSwitch("leader-elect", '\0',
                  "elect a leader among replicas with a Lease (only the leader acts)");
  flags.AddFlag("leader-election-namespace", '\0', "NS",
                "namespace of the Lease and of the probe DaemonSets (default: $POD_NAMESPACE, "
                "else the kubeconfig's namespace)");
  flags.AddFlag("leader-election-id", '\0', "NAME", "name of the Lease", "pharos-operator");
  flags.AddFlag("identity", '\0', "NAME", "this replica's name in the Lease", "hostname_pid");
  flags.AddFlag("lease-duration", '\0', "DURATION",
                "how long a standby waits before taking over an unrenewed Lease", "15s");
  flags.AddFlag("renew-deadline", '\0', "DURATION",
                "the leader steps down when it cannot renew for this long", "10s");
  flags.AddFlag("retry-period", '\0', "DURATION", "how often the Lease is tried or renewed", "2s");
  flags.AddFlag("regions-config", '\0', "FILE",
                "probe regions: one probe DaemonSet per region (docs/operator.md#probe-fleet)");
  flags.AddFlag("probe-token-file", '\0', "FILE",
                "tokens probes authenticate with (TOKEN or REGION=TOKEN per line)");
  flags.AddFlag("status-interval", '\0', "DURATION",
                "least time between two status writes of one Monitor (state changes are written "
                "at once)",
                "30s");
  flags.AddFlag("status-qps", '\0', "N", "status writes per second, over all Monitors", "10");
  OperatorMetrics::AddDurationPhasesFlag(flags);
  flags.AddFlag("probe-image", '\0', "IMAGE",
                "probe image when the regions config sets no probe.image");
  flags.AddFlag("operator-url", '\0', "URL",
                "URL the probe DaemonSets reach the operator at, when the regions config sets "
                "no operatorUrl");
  flags.AddSwitch("no-discovery", '\0',
                  "do not create Monitors for Ingresses and HTTPRoutes annotated "
                  "pharos.dev/monitor: \"true\" (docs/operator.md#discovery)");
  AddAlertingFlags(flags);
  flags.AddFlag("log-format", '\0', "FORMAT", "text, json or auto (text on a terminal)", "auto");
  flags.AddFlag("log-level", '\0', "LEVEL", "trace, debug, info, warn, error", "info");
  flags.AddFlag("deny-cidr", '\0', "CIDR",
                "cluster-wide: probes never connect to these (repeatable; pushed to every probe "
                "with its work, on top of the probe's own policy)");
  flags.AddFlag("allow-cidr", '\0', "CIDR",
                "cluster-wide: probes may connect to these although the default policy blocks "
                "them (repeatable; a probe's own --deny-cidr still wins)");
  flags.AddFlag("trusted-proxies", '\0', "CIDRS",
                "comma-separated proxies (an Ingress controller) whose X-Forwarded-For names the "
                "client of a status page with allowedCidrs; default none",
                "");
  AddHttpServerFlags(flags);
  ClickHouseAnalytics::AddFlags(flags);
  flags.AddSwitch("help", 'h', "show this help");
  flags.AddSwitch("version", '\0', "print the version");

  if (Status parsed = flags.Parse(args); !parsed) {
    return Error{parsed.error()};
  }
  Parsed result;
  result.help = flags.IsSet("help");
  result.version = flags.IsSet("version");
  result.help_text = std::string(kHelp) + flags.FlagsHelp();
  if (result.help || result.version) {
    return result;
  }
  if (!flags.positional().empty()) {
    return Error{"unexpected argument \"" + flags.positional().front() +
                 "\": pharos-operator takes flags only (see --help)"};
  }

  result.kube.kubeconfig_path = flags.Get("kubeconfig");
  result.kube.context = flags.Get("context");
  result.log_format = flags.Get("log-format");
  result.log_level = flags.Get("log-level");
  if (Result<LogFormat> format = ParseLogFormat(result.log_format); !format) {
    return Error{"--log-format: " + format.error()};
  }
  if (Result<LogLevel> level = ParseLogLevel(result.log_level); !level) {
    return Error{"--log-level: " + level.error()};
  }

  KubeOperatorOptions& options = result.options;
  options.watch_namespace = flags.Get("namespace");
  options.listen = flags.Get("listen");
  options.db_path = flags.Get("db");
  {
    const std::string proxies = flags.Get("trusted-proxies");
    size_t start = 0;
    while (start < proxies.size()) {
      size_t comma = proxies.find(',', start);
      if (comma == std::string::npos) comma = proxies.size();
      const std::string item = proxies.substr(start, comma - start);
      start = comma + 1;
      if (item.empty()) continue;
      Result<IpRange> range = IpRange::Parse(item);
      if (!range) return Error{"--trusted-proxies: \"" + item + "\": " + range.error()};
      options.trusted_proxies.push_back(*range);
    }
  }
  if (options.db_path.empty()) {
    return Error{"--db must name a file"};
  }
  Result<Millis> retention = flags.GetDuration("retention", std::chrono::hours(1));
  if (!retention) {
    return Error{retention.error()};
  }
  options.retention = std::chrono::duration_cast<std::chrono::hours>(*retention);
  options.screenshot_dir = flags.IsSet("screenshot-dir") ? flags.Get("screenshot-dir")
                                                         : options.db_path + ".screenshots";
  if (options.screenshot_dir.empty()) {
    return Error{"--screenshot-dir must name a directory"};
  }
  Result<int64_t> screenshot_retention = flags.GetInteger("screenshot-retention", 1, 1'000'000);
  if (!screenshot_retention) {
    return Error{screenshot_retention.error()};
  }
  options.screenshot_retention = static_cast<size_t>(*screenshot_retention);
  for (auto [name, target] :
       {std::pair{"screenshot-timeout", &options.screenshot_timeout},
        std::pair{"screenshot-pickup-timeout", &options.screenshot_pickup_timeout}}) {
    Result<Millis> value = flags.GetDuration(name, Millis(1'000));
    if (!value) {
      return Error{value.error()};
    }
    *target = *value;
  }
  Result<std::optional<ClickHouseAnalytics::Options>> clickhouse =
      ClickHouseAnalytics::OptionsFromFlags(flags, options.db_path);
  if (!clickhouse) {
    return Error{clickhouse.error()};
  }
  options.clickhouse = std::move(clickhouse).value();

  options.discovery = !flags.IsSet("no-discovery");
  options.leader_elect = flags.IsSet("leader-elect");
  options.leader_election_namespace = flags.Get("leader-election-namespace");
  if (options.leader_election_namespace.empty()) {
    if (const char* pod_namespace = std::getenv("POD_NAMESPACE"); pod_namespace != nullptr) {
      options.leader_election_namespace = pod_namespace;
    }
  }
  options.leader_election_id = flags.Get("leader-election-id");
  options.identity = flags.IsSet("identity") ? flags.Get("identity") : DefaultIdentity();
  if (options.identity.empty()) {
    return Error{"--identity must not be empty"};
  }
  for (auto [name, target] : {std::pair{"lease-duration", &options.lease_duration},
                              std::pair{"renew-deadline", &options.renew_deadline},
                              std::pair{"retry-period", &options.retry_period},
                              std::pair{"status-interval", &options.status_interval}}) {
    Result<Millis> value = flags.GetDuration(name, Millis(1));
    if (!value) {
      return Error{value.error()};
    }
    *target = *value;
  }
  Result<AlertingTimings> alerting = AlertingTimingsFromFlags(flags, options.alerting);
  if (!alerting) {
    return Error{alerting.error()};
  }
  options.alerting = *alerting;
  Result<double> status_qps = flags.GetNumber("status-qps", 0.001, 1e6);
  if (!status_qps) {
    return Error{status_qps.error()};
  }
  options.status_qps = *status_qps;
  Result<OperatorMetrics::DurationPhases> phases =
      OperatorMetrics::ParseDurationPhases(flags.Get("duration-phases"));
  if (!phases) {
    return Error{"--duration-phases " + phases.error()};
  }
  options.duration_phases = *phases;
  Result<HttpServerOptions> http = HttpServerOptionsFromFlags(flags);
  if (!http) {
    return Error{http.error()};
  }
  options.http = *http;
  // Checked here so that probes never receive a policy they would refuse.
  Result<TargetPolicy> policy = TargetPolicyFromFlags(flags);
  if (!policy) {
    return Error{policy.error()};
  }
  options.target_deny = flags.GetAll("deny-cidr");
  options.target_allow = flags.GetAll("allow-cidr");
  options.regions_config_path = flags.Get("regions-config");
  options.probe_token_file = flags.Get("probe-token-file");
  options.probe_image = flags.Get("probe-image");
  options.operator_url = flags.Get("operator-url");
  if (!options.operator_url.empty() && options.operator_url.rfind("http://", 0) != 0 &&
      options.operator_url.rfind("https://", 0) != 0) {
    return Error{"--operator-url must be an http:// or https:// URL, not \"" +
                 options.operator_url + "\""};
  }
  return result;
}

int OperatorCommand::Run(const std::vector<std::string>& args) {
  // Before any thread exists (see ProcessSignals).
  const ProcessSignals signals;

  Result<Parsed> parsed = Parse(args);
  if (!parsed) {
    err_ << "pharos-operator: " << parsed.error() << "\n";
    return kExitBadInput;
  }
  if (parsed->help) {
    out_ << parsed->help_text;
    return kExitClean;
  }
  if (parsed->version) {
    out_ << "pharos-operator " << kVersion << "\n";
    return kExitClean;
  }
  LoggingOptions logging;
  logging.format = *ParseLogFormat(parsed->log_format);
  logging.level = *ParseLogLevel(parsed->log_level);
  SetupLogging(logging);

  Result<KubeConfig> config = KubeConfig::Load(parsed->kube);
  if (!config) {
    err_ << "pharos-operator: Kubernetes configuration: " << config.error() << "\n";
    return kExitFailed;
  }
  Result<std::unique_ptr<KubeOperator>> created =
      KubeOperator::Create(std::move(config).value(), parsed->options);
  if (!created) {
    err_ << "pharos-operator: " << created.error() << "\n";
    return created.error_kind() == ErrorKind::kInvalidArgument ? kExitBadInput : kExitFailed;
  }
  KubeOperator& kube_operator = **created;
  if (Status started = kube_operator.Start(); !started) {
    err_ << "pharos-operator: " << started.error() << "\n";
    return kExitFailed;
  }

  while (true) {
    const ProcessSignals::Received signal = signals.Wait();
    if (signal.kind == ProcessSignals::Kind::kReload) {
      LogInfo("SIGHUP: reloading the probe tokens and the regions config");
      kube_operator.Reload();
      continue;
    }
    if (signal.kind == ProcessSignals::Kind::kStop) {
      LogInfo("shutting down", {{"signal", signal.name}});
      break;
    }
  }
  kube_operator.Stop();
  return kExitClean;
}

}  // namespace pharos
