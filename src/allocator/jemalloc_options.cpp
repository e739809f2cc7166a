// jemalloc's built-in options for the Pharos executables (compiled into them only when they are
// linked with jemalloc; see CMakeLists.txt). jemalloc reads this symbol when it starts; the
// MALLOC_CONF environment variable still overrides it.
//
// Why these: by default jemalloc keeps freed pages for ~10 s before returning them. The operator
// frees large amounts at once (a monitor set parsed, a /metrics page rendered), and at 50,000
// monitors that left its resident memory ~150 MiB above what it uses for those 10 s. A 1 s decay
// and no "muzzy" stage return them promptly; the cost did not show in the benchmark
// (BENCHMARKS.md §3). One arena instead of one per CPU (times 4): the per-monitor objects are
// made by several threads (file loader, informer, ingestion), and spread over 8 arenas their
// partly used slabs cost ~300 bytes more per monitor at 50,000 monitors; the per-thread caches
// keep the lock of the one arena off the hot paths. A background thread returns the pages on
// time: without it, decay only advances when the process allocates, so right after a /metrics
// scrape the page's freed memory stayed resident for seconds (up to 1.5 KB per monitor).
// Smaller per-thread caches (16 objects per small size class, 4 per large one, instead of up to
// 200): the operator has dozens of HTTP threads, and their full caches held ~130 bytes per
// monitor at 50,000 monitors; the operator's CPU per check did not change measurably.

extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf =
    "narenas:1,background_thread:true,tcache_nslots_small_max:16,tcache_nslots_large:4,"
    "dirty_decay_ms:1000,muzzy_decay_ms:0";
}
