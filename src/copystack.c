/* SPDX-License-Identifier: MIT */
/*
 * copystack.c - copy-stack (shared-stack) mode: one shared stack per thread,
 * saved and restored frames, the copier, heap waiters.  See copystack.h for
 * the layout and the rules.
 *
 * Invariants:
 *   - A running copy-stack coroutine is the occupant (t->copy_occupant): its
 *     frames are on the shared stack.  A suspended one is either the occupant
 *     (nobody needed the stack since) or keeps [its sp, hi) in c->saved.
 *   - A fresh copy-stack coroutine has ctx.sp NULL: its first frame is built
 *     on the shared stack when it is first switched in.
 *   - The bytes of the shared stack are rewritten only on a stack that is not
 *     the shared stack: the switching side's own, or the copier's.
 *   - Saving may fail (no memory for the buffer); it happens before anything
 *     is overwritten, so a failed switch leaves every coroutine as it was.
 *
 * This is the design of libaco's shared stacks (an owner per shared stack,
 * saved lazily when another coroutine needs it), extended to resume chains:
 * a copy-stack coroutine may resume another one, whose frames then displace
 * its resumer's, and the values they pass go through the records, not
 * through pointers into each other's frames.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "copystack.h"
#include "scheduler.h" /* coro__waiter */

#ifdef CORO_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

#define COPIER_STACK ((size_t)64 << 10) /* the copier only copies: ASan's memcpy included */
/* A one-waiter heap block with room for an element of up to 32 bytes: the
 * size the per-thread cache keeps (most channel elements fit). */
#define WAITER_SMALL (sizeof(coro__waiter) + 32)
#define WAITER_CACHE 64u

/* --- the stack mode of default attributes ---------------------------------------- */

static int mode_from_env(void) {
#ifdef CORO_USE_UCONTEXT
  return CORO_STACK_MODE_OWN; /* copy-stack mode needs the assembly switch */
#else
  const char *e = getenv("CORO_STACK_MODE");
  return e && strcmp(e, "copy") == 0 ? CORO_STACK_MODE_COPY : CORO_STACK_MODE_OWN;
#endif
}

int coro__stack_mode(coro__tls *t) {
  if (CORO__UNLIKELY(!t->stack_mode)) t->stack_mode = mode_from_env();
  return t->stack_mode;
}

int coro_set_stack_mode(int mode) {
  coro__tls *t = coro__tls_get();
  if (mode != CORO_STACK_MODE_OWN && mode != CORO_STACK_MODE_COPY) return -EINVAL;
#ifdef CORO_USE_UCONTEXT
  if (mode == CORO_STACK_MODE_COPY) return -ENOTSUP;
#endif
  int old = coro__stack_mode(t);
  t->stack_mode = mode;
  return old;
}

/* --- copying frames ------------------------------------------------------------------ */

/* Copy n bytes (a multiple of 8) of stack.  Under ASan the shared stack's
 * shadow still holds the redzones of frames that are no longer there, so the
 * copy must not be checked (memcpy is intercepted). */
#ifdef CORO_ASAN
__attribute__((no_sanitize_address)) static void copy_frames(void *dst, const void *src, size_t n) {
  uint64_t *d = dst;
  const uint64_t *s = src;
  for (size_t i = 0; i < n / 8; i++) d[i] = s[i];
}
#else
static inline void copy_frames(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
#endif

/* A saved buffer this much larger than the frames it holds is given back for
 * one that fits (a coroutine that once ran deep keeps no more than it uses
 * for long); the slack below it avoids a malloc at every save of a coroutine
 * whose depth varies a little. */
#define SHRINK_FACTOR 4u
#define SHRINK_MIN 1024u

/* How many bytes of saved frames a new record brings room for, at most: a
 * thread whose copy-stack coroutines are saved deeper than this gets no room
 * in the record (their buffers are blocks of their own). */
#define HINT_MAX 512u

/* Save the occupant's frames into its buffer, grown to fit if need be (exact,
 * rounded to 16 bytes: the buffer is what a suspended coroutine costs), or
 * shrunk to fit if it is SHRINK_FACTOR times too big.  0, or -ENOMEM with
 * nothing changed (growing only: a shrink without memory keeps the buffer). */
static int save(coro__tls *t, coro *c) {
  coro__copystack *cs = t->copystack;
  char *sp = c->ctx.sp;
  size_t used = (size_t)(cs->shared.hi - sp);
  size_t fit = (used + 15) & ~(size_t)15;
  if (CORO__UNLIKELY(!c->saved_len)) /* its first save: what records make room for */
    cs->hint = fit <= HINT_MAX ? (uint32_t)fit : 0;
  int grow = used > c->saved_cap;
  if (CORO__UNLIKELY(grow || (c->saved_cap >= SHRINK_MIN && used * SHRINK_FACTOR < c->saved_cap &&
                              !(c->flags & CORO__F_SAVED_INLINE)))) {
    void *p = coro__malloc(fit);
    if (p) {
      /* Its old contents are stale: no realloc copy.  Room in the record
       * stays unused from now on. */
      if (!(c->flags & CORO__F_SAVED_INLINE)) coro__free(c->saved);
      c->flags &= ~(unsigned)CORO__F_SAVED_INLINE;
      c->saved = p;
      c->saved_cap = (uint32_t)fit;
    } else if (grow) {
      return -ENOMEM;
    }
  }
  copy_frames(c->saved, sp, used);
  c->saved_len = (uint32_t)used;
  t->copy_occupant = NULL;
  return 0;
}

/* Bring c's frames back onto the shared stack (or build its first frame). */
static void restore(coro__tls *t, coro *c) {
  coro__copystack *cs = t->copystack;
#ifdef CORO_ASAN
  /* The shadow describes the frames just displaced: forget it. */
  ASAN_UNPOISON_MEMORY_REGION(cs->shared.lo, (size_t)(cs->shared.hi - cs->shared.lo));
#endif
  /* Memcheck marked what lay below the last occupant's stack pointer as
   * inaccessible: the frames written there now are live (the copy gives them
   * the saved bytes' definedness). */
  VALGRIND_MAKE_MEM_UNDEFINED(cs->shared.lo, (size_t)(cs->shared.hi - cs->shared.lo));
  if (!c->ctx.sp)
    coro__context_make(&c->ctx, cs->shared.lo, cs->shared.hi, coro__entry, c);
  else
    copy_frames(c->ctx.sp, c->saved, c->saved_len);
  t->copy_occupant = c;
  if (t->copy_dst) { /* the store the switch was handed (coro__copy_store) */
    *t->copy_dst = t->copy_val;
    t->copy_dst = NULL;
  }
}

/* The copier: entered from a coroutine running on the shared stack, whose
 * context the switch has just saved, it saves that stack and restores the
 * next one -- from a stack of its own, as nothing may overwrite the frames it
 * runs in.  It loops: every switch to it resumes the switch below. */
static void copier_main(void *arg) {
  coro__tls *t = arg;
  coro__copystack *cs = t->copystack;
#ifdef CORO_ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
  for (;;) {
    coro *next = cs->job_to;
    int pass = cs->job_pass;
    if (t->copy_occupant && save(t, t->copy_occupant) < 0) {
      next = cs->job_from; /* still the occupant: its frames are intact */
      pass = CORO__NOMEM;
      t->copy_dst = NULL; /* the store is not made either */
    } else {
      restore(t, next);
    }
    t->current = next;
    coro__switch_to(&cs->copier, next, pass, 0); /* next is the occupant now: no recursion */
  }
}

int coro__copy_switch(coro *from, coro *to, int pass, int dying) {
  coro__tls *t = to->owner;
  coro__copystack *cs = t->copystack;
  if (from->flags & CORO__F_COPY) { /* we run on the shared stack: via the copier */
    cs->job_from = from;
    cs->job_to = to;
    cs->job_pass = pass;
    return coro__switch_to(from, &cs->copier, 0, dying); /* CORO__NOMEM: current put back */
  }
  if (t->copy_occupant && save(t, t->copy_occupant) < 0) {
    t->current = from;
    t->copy_dst = NULL; /* the store is not made either */
    return CORO__NOMEM;
  }
  restore(t, to);
  return coro__switch_to(from, to, pass, dying);
}

/* --- the thread's shared stack ------------------------------------------------------ */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key; /* its destructor frees the thread's shared stack */

static void release(coro__copystack *cs) {
  VALGRIND_STACK_DEREGISTER(cs->vg_shared);
  VALGRIND_STACK_DEREGISTER(cs->vg_copier);
  while (cs->wcache) {
    void *next = *(void **)cs->wcache;
    coro__free(cs->wcache);
    cs->wcache = next;
  }
  coro__munmap(cs->copier_cold.stack.lo, COPIER_STACK);
  coro__munmap(cs->map, cs->map_len);
  coro__free(cs);
}

/* Thread exit: coroutines still alive were leaked by the program. */
static void thread_exit(void *arg) {
  coro__tls *t = arg;
  if (!t->copystack) return;
  release(t->copystack);
  t->copystack = NULL;
  t->copy_occupant = NULL;
}

static void make_key(void) { pthread_key_create(&exit_key, thread_exit); }

/* The thread's shared stack, made at its first copy-stack coroutine: a guard
 * page (one mprotect per thread: no budget to share) below CORO_STACK_SHARED
 * bytes, and the copier's small stack. */
static int setup(coro__tls *t) {
  pthread_once(&key_once, make_key);
  coro__copystack *cs = coro__malloc(sizeof(*cs));
  if (!cs) return -ENOMEM;
  memset(cs, 0, sizeof(*cs));
  int err = 0;
  cs->map_len = CORO_STACK_SHARED + coro__page_size;
  cs->map = coro__mmap(cs->map_len, &err);
  if (!cs->map) goto out_free;
  char *copier = coro__mmap(COPIER_STACK, &err);
  if (!copier) goto out_unmap;
  int guarded = coro__mprotect(cs->map, coro__page_size, PROT_NONE) == 0;
  cs->shared.lo = cs->map + coro__page_size;
  cs->shared.hi = cs->map + cs->map_len;
  cs->vg_shared = VALGRIND_STACK_REGISTER(cs->shared.lo, cs->shared.hi);
  cs->vg_copier = VALGRIND_STACK_REGISTER(copier, copier + COPIER_STACK);
  cs->shared.size = CORO_STACK_SHARED;
  cs->shared.guarded = guarded;
  coro *k = &cs->copier;
  k->owner = t;
  k->state = CORO_RUNNING;
  k->cold = &cs->copier_cold;
  k->cold->stack.lo = copier;
  k->cold->stack.hi = copier + COPIER_STACK;
  k->cold->stack.size = COPIER_STACK;
  k->cold->stack.guarded = guarded; /* (unused: the copier never overflows) */
  memcpy(k->cold->name, "(copier)", sizeof("(copier)"));
  coro__context_make(&k->ctx, copier, copier + COPIER_STACK, copier_main, t);
  t->copystack = cs;
  pthread_setspecific(exit_key, t);
  return 0;

out_unmap:
  coro__munmap(cs->map, cs->map_len);
out_free:
  coro__free(cs);
  return err == -EAGAIN ? -ENOMEM : err ? err : -ENOMEM;
}

/* --- records --------------------------------------------------------------------------- */

int coro__copy_new(coro__tls *t, int cold, coro **out) {
  if (CORO__UNLIKELY(!t->copystack)) {
    int rc = setup(t);
    if (rc < 0) return rc;
  }
  size_t extra = cold ? CORO__COLD_COPY : 0, room = t->copystack->hint;
  coro *c = coro__malloc(sizeof(coro) + extra + room);
  if (!c) return -ENOMEM;
#ifdef CORO_SANITIZE_BUILD
  /* Garbage first, so a field coro_create forgets shows up in tests. */
  memset(c, 0xa5, sizeof(coro) + extra + room);
#endif
  c->cold = NULL;
  if (cold) {
    c->cold = (coro__cold *)(c + 1);
    coro__cold_init(c->cold);
  }
  c->ctx.sp = NULL; /* fresh: its first frame is built when it is switched in */
  c->flags = CORO__F_COPY;
  c->saved = NULL;
  c->saved_len = c->saved_cap = 0;
  if (room) { /* its frames' first save needs no malloc of its own */
    c->saved = (char *)(c + 1) + extra;
    c->saved_cap = (uint32_t)room;
    c->flags |= CORO__F_SAVED_INLINE;
  }
  *out = c;
  return 0;
}

coro__stack *coro__copy_stack_of(const coro *c) { return &c->owner->copystack->shared; }

void coro__copy_free(coro__tls *t, coro *c) {
  if (t->copy_occupant == c) t->copy_occupant = NULL; /* its frames are abandoned */
  if (!(c->flags & CORO__F_SAVED_INLINE)) coro__free(c->saved);
  if (c->cold != (coro__cold *)(c + 1)) coro__free(c->cold); /* NULL, or one of its own */
  coro__free(c);
}

/* --- heap waiters ----------------------------------------------------------------------- */

coro__waiter *coro__waiters_heap(coro__tls *t, size_t n, size_t extra) {
  coro__copystack *cs = t->copystack;
  if (n == 1 && extra <= WAITER_SMALL - sizeof(coro__waiter)) {
    if (cs->wcache) {
      void *w = cs->wcache;
      cs->wcache = *(void **)w;
      cs->nwcache--;
      return w;
    }
    return coro__malloc(WAITER_SMALL);
  }
  if (extra && n > (SIZE_MAX / 2) / extra) return NULL;
  return coro__malloc(n * (sizeof(coro__waiter) + extra));
}

void coro__waiters_free(coro__tls *t, coro__waiter *w, size_t n, size_t extra) {
  coro__copystack *cs = t->copystack;
  if (n == 1 && extra <= WAITER_SMALL - sizeof(coro__waiter) && cs->nwcache < WAITER_CACHE) {
    *(void **)(void *)w = cs->wcache;
    cs->wcache = w;
    cs->nwcache++;
    return;
  }
  coro__free(w);
}

void *coro__waiter_buf(coro__waiter *w, size_t n, size_t extra, size_t i) {
  return (char *)(w + n) + i * extra;
}
