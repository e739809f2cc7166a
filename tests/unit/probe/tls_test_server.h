#pragma once

// TLS fixtures for engine tests: certificates made on the spot with the OpenSSL API (a CA and
// leaves signed by it, or self-signed leaves, with chosen validity), and TlsTestServer, a
// blocking one-connection-at-a-time TLS server on 127.0.0.1 that answers any HTTP request with
// 200 "secure". Stopped and joined by the destructor; CA files are deleted with their owner.
// Thread-safety: handshakes() may be called from any thread.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pharos::testing {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

struct TestCertificate {
  KeyPtr key;
  CertPtr cert;
};

// A certificate for `common_name` valid from now+not_before to now+not_after (seconds), with
// `san` ("DNS:localhost,IP:127.0.0.1", may be empty), signed by `issuer` (null: self-signed).
inline TestCertificate MakeCertificate(const std::string& common_name, const std::string& san,
                                       long not_before, long not_after, bool is_ca,
                                       const TestCertificate* issuer) {
  TestCertificate made;
  made.key.reset(EVP_EC_gen("P-256"));
  made.cert.reset(X509_new());
  X509* cert = made.cert.get();
  static std::atomic<long> serial{1};
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after);
  X509_set_pubkey(cert, made.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* issuer_cert = issuer ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer_cert, cert, nullptr, nullptr, 0);
  const auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    if (extension == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  };
  add(NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!san.empty()) add(NID_subject_alt_name, san);
  X509_sign(cert, issuer ? issuer->key.get() : made.key.get(), EVP_sha256());
  return made;
}

// Writes PEM certificates to a temporary file, removed by the destructor.
class PemFile {
 public:
  explicit PemFile(const std::vector<X509*>& certs) {
    char path[] = "/tmp/pharos-test-ca-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp");
    path_ = path;
    const std::unique_ptr<FILE, decltype(&fclose)> file(fdopen(fd, "w"), &fclose);
    for (X509* cert : certs) PEM_write_X509(file.get(), cert);
  }
  ~PemFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TlsTestServer {
 public:
  // Serves `leaf` (with `chain` appended when given).
  TlsTestServer(const TestCertificate& leaf, const TestCertificate* chain) {
    signal(SIGPIPE, SIG_IGN);
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, leaf.cert.get());
    SSL_CTX_use_PrivateKey(ctx_, leaf.key.get());
    if (chain != nullptr) {
      X509_up_ref(chain->cert.get());
      SSL_CTX_add_extra_chain_cert(ctx_, chain->cert.get());
    }
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("TLS test server: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    if (pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { Run(); });
  }
  ~TlsTestServer() {
    const char byte = 1;
    [[maybe_unused]] ssize_t ignored = write(stop_pipe_[1], &byte, 1);
    thread_.join();
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
    SSL_CTX_free(ctx_);
  }

  int port() const { return port_; }
  // Both wait (at most 5 s) until every accepted connection has been served: the client can
  // finish its side of a handshake before the server thread has recorded it.
  int handshakes() const {
    WaitUntilServed();
    return handshakes_.load();
  }
  std::string last_server_name() const {
    WaitUntilServed();
    std::lock_guard<std::mutex> lock(mutex_);
    return server_name_;
  }

 private:
  void Serve(int fd) {
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      handshakes_++;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        server_name_ = name ? name : "";
      }
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const int n = SSL_read(ssl, buffer, sizeof(buffer));
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      if (request.find("\r\n\r\n") != std::string::npos) {
        const std::string response =
            "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure";
        SSL_write(ssl, response.data(), static_cast<int>(response.size()));
        SSL_shutdown(ssl);
      }
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }

  void WaitUntilServed() const {
    std::unique_lock<std::mutex> lock(mutex_);
    served_changed_.wait_for(lock, std::chrono::seconds(5), [&] { return served_ == accepted_; });
  }

  void Run() {
    while (true) {
      pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      poll(fds, 2, 1000);
      if (fds[0].revents != 0) return;
      if (fds[1].revents == 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++accepted_;
      }
      Serve(fd);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++served_;
      }
      served_changed_.notify_all();
    }
  }

  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> handshakes_{0};
  mutable std::mutex mutex_;
  mutable std::condition_variable served_changed_;
  int accepted_ = 0;  // guarded by mutex_
  int served_ = 0;    // guarded by mutex_
  std::string server_name_;
  std::thread thread_;
};

}  // namespace pharos::testing
