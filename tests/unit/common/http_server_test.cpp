#include "common/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/metrics_writer.h"

namespace pharos {
namespace {

using namespace std::chrono_literals;

struct FetchResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  HttpHeaders headers;
};

struct FetchOptions {
  std::string body;
  std::vector<std::string> headers;
  bool chunked = false;
  std::string ca_file;
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t AppendHeader(char* data, size_t size, size_t count, void* user) {
  const std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    (*static_cast<HttpHeaders*>(user))[line.substr(0, colon)] = value;
  }
  return size * count;
}

struct ChunkedSource {
  std::string data;
  size_t offset = 0;
};

size_t ReadChunk(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<ChunkedSource*>(user);
  const size_t n =
      std::min(size * count, std::min<size_t>(100, source->data.size() - source->offset));
  std::copy_n(source->data.data() + source->offset, n, buffer);
  source->offset += n;
  return n;
}

FetchResult Fetch(const std::string& method, const std::string& url,
                  const FetchOptions& options = {}) {
  FetchResult result;
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  for (const std::string& header : options.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  ChunkedSource source{options.body};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (options.chunked) {
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadChunk);
    curl_easy_setopt(curl, CURLOPT_READDATA, &source);
  } else if (!options.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(options.body.size()));
  }
  if (method != "HEAD") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  result.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

// Sends raw bytes on a fresh connection and returns whatever comes back until the server closes;
// "<TIMEOUT>" is appended when it neither answered nor closed within 5 s.
std::string RawExchange(int port, const std::string& bytes, bool half_close = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "<connect failed>";
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  (void)!write(fd, bytes.data(), bytes.size());
  if (half_close) shutdown(fd, SHUT_WR);
  std::string received;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    received.append(buffer, static_cast<size_t>(n));
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) received += "<TIMEOUT>";
  close(fd);
  return received;
}

// Polls `condition` until it holds or the deadline passes.
template <typename Condition>
bool WaitFor(Condition condition, std::chrono::seconds deadline = 10s) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

nlohmann::json EchoJson(const HttpRequest& request) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : request.headers) headers[name] = value;
  return {{"method", request.method},
          {"path", request.path},
          {"query", request.query},
          {"params", request.path_params},
          {"body", request.body},
          {"remote", request.remote_address},
          {"custom", std::string(request.Header("x-CUSTOM"))}};
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    ASSERT_TRUE(server_
                    ->Route("GET", "/healthz",
                            [](const HttpRequest&, const HttpResponder& responder) {
                              responder.Send(HttpResponse::Text(200, "ok"));
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("POST", "/api/v1/monitors/{namespace}/{name}/results",
                            [](const HttpRequest& request, const HttpResponder& responder) {
                              HttpResponse response =
                                  HttpResponse::Json(201, EchoJson(request).dump());
                              response.headers.emplace_back("X-Reply", "yes");
                              responder.Send(std::move(response));
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("PUT", "/echo",
                            [](const HttpRequest& request, const HttpResponder& responder) {
                              responder.Send(HttpResponse::Json(200, EchoJson(request).dump()));
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("PUT", "/raw",
                            [](const HttpRequest& request, const HttpResponder& responder) {
                              responder.Send({200, "application/octet-stream", request.body, {}});
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("GET", "/throw",
                            [](const HttpRequest&, const HttpResponder&) {
                              throw std::runtime_error("boom");
                            })
                    .ok());
    ASSERT_TRUE(
        server_->Route("GET", "/drop", [](const HttpRequest&, const HttpResponder&) {}).ok());
    ASSERT_TRUE(server_
                    ->Route("GET", "/wait",
                            [this](const HttpRequest&, HttpResponder responder) {
                              std::lock_guard lock(mutex_);
                              waiting_.push_back(std::move(responder));
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("GET", "/stream",
                            [this](const HttpRequest&, const HttpResponder& responder) {
                              HttpResponse response;
                              response.content_type = "text/plain";
                              response.stream = stream_producer_;
                              responder.Send(std::move(response));
                              ++stream_sends_;
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("GET", "/big",
                            [this](const HttpRequest&, const HttpResponder& responder) {
                              responder.Send(HttpResponse::Text(200, std::string(big_bytes_, 'b')));
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->Route("GET", "/files/{path...}",
                            [](const HttpRequest& request, const HttpResponder& responder) {
                              responder.Send(HttpResponse::Text(
                                  200, std::to_string(request.path_params.at("path").size())));
                            })
                    .ok());
    Status started = server_->Start("127.0.0.1:0");
    ASSERT_TRUE(started.ok()) << started.error();
    ASSERT_GT(server_->port(), 0);
    url_ = server_->base_url();
    ASSERT_EQ(url_, "http://127.0.0.1:" + std::to_string(server_->port()));
  }

  size_t WaitingCount() {
    std::lock_guard lock(mutex_);
    return waiting_.size();
  }

  std::unique_ptr<HttpServer> server_;
  std::string url_;
  std::mutex mutex_;
  std::vector<HttpResponder> waiting_;
  HttpBodyProducer stream_producer_;  // the body of GET /stream
  size_t big_bytes_ = 0;              // the size of GET /big's plain body
  std::atomic<int> stream_sends_{0};  // GET /stream answers sent (their producers submitted)
};

TEST_F(HttpServerTest, RoutesWithParamsQueryHeadersAndBody) {
  StartServer();
  FetchResult result =
      Fetch("POST", url_ + "/api/v1/monitors/shop/check%2Dout/results?limit=10&q=a%20b+c",
            {.body = "{\"x\":1}", .headers = {"X-Custom: hello"}});
  ASSERT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.status, 201);
  EXPECT_EQ(result.headers["content-type"], "application/json");
  EXPECT_EQ(result.headers["X-Reply"], "yes");
  const auto echo = nlohmann::json::parse(result.body);
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["path"], "/api/v1/monitors/shop/check%2Dout/results");
  EXPECT_EQ(echo["params"]["namespace"], "shop");
  EXPECT_EQ(echo["params"]["name"], "check-out");
  EXPECT_EQ(echo["query"]["limit"], "10");
  EXPECT_EQ(echo["query"]["q"], "a b c");
  EXPECT_EQ(echo["body"], "{\"x\":1}");
  EXPECT_EQ(echo["remote"], "127.0.0.1");
  EXPECT_EQ(echo["custom"], "hello");

  FetchResult health = Fetch("GET", url_ + "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");
  EXPECT_EQ(health.headers["Content-Type"], "text/plain; charset=utf-8");
}

TEST_F(HttpServerTest, BinaryBodiesPassUnchanged) {
  StartServer();
  std::string binary;
  for (int round = 0; round < 600; ++round) {  // larger than one 64 KiB read chunk
    for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  }
  FetchResult result = Fetch("PUT", url_ + "/raw", {.body = binary});
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.headers["Content-Type"], "application/octet-stream");
  EXPECT_EQ(result.body.size(), binary.size());
  EXPECT_TRUE(result.body == binary);
}

TEST_F(HttpServerTest, UnknownRouteIs404Json) {
  StartServer();
  FetchResult result = Fetch("GET", url_ + "/nope?x=1");
  EXPECT_EQ(result.status, 404);
  EXPECT_EQ(result.headers["Content-Type"], "application/json");
  EXPECT_EQ(nlohmann::json::parse(result.body),
            (nlohmann::json{{"error", "no route for GET /nope"}}));
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  FetchResult result = Fetch("DELETE", url_ + "/healthz");
  EXPECT_EQ(result.status, 405);
  EXPECT_EQ(result.headers["Allow"], "GET, HEAD");
  EXPECT_EQ(nlohmann::json::parse(result.body)["error"],
            "method DELETE is not allowed for /healthz (allowed: GET, HEAD)");
}

TEST_F(HttpServerTest, BadPercentEscapeIs400Json) {
  StartServer();
  FetchResult result = Fetch("GET", url_ + "/healthz?x=%zz");
  EXPECT_EQ(result.status, 400);
  EXPECT_NE(nlohmann::json::parse(result.body)["error"].get<std::string>().find("percent-escape"),
            std::string::npos);
}

TEST_F(HttpServerTest, HeadUsesGetRouteWithoutBody) {
  StartServer();
  FetchResult result = Fetch("HEAD", url_ + "/healthz");
  EXPECT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "");
}

TEST_F(HttpServerTest, BodyLimitGives413) {
  StartServer({.max_body_bytes = 1024});
  const std::string path = "/api/v1/monitors/a/b/results";
  FetchResult exact = Fetch("POST", url_ + path, {.body = std::string(1024, 'x')});
  EXPECT_EQ(exact.status, 201);

  FetchResult declared = Fetch("POST", url_ + path, {.body = std::string(5000, 'x')});
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(nlohmann::json::parse(declared.body)["error"], "request body larger than 1024 bytes");

  FetchResult chunked =
      Fetch("POST", url_ + path, {.body = std::string(5000, 'y'), .chunked = true});
  EXPECT_EQ(chunked.status, 413);

  FetchResult small_chunked = Fetch("POST", url_ + path, {.body = "chunked body", .chunked = true});
  EXPECT_EQ(small_chunked.status, 201);
  EXPECT_EQ(nlohmann::json::parse(small_chunked.body)["body"], "chunked body");

  // The server keeps serving afterwards.
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").status, 200);
}

// A client still sending when the server closes gets a reset instead of the answer: the server
// reads the refused body to its end before sending the 413, every time.
TEST_F(HttpServerTest, OversizedBodyIsReadToTheEndSoThe413Arrives) {
  StartServer({.max_body_bytes = 1024});
  const std::string path = "/api/v1/monitors/a/b/results";
  const std::string oversized(size_t{3} * 1024 * 1024, 'z');
  for (int attempt = 0; attempt < 10; ++attempt) {
    FetchResult declared = Fetch("POST", url_ + path, {.body = oversized});
    EXPECT_EQ(declared.code, CURLE_OK) << "attempt " << attempt;
    EXPECT_EQ(declared.status, 413) << "attempt " << attempt;
    FetchResult chunked = Fetch("POST", url_ + path, {.body = oversized, .chunked = true});
    EXPECT_EQ(chunked.code, CURLE_OK) << "attempt " << attempt;
    EXPECT_EQ(chunked.status, 413) << "attempt " << attempt;
  }
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerSurvives) {
  StartServer();
  FetchResult result = Fetch("GET", url_ + "/throw");
  EXPECT_EQ(result.status, 500);
  EXPECT_EQ(nlohmann::json::parse(result.body)["error"], "internal server error");
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").status, 200);
}

TEST_F(HttpServerTest, DroppedResponderIs500) {
  StartServer();
  FetchResult result = Fetch("GET", url_ + "/drop");
  EXPECT_EQ(result.status, 500);
  EXPECT_EQ(nlohmann::json::parse(result.body)["error"], "the server did not answer this request");
}

TEST_F(HttpServerTest, DelayedSendFromAnotherThread) {
  StartServer();
  auto pending = std::async(std::launch::async, [&] { return Fetch("GET", url_ + "/wait"); });
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
  // The handler has returned; the request is parked until another thread answers.
  EXPECT_EQ(pending.wait_for(0s), std::future_status::timeout);
  HttpResponder responder = [&] {
    std::lock_guard lock(mutex_);
    return waiting_[0];
  }();
  std::thread sender(
      [responder] { EXPECT_TRUE(responder.Send(HttpResponse::Json(200, "{\"items\":[]}"))); });
  sender.join();
  EXPECT_TRUE(responder.sent());
  EXPECT_FALSE(responder.Send(HttpResponse::Json(200, "{}")));  // only once
  FetchResult result = pending.get();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "{\"items\":[]}");
}

TEST_F(HttpServerTest, ConcurrentRequests) {
  StartServer();
  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  std::vector<std::future<int>> workers;
  workers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    workers.push_back(std::async(std::launch::async, [&, t] {
      int good = 0;
      for (int i = 0; i < kRequests; ++i) {
        const std::string name = "m" + std::to_string(t) + "-" + std::to_string(i);
        FetchResult result =
            Fetch("POST", url_ + "/api/v1/monitors/ns/" + name + "/results", {.body = name});
        if (result.status == 201 && nlohmann::json::parse(result.body)["params"]["name"] == name &&
            nlohmann::json::parse(result.body)["body"] == name) {
          ++good;
        }
      }
      return good;
    }));
  }
  // Long polls parked meanwhile do not block the others.
  auto parked = std::async(std::launch::async, [&] { return Fetch("GET", url_ + "/wait"); });
  int good = 0;
  for (auto& worker : workers) good += worker.get();
  EXPECT_EQ(good, kThreads * kRequests);
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
  {
    std::lock_guard lock(mutex_);
    waiting_[0].Send(HttpResponse::Text(200, "late"));
  }
  EXPECT_EQ(parked.get().body, "late");
}

TEST_F(HttpServerTest, MalformedRequestsDoNotCrash) {
  StartServer();
  const int port = server_->port();
  const std::vector<std::string> garbage = {
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/1.1\r\nno colon header\r\n\r\n",
      "GET /%zz%% HTTP/1.1\r\nHost: x\r\n\r\n",
      "G\x01T /\x7F HTTP/1.1\r\n\r\n",
      std::string("\0\0\0\xFF\xFE binary", 12),
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n",  // never finished
  };
  for (const std::string& bytes : garbage) {
    const std::string reply = RawExchange(port, bytes);
    EXPECT_EQ(reply.find("<TIMEOUT>"), std::string::npos) << "connection left hanging: " << bytes;
    FetchResult health = Fetch("GET", url_ + "/healthz");
    EXPECT_EQ(health.status, 200) << "after sending: " << bytes;
  }
  const std::string cut_short =
      RawExchange(port, "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort");
  EXPECT_EQ(cut_short.rfind("HTTP/1.1 400", 0), 0u) << cut_short;
  EXPECT_NE(cut_short.find("{\"error\":\"the request body could not be read completely\"}"),
            std::string::npos)
      << cut_short;
  const std::string negative =
      RawExchange(port, "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
  EXPECT_NE(negative.find("invalid Content-Length"), std::string::npos) << negative;
  const std::string reply = RawExchange(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 404", 0), 0u) << reply;
}

TEST_F(HttpServerTest, StopWithParkedRequestDoesNotHang) {
  StartServer();
  auto parked = std::async(std::launch::async, [&] { return Fetch("GET", url_ + "/wait"); });
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
  server_->Stop();
  FetchResult result = parked.get();  // closed or 500, but answered
  EXPECT_TRUE(result.code != CURLE_OK || result.status == 500) << result.status;
  std::lock_guard lock(mutex_);
  EXPECT_FALSE(waiting_[0].Send(HttpResponse::Text(200, "too late")));
  server_->Stop();  // idempotent
  // The port is released: the connection is refused.
  FetchResult after = Fetch("GET", url_ + "/healthz");
  EXPECT_NE(after.code, CURLE_OK) << after.status;
}

// A connection that sent `request` and reads nothing (a stalled client); closed on destruction.
class SilentClient {
 public:
  SilentClient(int port, const std::string& request) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                 write(fd_, request.data(), request.size()) == static_cast<ssize_t>(request.size());
  }
  ~SilentClient() { close(fd_); }
  SilentClient(const SilentClient&) = delete;
  SilentClient& operator=(const SilentClient&) = delete;
  bool connected() const { return connected_; }

 private:
  int fd_;
  bool connected_ = false;
};

// What a producer did, shared with the test thread.
struct ProducerLog {
  std::atomic<size_t> bytes_accepted{0};
  std::atomic<bool> refused{false};  // a Write returned false
  std::atomic<bool> returned{false};
  std::atomic<int> runs{0};
};

// Writes `pieces` pieces of `piece_bytes` (piece i filled with 'a' + i % 26) until one is refused.
HttpBodyProducer CountingProducer(const std::shared_ptr<ProducerLog>& log, size_t pieces,
                                  size_t piece_bytes) {
  return [log, pieces, piece_bytes](HttpBodyWriter& body) {
    ++log->runs;
    for (size_t i = 0; i < pieces; ++i) {
      if (!body.Write(std::string(piece_bytes, static_cast<char>('a' + i % 26)))) {
        log->refused = true;
        break;
      }
      log->bytes_accepted += piece_bytes;
    }
    log->returned = true;
  };
}

std::string ExpectedPieces(size_t pieces, size_t piece_bytes) {
  std::string text;
  for (size_t i = 0; i < pieces; ++i) text.append(piece_bytes, static_cast<char>('a' + i % 26));
  return text;
}

// A large body streamed through a small buffer arrives whole, chunked, and in order.
TEST_F(HttpServerTest, StreamedBodyArrivesWholeThroughASmallBuffer) {
  auto log = std::make_shared<ProducerLog>();
  stream_producer_ = CountingProducer(log, 80, 100'000);
  HttpServerOptions options;
  options.stream_buffer_bytes = size_t{64} * 1024;
  StartServer(options);
  FetchResult result = Fetch("GET", url_ + "/stream");
  ASSERT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.headers["Transfer-Encoding"], "chunked");
  EXPECT_EQ(result.headers["Content-Type"], "text/plain");
  EXPECT_TRUE(result.body == ExpectedPieces(80, 100'000)) << "body of " << result.body.size();
  EXPECT_FALSE(log->refused.load());
  // The connection stays usable for the next request, and so does the stream thread.
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").body, "ok");
  EXPECT_EQ(Fetch("GET", url_ + "/stream").body.size(), 8'000'000u);
  EXPECT_EQ(log->runs.load(), 2);
}

// A client that reads nothing holds the producer at the buffer (plus what the sockets hold), not
// the whole body, and is cut off after the stall timeout.
TEST_F(HttpServerTest, StalledClientBoundsTheBufferAndIsCutOff) {
  auto log = std::make_shared<ProducerLog>();
  constexpr size_t kPieces = 16'384;  // 1 GiB in all
  stream_producer_ = CountingProducer(log, kPieces, size_t{64} * 1024);
  HttpServerOptions options;
  options.stream_buffer_bytes = size_t{256} * 1024;
  options.stream_stall_timeout = 300ms;
  StartServer(options);
  SilentClient client(server_->port(), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(WaitFor([&] { return log->returned.load(); }, 30s));
  EXPECT_TRUE(log->refused.load());
  // Loopback socket buffers hold a few MiB at most.
  EXPECT_LT(log->bytes_accepted.load(), 64u * 1024 * 1024);
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").body, "ok");
}

size_t AbortAfterFirstBytes(char*, size_t size, size_t count, void* user) {
  auto* received = static_cast<size_t*>(user);
  *received += size * count;
  return *received > 200'000 ? 0 : size * count;  // 0: curl aborts and closes the connection
}

// A client that goes away mid-body stops the producer: it is not left writing into the void.
TEST_F(HttpServerTest, ClientLeavingStopsTheProducer) {
  auto log = std::make_shared<ProducerLog>();
  stream_producer_ = CountingProducer(log, 1'000'000, size_t{64} * 1024);
  HttpServerOptions options;
  options.stream_stall_timeout = 10min;  // only the disconnect can stop it within the test
  StartServer(options);
  CURL* curl = curl_easy_init();
  size_t received = 0;
  const std::string url = url_ + "/stream";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AbortAfterFirstBytes);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  EXPECT_EQ(curl_easy_perform(curl), CURLE_WRITE_ERROR);
  curl_easy_cleanup(curl);
  ASSERT_TRUE(WaitFor([&] { return log->returned.load(); }, 30s));
  EXPECT_TRUE(log->refused.load());
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").body, "ok");
}

// A producer that fails mid-body leaves the client with an incomplete response, never a short one
// that looks complete; the server keeps serving.
TEST_F(HttpServerTest, ProducerFailureEndsTheResponseIncomplete) {
  stream_producer_ = [](HttpBodyWriter& body) {
    body.Write(std::string(10'000, 'x'));
    throw std::runtime_error("the store went away");
  };
  StartServer();
  FetchResult result = Fetch("GET", url_ + "/stream");
  EXPECT_NE(result.code, CURLE_OK) << "got a complete body of " << result.body.size();
  EXPECT_LE(result.body.size(), 10'000u);
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").body, "ok");
}

TEST_F(HttpServerTest, HeadOfAStreamedRouteRunsNoProducer) {
  auto log = std::make_shared<ProducerLog>();
  stream_producer_ = CountingProducer(log, 10, 1000);
  StartServer();
  FetchResult result = Fetch("HEAD", url_ + "/stream");
  EXPECT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(Fetch("GET", url_ + "/stream").body.size(), 10'000u);
  EXPECT_EQ(log->runs.load(), 1);
}

// Streams run one at a time; a few wait their turn, more are refused with 503 instead of piling
// up behind a stalled client. Stop ends them all without waiting for the stall timeout.
TEST_F(HttpServerTest, StreamsQueueBoundedAndStopEndsThem) {
  auto log = std::make_shared<ProducerLog>();
  stream_producer_ = CountingProducer(log, 1'000'000, size_t{64} * 1024);
  HttpServerOptions options;
  options.stream_stall_timeout = 10min;
  StartServer(options);
  const std::string request = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::unique_ptr<SilentClient>> clients;
  clients.push_back(std::make_unique<SilentClient>(server_->port(), request));
  ASSERT_TRUE(WaitFor([&] { return log->runs.load() == 1; }));
  for (size_t i = 0; i < HttpServer::kMaxWaitingStreams; ++i) {
    clients.push_back(std::make_unique<SilentClient>(server_->port(), request));
  }
  ASSERT_TRUE(WaitFor([&] { return stream_sends_.load() == static_cast<int>(clients.size()); }));
  const FetchResult refused = Fetch("GET", url_ + "/stream");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("retry"), std::string::npos) << refused.body;
  EXPECT_EQ(log->runs.load(), 1);  // the first still runs, held by its silent client

  auto stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  EXPECT_EQ(stopped.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(log->returned.load());
  EXPECT_TRUE(log->refused.load());
  EXPECT_EQ(log->runs.load(), 1);  // waiting streams were dropped, not run
}

TEST(HttpServerStartTest, PortTakenByAnotherProcessIsAClearError) {
  // A plain listening socket stands in for another process holding the port.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  HttpServer server;
  Status status = server.Start("127.0.0.1:" + std::to_string(port));
  close(fd);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("in use"), std::string::npos) << status.error();
}

TEST(HttpServerStartTest, SecondServerOnSamePortIsRefusedAndFirstKeepsServing) {
  HttpServer first;
  ASSERT_TRUE(first
                  .Route("GET", "/x",
                         [](const HttpRequest&, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, "first"));
                         })
                  .ok());
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  HttpServer second;
  Status status = second.Start("127.0.0.1:" + std::to_string(first.port()));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), "cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                                ": address already in use");
  EXPECT_EQ(Fetch("GET", first.base_url() + "/x").body, "first");
}

TEST(HttpServerStartTest, PortCanBeReusedAfterStop) {
  int port = 0;
  {
    HttpServer first;
    ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
    port = first.port();
  }
  HttpServer second;
  ASSERT_TRUE(second
                  .Route("GET", "/x",
                         [](const HttpRequest&, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, "second"));
                         })
                  .ok());
  Status status = second.Start("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_EQ(Fetch("GET", second.base_url() + "/x").body, "second");
}

TEST(HttpServerStartTest, InvalidListenAddresses) {
  for (const std::string listen :
       {"nonsense", "127.0.0.1:99999", "127.0.0.1:", "::1:80", "[::1", "127.0.0.1:8x", ""}) {
    HttpServer server;
    Status status = server.Start(listen);
    ASSERT_FALSE(status.ok()) << listen;
    EXPECT_NE(status.error().find("invalid listen address"), std::string::npos) << status.error();
  }
}

TEST(HttpServerStartTest, StartTwiceAndRouteErrors) {
  HttpServer server;
  EXPECT_FALSE(
      server.Route("GET", "no-slash", [](const HttpRequest&, const HttpResponder&) {}).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(server.Start("127.0.0.1:0").error(), "the HTTP server is already started");
  EXPECT_EQ(server.Route("GET", "/late", [](const HttpRequest&, const HttpResponder&) {}).error(),
            "routes must be added before the HTTP server starts");
  server.Stop();
  EXPECT_EQ(server.Start("127.0.0.1:0").error(), "the HTTP server is already started");
}

TEST(HttpServerStartTest, ListensOnIpv6Loopback) {
  HttpServer server;
  ASSERT_TRUE(server
                  .Route("GET", "/x",
                         [](const HttpRequest& request, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, request.remote_address));
                         })
                  .ok());
  Status status = server.Start("[::1]:0");
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_EQ(server.base_url(), "http://[::1]:" + std::to_string(server.port()));
  FetchResult result = Fetch("GET", server.base_url() + "/x");
  ASSERT_EQ(result.code, CURLE_OK) << curl_easy_strerror(result.code);
  EXPECT_EQ(result.body, "::1");
}

// "[::]" serves IPv6 and IPv4 clients; IPv4 peers are reported as plain IPv4 addresses.
TEST(HttpServerStartTest, Ipv6AnyAddressAlsoTakesIpv4) {
  HttpServer server;
  ASSERT_TRUE(server
                  .Route("GET", "/x",
                         [](const HttpRequest& request, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, request.remote_address));
                         })
                  .ok());
  Status status = server.Start("[::]:0");
  ASSERT_TRUE(status.ok()) << status.error();
  const std::string port = std::to_string(server.port());
  EXPECT_EQ(Fetch("GET", "http://[::1]:" + port + "/x").body, "::1");
  EXPECT_EQ(Fetch("GET", "http://127.0.0.1:" + port + "/x").body, "127.0.0.1");
}

TEST(HttpServerStartTest, AllInterfacesWithEmptyHost) {
  HttpServer server;
  ASSERT_TRUE(server
                  .Route("GET", "/x",
                         [](const HttpRequest&, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, "any"));
                         })
                  .ok());
  Status status = server.Start(":0");
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_EQ(server.base_url(), "http://0.0.0.0:" + std::to_string(server.port()));
  EXPECT_EQ(Fetch("GET", "http://127.0.0.1:" + std::to_string(server.port()) + "/x").body, "any");
}

class TlsFiles {
 public:
  TlsFiles() {
    dir_ = std::filesystem::temp_directory_path() / ("pharos_tls_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key() + " -out " + cert() + " >/dev/null 2>&1";
    ok_ = std::system(command.c_str()) == 0;
  }
  ~TlsFiles() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string cert() const { return (dir_ / "cert.pem").string(); }
  std::string key() const { return (dir_ / "key.pem").string(); }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
};

TEST(HttpServerTlsTest, ServesHttps) {
  TlsFiles files;
  ASSERT_TRUE(files.ok()) << "openssl could not create a test certificate (is openssl installed?)";
  HttpServer server({.tls_cert_file = files.cert(), .tls_key_file = files.key()});
  ASSERT_TRUE(server
                  .Route("GET", "/secure",
                         [](const HttpRequest&, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, "tls ok"));
                         })
                  .ok());
  Status status = server.Start("127.0.0.1:0");
  ASSERT_TRUE(status.ok()) << status.error();
  ASSERT_EQ(server.base_url().rfind("https://", 0), 0u);
  FetchResult result = Fetch("GET", server.base_url() + "/secure", {.ca_file = files.cert()});
  ASSERT_EQ(result.code, CURLE_OK) << curl_easy_strerror(result.code);
  EXPECT_EQ(result.body, "tls ok");
  // Plain HTTP to the TLS port fails without harming the server.
  FetchResult plain = Fetch("GET", "http://127.0.0.1:" + std::to_string(server.port()) + "/secure");
  EXPECT_NE(plain.status, 200);
  EXPECT_EQ(Fetch("GET", server.base_url() + "/secure", {.ca_file = files.cert()}).body, "tls ok");
}

TEST(HttpServerTlsTest, BadTlsFilesFailStart) {
  TlsFiles files;
  ASSERT_TRUE(files.ok());
  HttpServer missing({.tls_cert_file = "/nonexistent/cert.pem", .tls_key_file = files.key()});
  Status status = missing.Start("127.0.0.1:0");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("cannot load TLS certificate \"/nonexistent/cert.pem\""),
            std::string::npos)
      << status.error();
  HttpServer swapped({.tls_cert_file = files.key(), .tls_key_file = files.cert()});
  EXPECT_FALSE(swapped.Start("127.0.0.1:0").ok());
  HttpServer half({.tls_cert_file = files.cert()});
  EXPECT_EQ(half.Start("127.0.0.1:0").error(), "TLS needs both a certificate file and a key file");
}

// ---------------------------------------------------------------------------------------------
// Limits and hostile input (issues #15 and #16), through raw sockets: what curl will not send.

struct RawResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// One loopback connection speaking raw HTTP/1.1; closed on destruction.
class RawClient {
 public:
  // `source`: the local address to connect from (another loopback address is another client).
  explicit RawClient(int port, const char* source = nullptr)
      : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, source, &local.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
        return;
      }
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next response (Content-Length, chunked, or up to the end of the connection); nullopt when
  // the connection ended (or 10 s passed) before a whole one arrived.
  std::optional<RawResponse> Read() {
    size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    RawResponse response;
    const std::string head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    if (head.size() < 12 || head.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
    response.status = std::stoi(head.substr(9, 3));
    for (size_t line = head.find("\r\n") + 2; line < head.size();) {
      const size_t next = head.find("\r\n", line);
      const std::string field = head.substr(line, next - line);
      const size_t colon = field.find(':');
      response.headers[field.substr(0, colon)] = field.substr(colon + 2);
      line = next + 2;
    }
    if (response.status < 200 || response.status == 204 || response.status == 304) {
      return response;
    }
    if (response.headers.count("Content-Length") != 0) {
      const size_t length = std::stoul(response.headers["Content-Length"]);
      while (buffer_.size() < length) {
        if (!Fill()) return std::nullopt;
      }
      response.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    } else if (response.headers["Transfer-Encoding"] == "chunked") {
      while (true) {
        size_t line_end = 0;
        while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return std::nullopt;
        }
        const size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
        while (buffer_.size() < line_end + 2 + size + 2) {
          if (!Fill()) return std::nullopt;
        }
        response.body += buffer_.substr(line_end + 2, size);
        buffer_.erase(0, line_end + 2 + size + 2);
        if (size == 0) break;
      }
    } else {
      while (Fill()) {
      }
      response.body = std::move(buffer_);
      buffer_.clear();
    }
    return response;
  }

  // True when the server closes the connection (end of stream or reset) within `deadline`;
  // whatever arrives meanwhile is kept for Read.
  bool WaitClosed(std::chrono::milliseconds deadline = 10s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 50) == 1) {
        char chunk[65536];
        const ssize_t n = recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
        if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
      }
    }
    return false;
  }

  const std::string& received() const { return buffer_; }

 private:
  bool Fill() {
    char chunk[65536];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

std::string ErrorOf(const RawResponse& response) {
  const auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  return json.is_object() && json.contains("error") ? json["error"].get<std::string>()
                                                    : "<not a JSON error: " + response.body + ">";
}

// One request on a fresh connection: its answer, and whether the server then closed.
struct Refused {
  std::optional<RawResponse> response;
  bool closed = false;
};
Refused Exchange(int port, const std::string& bytes) {
  RawClient client(port);
  Refused result;
  if (!client.connected() || !client.Send(bytes)) return result;
  result.response = client.Read();
  result.closed = client.WaitClosed(5s);
  return result;
}

TEST_F(HttpServerTest, OversizedHeadersGet431AndAnOversizedRequestLine414) {
  StartServer({.max_header_bytes = 4096});
  const Refused headers =
      Exchange(server_->port(),
               "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'h') + "\r\n\r\n");
  ASSERT_TRUE(headers.response.has_value());
  EXPECT_EQ(headers.response->status, 431);
  EXPECT_EQ(ErrorOf(*headers.response), "request headers larger than 4096 bytes");
  EXPECT_TRUE(headers.closed);
  // Never finished: refused as soon as the limit is crossed, not at the header timeout.
  const Refused unfinished =
      Exchange(server_->port(), "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(8000, 'h'));
  ASSERT_TRUE(unfinished.response.has_value());
  EXPECT_EQ(unfinished.response->status, 431);

  const Refused line = Exchange(
      server_->port(), "GET /" + std::string(size_t{1024} * 1024, 'u') + " HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(line.response.has_value());
  EXPECT_EQ(line.response->status, 414);
  EXPECT_LT(line.response->body.size(), 200u) << "the URI is not echoed";
  EXPECT_TRUE(line.closed);
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").status, 200);
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("bad_request") == 3; }));
}

// Headers just under the limit are served.
TEST_F(HttpServerTest, HeadersUpToTheLimitAreServed) {
  StartServer({.max_header_bytes = 4096});
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fill: ";
  request += std::string(4096 - request.size() - 4, 'f') + "\r\n\r\n";
  ASSERT_EQ(request.size(), 4096u);
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send(request));
  const auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

// A half-open connection (headers never finished) is closed after the header timeout, counted
// from accept however slowly the bytes trickle in.
TEST_F(HttpServerTest, SlowOrUnfinishedHeadersAreClosedAfterTheHeaderTimeout) {
  StartServer({.header_timeout = 300ms});
  RawClient silent(server_->port());
  RawClient trickling(server_->port());
  ASSERT_TRUE(silent.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  const auto start = std::chrono::steady_clock::now();
  bool trickle_closed = false;
  for (int i = 0; i < 100 && !trickle_closed; ++i) {
    trickle_closed = !trickling.Send("X") || trickling.WaitClosed(50ms);
  }
  EXPECT_TRUE(trickle_closed);
  EXPECT_TRUE(silent.WaitClosed());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms) << "not before the timeout";
  EXPECT_EQ(silent.received(), "") << "closed without an answer";
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("header_timeout") == 2; }));
  // The close is counted before the connection leaves the open count (another thread).
  EXPECT_TRUE(WaitFor([&] { return server_->stats().open_connections == 0; }));
}

TEST_F(HttpServerTest, AnIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  StartServer({.idle_timeout = 300ms});
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->headers.count("Connection"), 0u) << "kept alive";
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("idle_timeout") == 1; }));
}

// A body that never completes is closed after the body timeout, and its handler never runs.
TEST_F(HttpServerTest, ABodyThatNeverCompletesIsClosedAfterTheBodyTimeout) {
  StartServer({.body_timeout = 300ms});
  RawClient client(server_->port());
  ASSERT_TRUE(
      client.Send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly this"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("body_timeout") == 1; }));
  // Chunked too.
  RawClient chunked(server_->port());
  ASSERT_TRUE(chunked.Send(
      "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
  EXPECT_TRUE(chunked.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("body_timeout") == 2; }));
}

// A client that stops reading a plain response is cut off like one of a streamed response.
TEST_F(HttpServerTest, AClientThatStopsReadingIsCutOffAfterTheSendTimeout) {
  big_bytes_ = size_t{64} * 1024 * 1024;
  StartServer({.stream_stall_timeout = 300ms});
  SilentClient client(server_->port(), "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.connected());
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("send_timeout") == 1; }, 30s));
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").body, "ok");
}

TEST_F(HttpServerTest, StalledStreamedMetricsAreCutOffAndTheConnectionClosed) {
  auto log = std::make_shared<ProducerLog>();
  stream_producer_ = CountingProducer(log, 16'384, size_t{64} * 1024);
  StartServer({.stream_buffer_bytes = size_t{256} * 1024, .stream_stall_timeout = 300ms});
  SilentClient client(server_->port(), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(WaitFor([&] { return log->returned.load(); }, 30s));
  EXPECT_TRUE(log->refused.load());
  EXPECT_TRUE(WaitFor([&] { return server_->stats().open_connections == 0; }, 30s));
}

TEST_F(HttpServerTest, TenThousandKeepAliveRequestsOnOneConnection) {
  StartServer();
  RawClient client(server_->port());
  int answered = 0;
  for (int i = 0; i < 10'000; ++i) {
    if (!client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) break;
    const auto response = client.Read();
    if (!response || response->status != 200 || response->body != "ok") break;
    ++answered;
  }
  EXPECT_EQ(answered, 10'000);
  EXPECT_EQ(server_->stats().open_connections, 1u);
}

// Pipelined requests are answered one at a time, in order, on one connection.
TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  std::string batch;
  for (int i = 0; i < 500; ++i) {
    const std::string body = "request " + std::to_string(i);
    batch += "PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body;
  }
  batch += "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send(batch));
  for (int i = 0; i < 500; ++i) {
    const auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, "request " + std::to_string(i));
  }
  const auto last = client.Read();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 404);
  EXPECT_EQ(last->headers.at("Connection"), "close");
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(HttpServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  StartServer();
  RawClient plain(server_->port());
  ASSERT_TRUE(plain.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  const auto first = plain.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "ok");
  EXPECT_TRUE(plain.WaitClosed());

  RawClient kept(server_->port());
  ASSERT_TRUE(kept.Send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const auto second = kept.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->headers.at("Connection"), "keep-alive");
  ASSERT_TRUE(kept.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  const auto third = kept.Read();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->body, "ok");
}

TEST_F(HttpServerTest, ExpectContinueGetsContinueOrAnEarly413) {
  StartServer({.max_body_bytes = 1024});
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send(
      "PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] {
    client.WaitClosed(20ms);
    return client.received().find("HTTP/1.1 100 Continue\r\n\r\n") == 0;
  }));
  ASSERT_TRUE(client.Send("hello"));
  const auto interim = client.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  const auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "hello");

  const Refused early = Exchange(
      server_->port(),
      "PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(early.response.has_value());
  EXPECT_EQ(early.response->status, 413);
  EXPECT_TRUE(early.closed);
  const Refused odd =
      Exchange(server_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n");
  ASSERT_TRUE(odd.response.has_value());
  EXPECT_EQ(odd.response->status, 417);
}

// Issue #16's hostile inputs: each gets a JSON answer and a closed connection, never silence.
TEST_F(HttpServerTest, HostileRequestsAreRefusedAndTheConnectionClosed) {
  StartServer();
  const int port = server_->port();
  struct Case {
    std::string name;
    std::string request;
    int status;
    std::string error;  // a part of the JSON error
  };
  const std::vector<Case> cases = {
      {"two Content-Lengths",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400,
       "Content-Length"},
      {"two different Content-Lengths",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc", 400,
       "Content-Length"},
      {"a Content-Length list", "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
       400, "Content-Length"},
      {"a negative Content-Length", "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
       400, "Content-Length"},
      {"an overflowing Content-Length",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
       "Content-Length"},
      {"a huge chunk size",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "FFFFFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n",
       400, "chunked"},
      {"a chunk larger than any body",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "7FFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n",
       413, "larger than"},
      {"a bad chunk size",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n",
       400, "chunked"},
      {"Transfer-Encoding with Content-Length",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n0\r\n\r\n",
       400, "Transfer-Encoding"},
      {"a coding other than chunked",
       "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400,
       "Transfer-Encoding"},
      {"bare LF line endings", "GET /healthz HTTP/1.1\nHost: x\n\n", 400, "bare LF"},
      {"a bare LF in a header", "GET /healthz HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400, "bare LF"},
      {"HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, "HTTP version 9.9"},
      {"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "use HTTP/1.1"},
      {"HTTP/1.10", "GET /healthz HTTP/1.10\r\nHost: x\r\n\r\n", 400, "malformed request line"},
      {"TRACE", "TRACE /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n", 501,
       "method TRACE is not supported"},
      {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 501, "method CONNECT"},
      {"a control character in the method", "G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "malformed request line"},
      {"no version", "GET /healthz\r\nHost: x\r\n\r\n", 400, "malformed request"},
      {"garbage", "GARBAGE\r\n\r\n", 400, "malformed request"},
      {"a header without colon", "GET / HTTP/1.1\r\nno colon header\r\n\r\n", 400, "malformed"},
  };
  for (const Case& hostile : cases) {
    SCOPED_TRACE(hostile.name);
    const Refused refused = Exchange(port, hostile.request);
    ASSERT_TRUE(refused.response.has_value()) << "no answer";
    EXPECT_EQ(refused.response->status, hostile.status);
    EXPECT_EQ(refused.response->headers.at("Content-Type"), "application/json");
    EXPECT_NE(ErrorOf(*refused.response).find(hostile.error), std::string::npos)
        << ErrorOf(*refused.response);
    EXPECT_EQ(refused.response->body.find("s3cret"), std::string::npos) << "never echoed";
    EXPECT_TRUE(refused.closed);
  }
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").status, 200);
}

// A request that arrives a few bytes at a time is refused as soon as its bare LF arrives.
TEST_F(HttpServerTest, BareLfIsRefusedEvenWhenTheRequestTrickles) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /hea"));
  client.WaitClosed(50ms);
  ASSERT_TRUE(client.Send("lthz HTTP/1.1\nHost"));
  const auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
}

// Leading empty lines are ignored (RFC 9112 2.2); bodies may hold bare LFs.
TEST_F(HttpServerTest, LeadingEmptyLinesAndBareLfInBodiesAreFine) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(
      client.Send("\r\n\r\nPUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\na\nb\n\nc"));
  const auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "a\nb\n\nc");
}

// Routing is linear in the path's length; error bodies never echo a long URI.
TEST_F(HttpServerTest, LongPathsAreCheapAndNeverEchoedWhole) {
  StartServer({.max_header_bytes = size_t{2} * 1024 * 1024});
  std::string path;
  for (int i = 0; i < 200'000; ++i) path += "/a";
  const Refused missing =
      Exchange(server_->port(), "GET " + path + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(missing.response.has_value());
  EXPECT_EQ(missing.response->status, 404);
  EXPECT_LT(missing.response->body.size(), 400u);
  EXPECT_NE(ErrorOf(*missing.response).find("(400000 bytes)"), std::string::npos)
      << ErrorOf(*missing.response);
  const Refused method =
      Exchange(server_->port(), "DELETE /files" + path + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(method.response.has_value());
  EXPECT_EQ(method.response->status, 405);
  EXPECT_LT(method.response->body.size(), 600u);
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /files" + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto found = client.Read();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->body, std::to_string(path.size() - 1)) << "the {path...} parameter";
}

TEST_F(HttpServerTest, ABadPercentEscapeInThePathIsTheJson400) {
  StartServer();
  const Refused bad = Exchange(
      server_->port(), "GET /api/v1/monitors/% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(bad.response.has_value());
  EXPECT_EQ(bad.response->status, 400);
  EXPECT_EQ(ErrorOf(*bad.response), "path: bad percent-escape \"%\" at offset 0");
}

// Whatever bytes arrive, the server answers or closes; it never crashes or hangs.
TEST_F(HttpServerTest, MalformedRequestLinesAre400NeverACrash) {
  StartServer();
  const std::vector<std::string> lines = {
      "GET",
      "GET /",
      "GET / HTTP/1.1 extra",
      " GET / HTTP/1.1",
      "GET  / HTTP/1.1",
      "GET / HTTP/",
      "GET / http/1.1",
      "GET / HTTP/1.x",
      "/ HTTP/1.1",
      "GET \x7f HTTP/1.1",
      std::string("GET /\0 HTTP/1.1", 15),
      "\xff\xfe\xfd",
      "GET / HTTP/1.1 HTTP/1.1",
  };
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    const Refused refused = Exchange(server_->port(), line + "\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(refused.response.has_value());
    EXPECT_EQ(refused.response->status, 400) << refused.response->body;
    EXPECT_TRUE(refused.closed);
  }
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").status, 200);
}

// A client that goes away while its request is parked is noticed at once.
TEST_F(HttpServerTest, AClientLeavingAParkedRequestIsNoticedAtOnce) {
  StartServer();
  std::atomic<int> gone{0};
  {
    RawClient client(server_->port());
    ASSERT_TRUE(client.Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
    std::lock_guard lock(mutex_);
    waiting_[0].OnClientGone([&gone] { ++gone; });
  }  // the client closes its connection
  ASSERT_TRUE(WaitFor([&] { return gone.load() == 1; }));
  HttpResponder parked = [&] {
    std::lock_guard lock(mutex_);
    return waiting_[0];
  }();
  // Registered after it went: called at once.
  int late = 0;
  parked.OnClientGone([&late] { ++late; });
  EXPECT_EQ(late, 1);
  // An answer may still be attempted (a client may only have half-closed); the connection then
  // closes.
  parked.Send(HttpResponse::Text(200, "too late"));
  EXPECT_TRUE(WaitFor([&] { return server_->stats().open_connections == 0; }));
  EXPECT_EQ(gone.load(), 1);
}

TEST_F(HttpServerTest, OnClientGoneIsNeverCalledOnceAnswered) {
  StartServer();
  std::atomic<int> gone{0};
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
  HttpResponder parked = [&] {
    std::lock_guard lock(mutex_);
    return waiting_[0];
  }();
  parked.OnClientGone([&gone] { ++gone; });
  EXPECT_TRUE(parked.Send(HttpResponse::Text(200, "done")));
  const auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "done");
  parked.OnClientGone([&gone] { ++gone; });
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(client.Read().has_value());
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_EQ(gone.load(), 0);
}

// Stopping the server counts as the client going away for parked requests.
TEST_F(HttpServerTest, StopTellsParkedRequestsTheirClientIsGone) {
  StartServer();
  std::atomic<int> gone{0};
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
  {
    std::lock_guard lock(mutex_);
    waiting_[0].OnClientGone([&gone] { ++gone; });
  }
  server_->Stop();
  EXPECT_EQ(gone.load(), 1);
  EXPECT_TRUE(client.WaitClosed());
}

// At the limit, the connection waiting longest for a request makes room for the new one; when
// every connection is busy, the new one is closed at once.
TEST_F(HttpServerTest, TheConnectionLimitEvictsTheLongestWaitingThenRefuses) {
  StartServer({.max_connections = 3, .fd_reserve = 0});
  ASSERT_EQ(server_->stats().max_connections, 3u);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawClient>(server_->port()));
    ASSERT_TRUE(idle.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(idle.back()->Read().has_value());  // answered, now idle in keep-alive
  }
  RawClient newcomer(server_->port());
  ASSERT_TRUE(newcomer.Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  // A connection's wait starts when its answer has been written, which a loaded machine may
  // run late for one of them, so any of the three idle ones may have waited longest; which one
  // is picked is HttpConnectionLimiterTest's.
  size_t evicted = idle.size();
  ASSERT_TRUE(WaitFor([&] {
    for (size_t i = 0; i < idle.size(); ++i) {
      if (idle[i]->WaitClosed(10ms)) {
        evicted = i;
        return true;
      }
    }
    return false;
  })) << "an idle connection made room";
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server_->stats().closed.at("evicted") == 1; }));
  // The other two become busy (parked) as well: no connection is waiting any more.
  for (size_t i = 0; i < idle.size(); ++i) {
    if (i != evicted) {
      ASSERT_TRUE(idle[i]->Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return WaitingCount() == 3; }));
  RawClient refused(server_->port());
  ASSERT_TRUE(refused.connected());
  refused.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(refused.WaitClosed());
  EXPECT_EQ(refused.received(), "") << "closed at once, unanswered";
  EXPECT_EQ(server_->stats().closed.at("over_limit"), 1u);
  // The parked ones were not harmed.
  {
    std::lock_guard lock(mutex_);
    for (HttpResponder& responder : waiting_) {
      EXPECT_TRUE(responder.Send(HttpResponse::Text(200, "served")));
    }
  }
  const auto served = newcomer.Read();
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->body, "served");
}

TEST_F(HttpServerTest, ThePerClientLimitRefusesOnlyThatClient) {
  StartServer({.max_connections_per_client = 2});
  RawClient first(server_->port());
  RawClient second(server_->port());
  ASSERT_TRUE(first.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(first.Read().has_value());
  ASSERT_TRUE(second.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.Read().has_value());
  RawClient third(server_->port());
  third.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(third.WaitClosed());
  EXPECT_EQ(third.received(), "");
  EXPECT_EQ(server_->stats().closed.at("over_client_limit"), 1u);
  // Another loopback address is another client.
  RawClient other(server_->port(), "127.0.0.2");
  ASSERT_TRUE(other.connected());
  ASSERT_TRUE(other.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto response = other.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "ok");
}

// The limit leaves fd_reserve descriptors of RLIMIT_NOFILE to the rest of the process.
TEST(HttpServerLimitsTest, TheConnectionLimitKeepsTheDescriptorReserve) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GT(limit.rlim_cur, 200u);
  const size_t reserve = limit.rlim_cur - 100;
  HttpServer server({.max_connections = 100'000'000, .fd_reserve = reserve});
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(server.stats().max_connections, 100u);
  HttpServer small({.max_connections = 50, .fd_reserve = reserve});
  ASSERT_TRUE(small.Start("127.0.0.1:0").ok());
  EXPECT_EQ(small.stats().max_connections, 50u);
}

TEST_F(HttpServerTest, MetricsTellOpenAndClosedConnections) {
  StartServer({.max_connections = 7, .fd_reserve = 0});
  EXPECT_EQ(Fetch("GET", url_ + "/healthz").status, 200);
  ASSERT_TRUE(WaitFor([&] { return server_->stats().open_connections == 0; }));
  MetricsWriter writer;
  server_->CollectMetrics(writer);
  const std::string& text = writer.text();
  EXPECT_NE(text.find("# TYPE pharos_http_connections gauge\npharos_http_connections 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pharos_http_connections_max 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pharos_http_connections_closed_total{reason=\"done\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pharos_http_connections_closed_total{reason=\"header_timeout\"} 0\n"),
            std::string::npos)
      << text;
}
}  // namespace
}  // namespace pharos
