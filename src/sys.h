/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the bottom of the library: compiler helpers, and the system calls
 * and allocations every layer makes, behind wrappers (sys.c) that tests can
 * make fail and count.
 *
 * It depends on nothing of the library, so any layer may include it; the
 * stack layer (stack.h) is built on it alone.
 */
#ifndef CORO_SYS_H
#define CORO_SYS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define CORO__TLS __thread __attribute__((tls_model("initial-exec")))
#define CORO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CORO__UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For a function whose frame would stay live under a context switch: one
 * called from a loop that then switches (coro_run's host loop) or on the way
 * to a park.  A switch returns into the other side's call chain, so the
 * CPU's return-address predictor, filled by the side that switched away,
 * misses on the returns that unwind such frames: each one costs a
 * mispredicted return per switch back (copy-stack ping-pong, which passes
 * the host twice a round trip, lost about a fifth of its time to one frame:
 * bench/README.md, "The inlining regression").  gcc out-lined such a helper
 * once it grew, so these are inlined by order, not by estimate.  (A helper
 * that returns before the switch, a balanced call and return, is not at
 * risk; the channels' try_send/try_recv use this for a measured reason of
 * their own: chan.c.) */
#define CORO__HOT_INLINE inline __attribute__((always_inline))

enum coro__fault_site {
  CORO__FAULT_MMAP,         /* coro__mmap */
  CORO__FAULT_MPROTECT,     /* coro__mprotect */
  CORO__FAULT_MADVISE,      /* coro__madvise */
  CORO__FAULT_MALLOC,       /* coro__malloc */
  CORO__FAULT_URING,        /* io_uring's setup, as a kernel that refuses it (io_uring.c) */
  CORO__FAULT_URING_SUBMIT, /* io_uring_enter handing queued entries to the kernel */
  CORO__FAULT_EPOLL_PWAIT2, /* epoll_pwait2: ENOSYS plays a kernel without it (io_epoll.c) */
  CORO__FAULT_EPOLL_WAIT,   /* epoll_wait, the fallback of epoll_pwait2 (io_epoll.c) */
  CORO__FAULT_THREAD,       /* pthread_create of the offload pool (offload.c) */
  CORO__FAULT_FORK,         /* coro__fork */
  CORO__FAULT_MUNMAP,       /* coro__munmap: counted only, never failed */
  CORO__FAULT_NSITES
};

/* Make the calls through `site` fail with `err` (a positive errno) once
 * `after` more calls have succeeded, until coro__fault_reset().  For tests. */
void coro__fault_arm(int site, long after, int err);
void coro__fault_reset(void);

/* 0 for a call through `site` to proceed, or the errno it must fail with
 * (counting it as coro__fault_arm says).  For sites outside sys.c. */
int coro__fault_injected(int site);

/* Calls made through `site` by the whole process since it started (failed
 * ones included), for tests that check a path makes no system call: the
 * memory wrappers (mmap, munmap, mprotect, madvise) count. */
long coro__sys_calls(int site);

/* Anonymous private read/write reservation, committed by touch.  Returns NULL
 * and stores a negated errno in *err on failure. */
void *coro__mmap(size_t len, int *err);
int coro__munmap(void *p, size_t len);
int coro__mprotect(void *p, size_t len, int prot);  /* 0 or a negated errno */
int coro__madvise(void *p, size_t len, int advice); /* 0 or a negated errno */
void *coro__malloc(size_t n);
void coro__free(void *p);
/* Blocks coro__malloc() handed out and coro__free() has not taken back, in
 * the whole process.  For tests: a thread's exit must bring it back down. */
long coro__live_allocs(void);
/* fork(2): the child's pid, 0 in the child, or a negated errno. */
int coro__fork(void);

#endif
