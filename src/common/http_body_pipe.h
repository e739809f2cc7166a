#pragma once

// HttpBodyPipe: the body of one streamed HTTP response, between its producer (which writes pieces
// through HttpBodyWriter, on the server's stream thread) and the connection that sends them.
// Bounded: Write waits while `capacity` bytes are queued, so a slow client slows the producer
// instead of growing memory; when the connection takes nothing for `stall_timeout` the body is
// abandoned (Write returns false from then on).
// Thread-safety: thread-safe; one producer and one consumer.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_server.h"
#include "common/mutex.h"

namespace pharos {

class HttpBodyPipe : public HttpBodyWriter {
 public:
  enum class Take { kData, kWait, kFinished, kFailed };

  HttpBodyPipe(size_t capacity, std::chrono::milliseconds stall_timeout)
      : capacity_(capacity), stall_timeout_(stall_timeout) {}

  // Producer side.
  bool Write(std::string_view piece) override;
  // The producer is done: the body ends once everything queued was taken.
  void Finish();

  // The body cannot be completed (producer failed, client gone or stalled, server stopping):
  // Take reports kFailed and Write returns false from now on. Nothing happens once the whole body
  // was taken.
  void Abort(const std::string& why);
  bool aborted() const;

  // Consumer side: appends up to `max` queued bytes to `out` (kData). With nothing queued yet,
  // kWait: `wake` is called once (from the producer's thread) when there is something to take or
  // the body finished or failed. kFinished: everything was taken and the producer is done.
  Take TakeInto(std::string& out, size_t max, std::function<void()> wake);

 private:
  // The waiting consumer's wake-up, to call once mutex_ is released.
  std::function<void()> TakeWake() REQUIRES(mutex_);

  const size_t capacity_;
  const std::chrono::milliseconds stall_timeout_;
  mutable Mutex mutex_;
  CondVar room_;
  std::deque<std::string> queued_ GUARDED_BY(mutex_);
  size_t front_offset_ GUARDED_BY(mutex_) = 0;  // bytes of queued_.front() taken
  size_t queued_bytes_ GUARDED_BY(mutex_) = 0;
  uint64_t takes_ GUARDED_BY(mutex_) = 0;
  bool finished_ GUARDED_BY(mutex_) = false;
  std::optional<std::string> failure_ GUARDED_BY(mutex_);
  std::function<void()> wake_ GUARDED_BY(mutex_);  // a consumer waiting for data
};

}  // namespace pharos
