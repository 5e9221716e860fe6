/* SPDX-License-Identifier: MIT */
/*
 * group.c - structured concurrency: a group owns its micro-threads, keeps the
 * first error, and closing it cancels and waits for every member.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "coro.h"
#include "test.h"

#define MS (INT64_C(1000000))

static int finished_count, cleaned_count;

static void count_cleanup(void *arg) {
  (void)arg;
  cleaned_count++;
}

static void reset(void) { finished_count = cleaned_count = 0; }

/* Yields `arg` times, then finishes. */
static void *worker(void *arg) {
  for (intptr_t i = 0; i < (intptr_t)arg; i++) ASSERT_EQ(coro_sched_yield(), 0);
  finished_count++;
  return NULL;
}

/* Sleeps until cancelled, with a cleanup handler that counts. */
static void *sleeper(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(count_cleanup, NULL), 0);
  int rc = coro_sleep(-1);
  return coro_fail(rc);
}

static void *fails_with(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  return coro_fail((int)(intptr_t)arg);
}

static long live_coroutines(void) { return coro_list(NULL, 0); }

/* --- waiting -------------------------------------------------------------------------- */

static void *wait_for(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_size(g), 3);
  ASSERT_EQ(coro_group_wait(g, -1), 0);
  ASSERT_EQ(coro_group_size(g), 0);
  ASSERT_EQ(finished_count, 3);
  return NULL;
}

TEST(group_wait_returns_once_every_member_finished) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  for (int i = 1; i <= 3; i++) ASSERT_EQ(coro_group_spawn(g, worker, IV(i * 2), NULL), 0);
  coro *w;
  ASSERT_EQ(coro_spawn(&w, wait_for, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_result(w, NULL), 0);
  ASSERT_EQ(coro_destroy(w), 0);
  ASSERT_EQ(coro_group_close(g, -1), 0);
}

TEST(group_members_are_freed_as_they_finish) {
  reset();
  long before = live_coroutines();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  for (int i = 0; i < 10; i++) ASSERT_EQ(coro_group_spawn(g, worker, IV(i), NULL), 0);
  ASSERT_EQ(live_coroutines(), before + 10);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_count, 10);
  ASSERT_EQ(live_coroutines(), before);
  ASSERT_EQ(coro_group_wait(g, -1), 0); /* nothing left: at once, even outside a scheduler */
  ASSERT_EQ(coro_group_close(g, -1), 0);
}

TEST(group_keeps_the_first_member_error) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, fails_with, IV(-EIO), NULL), 0);
  ASSERT_EQ(coro_group_spawn(g, fails_with, IV(-ENOSPC), NULL), 0);
  ASSERT_EQ(coro_group_spawn(g, worker, IV(5), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_count, 1); /* without fail-fast the others go on */
  ASSERT_EQ(coro_group_wait(g, 0), -EIO);
  ASSERT_EQ(coro_group_close(g, -1), -EIO);
}

static void *wait_expect(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_wait(g, -1), -EIO);
  return NULL;
}

TEST(group_fail_fast_cancels_the_other_members) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, CORO_GROUP_FAIL_FAST), 0);
  ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_group_spawn(g, fails_with, IV(-EIO), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, wait_expect, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(cleaned_count, 2);
  ASSERT_EQ(coro_group_spawn(g, worker, IV(0), NULL), -ECANCELED); /* cancelled for good */
  ASSERT_EQ(coro_group_close(g, -1), -EIO);
}

static void *wait_until(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_wait(g, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_group_wait(g, coro_now() + MS), -ETIMEDOUT);
  ASSERT_EQ(coro_group_size(g), 1); /* the member goes on */
  ASSERT_EQ(coro_group_close(g, -1), 0);
  ASSERT_EQ(cleaned_count, 1);
  return NULL;
}

TEST(group_wait_times_out_and_members_go_on) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, wait_until, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}

static void *several_waiters(void *arg) {
  ASSERT_EQ(coro_group_wait(arg, -1), -ENOSPC);
  finished_count++;
  return NULL;
}

TEST(group_every_waiter_gets_the_result) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, fails_with, IV(-ENOSPC), NULL), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_spawn(NULL, several_waiters, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_count, 3);
  ASSERT_EQ(coro_group_close(g, -1), -ENOSPC);
}

/* --- closing -------------------------------------------------------------------------- */

static int expect_cleaned;

static void *closer(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_size(g), 3);
  ASSERT_EQ(coro_group_close(g, -1), 0); /* the members' -ECANCELED is not an error */
  ASSERT_EQ(cleaned_count, expect_cleaned);
  finished_count++;
  return NULL;
}

TEST(group_close_cancels_members_runs_their_cleanup_and_waits) {
  reset();
  long before = live_coroutines();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, closer, g, NULL), 0);
  expect_cleaned = 3;
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_count, 1);
  ASSERT_EQ(live_coroutines(), before);
}

TEST(group_close_of_members_that_never_started) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  /* The closer runs first: the members are cancelled before their first turn. */
  ASSERT_EQ(coro_spawn(NULL, closer, g, NULL), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  expect_cleaned = 0; /* a member cancelled before its first turn never runs */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_count, 1);
  ASSERT_EQ(cleaned_count, 0);
}

struct owner_ctx {
  coro_group *g;
  int wait_rc, close_rc, cleaned_at_close;
};

/* Waits on its group; when cancelled, closes it: the close must still wait. */
static void *owner(void *arg) {
  struct owner_ctx *o = arg;
  o->wait_rc = coro_group_wait(o->g, -1);
  o->close_rc = coro_group_close(o->g, -1);
  o->cleaned_at_close = cleaned_count;
  ASSERT_EQ(coro_sleep(0), -ECANCELED); /* still cancelled afterwards */
  return NULL;
}

/* A member that cleans up after its cancel (every blocking call now refused). */
static void *slow_cleanup(void *arg) {
  (void)arg;
  int rc = coro_sleep(-1);
  ASSERT_EQ(rc, -ECANCELED);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_sched_yield(), -ECANCELED);
  cleaned_count++;
  return coro_fail(rc);
}

static void *cancel_it(void *arg) {
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(group_close_in_a_cancelled_owner_still_waits_for_members) {
  reset();
  struct owner_ctx o = {0};
  ASSERT_EQ(coro_group_create(&o.g, 0), 0);
  ASSERT_EQ(coro_group_spawn(o.g, slow_cleanup, NULL, NULL), 0);
  ASSERT_EQ(coro_group_spawn(o.g, slow_cleanup, NULL, NULL), 0);
  coro *own;
  ASSERT_EQ(coro_spawn(&own, owner, &o, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_it, own, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(o.wait_rc, -ECANCELED);
  ASSERT_EQ(o.close_rc, 0);
  ASSERT_EQ(o.cleaned_at_close, 2);
  ASSERT_EQ(coro_join(own, NULL, 0), 0);
  ASSERT_EQ(coro_destroy(own), 0);
}

/* Cancel the owner while it is already inside close, waiting. */
static void *close_then_check(void *arg) {
  struct owner_ctx *o = arg;
  o->close_rc = coro_group_close(o->g, -1);
  o->cleaned_at_close = cleaned_count;
  return NULL;
}

TEST(group_close_is_not_cut_short_by_a_cancel_while_waiting) {
  reset();
  struct owner_ctx o = {0};
  ASSERT_EQ(coro_group_create(&o.g, 0), 0);
  ASSERT_EQ(coro_group_spawn(o.g, slow_cleanup, NULL, NULL), 0);
  coro *own;
  ASSERT_EQ(coro_spawn(&own, close_then_check, &o, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_it, own, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(o.close_rc, 0);
  ASSERT_EQ(o.cleaned_at_close, 1);
  ASSERT_EQ(coro_destroy(own), 0);
}

/* Once cancelled, keeps running past `close_deadline`, then ends its turn
 * twice (coro_yield in a micro-thread), then finishes: the closer's timer
 * fires after the first turn and the closer runs after the second. */
static int64_t close_deadline;

static void *outlives_the_deadline(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(-1), -ECANCELED);
  while (coro_now() <= close_deadline) {}
  coro_yield(NULL, NULL); /* the turn ends; the closer's deadline fires */
  coro_yield(NULL, NULL); /* the closer runs, the group still alive */
  cleaned_count++;
  return NULL;
}

static void *close_with_deadline(void *arg) {
  coro_group *g = arg;
  close_deadline = coro_now() + MS;
  ASSERT_EQ(coro_group_close(g, close_deadline), -ETIMEDOUT);
  ASSERT_EQ(coro_group_size(g), 1); /* still there, cancelled */
  ASSERT_EQ(cleaned_count, 0);
  ASSERT_EQ(coro_group_spawn(g, worker, IV(0), NULL), -ECANCELED);
  ASSERT_EQ(coro_group_close(g, -1), 0); /* then the member finishes */
  ASSERT_EQ(cleaned_count, 1);
  return NULL;
}

TEST(group_close_deadline_passes_while_a_member_still_runs) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, outlives_the_deadline, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_with_deadline, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}

static void *close_without_waiting(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_close(g, 0), -ETIMEDOUT); /* cancels, does not wait */
  ASSERT_EQ(coro_group_size(g), 2);
  ASSERT_EQ(coro_group_close(g, -1), 0);
  ASSERT_EQ(cleaned_count, 2);
  return NULL;
}

TEST(group_close_with_deadline_zero_cancels_without_waiting) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_without_waiting, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}

/* Nested groups: closing the outer one cancels a member that owns an inner group. */
static void *inner_owner(void *arg) {
  (void)arg;
  coro_group *inner;
  ASSERT_EQ(coro_group_create(&inner, 0), 0);
  for (int i = 0; i < 4; i++) ASSERT_EQ(coro_group_spawn(inner, sleeper, NULL, NULL), 0);
  int rc = coro_group_wait(inner, -1);
  ASSERT_EQ(rc, -ECANCELED);
  ASSERT_EQ(coro_group_close(inner, -1), 0);
  ASSERT_TRUE(cleaned_count >= 4); /* its own four at least */
  finished_count++;
  return coro_fail(rc);
}

static void *outer_closer(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0); /* let the inner groups fill up */
  ASSERT_EQ(coro_group_close(arg, -1), 0);
  ASSERT_EQ(finished_count, 2);
  ASSERT_EQ(cleaned_count, 8);
  return NULL;
}

TEST(group_nested_groups_close_from_the_outside_in) {
  reset();
  long before = live_coroutines();
  coro_group *outer;
  ASSERT_EQ(coro_group_create(&outer, 0), 0);
  ASSERT_EQ(coro_group_spawn(outer, inner_owner, NULL, NULL), 0);
  ASSERT_EQ(coro_group_spawn(outer, inner_owner, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, outer_closer, outer, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(live_coroutines(), before);
}

/* A waiter woken by a cancel stays linked to the group until it runs; the
 * group may be freed before then, and the waiter must not touch it. */
struct race {
  coro_group *g;
  coro_chan *member_ch, *closer_ch;
  coro *waiter;
  int waiter_rc;
};

static void *race_member(void *arg) {
  struct race *r = arg;
  int v;
  ASSERT_EQ(coro_chan_recv(r->member_ch, &v, -1), -EPIPE);
  return NULL;
}

static void *race_waiter(void *arg) {
  struct race *r = arg;
  r->waiter_rc = coro_group_wait(r->g, -1);
  return NULL;
}

static void *race_closer(void *arg) {
  struct race *r = arg;
  int v;
  ASSERT_EQ(coro_chan_recv(r->closer_ch, &v, -1), -EPIPE);
  ASSERT_EQ(coro_group_close(r->g, -1), 0); /* the member is done: frees the group at once */
  return NULL;
}

static void *race_driver(void *arg) {
  struct race *r = arg;
  /* Queue: member, closer, then the waiter woken by its cancel. */
  ASSERT_EQ(coro_chan_close(r->member_ch), 0);
  ASSERT_EQ(coro_chan_close(r->closer_ch), 0);
  ASSERT_EQ(coro_cancel(r->waiter), 0);
  return NULL;
}

TEST(group_freed_while_a_woken_waiter_has_not_run_yet) {
  struct race r = {0};
  ASSERT_EQ(coro_group_create(&r.g, 0), 0);
  ASSERT_EQ(coro_chan_create(&r.member_ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_chan_create(&r.closer_ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_group_spawn(r.g, race_member, &r, NULL), 0);
  ASSERT_EQ(coro_spawn(&r.waiter, race_waiter, &r, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, race_closer, &r, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, race_driver, &r, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(r.waiter_rc, 0); /* served (the group finished) before its cancel was seen */
  ASSERT_EQ(coro_destroy(r.waiter), 0);
  ASSERT_EQ(coro_chan_destroy(r.member_ch), 0);
  ASSERT_EQ(coro_chan_destroy(r.closer_ch), 0);
}

/* --- refused ----------------------------------------------------------------------------- */

static void *member_waits_on_own_group(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_wait(g, -1), -EDEADLK);
  ASSERT_EQ(coro_group_close(g, -1), -EDEADLK);
  ASSERT_EQ(coro_group_size(g), 1); /* nothing changed */
  ASSERT_EQ(coro_group_spawn(g, worker, IV(0), NULL), 0);
  return NULL;
}

TEST(group_member_cannot_wait_for_or_close_its_own_group) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, member_waits_on_own_group, g, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_count, 1);
  ASSERT_EQ(coro_group_close(g, -1), 0);
}

TEST(group_close_without_a_scheduler_is_refused_and_changes_nothing) {
  reset();
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, worker, IV(1), NULL), 0);
  ASSERT_EQ(coro_group_close(g, -1), -EDEADLK);
  ASSERT_EQ(coro_group_wait(g, -1), -EDEADLK);
  ASSERT_EQ(coro_group_wait(g, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_group_size(g), 1);
  ASSERT_EQ(coro_run(), 0); /* not cancelled: it runs */
  ASSERT_EQ(finished_count, 1);
  /* The documented way out: cancel, run, close. */
  ASSERT_EQ(coro_group_spawn(g, sleeper, NULL, NULL), 0);
  ASSERT_EQ(coro_group_cancel(g), 0);
  ASSERT_EQ(coro_group_cancel(g), 0); /* twice is fine */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_group_close(g, -1), 0);
}

TEST(group_bad_input) {
  coro_group *g;
  ASSERT_EQ(coro_group_create(NULL, 0), -EINVAL);
  ASSERT_EQ(coro_group_create(&g, 2), -EINVAL);
  ASSERT_EQ(coro_group_spawn(NULL, worker, NULL, NULL), -EINVAL);
  ASSERT_EQ(coro_group_cancel(NULL), -EINVAL);
  ASSERT_EQ(coro_group_wait(NULL, 0), -EINVAL);
  ASSERT_EQ(coro_group_close(NULL, -1), -EINVAL);
  ASSERT_EQ(coro_group_size(NULL), -EINVAL);
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  ASSERT_EQ(coro_group_spawn(g, NULL, NULL, NULL), -EINVAL);
  coro_attr a;
  ASSERT_EQ(coro_attr_init(&a), 0);
  a.stack_size = 1;
  ASSERT_EQ(coro_group_spawn(g, worker, NULL, &a), -EINVAL);
  ASSERT_EQ(coro_group_size(g), 0);
  ASSERT_EQ(coro_group_close(g, -1), 0);
}

static void *foreign(void *arg) {
  coro_group *g = arg;
  intptr_t bad = 0;
  bad += coro_group_spawn(g, worker, NULL, NULL) != -EPERM;
  bad += coro_group_cancel(g) != -EPERM;
  bad += coro_group_wait(g, 0) != -EPERM;
  bad += coro_group_close(g, -1) != -EPERM;
  return IV(bad);
}

TEST(group_of_another_thread_is_refused) {
  coro_group *g;
  ASSERT_EQ(coro_group_create(&g, 0), 0);
  pthread_t th;
  void *bad;
  ASSERT_EQ(pthread_create(&th, NULL, foreign, g), 0);
  ASSERT_EQ(pthread_join(th, &bad), 0);
  ASSERT_EQ(VI(bad), 0);
  ASSERT_EQ(coro_group_close(g, -1), 0);
}
