/* SPDX-License-Identifier: MIT */
/*
 * stack.h - the stack layer's contract with the layers above (stack.c).
 *
 * The stack layer hands out stacks of a size, keeps them pooled per thread,
 * guards them and reports overflows.  It knows nothing of coroutines: it
 * depends on sys.h alone, and what its overflow report needs of the layer
 * above (which stack runs now, under what name) it asks through a hook.
 *
 * Layout of one stack slot:
 *
 *     slot base                                                   slot end
 *     | guard page | usable stack, grows down <- ...               |
 *                  ^ coro__stack.lo                                ^ coro__stack.hi
 *
 * What the layer above keeps at the top of the stack (the coroutine object,
 * see internal.h) is its own business; it starts at coro__stack_top(), a
 * little below hi (cache colouring).
 */
#ifndef CORO_STACK_H
#define CORO_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "sys.h"

/* The value a stack canary holds while intact. */
#define CORO__CANARY UINT64_C(0x6c6962636f726f21) /* "libcoro!" */

typedef struct coro__slab coro__slab;               /* a mapping of slots of one size */
typedef struct coro__stack_class coro__stack_class; /* the slabs of one size */

/* A stack handed out by the pool. */
typedef struct coro__stack {
  char *lo;         /* lowest usable byte, just above the guard page */
  char *hi;         /* one past the highest byte of the slot */
  size_t size;      /* usable size requested, page-rounded (what coro_stack_size reports) */
  coro__slab *slab; /* slab the slot belongs to, to give it back */
  unsigned slot;    /* index of the slot in its slab */
  int guarded;      /* 1 if a guard page protects this slot */
} coro__stack;

/* Stacks freed most recently, kept whole for the next create (LIFO). */
#define CORO__STACK_CACHE 16

/* The decay's unit (stack.c): an empty slab beyond a class's warm cap is
 * idle once the class has handled this many times as many stack operations
 * (allocations and frees the cache did not absorb) as it has slots since the
 * slab emptied or was decayed.  A burst of the class's whole size is two
 * (every slot allocated, then freed), so one that comes back after up to
 * three bursts' worth of other work finds its slabs warm; bench_sched's
 * 10^6-alive rounds come back after one 1 000-alive round of the same N. */
#define CORO__STACK_DECAY_TURNS 8u

/* One thread's stacks: a member of the thread's context, zero-initialised. */
typedef struct coro__stack_pool {
  unsigned ncached;                     /* entries in cache[] */
  coro__stack cache[CORO__STACK_CACHE]; /* freed stacks, ready for reuse */
  coro__stack_class *classes;           /* slabs, one class per size in use */
  void *altstack;                       /* mapping of the alternate signal stack we
                                           installed (a guard page at each end), or NULL */
  size_t altstack_size;                 /* its size, guards included */
} coro__stack_pool;

/* The overflow report's question to the layer above, asked from the SIGSEGV
 * handler on the faulting thread (so: async-signal-safe, no locks): the stack
 * the running code of this thread is on, or NULL on the thread's own stack,
 * and in *name the name to report it under. */
typedef const coro__stack *(*coro__stack_running_fn)(const char **name);

/* The system page size, valid once coro__stack_pool_init() has run. */
extern size_t coro__page_size;

/* Set up the thread's pool: the process-wide part once (guard mode, SIGSEGV
 * handler, `running` remembered), then an alternate signal stack for the
 * overflow report.  Returns 0 or a negated errno. */
int coro__stack_pool_init(coro__stack_pool *p, coro__stack_running_fn running);

/* Thread exit: give back the alternate stack and every slab with nothing in
 * use (coroutines still alive keep theirs: the program leaked them). */
void coro__stack_pool_fini(coro__stack_pool *p);

/* Take a stack of `size` usable bytes (page-rounded) from the pool's slabs.
 * Returns 0, or -ENOMEM.  Nothing is leaked on failure.  Callers try the
 * cache first (coro__stack_get). */
int coro__stack_alloc(coro__stack_pool *p, size_t size, coro__stack *out);

/* Give a stack back to its slab. */
void coro__stack_free(coro__stack_pool *p, const coro__stack *s);

/* Give memory back: the cache's stacks to their slabs, then unmap every
 * empty slab and discard the pages of free slots (MADV_DONTNEED; guards
 * stay).  Stacks in use are not touched.  *released (if not NULL): the bytes
 * unmapped or discarded.  Returns 0 or the first error the kernel gave (the
 * rest is trimmed all the same). */
int coro__stack_trim(coro__stack_pool *p, size_t *released);

/* The fast path: reuse a recently freed stack of the same size. */
static inline int coro__stack_get(coro__stack_pool *p, size_t size, coro__stack *out) {
  if (CORO__LIKELY(p->ncached && p->cache[p->ncached - 1].size == size)) {
    *out = p->cache[--p->ncached];
    return 0;
  }
  return coro__stack_alloc(p, size, out);
}

/* Keep a freed stack for the next create, or give it back to its slab. */
static inline void coro__stack_put(coro__stack_pool *p, const coro__stack *s) {
#ifdef CORO_ASAN
  /* Frames abandoned on this stack left their redzones poisoned. */
  ASAN_UNPOISON_MEMORY_REGION(s->lo, (size_t)(s->hi - s->lo));
#endif
  if (CORO__LIKELY(p->ncached < CORO__STACK_CACHE))
    p->cache[p->ncached++] = *s;
  else
    coro__stack_free(p, s);
}

/* Where the layer above may start using the stack: its top less a colour of
 * 0..15 cache-line pairs by slot.  Slots are a whole number of pages apart,
 * so without it what sits at every stack's top (the coroutine object, the
 * first frames) would fall into the same few cache sets: with 1 000 stacks
 * in turn, a colour cut spawn+join's time by a fifth to a half here.  It
 * stays within the top page. */
static inline char *coro__stack_top(const coro__stack *s) {
  return s->hi - ((size_t)(s->slot & 15u) << 7);
}

/* An unguarded stack carries this canary at its low end. */
static inline void coro__stack_set_canary(const coro__stack *s) {
  if (!s->guarded) *(uint64_t *)(void *)s->lo = CORO__CANARY;
}

static inline int coro__stack_canary_ok(const coro__stack *s) {
  return s->guarded || *(const uint64_t *)(const void *)s->lo == CORO__CANARY;
}

/* Print that the stack `s` of `name` smashed its canary, then abort: a
 * broken invariant. */
__attribute__((noreturn)) void coro__stack_smashed(const char *name, const coro__stack *s);

/* Test hook: force a guard mode (CORO_GUARD_*) before the first coroutine of
 * the process; 0 restores automatic choice.  Also CORO_STACK_GUARD in the
 * environment: madvise, mprotect or canary. */
void coro__stack_force_guard_mode(int mode);

#endif
