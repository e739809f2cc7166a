#include "probe/screenshot_server.h"

#include <pthread.h>

#include <nlohmann/json.hpp>

#include "common/logging.h"

namespace pharos {
namespace {

constexpr size_t kMaxUrlBytes = 8192;

const Logger& Log() {
  static const Logger logger("screenshot-server");
  return logger;
}

bool IsHttpUrl(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

// The request's targetPolicy: lists of at most 1024 CIDRs each.
Result<TargetPolicy> RequestPolicy(const nlohmann::json& body) {
  constexpr size_t kMaxEntries = 1024;
  const auto bad = [](const std::string& why) {
    return Error{"targetPolicy: " + why, ErrorKind::kInvalidArgument};
  };
  if (!body.contains("targetPolicy") || body["targetPolicy"].is_null()) return TargetPolicy();
  const nlohmann::json& policy = body["targetPolicy"];
  if (!policy.is_object()) return bad("expected {\"deny\": [CIDR...], \"allow\": [CIDR...]}");
  std::vector<std::string> lists[2];
  const char* names[2] = {"deny", "allow"};
  for (size_t i = 0; i < 2; ++i) {
    if (!policy.contains(names[i]) || policy[names[i]].is_null()) continue;
    const nlohmann::json& list = policy[names[i]];
    if (!list.is_array() || list.size() > kMaxEntries) {
      return bad(std::string(names[i]) + ": expected an array of at most 1024 CIDRs");
    }
    for (const nlohmann::json& entry : list) {
      if (!entry.is_string()) return bad(std::string(names[i]) + ": expected CIDR strings");
      lists[i].push_back(entry.get<std::string>());
    }
  }
  Result<TargetPolicy> created = TargetPolicy::Create(lists[0], lists[1]);
  if (!created) return bad(created.error());
  return created;
}

}  // namespace

ScreenshotServer::~ScreenshotServer() { Stop(); }

Status ScreenshotServer::Register(HttpServer& server) {
  if (Status routed = server.Route("POST", "/capture",
                                   [this](const HttpRequest& request, HttpResponder responder) {
                                     HandleCapture(request, std::move(responder));
                                   });
      !routed) {
    return routed;
  }
  return server.Route(
      "GET", "/healthz", [this](const HttpRequest&, const HttpResponder& responder) {
        bool busy = false;
        {
          MutexLock lock(mu_);
          busy = busy_;
        }
        responder.Send(
            HttpResponse::Json(200, nlohmann::json{{"status", "ok"}, {"busy", busy}}.dump()));
      });
}

void ScreenshotServer::Start() {
  {
    MutexLock lock(mu_);
    running_ = true;
  }
  worker_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "pharos-capture");
    Loop(stop);
  });
}

void ScreenshotServer::Stop() {
  if (!worker_.joinable()) return;
  {
    MutexLock lock(mu_);
    running_ = false;
  }
  worker_.request_stop();
  cv_.NotifyAll();
  worker_.join();
  std::optional<Job> left;
  {
    MutexLock lock(mu_);
    left.swap(job_);
  }
  if (left) left->responder.Send(HttpResponse::Error(503, "the screenshot server is stopping"));
}

void ScreenshotServer::HandleCapture(const HttpRequest& request, HttpResponder responder) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("url") || !body["url"].is_string()) {
    responder.Send(HttpResponse::Error(400, "expected a JSON object {\"url\": \"http(s)://...\"}"));
    return;
  }
  std::string url = body["url"].get<std::string>();
  if (!IsHttpUrl(url) || url.size() > kMaxUrlBytes) {
    responder.Send(
        HttpResponse::Error(400, "url: expected an http:// or https:// URL of at most 8192 bytes"));
    return;
  }
  Result<TargetPolicy> policy = RequestPolicy(body);
  if (!policy) {
    responder.Send(HttpResponse::Error(400, policy.error()));
    return;
  }
  {
    MutexLock lock(mu_);
    if (!busy_ && running_) {
      busy_ = true;
      job_ = Job{std::move(url), std::move(policy).value(), std::move(responder)};
      cv_.NotifyAll();
      return;
    }
  }
  HttpResponse refused =
      HttpResponse::Error(503, "a capture is in progress; this sidecar takes one at a time");
  refused.headers.emplace_back("Retry-After", "5");
  responder.Send(std::move(refused));
}

void ScreenshotServer::Loop(const std::stop_token& stop) {
  while (true) {
    std::optional<Job> taken;
    {
      MutexLock lock(mu_);
      cv_.Wait(mu_, stop, [this]() REQUIRES(mu_) { return job_.has_value(); });
      if (stop.stop_requested()) return;
      taken.swap(job_);
    }
    Job& job = *taken;
    Result<std::string> png = capturer_.Capture(job.url, job.policy);
    // Free before answering: a client that asks again as soon as it has the answer (the probe's
    // relay, with the next request) must not find the sidecar still busy.
    {
      MutexLock lock(mu_);
      busy_ = false;
    }
    if (png) {
      Log().Info("captured",
                 {{"url", RedactUrl(job.url)}, {"bytes", static_cast<int64_t>(png->size())}});
      HttpResponse response;
      response.content_type = "image/png";
      response.body = std::move(png).value();
      job.responder.Send(std::move(response));
    } else {
      Log().Warn("capture failed", {{"url", RedactUrl(job.url)}, {"error", png.error()}});
      job.responder.Send(HttpResponse::Error(502, png.error()));
    }
  }
}

}  // namespace pharos
