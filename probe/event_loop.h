#pragma once

// EventLoop: the epoll loop under the check engine: file-descriptor watches, timers, tasks
// posted for later, and an eventfd so other threads can wake it. Everything the engine does with
// curl, c-ares and sockets happens in callbacks run by RunOnce on the loop's thread.
// A watch carries a generation number, so a readiness event for a descriptor that was closed and
// reused during the same round is dropped instead of being delivered to the new owner.
// Thread-safety: Wake() may be called from any thread; everything else only on the loop thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pharos {

class EventLoop {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using FdHandler = std::function<void(uint32_t events)>;  // EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP
  using TimerId = uint64_t;

  static Result<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts watching `fd` for `events` (EPOLLIN and/or EPOLLOUT), or changes the events and
  // handler of an existing watch. Errors (ENOMEM, ENOSPC) are returned in words.
  Status Watch(int fd, uint32_t events, FdHandler handler);
  // Stops watching `fd`; call it BEFORE closing the descriptor. Unknown descriptors are ignored.
  void Unwatch(int fd);
  bool Watching(int fd) const { return watches_.count(fd) != 0; }

  // Runs `callback` once at `when` (or soon after). Cancelling an unknown or fired timer is a
  // no-op, so owners may cancel unconditionally in their destructor.
  TimerId AddTimer(TimePoint when, std::function<void()> callback);
  void CancelTimer(TimerId id);

  // Runs `task` on the loop thread after the current round of events, outside any library
  // callback: the safe place to destroy what a callback reported on.
  void Post(std::function<void()> task);

  // Waits for at most `max_wait` (less when a timer is due or a task is posted), then dispatches
  // ready descriptors, due timers and posted tasks.
  void RunOnce(std::chrono::milliseconds max_wait);

  // Makes a RunOnce that is waiting return promptly. Any thread.
  void Wake();

  TimePoint Now() const { return std::chrono::steady_clock::now(); }
  size_t watch_count() const { return watches_.size(); }
  size_t timer_count() const { return timers_.size(); }

 private:
  struct WatchEntry {
    uint32_t generation = 0;
    uint32_t events = 0;
    std::shared_ptr<FdHandler> handler;  // shared: a handler may replace itself while running
  };

  EventLoop(int epoll_fd, int wake_fd);
  void RunDueTimers();
  void RunPostedTasks();
  int MillisUntilNextTimer(std::chrono::milliseconds max_wait) const;

  int epoll_fd_;
  int wake_fd_;
  uint32_t next_generation_ = 1;
  std::unordered_map<int, WatchEntry> watches_;
  TimerId next_timer_id_ = 1;
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, TimePoint> timer_times_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace pharos
