#pragma once

// Process and thread resource figures for the benchmarks: CPU seconds (getrusage), resident set
// size (/proc/self/statm) and peak RSS. Thread-safety: free functions, safe from any thread.

#include <cstdint>

namespace pharos::bench {

struct CpuTimes {
  double user_s = 0;
  double system_s = 0;
  double total() const { return user_s + system_s; }
};

CpuTimes ProcessCpu();  // every thread of this process (RUSAGE_SELF)
CpuTimes ThreadCpu();   // the calling thread only (RUSAGE_THREAD)
CpuTimes operator-(const CpuTimes& a, const CpuTimes& b);

// Current resident set size in bytes; 0 when /proc is unreadable.
int64_t ResidentBytes();
// Peak resident set size (VmHWM) in bytes; 0 when /proc is unreadable.
int64_t PeakResidentBytes();
// Gives freed heap pages back to the kernel (malloc_trim), so RSS reflects live memory.
void TrimHeap();

}  // namespace pharos::bench
