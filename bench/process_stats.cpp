#include "bench/process_stats.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace pharos::bench {
namespace {

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

CpuTimes Usage(int who) {
  rusage usage{};
  if (getrusage(who, &usage) != 0) {
    return {};
  }
  return {Seconds(usage.ru_utime), Seconds(usage.ru_stime)};
}

}  // namespace

CpuTimes ProcessCpu() { return Usage(RUSAGE_SELF); }
CpuTimes ThreadCpu() { return Usage(RUSAGE_THREAD); }

CpuTimes operator-(const CpuTimes& a, const CpuTimes& b) {
  return {a.user_s - b.user_s, a.system_s - b.system_s};
}

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0;
  int64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) {
    return 0;
  }
  return resident_pages * sysconf(_SC_PAGESIZE);
}

int64_t PeakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   12345 kB"
    }
  }
  return 0;
}

void TrimHeap() { malloc_trim(0); }

}  // namespace pharos::bench
