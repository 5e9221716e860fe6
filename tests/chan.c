/* SPDX-License-Identifier: MIT */
/*
 * chan.c - channels between micro-threads: rendezvous, buffering, FIFO
 * order, close and drain, deadlines, cancellation, and every refusal.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "coro.h"
#include "test.h"

#define MS (INT64_C(1000000))

static char trace[512];
static size_t ntrace;

static void mark(char ch) {
  if (ntrace + 1 < sizeof(trace)) trace[ntrace++] = ch;
  trace[ntrace] = '\0';
}

static void reset_trace(void) {
  ntrace = 0;
  trace[0] = '\0';
}

/* --- rendezvous and buffering ------------------------------------------------------ */

/* Completed sends minus completed receives, and its maximum over the run. */
static long ahead, max_ahead;

static void *send_three(void *arg) {
  coro_chan *ch = arg;
  for (long i = 1; i <= 3; i++) {
    ASSERT_EQ(coro_chan_send(ch, &i, -1), 0);
    if (++ahead > max_ahead) max_ahead = ahead;
    mark('s');
  }
  return NULL;
}

static void *recv_three(void *arg) {
  coro_chan *ch = arg;
  long sum = 0;
  for (long i = 1; i <= 3; i++) {
    long v = 0;
    ASSERT_EQ(coro_chan_recv(ch, &v, -1), 0);
    ahead--;
    ASSERT_EQ(v, i); /* FIFO */
    mark('r');
    sum += v;
  }
  return IV(sum);
}

/* Unbuffered: a send completes only when a receiver takes its element, so
 * completed sends run at most one ahead of completed receives (the receiver
 * served last has not run yet). */
TEST(unbuffered_send_waits_for_a_receiver) {
  reset_trace();
  ahead = max_ahead = 0;
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(long), 0), 0);
  coro *r;
  ASSERT_EQ(coro_spawn(NULL, send_three, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(&r, recv_three, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(max_ahead, 1);
  ASSERT_EQ(ahead, 0);
  void *sum;
  ASSERT_EQ(coro_join(r, &sum, -1), 0);
  ASSERT_EQ(VI(sum), 6);
  ASSERT_EQ(coro_destroy(r), 0);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

/* Buffered with room for all three: the sender never waits. */
TEST(buffered_send_does_not_wait_while_there_is_room) {
  reset_trace();
  ahead = max_ahead = 0;
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(long), 3), 0);
  coro *r;
  ASSERT_EQ(coro_spawn(NULL, send_three, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(&r, recv_three, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "sssrrr");
  ASSERT_EQ(coro_join(r, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(r), 0);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

/* Without a scheduler, what needs no waiting still works. */
TEST(buffered_channel_works_from_main) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 2), 0);
  int a = 1, b = 2, c = 3, out = 0;
  ASSERT_EQ(coro_chan_send(ch, &a, -1), 0);
  ASSERT_EQ(coro_chan_send(ch, &b, 0), 0);
  ASSERT_EQ(coro_chan_len(ch), 2);
  ASSERT_EQ(coro_chan_send(ch, &c, 0), -ETIMEDOUT); /* full, do not wait */
  ASSERT_EQ(coro_chan_send(ch, &c, -1), -EDEADLK);  /* full, nobody could empty it */
  ASSERT_EQ(coro_chan_recv(ch, &out, -1), 0);
  ASSERT_EQ(out, 1);
  ASSERT_EQ(coro_chan_recv(ch, &out, -1), 0);
  ASSERT_EQ(out, 2);
  ASSERT_EQ(coro_chan_recv(ch, &out, 0), -ETIMEDOUT); /* empty */
  ASSERT_EQ(coro_chan_recv(ch, &out, -1), -EDEADLK);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

/* Elements of any size are copied whole. */
typedef struct big {
  char text[100];
  long n;
} big;

static void *send_big(void *arg) {
  big b;
  memset(&b, 0, sizeof(b));
  strcpy(b.text, "hello, channel");
  b.n = 77;
  ASSERT_EQ(coro_chan_send(arg, &b, -1), 0);
  return NULL;
}

TEST(large_elements_are_copied_whole) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(big), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, send_big, ch, NULL), 0);
  ASSERT_EQ(coro_run(), -EDEADLK); /* the sender waits: nobody receives */
  big got;
  /* main is not a micro-thread, but a waiting sender can be served at once */
  ASSERT_EQ(coro_chan_recv(ch, &got, 0), 0);
  ASSERT_STR_EQ(got.text, "hello, channel");
  ASSERT_EQ(got.n, 77);
  ASSERT_EQ(coro_run(), 0); /* the sender, served, finishes */
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

/* Many senders and receivers: every element arrives exactly once. */
static coro_chan *shared;

static void *producer(void *arg) {
  long base = VI(arg) * 1000;
  for (long i = 0; i < 100; i++) {
    long v = base + i;
    ASSERT_EQ(coro_chan_send(shared, &v, -1), 0);
    if (i % 7 == 0) coro_sched_yield();
  }
  return NULL;
}

static long seen[10][100];

static void *consumer(void *arg) {
  (void)arg;
  long v;
  int rc;
  while ((rc = coro_chan_recv(shared, &v, -1)) == 0) seen[v / 1000][v % 1000]++;
  ASSERT_EQ(rc, -EPIPE);
  return NULL;
}

static void *closer(void *arg) {
  coro **producers = arg;
  for (int i = 0; i < 10; i++) ASSERT_EQ(coro_join(producers[i], NULL, -1), 0);
  ASSERT_EQ(coro_chan_close(shared), 0);
  return NULL;
}

TEST(many_to_many_every_element_once) {
  memset(seen, 0, sizeof(seen));
  for (size_t cap = 0; cap <= 8; cap += 8) {
    memset(seen, 0, sizeof(seen));
    ASSERT_EQ(coro_chan_create(&shared, sizeof(long), cap), 0);
    coro *p[10];
    for (int i = 0; i < 10; i++) ASSERT_EQ(coro_spawn(&p[i], producer, IV(i), NULL), 0);
    for (int i = 0; i < 4; i++) ASSERT_EQ(coro_spawn(NULL, consumer, NULL, NULL), 0);
    ASSERT_EQ(coro_spawn(NULL, closer, p, NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    for (int i = 0; i < 10; i++)
      for (int j = 0; j < 100; j++) ASSERT_EQ(seen[i][j], 1);
    for (int i = 0; i < 10; i++) ASSERT_EQ(coro_destroy(p[i]), 0);
    ASSERT_EQ(coro_chan_destroy(shared), 0);
  }
}

/* --- close ---------------------------------------------------------------------------- */

TEST(close_lets_receivers_drain_then_epipe) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 4), 0);
  int v = 5, out = 0;
  ASSERT_EQ(coro_chan_send(ch, &v, 0), 0);
  ASSERT_EQ(coro_chan_close(ch), 0);
  ASSERT_EQ(coro_chan_send(ch, &v, 0), -EPIPE);
  ASSERT_EQ(coro_chan_send(ch, &v, -1), -EPIPE);
  ASSERT_EQ(coro_chan_recv(ch, &out, -1), 0); /* drains what was buffered */
  ASSERT_EQ(out, 5);
  ASSERT_EQ(coro_chan_recv(ch, &out, -1), -EPIPE);
  ASSERT_EQ(coro_chan_recv(ch, &out, 0), -EPIPE);
  ASSERT_EQ(coro_chan_close(ch), -EPIPE); /* twice: an error, not a crash */
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

static void *blocked_receiver(void *arg) {
  int v;
  ASSERT_EQ(coro_chan_recv(arg, &v, -1), -EPIPE);
  mark('R');
  return NULL;
}

static void *blocked_sender(void *arg) {
  int v = 1;
  ASSERT_EQ(coro_chan_send(arg, &v, -1), -EPIPE);
  mark('S');
  return NULL;
}

static void *close_it(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_chan_close(arg), 0);
  mark('c');
  return NULL;
}

TEST(close_wakes_waiting_receivers_and_senders) {
  reset_trace();
  coro_chan *in, *out;
  ASSERT_EQ(coro_chan_create(&in, sizeof(int), 0), 0);
  ASSERT_EQ(coro_chan_create(&out, sizeof(int), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, blocked_receiver, in, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, blocked_sender, out, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_it, in, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_it, out, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "ccRS");
  ASSERT_EQ(coro_chan_destroy(in), 0);
  ASSERT_EQ(coro_chan_destroy(out), 0);
}

/* --- deadlines and cancellation ----------------------------------------------------------- */

static void *recv_with_deadline(void *arg) {
  int v;
  int64_t deadline = coro_now() + 2 * MS;
  ASSERT_EQ(coro_chan_recv(arg, &v, deadline), -ETIMEDOUT);
  ASSERT_TRUE(coro_now() >= deadline);
  ASSERT_EQ(coro_chan_recv(arg, &v, 0), -ETIMEDOUT);
  return NULL;
}

TEST(recv_times_out) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, recv_with_deadline, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

/* A receiver that timed out is not handed a value: the value waits for the
 * next receiver. */
static void *late_sender(void *arg) {
  ASSERT_EQ(coro_sleep(coro_now() + 3 * MS), 0);
  int v = 42;
  ASSERT_EQ(coro_chan_send(arg, &v, 0), 0); /* buffered: nobody waits now */
  return NULL;
}

TEST(timed_out_receiver_is_never_served) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 1), 0);
  ASSERT_EQ(coro_spawn(NULL, recv_with_deadline, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, late_sender, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  int v = 0;
  ASSERT_EQ(coro_chan_recv(ch, &v, 0), 0);
  ASSERT_EQ(v, 42);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

static void *recv_forever(void *arg) {
  int v;
  ASSERT_EQ(coro_chan_recv(arg, &v, -1), -ECANCELED);
  ASSERT_EQ(coro_chan_send(arg, &v, -1), -ECANCELED); /* every later one */
  return NULL;
}

static void *cancel_first(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(cancel_wakes_a_blocked_receive) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 0), 0);
  coro *r;
  ASSERT_EQ(coro_spawn(&r, recv_forever, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_first, r, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(r, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(r), 0);
  ASSERT_EQ(coro_chan_destroy(ch), 0); /* nobody is left waiting on it */
}

/* --- the article's producer/consumer, written with channels ----------------------------------- */

static void *pc_consumer(void *arg) {
  coro_chan **ch = arg; /* ch[0]: requests, ch[1]: replies */
  long n;
  while (coro_chan_recv(ch[0], &n, -1) == 0) {
    mark((char)('0' + n));
    const char *r = "200 OK";
    ASSERT_EQ(coro_chan_send(ch[1], &r, -1), 0);
  }
  return NULL;
}

static void *pc_producer(void *arg) {
  coro_chan **ch = arg;
  for (long n = 1; n <= 5; n++) {
    ASSERT_EQ(coro_chan_send(ch[0], &n, -1), 0);
    const char *r = NULL;
    ASSERT_EQ(coro_chan_recv(ch[1], &r, -1), 0);
    ASSERT_STR_EQ(r, "200 OK");
  }
  ASSERT_EQ(coro_chan_close(ch[0]), 0);
  return NULL;
}

TEST(article_producer_consumer_over_channels) {
  reset_trace();
  coro_chan *ch[2];
  ASSERT_EQ(coro_chan_create(&ch[0], sizeof(long), 0), 0);
  ASSERT_EQ(coro_chan_create(&ch[1], sizeof(const char *), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, pc_consumer, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, pc_producer, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "12345");
  ASSERT_EQ(coro_chan_destroy(ch[0]), 0);
  ASSERT_EQ(coro_chan_destroy(ch[1]), 0);
}

/* --- bad input --------------------------------------------------------------------------------- */

TEST(bad_sizes_are_einval) {
  coro_chan *ch = (coro_chan *)(uintptr_t)0x5e5e;
  ASSERT_EQ(coro_chan_create(NULL, 4, 0), -EINVAL);
  ASSERT_EQ(coro_chan_create(&ch, 0, 0), -EINVAL);
  ASSERT_EQ(coro_chan_create(&ch, CORO_CHAN_ELEM_MAX + 1, 0), -EINVAL);
  ASSERT_EQ(coro_chan_create(&ch, 4, (size_t)-1), -EINVAL); /* a negative capacity */
  ASSERT_EQ(coro_chan_create(&ch, 4, CORO_CHAN_CAPACITY_MAX + 1), -EINVAL);
  ASSERT_PTR_EQ(ch, (coro_chan *)(uintptr_t)0x5e5e);
  ASSERT_EQ(coro_chan_create(&ch, 4, 0), 0); /* zero capacity: unbuffered, fine */
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

TEST(null_channel_or_element_is_einval) {
  int v = 0;
  ASSERT_EQ(coro_chan_send(NULL, &v, 0), -EINVAL);
  ASSERT_EQ(coro_chan_recv(NULL, &v, 0), -EINVAL);
  ASSERT_EQ(coro_chan_close(NULL), -EINVAL);
  ASSERT_EQ(coro_chan_destroy(NULL), -EINVAL);
  ASSERT_EQ(coro_chan_len(NULL), -EINVAL);
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 1), 0);
  ASSERT_EQ(coro_chan_send(ch, NULL, 0), -EINVAL);
  ASSERT_EQ(coro_chan_recv(ch, NULL, 0), -EINVAL);
  ASSERT_EQ(coro_chan_len(ch), 0);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

static void *from_other_thread(void *arg) {
  int v = 1;
  coro_chan *ch = arg;
  long rc = 0;
  rc |= coro_chan_send(ch, &v, 0) != -EPERM;
  rc |= coro_chan_recv(ch, &v, 0) != -EPERM;
  rc |= coro_chan_close(ch) != -EPERM;
  rc |= coro_chan_destroy(ch) != -EPERM;
  return (void *)rc;
}

TEST(another_threads_channel_is_eperm) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 1), 0);
  pthread_t th;
  void *rc;
  ASSERT_EQ(pthread_create(&th, NULL, from_other_thread, ch), 0);
  ASSERT_EQ(pthread_join(th, &rc), 0);
  ASSERT_PTR_EQ(rc, NULL);
  int v = 9;
  ASSERT_EQ(coro_chan_send(ch, &v, 0), 0); /* intact */
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

static void *waits_on(void *arg) {
  int v;
  ASSERT_EQ(coro_chan_recv(arg, &v, -1), -EPIPE);
  return NULL;
}

TEST(destroy_with_waiters_is_ebusy) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, waits_on, ch, NULL), 0);
  ASSERT_EQ(coro_run(), -EDEADLK);
  ASSERT_EQ(coro_chan_destroy(ch), -EBUSY);
  ASSERT_EQ(coro_chan_close(ch), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(ch), 0);
}

/* A served receiver no longer touches the channel: the sender may destroy it
 * before the receiver runs again (ASan reports a use after free otherwise). */
static coro_chan *short_lived;

static void *receive_once(void *arg) {
  (void)arg;
  int v = 0;
  ASSERT_EQ(coro_chan_recv(short_lived, &v, -1), 0);
  ASSERT_EQ(v, 3);
  return NULL;
}

static void *send_then_destroy(void *arg) {
  (void)arg;
  int v = 3;
  ASSERT_EQ(coro_chan_send(short_lived, &v, -1), 0); /* serves the waiting receiver */
  ASSERT_EQ(coro_chan_destroy(short_lived), 0);      /* nobody is linked any more */
  return NULL;
}

TEST(served_receiver_does_not_touch_a_destroyed_channel) {
  ASSERT_EQ(coro_chan_create(&short_lived, sizeof(int), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, receive_once, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, send_then_destroy, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}

/* --- destroy while a woken waiter has not run yet (issue 11 item 9) ---------------------------- */

static void *recv_expect_epipe(void *arg) {
  int v = 0;
  ASSERT_EQ(coro_chan_recv(arg, &v, -1), -EPIPE);
  return NULL;
}

static void *select_expect_epipe(void *arg) {
  int v = 0;
  coro_sel c = {.ch = arg, .op = CORO_SEL_RECV, .elem = &v};
  ASSERT_EQ(coro_chan_select(&c, 1, -1), 0);
  ASSERT_EQ(c.result, -EPIPE);
  return NULL;
}

/* Is some coroutine of this thread parked on channel ch? */
static int someone_waits_on(const coro_chan *ch) {
  coro_info info[8];
  long n = coro_list(info, 8);
  ASSERT_TRUE(n >= 0 && n <= 8);
  for (long i = 0; i < n; i++)
    if (info[i].wait_object == ch) return 1;
  return 0;
}

/* Closes the channel its receiver waits on, then destroys it at once: it is
 * woken but has not run, so the header promises -EBUSY.  Order-independent
 * (a seeded scheduler may run this first): the close waits until the
 * receiver is parked, and the last destroy until it has let go. */
static void *close_then_destroy(void *arg) {
  coro_chan *ch = arg;
  while (!someone_waits_on(ch)) ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_chan_close(ch), 0);
  ASSERT_EQ(coro_chan_destroy(ch), -EBUSY);
  int rc;
  while ((rc = coro_chan_destroy(ch)) == -EBUSY) ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(rc, 0);
  return NULL;
}

TEST(destroy_is_ebusy_while_a_closed_waiter_has_not_run) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, recv_expect_epipe, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_then_destroy, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}

TEST(destroy_is_ebusy_while_a_closed_select_waiter_has_not_run) {
  coro_chan *ch;
  ASSERT_EQ(coro_chan_create(&ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_spawn(NULL, select_expect_epipe, ch, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_then_destroy, ch, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}
