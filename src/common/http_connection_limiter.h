#pragma once

// HttpConnectionLimiter: decides which connections an HttpServer takes, so that no client can
// hold every connection (or every file descriptor) of the process.
// Rules:
// * At most `max_connections` connections are open. When a new one arrives at that limit, the
//   connection that has been waiting longest for a request (its headers not complete: a new
//   connection, or a keep-alive one between requests) is closed to make room: an idle or
//   slow-sending client loses its place before anyone is refused. When every open connection is
//   busy (reading a body, being answered, parked in a long poll), the new one is refused.
// * Evicted connections close asynchronously; until they have, at most `max_pending_evictions`
//   extra connections are admitted, so the open count stays below max_connections +
//   max_pending_evictions.
// * With `max_per_client` > 0, a client (IP address) holding that many connections is refused
//   more; it never evicts others.
// Pure bookkeeping (ids, no sockets), so the rules are tested directly.
// Thread-safety: every method may be called from any thread (one mutex).

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pharos {

class HttpConnectionLimiter {
 public:
  struct Limits {
    size_t max_connections = 10'000;
    size_t max_per_client = 0;  // 0: no per-client limit
    size_t max_pending_evictions = 64;
  };
  enum class Verdict { kAdmit, kRefuseAtLimit, kRefuseClientLimit };
  struct Decision {
    Verdict verdict = Verdict::kAdmit;
    uint64_t id = 0;     // kAdmit: the new connection's id (waiting for a request)
    uint64_t evict = 0;  // kAdmit: a connection to close to make room, 0 when none
  };

  explicit HttpConnectionLimiter(Limits limits) : limits_(limits) {}

  // A connection from `client` (its IP address) arrived. Admitted connections start waiting.
  Decision Admit(std::string_view client);
  // The connection waits for a request's headers: it may be evicted, oldest wait first.
  void Waiting(uint64_t id);
  // The connection is busy with a request (body, handler, response): it is not evicted.
  void Busy(uint64_t id);
  // The connection is closed (also after an eviction). Unknown ids are ignored.
  void Closed(uint64_t id);

  size_t open() const;
  const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    std::string client;
    bool waiting = false;
    bool evicting = false;
    std::list<uint64_t>::iterator position;  // in waiting_ while `waiting`
  };

  const Limits limits_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;                                // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, Entry> entries_;         // GUARDED_BY(mu_)
  std::list<uint64_t> waiting_;                         // GUARDED_BY(mu_): oldest wait first
  std::unordered_map<std::string, size_t> per_client_;  // GUARDED_BY(mu_)
  size_t evicting_ = 0;                                 // GUARDED_BY(mu_)
};

}  // namespace pharos
