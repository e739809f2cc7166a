#pragma once

// CheckAttempt: one try of one check (HTTP, TCP or DNS) on the engine's event loop. The engine
// starts it, and either it reports an Observation through its Finish callback, or the engine
// calls Abort when the check's deadline passes. Destroying an attempt releases every socket,
// handle and timer it holds, at any point.
// Thread-safety: loop thread only.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "common/target_policy.h"
#include "probe/icmp_socket.h"
#include "probe/observation.h"

namespace pharos {

class EventLoop;
class CurlMulti;
class TlsContext;
class AssertionEvaluator;

// What attempts share: the loop, curl's multi handle, the TLS context and the engine options.
struct AttemptEnvironment {
  EventLoop& loop;
  CurlMulti& curl;
  TlsContext* tls = nullptr;  // null when it could not be created; see tls_error
  std::string tls_error;
  size_t max_body_bytes = 1 << 20;
  int max_redirects = 10;
  std::string user_agent;  // never empty
  std::string ca_file;     // empty = system store
  // DNS servers for host lookups, in ares_set_servers_ports_csv form; empty = the system's.
  std::string resolver;
  IcmpSocket::Kind icmp_socket = IcmpSocket::Kind::kAuto;
  // Judges each address of a check that checks every address (AddressFanOut).
  const AssertionEvaluator* evaluator = nullptr;
  // Asked about every address before connecting to it; never null while attempts run.
  std::shared_ptr<const TargetPolicy> policy = std::make_shared<const TargetPolicy>();
};

class CheckAttempt {
 public:
  // Called at most once. The engine defers its reaction, so an attempt may call it from inside
  // a library callback and keep going until it is destroyed.
  using Finish = std::function<void(Observation)>;

  virtual ~CheckAttempt() = default;
  virtual void Start() = 0;
  // The deadline passed: stop, and describe how far the attempt got (a timeout naming the phase
  // it was in, with the timings reached so far).
  virtual Observation Abort(std::chrono::milliseconds timeout) = 0;
};

}  // namespace pharos
