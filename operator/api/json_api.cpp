#include "operator/api/json_api.h"

#include <charconv>
#include <cmath>
#include <utility>

#include "common/check_result_json.h"
#include "common/metrics_endpoint.h"
#include "common/name_syntax.h"
#include "common/rfc3339.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
// Objects keep the documented field order (docs/api.md).
using OrderedJson = nlohmann::ordered_json;

constexpr int kDefaultLimit = 100;
constexpr int kMaxLimit = 1000;

OrderedJson TimeOrNull(const std::optional<TimePoint>& time) {
  return time ? OrderedJson(FormatRfc3339(*time)) : OrderedJson(nullptr);
}

// Percent with three decimals: stable output, no float noise.
OrderedJson Rounded(std::optional<double> value) {
  return value ? OrderedJson(std::round(*value * 1000.0) / 1000.0) : OrderedJson(nullptr);
}

OrderedJson Milliseconds(std::optional<int64_t> micros) {
  return micros ? OrderedJson(static_cast<double>(*micros) / 1000.0) : OrderedJson(nullptr);
}

// ?limit=N: 1..kMaxLimit, default kDefaultLimit.
Result<int> LimitParameter(const HttpRequest& request) {
  auto it = request.query.find("limit");
  if (it == request.query.end()) {
    return kDefaultLimit;
  }
  int limit = 0;
  const std::string& text = it->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (error != std::errc() || end != text.data() + text.size() || limit < 1 || limit > kMaxLimit) {
    return Error{"limit: expected a whole number from 1 to " + std::to_string(kMaxLimit) +
                 ", got \"" + text + "\""};
  }
  return limit;
}

HttpResponse NotFound(const HttpRequest& request) {
  return HttpResponse::Error(404, "no monitor " + request.path_params.at("namespace") + "/" +
                                      request.path_params.at("name"));
}

}  // namespace

Status JsonApi::Register(HttpServer& server) {
  const std::pair<const char*, void (JsonApi::*)(const HttpRequest&, const Reply&)> routes[] = {
      {"/api/v1/monitors", &JsonApi::HandleMonitors},
      {"/api/v1/monitors/{namespace}/{name}", &JsonApi::HandleMonitor},
      {"/api/v1/monitors/{namespace}/{name}/results", &JsonApi::HandleResults},
      {"/api/v1/incidents", &JsonApi::HandleIncidents},
      {"/healthz", &JsonApi::HandleHealth},
      {"/readyz", &JsonApi::HandleReady},
      {"/metrics", &JsonApi::HandleMetrics}};
  for (const auto& route : routes) {
    const auto handler = route.second;
    Status added = server.Route(
        "GET", route.first, [this, handler](const HttpRequest& request, HttpResponder out) {
          (this->*handler)(request,
                           [&out](HttpResponse response) { out.Send(std::move(response)); });
        });
    if (!added) {
      return added;
    }
  }
  return OkStatus();
}

OrderedJson JsonApi::MonitorStatusToJson(const MonitorStatus& status) {
  const Monitor& monitor = *status.monitor;
  OrderedJson regions = OrderedJson::array();
  for (const RegionStatus& region : status.regions) {
    regions.push_back({{"name", region.name},
                       {"state", ToString(region.state)},
                       {"lastCheckTime", TimeOrNull(region.last_check_time)},
                       {"latencyMs", region.last_check_time ? Milliseconds(region.latency_us)
                                                            : OrderedJson(nullptr)},
                       {"statusCode", region.status_code},
                       {"message", region.message}});
  }
  OrderedJson incident = nullptr;
  if (status.incident) {
    incident = {{"id", status.incident->id}, {"since", FormatRfc3339(status.incident->since)}};
  }
  return {{"namespace", monitor.namespace_name},
          {"name", monitor.name},
          {"uid", monitor.uid},
          {"generation", monitor.generation},
          {"type", ToString(monitor.type)},
          {"target", monitor.Target()},
          {"state", ToString(status.state)},
          {"reason", status.reason},
          {"lastCheckTime", TimeOrNull(status.last_check_time)},
          {"lastTransitionTime", FormatRfc3339(status.last_transition_time)},
          {"uptime",
           {{"last24h", Rounded(status.uptime_24h)},
            {"last7d", Rounded(status.uptime_7d)},
            {"last30d", Rounded(status.uptime_30d)}}},
          {"latency",
           {{"p50Ms", Milliseconds(status.latency_p50_us)},
            {"p95Ms", Milliseconds(status.latency_p95_us)}}},
          {"regions", std::move(regions)},
          {"incident", std::move(incident)}};
}

OrderedJson JsonApi::MonitorJson(const MonitorStatus& status) const {
  OrderedJson json = MonitorStatusToJson(status);
  // A token read from a Secret, an environment variable or a file (spec.push.tokenFrom) is a
  // secret its owner keeps elsewhere: only a generated token is shown (as Monitor.status does).
  // Whether it has been read yet is shown instead, so its owner can tell pings will count.
  const bool token_kept_elsewhere = status.monitor->push && status.monitor->push->token_from;
  if (push_tokens_ != nullptr && status.monitor->type == MonitorType::kPush) {
    std::optional<std::string> token = push_tokens_->TokenOf(status.monitor->uid);
    if (token_kept_elsewhere) {
      json["push"] = {{"tokenLoaded", token.has_value()}};
    } else if (token) {
      json["push"] = {{"token", *token}, {"pingUrl", "/api/v1/push/" + *token}};
    }
  }
  return json;
}

void JsonApi::HandleMonitors(const HttpRequest&, const Reply& reply) {
  OrderedJson monitors = OrderedJson::array();
  for (const MonitorStatus& status : status_.SnapshotAll()) {
    monitors.push_back(MonitorJson(status));
  }
  reply(HttpResponse::Json(200, OrderedJson{{"monitors", std::move(monitors)}}.dump()));
}

void JsonApi::HandleMonitor(const HttpRequest& request, const Reply& reply) {
  std::optional<MonitorStatus> status =
      status_.SnapshotByKey(request.path_params.at("namespace"), request.path_params.at("name"));
  if (!status) {
    return reply(NotFound(request));
  }
  reply(HttpResponse::Json(200, MonitorJson(*status).dump()));
}

void JsonApi::HandleResults(const HttpRequest& request, const Reply& reply) {
  ResultQuery query;
  query.newest_first = true;
  query.since = clock_.Now() - std::chrono::hours(24);
  if (auto since = request.query.find("since"); since != request.query.end()) {
    Result<TimePoint> parsed = ParseRfc3339Saturating(since->second);
    if (!parsed) {
      return reply(HttpResponse::Error(400, "since: " + parsed.error()));
    }
    query.since = *parsed;
  }
  Result<int> limit = LimitParameter(request);
  if (!limit) {
    return reply(HttpResponse::Error(400, limit.error()));
  }
  query.limit = *limit;
  if (auto region = request.query.find("region"); region != request.query.end()) {
    if (!IsDns1123Label(region->second)) {
      return reply(HttpResponse::Error(
          400,
          "region: expected a region name (a DNS-1123 label), got \"" + region->second + "\""));
    }
    query.region = region->second;
  }
  std::optional<MonitorStatus> status =
      status_.SnapshotByKey(request.path_params.at("namespace"), request.path_params.at("name"));
  if (!status) {
    return reply(NotFound(request));
  }
  query.monitor_uid = status->monitor->uid;
  Result<std::vector<CheckResult>> results = history_.Results(query);
  if (!results) {
    return reply(HttpResponse::Error(500, "reading results failed: " + results.error()));
  }
  Json list = Json::array();
  for (const CheckResult& result : *results) {
    list.push_back(CheckResultToJson(result));
  }
  reply(HttpResponse::Json(200, Json{{"results", std::move(list)}}.dump()));
}

void JsonApi::HandleIncidents(const HttpRequest& request, const Reply& reply) {
  IncidentQuery query;
  if (auto open = request.query.find("open"); open != request.query.end()) {
    if (open->second != "true" && open->second != "false") {
      return reply(
          HttpResponse::Error(400, "open: expected true or false, got \"" + open->second + "\""));
    }
    query.include_resolved = open->second == "false";
  }
  Result<int> limit = LimitParameter(request);
  if (!limit) {
    return reply(HttpResponse::Error(400, limit.error()));
  }
  query.limit = *limit;
  std::vector<Incident> incidents;
  if (incidents_ != nullptr) {
    Result<std::vector<IncidentRecord>> records = incidents_->ListIncidents(query);
    if (!records) {
      return reply(HttpResponse::Error(500, "reading incidents failed: " + records.error()));
    }
    for (IncidentRecord& record : *records) incidents.push_back(std::move(record.incident));
  } else {
    Result<std::vector<Incident>> rows = history_.Incidents(query);
    if (!rows) {
      return reply(HttpResponse::Error(500, "reading incidents failed: " + rows.error()));
    }
    incidents = std::move(rows).value();
  }
  OrderedJson list = OrderedJson::array();
  for (const Incident& incident : incidents) {
    const auto slash = incident.monitor_key.find('/');
    list.push_back(
        {{"id", incident.id},
         {"namespace", incident.monitor_key.substr(0, slash)},
         {"name", slash == std::string::npos ? "" : incident.monitor_key.substr(slash + 1)},
         {"monitorUid", incident.monitor_uid},
         {"open", !incident.resolved_at.has_value()},
         {"openedAt", FormatRfc3339(incident.opened_at)},
         {"resolvedAt", TimeOrNull(incident.resolved_at)},
         {"failingRegions", incident.failing_regions},
         {"firstError", incident.first_error}});
  }
  reply(HttpResponse::Json(200, OrderedJson{{"incidents", std::move(list)}}.dump()));
}

void JsonApi::HandleHealth(const HttpRequest&, const Reply& reply) {
  reply(HttpResponse::Json(200, R"({"status":"ok"})"));
}

void JsonApi::HandleReady(const HttpRequest&, const Reply& reply) {
  std::string why;
  if (status_.Ready(&why)) {
    return reply(HttpResponse::Json(200, R"({"status":"ready"})"));
  }
  reply(HttpResponse::Json(503, Json{{"status", "not ready"}, {"reason", why}}.dump()));
}

void JsonApi::HandleMetrics(const HttpRequest&, const Reply& reply) {
  reply(MetricsEndpointResponse(registry_));
}

}  // namespace pharos
