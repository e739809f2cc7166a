#include "operator/alerting/alerting_api.h"

#include "common/rfc3339.h"

namespace pharos {
namespace {

using OrderedJson = nlohmann::ordered_json;
using Json = nlohmann::json;

OrderedJson TimeOrNull(const std::optional<TimePoint>& time) {
  return time ? OrderedJson(FormatRfc3339(*time)) : OrderedJson(nullptr);
}

// The JSON body of a write; an empty body is {}. nullopt after replying 400.
std::optional<Json> Body(const HttpRequest& request, const AlertingApi::Reply& reply) {
  if (request.body.empty()) return Json::object();
  Json body = Json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    reply(HttpResponse::Error(400, "the body must be a JSON object"));
    return std::nullopt;
  }
  return body;
}

// A string field of at most `max` bytes; nullopt after replying 400.
std::optional<std::string> Field(const Json& body, const char* name, size_t max, bool required,
                                 const AlertingApi::Reply& reply) {
  auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    if (required) {
      reply(HttpResponse::Error(400, std::string(name) + " is required"));
      return std::nullopt;
    }
    return std::string();
  }
  if (!found->is_string() || found->get<std::string>().size() > max ||
      (required && found->get<std::string>().empty())) {
    reply(HttpResponse::Error(400, std::string(name) + " must be a non-empty string of at most " +
                                       std::to_string(max) + " bytes"));
    return std::nullopt;
  }
  return found->get<std::string>();
}

}  // namespace

Status AlertingApi::Register(const RouteAdder& route) {
  const std::pair<std::pair<const char*, const char*>,
                  void (AlertingApi::*)(const HttpRequest&, const Reply&)>
      routes[] = {
          {{"GET", "/api/v1/incidents/{id}"}, &AlertingApi::HandleGet},
          {{"POST", "/api/v1/incidents/{id}/ack"}, &AlertingApi::HandleAck},
          {{"POST", "/api/v1/incidents/{id}/notes"}, &AlertingApi::HandleNote},
          {{"POST", "/api/v1/channels/{namespace}/{name}/test"}, &AlertingApi::HandleTest},
      };
  for (const auto& [where, handler] : routes) {
    Status added =
        route(where.first, where.second,
              [this, handler = handler](const HttpRequest& request, const HttpResponder& out) {
                (this->*handler)(request,
                                 [out](HttpResponse response) { out.Send(std::move(response)); });
              });
    if (!added) return added;
  }
  return OkStatus();
}

OrderedJson AlertingApi::IncidentToJson(const IncidentRecord& record,
                                        const std::vector<Delivery>& deliveries) {
  const Incident& incident = record.incident;
  const auto slash = incident.monitor_key.find('/');
  OrderedJson timeline = OrderedJson::array();
  for (const IncidentEntry& entry : record.timeline) {
    timeline.push_back({{"at", FormatRfc3339(entry.at)},
                        {"kind", ToString(entry.kind)},
                        {"text", entry.text},
                        {"author", entry.author}});
  }
  OrderedJson sent = OrderedJson::array();
  for (const Delivery& delivery : deliveries) {
    sent.push_back({{"deliveryId", delivery.id},
                    {"channel", delivery.channel},
                    {"event", ToString(delivery.notification.event)},
                    {"state", ToString(delivery.state)},
                    {"attempts", delivery.attempts},
                    {"lastError", delivery.last_error},
                    {"createdAt", FormatRfc3339(delivery.created_at)},
                    {"deliveredAt", TimeOrNull(delivery.delivered_at)}});
  }
  return {{"id", incident.id},
          {"namespace", incident.monitor_key.substr(0, slash)},
          {"name", slash == std::string::npos ? "" : incident.monitor_key.substr(slash + 1)},
          {"monitorUid", incident.monitor_uid},
          {"phase", ToString(record.phase)},
          {"open", !incident.resolved_at.has_value()},
          {"openedAt", FormatRfc3339(incident.opened_at)},
          {"resolvedAt", TimeOrNull(incident.resolved_at)},
          {"failingRegions", incident.failing_regions},
          {"firstError", incident.first_error},
          {"screenshots", record.screenshot_urls},
          {"timeline", std::move(timeline)},
          {"deliveries", std::move(sent)}};
}

std::optional<std::string> AlertingApi::Authorize(const HttpRequest& request,
                                                  const Reply& reply) const {
  if (tokens_ == nullptr) {
    reply(HttpResponse::Error(
        403, "changes through the API are off: start pharos with --api-token-file"));
    return std::nullopt;
  }
  if (const std::optional<std::chrono::seconds> wait =
          bad_tokens_.Admit("incidents", request.remote_address)) {
    reply(TooManyWrongTokens(*wait));
    return std::nullopt;
  }
  std::optional<std::string> name = tokens_->Check(request.Header("Authorization"));
  if (!name) {
    bad_tokens_.RecordFailure("incidents", request.remote_address);
    HttpResponse response = HttpResponse::Error(
        401, request.Header("Authorization").empty()
                 ? "send Authorization: Bearer TOKEN with a token of the --api-token-file"
                 : "the bearer token is not one of the --api-token-file");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"pharos\"");
    reply(std::move(response));
    return std::nullopt;
  }
  return name->empty() ? std::string("api") : *name;
}

void AlertingApi::HandleGet(const HttpRequest& request, const Reply& reply) {
  const std::string& id = request.path_params.at("id");
  Result<std::optional<IncidentRecord>> record = incidents_.GetIncident(id);
  if (!record) {
    return reply(HttpResponse::Error(500, "reading the incident failed: " + record.error()));
  }
  if (!record->has_value()) return reply(HttpResponse::Error(404, "no incident " + id));
  Result<std::vector<Delivery>> deliveries = outbox_.ForIncident(id);
  reply(HttpResponse::Json(
      200, IncidentToJson(**record, deliveries ? *deliveries : std::vector<Delivery>{}).dump()));
}

void AlertingApi::HandleAck(const HttpRequest& request, const Reply& reply) {
  std::optional<std::string> author = Authorize(request, reply);
  if (!author) return;
  std::optional<Json> body = Body(request, reply);
  if (!body) return;
  std::optional<std::string> by = Field(*body, "by", 256, false, reply);
  if (!by) return;
  const std::string& id = request.path_params.at("id");
  Result<IncidentUpdate> update = engine_.Acknowledge(id, by->empty() ? *author : *by);
  if (!update) return reply(HttpResponse::Error(500, "acknowledging failed: " + update.error()));
  if (!update->found) return reply(HttpResponse::Error(404, "no incident " + id));
  if (update->record && update->record->phase == IncidentPhase::kResolved) {
    return reply(HttpResponse::Error(409, "incident " + id + " is resolved"));
  }
  Result<std::vector<Delivery>> deliveries = outbox_.ForIncident(id);
  OrderedJson json =
      IncidentToJson(*update->record, deliveries ? *deliveries : std::vector<Delivery>{});
  json["changed"] = update->changed;
  reply(HttpResponse::Json(200, json.dump()));
}

void AlertingApi::HandleNote(const HttpRequest& request, const Reply& reply) {
  std::optional<std::string> author = Authorize(request, reply);
  if (!author) return;
  std::optional<Json> body = Body(request, reply);
  if (!body) return;
  std::optional<std::string> text = Field(*body, "text", size_t{16} * 1024, true, reply);
  if (!text) return;
  std::optional<std::string> by = Field(*body, "by", 256, false, reply);
  if (!by) return;
  const std::string& id = request.path_params.at("id");
  Result<IncidentUpdate> update = engine_.AddNote(id, by->empty() ? *author : *by, *text);
  if (!update) return reply(HttpResponse::Error(500, "adding the note failed: " + update.error()));
  if (!update->found) return reply(HttpResponse::Error(404, "no incident " + id));
  Result<std::vector<Delivery>> deliveries = outbox_.ForIncident(id);
  reply(HttpResponse::Json(
      201,
      IncidentToJson(*update->record, deliveries ? *deliveries : std::vector<Delivery>{}).dump()));
}

void AlertingApi::HandleTest(const HttpRequest& request, const Reply& reply) {
  if (!Authorize(request, reply)) return;
  std::optional<Json> body = Body(request, reply);
  if (!body) return;
  std::optional<std::string> text = Field(*body, "text", 4096, false, reply);
  if (!text) return;
  const std::string key =
      request.path_params.at("namespace") + "/" + request.path_params.at("name");
  Result<std::string> id = engine_.SendTest(key, *text);
  if (!id) {
    return reply(HttpResponse::Error(id.error_kind() == ErrorKind::kInvalidArgument ? 404 : 500,
                                     id.error()));
  }
  reply(HttpResponse::Json(202, OrderedJson{{"deliveryId", *id}, {"channel", key}}.dump()));
}

}  // namespace pharos
