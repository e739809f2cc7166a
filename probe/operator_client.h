#pragma once

// OperatorClient: the probe's side of the probe protocol (docs/probe-protocol.md): register,
// lease (long-poll) and results, as JSON over HTTP(S) with libcurl.
//
// * Every request carries `Authorization: Bearer <token>` read from the token file (TokenFile:
//   re-read when the file changes, so a rotated Secret is picked up). The token is never logged
//   and never appears in an error message.
// * TLS to the operator is used for https URLs; `ca_file` adds the CA that signed the operator's
//   certificate; `insecure_skip_verify` turns verification off (for tests).
// * Calls return the reply or an OperatorError whose kind tells the caller what to do:
//   kConfiguration (401, 403, 404, 405, a redirect, a TLS verification failure, an unreadable
//   token file: a person must fix something; retry slowly), kBadRequest (400 and other 4xx: the
//   operator refuses this request as it is), kTooLarge (413: send less), kUnavailable (5xx, 408,
//   429, connection errors, timeouts, a reply that is not the expected JSON: retry with backoff),
//   kCancelled (the stop token fired).
// * Register and results time out after `request_timeout`; a lease after its waitSeconds +
//   `lease_margin`, since the operator may legitimately hold it that long.
// * A call in progress ends at once when its std::stop_token is triggered (the libcurl multi
//   handle is woken), which is how a probe that is asked to stop abandons its long-poll.
// * Connections are kept alive and reused: each call borrows an idle libcurl handle (one per
//   concurrent caller, in practice one for the lease loop and one for the report loop).
//
// Thread-safety: all methods may be called concurrently from any thread.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/cancellable_transfer.h"
#include "common/mutex.h"
#include "probe/probe_protocol.h"
#include "probe/token_file.h"

namespace pharos {

enum class OperatorErrorKind {
  kConfiguration,
  kBadRequest,
  kTooLarge,
  kUnavailable,
  kCancelled,
};
const char* ToString(OperatorErrorKind kind);

struct OperatorError {
  OperatorErrorKind kind = OperatorErrorKind::kUnavailable;
  int http_status = 0;  // 0 when there was no HTTP answer
  std::string message;  // what happened and, for kConfiguration, what to fix
};

// The reply of one call: `value` on success, else `error`.
template <typename T>
struct OperatorReply {
  std::optional<T> value;
  OperatorError error;
  bool ok() const { return value.has_value(); }
};

class OperatorClient {
 public:
  struct Options {
    std::string operator_url;  // "http://pharos-operator.pharos:8080" (a path prefix is kept)
    std::string token_file;
    std::string ca_file;  // PEM; empty = the system store
    bool insecure_skip_verify = false;
    ProbeIdentity probe;
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{30'000};
    std::chrono::milliseconds lease_margin{10'000};
    size_t max_reply_bytes = size_t{256} * 1024 * 1024;
    // A lease reply for N items may hold at most lease_reply_base_bytes + N ×
    // lease_reply_item_bytes (and never more than max_reply_bytes): an operator sending far
    // more than asked for is cut off early instead of buffered.
    size_t lease_reply_base_bytes = size_t{4} * 1024 * 1024;
    size_t lease_reply_item_bytes = size_t{64} * 1024;
  };

  explicit OperatorClient(Options options);
  ~OperatorClient();
  OperatorClient(const OperatorClient&) = delete;
  OperatorClient& operator=(const OperatorClient&) = delete;

  OperatorReply<RegisterReply> Register(size_t capacity, const std::stop_token& stop = {});
  OperatorReply<LeaseReply> Lease(size_t max_items, int wait_seconds,
                                  const std::stop_token& stop = {});
  // The specs of `uids` (at most as many as a lease may carry) that the operator still has for
  // this probe's region, each with its version.
  OperatorReply<MonitorSpecsReply> FetchMonitorSpecs(const std::vector<std::string>& uids,
                                                     const std::stop_token& stop = {});
  // `results`: serialized CheckResult JSON objects.
  OperatorReply<ResultsReply> SendResults(const std::vector<std::string>& results,
                                          const std::stop_token& stop = {});

  // Screenshots on downtime (docs/probe-protocol.md#screenshots), for probes with a screenshot
  // sidecar: up to `max` requests of this probe's region (answered at once, never parked).
  OperatorReply<std::vector<ScreenshotLeaseItem>> LeaseScreenshots(
      size_t max, const std::stop_token& stop = {});
  // The PNG captured for request `id`; the reply is the screenshot's URL on the operator.
  OperatorReply<std::string> UploadScreenshot(const std::string& id, const std::string& png,
                                              const std::stop_token& stop = {});
  // Why the capture for request `id` failed (recorded on the incident).
  OperatorReply<bool> ReportScreenshotFailure(const std::string& id, const std::string& error,
                                              const std::stop_token& stop = {});

  const Options& options() const { return options_; }

 private:
  using Handle = CancellableTransfer;
  struct HttpReply {
    long status = 0;
    std::string body;
    std::string date;  // the Date header, if any
  };

  // POSTs `body` to `path`; any HTTP status is a success here, classified by the callers.
  // Replies longer than `max_reply_bytes` are cut off as soon as they pass it and are errors.
  OperatorReply<HttpReply> Post(const std::string& path, const std::string& body,
                                std::chrono::milliseconds timeout, const std::stop_token& stop,
                                size_t max_reply_bytes,
                                const std::string& content_type = "application/json");
  // Non-2xx statuses (and 2xx bodies that are not JSON) as errors; else the parsed body.
  OperatorReply<nlohmann::json> Call(const std::string& what, const std::string& path,
                                     const std::string& body, std::chrono::milliseconds timeout,
                                     const std::stop_token& stop, HttpReply* raw = nullptr,
                                     size_t max_reply_bytes = 0,  // 0 = options' limit
                                     const std::string& content_type = "application/json");
  size_t LeaseReplyLimit(size_t max_items) const;
  // A call's parsed JSON reply read by `parse`; a reply it refuses is kUnavailable.
  template <typename T, typename Parse>
  static OperatorReply<T> Parsed(OperatorReply<nlohmann::json> json, Parse parse) {
    OperatorReply<T> reply;
    if (!json.ok()) {
      reply.error = std::move(json.error);
      return reply;
    }
    Result<T> parsed = parse(*json.value);
    if (!parsed.ok()) {
      reply.error = {OperatorErrorKind::kUnavailable, 200, parsed.error()};
      return reply;
    }
    reply.value = std::move(parsed).value();
    return reply;
  }
  OperatorError StatusError(const std::string& what, const std::string& path,
                            const HttpReply& reply) const;

  std::unique_ptr<Handle> AcquireHandle();
  void ReleaseHandle(std::unique_ptr<Handle> handle);

  const Options options_;
  const std::string base_url_;  // without a trailing '/'
  TokenFile token_;
  Mutex pool_mutex_;
  std::vector<std::unique_ptr<Handle>> idle_handles_ GUARDED_BY(pool_mutex_);
};

}  // namespace pharos
