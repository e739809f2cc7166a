#pragma once

// FakeOperator: a test double of the operator's probe API (docs/probe-protocol.md), served by the
// real HttpServer on 127.0.0.1. It checks the bearer token (401), schema-checks bodies (400),
// limits results per request (413, when asked), long-polls leases (leaving specs out, with each
// item's specVersion, when the lease says omitSpecs), serves specs by uid, and stores results
// once per item id (duplicates counted). Tests queue work items, make the results endpoint fail,
// stop and restart the whole server on the same port, and inspect what arrived. Thread-safety:
// every method may be called from any thread.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/http_server.h"
#include "common/rfc3339.h"

namespace pharos::testing {

class FakeOperator {
 public:
  struct Options {
    std::string token = "probe-token-1";
    int lease_wait_max_seconds = 1;
    size_t result_batch_max = 500;
    size_t max_results_per_request = 0;  // > 0: more results in one request get 413
    std::string tls_cert_file;           // both set: serve HTTPS
    std::string tls_key_file;
    // Hostile: a lease hands out every queued item of the region, whatever `max` says.
    bool ignore_lease_max = false;
  };
  struct Item {
    std::string id;
    std::string monitor_uid;
    int64_t generation = 1;
    std::string region = "eu-west";
    std::chrono::system_clock::time_point scheduled_at = std::chrono::system_clock::now();
    std::chrono::system_clock::time_point deadline =
        std::chrono::system_clock::now() + std::chrono::minutes(1);
  };

  explicit FakeOperator(Options options) : options_(std::move(options)) {}
  FakeOperator() : FakeOperator(Options{}) {}
  ~FakeOperator() { Stop(); }

  // Serves on 127.0.0.1:`port` (0 = a free port; the same port again after Stop).
  Status Start(int port = 0) {
    Stop();
    HttpServerOptions server_options;
    server_options.tls_cert_file = options_.tls_cert_file;
    server_options.tls_key_file = options_.tls_key_file;
    auto server = std::make_unique<HttpServer>(server_options);
    Status routed =
        server->Route("POST", "/api/v1/probes/register",
                      [this](const HttpRequest& request, const HttpResponder& responder) {
                        responder.Send(Register(request));
                      });
    if (!routed.ok()) return routed;
    routed = server->Route("POST", "/api/v1/work/lease",
                           [this](const HttpRequest& request, const HttpResponder& responder) {
                             responder.Send(Lease(request));
                           });
    if (!routed.ok()) return routed;
    routed = server->Route("POST", "/api/v1/work/monitors",
                           [this](const HttpRequest& request, const HttpResponder& responder) {
                             responder.Send(MonitorSpecs(request));
                           });
    if (!routed.ok()) return routed;
    routed = server->Route("POST", "/api/v1/work/results",
                           [this](const HttpRequest& request, const HttpResponder& responder) {
                             responder.Send(Results(request));
                           });
    if (!routed.ok()) return routed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = false;
    }
    Status started = server->Start("127.0.0.1:" + std::to_string(port));
    if (!started.ok()) return started;
    server_ = std::move(server);
    return OkStatus();
  }

  // Stops serving: connections are refused until Start again. Long-polls end at once.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (server_) {
      server_->Stop();
      server_.reset();
    }
  }

  int port() const { return server_ ? server_->port() : 0; }
  std::string url() const { return server_ ? server_->base_url() : ""; }

  void AddMonitor(const std::string& uid, nlohmann::json object) {
    std::lock_guard<std::mutex> lock(mutex_);
    monitors_[uid] = std::move(object);
  }
  void Enqueue(Item item) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(item));
    }
    changed_.notify_all();
  }
  void SetToken(std::string token) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.token = std::move(token);
  }
  // Non-zero: every results request is answered with this status (an operator in trouble).
  // Hostile: every lease is answered at once with this body (200), queue untouched; "" = normal.
  void SetLeaseReplyBody(std::string body) {
    std::lock_guard<std::mutex> lock(mutex_);
    lease_reply_body_ = std::move(body);
  }
  // The largest `max` a lease asked for.
  size_t largest_lease_max() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return largest_lease_max_;
  }

  // Non-zero: every spec request is answered with this status.
  void SetMonitorsStatus(int status) {
    std::lock_guard<std::mutex> lock(mutex_);
    monitors_status_ = status;
  }
  // Spec requests answered (any status), and the uids they asked for, in order.
  int monitor_requests() const { return Read(monitor_requests_); }
  std::vector<std::string> monitor_uids_asked() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return monitor_uids_asked_;
  }

  void SetResultsStatus(int status) {
    std::lock_guard<std::mutex> lock(mutex_);
    results_status_ = status;
  }
  // Results for these items are answered in "rejected".
  void RejectItems(std::set<std::string> ids) {
    std::lock_guard<std::mutex> lock(mutex_);
    reject_ids_ = std::move(ids);
  }
  // A results request holding any of these items is refused whole with 400.
  void RefuseBatchesWith(std::set<std::string> ids) {
    std::lock_guard<std::mutex> lock(mutex_);
    bad_request_ids_ = std::move(ids);
  }

  std::map<std::string, nlohmann::json> stored() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stored_;
  }
  size_t stored_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stored_.size();
  }
  int duplicates() const { return Read(duplicates_); }
  int registrations() const { return Read(registrations_); }
  int leases() const { return Read(leases_); }
  int unauthorized() const { return Read(unauthorized_); }
  int too_large() const { return Read(too_large_); }
  int bad_requests() const { return Read(bad_requests_); }
  int results_requests() const { return Read(results_requests_); }
  size_t queued() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
  }
  // Sizes of the results requests that were stored (answered 200).
  std::vector<size_t> accepted_batch_sizes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return accepted_batch_sizes_;
  }
  nlohmann::json last_register_body() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_register_body_;
  }
  std::string last_user_agent() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_user_agent_;
  }

 private:
  int Read(const int& counter) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counter;
  }

  // REQUIRES: mutex_ held. The error response when the bearer token is wrong, else null.
  std::unique_ptr<HttpResponse> CheckToken(const HttpRequest& request) {
    last_user_agent_ = std::string(request.Header("User-Agent"));
    if (request.Header("Authorization") == "Bearer " + options_.token) return nullptr;
    ++unauthorized_;
    return std::make_unique<HttpResponse>(HttpResponse::Error(401, "invalid probe token"));
  }

  static bool IsProbe(const nlohmann::json& body) {
    return body.is_object() && body.contains("name") && body["name"].is_string() &&
           body.contains("region") && body["region"].is_string();
  }

  HttpResponse Register(const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto refused = CheckToken(request)) return *refused;
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!IsProbe(body) || !body.contains("capacity") || !body["capacity"].is_number_integer()) {
      ++bad_requests_;
      return HttpResponse::Error(400, "register: name, region and capacity are required");
    }
    ++registrations_;
    last_register_body_ = body;
    return HttpResponse::Json(
        200, nlohmann::json{{"name", body["name"]},
                            {"region", body["region"]},
                            {"leaseWaitMaxSeconds", options_.lease_wait_max_seconds},
                            {"resultBatchMax", options_.result_batch_max}}
                 .dump());
  }

  HttpResponse Lease(const HttpRequest& request) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (auto refused = CheckToken(request)) return *refused;
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!IsProbe(body) || !body.contains("max") || !body["max"].is_number_integer() ||
        body["max"].get<int>() < 1 || !body.contains("waitSeconds") ||
        !body["waitSeconds"].is_number_integer()) {
      ++bad_requests_;
      return HttpResponse::Error(400, "lease: name, region, max >= 1 and waitSeconds required");
    }
    ++leases_;
    largest_lease_max_ = std::max(largest_lease_max_, body["max"].get<size_t>());
    if (!lease_reply_body_.empty()) return HttpResponse::Json(200, lease_reply_body_);
    const std::string region = body["region"].get<std::string>();
    const int wait = std::min(body["waitSeconds"].get<int>(), options_.lease_wait_max_seconds);
    const auto has_work = [&] {
      if (stopping_) return true;
      for (const Item& item : queue_) {
        if (item.region == region) return true;
      }
      return false;
    };
    changed_.wait_for(lock, std::chrono::seconds(wait), has_work);
    if (stopping_) return HttpResponse::Error(503, "shutting down");
    const bool omit_specs = body.value("omitSpecs", false);
    nlohmann::json items = nlohmann::json::array();
    nlohmann::json monitors = nlohmann::json::object();
    const size_t max = options_.ignore_lease_max ? queue_.size() : body["max"].get<size_t>();
    for (auto it = queue_.begin(); it != queue_.end() && items.size() < max;) {
      if (it->region != region) {
        ++it;
        continue;
      }
      items.push_back({{"id", it->id},
                       {"monitorUid", it->monitor_uid},
                       {"generation", it->generation},
                       {"region", it->region},
                       {"scheduledAt", FormatRfc3339(it->scheduled_at)},
                       {"deadline", FormatRfc3339(it->deadline)},
                       {"attempt", 1},
                       {"leaseExpiresAt", FormatRfc3339(std::chrono::system_clock::now() +
                                                        std::chrono::seconds(30))}});
      auto monitor = monitors_.find(it->monitor_uid);
      if (monitor != monitors_.end()) {
        if (omit_specs) {
          items.back()["specVersion"] = VersionOf(monitor->second);
        } else {
          monitors[it->monitor_uid] = monitor->second;
        }
      }
      it = queue_.erase(it);
    }
    return HttpResponse::Json(200, nlohmann::json{{"items", items}, {"monitors", monitors}}.dump());
  }

  static std::string VersionOf(const nlohmann::json& object) {
    return std::to_string(std::hash<std::string>{}(object.dump()));
  }

  HttpResponse MonitorSpecs(const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto refused = CheckToken(request)) return *refused;
    ++monitor_requests_;
    if (monitors_status_ != 0) {
      return HttpResponse::Error(monitors_status_, "the operator is in trouble");
    }
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!IsProbe(body) || !body.contains("uids") || !body["uids"].is_array()) {
      ++bad_requests_;
      return HttpResponse::Error(400, "monitors: name, region and uids[] are required");
    }
    nlohmann::json monitors = nlohmann::json::object();
    nlohmann::json versions = nlohmann::json::object();
    for (const nlohmann::json& uid : body["uids"]) {
      if (!uid.is_string()) {
        ++bad_requests_;
        return HttpResponse::Error(400, "monitors: uids must be strings");
      }
      monitor_uids_asked_.push_back(uid.get<std::string>());
      const auto found = monitors_.find(uid.get<std::string>());
      if (found == monitors_.end()) continue;
      monitors[found->first] = found->second;
      versions[found->first] = VersionOf(found->second);
    }
    return HttpResponse::Json(
        200, nlohmann::json{{"monitors", monitors}, {"specVersions", versions}}.dump());
  }

  HttpResponse Results(const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto refused = CheckToken(request)) return *refused;
    ++results_requests_;
    if (results_status_ != 0) {
      return HttpResponse::Error(results_status_, "the store is unavailable");
    }
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!IsProbe(body) || !body.contains("results") || !body["results"].is_array()) {
      ++bad_requests_;
      return HttpResponse::Error(400, "results: name, region and results[] are required");
    }
    const nlohmann::json& results = body["results"];
    if (options_.max_results_per_request > 0 && results.size() > options_.max_results_per_request) {
      ++too_large_;
      return HttpResponse::Error(413, "request body too large");
    }
    for (size_t i = 0; i < results.size(); ++i) {
      const nlohmann::json& result = results[i];
      if (!result.is_object() || !result.contains("itemId") || !result["itemId"].is_string() ||
          !result.contains("outcome") || !result["outcome"].is_string() ||
          bad_request_ids_.count(result["itemId"].get<std::string>()) != 0) {
        ++bad_requests_;
        return HttpResponse::Error(400, "results[" + std::to_string(i) + "]: malformed result");
      }
    }
    nlohmann::json accepted = nlohmann::json::array();
    nlohmann::json duplicates = nlohmann::json::array();
    nlohmann::json rejected = nlohmann::json::array();
    for (const nlohmann::json& result : results) {
      const std::string id = result["itemId"].get<std::string>();
      if (reject_ids_.count(id) != 0) {
        rejected.push_back({{"id", id}, {"reason", "unknown monitor"}});
      } else if (stored_.count(id) != 0) {
        ++duplicates_;
        duplicates.push_back(id);
      } else {
        stored_[id] = result;
        accepted.push_back(id);
      }
    }
    accepted_batch_sizes_.push_back(results.size());
    return HttpResponse::Json(
        200,
        nlohmann::json{{"accepted", accepted}, {"duplicates", duplicates}, {"rejected", rejected}}
            .dump());
  }

  Options options_;  // token guarded by mutex_
  std::unique_ptr<HttpServer> server_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::map<std::string, nlohmann::json> monitors_;
  std::deque<Item> queue_;
  std::map<std::string, nlohmann::json> stored_;
  std::vector<size_t> accepted_batch_sizes_;
  std::set<std::string> reject_ids_;
  std::set<std::string> bad_request_ids_;
  int results_status_ = 0;
  int monitors_status_ = 0;
  int monitor_requests_ = 0;
  std::vector<std::string> monitor_uids_asked_;
  int duplicates_ = 0;
  int registrations_ = 0;
  int leases_ = 0;
  std::string lease_reply_body_;
  size_t largest_lease_max_ = 0;
  int unauthorized_ = 0;
  int too_large_ = 0;
  int bad_requests_ = 0;
  int results_requests_ = 0;
  nlohmann::json last_register_body_;
  std::string last_user_agent_;
};

// Polls `condition` until it holds or `timeout` passes; true when it held.
template <typename Condition>
bool WaitUntil(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace pharos::testing
