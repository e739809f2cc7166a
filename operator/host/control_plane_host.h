#pragma once

// ControlPlaneHost: the process around the control plane that `pharos run` and pharos-operator
// share. It opens the SQLite store, creates the OperatorCore on it, and serves the JSON API, the
// probe API, the push monitors' ping URLs, /healthz, /readyz and /metrics on one HTTP server; each
// edition adds its own parts around it (monitor files and the in-process probe; the Kubernetes
// controllers) and may add routes of its own (status pages, alerting API) before Start.
//
// Shutdown is two steps so that probes hand in what they hold: BeginShutdown answers parked
// long-polls and refuses new leases; the edition then stops its probes (their last results are
// ingested); Stop commits every result, saves states and stops the server.
// Thread-safety: Open/Start/BeginShutdown/Stop from the owner's thread; the parts it hands out
// are thread-safe.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/bad_token_guard.h"
#include "common/clock.h"
#include "common/counter_family.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "common/result.h"
#include "operator/analytics/clickhouse_analytics.h"
#include "operator/api/json_api.h"
#include "operator/api/probe_api.h"
#include "operator/api/probe_tokens.h"
#include "operator/api/push_api.h"
#include "operator/api/push_tokens.h"
#include "operator/control/operator_core.h"
#include "operator/control/result_store.h"

namespace pharos {

class ControlPlaneHost {
 public:
  struct Options {
    std::string db_path = "pharos.db";
    std::chrono::hours retention{720};  // raw results; rollups are kept at least as long
    OperatorCore::Options core;
    ProbeApi::Options probe_api;
    HttpServerOptions http;
    // Also copy every new result to ClickHouse (docs/analytics.md); nullopt = SQLite only.
    std::optional<ClickHouseAnalytics::Options> clickhouse;
  };

  // Opens the store and creates the core and the APIs; nothing listens yet. `clock` and
  // `tokens` (may be null: every external probe is refused) must outlive the host. Errors name
  // the database or what could not be created.
  static Result<std::unique_ptr<ControlPlaneHost>> Open(const Clock& clock, ProbeTokens* tokens,
                                                        Options options);
  ~ControlPlaneHost();  // Stop()
  ControlPlaneHost(const ControlPlaneHost&) = delete;
  ControlPlaneHost& operator=(const ControlPlaneHost&) = delete;

  OperatorCore& core() { return *core_; }
  HistoryReader& history() { return *store_; }
  MetricsRegistry& registry() { return registry_; }
  // The ping tokens of push monitors (/api/v1/push/{token}); the edition keeps them current.
  PushTokens& push_tokens() { return push_tokens_; }
  // Held back clients that send wrong bearer tokens, for every API this server answers.
  BadTokenGuard& bad_tokens() { return *bad_tokens_; }
  // pharos_status_writes_total, by result: "ok", "conflict" or "error" (anything else counts as
  // error). Exported by both editions (always 0 in `pharos run`) so that dashboards and alert
  // rules read the same series everywhere.
  void CountStatusWrite(std::string_view result);
  // Routes of the edition's own, before Start.
  Status Route(std::string_view method, std::string_view pattern, HttpHandler handler);
  // Before Start: the incidents list of the JSON API comes from `incidents` (JsonApi).
  void UseIncidentReader(IncidentReader& incidents) { json_api_->UseIncidentReader(incidents); }
  // Before Start: screenshot requests handed to probes, and their captures, go through `broker`
  // (ProbeApi::UseScreenshots); it must outlive the host.
  void UseScreenshots(ScreenshotBroker& broker) { probe_api_->UseScreenshots(&broker); }

  // Binds `listen` and starts the core. Errors name the address.
  Status Start(const std::string& listen);
  // "http://HOST:PORT" once started.
  std::string base_url() const { return server_.base_url(); }
  // Parked long-polls get an empty answer, new leases 503.
  void BeginShutdown();
  // Commits every result, saves states, sends (or spools) what ClickHouse has not taken yet,
  // stops the server. Idempotent.
  void Stop();

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  ControlPlaneHost(Key, HttpServerOptions http);

 private:
  MetricsRegistry registry_;
  CounterFamily& status_writes_;
  std::unique_ptr<ResultStore> sqlite_store_;
  std::unique_ptr<ClickHouseAnalytics> analytics_;  // null without ClickHouse
  std::unique_ptr<ResultStore> analytics_store_;    // SQLite copied to ClickHouse, or null
  ResultStore* store_ = nullptr;                    // what the core writes and the API reads
  std::unique_ptr<OperatorCore> core_;
  HttpServer server_;
  MetricsRegistry::CollectorId server_metrics_ = 0;  // pharos_http_connections*, once started
  std::unique_ptr<BadTokenGuard> bad_tokens_;
  std::unique_ptr<JsonApi> json_api_;
  std::unique_ptr<ProbeApi> probe_api_;
  PushTokens push_tokens_;
  std::unique_ptr<PushApi> push_api_;
  bool stopped_ = false;
};

}  // namespace pharos
