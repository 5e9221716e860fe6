/* SPDX-License-Identifier: MIT */
/*
 * bench_core.c - coroutines vs threads vs processes, side by side in one run.
 *
 * What it measures (see bench/README.md for what each figure means):
 *   round trips   a value handed over and handed back, per mechanism:
 *                 libcoro generator (coro_send + coro_yield), Boost fcontext
 *                 (when built with it), glibc swapcontext, two threads with
 *                 mutex+condvar, two threads with semaphores, two processes
 *                 over two pipes;
 *   creation      coro_create + first resume to completion + coro_destroy,
 *                 against pthread_create + pthread_join;
 *   memory        resident memory per suspended coroutine (100 000 and
 *                 1 000 000 of them) against per blocked thread.
 *
 * Method: every timing figure is the median of >= 5 repeats, reported with
 * min..max.  The timing rows run round-robin (repeat 1 of every row, then
 * repeat 2, ...) after one discarded warm-up round, so a noisy stretch of the
 * shared machine hits all rows alike instead of one row's every repeat.  Each
 * memory figure is measured in a fresh forked child (one per repeat), so the
 * parent's memory stays clean and one measurement's slabs never count in the
 * next; the child sends its result back over a pipe.
 *
 * Nothing is asserted: the "targets" section only prints PASS or MISS for
 * ratios measured in this same run.  With --json, stdout is exactly one JSON
 * object on one line; progress goes to stderr in table mode only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "coro.h"

#ifdef HAVE_BOOST_FCONTEXT
/* Boost.Context's C-ABI entry points (extern "C" in boost/context/detail/
 * fcontext.hpp), declared here so that C can call them. */
typedef void *fcontext_t;
typedef struct {
  fcontext_t fctx; /* the context that jumped to us */
  void *data;      /* the value it passed */
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));
#endif

#ifdef __clang__
#define COMPILER "clang " __clang_version__
#else
#define COMPILER "gcc " __VERSION__
#endif

#ifndef CORO_BENCH_SWITCH
#define CORO_BENCH_SWITCH "unknown" /* set by bench/CMakeLists.txt */
#endif

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define MAX_REPEATS 50
#define LIBACO_CREATE_NS 246.0 /* issue 10: aco_create + first resume, 10^6 alive */
#define MEMORY_REPEATS 5       /* memory figures barely vary; 10^6 coroutines take ~5 s a child */
#define SIDE_STACK ((size_t)64 * 1024) /* stack for the ucontext and fcontext partners */
#define RSS_TARGET_BYTES 4403.0        /* 4.3 KiB */
#define RATIO_TARGET 1000.0

/* --- options and small helpers ---------------------------------------------------------------- */

typedef struct options {
  int quick;       /* --quick: fewer iterations, only the 100k RSS case */
  int json;        /* --json: one JSON object on stdout, nothing else */
  int pin;         /* --pin: thread rows run with both threads on CPU 0 */
  int samples;     /* --samples: print every repeat's figure under its row */
  int repeats;     /* timed repeats per timing figure (>= 5; memory rows: MEMORY_REPEATS) */
  const char *dat; /* --dat PATH, or NULL for <dir of the binary>/bench_core.dat */
} options;

static options opt = {0, 0, 0, 0, 0, NULL};

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
  fprintf(stderr, "bench_core: %s failed: %s\n", what, err ? strerror(err) : "unexpected result");
  exit(2);
}

/* libcoro returns a negated errno or a CORO_E* code. */
static void check_coro(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "bench_core: %s failed: %s (%s)\n", what, coro_strerror(rc), coro_err_name(rc));
    exit(2);
  }
}

/* pthread_* and sem_* style: 0 or an errno value (or -1 with errno). */
static void check_pt(int rc, const char *what) {
  if (rc != 0) die(what, rc > 0 ? rc : errno);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double per_op(int64_t t0, int64_t t1, long n) { return (double)(t1 - t0) / (double)n; }

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

/* --- pinning (--pin, thread rows only) -------------------------------------------------------- */

static cpu_set_t saved_affinity; /* the main thread's mask before pin_begin() */
static int pinned_now;           /* 1 between a successful pin_begin() and pin_end() */
static int pin_failed;           /* --pin was refused (CPU 0 not allowed, ...): rows unpinned */

/* Pin the calling thread to CPU 0 if --pin was given; remember its mask. */
static void pin_begin(void) {
  if (!opt.pin) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  if (pthread_getaffinity_np(pthread_self(), sizeof(saved_affinity), &saved_affinity) == 0 &&
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0)
    pinned_now = 1;
  else
    pin_failed = 1;
}

static void pin_end(void) {
  if (!pinned_now) return;
  pthread_setaffinity_np(pthread_self(), sizeof(saved_affinity), &saved_affinity);
  pinned_now = 0;
}

/* Start the partner thread of a thread row, on CPU 0 too when pinned. */
static void start_partner(pthread_t *t, void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  check_pt(pthread_attr_init(&attr), "pthread_attr_init");
  if (pinned_now) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    check_pt(pthread_attr_setaffinity_np(&attr, sizeof(set), &set), "pthread_attr_setaffinity_np");
  }
  check_pt(pthread_create(t, &attr, fn, arg), "pthread_create");
  pthread_attr_destroy(&attr);
}

/* --- round trip: libcoro generator ------------------------------------------------------------ */

/* The generator: hands back whatever it is sent (x = yield x). */
static void *echo_body(void *arg) {
  void *v = arg, *in = NULL;
  while (coro_yield(v, &in) == 0) v = in;
  return NULL;
}

static double gen_roundtrip(long iters, int mode) {
  coro *g;
  void *out = NULL;
  uintptr_t sink = 0;
  coro_attr a = CORO_ATTR_INIT;
  a.stack_mode = mode;
  check_coro(coro_create(&g, echo_body, NULL, &a), "coro_create");
  check_coro(coro_next(g, &out), "coro_next");
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    int rc = coro_send(g, (void *)(uintptr_t)i, &out);
    if (UNLIKELY(rc != CORO_YIELDED)) check_coro(rc < 0 ? rc : -EPROTO, "coro_send");
    sink += (uintptr_t)out;
  }
  int64_t t1 = now_ns();
  /* Every value came back: 0 + 1 + ... + iters-1 (mod 2^64). */
  if (sink != (uintptr_t)iters * (uintptr_t)(iters - 1) / 2u) die("generator echo check", 0);
  check_coro(coro_destroy(g), "coro_destroy");
  return per_op(t0, t1, iters);
}

static double bench_gen(long iters) { return gen_roundtrip(iters, CORO_STACK_MODE_OWN); }
/* Copy-stack: the generator stays on the shared stack between its yields
 * (nothing else needs it), so no frame is copied. */
static double bench_gen_copy(long iters) { return gen_roundtrip(iters, CORO_STACK_MODE_COPY); }

/* Two copy-stack generators resumed in turn: every resume displaces the
 * other's frames (saved, restored): the mode's worst round trip. */
static double bench_gen_copy_alternate(long iters) {
  coro *g[2];
  void *out = NULL;
  uintptr_t sink = 0;
  coro_attr a = CORO_ATTR_INIT;
  a.stack_mode = CORO_STACK_MODE_COPY;
  for (int k = 0; k < 2; k++) {
    check_coro(coro_create(&g[k], echo_body, NULL, &a), "coro_create");
    check_coro(coro_next(g[k], &out), "coro_next");
  }
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    int rc = coro_send(g[i & 1], (void *)(uintptr_t)i, &out);
    if (UNLIKELY(rc != CORO_YIELDED)) check_coro(rc < 0 ? rc : -EPROTO, "coro_send");
    sink += (uintptr_t)out;
  }
  int64_t t1 = now_ns();
  if (sink != (uintptr_t)iters * (uintptr_t)(iters - 1) / 2u) die("generator echo check", 0);
  for (int k = 0; k < 2; k++) check_coro(coro_destroy(g[k]), "coro_destroy");
  return per_op(t0, t1, iters);
}

/* Create `iters` copy-stack coroutines and run each to its first yield,
 * keeping them all suspended (libaco's figure: aco_create + first resume);
 * the destroys are not timed. */
static double bench_create_copy(long iters) {
  coro **h = malloc((size_t)iters * sizeof(*h));
  if (!h) die("malloc", ENOMEM);
  memset(h, 0xff, (size_t)iters * sizeof(*h)); /* resident: not timed (see mem_coroutines_in) */
  coro_attr a = CORO_ATTR_INIT;
  a.stack_mode = CORO_STACK_MODE_COPY;
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    check_coro(coro_create(&h[i], echo_body, NULL, &a), "coro_create");
    if (UNLIKELY(coro_next(h[i], NULL) != CORO_YIELDED)) die("coro_next", EPROTO);
  }
  int64_t t1 = now_ns();
  for (long i = 0; i < iters; i++) check_coro(coro_destroy(h[i]), "coro_destroy");
  free(h);
  return per_op(t0, t1, iters);
}

/* --- round trip: Boost.Context fcontext ------------------------------------------------------- */

#ifdef HAVE_BOOST_FCONTEXT
static void boost_body(transfer_t t) {
  for (;;) t = jump_fcontext(t.fctx, t.data); /* hand the value straight back */
}

static double bench_boost(long iters) {
  char *stack = malloc(SIDE_STACK);
  uintptr_t sink = 0;
  if (!stack) die("malloc", ENOMEM);
  fcontext_t ctx = make_fcontext(stack + SIDE_STACK, SIDE_STACK, boost_body);
  ctx = jump_fcontext(ctx, NULL).fctx; /* start it: it jumps straight back */
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    transfer_t t = jump_fcontext(ctx, (void *)(uintptr_t)i);
    ctx = t.fctx;
    sink += (uintptr_t)t.data;
  }
  int64_t t1 = now_ns();
  if (sink != (uintptr_t)iters * (uintptr_t)(iters - 1) / 2u) die("fcontext echo check", 0);
  free(stack); /* the body never returns; nothing on its stack needs unwinding */
  return per_op(t0, t1, iters);
}

/* A body that hands its value back once and is never resumed again. */
static void boost_once(transfer_t t) { jump_fcontext(t.fctx, t.data); }

/* Boost's counterpart of create_destroy: malloc a stack (128 KiB, Boost's
 * default), make the context, run it until it hands its value back, free the
 * stack.  (An fcontext body may not return, so "to its end" is its one jump
 * back; libcoro's row also runs the body's return and cleanup path.) */
static double bench_boost_create(long iters) {
  const size_t size = (size_t)128 * 1024;
  uintptr_t sink = 0;
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    char *stack = malloc(size);
    if (UNLIKELY(!stack)) die("malloc", ENOMEM);
    fcontext_t ctx = make_fcontext(stack + size, size, boost_once);
    sink += (uintptr_t)jump_fcontext(ctx, (void *)(uintptr_t)i).data;
    free(stack);
  }
  int64_t t1 = now_ns();
  if (sink != (uintptr_t)iters * (uintptr_t)(iters - 1) / 2u) die("fcontext create check", 0);
  return per_op(t0, t1, iters);
}
#endif

/* --- round trip: glibc swapcontext ------------------------------------------------------------ */

static ucontext_t uc_main, uc_side;
static uintptr_t uc_value;

static void uc_body(void) {
  for (;;) {
    uc_value++;
    swapcontext(&uc_side, &uc_main);
  }
}

static double bench_ucontext(long iters) {
  char *stack = malloc(SIDE_STACK);
  if (!stack) die("malloc", ENOMEM);
  if (getcontext(&uc_side) != 0) die("getcontext", errno);
  uc_side.uc_stack.ss_sp = stack;
  uc_side.uc_stack.ss_size = SIDE_STACK;
  uc_side.uc_link = NULL;
  makecontext(&uc_side, uc_body, 0);
  uc_value = 0;
  if (swapcontext(&uc_main, &uc_side) != 0) die("swapcontext", errno);
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++)
    if (UNLIKELY(swapcontext(&uc_main, &uc_side) != 0)) die("swapcontext", errno);
  int64_t t1 = now_ns();
  if (uc_value != (uintptr_t)iters + 1u) die("ucontext echo check", 0);
  free(stack);
  return per_op(t0, t1, iters);
}

/* --- round trip: two threads, mutex + condition variables ------------------------------------- */

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

/* One round trip: hand the value over, wait until it comes back.  Called
 * with p->mu held (cond_wait releases it while waiting). */
static inline void cv_roundtrip(cv_pingpong *p) {
  p->turn = 1;
  pthread_cond_signal(&p->ping);
  while (p->turn != 0) pthread_cond_wait(&p->pong, &p->mu);
}

static double bench_condvar(long iters) {
  cv_pingpong p;
  memset(&p, 0, sizeof(p));
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.ping, NULL);
  pthread_cond_init(&p.pong, NULL);
  pin_begin();
  pthread_t t;
  start_partner(&t, cv_partner, &p);
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
  pin_end();
  if (got != iters + 100) die("condvar handoff check", 0);
  pthread_cond_destroy(&p.ping);
  pthread_cond_destroy(&p.pong);
  pthread_mutex_destroy(&p.mu);
  return per_op(t0, t1, iters);
}

/* --- round trip: two threads, two POSIX semaphores -------------------------------------------- */

typedef struct sem_pingpong {
  sem_t ping; /* main -> partner */
  sem_t pong; /* partner -> main */
  int stop;   /* written before the last post of ping: the post orders it */
  long value; /* the int handed back and forth (partner adds 1) */
} sem_pingpong;

static void sem_wait_intr(sem_t *s) {
  while (sem_wait(s) != 0)
    if (errno != EINTR) die("sem_wait", errno);
}

static void *sem_partner(void *arg) {
  sem_pingpong *p = arg;
  for (;;) {
    sem_wait_intr(&p->ping);
    if (p->stop) break;
    p->value++;
    sem_post(&p->pong);
  }
  return NULL;
}

static inline void sem_roundtrip(sem_pingpong *p) {
  sem_post(&p->ping);
  sem_wait_intr(&p->pong);
}

static double bench_sem(long iters) {
  sem_pingpong p;
  memset(&p, 0, sizeof(p));
  check_pt(sem_init(&p.ping, 0, 0), "sem_init");
  check_pt(sem_init(&p.pong, 0, 0), "sem_init");
  pin_begin();
  pthread_t t;
  start_partner(&t, sem_partner, &p);
  for (int i = 0; i < 100; i++) sem_roundtrip(&p);
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) sem_roundtrip(&p);
  int64_t t1 = now_ns();
  long got = p.value;
  p.stop = 1;
  sem_post(&p.ping);
  pthread_join(t, NULL);
  pin_end();
  if (got != iters + 100) die("semaphore handoff check", 0);
  sem_destroy(&p.ping);
  sem_destroy(&p.pong);
  return per_op(t0, t1, iters);
}

/* --- round trip: two processes, two pipes ----------------------------------------------------- */

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

/* Send an int down one pipe and wait for it to come back (plus 1) up the other. */
static inline int pipe_roundtrip(int wfd, int rfd, int v) {
  int back;
  if (UNLIKELY(write_full(wfd, &v, sizeof(v)) != 0 || read_full(rfd, &back, sizeof(back)) != 0))
    die("pipe round trip", errno);
  return back;
}

static double bench_pipe(long iters) {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) die("pipe", errno);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork", errno);
  if (pid == 0) { /* the partner process: echo v + 1 until EOF */
    close(down[1]);
    close(up[0]);
    int v;
    while (read_full(down[0], &v, sizeof(v)) == 0) {
      v++;
      if (write_full(up[1], &v, sizeof(v)) != 0) break;
    }
    _exit(0);
  }
  close(down[0]);
  close(up[1]);
  for (int i = 0; i < 100; i++) pipe_roundtrip(down[1], up[0], i);
  long bad = 0;
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    int v = (int)(i & 0xffff);
    bad += pipe_roundtrip(down[1], up[0], v) != v + 1;
  }
  int64_t t1 = now_ns();
  close(down[1]); /* EOF: the partner exits */
  close(up[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid", errno);
  if (bad) die("pipe echo check", 0);
  return per_op(t0, t1, iters);
}

/* --- for scale: one system call --------------------------------------------------------------- */

/* getppid: the cheapest real system call (glibc does not cache it).  Thread
 * and process handoffs cost a few of these each; swapcontext costs two. */
static double bench_syscall(long iters) {
  long sink = 0;
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) sink += getppid();
  int64_t t1 = now_ns();
  if (sink < 0) die("getppid", 0);
  return per_op(t0, t1, iters);
}

/* --- creation: coroutine vs thread ------------------------------------------------------------ */

static void *return_arg(void *arg) { return arg; }

static double bench_create_destroy(long iters) {
  uintptr_t sink = 0;
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    coro *c;
    void *out = NULL;
    int rc = coro_create(&c, return_arg, (void *)(uintptr_t)i, NULL);
    if (UNLIKELY(rc < 0)) check_coro(rc, "coro_create");
    rc = coro_next(c, &out);
    if (UNLIKELY(rc != CORO_RETURNED)) check_coro(rc < 0 ? rc : -EPROTO, "coro_next");
    sink += (uintptr_t)out;
    rc = coro_destroy(c);
    if (UNLIKELY(rc < 0)) check_coro(rc, "coro_destroy");
  }
  int64_t t1 = now_ns();
  if (sink != (uintptr_t)iters * (uintptr_t)(iters - 1) / 2u) die("create/destroy check", 0);
  return per_op(t0, t1, iters);
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

/* --- memory: resident bytes per suspended coroutine / blocked thread -------------------------- */

/* Resident and page-table memory of this process, in bytes.  smaps_rollup
 * walks the page tables (exact); statm is the fallback (counters). */
static void read_mem(long *rss, long *pte) {
  char line[256];
  long kb;
  *rss = -1;
  *pte = -1;
  FILE *f = fopen("/proc/self/smaps_rollup", "re");
  if (f) {
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "Rss: %ld kB", &kb) == 1) *rss = kb * 1024;
    fclose(f);
  }
  if (*rss < 0 && (f = fopen("/proc/self/statm", "re"))) {
    long size, res;
    if (fscanf(f, "%ld %ld", &size, &res) == 2) *rss = res * sysconf(_SC_PAGESIZE);
    fclose(f);
  }
  if ((f = fopen("/proc/self/status", "re"))) {
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "VmPTE: %ld kB", &kb) == 1) *pte = kb * 1024;
    fclose(f);
  }
}

/* What a memory child sends back. */
typedef struct mem_result {
  long count;       /* coroutines or threads actually created */
  double rss_per;   /* RSS delta / count, bytes */
  double pte_per;   /* page-table delta / count, bytes (not part of RSS) */
  double create_ns; /* creating them (create + first resume), ns each */
  int err;          /* 0, or the error that stopped creation early */
} mem_result;

/* The body of a parked coroutine: one yield, so its stack is touched. */
static void *park_body(void *arg) {
  coro_yield(arg, NULL);
  return NULL;
}

static mem_result mem_coroutines_in(long n, int mode) {
  mem_result r = {0, NAN, NAN, NAN, 0};
  coro_attr a = CORO_ATTR_INIT;
  a.stack_mode = mode;
  long rss0, pte0, rss1, pte1;
  /* Handles: the benchmark's bookkeeping, made resident before the baseline
   * so that they do not count.  Not with zeros: gcc turns malloc + memset(0)
   * into calloc, whose fresh pages stay unmapped (they counted 8 B each). */
  coro **h = malloc((size_t)n * sizeof(*h));
  if (!h) {
    r.err = ENOMEM;
    return r;
  }
  memset(h, 0xff, (size_t)n * sizeof(*h));
  coro_stack_guard_mode(); /* per-thread and per-process setup, before the baseline */
  coro *warm;              /* the thread's shared stack (copy-stack), before the baseline */
  if (coro_create(&warm, park_body, NULL, &a) == 0) coro_destroy(warm);
  read_mem(&rss0, &pte0);
  int64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    int rc = coro_create(&h[i], park_body, NULL, &a);
    if (rc == 0) rc = coro_next(h[i], NULL) == CORO_YIELDED ? 0 : -EPROTO;
    if (rc < 0) {
      r.err = -rc;
      break;
    }
    r.count++;
  }
  int64_t t1 = now_ns();
  read_mem(&rss1, &pte1);
  if (r.count > 0) {
    r.rss_per = (double)(rss1 - rss0) / (double)r.count;
    r.pte_per = (double)(pte1 - pte0) / (double)r.count;
    r.create_ns = per_op(t0, t1, r.count);
  }
  return r; /* the child exits: no need to destroy 10^6 coroutines */
}

static mem_result mem_coroutines(long n) { return mem_coroutines_in(n, CORO_STACK_MODE_OWN); }
static mem_result mem_copystack(long n) { return mem_coroutines_in(n, CORO_STACK_MODE_COPY); }

typedef struct parked_threads {
  pthread_mutex_t mu; /* guards the fields below */
  pthread_cond_t cv;  /* signalled when `ready` grows and on `release` */
  long ready;         /* threads that reached their wait */
  int release;        /* never set: the child exits with its threads parked */
} parked_threads;

static void *parked_thread(void *arg) {
  parked_threads *p = arg;
  pthread_mutex_lock(&p->mu);
  p->ready++;
  pthread_cond_broadcast(&p->cv);
  while (!p->release) pthread_cond_wait(&p->cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* As many threads as the machine allows, up to n, each blocked on a condvar,
 * with the default stack size (8 MiB reserved, committed by touch). */
static mem_result mem_threads(long n) {
  mem_result r = {0, NAN, NAN, NAN, 0};
  static parked_threads p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  long rss0, pte0, rss1, pte1;
  pthread_t *tids = malloc((size_t)n * sizeof(*tids));
  if (!tids) {
    r.err = ENOMEM;
    return r;
  }
  memset(tids, 0xff, (size_t)n * sizeof(*tids));
  read_mem(&rss0, &pte0);
  for (long i = 0; i < n; i++) {
    int rc = pthread_create(&tids[i], NULL, parked_thread, &p);
    if (rc != 0) {
      r.err = rc;
      break;
    }
    r.count++;
  }
  pthread_mutex_lock(&p.mu);
  while (p.ready < r.count) pthread_cond_wait(&p.cv, &p.mu);
  pthread_mutex_unlock(&p.mu);
  read_mem(&rss1, &pte1);
  if (r.count > 0) {
    r.rss_per = (double)(rss1 - rss0) / (double)r.count;
    r.pte_per = (double)(pte1 - pte0) / (double)r.count;
  }
  return r; /* the child exits with them parked: the kernel ends them */
}

/* Run one memory measurement in a fresh child and fetch its result. */
static mem_result in_child(mem_result (*fn)(long), long n) {
  mem_result r = {0, NAN, NAN, NAN, 0};
  int fds[2];
  if (pipe(fds) != 0) die("pipe", errno);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork", errno);
  if (pid == 0) {
    close(fds[0]);
    mem_result res = fn(n);
    _exit(write_full(fds[1], &res, sizeof(res)) == 0 ? 0 : 1);
  }
  close(fds[1]);
  int got = read_full(fds[0], &r, sizeof(r));
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid", errno);
  if (got != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bench_core: memory child for n=%ld failed (status %d)\n", n, status);
    r.count = 0;
    r.rss_per = r.pte_per = NAN;
  }
  return r;
}

/* --- the figures ------------------------------------------------------------------------------ */

enum kind { ROUNDTRIP, CREATE, MEMORY, SCALE };

typedef struct figure {
  const char *key;             /* JSON key (and .dat key) */
  const char *label;           /* what it is, for the table and the plot */
  enum kind kind;              /* section of the table */
  const char *unit;            /* "ns" or "B" */
  double (*run)(long);         /* timing rows: one repeat, ns per operation */
  long iters_full;             /* iterations per repeat, default run */
  long iters_quick;            /* iterations per repeat, --quick */
  int base;                    /* index of the figure this one is compared with, -1 if none */
  int enabled;                 /* measured in this run */
  double samples[MAX_REPEATS]; /* one per repeat: ns per operation, or bytes per item */
  int nsamples;                /* samples taken */
  stats s;                     /* their median and spread */
  long count;                  /* memory rows: coroutines/threads created (last repeat) */
  double create_ns;            /* memory rows: median ns to create each (coroutines) */
  double pte;                  /* memory rows: median page-table bytes per item */
  int partial;                 /* memory rows: creation stopped early */
} figure;

enum {
  F_GEN,
  F_GEN_COPY,
  F_GEN_COPY_ALT,
  F_BOOST,
  F_CONDVAR,
  F_SEM,
  F_PIPE,
  F_UCONTEXT,
  F_SYSCALL,
  F_CREATE,
  F_BOOST_CREATE,
  F_PTHREAD,
  F_CREATE_COPY,
  F_RSS,
  F_RSS_1M,
  F_RSS_COPY_1M,
  F_RSS_COPY_10M,
  F_RSS_THREAD,
  F_COUNT
};

#define TIMING(k, l, kd, fn, full, quick, b)                                                       \
  {                                                                                                \
    .key = k, .label = l, .kind = kd, .unit = "ns", .run = fn, .iters_full = full,                 \
    .iters_quick = quick, .base = b, .enabled = 1                                                  \
  }
#define MEMORY_ROW(k, l, full, quick, b)                                                           \
  {                                                                                                \
    .key = k, .label = l, .kind = MEMORY, .unit = "B", .iters_full = full, .iters_quick = quick,   \
    .base = b, .enabled = 1                                                                        \
  }

/* Iterations per repeat are sized for ~50-500 ms per repeat on the reference
 * machine (see bench/README.md); memory rows give the count to create. */
static figure figs[F_COUNT] = {
    [F_GEN] = TIMING("gen_roundtrip_ns", "libcoro generator send+yield", ROUNDTRIP, bench_gen,
                     20000000, 6000000, -1),
    [F_GEN_COPY] = TIMING("gen_roundtrip_copystack_ns", "the same, copy-stack generator", ROUNDTRIP,
                          bench_gen_copy, 20000000, 6000000, F_GEN),
    [F_GEN_COPY_ALT] =
        TIMING("gen_roundtrip_copystack_alternate_ns", "2 copy-stack gens in turn (copying)",
               ROUNDTRIP, bench_gen_copy_alternate, 5000000, 1000000, F_GEN),
#ifdef HAVE_BOOST_FCONTEXT
    [F_BOOST] = TIMING("boost_fcontext_roundtrip_ns", "Boost fcontext jump there+back", ROUNDTRIP,
                       bench_boost, 20000000, 6000000, F_GEN),
#else
    [F_BOOST] = {.key = "boost_fcontext_roundtrip_ns",
                 .label = "Boost fcontext jump there+back",
                 .kind = ROUNDTRIP,
                 .unit = "ns",
                 .base = F_GEN,
                 .enabled = 0},
#endif
    [F_CONDVAR] = TIMING("thread_condvar_roundtrip_ns", "2 threads, mutex+condvar", ROUNDTRIP,
                         bench_condvar, 20000, 5000, F_GEN),
    [F_SEM] = TIMING("thread_sem_roundtrip_ns", "2 threads, 2 semaphores", ROUNDTRIP, bench_sem,
                     20000, 5000, F_GEN),
    [F_PIPE] = TIMING("process_pipe_roundtrip_ns", "2 processes, 2 pipes", ROUNDTRIP, bench_pipe,
                      20000, 5000, F_GEN),
    [F_UCONTEXT] = TIMING("ucontext_roundtrip_ns", "glibc swapcontext there+back", ROUNDTRIP,
                          bench_ucontext, 100000, 40000, F_GEN),
    [F_SYSCALL] = TIMING("syscall_ns", "one system call (getppid)", SCALE, bench_syscall, 300000,
                         60000, F_GEN),
    [F_CREATE] = TIMING("create_destroy_ns", "coro_create+next+destroy", CREATE,
                        bench_create_destroy, 2000000, 1000000, -1),
#ifdef HAVE_BOOST_FCONTEXT
    [F_BOOST_CREATE] = TIMING("boost_create_destroy_ns", "Boost: malloc+make+run+free", CREATE,
                              bench_boost_create, 2000000, 1000000, F_CREATE),
#else
    [F_BOOST_CREATE] = {.key = "boost_create_destroy_ns",
                        .label = "Boost: malloc+make+run+free",
                        .kind = CREATE,
                        .unit = "ns",
                        .base = F_CREATE,
                        .enabled = 0},
#endif
    [F_PTHREAD] = TIMING("pthread_create_join_ns", "pthread_create+join", CREATE,
                         bench_pthread_create_join, 3000, 1500, F_CREATE),
    [F_CREATE_COPY] = TIMING("create_suspended_copystack_ns", "create+next 10^6 copy-stack, kept",
                             CREATE, bench_create_copy, 1000000, 200000, F_CREATE),
    [F_RSS] = MEMORY_ROW("rss_per_suspended_bytes", "RSS per suspended coroutine, 100k", 100000,
                         100000, -1),
    [F_RSS_1M] = MEMORY_ROW("rss_per_suspended_1m_bytes", "RSS per suspended coroutine, 1M",
                            1000000, 1000000, F_RSS),
    [F_RSS_COPY_1M] = MEMORY_ROW("rss_per_suspended_copystack_1m_bytes", "the same, copy-stack, 1M",
                                 1000000, 1000000, F_RSS_1M),
    [F_RSS_COPY_10M] = MEMORY_ROW("rss_per_suspended_copystack_10m_bytes",
                                  "the same, copy-stack, 10M", 10000000, 10000000, F_RSS_1M),
    [F_RSS_THREAD] =
        MEMORY_ROW("rss_per_thread_bytes", "RSS per blocked thread", 10000, 2000, F_RSS),
};

static long iters_of(const figure *f) { return opt.quick ? f->iters_quick : f->iters_full; }

/* num / den.  Two timing rows are compared round by round: the ratio of the
 * two samples of each round (taken seconds apart), then the median of those.
 * This machine drifts between speed states by ~30% for everything at once;
 * a paired ratio cancels that, a ratio of two medians may pair a fast median
 * with a slow one.  Memory rows (one child each, no drift): medians. */
static stats ratio_stats(int num, int den) {
  const figure *a = &figs[num], *b = &figs[den];
  stats none = {NAN, NAN, NAN};
  if (!a->enabled || !b->enabled || !a->nsamples || !b->nsamples) return none;
  if (a->run && b->run && a->nsamples == b->nsamples) {
    double r[MAX_REPEATS];
    for (int i = 0; i < a->nsamples; i++) r[i] = a->samples[i] / b->samples[i];
    return summarize(r, a->nsamples);
  }
  if (b->s.median <= 0) return none;
  double m = a->s.median / b->s.median;
  stats s = {m, a->s.min / b->s.max, a->s.max / b->s.min};
  return s;
}

static double ratio(int num, int den) { return ratio_stats(num, den).median; }

/* The timing rows, round-robin: one warm-up round (discarded), then repeat r
 * of every row before repeat r+1 of any. */
static void run_timing(void) {
  progress("timing: warm-up round, then %d rounds:", opt.repeats);
  for (int i = 0; i < F_COUNT; i++) {
    figure *f = &figs[i];
    if (!f->enabled || !f->run) continue;
    long n = iters_of(f) / 10;
    f->run(n < 10 ? 10 : n);
  }
  for (int r = 0; r < opt.repeats; r++) {
    for (int i = 0; i < F_COUNT; i++) {
      figure *f = &figs[i];
      if (!f->enabled || !f->run) continue;
      f->samples[f->nsamples++] = f->run(iters_of(f));
    }
    progress(" %d", r + 1);
  }
  progress("\n");
}

/* One memory row: `reps` children (10^7 coroutines take a while each). */
static void run_memory_row(int i, mem_result (*fn)(long), int reps) {
  figure *f = &figs[i];
  double pte[MAX_REPEATS], create[MAX_REPEATS];
  long n = iters_of(f);
  if (!f->enabled) return;
  progress("memory: %s, n=%ld, %d children:", f->key, n, reps);
  for (int r = 0; r < reps; r++) {
    mem_result m = in_child(fn, n);
    if (m.count <= 0) continue;
    f->count = m.count;
    f->partial |= m.count < n;
    if (m.err && m.count < n) progress(" [stopped at %ld: %s]", m.count, strerror(m.err));
    pte[f->nsamples] = m.pte_per;
    create[f->nsamples] = m.create_ns;
    f->samples[f->nsamples++] = m.rss_per;
    progress(" %.0f", m.rss_per);
  }
  progress("\n");
  f->pte = summarize(pte, f->nsamples).median;
  f->create_ns = summarize(create, f->nsamples).median;
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

typedef struct target {
  const char *key;  /* JSON key */
  const char *what; /* the target in words */
  stats value;      /* the measured ratio (paired, see ratio_stats) or figure */
  double limit;     /* the bound */
  int at_most;      /* 1: value <= limit passes; 0: value >= limit passes */
  int is_ratio;     /* 1: a ratio ("x"); 0: bytes */
  int available;    /* measured in this run */
} target;

enum { T_BOOST, T_CONDVAR, T_CREATE, T_RSS, T_GEN_COPY, T_CREATE_COPY, T_RSS_COPY, T_COUNT };
static target targets[T_COUNT];

static target make_target(const char *key, const char *what, stats value, double limit, int at_most,
                          int is_ratio, int available) {
  target t = {key, what, value, limit, at_most, is_ratio, available};
  return t;
}

static void compute_targets(void) {
  targets[T_BOOST] = make_target("gen_vs_boost", "gen round trip no slower than Boost fcontext",
                                 ratio_stats(F_GEN, F_BOOST), 1.0, 1, 1, figs[F_BOOST].enabled);
  targets[T_CONDVAR] = make_target("condvar_vs_gen", "condvar handoff >= 1000x gen round trip",
                                   ratio_stats(F_CONDVAR, F_GEN), RATIO_TARGET, 0, 1, 1);
  targets[T_CREATE] =
      make_target("pthread_vs_create", "pthread create+join >= 1000x coro create+destroy",
                  ratio_stats(F_PTHREAD, F_CREATE), RATIO_TARGET, 0, 1, 1);
  targets[T_RSS] =
      make_target("rss_per_suspended", "RSS per suspended coroutine <= 4403 B (4.3 KiB)",
                  figs[F_RSS].s, RSS_TARGET_BYTES, 1, 0, 1);
  targets[T_GEN_COPY] =
      make_target("gen_copystack_vs_gen", "copy-stack gen round trip <= 2x ordinary",
                  ratio_stats(F_GEN_COPY, F_GEN), 2.0, 1, 1, 1);
  /* libaco is not packaged here: its figure comes from the reference file
   * (/work/shared/reference/figures.md, issue 10), not from this run. */
  const stats *cc = &figs[F_CREATE_COPY].s;
  stats aco = {cc->median / LIBACO_CREATE_NS, cc->min / LIBACO_CREATE_NS,
               cc->max / LIBACO_CREATE_NS};
  targets[T_CREATE_COPY] = make_target("create_copystack_vs_libaco",
                                       "create 10^6 copy-stack <= 1x libaco (246 ns, reference)",
                                       aco, 1.0, 1, 1, figs[F_CREATE_COPY].nsamples > 0);
  targets[T_RSS_COPY] = make_target(
      "rss_per_suspended_copystack_10m", "copy-stack RSS per suspended coroutine at 10^7 <= 400 B",
      figs[F_RSS_COPY_10M].s, 400.0, 1, 0, figs[F_RSS_COPY_10M].nsamples > 0);
}

static int target_pass(const target *t) {
  double v = t->value.median;
  if (!t->available || isnan(v)) return 0;
  return t->at_most ? v <= t->limit : v >= t->limit;
}

/* Under the memory rows: how many were created, and the page tables they
 * cost on top (kernel memory that RSS does not show). */
static void print_memory_notes(void) {
  char b1[32];
  for (int i = F_RSS; i <= F_RSS_THREAD; i++) {
    const figure *f = &figs[i];
    if (!f->enabled || !f->nsamples) continue;
    printf("  %s: %ld created%s; page tables +%s B each (not in RSS)", f->key, f->count,
           f->partial ? " (stopped early: the machine's limit)" : "", fmt(b1, sizeof(b1), f->pte));
    if (!isnan(f->create_ns) && i != F_RSS_THREAD)
      printf("; created in %s ns each", fmt(b1, sizeof(b1), f->create_ns));
    printf("\n");
  }
  printf("  (coroutines: 64 KiB stacks reserved, copy-stack: one shared stack, frames saved to\n"
         "   the heap; threads: default attributes, 8 MiB stacks\n"
         "   reserved, plus a 16 KiB kernel stack and task struct each that RSS does not show)\n");
}

static void print_table(const machine *m, int guard) {
  char b1[32], b2[32], b3[32], b4[32];
  printf("libcoro bench_core (%s): medians of %d repeats (memory: %d), spread = min..max of "
         "the repeats;\n\"vs coroutine\" = median of the per-round ratios (see \"ratios\")\n",
         opt.quick ? "--quick" : "full", opt.repeats, MEMORY_REPEATS);
  printf("machine: %s, %ld CPUs, Linux %s, %s; libcoro switch: %s, stack guards: %s; %s\n", m->cpu,
         m->nproc, m->kernel, COMPILER, CORO_BENCH_SWITCH, guard_mode_name(guard),
         !opt.pin     ? "unpinned"
         : pin_failed ? "--pin refused by the system: unpinned"
                      : "thread rows pinned to CPU 0 (--pin)");
  static const char *const section[] = {
      "round trips (hand a value over and get it back)",
      "creation (create, run to completion, free)",
      "memory (resident bytes per parked coroutine or thread)",
      "for scale",
  };
  for (int k = ROUNDTRIP; k <= SCALE; k++) {
    printf("\n%s\n", section[k]);
    printf("  %-28s %-35s %10s  %-21s %-4s %s\n", "name", "what", "median", "spread (min..max)",
           "unit", "vs coroutine");
    for (int i = 0; i < F_COUNT; i++) {
      const figure *f = &figs[i];
      if ((int)f->kind != k) continue;
      if (!f->enabled) {
        printf("  %-28s %-35s %10s  %-21s %-4s %s\n", f->key, f->label, "-", "-", f->unit,
               i == F_BOOST || i == F_BOOST_CREATE ? "(not built: no Boost.Context at build time)"
                                                   : "(skipped: --quick)");
        continue;
      }
      char spread[80];
      snprintf(spread, sizeof(spread), "%s..%s", fmt(b2, sizeof(b2), f->s.min),
               fmt(b3, sizeof(b3), f->s.max));
      const char *vs = f->base < 0 ? "1 (base)" : fmt_ratio(b4, sizeof(b4), ratio(i, f->base));
      printf("  %-28s %-35s %10s  %-21s %-4s %s\n", f->key, f->label,
             fmt(b1, sizeof(b1), f->s.median), spread, f->unit, vs);
      if (opt.samples) {
        printf("  %-28s samples in order:", "");
        for (int r = 0; r < f->nsamples; r++) printf(" %s", fmt(b1, sizeof(b1), f->samples[r]));
        printf("\n");
      }
    }
    if (k == MEMORY) print_memory_notes();
  }

  printf("\nratios (timing: median of the per-round ratios; memory: ratio of the medians)\n");
  static const struct {
    const char *name;
    int num, den;
  } ratios[] = {
      {"condvar / gen", F_CONDVAR, F_GEN},
      {"sem / gen", F_SEM, F_GEN},
      {"pipe / gen", F_PIPE, F_GEN},
      {"ucontext / gen", F_UCONTEXT, F_GEN},
      {"gen / boost", F_GEN, F_BOOST},
      {"gen copy-stack / gen", F_GEN_COPY, F_GEN},
      {"gen copy-stack alternating / gen", F_GEN_COPY_ALT, F_GEN},
      {"rss copy-stack 1M / ordinary 1M", F_RSS_COPY_1M, F_RSS_1M},
      {"pthread_create_join / create_destroy", F_PTHREAD, F_CREATE},
      {"rss thread / coroutine", F_RSS_THREAD, F_RSS},
  };
  printf("  %-38s %10s  %s\n", "", "median", "spread (min..max)");
  for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
    stats r = ratio_stats(ratios[i].num, ratios[i].den);
    char spread[80];
    snprintf(spread, sizeof(spread), "%s..%s", fmt_ratio(b2, sizeof(b2), r.min),
             fmt_ratio(b3, sizeof(b3), r.max));
    printf("  %-38s %10s  %s\n", ratios[i].name, fmt_ratio(b1, sizeof(b1), r.median),
           isnan(r.median) ? "" : spread);
  }

  printf("\ntargets (ratios measured in this run; printed, not asserted)\n");
  for (int i = 0; i < T_COUNT; i++) {
    const target *t = &targets[i];
    if (!t->available) {
      printf("  n/a   %-50s (not built with Boost.Context)\n", t->what);
      continue;
    }
    char val[128];
    if (t->is_ratio)
      snprintf(val, sizeof(val), "%s (rounds: %s..%s)", fmt_ratio(b1, sizeof(b1), t->value.median),
               fmt_ratio(b2, sizeof(b2), t->value.min), fmt_ratio(b3, sizeof(b3), t->value.max));
    else
      snprintf(val, sizeof(val), "%s B", fmt(b1, sizeof(b1), t->value.median));
    printf("  %-5s %-50s measured %s\n", target_pass(t) ? "PASS" : "MISS", t->what, val);
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

/* Every key is always there (null when not measured, e.g. the 1M case under
 * --quick), except Boost's, which exists only in builds that have the row. */
static int json_has(int i) { return (i != F_BOOST && i != F_BOOST_CREATE) || figs[i].enabled; }

static void print_json(const machine *m, int guard) {
  FILE *o = stdout;
  fputc('{', o);
  for (int i = 0; i < F_COUNT; i++) {
    if (!json_has(i)) continue;
    json_str(o, figs[i].key);
    fputc(':', o);
    json_num(o, figs[i].s.median);
    fputc(',', o);
  }
  fputs("\"spread\":{", o);
  for (int i = 0, first = 1; i < F_COUNT; i++) {
    if (!json_has(i)) continue;
    if (!first) fputc(',', o);
    first = 0;
    json_str(o, figs[i].key);
    if (!figs[i].nsamples) {
      fputs(":null", o);
      continue;
    }
    fputs(":[", o);
    json_num(o, figs[i].s.min);
    fputc(',', o);
    json_num(o, figs[i].s.max);
    fputc(']', o);
  }
  fputs("},\"ratios\":{", o);
  fputs("\"condvar_gen\":", o);
  json_num(o, ratio(F_CONDVAR, F_GEN));
  fputs(",\"sem_gen\":", o);
  json_num(o, ratio(F_SEM, F_GEN));
  fputs(",\"pipe_gen\":", o);
  json_num(o, ratio(F_PIPE, F_GEN));
  fputs(",\"ucontext_gen\":", o);
  json_num(o, ratio(F_UCONTEXT, F_GEN));
  fputs(",\"gen_boost\":", o);
  json_num(o, ratio(F_GEN, F_BOOST));
  fputs(",\"pthread_create_join_create_destroy\":", o);
  json_num(o, ratio(F_PTHREAD, F_CREATE));
  fputs(",\"rss_thread_coroutine\":", o);
  json_num(o, ratio(F_RSS_THREAD, F_RSS));
  fputs(",\"gen_copystack_gen\":", o);
  json_num(o, ratio(F_GEN_COPY, F_GEN));
  fputs(",\"gen_copystack_alternate_gen\":", o);
  json_num(o, ratio(F_GEN_COPY_ALT, F_GEN));
  fputs(",\"rss_copystack_1m_ordinary_1m\":", o);
  json_num(o, ratio(F_RSS_COPY_1M, F_RSS_1M));
  fputs("},\"targets\":{", o);
  for (int i = 0; i < T_COUNT; i++) {
    if (i) fputc(',', o);
    json_str(o, targets[i].key);
    fputs(":{\"value\":", o);
    json_num(o, targets[i].value.median);
    fputs(",\"limit\":", o);
    json_num(o, targets[i].limit);
    fprintf(o, ",\"pass\":%s}",
            !targets[i].available      ? "null"
            : target_pass(&targets[i]) ? "true"
                                       : "false");
  }
  fputs("},\"pte_per_suspended_bytes\":", o);
  json_num(o, figs[F_RSS].pte);
  fputs(",\"pte_per_thread_bytes\":", o);
  json_num(o, figs[F_RSS_THREAD].pte);
  fprintf(o, ",\"rss_threads_created\":%ld", figs[F_RSS_THREAD].count);
  fputs(",\"create_suspended_1m_ns\":", o); /* from the memory children */
  json_num(o, figs[F_RSS_1M].nsamples ? figs[F_RSS_1M].create_ns : NAN);
  fputs(",\"create_suspended_copystack_1m_ns\":", o);
  json_num(o, figs[F_RSS_COPY_1M].nsamples ? figs[F_RSS_COPY_1M].create_ns : NAN);
  fputs(",\"create_suspended_copystack_10m_ns\":", o);
  json_num(o, figs[F_RSS_COPY_10M].nsamples ? figs[F_RSS_COPY_10M].create_ns : NAN);
  fputs(",\"machine\":{\"cpu\":", o);
  json_str(o, m->cpu);
  fprintf(o, ",\"nproc\":%ld,\"kernel\":", m->nproc);
  json_str(o, m->kernel);
  fputs(",\"compiler\":", o);
  json_str(o, COMPILER);
  fputs("},\"switch\":", o);
  json_str(o, CORO_BENCH_SWITCH);
  fputs(",\"stack_guard\":", o);
  json_str(o, guard_mode_name(guard));
  fprintf(o, ",\"repeats\":%d,\"memory_repeats\":%d,\"mode\":\"%s\",\"pinned\":%s,\"boost\":%s}\n",
          opt.repeats, MEMORY_REPEATS, opt.quick ? "quick" : "full",
          opt.pin && !pin_failed ? "true" : "false", figs[F_BOOST].enabled ? "true" : "false");
  fflush(o);
}

/* The .dat file plot.sh reads: one row per figure, whitespace-separated,
 * the label quoted last (gnuplot reads quoted strings as one column). */
static void write_dat(const char *path) {
  static const char *const kinds[] = {"roundtrip", "create", "memory", "scale"};
  FILE *f = fopen(path, "we");
  if (!f) {
    fprintf(stderr, "bench_core: cannot write %s: %s\n", path, strerror(errno));
    return;
  }
  fprintf(f, "# bench_core %s, median of %d repeats%s\n", opt.quick ? "--quick" : "full",
          opt.repeats, opt.pin ? ", thread rows pinned" : "");
  fprintf(f, "# kind key median min max unit vs_coroutine label\n");
  for (int i = 0; i < F_COUNT; i++) {
    const figure *f2 = &figs[i];
    if (!f2->enabled || isnan(f2->s.median)) continue;
    double vs = f2->base < 0 ? 1.0 : ratio(i, f2->base);
    fprintf(f, "%s %s %.6g %.6g %.6g %s %.6g \"%s\"\n", kinds[f2->kind], f2->key, f2->s.median,
            f2->s.min, f2->s.max, f2->unit, vs, f2->label);
  }
  fclose(f);
}

/* <directory of this executable>/bench_core.dat */
static void default_dat_path(char *buf, size_t cap, const char *argv0) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0)
    exe[n] = '\0';
  else
    snprintf(exe, sizeof(exe), "%s", argv0);
  char *slash = strrchr(exe, '/');
  if (slash) {
    *slash = '\0';
    snprintf(buf, cap, "%s/bench_core.dat", exe);
  } else {
    snprintf(buf, cap, "bench_core.dat");
  }
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_core [--quick] [--json] [--pin] [--samples] [--repeats N] [--dat PATH]\n"
          "  --quick      fewer iterations, only the 100k RSS case (~7 s here)\n"
          "  --json       one JSON object on one line on stdout, nothing else\n"
          "  --pin        run the two-thread rows with both threads on CPU 0\n"
          "  --samples    print every repeat's figure under its row\n"
          "  --repeats N  repeats per timing figure, 5..%d (default 9, --quick 5);\n"
          "               memory figures always take 5 (one child each)\n"
          "  --dat PATH   where to write the plot data (default: next to the binary)\n",
          MAX_REPEATS);
}

int main(int argc, char **argv) {
  char dat_buf[4096 + 32]; /* the binary's directory + "/bench_core.dat" */
  opt.repeats = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (strcmp(a, "--quick") == 0) {
      opt.quick = 1;
    } else if (strcmp(a, "--json") == 0) {
      opt.json = 1;
    } else if (strcmp(a, "--pin") == 0) {
      opt.pin = 1;
    } else if (strcmp(a, "--samples") == 0) {
      opt.samples = 1;
    } else if (strcmp(a, "--dat") == 0 && has_value) {
      opt.dat = argv[++i];
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
  if (!opt.repeats) opt.repeats = opt.quick ? 5 : 9; /* the full run can afford a steadier median */
  if (opt.repeats < 5 || opt.repeats > MAX_REPEATS) {
    fprintf(stderr, "bench_core: --repeats must be 5..%d\n", MAX_REPEATS);
    return 2;
  }
  if (!opt.dat) {
    default_dat_path(dat_buf, sizeof(dat_buf), argv[0]);
    opt.dat = dat_buf;
  }
  if (opt.quick) figs[F_RSS_1M].enabled = figs[F_RSS_COPY_10M].enabled = 0;

  machine m;
  describe_machine(&m);
  int64_t start = now_ns();

  /* Memory first: every child then forks from a parent that has not made a
   * coroutine yet, so no warm stack slot is inherited. */
  run_memory_row(F_RSS, mem_coroutines, MEMORY_REPEATS);
  run_memory_row(F_RSS_1M, mem_coroutines, MEMORY_REPEATS);
  run_memory_row(F_RSS_COPY_1M, mem_copystack, MEMORY_REPEATS);
  run_memory_row(F_RSS_COPY_10M, mem_copystack, 3);
  run_memory_row(F_RSS_THREAD, mem_threads, MEMORY_REPEATS);
  int guard = coro_stack_guard_mode();
  run_timing();

  for (int i = 0; i < F_COUNT; i++) figs[i].s = summarize(figs[i].samples, figs[i].nsamples);
  compute_targets();
  progress("done in %.1f s\n\n", (double)(now_ns() - start) / 1e9);

  if (opt.json)
    print_json(&m, guard);
  else
    print_table(&m, guard);
  write_dat(opt.dat);
  if (!opt.json) printf("\nplot data: %s\n", opt.dat);
  return 0;
}
