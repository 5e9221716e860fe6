/* SPDX-License-Identifier: MIT */
/*
 * bench_sched.c - the micro-thread scheduler next to threads, side by side in one run.
 *
 * What it measures (see bench/README.md, section "bench_sched"):
 *   round trips   two micro-threads alternating with coro_sched_yield (one
 *                 round trip = each ran once), against two threads handing a
 *                 turn back and forth with mutex+condvar (bench_core's
 *                 condvar row, re-measured here so the ratio is same-run);
 *   spawn + join  per micro-thread: one parent micro-thread spawns N of them
 *                 (16 KiB stacks, handles kept in an array) that return at
 *                 once, then joins and destroys each; the first round (fresh
 *                 stacks) apart from the later ones; against pthread_create +
 *                 pthread_join;
 *   spawn + join, default attributes, as a new user would (issue 10): one
 *                 parent micro-thread spawns micro-threads with NULL
 *                 attributes that each return their argument, then joins and
 *                 destroys them all; "1k": N in batches of 1 000 alive at a
 *                 time, "1m": all N alive at once; the first round in the
 *                 process apart from the later ones.  Next to Go (when
 *                 installed: bench/go/spawnjoin.go, goroutines and a
 *                 WaitGroup, GOMAXPROCS=1, gated so that all N are alive at
 *                 once in the "1m" row; one process per repeat, its first
 *                 round and its second reported) and to threads with
 *                 default attributes in batches of 1 000 (THREAD_N of them a
 *                 repeat, not N: a thread costs ~50 us; N threads alive at
 *                 once would pass the kernel's threads-max);
 *   timers        N detached micro-threads, each sleeping until a common base
 *                 (coro_now() + 5 ms, taken after spawning) + (i % 1000) us:
 *                 coro_run's whole time divided by N;
 *   ping-pong     one round trip = a long sent as a request on one channel and
 *                 the reply (request + 1) received on another: two micro-
 *                 threads over unbuffered channels (capacity 0) and over
 *                 buffered ones (capacity 1); two threads over two one-slot
 *                 queues, each a mutex + two condvars; two processes over two
 *                 pipes (the partner is this program, --pipe-partner); and, when `go` is on PATH, two goroutines over
 *                 unbuffered channels with GOMAXPROCS=1 (bench/go/pingpong.go,
 *                 built with `go build` before anything is timed; it times
 *                 its own loop and prints ns per round trip).
 * N is 1 000 000 (100 000 with --quick).
 *
 * Method (as bench_core): every timing figure is the median of >= 5 repeats,
 * reported with min..max.  The rows run round-robin (repeat 1 of every row,
 * then repeat 2, ...) after one warm-up round, so a noisy stretch of the
 * shared machine hits all rows alike.  The warm-up round is discarded, except
 * that spawn+join runs it at full N as the very first use of 16 KiB stacks in
 * the process: that is its "first round" figure.  Ratios are paired: the
 * ratio of the two samples of each round, then their median.
 *
 * Child processes (the Go programs, the pipe partner) are started with
 * posix_spawn, never fork: a fork would write-protect every page the stack
 * pool holds, and the next round of each libcoro row would pay a page fault
 * per stack (see spawn_child).
 *
 * Nothing is asserted.  The channel targets are printed with a
 * verdict (met / missed): chan ping-pong <= 50 ns, the thread version >= 500x
 * the chan ping-pong, and, when Go ran, chan ping-pong no slower than Go's.
 * With --json, stdout is exactly one JSON object on one line (no Go key when
 * Go did not run); progress goes to stderr in table mode only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"

#ifdef __clang__
#define COMPILER "clang " __clang_version__
#else
#define COMPILER "gcc " __VERSION__
#endif

#ifndef CORO_BENCH_SWITCH
#define CORO_BENCH_SWITCH "unknown" /* set by bench/CMakeLists.txt */
#endif
/* The Go row: its source and where `go build` puts the program (set by
 * bench/CMakeLists.txt; without them the row is off). */
#ifndef CORO_BENCH_GO_SRC
#define CORO_BENCH_GO_SRC ""
#endif
#ifndef CORO_BENCH_GO_BIN
#define CORO_BENCH_GO_BIN ""
#endif
#ifndef CORO_BENCH_GO_SJ_SRC
#define CORO_BENCH_GO_SJ_SRC ""
#endif
#ifndef CORO_BENCH_GO_SJ_BIN
#define CORO_BENCH_GO_SJ_BIN ""
#endif

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define MAX_REPEATS 50
#define BIG_N_FULL 1000000L   /* micro-threads per spawn+join and timers repeat */
#define BIG_N_QUICK 100000L   /* the same with --quick */
#define TIMER_LEAD_NS 5000000 /* base = coro_now() + 5 ms, taken after spawning */
#define TIMER_SPREAD 1000     /* deadlines: base + (i % 1000) us */
#define PINGPONG_WARMUP 100   /* untimed round trips before each ping-pong loop */
#define PINGPONG_STOP (-1L)   /* request that ends a thread or process partner */
#define TARGET_CHAN_NS 50.0   /* the targets, printed, never asserted */
#define TARGET_THREAD_X 500.0
#define TARGET_SJ1K_GO_X 0.5 /* spawn+join 1 000 alive: <= 0.5x Go's time */
#define TARGET_SJ1M_GO_X 1.0 /* 10^6 alive, later rounds: <= Go's time */
#define BATCH 1000           /* alive at a time in the "1k" rows */
#define THREAD_N_FULL 10000L /* threads per repeat of the thread batch row */
#define THREAD_N_QUICK 3000L

/* --- options and small helpers ---------------------------------------------------------------- */

typedef struct options {
  int quick;   /* --quick: N = 100 000, fewer iterations */
  int json;    /* --json: one JSON object on stdout, nothing else */
  int samples; /* --samples: print every repeat's figure under its row */
  int repeats; /* timed repeats per figure (>= 5) */
} options;

static options opt = {0, 0, 0, 0};

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...) {
  if (opt.json) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fflush(stderr);
}

__attribute__((noreturn)) static void die(const char *what, int err) {
  fprintf(stderr, "bench_sched: %s failed: %s\n", what, err ? strerror(err) : "unexpected result");
  exit(2);
}

/* libcoro returns a negated errno or a CORO_E* code. */
static void check_coro(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "bench_sched: %s failed: %s (%s)\n", what, coro_strerror(rc),
            coro_err_name(rc));
    exit(2);
  }
}

/* pthread_* style: 0 or an errno value. */
static void check_pt(int rc, const char *what) {
  if (rc != 0) die(what, rc > 0 ? rc : errno);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double per_op(int64_t t0, int64_t t1, long n) { return (double)(t1 - t0) / (double)n; }

/* 16 KiB stacks, for the N-micro-thread rows. */
static coro_attr small_stack(void) {
  coro_attr a;
  check_coro(coro_attr_init(&a), "coro_attr_init");
  a.stack_size = CORO_STACK_MIN;
  return a;
}

/* --- statistics ------------------------------------------------------------------------------- */

typedef struct stats {
  double median, min, max; /* NAN when the figure is not available */
} stats;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static stats summarize(const double *v, int n) {
  stats s = {NAN, NAN, NAN};
  double tmp[MAX_REPEATS];
  if (n <= 0) return s;
  memcpy(tmp, v, (size_t)n * sizeof(tmp[0]));
  qsort(tmp, (size_t)n, sizeof(tmp[0]), cmp_double);
  s.min = tmp[0];
  s.max = tmp[n - 1];
  s.median = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
  return s;
}

/* --- round trip: two micro-threads, coro_sched_yield ----------------------------------------- */

typedef struct yield_pair {
  long iters; /* yields per micro-thread */
  int turn;   /* whose turn it is: 0 or 1 */
  long bad;   /* turns found out of order (FIFO says never) */
} yield_pair;

static yield_pair ypair;

/* Micro-thread `arg` (0 or 1): check it is its turn, hand it over, yield. */
static void *yield_body(void *arg) {
  int me = (int)(uintptr_t)arg;
  yield_pair *p = &ypair;
  for (long i = 0; i < p->iters; i++) {
    p->bad += p->turn != me;
    p->turn = !me;
    int rc = coro_sched_yield();
    if (UNLIKELY(rc < 0)) check_coro(rc, "coro_sched_yield");
  }
  return NULL;
}

/* Spawn both, then time coro_run: 2 spawns and 2 finishes ride on `iters`
 * round trips (millions), which is noise. */
static double bench_sched_yield(long iters) {
  ypair.iters = iters;
  ypair.turn = 0;
  ypair.bad = 0;
  check_coro(coro_spawn(NULL, yield_body, (void *)(uintptr_t)0, NULL), "coro_spawn");
  check_coro(coro_spawn(NULL, yield_body, (void *)(uintptr_t)1, NULL), "coro_spawn");
  int64_t t0 = now_ns();
  check_coro(coro_run(), "coro_run");
  int64_t t1 = now_ns();
  if (ypair.bad) die("sched_yield alternation check", 0);
  return per_op(t0, t1, iters);
}

/* --- round trip: two threads, mutex + condition variables (as bench_core) --------------------- */

typedef struct cv_pingpong {
  pthread_mutex_t mu;  /* guards everything below */
  pthread_cond_t ping; /* main -> partner: turn became 1 */
  pthread_cond_t pong; /* partner -> main: turn became 0 */
  int turn;            /* 1: the partner's turn, 0: main's */
  int stop;            /* set with turn = 1 to end the partner */
  long value;          /* the int handed back and forth (partner adds 1) */
} cv_pingpong;

static void *cv_partner(void *arg) {
  cv_pingpong *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (p->turn != 1) pthread_cond_wait(&p->ping, &p->mu);
    if (p->stop) break;
    p->value++;
    p->turn = 0;
    pthread_cond_signal(&p->pong);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* One round trip: hand the turn over, wait until it comes back.  Called
 * with p->mu held (cond_wait releases it while waiting). */
static inline void cv_roundtrip(cv_pingpong *p) {
  p->turn = 1;
  pthread_cond_signal(&p->ping);
  while (p->turn != 0) pthread_cond_wait(&p->pong, &p->mu);
}

static double bench_thread_yield(long iters) {
  cv_pingpong p;
  memset(&p, 0, sizeof(p));
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.ping, NULL);
  pthread_cond_init(&p.pong, NULL);
  pthread_t t;
  check_pt(pthread_create(&t, NULL, cv_partner, &p), "pthread_create");
  pthread_mutex_lock(&p.mu);
  for (int i = 0; i < 100; i++) cv_roundtrip(&p); /* both threads awake and scheduled */
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) cv_roundtrip(&p);
  int64_t t1 = now_ns();
  long got = p.value;
  p.stop = 1;
  p.turn = 1;
  pthread_cond_signal(&p.ping);
  pthread_mutex_unlock(&p.mu);
  pthread_join(t, NULL);
  if (got != iters + 100) die("condvar handoff check", 0);
  pthread_cond_destroy(&p.ping);
  pthread_cond_destroy(&p.pong);
  pthread_mutex_destroy(&p.mu);
  return per_op(t0, t1, iters);
}

/* --- spawn + join: N micro-threads from one parent micro-thread ------------------------------- */

static coro **handles; /* BIG_N handles, allocated and touched once in main */

typedef struct spawn_job {
  long n;                /* micro-threads to spawn in all */
  long batch;            /* alive at a time: n for all at once */
  const coro_attr *attr; /* their attributes: NULL for the defaults */
  int64_t t0, t1;        /* the parent's clock readings around its work */
  uintptr_t sum;         /* the joined results */
} spawn_job;

static void *return_arg(void *arg) { return arg; }

/* Spawn j->batch micro-threads, join and destroy them in order, again until
 * j->n have run. */
static void *spawn_parent(void *arg) {
  spawn_job *j = arg;
  j->t0 = now_ns();
  for (long b = 0; b < j->n; b += j->batch) {
    long m = j->n - b < j->batch ? j->n - b : j->batch;
    for (long i = 0; i < m; i++) {
      int rc = coro_spawn(&handles[i], return_arg, (void *)(uintptr_t)(b + i), j->attr);
      if (UNLIKELY(rc < 0)) check_coro(rc, "coro_spawn");
    }
    for (long i = 0; i < m; i++) {
      void *out = NULL;
      int rc = coro_join(handles[i], &out, -1);
      if (UNLIKELY(rc < 0)) check_coro(rc, "coro_join");
      j->sum += (uintptr_t)out;
      rc = coro_destroy(handles[i]);
      if (UNLIKELY(rc < 0)) check_coro(rc, "coro_destroy");
    }
  }
  j->t1 = now_ns();
  return NULL;
}

/* Timed inside the parent (default attributes itself), from before its first
 * spawn to after its last destroy; the parent's own spawn and finish are
 * outside. */
static double spawn_join(long n, long batch, const coro_attr *attr) {
  spawn_job j = {n, batch, attr, 0, 0, 0};
  check_coro(coro_spawn(NULL, spawn_parent, &j, NULL), "coro_spawn");
  check_coro(coro_run(), "coro_run");
  if (j.sum != (uintptr_t)n * (uintptr_t)(n - 1) / 2u) die("spawn/join result check", 0);
  return per_op(j.t0, j.t1, n);
}

static double bench_spawn_join(long n) {
  coro_attr a = small_stack();
  return spawn_join(n, n, &a);
}

/* Default attributes, as a new user would: 1 000 alive at a time, or all. */
static double bench_spawn_join_1k(long n) { return spawn_join(n, BATCH, NULL); }
static double bench_spawn_join_1m(long n) { return spawn_join(n, n, NULL); }

/* Threads with default attributes, BATCH alive at a time. */
static double bench_thread_spawn_join_1k(long n) {
  static pthread_t th[BATCH];
  uintptr_t sum = 0;
  int64_t t0 = now_ns();
  for (long b = 0; b < n; b += BATCH) {
    long m = n - b < BATCH ? n - b : BATCH;
    for (long i = 0; i < m; i++)
      check_pt(pthread_create(&th[i], NULL, return_arg, (void *)(uintptr_t)(b + i)),
               "pthread_create");
    for (long i = 0; i < m; i++) {
      void *out = NULL;
      check_pt(pthread_join(th[i], &out), "pthread_join");
      sum += (uintptr_t)out;
    }
  }
  int64_t t1 = now_ns();
  if (sum != (uintptr_t)n * (uintptr_t)(n - 1) / 2u) die("thread spawn/join result check", 0);
  return per_op(t0, t1, n);
}

static double bench_pthread_create_join(long iters) {
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    pthread_t t;
    check_pt(pthread_create(&t, NULL, return_arg, NULL), "pthread_create");
    check_pt(pthread_join(t, NULL), "pthread_join");
  }
  int64_t t1 = now_ns();
  return per_op(t0, t1, iters);
}

/* --- timers: N detached micro-threads sleeping until base + (i % 1000) us -------------------- */

static int64_t timer_base; /* set after spawning, read by every sleeper */
static long timer_waited;  /* sleepers whose deadline was still ahead when they slept */
static long timer_early;   /* sleepers that woke before their deadline (never, if correct) */

static void *sleeper(void *arg) {
  long i = (long)(uintptr_t)arg;
  int64_t deadline = timer_base + (int64_t)(i % TIMER_SPREAD) * 1000;
  timer_waited += coro_now() < deadline;
  int rc = coro_sleep(deadline);
  if (UNLIKELY(rc < 0)) check_coro(rc, "coro_sleep");
  timer_early += coro_now() < deadline;
  return NULL;
}

static double timers_total_s[MAX_REPEATS + 1]; /* coro_run's time per repeat, seconds */
static double timers_waited[MAX_REPEATS + 1];  /* fraction that waited, per repeat */
static int timers_nrec;                        /* entries above (the warm-up excluded) */
static int timers_recording;                   /* 0 during the warm-up round */

static double bench_timers(long n) {
  coro_attr a = small_stack();
  for (long i = 0; i < n; i++) {
    int rc = coro_spawn(NULL, sleeper, (void *)(uintptr_t)i, &a);
    if (UNLIKELY(rc < 0)) check_coro(rc, "coro_spawn");
  }
  timer_waited = timer_early = 0;
  timer_base = coro_now() + TIMER_LEAD_NS;
  int64_t t0 = now_ns();
  check_coro(coro_run(), "coro_run");
  int64_t t1 = now_ns();
  if (timer_early) die("timers: a sleeper woke before its deadline", 0);
  if (timers_recording && timers_nrec < MAX_REPEATS) {
    timers_total_s[timers_nrec] = (double)(t1 - t0) / 1e9;
    timers_waited[timers_nrec++] = (double)timer_waited / (double)n;
  }
  return per_op(t0, t1, n);
}

/* --- ping-pong: two micro-threads, two channels of long --------------------------------------- */

typedef struct chan_pingpong {
  coro_chan *req, *rep; /* pinger -> ponger, ponger -> pinger */
  long iters;           /* timed round trips */
  int64_t t0, t1;       /* the pinger's clock readings around them */
  long bad;             /* replies that were not request + 1 */
} chan_pingpong;

/* The ponger: reply request + 1 until the request channel is closed. */
static void *chan_ponger(void *arg) {
  chan_pingpong *p = arg;
  long v;
  int rc;
  while ((rc = coro_chan_recv(p->req, &v, -1)) == 0) {
    v++;
    rc = coro_chan_send(p->rep, &v, -1);
    if (UNLIKELY(rc < 0)) check_coro(rc, "coro_chan_send");
  }
  if (rc != -EPIPE) check_coro(rc, "coro_chan_recv");
  return NULL;
}

/* One round trip: send v, receive the reply. */
static inline long chan_roundtrip(chan_pingpong *p, long v) {
  long back = 0;
  int rc = coro_chan_send(p->req, &v, -1);
  if (UNLIKELY(rc < 0)) check_coro(rc, "coro_chan_send");
  rc = coro_chan_recv(p->rep, &back, -1);
  if (UNLIKELY(rc < 0)) check_coro(rc, "coro_chan_recv");
  return back;
}

/* The pinger: a few untimed round trips (both micro-threads started and
 * parked once), then the timed ones; then close, which ends the ponger. */
static void *chan_pinger(void *arg) {
  chan_pingpong *p = arg;
  for (long i = 0; i < PINGPONG_WARMUP; i++) p->bad += chan_roundtrip(p, i) != i + 1;
  p->t0 = now_ns();
  for (long i = 0; i < p->iters; i++) {
    long v = i & 0xffff;
    p->bad += chan_roundtrip(p, v) != v + 1;
  }
  p->t1 = now_ns();
  check_coro(coro_chan_close(p->req), "coro_chan_close");
  return NULL;
}

/* Timed inside the pinger: spawning, finishing and channel set-up are outside. */
static double chan_pingpong_run(long iters, size_t capacity, int mode) {
  chan_pingpong p = {NULL, NULL, iters, 0, 0, 0};
  coro_attr a = CORO_ATTR_INIT;
  a.stack_mode = mode;
  check_coro(coro_chan_create(&p.req, sizeof(long), capacity), "coro_chan_create");
  check_coro(coro_chan_create(&p.rep, sizeof(long), capacity), "coro_chan_create");
  check_coro(coro_spawn(NULL, chan_ponger, &p, &a), "coro_spawn");
  check_coro(coro_spawn(NULL, chan_pinger, &p, &a), "coro_spawn");
  check_coro(coro_run(), "coro_run");
  if (p.bad) die("channel ping-pong reply check", 0);
  check_coro(coro_chan_destroy(p.req), "coro_chan_destroy");
  check_coro(coro_chan_destroy(p.rep), "coro_chan_destroy");
  return per_op(p.t0, p.t1, iters);
}

static double bench_chan_pingpong(long iters) {
  return chan_pingpong_run(iters, 0, CORO_STACK_MODE_OWN);
}
static double bench_chan_pingpong_buffered(long iters) {
  return chan_pingpong_run(iters, 1, CORO_STACK_MODE_OWN);
}
/* Both micro-threads in copy-stack mode: every hand-off displaces the other's
 * frames (through the host, which does the copying). */
static double bench_chan_pingpong_copy(long iters) {
  return chan_pingpong_run(iters, 0, CORO_STACK_MODE_COPY);
}

/* --- ping-pong: two threads, two one-slot queues (mutex + two condvars each) ------------------ */

typedef struct tqueue {
  pthread_mutex_t mu;       /* guards slot and full */
  pthread_cond_t not_empty; /* full became 1 */
  pthread_cond_t not_full;  /* full became 0 */
  long slot;                /* the element, when full */
  int full;                 /* 1: slot holds an element */
} tqueue;

static void tq_init(tqueue *q) {
  memset(q, 0, sizeof(*q));
  check_pt(pthread_mutex_init(&q->mu, NULL), "pthread_mutex_init");
  check_pt(pthread_cond_init(&q->not_empty, NULL), "pthread_cond_init");
  check_pt(pthread_cond_init(&q->not_full, NULL), "pthread_cond_init");
}

static void tq_destroy(tqueue *q) {
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
  pthread_mutex_destroy(&q->mu);
}

static void tq_put(tqueue *q, long v) {
  pthread_mutex_lock(&q->mu);
  while (q->full) pthread_cond_wait(&q->not_full, &q->mu);
  q->slot = v;
  q->full = 1;
  pthread_cond_signal(&q->not_empty);
  pthread_mutex_unlock(&q->mu);
}

static long tq_get(tqueue *q) {
  pthread_mutex_lock(&q->mu);
  while (!q->full) pthread_cond_wait(&q->not_empty, &q->mu);
  long v = q->slot;
  q->full = 0;
  pthread_cond_signal(&q->not_full);
  pthread_mutex_unlock(&q->mu);
  return v;
}

typedef struct tq_pair {
  tqueue req, rep; /* main -> partner, partner -> main */
} tq_pair;

/* The partner thread: reply request + 1 until PINGPONG_STOP. */
static void *tq_partner(void *arg) {
  tq_pair *p = arg;
  for (long v; (v = tq_get(&p->req)) != PINGPONG_STOP;) tq_put(&p->rep, v + 1);
  return NULL;
}

static double bench_thread_chan_pingpong(long iters) {
  tq_pair p;
  tq_init(&p.req);
  tq_init(&p.rep);
  pthread_t t;
  check_pt(pthread_create(&t, NULL, tq_partner, &p), "pthread_create");
  long bad = 0;
  for (long i = 0; i < PINGPONG_WARMUP; i++) {
    tq_put(&p.req, i);
    bad += tq_get(&p.rep) != i + 1;
  }
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    long v = i & 0xffff;
    tq_put(&p.req, v);
    bad += tq_get(&p.rep) != v + 1;
  }
  int64_t t1 = now_ns();
  tq_put(&p.req, PINGPONG_STOP);
  check_pt(pthread_join(t, NULL), "pthread_join");
  tq_destroy(&p.req);
  tq_destroy(&p.rep);
  if (bad) die("thread queue ping-pong reply check", 0);
  return per_op(t0, t1, iters);
}

/* --- ping-pong: two processes, two pipes (as bench_core) -------------------------------------- */

static int read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Send a long down one pipe and wait for the reply up the other. */
static inline long pipe_roundtrip(int wfd, int rfd, long v) {
  long back;
  if (UNLIKELY(write_full(wfd, &v, sizeof(v)) != 0 || read_full(rfd, &back, sizeof(back)) != 0))
    die("pipe round trip", errno);
  return back;
}

static void wait_child(pid_t pid, int *status) {
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) die("waitpid", errno);
}

/* The partner process of the pipe row: bench_sched --pipe-partner RFD WFD
 * replies v + 1 to every long read from RFD until EOF. */
static int pipe_partner(int rfd, int wfd) {
  long v;
  while (read_full(rfd, &v, sizeof(v)) == 0) {
    v++;
    if (write_full(wfd, &v, sizeof(v)) != 0) break;
  }
  return 0;
}

static char self_exe[4096]; /* this program, to start the pipe partner with */

static pid_t spawn_child(char *const argv[], const char *const env[], int out,
                         const int *close_fds);

static double bench_pipe_pingpong(long iters) {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) die("pipe", errno);
  char rfd[16], wfd[16];
  snprintf(rfd, sizeof(rfd), "%d", down[0]);
  snprintf(wfd, sizeof(wfd), "%d", up[1]);
  char *argv[] = {self_exe, "--pipe-partner", rfd, wfd, NULL};
  const char *env[] = {NULL};
  const int ours[] = {down[1], up[0], -1}; /* the partner keeps only its ends */
  pid_t pid = spawn_child(argv, env, -1, ours);
  if (pid < 0) die("posix_spawn of the pipe partner", errno);
  close(down[0]);
  close(up[1]);
  long bad = 0;
  for (long i = 0; i < PINGPONG_WARMUP; i++) bad += pipe_roundtrip(down[1], up[0], i) != i + 1;
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    long v = i & 0xffff;
    bad += pipe_roundtrip(down[1], up[0], v) != v + 1;
  }
  int64_t t1 = now_ns();
  close(down[1]); /* EOF: the partner exits */
  close(up[0]);
  int status;
  wait_child(pid, &status);
  if (bad) die("pipe ping-pong reply check", 0);
  return per_op(t0, t1, iters);
}

/* --- ping-pong: two goroutines, GOMAXPROCS=1 (optional) --------------------------------------- */

static int go_state;       /* 0: not tried, 1: built, -1: go not on PATH, -2: build failed */
static char go_path[4096]; /* the go command found on PATH */

/* `go` on PATH, as execvp would find it. */
static int find_go(void) {
  const char *path = getenv("PATH");
  if (!path) return 0;
  while (*path) {
    size_t len = strcspn(path, ":");
    if (len) {
      snprintf(go_path, sizeof(go_path), "%.*s/go", (int)len, path);
      if (access(go_path, X_OK) == 0) return 1;
    }
    path += len;
    if (*path == ':') path++;
  }
  return 0;
}

extern char **environ;

/* Start argv[0] (a path) with posix_spawn, never fork: a fork copies this
 * process's page tables and write-protects every page it holds, the stack
 * pool's included, so the next round of every libcoro row would take a
 * fault on each page it touches (~10-15 us each on this VM), which a program
 * that does not fork never pays and the Go rows (fresh processes) never see.
 * glibc's posix_spawn shares the address space until the exec (CLONE_VM |
 * CLONE_VFORK): nothing is copied or write-protected.  `env`: NAME=value
 * strings (NULL-ended) set on top of our environment; `out`: the child's
 * stdout (-1: ours); `close_fds` (-1-ended): descriptors the child must not
 * keep.  Its stdin is /dev/null, its stderr too with --json. */
static pid_t spawn_child(char *const argv[], const char *const env[], int out,
                         const int *close_fds) {
  size_t n = 0, k = 0;
  while (environ[n]) n++;
  for (const char *const *e = env; *e; e++) k++;
  char **envp = malloc((n + k + 1) * sizeof(*envp));
  if (!envp) die("malloc", ENOMEM);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    int replaced = 0;
    for (const char *const *e = env; *e && !replaced; e++) {
      size_t len = strcspn(*e, "=") + 1;
      replaced = strncmp(environ[i], *e, len) == 0;
    }
    if (!replaced) envp[m++] = environ[i];
  }
  for (const char *const *e = env; *e; e++) envp[m++] = (char *)(uintptr_t)*e;
  envp[m] = NULL;
  posix_spawn_file_actions_t fa;
  check_pt(posix_spawn_file_actions_init(&fa), "posix_spawn_file_actions_init");
  check_pt(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), "addopen");
  if (opt.json)
    check_pt(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), "addopen");
  if (out >= 0) check_pt(posix_spawn_file_actions_adddup2(&fa, out, 1), "adddup2");
  for (const int *fd = close_fds; *fd >= 0; fd++)
    check_pt(posix_spawn_file_actions_addclose(&fa, *fd), "addclose");
  fflush(NULL);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], &fa, NULL, argv, envp) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  return pid;
}

/* Run argv[0] (a path) with `env` (NAME=value strings, NULL-ended) added,
 * stdin from /dev/null, stdout into out (cap bytes, NUL-terminated), stderr
 * kept in table mode, dropped with --json.  Returns the exit status (-1 if
 * it did not exit normally; 127 if it could not be started). */
static int run_capture(char *const argv[], const char *const env[], char *out, size_t cap) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) die("pipe", errno);
  const int none[] = {-1};
  pid_t pid = spawn_child(argv, env, fds[1], none); /* dup2 clears CLOEXEC on the copy */
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    out[0] = '\0';
    return 127;
  }
  close(fds[1]);
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fds[0], out + got, cap - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
    if (got == cap - 1) break;
  }
  out[got] = '\0';
  close(fds[0]);
  int status;
  wait_child(pid, &status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Build bench/go/pingpong.go before anything is timed: standard library
 * only, no network (GOPROXY=off, GOTOOLCHAIN=local), no cgo. */
static void go_build(void) {
  if (!CORO_BENCH_GO_SRC[0] || !find_go()) {
    go_state = -1;
    return;
  }
  static char gocache[4200];
  const char *env[] = {"GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=", "CGO_ENABLED=0",
                       "GO111MODULE=",      NULL,          NULL};
  if (!getenv("GOCACHE") && !getenv("HOME") && !getenv("XDG_CACHE_HOME")) {
    snprintf(gocache, sizeof(gocache), "GOCACHE=%s.cache", CORO_BENCH_GO_BIN);
    env[5] = gocache;
  }
  char *argv[] = {go_path,
                  "build",
                  "-o",
                  (char *)(uintptr_t)CORO_BENCH_GO_BIN,
                  (char *)(uintptr_t)CORO_BENCH_GO_SRC,
                  NULL};
  char out[256];
  progress("bench_sched: building the Go rows (%s build) ...", go_path);
  int rc = run_capture(argv, env, out, sizeof(out));
  if (rc == 0 && CORO_BENCH_GO_SJ_SRC[0]) {
    argv[3] = (char *)(uintptr_t)CORO_BENCH_GO_SJ_BIN;
    argv[4] = (char *)(uintptr_t)CORO_BENCH_GO_SJ_SRC;
    rc = run_capture(argv, env, out, sizeof(out));
  }
  go_state = rc == 0 ? 1 : -2;
  progress(rc == 0 ? " ok\n" : " failed: no Go rows\n");
}

/* Each repeat runs the built program afresh; it times its own loop (after
 * its own warm-up) and prints ns per round trip: process start is outside. */
static double bench_go_pingpong(long iters) {
  char n[32], out[128];
  snprintf(n, sizeof(n), "%ld", iters);
  char *argv[] = {(char *)(uintptr_t)CORO_BENCH_GO_BIN, n, NULL};
  const char *env[] = {"GOMAXPROCS=1", NULL};
  if (run_capture(argv, env, out, sizeof(out)) != 0) die("the Go ping-pong program", 0);
  char *end;
  double ns = strtod(out, &end);
  if (end == out || !(ns > 0)) die("the Go ping-pong program's output", 0);
  return ns;
}

/* Go spawn+join: one process per repeat, two rounds in it; returns the
 * second (later) round and records the first in *first. */
static double go_spawn_join(const char *mode, long n, double *first) {
  char nb[32], out[128];
  snprintf(nb, sizeof(nb), "%ld", n);
  char *argv[] = {(char *)(uintptr_t)CORO_BENCH_GO_SJ_BIN, (char *)(uintptr_t)mode, nb, "2", NULL};
  const char *env[] = {"GOMAXPROCS=1", NULL};
  if (run_capture(argv, env, out, sizeof(out)) != 0) die("the Go spawn+join program", 0);
  char *end;
  double r1 = strtod(out, &end), r2 = end != out ? strtod(end, &end) : 0;
  if (!(r1 > 0) || !(r2 > 0)) die("the Go spawn+join program's output", 0);
  *first = r1;
  return r2;
}

static double go_1k_first[MAX_REPEATS + 1], go_1m_first[MAX_REPEATS + 1]; /* per repeat */
static int go_1k_nfirst, go_1m_nfirst;

static double bench_go_spawn_join_1k(long n) {
  double r2 = go_spawn_join("batch", n, &go_1k_first[go_1k_nfirst]);
  if (go_1k_nfirst < MAX_REPEATS) go_1k_nfirst++;
  return r2;
}

static double bench_go_spawn_join_1m(long n) {
  double r2 = go_spawn_join("all", n, &go_1m_first[go_1m_nfirst]);
  if (go_1m_nfirst < MAX_REPEATS) go_1m_nfirst++;
  return r2;
}

/* --- the figures ------------------------------------------------------------------------------ */

enum kind { ROUNDTRIP, SPAWN, TIMERS, PINGPONG };

typedef struct figure {
  const char *key;             /* JSON key */
  const char *label;           /* what it is, for the table */
  enum kind kind;              /* section of the table */
  double (*run)(long);         /* one repeat: ns per operation */
  long iters_full;             /* iterations per repeat, default run */
  long iters_quick;            /* iterations per repeat, --quick */
  int base;                    /* index of the figure it is compared with, -1 if none */
  int timed;                   /* measured in the timed rounds (0: the first round only) */
  double samples[MAX_REPEATS]; /* one per repeat */
  int nsamples;                /* samples taken */
  stats s;                     /* their median and spread */
} figure;

enum {
  F_YIELD,
  F_THREAD_YIELD,
  F_SPAWN_FIRST,
  F_SPAWN,
  F_PTHREAD,
  F_SJ1K_FIRST,
  F_SJ1K,
  F_GO_SJ1K_FIRST,
  F_GO_SJ1K,
  F_THREAD_SJ1K,
  F_SJ1M_FIRST,
  F_SJ1M,
  F_GO_SJ1M_FIRST,
  F_GO_SJ1M,
  F_TIMERS,
  F_CHAN,
  F_CHAN_BUF,
  F_CHAN_COPY,
  F_THREAD_CHAN,
  F_PIPE,
  F_GO,
  F_COUNT
};

#define ROW(k, l, kd, fn, full, quick, b, t)                                                       \
  {                                                                                                \
    .key = k, .label = l, .kind = kd, .run = fn, .iters_full = full, .iters_quick = quick,         \
    .base = b, .timed = t                                                                          \
  }

/* Iterations per repeat: ~50-500 ms each here, except the N rows (N is the point). */
static figure figs[F_COUNT] = {
    [F_YIELD] = ROW("sched_yield_roundtrip_ns", "2 micro-threads, coro_sched_yield", ROUNDTRIP,
                    bench_sched_yield, 3000000, 1000000, -1, 1),
    [F_THREAD_YIELD] = ROW("thread_yield_roundtrip_ns", "2 threads, mutex+condvar", ROUNDTRIP,
                           bench_thread_yield, 20000, 5000, F_YIELD, 1),
    [F_SPAWN_FIRST] = ROW("spawn_join_first_ns", "spawn+join+destroy, 1st round", SPAWN,
                          bench_spawn_join, BIG_N_FULL, BIG_N_QUICK, F_SPAWN, 0),
    [F_SPAWN] = ROW("spawn_join_ns", "spawn+join+destroy, later rounds", SPAWN, bench_spawn_join,
                    BIG_N_FULL, BIG_N_QUICK, -1, 1),
    [F_PTHREAD] = ROW("pthread_create_join_ns", "pthread_create+join", SPAWN,
                      bench_pthread_create_join, 2000, 1000, F_SPAWN, 1),
    [F_SJ1K_FIRST] = ROW("spawn_join_1k_first_ns", "default, 1 000 alive, 1st round", SPAWN,
                         bench_spawn_join_1k, BIG_N_FULL, BIG_N_QUICK, F_SJ1K, 0),
    [F_SJ1K] = ROW("spawn_join_1k_ns", "default, 1 000 alive, later rounds", SPAWN,
                   bench_spawn_join_1k, BIG_N_FULL, BIG_N_QUICK, F_GO_SJ1K, 1),
    /* the Go rows: timed cleared at start-up when the Go programs cannot be built;
     * the first-round rows are filled from the timed ones' processes */
    [F_GO_SJ1K_FIRST] = ROW("go_spawn_join_1k_first_ns", "Go, 1 000 alive, 1st round", SPAWN, NULL,
                            BIG_N_FULL, BIG_N_QUICK, -1, 0),
    [F_GO_SJ1K] = ROW("go_spawn_join_1k_ns", "Go, 1 000 alive, 2nd round", SPAWN,
                      bench_go_spawn_join_1k, BIG_N_FULL, BIG_N_QUICK, -1, 1),
    [F_THREAD_SJ1K] = ROW("thread_spawn_join_1k_ns", "threads, 1 000 alive (fewer N)", SPAWN,
                          bench_thread_spawn_join_1k, THREAD_N_FULL, THREAD_N_QUICK, F_SJ1K, 1),
    [F_SJ1M_FIRST] = ROW("spawn_join_1m_first_ns", "default, all N alive, 1st round", SPAWN,
                         bench_spawn_join_1m, BIG_N_FULL, BIG_N_QUICK, F_GO_SJ1M_FIRST, 0),
    [F_SJ1M] = ROW("spawn_join_1m_ns", "default, all N alive, later rounds", SPAWN,
                   bench_spawn_join_1m, BIG_N_FULL, BIG_N_QUICK, F_GO_SJ1M, 1),
    [F_GO_SJ1M_FIRST] = ROW("go_spawn_join_1m_first_ns", "Go, all N alive (gated), 1st round",
                            SPAWN, NULL, BIG_N_FULL, BIG_N_QUICK, -1, 0),
    [F_GO_SJ1M] = ROW("go_spawn_join_1m_ns", "Go, all N alive (gated), 2nd round", SPAWN,
                      bench_go_spawn_join_1m, BIG_N_FULL, BIG_N_QUICK, -1, 1),
    [F_TIMERS] = ROW("timers_1m_ns", "sleepers: coro_run time / N", TIMERS, bench_timers,
                     BIG_N_FULL, BIG_N_QUICK, F_SPAWN, 1),
    [F_CHAN] = ROW("chan_pingpong_ns", "2 micro-threads, channels, cap 0", PINGPONG,
                   bench_chan_pingpong, 2000000, 500000, -1, 1),
    [F_CHAN_BUF] = ROW("chan_pingpong_buffered_ns", "2 micro-threads, channels, cap 1", PINGPONG,
                       bench_chan_pingpong_buffered, 2000000, 500000, F_CHAN, 1),
    [F_CHAN_COPY] = ROW("chan_pingpong_copystack_ns", "the same, copy-stack micro-threads",
                        PINGPONG, bench_chan_pingpong_copy, 2000000, 500000, F_CHAN, 1),
    [F_THREAD_CHAN] = ROW("thread_chan_pingpong_ns", "2 threads, 1-slot mutex+cv queues", PINGPONG,
                          bench_thread_chan_pingpong, 20000, 5000, F_CHAN, 1),
    [F_PIPE] = ROW("process_pipe_pingpong_ns", "2 processes, 2 pipes", PINGPONG,
                   bench_pipe_pingpong, 20000, 5000, F_CHAN, 1),
    /* timed is cleared at start-up when the Go program cannot be built */
    [F_GO] = ROW("go_chan_pingpong_ns", "2 goroutines, GOMAXPROCS=1", PINGPONG, bench_go_pingpong,
                 2000000, 500000, F_CHAN, 1),
};

/* A row that was not measured (the Go row without go): no JSON key. */
static int absent(int i) { return figs[i].nsamples == 0; }

static long iters_of(const figure *f) { return opt.quick ? f->iters_quick : f->iters_full; }
static long big_n(void) { return opt.quick ? BIG_N_QUICK : BIG_N_FULL; }

/* num / den: paired round by round when both were measured in the same
 * rounds (this machine drifts between speed states by ~30% for everything
 * at once; a paired ratio cancels that), else the ratio of the medians with
 * the widest spread the two allow. */
static stats ratio_stats(int num, int den) {
  const figure *a = &figs[num], *b = &figs[den];
  stats none = {NAN, NAN, NAN};
  if (!a->nsamples || !b->nsamples) return none;
  if (a->timed && b->timed && a->nsamples == b->nsamples) {
    double r[MAX_REPEATS];
    for (int i = 0; i < a->nsamples; i++) r[i] = a->samples[i] / b->samples[i];
    return summarize(r, a->nsamples);
  }
  if (b->s.median <= 0) return none;
  stats s = {a->s.median / b->s.median, a->s.min / b->s.max, a->s.max / b->s.min};
  return s;
}

static double ratio(int num, int den) { return ratio_stats(num, den).median; }

/* One warm-up round, then repeat r of every row before repeat r+1 of any.
 * The warm-up runs each row at a tenth of its size, except spawn+join, which
 * runs at full N: the first use of 16 KiB stacks in this process, recorded
 * as the first-round figure. */
static void run_timing(void) {
  progress("bench_sched: N = %ld; warm-up round (spawn+join's first round at full N), then %d "
           "rounds:",
           big_n(), opt.repeats);
  for (int i = 0; i < F_COUNT; i++) {
    figure *f = &figs[i];
    if (i == F_SPAWN_FIRST || i == F_SJ1K_FIRST || i == F_SJ1M_FIRST) {
      f->samples[f->nsamples++] = f->run(iters_of(f));
      continue;
    }
    if (!f->timed) continue;
    /* their warm-up is the first round above; a Go process is fresh anyway */
    if (i == F_SPAWN || i == F_SJ1K || i == F_SJ1M || i == F_GO_SJ1K || i == F_GO_SJ1M) continue;
    long n = iters_of(f) / 10;
    f->run(n < 10 ? 10 : n);
  }
  timers_recording = 1;
  for (int r = 0; r < opt.repeats; r++) {
    for (int i = 0; i < F_COUNT; i++) {
      figure *f = &figs[i];
      if (!f->timed) continue;
      f->samples[f->nsamples++] = f->run(iters_of(f));
    }
    progress(" %d", r + 1);
  }
  progress("\n");
  /* Go's first rounds, one per process */
  figure *g1 = &figs[F_GO_SJ1K_FIRST], *gm = &figs[F_GO_SJ1M_FIRST];
  for (int r = 0; r < go_1k_nfirst; r++) g1->samples[g1->nsamples++] = go_1k_first[r];
  for (int r = 0; r < go_1m_nfirst; r++) gm->samples[gm->nsamples++] = go_1m_first[r];
}

/* --- machine description ---------------------------------------------------------------------- */

typedef struct machine {
  char cpu[128];    /* "model name" of the first CPU in /proc/cpuinfo */
  long nproc;       /* online CPUs */
  char kernel[128]; /* uname -r */
} machine;

static void describe_machine(machine *m) {
  struct utsname u;
  char line[512];
  snprintf(m->cpu, sizeof(m->cpu), "unknown");
  FILE *f = fopen("/proc/cpuinfo", "re");
  if (f) {
    while (fgets(line, sizeof(line), f)) {
      char *colon = strchr(line, ':');
      if (strncmp(line, "model name", 10) != 0 || !colon) continue;
      colon++;
      while (*colon == ' ' || *colon == '\t') colon++;
      colon[strcspn(colon, "\n")] = '\0';
      snprintf(m->cpu, sizeof(m->cpu), "%s", colon);
      break;
    }
    fclose(f);
  }
  m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
  snprintf(m->kernel, sizeof(m->kernel), "%s", uname(&u) == 0 ? u.release : "unknown");
}

static const char *guard_mode_name(int mode) {
  switch (mode) {
  case CORO_GUARD_MADVISE:
    return "madvise";
  case CORO_GUARD_MPROTECT:
    return "mprotect";
  case CORO_GUARD_CANARY:
    return "canary";
  default:
    return "unknown";
  }
}

/* --- output ----------------------------------------------------------------------------------- */

/* A figure in a width-friendly form: 11.3, 2228, 25834. */
static const char *fmt(char *buf, size_t cap, double v) {
  if (isnan(v))
    snprintf(buf, cap, "n/a");
  else if (fabs(v) >= 1000.0)
    snprintf(buf, cap, "%.0f", v);
  else if (fabs(v) >= 100.0)
    snprintf(buf, cap, "%.1f", v);
  else
    snprintf(buf, cap, "%.2f", v);
  return buf;
}

static const char *fmt_ratio(char *buf, size_t cap, double r) {
  if (isnan(r))
    snprintf(buf, cap, "n/a");
  else if (r >= 100.0)
    snprintf(buf, cap, "%.0fx", r);
  else
    snprintf(buf, cap, "%.2fx", r);
  return buf;
}

static const struct {
  const char *name; /* for the table */
  const char *key;  /* for the JSON */
  int num, den;
} ratios[] = {
    {"thread_yield / sched_yield", "thread_yield_sched_yield", F_THREAD_YIELD, F_YIELD},
    {"pthread_create_join / spawn_join", "pthread_create_join_spawn_join", F_PTHREAD, F_SPAWN},
    {"pthread_create_join / spawn_join_first", "pthread_create_join_spawn_join_first", F_PTHREAD,
     F_SPAWN_FIRST},
    {"spawn_join_first / spawn_join", "spawn_join_first_spawn_join", F_SPAWN_FIRST, F_SPAWN},
    {"spawn_join_1k / go_spawn_join_1k", "spawn_join_1k_go_spawn_join_1k", F_SJ1K, F_GO_SJ1K},
    {"spawn_join_1k_first / go_..._1k_first", "spawn_join_1k_first_go_spawn_join_1k_first",
     F_SJ1K_FIRST, F_GO_SJ1K_FIRST},
    {"thread_spawn_join_1k / spawn_join_1k", "thread_spawn_join_1k_spawn_join_1k", F_THREAD_SJ1K,
     F_SJ1K},
    {"spawn_join_1m / go_spawn_join_1m", "spawn_join_1m_go_spawn_join_1m", F_SJ1M, F_GO_SJ1M},
    {"spawn_join_1m_first / go_..._1m_first", "spawn_join_1m_first_go_spawn_join_1m_first",
     F_SJ1M_FIRST, F_GO_SJ1M_FIRST},
    {"spawn_join_1m_first / spawn_join_1m", "spawn_join_1m_first_spawn_join_1m", F_SJ1M_FIRST,
     F_SJ1M},
    {"timers / spawn_join", "timers_spawn_join", F_TIMERS, F_SPAWN},
    {"chan_pingpong / sched_yield", "chan_pingpong_sched_yield", F_CHAN, F_YIELD},
    {"chan_pingpong_buffered / chan_pingpong", "chan_pingpong_buffered_chan_pingpong", F_CHAN_BUF,
     F_CHAN},
    {"chan_pingpong_copystack / chan_pingpong", "chan_pingpong_copystack_chan_pingpong",
     F_CHAN_COPY, F_CHAN},
    {"thread_chan_pingpong / chan_pingpong", "thread_chan_pingpong_chan_pingpong", F_THREAD_CHAN,
     F_CHAN},
    {"process_pipe_pingpong / chan_pingpong", "process_pipe_pingpong_chan_pingpong", F_PIPE,
     F_CHAN},
    {"chan_pingpong / go_chan_pingpong", "chan_pingpong_go_chan_pingpong", F_CHAN, F_GO},
};

/* The targets: a verdict, never an assertion.  -1: not measured. */
typedef struct target {
  const char *name; /* as the issue words it */
  const char *key;  /* for the JSON */
  const char *how;  /* what the verdict compares */
  double value;     /* the figure compared */
  int met;          /* 1 met, 0 missed, -1 not measured */
} target;

enum { T_CHAN_NS, T_THREAD_X, T_GO, T_SJ1K_GO, T_SJ1M_GO, T_COUNT };

static void eval_targets(target *t) {
  double chan = figs[F_CHAN].s.median;
  double tx = ratio(F_THREAD_CHAN, F_CHAN);
  double go = absent(F_GO) ? NAN : ratio(F_CHAN, F_GO);
  t[T_CHAN_NS] =
      (target){"chan ping-pong <= 50 ns", "chan_pingpong_le_50ns", "chan_pingpong_ns median", chan,
               isnan(chan) ? -1 : chan <= TARGET_CHAN_NS};
  t[T_THREAD_X] = (target){"thread version >= 500x chan ping-pong", "thread_chan_ge_500x",
                           "thread_chan_pingpong / chan_pingpong, paired", tx,
                           isnan(tx) ? -1 : tx >= TARGET_THREAD_X};
  t[T_GO] = (target){"chan ping-pong no slower than Go", "chan_pingpong_le_go",
                     "chan_pingpong / go_chan_pingpong, paired", go, isnan(go) ? -1 : go <= 1.0};
  double k1 = absent(F_GO_SJ1K) ? NAN : ratio(F_SJ1K, F_GO_SJ1K);
  double m1 = absent(F_GO_SJ1M) ? NAN : ratio(F_SJ1M, F_GO_SJ1M);
  t[T_SJ1K_GO] = (target){"spawn+join 1 000 alive <= 0.5x Go", "spawn_join_1k_le_half_go",
                          "spawn_join_1k / go_spawn_join_1k, paired", k1,
                          isnan(k1) ? -1 : k1 <= TARGET_SJ1K_GO_X};
  t[T_SJ1M_GO] = (target){"spawn+join 10^6 alive, later <= Go", "spawn_join_1m_le_go",
                          "spawn_join_1m / go_spawn_join_1m, paired", m1,
                          isnan(m1) ? -1 : m1 <= TARGET_SJ1M_GO_X};
}

static void print_table(const machine *m, int guard, stats total, stats waited, const target *tg) {
  char b1[32], b2[32], b3[32], b4[32];
  printf("libcoro bench_sched (%s, N = %ld): medians of %d repeats, spread = min..max of the "
         "repeats;\n\"vs\" = median of the per-round ratios (see \"ratios\")\n",
         opt.quick ? "--quick" : "full", big_n(), opt.repeats);
  printf("machine: %s, %ld CPUs, Linux %s, %s; libcoro switch: %s, stack guards: %s; unpinned\n",
         m->cpu, m->nproc, m->kernel, COMPILER, CORO_BENCH_SWITCH, guard_mode_name(guard));
  static const char *const section[] = {
      "round trips (each side runs once)",
      "spawn + join (per micro-thread or thread)",
      "timers (per sleeping micro-thread)",
      "ping-pong (one round trip = a request on one channel, the reply on another)",
  };
  for (int k = ROUNDTRIP; k <= PINGPONG; k++) {
    printf("\n%s\n", section[k]);
    printf("  %-26s %-35s %10s  %-21s %-4s %s\n", "name", "what", "median", "spread (min..max)",
           "unit", "vs");
    for (int i = 0; i < F_COUNT; i++) {
      const figure *f = &figs[i];
      if ((int)f->kind != k) continue;
      char spread[80];
      if (absent(i)) {
        printf("  %-26s %-35s %10s\n", f->key, f->label,
               go_state == -2 ? "go build failed" : "not installed");
        continue;
      }
      if (f->nsamples > 1)
        snprintf(spread, sizeof(spread), "%s..%s", fmt(b2, sizeof(b2), f->s.min),
                 fmt(b3, sizeof(b3), f->s.max));
      else
        snprintf(spread, sizeof(spread), "(one round)");
      char vs[64];
      if (f->base < 0)
        snprintf(vs, sizeof(vs), "1 (base)");
      else
        snprintf(vs, sizeof(vs), "%s %s", fmt_ratio(b4, sizeof(b4), ratio(i, f->base)),
                 figs[f->base].key);
      printf("  %-26s %-35s %10s  %-21s %-4s %s\n", f->key, f->label,
             fmt(b1, sizeof(b1), f->s.median), spread, "ns", vs);
      if (opt.samples) {
        printf("  %-26s samples in order:", "");
        for (int r = 0; r < f->nsamples; r++) printf(" %s", fmt(b1, sizeof(b1), f->samples[r]));
        printf("\n");
      }
    }
    if (k == SPAWN)
      printf("  (%ld micro-threads a round, spawned by one parent micro-thread, then joined and\n"
             "   destroyed in order: 16 KiB stacks in the first two rows, default attributes\n"
             "   (64 KiB) in the 1k/1m rows; threads: default attributes, %ld a repeat; Go:\n"
             "   bench/go/spawnjoin.go, one process per repeat, GOMAXPROCS=1, its first\n"
             "   round and its second)\n",
             big_n(), opt.quick ? THREAD_N_QUICK : THREAD_N_FULL);
    if (k == TIMERS) {
      printf("  timers_total_s: %.3f s (%.3f..%.3f) for %ld sleepers, deadlines base + (i %% "
             "1000) us, base = now + 5 ms after spawning\n",
             total.median, total.min, total.max, big_n());
      printf("  timers_waited: %.1f%% (%.1f..%.1f%%) of them still had their deadline ahead when "
             "they called coro_sleep\n",
             100.0 * waited.median, 100.0 * waited.min, 100.0 * waited.max);
    }
    if (k == PINGPONG)
      printf("  (longs; each side checks reply = request + 1; timed after %d untimed round trips;\n"
             "   threads: one mutex and two condvars per direction; Go: bench/go/pingpong.go,\n"
             "   built before the rounds, one process per repeat timing its own loop)\n",
             PINGPONG_WARMUP);
  }

  printf("\nratios (median of the per-round ratios; with the first round: ratio of medians)\n");
  printf("  %-40s %10s  %s\n", "", "median", "spread (min..max)");
  for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
    stats r = ratio_stats(ratios[i].num, ratios[i].den);
    if (absent(ratios[i].num) || absent(ratios[i].den)) {
      printf("  %-40s %10s\n", ratios[i].name, "n/a (Go row not run)");
      continue;
    }
    char spread[80];
    snprintf(spread, sizeof(spread), "%s..%s", fmt_ratio(b2, sizeof(b2), r.min),
             fmt_ratio(b3, sizeof(b3), r.max));
    printf("  %-40s %10s  %s\n", ratios[i].name, fmt_ratio(b1, sizeof(b1), r.median),
           isnan(r.median) ? "" : spread);
  }
  printf("\ntargets (the issue's; printed, never asserted)\n");
  for (int i = 0; i < T_COUNT; i++) {
    if (tg[i].met < 0) {
      printf("  %-40s %-7s (Go row not run)\n", tg[i].name, "n/a");
      continue;
    }
    char v[32];
    if (i == T_CHAN_NS)
      snprintf(v, sizeof(v), "%s ns", fmt(b1, sizeof(b1), tg[i].value));
    else
      snprintf(v, sizeof(v), "%s", fmt_ratio(b1, sizeof(b1), tg[i].value));
    printf("  %-40s %-7s %s = %s\n", tg[i].name, tg[i].met ? "met" : "MISSED", tg[i].how, v);
  }
}

/* JSON: numbers (null for n/a) and escaped strings. */
static void json_num(FILE *out, double v) {
  if (isnan(v) || isinf(v))
    fputs("null", out);
  else
    fprintf(out, "%.6g", v);
}

static void json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(out, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(out, "\\u%04x", ch);
    else
      fputc(ch, out);
  }
  fputc('"', out);
}

static void json_spread(FILE *out, stats s) {
  fputc('[', out);
  json_num(out, s.min);
  fputc(',', out);
  json_num(out, s.max);
  fputc(']', out);
}

static void print_json(const machine *m, int guard, stats total, stats waited, const target *tg) {
  FILE *o = stdout;
  fputc('{', o);
  for (int i = 0; i < F_COUNT; i++) {
    if (absent(i)) continue;
    json_str(o, figs[i].key);
    fputc(':', o);
    json_num(o, figs[i].s.median);
    fputc(',', o);
  }
  fputs("\"timers_total_s\":", o);
  json_num(o, total.median);
  fputs(",\"timers_waited_fraction\":", o);
  json_num(o, waited.median);
  fputs(",\"spread\":{", o);
  for (int i = 0; i < F_COUNT; i++) {
    if (absent(i)) continue;
    json_str(o, figs[i].key);
    fputc(':', o);
    json_spread(o, figs[i].s);
    fputc(',', o);
  }
  fputs("\"timers_total_s\":", o);
  json_spread(o, total);
  fputs(",\"timers_waited_fraction\":", o);
  json_spread(o, waited);
  fputs("},\"ratios\":{", o);
  const char *sep = "";
  for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
    if (absent(ratios[i].num) || absent(ratios[i].den)) continue;
    fputs(sep, o);
    sep = ",";
    json_str(o, ratios[i].key);
    fputc(':', o);
    json_num(o, ratio(ratios[i].num, ratios[i].den));
  }
  fputs("},\"targets\":{", o); /* true met, false missed; absent: not measured */
  sep = "";
  for (int i = 0; i < T_COUNT; i++) {
    if (tg[i].met < 0) continue;
    fprintf(o, "%s\"%s\":%s", sep, tg[i].key, tg[i].met ? "true" : "false");
    sep = ",";
  }
  fputs("},\"go\":", o);
  json_str(o, go_state == 1 ? "ran" : go_state == -2 ? "build failed" : "not installed");
  fprintf(o, ",\"n\":%ld,\"machine\":{\"cpu\":", big_n());
  json_str(o, m->cpu);
  fprintf(o, ",\"nproc\":%ld,\"kernel\":", m->nproc);
  json_str(o, m->kernel);
  fputs(",\"compiler\":", o);
  json_str(o, COMPILER);
  fputs("},\"switch\":", o);
  json_str(o, CORO_BENCH_SWITCH);
  fputs(",\"stack_guard\":", o);
  json_str(o, guard_mode_name(guard));
  fprintf(o, ",\"repeats\":%d,\"mode\":\"%s\",\"pinned\":false}\n", opt.repeats,
          opt.quick ? "quick" : "full");
  fflush(o);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_sched [--quick] [--json] [--samples] [--repeats N]\n"
          "  --quick      N = 100 000 instead of 1 000 000, fewer iterations (~12 s here)\n"
          "  --json       one JSON object on one line on stdout, nothing else\n"
          "  --samples    print every repeat's figure under its row\n"
          "  --repeats N  timed rounds, 5..%d (default 5)\n",
          MAX_REPEATS);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--pipe-partner") == 0) /* the pipe row's other end */
    return pipe_partner(atoi(argv[2]), atoi(argv[3]));
  ssize_t len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  if (len <= 0) die("readlink /proc/self/exe", errno);
  self_exe[len] = '\0';
  opt.repeats = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (strcmp(a, "--quick") == 0) {
      opt.quick = 1;
    } else if (strcmp(a, "--json") == 0) {
      opt.json = 1;
    } else if (strcmp(a, "--samples") == 0) {
      opt.samples = 1;
    } else if (strcmp(a, "--repeats") == 0 && has_value) {
      opt.repeats = atoi(argv[++i]);
      if (opt.repeats == 0) opt.repeats = -1; /* not a number: refused below */
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!opt.repeats) opt.repeats = 5; /* a full round takes ~11 s: 5 keeps the run near a minute */
  if (opt.repeats < 5 || opt.repeats > MAX_REPEATS) {
    fprintf(stderr, "bench_sched: --repeats must be 5..%d\n", MAX_REPEATS);
    return 2;
  }

  machine m;
  describe_machine(&m);
  int64_t start = now_ns();
  /* The handle array is the benchmark's bookkeeping: allocated and touched
   * before anything is timed. */
  handles = malloc((size_t)big_n() * sizeof(*handles));
  if (!handles) die("malloc", ENOMEM);
  memset(handles, 0, (size_t)big_n() * sizeof(*handles));

  go_build(); /* before anything is timed: the build stays out of every figure */
  if (go_state != 1) figs[F_GO].timed = figs[F_GO_SJ1K].timed = figs[F_GO_SJ1M].timed = 0;
  run_timing();
  int guard = coro_stack_guard_mode();

  for (int i = 0; i < F_COUNT; i++) figs[i].s = summarize(figs[i].samples, figs[i].nsamples);
  stats total = summarize(timers_total_s, timers_nrec);
  stats waited = summarize(timers_waited, timers_nrec);
  target tg[T_COUNT];
  eval_targets(tg);
  progress("done in %.1f s\n\n", (double)(now_ns() - start) / 1e9);

  if (opt.json)
    print_json(&m, guard, total, waited, tg);
  else
    print_table(&m, guard, total, waited, tg);
  free(handles);
  return 0;
}
