#pragma once

// JsonApi: the read-only HTTP API of the operator (docs/api.md) and its health endpoints:
//   GET /api/v1/monitors                                  every monitor with its status
//   GET /api/v1/monitors/{namespace}/{name}               one monitor
//   GET /api/v1/monitors/{namespace}/{name}/results       raw results (?since=RFC3339&limit=N
//                                                         &region=R), newest first
//   GET /api/v1/incidents                                 incidents (?open=true&limit=N), from
//                                                         the edition's incident store when it
//                                                         set one (UseIncidentReader)
//   GET /healthz                                          the process is alive
//   GET /readyz                                           store open and monitors loaded
//   GET /metrics                                          Prometheus text format
// A push monitor's object also has "push": {"token", "pingUrl"} once it has a token.
// Bad query parameters → 400 naming the parameter; an unknown monitor → 404.
// Handlers can be called directly (tests) with a Reply function.
// Thread-safety: handlers may run concurrently on any thread.

#include <functional>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "common/result.h"
#include "operator/api/push_tokens.h"
#include "operator/control/incident_reader.h"
#include "operator/control/monitor_status.h"
#include "operator/control/result_store.h"
#include "operator/control/status_reader.h"

namespace pharos {

class JsonApi {
 public:
  using Reply = std::function<void(HttpResponse)>;

  // Every argument must outlive the API; `push_tokens` may be null (no push tokens shown).
  JsonApi(StatusReader& status, HistoryReader& history, MetricsRegistry& registry,
          const Clock& clock, const PushTokens* push_tokens = nullptr)
      : status_(status),
        history_(history),
        registry_(registry),
        clock_(clock),
        push_tokens_(push_tokens) {}

  // Adds every route above.
  Status Register(HttpServer& server);
  // Before the server starts: the incidents list is read from `incidents` (it must outlive the
  // API) instead of the history's rows. The operator passes its Incident resources, which every
  // replica reads alike, so a new leader lists what the old one opened.
  void UseIncidentReader(IncidentReader& incidents) { incidents_ = &incidents; }

  void HandleMonitors(const HttpRequest& request, const Reply& reply);
  void HandleMonitor(const HttpRequest& request, const Reply& reply);
  void HandleResults(const HttpRequest& request, const Reply& reply);
  void HandleIncidents(const HttpRequest& request, const Reply& reply);
  void HandleHealth(const HttpRequest& request, const Reply& reply);
  void HandleReady(const HttpRequest& request, const Reply& reply);
  void HandleMetrics(const HttpRequest& request, const Reply& reply);

  // The JSON form of a monitor's status (see docs/api.md).
  static nlohmann::ordered_json MonitorStatusToJson(const MonitorStatus& status);

 private:
  // MonitorStatusToJson plus the push monitor's token.
  nlohmann::ordered_json MonitorJson(const MonitorStatus& status) const;

  StatusReader& status_;
  HistoryReader& history_;
  MetricsRegistry& registry_;
  const Clock& clock_;
  const PushTokens* push_tokens_;
  IncidentReader* incidents_ = nullptr;
};

}  // namespace pharos
