/* SPDX-License-Identifier: MIT */
/*
 * group.c - structured concurrency: a group owns the micro-threads spawned
 * into it, and closing it cancels and waits for every one of them.
 *
 *     struct coro_group
 *     +---------------------+
 *     | members (list)      |  detached micro-threads, linked through
 *     | live                |  coro.group_prev/next; each leaves the list
 *     | error               |  when it finishes, and is freed then
 *     | waiters (wait list) |  coro_group_wait / close, woken at live == 0
 *     +---------------------+
 *
 * Invariants:
 *   - live counts the members list; a member is linked from its spawn until
 *     sched.c's finished() calls coro__group_member_done(), just before it
 *     frees the member.
 *   - error is the first non-zero result a member finished with, except a
 *     member's -ECANCELED once the group was cancelled (the group asked).
 *   - Whoever frees the group (close) first serves every waiter still linked,
 *     woken or not, so no waiter touches the group after it is gone.
 */
#include <errno.h>

#include "copystack.h"
#include "scheduler.h"

/* Waiters live on the parked coroutine's stack (see sched.c). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

struct coro_group {
  coro__tls *owner;        /* thread whose coroutines may use it */
  coro *members;           /* live members, most recent first */
  long live;               /* how many */
  int error;               /* first error a member finished with, or 0 */
  unsigned flags;          /* CORO_GROUP_* */
  int cancelled;           /* coro_group_cancel(), a close, or fail-fast */
  coro__wait_list waiters; /* wait and close calls, each waiter's data an int
                              that receives the group's result */
};

static inline int check(const coro_group *g) {
  if (!g) return -EINVAL;
  if (g->owner != coro__tls_get()) return -EPERM;
  return 0;
}

int coro_group_create(coro_group **out, unsigned flags) {
  if (!out || flags & ~(unsigned)CORO_GROUP_FAIL_FAST) return -EINVAL;
  coro_group *g = coro__malloc(sizeof(*g));
  if (!g) return -ENOMEM;
  *g = (coro_group){.owner = coro__tls_get(), .flags = flags};
  *out = g;
  return 0;
}

int coro_group_spawn(coro_group *g, coro_fn fn, void *arg, const coro_attr *attr) {
  int rc = check(g);
  if (rc < 0) return rc;
  if (g->cancelled) return -ECANCELED;
  coro *c;
  rc = coro_spawn(&c, fn, arg, attr);
  if (rc < 0) return rc;
  c->sched |= CORO__S_DETACHED;
  coro__cold *x = c->cold; /* a micro-thread has one */
  x->group = g;
  x->group_prev = NULL;
  x->group_next = g->members;
  if (g->members) g->members->cold->group_prev = c;
  g->members = c;
  g->live++;
  return 0;
}

static void cancel_members(coro__tls *t, coro_group *g) {
  g->cancelled = 1;
  for (coro *c = g->members; c; c = c->cold->group_next)
    if (!(c->sched & CORO__S_CANCELLED)) coro__cancel(t, c);
}

int coro_group_cancel(coro_group *g) {
  int rc = check(g);
  if (rc < 0) return rc;
  cancel_members(g->owner, g);
  return 0;
}

/* Serve every waiter still linked, woken already or not, with the result. */
static void serve_all(coro__tls *t, coro_group *g) {
  while (g->waiters.head) {
    coro__waiter *w = g->waiters.head;
    coro__wait_remove(&g->waiters, w);
    w->data = (void *)(intptr_t)g->error; /* in the record: nothing points into a stack */
    w->done = 1;
    coro__wake(&t->sched, w->who, 0);
  }
}

void coro__group_member_done(coro__tls *t, coro *c) {
  coro__cold *x = c->cold;
  coro_group *g = x->group;
  if (x->group_prev)
    x->group_prev->cold->group_next = x->group_next;
  else
    g->members = x->group_next;
  if (x->group_next) x->group_next->cold->group_prev = x->group_prev;
  x->group = NULL;
  g->live--;
  int rc = c->result_code;
  if (rc && !(rc == -ECANCELED && g->cancelled) && !g->error) {
    g->error = rc;
    if (g->flags & CORO_GROUP_FAIL_FAST) cancel_members(t, g);
  }
  if (!g->live) serve_all(t, g);
}

/* Is the caller a member of g, which would wait for itself? */
static int is_member(const coro__tls *t, const coro_group *g) {
  return t->sched.running && t->sched.root && t->sched.root->cold->group == g;
}

int coro_group_wait(coro_group *g, int64_t deadline) {
  int rc = check(g);
  if (rc < 0) return rc;
  coro__tls *t = g->owner;
  if (!g->live) return g->error;
  if (is_member(t, g)) return -EDEADLK;
  coro__waiter local, *w = coro__waiters_get(t, &local, 1, 0);
  if (!w) return -ENOMEM;
  *w = (coro__waiter){.who = t->current};
  coro__wait_push(&g->waiters, w);
  rc = coro__park(t, deadline, "group", g);
  int done = w->done, result = (int)(intptr_t)w->data;
  if (!done) coro__wait_remove(&g->waiters, w); /* if served, g may be gone */
  coro__waiters_put(t, w, &local, 1, 0);
  if (done) return result; /* served at live == 0 */
  return rc < 0 ? rc : -EINTR;
}

int coro_group_close(coro_group *g, int64_t deadline) {
  int rc = check(g);
  if (rc < 0) return rc;
  coro__tls *t = g->owner;
  if (g->live) {
    const coro__sched *s = &t->sched;
    if (!s->running || t->current == s->host || is_member(t, g)) return -EDEADLK;
    cancel_members(t, g);
    /* A cancel of the caller only wakes this wait: members finish promptly
     * once cancelled, and nothing may outlive the group. */
    while (g->live) {
      coro__waiter local, *w = coro__waiters_get(t, &local, 1, 0);
      if (!w) return -ENOMEM; /* g stays, cancelled */
      *w = (coro__waiter){.who = t->current};
      coro__wait_push(&g->waiters, w);
      rc = coro__park_shielded(t, deadline, "group", g);
      int done = w->done;
      if (!done) coro__wait_remove(&g->waiters, w);
      coro__waiters_put(t, w, &local, 1, 0);
      if (done) continue;                        /* served: every member has finished */
      if (rc < 0 && rc != -ECANCELED) return rc; /* -ETIMEDOUT, -ENOMEM: g stays, cancelled */
    }
  }
  serve_all(t, g);
  rc = g->error;
  coro__free(g);
  return rc;
}

long coro_group_size(const coro_group *g) { return g ? g->live : -EINVAL; }
