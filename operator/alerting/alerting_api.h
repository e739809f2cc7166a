#pragma once

// AlertingApi: the HTTP endpoints of incidents and channels (docs/api.md#incidents):
//   GET  /api/v1/incidents/{id}                 one incident: phase, timeline, screenshots and
//                                               the delivery record of its notifications
//   POST /api/v1/incidents/{id}/ack             acknowledge ({"by": "alice"} optional)
//   POST /api/v1/incidents/{id}/notes           add a note ({"text": "...", "by": "alice"})
//   POST /api/v1/channels/{namespace}/{name}/test   send a `test` notification
// Reads are open, as the rest of the API. Writes need `Authorization: Bearer TOKEN` with a token
// of the --api-token-file: none or a wrong one → 401; no token file configured → 403 (writes are
// off). Bad bodies → 400 naming the field; an unknown incident or channel → 404; acknowledging a
// resolved incident → 409.
// Thread-safety: handlers may run concurrently on any thread.

#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/bad_token_guard.h"
#include "common/http_server.h"
#include "common/result.h"
#include "operator/alerting/alerting_engine.h"
#include "operator/alerting/api_tokens.h"
#include "operator/alerting/incident_store.h"
#include "operator/alerting/outbox.h"

namespace pharos {

class AlertingApi {
 public:
  using RouteAdder =
      std::function<Status(std::string_view method, std::string_view pattern, HttpHandler handler)>;
  using Reply = std::function<void(HttpResponse)>;

  // `tokens` may be null (writes answer 403). Clients that keep sending wrong tokens are held back
  // by `bad_tokens` (429). Every reference must outlive the API.
  AlertingApi(IncidentReader& incidents, Outbox& outbox, AlertingEngine& engine,
              const ApiTokens* tokens, BadTokenGuard& bad_tokens)
      : incidents_(incidents),
        outbox_(outbox),
        engine_(engine),
        tokens_(tokens),
        bad_tokens_(bad_tokens) {}

  Status Register(const RouteAdder& route);

  void HandleGet(const HttpRequest& request, const Reply& reply);
  void HandleAck(const HttpRequest& request, const Reply& reply);
  void HandleNote(const HttpRequest& request, const Reply& reply);
  void HandleTest(const HttpRequest& request, const Reply& reply);

  // The JSON form of an incident (docs/api.md#incidents); deliveries without secrets.
  static nlohmann::ordered_json IncidentToJson(const IncidentRecord& record,
                                               const std::vector<Delivery>& deliveries);

 private:
  // The author of a write: nullopt after replying 401/403.
  std::optional<std::string> Authorize(const HttpRequest& request, const Reply& reply) const;

  IncidentReader& incidents_;
  Outbox& outbox_;
  AlertingEngine& engine_;
  const ApiTokens* tokens_;
  BadTokenGuard& bad_tokens_;
};

}  // namespace pharos
