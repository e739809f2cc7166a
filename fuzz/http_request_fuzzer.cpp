// Fuzz target: the HTTP server's request parsing (HttpServer on Boost.Beast: request line,
// headers, Content-Length and chunked bodies, smuggling and bare-LF checks, routing, pipelining).
// The input is the byte stream of one client connection, written to a real HttpServer on
// loopback; the fuzzer then closes its sending side and reads until the server closes.
// Checks: the server answers only with HTTP/1.1 responses, and it always closes the connection
// once the client is done (a hang is an abort, not a libFuzzer timeout, to name it).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/http_server.h"
#include "common/logging.h"

namespace {

constexpr auto kCloseDeadline = std::chrono::seconds(8);

pharos::HttpServer* server = nullptr;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http_request_fuzzer: %s (errno: %s)\n", what, std::strerror(errno));
    std::abort();
  }
}

void StartServer() {
  pharos::HttpServerOptions options;
  options.max_body_bytes = size_t{16} * 1024;  // small, so that 413 is within reach
  options.max_header_bytes = size_t{4} * 1024;
  options.header_timeout = std::chrono::milliseconds(2'000);
  options.idle_timeout = std::chrono::milliseconds(2'000);
  options.body_timeout = std::chrono::milliseconds(2'000);
  options.io_threads = 1;
  options.handler_threads = 2;
  // Serves until exit, never destroyed: its threads may run until the process ends.
  server = new pharos::HttpServer(options);  // NOLINT(cppcoreguidelines-owning-memory)
  const auto echo = [](const pharos::HttpRequest& request, const pharos::HttpResponder& out) {
    std::string text =
        request.method + " " + request.path + " " + std::to_string(request.body.size()) + "\n";
    for (const auto& [name, value] : request.path_params) {
      text.append(name).append("=").append(value).append("\n");
    }
    for (const auto& [name, value] : request.query) {
      text.append(name).append("=").append(value).append("\n");
    }
    out.Send(pharos::HttpResponse::Text(200, std::move(text)));
  };
  Check(server->Route("GET", "/healthz", echo).ok(), "route /healthz");
  Check(server->Route("GET", "/api/v1/monitors/{namespace}/{name}", echo).ok(), "route monitor");
  Check(server->Route("POST", "/api/v1/work/results", echo).ok(), "route results");
  Check(server->Route("GET", "/static/{path...}", echo).ok(), "route static");
  Check(server->Start("127.0.0.1:0").ok(), "server start");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pharos::SetupLogging({.level = pharos::LogLevel::kOff});
  StartServer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Check(fd >= 0, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's SIGALRM (its -timeout watchdog) may interrupt any call here: EINTR is retried.
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    Check(errno == EINTR, "connect");
    pollfd connecting{fd, POLLOUT, 0};
    while (poll(&connecting, 1, -1) < 0) {
      Check(errno == EINTR, "poll while connecting");
    }
    int error = 0;
    socklen_t length = sizeof(error);
    Check(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0, "connect");
  }

  // Write and read together: the server may answer (and close) before it read everything.
  std::string answer;
  size_t sent = 0;
  bool write_open = true;
  const auto deadline = std::chrono::steady_clock::now() + kCloseDeadline;
  while (true) {
    if (write_open && sent == size) {
      shutdown(fd, SHUT_WR);
      write_open = false;
    }
    pollfd poll_fd{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    Check(left.count() > 0, "the server kept the connection open after the client finished");
    if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    if (poll_fd.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[16 * 1024];
      const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        break;  // closed (or reset: the server refused the rest)
      }
      answer.append(buffer, static_cast<size_t>(got));
    }
    if (write_open && (poll_fd.revents & POLLOUT)) {
      const ssize_t put = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (put < 0 && errno != EINTR) {
        write_open = false;  // the server closed its side
      } else if (put > 0) {
        sent += static_cast<size_t>(put);
      }
    }
  }
  close(fd);
  Check(answer.empty() || std::string_view(answer).substr(0, 9) == "HTTP/1.1 ",
        "an answer that is not an HTTP/1.1 response");
  return 0;
}
