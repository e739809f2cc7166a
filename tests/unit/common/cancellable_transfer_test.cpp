#include "common/cancellable_transfer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stop_token>
#include <string>
#include <thread>

#include "common/stoppable_wait.h"

namespace pharos {
namespace {

// A loopback listener that accepts connections and never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(fd_, 4) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "silent server: cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentServer() { close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(CancellableTransferTest, AStopRequestEndsAHangingTransferAtOnce) {
  SilentServer server;
  CancellableTransfer transfer;
  curl_easy_setopt(transfer.easy(), CURLOPT_URL, server.url().c_str());
  curl_easy_setopt(transfer.easy(), CURLOPT_TIMEOUT, 120L);
  std::stop_source stop;
  std::thread stopper([&] {
    SleepUnlessStopped({}, std::chrono::milliseconds(100));
    stop.request_stop();
  });
  const CancellableTransfer::Outcome outcome = transfer.Run(stop.get_token());
  stopper.join();
  // Had the request not woken the transfer, libcurl's 120 s timeout would have ended it as a
  // finished transfer (CURLE_OPERATION_TIMEDOUT), not a cancelled one.
  EXPECT_TRUE(outcome.cancelled);
}

TEST(CancellableTransferTest, ARefusedConnectionIsTheTransfersResult) {
  int port = 0;
  {
    SilentServer closed;  // bound, then closed: nothing listens there any more
    port = std::stoi(closed.url().substr(std::string("http://127.0.0.1:").size()));
  }
  CancellableTransfer transfer;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  curl_easy_setopt(transfer.easy(), CURLOPT_URL, url.c_str());
  const CancellableTransfer::Outcome outcome = transfer.Run({});
  EXPECT_FALSE(outcome.cancelled);
  EXPECT_EQ(outcome.code, CURLE_COULDNT_CONNECT);
}

TEST(StoppableWaitTest, ReturnsFalseWhenStopped) {
  std::stop_source stop;
  EXPECT_TRUE(SleepUnlessStopped(stop.get_token(), std::chrono::milliseconds(1)));
  std::thread stopper([&] { stop.request_stop(); });
  // Ends when the request arrives, long before the hour.
  EXPECT_FALSE(SleepUnlessStopped(stop.get_token(), std::chrono::hours(1)));
  stopper.join();
  EXPECT_FALSE(SleepUnlessStopped(stop.get_token(), std::chrono::milliseconds(1)));
}

}  // namespace
}  // namespace pharos
