#pragma once

// HttpConnection: one client connection of an HttpServer, from accept to close: the TLS
// handshake, reading requests with Beast's parser (limits, bare-LF and smuggling checks), handing
// complete requests to the server, writing answers (plain, or chunked from an HttpBodyPipe), and
// every timeout (HttpServer's header comment states the rules). Internal to HttpServer.
// Timeouts: the connection publishes its deadline; the server's sweep calls CheckDeadline, which
// closes it on its own strand once the deadline passed.
// Thread-safety: all state lives on the connection's strand; the public methods may be called
// from any thread (they post to the strand), except that `id` and `client` are immutable.

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
// GCC's -Wmaybe-uninitialized misreads boost::optional inside Beast's parser when inlined in
// sanitizer builds (a known false positive); it is silenced for these headers only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_body_pipe.h"
#include "common/http_connection_limiter.h"
#include "common/http_responder_state.h"
#include "common/http_server.h"

namespace pharos {

enum class HttpCloseReason {
  kDone,
  kHeaderTimeout,
  kIdleTimeout,
  kBodyTimeout,
  kSendTimeout,
  kEvicted,
  kOverLimit,
  kOverClientLimit,
  kBadRequest,
  kTlsError,
  kStopping,
};
inline constexpr size_t kHttpCloseReasons = 11;
// The `reason` label of pharos_http_connections_closed_total.
const char* HttpCloseReasonName(HttpCloseReason reason);

// What a connection needs from its server (HttpServer::Impl).
class HttpConnectionHost {
 public:
  virtual ~HttpConnectionHost() = default;
  virtual const HttpServerOptions& options() const = 0;
  virtual HttpConnectionLimiter& limiter() = 0;
  virtual const std::shared_ptr<HttpReplyContext>& reply_context() const = 0;
  // A complete request (`query`: the raw query string) for the handler threads.
  virtual void Dispatch(HttpRequest request, std::string query,
                        std::shared_ptr<HttpResponder::State> state) = 0;
  // The connection closed (called once, on its strand).
  virtual void Closed(const HttpConnection& connection, HttpCloseReason reason) = 0;
};

// A request body held up to a limit: beyond it the rest is counted and dropped, so that a refused
// body can be read to its end (and the 413 arrive) without being kept.
struct HttpLimitedBody {
  struct value_type {
    std::string data;
    size_t limit = 0;
    uint64_t dropped = 0;  // bytes past the limit
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    explicit reader(boost::beast::http::header<isRequest, Fields>&, value_type& body)
        : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& error);
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& error) {
      size_t total = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        const boost::asio::const_buffer buffer = *it;
        Append(std::string_view(static_cast<const char*>(buffer.data()), buffer.size()));
        total += buffer.size();
      }
      error = {};
      return total;
    }
    void finish(boost::beast::error_code& error) { error = {}; }

   private:
    void Append(std::string_view piece);
    value_type& body_;
  };
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  using Socket = boost::asio::ip::tcp::socket;

  // `tls`: null for plain HTTP; must outlive the connection.
  HttpConnection(HttpConnectionHost& host, uint64_t id, std::string client, Socket socket,
                 boost::asio::ssl::context* tls);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  void Start();
  void Close(HttpCloseReason reason);
  // Called by the server's sweep: closes the connection when its deadline has passed.
  void CheckDeadline(std::chrono::steady_clock::time_point now);
  // The answer to the current request (from HttpResponder::State::Send).
  void PostResponse(HttpResponse response, std::shared_ptr<HttpBodyPipe> pipe);

  uint64_t id() const { return id_; }
  const std::string& client() const { return client_; }

 private:
  using Parser = boost::beast::http::request_parser<HttpLimitedBody>;
  enum class Phase {
    kHandshake,
    kWaiting,
    kHeader,
    kBody,
    kHandling,
    kWriting,
    kLingering,
    kClosed
  };

  template <typename Function>
  void OnStrand(Function function);
  void SetDeadline(std::optional<std::chrono::steady_clock::time_point> deadline);
  void DoClose(HttpCloseReason reason);
  void OnDeadline();

  void BeginRequest();
  void ReadMore();
  void OnReadable(boost::system::error_code error);
  void OnData(boost::system::error_code error, std::string_view data);
  void ParseHeader();
  void OnHeader();
  void ParseBody();
  void Dispatch();
  void RespondError(int status, std::string_view message);

  void StartResponse(HttpResponse response, std::shared_ptr<HttpBodyPipe> pipe);
  void WriteNext();
  void PumpStream();
  void ResponseDone();
  void StartClosing(HttpCloseReason reason);

  std::string_view pending() const { return std::string_view(in_).substr(in_start_); }
  void Consume(size_t bytes);
  Socket& socket() { return tls_ ? tls_->next_layer() : socket_; }

  HttpConnectionHost& host_;
  const uint64_t id_;
  const std::string client_;
  Socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<Socket>> tls_;
  std::unique_ptr<std::array<char, 16'384>> tls_buffer_;
  const std::chrono::steady_clock::time_point accepted_at_;
  // Nanoseconds of steady_clock, 0 when none; written on the strand, read by the sweep.
  std::atomic<int64_t> deadline_{0};
  std::atomic<bool> deadline_posted_{false};

  // Everything below: strand only.
  Phase phase_ = Phase::kHandshake;
  bool reading_ = false;
  bool writing_ = false;
  bool peer_closed_ = false;  // the client closed (or reset) its side
  bool first_request_ = true;
  std::string in_;              // received, not yet parsed
  size_t in_start_ = 0;         // bytes of in_ already parsed
  size_t lf_checked_ = 0;       // bytes of pending() checked for bare LF
  size_t header_consumed_ = 0;  // bytes of the current request's header the parser took
  std::optional<Parser> parser_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  std::weak_ptr<HttpResponder::State> request_state_;
  // The answer being written: out_ first, then body_ from body_offset_, then pipe_.
  std::string out_;
  std::string body_;
  size_t body_offset_ = 0;
  size_t writing_bytes_ = 0;  // of body_, in the write in flight (0: out_)
  std::shared_ptr<HttpBodyPipe> pipe_;
  bool chunked_ = false;
  bool close_after_ = false;
  HttpCloseReason close_reason_ = HttpCloseReason::kDone;
  size_t lingered_bytes_ = 0;
};

}  // namespace pharos
