/* SPDX-License-Identifier: MIT */
/*
 * copystack.h - copy-stack (shared-stack) mode: what coro.c, sched.c and the
 * blocking calls need of copystack.c.
 *
 * Every copy-stack coroutine of a thread runs on the thread's one shared
 * stack.  The coroutine whose frames are on it is the occupant; the others
 * keep the bytes they used, from their saved stack pointer up to the top, in a
 * heap buffer (coro.saved).  The occupant is displaced lazily: only when
 * another copy-stack coroutine is switched to, so a generator driven from an
 * ordinary stack is switched without any copy.
 *
 *     shared stack:  | guard | ...... free ...... | occupant's frames |  hi
 *                                                 ^ occupant's sp
 *     suspended C:   C->saved = copy of [C's sp, hi), C->saved_len bytes
 *
 * The switch that displaces the occupant runs where it does not overwrite
 * itself: on the switching side's stack when that is not the shared stack,
 * else on the thread's small copier stack (one more switch each way).
 *
 * What must never be written through a pointer into the shared stack while
 * its owner is displaced: waiter records and elements in flight (taken from
 * the heap in this mode: coro__waiters_get), the places a resume and a yield
 * store the values they pass (the switch makes that store once it has
 * brought the owner's frames back: coro__copy_store in internal.h), and
 * whatever a worker thread writes (refused, -EFAULT: coro__on_shared).
 */
#ifndef CORO_COPYSTACK_H
#define CORO_COPYSTACK_H

#include "internal.h"

/* A thread's shared stack and its copier. */
typedef struct coro__copystack {
  char *map;          /* the mapping: guard page, then the usable stack */
  size_t map_len;     /* its length */
  coro__stack shared; /* the shared stack's usable bytes [lo, hi), size
                         CORO_STACK_SHARED, guarded; no slab */
  coro *job_from;     /* copier's job: the coroutine that switched to it */
  coro *job_to;       /*   the copy-stack coroutine to switch in */
  int job_pass;       /*   what to's pending switch returns */
  unsigned vg_shared; /* Valgrind stack ids, 0 if not registered */
  unsigned vg_copier;
  void *wcache;     /* free one-waiter blocks (WAITER_SMALL bytes), linked
                        through their first word */
  unsigned nwcache; /* how many */
  uint32_t hint;     /* the room for saved frames a new record brings: what
                        the thread's last first save needed (0: none) */
  coro__cold copier_cold; /* the copier's cold part: its name, its stack */
  coro copier;            /* the copier's context */
} coro__copystack;

/* The thread's stack mode for coroutines created with CORO_STACK_MODE_DEFAULT:
 * CORO_STACK_MODE_OWN or _COPY (CORO_STACK_MODE from the environment at the
 * thread's first call, unless coro_set_stack_mode() said otherwise). */
int coro__stack_mode(coro__tls *t);

/* A new copy-stack coroutine's record for t (made at the thread's first,
 * with its shared stack): its cold part in the same block if `cold` (else
 * coro.cold is NULL), and room for its saved frames after it, as much as the
 * thread's last first save needed (coro__copystack.hint).  Its context and
 * saved-frame fields are set, and flags (CORO__F_COPY, maybe
 * CORO__F_SAVED_INLINE); 0 or -ENOMEM. */
int coro__copy_new(coro__tls *t, int cold, coro **out);
/* Destroy's half: c's frames are abandoned; free its buffer and record. */
void coro__copy_free(coro__tls *t, coro *c);
/* c has finished: its frames on the shared stack are dead. */
static inline void coro__copy_dead(coro *c) {
  if (c->owner->copy_occupant == c) c->owner->copy_occupant = NULL;
}

/* The body every copy-stack context starts in (coro.c's entry). */
void coro__entry(void *arg);

/* Does p point into this thread's shared stack?  Such a pointer is valid only
 * while its owner runs: calls that hand one to a worker thread or to a
 * copy-stack coroutine refuse it (-EFAULT). */
static inline int coro__on_shared(const coro__tls *t, const void *p) {
  const coro__copystack *cs = t->copystack;
  return cs && (const char *)p >= cs->shared.lo && (const char *)p < cs->shared.hi;
}

/* --- waiter records of blocking calls ---------------------------------------- */

/* Waiters for a blocking call of the current coroutine c: `local` (n of them
 * on c's own stack, where nothing moves) unless c is a copy-stack coroutine;
 * then n records from the heap, each with `extra` bytes for an element in
 * flight behind them all (coro__waiter_buf).  NULL: no memory. */
coro__waiter *coro__waiters_heap(coro__tls *t, size_t n, size_t extra);
void coro__waiters_free(coro__tls *t, coro__waiter *w, size_t n, size_t extra);
static inline coro__waiter *coro__waiters_get(coro__tls *t, coro__waiter *local, size_t n,
                                              size_t extra) {
  if (CORO__LIKELY(!t->current || !(t->current->flags & CORO__F_COPY))) return local;
  return coro__waiters_heap(t, n, extra);
}
static inline void coro__waiters_put(coro__tls *t, coro__waiter *w, const coro__waiter *local,
                                     size_t n, size_t extra) {
  if (CORO__UNLIKELY(w != local)) coro__waiters_free(t, w, n, extra);
}
/* Element buffer i of heap waiters w (n of them, `extra` bytes each). */
void *coro__waiter_buf(coro__waiter *w, size_t n, size_t extra, size_t i);

#endif
