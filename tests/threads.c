/* SPDX-License-Identifier: MIT */
/*
 * threads.c - coroutines in several threads at once.  Each thread has its own
 * current coroutine, resume chains and stack pools, and nothing is shared:
 *   - 4 threads drive their own generators concurrently (100 000 send/yield
 *     round trips each, every value checked), including nested resumes and
 *     yield_from, with creates and destroys going on meanwhile;
 *   - a thread that exits with no live coroutine gives back all its memory
 *     (the thread-exit hook frees its pools and its signal stack): the number
 *     of mappings is the same before and after, thread after thread, and
 *     ASan/Valgrind see no leak.
 * Nothing here asserts a time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h" /* coro__live_allocs */
#include "test.h"

/* --- helpers ----------------------------------------------------------------------- */

/* The process's memory mappings (/proc/self/maps): how many, and their total
 * size.  Both, because the kernel merges adjacent anonymous mappings: leaked
 * stacks may add size without adding lines.  (Not VmSize: under qemu-user
 * that is the emulator's, while /proc/self/maps shows the program's own.) */
struct mem {
  long maps; /* number of mappings */
  long kib;  /* total size in KiB */
};

static struct mem mem_now(void) {
  static char buf[1 << 16];
  struct mem m = {-1, -1};
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return m;
  /* each line starts "lo-hi " in hex; a read may end mid-line */
  size_t have = 0;
  ssize_t got;
  unsigned long long bytes = 0;
  m.maps = 0;
  while ((got = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
    have += (size_t)got;
    buf[have] = '\0';
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
      char *end;
      unsigned long long lo = strtoull(line, &end, 16);
      unsigned long long hi = *end == '-' ? strtoull(end + 1, NULL, 16) : lo;
      bytes += hi - lo;
      m.maps++;
      line = nl + 1;
    }
    have = (size_t)(buf + have - line);
    memmove(buf, line, have);
  }
  close(fd);
  m.kib = (long)(bytes / 1024);
  return m;
}

/* Fails unless the mappings grew by at most `maps` more and `kib` KiB. */
#define ASSERT_MEM_GROWTH_AT_MOST(before, maps_, kib_)                                             \
  do {                                                                                             \
    struct mem now_ = mem_now();                                                                   \
    if ((before).maps < 0 || (before).kib < 0 || now_.maps > (before).maps + (maps_) ||            \
        now_.kib > (before).kib + (kib_))                                                          \
      test__fail(__FILE__, __LINE__, "mappings grew from %ld (%ld KiB) to %ld (%ld KiB)",          \
                 (before).maps, (before).kib, now_.maps, now_.kib);                                \
  } while (0)

/* A thread's findings: counted, not asserted in the thread, so that main
 * reports them with the thread's id. */
struct worker {
  pthread_t th;
  int id;                   /* 1..NTHREADS, mixed into every value */
  long trips;               /* send/yield round trips done */
  long errors;              /* values or codes that were not as expected */
  char first_error[128];    /* what went wrong first */
  pthread_barrier_t *start; /* all threads start together */
};

#define CHECK(w, cond)                                                                             \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if ((w)->errors++ == 0)                                                                      \
        snprintf((w)->first_error, sizeof((w)->first_error), "line %d: %s", __LINE__, #cond);      \
    }                                                                                              \
  } while (0)

/* --- per-thread generators --------------------------------------------------------- */

/* x = yield f(x): hands out x * 3 + arg for every x it is sent. */
static void *transform(void *arg) {
  void *in = NULL;
  if (coro_yield(NULL, &in) != 0) return NULL;
  for (;;) {
    if (coro_yield(IV(VI(in) * 3 + VI(arg)), &in) != 0) return NULL;
  }
}

/* Delegates to the transform given as arg, forever (yield from). */
static void *delegate_forever(void *arg) {
  void *r;
  int rc = coro_yield_from(arg, &r);
  return IV(rc);
}

/* Resumes the transform given as arg with each value it is sent, and yields
 * the result + 1 (a nested resume). */
static void *relay(void *arg) {
  void *in = NULL;
  if (coro_yield(NULL, &in) != 0) return NULL;
  for (;;) {
    void *v;
    if (coro_send(arg, in, &v) != CORO_YIELDED) return coro_fail(-EFAULT);
    if (coro_yield(IV(VI(v) + 1), &in) != 0) return NULL;
  }
}

enum { TRIPS = 100000 };

static void *worker_main(void *arg) {
  struct worker *w = arg;
  long long id = w->id;
  pthread_barrier_wait(w->start);
  CHECK(w, coro_self() == NULL);

  /* three pipelines, three stack sizes (so three size classes per thread) */
  coro_attr small = CORO_ATTR_INIT, big = CORO_ATTR_INIT;
  small.stack_size = 32 << 10;
  big.stack_size = 256 << 10;
  coro *direct, *sub, *outer, *inner, *relayer;
  CHECK(w, coro_create(&direct, transform, IV(id), NULL) == 0);
  CHECK(w, coro_create(&sub, transform, IV(id * 10), &small) == 0);
  CHECK(w, coro_create(&outer, delegate_forever, sub, &big) == 0);
  CHECK(w, coro_create(&inner, transform, IV(id * 100), &small) == 0);
  CHECK(w, coro_create(&relayer, relay, inner, NULL) == 0);
  if (w->errors) return NULL;
  CHECK(w, coro_next(direct, NULL) == CORO_YIELDED);
  CHECK(w, coro_next(outer, NULL) == CORO_YIELDED);
  CHECK(w, coro_next(inner, NULL) == CORO_YIELDED);
  CHECK(w, coro_next(relayer, NULL) == CORO_YIELDED);

  for (long i = 0; i < TRIPS && !w->errors; i++) {
    long long x = i * 7 + id;
    void *v = NULL;
    switch (i % 3) {
    case 0:
      CHECK(w, coro_send(direct, IV(x), &v) == CORO_YIELDED);
      CHECK(w, VI(v) == x * 3 + id);
      break;
    case 1:
      CHECK(w, coro_send(outer, IV(x), &v) == CORO_YIELDED);
      CHECK(w, VI(v) == x * 3 + id * 10);
      break;
    default:
      CHECK(w, coro_send(relayer, IV(x), &v) == CORO_YIELDED);
      CHECK(w, VI(v) == x * 3 + id * 100 + 1);
    }
    CHECK(w, coro_self() == NULL);
    w->trips++;
    if (i % 1000 == 0) {
      /* pools busy meanwhile: a short-lived generator */
      coro *tmp;
      CHECK(w, coro_create(&tmp, transform, IV(id), &small) == 0);
      CHECK(w, coro_next(tmp, NULL) == CORO_YIELDED);
      CHECK(w, coro_send(tmp, IV(2), &v) == CORO_YIELDED);
      CHECK(w, VI(v) == 6 + id);
      CHECK(w, coro_destroy(tmp) == 0);
    }
  }
  CHECK(w, coro_get_state(direct) == CORO_SUSPENDED);
  CHECK(w, coro_destroy(relayer) == 0);
  CHECK(w, coro_destroy(inner) == 0);
  CHECK(w, coro_destroy(outer) == 0); /* closes the sub too */
  CHECK(w, coro_get_state(sub) == CORO_CLOSED);
  CHECK(w, coro_destroy(sub) == 0);
  CHECK(w, coro_destroy(direct) == 0);
  return NULL;
}

enum { NTHREADS = 4 };

TEST(threads_run_their_generators_independently) {
  struct worker w[NTHREADS];
  pthread_barrier_t start;
  ASSERT_EQ(pthread_barrier_init(&start, NULL, NTHREADS), 0);
  memset(w, 0, sizeof(w));
  for (int i = 0; i < NTHREADS; i++) {
    w[i].id = i + 1;
    w[i].start = &start;
    ASSERT_EQ(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < NTHREADS; i++) ASSERT_EQ(pthread_join(w[i].th, NULL), 0);
  pthread_barrier_destroy(&start);
  for (int i = 0; i < NTHREADS; i++) {
    if (w[i].errors)
      test__fail(__FILE__, __LINE__, "thread %d: %ld errors, first at %s", w[i].id, w[i].errors,
                 w[i].first_error);
    ASSERT_EQ(w[i].trips, TRIPS);
  }
  /* the main thread never ran one: it has no current coroutine */
  ASSERT_PTR_EQ(coro_self(), NULL);
}

/* --- thread exit ------------------------------------------------------------------- */

/* Uses coroutines in four size classes, destroys them all, and exits. */
static void *uses_and_exits(void *arg) {
  struct worker *w = arg;
  static const size_t sizes[] = {16 << 10, 64 << 10, 128 << 10, 1 << 20};
  coro *live[40];
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 40; i++) {
      coro_attr attr = CORO_ATTR_INIT;
      attr.stack_size = sizes[i % 4];
      CHECK(w, coro_create(&live[i], transform, IV(i), &attr) == 0);
      CHECK(w, coro_next(live[i], NULL) == CORO_YIELDED);
      void *v;
      CHECK(w, coro_send(live[i], IV(1), &v) == CORO_YIELDED);
      CHECK(w, VI(v) == 3 + i);
    }
    for (int i = 0; i < 40; i++) CHECK(w, coro_destroy(live[i]) == 0);
  }
  return NULL;
}

/* A thread that uses malloc but no coroutine: run once before a baseline,
 * so that the C library's cached thread stack and per-thread malloc arena
 * (both kept after the thread exits) are already counted. */
static void *does_nothing(void *arg) {
  void *volatile p = malloc(1000);
  free(p);
  return arg;
}

TEST(thread_exit_frees_its_pools) {
  /* Warm-up: one such thread first, so that what the C library (and a
   * sanitizer's allocator) keeps after a thread exits -- its cached thread
   * stack, malloc arenas and size-class regions -- is in the baseline.  What
   * libcoro failed to free would then add up, thread after thread. */
  pthread_t th;
  struct worker w;
  memset(&w, 0, sizeof(w));
  ASSERT_EQ(pthread_create(&th, NULL, uses_and_exits, &w), 0);
  ASSERT_EQ(pthread_join(th, NULL), 0);
  if (w.errors) test__fail(__FILE__, __LINE__, "warm-up thread: %s", w.first_error);
  struct mem before = mem_now();
  for (int i = 0; i < 20; i++) {
    memset(&w, 0, sizeof(w));
    w.id = i;
    ASSERT_EQ(pthread_create(&th, NULL, uses_and_exits, &w), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    if (w.errors) test__fail(__FILE__, __LINE__, "thread %d: %s", i, w.first_error);
    /* a little slack for a memory checker's own bookkeeping (valgrind's
     * shows in our maps); one leaked slab is 16 MiB, and even the 64 KiB
     * signal stack of every thread would pass 512 KiB within 20 threads */
    ASSERT_MEM_GROWTH_AT_MOST(before, 2, 512);
  }
}

static void *asks_guard_mode(void *arg) {
  int *mode = arg;
  *mode = coro_stack_guard_mode(); /* sets the thread up (signal stack) */
  return NULL;
}

TEST(thread_exit_with_no_coroutine_ever) {
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, does_nothing, NULL), 0);
  ASSERT_EQ(pthread_join(th, NULL), 0);
  int main_mode = coro_stack_guard_mode();
  struct mem before = mem_now();
  for (int i = 0; i < 20; i++) {
    int mode = 0;
    ASSERT_EQ(pthread_create(&th, NULL, asks_guard_mode, &mode), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_EQ(mode, main_mode);                /* the mode is the process's */
    ASSERT_MEM_GROWTH_AT_MOST(before, 2, 512); /* as above */
  }
}

/* A thread whose scheduler used the timer heap (a sleep, a join with a
 * deadline) and the I/O layer (a wait on a pipe), then exits: every block the
 * library allocated for it is freed by its exit, so the process-wide count of
 * the library's allocations comes back to where it was. */
static void *sleeps_briefly(void *arg) {
  (void)arg;
  return (void *)(intptr_t)coro_sleep(coro_now() + 1000000);
}

static void *waits_on_pipe(void *arg) {
  int *fds = arg;
  char b;
  return (void *)(intptr_t)coro_fd_read(fds[0], &b, 1, -1);
}

static void *writes_pipe(void *arg) {
  int *fds = arg;
  return (void *)(intptr_t)coro_fd_write(fds[1], "x", 1, -1);
}

static void *uses_timers_and_io(void *arg) {
  int *ok = arg;
  int fds[2];
  if (pipe(fds) != 0) return NULL;
  coro *a, *b, *c;
  void *ra = NULL, *rb = NULL, *rc = NULL;
  if (coro_spawn(&a, sleeps_briefly, NULL, NULL) == 0 &&
      coro_spawn(&b, waits_on_pipe, fds, NULL) == 0 &&
      coro_spawn(&c, writes_pipe, fds, NULL) == 0 && coro_run() == 0 && coro_join(a, &ra, 0) == 0 &&
      coro_join(b, &rb, 0) == 0 && coro_join(c, &rc, 0) == 0)
    *ok = ra == (void *)0 && rb == (void *)1 && rc == (void *)1;
  coro_destroy(a);
  coro_destroy(b);
  coro_destroy(c);
  close(fds[0]);
  close(fds[1]);
  return NULL;
}

/* Run fn(&ok) on a thread three times: each sets ok, and each thread's exit
 * brings the library's allocations back to where they were. */
static void assert_exit_frees_all(void *(*fn)(void *)) {
  long before = coro__live_allocs();
  for (int i = 0; i < 3; i++) {
    pthread_t th;
    int ok = 0;
    ASSERT_EQ(pthread_create(&th, NULL, fn, &ok), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_EQ(ok, 1);
    ASSERT_EQ(coro__live_allocs(), before);
  }
}

TEST(thread_exit_frees_timer_heap_and_io_registry) { assert_exit_frees_all(uses_timers_and_io); }

static void *never_runs(void *arg) {
  *(int *)arg = 1;
  return NULL;
}

/* A thread that exits with watches pending (armed, with and without a
 * deadline, and fired but not spawned): their records go with it. */
static void *leaves_watches(void *arg) {
  int *ok = arg;
  int fds[2];
  if (pipe(fds) != 0) return NULL;
  static int ran;
  coro_attr attr = CORO_ATTR_INIT;
  attr.name = "left";
  *ok = coro_spawn_on_ready(fds[0], CORO_READ, -1, never_runs, &ran, &attr) == 0 &&
        coro_spawn_on_ready(fds[0], CORO_READ, coro_now() + (int64_t)3600 * 1000000000, never_runs,
                            &ran, NULL) == 0 &&
        coro_spawn_on_ready(fds[1], CORO_WRITE, -1, never_runs, &ran, &attr) == 0 && ran == 0;
  close(fds[0]);
  close(fds[1]);
  return NULL;
}

TEST(thread_exit_frees_pending_watches) { assert_exit_frees_all(leaves_watches); }
