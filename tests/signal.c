/* SPDX-License-Identifier: MIT */
/*
 * signal.c - signals as events (coro_signal_wait): a signal raised by the
 * process or sent by another one wakes the coroutine that waits for it while
 * the others run; deadlines, cancellation, no scheduler, a delivery reaching
 * every waiter of the signal (broadcast) and only them, signals that stay
 * pending between waits, bad sets, and no fd left behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define MS (INT64_C(1000000))
#define HOUR (INT64_C(3600) * 1000 * MS)

static sigset_t only(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  return s;
}

static void *wait_for(void *arg) {
  sigset_t s = only((int)(intptr_t)arg);
  return IV(coro_signal_wait(&s, coro_now() + HOUR));
}

static int ticks; /* how often the busy coroutine ran while the waiter waited */

static void *raise_later(void *arg) {
  for (int i = 0; i < 5; i++) {
    ticks++;
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  ASSERT_EQ(raise((int)(intptr_t)arg), 0);
  return NULL;
}

/* The thread's poller (an epoll fd) opens at its first wait and stays: count
 * fds after one round, then check that further rounds leave none behind. */
TEST(raised_signal_wakes_its_waiter_while_others_run) {
  int after_first = 0;
  for (int round = 0; round < 3; round++) {
    ticks = 0;
    coro *w;
    ASSERT_EQ(coro_spawn(&w, wait_for, IV(SIGUSR1), NULL), 0);
    ASSERT_EQ(coro_spawn(NULL, raise_later, IV(SIGUSR1), NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    void *r;
    ASSERT_EQ(coro_join(w, &r, 0), 0);
    ASSERT_EQ(VI(r), SIGUSR1);
    ASSERT_EQ(ticks, 5); /* the other coroutine ran while it waited */
    ASSERT_EQ(coro_destroy(w), 0);
    if (round == 0) after_first = test_open_fds();
    ASSERT_EQ(test_open_fds(), after_first); /* each signalfd was closed */
  }
}

TEST(signal_from_another_process_is_received) {
  coro *w;
  ASSERT_EQ(coro_spawn(&w, wait_for, IV(SIGTERM), NULL), 0);
  /* Block first: the child's SIGTERM must not find the default action. */
  sigset_t s = only(SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
  pid_t child = fork();
  ASSERT_TRUE(child >= 0);
  if (child == 0) _exit(kill(getppid(), SIGTERM) == 0 ? 0 : 1);
  ASSERT_EQ(coro_run(), 0);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  void *r;
  ASSERT_EQ(coro_join(w, &r, 0), 0);
  ASSERT_EQ(VI(r), SIGTERM);
  ASSERT_EQ(coro_destroy(w), 0);
}

TEST(pending_signal_returns_at_once_without_scheduler) {
  sigset_t s = only(SIGUSR2);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  ASSERT_EQ(coro_signal_wait(&s, -1), SIGUSR2);
  /* taken: nothing is pending any more */
  ASSERT_EQ(coro_signal_wait(&s, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_signal_wait(&s, -1), -EDEADLK);
}

TEST(signal_stays_blocked_and_pending_between_waits) {
  sigset_t s = only(SIGHUP);
  ASSERT_EQ(coro_signal_wait(&s, 0), -ETIMEDOUT); /* blocks SIGHUP */
  /* Its default action would end the process; blocked, it waits for us. */
  ASSERT_EQ(raise(SIGHUP), 0);
  sigset_t pending;
  ASSERT_EQ(sigpending(&pending), 0);
  ASSERT_EQ(sigismember(&pending, SIGHUP), 1);
  ASSERT_EQ(coro_signal_wait(&s, 0), SIGHUP);
}

static void *wait_with_deadline(void *arg) {
  (void)arg;
  sigset_t s = only(SIGUSR1);
  ASSERT_EQ(coro_signal_wait(&s, coro_now() + 5 * MS), -ETIMEDOUT);
  ASSERT_EQ(coro_signal_wait(&s, 0), -ETIMEDOUT);
  return NULL;
}

TEST(deadline_passes) {
  int after_first = 0;
  for (int round = 0; round < 3; round++) {
    ASSERT_EQ(coro_spawn(NULL, wait_with_deadline, NULL, NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    if (round == 0) after_first = test_open_fds();
    ASSERT_EQ(test_open_fds(), after_first); /* as above */
  }
}

static void *cancel_it(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0); /* let it park */
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(cancelled_waiter_returns_ecanceled) {
  coro *w;
  ASSERT_EQ(coro_spawn(&w, wait_for, IV(SIGUSR1), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_it, w, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *r;
  ASSERT_EQ(coro_join(w, &r, 0), 0);
  ASSERT_EQ(VI(r), -ECANCELED);
  ASSERT_EQ(coro_destroy(w), 0);
}

TEST(waiters_on_different_signals_each_get_their_own) {
  coro *a, *b;
  ASSERT_EQ(coro_spawn(&a, wait_for, IV(SIGUSR1), NULL), 0);
  ASSERT_EQ(coro_spawn(&b, wait_for, IV(SIGUSR2), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, raise_later, IV(SIGUSR2), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, raise_later, IV(SIGUSR1), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  void *ra, *rb;
  ASSERT_EQ(coro_join(a, &ra, 0), 0);
  ASSERT_EQ(coro_join(b, &rb, 0), 0);
  ASSERT_EQ(VI(ra), SIGUSR1);
  ASSERT_EQ(VI(rb), SIGUSR2);
  coro_destroy(a);
  coro_destroy(b);
}

/* --- broadcast: a delivered signal wakes every waiter of the thread -------- */

static int woke[NSIG]; /* how many waiters got each signal */

/* Waits (an hour at most) for the signals of the set *arg, counts what it got. */
static void *wait_set(void *arg) {
  int rc = coro_signal_wait(arg, coro_now() + HOUR);
  if (rc > 0 && rc < NSIG) woke[rc]++;
  return IV(rc);
}

static void joined_is(coro *w, int want) {
  void *r;
  ASSERT_EQ(coro_join(w, &r, 0), 0);
  ASSERT_EQ(VI(r), want);
  ASSERT_EQ(coro_destroy(w), 0);
}

/* The same for one that another coroutine joined already. */
static void ended_with(coro *w, int want) {
  void *r;
  ASSERT_EQ(coro_result(w, &r), 0);
  ASSERT_EQ(VI(r), want);
  ASSERT_EQ(coro_destroy(w), 0);
}

static void not_pending(int sig) {
  sigset_t pending;
  ASSERT_EQ(sigpending(&pending), 0);
  ASSERT_EQ(sigismember(&pending, sig), 0);
}

TEST(every_waiter_on_a_signal_wakes) {
  int baseline = 0;
  sigset_t usr1 = only(SIGUSR1), both = only(SIGUSR1);
  sigaddset(&both, SIGUSR2);
  for (int n = 2; n <= 3; n++) {
    memset(woke, 0, sizeof(woke));
    coro *w[4];
    for (int i = 0; i < n; i++) ASSERT_EQ(coro_spawn(&w[i], wait_set, &usr1, NULL), 0);
    ASSERT_EQ(coro_spawn(&w[n], wait_set, &both, NULL), 0); /* a set holding it */
    ASSERT_EQ(coro_spawn(NULL, raise_later, IV(SIGUSR1), NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(woke[SIGUSR1], n + 1); /* one delivery, every waiter */
    for (int i = 0; i <= n; i++) joined_is(w[i], SIGUSR1);
    not_pending(SIGUSR1);
    if (n == 2) baseline = test_open_fds();
    ASSERT_EQ(test_open_fds(), baseline); /* the thread's signalfd closes with its last wait */
  }
}

static void *join_two_then_raise_usr1(void *arg) {
  coro **pair = arg;
  ASSERT_EQ(coro_join(pair[0], NULL, -1), 0);
  ASSERT_EQ(coro_join(pair[1], NULL, -1), 0);
  ASSERT_EQ(woke[SIGUSR1], 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  return NULL;
}

TEST(broadcast_reaches_only_the_waiters_of_that_signal) {
  memset(woke, 0, sizeof(woke));
  sigset_t usr1 = only(SIGUSR1), usr2 = only(SIGUSR2);
  coro *a, *b1, *b2;
  ASSERT_EQ(coro_spawn(&a, wait_set, &usr1, NULL), 0);
  ASSERT_EQ(coro_spawn(&b1, wait_set, &usr2, NULL), 0);
  ASSERT_EQ(coro_spawn(&b2, wait_set, &usr2, NULL), 0);
  coro *pair[2] = {b1, b2};
  ASSERT_EQ(coro_spawn(NULL, raise_later, IV(SIGUSR2), NULL), 0);
  /* SIGUSR1 only once both SIGUSR2 waiters finished: the SIGUSR1 one must
   * still be waiting then, and get its own signal, not theirs. */
  ASSERT_EQ(coro_spawn(NULL, join_two_then_raise_usr1, pair, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(woke[SIGUSR2], 2);
  ASSERT_EQ(woke[SIGUSR1], 1);
  ended_with(b1, SIGUSR2);
  ended_with(b2, SIGUSR2);
  joined_is(a, SIGUSR1);
}

/* Two real-time signals queued: the waiter takes one, the other stays
 * pending for the next wait (a broadcast reads only what its waiters take). */
static void *raise_rt_twice(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* let the waiter park */
  ASSERT_EQ(raise(SIGRTMIN), 0);
  ASSERT_EQ(raise(SIGRTMIN), 0);
  return NULL;
}

TEST(a_second_delivery_stays_pending_for_the_next_wait) {
  sigset_t rt = only(SIGRTMIN);
  coro *w;
  ASSERT_EQ(coro_spawn(&w, wait_set, &rt, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, raise_rt_twice, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  joined_is(w, SIGRTMIN);
  ASSERT_EQ(coro_signal_wait(&rt, 0), SIGRTMIN);
  ASSERT_EQ(coro_signal_wait(&rt, 0), -ETIMEDOUT);
}

/* A waiter whose deadline passes leaves; the signal raised after that goes
 * to the two still waiting. */
static void *deadline_then_raise(void *arg) {
  coro *short_one = arg;
  ASSERT_EQ(coro_join(short_one, NULL, -1), 0); /* it timed out */
  ASSERT_EQ(raise(SIGUSR1), 0);
  return NULL;
}

static void *wait_usr1_briefly(void *arg) {
  (void)arg;
  sigset_t s = only(SIGUSR1);
  return IV(coro_signal_wait(&s, coro_now() + 5 * MS));
}

TEST(a_waiter_with_a_deadline_among_others) {
  memset(woke, 0, sizeof(woke));
  sigset_t usr1 = only(SIGUSR1);
  coro *longer, *longer2, *brief;
  ASSERT_EQ(coro_spawn(&longer, wait_set, &usr1, NULL), 0);
  ASSERT_EQ(coro_spawn(&longer2, wait_set, &usr1, NULL), 0);
  ASSERT_EQ(coro_spawn(&brief, wait_usr1_briefly, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, deadline_then_raise, brief, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ended_with(brief, -ETIMEDOUT);
  joined_is(longer, SIGUSR1);
  joined_is(longer2, SIGUSR1);
  not_pending(SIGUSR1);
}

/* Cancels arg once every waiter parked, then raises SIGUSR1. */
static void *cancel_then_raise(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cancel(arg), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  return NULL;
}

TEST(a_cancelled_waiter_leaves_the_others_waiting) {
  int before = test_open_fds();
  memset(woke, 0, sizeof(woke));
  sigset_t usr1 = only(SIGUSR1);
  coro *a, *b, *c;
  ASSERT_EQ(coro_spawn(&a, wait_set, &usr1, NULL), 0);
  ASSERT_EQ(coro_spawn(&b, wait_set, &usr1, NULL), 0);
  ASSERT_EQ(coro_spawn(&c, wait_set, &usr1, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_then_raise, b, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  joined_is(b, -ECANCELED);
  joined_is(a, SIGUSR1);
  joined_is(c, SIGUSR1);
  ASSERT_EQ(woke[SIGUSR1], 2);
  ASSERT_TRUE(test_open_fds() <= before + 1); /* at most the thread's poller is new */
}

/* --- a thread that exits while a coroutine waits for a signal ------------------ */

static int about_to_wait; /* waiters whose next step is their park */

static void *waits_for_usr1_forever(void *arg) {
  sigset_t s = only((int)(intptr_t)arg);
  about_to_wait++;
  coro_signal_wait(&s, -1);
  ASSERT_TRUE(0); /* its thread exits first: never resumed */
  return NULL;
}

/* Exits its thread from inside the scheduler (as pthread_exit from any
 * function would) once both waiters are parked: each runs without yielding
 * from its count to its park. */
static void *exits_once_waited_on(void *arg) {
  (void)arg;
  while (about_to_wait < 2) ASSERT_EQ(coro_sched_yield(), 0);
  pthread_exit(NULL);
}

static void *thread_with_signal_waiters(void *arg) {
  (void)arg;
#ifdef __SANITIZE_ADDRESS__
  __lsan_disable(); /* the coroutines left parked are the program's leak */
#endif
  /* Own stacks even in the .copy run: copy-stack records are heap blocks,
   * and these coroutines are leaked by the program (Valgrind would say so). */
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_mode = CORO_STACK_MODE_OWN;
  ASSERT_EQ(coro_spawn(NULL, waits_for_usr1_forever, IV(SIGUSR1), &attr), 0);
  ASSERT_EQ(coro_spawn(NULL, waits_for_usr1_forever, IV(SIGUSR2), &attr), 0);
  ASSERT_EQ(coro_spawn(NULL, exits_once_waited_on, NULL, &attr), 0);
  coro_run();
  ASSERT_TRUE(0); /* never returns */
  return NULL;
}

/* The thread's signalfd goes with it (its poller too), though its waiters
 * never leave their wait. */
TEST(a_thread_that_exits_mid_wait_leaves_no_signalfd) {
  int before = test_open_fds();
  for (int i = 0; i < 3; i++) {
    about_to_wait = 0;
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, thread_with_signal_waiters, NULL), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_EQ(test_open_fds(), before);
  }
}

TEST(bad_sets_are_einval) {
  ASSERT_EQ(coro_signal_wait(NULL, 0), -EINVAL);
  sigset_t s;
  sigemptyset(&s);
  ASSERT_EQ(coro_signal_wait(&s, 0), -EINVAL);
  s = only(SIGKILL);
  ASSERT_EQ(coro_signal_wait(&s, 0), -EINVAL);
  s = only(SIGSTOP);
  sigaddset(&s, SIGUSR1);
  ASSERT_EQ(coro_signal_wait(&s, 0), -EINVAL);
  /* nothing was blocked by a refused call */
  sigset_t mask;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
  ASSERT_EQ(sigismember(&mask, SIGUSR1), 0);
}
