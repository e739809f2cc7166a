#include "operator/api/probe_api.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/check_result_json.h"
#include "common/json_text.h"
#include "common/logging.h"
#include "common/name_syntax.h"
#include "common/rfc3339.h"
#include "operator/api/result_bounds.h"
#include "operator/control/monitor_spec_index.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

const Logger& Log() {
  static const Logger logger("probe-api");
  return logger;
}

// A probe name: 1-253 of [A-Za-z0-9._-] (host names, pod names).
bool IsProbeName(std::string_view name) {
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::string_view BearerToken(const HttpRequest& request) {
  std::string_view header = request.Header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) {
    return {};
  }
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return {};
    }
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') {
    header.remove_prefix(1);
  }
  return header;
}

const char* JsonTypeName(const Json& value) { return value.is_null() ? "null" : value.type_name(); }

HttpResponse BadRequest(const std::string& message) { return HttpResponse::Error(400, message); }

// The array `field` of a request body, with at most `max` entries (`why` names the limit). When
// it is absent, not an array (400) or longer (413), it replies and returns null.
const Json* BoundedArray(const Json& body, const char* field, size_t max, const char* why,
                         const std::function<void(HttpResponse)>& reply) {
  const auto list = body.find(field);
  if (list == body.end() || !list->is_array()) {
    reply(BadRequest(std::string(field) + ": expected an array, got " +
                     (list == body.end() ? "nothing" : JsonTypeName(*list))));
    return nullptr;
  }
  if (list->size() > max) {
    reply(HttpResponse::Error(413, std::string(field) + ": " + std::to_string(list->size()) +
                                       " in one request; at most " + std::to_string(max) + " (" +
                                       why + ")"));
    return nullptr;
  }
  return &*list;
}

// A spec version as the protocol writes it: 16 lowercase hex digits.
std::string SpecVersionText(uint64_t version) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(16, '0');
  for (size_t i = 16; i-- > 0; version >>= 4) {
    text[i] = kDigits[version & 0xf];
  }
  return text;
}

HttpResponse Unavailable(const std::string& message) {
  HttpResponse response = HttpResponse::Error(503, message);
  response.headers.emplace_back("Retry-After", "5");
  return response;
}

}  // namespace

struct ProbeApi::Caller {
  Json body;
  std::string name;
  std::string region;
};

ProbeApi::ProbeApi(WorkLeaser& work, ResultSink& results, const StatusReader& specs,
                   const Clock& clock, ProbeTokens* tokens, BadTokenGuard& bad_tokens,
                   Options options)
    : work_(work),
      results_(results),
      specs_(specs),
      clock_(clock),
      tokens_(tokens),
      bad_tokens_(bad_tokens),
      options_(std::move(options)) {}

ProbeApi::~ProbeApi() { Shutdown(); }

Status ProbeApi::Register(HttpServer& server) {
  const std::pair<const char*, void (ProbeApi::*)(const HttpRequest&, const Reply&)> routes[] = {
      {"/api/v1/probes/register", &ProbeApi::HandleRegister},
      {"/api/v1/work/results", &ProbeApi::HandleResults},
      {"/api/v1/work/monitors", &ProbeApi::HandleMonitorSpecs},
      {"/api/v1/work/screenshots/lease", &ProbeApi::HandleScreenshotLease},
      {"/api/v1/work/screenshots/upload", &ProbeApi::HandleScreenshotUpload},
      {"/api/v1/work/screenshots/failed", &ProbeApi::HandleScreenshotFailed}};
  for (const auto& route : routes) {
    const auto handler = route.second;
    Status added = server.Route(
        "POST", route.first,
        [this, handler](const HttpRequest& request, const HttpResponder& responder) {
          (this->*handler)(
              request, [responder](HttpResponse response) { responder.Send(std::move(response)); });
        });
    if (!added) {
      return added;
    }
  }
  return server.Route(
      "POST", "/api/v1/work/lease",
      [this](const HttpRequest& request, const HttpResponder& responder) {
        HandleLease(
            request, [responder](HttpResponse response) { responder.Send(std::move(response)); },
            [responder](std::function<void()> cancel) {
              responder.OnClientGone(std::move(cancel));
            });
      });
}

std::optional<ProbeApi::Caller> ProbeApi::Admit(const HttpRequest& request, const Reply& reply,
                                                const char* what, bool json_body) const {
  const std::string_view token = BearerToken(request);
  const auto refuse = [&](int status, const char* why, const std::string& message,
                          const std::string& region) {
    Log().Warn("probe request refused",
               {{"request", what},
                {"status", status},
                {"why", why},
                {"remote", request.remote_address},
                {"region", region},
                {"token", token.empty() ? std::string("none") : RedactSecret(token)}});
    reply(HttpResponse::Error(status, message));
  };
  if (tokens_ == nullptr) {
    refuse(401, "no probe token file configured",
           "this operator accepts no external probes (it was started without a probe token "
           "file)",
           "");
    return std::nullopt;
  }
  if (const std::optional<std::chrono::seconds> wait =
          bad_tokens_.Admit("probe", request.remote_address)) {
    Log().Warn(
        "probe request refused: too many wrong tokens from this address",
        {{"request", what}, {"remote", request.remote_address}, {"retry_after_s", wait->count()}});
    reply(TooManyWrongTokens(*wait));
    return std::nullopt;
  }
  // Any-region tokens pass here; region-bound ones are checked once the region is known.
  const ProbeTokens::Verdict first = tokens_->Check(token, "");
  if (first == ProbeTokens::Verdict::kMissing || first == ProbeTokens::Verdict::kUnknown) {
    bad_tokens_.RecordFailure("probe", request.remote_address);
    refuse(401, first == ProbeTokens::Verdict::kMissing ? "missing bearer token" : "unknown token",
           first == ProbeTokens::Verdict::kMissing
               ? "missing bearer token (Authorization: Bearer TOKEN)"
               : "invalid bearer token",
           "");
    return std::nullopt;
  }

  Caller caller;
  if (!json_body) {
    caller.body = Json::object();
    for (const char* field : {"name", "region"}) {
      if (const auto found = request.query.find(field); found != request.query.end()) {
        caller.body[field] = found->second;
      }
    }
  }
  try {
    if (json_body) caller.body = Json::parse(request.body);
  } catch (const Json::exception& error) {
    // A syntax error, or a number out of range (out_of_range 406: "capacity": 1e999); the
    // message quotes the offending text, so it is cut.
    constexpr size_t kShown = 200;
    const std::string what = error.what();
    reply(BadRequest("request body is not valid JSON: " + what.substr(0, kShown) +
                     (what.size() > kShown ? "..." : "")));
    return std::nullopt;
  }
  if (!caller.body.is_object()) {
    reply(BadRequest(std::string("request body: expected a JSON object, got ") +
                     JsonTypeName(caller.body)));
    return std::nullopt;
  }
  for (const char* field : {"name", "region"}) {
    const auto it = caller.body.find(field);
    if (it == caller.body.end() || !it->is_string()) {
      reply(BadRequest(std::string(field) + ": expected a string, got " +
                       (it == caller.body.end() ? "nothing" : JsonTypeName(*it))));
      return std::nullopt;
    }
  }
  caller.name = caller.body["name"].get<std::string>();
  caller.region = caller.body["region"].get<std::string>();
  if (!IsProbeName(caller.name)) {
    reply(BadRequest("name: expected 1-253 characters of letters, digits, '.', '_' and '-'"));
    return std::nullopt;
  }
  if (!IsDns1123Label(caller.region)) {
    reply(
        BadRequest("region: expected a DNS-1123 label (1-63 of a-z, 0-9 and '-', e.g. "
                   "\"eu-west\")"));
    return std::nullopt;
  }
  if (first == ProbeTokens::Verdict::kWrongRegion &&
      tokens_->Check(token, caller.region) != ProbeTokens::Verdict::kAllowed) {
    refuse(403, "token bound to another region",
           "this token is not valid for region \"" + caller.region + "\"", caller.region);
    return std::nullopt;
  }
  return caller;
}

void ProbeApi::HandleRegister(const HttpRequest& request, const Reply& reply) {
  std::optional<Caller> caller = Admit(request, reply, "register");
  if (!caller) {
    return;
  }
  const Json& body = caller->body;
  if (body.contains("version") && !body["version"].is_string()) {
    return reply(BadRequest(std::string("version: expected a string, got ") +
                            JsonTypeName(body["version"])));
  }
  if (body.contains("capacity") &&
      (!body["capacity"].is_number_integer() || body["capacity"].get<int64_t>() < 0)) {
    return reply(BadRequest("capacity: expected a whole number >= 0"));
  }
  work_.TouchProbe(caller->region, caller->name);
  Log().Info("probe registered", {{"probe", caller->name},
                                  {"region", caller->region},
                                  {"version", body.value("version", std::string())},
                                  {"remote", request.remote_address}});
  Json answer = {{"name", caller->name},
                 {"region", caller->region},
                 {"leaseWaitMaxSeconds", options_.lease_wait_max_seconds},
                 {"resultBatchMax", options_.result_batch_max}};
  reply(HttpResponse::Json(200, answer.dump()));
}

void ProbeApi::HandleLease(const HttpRequest& request, const Reply& reply) {
  HandleLease(request, reply, {});
}

void ProbeApi::HandleLease(const HttpRequest& request, const Reply& reply,
                           const ClientGoneHook& on_client_gone) {
  std::optional<Caller> caller = Admit(request, reply, "lease");
  if (!caller) {
    return;
  }
  const Json& body = caller->body;
  size_t max_items = options_.lease_default_items;
  if (body.contains("max")) {
    const Json& max = body["max"];
    if (!max.is_number_integer() || max.get<int64_t>() < 1) {
      return reply(BadRequest(std::string("max: expected a whole number >= 1, got ") + max.dump()));
    }
    max_items = std::min<size_t>(static_cast<size_t>(max.get<int64_t>()), options_.lease_max_items);
  }
  double wait_seconds = options_.lease_wait_default_seconds;
  if (body.contains("waitSeconds")) {
    const Json& wait = body["waitSeconds"];
    if (!wait.is_number() || !std::isfinite(wait.get<double>()) || wait.get<double>() < 0) {
      return reply(
          BadRequest(std::string("waitSeconds: expected a number >= 0, got ") + wait.dump()));
    }
    wait_seconds = wait.get<double>();
  }
  wait_seconds = std::min<double>(wait_seconds, options_.lease_wait_max_seconds);
  bool omit_specs = false;
  if (body.contains("omitSpecs")) {
    const Json& omit = body["omitSpecs"];
    if (!omit.is_boolean()) {
      return reply(
          BadRequest(std::string("omitSpecs: expected true or false, got ") + JsonTypeName(omit)));
    }
    omit_specs = omit.get<bool>();
  }
  if (shutting_down_) {
    return reply(Unavailable("the operator is shutting down; lease again later"));
  }
  if (!work_.accepting_work()) {
    return reply(Unavailable("this operator replica is not the leader; no work is handed out"));
  }

  uint64_t key = 0;
  {
    MutexLock lock(parked_mu_);
    key = next_parked_++;
    parked_.emplace(key, ParkedLease{0, reply});
  }
  const auto wait = std::chrono::duration_cast<Millis>(std::chrono::duration<double>(wait_seconds));
  const WorkDispatcher::WaiterId waiter =
      work_.LeaseOrWait(caller->region, caller->name, max_items, wait, options_.lease_batch_wait,
                        [this, key, reply, omit_specs](const std::vector<WorkItem>& items) {
                          Unpark(key);
                          reply(LeaseResponse(items, omit_specs));
                        });
  {
    MutexLock lock(parked_mu_);
    if (auto it = parked_.find(key); it != parked_.end()) {
      it->second.waiter = waiter;
    }
  }
  if (on_client_gone) {
    // A probe that went away gets no work: cancelled, its wait hands nothing out.
    on_client_gone([this, key] {
      WorkDispatcher::WaiterId parked_waiter = 0;
      {
        MutexLock lock(parked_mu_);
        const auto it = parked_.find(key);
        if (it == parked_.end()) {
          return;
        }
        parked_waiter = it->second.waiter;
      }
      if (parked_waiter != 0 && work_.CancelWait(parked_waiter)) {
        Unpark(key);
      }
    });
  }
}

void ProbeApi::Unpark(uint64_t key) {
  MutexLock lock(parked_mu_);
  parked_.erase(key);
}

HttpResponse ProbeApi::LeaseResponse(const std::vector<WorkItem>& items, bool omit_specs) const {
  const auto now = clock_.Now();
  const auto schedule_now = work_.schedule_clock().Now();
  const Millis grace = work_.lease_grace();
  // Written directly: a lease carries hundreds of items, and a JSON tree per item cost an
  // allocation per field on the thread that answers long polls.
  std::string body = "{\"items\":[";
  bool first_item = true;
  std::map<std::string, std::shared_ptr<const std::string>> monitors;
  for (const WorkItem& item : items) {
    // A monitor removed since its item was queued has neither: the item is left out, its lease
    // lapses and it is never redelivered.
    std::optional<uint64_t> version;
    if (omit_specs) {
      version = specs_.MonitorSpecVersion(item.monitor_uid);
      if (!version) {
        continue;
      }
    } else {
      auto json = monitors.contains(item.monitor_uid) ? monitors[item.monitor_uid]
                                                      : specs_.MonitorJsonText(item.monitor_uid);
      if (!json) {
        continue;
      }
      monitors[item.monitor_uid] = json;
    }
    body += first_item ? "{" : ",{";
    first_item = false;
    AppendJsonKey(body, "id");
    AppendJsonString(body, item.id);
    body += ',';
    AppendJsonKey(body, "monitorUid");
    AppendJsonString(body, item.monitor_uid);
    body += ',';
    AppendJsonKey(body, "generation");
    body += std::to_string(item.generation);
    body += ',';
    AppendJsonKey(body, "region");
    AppendJsonString(body, item.region);
    body += ',';
    AppendJsonKey(body, "scheduledAt");
    AppendJsonString(body, FormatRfc3339(item.scheduled_at));
    // The probe compares it with its own (or the operator's) wall clock: what is left of the
    // item's time, from now on that clock.
    body += ',';
    AppendJsonKey(body, "deadline");
    AppendJsonString(body, FormatRfc3339(now + (item.deadline - schedule_now)));
    body += ',';
    AppendJsonKey(body, "attempt");
    body += std::to_string(item.attempt);
    body += ',';
    AppendJsonKey(body, "leaseExpiresAt");
    AppendJsonString(body, FormatRfc3339(now + item.timeout + grace));
    if (version) {
      body += ',';
      AppendJsonKey(body, "specVersion");
      AppendJsonString(body, SpecVersionText(*version));
    }
    if (options_.endpoints != nullptr) {
      if (std::shared_ptr<const Monitor> spec = specs_.MonitorSpec(item.monitor_uid);
          spec && spec->service) {
        if (auto endpoints = options_.endpoints->ReadyEndpoints(*spec)) {
          Json list_of = Json::array();
          for (const ServiceEndpoint& endpoint : *endpoints) {
            Json one = {{"address", endpoint.address}, {"port", endpoint.port}};
            if (!endpoint.name.empty()) {
              one["name"] = endpoint.name;
            }
            list_of.push_back(std::move(one));
          }
          body += ',';
          AppendJsonKey(body, "endpoints");
          body += list_of.dump();
        }
      }
    }
    body += '}';
  }
  // The specs are kept as JSON text: splice them in instead of parsing them again.
  body += "],\"monitors\":{";
  bool first = true;
  for (const auto& [uid, json] : monitors) {
    if (!first) {
      body += ',';
    }
    first = false;
    AppendJsonString(body, uid);
    body += ':';
    body += *json;
  }
  body += "}";
  if (!options_.target_deny.empty() || !options_.target_allow.empty()) {
    body += ",\"targetPolicy\":" +
            Json{{"deny", options_.target_deny}, {"allow", options_.target_allow}}.dump();
  }
  body += "}";
  return HttpResponse::Json(200, std::move(body));
}

void ProbeApi::HandleMonitorSpecs(const HttpRequest& request, const Reply& reply) {
  std::optional<Caller> caller = Admit(request, reply, "monitors");
  if (!caller) {
    return;
  }
  const Json* uids = BoundedArray(caller->body, "uids", options_.lease_max_items,
                                  "as many as one lease may carry", reply);
  if (uids == nullptr) {
    return;
  }
  for (size_t i = 0; i < uids->size(); ++i) {
    if (!(*uids)[i].is_string()) {
      return reply(BadRequest("uids[" + std::to_string(i) + "]: expected a string, got " +
                              JsonTypeName((*uids)[i])));
    }
  }
  std::string monitors;
  Json versions = Json::object();
  for (const Json& entry : *uids) {
    const std::string& uid = entry.get_ref<const std::string&>();
    if (versions.contains(uid)) {
      continue;
    }
    // A probe sees the specs of the monitors checked from its region, as its leases would.
    const std::shared_ptr<const Monitor> spec = specs_.MonitorSpec(uid);
    const std::shared_ptr<const std::string> json = specs_.MonitorJsonText(uid);
    if (!spec || !json) {
      continue;  // deleted meanwhile: its items are answered as not checked
    }
    if (!spec->regions.empty() && std::find(spec->regions.begin(), spec->regions.end(),
                                            caller->region) == spec->regions.end()) {
      continue;
    }
    versions[uid] = SpecVersionText(MonitorSpecIndex::SpecVersion(*json));
    monitors += monitors.empty() ? "{" : ",";
    AppendJsonString(monitors, uid);
    monitors += ':';
    monitors += *json;
  }
  monitors += monitors.empty() ? "{}" : "}";
  reply(HttpResponse::Json(
      200, "{\"monitors\":" + monitors + ",\"specVersions\":" + versions.dump() + "}"));
}

void ProbeApi::HandleResults(const HttpRequest& request, const Reply& reply) {
  std::optional<Caller> caller = Admit(request, reply, "results");
  if (!caller) {
    return;
  }
  const Json* list =
      BoundedArray(caller->body, "results", options_.result_batch_max, "resultBatchMax", reply);
  if (list == nullptr) {
    return;
  }
  work_.TouchProbe(caller->region, caller->name);

  std::vector<CheckResult> results;
  results.reserve(list->size());
  // Results refused here, by position in the request.
  std::map<size_t, std::pair<std::string, std::string>> refused;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string path = "results[" + std::to_string(i) + "]";
    Result<CheckResult> parsed = CheckResultFromJson((*list)[i]);
    if (!parsed) {
      return reply(BadRequest(path + ": " + parsed.error()));
    }
    CheckResult result = std::move(parsed).value();
    if (result.item_id.empty()) {
      return reply(BadRequest(path + ".itemId: expected the id of the work item it answers"));
    }
    if (result.monitor_uid.empty()) {
      return reply(BadRequest(path + ".uid: expected the monitor uid of the work item"));
    }
    if (result.region.empty()) {
      result.region = caller->region;
    }
    if (result.probe.empty()) {
      result.probe = caller->name;
    }
    if (Status bounded = CheckResultBounds(result, clock_.Now()); !bounded) {
      return reply(BadRequest(path + "." + bounded.error()));
    }
    if (!IsProbeName(result.probe)) {
      return reply(BadRequest(path + ".probe: expected a probe name as register accepts it"));
    }
    // The result must be about the monitor of the item it answers.
    if (std::shared_ptr<const Monitor> spec = specs_.MonitorSpec(result.monitor_uid)) {
      if (!result.monitor_namespace.empty() && result.monitor_namespace != spec->namespace_name) {
        return reply(
            BadRequest(path + ".namespace: not the namespace of monitor " + result.monitor_uid));
      }
      if (!result.monitor_name.empty() && result.monitor_name != spec->name) {
        return reply(BadRequest(path + ".name: not the name of monitor " + result.monitor_uid));
      }
      if (result.generation == spec->generation && result.type != spec->type) {
        return reply(BadRequest(path + ".type: " + ToString(result.type) + " for a " +
                                ToString(spec->type) + " monitor"));
      }
    }
    if (result.region != caller->region) {
      refused[i] = {result.item_id, "result of region '" + result.region +
                                        "' sent by a probe of region '" + caller->region + "'"};
      continue;
    }
    results.push_back(std::move(result));
  }

  const std::string probe = caller->name;
  results_.Ingest(std::move(results), [reply, refused = std::move(refused),
                                       probe](Result<IngestReport> report) {
    if (!report) {
      Log().Warn("results not stored; the probe will send them again",
                 {{"probe", probe}, {"error", report.error()}});
      return reply(Unavailable(report.error()));
    }
    Json accepted = Json::array();
    Json duplicates = Json::array();
    Json rejected = Json::array();
    for (const auto& [position, refusal] : refused) {
      rejected.push_back({{"id", refusal.first}, {"reason", refusal.second}});
    }
    for (const IngestOutcome& outcome : report->outcomes) {
      switch (outcome.kind) {
        case IngestOutcome::Kind::kAccepted:
          accepted.push_back(outcome.item_id);
          break;
        case IngestOutcome::Kind::kDuplicate:
          duplicates.push_back(outcome.item_id);
          break;
        case IngestOutcome::Kind::kRejected:
          rejected.push_back({{"id", outcome.item_id}, {"reason", outcome.reason}});
          Log().Warn("result rejected",
                     {{"probe", probe}, {"item", outcome.item_id}, {"reason", outcome.reason}});
          break;
      }
    }
    Json answer = {{"accepted", std::move(accepted)},
                   {"duplicates", std::move(duplicates)},
                   {"rejected", std::move(rejected)}};
    reply(HttpResponse::Json(200, answer.dump()));
  });
}

void ProbeApi::HandleScreenshotLease(const HttpRequest& request, const Reply& reply) {
  std::optional<Caller> caller = Admit(request, reply, "screenshot lease");
  if (!caller) {
    return;
  }
  size_t max_requests = 1;
  if (const auto max = caller->body.find("max"); max != caller->body.end()) {
    if (!max->is_number_integer() || max->get<int64_t>() < 1) {
      return reply(
          BadRequest(std::string("max: expected a whole number >= 1, got ") + max->dump()));
    }
    max_requests =
        std::min<size_t>(static_cast<size_t>(max->get<int64_t>()), options_.screenshot_lease_max);
  }
  if (shutting_down_) {
    return reply(Unavailable("the operator is shutting down; lease again later"));
  }
  Json list = Json::array();
  if (ScreenshotBroker* broker = screenshots_.load(); broker != nullptr) {
    for (const ScreenshotRequest& shot :
         broker->Lease(caller->region, caller->name, max_requests, clock_.Now())) {
      list.push_back({{"id", shot.id},
                      {"url", shot.url},
                      {"monitor", shot.monitor_key},
                      {"incident", shot.incident_id},
                      {"moment", shot.moment},
                      {"leaseExpiresAt", FormatRfc3339(shot.lease_expires_at)}});
    }
  }
  Json body = {{"requests", std::move(list)}};
  // The screenshot browser obeys the same cluster-wide policy as the checks.
  if (!options_.target_deny.empty() || !options_.target_allow.empty()) {
    body["targetPolicy"] = {{"deny", options_.target_deny}, {"allow", options_.target_allow}};
  }
  reply(HttpResponse::Json(200, body.dump()));
}

void ProbeApi::HandleScreenshotUpload(const HttpRequest& request, const Reply& reply) {
  std::optional<Caller> caller = Admit(request, reply, "screenshot upload", /*json_body=*/false);
  if (!caller) {
    return;
  }
  if (request.body.size() > options_.screenshot_max_bytes) {
    return reply(HttpResponse::Error(413, "screenshot: " + std::to_string(request.body.size()) +
                                              " bytes; at most " +
                                              std::to_string(options_.screenshot_max_bytes)));
  }
  const auto id = request.query.find("id");
  if (id == request.query.end() || id->second.empty()) {
    return reply(BadRequest("id: expected the id of the screenshot request (query ?id=)"));
  }
  ScreenshotBroker* broker = screenshots_.load();
  if (broker == nullptr) {
    return reply(BadRequest("this operator asked for no screenshots"));
  }
  Result<std::string> url =
      broker->Complete(caller->region, caller->name, id->second, request.body, clock_.Now());
  if (!url) {
    return reply(url.error_kind() == ErrorKind::kInvalidArgument ? BadRequest(url.error())
                                                                 : Unavailable(url.error()));
  }
  reply(HttpResponse::Json(200, Json{{"url", *url}}.dump()));
}

void ProbeApi::HandleScreenshotFailed(const HttpRequest& request, const Reply& reply) {
  std::optional<Caller> caller = Admit(request, reply, "screenshot failure");
  if (!caller) {
    return;
  }
  const Json& body = caller->body;
  for (const char* field : {"id", "error"}) {
    const auto it = body.find(field);
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return reply(BadRequest(std::string(field) + ": expected a non-empty string"));
    }
  }
  std::string error = body["error"].get<std::string>();
  constexpr size_t kMaxError = 1024;
  if (error.size() > kMaxError || error.find('\0') != std::string::npos) {
    return reply(BadRequest("error: at most 1024 bytes, no NUL"));
  }
  ScreenshotBroker* broker = screenshots_.load();
  if (broker == nullptr) {
    return reply(BadRequest("this operator asked for no screenshots"));
  }
  Result<std::string> done =
      broker->Complete(caller->region, caller->name, body["id"].get<std::string>(),
                       Error{std::move(error)}, clock_.Now());
  if (!done) {
    return reply(done.error_kind() == ErrorKind::kInvalidArgument ? BadRequest(done.error())
                                                                  : Unavailable(done.error()));
  }
  reply(HttpResponse::Json(200, "{}"));
}

void ProbeApi::Shutdown() {
  shutting_down_ = true;
  std::map<uint64_t, ParkedLease> parked;
  {
    MutexLock lock(parked_mu_);
    parked = parked_;
  }
  for (auto& [key, lease] : parked) {
    // Cancelled: nobody else will answer it. Not cancelled: its callback answers.
    if (lease.waiter != 0 && work_.CancelWait(lease.waiter)) {
      Unpark(key);
      lease.reply(LeaseResponse({}, false));
    }
  }
}

size_t ProbeApi::parked_leases() const {
  MutexLock lock(parked_mu_);
  return parked_.size();
}

}  // namespace pharos
