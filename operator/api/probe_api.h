#pragma once

// ProbeApi: the operator side of the probe protocol (docs/probe-protocol.md):
//   POST /api/v1/probes/register   registration (counts the probe as connected)
//   POST /api/v1/work/lease        long-poll for work items of the probe's region
//   POST /api/v1/work/monitors     the specs of monitors a probe lacks (by uid)
//   POST /api/v1/work/results      results, acknowledged only after they are committed
//   POST /api/v1/work/screenshots/lease    screenshot requests of the probe's region
//   POST /api/v1/work/screenshots/upload   a captured PNG (the body; name, region, id in the query)
//   POST /api/v1/work/screenshots/failed   why a capture failed
//
// * Authentication: "Authorization: Bearer TOKEN" checked against ProbeTokens before anything
//   else: missing or unknown token → 401, a token bound to another region → 403. Refusals are
//   logged with the peer address, never with the token. Without ProbeTokens every request gets
//   401 (only the in-process probe works).
// * Schema: the body must be a JSON object; malformed JSON or a field of the wrong type → 400
//   naming the field; more results than resultBatchMax → 413 (the server refuses bodies over
//   4 MiB with 413 before the handler runs).
// * Lease: WorkDispatcher::LeaseOrWait parks the request without holding a thread; it is
//   answered when items of the region are queued or after waitSeconds (≤ leaseWaitMaxSeconds)
//   with an empty list. The reply carries the Monitor spec (Kubernetes JSON) of every item, or,
//   when the request says `omitSpecs`, each item's `specVersion` only (the probe keeps specs
//   and asks /work/monitors for those it lacks); items of Service monitors carry the Service's
//   ready endpoints as known at that moment. A
//   probe that disconnects while parked has its wait cancelled at once, so no work is leased to
//   it (HttpResponder::OnClientGone).
// * Monitors: the specs and versions of up to lease_max_items uids (more → 413), each only if the
//   monitor is checked from the caller's region; others are left out of the reply.
// * Results: handed to ResultSink::Ingest; the reply (accepted, duplicates, rejected with a
//   reason) is sent from the commit callback. A result must name its work item (itemId) and the
//   probe's region. When nothing could be stored (store failure, shutdown, not the leader) the
//   answer is 503 with Retry-After, so the probe keeps the results and retries.
// * Screenshots (docs/probe-protocol.md#screenshots): requests come from the ScreenshotBroker
//   given to UseScreenshots, never wait (a probe polls) and are answered once, by the probe they
//   were leased to; without a broker a lease gets an empty list. An upload is at most
//   screenshot_max_bytes (413) and must be a PNG (400; the broker checks it).
// * Shutdown(): answers parked long-polls with an empty list and refuses new leases with 503.
//   Call it again after the HTTP server stopped (no handler running any more) so that no
//   long-poll parked meanwhile outlives the API.
//
// Handlers can be called directly (tests) with a Reply function instead of an HttpResponder.
// Thread-safety: handlers run concurrently on the server's threads; every method may be called
// from any thread. Lease replies may be sent from inside WorkDispatcher calls (under the
// Scheduler's lock): they take only leaf locks.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/bad_token_guard.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/api/probe_tokens.h"
#include "operator/control/result_sink.h"
#include "operator/control/screenshot_broker.h"
#include "operator/control/service_endpoint_source.h"
#include "operator/control/status_reader.h"
#include "operator/control/work_leaser.h"

namespace pharos {

class ProbeApi {
 public:
  struct Options {
    int lease_wait_max_seconds = 30;
    int lease_wait_default_seconds = 20;
    size_t lease_max_items = 1000;
    size_t lease_default_items = 100;
    // A parked lease is answered once it can take its `max` items, or this long after the first
    // item came due (WorkDispatcher::LeaseOrWait): a request costs the operator and the probe
    // far more than an item, so at hundreds of checks a second each carries tens of items.
    Millis lease_batch_wait = Millis(20);
    size_t result_batch_max = 500;
    // The cluster-wide target policy (CIDRs, already checked) sent with every lease reply as
    // `targetPolicy`; probes add it to their own --deny-cidr/--allow-cidr. Empty: none.
    std::vector<std::string> target_deny;
    std::vector<std::string> target_allow;
    // The ready endpoints of Service monitors (spec.target.service), written into each of their
    // items as `endpoints`; null: none (such items carry no endpoints). Must outlive the API.
    const ServiceEndpointSource* endpoints = nullptr;
    size_t screenshot_lease_max = 4;
    size_t screenshot_max_bytes = size_t{4} * 1024 * 1024;
  };
  using Reply = std::function<void(HttpResponse)>;
  // Called once a lease is parked, with the function that cancels it when its client is gone.
  using ClientGoneHook = std::function<void(std::function<void()> cancel)>;

  // `tokens` may be null (every request refused with 401). Leases come from `work`, results go
  // to `results`, the specs items carry from `specs`; clients that keep sending wrong tokens are
  // held back by `bad_tokens` (429). Every reference must outlive the API.
  ProbeApi(WorkLeaser& work, ResultSink& results, const StatusReader& specs, const Clock& clock,
           ProbeTokens* tokens, BadTokenGuard& bad_tokens, Options options);
  ~ProbeApi();  // Shutdown()
  ProbeApi(const ProbeApi&) = delete;
  ProbeApi& operator=(const ProbeApi&) = delete;

  // Adds the routes.
  Status Register(HttpServer& server);
  // Where screenshot requests come from and captures go; null (the default): none. Call before
  // the server starts; `broker` must outlive the API.
  void UseScreenshots(ScreenshotBroker* broker) { screenshots_ = broker; }

  void HandleRegister(const HttpRequest& request, const Reply& reply);
  void HandleLease(const HttpRequest& request, const Reply& reply);
  void HandleLease(const HttpRequest& request, const Reply& reply,
                   const ClientGoneHook& on_client_gone);
  void HandleMonitorSpecs(const HttpRequest& request, const Reply& reply);
  void HandleResults(const HttpRequest& request, const Reply& reply);
  void HandleScreenshotLease(const HttpRequest& request, const Reply& reply);
  void HandleScreenshotUpload(const HttpRequest& request, const Reply& reply);
  void HandleScreenshotFailed(const HttpRequest& request, const Reply& reply);

  void Shutdown();

  // Long-polls waiting right now.
  size_t parked_leases() const;

 private:
  struct Caller;
  struct ParkedLease {
    WorkLeaser::WaiterId waiter = 0;
    Reply reply;
  };

  // Authenticates and parses the common part of a request (name and region from the JSON body,
  // or from the query when the body is not JSON); on failure it has replied.
  std::optional<Caller> Admit(const HttpRequest& request, const Reply& reply, const char* what,
                              bool json_body = true) const;
  HttpResponse LeaseResponse(const std::vector<WorkItem>& items, bool omit_specs) const;
  void Unpark(uint64_t key);

  WorkLeaser& work_;
  ResultSink& results_;
  const StatusReader& specs_;
  const Clock& clock_;
  ProbeTokens* const tokens_;
  BadTokenGuard& bad_tokens_;
  const Options options_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<ScreenshotBroker*> screenshots_{nullptr};

  mutable Mutex parked_mu_;  // leaf lock
  uint64_t next_parked_ GUARDED_BY(parked_mu_) = 1;
  std::map<uint64_t, ParkedLease> parked_ GUARDED_BY(parked_mu_);
};

}  // namespace pharos
