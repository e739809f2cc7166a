#pragma once

// The messages of the probe protocol (docs/probe-protocol.md) as the probe sends and reads them.
// Replies are read leniently where the protocol allows it (unknown fields are ignored, absent
// optional fields keep their defaults) and strictly where a wrong value would make the probe
// misbehave (a field of the wrong type is an error naming the field).
// Thread-safety: value types and free functions.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/service_endpoint.h"
#include "common/target_policy.h"

namespace pharos {

struct ProbeIdentity {
  std::string name;
  std::string region;
  std::string version;
};

// POST /api/v1/probes/register
struct RegisterReply {
  int lease_wait_max_seconds = 30;
  size_t result_batch_max = 500;
};

// One work item of a lease.
struct LeaseItem {
  std::string id;
  std::string monitor_uid;
  int64_t generation = 0;
  std::string region;
  std::chrono::system_clock::time_point scheduled_at{};
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::optional<std::chrono::system_clock::time_point> lease_expires_at;
  int attempt = 1;
  // The ready endpoints of the monitor's Service (spec.target.service) as the operator knows
  // them when leasing; nullopt when the item carries none (not a Service monitor, or the
  // operator has not read the Service's EndpointSlices yet).
  std::optional<std::vector<ServiceEndpoint>> endpoints;
  // The version of the monitor's spec (opaque, 1-64 characters) when the reply leaves the spec
  // out (the lease asked with omitSpecs); empty when the reply carries the spec itself.
  std::string spec_version;
};

// POST /api/v1/work/lease
struct LeaseReply {
  std::vector<LeaseItem> items;
  nlohmann::json monitors = nlohmann::json::object();  // uid → Monitor API object
  // Items that could not be read (no usable id), one message each; they cannot be answered.
  std::vector<std::string> unreadable_items;
  // Operator clock − probe clock, from the reply's Date header, when they differ by more than
  // that header's one-second resolution; 0 otherwise.
  std::chrono::milliseconds clock_offset{0};
  // The operator's cluster-wide target policy (`targetPolicy`), added to the probe's own; the
  // defaults alone when the reply has none.
  TargetPolicy cluster_policy;
};

struct RejectedResult {
  std::string id;
  std::string reason;
};

// POST /api/v1/work/monitors: the specs of the monitors asked for that the operator still has
// and checks from the probe's region, each with its version.
struct MonitorSpecsReply {
  nlohmann::json monitors = nlohmann::json::object();  // uid → Monitor API object
  std::map<std::string, std::string> versions;         // uid → spec version
};

// POST /api/v1/work/results
struct ResultsReply {
  std::vector<std::string> accepted;
  std::vector<std::string> duplicates;
  std::vector<RejectedResult> rejected;
};

// One request of POST /api/v1/work/screenshots/lease: a capture of `url` for an incident.
struct ScreenshotLeaseItem {
  std::string id;   // 1-64 of [0-9a-f]: it goes into the upload's query unescaped
  std::string url;  // http:// or https://
  std::string monitor;
  std::string incident;
  std::string moment;
  // The reply's `targetPolicy` (the operator's cluster-wide policy), the same for every item;
  // the screenshot browser obeys it on top of the probe's own.
  TargetPolicy cluster_policy;
};

std::string RegisterRequestBody(const ProbeIdentity& probe, size_t capacity);
// Asks for items without their specs (omitSpecs): the probe keeps specs by version and fetches
// those it lacks with MonitorSpecsRequestBody.
std::string LeaseRequestBody(const ProbeIdentity& probe, size_t max_items, int wait_seconds);
std::string MonitorSpecsRequestBody(const ProbeIdentity& probe,
                                    const std::vector<std::string>& uids);
// `results`: each a serialized CheckResult JSON object (see common/check_result_json.h).
std::string ResultsRequestBody(const ProbeIdentity& probe, const std::vector<std::string>& results);

std::string ScreenshotLeaseRequestBody(const ProbeIdentity& probe, size_t max);
std::string ScreenshotFailedRequestBody(const ProbeIdentity& probe, const std::string& id,
                                        const std::string& error);
// The query of POST /api/v1/work/screenshots/upload (its body is the PNG): "?name=&region=&id=".
std::string ScreenshotUploadQuery(const ProbeIdentity& probe, const std::string& id);

Result<RegisterReply> ParseRegisterReply(const nlohmann::json& json);
Result<LeaseReply> ParseLeaseReply(const nlohmann::json& json);
Result<ResultsReply> ParseResultsReply(const nlohmann::json& json);
// Every monitor must come with its version (an error names the first that does not).
Result<MonitorSpecsReply> ParseMonitorSpecsReply(const nlohmann::json& json);
// {"requests": [...]}: every request must be usable (an error names the first that is not).
Result<std::vector<ScreenshotLeaseItem>> ParseScreenshotLeaseReply(const nlohmann::json& json);

}  // namespace pharos
