#include "probe/browser/policy_proxy.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace pharos {
namespace {

using ::testing::HasSubstr;

sockaddr_storage Address(const std::string& text, uint16_t port = 80) {
  sockaddr_storage address{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr), 1) << text;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
  }
  return address;
}

std::string Text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text,
              sizeof text);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

TargetPolicy Denying(const std::vector<std::string>& deny,
                     const std::vector<std::string>& allow = {}) {
  Result<TargetPolicy> policy = TargetPolicy::Create(deny, allow);
  EXPECT_TRUE(policy.ok());
  return *policy;
}

// ---------------------------------------------------------------------------- decisions

TEST(ProxyRequestTest, ConnectNamesTheTunnelsHostAndPort) {
  Result<ProxyRequest> request =
      ProxyRequest::Parse("CONNECT shop.example:443 HTTP/1.1\r\nHost: shop.example:443\r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_TRUE(request->tunnel);
  EXPECT_EQ(request->host, "shop.example");
  EXPECT_EQ(request->port, 443);
  Result<ProxyRequest> v6 = ProxyRequest::Parse("CONNECT [fe80::1]:8443 HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->host, "fe80::1");
  EXPECT_EQ(v6->port, 8443);
}

TEST(ProxyRequestTest, AnAbsoluteFormRequestIsForwardedInOriginFormWithConnectionClose) {
  Result<ProxyRequest> request = ProxyRequest::Parse(
      "GET http://shop.example:8080/a/b?q=1#top HTTP/1.1\r\nHost: shop.example:8080\r\n"
      "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n"
      "Connection: keep-alive\r\nKeep-Alive: 300\r\nUpgrade-Insecure-Requests: 1\r\n"
      "Accept: text/html\r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_FALSE(request->tunnel);
  EXPECT_EQ(request->host, "shop.example");
  EXPECT_EQ(request->port, 8080);
  EXPECT_TRUE(request->navigation);
  EXPECT_EQ(request->upstream_head,
            "GET /a/b?q=1 HTTP/1.1\r\nHost: shop.example:8080\r\nUpgrade-Insecure-Requests: 1\r\n"
            "Accept: text/html\r\nConnection: close\r\n\r\n");
  Result<ProxyRequest> frame = ProxyRequest::Parse(
      "GET http://127.0.0.1/f HTTP/1.1\r\nUpgrade-Insecure-Requests: 1\r\n"
      "Sec-Fetch-Dest: iframe\r\n\r\n");
  ASSERT_TRUE(frame.ok()) << frame.error();
  EXPECT_FALSE(frame->navigation) << "a frame is not the page";
  Result<ProxyRequest> page = ProxyRequest::Parse(
      "GET http://127.0.0.1/p HTTP/1.1\r\nUpgrade-Insecure-Requests: 1\r\n"
      "Sec-Fetch-Dest: document\r\n\r\n");
  ASSERT_TRUE(page.ok()) << page.error();
  EXPECT_TRUE(page->navigation);
  Result<ProxyRequest> image =
      ProxyRequest::Parse("GET http://127.0.0.1 HTTP/1.1\r\nAccept: image/png\r\n\r\n");
  ASSERT_TRUE(image.ok()) << image.error();
  EXPECT_FALSE(image->navigation);
  EXPECT_EQ(image->port, 80);
  EXPECT_EQ(image->upstream_head,
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: image/png\r\nConnection: close\r\n\r\n");
}

TEST(ProxyRequestTest, WhatIsNotAProxyRequestIsRefusedWithWhy) {
  for (const char* head : {
           "CONNECT shop.example HTTP/1.1\r\n\r\n",        // no port
           "CONNECT shop.example:0 HTTP/1.1\r\n\r\n",      // port 0
           "CONNECT shop.example:70000 HTTP/1.1\r\n\r\n",  // port too large
           "GET https://shop.example/ HTTP/1.1\r\n\r\n",   // https goes through CONNECT
           "GET /local HTTP/1.1\r\n\r\n",                  // not a proxy request
           "GET http://user:pw@shop.example/ HTTP/1.1\r\n\r\n",
           "GET http://shop.example/ HTTP/9.9\r\n\r\n",
           "GET http://shop.example/ HTTP/1.1\r\nno colon\r\n\r\n",
           "GET http://shop.example/ HTTP/1.1\r\n",  // no blank line
           "GET http://sh op.example/ HTTP/1.1\r\n\r\n",
           "GET http://[::1/ HTTP/1.1\r\n\r\n",
       }) {
    Result<ProxyRequest> request = ProxyRequest::Parse(head);
    EXPECT_FALSE(request.ok()) << head;
    if (!request.ok()) {
      EXPECT_THAT(request.error(), HasSubstr("bad proxy request")) << head;
    }
  }
}

TEST(ProxyRequestTest, ForUrlGivesTheHostAndDefaultPorts) {
  Result<ProxyRequest> http = ProxyRequest::ForUrl("http://127.0.0.2/x");
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->host, "127.0.0.2");
  EXPECT_EQ(http->port, 80);
  Result<ProxyRequest> https = ProxyRequest::ForUrl("https://[::1]:8443?x");
  ASSERT_TRUE(https.ok());
  EXPECT_EQ(https->host, "::1");
  EXPECT_EQ(https->port, 8443);
  EXPECT_TRUE(https->tunnel);
  EXPECT_FALSE(ProxyRequest::ForUrl("file:///etc/passwd").ok());
}

TEST(PolicyProxyTest, PicksTheFirstAllowedAddressAndNeverABlockedOne) {
  const TargetPolicy policy = Denying({"127.0.0.2/32"});
  Result<sockaddr_storage> picked =
      PolicyProxy::PickAddress(policy, {Address("127.0.0.2"), Address("127.0.0.1")});
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(Text(*picked), "127.0.0.1");
  Result<sockaddr_storage> refused = PolicyProxy::PickAddress(policy, {Address("127.0.0.2")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), "target address 127.0.0.2 is blocked by the probe's policy");
  EXPECT_EQ(refused.error_kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(PolicyProxy::PickAddress(policy, {}).ok());
}

TEST(PolicyProxyTest, TheDefaultsRefuseMetadataWhateverFormTheAddressTakes) {
  // Decisions only: no packet goes to these addresses.
  const TargetPolicy policy;
  for (const char* address : {"169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254",
                              "100.100.100.200", "fe80::1"}) {
    Result<sockaddr_storage> picked = PolicyProxy::PickAddress(policy, {Address(address)});
    EXPECT_FALSE(picked.ok()) << address;
  }
  Result<sockaddr_storage> allowed =
      PolicyProxy::PickAddress(Denying({}, {"169.254.10.0/24"}), {Address("169.254.10.1")});
  EXPECT_TRUE(allowed.ok());
}

TEST(PolicyProxyTest, ANameIsRefusedWhenEveryAddressItResolvesToIsBlocked) {
  Result<sockaddr_storage> refused =
      PolicyProxy::Admit(Denying({"127.0.0.0/8", "::1/128"}), "localhost", 80);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error_kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(refused.error(), HasSubstr("is blocked by the probe's policy"));
  Result<sockaddr_storage> nowhere = PolicyProxy::Admit(TargetPolicy(), "no-such-host.invalid", 80);
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.error_kind(), ErrorKind::kUnavailable);
}

// ---------------------------------------------------------------------------- on loopback

// A listening socket on `host` that counts the connections it was offered.
class Listener {
 public:
  explicit Listener(const std::string& host) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    socklen_t length = sizeof address;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  uint16_t port() const { return port_; }
  // A connection waiting to be accepted, or -1 when none arrives within `wait_ms`.
  int Accept(int wait_ms) const {
    pollfd fds{fd_, POLLIN, 0};
    if (poll(&fds, 1, wait_ms) <= 0) return -1;
    return accept(fd_, nullptr, nullptr);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

int ConnectTo(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

void SendText(int fd, const std::string& text) {
  ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// Everything until the peer closes (or the 10 s receive timeout).
std::string ReadAll(int fd) {
  std::string all;
  char chunk[4096];
  ssize_t got = 0;
  while ((got = recv(fd, chunk, sizeof chunk, 0)) > 0) all.append(chunk, static_cast<size_t>(got));
  return all;
}

std::string ReadUntil(int fd, const std::string& end) {
  std::string all;
  char chunk[4096];
  while (all.find(end) == std::string::npos) {
    const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) break;
    all.append(chunk, static_cast<size_t>(got));
  }
  return all;
}

class PolicyProxyLiveTest : public ::testing::Test {
 protected:
  PolicyProxyLiveTest() : proxy_(Denying({"127.0.0.2/32"}), Options()) {
    EXPECT_TRUE(proxy_.Start().ok());
    port_ = static_cast<uint16_t>(std::stoi(proxy_.url().substr(proxy_.url().rfind(':') + 1)));
  }
  static PolicyProxy::Options Options() {
    PolicyProxy::Options options;
    options.max_head_bytes = 2048;
    return options;
  }

  PolicyProxy proxy_;
  uint16_t port_ = 0;
};

TEST_F(PolicyProxyLiveTest, ABlockedAddressGets403AndNoConnectionWhateverTheForm) {
  Listener denied("127.0.0.2");
  const std::string target = "127.0.0.2:" + std::to_string(denied.port());
  std::string connect = "CONNECT ";
  connect.append(target).append(" HTTP/1.1\r\nHost: ").append(target).append("\r\n\r\n");
  std::string get = "GET http://";
  get.append(target)
      .append("/ HTTP/1.1\r\nHost: ")
      .append(target)
      .append("\r\nUpgrade-Insecure-Requests: 1\r\n\r\n");
  for (const std::string& head : {connect, get}) {
    const int client = ConnectTo(port_);
    SendText(client, head);
    const std::string answer = ReadAll(client);
    close(client);
    EXPECT_THAT(answer, HasSubstr("HTTP/1.1 403 Forbidden\r\n"));
    EXPECT_THAT(answer, HasSubstr("target address 127.0.0.2 is blocked by the probe's policy"));
  }
  EXPECT_EQ(denied.Accept(200), -1) << "a refused request reached the blocked address";
  EXPECT_EQ(proxy_.refused(), 2);
  const std::vector<PolicyProxy::Refusal> refusals = proxy_.Refusals();
  ASSERT_EQ(refusals.size(), 2U);
  EXPECT_EQ(refusals[0].host, "127.0.0.2");
  EXPECT_FALSE(refusals[0].navigation);  // a tunnel's purpose is not visible
  EXPECT_TRUE(refusals[1].navigation);
}

TEST_F(PolicyProxyLiveTest, AnAllowedTunnelCarriesBytesBothWays) {
  Listener allowed("127.0.0.1");
  const int client = ConnectTo(port_);
  SendText(client,
           "CONNECT 127.0.0.1:" + std::to_string(allowed.port()) + " HTTP/1.1\r\n\r\nearly bytes");
  const int server = allowed.Accept(10'000);
  ASSERT_GE(server, 0);
  EXPECT_EQ(ReadUntil(client, "\r\n\r\n"), "HTTP/1.1 200 Connection established\r\n\r\n");
  EXPECT_EQ(ReadUntil(server, "bytes"), "early bytes");
  SendText(server, "pong");
  EXPECT_EQ(ReadUntil(client, "pong"), "pong");
  close(server);
  EXPECT_EQ(ReadAll(client), "");  // the upstream closed: so does the tunnel
  close(client);
  EXPECT_EQ(proxy_.refused(), 0);
}

TEST_F(PolicyProxyLiveTest, AnAllowedPlainRequestIsForwardedInOriginForm) {
  Listener allowed("127.0.0.1");
  const int client = ConnectTo(port_);
  const std::string authority = "127.0.0.1:" + std::to_string(allowed.port());
  SendText(client, "GET http://" + authority + "/page?x=1 HTTP/1.1\r\nHost: " + authority +
                       "\r\nProxy-Connection: keep-alive\r\n\r\n");
  const int server = allowed.Accept(10'000);
  ASSERT_GE(server, 0);
  EXPECT_EQ(ReadUntil(server, "\r\n\r\n"),
            "GET /page?x=1 HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n");
  SendText(server, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  close(server);
  EXPECT_EQ(ReadAll(client), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  close(client);
}

TEST_F(PolicyProxyLiveTest, AnOversizedOrMalformedHeadIsRefused) {
  const int big = ConnectTo(port_);
  SendText(big, "GET http://127.0.0.1/ HTTP/1.1\r\nX: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_THAT(ReadAll(big), HasSubstr("HTTP/1.1 431 "));
  close(big);
  const int bad = ConnectTo(port_);
  SendText(bad, "GET /not-a-proxy-request HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadAll(bad), HasSubstr("HTTP/1.1 400 "));
  close(bad);
}

TEST_F(PolicyProxyLiveTest, StopClosesOpenTunnels) {
  Listener allowed("127.0.0.1");
  const int client = ConnectTo(port_);
  SendText(client, "CONNECT 127.0.0.1:" + std::to_string(allowed.port()) + " HTTP/1.1\r\n\r\n");
  const int server = allowed.Accept(10'000);
  ASSERT_GE(server, 0);
  EXPECT_EQ(ReadUntil(client, "\r\n\r\n"), "HTTP/1.1 200 Connection established\r\n\r\n");
  proxy_.Stop();  // the tunnel is idle and both ends are open
  EXPECT_EQ(ReadAll(client), "");
  EXPECT_EQ(ReadAll(server), "");
  close(client);
  close(server);
}

TEST(PolicyProxyLimitsTest, ConnectionsBeyondTheLimitAreAnswered503) {
  PolicyProxy::Options options;
  options.max_connections = 1;
  PolicyProxy proxy(TargetPolicy(), options);
  ASSERT_TRUE(proxy.Start().ok());
  const auto port =
      static_cast<uint16_t>(std::stoi(proxy.url().substr(proxy.url().rfind(':') + 1)));
  const int first = ConnectTo(port);  // holds the only slot: its head never comes
  // The acceptor registers the first before it accepts the second.
  const int second = ConnectTo(port);
  EXPECT_THAT(ReadAll(second), HasSubstr("HTTP/1.1 503 "));
  close(second);
  close(first);
}

}  // namespace
}  // namespace pharos
