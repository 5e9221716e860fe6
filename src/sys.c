/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the system calls and allocations libcoro makes, behind wrappers.
 *
 * Every mmap, munmap, mprotect, madvise, malloc and fork of the library goes through
 * here so that a test can make any of them fail on demand (fault injection,
 * as neco does) and check that the caller returns a clear error and leaks
 * nothing, and count the memory calls so that a test can check a path makes
 * none.  Disarmed, a wrapper costs one predictable branch and a count.
 *
 * The fault counters are process-wide and unsynchronised: they are for
 * single-threaded tests only.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sys.h"

static struct {
  int armed;                      /* any site armed: the fast-path check */
  long after[CORO__FAULT_NSITES]; /* successes left before failing; -1 = disarmed */
  int err[CORO__FAULT_NSITES];    /* errno to fail with */
} faults = {0, {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, {0}};
_Static_assert(CORO__FAULT_NSITES == 10, "one -1 per site above");

/* Calls per site, over every thread.  Relaxed: a count for tests, not a
 * synchronisation; it costs one locked add next to a system call. */
static atomic_long calls[CORO__FAULT_NSITES];

static inline void count(int site) {
  atomic_fetch_add_explicit(&calls[site], 1, memory_order_relaxed);
}

long coro__sys_calls(int site) {
  if (site < 0 || site >= CORO__FAULT_NSITES) return -1;
  return atomic_load_explicit(&calls[site], memory_order_relaxed);
}

void coro__fault_arm(int site, long after, int err) {
  /* munmap never fails on purpose: a mapping we could not give back is lost. */
  if (site < 0 || site >= CORO__FAULT_NSITES || site == CORO__FAULT_MUNMAP) return;
  faults.after[site] = after;
  faults.err[site] = err;
  faults.armed = 1;
}

void coro__fault_reset(void) {
  for (int i = 0; i < CORO__FAULT_NSITES; i++) faults.after[i] = -1;
  faults.armed = 0;
}

/* 0 to proceed, or the errno the call must fail with. */
int coro__fault_injected(int site) {
  if (CORO__LIKELY(!faults.armed) || faults.after[site] < 0) return 0;
  if (faults.after[site] > 0) {
    faults.after[site]--;
    return 0;
  }
  return faults.err[site];
}

void *coro__mmap(size_t len, int *err) {
  count(CORO__FAULT_MMAP);
  int e = coro__fault_injected(CORO__FAULT_MMAP);
  if (e) {
    *err = -e;
    return NULL;
  }
  /* MAP_NORESERVE: stacks are reserved address space, not committed memory,
   * so a million idle 64 KiB stacks do not count against overcommit. */
  void *p =
      mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *err = -errno;
    return NULL;
  }
  return p;
}

int coro__munmap(void *p, size_t len) {
  count(CORO__FAULT_MUNMAP);
  return munmap(p, len) == 0 ? 0 : -errno;
}

int coro__mprotect(void *p, size_t len, int prot) {
  count(CORO__FAULT_MPROTECT);
  int e = coro__fault_injected(CORO__FAULT_MPROTECT);
  if (e) return -e;
  return mprotect(p, len, prot) == 0 ? 0 : -errno;
}

int coro__madvise(void *p, size_t len, int advice) {
  count(CORO__FAULT_MADVISE);
  int e = coro__fault_injected(CORO__FAULT_MADVISE);
  if (e) return -e;
  return madvise(p, len, advice) == 0 ? 0 : -errno;
}

/* Blocks from coro__malloc() not yet freed, over every thread: lets a test see
 * that what a thread's exit should free was freed.  Relaxed: a count, not a
 * synchronisation, and never on a switch path. */
static atomic_long live_allocs;

void *coro__malloc(size_t n) {
  if (coro__fault_injected(CORO__FAULT_MALLOC)) return NULL;
  void *p = malloc(n);
  if (p) atomic_fetch_add_explicit(&live_allocs, 1, memory_order_relaxed);
  return p;
}

void coro__free(void *p) {
  if (!p) return;
  atomic_fetch_sub_explicit(&live_allocs, 1, memory_order_relaxed);
  free(p);
}

long coro__live_allocs(void) { return atomic_load_explicit(&live_allocs, memory_order_relaxed); }

int coro__fork(void) {
  int e = coro__fault_injected(CORO__FAULT_FORK);
  if (e) return -e;
  pid_t pid = fork();
  return pid < 0 ? -errno : (int)pid;
}
