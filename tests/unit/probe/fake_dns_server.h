#pragma once

// FakeDnsServer: a UDP DNS responder on 127.0.0.1 (free port) for engine tests, answering from a
// fixed table by name: "nx.test" → NXDOMAIN, "fail.test" → SERVFAIL, "refused.test" → REFUSED,
// "empty.test" → no records; any other name gets records of the asked type (A 192.0.2.1 and
// 192.0.2.2, AAAA 2001:db8::1, CNAME target.example.com, MX 10 mail.example.com,
// TXT "v=spf1 " "-all", NS ns1.example.com); "loopback.test" has A 127.0.0.1 and 127.0.0.2 and
// AAAA ::1. Stopped and joined by the destructor.
// Thread-safety: queries() may be called from any thread.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pharos::testing {

class FakeDnsServer {
 public:
  FakeDnsServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("fake DNS server: cannot bind");
    }
    port_ = ntohs(address.sin_port);
    if (pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeDnsServer() {
    const char byte = 1;
    [[maybe_unused]] ssize_t ignored = write(stop_pipe_[1], &byte, 1);
    thread_.join();
    close(fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  int port() const { return port_; }
  int queries() const { return queries_.load(); }

  // Wire form of a name: labels, then the root.
  static std::string EncodeName(const std::string& name) {
    std::string out;
    size_t start = 0;
    while (start < name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      out.push_back(static_cast<char>(dot - start));
      out.append(name, start, dot - start);
      start = dot + 1;
    }
    out.push_back('\0');
    return out;
  }

 private:
  static void PutU16(std::string& out, unsigned value) {
    out.push_back(static_cast<char>((value >> 8) & 0xff));
    out.push_back(static_cast<char>(value & 0xff));
  }

  static std::string Answer(unsigned type, const std::string& data) {
    std::string record;
    PutU16(record, 0xc00c);  // name: pointer to the question
    PutU16(record, type);
    PutU16(record, 1);               // IN
    record.append("\0\0\0\x3c", 4);  // TTL 60
    PutU16(record, static_cast<unsigned>(data.size()));
    record += data;
    return record;
  }

  static std::vector<std::string> Records(unsigned type) {
    switch (type) {
      case 1:
        return {Answer(1, std::string("\xc0\x00\x02\x01", 4)),
                Answer(1, std::string("\xc0\x00\x02\x02", 4))};
      case 28: {
        std::string address(16, '\0');
        address[0] = 0x20, address[1] = 0x01, address[2] = 0x0d,
        address[3] = static_cast<char>(0xb8);
        address[15] = 1;
        return {Answer(28, address)};
      }
      case 5:
        return {Answer(5, EncodeName("target.example.com"))};
      case 15:
        return {Answer(15, std::string("\0\x0a", 2) + EncodeName("mail.example.com"))};
      case 16:
        return {Answer(16, std::string("\x07v=spf1 \x04-all"))};
      case 2:
        return {Answer(2, EncodeName("ns1.example.com"))};
      default:
        return {};
    }
  }

  // loopback.test: A 127.0.0.1 and 127.0.0.2, AAAA ::1 (for checks of every address).
  static std::vector<std::string> LoopbackRecords(unsigned type) {
    if (type == 1) {
      return {Answer(1, std::string("\x7f\0\0\x01", 4)), Answer(1, std::string("\x7f\0\0\x02", 4))};
    }
    if (type == 28) {
      std::string address(16, '\0');
      address[15] = 1;
      return {Answer(28, address)};
    }
    return {};
  }

  // Reads the question name (uncompressed labels) at `at`; returns the offset after it.
  static size_t ReadName(const std::string& packet, size_t at, std::string* name) {
    while (at < packet.size()) {
      const auto length = static_cast<unsigned char>(packet[at]);
      ++at;
      if (length == 0) return at;
      if (!name->empty()) name->push_back('.');
      name->append(packet, at, length);
      at += length;
    }
    return at;
  }

  void Respond(const std::string& query, const sockaddr_in& from, socklen_t from_length) {
    if (query.size() < 12) return;
    std::string name;
    const size_t after_name = ReadName(query, 12, &name);
    if (after_name + 4 > query.size()) return;
    const unsigned type = (static_cast<unsigned char>(query[after_name]) << 8) |
                          static_cast<unsigned char>(query[after_name + 1]);
    unsigned rcode = 0;
    std::vector<std::string> answers;
    if (name == "nx.test") {
      rcode = 3;
    } else if (name == "fail.test") {
      rcode = 2;
    } else if (name == "refused.test") {
      rcode = 5;
    } else if (name == "loopback.test") {
      answers = LoopbackRecords(type);
    } else if (name != "empty.test") {
      answers = Records(type);
    }
    std::string response = query.substr(0, 2);  // ID
    PutU16(response, 0x8180 | rcode);           // QR, RD, RA
    PutU16(response, 1);
    PutU16(response, static_cast<unsigned>(answers.size()));
    PutU16(response, 0);
    PutU16(response, 0);
    response += query.substr(12, after_name + 4 - 12);
    for (const std::string& answer : answers) response += answer;
    sendto(fd_, response.data(), response.size(), 0, reinterpret_cast<const sockaddr*>(&from),
           from_length);
  }

  void Run() {
    while (true) {
      pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
      poll(fds, 2, 1000);
      if (fds[0].revents != 0) return;
      if (fds[1].revents == 0) continue;
      char buffer[4096];
      sockaddr_in from{};
      socklen_t from_length = sizeof(from);
      const ssize_t n = recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from),
                                 &from_length);
      if (n <= 0) continue;
      queries_++;
      Respond(std::string(buffer, static_cast<size_t>(n)), from, from_length);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

}  // namespace pharos::testing
