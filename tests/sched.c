/* SPDX-License-Identifier: MIT */
/*
 * sched.c - micro-threads on the cooperative scheduler: order, turns, join,
 * sleep, cancel, and generators that block inside micro-threads.
 *
 * Order is proved with a log of characters; time only ever as "not before
 * the deadline", never as a duration.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "coro.h"
#include "test.h"

static char trace[256];
static size_t ntrace;

static void mark(char ch) {
  if (ntrace + 1 < sizeof(trace)) trace[ntrace++] = ch;
  trace[ntrace] = '\0';
}

static void reset_trace(void) {
  ntrace = 0;
  trace[0] = '\0';
}

#define MS (INT64_C(1000000))

/* --- order and turns ------------------------------------------------------------ */

static void *say(void *arg) {
  mark(*(const char *)arg);
  return NULL;
}

TEST(spawned_run_in_fifo_order) {
  reset_trace();
  ASSERT_EQ(coro_spawn(NULL, say, "a", NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, say, "b", NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, say, "c", NULL), 0);
  ASSERT_STR_EQ(trace, ""); /* nothing runs before coro_run */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "abc");
}

static void *turns(void *arg) {
  for (int i = 0; i < 3; i++) {
    mark(*(const char *)arg);
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  return NULL;
}

TEST(sched_yield_takes_turns_round_robin) {
  reset_trace();
  ASSERT_EQ(coro_spawn(NULL, turns, "a", NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, turns, "b", NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "ababab");
}

static void *yield_turns(void *arg) {
  for (int i = 0; i < 3; i++) {
    mark(*(const char *)arg);
    ASSERT_EQ(coro_yield(NULL, NULL), 0);
  }
  return NULL;
}

TEST(coro_yield_in_a_microthread_ends_its_turn) {
  reset_trace();
  ASSERT_EQ(coro_spawn(NULL, yield_turns, "x", NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, turns, "y", NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "xyxyxy");
}

/* --- join --------------------------------------------------------------------------- */

static void *answer(void *arg) {
  (void)arg;
  coro_sched_yield();
  return IV(42);
}

static void *failing(void *arg) {
  (void)arg;
  return coro_fail(-EIO);
}

static void *joiner(void *arg) {
  coro **kids = arg;
  void *r = IV(-1);
  ASSERT_EQ(coro_join(kids[0], &r, -1), 0);
  ASSERT_EQ(VI(r), 42);
  ASSERT_EQ(coro_join(kids[1], &r, -1), -EIO);
  ASSERT_PTR_EQ(r, NULL);
  return IV(7);
}

TEST(join_gets_return_value_or_error) {
  coro *kids[2], *j;
  ASSERT_EQ(coro_spawn(&kids[0], answer, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&kids[1], failing, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&j, joiner, kids, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *r;
  ASSERT_EQ(coro_join(j, &r, -1), 0); /* finished: no scheduler needed */
  ASSERT_EQ(VI(r), 7);
  ASSERT_EQ(coro_join(j, &r, -1), -EINVAL); /* only once */
  ASSERT_EQ(coro_get_state(j), CORO_CLOSED);
  for (int i = 0; i < 2; i++) ASSERT_EQ(coro_destroy(kids[i]), 0);
  ASSERT_EQ(coro_destroy(j), 0);
}

static void *slow_answer(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(coro_now() + 5 * MS), 0);
  return IV(5);
}

static void *waits_for_cancel(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(-1), -ECANCELED);
  return IV(5);
}

static void *impatient(void *arg) {
  coro *kid = arg;
  ASSERT_EQ(coro_join(kid, NULL, coro_now() + 1 * MS), -ETIMEDOUT); /* it sleeps on */
  ASSERT_EQ(coro_cancel(kid), 0);
  void *r;
  ASSERT_EQ(coro_join(kid, &r, -1), 0); /* it went on; join again */
  ASSERT_EQ(VI(r), 5);
  return NULL;
}

TEST(join_times_out_then_succeeds) {
  coro *kid;
  ASSERT_EQ(coro_spawn(&kid, waits_for_cancel, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, impatient, kid, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_destroy(kid), 0);
}

static void *parent(void *arg) {
  (void)arg;
  coro *kids[100];
  for (int i = 0; i < 100; i++) ASSERT_EQ(coro_spawn(&kids[i], answer, NULL, NULL), 0);
  long sum = 0;
  for (int i = 0; i < 100; i++) {
    void *r;
    ASSERT_EQ(coro_join(kids[i], &r, -1), 0);
    sum += VI(r);
    ASSERT_EQ(coro_destroy(kids[i]), 0);
  }
  return IV(sum);
}

TEST(microthreads_spawn_and_join_children) {
  coro *p;
  ASSERT_EQ(coro_spawn(&p, parent, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *r;
  ASSERT_EQ(coro_join(p, &r, -1), 0);
  ASSERT_EQ(VI(r), 4200);
  ASSERT_EQ(coro_destroy(p), 0);
}

static void *each_joins(void *arg) {
  void *r;
  ASSERT_EQ(coro_join(arg, &r, -1), 0);
  ASSERT_EQ(VI(r), 5);
  mark('j');
  return NULL;
}

TEST(every_waiting_join_gets_the_result) {
  reset_trace();
  coro *kid;
  ASSERT_EQ(coro_spawn(&kid, slow_answer, NULL, NULL), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_spawn(NULL, each_joins, kid, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "jjj");
  ASSERT_EQ(coro_join(kid, NULL, -1), -EINVAL); /* taken */
  ASSERT_EQ(coro_destroy(kid), 0);
}

/* --- sleep and timers ----------------------------------------------------------------- */

/* Deadlines from one common base (not from each sleeper's start, which a slow
 * run under valgrind would shift): base + 10 ms * n. */
static int64_t sleep_base;

static void *sleeper(void *arg) {
  int64_t deadline = sleep_base + (int64_t)(intptr_t)arg * 10 * MS;
  ASSERT_EQ(coro_sleep(deadline), 0);
  ASSERT_TRUE(coro_now() >= deadline);
  mark((char)('0' + (int)(intptr_t)arg));
  return NULL;
}

TEST(sleepers_wake_in_deadline_order_not_before) {
  reset_trace();
  ASSERT_EQ(coro_spawn(NULL, sleeper, IV(3), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, sleeper, IV(1), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, sleeper, IV(2), NULL), 0);
  sleep_base = coro_now() + 20 * MS; /* after the (slow, first) spawns */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "123");
}

static int stop_spinning;

static void *spinner(void *arg) {
  (void)arg;
  long turns = 0;
  while (!stop_spinning) {
    ASSERT_EQ(coro_sched_yield(), 0);
    turns++;
  }
  return IV(turns);
}

static void *stopper(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(coro_now() + 2 * MS), 0);
  stop_spinning = 1;
  return NULL;
}

/* A micro-thread yielding in a loop does not starve a sleeper: timers are
 * looked at every round. */
TEST(yield_loop_does_not_starve_timers) {
  stop_spinning = 0;
  coro *spin;
  ASSERT_EQ(coro_spawn(&spin, spinner, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, stopper, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *turns;
  ASSERT_EQ(coro_join(spin, &turns, -1), 0);
  ASSERT_TRUE(VI(turns) > 0);
  ASSERT_EQ(coro_destroy(spin), 0);
}

/* --- cancel ------------------------------------------------------------------------------ */

static void cleanup_mark(void *arg) { mark(*(const char *)arg); }

static void *sleeps_forever(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(cleanup_mark, "C"), 0);
  ASSERT_EQ(coro_sleep(-1), -ECANCELED);     /* at once */
  ASSERT_EQ(coro_sched_yield(), -ECANCELED); /* and every later one */
  ASSERT_EQ(coro_sleep(coro_now() + MS), -ECANCELED);
  mark('s');
  return IV(9); /* it may still finish as it likes */
}

static void *canceller(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0); /* let it block first */
  ASSERT_EQ(coro_cancel(arg), 0);
  mark('k');
  return NULL;
}

TEST(cancel_wakes_a_blocked_microthread_and_fails_its_later_calls) {
  reset_trace();
  coro *victim;
  ASSERT_EQ(coro_spawn(&victim, sleeps_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, canceller, victim, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "ksC"); /* its cleanup handler ran when it finished */
  void *r;
  ASSERT_EQ(coro_join(victim, &r, -1), 0);
  ASSERT_EQ(VI(r), 9);
  ASSERT_EQ(coro_cancel(victim), -ESRCH);
  ASSERT_EQ(coro_destroy(victim), 0);
}

TEST(cancel_before_start_never_runs) {
  reset_trace();
  coro *c;
  ASSERT_EQ(coro_spawn(&c, say, "!", NULL), 0);
  ASSERT_EQ(coro_cancel(c), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "");
  ASSERT_EQ(coro_join(c, NULL, -1), -ECANCELED);
  ASSERT_EQ(coro_destroy(c), 0);
}

static void *yields_until_cancelled(void *arg) {
  (void)arg;
  int rc;
  while ((rc = coro_yield(NULL, NULL)) == 0) {}
  return coro_fail(rc);
}

static void *cancel_it(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(cancel_reaches_a_microthread_in_coro_yield) {
  coro *c;
  ASSERT_EQ(coro_spawn(&c, yields_until_cancelled, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_it, c, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(c, NULL, -1), -ECANCELED);
  ASSERT_EQ(coro_destroy(c), 0);
}

/* --- generators inside micro-threads ------------------------------------------------------ */

/* A generator that blocks between its values. */
static void *slow_numbers(void *arg) {
  (void)arg;
  for (int i = 1; i <= 3; i++) {
    ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
    mark('g');
    ASSERT_EQ(coro_yield(IV(i), NULL), 0);
  }
  return IV(100);
}

static void *consumer(void *arg) {
  (void)arg;
  coro *g;
  ASSERT_EQ(coro_create(&g, slow_numbers, NULL, NULL), 0);
  long sum = 0;
  CORO_FOREACH(v, g) {
    mark('m');
    sum += VI(v);
  }
  void *ret;
  ASSERT_EQ(coro_result(g, &ret), 0);
  ASSERT_EQ(VI(ret), 100);
  ASSERT_EQ(coro_destroy(g), 0);
  return IV(sum);
}

static void *busy(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++) {
    mark('b');
    ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  }
  return NULL;
}

/* While the generator sleeps, other micro-threads run; each value it yields
 * afterwards still goes to its resumer, the consumer. */
TEST(generator_blocks_inside_a_microthread_chain_intact) {
  reset_trace();
  coro *c;
  ASSERT_EQ(coro_spawn(&c, consumer, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, busy, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *sum;
  ASSERT_EQ(coro_join(c, &sum, -1), 0);
  ASSERT_EQ(VI(sum), 6);
  ASSERT_EQ(coro_destroy(c), 0);
  /* 'b' ran while the generator was parked; every 'g' is followed by its 'm' */
  ASSERT_TRUE(strchr(trace, 'b') != NULL);
  size_t gs = 0, ms = 0;
  for (const char *p = trace; *p; p++) {
    if (*p == 'g') ASSERT_EQ(p[1], 'm');
    gs += *p == 'g';
    ms += *p == 'm';
  }
  ASSERT_EQ(gs, 3);
  ASSERT_EQ(ms, 3);
}

static coro *inner_gen;

/* H: the innermost; it blocks, then yields to G. */
static void *inner(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_get_state(coro_self()), CORO_RUNNING);
  ASSERT_EQ(coro_yield(IV(1), NULL), CORO_EEXIT); /* top destroys it here */
  return NULL;
}

/* G: resumes H, passes H's value up plus 10. */
static void *middle(void *arg) {
  (void)arg;
  void *v;
  ASSERT_EQ(coro_create(&inner_gen, inner, NULL, NULL), 0);
  ASSERT_EQ(coro_next(inner_gen, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_yield(IV(VI(v) + 10), NULL), 0);
  return NULL;
}

static void *top(void *arg) {
  (void)arg;
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, middle, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 11);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_destroy(inner_gen), 0); /* closes it: it was suspended */
  return NULL;
}

static void *watcher(void *arg) {
  (void)arg;
  /* runs while H is parked: H and the chain above it wait for the scheduler */
  ASSERT_EQ(coro_get_state(inner_gen), CORO_WAITING);
  void *v;
  ASSERT_EQ(coro_next(inner_gen, &v), -EBUSY); /* a parked generator is busy */
  mark('w');
  return NULL;
}

TEST(parking_keeps_a_three_deep_chain) {
  reset_trace();
  coro *t;
  ASSERT_EQ(coro_spawn(&t, top, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, watcher, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "w");
  ASSERT_EQ(coro_join(t, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(t), 0);
}

/* --- states and refusals ------------------------------------------------------------------- */

TEST(spawned_microthread_is_not_a_generator) {
  coro *c;
  ASSERT_EQ(coro_spawn(&c, answer, NULL, NULL), 0);
  ASSERT_EQ(coro_get_state(c), CORO_WAITING); /* queued for its first turn */
  void *v;
  ASSERT_EQ(coro_next(c, &v), -EBUSY);
  ASSERT_EQ(coro_send(c, NULL, &v), -EBUSY);
  ASSERT_EQ(coro_throw(c, -EIO, &v), -EBUSY);
  ASSERT_EQ(coro_close(c), -EBUSY);
  ASSERT_EQ(coro_destroy(c), -EBUSY);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_get_state(c), CORO_CLOSED);
  ASSERT_EQ(coro_next(c, &v), CORO_EDONE);
  ASSERT_EQ(coro_join(c, &v, -1), 0);
  ASSERT_EQ(VI(v), 42);
  ASSERT_EQ(coro_destroy(c), 0);
}

static long detached_ran;

static void *count_me(void *arg) {
  (void)arg;
  coro_sched_yield();
  detached_ran++;
  return NULL;
}

TEST(many_detached_microthreads_run_and_are_freed) {
  detached_ran = 0;
  coro_attr a;
  coro_attr_init(&a);
  a.stack_size = CORO_STACK_MIN;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 10000; i++) ASSERT_EQ(coro_spawn(NULL, count_me, NULL, &a), 0);
    ASSERT_EQ(coro_run(), 0);
  }
  ASSERT_EQ(detached_ran, 30000);
}

TEST(run_with_nothing_to_do_returns_at_once) { ASSERT_EQ(coro_run(), 0); }

TEST(now_is_monotonic) {
  int64_t a = coro_now(), b = coro_now();
  ASSERT_TRUE(a > 0);
  ASSERT_TRUE(b >= a);
}
