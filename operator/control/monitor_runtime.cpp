#include "operator/control/monitor_runtime.h"

#include <algorithm>

namespace pharos {
namespace {

std::optional<double> Ratio(std::optional<double> percent) {
  if (percent) {
    return *percent / 100.0;
  }
  return std::nullopt;
}

}  // namespace

void MonitorRuntime::RememberCertificate(const CheckResult& result) {
  std::optional<TimePoint> served =
      result.cert_earliest_expiry ? result.cert_earliest_expiry : result.cert_expiry;
  if (!served) {
    return;
  }
  if (!findings) {
    findings.emplace();
  }
  for (auto& [region, at] : findings->certificate_expiry) {
    if (region == result.region) {
      at = *served;
      return;
    }
  }
  findings->certificate_expiry.emplace_back(result.region, *served);
}

void MonitorRuntime::RememberFailingAddresses(const CheckResult& result) {
  if (result.outcome == Outcome::kError) {
    return;
  }
  std::vector<std::string> failing;
  for (const AddressResult& address : result.addresses) {
    if (address.outcome == Outcome::kDown && failing.size() < kMaxFailingAddresses) {
      failing.push_back(address.Label());
    }
  }
  if (!findings) {
    if (failing.empty()) {
      return;
    }
    findings.emplace();
  }
  FailingAddresses& regions = findings->failing_addresses;
  auto region = std::find_if(regions.begin(), regions.end(),
                             [&](const auto& entry) { return entry.first == result.region; });
  if (!failing.empty()) {
    if (region != regions.end()) {
      region->second = std::move(failing);
    } else {
      regions.emplace_back(result.region, std::move(failing));
    }
    return;
  }
  if (region != regions.end()) {
    regions.erase(region);
  }
  if (regions.empty() && findings->certificate_expiry.empty()) {
    findings.reset();
  }
}

void MonitorRuntime::KeepCertificateRegions(const std::vector<std::string>& regions) {
  if (findings) {
    std::erase_if(findings->certificate_expiry, [&](const auto& expiry) {
      return std::find(regions.begin(), regions.end(), expiry.first) == regions.end();
    });
  }
}

MonitorStatus MonitorRuntime::Status() const {
  const MonitorProgress& progress = machine->progress();
  MonitorStatus status;
  status.monitor = monitor;
  status.state = progress.state;
  status.last_transition_time = progress.since;
  status.reason = progress.reason;
  for (const RegionStateSnapshot& region : progress.regions) {
    RegionStatus out;
    out.name = region.region;
    out.state = region.state;
    out.last_check_time = region.last_check_at;
    out.latency_us = region.latency_us;
    out.status_code = region.status_code;
    out.message = region.probe_error ? "probe error: " + region.probe_error_message.str()
                                     : region.message.str();
    if (findings) {
      for (const auto& [name, addresses] : findings->failing_addresses) {
        if (name == region.region) {
          out.failing_addresses = addresses;
        }
      }
    }
    if (region.last_check_at &&
        (!status.last_check_time || *region.last_check_at > *status.last_check_time)) {
      status.last_check_time = region.last_check_at;
    }
    status.regions.push_back(std::move(out));
  }
  if (!progress.open_incident_id.empty()) {
    status.incident =
        IncidentStatus{progress.open_incident_id, incident_since.value_or(progress.since)};
  }
  if (has_summary) {
    status.uptime_24h = summary.uptime_24h_percent();
    status.uptime_7d = summary.uptime_7d_percent();
    status.uptime_30d = summary.uptime_30d_percent();
    status.latency_p50_us = summary.latency_p50_us();
    status.latency_p95_us = summary.latency_p95_us();
  }
  return status;
}

OperatorMetrics::MonitorView MonitorRuntime::MetricsView() const {
  OperatorMetrics::MonitorView view;
  const MonitorProgress& progress = machine->progress();
  view.namespace_name = monitor->namespace_name;
  view.name = monitor->name;
  view.state = progress.state;
  view.http = monitor->type == MonitorType::kHttp;
  for (const RegionStateSnapshot& region : progress.regions) {
    if (region.state != MonitorState::kPending) {
      view.status_codes.emplace_back(region.region, region.status_code);
    }
  }
  if (has_summary) {
    view.uptime_24h = Ratio(summary.uptime_24h_percent());
    view.uptime_7d = Ratio(summary.uptime_7d_percent());
    view.uptime_30d = Ratio(summary.uptime_30d_percent());
  }
  if (findings) {
    for (const auto& [region, expiry] : findings->certificate_expiry) {
      if (!view.certificate_expiry || expiry < *view.certificate_expiry) {
        view.certificate_expiry = expiry;
      }
    }
  }
  view.incident_open = !progress.open_incident_id.empty();
  return view;
}

}  // namespace pharos
