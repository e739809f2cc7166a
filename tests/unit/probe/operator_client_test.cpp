#include "probe/operator_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <stop_token>
#include <thread>

#include "unit/probe/fake_operator.h"
#include "unit/probe/loopback_server.h"
#include "unit/probe/temp_token_file.h"
#include "unit/probe/tls_test_server.h"

namespace pharos {
namespace {

using ::testing::ElementsAre;
using testing::FakeOperator;
using ::testing::HasSubstr;
using testing::LoopbackServer;
using ::testing::Not;
using testing::TempTokenFile;
using testing::WaitUntil;

OperatorClient::Options ClientOptions(const std::string& url, const std::string& token_file) {
  OperatorClient::Options options;
  options.operator_url = url;
  options.token_file = token_file;
  options.probe = {"probe-1", "eu-west", "9.9.9"};
  options.request_timeout = std::chrono::seconds(10);
  return options;
}

TEST(OperatorClientTest, RegisterSendsIdentityAndTokenAndReadsTheReply) {
  FakeOperator fake({.lease_wait_max_seconds = 7, .result_batch_max = 42});
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url() + "/", token.path()));
  OperatorReply<RegisterReply> reply = client.Register(64);
  ASSERT_TRUE(reply.ok()) << reply.error.message;
  EXPECT_EQ(reply.value->lease_wait_max_seconds, 7);
  EXPECT_EQ(reply.value->result_batch_max, 42u);
  EXPECT_EQ(fake.registrations(), 1);
  EXPECT_EQ(
      fake.last_register_body(),
      (nlohmann::json{
          {"name", "probe-1"}, {"region", "eu-west"}, {"version", "9.9.9"}, {"capacity", 64}}));
  EXPECT_EQ(fake.last_user_agent(), "pharos-probe/9.9.9");
}

TEST(OperatorClientTest, WrongTokenIsAConfigurationErrorThatNamesTheFixButNotTheToken) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("not-the-right-token");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  OperatorReply<RegisterReply> reply = client.Register(1);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kConfiguration);
  EXPECT_EQ(reply.error.http_status, 401);
  EXPECT_THAT(reply.error.message, HasSubstr("--probe-token-file"));
  EXPECT_THAT(reply.error.message, HasSubstr(token.path()));
  EXPECT_THAT(reply.error.message, HasSubstr("invalid probe token"));  // the operator's words
  EXPECT_THAT(reply.error.message, Not(HasSubstr("not-the-right-token")));
  EXPECT_EQ(fake.unauthorized(), 1);
}

TEST(OperatorClientTest, RotatedTokenIsUsedOnTheNextCall) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  ASSERT_TRUE(client.Register(1).ok());
  fake.SetToken("probe-token-2");
  EXPECT_EQ(client.Register(1).error.http_status, 401);
  token.Rotate("probe-token-2");
  OperatorReply<RegisterReply> reply = client.Register(1);
  EXPECT_TRUE(reply.ok()) << reply.error.message;
}

TEST(OperatorClientTest, UnreadableTokenFileKeepsTheLastGoodToken) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  ASSERT_TRUE(client.Register(1).ok());
  std::filesystem::remove(token.path());
  OperatorReply<RegisterReply> reply = client.Register(1);
  EXPECT_TRUE(reply.ok()) << reply.error.message;
}

TEST(OperatorClientTest, MissingTokenFileIsAConfigurationError) {
  OperatorClient client(ClientOptions("http://127.0.0.1:1", "/nonexistent/pharos/token"));
  OperatorReply<RegisterReply> reply = client.Register(1);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kConfiguration);
  EXPECT_THAT(reply.error.message, HasSubstr("/nonexistent/pharos/token"));
}

TEST(OperatorClientTest, WrongPathIsAConfigurationError) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url() + "/prefix", token.path()));
  OperatorReply<RegisterReply> reply = client.Register(1);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kConfiguration);
  EXPECT_EQ(reply.error.http_status, 404);
  EXPECT_THAT(reply.error.message, HasSubstr("--operator"));
}

TEST(OperatorClientTest, ConnectionRefusedIsUnavailable) {
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(
      "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()), token.path()));
  OperatorReply<LeaseReply> reply = client.Lease(1, 1);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kUnavailable);
  EXPECT_EQ(reply.error.http_status, 0);
  EXPECT_THAT(reply.error.message, HasSubstr("lease"));
}

TEST(OperatorClientTest, ServerErrorsAreUnavailableAndOversizedBatchesTooLarge) {
  FakeOperator fake({.max_results_per_request = 1});
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  const std::string result = R"({"itemId":"a","outcome":"up"})";
  const std::string other = R"({"itemId":"b","outcome":"up"})";
  OperatorReply<ResultsReply> too_large = client.SendResults({result, other});
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error.kind, OperatorErrorKind::kTooLarge);
  EXPECT_EQ(too_large.error.http_status, 413);

  fake.SetResultsStatus(503);
  OperatorReply<ResultsReply> unavailable = client.SendResults({result});
  ASSERT_FALSE(unavailable.ok());
  EXPECT_EQ(unavailable.error.kind, OperatorErrorKind::kUnavailable);
  EXPECT_EQ(unavailable.error.http_status, 503);
  EXPECT_THAT(unavailable.error.message, HasSubstr("the store is unavailable"));
}

TEST(OperatorClientTest, MalformedResultIsABadRequest) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  OperatorReply<ResultsReply> reply = client.SendResults({R"({"outcome":"up"})"});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kBadRequest);
  EXPECT_EQ(reply.error.http_status, 400);
  EXPECT_THAT(reply.error.message, HasSubstr("results[0]: malformed result"));
}

TEST(OperatorClientTest, ResultsReplyListsWhatWasStored) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  fake.RejectItems({"c"});
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  ASSERT_TRUE(client.SendResults({R"({"itemId":"a","outcome":"up"})"}).ok());
  OperatorReply<ResultsReply> reply =
      client.SendResults({R"({"itemId":"a","outcome":"up"})", R"({"itemId":"b","outcome":"down"})",
                          R"({"itemId":"c","outcome":"up"})"});
  ASSERT_TRUE(reply.ok()) << reply.error.message;
  EXPECT_THAT(reply.value->accepted, ElementsAre("b"));
  EXPECT_THAT(reply.value->duplicates, ElementsAre("a"));
  ASSERT_EQ(reply.value->rejected.size(), 1u);
  EXPECT_EQ(reply.value->rejected[0].id, "c");
  EXPECT_EQ(reply.value->rejected[0].reason, "unknown monitor");
  EXPECT_EQ(fake.stored().at("b")["outcome"], "down");
}

TEST(OperatorClientTest, LeaseReadsItemsAndMonitors) {
  FakeOperator fake;
  ASSERT_TRUE(fake.Start().ok());
  fake.AddMonitor("uid-1", {{"metadata", {{"name", "web"}}}});
  FakeOperator::Item item;
  item.id = "item-1";
  item.monitor_uid = "uid-1";
  item.generation = 3;
  fake.Enqueue(item);
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  OperatorReply<LeaseReply> reply = client.Lease(10, 1);
  ASSERT_TRUE(reply.ok()) << reply.error.message;
  ASSERT_EQ(reply.value->items.size(), 1u);
  const LeaseItem& leased = reply.value->items[0];
  EXPECT_EQ(leased.id, "item-1");
  EXPECT_EQ(leased.monitor_uid, "uid-1");
  EXPECT_EQ(leased.generation, 3);
  EXPECT_EQ(leased.region, "eu-west");
  EXPECT_EQ(std::chrono::floor<std::chrono::milliseconds>(leased.scheduled_at),
            std::chrono::floor<std::chrono::milliseconds>(item.scheduled_at));
  ASSERT_TRUE(leased.deadline.has_value());
  // The lease asked for items without specs: each names its spec's version instead.
  EXPECT_TRUE(reply.value->monitors.empty());
  EXPECT_FALSE(leased.spec_version.empty());
  EXPECT_EQ(reply.value->clock_offset, std::chrono::milliseconds(0));

  OperatorReply<MonitorSpecsReply> specs = client.FetchMonitorSpecs({"uid-1", "uid-gone"});
  ASSERT_TRUE(specs.ok()) << specs.error.message;
  EXPECT_EQ(specs.value->monitors["uid-1"]["metadata"]["name"], "web");
  EXPECT_FALSE(specs.value->monitors.contains("uid-gone"));
  EXPECT_EQ(specs.value->versions.at("uid-1"), leased.spec_version);
  EXPECT_EQ(fake.monitor_uids_asked(), (std::vector<std::string>{"uid-1", "uid-gone"}));
}

TEST(OperatorClientTest, StopTokenAbandonsALongPoll) {
  FakeOperator fake({.lease_wait_max_seconds = 60});
  ASSERT_TRUE(fake.Start().ok());
  TempTokenFile token("probe-token-1");
  OperatorClient client(ClientOptions(fake.url(), token.path()));
  std::stop_source stop;
  auto lease =
      std::async(std::launch::async, [&] { return client.Lease(1, 60, stop.get_token()); });
  ASSERT_TRUE(WaitUntil([&] { return fake.leases() == 1; }));
  stop.request_stop();
  // The fake would hold the poll for a minute and then answer with an empty list: a cancelled
  // call proves the poll was abandoned.
  OperatorReply<LeaseReply> reply = lease.get();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kCancelled);
  fake.Stop();
}

TEST(OperatorClientTest, ReplyThatIsNotJsonIsUnavailable) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, "<html>proxy</html>")});
  TempTokenFile token("probe-token-1");
  OperatorClient client(
      ClientOptions("http://127.0.0.1:" + std::to_string(server.port()), token.path()));
  OperatorReply<LeaseReply> reply = client.Lease(1, 1);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error.kind, OperatorErrorKind::kUnavailable);
  EXPECT_THAT(reply.error.message, HasSubstr("not JSON"));
}

TEST(OperatorClientTest, ALeaseReplyIsBoundedByTheItemsAskedFor) {
  // A reply of 200 KB: fine for a lease of 100 items, too much for a lease of 1.
  const std::string big = "{\"items\": [], \"pad\": \"" + std::string(200'000, 'x') + "\"}";
  LoopbackServer server({.response = LoopbackServer::HttpResponse(200, big)});
  TempTokenFile token("probe-token-1");
  OperatorClient::Options options =
      ClientOptions("http://127.0.0.1:" + std::to_string(server.port()), token.path());
  options.lease_reply_base_bytes = 10'000;
  options.lease_reply_item_bytes = 10'000;
  OperatorClient client(options);
  OperatorReply<LeaseReply> small = client.Lease(1, 1);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error.kind, OperatorErrorKind::kUnavailable);
  EXPECT_THAT(small.error.message, HasSubstr("the reply is larger than 20000 bytes"));
  OperatorReply<LeaseReply> enough = client.Lease(100, 1);
  EXPECT_TRUE(enough.ok()) << enough.error.message;
}

TEST(OperatorClientTest, ReadsTheOperatorClockFromTheDateHeader) {
  LoopbackServer server({.response = LoopbackServer::HttpResponse(
                             200, R"({"items":[]})", "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")});
  TempTokenFile token("probe-token-1");
  OperatorClient client(
      ClientOptions("http://127.0.0.1:" + std::to_string(server.port()), token.path()));
  OperatorReply<LeaseReply> reply = client.Lease(1, 1);
  ASSERT_TRUE(reply.ok()) << reply.error.message;
  EXPECT_LT(reply.value->clock_offset, -std::chrono::hours(24 * 365 * 30));
}

// Writes a private key as PEM to a temporary file, removed by the destructor.
class KeyFile {
 public:
  explicit KeyFile(EVP_PKEY* key) {
    char path[] = "/tmp/pharos-test-key-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp");
    path_ = path;
    const std::unique_ptr<FILE, decltype(&fclose)> file(fdopen(fd, "w"), &fclose);
    PEM_write_PrivateKey(file.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  ~KeyFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(OperatorClientTest, HttpsOperatorIsVerifiedWithTheCaFile) {
  const testing::TestCertificate ca =
      testing::MakeCertificate("Pharos Test CA", "", -60, 3600, true, nullptr);
  const testing::TestCertificate leaf =
      testing::MakeCertificate("127.0.0.1", "IP:127.0.0.1", -60, 3600, false, &ca);
  testing::PemFile ca_file({ca.cert.get()});
  testing::PemFile cert_file({leaf.cert.get()});
  KeyFile key_file(leaf.key.get());
  FakeOperator fake({.tls_cert_file = cert_file.path(), .tls_key_file = key_file.path()});
  ASSERT_TRUE(fake.Start().ok());
  ASSERT_THAT(fake.url(), ::testing::StartsWith("https://"));
  TempTokenFile token("probe-token-1");

  OperatorClient::Options options = ClientOptions(fake.url(), token.path());
  OperatorReply<RegisterReply> unverified = OperatorClient(options).Register(1);
  ASSERT_FALSE(unverified.ok());
  EXPECT_EQ(unverified.error.kind, OperatorErrorKind::kConfiguration);
  EXPECT_THAT(unverified.error.message, HasSubstr("--ca-file"));

  options.ca_file = ca_file.path();
  OperatorReply<RegisterReply> verified = OperatorClient(options).Register(1);
  EXPECT_TRUE(verified.ok()) << verified.error.message;

  options.ca_file.clear();
  options.insecure_skip_verify = true;
  OperatorReply<RegisterReply> insecure = OperatorClient(options).Register(1);
  EXPECT_TRUE(insecure.ok()) << insecure.error.message;
  EXPECT_EQ(fake.registrations(), 2);
}

}  // namespace
}  // namespace pharos
