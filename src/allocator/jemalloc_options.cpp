// jemalloc's built-in options for the Pharos executables (compiled into them only when they are
// linked with jemalloc; see CMakeLists.txt). jemalloc reads this symbol when it starts; the
// MALLOC_CONF environment variable still overrides it.
//
// Why these: by default jemalloc keeps freed pages for ~10 s before returning them. The operator
// frees large amounts at once (a monitor set parsed, a /metrics page rendered), and at 50,000
// monitors that left its resident memory ~150 MiB above what it uses for those 10 s. A 1 s decay
// and no "muzzy" stage return them promptly; the cost did not show in the benchmark
// (BENCHMARKS.md §3).

extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}
