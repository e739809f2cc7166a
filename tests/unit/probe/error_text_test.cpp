#include "probe/error_text.h"

#include <ares.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include <cerrno>

namespace pharos {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

CurlFailure Curl(CURLcode code) {
  CurlFailure failure;
  failure.code = code;
  failure.host = "shop.example.com";
  failure.max_redirects = 10;
  failure.timeout = milliseconds(10000);
  return failure;
}

TEST(ErrorTextTest, ErrnoInPlainWords) {
  EXPECT_EQ(DescribeErrno(ECONNREFUSED), "connection refused");
  EXPECT_EQ(DescribeErrno(ECONNRESET), "connection reset by peer");
  EXPECT_EQ(DescribeErrno(EHOSTUNREACH), "no route to host");
  EXPECT_EQ(DescribeErrno(ENETUNREACH), "network is unreachable");
  EXPECT_EQ(DescribeErrno(ETIMEDOUT), "connection timed out");
  EXPECT_EQ(DescribeErrno(EMFILE), "the probe ran out of file descriptors");
  EXPECT_EQ(DescribeErrno(ENOTSOCK), "socket operation on non-socket");  // lower-cased strerror
}

TEST(ErrorTextTest, ResourceExhaustionIsTheProbesFault) {
  EXPECT_TRUE(DescribeSocketError(EMFILE).probe_fault);
  EXPECT_TRUE(DescribeSocketError(ENFILE).probe_fault);
  EXPECT_TRUE(DescribeSocketError(ENOBUFS).probe_fault);
  EXPECT_FALSE(DescribeSocketError(ECONNREFUSED).probe_fault);
  EXPECT_FALSE(DescribeSocketError(ECONNRESET).probe_fault);
}

TEST(ErrorTextTest, TimeoutNamesDurationAndPhase) {
  EXPECT_EQ(DescribeTimeout(milliseconds(10000), kPhaseFirstByte),
            "timeout after 10s in phase firstByte");
  EXPECT_EQ(DescribeTimeout(milliseconds(1500), kPhaseConnect),
            "timeout after 1.5s in phase connect");
  EXPECT_EQ(DescribeTimeout(milliseconds(250), kPhaseDns), "timeout after 250ms in phase dns");
}

TEST(ErrorTextTest, TlsVerifyResults) {
  EXPECT_EQ(DescribeTlsVerifyResult(X509_V_ERR_CERT_HAS_EXPIRED, "a.example"),
            "TLS: certificate has expired");
  EXPECT_EQ(DescribeTlsVerifyResult(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "a.example"),
            "TLS: self-signed certificate");
  EXPECT_EQ(DescribeTlsVerifyResult(X509_V_ERR_HOSTNAME_MISMATCH, "wrong.example"),
            "TLS: certificate is not valid for wrong.example (hostname mismatch)");
  EXPECT_EQ(DescribeTlsVerifyResult(X509_V_ERR_CERT_NOT_YET_VALID, "a"),
            "TLS: certificate is not yet valid");
  EXPECT_THAT(DescribeTlsVerifyResult(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "a"),
              StartsWith("TLS: certificate issuer is unknown"));
  EXPECT_EQ(DescribeTlsVerifyResult(X509_V_ERR_CERT_REVOKED, "a"), "TLS: certificate revoked");
}

TEST(ErrorTextTest, CurlConnectErrorsUseTheOsErrno) {
  CurlFailure failure = Curl(CURLE_COULDNT_CONNECT);
  failure.os_errno = ECONNREFUSED;
  EXPECT_EQ(DescribeCurlFailure(failure).message, "connection refused");
  EXPECT_FALSE(DescribeCurlFailure(failure).probe_fault);
  failure.os_errno = EHOSTUNREACH;
  EXPECT_EQ(DescribeCurlFailure(failure).message, "no route to host");
}

TEST(ErrorTextTest, CurlSocketThatCouldNotBeOpenedIsAnError) {
  CurlFailure failure = Curl(CURLE_COULDNT_CONNECT);
  failure.socket_errno = EMFILE;
  const TransportError error = DescribeCurlFailure(failure);
  EXPECT_TRUE(error.probe_fault);
  EXPECT_EQ(error.message, "cannot open a socket: the probe ran out of file descriptors");
}

TEST(ErrorTextTest, CurlReceiveErrors) {
  CurlFailure failure = Curl(CURLE_RECV_ERROR);
  failure.os_errno = ECONNRESET;
  EXPECT_EQ(DescribeCurlFailure(failure).message, "connection reset by peer");
  failure = Curl(CURLE_SEND_ERROR);
  failure.os_errno = EPIPE;
  EXPECT_EQ(DescribeCurlFailure(failure).message, "connection closed by peer (broken pipe)");
  EXPECT_THAT(DescribeCurlFailure(Curl(CURLE_GOT_NOTHING)).message, StartsWith("empty reply"));
  EXPECT_EQ(DescribeCurlFailure(Curl(CURLE_PARTIAL_FILE)).message,
            "connection closed before the whole response body arrived");
}

TEST(ErrorTextTest, CurlTimeoutRedirectsAndDns) {
  CurlFailure failure = Curl(CURLE_OPERATION_TIMEDOUT);
  failure.phase = kPhaseTls;
  EXPECT_EQ(DescribeCurlFailure(failure).message, "timeout after 10s in phase tls");
  EXPECT_EQ(DescribeCurlFailure(Curl(CURLE_TOO_MANY_REDIRECTS)).message, "too many redirects (10)");
  EXPECT_EQ(DescribeCurlFailure(Curl(CURLE_COULDNT_RESOLVE_HOST)).message,
            "DNS: no such host shop.example.com");
}

TEST(ErrorTextTest, CurlTlsVerification) {
  CurlFailure failure = Curl(CURLE_PEER_FAILED_VERIFICATION);
  failure.verify_result = X509_V_ERR_CERT_HAS_EXPIRED;
  failure.detail = "SSL certificate problem: certificate has expired";
  EXPECT_EQ(DescribeCurlFailure(failure).message, "TLS: certificate has expired");
  failure.verify_result = X509_V_ERR_UNSPECIFIED;
  failure.detail =
      "SSL: no alternative certificate subject name matches target host name 'shop.example.com'";
  EXPECT_EQ(DescribeCurlFailure(failure).message,
            "TLS: certificate is not valid for shop.example.com (hostname mismatch)");
  failure = Curl(CURLE_SSL_CONNECT_ERROR);
  failure.os_errno = ECONNRESET;
  EXPECT_EQ(DescribeCurlFailure(failure).message,
            "TLS: connection reset by peer during the handshake");
  failure = Curl(CURLE_SSL_CACERT_BADFILE);
  EXPECT_TRUE(DescribeCurlFailure(failure).probe_fault);
}

TEST(ErrorTextTest, CurlProbeSideFailuresAreErrors) {
  EXPECT_TRUE(DescribeCurlFailure(Curl(CURLE_OUT_OF_MEMORY)).probe_fault);
  EXPECT_TRUE(DescribeCurlFailure(Curl(CURLE_FAILED_INIT)).probe_fault);
  EXPECT_TRUE(DescribeCurlFailure(Curl(CURLE_URL_MALFORMAT)).probe_fault);
  EXPECT_FALSE(DescribeCurlFailure(Curl(CURLE_WEIRD_SERVER_REPLY)).probe_fault);
}

TEST(ErrorTextTest, CurlInvalidResponses) {
  CurlFailure failure = Curl(CURLE_UNSUPPORTED_PROTOCOL);
  failure.detail = "Received HTTP/0.9 when not allowed";
  EXPECT_THAT(DescribeCurlFailure(failure).message, StartsWith("invalid HTTP response"));
  failure = Curl(CURLE_WEIRD_SERVER_REPLY);
  failure.detail = "Nul byte in header";
  EXPECT_EQ(DescribeCurlFailure(failure).message, "invalid HTTP response: Nul byte in header");
}

TEST(ErrorTextTest, DnsQueryFailures) {
  EXPECT_EQ(DescribeDnsQueryFailure(ARES_ENOTFOUND, "example.invalid").message,
            "NXDOMAIN: example.invalid does not exist");
  EXPECT_THAT(DescribeDnsQueryFailure(ARES_ESERVFAIL, "x").message, StartsWith("SERVFAIL: "));
  EXPECT_THAT(DescribeDnsQueryFailure(ARES_EREFUSED, "x").message, StartsWith("REFUSED: "));
  EXPECT_THAT(DescribeDnsQueryFailure(ARES_ETIMEOUT, "x").message, HasSubstr("timed out"));
  EXPECT_FALSE(DescribeDnsQueryFailure(ARES_ENOTFOUND, "x").probe_fault);
  EXPECT_TRUE(DescribeDnsQueryFailure(ARES_ENOMEM, "x").probe_fault);
}

TEST(ErrorTextTest, HostLookupFailures) {
  EXPECT_EQ(DescribeHostLookupFailure(ARES_ENOTFOUND, "example.invalid").message,
            "DNS: no such host example.invalid");
  EXPECT_EQ(DescribeHostLookupFailure(ARES_ENODATA, "v6only.example").message,
            "DNS: host v6only.example has no address");
  EXPECT_FALSE(DescribeHostLookupFailure(ARES_ESERVFAIL, "x").probe_fault);
}

TEST(ErrorTextTest, SanitizeText) {
  EXPECT_EQ(SanitizeText("plain"), "plain");
  EXPECT_EQ(SanitizeText("caf\xc3\xa9"), "caf\xc3\xa9");  // valid UTF-8 stays
  EXPECT_EQ(SanitizeText(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(SanitizeText("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(SanitizeText("line\r\nnext\t"), "line\\r\\nnext\\t");
  EXPECT_EQ(SanitizeText("\xc3"), "\\xc3");                    // truncated sequence
  EXPECT_EQ(SanitizeText("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(SanitizeText("\xc0\xaf"), "\\xc0\\xaf");           // overlong
  EXPECT_EQ(SanitizeText(std::string(10, 'x'), 4), "xxxx…");
}

}  // namespace
}  // namespace pharos
