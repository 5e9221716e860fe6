/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the library's files share and nothing more.
 *
 * Naming: coro_ public (include/coro.h), coro__ internal but not static,
 * short unprefixed names for static helpers.
 *
 * Layout of one stack slot (see stack.c):
 *
 *     slot base                                                   slot end
 *     | guard page | usable stack, grows down <- ... | struct coro |
 *                  ^ stack.lo                        ^ struct, 64-byte aligned
 *                                                    = initial stack top
 *
 * The coroutine object lives at the top of its own stack, so creating one
 * costs no malloc and a suspended coroutine that used little stack touches a
 * single page.
 */
#ifndef CORO_INTERNAL_H
#define CORO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/switch.h"
#include "coro.h"

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define CORO__TLS __thread __attribute__((tls_model("initial-exec")))
#define CORO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CORO__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The value a stack canary holds while intact. */
#define CORO__CANARY UINT64_C(0x6c6962636f726f21) /* "libcoro!" */

typedef struct coro__tls coro__tls;
typedef struct coro__waiter coro__waiter;
typedef struct coro__io coro__io;
typedef struct coro__offload_port coro__offload_port;
typedef struct coro__watch coro__watch;
typedef struct coro__copystack coro__copystack;

/* coro.flags.  Anything set sends coro_yield down its slow path. */
enum {
  CORO__F_MAIN = 1u,            /* the thread's own stack (coro__tls.main) */
  CORO__F_UNGUARDED = 2u,       /* no guard page: check the canary at switches */
  CORO__F_COPY = 4u,            /* copy-stack mode: runs on the thread's shared
                                   stack (copystack.h) */
  CORO__F_CLEANUP_ONE = 1u << 8 /* one level of cleanup handlers running on
                                   this stack (a count in the high bits):
                                   yield and cleanup_push are refused */
};
#define CORO__F_IN_CLEANUP (~0u << 8)
typedef struct coro__slab coro__slab;

/* A coroutine waiting in a list (joins, channels; locks later).  It lives on
 * the waiting coroutine's stack for as long as the blocking call lasts. */
struct coro__waiter {
  coro *who;                 /* the parked coroutine */
  coro__waiter *prev, *next; /* neighbours in the list */
  void *data;                /* what the waiter brings or wants (a channel element) */
  int done;                  /* set before waking it: 1 served, -1 the channel closed */
};

/* A FIFO of waiters. */
typedef struct coro__wait_list {
  coro__waiter *head, *tail; /* first to serve, last to arrive */
} coro__wait_list;

/* A stack handed out by the pool. */
typedef struct coro__stack {
  char *lo;         /* lowest usable byte, just above the guard page */
  char *hi;         /* one past the highest byte of the slot */
  size_t size;      /* usable size requested, page-rounded (what coro_stack_size reports) */
  coro__slab *slab; /* slab the slot belongs to, to give it back */
  unsigned slot;    /* index of the slot in its slab */
  int guarded;      /* 1 if a guard page protects this slot */
} coro__stack;

/* One pushed cleanup handler. */
typedef struct coro__cleanup {
  coro_cleanup_fn fn;         /* handler */
  void *arg;                  /* its argument */
  struct coro__cleanup *next; /* the handler pushed before this one */
} coro__cleanup;

struct coro {
  coro__context ctx;       /* saved machine context while not running; first
                              member so the switch finds it at offset 0 */
  coro__tls *owner;        /* thread context that created it: calls from any
                              other thread are refused (-EPERM) */
  coro *resumer;           /* who resumed it last: where coro_yield returns;
                              &owner->main for the thread's own stack */
  int state;               /* CREATED, RUNNING, SUSPENDED or CLOSED: a RUNNING
                              coroutine that is not the current one is NORMAL
                              (it resumed another), which saves the resume
                              path from updating the whole chain */
  void **out;              /* where the resumer wants the value we hand out
                              (yielded or returned); &sink to discard */
  void **in;               /* where our pending coro_yield wants the sent value;
                              &sink if not wanted */
  void *sink;              /* target of out/in when the caller passed NULL, so
                              the hot paths store without a branch */
  coro_fn fn;              /* body */
  void *arg;               /* its argument */
  void *result;            /* return value once CLOSED */
  int result_code;         /* 0, or the error it finished with, once CLOSED */
  int fail;                /* error recorded by coro_fail(), applied on return */
  unsigned flags;          /* CORO__F_*: zero for an ordinary guarded
                              coroutine, so the yield path tests one word */
  coro__cleanup *cleanups; /* pushed handlers, most recent first */
  coro *delegator;         /* coroutine delegating to us via yield_from, or NULL */
  coro *delegate;          /* coroutine we delegate to via yield_from, or NULL */
  coro__stack stack;       /* the stack we run on (this struct is at its top);
                              copy-stack mode: the thread's shared stack, slab NULL */
  void *saved;             /* copy-stack mode: our frames while displaced from
                              the shared stack (heap), or NULL */
  uint32_t saved_len;      /*   bytes of it in use: the top of the shared stack
                              down to our saved stack pointer */
  uint32_t saved_cap;      /*   its allocated size */
  /* --- scheduling (sched.c, timer.c); unused by plain generators --- */
  unsigned sched;          /* CORO__S_* */
  coro *run_next;          /* next in the run queue */
  coro *root;              /* while parked: the micro-thread whose chain we block */
  coro *parked;            /* micro-thread: the coroutine of its chain parked now */
  int wake;                /* what the pending park returns once woken */
  size_t heap_at;          /* 1 + index in the timer heap; 0 when not in it */
  int64_t deadline;        /* while in the timer heap: when to wake */
  uint64_t timer_seq;      /* while in the timer heap: order among equal deadlines */
  coro__wait_list joiners; /* micro-thread: joins waiting for it to finish */
  const char *wait_what;   /* while parked: what it waits on ("sleep", "chan recv"...) */
  const void *wait_obj;    /* while parked: the object it waits on, or NULL */
  coro_group *group;       /* micro-thread: the group that owns it, or NULL */
  coro *group_prev;        /* neighbours among the group's members */
  coro *group_next;
  coro *all_prev; /* neighbours in the thread's list of live coroutines */
  coro *all_next; /*   (coro__tls.all), for coro_list() */
#ifdef CORO_ASAN
  void *asan_fake; /* ASan fake-stack handle saved while switched away */
#endif
  char name[CORO_NAME_MAX]; /* NUL-terminated; read by the overflow handler */
};

/* A pool of stack slots of one size, per thread. */
typedef struct coro__stack_class {
  size_t size;                    /* usable size of its stacks (page multiple) */
  size_t slot_size;               /* size + the guard page */
  unsigned nslots;                /* slots per slab */
  unsigned nempty;                /* slabs with no slot in use (at most 1 kept) */
  unsigned nslabs;                /* slabs mapped */
  coro__slab *avail;              /* slabs with a free slot, most recently freed into first */
  struct coro__stack_class *next; /* next size class of this thread */
} coro__stack_class;

/* coro.sched: a coroutine's relation to the scheduler. */
enum {
  CORO__S_SPAWNED = 1u,   /* a micro-thread: state stays RUNNING until it ends */
  CORO__S_DETACHED = 2u,  /* spawned without a handle: freed when it ends */
  CORO__S_STARTED = 4u,   /* its body has been entered */
  CORO__S_CANCELLED = 8u, /* coro_cancel()ed: blocking calls in its chain fail */
  CORO__S_JOINED = 16u,   /* its result has been taken by coro_join() */
  CORO__S_QUEUED = 32u,   /* in the run queue */
  CORO__S_YIELDED = 64u   /* a micro-thread that called coro_yield(): resume it */
};

/* What a parked coroutine passes to the scheduler: not a resume outcome. */
#define CORO__PARKED 2

/* This thread's scheduler. */
typedef struct coro__sched {
  coro *head, *tail;  /* run queue, FIFO: micro-threads to start or resume, and
                         parked coroutines to wake */
  coro **heap;        /* timer min-heap by deadline, heap[0] the earliest */
  size_t nheap;       /* entries in heap */
  size_t capheap;     /* its allocated length */
  uint64_t timer_seq; /* next timer's sequence number (FIFO among equal deadlines) */
  uint64_t rng;       /* xorshift state for select's fair choice */
  coro *host;         /* where coro_run() runs: every micro-thread's resumer */
  coro *root;         /* the micro-thread whose chain runs now */
  size_t live;        /* micro-threads spawned and not yet finished */
  size_t nqueued;     /* entries in the run queue */
  unsigned handoffs;  /* direct hand-offs since the host last ran */
  int running;        /* coro_run() is active */
  int nomem;          /* a copy-stack coroutine could not be switched in for
                         lack of memory: coro_run() returns -ENOMEM */
} coro__sched;

/* Stacks freed most recently, kept whole for the next create (LIFO). */
#define CORO__STACK_CACHE 16

/* Per-thread state of the library: one instance per thread, zero-initialised. */
struct coro__tls {
  unsigned ncached;                     /* entries in cache[] */
  coro__stack cache[CORO__STACK_CACHE]; /* freed stacks, ready for reuse */
  coro *current;                        /* running coroutine, &main on the thread's own
                                           stack; NULL until the thread's first create */
  coro__stack_class *classes;           /* stack pools, one per size in use */
  int ready;                            /* per-thread setup done (alt signal stack, exit hook) */
  void *altstack;                       /* alternate signal stack we installed, or NULL */
  size_t altstack_size;                 /* its size */
  coro__sched sched;                    /* micro-threads: the scheduler of this thread */
  coro__io *io;                         /* fd registry and poller (io.c): NULL until the
                                           thread's first I/O call, freed at thread exit */
  coro__offload_port *offload;          /* this thread's end of the offload pool
                                           (offload.c), or NULL before its first job */
  coro *copy_occupant;                  /* copy-stack coroutine whose frames are on the
                                           shared stack now, or NULL (copystack.c) */
  void **copy_dst;                      /* a store into the frames the next copy-stack
                                           switch brings back (coro__copy_store), or NULL */
  void *copy_val;                       /*   the value to store there */
  coro__copystack *copystack;           /* the shared stack and its copier, NULL
                                           before the thread's first copy-stack coroutine */
  int stack_mode;                       /* CORO_STACK_MODE_OWN or _COPY for default
                                           attributes; 0 until first read */
  coro *all;                            /* every live coroutine of the thread, newest first */
  size_t nall;                          /* how many */
  coro main;                            /* the thread's own stack as a coroutine (flag
                                           CORO__F_MAIN): the resumer at the root of
                                           every chain, so a resumer is never NULL;
                                           under ASan its stack bounds are learnt at
                                           the first switch */
};

extern CORO__TLS coro__tls coro__this_thread;

/* This thread's state.  gcc 12 with -fsanitize=null miscompiles the null
 * check of a TLS variable's address in some inlining contexts (the branch
 * reuses stale flags and always reports a null pointer), even where it only
 * learnt that a pointer equals it; sanitizer builds launder the address
 * through an empty asm, elsewhere the compiler keeps its cheaper
 * %fs-relative addressing.  Code with a coroutine at hand uses c->owner. */
static inline coro__tls *coro__tls_get(void) {
  coro__tls *t = &coro__this_thread;
#ifdef CORO_SANITIZE_BUILD
  __asm__("" : "+r"(t));
#endif
  return t;
}

/* --- stack.c ------------------------------------------------------------ */

/* The system page size, valid once coro__thread_setup() has run. */
extern size_t coro__page_size;

/* One-time per-thread setup: alternate signal stack, overflow handler, the
 * thread-exit hook.  Returns 0 or a negated errno. */
int coro__thread_setup(coro__tls *t);

/* Take a stack of `size` usable bytes (page-rounded) from this thread's slabs.
 * Returns 0, or -ENOMEM.  Nothing is leaked on failure.  Callers try the
 * cache first (coro__stack_get). */
int coro__stack_alloc(coro__tls *t, size_t size, coro__stack *out);

/* Give a stack back to its slab. */
void coro__stack_free(coro__tls *t, const coro__stack *s);

/* An unguarded stack carries this canary at its low end. */
static inline void coro__stack_set_canary(const coro__stack *s) {
  if (!s->guarded) *(uint64_t *)(void *)s->lo = CORO__CANARY;
}

static inline int coro__stack_canary_ok(const coro__stack *s) {
  return s->guarded || *(const uint64_t *)(const void *)s->lo == CORO__CANARY;
}

/* The fast path: reuse a recently freed stack of the same size. */
static inline int coro__stack_get(coro__tls *t, size_t size, coro__stack *out) {
  if (CORO__LIKELY(t->ncached && t->cache[t->ncached - 1].size == size)) {
    *out = t->cache[--t->ncached];
    return 0;
  }
  return coro__stack_alloc(t, size, out);
}

/* Keep a freed stack for the next create, or give it back to its slab. */
static inline void coro__stack_put(coro__tls *t, const coro__stack *s) {
#ifdef CORO_ASAN
  /* Frames abandoned on this stack left their redzones poisoned. */
  ASAN_UNPOISON_MEMORY_REGION(s->lo, (size_t)(s->hi - s->lo));
#endif
  if (CORO__LIKELY(t->ncached < CORO__STACK_CACHE))
    t->cache[t->ncached++] = *s;
  else
    coro__stack_free(t, s);
}

/* Print which coroutine smashed its canary, then abort: a broken invariant. */
__attribute__((noreturn)) void coro__stack_smashed(const coro *c);

/* --- coro.c: the switching primitives the scheduler builds on ------------ */

/* Enter c, which must be a fresh or yielded coroutine, as coro_send would; returns its
 * outcome (CORO_YIELDED, CORO_RETURNED, its error) or CORO__PARKED when a
 * coroutine of its chain parked. */
int coro__enter(coro__tls *t, coro *c, int signal);

/* Switch from `from` to `to` (either may be &t->main, the thread's own
 * stack), handing `to` the int its pending switch returns.  All bookkeeping
 * is done before: callers end with `return coro__switch_to(...)`, which
 * compiles to a tail call (see arch/switch.h).  `dying`: `from` never runs
 * again. */
int coro__copy_switch(coro *from, coro *to, int pass, int dying);

/* What a switch into a copy-stack coroutine returns, instead of switching,
 * when the frames it would displace could not be saved (no memory): nothing
 * changed but t->current, which is put back; the caller undoes the rest. */
#define CORO__NOMEM 3

/* Are c's frames where a switch finds them: on its own stack, or on the
 * shared stack already (then switching to it copies nothing)? */
static inline int coro__copy_ready(const coro *c) {
  return !(c->flags & CORO__F_COPY) || c == c->owner->copy_occupant;
}

/* *dst = v, where dst points into the frames of `to`, about to be switched
 * to: at once if they are in place, else by the switch once it has brought
 * them back (a resume's sent value, a yield's value for its resumer). */
static inline void coro__copy_store(coro__tls *t, const coro *to, void **dst, void *v) {
  if (CORO__LIKELY(coro__copy_ready(to))) {
    *dst = v;
  } else {
    t->copy_dst = dst;
    t->copy_val = v;
  }
}

static inline int coro__switch_to(coro *from, coro *to, int pass, int dying) {
  /* A copy-stack coroutine displaced from the shared stack: copystack.c. */
  if (CORO__UNLIKELY(!coro__copy_ready(to))) return coro__copy_switch(from, to, pass, dying);
#ifdef CORO_ASAN
  __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake, to->stack.lo,
                                 (size_t)(to->stack.hi - to->stack.lo));
  int got = coro__context_switch(&from->ctx, &to->ctx, pass);
  /* Back in `from` (never reached when dying). */
  __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
  return got;
#else
  (void)dying;
  return coro__context_switch(&from->ctx, &to->ctx, pass);
#endif
}

static inline void coro__check_canary(const coro *c) {
  if (CORO__UNLIKELY(!coro__stack_canary_ok(&c->stack))) coro__stack_smashed(c);
}

/* Switch from the current coroutine to `to`, whose pending switch returns
 * `pass`; returns what the switch that resumes us later passes.  Inline: the
 * scheduler's hand-off ends in a tail call of the switch itself. */
static inline int coro__transfer(coro__tls *t, coro *to, int pass) {
  coro *from = t->current;
  if (CORO__UNLIKELY(from->flags & CORO__F_UNGUARDED)) coro__check_canary(from);
  t->current = to;
  return coro__switch_to(from, to, pass, 0);
}

/* --- sched.c: parking and waking, for every blocking call ----------------- */

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
  c->run_next = NULL;
  if (s->tail)
    s->tail->run_next = c;
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
  if (c->heap_at) coro__timer_remove(s, c);
  c->wait_what = NULL; /* runnable now (a yield keeps "yield": it never waited) */
  c->wake = code;
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

/* --- group.c ---------------------------------------------------------------- */

/* Micro-thread c of a group has finished: leave the group, record its error. */
void coro__group_member_done(coro__tls *t, coro *c);

/* --- timer.c: the min-heap of deadlines ---------------------------------- */

int coro__timer_add(coro__sched *s, coro *c, int64_t deadline); /* 0 or -ENOMEM */
/* coro__timer_remove(s, c), declared above: a no-op if c is not in the heap. */
coro *coro__timer_first(const coro__sched *s); /* NULL if empty */

/* --- io.c: the fd registry, and the backend contract (io_epoll.c) ---------- */

/* What a coroutine waits for on an fd; also the readiness a backend reports. */
enum {
  CORO__IO_READ = 1u,  /* readable, or the peer closed its end (EOF to read) */
  CORO__IO_WRITE = 2u, /* writable */
  CORO__IO_ERR = 4u    /* error or hang-up: wakes readers and writers alike,
                          whose next system call reports what happened */
};

/* One fd as this thread's I/O layer knows it: an entry of coro__io.fds,
 * indexed by the fd.  The array may move when it grows, so nothing holds a
 * pointer to an entry across a park: waiters look their fd up again. */
typedef struct coro__fd {
  unsigned flags;          /* CORO__FD_* */
  unsigned bk_pending;     /* the backend's own: io_uring's polls in flight
                              (CORO__IO_READ, CORO__IO_WRITE) */
  uint32_t bk_seq;         /* the backend's own: io_uring's generation of the
                              fd number, bumped by forget (kept across close) */
  coro__wait_list readers; /* coroutines parked until it is readable */
  coro__wait_list writers; /* coroutines parked until it is writable */
  coro__watch *watches;    /* coro_spawn_on_ready() watches on it (watch.c),
                              heap records: they do not move with the entry */
} coro__fd;

/* coro__fd.flags */
enum {
  CORO__FD_KNOWN = 1u, /* O_NONBLOCK is set: the library has seen this fd */
  CORO__FD_ARMED = 2u, /* registered with the backend for readiness events */
  CORO__FD_HOOK = 4u   /* the library's own fd: readiness calls coro__io.hook */
};

/* A readiness backend: one file each (io_epoll.c, io_uring.c), one
 * instance per thread, chosen and created at the thread's first wait on an fd
 * (or coro_io_backend()): see choose() in io.c.  The
 * contract is small on purpose: a backend arms an fd before a coroutine parks
 * on it, forgets it before it is closed, and polls -- reporting readiness with
 * coro__io_ready(), which wakes the parked coroutines.  A level of readiness
 * the coroutine missed is never lost: callers arm only after the system call
 * said EAGAIN, and a backend must report any readiness that comes after arm.
 * How the backend waits (one registration for the fd's life, or one request per
 * park) is its own business. */
typedef struct coro__io_backend {
  const char *name;                                               /* "epoll" */
  int (*init)(coro__io *io);                                      /* 0 or a negated errno */
  void (*fini)(coro__io *io);                                     /* release everything init took */
  int (*arm)(coro__io *io, int fd, coro__fd *f, unsigned events); /* before a park on fd
                                              for events (CORO__IO_*); 0 or -errno */
  void (*forget)(coro__io *io, int fd, coro__fd *f);              /* fd is about to be closed */
  /* Wait for readiness until `deadline` (absolute ns; 0 do not wait, -1 no
   * limit), call coro__io_ready() for each ready fd; 0 or a negated errno. */
  int (*poll)(coro__io *io, int64_t deadline);
} coro__io_backend;

extern const coro__io_backend coro__io_epoll;
#ifdef CORO_HAVE_URING
extern const coro__io_backend coro__io_uring; /* built when CMake found liburing */
#endif

/* Per-thread I/O state. */
struct coro__io {
  coro__tls *owner;                /* its thread */
  const coro__io_backend *backend; /* chosen at the first wait; NULL before */
  void *backend_data;              /* the backend's own state (epoll: fd, event buffer) */
  coro__fd *fds;                   /* registry indexed by fd */
  size_t nfds;                     /* its length */
  size_t nwaiting;                 /* waiters linked into any fd's lists, plus
                                       coroutines waiting on the hook's fd: while
                                       non-zero the scheduler polls the backend */
  void (*hook)(coro__tls *t);      /* called when the CORO__FD_HOOK fd is ready */
  int inherited;                   /* set in a fork's child: the backend (an epoll
                                      set, a ring) is shared with the parent and
                                      must be rebuilt before the next use */
  /* --- watches (watch.c): coro_spawn_on_ready() records --- */
  size_t nwatch;           /* watches linked in fds' lists (armed): while
                              non-zero the scheduler polls the backend */
  coro__watch *due;        /* fired watches whose micro-thread is still to be
                              spawned, oldest first (FIFO) */
  coro__watch *due_tail;   /* last of them */
  size_t ndue;             /* how many */
  coro__watch **wheap;     /* min-heap of the armed watches with a deadline */
  size_t nwheap, capwheap; /* its entries and allocated length */
  uint64_t wseq;           /* next watch's sequence number (FIFO among equal
                              deadlines) */
};

/* Are watches pending on this thread (armed or due)?  coro_run keeps running
 * while they are, as for a parked micro-thread. */
static inline int coro__watch_pending(const coro__tls *t) {
  return t->io && (t->io->nwatch || t->io->ndue);
}

/* The backend reports that fd is ready for `events` (CORO__IO_*): wake its waiters. */
void coro__io_ready(coro__io *io, int fd, unsigned events);

/* The scheduler's hook: if coroutines wait on fds, collect readiness waiting
 * at most until `deadline` (0: do not wait; -1: no limit) and return 1; return 0
 * at once if none does (then only timers could wake anything). */
int coro__io_poll(coro__tls *t, int64_t deadline);

/* fd was just made by the library, non-blocking (a socket if `socket`): note
 * it in the registry so that its first call skips fcntl.  Best effort. */
void coro__io_adopt(coro__tls *t, int fd, int socket);

/* The level of fd now (poll(2), no wait), for CORO_READ/CORO_WRITE `events`:
 * the bits ready (an error or hang-up counts as all of `events`: the next
 * call reports it), 0 if none, -EBADF if fd is not open, or a negated errno. */
int coro__io_level(int fd, unsigned events);

/* Thread exit: free the registry and the backend (waiters are abandoned). */
void coro__io_fini(coro__tls *t);

/* The library's own fd (offload's eventfd, non-blocking): its readiness calls
 * hook(t) instead of waking waiters (one hook per thread).  0 or -errno. */
int coro__io_hook(coro__tls *t, int fd, void (*hook)(coro__tls *t));
/* Ask the backend to report the hook fd's next readiness (before parking on
 * it; again after each report, for a one-shot backend).  0 or -errno. */
int coro__io_hook_arm(coro__tls *t, int fd);
/* Forget the hook fd before closing it. */
void coro__io_unhook(coro__tls *t, int fd);

/* For watch.c: make fd known to the registry (non-blocking) and start the
 * backend; *out = the registry.  -EBADF for the library's own (hook) fd. */
int coro__io_prepare(coro__tls *t, int fd, coro__io **out);
/* Ask the backend to report fd's next readiness for events (as a park does). */
int coro__io_arm(coro__io *io, int fd, unsigned events);

/* --- watch.c: coro_spawn_on_ready() ---------------------------------------- */

/* fd is ready for events (CORO__IO_*): fire its watches that wait for them. */
void coro__watch_ready(coro__io *io, coro__fd *f, unsigned events);
/* fd is being forgotten (coro_fd_close/forget): fire all its watches. */
void coro__watch_forget(coro__io *io, coro__fd *f);
/* The events f's watches wait for (to re-arm them after a fork). */
unsigned coro__watch_events(const coro__fd *f);
/* The scheduler's turn: fire the watches whose deadline passed, spawn the
 * micro-threads of the fired ones (those that cannot be spawned now stay for
 * the next round).  Returns when it needs the scheduler back: -1 never (until
 * an fd is ready), else an absolute deadline. */
int64_t coro__watch_round(coro__tls *t);
/* Thread exit: free every watch record (their functions never run). */
void coro__watch_fini(coro__io *io);

/* --- offload.c ------------------------------------------------------------- */

/* Thread exit: release the thread's port of the offload pool. */
void coro__offload_fini(coro__tls *t);

/* --- sys.c: system calls and allocation behind wrappers tests can fail --- */

enum coro__fault_site {
  CORO__FAULT_MMAP,     /* coro__mmap */
  CORO__FAULT_MPROTECT, /* coro__mprotect */
  CORO__FAULT_MADVISE,  /* coro__madvise */
  CORO__FAULT_MALLOC,   /* coro__malloc */
  CORO__FAULT_URING,    /* io_uring's setup, as a kernel that refuses it (io_uring.c) */
  CORO__FAULT_THREAD,   /* pthread_create of the offload pool (offload.c) */
  CORO__FAULT_FORK,     /* coro__fork */
  CORO__FAULT_NSITES
};

/* Make the calls through `site` fail with `err` (a positive errno) once
 * `after` more calls have succeeded, until coro__fault_reset().  For tests. */
void coro__fault_arm(int site, long after, int err);
void coro__fault_reset(void);

/* 0 for a call through `site` to proceed, or the errno it must fail with
 * (counting it as coro__fault_arm says).  For sites outside sys.c. */
int coro__fault_injected(int site);

/* Anonymous private read/write reservation, committed by touch.  Returns NULL
 * and stores a negated errno in *err on failure. */
void *coro__mmap(size_t len, int *err);
int coro__munmap(void *p, size_t len);
int coro__mprotect(void *p, size_t len, int prot);  /* 0 or a negated errno */
int coro__madvise(void *p, size_t len, int advice); /* 0 or a negated errno */
void *coro__malloc(size_t n);
void coro__free(void *p);
/* Blocks coro__malloc() handed out and coro__free() has not taken back, in
 * the whole process.  For tests: a thread's exit must bring it back down. */
long coro__live_allocs(void);
/* fork(2): the child's pid, 0 in the child, or a negated errno. */
int coro__fork(void);

/* Test hook: force a guard mode (CORO_GUARD_*) before the first coroutine of
 * the process; 0 restores automatic choice.  Also CORO_STACK_GUARD in the
 * environment: madvise, mprotect or canary. */
void coro__stack_force_guard_mode(int mode);

#endif
