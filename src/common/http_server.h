#pragma once

// HttpServer: the HTTP side of the operator and probe (probe API, /metrics, status page, JSON API)
// over cpprestsdk's listener, with routing, limits and JSON errors, and no cpprest type in its
// interface.
//
// Behaviour:
// * Routes: see HttpRouter (common/http_router.h) for the pattern syntax. No route for the path
//   → 404; a route for the path but not the method → 405 with an Allow header. A HEAD request uses
//   the GET route and gets the headers without the body.
// * Every error the server produces is JSON, {"error": "..."}: 400 (bad percent-escape, invalid
//   Content-Length, body cut short), 404, 405, 413 (body over HttpServerOptions::max_body_bytes,
//   4 MiB by default; checked while reading. The rest of a refused body, up to 16 MiB, is read
//   and discarded before the 413 is sent, so that a client still sending sees the answer instead
//   of a connection reset; a body declared larger than that is refused without reading it),
//   500 (a handler threw — logged, the server keeps serving — or every copy of its HttpResponder
//   was dropped without Send). After a 400 or 413 about the body the connection is closed.
//   Requests cpprest itself cannot parse get cpprest's plain, empty 400.
// * Handlers run on cpprest's thread pool once the whole body has been read. A handler must not
//   block for long: a long poll keeps the HttpResponder and calls Send later from any thread.
// * Streamed responses (HttpResponse::stream, for bodies too large to hold whole: /metrics):
//   status and headers go out at once, with chunked transfer encoding; the body's producer runs
//   on the server's "http-stream" thread, one response at a time in the order sent (at most
//   kMaxWaitingStreams wait; beyond that, 503). The connection buffers at most
//   HttpServerOptions::stream_buffer_bytes ahead of the client, so memory stays bounded however
//   slowly it reads; a client that takes nothing for stream_stall_timeout is cut off. A body that
//   cannot be completed (producer threw, client gone, server stopping) ends with the connection
//   closed before the final chunk, so the client sees an incomplete response, never a short one
//   that looks complete.
// * Listen address "HOST:PORT": "127.0.0.1:8080", "localhost:9090", ":8080" (all IPv4
//   interfaces). Port 0 picks a free port, reported by port(): the port is reserved with a socket
//   of our own before cpprest binds it (cpprest cannot report the port it bound), so no other
//   process can take it in between.
// * TLS: set tls_cert_file and tls_key_file (PEM; the chain file may hold intermediates). Both are
//   loaded and checked against each other in Start, so a bad file fails Start with a clear error.
//   TLS 1.2 and newer.
// * Limits of cpprest 2.10's listener that this class cannot fix:
//   - IPv6 literals ("[::1]:8080") cannot be bound: cpprest splits host:port at the first colon.
//     Start refuses them with that reason; a host name resolving to an IPv6 address works.
//   - cpprest keeps one socket per host:port per process. A second server on a host:port in use
//     in this process is refused by Start (cpprest itself would tear down the first one).
//   - After Stop, the socket keeps listening — answering cpprest's plain 404 — until every
//     listener of the process has stopped; only then is the port released to other processes.
//   - No limit on header size, no read timeout (a client that sends a partial request holds its
//     connection), HTTP/1.1 only, and a 413 reaches the client only once cpprest has received the
//     next piece of the body it refused (a client waiting for "100 Continue" waits for its own
//     timeout first).
//
// Thread-safety: Route, Start and Stop must not be called concurrently with each other; Start
// after Route calls. Handlers may run concurrently on several threads. Stop (and the destructor)
// waits for running handlers to return and must not be called from a handler.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pharos {

// Case-insensitive ordering for header names.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

using HttpHeaders = std::map<std::string, std::string, CaseInsensitiveLess>;

struct HttpRequest {
  std::string method;  // upper case, e.g. "GET" (also "HEAD" when served by a GET route)
  std::string path;    // as sent, percent-encoded, without the query
  std::map<std::string, std::string> query;        // decoded; first value of a repeated key
  std::map<std::string, std::string> path_params;  // decoded {param} values of the route
  HttpHeaders headers;  // case-insensitive names; repeated headers joined with ", "
  std::string body;
  std::string remote_address;  // the peer's IP address

  // The header's value, or "" when absent (any case of `name`).
  std::string_view Header(std::string_view name) const;
};

// Where the producer of a streamed response writes its body (see HttpResponse::stream).
class HttpBodyWriter {
 public:
  virtual ~HttpBodyWriter() = default;
  // Sends `piece` as the next part of the body. Waits while the connection already holds
  // HttpServerOptions::stream_buffer_bytes that the client has not taken. False once the body
  // can no longer be delivered (client gone, server stopping, client stalled): the producer
  // should return; later pieces are dropped.
  virtual bool Write(std::string_view piece) = 0;
};
using HttpBodyProducer = std::function<void(HttpBodyWriter&)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // When set, the body is written by this producer while it is sent, instead of `body`. Not run
  // for HEAD requests.
  HttpBodyProducer stream;

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body);
  // {"error": message} with the given status.
  static HttpResponse Error(int status, std::string_view message);
};

// Answers one request. A copyable handle: keep a copy to answer after the handler returned (long
// poll). Send works once, from any thread; later calls, and calls after the server stopped, do
// nothing and return false. When the last copy is destroyed without Send, the client gets 500.
class HttpResponder {
 public:
  struct State;
  explicit HttpResponder(std::shared_ptr<State> state) : state_(std::move(state)) {}

  bool Send(HttpResponse response) const;
  bool sent() const;

 private:
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponder)>;

struct HttpServerOptions {
  size_t max_body_bytes = 4 * 1024 * 1024;
  // Streamed responses: bytes buffered ahead of the client, and how long the client may take
  // nothing before the response is abandoned.
  size_t stream_buffer_bytes = size_t{1024} * 1024;
  std::chrono::milliseconds stream_stall_timeout{30'000};
  // Both set: serve HTTPS with this PEM certificate (chain) and private key.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  // Streamed responses waiting for the stream thread, beyond the one it runs.
  static constexpr size_t kMaxWaitingStreams = 4;

  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Errors name the problem in the method or pattern (see HttpRouter::Add). Only before Start.
  Status Route(std::string_view method, std::string_view pattern, HttpHandler handler);

  // Binds and starts serving; errors say what failed ("address already in use", bad listen
  // address, unreadable certificate). Once per server.
  Status Start(const std::string& listen);

  // The bound port (also when 0 was asked); 0 before Start.
  int port() const;
  // "http://127.0.0.1:PORT" (or https, [v6]); for logs and tests.
  std::string base_url() const;

  // Stops accepting, closes connections, waits for running handlers. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pharos
