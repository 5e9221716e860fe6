/* SPDX-License-Identifier: MIT */
/*
 * gdb_target.c - the program tests/gdb_check.cmake debugs with gdb and
 * tools/gdb/libcoro-gdb.py.
 *
 * Every scenario ends in gdb_checkpoint() (a breakpoint target) and then, for
 * "-abort" modes, abort() (where gdb writes the core file).  The "parked"
 * scenario leaves coroutines parked in known functions, each named after what
 * it does, so that the test can check name, state and the parked function:
 *
 *   sleeper   micro-thread, group member, in park_in_sleep -> coro_sleep
 *   receiver  micro-thread, in park_in_recv -> coro_chan_recv
 *   joiner    micro-thread, in park_in_join -> coro_join(sleeper)
 *   holder    micro-thread holding a mutex, in park_in_hold -> coro_sleep
 *   locker    micro-thread, in park_in_lock -> coro_mutex_lock
 *   gen       generator SUSPENDED in gen_inner <- gen_outer <- gen_body
 *   fresh     generator CREATED          done   generator CLOSED
 *   stopper   micro-thread NORMAL: it resumed `outer`
 *   outer     generator RUNNING, in gdb_checkpoint
 *   t2-gen    generator of a second thread, SUSPENDED in t2_inner
 *   cs-here   copy-stack generator SUSPENDED in cs_inner, its frames on the
 *             thread's shared stack (its occupant)
 *   cs-away   copy-stack generator SUSPENDED in cs_inner, its frames saved
 *             in its heap buffer (not in the ucontext build: no copy-stack)
 *   (none)    copy-stack generator of the second thread, no name, SUSPENDED
 *             in anon_inner, occupant of that thread's shared stack: it has
 *             never needed its cold part, so its coro.cold is NULL (listed
 *             with "-" as its name; not in the ucontext build)
 *
 * The other modes are the bad input of the gdb commands: "none" (libcoro
 * linked but never used), "empty" (a thread whose coroutines are all gone),
 * "stale" (a coroutine destroyed between two checkpoints), and lists damaged
 * the way a memory bug would: "damaged" (a link into unmapped memory),
 * "freed" (a destroyed coroutine linked back in), "cycle".  Those reach into
 * src/internal.h: the library itself never leaves its lists so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"

#define HOUR ((int64_t)3600 * 1000000000)

static int abort_mode;    /* abort() after the checkpoint: gdb writes a core there */
static coro_chan *chan;   /* receiver waits on it */
static coro_mutex *mtx;   /* holder holds it, locker waits for it */
static coro *sleeper;     /* joiner waits for it */
static coro *gen, *outer; /* resumed by stopper */
static int pipefd[2];     /* the second thread blocks reading it */
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int t2_ready;

/* The breakpoint target: gdb stops here with every scenario in place. */
void gdb_checkpoint(void);
__attribute__((noinline)) void gdb_checkpoint(void) { __asm__ volatile("" ::: "memory"); }

static void checkpoint_then_maybe_abort(void) {
  gdb_checkpoint();
  if (abort_mode) abort();
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "gdb_target: %s: %s\n", what, coro_strerror(rc));
    exit(2);
  }
}

static coro *make(coro_fn fn, void *arg, const char *name, int spawn, coro_group *g) {
  coro_attr a;
  coro_attr_init(&a);
  a.name = name;
  coro *c = NULL;
  if (g)
    check(coro_group_spawn(g, fn, arg, &a), "coro_group_spawn");
  else if (spawn)
    check(coro_spawn(&c, fn, arg, &a), "coro_spawn");
  else
    check(coro_create(&c, fn, arg, &a), "coro_create");
  return c;
}

/* --- the "parked" scenario ----------------------------------------------- */

__attribute__((noinline)) static int park_in_sleep(void) { return coro_sleep(coro_now() + HOUR); }
static void *sleeper_body(void *arg) {
  (void)arg;
  park_in_sleep();
  return NULL;
}

__attribute__((noinline)) static int park_in_recv(void) {
  int v;
  return coro_chan_recv(chan, &v, -1);
}
static void *receiver_body(void *arg) {
  (void)arg;
  park_in_recv();
  return NULL;
}

__attribute__((noinline)) static int park_in_join(void) { return coro_join(sleeper, NULL, -1); }
static void *joiner_body(void *arg) {
  (void)arg;
  park_in_join();
  return NULL;
}

__attribute__((noinline)) static int park_in_hold(void) {
  return coro_sleep(coro_now() + 2 * HOUR); /* not park_in_sleep's code: no folding */
}
static void *holder_body(void *arg) {
  (void)arg;
  check(coro_mutex_lock(mtx, -1), "coro_mutex_lock");
  park_in_hold();
  return NULL;
}

__attribute__((noinline)) static int park_in_lock(void) { return coro_mutex_lock(mtx, -1); }
static void *locker_body(void *arg) {
  (void)arg;
  park_in_lock();
  return NULL;
}

__attribute__((noinline)) static int gen_inner(int depth) {
  void *in;
  return coro_yield((void *)(intptr_t)depth, &in);
}
__attribute__((noinline)) static int gen_outer(int depth) { return gen_inner(depth + 1) + 1; }
static void *gen_body(void *arg) {
  (void)arg;
  for (;;) gen_outer(1);
  return NULL;
}

static void *done_body(void *arg) { return arg; }

/* Two copy-stack generators suspended in cs_inner: cs-away resumed first, so
 * its frames were saved away when cs-here took the shared stack. */
__attribute__((noinline)) static int cs_inner(void) {
  void *in;
  return coro_yield(NULL, &in);
}
static void *cs_body(void *arg) {
  (void)arg;
  for (;;) cs_inner();
  return NULL;
}

static void make_copy_stack_pair(void) {
  coro_attr a;
  coro_attr_init(&a);
  a.stack_mode = CORO_STACK_MODE_COPY;
  a.name = "cs-away";
  coro *away, *here;
  int rc = coro_create(&away, cs_body, NULL, &a);
  if (rc == -ENOTSUP) return; /* the ucontext build has no copy-stack mode */
  check(rc, "coro_create(cs-away)");
  a.name = "cs-here";
  check(coro_create(&here, cs_body, NULL, &a), "coro_create(cs-here)");
  check(coro_next(away, NULL), "coro_next(cs-away)");
  check(coro_next(here, NULL), "coro_next(cs-here)");
}

static void *outer_body(void *arg) {
  (void)arg;
  checkpoint_then_maybe_abort();
  return NULL;
}

static void *stopper_body(void *arg) {
  (void)arg;
  check(coro_next(gen, NULL), "coro_next(gen)");
  /* Every other micro-thread has parked by now (FIFO: they ran first); the
   * second thread's generator is suspended too. */
  pthread_mutex_lock(&ready_lock);
  while (!t2_ready) pthread_cond_wait(&ready_cond, &ready_lock);
  pthread_mutex_unlock(&ready_lock);
  coro_next(outer, NULL);
  return NULL;
}

__attribute__((noinline)) static int t2_inner(void) {
  void *in;
  return coro_yield(NULL, &in) + 1; /* not a tail call: this frame stays */
}
static void *t2_body(void *arg) {
  (void)arg;
  for (;;) t2_inner();
  return NULL;
}

/* A plain copy-stack generator: no name, never parked, so it has no cold
 * part (src/internal.h, coro__cold); gdb reads its missing fields as empty. */
__attribute__((noinline)) static int anon_inner(void) {
  void *in;
  return coro_yield(NULL, &in) + 1; /* not a tail call: this frame stays */
}
static void *anon_body(void *arg) {
  (void)arg;
  for (;;) anon_inner();
  return NULL;
}

static void make_coldless(void) {
  coro_attr a;
  coro_attr_init(&a);
  a.stack_mode = CORO_STACK_MODE_COPY;
  coro *c;
  int rc = coro_create(&c, anon_body, NULL, &a);
  if (rc == -ENOTSUP) return; /* the ucontext build has no copy-stack mode */
  check(rc, "coro_create(anonymous copy-stack)");
  check(coro_next(c, NULL), "coro_next(anonymous copy-stack)");
  if (c->cold != NULL) { /* the scenario this exists for is gone */
    fprintf(stderr, "gdb_target: the anonymous copy-stack generator has a cold part\n");
    exit(2);
  }
}

static void *second_thread(void *arg) {
  (void)arg;
  coro *g = make(t2_body, NULL, "t2-gen", 0, NULL);
  check(coro_next(g, NULL), "coro_next(t2-gen)");
  make_coldless(); /* the thread's shared stack is its alone */
  pthread_mutex_lock(&ready_lock);
  t2_ready = 1;
  pthread_cond_signal(&ready_cond);
  pthread_mutex_unlock(&ready_lock);
  char b;
  while (read(pipefd[0], &b, 1) < 0) {} /* blocks: nobody writes */
  return NULL;
}

static void parked(void) {
  check(coro_chan_create(&chan, sizeof(int), 0), "coro_chan_create");
  check(coro_mutex_create(&mtx), "coro_mutex_create");
  if (pipe(pipefd) < 0) exit(2);
  pthread_t th;
  if (pthread_create(&th, NULL, second_thread, NULL) != 0) exit(2);

  coro_group *g;
  check(coro_group_create(&g, 0), "coro_group_create");
  sleeper = make(sleeper_body, NULL, "sleeper", 1, NULL);
  make(receiver_body, NULL, "receiver", 1, NULL);
  make(joiner_body, NULL, "joiner", 1, NULL);
  make(holder_body, NULL, "holder", 0, g);
  make(locker_body, NULL, "locker", 1, NULL);
  gen = make(gen_body, NULL, "gen", 0, NULL);
  outer = make(outer_body, NULL, "outer", 0, NULL);
  make(gen_body, NULL, "fresh", 0, NULL);
  coro *done = make(done_body, NULL, "done", 0, NULL);
  check(coro_next(done, NULL), "coro_next(done)");
  make_copy_stack_pair();
  make(stopper_body, NULL, "stopper", 1, NULL);
  coro_run();
}

/* --- bad input ---------------------------------------------------------- */

/* Yields until it is closed. */
static void *yield_forever(void *arg) {
  (void)arg;
  while (coro_yield(NULL, NULL) == 0) {}
  return NULL;
}

/* Three suspended generators, newest first in the thread's list: c, b, a. */
static void three(coro **a, coro **b, coro **c) {
  *a = make(yield_forever, NULL, "first", 0, NULL);
  *b = make(yield_forever, NULL, "second", 0, NULL);
  *c = make(yield_forever, NULL, "third", 0, NULL);
  check(coro_next(*a, NULL), "coro_next");
  check(coro_next(*b, NULL), "coro_next");
  check(coro_next(*c, NULL), "coro_next");
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "parked";
  size_t n = strlen(mode);
  if (n > 6 && strcmp(mode + n - 6, "-abort") == 0) abort_mode = 1;
  coro *a, *b, *c;
  if (strncmp(mode, "parked", 6) == 0) {
    parked();
  } else if (strcmp(mode, "none") == 0) {
    (void)coro_now();
    checkpoint_then_maybe_abort();
  } else if (strcmp(mode, "empty") == 0) {
    a = make(yield_forever, NULL, "gone", 0, NULL);
    check(coro_destroy(a), "coro_destroy");
    checkpoint_then_maybe_abort();
  } else if (strcmp(mode, "stale") == 0) {
    a = make(yield_forever, NULL, "ephemeral", 0, NULL);
    check(coro_next(a, NULL), "coro_next");
    gdb_checkpoint();
    check(coro_destroy(a), "coro_destroy");
    b = make(yield_forever, NULL, "replacement", 0, NULL);
    check(coro_next(b, NULL), "coro_next");
    checkpoint_then_maybe_abort();
  } else if (strcmp(mode, "damaged") == 0) {
    three(&a, &b, &c);
    c->all_next = (coro *)(uintptr_t)0x10; /* a wild pointer into unmapped memory */
    checkpoint_then_maybe_abort();
  } else if (strcmp(mode, "freed") == 0) {
    three(&a, &b, &c);
    check(coro_destroy(b), "coro_destroy");
    c->all_next = b; /* a use-after-free: b is linked again, destroyed */
    a->all_prev = b;
    b->all_prev = c;
    b->all_next = a;
    checkpoint_then_maybe_abort();
  } else if (strcmp(mode, "cycle") == 0) {
    three(&a, &b, &c);
    a->all_next = c; /* the oldest points back at the newest */
    checkpoint_then_maybe_abort();
  } else {
    fprintf(stderr, "gdb_target: unknown mode %s\n", mode);
    return 2;
  }
  return 0;
}
