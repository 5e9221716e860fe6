/* SPDX-License-Identifier: MIT */
/*
 * sched_bad_input.c - every misuse of the micro-thread scheduler the API
 * documents, one case each: joining oneself, NULL handles, plain generators
 * handed to coro_join/coro_cancel, joining twice, another thread's
 * micro-thread, cancelling a finished one, blocking with no scheduler running,
 * coro_run inside coro_run, deadlines already past, the generator calls on a
 * micro-thread, every micro-thread waiting forever, bad spawn attributes, and
 * the names of the new error codes.
 *
 * Each call must be refused with its documented code and change nothing: a
 * "bystander" micro-thread spawned before the misuse (it sleeps, yields to the
 * scheduler, sleeps again and returns a value) still finishes with its value,
 * joined at the end.  Nothing here asserts a duration: only codes, orders and
 * "not before the deadline".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "coro.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------------- */

#define MS ((int64_t)1000000)
/* A deadline that cannot pass during a test, even under Valgrind. */
#define HOUR ((int64_t)3600 * 1000000000)
#define SENTINEL IV(0x5e5e)

/* The bystander: sleeps 1 ms, lets the others run, sleeps 1 ms more, returns
 * arg + 1000.  Anything unexpected makes it fail with -EFAULT. */
static void *bystander_body(void *arg) {
  for (int i = 0; i < 2; i++) {
    int64_t deadline = coro_now() + MS;
    if (coro_sleep(deadline) != 0 || coro_now() < deadline) return coro_fail(-EFAULT);
    if (i == 0 && coro_sched_yield() != 0) return coro_fail(-EFAULT);
  }
  return IV(VI(arg) + 1000);
}

/* Spawned before the misuse... */
static coro *bystander_start(void) {
  coro *b = NULL;
  ASSERT_EQ(coro_spawn(&b, bystander_body, IV(500), NULL), 0);
  ASSERT_TRUE(b != NULL);
  return b;
}

static int joined_rc;
static void *joined_value;

static void *joiner_body(void *arg) {
  joined_value = SENTINEL;
  joined_rc = coro_join(arg, &joined_value, -1);
  return NULL;
}

/* ...and joined from a micro-thread after it (it may have run already or not),
 * exactly as if nothing had happened. */
static void bystander_finish(coro *b) {
  coro *j;
  joined_rc = 12345;
  ASSERT_EQ(coro_spawn(&j, joiner_body, b, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(joined_rc, 0);
  ASSERT_EQ(VI(joined_value), 1500);
  ASSERT_EQ(coro_get_state(b), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(b), 0);
  ASSERT_EQ(coro_get_state(j), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(j), 0);
}

/* A micro-thread that returns arg at once. */
static void *ret_body(void *arg) { return arg; }

/* A micro-thread that sleeps 2 ms, then returns arg. */
static void *sleep_ret_body(void *arg) {
  int rc = coro_sleep(coro_now() + 2 * MS);
  if (rc != 0) return coro_fail(rc);
  return arg;
}

/* A plain generator: yields 1, 2, 3, returns 4; returns at once when closed. */
static void *gen_body(void *arg) {
  (void)arg;
  for (int i = 1; i <= 3; i++)
    if (coro_yield(IV(i), NULL) == CORO_EEXIT) return NULL;
  return IV(4);
}

/* Checks a generator paused after yielding `from - 1` runs on to its end. */
static void gen_finish(coro *g, int from) {
  void *v;
  for (int i = from; i <= 3; i++) {
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
  }
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 4);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* Codes collected inside micro-threads, checked on main's stack. */
static int codes[16];
static int ncodes;

static void codes_reset(void) {
  ncodes = 0;
  for (int i = 0; i < 16; i++) codes[i] = 12345;
}

static void code(int rc) {
  if (ncodes < 16) codes[ncodes] = rc;
  ncodes++;
}

/* --- joining oneself ---------------------------------------------------------------- */

/* A generator resumed by a micro-thread: joins that micro-thread (its root). */
static void *join_root_gen(void *arg) {
  void *v = SENTINEL;
  code(coro_join(arg, &v, -1));
  code(coro_join(arg, &v, 0));
  code(v == SENTINEL);
  return NULL;
}

static void *join_self_body(void *arg) {
  coro *self = coro_self();
  void *v = SENTINEL;
  code(coro_join(self, &v, -1));
  code(coro_join(self, &v, 0));
  code(coro_join(self, &v, coro_now() + MS));
  code(v == SENTINEL);
  /* the same from a generator in its resume chain */
  coro *g;
  if (coro_create(&g, join_root_gen, self, NULL) != 0) return coro_fail(-EFAULT);
  code(coro_next(g, NULL));
  code(coro_destroy(g));
  /* and it still blocks normally afterwards */
  code(coro_sleep(coro_now() + MS));
  return arg;
}

TEST(join_self_is_edeadlk) {
  coro *b = bystander_start();
  coro *m;
  codes_reset();
  ASSERT_EQ(coro_spawn(&m, join_self_body, IV(77), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 10);
  ASSERT_EQ(codes[0], -EDEADLK);
  ASSERT_EQ(codes[1], -EDEADLK);
  ASSERT_EQ(codes[2], -EDEADLK);
  ASSERT_EQ(codes[3], 1);
  ASSERT_EQ(codes[4], -EDEADLK); /* from the generator */
  ASSERT_EQ(codes[5], -EDEADLK);
  ASSERT_EQ(codes[6], 1);
  ASSERT_EQ(codes[7], CORO_RETURNED);
  ASSERT_EQ(codes[8], 0);
  ASSERT_EQ(codes[9], 0);
  void *v;
  ASSERT_EQ(coro_result(m, &v), 0);
  ASSERT_EQ(VI(v), 77);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

/* --- NULL and plain generators -------------------------------------------------------- */

static void *null_body(void *arg) {
  void *v = SENTINEL;
  code(coro_join(NULL, &v, -1));
  code(coro_join(NULL, &v, 0));
  code(coro_join(NULL, NULL, -1));
  code(coro_cancel(NULL));
  code(v == SENTINEL);
  code(coro_sleep(coro_now() + MS)); /* not cancelled by any of it */
  return arg;
}

TEST(join_cancel_null_is_einval) {
  coro *b = bystander_start();
  void *v = SENTINEL;
  /* from main */
  ASSERT_EQ(coro_join(NULL, &v, -1), -EINVAL);
  ASSERT_EQ(coro_join(NULL, &v, 0), -EINVAL);
  ASSERT_EQ(coro_cancel(NULL), -EINVAL);
  ASSERT_PTR_EQ(v, SENTINEL);
  /* from a micro-thread */
  codes_reset();
  coro *m;
  ASSERT_EQ(coro_spawn(&m, null_body, IV(5), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 6);
  for (int i = 0; i < 4; i++) ASSERT_EQ(codes[i], -EINVAL);
  ASSERT_EQ(codes[4], 1);
  ASSERT_EQ(codes[5], 0);
  ASSERT_EQ(coro_result(m, &v), 0);
  ASSERT_EQ(VI(v), 5);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

static void *generator_body(void *arg) {
  coro *g = arg;
  void *v = SENTINEL;
  code(coro_join(g, &v, -1));
  code(coro_join(g, &v, 0));
  code(coro_cancel(g));
  code(v == SENTINEL);
  code(coro_get_state(g));
  return NULL;
}

/* The generators here get a stack size no micro-thread in this file uses, so
 * that they never reuse a micro-thread's stack: that case has its own test,
 * generator_on_recycled_stack_is_not_a_microthread below. */
static const coro_attr gen_attr = {CORO_STACK_MIN + 3 * 4096, NULL, CORO_STACK_MODE_DEFAULT};

TEST(join_cancel_generator_is_einval) {
  coro *b = bystander_start();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, gen_body, NULL, &gen_attr), 0);
  /* CREATED, from main */
  ASSERT_EQ(coro_join(g, &v, -1), -EINVAL);
  ASSERT_EQ(coro_join(g, &v, 0), -EINVAL);
  ASSERT_EQ(coro_cancel(g), -EINVAL);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_get_state(g), CORO_CREATED);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  /* SUSPENDED, from a micro-thread */
  codes_reset();
  coro *m;
  ASSERT_EQ(coro_spawn(&m, generator_body, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 5);
  ASSERT_EQ(codes[0], -EINVAL);
  ASSERT_EQ(codes[1], -EINVAL);
  ASSERT_EQ(codes[2], -EINVAL);
  ASSERT_EQ(codes[3], 1);
  ASSERT_EQ(codes[4], CORO_SUSPENDED);
  ASSERT_EQ(coro_destroy(m), 0);
  /* the generator goes on where it was */
  gen_finish(g, 2);
  /* and a CLOSED generator is no micro-thread either */
  ASSERT_EQ(coro_create(&g, gen_body, NULL, &gen_attr), 0);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_join(g, &v, -1), -EINVAL);
  ASSERT_EQ(coro_cancel(g), -EINVAL);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

/* A generator created on the stack a finished micro-thread gave back (the
 * stack cache is LIFO, so the next create of the same size gets it) is a
 * plain generator all the same. */
TEST(generator_on_recycled_stack_is_not_a_microthread) {
  /* Regression: at f40d823 coro_create did not reset the scheduler fields of
   * struct coro (sched, joiners, parked, heap_at...), which live at the top of
   * a recycled stack, so such a generator inherited CORO__S_SPAWNED. */
  coro *b = bystander_start();
  for (int round = 0; round < 2; round++) {
    coro *m, *g;
    ASSERT_EQ(coro_spawn(&m, ret_body, IV(1), NULL), 0);
    if (round == 1) ASSERT_EQ(coro_cancel(m), 0); /* finishes with -ECANCELED */
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(coro_destroy(m), 0);
    ASSERT_EQ(coro_create(&g, gen_body, NULL, NULL), 0);
    void *v = SENTINEL;
    ASSERT_EQ(coro_join(g, &v, 0), -EINVAL);
    ASSERT_EQ(coro_join(g, &v, -1), -EINVAL);
    ASSERT_EQ(coro_cancel(g), -EINVAL);
    ASSERT_PTR_EQ(v, SENTINEL);
    gen_finish(g, 1);
  }
  bystander_finish(b);
}

/* (Joining a detached micro-thread cannot be expressed: it has no handle.) */

/* --- joining twice, cancelling a finished one ----------------------------------------- */

static coro *peer;

static void *join_twice_body(void *arg) {
  (void)arg;
  void *v = SENTINEL;
  code(coro_join(peer, &v, -1));
  code((int)VI(v));
  v = SENTINEL;
  code(coro_join(peer, &v, -1));
  code(coro_join(peer, &v, 0));
  code(v == SENTINEL);
  code(coro_cancel(peer)); /* finished */
  return NULL;
}

TEST(join_already_joined_is_einval) {
  coro *b = bystander_start();
  coro *m;
  codes_reset();
  ASSERT_EQ(coro_spawn(&peer, sleep_ret_body, IV(31), NULL), 0);
  ASSERT_EQ(coro_spawn(&m, join_twice_body, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 6);
  ASSERT_EQ(codes[0], 0);
  ASSERT_EQ(codes[1], 31);
  ASSERT_EQ(codes[2], -EINVAL);
  ASSERT_EQ(codes[3], -EINVAL);
  ASSERT_EQ(codes[4], 1);
  ASSERT_EQ(codes[5], -ESRCH);
  /* from main too, and the result is still there */
  void *v = SENTINEL;
  ASSERT_EQ(coro_join(peer, &v, -1), -EINVAL);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_result(peer, &v), 0);
  ASSERT_EQ(VI(v), 31);
  ASSERT_EQ(coro_destroy(peer), 0);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

static void *cancel_finished_body(void *arg) {
  (void)arg;
  /* peer returned in the scheduler's first round, before our second turn */
  code(coro_sched_yield());
  code(coro_get_state(peer));
  code(coro_cancel(peer));
  code(coro_cancel(peer));
  return NULL;
}

TEST(cancel_finished_is_esrch) {
  coro *b = bystander_start();
  coro *m;
  codes_reset();
  ASSERT_EQ(coro_spawn(&peer, ret_body, IV(8), NULL), 0);
  ASSERT_EQ(coro_spawn(&m, cancel_finished_body, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 4);
  ASSERT_EQ(codes[0], 0);
  ASSERT_EQ(codes[1], CORO_CLOSED);
  ASSERT_EQ(codes[2], -ESRCH);
  ASSERT_EQ(codes[3], -ESRCH);
  /* from main, after the run: still -ESRCH, and its result is untouched */
  ASSERT_EQ(coro_cancel(peer), -ESRCH);
  ASSERT_EQ(coro_cancel(m), -ESRCH);
  void *v;
  ASSERT_EQ(coro_result(peer, &v), 0);
  ASSERT_EQ(VI(v), 8);
  ASSERT_EQ(coro_destroy(peer), 0);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

/* --- another thread's micro-thread ------------------------------------------------------ */

struct other_args {
  coro *m;
  int join_rc, join0_rc, cancel_rc, own_run_rc;
  void *v;
};

static void *other_own_body(void *arg) { return arg; }

static void *other_thread(void *p) {
  struct other_args *a = p;
  a->v = SENTINEL;
  a->join_rc = coro_join(a->m, &a->v, -1);
  a->join0_rc = coro_join(a->m, &a->v, 0);
  a->cancel_rc = coro_cancel(a->m);
  /* this thread's own scheduler is separate and works */
  coro *own;
  a->own_run_rc = 12345;
  if (coro_spawn(&own, other_own_body, IV(3), NULL) != 0) return NULL;
  a->own_run_rc = coro_run();
  void *r = NULL;
  if (coro_result(own, &r) != 0 || VI(r) != 3) a->own_run_rc = -EFAULT;
  coro_destroy(own);
  return NULL;
}

static void try_from_other_thread(coro *m) {
  struct other_args a = {m, 0, 0, 0, 0, NULL};
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, other_thread, &a), 0);
  ASSERT_EQ(pthread_join(th, NULL), 0);
  ASSERT_EQ(a.join_rc, -EPERM);
  ASSERT_EQ(a.join0_rc, -EPERM);
  ASSERT_EQ(a.cancel_rc, -EPERM);
  ASSERT_PTR_EQ(a.v, SENTINEL);
  ASSERT_EQ(a.own_run_rc, 0);
}

static void *other_thread_body(void *arg) {
  /* tried while queued (before the run), now while it runs */
  try_from_other_thread(coro_self());
  int rc = coro_sleep(coro_now() + MS); /* not cancelled */
  if (rc != 0) return coro_fail(rc);
  return arg;
}

TEST(join_cancel_other_thread_is_eperm) {
  coro *b = bystander_start();
  coro *m;
  ASSERT_EQ(coro_spawn(&m, other_thread_body, IV(64), NULL), 0);
  try_from_other_thread(m); /* queued, not started */
  try_from_other_thread(b);
  ASSERT_EQ(coro_run(), 0);
  void *v;
  ASSERT_EQ(coro_result(m, &v), 0);
  ASSERT_EQ(VI(v), 64);
  try_from_other_thread(m); /* finished: still another thread's */
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

/* --- blocking with no scheduler running -------------------------------------------------- */

static void *no_sched_gen(void *arg) {
  coro *m = arg;
  void *v = SENTINEL;
  code(coro_sleep(coro_now() + HOUR));
  code(coro_sleep(-1));
  code(coro_sched_yield());
  code(coro_join(m, &v, -1));
  code(coro_join(m, &v, coro_now() + HOUR));
  code(v == SENTINEL);
  coro_yield(IV(1), NULL);
  return IV(2);
}

TEST(block_without_scheduler_is_edeadlk) {
  coro *b = bystander_start();
  coro *m;
  ASSERT_EQ(coro_spawn(&m, sleep_ret_body, IV(19), NULL), 0);
  /* from main */
  void *v = SENTINEL;
  ASSERT_EQ(coro_sleep(coro_now() + HOUR), -EDEADLK);
  ASSERT_EQ(coro_sleep(-1), -EDEADLK);
  ASSERT_EQ(coro_sched_yield(), -EDEADLK);
  ASSERT_EQ(coro_join(m, &v, -1), -EDEADLK);
  ASSERT_EQ(coro_join(m, &v, coro_now() + HOUR), -EDEADLK);
  ASSERT_PTR_EQ(v, SENTINEL);
  /* from a generator main resumes outside coro_run */
  codes_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, no_sched_gen, m, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(ncodes, 6);
  for (int i = 0; i < 5; i++) ASSERT_EQ(codes[i], -EDEADLK);
  ASSERT_EQ(codes[5], 1);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED); /* the generator goes on */
  ASSERT_EQ(VI(v), 2);
  ASSERT_EQ(coro_destroy(g), 0);
  /* m was not started, cancelled or joined by any of it */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_result(m, &v), 0);
  ASSERT_EQ(VI(v), 19);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

/* --- coro_run inside coro_run -------------------------------------------------------------- */

static void *run_gen(void *arg) {
  (void)arg;
  code(coro_run());
  return NULL;
}

static void *run_inside_body(void *arg) {
  code(coro_run());
  coro *g; /* and from a generator resumed by the micro-thread */
  if (coro_create(&g, run_gen, NULL, NULL) != 0) return coro_fail(-EFAULT);
  code(coro_next(g, NULL));
  code(coro_destroy(g));
  code(coro_sleep(coro_now() + MS)); /* the scheduler still works */
  return arg;
}

TEST(run_inside_microthread_is_ebusy) {
  coro *b = bystander_start();
  coro *m;
  codes_reset();
  ASSERT_EQ(coro_spawn(&m, run_inside_body, IV(4), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 5);
  ASSERT_EQ(codes[0], -EBUSY);
  ASSERT_EQ(codes[1], -EBUSY);
  ASSERT_EQ(codes[2], CORO_RETURNED);
  ASSERT_EQ(codes[3], 0);
  ASSERT_EQ(codes[4], 0);
  void *v;
  ASSERT_EQ(coro_result(m, &v), 0);
  ASSERT_EQ(VI(v), 4);
  ASSERT_EQ(coro_destroy(m), 0);
  /* from a generator main resumes, outside coro_run: -EPERM */
  codes_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, run_gen, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_EQ(ncodes, 1);
  ASSERT_EQ(codes[0], -EPERM);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

/* --- deadlines already past ---------------------------------------------------------------- */

/* Counts its turns until told to stop: if a call "returning at once" let the
 * scheduler run the others, the count moves. */
static long ticks;
static int ticker_stop;

static void *ticker_body(void *arg) {
  (void)arg;
  while (!ticker_stop) {
    ticks++;
    if (coro_sched_yield() != 0) return coro_fail(-EFAULT);
  }
  return NULL;
}

static void *past_body(void *arg) {
  (void)arg;
  long before = ticks;
  code(coro_sleep(0));
  code(coro_sleep(coro_now() - 1000));
  code(coro_sleep(coro_now()));
  code(ticks == before); /* none of them let the ticker run */

  void *v = SENTINEL;
  before = ticks;
  code(coro_join(peer, &v, 0));
  code(coro_join(peer, &v, coro_now() - 1000));
  code(ticks == before && v == SENTINEL);
  code(coro_get_state(peer) != CORO_CLOSED);
  /* peer goes on: a later join gets its result */
  code(coro_join(peer, &v, -1));
  code((int)VI(v));
  ticker_stop = 1;
  return NULL;
}

TEST(past_deadlines_do_not_wait) {
  coro *b = bystander_start();
  coro *m, *t;
  codes_reset();
  ticks = 0;
  ticker_stop = 0;
  ASSERT_EQ(coro_spawn(&t, ticker_body, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&peer, sleep_ret_body, IV(23), NULL), 0);
  ASSERT_EQ(coro_spawn(&m, past_body, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 10);
  ASSERT_EQ(codes[0], 0);
  ASSERT_EQ(codes[1], 0);
  ASSERT_EQ(codes[2], 0);
  ASSERT_EQ(codes[3], 1);
  ASSERT_EQ(codes[4], -ETIMEDOUT);
  ASSERT_EQ(codes[5], -ETIMEDOUT);
  ASSERT_EQ(codes[6], 1);
  ASSERT_EQ(codes[7], 1);
  ASSERT_EQ(codes[8], 0);
  ASSERT_EQ(codes[9], 23);
  ASSERT_TRUE(ticks > 0);
  ASSERT_EQ(coro_destroy(m), 0);
  ASSERT_EQ(coro_destroy(t), 0);
  ASSERT_EQ(coro_destroy(peer), 0);
  bystander_finish(b);
}

/* --- the generator calls on a micro-thread --------------------------------------------------- */

/* All the generator calls on micro-thread c, each refused with -EBUSY. */
static void generator_calls_busy(coro *c) {
  void *v = SENTINEL;
  ASSERT_EQ(coro_send(c, NULL, &v), -EBUSY);
  ASSERT_EQ(coro_send(c, IV(1), &v), -EBUSY);
  ASSERT_EQ(coro_next(c, &v), -EBUSY);
  ASSERT_EQ(coro_throw(c, -EIO, &v), -EBUSY);
  ASSERT_EQ(coro_close(c), -EBUSY);
  ASSERT_EQ(coro_destroy(c), -EBUSY);
  ASSERT_PTR_EQ(v, SENTINEL);
}

static void *sleeper_yielder_body(void *arg) {
  int rc = coro_sleep(coro_now() + 2 * MS);
  if (rc != 0) return coro_fail(rc);
  void *in = SENTINEL; /* a micro-thread's coro_yield just ends its turn */
  if (coro_yield(IV(1), &in) != 0) return coro_fail(-EFAULT);
  return arg;
}

static void *poker_body(void *arg) {
  coro *c = arg;
  /* c sleeps now (it ran first) */
  generator_calls_busy(c);
  void *v = SENTINEL;
  code(coro_yield_from(c, &v));
  code(v == SENTINEL);
  code(coro_join(c, &v, -1));
  code((int)VI(v));
  return NULL;
}

TEST(generator_calls_on_microthread_are_ebusy) {
  coro *b = bystander_start();
  coro *m, *p;
  codes_reset();
  ASSERT_EQ(coro_spawn(&m, sleeper_yielder_body, IV(12), NULL), 0);
  generator_calls_busy(m); /* queued, not started */
  ASSERT_EQ(coro_spawn(&p, poker_body, m, NULL), 0);
  generator_calls_busy(p);
  generator_calls_busy(b);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ncodes, 4);
  ASSERT_EQ(codes[0], -EBUSY);
  ASSERT_EQ(codes[1], 1);
  ASSERT_EQ(codes[2], 0);
  ASSERT_EQ(codes[3], 12);
  /* finished: the generator calls do not resume it, and it is freed normally */
  void *v = SENTINEL;
  ASSERT_EQ(coro_next(m, &v), CORO_EDONE);
  ASSERT_EQ(coro_send(m, NULL, &v), CORO_EDONE);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_get_state(m), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(m), 0);
  ASSERT_EQ(coro_destroy(p), 0);
  bystander_finish(b);
}

/* A finished micro-thread is a CLOSED coroutine like any other (coro_spawn's
 * doc): send/next CORO_EDONE, throw gives back the error, close 0; its result
 * stays for coro_join. */
TEST(generator_calls_on_finished_microthread_follow_closed_rules) {
  coro *b = bystander_start();
  coro *m;
  ASSERT_EQ(coro_spawn(&m, ret_body, IV(6), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *v = SENTINEL;
  ASSERT_EQ(coro_next(m, &v), CORO_EDONE);
  ASSERT_EQ(coro_send(m, NULL, &v), CORO_EDONE);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_throw(m, -EIO, &v), -EIO);
  ASSERT_EQ(coro_close(m), 0);
  ASSERT_EQ(coro_get_state(m), CORO_CLOSED);
  ASSERT_EQ(coro_join(m, &v, -1), 0); /* its result untouched */
  ASSERT_EQ(VI(v), 6);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

/* --- every micro-thread waiting forever ----------------------------------------------------- */

static coro *mutual[2];

static void *join_other_body(void *arg) {
  coro *other = mutual[1 - VI(arg)];
  int rc = coro_join(other, NULL, -1);
  if (rc < 0) return coro_fail(rc);
  return arg;
}

static void *sleep_forever_body(void *arg) {
  int rc = coro_sleep(-1);
  if (rc < 0) return coro_fail(rc);
  return arg;
}

TEST(run_all_waiting_forever_is_edeadlk) {
  coro *b = bystander_start();
  coro *s;
  ASSERT_EQ(coro_spawn(&mutual[0], join_other_body, IV(0), NULL), 0);
  ASSERT_EQ(coro_spawn(&mutual[1], join_other_body, IV(1), NULL), 0);
  ASSERT_EQ(coro_spawn(&s, sleep_forever_body, NULL, NULL), 0);
  /* the bystander finishes; then nothing can ever wake the other three */
  ASSERT_EQ(coro_run(), -EDEADLK);
  ASSERT_EQ(coro_get_state(b), CORO_CLOSED);
  ASSERT_NE(coro_get_state(mutual[0]), CORO_CLOSED);
  ASSERT_NE(coro_get_state(mutual[1]), CORO_CLOSED);
  ASSERT_NE(coro_get_state(s), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(mutual[0]), -EBUSY);
  ASSERT_EQ(coro_run(), -EDEADLK); /* still */
  ASSERT_EQ(coro_cancel(mutual[0]), 0);
  ASSERT_EQ(coro_cancel(mutual[1]), 0);
  ASSERT_EQ(coro_cancel(s), 0);
  ASSERT_EQ(coro_run(), 0);
  void *v = SENTINEL;
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(coro_get_state(mutual[i]), CORO_CLOSED);
    ASSERT_EQ(coro_result(mutual[i], &v), -ECANCELED);
    ASSERT_EQ(coro_destroy(mutual[i]), 0);
  }
  ASSERT_EQ(coro_result(s, &v), -ECANCELED);
  ASSERT_EQ(coro_destroy(s), 0);
  bystander_finish(b);
}

/* --- bad spawns ------------------------------------------------------------------------------ */

TEST(spawn_bad_attr_is_einval) {
  coro *b = bystander_start();
  coro *m = SENTINEL;
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = 0;
  ASSERT_EQ(coro_spawn(&m, ret_body, NULL, &attr), -EINVAL);
  ASSERT_EQ(coro_spawn(NULL, ret_body, NULL, &attr), -EINVAL); /* detached */
  attr.stack_size = CORO_STACK_MIN - 1;
  ASSERT_EQ(coro_spawn(&m, ret_body, NULL, &attr), -EINVAL);
  attr.stack_size = CORO_STACK_MAX + 1;
  ASSERT_EQ(coro_spawn(&m, ret_body, NULL, &attr), -EINVAL);
  ASSERT_EQ(coro_spawn(&m, NULL, NULL, NULL), -EINVAL);
  ASSERT_PTR_EQ(m, SENTINEL);
  /* nothing half-spawned is left for the scheduler: the run ends (a stray
   * count of live micro-threads would make it report -EDEADLK) */
  ASSERT_EQ(coro_run(), 0);
  /* and a valid spawn with the smallest stack works */
  attr.stack_size = CORO_STACK_MIN;
  ASSERT_EQ(coro_spawn(&m, ret_body, IV(9), &attr), 0);
  ASSERT_EQ(coro_run(), 0);
  void *v;
  ASSERT_EQ(coro_result(m, &v), 0);
  ASSERT_EQ(VI(v), 9);
  ASSERT_EQ(coro_destroy(m), 0);
  bystander_finish(b);
}

/* --- error names ------------------------------------------------------------------------------ */

TEST(new_error_codes_have_names) {
  static const int errs[] = {-ESRCH, -EDEADLK, -ETIMEDOUT, -ECANCELED};
  static const char *const names[] = {"ESRCH", "EDEADLK", "ETIMEDOUT", "ECANCELED"};
  for (int i = 0; i < 4; i++) {
    ASSERT_TRUE(coro_strerror(errs[i]) != NULL);
    ASSERT_TRUE(strcmp(coro_strerror(errs[i]), "unknown error") != 0);
    ASSERT_STR_EQ(coro_err_name(errs[i]), names[i]);
  }
  coro *b = bystander_start();
  bystander_finish(b);
}
