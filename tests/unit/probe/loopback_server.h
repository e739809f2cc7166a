#pragma once

// LoopbackServer: a tiny TCP server on 127.0.0.1 (free port) for engine tests, one thread
// polling every connection, so hundreds of concurrent clients cost nothing. Each connection
// follows one Behavior: answer (after a delay, all at once or trickled, optionally forever),
// reset, stay silent, or close at once. Stopped and joined by the destructor.
// Thread-safety: accepted() and requests() may be called from any thread.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pharos::testing {

class LoopbackServer {
 public:
  enum class Mode { kRespond, kReset, kSilent, kCloseAtOnce };
  struct Behavior {
    Mode mode = Mode::kRespond;
    std::string response;                  // bytes sent once the request has arrived
    std::chrono::milliseconds delay{0};    // wait this long before answering
    std::chrono::milliseconds trickle{0};  // > 0: send one byte per interval
    bool repeat = false;                   // send `response` again and again (endless data)
    bool wait_for_request = true;          // false: answer as soon as the client connects
  };

  static std::string HttpResponse(int status, const std::string& body,
                                  const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
           extra_headers + "\r\n" + body;
  }

  explicit LoopbackServer(Behavior behavior) : behavior_(std::move(behavior)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 1024) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error(std::string("test server: ") + std::strerror(errno));
    }
    port_ = ntohs(address.sin_port);
    if (pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { Run(); });
  }

  ~LoopbackServer() {
    const char byte = 1;
    [[maybe_unused]] ssize_t ignored = write(stop_pipe_[1], &byte, 1);
    thread_.join();
    for (Connection& connection : connections_) close(connection.fd);
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    int fd = -1;
    std::string request;
    bool request_done = false;
    Clock::time_point answer_at{};
    size_t sent = 0;
    bool finished_sending = false;
    Clock::time_point next_byte_at{};
    bool closed = false;
  };

  static bool RequestComplete(const std::string& request) {
    const size_t end = request.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t body_length = 0;
    std::string lower = request.substr(0, end);
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    const size_t at = lower.find("content-length:");
    if (at != std::string::npos) body_length = std::stoul(lower.substr(at + 15));
    return request.size() >= end + 4 + body_length;
  }

  void Accept() {
    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      accepted_++;
      Connection connection;
      connection.fd = fd;
      if (behavior_.mode == Mode::kCloseAtOnce) {
        close(fd);
        continue;
      }
      if (!behavior_.wait_for_request) {
        connection.request_done = true;
        connection.answer_at = connection.next_byte_at = Clock::now() + behavior_.delay;
      }
      connections_.push_back(connection);
    }
  }

  void Reset(Connection& connection) {
    linger option{1, 0};
    setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
    close(connection.fd);
    connection.closed = true;
  }

  void Read(Connection& connection) {
    char buffer[65536];
    while (true) {
      const ssize_t n = recv(connection.fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        if (!connection.request_done) connection.request.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        close(connection.fd);
        connection.closed = true;
      }
      break;
    }
    if (connection.closed || connection.request_done || !RequestComplete(connection.request)) {
      return;
    }
    connection.request_done = true;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(connection.request);
    }
    if (behavior_.mode == Mode::kReset) {
      Reset(connection);
      return;
    }
    connection.answer_at = Clock::now() + behavior_.delay;
    connection.next_byte_at = connection.answer_at;
  }

  void Write(Connection& connection) {
    if (behavior_.mode != Mode::kRespond || !connection.request_done ||
        connection.finished_sending || Clock::now() < connection.answer_at ||
        behavior_.response.empty()) {
      return;
    }
    const std::string& data = behavior_.response;
    while (true) {
      if (connection.sent >= data.size()) {
        if (behavior_.repeat) {
          connection.sent = 0;
        } else {
          connection.finished_sending = true;
          shutdown(connection.fd, SHUT_WR);  // then wait for the client to close
          return;
        }
      }
      size_t chunk = data.size() - connection.sent;
      if (behavior_.trickle.count() > 0) {
        if (Clock::now() < connection.next_byte_at) return;
        chunk = 1;
        connection.next_byte_at = Clock::now() + behavior_.trickle;
      }
      const ssize_t n = send(connection.fd, data.data() + connection.sent, chunk, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          close(connection.fd);
          connection.closed = true;
        }
        return;
      }
      connection.sent += static_cast<size_t>(n);
      if (behavior_.trickle.count() > 0) return;
    }
  }

  void Run() {
    while (true) {
      std::vector<pollfd> fds;
      fds.push_back({stop_pipe_[0], POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      int wait_ms = 1000;
      const auto now = Clock::now();
      for (const Connection& connection : connections_) {
        short events = POLLIN;
        const bool answering = behavior_.mode == Mode::kRespond && connection.request_done &&
                               !connection.finished_sending;
        if (answering) {
          const auto due = std::max(connection.answer_at, connection.next_byte_at);
          if (due <= now) {
            events |= POLLOUT;
          } else {
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
            wait_ms = std::min<int>(wait_ms, static_cast<int>(ms));
          }
        }
        fds.push_back({connection.fd, events, 0});
      }
      poll(fds.data(), fds.size(), wait_ms);
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) Accept();
      for (size_t i = 2; i < fds.size(); ++i) {
        Connection& connection = connections_[i - 2];
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) Read(connection);
        if (!connection.closed) Write(connection);
      }
      connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                        [](const Connection& c) { return c.closed; }),
                         connections_.end());
    }
  }

  Behavior behavior_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> accepted_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::vector<Connection> connections_;  // server thread only
  std::thread thread_;
};

// A listener on 127.0.0.1 that never accepts, with its backlog filled by idle connections, so
// that any further connect hangs (the kernel drops the SYN). Closed by the destructor.
class FullBacklogListener {
 public:
  FullBacklogListener() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 0) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("full backlog listener: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    for (int i = 0; i < 5; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::runtime_error("full backlog listener: no socket");
      fillers_.push_back(fd);
      // Non-blocking: a connection the full backlog holds back is still in progress.
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 &&
          errno != EINPROGRESS) {
        throw std::runtime_error("full backlog listener: cannot connect a filler");
      }
    }
  }
  ~FullBacklogListener() {
    for (int fd : fillers_) close(fd);
    close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
inline int ClosedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (fd >= 0) close(fd);
  if (!bound) throw std::runtime_error("closed loopback port: cannot bind");
  return ntohs(address.sin_port);
}

}  // namespace pharos::testing
