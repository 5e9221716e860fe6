/* SPDX-License-Identifier: MIT */
/*
 * select.c - coro_chan_select: the ready case, waiting on several, fairness,
 * closed channels, deadlines, cancellation and every refusal.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "coro.h"
#include "test.h"

#define MS (INT64_C(1000000))

static coro_chan *make(size_t capacity) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(long), capacity), 0);
  return ch;
}

TEST(select_takes_the_ready_case) {
  coro_chan *a = make(1), *b = make(1);
  long v = 7, got = 0, sink = 0;
  ASSERT_EQ(coro_chan_send(b, &v, 0), 0);
  coro_sel cases[] = {{a, CORO_SEL_RECV, &sink, 99}, {b, CORO_SEL_RECV, &got, 99}};
  ASSERT_EQ(coro_chan_select(cases, 2, 0), 1);
  ASSERT_EQ(cases[1].result, 0);
  ASSERT_EQ(got, 7);
  ASSERT_EQ(coro_chan_len(b), 0);
  ASSERT_EQ(coro_chan_destroy(a), 0);
  ASSERT_EQ(coro_chan_destroy(b), 0);
}

TEST(select_send_case_into_buffer) {
  coro_chan *a = make(0), *b = make(1);
  long x = 1, y = 2, out = 0;
  coro_sel cases[] = {{a, CORO_SEL_SEND, &x, 0}, {b, CORO_SEL_SEND, &y, 0}};
  ASSERT_EQ(coro_chan_select(cases, 2, 0), 1); /* only b has room */
  ASSERT_EQ(coro_chan_recv(b, &out, 0), 0);
  ASSERT_EQ(out, 2);
  ASSERT_EQ(coro_chan_destroy(a), 0);
  ASSERT_EQ(coro_chan_destroy(b), 0);
}

TEST(select_nonblocking_with_nothing_ready_times_out) {
  coro_chan *a = make(0), *b = make(0);
  long v = 0;
  coro_sel cases[] = {{a, CORO_SEL_RECV, &v, 0}, {b, CORO_SEL_SEND, &v, 0}};
  ASSERT_EQ(coro_chan_select(cases, 2, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_chan_select(cases, 2, -1), -EDEADLK); /* no scheduler: would wait forever */
  ASSERT_EQ(coro_chan_destroy(a), 0);                  /* no waiter left behind */
  ASSERT_EQ(coro_chan_destroy(b), 0);
}

/* --- waiting on several ---------------------------------------------------------- */

static coro_chan *ca, *cb;

static void *select_two(void *arg) {
  (void)arg;
  long va = 0, vb = 0;
  coro_sel cases[] = {{ca, CORO_SEL_RECV, &va, 9}, {cb, CORO_SEL_RECV, &vb, 9}};
  int i = coro_chan_select(cases, 2, -1);
  ASSERT_EQ(i, 1);
  ASSERT_EQ(cases[1].result, 0);
  ASSERT_EQ(vb, 42);
  ASSERT_EQ(va, 0);
  return NULL;
}

static void *send_b(void *arg) {
  (void)arg;
  long v = 42;
  ASSERT_EQ(coro_chan_send(cb, &v, -1), 0);
  /* the select's waiter on a is gone: nobody receives there now */
  ASSERT_EQ(coro_chan_send(ca, &v, 0), -ETIMEDOUT);
  return NULL;
}

TEST(select_waits_and_the_first_channel_to_serve_wins) {
  ca = make(0);
  cb = make(0);
  ASSERT_EQ(coro_spawn(NULL, select_two, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, send_b, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(ca), 0);
  ASSERT_EQ(coro_chan_destroy(cb), 0);
}

static void *select_send_waits(void *arg) {
  (void)arg;
  long v = 5, sink = 0;
  coro_sel cases[] = {{ca, CORO_SEL_SEND, &v, 9}, {cb, CORO_SEL_RECV, &sink, 9}};
  ASSERT_EQ(coro_chan_select(cases, 2, -1), 0);
  ASSERT_EQ(cases[0].result, 0);
  return NULL;
}

static void *recv_a(void *arg) {
  (void)arg;
  long v = 0;
  ASSERT_EQ(coro_chan_recv(ca, &v, -1), 0);
  ASSERT_EQ(v, 5);
  return NULL;
}

TEST(select_send_case_waits_for_a_receiver) {
  ca = make(0);
  cb = make(0);
  ASSERT_EQ(coro_spawn(NULL, select_send_waits, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, recv_a, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(ca), 0);
  ASSERT_EQ(coro_chan_destroy(cb), 0);
}

/* Two channels always ready: each is chosen about half the time. */
TEST(select_is_fair_among_ready_cases) {
  coro_chan *a = make(1), *b = make(1);
  long v = 1, got;
  int count[2] = {0, 0};
  for (int k = 0; k < 10000; k++) {
    ASSERT_EQ(coro_chan_send(a, &v, 0) == 0 || coro_chan_len(a) == 1, 1);
    ASSERT_EQ(coro_chan_send(b, &v, 0) == 0 || coro_chan_len(b) == 1, 1);
    coro_sel cases[] = {{a, CORO_SEL_RECV, &got, 0}, {b, CORO_SEL_RECV, &got, 0}};
    int i = coro_chan_select(cases, 2, 0);
    ASSERT_TRUE(i == 0 || i == 1);
    count[i]++;
  }
  ASSERT_TRUE(count[0] > 4000 && count[1] > 4000);
  ASSERT_EQ(coro_chan_destroy(a), 0);
  ASSERT_EQ(coro_chan_destroy(b), 0);
}

/* --- closed channels, deadlines, cancel ------------------------------------------------- */

TEST(select_on_a_closed_channel_reports_epipe) {
  coro_chan *a = make(0), *b = make(0);
  ASSERT_EQ(coro_chan_close(b), 0);
  long v = 0;
  coro_sel cases[] = {{a, CORO_SEL_RECV, &v, 9}, {b, CORO_SEL_RECV, &v, 9}};
  ASSERT_EQ(coro_chan_select(cases, 2, -1), 1);
  ASSERT_EQ(cases[1].result, -EPIPE);
  coro_sel send_case[] = {{b, CORO_SEL_SEND, &v, 9}};
  ASSERT_EQ(coro_chan_select(send_case, 1, 0), 0);
  ASSERT_EQ(send_case[0].result, -EPIPE);
  ASSERT_EQ(coro_chan_destroy(a), 0);
  ASSERT_EQ(coro_chan_destroy(b), 0);
}

static void *select_until_closed(void *arg) {
  (void)arg;
  long va, vb;
  coro_sel cases[] = {{ca, CORO_SEL_RECV, &va, 9}, {cb, CORO_SEL_RECV, &vb, 9}};
  ASSERT_EQ(coro_chan_select(cases, 2, -1), 0);
  ASSERT_EQ(cases[0].result, -EPIPE);
  return NULL;
}

static void *close_a(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_chan_close(ca), 0);
  return NULL;
}

TEST(close_while_selecting_names_the_closed_case) {
  ca = make(0);
  cb = make(0);
  ASSERT_EQ(coro_spawn(NULL, select_until_closed, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_a, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(ca), 0);
  ASSERT_EQ(coro_chan_destroy(cb), 0);
}

static void *select_with_deadline(void *arg) {
  (void)arg;
  long v;
  coro_sel cases[] = {{ca, CORO_SEL_RECV, &v, 9}, {cb, CORO_SEL_SEND, &v, 9}};
  int64_t deadline = coro_now() + 2 * MS;
  ASSERT_EQ(coro_chan_select(cases, 2, deadline), -ETIMEDOUT);
  ASSERT_TRUE(coro_now() >= deadline);
  return NULL;
}

TEST(select_times_out_and_leaves_no_waiter) {
  ca = make(0);
  cb = make(0);
  ASSERT_EQ(coro_spawn(NULL, select_with_deadline, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(ca), 0); /* -EBUSY if a waiter were left */
  ASSERT_EQ(coro_chan_destroy(cb), 0);
}

static void *select_forever(void *arg) {
  (void)arg;
  long v;
  coro_sel cases[] = {{ca, CORO_SEL_RECV, &v, 9}};
  ASSERT_EQ(coro_chan_select(cases, 1, -1), -ECANCELED);
  return NULL;
}

static void *cancel_it(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(cancel_wakes_a_select) {
  ca = make(0);
  coro *c;
  ASSERT_EQ(coro_spawn(&c, select_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_it, c, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(c, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(c), 0);
  ASSERT_EQ(coro_chan_destroy(ca), 0);
}

/* --- bad input -------------------------------------------------------------------------- */

TEST(select_bad_cases_are_einval) {
  coro_chan *a = make(1);
  long v = 0;
  coro_sel one[] = {{a, CORO_SEL_RECV, &v, 0}};
  ASSERT_EQ(coro_chan_select(NULL, 1, 0), -EINVAL);
  ASSERT_EQ(coro_chan_select(one, 0, 0), -EINVAL);
  ASSERT_EQ(coro_chan_select(one, 65, 0), -EINVAL);
  coro_sel null_ch[] = {{NULL, CORO_SEL_RECV, &v, 0}};
  ASSERT_EQ(coro_chan_select(null_ch, 1, 0), -EINVAL);
  coro_sel null_elem[] = {{a, CORO_SEL_RECV, NULL, 0}};
  ASSERT_EQ(coro_chan_select(null_elem, 1, 0), -EINVAL);
  coro_sel bad_op[] = {{a, 3, &v, 0}};
  ASSERT_EQ(coro_chan_select(bad_op, 1, 0), -EINVAL);
  coro_sel dup[] = {{a, CORO_SEL_RECV, &v, 0}, {a, CORO_SEL_RECV, &v, 0}};
  ASSERT_EQ(coro_chan_select(dup, 2, 0), -EINVAL);
  /* send and receive on one channel are two different cases: allowed */
  coro_sel both[] = {{a, CORO_SEL_SEND, &v, 0}, {a, CORO_SEL_RECV, &v, 0}};
  ASSERT_EQ(coro_chan_select(both, 2, 0), 0); /* only the send is ready */
  ASSERT_EQ(coro_chan_len(a), 1);
  ASSERT_EQ(coro_chan_destroy(a), 0);
}

static void *select_from_other_thread(void *arg) {
  long v = 0;
  coro_sel cases[] = {{arg, CORO_SEL_RECV, &v, 0}};
  return (void *)(intptr_t)coro_chan_select(cases, 1, 0);
}

TEST(select_on_another_threads_channel_is_eperm) {
  coro_chan *a = make(1);
  pthread_t th;
  void *rc;
  ASSERT_EQ(pthread_create(&th, NULL, select_from_other_thread, a), 0);
  ASSERT_EQ(pthread_join(th, &rc), 0);
  ASSERT_EQ(VI(rc), -EPERM);
  ASSERT_EQ(coro_chan_destroy(a), 0);
}
