// CheckEngine over TLS: HTTPS and TCP+TLS against a loopback TLS server with certificates made
// by the test (a CA and a leaf it signed, self-signed and expired leaves).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "probe/check_engine.h"
#include "unit/probe/tls_test_server.h"

namespace pharos {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::MakeCertificate;
using testing::PemFile;
using ::testing::StartsWith;
using testing::TestCertificate;
using testing::TlsTestServer;

constexpr long kDay = 86400;

class CheckEngineTlsTest : public ::testing::Test {
 protected:
  CheckEngineTlsTest()
      : ca_(MakeCertificate("Pharos Test CA", "", -kDay, 10 * kDay, true, nullptr)),
        leaf_(MakeCertificate("localhost", "DNS:localhost,IP:127.0.0.1", -kDay, 30 * kDay, false,
                              &ca_)),
        ca_file_({ca_.cert.get()}),
        server_(leaf_, &ca_) {}

  Monitor Https(const std::string& host = "127.0.0.1") const {
    Monitor monitor;
    monitor.name = "secure";
    monitor.type = MonitorType::kHttp;
    monitor.http.emplace();
    monitor.http->url = "https://" + host + ":" + std::to_string(server_.port()) + "/";
    monitor.timeout = milliseconds(5000);
    return monitor;
  }
  Monitor TcpTls() const {
    Monitor monitor;
    monitor.name = "tcp-tls";
    monitor.type = MonitorType::kTcp;
    monitor.tcp.emplace();
    monitor.tcp->host = "127.0.0.1";
    monitor.tcp->port = server_.port();
    monitor.tcp->tls = true;
    monitor.timeout = milliseconds(5000);
    return monitor;
  }
  CheckEngine::Options Trusting() const {
    CheckEngine::Options options;
    options.ca_file = ca_file_.path();
    return options;
  }
  static CheckResult RunOne(const Monitor& monitor, const CheckEngine::Options& options) {
    return RunChecksOnce({monitor}, options).front();
  }
  // Expiry of something valid for `days` from about now.
  static void ExpectExpiresInDays(const std::optional<std::chrono::system_clock::time_point>& at,
                                  long days) {
    ASSERT_TRUE(at.has_value());
    const auto expected = std::chrono::system_clock::now() + std::chrono::seconds(days * kDay);
    EXPECT_LT(std::chrono::abs(*at - expected), std::chrono::minutes(5));
  }

  TestCertificate ca_;
  TestCertificate leaf_;
  PemFile ca_file_;
  TlsTestServer server_;
};

TEST_F(CheckEngineTlsTest, HttpsWithTrustedChainIsUpAndRecordsExpiry) {
  const CheckResult result = RunOne(Https(), Trusting());
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_EQ(result.status_code, 200);
  EXPECT_GT(result.timings.tls_us, 0);
  EXPECT_GT(result.timings.connect_us, 0);
  ExpectExpiresInDays(result.cert_expiry, 30);           // the leaf
  ExpectExpiresInDays(result.cert_earliest_expiry, 10);  // the CA expires first
}

TEST_F(CheckEngineTlsTest, HttpsByHostName) {
  const CheckResult result = RunOne(Https("localhost"), Trusting());
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_EQ(server_.last_server_name(), "localhost");
}

TEST_F(CheckEngineTlsTest, HttpsUntrustedChainFailsButStillRecordsExpiry) {
  const CheckResult result = RunOne(Https(), {});
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "TLS: self-signed certificate in the chain (untrusted root)");
  ExpectExpiresInDays(result.cert_expiry, 30);
  ExpectExpiresInDays(result.cert_earliest_expiry, 10);
}

TEST_F(CheckEngineTlsTest, HttpsInsecureSkipVerifyIsUpAndRecordsExpiry) {
  Monitor monitor = Https();
  monitor.http->tls.insecure_skip_verify = true;
  const CheckResult result = RunOne(monitor, {});
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  ExpectExpiresInDays(result.cert_earliest_expiry, 10);
}

TEST_F(CheckEngineTlsTest, HttpsServerNameIsUsedForSniAndVerification) {
  Monitor monitor = Https();
  monitor.http->tls.server_name = "localhost";
  CheckResult result = RunOne(monitor, Trusting());
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_EQ(server_.last_server_name(), "localhost");

  monitor.http->tls.server_name = "wrong.example";
  result = RunOne(monitor, Trusting());
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "TLS: certificate is not valid for wrong.example (hostname mismatch)");
  EXPECT_EQ(server_.last_server_name(), "wrong.example");
}

TEST_F(CheckEngineTlsTest, CertExpiryAssertionUsesTheEarliestInTheChain) {
  Monitor monitor = Https();
  monitor.assertions = {{AssertionType::kCertExpiry, CompareOp::kGt, "", "", "168h"}};
  EXPECT_EQ(RunOne(monitor, Trusting()).outcome, Outcome::kUp);
  monitor.assertions = {{AssertionType::kCertExpiry, CompareOp::kGt, "", "", "480h"}};
  const CheckResult result = RunOne(monitor, Trusting());
  EXPECT_EQ(result.outcome, Outcome::kDown);
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_EQ(result.failed_assertion->type, "certExpiry");
  EXPECT_THAT(result.failed_assertion->message, StartsWith("certificate expires in 239h"));
  EXPECT_THAT(result.failed_assertion->message, HasSubstr("expected gt 480h"));
}

TEST(CheckEngineTlsCertificateTest, SelfSignedAndExpiredCertificates) {
  const TestCertificate self_signed =
      MakeCertificate("localhost", "DNS:localhost,IP:127.0.0.1", -kDay, 5 * kDay, false, nullptr);
  {
    TlsTestServer server(self_signed, nullptr);
    Monitor monitor;
    monitor.type = MonitorType::kHttp;
    monitor.http.emplace();
    monitor.http->url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
    const CheckResult result = RunChecksOnce({monitor}, {}).front();
    EXPECT_EQ(result.error, "TLS: self-signed certificate");
    EXPECT_TRUE(result.cert_expiry.has_value());

    monitor.type = MonitorType::kTcp;
    monitor.tcp.emplace();
    monitor.tcp->host = "127.0.0.1";
    monitor.tcp->port = server.port();
    monitor.tcp->tls = true;
    const CheckResult tcp = RunChecksOnce({monitor}, {}).front();
    EXPECT_EQ(tcp.outcome, Outcome::kDown);
    EXPECT_EQ(tcp.error, "TLS: self-signed certificate");
    EXPECT_TRUE(tcp.cert_expiry.has_value());
  }
  const TestCertificate expired =
      MakeCertificate("localhost", "DNS:localhost,IP:127.0.0.1", -10 * kDay, -kDay, false, nullptr);
  TlsTestServer server(expired, nullptr);
  PemFile trusted({expired.cert.get()});
  CheckEngine::Options options;
  options.ca_file = trusted.path();
  Monitor monitor;
  monitor.type = MonitorType::kHttp;
  monitor.http.emplace();
  monitor.http->url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  const CheckResult result = RunChecksOnce({monitor}, options).front();
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "TLS: certificate has expired");
  ASSERT_TRUE(result.cert_expiry.has_value());
  EXPECT_LT(*result.cert_expiry, std::chrono::system_clock::now());
}

TEST_F(CheckEngineTlsTest, TcpTlsWithTrustedChain) {
  const CheckResult result = RunOne(TcpTls(), Trusting());
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_GT(result.timings.connect_us, 0);
  EXPECT_GT(result.timings.tls_us, 0);
  ExpectExpiresInDays(result.cert_expiry, 30);
  ExpectExpiresInDays(result.cert_earliest_expiry, 10);
  EXPECT_EQ(server_.handshakes(), 1);
}

TEST_F(CheckEngineTlsTest, TcpTlsVerificationAndServerName) {
  CheckResult result = RunOne(TcpTls(), {});
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "TLS: self-signed certificate in the chain (untrusted root)");
  ExpectExpiresInDays(result.cert_earliest_expiry, 10);

  Monitor insecure = TcpTls();
  insecure.tcp->tls_options.insecure_skip_verify = true;
  result = RunOne(insecure, {});
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;

  Monitor named = TcpTls();
  named.tcp->tls_options.server_name = "wrong.example";
  result = RunOne(named, Trusting());
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "TLS: certificate is not valid for wrong.example (hostname mismatch)");
  EXPECT_EQ(server_.last_server_name(), "wrong.example");

  named.tcp->tls_options.server_name = "localhost";
  result = RunOne(named, Trusting());
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
}

}  // namespace
}  // namespace pharos
