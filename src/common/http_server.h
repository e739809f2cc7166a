#pragma once

// HttpServer: the HTTP side of the operator and probe (probe API, /metrics, status page, JSON API):
// HTTP/1.1 over Boost.Beast's parser and Boost.Asio sockets, with routing, limits that hold
// against hostile clients, and JSON errors. No Boost type appears in this interface.
//
// Behaviour:
// * Routes: see HttpRouter (common/http_router.h) for the pattern syntax. No route for the path
//   → 404; a route for the path but not the method → 405 with an Allow header. A HEAD request uses
//   the GET route and gets the headers without the body. TRACE and CONNECT are refused with 501
//   (the request is never echoed). Routing costs time linear in the path's length.
// * Every error the server produces is JSON, {"error": "..."}, and never echoes more than a few
//   hundred bytes of the request: 400 (malformed request line, header or chunked body, bare-LF
//   line endings, a Content-Length that is negative, not a number or given twice, a
//   Transfer-Encoding other than chunked, a bad percent-escape, a body cut short), 404, 405, 413
//   (body over max_body_bytes; checked while reading. The rest of a refused body, up to 16 MiB, is
//   read and discarded before the 413 is sent, so that a client still sending sees the answer
//   instead of a connection reset; a body declared larger than that is refused without reading
//   it; a client that sent "Expect: 100-continue" gets the 413 at once), 414/431 (request line /
//   headers over max_header_bytes), 417 (an Expect other than 100-continue), 500 (a handler threw
//   — logged, the server keeps serving — or every copy of its HttpResponder was dropped without
//   Send), 501 (TRACE, CONNECT), 505 (an HTTP version other than 1.0 and 1.1). After any of these
//   protocol errors the connection is closed.
// * Connections: HTTP/1.1 keep-alive (HTTP/1.0 with "Connection: keep-alive"); pipelined requests
//   are answered one at a time, in order. Limits (HttpServerOptions, documented in docs/api.md):
//   - header_timeout: a new connection must deliver its first request's headers (and a TLS
//     handshake) within it; a kept-alive one its next request's headers once the first byte came.
//     Otherwise the connection is closed (slow or idle half-open clients cannot hold it).
//   - idle_timeout: a kept-alive connection waiting for its next request is closed after it.
//   - body_timeout: the whole body must arrive within it once the headers are complete.
//   - stream_stall_timeout: a client that takes no response bytes for this long is cut off (plain
//     and streamed responses alike).
//   - max_connections: the open connections, lowered at Start so that fd_reserve file
//     descriptors of RLIMIT_NOFILE stay free for the rest of the process (checks, the store).
//     At the limit, a new connection closes the one that has waited longest for a request's
//     headers; when every connection is busy with a request, the new one is closed at once.
//     Nothing queues beyond the kernel's listen backlog. See HttpConnectionLimiter.
//   - max_connections_per_client (0 = off): connections one IP address may hold; more are closed
//     at once.
//   stats() and CollectMetrics report open connections and why connections were closed.
// * Handlers run on the server's "http-handler" threads once the whole body has been read;
//   sockets are served by its "http-io" threads, which never run handlers. A handler must not
//   block for long: a long poll keeps the HttpResponder and calls Send later from any thread.
//   While a request is parked, the server keeps reading its connection, so a client that goes
//   away is noticed at once (HttpResponder::OnClientGone).
// * Streamed responses (HttpResponse::stream, for bodies too large to hold whole: /metrics):
//   status and headers go out at once, with chunked transfer encoding; the body's producer runs
//   on the server's "http-stream" thread, one response at a time in the order sent (at most
//   kMaxWaitingStreams wait; beyond that, 503). The connection buffers at most
//   stream_buffer_bytes ahead of the client, so memory stays bounded however slowly it reads; a
//   client that takes nothing for stream_stall_timeout is cut off. A body that cannot be
//   completed (producer threw, client gone, server stopping) ends with the connection closed
//   before the final chunk, so the client sees an incomplete response, never a short one that
//   looks complete. An HTTP/1.0 client gets the body unframed, ended by closing the connection.
// * Listen address "HOST:PORT": see HttpListenAddress ("127.0.0.1:8080", "localhost:9090", ":8080"
//   for every IPv4 interface, "[::1]:8080", "[::]:8080"). Port 0 picks a free port, reported by
//   port(). A port in use (by any process) fails Start with "address already in use".
// * TLS: set tls_cert_file and tls_key_file (PEM; the chain file may hold intermediates). Both are
//   loaded and checked against each other in Start, so a bad file fails Start with a clear error.
//   TLS 1.2 and newer; a failed handshake closes the connection.
//
// Thread-safety: Route, Start and Stop must not be called concurrently with each other; Start
// after Route calls. Handlers may run concurrently on several threads. stats() and CollectMetrics
// may be called from any thread. Stop (and the destructor) closes every connection, waits for
// running handlers to return and must not be called from a handler.

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

class MetricsWriter;

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
// poll). Send works once, from any thread; later calls, and calls after the server stopped or
// the connection closed, do nothing and return false. When the last copy is destroyed without
// Send, the client gets 500.
class HttpResponder {
 public:
  struct State;
  explicit HttpResponder(std::shared_ptr<State> state) : state_(std::move(state)) {}

  bool Send(HttpResponse response) const;
  bool sent() const;

  // Calls `callback` once when the client goes away before the response was sent: it closed or
  // reset its connection, or the connection was closed (timeout, server stopping). At once, on
  // the calling thread, when that already happened; never once Send was called. Otherwise it runs
  // on a server I/O thread: keep it short and non-blocking (e.g. cancel a parked long poll).
  void OnClientGone(std::function<void()> callback) const;

 private:
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponder)>;

// The limits are described atop this file; the flags that set them: http_server_flags.h.
struct HttpServerOptions {
  size_t max_body_bytes = size_t{4} * 1024 * 1024;
  // Request line plus headers.
  size_t max_header_bytes = size_t{16} * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{90'000};
  std::chrono::milliseconds body_timeout{60'000};
  size_t max_connections = 10'000;
  size_t max_connections_per_client = 0;  // 0: no per-client limit
  // File descriptors of RLIMIT_NOFILE left to the rest of the process.
  size_t fd_reserve = 1024;
  // Streamed responses: bytes buffered ahead of the client. Any response: how long the client may
  // take nothing before the connection is cut off.
  size_t stream_buffer_bytes = size_t{1024} * 1024;
  std::chrono::milliseconds stream_stall_timeout{30'000};
  // Both set: serve HTTPS with this PEM certificate (chain) and private key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Threads serving sockets ("http-io") and running handlers ("http-handler").
  int io_threads = 2;
  int handler_threads = 8;
};

// What the server did with its connections, for metrics and tests.
struct HttpServerStats {
  size_t open_connections = 0;
  size_t max_connections = 0;  // the limit in force (after the descriptor reserve); 0 before Start
  // Connections closed, by reason: "done" (the client or "Connection: close" ended it),
  // "header_timeout", "idle_timeout", "body_timeout", "send_timeout", "evicted" (made room for a
  // new one at the limit), "over_limit" / "over_client_limit" (refused at once), "bad_request"
  // (protocol error answered with 4xx/5xx), "tls_error", "stopping". Every reason is present.
  std::map<std::string, uint64_t> closed;
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

  HttpServerStats stats() const;
  // Writes pharos_http_connections, pharos_http_connections_max and
  // pharos_http_connections_closed_total{reason} (docs/monitoring.md).
  void CollectMetrics(MetricsWriter& writer) const;

  // Stops accepting, closes connections, waits for running handlers. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pharos
