// io_fault: an LD_PRELOAD library for fault-injection tests. While the file named by
// $PHAROS_IO_FAULT_TRIGGER exists, every write or sync of a file under $PHAROS_IO_FAULT_DIR fails
// with EIO, as a failing disk would; other files are untouched. Built by the test that uses it
// (tests/integration/test_store_faults.py): cc -shared -fPIC -o io_fault.so io_fault.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int Faulty(int fd) {
  const char* trigger = getenv("PHAROS_IO_FAULT_TRIGGER");
  const char* dir = getenv("PHAROS_IO_FAULT_DIR");
  if (trigger == NULL || dir == NULL) return 0;
  struct stat info;
  if (stat(trigger, &info) != 0) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[PATH_MAX];
  const ssize_t length = readlink(link, path, sizeof path - 1);
  if (length <= 0) return 0;
  path[length] = '\0';
  return strncmp(path, dir, strlen(dir)) == 0;
}

static void* Real(const char* name) { return dlsym(RTLD_NEXT, name); }

#define FAIL_IF_FAULTY(fd) \
  do {                     \
    if (Faulty(fd)) {      \
      errno = EIO;         \
      return -1;           \
    }                      \
  } while (0)

ssize_t write(int fd, const void* buffer, size_t count) {
  FAIL_IF_FAULTY(fd);
  return ((ssize_t(*)(int, const void*, size_t))Real("write"))(fd, buffer, count);
}

ssize_t pwrite(int fd, const void* buffer, size_t count, off_t offset) {
  FAIL_IF_FAULTY(fd);
  return ((ssize_t(*)(int, const void*, size_t, off_t))Real("pwrite"))(fd, buffer, count, offset);
}

ssize_t pwrite64(int fd, const void* buffer, size_t count, off64_t offset) {
  FAIL_IF_FAULTY(fd);
  return ((ssize_t(*)(int, const void*, size_t, off64_t))Real("pwrite64"))(fd, buffer, count,
                                                                          offset);
}

ssize_t writev(int fd, const struct iovec* vector, int count) {
  FAIL_IF_FAULTY(fd);
  return ((ssize_t(*)(int, const struct iovec*, int))Real("writev"))(fd, vector, count);
}

int fsync(int fd) {
  FAIL_IF_FAULTY(fd);
  return ((int (*)(int))Real("fsync"))(fd);
}

int fdatasync(int fd) {
  FAIL_IF_FAULTY(fd);
  return ((int (*)(int))Real("fdatasync"))(fd);
}

int ftruncate(int fd, off_t length) {
  FAIL_IF_FAULTY(fd);
  return ((int (*)(int, off_t))Real("ftruncate"))(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  FAIL_IF_FAULTY(fd);
  return ((int (*)(int, off64_t))Real("ftruncate64"))(fd, length);
}
