#include "cli/run_command.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <ostream>

#include "common/clock.h"
#include "common/command_line.h"
#include "common/duration.h"
#include "common/http_server.h"
#include "common/http_server_flags.h"
#include "common/logging.h"
#include "common/monitor_loader.h"
#include "common/name_syntax.h"
#include "common/process_signals.h"
#include "common/version.h"
#include "operator/alerting/alerting_api.h"
#include "operator/alerting/alerting_documents.h"
#include "operator/alerting/alerting_engine.h"
#include "operator/alerting/alerting_flags.h"
#include "operator/alerting/api_tokens.h"
#include "operator/alerting/curl_notification_transport.h"
#include "operator/alerting/delivery_dispatcher.h"
#include "operator/alerting/maintenance_schedule.h"
#include "operator/alerting/secret_resolver.h"
#include "operator/analytics/clickhouse_analytics.h"
#include "operator/api/probe_tokens.h"
#include "operator/api/push_tokens.h"
#include "operator/control/operator_metrics.h"
#include "operator/host/control_plane_host.h"
#include "operator/screenshots/downtime_screenshots.h"
#include "operator/screenshots/screenshot_directory.h"
#include "operator/standalone/in_process_probe.h"
#include "operator/standalone/local_push_token.h"
#include "operator/standalone/monitor_file_source.h"
#include "operator/storage/sqlite_alert_store.h"
#include "operator/storage/sqlite_push_token_store.h"
#include "operator/web/status_page_directory.h"
#include "operator/web/status_page_parser.h"
#include "operator/web/web_frontend.h"
#include "probe/browser/chromium_capturer.h"
#include "probe/check_engine.h"
#include "probe/engine_flags.h"

namespace pharos {
namespace {

constexpr int kExitClean = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

constexpr const char* kHelp =
    "Usage: pharos run [FLAGS] [PATH...]\n\n"
    "Runs Pharos without Kubernetes: schedules the Monitors in PATH (YAML or JSON files,\n"
    "directories recursively), checks them from an in-process probe (region \"local\"), keeps\n"
    "results, states and incidents in a SQLite file, and serves the status pages (/status), the\n"
    "dashboard (/ui/), badges, the JSON API, /metrics and the probe API. The same files may hold\n"
    "AlertChannel and MaintenanceWindow documents (incidents are told to the channels through a\n"
    "durable outbox, docs/alerting.md) and StatusPage documents (docs/status-pages.md; without\n"
    "any, /status shows every monitor). Files are reloaded when they change or on SIGHUP; an\n"
    "invalid edit is logged and the last good set keeps running. Ctrl-C or SIGTERM stops\n"
    "cleanly. Without PATH it runs ./monitors.yaml, or else the directory\n"
    "/etc/pharos/monitors.d/, and says which.\n\n"
    "Flags:\n";

const Logger& Log() {
  static const Logger logger("run");
  return logger;
}

// The documents besides Monitors that `pharos run` reads from its files.
std::vector<MonitorFileSource::OtherKind> RunOtherKinds() {
  return {{"AlertChannel", AlertingDocuments::CheckChannel},
          {"MaintenanceWindow", AlertingDocuments::CheckWindow},
          {std::string(kStatusPageKind), [](const DocumentNode& document) {
             return ParseStatusPage(document, StatusPageSource::kFile).errors;
           }}};
}

OtherKinds RunOtherKindNames(const std::vector<MonitorFileSource::OtherKind>& kinds) {
  OtherKinds names;
  for (const MonitorFileSource::OtherKind& kind : kinds) names.push_back(kind.kind);
  return names;
}

// Each StatusPage document's own errors (the alerting documents are checked together by
// AlertingDocuments::Parse).
std::vector<ValidationError> StatusPageErrorsOf(const std::vector<OtherDocument>& others) {
  std::vector<ValidationError> errors;
  for (const OtherDocument& other : others) {
    if (other.kind != kStatusPageKind) continue;
    for (ValidationError& error :
         ParseStatusPage(*other.document, StatusPageSource::kFile).errors) {
      errors.push_back(std::move(error));
    }
  }
  return errors;
}

// The StatusPages of a loaded set; two pages with one slug are logged (the one whose
// namespace/name sorts first serves it).
std::vector<StatusPage> StatusPagesOf(const std::vector<OtherDocument>& others) {
  std::vector<StatusPage> pages;
  for (const OtherDocument& other : others) {
    if (other.kind == kStatusPageKind) {
      pages.push_back(ParseStatusPage(*other.document, StatusPageSource::kFile).page);
    }
  }
  for (const ValidationError& error : CheckStatusPageSet(pages)) {
    Log().Error("status page not served", {{"error", error.ToString()}});
  }
  return pages;
}

}  // namespace

int RunCommand::Run(const std::vector<std::string>& args) {
  // Before any thread exists (see ProcessSignals).
  const ProcessSignals signals;

  CommandLine flags;
  flags.AddFlag("listen", '\0', "HOST:PORT", "address of the HTTP server", "127.0.0.1:8080");
  flags.AddFlag("db", '\0', "FILE", "SQLite database (created if missing)", "pharos.db");
  ClickHouseAnalytics::AddFlags(flags);
  flags.AddFlag("probe-token-file", '\0', "FILE",
                "tokens of external probes (TOKEN or REGION=TOKEN per line); without it only the "
                "in-process probe runs");
  flags.AddFlag("region-name", '\0', "NAME", "region of the in-process probe", "local");
  flags.AddFlag("log-format", '\0', "FORMAT", "text, json or auto (text on a terminal)", "auto");
  flags.AddFlag("log-level", '\0', "LEVEL", "trace debug info warn error", "info");
  flags.AddFlag("retention", '\0', "DURATION", "how long raw results are kept", "720h");
  flags.AddFlag("concurrency", 'c', "N", "checks the in-process probe runs at once", "256");
  OperatorMetrics::AddDurationPhasesFlag(flags);
  flags.AddFlag("api-token-file", '\0', "FILE",
                "bearer tokens (TOKEN or NAME=TOKEN per line) that may acknowledge incidents and "
                "add notes through the API; without it those writes answer 403");
  AddAlertingFlags(flags);
  flags.AddFlag("ca-file", '\0', "FILE",
                "PEM CAs trusted for targets (also $PHAROS_CA_FILE); default the system store");
  flags.AddFlag("screenshot-dir", '\0', "DIR",
                "where screenshots on downtime (alerting.screenshot) are kept; default "
                "<--db>.screenshots");
  flags.AddFlag("screenshot-timeout", '\0', "DURATION",
                "a screenshot taking longer is abandoned and recorded as failed", "30s");
  flags.AddFlag("screenshot-retention", '\0', "N",
                "screenshots kept (the oldest are deleted; also at most 512 MiB and 30 days)",
                "500");
  flags.AddFlag("chromium", '\0', "FILE", "the headless browser for screenshots",
                "/usr/bin/chromium");
  AddHttpServerFlags(flags);
  EngineFlags::Add(flags);
  flags.AddSwitch("help", 'h', "show this help");
  if (Status parsed = flags.Parse(args); !parsed) {
    err_ << "pharos run: " << parsed.error() << "\n";
    return kExitBadInput;
  }
  if (flags.IsSet("help")) {
    out_ << kHelp << flags.FlagsHelp();
    return kExitClean;
  }

  LoggingOptions logging;
  Result<LogFormat> format = ParseLogFormat(flags.Get("log-format"));
  Result<LogLevel> level = ParseLogLevel(flags.Get("log-level"));
  if (!format || !level) {
    err_ << "pharos run: "
         << (!format ? "--log-format: " + format.error() : "--log-level: " + level.error()) << "\n";
    return kExitBadInput;
  }
  logging.format = *format;
  logging.level = *level;
  SetupLogging(logging);

  const std::string region = flags.Get("region-name");
  if (!IsDns1123Label(region)) {
    err_ << "pharos run: --region-name must be a DNS-1123 label (a-z, 0-9, '-'), not \"" << region
         << "\"\n";
    return kExitBadInput;
  }
  Result<Millis> retention = flags.GetDuration("retention", std::chrono::hours(1));
  if (!retention) {
    err_ << "pharos run: " << retention.error() << "\n";
    return kExitBadInput;
  }
  Result<Millis> screenshot_timeout = flags.GetDuration("screenshot-timeout", Millis(1'000));
  Result<int64_t> screenshot_retention = flags.GetInteger("screenshot-retention", 1, 1'000'000);
  if (!screenshot_timeout || !screenshot_retention) {
    err_ << "pharos run: "
         << (!screenshot_timeout ? screenshot_timeout.error() : screenshot_retention.error())
         << "\n";
    return kExitBadInput;
  }
  CheckEngine::Options engine_options;
  Result<int64_t> concurrency = flags.GetInteger("concurrency", 1, 100'000);
  if (!concurrency) {
    err_ << "pharos run: " << concurrency.error() << "\n";
    return kExitBadInput;
  }
  engine_options.max_concurrency = static_cast<size_t>(*concurrency);
  Result<OperatorMetrics::DurationPhases> duration_phases =
      OperatorMetrics::ParseDurationPhases(flags.Get("duration-phases"));
  if (!duration_phases) {
    err_ << "pharos run: --duration-phases " << duration_phases.error() << "\n";
    return kExitBadInput;
  }
  Result<HttpServerOptions> server_options = HttpServerOptionsFromFlags(flags);
  if (!server_options) {
    err_ << "pharos run: " << server_options.error() << "\n";
    return kExitBadInput;
  }
  Result<std::optional<ClickHouseAnalytics::Options>> clickhouse =
      ClickHouseAnalytics::OptionsFromFlags(flags, flags.Get("db"));
  if (!clickhouse) {
    err_ << "pharos run: " << clickhouse.error() << "\n";
    return kExitBadInput;
  }
  if (flags.IsSet("ca-file")) {
    engine_options.ca_file = flags.Get("ca-file");
  } else if (const char* ca_file = std::getenv("PHAROS_CA_FILE"); ca_file != nullptr) {
    engine_options.ca_file = ca_file;
  }
  if (Status engine = EngineFlags::Read(flags, &engine_options); !engine.ok()) {
    err_ << "pharos run: " << engine.error() << "\n";
    return kExitBadInput;
  }
  std::vector<std::string> paths = flags.positional();
  if (paths.empty()) {
    const auto found =
        std::find_if(default_paths_.begin(), default_paths_.end(), [](const std::string& path) {
          std::error_code ignored;
          return std::filesystem::exists(path, ignored);
        });
    if (found == default_paths_.end()) {
      err_ << "pharos run: no PATH given and none of";
      for (const std::string& path : default_paths_) {
        err_ << " " << path;
      }
      err_ << " exists: name the Monitor files or directories to run (see --help)\n";
      return kExitBadInput;
    }
    paths = {*found};
    out_ << "pharos run: no PATH given: running the Monitors in " << *found << "\n";
  }
  Result<AlertingTimings> alerting_timings = AlertingTimingsFromFlags(flags, {});
  if (!alerting_timings) {
    err_ << "pharos run: " << alerting_timings.error() << "\n";
    return kExitBadInput;
  }
  DeliveryDispatcher::Options delivery_options = alerting_timings->delivery;
  delivery_options.user_agent = std::string("pharos/") + kVersion;
  const AlertingEngine::Options engine_alert_options = alerting_timings->engine;
  std::unique_ptr<ApiTokens> api_tokens;
  if (flags.IsSet("api-token-file")) {
    Result<ApiTokens> loaded_tokens = ApiTokens::Load(flags.Get("api-token-file"));
    if (!loaded_tokens) {
      err_ << "pharos run: --api-token-file: " << loaded_tokens.error() << "\n";
      return kExitBadInput;
    }
    api_tokens = std::make_unique<ApiTokens>(*loaded_tokens);
  }

  // Validated before anything is created (the database included); loaded for real below.
  const std::vector<MonitorFileSource::OtherKind> other_kinds = RunOtherKinds();
  {
    LoadedMonitors checked = LoadMonitorFiles(paths, RunOtherKindNames(other_kinds));
    AlertingDocuments alerting = AlertingDocuments::Parse(checked.others);
    for (ValidationError& error : alerting.errors) checked.errors.push_back(std::move(error));
    for (ValidationError& error : StatusPageErrorsOf(checked.others)) {
      checked.errors.push_back(std::move(error));
    }
    if (!checked.errors.empty()) {
      for (const ValidationError& error : checked.errors) {
        err_ << error.ToString() << "\n";
      }
      err_ << "pharos run: invalid Monitor files; nothing was started\n";
      return kExitBadInput;
    }
  }

  std::unique_ptr<ProbeTokens> tokens;
  if (flags.IsSet("probe-token-file")) {
    Result<std::unique_ptr<ProbeTokens>> loaded = ProbeTokens::Load(flags.Get("probe-token-file"));
    if (!loaded) {
      err_ << "pharos run: " << loaded.error() << "\n";
      return kExitBadInput;
    }
    tokens = std::move(loaded).value();
  } else {
    Log().Info(
        "no --probe-token-file: only the in-process probe runs checks; the probe API "
        "answers 401 to every external probe");
  }

  SystemClock clock;
  ControlPlaneHost::Options host_options;
  host_options.db_path = flags.Get("db");
  host_options.retention = std::chrono::duration_cast<std::chrono::hours>(*retention);
  host_options.core.default_regions = {region};
  host_options.core.metrics.version = kVersion;
  host_options.core.metrics.duration_phases = *duration_phases;
  host_options.http = *server_options;
  host_options.clickhouse = std::move(*clickhouse);
  // External probes get the same policy with their work (docs/security.md).
  host_options.probe_api.target_deny = flags.GetAll("deny-cidr");
  host_options.probe_api.target_allow = flags.GetAll("allow-cidr");
  Result<std::unique_ptr<ControlPlaneHost>> opened =
      ControlPlaneHost::Open(clock, tokens.get(), std::move(host_options));
  if (!opened) {
    err_ << "pharos run: " << opened.error() << "\n";
    return kExitFailed;
  }
  ControlPlaneHost& host = **opened;
  OperatorCore& core = host.core();

  // Alerting: incidents and the outbox in the same SQLite file, after the result store's tables.
  SqliteAlertStore::Options alert_store_options;
  alert_store_options.path = flags.Get("db");
  Result<std::unique_ptr<SqliteAlertStore>> alert_store =
      SqliteAlertStore::Open(std::move(alert_store_options));
  if (!alert_store) {
    err_ << "pharos run: " << alert_store.error() << "\n";
    return kExitFailed;
  }
  // Ping tokens of push monitors, generated once per monitor and kept in the same file.
  Result<std::unique_ptr<SqlitePushTokenStore>> push_token_store =
      SqlitePushTokenStore::Open(flags.Get("db"));
  if (!push_token_store) {
    err_ << "pharos run: " << push_token_store.error() << "\n";
    return kExitFailed;
  }
  PushTokens& push_tokens = host.push_tokens();

  MaintenanceSchedule maintenance([&core] {
    std::vector<std::shared_ptr<const Monitor>> monitors;
    for (const MonitorStatus& status : core.SnapshotAll()) monitors.push_back(status.monitor);
    return monitors;
  });
  CurlNotificationTransport transport;
  LocalSecretResolver secrets;
  AlertingEngine* engine_ptr = nullptr;
  DeliveryDispatcher dispatcher(
      **alert_store, transport, secrets,
      [&engine_ptr](const std::string& key) { return engine_ptr->Channel(key); }, clock,
      delivery_options);
  AlertingEngine engine(**alert_store, **alert_store, dispatcher, core, &maintenance,
                        host.registry(), clock, engine_alert_options);
  engine_ptr = &engine;
  core.SetMaintenanceCalendar(&maintenance);
  core.OnStateChange([&engine](const Monitor& monitor, const StateEvent& event) {
    engine.OnStateChange(monitor, event);
  });
  AlertingApi alerting_api(**alert_store, **alert_store, engine, api_tokens.get(),
                           host.bad_tokens());
  if (Status routed = alerting_api.Register(
          [&host](std::string_view method, std::string_view pattern, HttpHandler handler) {
            return host.Route(method, pattern, std::move(handler));
          });
      !routed) {
    err_ << "pharos run: " << routed.error() << "\n";
    return kExitFailed;
  }

  // Screenshots on downtime: captured after the engine has opened or resolved the incident
  // (observers run in order), attached to it in the alert store.
  ScreenshotDirectory::Options screenshot_options;
  screenshot_options.path = flags.IsSet("screenshot-dir") ? flags.Get("screenshot-dir")
                                                          : flags.Get("db") + ".screenshots";
  screenshot_options.max_files = static_cast<size_t>(*screenshot_retention);
  ScreenshotDirectory screenshot_files(screenshot_options);
  ChromiumCapturer::Options capture_options;
  capture_options.executable = flags.Get("chromium");
  capture_options.timeout = *screenshot_timeout;
  // The browser obeys the checks' target policy (--deny-cidr/--allow-cidr and the defaults).
  capture_options.policy = engine_options.target_policy;
  ChromiumCapturer capturer(capture_options);
  DowntimeScreenshots screenshots(capturer, screenshot_files, **alert_store, clock, {});
  core.OnStateChange([&screenshots](const Monitor& monitor, const StateEvent& event) {
    screenshots.OnStateChange(monitor, event);
  });
  screenshots.Start();

  // Status pages and the dashboard read incidents and maintenance windows from the alerting room.
  StatusPageDirectory pages(/*default_page=*/true);
  WebFrontend::Options web_options;
  web_options.edition = std::string("pharos run ") + kVersion;
  WebFrontend web(WebFrontend::Sources{core, host.history(), **alert_store, maintenance, nullptr,
                                       &screenshot_files},
                  pages, clock, web_options);
  if (Status routed = web.Register(
          [&host](std::string_view method, std::string_view pattern, HttpHandler handler) {
            return host.Route(method, pattern, std::move(handler));
          });
      !routed) {
    err_ << "pharos run: " << routed.error() << "\n";
    return kExitFailed;
  }

  MonitorFileSource::Options source_options;
  source_options.other_kinds = other_kinds;
  MonitorFileSource source(
      paths,
      [&core, &engine, &maintenance, &pages, &push_tokens, &push_token_store](
          const std::vector<Monitor>& monitors, const std::vector<OtherDocument>& others) {
        std::map<std::string, std::string> tokens;
        for (const Monitor& monitor : monitors) {
          if (monitor.type != MonitorType::kPush || !monitor.push) continue;
          Result<std::string> token = monitor.push->token_from
                                          ? ReadLocalPushToken(monitor, *monitor.push->token_from)
                                          : (*push_token_store)->TokenFor(monitor.uid, [] {
                                              return PushTokens::Generate();
                                            });
          if (!token) {
            Log().Error(
                "a push monitor has no ping token: its pings are answered 404 until the "
                "error is fixed (then reload with SIGHUP)",
                {{"monitor", monitor.Key()}, {"error", token.error()}});
            continue;
          }
          tokens.emplace(monitor.uid, std::move(token).value());
        }
        push_tokens.ReplaceAll(tokens);
        AlertingDocuments alerting = AlertingDocuments::Parse(others);
        for (const ValidationError& warning : MissingChannelWarnings(monitors, alerting.channels)) {
          Log().Warn("a monitor names an AlertChannel that does not exist",
                     {{"where", warning.ToString()}});
        }
        const size_t channel_count = alerting.channels.size();
        const size_t window_count = alerting.windows.size();
        engine.SetChannels(std::move(alerting.channels));
        maintenance.Replace(std::move(alerting.windows));
        pages.ReplaceAll(StatusPagesOf(others));
        OperatorCore::ReplaceReport report = core.ReplaceAll(monitors);
        for (const std::string& error : report.errors) {
          Log().Error("monitor not applied", {{"error", error}});
        }
        Log().Info("monitor set applied", {{"monitors", monitors.size()},
                                           {"added", report.added.size()},
                                           {"changed", report.changed.size()},
                                           {"removed", report.removed.size()},
                                           {"alert_channels", channel_count},
                                           {"maintenance_windows", window_count}});
      },
      source_options);
  Result<size_t> loaded = source.Reload();
  if (!loaded) {
    err_ << loaded.error() << "pharos run: invalid Monitor files; nothing was started\n";
    return kExitBadInput;
  }
  if (*loaded == 0) {
    Log().Warn("no monitors in the given paths; add some and they are picked up",
               {{"paths", paths.size()}});
  }
  core.MarkMonitorsLoaded();
  engine.Start();

  if (Status started = host.Start(flags.Get("listen")); !started) {
    err_ << "pharos run: " << started.error() << " (--listen)\n";
    return kExitFailed;
  }
  CheckEngine checker(engine_options);
  InProcessProbe::Options local_options;
  local_options.region = region;
  local_options.capacity = engine_options.max_concurrency;
  InProcessProbe local(core, core, core, clock, host.registry(),
                       InProcessProbe::EngineChecker(checker), local_options);
  local.Start();
  source.Start();

  const std::string base = host.base_url();
  Log().Info("pharos is running", {{"version", kVersion},
                                   {"monitors", *loaded},
                                   {"status", base + "/status"},
                                   {"dashboard", base + "/ui/"},
                                   {"api", base + "/api/v1/monitors"},
                                   {"metrics", base + "/metrics"},
                                   {"database", flags.Get("db")},
                                   {"region", region}});
  out_ << "pharos " << kVersion << " running " << *loaded << " monitor(s) from region \"" << region
       << "\"\n"
       << "  status:    " << base << "/status\n"
       << "  dashboard: " << base << "/ui/\n"
       << "  monitors:  " << base << "/api/v1/monitors\n"
       << "  metrics:   " << base << "/metrics\n"
       << "  probes:    " << base << "/api/v1/work/lease"
       << (tokens ? "" : " (disabled: no --probe-token-file)") << "\n"
       << "  database:  " << flags.Get("db") << "\n"
       << "Press Ctrl-C to stop.\n";
  out_.flush();

  while (true) {
    const ProcessSignals::Received signal = signals.Wait();
    if (signal.kind == ProcessSignals::Kind::kReload) {
      Log().Info("SIGHUP: reloading the monitor files and the probe tokens");
      (void)source.Reload();
      if (tokens) {
        (void)tokens->Reload();
      }
      if (api_tokens) {
        if (Status reloaded = api_tokens->Reload(); !reloaded) {
          Log().Error("reloading the API tokens failed; the previous tokens stay in use",
                      {{"error", reloaded.error()}});
        }
      }
      continue;
    }
    if (signal.kind == ProcessSignals::Kind::kStop) {
      Log().Info("shutting down: no new work is leased, in-flight checks finish",
                 {{"signal", signal.name}});
      break;
    }
  }

  source.Stop();
  host.BeginShutdown();
  local.Stop();
  host.Stop();
  engine.Stop();
  screenshots.Stop();
  Log().Info("stopped cleanly; every acknowledged result is in the database",
             {{"database", flags.Get("db")}});
  return kExitClean;
}

}  // namespace pharos
