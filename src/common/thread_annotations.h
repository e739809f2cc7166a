#pragma once

// Clang's thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html) as
// macros: with clang and -Wthread-safety (cmake -DPHAROS_THREAD_SAFETY=ON) the compiler checks
// that guarded members are only touched with their mutex held and that REQUIRES functions are
// called with it; with other compilers they expand to nothing. Use them with pharos::Mutex
// (common/mutex.h), which is annotated as a capability; std::mutex is not.
// Thread-safety: macros only.

#if defined(__clang__)
#define PHAROS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define PHAROS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) PHAROS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY PHAROS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) PHAROS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) PHAROS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) PHAROS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) PHAROS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) PHAROS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) PHAROS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) PHAROS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) PHAROS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) PHAROS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) PHAROS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) PHAROS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) PHAROS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) PHAROS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) PHAROS_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS PHAROS_THREAD_ANNOTATION(no_thread_safety_analysis)
