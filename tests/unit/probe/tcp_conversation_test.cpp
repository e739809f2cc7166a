// TCP conversations (spec.tcp.conversation): send, expect, expectRegex and startTls steps run
// by the CheckEngine against a small SMTP-like loopback server that upgrades to TLS on
// STARTTLS with a certificate made by the test.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "probe/check_engine.h"
#include "unit/probe/loopback_server.h"
#include "unit/probe/tls_test_server.h"

namespace pharos {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::MakeCertificate;
using testing::PemFile;
using testing::TestCertificate;

constexpr long kDay = 86400;

// One connection at a time: greets with "220 ready", answers EHLO with a STARTTLS offer,
// STARTTLS with "220 go ahead" and a TLS handshake (after `before_handshake` plaintext, when
// set), QUIT with "221 bye" and a close; other lines get "500 what". With `silent`, it greets
// and then reads without answering.
class SmtpLikeServer {
 public:
  explicit SmtpLikeServer(const TestCertificate& leaf, bool silent = false) : silent_(silent) {
    signal(SIGPIPE, SIG_IGN);
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, leaf.cert.get());
    SSL_CTX_use_PrivateKey(ctx_, leaf.key.get());
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("SMTP-like server: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    if (pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { Run(); });
  }
  ~SmtpLikeServer() {
    const char byte = 1;
    [[maybe_unused]] ssize_t ignored = write(stop_pipe_[1], &byte, 1);
    thread_.join();
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  std::string before_handshake;

 private:
  void Run() {
    while (true) {
      pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      poll(fds, 2, 1000);
      if (fds[0].revents != 0) return;
      if (fds[1].revents == 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      Serve(fd);
      close(fd);
    }
  }

  void Serve(int fd) {
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    SSL* ssl = nullptr;
    const auto put = [&](const std::string& text) {
      if (ssl != nullptr) {
        SSL_write(ssl, text.data(), static_cast<int>(text.size()));
      } else {
        [[maybe_unused]] ssize_t ignored = send(fd, text.data(), text.size(), MSG_NOSIGNAL);
      }
    };
    std::string in;
    const auto line = [&]() -> std::optional<std::string> {
      while (in.find('\n') == std::string::npos) {
        char buffer[1024];
        const int n = ssl != nullptr ? SSL_read(ssl, buffer, sizeof buffer)
                                     : static_cast<int>(recv(fd, buffer, sizeof buffer, 0));
        if (n <= 0) return std::nullopt;
        in.append(buffer, static_cast<size_t>(n));
      }
      const size_t end = in.find('\n');
      std::string text = in.substr(0, end);
      in.erase(0, end + 1);
      if (!text.empty() && text.back() == '\r') text.pop_back();
      return text;
    };
    put("220 ready\r\n");
    while (auto request = line()) {
      if (silent_) continue;
      if (request->rfind("EHLO", 0) == 0) {
        put("250-hello\r\n250-SIZE 1000\r\n250 STARTTLS\r\n");
      } else if (*request == "STARTTLS" && ssl == nullptr) {
        put("220 go ahead\r\n" + before_handshake);
        ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1) break;
      } else if (*request == "QUIT") {
        put("221 bye\r\n");
        break;
      } else {
        put("500 what\r\n");
      }
    }
    if (ssl != nullptr) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ERR_clear_error();
  }

  const bool silent_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

TcpStep Step(TcpStep::Kind kind, std::string text = "",
             std::optional<milliseconds> timeout = std::nullopt) {
  TcpStep step;
  step.kind = kind;
  step.text = std::move(text);
  step.timeout = timeout;
  return step;
}

class TcpConversationTest : public ::testing::Test {
 protected:
  TcpConversationTest()
      : ca_(MakeCertificate("Pharos Test CA", "", -kDay, 10 * kDay, true, nullptr)),
        leaf_(MakeCertificate("mail.test", "DNS:mail.test", -kDay, 30 * kDay, false, &ca_)),
        ca_file_({ca_.cert.get()}) {}

  Monitor Conversation(int port, std::vector<TcpStep> steps) const {
    Monitor monitor;
    monitor.name = "smtp";
    monitor.type = MonitorType::kTcp;
    monitor.tcp.emplace();
    monitor.tcp->host = "127.0.0.1";
    monitor.tcp->port = port;
    monitor.tcp->tls_options.server_name = "mail.test";
    monitor.tcp->conversation = std::move(steps);
    monitor.timeout = milliseconds(5000);
    return monitor;
  }
  static std::vector<TcpStep> Smtp() {
    using Kind = TcpStep::Kind;
    return {Step(Kind::kExpect, "220 "),
            Step(Kind::kSend, "EHLO pharos\r\n"),
            Step(Kind::kExpectRegex, "^250[ -]STARTTLS"),
            Step(Kind::kSend, "STARTTLS\r\n"),
            Step(Kind::kExpect, "220 go ahead"),
            Step(Kind::kStartTls),
            Step(Kind::kSend, "EHLO pharos\r\n"),
            Step(Kind::kExpectRegex, "^250 "),
            Step(Kind::kSend, "QUIT\r\n"),
            Step(Kind::kExpect, "221")};
  }
  CheckResult Run(const Monitor& monitor) const {
    CheckEngine::Options options;
    options.ca_file = ca_file_.path();
    return RunChecksOnce({monitor}, options).front();
  }

  TestCertificate ca_;
  TestCertificate leaf_;
  PemFile ca_file_;
};

TEST_F(TcpConversationTest, SmtpWithStartTlsIsUpWithTheCertificateRecorded) {
  SmtpLikeServer server(leaf_);
  const CheckResult result = Run(Conversation(server.port(), Smtp()));
  EXPECT_EQ(result.outcome, Outcome::kUp) << result.error;
  EXPECT_TRUE(result.cert_expiry.has_value());
  EXPECT_GT(result.timings.tls_us, 0);
  EXPECT_GT(result.timings.first_byte_us, 0);
}

TEST_F(TcpConversationTest, StartTlsChecksTheCertificateName) {
  SmtpLikeServer server(leaf_);
  Monitor monitor = Conversation(server.port(), Smtp());
  monitor.tcp->tls_options.server_name = "other.test";
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("other.test"));
}

TEST_F(TcpConversationTest, ExpectWithoutAMatchNamesTheStepAndTheLastLine) {
  SmtpLikeServer server(leaf_);
  using Kind = TcpStep::Kind;
  Monitor monitor =
      Conversation(server.port(), {Step(Kind::kExpect, "220"), Step(Kind::kSend, "HELP\r\n"),
                                   Step(Kind::kExpect, "214 help", milliseconds(300))});
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("no line matched step 3 (expect \"214 help\") within 300ms"));
  EXPECT_THAT(result.error, HasSubstr("500 what"));
}

TEST_F(TcpConversationTest, ServerClosingBeforeTheMatchIsDown) {
  SmtpLikeServer server(leaf_);
  using Kind = TcpStep::Kind;
  Monitor monitor =
      Conversation(server.port(), {Step(Kind::kSend, "QUIT\r\n"), Step(Kind::kExpect, "250 ok")});
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("connection closed by the server before step 2"));
}

TEST_F(TcpConversationTest, SilentServerTimesOutInTheStepAtTheDeadline) {
  SmtpLikeServer server(leaf_, /*silent=*/true);
  using Kind = TcpStep::Kind;
  Monitor monitor = Conversation(
      server.port(),
      {Step(Kind::kExpect, "220"), Step(Kind::kSend, "EHLO x\r\n"), Step(Kind::kExpect, "250")});
  monitor.timeout = milliseconds(300);
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("timeout after 300ms in step 3 (expect \"250\")"));
}

TEST_F(TcpConversationTest, PlaintextSentAheadOfTheHandshakeIsNotTakenForTls) {
  SmtpLikeServer server(leaf_);
  // A server (or a man in the middle) that slips a line in before the handshake must not
  // satisfy an expect meant for the encrypted part.
  server.before_handshake = "250 injected\r\n";
  using Kind = TcpStep::Kind;
  Monitor monitor =
      Conversation(server.port(), {Step(Kind::kExpect, "220 "), Step(Kind::kSend, "STARTTLS\r\n"),
                                   Step(Kind::kExpect, "220 go ahead"), Step(Kind::kStartTls),
                                   Step(Kind::kExpect, "250 injected", milliseconds(300))});
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
}

TEST_F(TcpConversationTest, InvalidRegexIsTheMonitorsErrorNotDown) {
  SmtpLikeServer server(leaf_);
  Monitor monitor =
      Conversation(server.port(), {Step(TcpStep::Kind::kExpectRegex, "220 (unclosed")});
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kError);
  EXPECT_THAT(result.error, HasSubstr("invalid regular expression"));
}

TEST_F(TcpConversationTest, EndlessLineWithoutNewlineIsBounded) {
  testing::LoopbackServer server(
      {.response = std::string(8192, 'x'), .repeat = true, .wait_for_request = false});
  Monitor monitor = Conversation(server.port(), {Step(TcpStep::Kind::kExpect, "220")});
  const CheckResult result = Run(monitor);
  EXPECT_EQ(result.outcome, Outcome::kDown);
  EXPECT_THAT(result.error, HasSubstr("KiB received without a line matching step 1"));
}

}  // namespace
}  // namespace pharos
