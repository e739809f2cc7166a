#include "operator/api/push_api.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("push");
  return logger;
}

// The same answer whether no monitor has the token or its monitor was just removed.
HttpResponse UnknownToken() { return HttpResponse::Error(404, "not found"); }

}  // namespace

Status PushApi::Register(HttpServer& server) {
  const std::pair<const char*, PushPing> routes[] = {
      {"/api/v1/push/{token}", PushPing::kSuccess},
      {"/api/v1/push/{token}/start", PushPing::kStart},
      {"/api/v1/push/{token}/fail", PushPing::kFail}};
  for (const auto& [pattern, ping] : routes) {
    for (const char* method : {"GET", "POST"}) {
      Status added = server.Route(
          method, pattern,
          [this, ping = ping](const HttpRequest& request, const HttpResponder& out) {
            Handle(request, ping, [out](HttpResponse response) { out.Send(std::move(response)); });
          });
      if (!added) return added;
    }
  }
  return OkStatus();
}

void PushApi::Handle(const HttpRequest& request, PushPing ping, Reply reply) {
  if (const std::optional<std::chrono::seconds> wait =
          bad_tokens_.Admit("push", request.remote_address)) {
    reply(TooManyWrongTokens(*wait));
    return;
  }
  auto token = request.path_params.find("token");
  std::optional<std::string> uid =
      token == request.path_params.end() ? std::nullopt : tokens_.FindMonitor(token->second);
  if (!uid) {
    bad_tokens_.RecordFailure("push", request.remote_address);
    reply(UnknownToken());
    return;
  }
  receiver_.Ping(
      *uid, ping,
      [out = std::move(reply), ping, uid = *uid](Result<std::optional<HeartbeatVerdict>> verdict) {
        if (!verdict) {
          switch (verdict.error_kind()) {
            case ErrorKind::kInvalidArgument:
              out(UnknownToken());
              return;
            case ErrorKind::kUnavailable: {
              HttpResponse busy = HttpResponse::Error(503, verdict.error());
              busy.headers.emplace_back("Retry-After", "5");
              out(std::move(busy));
              return;
            }
            case ErrorKind::kFailed:
              break;
          }
          Log().Error("a ping could not be stored; the job should ping again",
                      {{"uid", uid}, {"error", verdict.error()}});
          out(HttpResponse::Error(500, "the ping could not be stored: " + verdict.error()));
          return;
        }
        nlohmann::ordered_json body = {{"ping", ToString(ping)}};
        if (verdict->has_value()) {
          const HeartbeatVerdict& judged = **verdict;
          body["outcome"] = ToString(judged.outcome);
          if (judged.run_time) body["runTimeMs"] = judged.run_time->count();
          if (!judged.message.empty()) body["message"] = judged.message;
        }
        out(HttpResponse::Json(200, body.dump()));
      });
}

}  // namespace pharos
