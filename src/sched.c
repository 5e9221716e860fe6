/*
 * sched.c - micro-threads: a cooperative FIFO scheduler per thread.
 *
 * Who runs where:
 *
 *     host (the caller of coro_run, e.g. main's stack)
 *       |  coro__enter / wake: switch into one chain at a time
 *       v
 *     micro-thread M  --resumes-->  generator G  --resumes-->  generator H
 *     (root of the chain: its resumer is the host)
 *
 * A blocking call parks the coroutine that makes it, the innermost of its
 * chain (H above): H stays RUNNING with its resumer links intact, and control
 * goes straight back to the host with CORO__PARKED.  Waking H switches straight
 * back into it; when H later yields, its value goes to G as usual, and when M
 * yields or finishes, control returns to the host, which reads the outcome.
 *
 * Invariants:
 *   - Only one chain runs at a time: sched.root is its micro-thread.  A chain
 *     has at most one parked coroutine (root->parked).
 *   - A micro-thread is RUNNING from spawn to finish, so the generator calls
 *     refuse it (-EBUSY) and only the scheduler resumes it.
 *   - A coroutine is in the run queue at most once (CORO__S_QUEUED); a parked
 *     one is in the run queue, or the timer heap, or a wait list, or several.
 *     Waking takes it out of the timer heap; the parking call takes itself out
 *     of its wait list when it returns.
 */
#include <errno.h>
#include <time.h>

#include "internal.h"

int64_t coro_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the run queue ------------------------------------------------------------ */

static void enqueue(coro__sched *s, coro *c) {
  c->sched |= CORO__S_QUEUED;
  c->run_next = NULL;
  if (s->tail)
    s->tail->run_next = c;
  else
    s->head = c;
  s->tail = c;
}

static coro *dequeue(coro__sched *s) {
  coro *c = s->head;
  s->head = c->run_next;
  if (!s->head) s->tail = NULL;
  c->sched &= ~(unsigned)CORO__S_QUEUED;
  return c;
}

/* --- parking and waking ---------------------------------------------------------- */

/* Make parked coroutine c runnable; its park returns `code`.  A second wake
 * before it runs is ignored, except that a cancellation wins over the rest. */
static void wake(coro__sched *s, coro *c, int code) {
  if (c->sched & CORO__S_QUEUED) {
    if (code == -ECANCELED) c->wake = code;
    return;
  }
  coro__timer_remove(s, c);
  c->wake = code;
  enqueue(s, c);
}

/* Park the current coroutine until woken, `deadline` passes (-ETIMEDOUT) or
 * its micro-thread is cancelled (-ECANCELED).  With `requeue`, it is runnable
 * again at once (coro_sched_yield).  Returns the wake code. */
static int park(coro__tls *t, int64_t deadline, int requeue) {
  coro__sched *s = &t->sched;
  coro *c = t->current;
  if (!s->running || !c || c == s->host) return -EDEADLK;
  coro *root = s->root;
  if (root->sched & CORO__S_CANCELLED) return -ECANCELED;
  if (deadline >= 0 && !requeue && deadline <= coro_now()) return -ETIMEDOUT;
  if (deadline >= 0 && !requeue) {
    int rc = coro__timer_add(s, c, deadline);
    if (rc < 0) return rc;
  }
  c->root = root;
  c->wake = 0;
  root->parked = c;
  if (requeue) enqueue(s, c);
  return coro__transfer(t, s->host, CORO__PARKED);
}

static void unlink_waiter(coro__waiter **list, coro__waiter *w) {
  if (w->prev)
    w->prev->next = w->next;
  else if (*list == w)
    *list = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = NULL;
}

/* --- micro-threads ------------------------------------------------------------------ */

int coro_spawn(coro **out, coro_fn fn, void *arg, const coro_attr *attr) {
  coro *c;
  int rc = coro_create(&c, fn, arg, attr);
  if (rc < 0) return rc;
  coro__tls *t = c->owner;
  c->state = CORO_RUNNING;
  c->sched = CORO__S_SPAWNED | (out ? 0u : CORO__S_DETACHED);
  t->sched.live++;
  enqueue(&t->sched, c);
  if (out) *out = c;
  return 0;
}

/* Micro-thread c has finished (state CLOSED): its joiners get the result. */
static void finished(coro__tls *t, coro *c) {
  coro__sched *s = &t->sched;
  s->live--;
  while (c->joiners) {
    coro__waiter *w = c->joiners;
    unlink_waiter(&c->joiners, w);
    wake(s, w->who, 0);
  }
  if (c->sched & CORO__S_DETACHED) {
    c->state = CORO_CLOSED;
    coro_destroy(c);
  }
}

/* Give the CPU to what the run queue's head stands for, until control comes
 * back to the host. */
static void run_one(coro__tls *t, coro *c) {
  coro__sched *s = &t->sched;
  int rc;
  if (c->sched & CORO__S_SPAWNED && !(c->sched & CORO__S_STARTED)) {
    if (c->sched & CORO__S_CANCELLED) { /* cancelled before it ran: it never runs */
      c->state = CORO_CLOSED;
      c->result = NULL;
      c->result_code = -ECANCELED;
      finished(t, c);
      return;
    }
    c->sched |= CORO__S_STARTED;
    s->root = c;
    rc = coro__enter(t, c, 0);
  } else if (c->sched & CORO__S_YIELDED) { /* a micro-thread that yielded */
    c->sched &= ~(unsigned)CORO__S_YIELDED;
    s->root = c;
    rc = coro__enter(t, c, c->sched & CORO__S_CANCELLED ? -ECANCELED : 0);
  } else { /* a parked coroutine: straight back into its chain */
    s->root = c->root;
    c->root->parked = NULL;
    rc = coro__transfer(t, c, c->wake);
  }
  /* Back on the host: what did the chain of s->root do? */
  coro *m = s->root;
  s->root = NULL;
  if (rc == CORO__PARKED) return; /* waits in a queue, the heap or a list */
  if (rc == CORO_YIELDED) {       /* coro_yield() in a micro-thread: its turn is over */
    m->state = CORO_RUNNING;
    m->sched |= CORO__S_YIELDED;
    enqueue(s, m);
    return;
  }
  finished(t, m); /* returned or failed: it is CLOSED */
}

/* Sleep in the kernel until the earliest deadline (nothing is runnable). */
static void idle_until(int64_t deadline) {
  struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* Wake every parked coroutine whose deadline has passed. */
static void fire_timers(coro__sched *s) {
  coro *c = coro__timer_first(s);
  if (!c) return;
  int64_t now = coro_now();
  while (c && c->deadline <= now) {
    wake(s, c, -ETIMEDOUT);
    c = coro__timer_first(s);
  }
}

int coro_run(void) {
  coro__tls *t = &coro__this_thread;
  if (!t->ready) {
    int rc = coro__thread_setup(t);
    if (rc < 0) return rc;
  }
  coro__sched *s = &t->sched;
  if (s->running) return -EBUSY;
  if (!(t->current->flags & CORO__F_MAIN)) return -EPERM;
  s->running = 1;
  s->host = t->current;
  int rc = 0;
  while (s->live) {
    /* One round: what was runnable when it began, then the timers, so that
     * coroutines yielding in a loop cannot starve the sleepers. */
    coro *last = s->tail;
    while (s->head) {
      coro *c = dequeue(s);
      run_one(t, c);
      if (c == last) break;
    }
    fire_timers(s);
    if (s->head || !s->live) continue;
    coro *first = coro__timer_first(s);
    if (!first) { /* every micro-thread waits for something only another could do */
      rc = -EDEADLK;
      break;
    }
    idle_until(first->deadline);
    fire_timers(s);
  }
  s->running = 0;
  s->host = NULL;
  return rc;
}

/* --- blocking calls ------------------------------------------------------------------ */

int coro_sched_yield(void) {
  coro__tls *t = &coro__this_thread;
  int rc = park(t, -1, 1);
  return rc == -ETIMEDOUT ? 0 : rc;
}

int coro_sleep(int64_t deadline) {
  coro__tls *t = &coro__this_thread;
  int rc = park(t, deadline, 0);
  return rc == -ETIMEDOUT ? 0 : rc;
}

int coro_join(coro *c, void **result, int64_t deadline) {
  coro__tls *t = &coro__this_thread;
  if (!c) return -EINVAL;
  if (c->owner != t) return -EPERM;
  if (!(c->sched & CORO__S_SPAWNED) || c->sched & (CORO__S_DETACHED | CORO__S_JOINED))
    return -EINVAL;
  if (c->state != CORO_CLOSED) {
    if (c == t->sched.root || c == t->current) return -EDEADLK; /* joining ourselves */
    coro__waiter w = {t->current, NULL, c->joiners};
    if (c->joiners) c->joiners->prev = &w;
    c->joiners = &w;
    int rc = park(t, deadline, 0);
    if (rc < 0) {
      unlink_waiter(&c->joiners, &w);
      return rc;
    }
  }
  c->sched |= CORO__S_JOINED;
  return coro_result(c, result);
}

int coro_cancel(coro *c) {
  coro__tls *t = &coro__this_thread;
  if (!c) return -EINVAL;
  if (c->owner != t) return -EPERM;
  if (!(c->sched & CORO__S_SPAWNED)) return -EINVAL;
  if (c->state == CORO_CLOSED) return -ESRCH;
  c->sched |= CORO__S_CANCELLED;
  if (c->parked) wake(&t->sched, c->parked, -ECANCELED);
  return 0;
}
