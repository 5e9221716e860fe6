/* SPDX-License-Identifier: MIT */
/*
 * sync.c - cooperative synchronisation: mutex, condition variable, counting
 * semaphore and wait group for the coroutines of one thread.
 *
 * Each object is a small heap block holding its owner thread, its state and
 * one FIFO wait list of coro__waiter, which live on the stacks of the parked
 * coroutines (as in chan.c).
 *
 * Invariants:
 *   - Handoff: releasing a mutex or a semaphore token while a coroutine waits
 *     gives it straight to the first waiter still waiting (holder set, or the
 *     token not counted, before it is woken), so a newcomer cannot barge in
 *     between the wake and the waiter's turn: service is first in, first out.
 *     Hence a free mutex, or a semaphore count above zero, has no waiter still
 *     waiting.
 *   - Whoever serves a waiter unlinks it, marks it done, then wakes it with 0;
 *     the waiter trusts `done`, not the wake code.  Waiters already woken by a
 *     deadline or a cancel are skipped (coro__wait_first): they are never
 *     handed the lock, a token or a signal, which go to the next one instead.
 *   - A waiter woken by a deadline or a cancel stays linked until it runs and
 *     unlinks itself, so destroy refuses (-EBUSY) while any is linked.  A
 *     served waiter is unlinked by its server and never touches the object
 *     again, so the object may be freed as soon as its last waiter is served
 *     (as pthread_cond_destroy right after a broadcast).
 *   - A mutex is held by a coroutine (t->current; &t->main on the thread's own
 *     stack), not by a micro-thread: the coroutine that locked it unlocks it.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "copystack.h"
#include "scheduler.h"

/* Waiters live on the parked coroutine's stack and are linked into lists
 * that outlive the call; every parking call unlinks its waiter before it
 * returns, which gcc 12's -Wdangling-pointer cannot see through the park. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

struct coro_mutex {
  coro__tls *owner;        /* thread whose coroutines may use it */
  coro *holder;            /* coroutine holding it, NULL while free */
  coro__wait_list waiters; /* coroutines waiting to lock it */
};

struct coro_cond {
  coro__tls *owner;        /* thread whose coroutines may use it */
  coro__wait_list waiters; /* coroutines in coro_cond_wait() */
};

struct coro_sem {
  coro__tls *owner;        /* thread whose coroutines may use it */
  unsigned long count;     /* tokens available; 0 while anyone waits */
  coro__wait_list waiters; /* coroutines waiting for a token */
};

struct coro_wg {
  coro__tls *owner;        /* thread whose coroutines may use it */
  long count;              /* work outstanding, never below zero */
  coro__wait_list waiters; /* coroutines waiting for count to reach zero */
};

/* --- shared helpers ------------------------------------------------------------------ */

/* -EINVAL for a NULL handle, -EPERM for another thread's object. */
static inline int check(const void *obj, const coro__tls *owner) {
  if (!obj) return -EINVAL;
  if (owner != coro__tls_get()) return -EPERM;
  return 0;
}

/* The coroutine the caller is: the thread's own stack before its first coroutine too. */
static inline coro *self(coro__tls *t) { return t->current ? t->current : &t->main; }

/* Park the caller on list l until served; 0 when served, else why not
 * (-ETIMEDOUT, -ECANCELED, -EDEADLK, -ENOMEM from the timer heap). */
static int wait_on(coro__tls *t, coro__wait_list *l, int64_t deadline, const char *what,
                   const void *obj) {
  coro__waiter local, *w = coro__waiters_get(t, &local, 1, 0);
  if (!w) return -ENOMEM;
  *w = (coro__waiter){.who = t->current};
  coro__wait_push(l, w);
  int rc = coro__park(t, deadline, what, obj);
  int done = w->done;
  if (!done) coro__wait_remove(l, w); /* if served, unlinked: the object may be gone */
  coro__waiters_put(t, w, &local, 1, 0);
  if (done) return 0;
  return coro__unserved(rc); /* only a server wakes with 0, and it sets done */
}

/* Unlink waiter w from l, mark it served and make it runnable. */
static void serve(coro__tls *t, coro__wait_list *l, coro__waiter *w) {
  coro__wait_remove(l, w);
  w->done = 1;
  coro__wake(&t->sched, w->who, 0);
}

/* What coro__park() would return at once without parking (the caller is
 * cancelled, the deadline is due, no scheduler could wake it), or 0 if it
 * would park.  The same checks in the same order as sched.c's park():
 * coro_cond_wait() must know before it lets go of the mutex. */
static int refused_at_once(coro__tls *t, int64_t deadline) {
  const coro__sched *s = &t->sched;
  const coro *c = t->current;
  int in_chain = s->running && c && c != s->host;
  if (in_chain && s->root->sched & CORO__S_CANCELLED) return -ECANCELED;
  if (deadline >= 0 && (deadline == 0 || deadline <= coro_now())) return -ETIMEDOUT;
  if (!in_chain) return -EDEADLK;
  return 0;
}

/* --- mutex ------------------------------------------------------------------------------- */

int coro_mutex_create(coro_mutex **out) {
  if (!out) return -EINVAL;
  coro_mutex *m = coro__malloc(sizeof(*m));
  if (!m) return -ENOMEM;
  m->owner = coro__tls_get();
  m->holder = NULL;
  m->waiters.head = m->waiters.tail = NULL;
  *out = m;
  return 0;
}

/* Would waiting for m wait for the caller itself?  True when the holder is
 * the caller or a coroutine of its resume chain: that one cannot run again
 * before the caller returns.  The thread's own stack ends the walk: as the
 * host of coro_run() it runs again once the scheduler stops. */
static int held_by_chain(const coro_mutex *m, const coro *me) {
  if (m->holder == me) return 1;
  for (const coro *r = me; r && !(r->flags & CORO__F_MAIN); r = r->resumer)
    if (r == m->holder) return 1;
  return 0;
}

int coro_mutex_lock(coro_mutex *m, int64_t deadline) {
  int rc = check(m, m ? m->owner : NULL);
  if (rc < 0) return rc;
  coro *me = self(m->owner);
  if (!m->holder) {
    m->holder = me;
    return 0;
  }
  if (held_by_chain(m, me)) return -EDEADLK;
  return wait_on(m->owner, &m->waiters, deadline, "mutex",
                 m); /* served: unlock made us the holder */
}

/* Let go of m: the first waiter still waiting becomes the holder. */
static void release(coro_mutex *m) {
  coro__waiter *w = coro__wait_first(&m->waiters);
  m->holder = w ? w->who : NULL; /* before the wake: nobody can barge in */
  if (w) serve(m->owner, &m->waiters, w);
}

int coro_mutex_unlock(coro_mutex *m) {
  int rc = check(m, m ? m->owner : NULL);
  if (rc < 0) return rc;
  if (m->holder != self(m->owner)) return -EPERM;
  release(m);
  return 0;
}

int coro_mutex_destroy(coro_mutex *m) {
  int rc = check(m, m ? m->owner : NULL);
  if (rc < 0) return rc;
  if (m->holder || m->waiters.head) return -EBUSY;
  coro__free(m);
  return 0;
}

/* --- condition variable ---------------------------------------------------------------- */

int coro_cond_create(coro_cond **out) {
  if (!out) return -EINVAL;
  coro_cond *c = coro__malloc(sizeof(*c));
  if (!c) return -ENOMEM;
  c->owner = coro__tls_get();
  c->waiters.head = c->waiters.tail = NULL;
  *out = c;
  return 0;
}

int coro_cond_wait(coro_cond *c, coro_mutex *m, int64_t deadline) {
  int rc = check(c, c ? c->owner : NULL);
  if (rc == 0) rc = check(m, m ? m->owner : NULL);
  if (rc < 0) return rc;
  coro__tls *t = c->owner;
  if (m->holder != self(t)) return -EPERM;
  /* A wait that fails at once keeps m: letting go of it could hand it to a
   * waiter, and with no scheduler the caller could never get it back. */
  rc = refused_at_once(t, deadline);
  if (rc < 0) return rc;
  coro__waiter local, *w = coro__waiters_get(t, &local, 1, 0);
  if (!w) return -ENOMEM; /* before letting go of m */
  *w = (coro__waiter){.who = t->current};
  coro__wait_push(&c->waiters, w);
  release(m);
  rc = coro__park(t, deadline, "cond", c);
  if (w->done) {
    rc = 0; /* unlinked by the signal; c may be gone */
  } else {
    coro__wait_remove(&c->waiters, w);
    rc = coro__unserved(rc); /* only a signal wakes with 0, and it sets done */
  }
  coro__waiters_put(t, w, &local, 1, 0);
  /* Relock whatever happened, for as long as it takes; only a cancel stops
   * that (at once if the caller is cancelled already and m is taken). */
  int lrc = coro_mutex_lock(m, -1);
  return lrc < 0 ? lrc : rc;
}

int coro_cond_signal(coro_cond *c) {
  int rc = check(c, c ? c->owner : NULL);
  if (rc < 0) return rc;
  coro__waiter *w = coro__wait_first(&c->waiters);
  if (w) serve(c->owner, &c->waiters, w);
  return 0;
}

int coro_cond_broadcast(coro_cond *c) {
  int rc = check(c, c ? c->owner : NULL);
  if (rc < 0) return rc;
  for (coro__waiter *w; (w = coro__wait_first(&c->waiters));) serve(c->owner, &c->waiters, w);
  return 0;
}

int coro_cond_destroy(coro_cond *c) {
  int rc = check(c, c ? c->owner : NULL);
  if (rc < 0) return rc;
  if (c->waiters.head) return -EBUSY;
  coro__free(c);
  return 0;
}

/* --- semaphore --------------------------------------------------------------------------- */

int coro_sem_create(coro_sem **out, unsigned long value) {
  if (!out) return -EINVAL;
  coro_sem *s = coro__malloc(sizeof(*s));
  if (!s) return -ENOMEM;
  s->owner = coro__tls_get();
  s->count = value;
  s->waiters.head = s->waiters.tail = NULL;
  *out = s;
  return 0;
}

int coro_sem_acquire(coro_sem *s, int64_t deadline) {
  int rc = check(s, s ? s->owner : NULL);
  if (rc < 0) return rc;
  if (s->count) { /* a count above zero means nobody waits still */
    s->count--;
    return 0;
  }
  return wait_on(s->owner, &s->waiters, deadline, "sem",
                 s); /* served: release handed us its token */
}

int coro_sem_release(coro_sem *s) {
  int rc = check(s, s ? s->owner : NULL);
  if (rc < 0) return rc;
  coro__waiter *w = coro__wait_first(&s->waiters);
  if (w) { /* the token goes straight to the first waiter, never counted */
    serve(s->owner, &s->waiters, w);
    return 0;
  }
  if (s->count == ULONG_MAX) return -EOVERFLOW;
  s->count++;
  return 0;
}

int coro_sem_destroy(coro_sem *s) {
  int rc = check(s, s ? s->owner : NULL);
  if (rc < 0) return rc;
  if (s->waiters.head) return -EBUSY;
  coro__free(s);
  return 0;
}

/* --- wait group -------------------------------------------------------------------------- */

int coro_wg_create(coro_wg **out) {
  if (!out) return -EINVAL;
  coro_wg *wg = coro__malloc(sizeof(*wg));
  if (!wg) return -ENOMEM;
  wg->owner = coro__tls_get();
  wg->count = 0;
  wg->waiters.head = wg->waiters.tail = NULL;
  *out = wg;
  return 0;
}

int coro_wg_add(coro_wg *wg, long delta) {
  int rc = check(wg, wg ? wg->owner : NULL);
  if (rc < 0) return rc;
  /* count >= 0, so -count never overflows and neither does the sum below. */
  if (delta < -wg->count) return -EINVAL;
  if (delta > LONG_MAX - wg->count) return -EOVERFLOW;
  wg->count += delta;
  if (wg->count == 0)
    for (coro__waiter *w; (w = coro__wait_first(&wg->waiters));) serve(wg->owner, &wg->waiters, w);
  return 0;
}

int coro_wg_done(coro_wg *wg) { return coro_wg_add(wg, -1); }

int coro_wg_wait(coro_wg *wg, int64_t deadline) {
  int rc = check(wg, wg ? wg->owner : NULL);
  if (rc < 0) return rc;
  if (wg->count == 0) return 0;
  return wait_on(wg->owner, &wg->waiters, deadline, "wait group", wg);
}

int coro_wg_destroy(coro_wg *wg) {
  int rc = check(wg, wg ? wg->owner : NULL);
  if (rc < 0) return rc;
  if (wg->waiters.head) return -EBUSY;
  coro__free(wg);
  return 0;
}
