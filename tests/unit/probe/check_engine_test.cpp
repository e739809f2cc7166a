#include "probe/check_engine.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/version.h"
#include "unit/probe/fake_dns_server.h"
#include "unit/probe/loopback_server.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PHAROS_CLANG_ASAN 1
#endif
#endif
#ifndef PHAROS_CLANG_ASAN
#define PHAROS_CLANG_ASAN 0
#endif

namespace pharos {
namespace {

using std::chrono::milliseconds;
using testing::ClosedLoopbackPort;
using testing::FakeDnsServer;
using testing::FullBacklogListener;
using ::testing::HasSubstr;
using testing::LoopbackServer;
using ::testing::StartsWith;

Monitor HttpMonitor(const std::string& url, milliseconds timeout = milliseconds(5000)) {
  Monitor monitor;
  monitor.name = "web";
  monitor.uid = "uid-1";
  monitor.type = MonitorType::kHttp;
  monitor.http.emplace();
  monitor.http->url = url;
  monitor.timeout = timeout;
  return monitor;
}

Monitor TcpMonitor(const std::string& host, int port, milliseconds timeout = milliseconds(5000)) {
  Monitor monitor;
  monitor.name = "tcp";
  monitor.type = MonitorType::kTcp;
  monitor.tcp.emplace();
  monitor.tcp->host = host;
  monitor.tcp->port = port;
  monitor.timeout = timeout;
  return monitor;
}

Monitor DnsMonitor(const std::string& name, DnsRecordType type, const std::string& server,
                   milliseconds timeout = milliseconds(3000)) {
  Monitor monitor;
  monitor.name = "dns";
  monitor.type = MonitorType::kDns;
  monitor.dns.emplace();
  monitor.dns->name = name;
  monitor.dns->record_type = type;
  monitor.dns->server = server;
  monitor.timeout = timeout;
  return monitor;
}

std::string Url(const LoopbackServer& server, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

CheckResult RunOne(const Monitor& monitor, CheckEngine::Options options = {}) {
  return RunChecksOnce({monitor}, std::move(options)).front();
}

TEST(CheckEngineHttpTest, Status200IsUpWithTimingsAndIdentity) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "hello")});
  const Monitor monitor = HttpMonitor(Url(server, "/health"));
  const CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_EQ(result.status_code, 200);
  EXPECT_EQ(result.error, "");
  EXPECT_FALSE(result.failed_assertion.has_value());
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.monitor_name, "web");
  EXPECT_EQ(result.monitor_uid, "uid-1");
  EXPECT_EQ(result.target, monitor.http->url);
  EXPECT_NE(result.started_at, std::chrono::system_clock::time_point{});
  EXPECT_GT(result.timings.connect_us, 0);
  EXPECT_GT(result.timings.first_byte_us, 0);
  EXPECT_EQ(result.timings.tls_us, 0);
  EXPECT_EQ(result.timings.dns_us, 0);  // IP literal: nothing looked up
  EXPECT_GE(result.timings.total_us, result.timings.connect_us + result.timings.first_byte_us);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0], StartsWith("GET /health HTTP/1.1\r\n"));
  EXPECT_THAT(requests[0], HasSubstr(std::string("User-Agent: pharos/") + kVersion + "\r\n"));
}

TEST(CheckEngineHttpTest, Status503IsDownWithDefaultAssertion) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(503, "busy")});
  const CheckResult result = RunOne(HttpMonitor(Url(server)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.status_code, 503);
  EXPECT_EQ(result.error, "");
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_EQ(result.failed_assertion->type, "statusCode");
  EXPECT_EQ(result.failed_assertion->actual, "503");
  EXPECT_EQ(result.failed_assertion->message, "status code is 503, expected 2xx");
}

TEST(CheckEngineHttpTest, AssertionsOnStatusHeadersAndBody) {
  LoopbackServer server(
      {.response = LoopbackServer::HttpResponse(200, R"({"status":"ok","checks":{"db":"up"}})",
                                                "Content-Type: application/json\r\n")});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.assertions = {
      {AssertionType::kStatusCode, CompareOp::kEq, "", "", "200"},
      {AssertionType::kHeader, CompareOp::kContains, "content-TYPE", "", "json"},
      {AssertionType::kBody, CompareOp::kContains, "", "", R"("status":"ok")"},
      {AssertionType::kJsonPath, CompareOp::kEq, "", "$.checks.db", "up"},
      {AssertionType::kLatency, CompareOp::kLt, "", "", "60s"},
  };
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);

  monitor.assertions.push_back({AssertionType::kJsonPath, CompareOp::kEq, "", "$.status", "bad"});
  const CheckResult failed = RunOne(monitor);
  EXPECT_EQ(failed.outcome, Outcome::kDown);
  ASSERT_TRUE(failed.failed_assertion.has_value());
  EXPECT_EQ(failed.failed_assertion->type, "jsonPath");
  EXPECT_EQ(failed.failed_assertion->actual, "ok");
}

TEST(CheckEngineHttpTest, SlowButPassingIsDegraded) {
  LoopbackServer server(
      {.response = LoopbackServer::HttpResponse(200, "ok"), .delay = milliseconds(300)});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.degraded_after = milliseconds(100);
  const CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDegraded) << result.error;
  EXPECT_GE(result.timings.total_us, 300'000);
  EXPECT_GE(result.timings.first_byte_us, 250'000);
}

TEST(CheckEngineHttpTest, SilentServerTimesOutInPhaseFirstByte) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kSilent});
  const CheckResult result = RunOne(HttpMonitor(Url(server), milliseconds(400)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "timeout after 400ms in phase firstByte");
  EXPECT_GE(result.timings.total_us, 400'000);
  EXPECT_GT(result.timings.connect_us, 0);
}

TEST(CheckEngineHttpTest, UnansweredConnectTimesOutInPhaseConnect) {
  FullBacklogListener listener;
  const CheckResult result = RunOne(
      HttpMonitor("http://127.0.0.1:" + std::to_string(listener.port()) + "/", milliseconds(300)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "timeout after 300ms in phase connect");
  EXPECT_EQ(result.timings.connect_us, 0);
}

TEST(CheckEngineHttpTest, TrickledBodyTimesOutInPhaseTransfer) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, std::string(1000, 'x')),
                         .trickle = milliseconds(20)});
  const CheckResult result = RunOne(HttpMonitor(Url(server), milliseconds(500)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "timeout after 500ms in phase transfer");
}

TEST(CheckEngineHttpTest, EndlessHeadersEndAtTheDeadline) {
  LoopbackServer endless(
      {.response = "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", .repeat = true});
  const CheckResult result = RunOne(HttpMonitor(Url(endless), milliseconds(500)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_FALSE(result.error.empty());
  EXPECT_LT(result.timings.total_us, 5'000'000);
}

TEST(CheckEngineHttpTest, EndlessBodyIsReadUntilTheDeadline) {
  LoopbackServer endless(
      {.response = "HTTP/1.1 200 OK\r\n\r\n" + std::string(65536, 'x'), .repeat = true});
  const CheckResult result = RunOne(HttpMonitor(Url(endless), milliseconds(500)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "timeout after 500ms in phase transfer");
}

TEST(CheckEngineHttpTest, ConnectionRefused) {
  const CheckResult result =
      RunOne(HttpMonitor("http://127.0.0.1:" + std::to_string(ClosedLoopbackPort()) + "/"));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "connection refused");
  EXPECT_EQ(result.status_code, 0);
}

TEST(CheckEngineHttpTest, ConnectionReset) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kReset});
  const CheckResult result = RunOne(HttpMonitor(Url(server)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "connection reset by peer");
}

TEST(CheckEngineHttpTest, ClosedWithoutAnswerIsEmptyReply) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kCloseAtOnce});
  const CheckResult result = RunOne(HttpMonitor(Url(server)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_FALSE(result.error.empty());
}

TEST(CheckEngineHttpTest, RetriesAreCountedAndOnlyTheLastAttemptReported) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(503, "")});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.retries = 2;
  const CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(server.accepted(), 3);  // a fresh connection per attempt
}

TEST(CheckEngineHttpTest, NoRetryWhenUp) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "")});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.retries = 3;
  const CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kUp);
  EXPECT_EQ(result.attempts, 1);
}

TEST(CheckEngineHttpTest, BigBodyIsCutAtMaxBodyBytesWithoutError) {
  const std::string body = "HEAD" + std::string(3 << 20, 'x') + "TAIL";
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, body)});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.assertions = {{AssertionType::kBody, CompareOp::kContains, "", "", "HEAD"},
                        {AssertionType::kBody, CompareOp::kNotContains, "", "", "TAIL"}};
  CheckEngine::Options options;
  options.max_body_bytes = 1000;
  const CheckResult result = RunOne(monitor, options);
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_GT(result.timings.transfer_us, 0);
}

TEST(CheckEngineHttpTest, BinaryGarbageIsAnInvalidResponse) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) & 0xff));
  LoopbackServer server({.response = garbage});
  const CheckResult result = RunOne(HttpMonitor(Url(server)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("invalid HTTP response"));
}

TEST(CheckEngineHttpTest, HeaderValueWithNulIsAnInvalidResponse) {
  const std::string headers("X-Odd: a\0b\r\n", 12);
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "", headers)});
  const CheckResult result = RunOne(HttpMonitor(Url(server)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, StartsWith("invalid HTTP response"));
}

TEST(CheckEngineHttpTest, InvalidUtf8IsEscapedInFailedAssertions) {
  LoopbackServer server(
      {.response = LoopbackServer::HttpResponse(200, "\xff\xfe\xfd", "X-Bin: \xff\xfe\r\n")});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.assertions = {{AssertionType::kHeader, CompareOp::kEq, "x-bin", "", "nope"}};
  CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown) << result.error;
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_EQ(result.failed_assertion->actual, "\\xff\\xfe");
  monitor.assertions = {{AssertionType::kJsonPath, CompareOp::kEq, "", "$.a", "1"}};
  result = RunOne(monitor);
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_THAT(result.failed_assertion->message, StartsWith("body is not JSON: "));
  EXPECT_EQ(result.failed_assertion->actual, "\\xff\\xfe\\xfd");
}

TEST(CheckEngineHttpTest, RedirectsAreFollowedAndBounded) {
  LoopbackServer target({.response = LoopbackServer::HttpResponse(200, "there")});
  LoopbackServer redirect({.response = LoopbackServer::HttpResponse(
                               302, "", "Location: " + Url(target, "/there") + "\r\n")});
  EXPECT_EQ(RunOne(HttpMonitor(Url(redirect))).outcome, Outcome::kUp);

  Monitor not_followed = HttpMonitor(Url(redirect));
  not_followed.http->follow_redirects = false;
  const CheckResult reported = RunOne(not_followed);
  EXPECT_EQ(reported.status_code, 302);
  EXPECT_EQ(reported.outcome, Outcome::kDown);

  LoopbackServer loop_server(
      {.response = LoopbackServer::HttpResponse(301, "", "Location: /again\r\n")});
  CheckEngine::Options options;
  options.max_redirects = 3;
  const CheckResult looped = RunOne(HttpMonitor(Url(loop_server)), options);
  EXPECT_EQ(looped.outcome, Outcome::kDown);
  EXPECT_EQ(looped.error, "too many redirects (3)");
  EXPECT_EQ(loop_server.accepted(), 4);
}

TEST(CheckEngineHttpTest, PostSendsBodyAsJsonAndCustomHeaders) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(201, "")});
  Monitor monitor = HttpMonitor(Url(server, "/items"));
  monitor.http->method = HttpMethod::kPost;
  monitor.http->body = R"({"a":1})";
  monitor.http->headers = {{"X-Trace", "abc"}, {"User-Agent", "custom/1"}};
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0], StartsWith("POST /items HTTP/1.1\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("X-Trace: abc\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("User-Agent: custom/1\r\n"));
  EXPECT_THAT(requests[0], ::testing::Not(HasSubstr("pharos/")));
  EXPECT_THAT(requests[0], ::testing::EndsWith("\r\n\r\n{\"a\":1}"));
}

TEST(CheckEngineHttpTest, UserContentTypeIsKept) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "")});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.http->method = HttpMethod::kPut;
  monitor.http->body = "a=1";
  monitor.http->headers = {{"Content-Type", "text/plain"}};
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0], StartsWith("PUT / HTTP/1.1\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("Content-Type: text/plain\r\n"));
  EXPECT_THAT(requests[0], ::testing::Not(HasSubstr("application/json")));
}

TEST(CheckEngineHttpTest, HeadRequest) {
  LoopbackServer server({.response = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"});
  Monitor monitor = HttpMonitor(Url(server));
  monitor.http->method = HttpMethod::kHead;
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0], StartsWith("HEAD / HTTP/1.1\r\n"));
}

TEST(CheckEngineHttpTest, ProxyEnvironmentIsIgnored) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "")});
  const int dead_proxy = ClosedLoopbackPort();
  const std::string proxy = "http://127.0.0.1:" + std::to_string(dead_proxy);
  setenv("http_proxy", proxy.c_str(), 1);
  setenv("HTTPS_PROXY", proxy.c_str(), 1);
  setenv("ALL_PROXY", proxy.c_str(), 1);
  const CheckResult result = RunOne(HttpMonitor(Url(server)));
  unsetenv("http_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("ALL_PROXY");
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
}

TEST(CheckEngineHttpTest, HostNameIsResolvedBeforeConnecting) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "")});
  const CheckResult result =
      RunOne(HttpMonitor("http://localhost:" + std::to_string(server.port()) + "/"));
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_THAT(server.requests().at(0), HasSubstr("Host: localhost:"));
}

TEST(CheckEngineHttpTest, ServerNameIsRequestedWhileConnectingToTheUrlHost) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "")});
  Monitor monitor = HttpMonitor(Url(server, "/x"));
  monitor.http->tls.server_name = "shop.example.com";
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);
  EXPECT_THAT(server.requests().at(0),
              HasSubstr("Host: shop.example.com:" + std::to_string(server.port()) + "\r\n"));
}

TEST(CheckEngineHttpTest, InvalidUrlIsAnErrorNotDown) {
  const CheckResult result = RunOne(HttpMonitor("ftp://example.com/"));
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_THAT(result.error, HasSubstr("scheme must be http or https"));
}

TEST(CheckEngineConcurrencyTest, FiveHundredChecksCompleteOnOneThread) {
  LoopbackServer server(
      {.response = LoopbackServer::HttpResponse(200, "ok"), .delay = milliseconds(50)});
  CheckEngine engine({});
  std::mutex mutex;
  std::set<std::thread::id> threads;
  int up = 0;
  int reported = 0;
  auto monitor = std::make_shared<const Monitor>(HttpMonitor(Url(server), milliseconds(20000)));
  for (int i = 0; i < 500; ++i) {
    engine.Submit(monitor, [&](const CheckResult& result) {
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
      ++reported;
      if (result.outcome == Outcome::kUp) ++up;
    });
  }
  engine.Drain();
  EXPECT_EQ(engine.InFlight(), 0u);
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(reported, 500);
  EXPECT_EQ(up, 500);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
  EXPECT_EQ(server.accepted(), 500);
}

TEST(CheckEngineConcurrencyTest, MaxConcurrencyQueuesTheRest) {
  LoopbackServer server(
      {.response = LoopbackServer::HttpResponse(200, ""), .delay = milliseconds(20)});
  CheckEngine::Options options;
  options.max_concurrency = 4;
  std::vector<Monitor> monitors(40, HttpMonitor(Url(server)));
  const std::vector<CheckResult> results = RunChecksOnce(monitors, options);
  ASSERT_EQ(results.size(), 40u);
  for (const CheckResult& result : results) EXPECT_EQ(result.outcome, Outcome::kUp);
}

TEST(CheckEngineConcurrencyTest, RunChecksOnceKeepsInputOrder) {
  LoopbackServer fast({.response = LoopbackServer::HttpResponse(200, "")});
  LoopbackServer slow(
      {.response = LoopbackServer::HttpResponse(503, ""), .delay = milliseconds(200)});
  std::vector<Monitor> monitors = {HttpMonitor(Url(slow)), HttpMonitor(Url(fast)),
                                   TcpMonitor("127.0.0.1", ClosedLoopbackPort())};
  monitors[0].name = "slow";
  monitors[1].name = "fast";
  const std::vector<CheckResult> results = RunChecksOnce(monitors, {});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].monitor_name, "slow");
  EXPECT_EQ(results[0].status_code, 503);
  EXPECT_EQ(results[1].monitor_name, "fast");
  EXPECT_EQ(results[1].outcome, Outcome::kUp);
  EXPECT_EQ(results[2].monitor_name, "tcp");
  EXPECT_EQ(results[2].error, "connection refused");
}

TEST(CheckEngineConcurrencyTest, SubmitFromACallbackAndDestroyWithChecksInFlight) {
  LoopbackServer silent({.mode = LoopbackServer::Mode::kSilent});
  LoopbackServer ok({.response = LoopbackServer::HttpResponse(200, "")});
  auto slow = std::make_shared<const Monitor>(HttpMonitor(Url(silent), milliseconds(60000)));
  auto fast = std::make_shared<const Monitor>(HttpMonitor(Url(ok)));
  std::atomic<int> done{0};
  {
    CheckEngine engine({});
    engine.Submit(slow, [](const CheckResult&) {});
    engine.Submit(fast, [&](const CheckResult&) {
      engine.Submit(fast, [&](const CheckResult&) { done++; });
      done++;
    });
    // Wait (bounded) for both quick checks, then destroy with the silent one still running.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (done.load() < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_EQ(engine.InFlight(), 1u);
  }
  EXPECT_EQ(done.load(), 2);
}

// Runs an HTTP, a TCP and a DNS check with every descriptor number taken; exits 0 when all three
// report outcome error. Lowers the process's descriptor limit: run it in a child process.
[[noreturn]] void RunChecksWithoutDescriptors(int port) {
  CheckEngine engine({});
  std::vector<CheckResult> results(3);
  const std::vector<std::shared_ptr<const Monitor>> monitors = {
      std::make_shared<const Monitor>(
          HttpMonitor("http://127.0.0.1:" + std::to_string(port) + "/")),
      std::make_shared<const Monitor>(TcpMonitor("127.0.0.1", port)),
      std::make_shared<const Monitor>(
          DnsMonitor("www.example.com", DnsRecordType::kA, "127.0.0.1:53"))};
  const int lowest_free = fcntl(0, F_DUPFD_CLOEXEC, 0);
  close(lowest_free);
  const rlimit limit{static_cast<rlim_t>(lowest_free), static_cast<rlim_t>(lowest_free)};
  setrlimit(RLIMIT_NOFILE, &limit);
  for (size_t i = 0; i < monitors.size(); ++i) {
    engine.Submit(monitors[i],
                  [&results, i](CheckResult result) { results[i] = std::move(result); });
  }
  engine.Drain();
  bool all_errors = true;
  for (const CheckResult& result : results) {
    std::cerr << ToString(result.outcome) << ": " << result.error << "\n";
    all_errors = all_errors && result.outcome == Outcome::kError;
  }
  std::exit(all_errors ? 0 : 1);
}

// Out of descriptors, checks cannot even open a socket: that is the probe's problem (outcome
// error), never the target being down.
TEST(CheckEngineResourceTest, OutOfDescriptorsIsAnErrorNotDown) {
#if defined(__SANITIZE_ADDRESS__) || PHAROS_CLANG_ASAN
  GTEST_SKIP() << "with no descriptor left, the sanitizers' runtime cannot map the process's "
                  "modules and reports every virtual call; the plain build runs it";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "")});
  EXPECT_EXIT(RunChecksWithoutDescriptors(server.port()), ::testing::ExitedWithCode(0),
              "out of file descriptors");
}

TEST(CheckEngineTcpTest, ConnectSucceeds) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kSilent});
  const CheckResult result = RunOne(TcpMonitor("127.0.0.1", server.port()));
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_GT(result.timings.connect_us, 0);
  EXPECT_EQ(result.timings.dns_us, 0);
  EXPECT_GE(result.timings.total_us, result.timings.connect_us);
  EXPECT_EQ(result.target, "127.0.0.1:" + std::to_string(server.port()));
}

TEST(CheckEngineTcpTest, ConnectByNameLooksUpFirst) {
  LoopbackServer server({.mode = LoopbackServer::Mode::kSilent});
  const CheckResult result = RunOne(TcpMonitor("localhost", server.port()));
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_GT(result.timings.dns_us, 0);
}

TEST(CheckEngineTcpTest, ConnectRefused) {
  const CheckResult result = RunOne(TcpMonitor("127.0.0.1", ClosedLoopbackPort()));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "connection refused");
}

TEST(CheckEngineTcpTest, UnansweredConnectTimesOutInPhaseConnect) {
  FullBacklogListener listener;
  const CheckResult result = RunOne(TcpMonitor("127.0.0.1", listener.port(), milliseconds(300)));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "timeout after 300ms in phase connect");
  EXPECT_GE(result.timings.connect_us, 300'000);
}

TEST(CheckEngineTcpTest, Ipv6LiteralIsAccepted) {
  const int port = ClosedLoopbackPort();
  const CheckResult result = RunOne(TcpMonitor("::1", port));
  // Refused where IPv6 loopback exists, unreachable or unsupported elsewhere: never a crash.
  EXPECT_NE(result.error, "");
  EXPECT_EQ(result.target, "[::1]:" + std::to_string(port));
}

TEST(CheckEngineTcpTest, TlsHandshakeAgainstPlainServerFails) {
  LoopbackServer server({.response = "not tls at all\r\n\r\n", .wait_for_request = false});
  Monitor monitor = TcpMonitor("127.0.0.1", server.port());
  monitor.tcp->tls = true;
  const CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, StartsWith("TLS: "));
}

TEST(CheckEngineTcpTest, RetriesAreCounted) {
  Monitor monitor = TcpMonitor("127.0.0.1", ClosedLoopbackPort());
  monitor.retries = 1;
  EXPECT_EQ(RunOne(monitor).attempts, 2);
}

TEST(CheckEngineDnsTest, RecordsOfEachType) {
  FakeDnsServer dns;
  const std::string server = "127.0.0.1:" + std::to_string(dns.port());
  const std::vector<std::pair<DnsRecordType, std::vector<std::string>>> cases = {
      {DnsRecordType::kA, {"192.0.2.1", "192.0.2.2"}},
      {DnsRecordType::kAAAA, {"2001:db8::1"}},
      {DnsRecordType::kCNAME, {"target.example.com"}},
      {DnsRecordType::kMX, {"10 mail.example.com"}},
      {DnsRecordType::kTXT, {"v=spf1 -all"}},
      {DnsRecordType::kNS, {"ns1.example.com"}},
  };
  for (const auto& [type, records] : cases) {
    const CheckResult result = RunOne(DnsMonitor("www.example.com", type, server));
    EXPECT_EQ(result.outcome, Outcome::kUp) << ToString(type) << ": " << result.error;
    EXPECT_EQ(result.dns_records, records) << ToString(type);
    EXPECT_GT(result.timings.dns_us, 0);
    EXPECT_EQ(result.timings.total_us, result.timings.dns_us);
  }
}

TEST(CheckEngineDnsTest, ErrorsInPlainWords) {
  FakeDnsServer dns;
  const std::string server = "127.0.0.1:" + std::to_string(dns.port());
  CheckResult result = RunOne(DnsMonitor("nx.test", DnsRecordType::kA, server));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "NXDOMAIN: nx.test does not exist");
  result = RunOne(DnsMonitor("fail.test", DnsRecordType::kA, server));
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, StartsWith("SERVFAIL"));
  result = RunOne(DnsMonitor("refused.test", DnsRecordType::kA, server));
  EXPECT_THAT(result.error, StartsWith("REFUSED"));
}

TEST(CheckEngineDnsTest, NoRecordsFailsTheDefaultAssertionButNotAnExplicitEmpty) {
  FakeDnsServer dns;
  const std::string server = "127.0.0.1:" + std::to_string(dns.port());
  Monitor monitor = DnsMonitor("empty.test", DnsRecordType::kAAAA, server);
  CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "");
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_EQ(result.failed_assertion->message, "no AAAA records for empty.test");
  monitor.assertions = {{AssertionType::kDnsRecord, CompareOp::kEmpty, "", "", ""}};
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);
}

TEST(CheckEngineDnsTest, DnsRecordAssertion) {
  FakeDnsServer dns;
  Monitor monitor =
      DnsMonitor("www.example.com", DnsRecordType::kA, "127.0.0.1:" + std::to_string(dns.port()));
  monitor.assertions = {{AssertionType::kDnsRecord, CompareOp::kEq, "", "", "192.0.2.2"}};
  EXPECT_EQ(RunOne(monitor).outcome, Outcome::kUp);
  monitor.assertions = {{AssertionType::kDnsRecord, CompareOp::kEq, "", "", "192.0.2.9"}};
  const CheckResult result = RunOne(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  ASSERT_TRUE(result.failed_assertion.has_value());
  EXPECT_EQ(result.failed_assertion->actual, "192.0.2.1, 192.0.2.2");
}

TEST(CheckEngineDnsTest, SilentServerTimesOutCleanly) {
  // A bound UDP socket nobody reads: queries vanish.
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const CheckResult result =
      RunOne(DnsMonitor("www.example.com", DnsRecordType::kA, server, milliseconds(700)));
  close(fd);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_EQ(result.error, "timeout after 700ms in phase dns");
  EXPECT_GE(result.timings.dns_us, 700'000);
}

TEST(CheckEngineDnsTest, InvalidServerIsAnError) {
  const CheckResult result =
      RunOne(DnsMonitor("www.example.com", DnsRecordType::kA, "127.0.0.1:99999"));
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_THAT(result.error, HasSubstr("invalid DNS server"));
}

}  // namespace
}  // namespace pharos
