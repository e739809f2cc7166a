#pragma once

// MonitorValidator: the rules a parsed Monitor must follow beyond its shape
// (docs/monitor-reference.md): ranges, name and URL syntax, timeout ≤ frequency, the block matching
// spec.type, assertions that make sense for the monitor type, regular expressions and JSONPaths
// that compile. Fields the parser already reported are skipped, so each mistake is reported once.
// Thread-safety: stateless apart from one Validate call; use one instance per call.

#include <string>
#include <vector>

#include "common/field_locations.h"
#include "common/monitor.h"
#include "common/monitor_loader.h"

namespace pharos {

class MonitorValidator {
 public:
  // Limits users can hit (documented in docs/monitor-reference.md). They are the CRD's
  // (crds/monitors.pharos.dev.yaml): lengths count characters (Unicode code points), as the
  // API server's maxLength does; tests/e2e/test_crd_validation.py checks both at each limit.
  static constexpr size_t kMaxUrlLength = 2048;
  static constexpr size_t kMaxHeaders = 20;
  static constexpr size_t kMaxHeaderNameLength = 256;
  static constexpr size_t kMaxHeaderValueLength = 8192;
  static constexpr size_t kMaxBodyLength = 65536;
  static constexpr size_t kMaxAssertions = 50;
  static constexpr size_t kMaxAssertionNameLength = 256;
  static constexpr size_t kMaxAssertionPathLength = 512;
  static constexpr size_t kMaxAssertionValueLength = 4096;
  static constexpr size_t kMaxRegions = 32;
  static constexpr size_t kMaxChannels = 16;
  static constexpr int kMaxRetries = 10;
  static constexpr int kMaxThreshold = 100;
  static constexpr size_t kMaxConversationSteps = 32;
  static constexpr size_t kMaxSendLength = 4096;
  static constexpr size_t kMaxExpectLength = 1024;
  static constexpr int kMaxIcmpCount = 100;
  static constexpr int kMaxIcmpPacketSize = 65500;
  static constexpr Millis kMinIcmpInterval = Millis(10);
  static constexpr Millis kMaxIcmpInterval = Millis(60'000);
  static constexpr size_t kMaxGrpcServiceLength = 256;
  static constexpr size_t kMaxGrpcMetadata = 20;
  static constexpr Millis kMinPushInterval = Millis(1'000);
  static constexpr Millis kMaxPushInterval = Millis(31LL * 24 * 3'600'000);
  static constexpr Millis kMaxPushGrace = Millis(7LL * 24 * 3'600'000);
  static constexpr size_t kMaxServicePathLength = 2048;
  static constexpr Millis kMinRemindEvery{60'000};
  static constexpr Millis kMaxRemindEvery{168LL * 3'600'000};

  MonitorValidator(const Monitor& monitor, const FieldLocations& fields,
                   std::vector<ValidationError>* errors)
      : monitor_(monitor), fields_(fields), errors_(*errors) {}

  // Appends one error per broken rule.
  void Validate();

 private:
  void ValidateMetadata();
  void ValidateTiming();
  void ValidateRegions();
  void ValidateBlocks();
  void ValidateHttp(const HttpSpec& http);
  void ValidateTcp(const TcpSpec& tcp);
  void ValidateDns(const DnsSpec& dns);
  void ValidateIcmp(const IcmpSpec& icmp);
  void ValidateGrpc(const GrpcSpec& grpc);
  void ValidatePush(const PushSpec& push);
  void ValidateService(const ServiceTarget& service);
  void ValidateConversation(const TcpSpec& tcp);
  // The target's own host field must be left out when a Service is named, and resolve too.
  void ValidateNoTargetFields(const std::vector<std::string>& fields);
  void ValidateHost(const std::string& host, const std::string& path);
  void ValidateServerName(const TlsOptions& tls, const std::string& path);
  void ValidateAssertions();
  void ValidateAssertion(const Assertion& assertion, const std::string& path);
  void ValidateAssertionValue(const Assertion& assertion, const std::string& path);
  void ValidateAlerting();

  // Usable = written without a parse error (absent fields hold defaults, which are valid).
  bool Usable(const std::string& path) const { return !fields_.Invalid(path); }
  void Report(const std::string& path, const std::string& message);
  // Reports at the field's key instead of its value (for fields that should not be there).
  void ReportAtKey(const std::string& path, const std::string& message);

  const Monitor& monitor_;
  const FieldLocations& fields_;
  std::vector<ValidationError>& errors_;
};

}  // namespace pharos
