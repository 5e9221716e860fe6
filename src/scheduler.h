/* SPDX-License-Identifier: MIT */
/*
 * scheduler.h - the scheduler's private interface, for the layers built on it:
 * timers, channels and select, sync, groups, I/O and watches, offload, and
 * the introspection that reports a coroutine's scheduling state.  The lower
 * layers (stack.c, coro.c) include only internal.h and never see it, as
 * libuv's unix/internal.h adds to its uv-common.h.  (Not named sched.h: src/
 * is on the include path, and <pthread.h> includes the system's <sched.h>.)
 *
 * What lives here: the flags of coro.sched, the parking protocol (park, wake,
 * enqueue, the wait lists every blocking object keeps), the timer heap, the
 * cancel and group hooks.  What does not: the layouts of coro__sched and
 * coro__wait_list, which struct coro and coro__tls embed by value, so they
 * stay in internal.h next to the structs that hold them; their fields are
 * this header's business.
 *
 * The protocol, in one place:
 *   - A blocking call links a coro__waiter (on its own stack) into the wait
 *     list of what it waits on, then parks: coro__park() returns the code its
 *     wake passed, -ETIMEDOUT at its deadline or -ECANCELED.
 *   - Whoever serves a waiter unlinks it, sets `done`, then wakes it: the
 *     waiter trusts `done`, not the wake code, and once served never touches
 *     the object again (it may be freed).
 *   - The first wake wins (coro__woken): a waiter woken by its deadline or a
 *     cancel stays linked until it runs, and servers skip it
 *     (coro__wait_first), so nothing is handed to a coroutine that will
 *     report a timeout.
 */
#ifndef CORO_SCHEDULER_H
#define CORO_SCHEDULER_H

#include "internal.h"

/* A coroutine waiting in a list (joins, channels; locks later).  It lives on
 * the waiting coroutine's stack for as long as the blocking call lasts. */
struct coro__waiter {
  coro *who;                 /* the parked coroutine */
  coro__waiter *prev, *next; /* neighbours in the list */
  void *data;                /* what the waiter brings or wants (a channel element) */
  int done;                  /* set before waking it: 1 served, -1 the channel closed */
};

/* coro.sched: a coroutine's relation to the scheduler. */
enum {
  CORO__S_SPAWNED = 1u,   /* a micro-thread: state stays RUNNING until it ends */
  CORO__S_DETACHED = 2u,  /* spawned without a handle: freed when it ends */
  CORO__S_STARTED = 4u,   /* its body has been entered */
  CORO__S_CANCELLED = 8u, /* coro_cancel()ed: blocking calls in its chain fail */
  CORO__S_JOINED = 16u,   /* its result has been taken by coro_join() */
  CORO__S_QUEUED = 32u,   /* in the run queue */
  CORO__S_YIELDED = 64u,  /* a micro-thread that called coro_yield(): resume it */
  CORO__S_TIMER = 128u    /* in the timer heap (its place: cold.heap_at) */
};

/* What a parked coroutine passes to the scheduler: not a resume outcome. */
#define CORO__PARKED 2
/* Park the current coroutine until coro__wake(), `deadline` (-ETIMEDOUT) or
 * the cancellation of its micro-thread (-ECANCELED); -EDEADLK if no scheduler
 * runs.  Returns the wake code.  `what` (a static string) and `obj` say what
 * it waits on, for coro_list(). */
int coro__park(coro__tls *t, int64_t deadline, const char *what, const void *obj);

/* These run on every hand-off between micro-threads: inline, so a channel
 * operation costs no calls but the park and the switch. */

/* Append c to the run queue. */
static inline void coro__enqueue(coro__sched *s, coro *c) {
  s->nqueued++;
  c->sched |= CORO__S_QUEUED;
  c->cold->run_next = NULL; /* queued: a micro-thread, or a parked coroutine */
  if (s->tail)
    s->tail->cold->run_next = c;
  else
    s->head = c;
  s->tail = c;
}

/* Has this parked coroutine been woken already (and so must not be served)? */
static inline int coro__woken(const coro *c) { return (c->sched & CORO__S_QUEUED) != 0; }

void coro__timer_remove(coro__sched *s, coro *c);

/* Make a parked coroutine runnable; its park returns `code`.  Ignored if it was
 * woken already (by a timeout, a cancel or another event): the first wake wins,
 * so a value it was served is not lost. */
static inline void coro__wake(coro__sched *s, coro *c, int code) {
  if (coro__woken(c)) return;
  if (c->sched & CORO__S_TIMER) coro__timer_remove(s, c);
  c->cold->wait_what = NULL; /* runnable now (a yield keeps "yield": it never waited) */
  c->cold->wake = code;
  coro__enqueue(s, c);
}

static inline void coro__wait_push(coro__wait_list *l, coro__waiter *w) {
  w->next = NULL;
  w->prev = l->tail;
  if (l->tail)
    l->tail->next = w;
  else
    l->head = w;
  l->tail = w;
}

/* Unlink w; a no-op if it is not linked. */
static inline void coro__wait_remove(coro__wait_list *l, coro__waiter *w) {
  if (!w->prev && l->head != w) return;
  if (w->prev)
    w->prev->next = w->next;
  else
    l->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    l->tail = w->prev;
  w->prev = w->next = NULL;
}

/* The first waiter still waiting, or NULL; woken ones met on the way are
 * dropped from the list (their park returns their own wake code). */
static inline coro__waiter *coro__wait_first(coro__wait_list *l) {
  while (CORO__UNLIKELY(l->head && coro__woken(l->head->who))) coro__wait_remove(l, l->head);
  return l->head;
}

/* Park like coro__park(), but a cancel neither refuses nor ends the wait: it
 * only wakes it with -ECANCELED (wait again).  coro_group_close() waits for
 * its members even in a cancelled micro-thread. */
int coro__park_shielded(coro__tls *t, int64_t deadline, const char *what, const void *obj);

/* Cancel micro-thread c (not finished): what coro_cancel() does once checked. */
void coro__cancel(coro__tls *t, coro *c);

/* A number below n (n > 0) from the thread's one generator, xorshift64*: select's
 * fair choice among ready cases, and in seeded mode the order of each round
 * (sched.c).  A seed sets its state (coro_sched_seed), so the same seed draws
 * the same numbers; without one it starts from a fixed state. */
static inline size_t coro__sched_rand(coro__sched *s, size_t n) {
  uint64_t x = s->rng ? s->rng : UINT64_C(0x9e3779b97f4a7c15);
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s->rng = x;
  return (size_t)(((x * UINT64_C(0x2545f4914f6cdd1d)) >> 32) % n);
}

/* --- group.c ---------------------------------------------------------------- */

/* Micro-thread c of a group has finished: leave the group, record its error. */
void coro__group_member_done(coro__tls *t, coro *c);

/* --- timer.c: the min-heap of deadlines ---------------------------------- */

int coro__timer_add(coro__sched *s, coro *c, int64_t deadline); /* 0 or -ENOMEM */
/* coro__timer_remove(s, c), declared above the wake that uses it: a no-op if
 * c is not in the heap. */
/* The earliest timer's coroutine and its *deadline; NULL if none. */
coro *coro__timer_first(const coro__sched *s, int64_t *deadline);
/* c's deadline, or -1 if it is not in the heap. */
int64_t coro__timer_deadline(const coro__sched *s, const coro *c);

#endif
