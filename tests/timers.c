/* SPDX-License-Identifier: MIT */
/*
 * timers.c - the timer heap behind coro_sleep() and coro_join() deadlines:
 *   - 1000 sleepers with random deadlines (fixed-seed LCG, within 50 ms) wake
 *     in deadline order, none before its deadline;
 *   - sleepers with equal deadlines wake in the order they went to sleep;
 *   - cancelling half of 1000 sleepers, in random order, takes them out of the
 *     heap: they get -ECANCELED at once, the others still wake in order;
 *   - joins with deadlines time out (-ETIMEDOUT) in order with the sleepers,
 *     a join woken early leaves no stale entry behind, and later joins get the
 *     result.
 * A sleeper whose deadline had already passed when it called coro_sleep()
 * returns at once, by design, so it is left out of the order checks (it can
 * only happen on a very slow machine: every deadline is 100 ms after the
 * spawns).  Nothing here asserts a duration: only orders and "not before the
 * deadline".
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "coro.h"
#include "scheduler.h" /* CORO__S_TIMER, cold.heap_at: a woken join's timer left the heap */
#include "test.h"

#define MS ((int64_t)1000000)
#define US ((int64_t)1000)
#define MAXN 1000
#define SENTINEL_V IV(0x5e5e)

/* --- helpers ----------------------------------------------------------------------- */

static uint32_t lcg_state;

static uint32_t lcg(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return lcg_state >> 8;
}

/* What each sleeper (or timed joiner) did, indexed by its number. */
static int64_t deadline[MAXN + 64];
static int rc_of[MAXN + 64];
static int late[MAXN + 64];  /* it never parked: its deadline had passed when it
                                slept (it returned in the first round) */
static int early[MAXN + 64]; /* it woke (rc 0) before its deadline */
static int wlog[MAXN + 64];  /* numbers, in the order they woke */
static int nlog;

/* Set by the marker once every sleeper has started and has had its first
 * turn.  Timers fire only between rounds, so a sleep that returns before the
 * marker saw them all started never parked: its deadline had passed by the
 * time coro_sleep looked, which on a slow machine (valgrind, a loaded VM) can
 * happen just after the sleeper read the clock itself.  Such a sleeper is
 * "late", out of the order checks.  The marker counts the starts rather than
 * trusting the spawn order, which a seeded scheduler (CORO_SCHED_SEED) does
 * not keep: it sets the flag only in a turn after the last start. */
static int all_started;
static int nstarted, nexpected; /* sleepers and timed joiners started, of how many */

static void *marker(void *arg) {
  while (nstarted < nexpected) ASSERT_EQ(coro_sched_yield(), 0);
  all_started = 1;
  return arg;
}

static void reset(void) {
  nlog = 0;
  all_started = 0;
  nstarted = nexpected = 0;
  for (int i = 0; i < MAXN + 64; i++) {
    deadline[i] = 0;
    rc_of[i] = 12345;
    late[i] = early[i] = 0;
    wlog[i] = -1;
  }
}

/* Sleeps until deadline[i], then logs i.  Fails with what coro_sleep returned
 * if not 0. */
static void *sleeper(void *arg) {
  int i = (int)VI(arg);
  int64_t d = deadline[i];
  nstarted++;
  int rc = coro_sleep(d);
  late[i] = !all_started;
  rc_of[i] = rc;
  if (rc == 0 && coro_now() < d) early[i] = 1;
  wlog[nlog++] = i;
  return rc ? coro_fail(rc) : arg;
}

/* Checks the log holds each of 0..n-1 once, nobody woke early, and those that
 * really slept (not late, rc 0) woke in order of (deadline, number) -- with
 * `fifo` -- or of deadline alone.  Returns how many were late. */
static int check_order(int n, int fifo) {
  static char seen[MAXN + 64];
  memset(seen, 0, sizeof(seen));
  ASSERT_EQ(nlog, n);
  int prev = -1, nlate = 0;
  for (int k = 0; k < n; k++) {
    int i = wlog[k];
    ASSERT_TRUE(i >= 0 && i < n);
    ASSERT_EQ(seen[i], 0);
    seen[i] = 1;
    ASSERT_EQ(early[i], 0);
    if (late[i]) nlate++;
    if (late[i] || rc_of[i] != 0) continue;
    if (prev >= 0) {
      if (deadline[prev] > deadline[i] || (fifo && deadline[prev] == deadline[i] && prev > i)) {
        test__fail(__FILE__, __LINE__,
                   "woke out of order at log[%d]: #%d (deadline +%lld ns, spawned %d) after #%d "
                   "(deadline +%lld ns)",
                   k, i, (long long)(deadline[i] - deadline[0]), i, prev,
                   (long long)(deadline[prev] - deadline[0]));
      }
    }
    prev = i;
  }
  if (nlate)
    fprintf(stderr, "note: %d of %d sleepers came late, left out of the order check\n", nlate, n);
  return nlate;
}

static coro *handle[MAXN + 64];

/* Spawn sleepers 0..n-1 with handles, then the marker. */
static void spawn_sleepers(int n) {
  nexpected = n;
  for (int i = 0; i < n; i++) ASSERT_EQ(coro_spawn(&handle[i], sleeper, IV(i), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, marker, NULL, NULL), 0);
}

/* After the run: sleeper i finished with `want` (0: returned i), then freed. */
static void reap(int i, int want) {
  void *v = NULL;
  ASSERT_EQ(coro_get_state(handle[i]), CORO_CLOSED);
  ASSERT_EQ(coro_result(handle[i], &v), want);
  if (want == 0) ASSERT_EQ(VI(v), i);
  ASSERT_EQ(coro_destroy(handle[i]), 0);
}

/* --- deadline order ------------------------------------------------------------------ */

TEST(sleepers_wake_in_deadline_order) {
  reset();
  lcg_state = 12345;
  int64_t base = coro_now() + 100 * MS;
  for (int i = 0; i < MAXN; i++) deadline[i] = base + (int64_t)(lcg() % 50000) * US;
  spawn_sleepers(MAXN);
  ASSERT_EQ(coro_run(), 0);
  check_order(MAXN, 0);
  for (int i = 0; i < MAXN; i++) {
    ASSERT_EQ(rc_of[i], 0);
    reap(i, 0);
  }
}

/* The same with nanosecond-random deadlines, spawned in reverse deadline
 * order, so every insert goes to the top of the heap. */
TEST(sleepers_spawned_in_reverse_wake_in_order) {
  reset();
  lcg_state = 777;
  int64_t base = coro_now() + 100 * MS;
  for (int i = 0; i < MAXN; i++) deadline[i] = base + 50 * MS - (int64_t)i * 50 * US;
  for (int i = 0; i < MAXN; i++) deadline[i] -= (int64_t)(lcg() % 40);
  spawn_sleepers(MAXN);
  ASSERT_EQ(coro_run(), 0);
  check_order(MAXN, 0);
  for (int i = 0; i < MAXN; i++) reap(i, 0);
}

/* --- equal deadlines ---------------------------------------------------------------- */

TEST(equal_deadlines_wake_in_fifo_order) {
  reset();
  int64_t base = coro_now() + 100 * MS;
  /* 5 groups of 200 equal deadlines, interleaved in spawn order */
  for (int i = 0; i < MAXN; i++) deadline[i] = base + (int64_t)(i % 5) * MS;
  spawn_sleepers(MAXN);
  ASSERT_EQ(coro_run(), 0);
  check_order(MAXN, 1);
  for (int i = 0; i < MAXN; i++) reap(i, 0);
}

/* --- cancelled sleepers ------------------------------------------------------------- */

static int ncancel;
static int cancel_order[MAXN];
static int cancel_rc[MAXN];
static char cancelled[MAXN];
static int cancel_at; /* wlog entries made before the canceller cancelled */

/* Waits until all sleepers have started (they sleep, or returned late), then
 * cancels the ones in cancel_order, all in one go. */
static void *canceller(void *arg) {
  (void)arg;
  while (!all_started) ASSERT_EQ(coro_sched_yield(), 0);
  cancel_at = nlog;
  for (int k = 0; k < ncancel; k++) cancel_rc[k] = coro_cancel(handle[cancel_order[k]]);
  return NULL;
}

/* Did sleeper i finish before the canceller ran?  On a slow machine, or
 * under a seed that runs the canceller last, the first deadlines (100 ms
 * after the spawns) can pass first. */
static int woke_before_cancel(int i) {
  for (int k = 0; k < cancel_at; k++)
    if (wlog[k] == i) return 1;
  return 0;
}

TEST(cancelled_sleepers_leave_the_heap) {
  reset();
  lcg_state = 4242;
  int64_t base = coro_now() + 100 * MS;
  for (int i = 0; i < MAXN; i++) deadline[i] = base + (int64_t)(lcg() % 50000) * US;
  /* a random half, cancelled in a random order */
  int perm[MAXN];
  for (int i = 0; i < MAXN; i++) perm[i] = i;
  for (int i = MAXN - 1; i > 0; i--) {
    int j = (int)(lcg() % (uint32_t)(i + 1));
    int tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  ncancel = MAXN / 2;
  memset(cancelled, 0, sizeof(cancelled));
  for (int k = 0; k < ncancel; k++) {
    cancel_order[k] = perm[k];
    cancelled[perm[k]] = 1;
    cancel_rc[k] = 12345;
  }
  spawn_sleepers(MAXN);
  coro *c;
  ASSERT_EQ(coro_spawn(&c, canceller, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  check_order(MAXN, 0);
  for (int k = 0; k < ncancel; k++) {
    int i = cancel_order[k];
    if (woke_before_cancel(i)) { /* late, or its deadline came first */
      ASSERT_EQ(cancel_rc[k], -ESRCH);
      ASSERT_EQ(rc_of[i], 0);
      cancelled[i] = 0; /* it finished as an uncancelled one */
      continue;
    }
    ASSERT_EQ(cancel_rc[k], 0);
    ASSERT_EQ(rc_of[i], -ECANCELED);
  }
  /* the cancelled ones woke at once: after the cancels, all before any
   * uncancelled one */
  int seen_uncancelled = 0;
  for (int k = cancel_at; k < nlog; k++) {
    if (cancelled[wlog[k]])
      ASSERT_EQ(seen_uncancelled, 0);
    else
      seen_uncancelled = 1;
  }
  for (int i = 0; i < MAXN; i++) {
    if (!cancelled[i]) ASSERT_EQ(rc_of[i], 0);
    reap(i, cancelled[i] ? -ECANCELED : 0);
  }
  ASSERT_EQ(coro_destroy(c), 0);
}

/* --- joins with deadlines ------------------------------------------------------------ */

#define NSLEEP 200
#define NJOIN 50

static coro *target;
static coro_sem *release_target; /* posted once every timed join has timed out */
static int timed_out_joins;
static int second_join_rc[NSLEEP + NJOIN];
static void *second_join_value[NSLEEP + NJOIN];

/* The join target: finishes (returning 42) only once every timed join has
 * timed out -- an event, not a time, so that a slow machine (valgrind on a
 * loaded VM) cannot let it finish first. */
static void *target_body(void *arg) {
  (void)arg;
  int rc = coro_sem_acquire(release_target, -1);
  return rc ? coro_fail(rc) : IV(42);
}

/* Joins the target with deadline[i] (logged like a sleeper), then again with
 * no deadline; the last one to time out releases the target. */
static void *timed_joiner(void *arg) {
  int i = (int)VI(arg);
  int64_t d = deadline[i];
  void *v = SENTINEL_V;
  nstarted++;
  int rc = coro_join(target, &v, d);
  late[i] = !all_started; /* as for sleepers */
  rc_of[i] = rc == -ETIMEDOUT ? 0 : rc == 0 ? 1 : rc;
  if (rc == -ETIMEDOUT && (coro_now() < d || v != SENTINEL_V)) early[i] = 1;
  wlog[nlog++] = i;
  if (++timed_out_joins == NJOIN) ASSERT_EQ(coro_sem_release(release_target), 0);
  second_join_value[i] = SENTINEL_V;
  second_join_rc[i] = coro_join(target, &second_join_value[i], -1);
  return arg;
}

/* Joins the target with a deadline far after it finishes: woken by the
 * finish, so its timer must leave the heap at once (white-box: heap_at), and
 * a sleep after it wakes at its own deadline, not before. */
static int early_join_rc, early_sleep_rc, early_woke_early, early_left_heap;
static void *early_value;

static void *early_joiner(void *arg) {
  (void)arg;
  early_join_rc = coro_join(target, &early_value, coro_now() + 3600 * 1000 * MS);
  early_left_heap = coro_self()->cold->heap_at == 0 && !(coro_self()->sched & CORO__S_TIMER);
  int64_t d = coro_now() + 10 * MS;
  early_sleep_rc = coro_sleep(d);
  early_woke_early = coro_now() < d;
  return NULL;
}

TEST(timed_joins_time_out_in_order) {
  reset();
  lcg_state = 99;
  int64_t base = coro_now() + 100 * MS;
  ASSERT_EQ(coro_sem_create(&release_target, 0), 0);
  timed_out_joins = 0;
  early_join_rc = early_sleep_rc = 12345;
  early_woke_early = 1;
  early_left_heap = 0;
  int n = NSLEEP + NJOIN;
  for (int i = 0; i < n; i++) deadline[i] = base + (int64_t)(lcg() % 50000) * US;
  ASSERT_EQ(coro_spawn(&target, target_body, NULL, NULL), 0);
  coro *ej;
  ASSERT_EQ(coro_spawn(&ej, early_joiner, NULL, NULL), 0);
  /* sleepers and timed joiners interleaved: every fifth a joiner */
  for (int i = 0; i < n; i++)
    ASSERT_EQ(coro_spawn(&handle[i], i % 5 == 0 ? timed_joiner : sleeper, IV(i), NULL), 0);
  nexpected = n;
  ASSERT_EQ(coro_spawn(NULL, marker, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  check_order(n, 0);
  int njoined = 0;
  for (int i = 0; i < n; i++) {
    void *v = NULL;
    ASSERT_EQ(coro_result(handle[i], &v), 0);
    ASSERT_EQ(VI(v), i);
    ASSERT_EQ(rc_of[i], 0); /* sleepers slept, joiners timed out */
    if (i % 5 == 0) {       /* and then got the result */
      ASSERT_EQ(second_join_rc[i], 0);
      ASSERT_EQ(VI(second_join_value[i]), 42);
      njoined++;
    }
    ASSERT_EQ(coro_destroy(handle[i]), 0);
  }
  ASSERT_EQ(njoined, NJOIN);
  ASSERT_EQ(early_join_rc, 0);
  ASSERT_EQ(VI(early_value), 42);
  ASSERT_EQ(early_sleep_rc, 0);
  ASSERT_EQ(early_woke_early, 0);
  ASSERT_EQ(early_left_heap, 1);
  void *v;
  ASSERT_EQ(coro_result(target, &v), 0);
  ASSERT_EQ(VI(v), 42);
  ASSERT_EQ(coro_join(target, &v, -1), -EINVAL); /* joined already */
  ASSERT_EQ(coro_destroy(target), 0);
  ASSERT_EQ(coro_destroy(ej), 0);
  ASSERT_EQ(coro_sem_destroy(release_target), 0);
}
