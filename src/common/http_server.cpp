#include "common/http_server.h"

// Boost stays out of http_server.h: its headers are slow to compile and would leak into every
// user of the server.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/http_connection.h"
#include "common/http_connection_limiter.h"
#include "common/http_listen_address.h"
#include "common/http_responder_state.h"
#include "common/http_router.h"
#include "common/logging.h"
#include "common/metrics_writer.h"
#include "common/mutex.h"
#include "common/worker_pool.h"

namespace pharos {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Request text (a path) quoted in the server's own error messages.
constexpr size_t kShownPathBytes = 200;
// Connections the limiter admits beyond the limit while the ones it evicted are closing.
constexpr size_t kMaxPendingEvictions = 64;
// Below this, the descriptor reserve is not kept: a server that takes no connection is useless.
constexpr size_t kMinConnections = 32;
// At most one warning per this interval about refused connections or a failing accept.
constexpr std::chrono::seconds kWarningInterval{10};

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Shown(std::string_view text) {
  if (text.size() <= kShownPathBytes) {
    return std::string(text);
  }
  return std::string(text.substr(0, kShownPathBytes)) + "... (" + std::to_string(text.size()) +
         " bytes)";
}

std::string OpenSslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) {
      text += "; ";
    }
    text += buffer;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

// Loads the certificate and key the way each TLS connection will, so that a bad file fails Start
// with OpenSSL's reason instead of every handshake.
Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_server_method()),
                                                            &SSL_CTX_free);
  ERR_clear_error();
  if (!context) {
    return Error{"cannot create a TLS context: " + OpenSslErrors()};
  }
  if (SSL_CTX_use_certificate_chain_file(context.get(), cert_file.c_str()) != 1) {
    return Error{"cannot load TLS certificate \"" + cert_file + "\": " + OpenSslErrors(),
                 ErrorKind::kInvalidArgument};
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error{"cannot load TLS private key \"" + key_file + "\": " + OpenSslErrors(),
                 ErrorKind::kInvalidArgument};
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return Error{
        "TLS private key \"" + key_file + "\" does not match certificate \"" + cert_file + "\"",
        ErrorKind::kInvalidArgument};
  }
  return OkStatus();
}

std::string ErrorJson(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

// The open-files limit of the process (RLIMIT_NOFILE, soft).
size_t OpenFilesLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<size_t>::max();
  }
  return static_cast<size_t>(limit.rlim_cur);
}

// True at most once per kWarningInterval for one `last` (nanoseconds of the steady clock).
bool WarningDue(std::atomic<int64_t>& last) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
          .count();
  int64_t seen = last.load();
  const int64_t interval = std::chrono::nanoseconds(kWarningInterval).count();
  return (seen == 0 || now - seen >= interval) && last.compare_exchange_strong(seen, now);
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return AsciiLower(x) < AsciiLower(y); });
}

std::string_view HttpRequest::Header(std::string_view name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}};
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

HttpResponse HttpResponse::Error(int status, std::string_view message) {
  return Json(status, ErrorJson(message));
}

bool HttpResponder::Send(HttpResponse response) const { return state_->Send(std::move(response)); }

bool HttpResponder::sent() const { return state_->sent.load(); }

void HttpResponder::OnClientGone(std::function<void()> callback) const {
  state_->WatchClient(std::move(callback));
}

struct HttpServer::Impl final : HttpConnectionHost {
  explicit Impl(HttpServerOptions server_options)
      : options_(std::move(server_options)),
        reply_context_(std::make_shared<HttpReplyContext>(options_.stream_buffer_bytes,
                                                          options_.stream_stall_timeout)),
        io(std::max(1, options_.io_threads)),
        workers("http-handler", options_.handler_threads) {}

  // HttpConnectionHost
  const HttpServerOptions& options() const override { return options_; }
  HttpConnectionLimiter& limiter() override { return *limiter_; }
  const std::shared_ptr<HttpReplyContext>& reply_context() const override { return reply_context_; }
  void Dispatch(HttpRequest request, std::string query,
                std::shared_ptr<HttpResponder::State> state) override;
  void Closed(const HttpConnection& connection, HttpCloseReason reason) override;

  Status Listen(const std::string& listen);
  void Accept();
  void OnAccept(boost::system::error_code error, tcp::socket socket);
  void Admit(tcp::socket socket);
  void ScheduleSweep();
  void Handle(HttpRequest request, const std::string& query,
              const std::shared_ptr<HttpResponder::State>& state);
  static void Refuse(const std::shared_ptr<HttpResponder::State>& state, int status,
                     std::string_view message) {
    state->Send(HttpResponse::Error(status, message));
  }

  const HttpServerOptions options_;
  HttpRouter router;
  std::vector<HttpHandler> handlers;  // indexed by route
  const std::shared_ptr<HttpReplyContext> reply_context_;

  // Declared before every I/O object so that it is destroyed after them.
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<net::ssl::context> tls;
  std::optional<tcp::acceptor> acceptor;  // on its own strand, with retry_timer
  std::optional<net::steady_timer> retry_timer;
  std::optional<net::steady_timer> sweep_timer;  // on its own strand
  std::chrono::milliseconds sweep_interval{250};
  std::vector<std::thread> io_threads;
  WorkerPool workers;

  std::unique_ptr<HttpConnectionLimiter> limiter_;  // set in Start, before any connection
  std::atomic<bool> started{false};
  std::string base_url;
  int port = 0;

  Mutex registry_mutex;
  CondVar registry_empty;
  std::unordered_map<uint64_t, std::shared_ptr<HttpConnection>> connections
      GUARDED_BY(registry_mutex);
  bool stopping GUARDED_BY(registry_mutex) = false;

  std::array<std::atomic<uint64_t>, kHttpCloseReasons> closed{};
  std::atomic<int64_t> last_refusal_warning{0};
  std::atomic<int64_t> last_eviction_warning{0};
  std::atomic<int64_t> last_accept_warning{0};
};

void HttpServer::Impl::Dispatch(HttpRequest request, std::string query,
                                std::shared_ptr<HttpResponder::State> state) {
  workers.Submit(
      [this, request = std::move(request), query = std::move(query),
       state = std::move(state)]() mutable { Handle(std::move(request), query, state); });
}

void HttpServer::Impl::Handle(HttpRequest request, const std::string& query,
                              const std::shared_ptr<HttpResponder::State>& state) {
  auto parsed = ParseQueryString(query);
  if (!parsed.ok()) {
    return Refuse(state, 400, Shown(parsed.error()));
  }
  request.query = std::move(*parsed);

  RouteMatch match = router.Match(request.method, request.path);
  switch (match.kind) {
    case RouteMatch::Kind::kBadPath:
      return Refuse(state, 400, Shown(match.error));
    case RouteMatch::Kind::kNotFound:
      return Refuse(state, 404, "no route for " + request.method + " " + Shown(request.path));
    case RouteMatch::Kind::kMethodNotAllowed: {
      std::string allow;
      for (const std::string& method : match.allowed_methods) {
        allow += (allow.empty() ? "" : ", ") + method;
      }
      HttpResponse response =
          HttpResponse::Error(405, "method " + Shown(request.method) + " is not allowed for " +
                                       Shown(request.path) + " (allowed: " + allow + ")");
      response.headers.emplace_back("Allow", allow);
      state->Send(std::move(response));
      return;
    }
    case RouteMatch::Kind::kFound:
      break;
  }
  request.path_params = std::move(match.params);
  try {
    handlers[match.route](request, HttpResponder(state));
  } catch (const std::exception& error) {
    LogError("HTTP handler threw; sent 500",
             {{"method", request.method}, {"path", state->path}, {"error", error.what()}});
    state->Send(HttpResponse::Error(500, "internal server error"));
  } catch (...) {
    LogError("HTTP handler threw a non-exception; sent 500",
             {{"method", request.method}, {"path", state->path}});
    state->Send(HttpResponse::Error(500, "internal server error"));
  }
}

void HttpServer::Impl::Closed(const HttpConnection& connection, HttpCloseReason reason) {
  closed[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  limiter_->Closed(connection.id());
  MutexLock lock(registry_mutex);
  connections.erase(connection.id());
  if (connections.empty()) {
    registry_empty.NotifyAll();
  }
}

Status HttpServer::Impl::Listen(const std::string& listen) {
  auto address = HttpListenAddress::Parse(listen);
  if (!address.ok()) {
    return Error{address.error(), address.error_kind()};
  }
  boost::system::error_code error;
  tcp::endpoint endpoint;
  const net::ip::address literal = net::ip::make_address(address->host, error);
  if (!error) {
    endpoint = tcp::endpoint(literal, static_cast<unsigned short>(address->port));
  } else {
    tcp::resolver resolver(io);
    const auto found =
        resolver.resolve(address->host, std::to_string(address->port),
                         tcp::resolver::address_configured | tcp::resolver::numeric_service, error);
    if (error || found.empty()) {
      return Error{"cannot resolve listen host \"" + address->host +
                   "\": " + (error ? error.message() : "no address")};
    }
    endpoint = found.begin()->endpoint();
  }
  acceptor.emplace(net::make_strand(io));
  retry_timer.emplace(acceptor->get_executor());
  const auto failed = [&](const boost::system::error_code& cause) {
    acceptor.reset();
    if (cause == net::error::address_in_use) {
      return Error{"cannot listen on " + listen + ": address already in use"};
    }
    return Error{"cannot listen on " + listen + ": " + cause.message()};
  };
  if (acceptor->open(endpoint.protocol(), error)) {
    return failed(error);
  }
  acceptor->set_option(tcp::acceptor::reuse_address(true), error);
  if (endpoint.address().is_v6()) {
    // "[::]" takes IPv4 connections too, whatever the host's default (net.ipv6.bindv6only).
    acceptor->set_option(net::ip::v6_only(!endpoint.address().is_unspecified()), error);
  }
  if (acceptor->bind(endpoint, error) ||
      acceptor->listen(net::socket_base::max_listen_connections, error)) {
    return failed(error);
  }
  port = acceptor->local_endpoint(error).port();
  const bool https = tls.has_value();
  base_url = std::string(https ? "https" : "http") + "://" + address->UrlHost() + ":" +
             std::to_string(port);
  return OkStatus();
}

void HttpServer::Impl::Accept() {
  acceptor->async_accept(net::make_strand(io),
                         [this](boost::system::error_code error, tcp::socket socket) {
                           OnAccept(error, std::move(socket));
                         });
}

void HttpServer::Impl::OnAccept(boost::system::error_code error, tcp::socket socket) {
  if (error == net::error::operation_aborted || !acceptor->is_open()) {
    return;
  }
  if (error) {
    const bool out_of_resources = error == net::error::no_descriptors || error.value() == ENFILE ||
                                  error == net::error::no_buffer_space ||
                                  error == net::error::no_memory;
    if (!out_of_resources) {
      Accept();  // that connection failed (e.g. reset before it was accepted); go on
      return;
    }
    if (WarningDue(last_accept_warning)) {
      LogWarn("cannot accept HTTP connections; retrying every 50 ms",
              {{"error", error.message()},
               {"hint",
                "the process is out of file descriptors: raise its limit (ulimit -n) or lower "
                "--http-max-connections"}});
    }
    retry_timer->expires_after(std::chrono::milliseconds(50));
    retry_timer->async_wait([this](boost::system::error_code waited) {
      if (!waited) {
        Accept();
      }
    });
    return;
  }
  Admit(std::move(socket));
  Accept();
}

void HttpServer::Impl::Admit(tcp::socket socket) {
  boost::system::error_code error;
  const tcp::endpoint remote = socket.remote_endpoint(error);
  if (error) {
    return;  // already gone
  }
  net::ip::address address = remote.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  std::string client = address.to_string();
  const HttpConnectionLimiter::Decision decision = limiter_->Admit(client);
  if (decision.verdict != HttpConnectionLimiter::Verdict::kAdmit) {
    const bool per_client = decision.verdict == HttpConnectionLimiter::Verdict::kRefuseClientLimit;
    closed[static_cast<size_t>(per_client ? HttpCloseReason::kOverClientLimit
                                          : HttpCloseReason::kOverLimit)]
        .fetch_add(1, std::memory_order_relaxed);
    socket.close(error);
    if (WarningDue(last_refusal_warning)) {
      LogWarn(per_client ? "an HTTP client holds its connection limit; its new connections are "
                           "closed at once"
                         : "every HTTP connection is busy with a request; new connections are "
                           "closed at once",
              {{"client", client},
               {"limit", per_client ? limiter_->limits().max_per_client
                                    : limiter_->limits().max_connections},
               {"hint", per_client ? "raise --http-max-connections-per-client if this client is "
                                     "legitimate"
                                   : "raise --http-max-connections (and the file-descriptor "
                                     "limit), or add replicas"}});
    }
    return;
  }
  auto connection = std::make_shared<HttpConnection>(*this, decision.id, std::move(client),
                                                     std::move(socket), tls ? &*tls : nullptr);
  std::shared_ptr<HttpConnection> victim;
  {
    MutexLock lock(registry_mutex);
    if (stopping) {
      limiter_->Closed(decision.id);
      return;  // the connection's destructor closes the socket
    }
    connections.emplace(decision.id, connection);
    if (decision.evict != 0) {
      if (const auto it = connections.find(decision.evict); it != connections.end()) {
        victim = it->second;
      }
    }
  }
  if (victim) {
    victim->Close(HttpCloseReason::kEvicted);
    if (WarningDue(last_eviction_warning)) {
      LogWarn(
          "HTTP connection limit reached; closing the connections that wait longest for a "
          "request to make room",
          {{"limit", limiter_->limits().max_connections},
           {"hint",
            "many idle or slow clients: raise --http-max-connections (and the "
            "file-descriptor limit), or lower --http-header-timeout"}});
    }
  }
  connection->Start();
}

void HttpServer::Impl::ScheduleSweep() {
  sweep_timer->expires_after(sweep_interval);
  sweep_timer->async_wait([this](boost::system::error_code error) {
    if (error) {
      return;
    }
    const auto now = SteadyClock::now();
    {
      MutexLock lock(registry_mutex);
      for (const auto& [id, connection] : connections) {
        connection->CheckDeadline(now);
      }
    }
    ScheduleSweep();
  });
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Route(std::string_view method, std::string_view pattern, HttpHandler handler) {
  if (impl_->started) {
    return Error{"routes must be added before the HTTP server starts"};
  }
  auto index = impl_->router.Add(method, pattern);
  if (!index.ok()) {
    return Error{index.error(), index.error_kind()};
  }
  impl_->handlers.push_back(std::move(handler));
  return OkStatus();
}

Status HttpServer::Start(const std::string& listen) {
  Impl& impl = *impl_;
  if (impl.started) {
    return Error{"the HTTP server is already started"};
  }
  {
    ReaderMutexLock lock(impl.reply_context_->gate);
    if (impl.reply_context_->closed) {
      return Error{"the HTTP server was stopped; create a new one"};
    }
  }
  const HttpServerOptions& options = impl.options_;
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (tls) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return Error{"TLS needs both a certificate file and a key file", ErrorKind::kInvalidArgument};
    }
    if (Status checked = CheckTlsFiles(options.tls_cert_file, options.tls_key_file);
        !checked.ok()) {
      return checked;
    }
    try {
      impl.tls.emplace(net::ssl::context::tls_server);
      impl.tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                            net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                            net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
      impl.tls->use_certificate_chain_file(options.tls_cert_file);
      impl.tls->use_private_key_file(options.tls_key_file, net::ssl::context::pem);
    } catch (const boost::system::system_error& error) {
      impl.tls.reset();
      return Error{"cannot set up TLS: " + std::string(error.what())};
    }
  }
  if (Status listening = impl.Listen(listen); !listening.ok()) {
    return listening;
  }

  // The connection limit leaves fd_reserve descriptors to the rest of the process.
  const size_t open_files = OpenFilesLimit();
  const size_t room = open_files > options.fd_reserve ? open_files - options.fd_reserve : 0;
  size_t limit = std::min(options.max_connections, room);
  if (limit < kMinConnections && limit < options.max_connections) {
    limit = std::min(options.max_connections, std::max(kMinConnections, open_files / 2));
    LogWarn("the file-descriptor limit is too low to keep the HTTP server's reserve",
            {{"open_files_limit", open_files},
             {"fd_reserve", options.fd_reserve},
             {"max_connections", limit},
             {"hint", "raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit)"}});
  } else if (limit < options.max_connections) {
    LogInfo("HTTP connections limited by the file-descriptor limit",
            {{"max_connections", limit},
             {"open_files_limit", open_files},
             {"fd_reserve", options.fd_reserve}});
  }
  impl.limiter_ = std::make_unique<HttpConnectionLimiter>(HttpConnectionLimiter::Limits{
      limit, options.max_connections_per_client, kMaxPendingEvictions});

  const auto shortest = std::min({options.header_timeout, options.idle_timeout,
                                  options.body_timeout, options.stream_stall_timeout});
  impl.sweep_interval =
      std::clamp(shortest / 8, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
  impl.sweep_timer.emplace(net::make_strand(impl.io));
  impl.work.emplace(impl.io.get_executor());
  impl.workers.Start();
  impl.started = true;
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    impl.io_threads.emplace_back([&impl] {
      pthread_setname_np(pthread_self(), "http-io");
      while (true) {
        try {
          impl.io.run();
          return;
        } catch (const std::exception& error) {
          LogError("HTTP I/O thread caught an exception; it goes on", {{"error", error.what()}});
        }
      }
    });
  }
  net::post(impl.acceptor->get_executor(), [&impl] { impl.Accept(); });
  net::post(impl.sweep_timer->get_executor(), [&impl] { impl.ScheduleSweep(); });
  return OkStatus();
}

int HttpServer::port() const { return impl_->port; }

std::string HttpServer::base_url() const { return impl_->base_url; }

HttpServerStats HttpServer::stats() const {
  HttpServerStats stats;
  if (impl_->started) {
    stats.open_connections = impl_->limiter_->open();
    stats.max_connections = impl_->limiter_->limits().max_connections;
  }
  for (size_t reason = 0; reason < kHttpCloseReasons; ++reason) {
    stats.closed[HttpCloseReasonName(static_cast<HttpCloseReason>(reason))] =
        impl_->closed[reason].load(std::memory_order_relaxed);
  }
  return stats;
}

void HttpServer::CollectMetrics(MetricsWriter& writer) const {
  const HttpServerStats current = stats();
  if (writer.BeginFamily("pharos_http_connections", "Open connections of the HTTP server.",
                         MetricType::kGauge)) {
    writer.Sample({}, static_cast<double>(current.open_connections));
  }
  if (writer.BeginFamily("pharos_http_connections_max",
                         "Connections the HTTP server keeps open at most (after its reserve of "
                         "file descriptors).",
                         MetricType::kGauge)) {
    writer.Sample({}, static_cast<double>(current.max_connections));
  }
  if (writer.BeginFamily("pharos_http_connections_closed_total",
                         "Connections of the HTTP server closed, by reason.", MetricType::kCounter,
                         {"reason"})) {
    for (const auto& [reason, count] : current.closed) {
      writer.Sample({reason}, static_cast<double>(count));
    }
  }
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  {
    WriterMutexLock lock(impl.reply_context_->gate);
    if (impl.reply_context_->closed) {
      return;
    }
    impl.reply_context_->closed = true;
  }
  std::vector<std::shared_ptr<HttpConnection>> open;
  {
    MutexLock lock(impl.registry_mutex);
    impl.stopping = true;
    for (const auto& [id, connection] : impl.connections) {
      open.push_back(connection);
    }
  }
  impl.reply_context_->streams.Stop();
  if (impl.started) {
    net::post(impl.acceptor->get_executor(), [&impl] {
      boost::system::error_code ignored;
      impl.acceptor->close(ignored);
      impl.retry_timer->cancel();
    });
    net::post(impl.sweep_timer->get_executor(), [&impl] { impl.sweep_timer->cancel(); });
    for (const auto& connection : open) {
      connection->Close(HttpCloseReason::kStopping);
    }
    open.clear();
    MutexLock lock(impl.registry_mutex);
    if (!impl.registry_empty.WaitFor(
            impl.registry_mutex, std::chrono::seconds(10),
            [&]() REQUIRES(impl.registry_mutex) { return impl.connections.empty(); })) {
      LogWarn("HTTP connections did not close within 10 s of stopping; dropped",
              {{"open", impl.connections.size()}});
    }
  }
  impl.workers.Stop();
  impl.work.reset();
  impl.io.stop();
  for (std::thread& thread : impl.io_threads) {
    thread.join();
  }
  if (impl.acceptor) {
    boost::system::error_code ignored;
    impl.acceptor->close(ignored);  // no I/O thread runs any more
  }
  MutexLock lock(impl.registry_mutex);
  impl.connections.clear();
}

}  // namespace pharos
