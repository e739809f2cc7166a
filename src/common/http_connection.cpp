#include "common/http_connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <cstdio>
#include <limits>

#include "common/logging.h"

namespace pharos {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

// How much is read from a socket at once; also the room for pipelined bytes beyond the headers.
constexpr size_t kReadBytes = size_t{64} * 1024;
// How much of a refused body the server still reads and throws away before answering 413. A client
// that is still sending when the server closes gets a TCP reset and loses the 413 it was sent, so a
// body up to this much over the limit is drained first; a larger one is refused at once.
constexpr uint64_t kMaxDiscardedBodyBytes = uint64_t{16} * 1024 * 1024;
// Bodies up to this size go out in the same write as the headers.
constexpr size_t kInlineBodyBytes = size_t{16} * 1024;
// One write of a large body, or one chunk of a streamed one.
constexpr size_t kWritePieceBytes = size_t{256} * 1024;
// After a response that ends the connection, what the client still sends is read and dropped for
// at most this long (and this much) before closing, so that its unread bytes do not turn the close
// into a reset that destroys the response in flight.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kMaxLingerBytes = size_t{1024} * 1024;
// Request text quoted in error messages.
constexpr size_t kQuotedBytes = 64;

std::string_view View(boost::beast::string_view text) { return {text.data(), text.size()}; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}

int64_t Nanoseconds(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

bool StatusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

std::string Quoted(std::string_view text) {
  std::string quoted;
  for (const char c : text.substr(0, kQuotedBytes)) {
    quoted += (c >= 0x20 && c < 0x7F) ? c : '?';
  }
  return "\"" + quoted + (text.size() > kQuotedBytes ? "...\"" : "\"");
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsHeaderName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsTokenChar);
}

// The framing headers are the server's; a handler cannot set them.
bool IsServerOwnedHeader(std::string_view name) {
  return EqualsIgnoringCase(name, "Content-Length") ||
         EqualsIgnoringCase(name, "Transfer-Encoding") || EqualsIgnoringCase(name, "Connection");
}

// A header value cannot break the response: CR, LF and NUL become spaces.
std::string HeaderValue(std::string_view value) {
  std::string clean(value);
  std::replace_if(
      clean.begin(), clean.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; }, ' ');
  return clean;
}

std::string ReasonPhrase(int status) {
  const std::string_view reason = View(http::obsolete_reason(http::int_to_status(status)));
  return reason == "<unknown-status>" ? std::string() : std::string(reason);
}

std::string Hex(size_t value) {
  char text[24];
  const int length = std::snprintf(text, sizeof(text), "%zx", value);
  return std::string(text, static_cast<size_t>(length));
}

struct Refusal {
  int status;
  std::string message;
};

// The answer to a request Beast's parser refused. `line` is the request line as received.
Refusal ParseRefusal(const boost::beast::error_code& error, std::string_view line,
                     const HttpServerOptions& options) {
  if (error == http::error::bad_version) {
    // METHOD SP TARGET SP HTTP/d.d with a well-formed but unsupported version: 505.
    const size_t first = line.find(' ');
    const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    const std::string_view version =
        second == std::string_view::npos ? std::string_view() : line.substr(second + 1);
    if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(version[5]) &&
        version[6] == '.' && std::isdigit(version[7])) {
      return {505,
              "HTTP version " + std::string(version.substr(5)) + " is not supported; use HTTP/1.1"};
    }
    return {400, "malformed request line: expected METHOD TARGET HTTP/1.1, got " + Quoted(line)};
  }
  if (error == http::error::bad_content_length) {
    return {400, "invalid Content-Length: it must be one non-negative decimal number"};
  }
  if (error == http::error::bad_transfer_encoding) {
    return {400, "invalid Transfer-Encoding: chunked at most once, never with Content-Length"};
  }
  if (error == http::error::body_limit) {
    return {413, "request body larger than " + std::to_string(options.max_body_bytes) + " bytes"};
  }
  if (error == http::error::bad_chunk || error == http::error::bad_chunk_extension) {
    return {400, "malformed chunked body (bad chunk size or framing)"};
  }
  if (error == http::error::bad_method || error == http::error::bad_target) {
    return {400, "malformed request line: expected METHOD TARGET HTTP/1.1, got " + Quoted(line)};
  }
  if (error == http::error::header_limit) {
    return {431,
            "request headers larger than " + std::to_string(options.max_header_bytes) + " bytes"};
  }
  return {400, "malformed request: " + error.message()};
}

}  // namespace

const char* HttpCloseReasonName(HttpCloseReason reason) {
  switch (reason) {
    case HttpCloseReason::kDone:
      return "done";
    case HttpCloseReason::kHeaderTimeout:
      return "header_timeout";
    case HttpCloseReason::kIdleTimeout:
      return "idle_timeout";
    case HttpCloseReason::kBodyTimeout:
      return "body_timeout";
    case HttpCloseReason::kSendTimeout:
      return "send_timeout";
    case HttpCloseReason::kEvicted:
      return "evicted";
    case HttpCloseReason::kOverLimit:
      return "over_limit";
    case HttpCloseReason::kOverClientLimit:
      return "over_client_limit";
    case HttpCloseReason::kBadRequest:
      return "bad_request";
    case HttpCloseReason::kTlsError:
      return "tls_error";
    case HttpCloseReason::kStopping:
      return "stopping";
  }
  return "done";
}

void HttpLimitedBody::reader::init(const boost::optional<std::uint64_t>& length,
                                   boost::beast::error_code& error) {
  if (length) {
    body_.data.reserve(static_cast<size_t>(std::min<uint64_t>(*length, body_.limit)));
  }
  error = {};
}

void HttpLimitedBody::reader::Append(std::string_view piece) {
  if (body_.dropped > 0 || body_.data.size() + piece.size() > body_.limit) {
    body_.dropped += piece.size();
    std::string().swap(body_.data);
    return;
  }
  body_.data.append(piece);
}

HttpConnection::HttpConnection(HttpConnectionHost& host, uint64_t id, std::string client,
                               Socket socket, boost::asio::ssl::context* tls)
    : host_(host),
      id_(id),
      client_(std::move(client)),
      socket_(std::move(socket)),
      accepted_at_(Clock::now()) {
  if (tls != nullptr) {
    tls_ = std::make_unique<boost::asio::ssl::stream<Socket>>(std::move(socket_), *tls);
    tls_buffer_ = std::make_unique<std::array<char, size_t{16} * 1024>>();
  }
}

template <typename Function>
void HttpConnection::OnStrand(Function function) {
  net::post(socket().get_executor(),
            [self = shared_from_this(), function = std::move(function)]() mutable { function(); });
}

void HttpConnection::Start() {
  OnStrand([this] {
    boost::system::error_code ignored;
    socket().set_option(net::ip::tcp::no_delay(true), ignored);
    if (!tls_) {
      socket_.non_blocking(true, ignored);
      BeginRequest();
      return;
    }
    phase_ = Phase::kHandshake;
    SetDeadline(accepted_at_ + host_.options().header_timeout);
    tls_->async_handshake(boost::asio::ssl::stream_base::server,
                          [self = shared_from_this()](boost::system::error_code error) {
                            if (self->phase_ == Phase::kClosed) {
                              return;
                            }
                            if (error) {
                              LogDebug("TLS handshake failed; connection closed",
                                       {{"client", self->client_}, {"error", error.message()}});
                              self->DoClose(HttpCloseReason::kTlsError);
                              return;
                            }
                            self->BeginRequest();
                          });
  });
}

void HttpConnection::Close(HttpCloseReason reason) {
  OnStrand([this, reason] { DoClose(reason); });
}

void HttpConnection::CheckDeadline(Clock::time_point now) {
  const int64_t deadline = deadline_.load(std::memory_order_relaxed);
  if (deadline != 0 && deadline <= Nanoseconds(now) && !deadline_posted_.exchange(true)) {
    OnStrand([this] { OnDeadline(); });
  }
}

void HttpConnection::PostResponse(HttpResponse response, std::shared_ptr<HttpBodyPipe> pipe) {
  OnStrand([this, response = std::move(response), pipe = std::move(pipe)]() mutable {
    StartResponse(std::move(response), std::move(pipe));
  });
}

void HttpConnection::SetDeadline(std::optional<Clock::time_point> deadline) {
  deadline_.store(deadline ? Nanoseconds(*deadline) : 0, std::memory_order_relaxed);
}

void HttpConnection::OnDeadline() {
  deadline_posted_ = false;
  const int64_t deadline = deadline_.load(std::memory_order_relaxed);
  if (phase_ == Phase::kClosed || deadline == 0 || deadline > Nanoseconds(Clock::now())) {
    return;
  }
  HttpCloseReason reason = HttpCloseReason::kHeaderTimeout;
  switch (phase_) {
    case Phase::kWaiting:
      reason = first_request_ ? HttpCloseReason::kHeaderTimeout : HttpCloseReason::kIdleTimeout;
      break;
    case Phase::kBody:
      reason = HttpCloseReason::kBodyTimeout;
      break;
    case Phase::kWriting:
      reason = HttpCloseReason::kSendTimeout;
      break;
    case Phase::kLingering:
      reason = close_reason_;
      break;
    default:
      break;
  }
  LogDebug("HTTP connection timed out; closed",
           {{"client", client_}, {"reason", HttpCloseReasonName(reason)}});
  DoClose(reason);
}

void HttpConnection::DoClose(HttpCloseReason reason) {
  if (phase_ == Phase::kClosed) {
    return;
  }
  phase_ = Phase::kClosed;
  SetDeadline(std::nullopt);
  boost::system::error_code ignored;
  socket().close(ignored);
  if (pipe_) {
    pipe_->Abort("the connection closed before the body was sent");
    pipe_.reset();
  }
  if (const auto state = request_state_.lock()) {
    state->ClientGone();
  }
  request_state_.reset();
  parser_.reset();
  std::string().swap(in_);
  std::string().swap(out_);
  std::string().swap(body_);
  host_.Closed(*this, reason);
}

void HttpConnection::Consume(size_t bytes) {
  in_start_ += bytes;
  if (in_start_ >= in_.size()) {
    in_.clear();
    in_start_ = 0;
  } else if (in_start_ > kReadBytes && in_start_ > in_.size() / 2) {
    in_.erase(0, in_start_);
    in_start_ = 0;
  }
}

void HttpConnection::BeginRequest() {
  const HttpServerOptions& options = host_.options();
  phase_ = Phase::kWaiting;
  host_.limiter().Waiting(id_);
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(
      std::min<size_t>(options.max_header_bytes + 1, std::numeric_limits<uint32_t>::max())));
  parser_->body_limit(options.max_body_bytes + kMaxDiscardedBodyBytes);
  parser_->get().body().limit = options.max_body_bytes;
  lf_checked_ = 0;
  header_consumed_ = 0;
  head_ = false;
  close_after_ = false;
  close_reason_ = HttpCloseReason::kDone;
  if (!pending().empty()) {
    phase_ = Phase::kHeader;
    SetDeadline(Clock::now() + options.header_timeout);
    ParseHeader();
    return;
  }
  SetDeadline(first_request_ ? accepted_at_ + options.header_timeout
                             : Clock::now() + options.idle_timeout);
  ReadMore();
}

void HttpConnection::ReadMore() {
  if (reading_ || phase_ == Phase::kClosed) {
    return;
  }
  if (phase_ != Phase::kLingering &&
      pending().size() >= host_.options().max_header_bytes + kReadBytes) {
    return;  // whoever parses the bytes held reads again
  }
  reading_ = true;
  if (tls_) {
    tls_->async_read_some(
        net::buffer(*tls_buffer_),
        [self = shared_from_this()](boost::system::error_code error, size_t count) {
          self->reading_ = false;
          if (self->phase_ != Phase::kClosed) {
            self->OnData(error, std::string_view(self->tls_buffer_->data(), count));
          }
        });
    return;
  }
  socket_.async_wait(
      Socket::wait_read,
      [self = shared_from_this()](boost::system::error_code error) { self->OnReadable(error); });
}

void HttpConnection::OnReadable(boost::system::error_code error) {
  reading_ = false;
  if (phase_ == Phase::kClosed) {
    return;
  }
  if (error) {
    OnData(error, {});
    return;
  }
  thread_local std::array<char, kReadBytes> scratch;
  boost::system::error_code read_error;
  const size_t count = socket_.read_some(net::buffer(scratch), read_error);
  if (read_error == net::error::would_block || read_error == net::error::try_again) {
    ReadMore();
    return;
  }
  OnData(read_error, std::string_view(scratch.data(), count));
}

void HttpConnection::OnData(boost::system::error_code error, std::string_view data) {
  if (phase_ == Phase::kLingering) {
    lingered_bytes_ += data.size();
    if (error || lingered_bytes_ > kMaxLingerBytes) {
      DoClose(close_reason_);
    } else {
      ReadMore();
    }
    return;
  }
  in_.append(data);
  if (error) {
    peer_closed_ = true;
    switch (phase_) {
      case Phase::kBody:
        RespondError(400, "the request body could not be read completely");
        return;
      case Phase::kHandling:
        if (error == net::error::eof) {
          if (const auto state = request_state_.lock()) {
            state->ClientGone();  // it may have only half-closed: the answer is still sent
          }
          return;
        }
        DoClose(HttpCloseReason::kDone);
        return;
      case Phase::kWriting:
        if (error != net::error::eof) {
          DoClose(HttpCloseReason::kDone);
        }
        return;  // answered, then closed
      default:
        DoClose(HttpCloseReason::kDone);
        return;
    }
  }
  switch (phase_) {
    case Phase::kWaiting:
      phase_ = Phase::kHeader;
      if (!first_request_) {
        SetDeadline(Clock::now() + host_.options().header_timeout);
      }
      ParseHeader();
      return;
    case Phase::kHeader:
      ParseHeader();
      return;
    case Phase::kBody:
      ParseBody();
      return;
    default:  // pipelined bytes while a request is answered: kept for later
      ReadMore();
      return;
  }
}

void HttpConnection::ParseHeader() {
  const HttpServerOptions& options = host_.options();
  if (!parser_->got_some()) {
    // RFC 9112 2.2: empty lines before a request line are ignored.
    while (pending().substr(0, 2) == "\r\n") {
      Consume(2);
    }
  }
  const std::string_view data = pending();
  if (data.empty()) {
    ReadMore();
    return;
  }
  // Beast waits for CRLF CRLF before parsing what it has not parsed yet, so a request with bare LF
  // line endings would wait for its timeout: refuse it as soon as one arrives.
  const size_t search_from = lf_checked_ >= 3 ? lf_checked_ - 3 : 0;
  const size_t blank = data.find("\r\n\r\n", search_from);
  const size_t header_end = blank == std::string_view::npos ? data.size() : blank + 4;
  for (size_t i = lf_checked_; i < header_end; ++i) {
    if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) {
      RespondError(400, "malformed request: a line ends with a bare LF; HTTP lines end with CRLF");
      return;
    }
  }
  lf_checked_ = header_end;
  if (header_consumed_ + header_end > options.max_header_bytes) {
    const size_t line_end = data.find("\r\n");
    if (header_consumed_ == 0 &&
        (line_end == std::string_view::npos || line_end > options.max_header_bytes)) {
      RespondError(
          414, "request line longer than " + std::to_string(options.max_header_bytes) + " bytes");
    } else {
      RespondError(431, "request headers larger than " + std::to_string(options.max_header_bytes) +
                            " bytes");
    }
    return;
  }
  boost::beast::error_code error;
  const size_t used = parser_->put(net::buffer(data.data(), header_end), error);
  if (error && error != http::error::need_more) {
    const size_t line_end = data.find("\r\n");
    RespondError(ParseRefusal(error, data.substr(0, line_end), options).status,
                 ParseRefusal(error, data.substr(0, line_end), options).message);
    return;
  }
  Consume(used);
  header_consumed_ += used;
  lf_checked_ -= std::min(used, lf_checked_);
  if (parser_->is_header_done()) {
    OnHeader();
  } else {
    ReadMore();
  }
}

void HttpConnection::OnHeader() {
  const HttpServerOptions& options = host_.options();
  host_.limiter().Busy(id_);
  phase_ = Phase::kBody;
  auto& request = parser_->get();
  version_ = request.version();
  keep_alive_ = parser_->keep_alive();
  head_ = request.method() == http::verb::head;
  // Beast accepts repeated equal Content-Lengths and codings other than chunked; both invite
  // request smuggling through a proxy that reads them differently.
  if (request.count(http::field::content_length) > 1 ||
      request[http::field::content_length].find(',') != boost::beast::string_view::npos) {
    RespondError(400, "invalid Content-Length: given more than once");
    return;
  }
  if (request.count(http::field::transfer_encoding) > 0 && (!parser_->chunked() || version_ < 11)) {
    RespondError(400, "unsupported Transfer-Encoding " +
                          Quoted(View(request[http::field::transfer_encoding])) +
                          ": only chunked, once, over HTTP/1.1");
    return;
  }
  if (request.method() == http::verb::trace || request.method() == http::verb::connect) {
    RespondError(
        501, "method " + std::string(request.method_string()) + " is not supported by this server");
    return;
  }
  bool expect_continue = false;
  if (const std::string_view expect = View(request[http::field::expect]); !expect.empty()) {
    if (!EqualsIgnoringCase(expect, "100-continue")) {
      RespondError(417, "unsupported Expect " + Quoted(expect) + " (only 100-continue)");
      return;
    }
    expect_continue = version_ >= 11;
  }
  const auto declared = parser_->content_length();
  if (expect_continue && declared && *declared > options.max_body_bytes) {
    RespondError(413,
                 "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
    return;
  }
  if (parser_->is_done()) {
    Dispatch();
    return;
  }
  SetDeadline(Clock::now() + options.body_timeout);
  parser_->eager(true);  // every complete chunk in the buffer at once
  if (!expect_continue) {
    ParseBody();
    return;
  }
  out_ = "HTTP/1.1 100 Continue\r\n\r\n";
  writing_ = true;
  const auto written = [self = shared_from_this()](boost::system::error_code error, size_t) {
    self->writing_ = false;
    if (self->phase_ == Phase::kClosed) {
      return;
    }
    if (error) {
      self->DoClose(HttpCloseReason::kDone);
      return;
    }
    self->out_.clear();
    self->ParseBody();
  };
  if (tls_) {
    net::async_write(*tls_, net::buffer(out_), written);
  } else {
    net::async_write(socket_, net::buffer(out_), written);
  }
}

void HttpConnection::ParseBody() {
  while (!parser_->is_done()) {
    const std::string_view data = pending();
    if (data.empty()) {
      break;
    }
    boost::beast::error_code error;
    const size_t used = parser_->put(net::buffer(data.data(), data.size()), error);
    Consume(used);
    if (error == http::error::need_more) {
      if (used == 0) {
        break;
      }
      continue;
    }
    if (error) {
      const Refusal refusal = ParseRefusal(error, "", host_.options());
      RespondError(refusal.status, refusal.message);
      return;
    }
  }
  if (!parser_->is_done()) {
    ReadMore();
    return;
  }
  if (parser_->get().body().dropped > 0) {
    RespondError(413, "request body larger than " + std::to_string(host_.options().max_body_bytes) +
                          " bytes");
    return;
  }
  Dispatch();
}

void HttpConnection::Dispatch() {
  phase_ = Phase::kHandling;
  SetDeadline(std::nullopt);
  auto message = parser_->release();
  parser_.reset();
  HttpRequest request;
  request.method = std::string(message.method_string());
  const std::string_view target = View(message.target());
  const size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  std::string query =
      question == std::string_view::npos ? std::string() : std::string(target.substr(question + 1));
  for (const auto& field : message) {
    const auto [it, added] = request.headers.emplace(std::string(View(field.name_string())),
                                                     std::string(View(field.value())));
    if (!added) {
      it->second += ", ";
      it->second += View(field.value());
    }
  }
  request.body = std::move(message.body().data);
  request.remote_address = client_;
  auto state = std::make_shared<HttpResponder::State>(
      host_.reply_context(), weak_from_this(), request.method, request.path.substr(0, 200), head_);
  request_state_ = state;
  host_.Dispatch(std::move(request), std::move(query), std::move(state));
  // Reading on notices a client that goes away while its request is handled (or parked).
  if (!peer_closed_) {
    ReadMore();
  }
}

void HttpConnection::RespondError(int status, std::string_view message) {
  LogDebug("HTTP request refused", {{"client", client_}, {"status", status}, {"error", message}});
  host_.limiter().Busy(id_);
  close_after_ = true;
  close_reason_ = HttpCloseReason::kBadRequest;
  StartResponse(HttpResponse::Error(status, message), nullptr);
}

void HttpConnection::StartResponse(HttpResponse response, std::shared_ptr<HttpBodyPipe> pipe) {
  if (phase_ == Phase::kClosed || phase_ == Phase::kWriting || phase_ == Phase::kLingering) {
    if (pipe) {
      pipe->Abort("the connection closed before the answer was sent");
    }
    return;
  }
  request_state_.reset();
  phase_ = Phase::kWriting;
  const int status = response.status;
  const bool body_allowed = !StatusHasNoBody(status);
  close_after_ = close_after_ || !keep_alive_ || peer_closed_;
  out_ = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
  if (body_allowed && !response.content_type.empty()) {
    out_ += "Content-Type: " + HeaderValue(response.content_type) + "\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    if (!IsHeaderName(name) || IsServerOwnedHeader(name)) {
      LogDebug("HTTP response header dropped", {{"header", name}});
      continue;
    }
    out_ += name + ": " + HeaderValue(value) + "\r\n";
  }
  if (pipe && body_allowed && !head_) {
    chunked_ = version_ >= 11;
    if (chunked_) {
      out_ += "Transfer-Encoding: chunked\r\n";
    } else {
      close_after_ = true;  // an HTTP/1.0 client reads the body to the end of the connection
    }
    pipe_ = std::move(pipe);
  } else {
    if (pipe) {
      pipe->Abort("this answer has no body");
    }
    if (head_ && response.stream && version_ >= 11) {
      out_ += "Transfer-Encoding: chunked\r\n";
    } else if (body_allowed) {
      out_ += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      if (!head_) {
        body_ = std::move(response.body);
      }
    }
  }
  if (close_after_) {
    out_ += "Connection: close\r\n";
  } else if (version_ < 11) {
    out_ += "Connection: keep-alive\r\n";
  }
  out_ += "\r\n";
  if (body_.size() <= kInlineBodyBytes) {
    out_ += body_;
    body_.clear();
  }
  body_offset_ = 0;
  WriteNext();
}

void HttpConnection::WriteNext() {
  if (phase_ == Phase::kClosed || writing_) {
    return;
  }
  net::const_buffer buffer;
  if (!out_.empty()) {
    writing_bytes_ = 0;
    buffer = net::buffer(out_);
  } else if (body_offset_ < body_.size()) {
    writing_bytes_ = std::min(kWritePieceBytes, body_.size() - body_offset_);
    buffer = net::buffer(body_.data() + body_offset_, writing_bytes_);
  } else if (pipe_) {
    PumpStream();
    return;
  } else {
    ResponseDone();
    return;
  }
  SetDeadline(Clock::now() + host_.options().stream_stall_timeout);
  writing_ = true;
  const auto written = [self = shared_from_this()](boost::system::error_code error, size_t) {
    self->writing_ = false;
    if (self->phase_ == Phase::kClosed) {
      return;
    }
    if (error) {
      self->DoClose(HttpCloseReason::kDone);
      return;
    }
    if (self->writing_bytes_ == 0) {
      self->out_.clear();
    } else {
      self->body_offset_ += self->writing_bytes_;
    }
    self->WriteNext();
  };
  if (tls_) {
    net::async_write(*tls_, buffer, written);
  } else {
    net::async_write(socket_, buffer, written);
  }
}

void HttpConnection::PumpStream() {
  if (phase_ == Phase::kClosed || writing_ || !pipe_) {
    return;
  }
  std::string piece;
  const std::weak_ptr<HttpConnection> weak = weak_from_this();
  const HttpBodyPipe::Take take = pipe_->TakeInto(piece, kWritePieceBytes, [weak] {
    if (const auto self = weak.lock()) {
      self->OnStrand([raw = self.get()] { raw->PumpStream(); });
    }
  });
  switch (take) {
    case HttpBodyPipe::Take::kData:
      if (chunked_) {
        out_ = Hex(piece.size()) + "\r\n";
        out_ += piece;
        out_ += "\r\n";
      } else {
        out_ = std::move(piece);
      }
      WriteNext();
      return;
    case HttpBodyPipe::Take::kWait:
      SetDeadline(std::nullopt);  // the producer's pace, not the client's
      return;
    case HttpBodyPipe::Take::kFinished:
      pipe_.reset();
      if (chunked_) {
        out_ = "0\r\n\r\n";
      }
      WriteNext();
      return;
    case HttpBodyPipe::Take::kFailed:
      // Closed before the final chunk: the client sees an incomplete response.
      DoClose(HttpCloseReason::kDone);
      return;
  }
}

void HttpConnection::ResponseDone() {
  pipe_.reset();
  std::string().swap(body_);
  body_offset_ = 0;
  chunked_ = false;
  if (close_after_) {
    StartClosing(close_reason_);
    return;
  }
  first_request_ = false;
  BeginRequest();
}

void HttpConnection::StartClosing(HttpCloseReason reason) {
  close_reason_ = reason;
  if (peer_closed_ || tls_) {
    DoClose(reason);
    return;
  }
  phase_ = Phase::kLingering;
  host_.limiter().Busy(id_);
  SetDeadline(Clock::now() + kLingerTime);
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
  std::string().swap(in_);
  in_start_ = 0;
  ReadMore();
}

}  // namespace pharos
