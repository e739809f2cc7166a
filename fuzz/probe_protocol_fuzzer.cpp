// Fuzz target: the probe protocol's documents (docs/probe-protocol.md), both ends.
// * The probe reads the operator's replies: register, lease (work items and Monitor specs) and
//   results acknowledgements, and every Monitor spec of a lease is validated as the probe does.
// * The operator reads the probe's requests: register, lease and result batches, through
//   ProbeApi's handlers with in-memory doubles behind its interfaces (a leaser that hands out
//   items at once, a sink that accepts every result).
// Input: one byte choosing the document, then the JSON text.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/check_result_json.h"
#include "common/logging.h"
#include "common/manual_clock.h"
#include "common/monitor_loader.h"
#include "operator/api/probe_api.h"
#include "operator/control/monitor_spec_index.h"
#include "operator/control/result_sink.h"
#include "operator/control/status_reader.h"
#include "operator/control/work_leaser.h"
#include "probe/probe_protocol.h"

namespace pharos {
namespace {

constexpr const char* kToken = "fuzz-token";

// Hands out one item of the monitor `StatusReader` knows, at once.
class InstantLeaser final : public WorkLeaser {
 public:
  bool accepting_work() const override { return true; }
  WaiterId LeaseOrWait(const std::string& region, const std::string&, size_t max_items, Millis,
                       Millis, LeaseCallback done) override {
    std::vector<WorkItem> items;
    if (max_items > 0) {
      WorkItem item;
      item.id = "uid-1@" + region + "@0";
      item.monitor_uid = "uid-1";
      item.region = region;
      item.timeout = Millis(10'000);
      items.push_back(item);
    }
    done(std::move(items));
    return 0;
  }
  bool CancelWait(WaiterId) override { return false; }
  void TouchProbe(const std::string&, const std::string&) override {}
  Millis lease_grace() const override { return Millis(5'000); }
  const Clock& schedule_clock() const override { return clock_; }

 private:
  SystemClock clock_;
};

class AcceptingSink final : public ResultSink {
 public:
  void Ingest(std::vector<CheckResult> results, IngestDone done) override {
    IngestReport report;
    for (const CheckResult& result : results) {
      report.outcomes.push_back({IngestOutcome::Kind::kAccepted, result.item_id, ""});
    }
    done(std::move(report));
  }
};

class OneMonitorReader final : public StatusReader {
 public:
  static constexpr const char* kMonitorText =
      R"({"apiVersion":"pharos.dev/v1alpha1","kind":"Monitor","metadata":{"name":"m",)"
      R"("namespace":"default","uid":"uid-1"},"spec":{"type":"http","frequency":"30s",)"
      R"("http":{"url":"http://127.0.0.1/"}}})";

  std::optional<MonitorStatus> Snapshot(const std::string&) override { return std::nullopt; }
  std::optional<MonitorStatus> SnapshotByKey(const std::string&, const std::string&) override {
    return std::nullopt;
  }
  std::vector<MonitorStatus> SnapshotAll() override { return {}; }
  std::shared_ptr<const Monitor> MonitorSpec(const std::string& uid) const override {
    if (uid != "uid-1") {
      return nullptr;
    }
    auto monitor = std::make_shared<Monitor>();
    monitor->uid = uid;
    return monitor;
  }
  std::shared_ptr<const std::string> MonitorJsonText(const std::string& uid) const override {
    if (uid != "uid-1") {
      return nullptr;
    }
    return std::make_shared<const std::string>(kMonitorText);
  }
  std::optional<uint64_t> MonitorSpecVersion(const std::string& uid) const override {
    if (uid != "uid-1") {
      return std::nullopt;
    }
    return MonitorSpecIndex::SpecVersion(kMonitorText);
  }
  bool Ready(std::string*) const override { return true; }
};

struct Operator {
  Operator() {
    char path[] = "/tmp/pharos-fuzz-tokens-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0 || write(fd, kToken, std::char_traits<char>::length(kToken)) < 0) {
      std::abort();
    }
    close(fd);
    auto loaded = ProbeTokens::Load(path);
    unlink(path);
    if (!loaded.ok()) {
      std::abort();
    }
    tokens = std::move(loaded).value();
    api = std::make_unique<ProbeApi>(leaser, sink, reader, clock, tokens.get(), bad_tokens,
                                     ProbeApi::Options{});
  }

  InstantLeaser leaser;
  AcceptingSink sink;
  OneMonitorReader reader;
  ManualClock clock;
  std::unique_ptr<ProbeTokens> tokens;
  MetricsRegistry registry{MetricsRegistry::Options{}};
  // Every input comes from one address: an allowance it never uses up keeps them all reaching
  // the parsers.
  BadTokenGuard bad_tokens{clock, registry, {.burst = 1 << 30}};
  std::unique_ptr<ProbeApi> api;
};

Operator& TheOperator() {
  // Lives until exit, never destroyed: handlers may hold it.
  static Operator* instance = new Operator();  // NOLINT(cppcoreguidelines-owning-memory)
  return *instance;
}

void CallOperator(void (ProbeApi::*handler)(const HttpRequest&, const ProbeApi::Reply&),
                  std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.body = std::move(body);
  request.headers["Authorization"] = std::string("Bearer ") + kToken;
  request.remote_address = "127.0.0.1";
  int replies = 0;
  (TheOperator().api.get()->*handler)(request, [&replies](const HttpResponse& response) {
    ++replies;
    if (response.status >= 500 || !nlohmann::json::accept(response.body)) {
      std::abort();  // a probe's request is answered 2xx/4xx with a JSON body, never 5xx
    }
  });
  if (replies != 1) {
    std::abort();  // every request is answered exactly once (the doubles answer at once)
  }
}

void ReadLeaseReply(const nlohmann::json& json) {
  Result<LeaseReply> reply = ParseLeaseReply(json);
  if (!reply.ok()) {
    return;
  }
  for (const auto& [uid, object] : reply->monitors.items()) {
    std::vector<ValidationError> errors;
    (void)MonitorFromApiObject(object, &errors);
  }
  (void)ParseMonitorSpecsReply(json);
}

}  // namespace
}  // namespace pharos

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pharos::SetupLogging({.level = pharos::LogLevel::kOff});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using pharos::ProbeApi;
  if (size == 0) {
    return 0;
  }
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  switch (data[0] % 7) {
    case 0:
      (void)pharos::ParseRegisterReply(json);
      break;
    case 1:
      pharos::ReadLeaseReply(json);
      break;
    case 2:
      (void)pharos::ParseResultsReply(json);
      break;
    case 3:
      (void)pharos::CheckResultFromJson(json);
      break;
    case 4:
      pharos::CallOperator(&ProbeApi::HandleRegister, std::move(text));
      break;
    case 5:
      pharos::CallOperator(&ProbeApi::HandleMonitorSpecs, text);
      pharos::CallOperator(&ProbeApi::HandleLease, std::move(text));
      break;
    case 6:
      pharos::CallOperator(&ProbeApi::HandleResults, std::move(text));
      break;
  }
  return 0;
}
