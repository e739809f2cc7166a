#include "probe/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace pharos {
namespace {

uint64_t PackEventData(int fd, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd);
}

std::string ErrnoMessage(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::Create() {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return Error{ErrnoMessage("cannot create epoll instance", errno)};
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int error = errno;
    close(epoll_fd);
    return Error{ErrnoMessage("cannot create eventfd", error)};
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(epoll_fd, wake_fd));
  Status watched = loop->Watch(wake_fd, EPOLLIN, [wake_fd](uint32_t) {
    uint64_t count = 0;
    // Nonblocking: EAGAIN just means another round already drained it.
    [[maybe_unused]] ssize_t ignored = read(wake_fd, &count, sizeof(count));
  });
  if (!watched.ok()) return Error{watched.error()};
  return loop;
}

EventLoop::EventLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

Status EventLoop::Watch(int fd, uint32_t events, FdHandler handler) {
  auto it = watches_.find(fd);
  if (it != watches_.end()) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = PackEventData(fd, it->second.generation);
    if (events != it->second.events && epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
      if (errno != ENOENT) return Error{ErrnoMessage("cannot watch socket", errno)};
      // The descriptor was closed and reused without Unwatch: start a fresh watch.
      watches_.erase(it);
      return Watch(fd, events, std::move(handler));
    }
    it->second.events = events;
    it->second.handler = std::make_shared<FdHandler>(std::move(handler));
    return OkStatus();
  }
  const uint32_t generation = next_generation_++;
  if (next_generation_ == 0) next_generation_ = 1;
  epoll_event event{};
  event.events = events;
  event.data.u64 = PackEventData(fd, generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return Error{ErrnoMessage("cannot watch socket", errno)};
  }
  watches_[fd] = WatchEntry{generation, events, std::make_shared<FdHandler>(std::move(handler))};
  return OkStatus();
}

void EventLoop::Unwatch(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  // Fails harmlessly (EBADF) when the owner closed the descriptor first.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it);
}

EventLoop::TimerId EventLoop::AddTimer(TimePoint when, std::function<void()> callback) {
  const TimerId id = next_timer_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(callback));
  timer_times_.emplace(id, when);
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  auto it = timer_times_.find(id);
  if (it == timer_times_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_times_.erase(it);
}

void EventLoop::Post(std::function<void()> task) { posted_.push_back(std::move(task)); }

void EventLoop::Wake() {
  const uint64_t one = 1;
  // A full counter (EAGAIN) already guarantees a wake-up.
  [[maybe_unused]] ssize_t ignored = write(wake_fd_, &one, sizeof(one));
}

int EventLoop::MillisUntilNextTimer(std::chrono::milliseconds max_wait) const {
  if (!posted_.empty()) return 0;
  auto wait = max_wait;
  if (!timers_.empty()) {
    const auto until = timers_.begin()->first.first - Now();
    // Round up so a timer is never polled for just before it is due.
    const auto until_ms = std::chrono::ceil<std::chrono::milliseconds>(until);
    if (until_ms < wait) wait = until_ms;
  }
  if (wait.count() < 0) return 0;
  return static_cast<int>(wait.count());
}

void EventLoop::RunOnce(std::chrono::milliseconds max_wait) {
  std::array<epoll_event, 256> events;
  const int count = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                               MillisUntilNextTimer(max_wait));
  for (int i = 0; i < count; ++i) {
    const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
    const auto generation = static_cast<uint32_t>(events[i].data.u64 >> 32);
    auto it = watches_.find(fd);
    // Stale: the watch was removed, or the descriptor was closed and reused this round.
    if (it == watches_.end() || it->second.generation != generation) continue;
    std::shared_ptr<FdHandler> handler = it->second.handler;
    (*handler)(events[i].events);
  }
  RunDueTimers();
  RunPostedTasks();
}

void EventLoop::RunDueTimers() {
  const TimePoint now = Now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_times_.erase(node.key().second);
    node.mapped()();
  }
}

void EventLoop::RunPostedTasks() {
  // Tasks may post more tasks; those run in the same call, after the current batch.
  while (!posted_.empty()) {
    std::vector<std::function<void()>> batch;
    batch.swap(posted_);
    for (auto& task : batch) task();
  }
}

}  // namespace pharos
