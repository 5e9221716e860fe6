/* SPDX-License-Identifier: MIT */
/*
 * sync.c - mutex, condition variable, semaphore and wait group between
 * micro-threads: mutual exclusion across yields, FIFO handoff, deadlines,
 * cancellation, producer/consumer, bounded concurrency, and every refusal.
 * Each refusal runs in a micro-thread next to a bystander that keeps
 * yielding: a refused call must leave the scheduler and everyone else intact.
 * No test asserts a duration.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "coro.h"
#include "internal.h"
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

/* --- the bystander ------------------------------------------------------------------ */

#define BYSTANDER_TURNS 200
static long bystander_turns;

static void *bystander(void *arg) {
  (void)arg;
  for (int i = 0; i < BYSTANDER_TURNS; i++) {
    ASSERT_EQ(coro_sched_yield(), 0);
    bystander_turns++;
  }
  return NULL;
}

/* Run fn(arg) as a micro-thread next to the bystander; both must finish. */
static void with_bystander(coro_fn fn, void *arg) {
  bystander_turns = 0;
  coro *b, *p;
  ASSERT_EQ(coro_spawn(&b, bystander, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&p, fn, arg, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(bystander_turns, BYSTANDER_TURNS);
  ASSERT_EQ(coro_join(p, NULL, -1), 0);
  ASSERT_EQ(coro_join(b, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(p), 0);
  ASSERT_EQ(coro_destroy(b), 0);
}

/* --- mutex: exclusion and order --------------------------------------------------------- */

static coro_mutex *mx;
static long counter;

static void *incrementer(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) {
    ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
    long v = counter; /* read, let everyone else run, write: racy without the lock */
    ASSERT_EQ(coro_sched_yield(), 0);
    counter = v + 1;
    ASSERT_EQ(coro_mutex_unlock(mx), 0);
  }
  return NULL;
}

TEST(mutex_excludes_across_yields) {
  counter = 0;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  for (int i = 0; i < 10; i++) ASSERT_EQ(coro_spawn(NULL, incrementer, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(counter, 10 * 1000);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

static void *first_holder(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_sched_yield(), 0); /* all waiters queue up */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  /* Handed to the first waiter before it even runs: no barging in. */
  ASSERT_EQ(coro_mutex_lock(mx, 0), -ETIMEDOUT);
  mark('h');
  return NULL;
}

static void *queued_locker(void *arg) {
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  mark((char)('0' + VI(arg)));
  ASSERT_EQ(coro_sched_yield(), 0); /* newcomers get their chance to barge */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

static void *barger(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    if (coro_mutex_lock(mx, 0) == 0) {
      mark('B');
      ASSERT_EQ(coro_mutex_unlock(mx), 0);
    }
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  return NULL;
}

TEST(mutex_handoff_is_fifo) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_spawn(NULL, first_holder, NULL, NULL), 0);
  for (int i = 0; i < 5; i++) ASSERT_EQ(coro_spawn(NULL, queued_locker, IV(i), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, barger, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  /* The barger only ever finds it free once every queued waiter is through. */
  const char *b = strchr(trace, 'B');
  ASSERT_TRUE(b != NULL);
  ASSERT_EQ(b - trace, 6);
  trace[6] = '\0';
  ASSERT_STR_EQ(trace, "h01234");
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* Without a scheduler, what needs no waiting still works. */
TEST(mutex_trylock_from_main) {
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_mutex_lock(mx, 0), 0);
  ASSERT_EQ(coro_mutex_lock(mx, 0), -EDEADLK); /* it would wait for itself */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM);
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0); /* free: no waiting needed */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* --- mutex: deadlines and cancellation ------------------------------------------------ */

static int64_t deadline_d;

static void *hold_until_d(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  deadline_d = coro_now() + 100 * MS;
  ASSERT_EQ(coro_sleep(deadline_d), 0);
  mark('H');
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

static void *lock_by_d(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, deadline_d), -ETIMEDOUT);
  ASSERT_TRUE(coro_now() >= deadline_d);
  mark('T');
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM); /* it was never handed the lock */
  ASSERT_EQ(coro_mutex_lock(mx, 0), -ETIMEDOUT);
  return NULL;
}

static void *lock_forever(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  mark('L');
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

/* The holder and the timed waiter wake at the same deadline, the holder
 * first: its unlock finds the waiter timed out but not yet run, skips it and
 * hands the lock to the next one. */
TEST(mutex_lock_times_out_and_is_never_handed_over) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_spawn(NULL, hold_until_d, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, lock_by_d, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, lock_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  /* "THL" only if the machine was so slow that the deadline had passed
   * before the waiter could park: it then never queued. */
  ASSERT_TRUE(strcmp(trace, "HTL") == 0 || strcmp(trace, "THL") == 0);
  ASSERT_EQ(coro_mutex_lock(mx, 0), 0); /* free again: nothing lost */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

static void *hold_then_yield(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  for (int i = 0; i < 5; i++) ASSERT_EQ(coro_sched_yield(), 0);
  mark('H');
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

static void *lock_cancelled(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), -ECANCELED);
  mark('C');
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM);
  ASSERT_EQ(coro_mutex_lock(mx, -1), -ECANCELED); /* every later wait too */
  return NULL;
}

static void *cancel_after_yield(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(mutex_cancel_while_waiting_loses_nothing) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  coro *w;
  ASSERT_EQ(coro_spawn(NULL, hold_then_yield, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&w, lock_cancelled, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, lock_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_after_yield, w, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "CHL");
  ASSERT_EQ(coro_join(w, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(w), 0);
  ASSERT_EQ(coro_mutex_lock(mx, 0), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* The holder cancels the first waiter, then unlocks before it has run: the
 * unlock skips it and hands the lock to the next waiter. */
static coro *first_waiter;

static void *cancel_then_unlock(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_sched_yield(), 0); /* both waiters queue up */
  ASSERT_EQ(coro_cancel(first_waiter), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_lock(mx, 0), -ETIMEDOUT); /* handed to the second */
  mark('U');
  return NULL;
}

TEST(mutex_unlock_skips_a_cancelled_waiter) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_then_unlock, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&first_waiter, lock_cancelled, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, lock_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "UCL");
  ASSERT_EQ(coro_join(first_waiter, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(first_waiter), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* A cancel that comes after the lock was handed over is too late for that
 * lock: the waiter holds it and can unlock it. */
static coro *handed_to;

static void *unlock_then_cancel(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), 0); /* handed to the waiter, not yet run */
  ASSERT_EQ(coro_cancel(handed_to), 0);
  return NULL;
}

static void *lock_then_cancelled(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  mark('L');
  ASSERT_EQ(coro_sched_yield(), -ECANCELED);
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

TEST(mutex_cancel_after_handoff_keeps_the_lock) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_spawn(NULL, unlock_then_cancel, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&handed_to, lock_then_cancelled, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "L");
  ASSERT_EQ(coro_join(handed_to, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(handed_to), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* --- condition variable ----------------------------------------------------------------- */

#define QCAP 4
#define NPROD 3
#define NITEMS 200
#define NCONS 4

static coro_cond *not_full, *not_empty;
static long queue[QCAP];
static size_t qhead, qlen;
static int producers_left;
static long got[NPROD][NITEMS];
static long max_qlen;

static void *cv_producer(void *arg) {
  long base = VI(arg) * NITEMS;
  for (long i = 0; i < NITEMS; i++) {
    ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
    while (qlen == QCAP) ASSERT_EQ(coro_cond_wait(not_full, mx, -1), 0);
    queue[(qhead + qlen++) % QCAP] = base + i;
    if ((long)qlen > max_qlen) max_qlen = (long)qlen;
    ASSERT_EQ(coro_cond_signal(not_empty), 0);
    ASSERT_EQ(coro_mutex_unlock(mx), 0);
    if (i % 3 == 0) ASSERT_EQ(coro_sched_yield(), 0);
  }
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  if (--producers_left == 0) ASSERT_EQ(coro_cond_broadcast(not_empty), 0); /* the end */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

static void *cv_consumer(void *arg) {
  (void)arg;
  long n = 0;
  for (;;) {
    ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
    while (qlen == 0 && producers_left) ASSERT_EQ(coro_cond_wait(not_empty, mx, -1), 0);
    if (qlen == 0) { /* drained and no producer left */
      ASSERT_EQ(coro_mutex_unlock(mx), 0);
      break;
    }
    long v = queue[qhead];
    qhead = (qhead + 1) % QCAP;
    qlen--;
    ASSERT_EQ(coro_cond_signal(not_full), 0);
    ASSERT_EQ(coro_mutex_unlock(mx), 0);
    got[v / NITEMS][v % NITEMS]++;
    n++;
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  return IV(n);
}

TEST(cond_bounded_queue_producer_consumer) {
  memset(got, 0, sizeof(got));
  qhead = qlen = 0;
  max_qlen = 0;
  producers_left = NPROD;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&not_full), 0);
  ASSERT_EQ(coro_cond_create(&not_empty), 0);
  coro *c[NCONS];
  for (int i = 0; i < NCONS; i++) ASSERT_EQ(coro_spawn(&c[i], cv_consumer, NULL, NULL), 0);
  for (int i = 0; i < NPROD; i++) ASSERT_EQ(coro_spawn(NULL, cv_producer, IV(i), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  long total = 0;
  for (int i = 0; i < NCONS; i++) {
    void *n;
    ASSERT_EQ(coro_join(c[i], &n, -1), 0);
    total += VI(n);
    ASSERT_EQ(coro_destroy(c[i]), 0);
  }
  ASSERT_EQ(total, NPROD * NITEMS);
  for (int i = 0; i < NPROD; i++)
    for (int j = 0; j < NITEMS; j++) ASSERT_EQ(got[i][j], 1);
  ASSERT_TRUE(max_qlen <= QCAP);
  ASSERT_EQ(coro_cond_destroy(not_full), 0);
  ASSERT_EQ(coro_cond_destroy(not_empty), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

static coro_cond *cv;

static void *cond_wait_deadline(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  deadline_d = coro_now() + 100 * MS;
  ASSERT_EQ(coro_cond_wait(cv, mx, deadline_d), -ETIMEDOUT);
  ASSERT_TRUE(coro_now() >= deadline_d);
  mark('W');
  ASSERT_EQ(coro_mutex_unlock(mx), 0); /* held again */
  return NULL;
}

static void *grab_while_waiting(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0); /* cond_wait let go of it */
  mark('g');
  ASSERT_EQ(coro_sleep(deadline_d + MS), 0); /* past the waiter's deadline */
  mark('u');
  ASSERT_EQ(coro_mutex_unlock(mx), 0); /* the timed-out waiter relocks only now */
  return NULL;
}

TEST(cond_wait_timeout_keeps_the_mutex) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  ASSERT_EQ(coro_spawn(NULL, cond_wait_deadline, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, grab_while_waiting, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  /* "Wgu" only if the machine was so slow that the deadline had passed
   * before the wait began: it then kept the mutex throughout. */
  ASSERT_TRUE(strcmp(trace, "guW") == 0 || strcmp(trace, "Wgu") == 0);
  ASSERT_EQ(coro_cond_destroy(cv), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* Signal wakes waiters one at a time in arrival order; broadcast wakes all. */
static void *cond_waiter(void *arg) {
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_cond_wait(cv, mx, -1), 0);
  mark((char)('0' + VI(arg)));
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

static void *cond_signaller(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* everyone waits */
  ASSERT_EQ(coro_cond_signal(cv), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  mark('s');
  ASSERT_EQ(coro_cond_signal(cv), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  mark('b');
  ASSERT_EQ(coro_cond_broadcast(cv), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cond_broadcast(cv), 0); /* nobody left: still 0 */
  ASSERT_EQ(coro_cond_signal(cv), 0);
  return NULL;
}

TEST(cond_signal_one_broadcast_all) {
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  for (int i = 0; i < 5; i++) ASSERT_EQ(coro_spawn(NULL, cond_waiter, IV(i), NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cond_signaller, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "0s1b234");
  ASSERT_EQ(coro_cond_destroy(cv), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* Cancelled while waiting for the signal: the mutex is held again if it is
 * free; if relocking has to wait, that is cancelled too and it is not held. */
static void *cond_wait_cancelled(void *arg) {
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_cond_wait(cv, mx, -1), -ECANCELED);
  if (VI(arg)) {
    mark('h');
    ASSERT_EQ(coro_mutex_unlock(mx), 0);
  } else {
    mark('n');
    ASSERT_EQ(coro_mutex_unlock(mx), -EPERM);
  }
  return NULL;
}

static coro *cancel_target;

static void *cancel_holding(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  if (!VI(arg)) ASSERT_EQ(coro_mutex_lock(mx, -1), 0); /* taken when it relocks */
  ASSERT_EQ(coro_cancel(cancel_target), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  if (!VI(arg)) ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

TEST(cond_wait_cancelled_relocks_a_free_mutex) {
  for (int free_mutex = 1; free_mutex >= 0; free_mutex--) {
    reset_trace();
    ASSERT_EQ(coro_mutex_create(&mx), 0);
    ASSERT_EQ(coro_cond_create(&cv), 0);
    ASSERT_EQ(coro_spawn(&cancel_target, cond_wait_cancelled, IV(free_mutex), NULL), 0);
    ASSERT_EQ(coro_spawn(NULL, cancel_holding, IV(free_mutex), NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    ASSERT_STR_EQ(trace, free_mutex ? "h" : "n");
    ASSERT_EQ(coro_join(cancel_target, NULL, -1), 0);
    ASSERT_EQ(coro_destroy(cancel_target), 0);
    ASSERT_EQ(coro_cond_destroy(cv), 0);
    ASSERT_EQ(coro_mutex_destroy(mx), 0);
  }
}

/* From main, with no scheduler: a wait that cannot park keeps the mutex. */
TEST(cond_wait_from_main_keeps_the_mutex) {
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_cond_wait(cv, mx, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_cond_wait(cv, mx, coro_now() - 1), -ETIMEDOUT);
  ASSERT_EQ(coro_cond_wait(cv, mx, -1), -EDEADLK);
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_cond_destroy(cv), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
}

/* --- semaphore ---------------------------------------------------------------------------- */

static coro_sem *sem;
static long inside, max_inside;

static void *sem_worker(void *arg) {
  (void)arg;
  for (int round = 0; round < 5; round++) {
    ASSERT_EQ(coro_sem_acquire(sem, -1), 0);
    if (++inside > max_inside) max_inside = inside;
    for (int i = 0; i < 3; i++) ASSERT_EQ(coro_sched_yield(), 0);
    inside--;
    ASSERT_EQ(coro_sem_release(sem), 0);
  }
  return NULL;
}

TEST(sem_limits_concurrency_to_k) {
  for (unsigned long k = 1; k <= 4; k++) {
    inside = max_inside = 0;
    ASSERT_EQ(coro_sem_create(&sem, k), 0);
    for (int i = 0; i < 10; i++) ASSERT_EQ(coro_spawn(NULL, sem_worker, NULL, NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(max_inside, (long)k);
    ASSERT_EQ(inside, 0);
    /* All k tokens are back, and no more. */
    for (unsigned long i = 0; i < k; i++) ASSERT_EQ(coro_sem_acquire(sem, 0), 0);
    ASSERT_EQ(coro_sem_acquire(sem, 0), -ETIMEDOUT);
    ASSERT_EQ(coro_sem_destroy(sem), 0);
  }
}

static void *sem_queued(void *arg) {
  ASSERT_EQ(coro_sem_acquire(sem, -1), 0);
  mark((char)('0' + VI(arg)));
  return NULL;
}

static void *sem_releaser(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0);
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(coro_sem_release(sem), 0);
    ASSERT_EQ(coro_sem_acquire(sem, 0), -ETIMEDOUT); /* handed over: no barging */
  }
  mark('r');
  return NULL;
}

static void *sem_times_out(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sem_acquire(sem, coro_now() + 2 * MS), -ETIMEDOUT);
  mark('T');
  return NULL;
}

TEST(sem_handoff_is_fifo_and_timeouts_take_nothing) {
  reset_trace();
  ASSERT_EQ(coro_sem_create(&sem, 0), 0);
  ASSERT_EQ(coro_spawn(NULL, sem_times_out, NULL, NULL), 0);
  for (int i = 0; i < 4; i++) ASSERT_EQ(coro_spawn(NULL, sem_queued, IV(i), NULL), 0);
  ASSERT_EQ(coro_run(), -EDEADLK); /* the queued ones wait; the timed one gave up */
  ASSERT_STR_EQ(trace, "T");
  ASSERT_EQ(coro_spawn(NULL, sem_releaser, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "Tr0123");
  ASSERT_EQ(coro_sem_acquire(sem, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_sem_destroy(sem), 0);
}

TEST(sem_from_main) {
  ASSERT_EQ(coro_sem_create(&sem, 1), 0);
  ASSERT_EQ(coro_sem_acquire(sem, 0), 0);
  ASSERT_EQ(coro_sem_acquire(sem, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_sem_acquire(sem, -1), -EDEADLK);
  ASSERT_EQ(coro_sem_release(sem), 0);
  ASSERT_EQ(coro_sem_release(sem), 0); /* a counting semaphore: may exceed its start */
  ASSERT_EQ(coro_sem_acquire(sem, -1), 0);
  ASSERT_EQ(coro_sem_acquire(sem, -1), 0);
  ASSERT_EQ(coro_sem_destroy(sem), 0);
}

/* --- wait group ----------------------------------------------------------------------------- */

static coro_wg *wg;
static long finished_workers;

static void *wg_worker(void *arg) {
  for (long i = 0; i <= VI(arg); i++) ASSERT_EQ(coro_sched_yield(), 0);
  if (VI(arg) % 2) ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  finished_workers++;
  ASSERT_EQ(coro_wg_done(wg), 0);
  return NULL;
}

static void *wg_waiter(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_wg_wait(wg, -1), 0);
  ASSERT_EQ(finished_workers, 8);
  mark('w');
  return NULL;
}

TEST(wg_waits_for_n_workers) {
  reset_trace();
  finished_workers = 0;
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_wait(wg, 0), 0);  /* zero: at once */
  ASSERT_EQ(coro_wg_wait(wg, -1), 0); /* even with no scheduler */
  ASSERT_EQ(coro_wg_add(wg, 8), 0);
  ASSERT_EQ(coro_wg_wait(wg, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_wg_wait(wg, -1), -EDEADLK);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_spawn(NULL, wg_waiter, NULL, NULL), 0);
  for (long i = 0; i < 8; i++) ASSERT_EQ(coro_spawn(NULL, wg_worker, IV(7 - i), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(trace, "www");
  ASSERT_EQ(coro_wg_wait(wg, 0), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
}

static void *wg_wait_deadline(void *arg) {
  (void)arg;
  int64_t d = coro_now() + 2 * MS;
  ASSERT_EQ(coro_wg_wait(wg, d), -ETIMEDOUT);
  ASSERT_TRUE(coro_now() >= d);
  ASSERT_EQ(coro_wg_done(wg), 0); /* still counted: the wait changed nothing */
  ASSERT_EQ(coro_wg_wait(wg, 0), 0);
  return NULL;
}

TEST(wg_wait_times_out) {
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_add(wg, 1), 0);
  ASSERT_EQ(coro_spawn(NULL, wg_wait_deadline, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
}

/* --- bad input, each next to a bystander ------------------------------------------------------- */

static void *null_handles(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(NULL, -1), -EINVAL);
  ASSERT_EQ(coro_mutex_lock(NULL, 0), -EINVAL);
  ASSERT_EQ(coro_mutex_unlock(NULL), -EINVAL);
  ASSERT_EQ(coro_mutex_destroy(NULL), -EINVAL);
  coro_mutex *m;
  coro_cond *c;
  ASSERT_EQ(coro_mutex_create(&m), 0);
  ASSERT_EQ(coro_cond_create(&c), 0);
  ASSERT_EQ(coro_mutex_lock(m, -1), 0);
  ASSERT_EQ(coro_cond_wait(NULL, m, -1), -EINVAL);
  ASSERT_EQ(coro_cond_wait(c, NULL, -1), -EINVAL);
  ASSERT_EQ(coro_cond_wait(NULL, NULL, 0), -EINVAL);
  ASSERT_EQ(coro_cond_signal(NULL), -EINVAL);
  ASSERT_EQ(coro_cond_broadcast(NULL), -EINVAL);
  ASSERT_EQ(coro_cond_destroy(NULL), -EINVAL);
  ASSERT_EQ(coro_sem_acquire(NULL, -1), -EINVAL);
  ASSERT_EQ(coro_sem_release(NULL), -EINVAL);
  ASSERT_EQ(coro_sem_destroy(NULL), -EINVAL);
  ASSERT_EQ(coro_wg_add(NULL, 1), -EINVAL);
  ASSERT_EQ(coro_wg_done(NULL), -EINVAL);
  ASSERT_EQ(coro_wg_wait(NULL, -1), -EINVAL);
  ASSERT_EQ(coro_wg_destroy(NULL), -EINVAL);
  ASSERT_EQ(coro_mutex_unlock(m), 0); /* the mutex was not disturbed */
  ASSERT_EQ(coro_cond_destroy(c), 0);
  ASSERT_EQ(coro_mutex_destroy(m), 0);
  return NULL;
}

TEST(null_handles_are_einval) { with_bystander(null_handles, NULL); }

static void *null_outs(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_create(NULL), -EINVAL);
  ASSERT_EQ(coro_cond_create(NULL), -EINVAL);
  ASSERT_EQ(coro_sem_create(NULL, 1), -EINVAL);
  ASSERT_EQ(coro_wg_create(NULL), -EINVAL);
  ASSERT_EQ(coro_sched_yield(), 0);
  return NULL;
}

TEST(create_with_null_out_is_einval) { with_bystander(null_outs, NULL); }

#define SENTINEL ((void *)(uintptr_t)0x5e5e)

static void *creates_without_memory(void *arg) {
  (void)arg;
  coro_mutex *m = SENTINEL;
  coro_cond *c = SENTINEL;
  coro_sem *s = SENTINEL;
  coro_wg *w = SENTINEL;
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_mutex_create(&m), -ENOMEM);
  ASSERT_EQ(coro_cond_create(&c), -ENOMEM);
  ASSERT_EQ(coro_sem_create(&s, 1), -ENOMEM);
  ASSERT_EQ(coro_wg_create(&w), -ENOMEM);
  coro__fault_reset();
  ASSERT_PTR_EQ(m, SENTINEL);
  ASSERT_PTR_EQ(c, SENTINEL);
  ASSERT_PTR_EQ(s, SENTINEL);
  ASSERT_PTR_EQ(w, SENTINEL);
  ASSERT_EQ(coro_mutex_create(&m), 0);
  ASSERT_EQ(coro_mutex_destroy(m), 0);
  return NULL;
}

TEST(create_without_memory_is_enomem) { with_bystander(creates_without_memory, NULL); }

/* A timer that cannot be set after cond_wait let go of the mutex: the mutex
 * is held again all the same (the first timer of the process allocates the
 * heap). */
static void *cond_wait_without_timer(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  int rc = coro_cond_wait(cv, mx, coro_now() + 1000 * MS);
  coro__fault_reset();
  ASSERT_EQ(rc, -ENOMEM);
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_cond_destroy(cv), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  return NULL;
}

TEST(cond_wait_without_timer_memory_keeps_the_mutex) {
  with_bystander(cond_wait_without_timer, NULL);
}

/* A generator the holder resumes would wait for its own resumer. */
static void *gen_locks(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), -EDEADLK);
  ASSERT_EQ(coro_mutex_lock(mx, 0), -EDEADLK);
  return IV(1);
}

static void *relock(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_mutex_lock(mx, -1), -EDEADLK);
  ASSERT_EQ(coro_mutex_lock(mx, 0), -EDEADLK);
  ASSERT_EQ(coro_mutex_lock(mx, coro_now() + MS), -EDEADLK);
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, gen_locks, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), 0); /* still held once */
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  return NULL;
}

TEST(lock_by_its_holder_is_edeadlk) { with_bystander(relock, NULL); }

static void *unlock_not_mine(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM); /* held by another micro-thread */
  mark('u');
  return NULL;
}

static void *unlocks_by_non_holders(void *arg) {
  (void)arg;
  reset_trace();
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM); /* held by nobody */
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  coro *other;
  ASSERT_EQ(coro_spawn(&other, unlock_not_mine, NULL, NULL), 0);
  ASSERT_EQ(coro_join(other, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(other), 0);
  ASSERT_STR_EQ(trace, "u");
  ASSERT_EQ(coro_mutex_lock(mx, 0), -EDEADLK); /* still ours */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  return NULL;
}

TEST(unlock_by_a_non_holder_is_eperm) { with_bystander(unlocks_by_non_holders, NULL); }

static void *cond_wait_unheld(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  ASSERT_EQ(coro_cond_wait(cv, mx, -1), -EPERM); /* held by nobody */
  ASSERT_EQ(coro_cond_wait(cv, mx, 0), -EPERM);
  coro *holder;
  ASSERT_EQ(coro_spawn(&holder, hold_then_yield, NULL, NULL), 0);
  ASSERT_EQ(coro_sched_yield(), 0); /* now it holds mx */
  ASSERT_EQ(coro_cond_wait(cv, mx, -1), -EPERM);
  ASSERT_EQ(coro_join(holder, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(holder), 0);
  ASSERT_EQ(coro_cond_destroy(cv), 0); /* nobody waits on it */
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  return NULL;
}

TEST(cond_wait_without_the_mutex_is_eperm) { with_bystander(cond_wait_unheld, NULL); }

static void *wg_below_zero(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_done(wg), -EINVAL);
  ASSERT_EQ(coro_wg_add(wg, -1), -EINVAL);
  ASSERT_EQ(coro_wg_add(wg, LONG_MIN), -EINVAL);
  ASSERT_EQ(coro_wg_wait(wg, 0), 0); /* still zero */
  ASSERT_EQ(coro_wg_add(wg, 2), 0);
  ASSERT_EQ(coro_wg_add(wg, -3), -EINVAL);
  ASSERT_EQ(coro_wg_add(wg, LONG_MAX), -EOVERFLOW);
  ASSERT_EQ(coro_wg_done(wg), 0); /* still two: one left after this */
  ASSERT_EQ(coro_wg_wait(wg, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_wg_add(wg, 0), 0);
  ASSERT_EQ(coro_wg_done(wg), 0);
  ASSERT_EQ(coro_wg_wait(wg, 0), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
  return NULL;
}

TEST(wg_below_zero_is_einval_and_changes_nothing) { with_bystander(wg_below_zero, NULL); }

static void *sem_at_max(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sem_create(&sem, ULONG_MAX - 1), 0);
  ASSERT_EQ(coro_sem_release(sem), 0);
  ASSERT_EQ(coro_sem_release(sem), -EOVERFLOW);
  ASSERT_EQ(coro_sem_acquire(sem, 0), 0); /* ULONG_MAX - 1 left: the refusal took nothing */
  ASSERT_EQ(coro_sem_release(sem), 0);
  ASSERT_EQ(coro_sem_release(sem), -EOVERFLOW);
  ASSERT_EQ(coro_sem_destroy(sem), 0);
  return NULL;
}

TEST(sem_release_at_ulong_max_is_eoverflow) { with_bystander(sem_at_max, NULL); }

static void *wait_and_finish(void *arg) {
  switch (VI(arg)) {
  case 0:
    ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
    ASSERT_EQ(coro_mutex_unlock(mx), 0);
    break;
  case 1:
    ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
    ASSERT_EQ(coro_cond_wait(cv, mx, -1), 0);
    ASSERT_EQ(coro_mutex_unlock(mx), 0);
    break;
  case 2:
    ASSERT_EQ(coro_sem_acquire(sem, -1), 0);
    break;
  default:
    ASSERT_EQ(coro_wg_wait(wg, -1), 0);
    break;
  }
  return NULL;
}

static void *destroys_while_busy(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  ASSERT_EQ(coro_sem_create(&sem, 0), 0);
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_add(wg, 1), 0);
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), -EBUSY); /* held */
  coro *w[4];
  for (int i = 0; i < 4; i++) ASSERT_EQ(coro_spawn(&w[i], wait_and_finish, IV(i), NULL), 0);
  ASSERT_EQ(coro_sched_yield(), 0); /* all four wait; w[1] is on mx's list: it is held */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), -EBUSY); /* handed to w[0], which has not run */
  ASSERT_EQ(coro_sched_yield(), 0);          /* w[0] done, hands mx to w[1] */
  ASSERT_EQ(coro_sched_yield(), 0);          /* w[1] waits on cv */
  ASSERT_EQ(coro_cond_destroy(cv), -EBUSY);
  ASSERT_EQ(coro_sem_destroy(sem), -EBUSY);
  ASSERT_EQ(coro_wg_destroy(wg), -EBUSY);
  ASSERT_EQ(coro_cond_signal(cv), 0);
  ASSERT_EQ(coro_sem_release(sem), 0);
  ASSERT_EQ(coro_wg_done(wg), 0);
  /* Served waiters are no longer waiting and never touch these again (the
   * sanitizers would see it): they may be freed before those run. */
  ASSERT_EQ(coro_cond_destroy(cv), 0);
  ASSERT_EQ(coro_sem_destroy(sem), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(coro_join(w[i], NULL, -1), 0);
    ASSERT_EQ(coro_destroy(w[i]), 0);
  }
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  return NULL;
}

TEST(destroy_while_held_or_waited_is_ebusy) { with_bystander(destroys_while_busy, NULL); }

static void *from_other_thread(void *arg) {
  (void)arg;
  long bad = 0;
  bad |= coro_mutex_lock(mx, 0) != -EPERM;
  bad |= coro_mutex_lock(mx, -1) != -EPERM;
  bad |= coro_mutex_unlock(mx) != -EPERM;
  bad |= coro_mutex_destroy(mx) != -EPERM;
  bad |= coro_cond_wait(cv, mx, 0) != -EPERM;
  bad |= coro_cond_signal(cv) != -EPERM;
  bad |= coro_cond_broadcast(cv) != -EPERM;
  bad |= coro_cond_destroy(cv) != -EPERM;
  bad |= coro_sem_acquire(sem, 0) != -EPERM;
  bad |= coro_sem_release(sem) != -EPERM;
  bad |= coro_sem_destroy(sem) != -EPERM;
  bad |= coro_wg_add(wg, 1) != -EPERM;
  bad |= coro_wg_done(wg) != -EPERM;
  bad |= coro_wg_wait(wg, 0) != -EPERM;
  bad |= coro_wg_destroy(wg) != -EPERM;
  return (void *)bad;
}

static void *other_thread_objects(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_cond_create(&cv), 0);
  ASSERT_EQ(coro_sem_create(&sem, 1), 0);
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_add(wg, 1), 0);
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  pthread_t th;
  void *rc;
  ASSERT_EQ(pthread_create(&th, NULL, from_other_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, &rc), 0);
  ASSERT_PTR_EQ(rc, NULL);
  ASSERT_EQ(coro_sched_yield(), 0);
  /* Intact. */
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  ASSERT_EQ(coro_sem_acquire(sem, 0), 0);
  ASSERT_EQ(coro_wg_done(wg), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  ASSERT_EQ(coro_cond_destroy(cv), 0);
  ASSERT_EQ(coro_sem_destroy(sem), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
  return NULL;
}

TEST(another_threads_objects_are_eperm) { with_bystander(other_thread_objects, NULL); }

static void *hold_until_wg(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_mutex_lock(mx, -1), 0);
  ASSERT_EQ(coro_wg_wait(wg, -1), 0);
  ASSERT_EQ(coro_mutex_unlock(mx), 0);
  return NULL;
}

/* With no scheduler running nothing could wake a waiter: -EDEADLK; what
 * needs no waiting still works. */
TEST(waiting_without_a_scheduler_is_edeadlk) {
  ASSERT_EQ(coro_mutex_create(&mx), 0);
  ASSERT_EQ(coro_sem_create(&sem, 0), 0);
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_add(wg, 1), 0);
  ASSERT_EQ(coro_sem_acquire(sem, -1), -EDEADLK);
  ASSERT_EQ(coro_sem_acquire(sem, coro_now() + 1000 * MS), -EDEADLK);
  ASSERT_EQ(coro_wg_wait(wg, -1), -EDEADLK);
  /* A parked micro-thread holds the mutex. */
  ASSERT_EQ(coro_spawn(NULL, hold_until_wg, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), -EDEADLK);
  ASSERT_EQ(coro_mutex_lock(mx, -1), -EDEADLK);
  ASSERT_EQ(coro_mutex_lock(mx, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_mutex_unlock(mx), -EPERM);
  ASSERT_EQ(coro_mutex_destroy(mx), -EBUSY);
  ASSERT_EQ(coro_wg_done(wg), 0); /* from main: wakes it */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_mutex_destroy(mx), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
  ASSERT_EQ(coro_sem_destroy(sem), 0);
}
