#pragma once

// MonitorRuntime: everything OperatorCore keeps about one monitor — the spec in force, its state
// machine, its latest uptime/latency summary, the certificate expiries its regions saw — and the
// two views other parts read of it: the MonitorStatus (Monitor.status, the JSON API) and the
// metrics view (/metrics). Kept small: there is one per monitor (tens of thousands), so
// per-region data lives in short vectors rather than maps; 112 bytes, one allocation of
// jemalloc's 112-byte class.
// Thread-safety: none; OperatorCore guards every runtime with its state lock.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/check_result.h"
#include "common/heap_optional.h"
#include "common/monitor.h"
#include "operator/control/monitor_state_machine.h"
#include "operator/control/monitor_status.h"
#include "operator/control/operator_metrics.h"
#include "operator/control/summary_figures.h"

namespace pharos {

struct MonitorRuntime {
  // When the certificate each region last saw expires (the earliest of its chain).
  using CertificateExpiries = std::vector<std::pair<std::string, TimePoint>>;
  // The addresses (resolve: all, Service endpoints) whose check failed in each region's last
  // result that was judged; regions without a failing address are not listed.
  using FailingAddresses = std::vector<std::pair<std::string, std::vector<std::string>>>;
  struct RegionFindings {
    CertificateExpiries certificate_expiry;
    FailingAddresses failing_addresses;
  };

  std::shared_ptr<const Monitor> monitor;
  std::unique_ptr<MonitorStateMachine> machine;
  TimePoint saved_at{};
  // What the regions' results showed besides the state; absent until a certificate is seen or
  // an address fails (one pointer while absent: most monitors never need it).
  HeapOptional<RegionFindings> findings;
  std::optional<TimePoint> incident_since;
  SummaryFigures summary;  // valid when has_summary
  TimePoint summary_at{};
  bool has_summary = false;
  bool invalid = false;
  bool state_dirty = false;  // changed since last saved
  bool summary_dirty = true;

  MonitorIdentity identity() const { return MonitorIdentity::Of(*monitor); }
  // Remembers the earliest notAfter the target served in the result's region (chain first,
  // else leaf).
  void RememberCertificate(const CheckResult& result);
  // Remembers which addresses failed (were down) in the result's region: the labels of its
  // address results ("10.1.2.3:8080 (orders-7d9f)"), at most kMaxFailingAddresses. A result
  // that checked no address but was judged (a Service without ready endpoints) clears them; a
  // probe error (outcome error) leaves them as they were.
  void RememberFailingAddresses(const CheckResult& result);
  static constexpr size_t kMaxFailingAddresses = 32;
  // Forgets the certificates of regions not in `regions`.
  void KeepCertificateRegions(const std::vector<std::string>& regions);

  MonitorStatus Status() const;
  OperatorMetrics::MonitorView MetricsView() const;
};

}  // namespace pharos
