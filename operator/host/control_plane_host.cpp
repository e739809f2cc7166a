#include "operator/host/control_plane_host.h"

#include <algorithm>
#include <utility>

#include "operator/storage/sqlite_result_store.h"

namespace pharos {

ControlPlaneHost::ControlPlaneHost(Key, HttpServerOptions http)
    : status_writes_(registry_.AddCounter("pharos_status_writes_total",
                                          "Writes of Monitor.status to the Kubernetes API.",
                                          {"result"})),
      server_(std::move(http)) {
  for (const char* result : {"ok", "conflict", "error"}) {
    status_writes_.WithLabels({result});
  }
}

void ControlPlaneHost::CountStatusWrite(std::string_view result) {
  const std::string label = result == "ok" || result == "conflict" ? std::string(result) : "error";
  status_writes_.WithLabels({label}).Inc();
}

Result<std::unique_ptr<ControlPlaneHost>> ControlPlaneHost::Open(const Clock& clock,
                                                                 ProbeTokens* tokens,
                                                                 Options options) {
  auto host = std::make_unique<ControlPlaneHost>(Key{}, options.http);
  SqliteResultStore::Options store_options;
  store_options.path = options.db_path;
  store_options.raw_retention = options.retention;
  store_options.hourly_retention =
      std::max(store_options.hourly_retention, store_options.raw_retention);
  store_options.daily_retention =
      std::max(store_options.daily_retention, store_options.raw_retention);
  Result<std::unique_ptr<SqliteResultStore>> store = SqliteResultStore::Open(store_options);
  if (!store) {
    return Error{"opening the database " + options.db_path + " (--db): " + store.error()};
  }
  host->sqlite_store_ = std::move(store).value();
  host->store_ = host->sqlite_store_.get();
  if (options.clickhouse) {
    // Summaries come from ClickHouse: larger calls cost it less per monitor.
    options.core.summary_batch = options.clickhouse->summary_batch;
    options.core.summary_pause = options.clickhouse->summary_pause;
    Result<std::unique_ptr<ClickHouseAnalytics>> analytics =
        ClickHouseAnalytics::Open(*options.clickhouse, clock, host->registry_);
    if (!analytics) return Error{analytics.error(), analytics.error_kind()};
    host->analytics_ = std::move(analytics).value();
    host->analytics_store_ = host->analytics_->Wrap(*host->sqlite_store_);
    host->store_ = host->analytics_store_.get();
  }
  Result<std::unique_ptr<OperatorCore>> core =
      OperatorCore::Create(clock, *host->store_, host->registry_, std::move(options.core));
  if (!core) {
    return Error{core.error()};
  }
  host->core_ = std::move(core).value();
  OperatorCore& front = *host->core_;
  host->json_api_ =
      std::make_unique<JsonApi>(front, *host->store_, host->registry_, clock, &host->push_tokens_);
  host->bad_tokens_ = std::make_unique<BadTokenGuard>(clock, host->registry_);
  host->push_api_ = std::make_unique<PushApi>(host->push_tokens_, front, *host->bad_tokens_);
  if (Status routed = host->push_api_->Register(host->server_); !routed) {
    return Error{routed.error()};
  }
  host->probe_api_ = std::make_unique<ProbeApi>(front, front, front, clock, tokens,
                                                *host->bad_tokens_, options.probe_api);
  if (Status routed = host->json_api_->Register(host->server_); !routed) {
    return Error{routed.error()};
  }
  if (Status routed = host->probe_api_->Register(host->server_); !routed) {
    return Error{routed.error()};
  }
  return host;
}

ControlPlaneHost::~ControlPlaneHost() { Stop(); }

Status ControlPlaneHost::Route(std::string_view method, std::string_view pattern,
                               HttpHandler handler) {
  return server_.Route(method, pattern, std::move(handler));
}

Status ControlPlaneHost::Start(const std::string& listen) {
  if (Status listening = server_.Start(listen); !listening) {
    return Error{"cannot listen on " + listen + ": " + listening.error()};
  }
  server_metrics_ =
      registry_.AddCollector([this](MetricsWriter& writer) { server_.CollectMetrics(writer); });
  core_->Start();
  return OkStatus();
}

void ControlPlaneHost::BeginShutdown() { probe_api_->Shutdown(); }

void ControlPlaneHost::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (probe_api_) {
    probe_api_->Shutdown();
  }
  if (core_) {
    core_->Stop();
  }
  if (analytics_) {
    analytics_->Stop();  // after the core's last commit
  }
  if (server_metrics_ != 0) {
    registry_.RemoveCollector(server_metrics_);
  }
  server_.Stop();
  if (probe_api_) {
    probe_api_->Shutdown();  // long-polls parked while the server was stopping
  }
}

}  // namespace pharos
