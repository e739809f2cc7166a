// pharos-probe: runs the checks of one region for a Pharos operator and reports the results
// (docs/probe.md). Runs as a DaemonSet pod or as a plain process anywhere ("private location").

#include <curl/curl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/command_line.h"
#include "common/duration.h"
#include "common/http_listen_address.h"
#include "common/http_server.h"
#include "common/http_server_flags.h"
#include "common/logging.h"
#include "common/metrics_endpoint.h"
#include "common/metrics_registry.h"
#include "common/name_syntax.h"
#include "common/process_signals.h"
#include "common/rfc3339.h"
#include "common/target_policy_flags.h"
#include "common/version.h"
#include "probe/browser/chromium_capturer.h"
#include "probe/engine_flags.h"
#include "probe/operator_client.h"
#include "probe/probe_agent.h"
#include "probe/screenshot_relay.h"
#include "probe/screenshot_server.h"
#include "probe/sidecar_capturer.h"
#include "probe/token_file.h"

namespace pharos {
namespace {

constexpr const char* kUsage =
    "Usage: pharos-probe --operator URL --region NAME --token-file FILE [FLAGS]\n\n"
    "Runs the checks of one region for a Pharos operator: leases work items, checks the targets\n"
    "(HTTP, TCP, DNS), and reports the results, keeping them until the operator acknowledges\n"
    "them. Serves /metrics, /healthz and /readyz. SIGTERM or SIGINT stops leasing, finishes the\n"
    "checks in flight and reports them (a second signal stops at once). See docs/probe.md.\n\n"
    "       pharos-probe screenshot-server [--listen 127.0.0.1:9555] [FLAGS]\n"
    "runs the screenshot sidecar (docs/probe.md#screenshot-sidecar).\n\n"
    "Flags:\n";

constexpr const char* kScreenshotUsage =
    "Usage: pharos-probe screenshot-server [--listen 127.0.0.1:9555] [FLAGS]\n\n"
    "The screenshot sidecar of a probe pod: captures a page with headless Chromium when the\n"
    "probe asks (POST /capture), one at a time, each in a fresh browser bounded in time and size.\n"
    "Listen on loopback only: the probe container reaches it there. See docs/probe.md.\n\n"
    "Flags:\n";

struct ProbeConfig {
  OperatorClient::Options client;
  std::string screenshot_server;  // "" = no sidecar: no screenshots taken
  std::chrono::milliseconds screenshot_poll{2'000};
  ProbeAgent::Options agent;
  std::string listen;
  HttpServerOptions server;
  LoggingOptions logging;
};

// The probe's HTTP server only answers scrapes and kubelet probes: a few threads, few connections.
HttpServerOptions ProbeServerDefaults() {
  HttpServerOptions options;
  options.max_connections = 512;
  options.io_threads = 1;
  options.handler_threads = 2;
  return options;
}

std::string Hostname() {
  char name[256] = "";
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

Status ReadableFile(const std::string& flag, const std::string& path) {
  std::ifstream file(path);
  if (!file) return Error{"--" + flag + ": cannot read " + path + ": " + std::strerror(errno)};
  return OkStatus();
}

bool IsProbeName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

Result<ProbeConfig> ReadConfig(const CommandLine& flags) {
  ProbeConfig config;
  if (!flags.positional().empty()) {
    return Error{"unexpected argument \"" + flags.positional().front() +
                 "\" (pharos-probe takes flags only)"};
  }
  const std::string url = flags.Get("operator");
  if (url.empty()) return Error{"--operator is required: the operator's probe API URL"};
  const bool https = url.rfind("https://", 0) == 0;
  if (!https && url.rfind("http://", 0) != 0) {
    return Error{
        "--operator: \"" + RedactUrl(url) +
        "\" must start with http:// or https:// (e.g. http://pharos-operator.pharos:8080)"};
  }
  const std::string rest = url.substr(https ? 8 : 7);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return Error{"--operator: \"" + RedactUrl(url) + "\" has no host"};
  }
  if (url.find_first_of("?#") != std::string::npos) {
    return Error{"--operator: \"" + RedactUrl(url) + "\" must not have a query or fragment"};
  }
  config.client.operator_url = url;

  const std::string region = flags.Get("region");
  if (region.empty()) return Error{"--region is required: the region this probe checks from"};
  if (!IsDns1123Label(region)) {
    return Error{"--region: \"" + region +
                 "\" is not a region name (1-63 lower-case letters, digits and '-', starting and "
                 "ending with a letter or digit)"};
  }
  const std::string token_file = flags.Get("token-file");
  if (token_file.empty()) {
    return Error{"--token-file is required: a file holding the token the operator accepts"};
  }
  Result<std::string> token = TokenFile(token_file).Token();
  if (!token.ok()) return Error{"--token-file: " + token.error()};
  config.client.token_file = token_file;

  std::string name = flags.IsSet("name") ? flags.Get("name") : Hostname();
  if (!IsProbeName(name)) {
    return Error{"--name: \"" + name +
                 "\" is not a probe name (1-253 letters, digits, '-', '.' or '_'); the default is "
                 "the host name"};
  }
  config.client.probe = {name, region, kVersion};

  Result<int64_t> concurrency = flags.GetInteger("concurrency", 1, 100'000);
  if (!concurrency.ok()) return Error{concurrency.error()};
  config.agent.capacity = static_cast<size_t>(*concurrency);
  Result<int64_t> pending = flags.GetInteger("max-pending-results", 1, 10'000'000);
  if (!pending.ok()) return Error{pending.error()};
  config.agent.max_pending_results = static_cast<size_t>(*pending);

  config.listen = flags.Get("listen");
  if (auto address = HttpListenAddress::Parse(config.listen); !address.ok()) {
    return Error{"--listen: " + address.error()};
  }
  Result<HttpServerOptions> server = HttpServerOptionsFromFlags(flags, ProbeServerDefaults());
  if (!server.ok()) return Error{server.error()};
  config.server = *server;

  config.client.ca_file = flags.Get("ca-file");
  if (!config.client.ca_file.empty()) {
    Status readable = ReadableFile("ca-file", config.client.ca_file);
    if (!readable.ok()) return Error{readable.error()};
  }
  config.client.insecure_skip_verify = flags.IsSet("insecure-skip-verify");
  if (flags.IsSet("target-ca-file")) {
    config.agent.engine.ca_file = flags.Get("target-ca-file");
  } else if (const char* ca_file = std::getenv("PHAROS_CA_FILE"); ca_file != nullptr) {
    config.agent.engine.ca_file = ca_file;
  }
  if (!config.agent.engine.ca_file.empty()) {
    Status readable = ReadableFile("target-ca-file", config.agent.engine.ca_file);
    if (!readable.ok()) return Error{readable.error()};
  }
  if (Status engine = EngineFlags::Read(flags, &config.agent.engine); !engine.ok()) {
    return Error{engine.error()};
  }

  config.screenshot_server = flags.Get("screenshot-server");
  while (!config.screenshot_server.empty() && config.screenshot_server.back() == '/') {
    config.screenshot_server.pop_back();
  }
  if (!config.screenshot_server.empty() && config.screenshot_server.rfind("http://", 0) != 0) {
    return Error{"--screenshot-server: \"" + config.screenshot_server +
                 "\" must be the sidecar's http:// address, e.g. http://127.0.0.1:9555"};
  }
  Result<Millis> poll = flags.GetDuration("screenshot-poll", Millis(100));
  if (!poll.ok()) return Error{poll.error()};
  config.screenshot_poll = *poll;

  Result<Millis> drain = flags.GetDuration("drain-timeout", Millis(0));
  if (!drain.ok()) return Error{drain.error()};
  config.agent.drain_timeout = *drain;

  Result<LogFormat> format = ParseLogFormat(flags.Get("log-format"));
  if (!format.ok()) return Error{"--log-format: " + format.error()};
  config.logging.format = *format;
  Result<LogLevel> level = ParseLogLevel(flags.Get("log-level"));
  if (!level.ok()) return Error{"--log-level: " + level.error()};
  config.logging.level = *level;
  return config;
}

nlohmann::json StatusJson(const ProbeAgent::Status& status, const Clock& clock) {
  nlohmann::json body = {{"status", status.running ? "ok" : "stopping"},
                         {"registered", status.registered},
                         {"inFlight", status.in_flight},
                         {"pendingResults", status.pending_results},
                         {"lastOperatorContact", nullptr},
                         {"secondsSinceOperatorContact", nullptr},
                         {"lastError", status.last_error}};
  if (status.last_contact) {
    body["lastOperatorContact"] = FormatRfc3339(*status.last_contact);
    body["secondsSinceOperatorContact"] =
        std::chrono::duration<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          clock.Now() - *status.last_contact))
            .count();
  }
  return body;
}

Status AddRoutes(HttpServer& server, MetricsRegistry& metrics, ProbeAgent& agent,
                 const Clock& clock) {
  Status routed =
      server.Route("GET", "/metrics", [&metrics](const HttpRequest&, const HttpResponder& r) {
        r.Send(MetricsEndpointResponse(metrics));
      });
  if (!routed.ok()) return routed;
  // Liveness: the loops run. Losing the operator does not make the probe unhealthy (restarting
  // it would not bring the operator back); the body says when it last answered.
  routed =
      server.Route("GET", "/healthz", [&agent, &clock](const HttpRequest&, const HttpResponder& r) {
        const ProbeAgent::Status status = agent.status();
        r.Send(HttpResponse::Json(status.running ? 200 : 503, StatusJson(status, clock).dump()));
      });
  if (!routed.ok()) return routed;
  // Readiness: registered with the operator at least once, and not stopping.
  return server.Route("GET", "/readyz",
                      [&agent, &clock](const HttpRequest&, const HttpResponder& r) {
                        const ProbeAgent::Status status = agent.status();
                        const bool ready = status.running && status.registered;
                        nlohmann::json body = StatusJson(status, clock);
                        body["ready"] = ready;
                        r.Send(HttpResponse::Json(ready ? 200 : 503, body.dump()));
                      });
}

// `pharos-probe screenshot-server`: the sidecar.
int RunScreenshotServer(const std::vector<std::string>& args) {
  CommandLine flags;
  flags.AddFlag("listen", '\0', "HOST:PORT", "address of POST /capture and GET /healthz",
                "127.0.0.1:9555");
  flags.AddFlag("chromium", '\0', "FILE", "the headless browser", "/usr/bin/chromium");
  flags.AddFlag("timeout", '\0', "DURATION",
                "a capture taking longer is killed (the browser's whole process group)", "30s");
  flags.AddFlag("max-bytes", '\0', "N", "a larger PNG is refused", "4194304");
  flags.AddFlag("temp-dir", '\0', "DIR", "where each capture's browser profile is made",
                "$TMPDIR or /tmp");
  flags.AddFlag("log-format", '\0', "FORMAT", "text, json or auto (text on a terminal)", "auto");
  flags.AddFlag("log-level", '\0', "LEVEL", "trace, debug, info, warn, error", "info");
  AddTargetPolicyFlags(flags, /*runs_checks=*/false);
  flags.AddSwitch("help", 'h', "show this help");
  const auto usage_error = [](const std::string& message) {
    std::cerr << "pharos-probe screenshot-server: " << message
              << "\nRun pharos-probe screenshot-server --help for usage.\n";
    return 2;
  };
  if (Status parsed = flags.Parse(args); !parsed.ok()) return usage_error(parsed.error());
  if (flags.IsSet("help")) {
    std::cout << kScreenshotUsage << flags.FlagsHelp();
    return 0;
  }
  if (!flags.positional().empty()) {
    return usage_error("unexpected argument \"" + flags.positional().front() + "\"");
  }
  ChromiumCapturer::Options capture;
  capture.executable = flags.Get("chromium");
  if (flags.IsSet("temp-dir")) capture.temp_dir = flags.Get("temp-dir");
  Result<Millis> timeout = flags.GetDuration("timeout", Millis(1'000));
  if (!timeout.ok()) return usage_error(timeout.error());
  capture.timeout = *timeout;
  Result<int64_t> max_bytes = flags.GetInteger("max-bytes", 1024, int64_t{64} * 1024 * 1024);
  if (!max_bytes.ok()) return usage_error(max_bytes.error());
  capture.max_bytes = static_cast<size_t>(*max_bytes);
  Result<TargetPolicy> policy = TargetPolicyFromFlags(flags);
  if (!policy.ok()) return usage_error(policy.error());
  capture.policy = std::move(policy).value();
  const std::string listen = flags.Get("listen");
  if (auto address = HttpListenAddress::Parse(listen); !address.ok()) {
    return usage_error("--listen: " + address.error());
  }
  LoggingOptions logging;
  Result<LogFormat> format = ParseLogFormat(flags.Get("log-format"));
  if (!format.ok()) return usage_error("--log-format: " + format.error());
  logging.format = *format;
  Result<LogLevel> level = ParseLogLevel(flags.Get("log-level"));
  if (!level.ok()) return usage_error("--log-level: " + level.error());
  logging.level = *level;
  SetupLogging(logging);

  const ProcessSignals signals;  // before any thread starts
  ChromiumCapturer capturer(capture);
  ScreenshotServer shots(capturer);
  HttpServerOptions server_options = ProbeServerDefaults();
  server_options.max_connections = 16;
  HttpServer server(server_options);
  if (Status routed = shots.Register(server); !routed.ok()) {
    LogCritical("cannot set up the HTTP routes: " + routed.error());
    return 1;
  }
  shots.Start();
  if (Status started = server.Start(listen); !started.ok()) {
    LogCritical("cannot listen on " + listen + ": " + started.error() +
                " (choose another --listen address)");
    return 1;
  }
  LogInfo("screenshot sidecar serving POST /capture",
          {{"address", server.base_url()},
           {"chromium", capture.executable},
           {"timeout", FormatDuration(capture.timeout)}});
  ProcessSignals::Received received = signals.Wait();
  while (received.kind != ProcessSignals::Kind::kStop) received = signals.Wait();
  LogInfo(std::string("received ") + received.name + "; stopping");
  server.Stop();
  shots.Stop();
  return 0;
}

int Run(const std::vector<std::string>& args) {
  if (!args.empty() && args.front() == "screenshot-server") {
    return RunScreenshotServer(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  CommandLine flags;
  flags.AddFlag("operator", '\0', "URL",
                "the operator's probe API, e.g. http://pharos-operator.pharos:8080 (required)");
  flags.AddFlag("region", '\0', "NAME", "the region this probe checks from (required)");
  flags.AddFlag("token-file", '\0', "FILE",
                "file holding the probe token; re-read when it changes (required)");
  flags.AddFlag("name", '\0', "NAME", "this probe's name", "the host name");
  flags.AddFlag("concurrency", '\0', "N", "checks run at once (the probe's capacity)", "256");
  flags.AddFlag("listen", '\0', "HOST:PORT", "address of /metrics, /healthz and /readyz",
                "0.0.0.0:9091");
  flags.AddFlag("ca-file", '\0', "FILE", "PEM CA certificate(s) to verify an https operator");
  flags.AddSwitch("insecure-skip-verify", '\0',
                  "do not verify the operator's TLS certificate (testing only)");
  flags.AddFlag("target-ca-file", '\0', "FILE",
                "PEM CAs trusted for the monitored https targets (also $PHAROS_CA_FILE)",
                "the system store");
  flags.AddFlag("drain-timeout", '\0', "DURATION",
                "on SIGTERM, how long to finish and report the checks in flight", "30s");
  flags.AddFlag("max-pending-results", '\0', "N",
                "results kept while the operator is unreachable; the oldest are dropped beyond",
                "100000");
  flags.AddFlag("screenshot-server", '\0', "URL",
                "the pod's screenshot sidecar (http://127.0.0.1:9555): take the screenshots on "
                "downtime the operator asks of this region; default none");
  flags.AddFlag("screenshot-poll", '\0', "DURATION",
                "with --screenshot-server: how often to ask the operator for screenshot requests",
                "2s");
  flags.AddFlag("log-format", '\0', "FORMAT", "text, json or auto (text on a terminal)", "auto");
  flags.AddFlag("log-level", '\0', "LEVEL", "trace, debug, info, warn, error", "info");
  AddHttpServerFlags(flags, ProbeServerDefaults());
  EngineFlags::Add(flags);
  flags.AddSwitch("help", 'h', "show this help");
  flags.AddSwitch("version", '\0', "print the version");

  Status parsed = flags.Parse(args);
  if (!parsed.ok()) {
    std::cerr << "pharos-probe: " << parsed.error() << "\nRun pharos-probe --help for usage.\n";
    return 2;
  }
  if (flags.IsSet("help")) {
    std::cout << kUsage << flags.FlagsHelp();
    return 0;
  }
  if (flags.IsSet("version")) {
    std::cout << "pharos-probe " << kVersion << "\n";
    return 0;
  }
  Result<ProbeConfig> config = ReadConfig(flags);
  if (!config.ok()) {
    std::cerr << "pharos-probe: " << config.error() << "\nRun pharos-probe --help for usage.\n";
    return 2;
  }
  SetupLogging(config->logging);
  if (config->client.insecure_skip_verify && config->client.operator_url.rfind("https", 0) != 0) {
    LogWarn("--insecure-skip-verify has no effect: the operator URL is not https");
  }

  // Before any thread starts (see ProcessSignals).
  const ProcessSignals signals;
  curl_global_init(CURL_GLOBAL_DEFAULT);

  SystemClock clock;
  MetricsRegistry metrics;
  metrics.AddGauge("pharos_build_info", "Always 1; version is the Pharos version.", {"version"})
      .WithLabels({kVersion})
      .Set(1);
  OperatorClient client(config->client);
  ProbeAgent agent(config->agent, client, metrics, clock);
  HttpServer server(config->server);
  metrics.AddCollector([&server](MetricsWriter& writer) { server.CollectMetrics(writer); });
  Status routed = AddRoutes(server, metrics, agent, clock);
  if (!routed.ok()) {
    LogCritical("cannot set up the HTTP routes: " + routed.error());
    return 1;
  }
  Status started = server.Start(config->listen);
  if (!started.ok()) {
    LogCritical("cannot serve /metrics and /healthz on " + config->listen + ": " + started.error() +
                " (choose another --listen address)");
    return 1;
  }
  LogInfo("serving /metrics, /healthz and /readyz", {{"address", server.base_url()}});
  agent.Start();
  std::unique_ptr<SidecarCapturer> sidecar;
  std::unique_ptr<ScreenshotRelay> relay;
  if (!config->screenshot_server.empty()) {
    SidecarCapturer::Options sidecar_options;
    sidecar_options.base_url = config->screenshot_server;
    sidecar_options.policy = config->agent.engine.target_policy;
    sidecar = std::make_unique<SidecarCapturer>(sidecar_options);
    ScreenshotRelay::Options relay_options;
    relay_options.poll_interval = config->screenshot_poll;
    relay = std::make_unique<ScreenshotRelay>(client, *sidecar, relay_options);
    relay->Start();
    LogInfo("taking screenshots on downtime with the sidecar",
            {{"sidecar", config->screenshot_server}});
  }

  ProcessSignals::Received received = signals.Wait();
  while (received.kind != ProcessSignals::Kind::kStop) {
    if (received.kind == ProcessSignals::Kind::kReload) {
      LogInfo("SIGHUP: the probe has nothing to reload (the token file is read on every request)");
    }
    received = signals.Wait();
  }
  LogInfo(std::string("received ") + received.name + "; draining",
          {{"drain_timeout", FormatDuration(Millis(config->agent.drain_timeout))}});
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    pthread_setname_np(pthread_self(), "pharos-stop");
    agent.Stop();
    if (relay) relay->Stop();  // after the drain: a capture in progress never delays it
    stopped = true;
    signals.Wake();
  });
  while (!stopped) {
    received = signals.Wait();
    if (received.kind == ProcessSignals::Kind::kStop && !stopped) {
      LogWarn(std::string("received ") + received.name +
              " again; stopping without waiting for the checks in flight");
      agent.AbortDrain();
    }
  }
  stopper.join();
  server.Stop();
  curl_global_cleanup();
  return 0;
}

}  // namespace
}  // namespace pharos

int main(int argc, char** argv) {
  return pharos::Run(std::vector<std::string>(argv + 1, argv + argc));
}
