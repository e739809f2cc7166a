// LD_PRELOAD shim for tests: offsets the wall clock (CLOCK_REALTIME and its variants,
// gettimeofday, time) of a process by the whole seconds written in the file named by
// PHAROS_WALL_OFFSET_FILE (e.g. "-3600"), re-read at most every 50 ms; monotonic clocks are
// untouched. It calls the kernel directly (no dlsym, no malloc), so it works under jemalloc,
// where libfaketime hangs (wolfcw/libfaketime#130).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long offset_s;
static _Atomic long long read_at_ns = -1;

static long long monotonic_ns(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long offset(void) {
  const long long now = monotonic_ns();
  const long long last = atomic_load(&read_at_ns);
  if (last >= 0 && now - last < 50000000LL) return atomic_load(&offset_s);
  atomic_store(&read_at_ns, now);
  const char* path = getenv("PHAROS_WALL_OFFSET_FILE");
  if (path == NULL) return 0;
  const int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return atomic_load(&offset_s);
  char text[32] = {0};
  const long got = syscall(SYS_read, fd, text, sizeof text - 1);
  syscall(SYS_close, fd);
  if (got > 0) atomic_store(&offset_s, strtoll(text, NULL, 10));
  return atomic_load(&offset_s);
}

static int is_wall(clockid_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  const long result = syscall(SYS_clock_gettime, id, ts);
  if (result == 0 && is_wall(id)) ts->tv_sec += offset();
  return (int)result;
}

int gettimeofday(struct timeval* tv, void* tz) {
  struct timespec ts;
  const int result = clock_gettime(CLOCK_REALTIME, &ts);
  if (result == 0 && tv != NULL) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  (void)tz;
  return result;
}

time_t time(time_t* out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}
