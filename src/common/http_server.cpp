#include "common/http_server.h"

// cpprest stays in this file: its headers are slow to compile and clash with fmt.
#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <thread>

#include "common/http_router.h"
#include "common/logging.h"

namespace pharos {
namespace {

namespace http = web::http;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

constexpr size_t kBodyReadChunkBytes = 64 * 1024;
// How much of a refused body the server still reads and throws away before answering 413. A client
// that is still sending when the server closes gets a TCP reset and loses the 413 it was sent, so a
// body up to this much over the limit is drained first; a larger one is cut off at once.
constexpr size_t kMaxDiscardedBodyBytes = 16 * 1024 * 1024;

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Observes a task's outcome: pplx terminates the process when a failed task is never observed.
template <typename T>
void IgnoreOutcome(pplx::task<T> task) {
  task.then([](pplx::task<T> done) {
    try {
      done.wait();
    } catch (...) {  // the client went away; nothing left to tell it
    }
  });
}

// Makes cpprest stop reading (and buffering) the rest of a request body we refused.
void StopReadingBody(const http::http_request& request) {
  try {
    IgnoreOutcome(request.body().streambuf().close(
        std::ios_base::out, std::make_exception_ptr(std::length_error("request body refused"))));
  } catch (const std::exception&) {  // no body stream: nothing to stop
  }
}

// Every request the server gives up on answering (server stopped) goes through this gate, so no
// reply reaches cpprest after the listener closed.
struct ReplyGate {
  std::shared_mutex mutex;
  bool closed = false;  // GUARDED_BY(mutex)
};

struct ListenAddress {
  std::string host;
  int port = 0;
};

Result<ListenAddress> ParseListenAddress(const std::string& listen) {
  const auto invalid = [&](std::string_view why) {
    return Error{"invalid listen address \"" + listen + "\": " + std::string(why) +
                 " (expected HOST:PORT, e.g. 127.0.0.1:8080, localhost:8080 or :8080)"};
  };
  if (!listen.empty() && listen[0] == '[') {
    // cpprest 2.10 splits its "host:port" key at the first colon, so it cannot bind an IPv6
    // literal; a host name that resolves to an IPv6 address works.
    return invalid(
        "IPv6 addresses are not supported by the cpprest listener; use an IPv4 "
        "address, a host name, or :PORT");
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return invalid("missing :PORT");
  }
  ListenAddress address;
  address.host = listen.substr(0, colon);
  if (address.host.find(':') != std::string::npos) {
    return invalid("IPv6 addresses are not supported by the cpprest listener");
  }
  if (address.host.empty()) {
    address.host = "0.0.0.0";
  }
  const std::string_view port_text = std::string_view(listen).substr(colon + 1);
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), address.port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      address.port < 0 || address.port > 65535) {
    return invalid("the port must be a number from 0 to 65535");
  }
  return address;
}

// A bound, not listening socket holding a free port until cpprest has bound the same port (both
// use SO_REUSEADDR, which Linux allows while neither listens); the kernel hands that port to no
// one else meanwhile.
class PortReservation {
 public:
  static Result<PortReservation> Reserve(const ListenAddress& address) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int status = getaddrinfo(address.host.c_str(), "0", &hints, &found);
    if (status != 0) {
      return Error{"cannot resolve listen host \"" + address.host + "\": " + gai_strerror(status)};
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> results(found, &freeaddrinfo);
    PortReservation reservation(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int yes = 1;
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    if (reservation.fd_ < 0 ||
        setsockopt(reservation.fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) != 0 ||
        bind(reservation.fd_, found->ai_addr, found->ai_addrlen) != 0 ||
        getsockname(reservation.fd_, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
      return Error{"cannot pick a free port on \"" + address.host + "\": " + strerror(errno)};
    }
    reservation.port_ =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return reservation;
  }

  PortReservation(PortReservation&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}
  PortReservation& operator=(PortReservation&&) = delete;
  ~PortReservation() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  int port() const { return port_; }

 private:
  explicit PortReservation(int fd) : fd_(fd) {}
  int fd_;
  int port_ = 0;
};

// cpprest keeps one socket per host:port for the whole process; registering a second listener on
// a host:port in use fails and, in cpprest 2.10, also tears down the first one's socket. So the
// servers of this process claim their host:port here first.
class ListenerKeys {
 public:
  static bool Claim(const std::string& key) {
    std::lock_guard lock(Mutex());
    return Keys().insert(key).second;
  }
  static void Release(const std::string& key) {
    std::lock_guard lock(Mutex());
    Keys().erase(key);
  }

 private:
  static std::mutex& Mutex() {
    static std::mutex mutex;
    return mutex;
  }
  static std::set<std::string>& Keys() {
    static std::set<std::string> keys;
    return keys;
  }
};

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
// instead of every handshake.
Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_server_method()),
                                                            &SSL_CTX_free);
  ERR_clear_error();
  if (!context) {
    return Error{"cannot create a TLS context: " + OpenSslErrors()};
  }
  if (SSL_CTX_use_certificate_chain_file(context.get(), cert_file.c_str()) != 1) {
    return Error{"cannot load TLS certificate \"" + cert_file + "\": " + OpenSslErrors()};
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error{"cannot load TLS private key \"" + key_file + "\": " + OpenSslErrors()};
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return Error{"TLS private key \"" + key_file + "\" does not match certificate \"" + cert_file +
                 "\""};
  }
  return OkStatus();
}

std::string ErrorJson(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

bool StatusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

// The body of one streamed response, between its producer (the stream thread) and cpprest, which
// reads it chunk by chunk as the socket takes them. Bounded: Write waits while `capacity` bytes
// are queued, so a slow client slows the producer instead of growing memory.
// Thread-safe.
class BodyPipe : public HttpBodyWriter {
 public:
  BodyPipe(size_t capacity, std::chrono::milliseconds stall_timeout)
      : capacity_(capacity), stall_timeout_(stall_timeout) {}

  bool Write(std::string_view piece) override {
    std::unique_lock lock(mutex_);
    while (!failure_ && queued_bytes_ >= capacity_) {
      const uint64_t reads_seen = reads_;
      const bool progressed = room_.wait_for(lock, stall_timeout_, [&] {
        return failure_ || queued_bytes_ < capacity_ || reads_ != reads_seen;
      });
      if (!progressed) {
        lock.unlock();
        Abort("the client took nothing for " + std::to_string(stall_timeout_.count()) + " ms");
        return false;
      }
    }
    if (failure_) {
      return false;
    }
    if (piece.empty()) {
      return true;
    }
    std::optional<PendingRead> pending = std::exchange(pending_, std::nullopt);
    size_t handed = 0;
    if (pending) {
      handed = std::min(pending->count, piece.size());
      std::memcpy(pending->out, piece.data(), handed);
    }
    if (handed < piece.size()) {
      queued_.emplace_back(piece.substr(handed));
      queued_bytes_ += piece.size() - handed;
    }
    lock.unlock();
    if (pending) {
      pending->done.set(handed);
    }
    return true;
  }

  // The producer is done: the body ends once everything queued is read.
  void Finish() {
    std::unique_lock lock(mutex_);
    if (failure_) {
      return;
    }
    finished_ = true;
    std::optional<PendingRead> pending = std::exchange(pending_, std::nullopt);
    lock.unlock();
    if (pending) {
      pending->done.set(0);
    }
  }

  // The body cannot be completed: reads fail from now on (cpprest then closes the connection
  // before the final chunk) and Write returns false. Nothing happens once the whole body was read.
  void Abort(const std::string& why) {
    std::unique_lock lock(mutex_);
    if (failure_ || (finished_ && queued_bytes_ == 0)) {
      return;
    }
    failure_ = why;
    queued_.clear();
    queued_bytes_ = 0;
    std::optional<PendingRead> pending = std::exchange(pending_, std::nullopt);
    lock.unlock();
    room_.notify_all();
    if (pending) {
      pending->done.set_exception(std::runtime_error(why));
    }
  }

  bool aborted() const {
    std::lock_guard lock(mutex_);
    return failure_.has_value();
  }

  // cpprest's read of up to `count` bytes into `out`: 0 at the end of the body. Completes when the
  // producer writes, if nothing is queued yet.
  pplx::task<size_t> Read(uint8_t* out, size_t count) {
    std::lock_guard lock(mutex_);
    if (failure_) {
      return pplx::task_from_exception<size_t>(std::runtime_error(*failure_));
    }
    if (queued_bytes_ == 0) {
      if (finished_) {
        return pplx::task_from_result<size_t>(0);
      }
      pending_.emplace(PendingRead{out, count, {}});
      return pplx::create_task(pending_->done);
    }
    size_t taken = 0;
    while (taken < count && !queued_.empty()) {
      const std::string& front = queued_.front();
      const size_t n = std::min(count - taken, front.size() - front_offset_);
      std::memcpy(out + taken, front.data() + front_offset_, n);
      taken += n;
      front_offset_ += n;
      if (front_offset_ == front.size()) {
        queued_.pop_front();
        front_offset_ = 0;
      }
    }
    queued_bytes_ -= taken;
    ++reads_;
    room_.notify_all();
    return pplx::task_from_result(taken);
  }

 private:
  struct PendingRead {
    uint8_t* out;
    size_t count;
    pplx::task_completion_event<size_t> done;
  };

  const size_t capacity_;
  const std::chrono::milliseconds stall_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::deque<std::string> queued_;      // GUARDED_BY(mutex_)
  size_t front_offset_ = 0;             // GUARDED_BY(mutex_): bytes of queued_.front() read
  size_t queued_bytes_ = 0;             // GUARDED_BY(mutex_)
  uint64_t reads_ = 0;                  // GUARDED_BY(mutex_)
  bool finished_ = false;               // GUARDED_BY(mutex_)
  std::optional<std::string> failure_;  // GUARDED_BY(mutex_)
  std::optional<PendingRead> pending_;  // GUARDED_BY(mutex_): a read waiting for the producer
};

// A BodyPipe as the cpprest stream buffer of a response. Supports what sending a chunked body
// needs: sequential reads (getn, bumpc); no seeking, peeking or writing.
// Thread-safety: as cpprest uses a response stream, one read at a time.
class StreamedBody : public concurrency::streams::details::streambuf_state_manager<uint8_t> {
 public:
  explicit StreamedBody(std::shared_ptr<BodyPipe> pipe)
      : streambuf_state_manager(std::ios_base::in), pipe_(std::move(pipe)) {}
  ~StreamedBody() override { pipe_->Abort("the response was dropped before its body was sent"); }
  StreamedBody(const StreamedBody&) = delete;
  StreamedBody& operator=(const StreamedBody&) = delete;

  bool can_seek() const override { return false; }
  bool has_size() const override { return false; }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override { return 0; }
  pos_type getpos(std::ios_base::openmode) const override { return traits::eof(); }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return traits::eof(); }
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
    return traits::eof();
  }
  bool acquire(uint8_t*& ptr, size_t& count) override {
    ptr = nullptr;
    count = 0;
    return false;
  }
  void release(uint8_t*, size_t) override {}

 protected:
  pplx::task<int_type> _putc(uint8_t) override { return pplx::task_from_result(traits::eof()); }
  pplx::task<size_t> _putn(const uint8_t*, size_t) override {
    return pplx::task_from_result<size_t>(0);
  }
  pplx::task<int_type> _bumpc() override {
    auto byte = std::make_shared<uint8_t>();
    return pipe_->Read(byte.get(), 1).then([byte](size_t read) {
      return read == 1 ? static_cast<int_type>(*byte) : traits::eof();
    });
  }
  int_type _sbumpc() override { return traits::requires_async(); }
  pplx::task<int_type> _getc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sgetc() override { return traits::requires_async(); }
  pplx::task<int_type> _nextc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<int_type> _ungetc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<size_t> _getn(uint8_t* ptr, size_t count) override { return pipe_->Read(ptr, count); }
  size_t _scopy(uint8_t*, size_t) override { return 0; }
  pplx::task<bool> _sync() override { return pplx::task_from_result(true); }
  uint8_t* _alloc(size_t) override { return nullptr; }
  void _commit(size_t) override {}

 private:
  const std::shared_ptr<BodyPipe> pipe_;
};

// Runs the producers of streamed responses, one at a time in the order submitted, on one thread
// ("http-stream", started with the first stream). Thread-safe.
class StreamRunner {
 public:
  StreamRunner(size_t pipe_capacity, std::chrono::milliseconds stall_timeout)
      : pipe_capacity_(pipe_capacity), stall_timeout_(stall_timeout) {}
  ~StreamRunner() { Stop(); }
  StreamRunner(const StreamRunner&) = delete;
  StreamRunner& operator=(const StreamRunner&) = delete;

  std::shared_ptr<BodyPipe> NewPipe() const {
    return std::make_shared<BodyPipe>(pipe_capacity_, stall_timeout_);
  }

  // False when stopping or when kMaxWaitingStreams are already waiting.
  bool Submit(std::shared_ptr<BodyPipe> pipe, HttpBodyProducer producer) {
    std::lock_guard lock(mutex_);
    if (stopping_ || waiting_.size() >= HttpServer::kMaxWaitingStreams) {
      return false;
    }
    waiting_.push_back({std::move(pipe), std::move(producer)});
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { Run(); });
    }
    wake_.notify_one();
    return true;
  }

  // Aborts every stream, running or waiting, and joins the thread. Idempotent.
  void Stop() {
    std::vector<std::shared_ptr<BodyPipe>> abandoned;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (Job& job : waiting_) {
        abandoned.push_back(std::move(job.pipe));
      }
      waiting_.clear();
      if (running_) {
        abandoned.push_back(running_);
      }
    }
    wake_.notify_all();
    for (const auto& pipe : abandoned) {
      pipe->Abort("the server is stopping");
    }
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  struct Job {
    std::shared_ptr<BodyPipe> pipe;
    HttpBodyProducer producer;
  };

  void Run() {
    pthread_setname_np(pthread_self(), "http-stream");
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (stopping_) {
        return;
      }
      Job job = std::move(waiting_.front());
      waiting_.pop_front();
      running_ = job.pipe;
      lock.unlock();
      if (!job.pipe->aborted()) {
        Produce(job);
      }
      job = Job{};  // the producer's captures go before the next one starts
      lock.lock();
      running_.reset();
    }
  }

  static void Produce(Job& job) {
    try {
      job.producer(*job.pipe);
      job.pipe->Finish();
    } catch (const std::exception& error) {
      LogError("a streamed HTTP response failed; its connection is closed mid-body",
               {{"error", error.what()}});
      job.pipe->Abort("the server failed while producing the body");
    }
  }

  const size_t pipe_capacity_;
  const std::chrono::milliseconds stall_timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> waiting_;            // GUARDED_BY(mutex_)
  std::shared_ptr<BodyPipe> running_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;              // GUARDED_BY(mutex_)
  std::thread thread_;
};

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

struct HttpResponder::State {
  State(std::shared_ptr<ReplyGate> gate, std::shared_ptr<StreamRunner> streams,
        http::http_request request, bool head)
      : gate(std::move(gate)),
        streams(std::move(streams)),
        request(std::move(request)),
        head(head) {}

  ~State() {
    if (sent.load()) {
      return;
    }
    LogError("HTTP handler dropped the request without answering; sent 500",
             {{"method", request.method()}, {"path", request.request_uri().path()}});
    Send(HttpResponse::Error(500, "the server did not answer this request"));
  }

  bool Send(HttpResponse response) {
    if (sent.exchange(true)) {
      return false;
    }
    if (response.status < 100 || response.status > 599) {
      LogError("HTTP handler answered with an invalid status; sent 500",
               {{"path", request.request_uri().path()}, {"status", response.status}});
      response = HttpResponse::Error(500, "the server produced an invalid response");
    }
    std::shared_ptr<BodyPipe> pipe;
    if (response.stream && !head && !StatusHasNoBody(response.status)) {
      pipe = streams->NewPipe();
      if (!streams->Submit(pipe, std::move(response.stream))) {
        response = HttpResponse::Error(503, "too many large responses in progress; retry shortly");
        pipe.reset();
      }
    }
    http::http_response reply(static_cast<http::status_code>(response.status));
    for (const auto& [name, value] : response.headers) {
      reply.headers().add(name, value);
    }
    if (!head && !StatusHasNoBody(response.status)) {
      if (pipe) {
        reply.set_body(
            concurrency::streams::streambuf<uint8_t>(std::make_shared<StreamedBody>(pipe))
                .create_istream(),
            response.content_type);
      } else {
        reply.set_body(std::move(response.body), response.content_type);
      }
      if (!response.content_type.empty()) {
        reply.headers().set_content_type(response.content_type);
      } else {
        reply.headers().remove(http::header_names::content_type);
      }
    }
    if (close_connection) {
      reply.headers().add(http::header_names::connection, "close");
    }
    std::shared_lock lock(gate->mutex);
    const auto abandon = [&pipe](const std::string& why) {
      if (pipe) {
        pipe->Abort(why);
      }
    };
    if (gate->closed) {
      abandon("the server is stopping");
      return false;
    }
    try {
      pplx::task<void> replied = request.reply(reply);
      if (pipe) {
        replied.then([pipe](const pplx::task<void>& done) {
          try {
            done.wait();
          } catch (...) {
            pipe->Abort("the connection closed before the body was sent");
          }
        });
      } else {
        IgnoreOutcome(std::move(replied));
      }
    } catch (const std::exception& error) {  // cpprest already answered (e.g. connection closed)
      LogDebug("HTTP response not sent", {{"error", error.what()}});
      abandon("the response could not be sent");
      return false;
    }
    return true;
  }

  const std::shared_ptr<ReplyGate> gate;
  const std::shared_ptr<StreamRunner> streams;
  http::http_request request;
  const bool head;
  // Set before Send when the connection must close after the answer (a refused body).
  bool close_connection = false;
  std::atomic<bool> sent{false};
};

bool HttpResponder::Send(HttpResponse response) const { return state_->Send(std::move(response)); }

bool HttpResponder::sent() const { return state_->sent.load(); }

namespace {

// Reads a request body chunk by chunk and keeps at most `limit` bytes of it (chunked bodies have no
// Content-Length to check up front). A body over the limit is read on and discarded, up to
// kMaxDiscardedBodyBytes, so that the client has finished sending when it gets the 413; past that
// it is refused at once.
class BodyReader : public std::enable_shared_from_this<BodyReader> {
 public:
  enum class Outcome { kComplete, kTooLarge, kTooLargeToDrain, kFailed };
  using Done = std::function<void(Outcome, std::string body)>;

  BodyReader(Concurrency::streams::streambuf<uint8_t> source, size_t limit, Done done)
      : source_(std::move(source)), limit_(limit), done_(std::move(done)) {}

  void ReadNext() {
    try {
      auto self = shared_from_this();
      source_.getn(chunk_.data(), chunk_.size()).then([self](pplx::task<size_t> task) {
        try {  // a pplx continuation that throws terminates the process
          self->OnRead(std::move(task));
        } catch (...) {
          self->Finish(Outcome::kFailed, "internal error while reading the body");
        }
      });
    } catch (const std::exception& error) {
      Finish(Outcome::kFailed, error.what());
    }
  }

 private:
  void OnRead(pplx::task<size_t> task) {
    size_t count = 0;
    try {
      count = task.get();
    } catch (const std::exception& error) {
      Finish(Outcome::kFailed, error.what());
      return;
    }
    if (count == 0) {
      Finish(discarded_ > 0 ? Outcome::kTooLarge : Outcome::kComplete, std::move(body_));
    } else if (discarded_ > 0 || body_.size() + count > limit_) {
      discarded_ += count;
      std::string().swap(body_);
      if (discarded_ > kMaxDiscardedBodyBytes) {
        Finish(Outcome::kTooLargeToDrain, "");
      } else {
        ReadNext();
      }
    } else {
      body_.append(reinterpret_cast<const char*>(chunk_.data()), count);
      ReadNext();
    }
  }

  void Finish(Outcome outcome, std::string text) {
    try {
      done_(outcome, std::move(text));
    } catch (const std::exception& error) {  // a pplx continuation must not throw
      LogError("HTTP request processing failed", {{"error", error.what()}});
    } catch (...) {
      LogError("HTTP request processing failed with a non-exception");
    }
  }

  Concurrency::streams::streambuf<uint8_t> source_;
  const size_t limit_;
  const Done done_;
  std::vector<uint8_t> chunk_ = std::vector<uint8_t>(kBodyReadChunkBytes);
  std::string body_;
  size_t discarded_ = 0;  // bytes read past the limit
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(HttpServerOptions options) : options(std::move(options)) {}

  void OnRequest(http::http_request request);
  void Dispatch(const std::shared_ptr<HttpResponder::State>& state, std::string body);
  void Refuse(const std::shared_ptr<HttpResponder::State>& state, int status,
              std::string_view message);

  const HttpServerOptions options;
  HttpRouter router;
  std::vector<HttpHandler> handlers;  // indexed by route
  const std::shared_ptr<ReplyGate> gate = std::make_shared<ReplyGate>();
  const std::shared_ptr<StreamRunner> streams =
      std::make_shared<StreamRunner>(options.stream_buffer_bytes, options.stream_stall_timeout);
  std::unique_ptr<http_listener> listener;
  std::string base_url;
  std::string listener_key;  // the host:port claimed in ListenerKeys
  int port = 0;

  std::mutex mutex;
  std::condition_variable handlers_idle;
  int running_handlers = 0;  // GUARDED_BY(mutex)
  bool stopping = false;     // GUARDED_BY(mutex)
};

void HttpServer::Impl::Refuse(const std::shared_ptr<HttpResponder::State>& state, int status,
                              std::string_view message) {
  state->Send(HttpResponse::Error(status, message));
}

void HttpServer::Impl::OnRequest(http::http_request request) {
  const bool head = request.method() == http::methods::HEAD;
  auto state = std::make_shared<HttpResponder::State>(gate, streams, request, head);
  std::string declared_length;
  if (request.headers().match(http::header_names::content_length, declared_length)) {
    size_t length = 0;
    const char* end = declared_length.data() + declared_length.size();
    const auto [parsed_end, error] = std::from_chars(declared_length.data(), end, length);
    if (error == std::errc::result_out_of_range ||
        (error == std::errc() && parsed_end == end &&
         length > options.max_body_bytes + kMaxDiscardedBodyBytes)) {
      StopReadingBody(request);
      state->close_connection = true;
      Refuse(state, 413,
             "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
      return;
    }
    if (error != std::errc() || parsed_end != end) {
      StopReadingBody(request);
      state->close_connection = true;
      Refuse(state, 400, "invalid Content-Length \"" + declared_length + "\"");
      return;
    }
  }
  auto self = shared_from_this();
  auto reader = std::make_shared<BodyReader>(
      request.body().streambuf(), options.max_body_bytes,
      [self, state](BodyReader::Outcome outcome, std::string body) {
        switch (outcome) {
          case BodyReader::Outcome::kComplete:
            self->Dispatch(state, std::move(body));
            return;
          case BodyReader::Outcome::kTooLargeToDrain:
            StopReadingBody(state->request);
            [[fallthrough]];
          case BodyReader::Outcome::kTooLarge:
            state->close_connection = true;
            self->Refuse(state, 413,
                         "request body larger than " +
                             std::to_string(self->options.max_body_bytes) + " bytes");
            return;
          case BodyReader::Outcome::kFailed:
            // Usually the client went away mid-body. Answer anyway: cpprest keeps the connection
            // until the request has a response.
            LogDebug("HTTP request body could not be read", {{"error", body}});
            state->close_connection = true;
            self->Refuse(state, 400, "the request body could not be read completely");
            return;
        }
      });
  reader->ReadNext();
}

void HttpServer::Impl::Dispatch(const std::shared_ptr<HttpResponder::State>& state,
                                std::string body) {
  const http::http_request& raw = state->request;
  HttpRequest request;
  request.method = raw.method();
  request.path = raw.request_uri().path();
  request.body = std::move(body);
  request.remote_address = raw.remote_address();
  for (const auto& [name, value] : raw.headers()) {
    request.headers.emplace(name, value);
  }
  auto query = ParseQueryString(raw.request_uri().query());
  if (!query.ok()) {
    return Refuse(state, 400, query.error());
  }
  request.query = std::move(*query);

  RouteMatch match = router.Match(request.method, request.path);
  switch (match.kind) {
    case RouteMatch::Kind::kBadPath:
      return Refuse(state, 400, match.error);
    case RouteMatch::Kind::kNotFound:
      return Refuse(state, 404, "no route for " + request.method + " " + request.path);
    case RouteMatch::Kind::kMethodNotAllowed: {
      std::string allow;
      for (const std::string& method : match.allowed_methods) {
        allow += (allow.empty() ? "" : ", ") + method;
      }
      HttpResponse response =
          HttpResponse::Error(405, "method " + request.method + " is not allowed for " +
                                       request.path + " (allowed: " + allow + ")");
      response.headers.emplace_back("Allow", allow);
      state->Send(std::move(response));
      return;
    }
    case RouteMatch::Kind::kFound:
      break;
  }
  request.path_params = std::move(match.params);

  {
    std::lock_guard lock(mutex);
    if (stopping) {
      return;
    }
    ++running_handlers;
  }
  try {
    handlers[match.route](request, HttpResponder(state));
  } catch (const std::exception& error) {
    LogError("HTTP handler threw; sent 500",
             {{"method", request.method}, {"path", request.path}, {"error", error.what()}});
    state->Send(HttpResponse::Error(500, "internal server error"));
  } catch (...) {
    LogError("HTTP handler threw a non-exception; sent 500",
             {{"method", request.method}, {"path", request.path}});
    state->Send(HttpResponse::Error(500, "internal server error"));
  }
  std::lock_guard lock(mutex);
  --running_handlers;
  handlers_idle.notify_all();
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Route(std::string_view method, std::string_view pattern, HttpHandler handler) {
  if (impl_->listener) {
    return Error{"routes must be added before the HTTP server starts"};
  }
  auto index = impl_->router.Add(method, pattern);
  if (!index.ok()) {
    return Error{index.error()};
  }
  impl_->handlers.push_back(std::move(handler));
  return OkStatus();
}

Status HttpServer::Start(const std::string& listen) {
  Impl& impl = *impl_;
  if (impl.listener) {
    return Error{"the HTTP server is already started"};
  }
  {
    std::shared_lock lock(impl.gate->mutex);
    if (impl.gate->closed) {
      return Error{"the HTTP server was stopped; create a new one"};
    }
  }
  auto address = ParseListenAddress(listen);
  if (!address.ok()) {
    return Error{address.error()};
  }
  const bool tls = !impl.options.tls_cert_file.empty() || !impl.options.tls_key_file.empty();
  if (tls) {
    if (impl.options.tls_cert_file.empty() || impl.options.tls_key_file.empty()) {
      return Error{"TLS needs both a certificate file and a key file"};
    }
    if (Status checked = CheckTlsFiles(impl.options.tls_cert_file, impl.options.tls_key_file);
        !checked.ok()) {
      return checked;
    }
  }
  std::optional<PortReservation> reservation;
  int port = address->port;
  if (port == 0) {
    auto reserved = PortReservation::Reserve(*address);
    if (!reserved.ok()) {
      return Error{reserved.error()};
    }
    port = reserved->port();
    reservation.emplace(std::move(*reserved));
  }
  const std::string url =
      std::string(tls ? "https" : "http") + "://" + address->host + ":" + std::to_string(port);
  std::string key = address->host + ":" + std::to_string(port);
  std::transform(key.begin(), key.end(), key.begin(), AsciiLower);
  if (!ListenerKeys::Claim(key)) {
    return Error{"cannot listen on " + listen +
                 ": address already in use by another HTTP server "
                 "of this process"};
  }
  http_listener_config config;
  if (tls) {
    config.set_ssl_context_callback(
        [cert = impl.options.tls_cert_file,
         key = impl.options.tls_key_file](boost::asio::ssl::context& context) {
          context.set_options(
              boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
              boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
              boost::asio::ssl::context::no_tlsv1_1);
          context.use_certificate_chain_file(cert);
          context.use_private_key_file(key, boost::asio::ssl::context::pem);
        });
  }
  try {
    auto listener = std::make_unique<http_listener>(url + "/", config);
    listener->support(
        [raw = impl_.get()](http::http_request request) { raw->OnRequest(std::move(request)); });
    listener->open().wait();
    impl.listener = std::move(listener);
  } catch (const std::exception& error) {
    ListenerKeys::Release(key);
    return Error{"cannot listen on " + listen + ": " + error.what()};
  }
  impl.listener_key = key;
  impl.port = port;
  impl.base_url = url;
  return OkStatus();
}

int HttpServer::port() const { return impl_->port; }

std::string HttpServer::base_url() const { return impl_->base_url; }

void HttpServer::Stop() {
  Impl& impl = *impl_;
  {
    std::unique_lock lock(impl.gate->mutex);
    if (impl.gate->closed) {
      return;
    }
    impl.gate->closed = true;
  }
  {
    std::lock_guard lock(impl.mutex);
    impl.stopping = true;
  }
  // A connection waiting for a streamed body's next piece would keep the listener from closing.
  impl.streams->Stop();
  if (impl.listener) {
    try {
      impl.listener->close().wait();
    } catch (const std::exception& error) {
      LogWarn("HTTP listener did not close cleanly", {{"error", error.what()}});
    }
    ListenerKeys::Release(impl.listener_key);
  }
  std::unique_lock lock(impl.mutex);
  impl.handlers_idle.wait(lock, [&] { return impl.running_handlers == 0; });
}

}  // namespace pharos
