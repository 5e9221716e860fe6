/* SPDX-License-Identifier: MIT */
/*
 * signal.c - signals as events (coro_signal_wait): a signal raised by the
 * process or sent by another one wakes the coroutine that waits for it while
 * the others run; deadlines, cancellation, no scheduler, two waiters, signals
 * that stay pending between waits, bad sets, and no fd left behind.
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

#define MS (INT64_C(1000000))
#define HOUR (INT64_C(3600) * 1000 * MS)

static sigset_t only(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  return s;
}

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  ASSERT_TRUE(d != NULL);
  while (readdir(d)) n++;
  closedir(d);
  return n;
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
    if (round == 0) after_first = open_fds();
    ASSERT_EQ(open_fds(), after_first); /* each signalfd was closed */
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
    if (round == 0) after_first = open_fds();
    ASSERT_EQ(open_fds(), after_first); /* as above */
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

static int got, timed_out;

static void *wait_short(void *arg) {
  (void)arg;
  sigset_t s = only(SIGUSR1);
  int rc = coro_signal_wait(&s, coro_now() + 50 * MS);
  if (rc == SIGUSR1)
    got++;
  else if (rc == -ETIMEDOUT)
    timed_out++;
  return NULL;
}

TEST(one_signal_wakes_one_of_two_waiters) {
  ASSERT_EQ(coro_spawn(NULL, wait_short, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, wait_short, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, raise_later, IV(SIGUSR1), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(got, 1);
  ASSERT_EQ(timed_out, 1);
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
