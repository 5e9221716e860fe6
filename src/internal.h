/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the library's files share and nothing more.
 *
 * Naming: coro_ public (include/coro.h), coro__ internal but not static,
 * short unprefixed names for static helpers.
 *
 * Below it: sys.h (wrappers, compiler helpers) and stack.h (the stack
 * layer), which include nothing of this file.
 *
 * Layout of one stack slot (stack.h owns the slot, coro.c what is at its top):
 *
 *     slot base                                                          slot end
 *     | guard page | usable stack, grows down <- ... | coro__cold | struct coro |
 *                  ^ stack.lo                        ^ initial    ^ record, 64-byte
 *                                                      stack top    aligned
 *
 * The coroutine object lives at the top of its own stack, so creating one
 * costs no malloc and a suspended coroutine that used little stack touches a
 * single page.  A copy-stack coroutine's record is a heap block instead:
 *
 *     | struct coro | coro__cold without its stack (micro-threads, named ones) |
 *
 * and its frames, while displaced, a second block (coro.saved).
 */
#ifndef CORO_INTERNAL_H
#define CORO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/switch.h"
#include "coro.h"
#include "stack.h"
#include "sys.h"

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
  CORO__F_DESTROYING = 8u,      /* coro_destroy() of it is under way (its handlers
                                   may call it again): refused with -EBUSY */
  CORO__F_SAVED_INLINE = 16u,   /* copy-stack: coro.saved is the end of the
                                   record's own block (not freed on its own) */
  CORO__F_CLEANUP_ONE = 1u << 8 /* one level of cleanup handlers running on
                                   this stack (a count in the high bits):
                                   yield and cleanup_push are refused */
};
#define CORO__F_IN_CLEANUP (~0u << 8)

/* A FIFO of waiters (struct coro__waiter and the operations on the list are
 * in scheduler.h; the layout is here because struct coro and coro__fd embed it). */
typedef struct coro__wait_list {
  coro__waiter *head, *tail; /* first to serve, last to arrive */
} coro__wait_list;

/* One pushed cleanup handler. */
typedef struct coro__cleanup {
  coro_cleanup_fn fn;         /* handler */
  void *arg;                  /* its argument */
  struct coro__cleanup *next; /* the handler pushed before this one */
} coro__cleanup;

/* The fields of a coroutine that plain generators never use (scheduling,
 * cleanup handlers, yield_from, names...), kept out of the record so that a
 * suspended copy-stack generator costs its record and its saved frames and
 * little else.  Own-stack coroutines have one right below the
 * record, at the top of their stack (free: that page is touched anyway);
 * copy-stack micro-threads and named copy-stack coroutines get one in the
 * record's heap block; other copy-stack coroutines get one from the heap when
 * they first need it (coro__cold_get), and coro.cold is NULL until then.
 * Readers of a coroutine that may have none go through coro__cold_of(). */
typedef struct coro__cold {
  /* --- scheduling (sched.c): what a hand-off touches, in one cache line --- */
  coro *run_next;          /* next in the run queue */
  coro *root;              /* while parked: the micro-thread whose chain we block */
  coro *parked;            /* micro-thread: the coroutine of its chain parked now */
  int wake;                /* what the pending park returns once woken */
  const char *wait_what;   /* while parked: what it waits on ("sleep", "chan recv"...) */
  const void *wait_obj;    /* while parked: the object it waits on, or NULL */
  coro__cleanup *cleanups; /* pushed handlers, most recent first */
  coro *delegator;         /* coroutine delegating to us via yield_from, or NULL */
  /* --- the rest --- */
  coro *delegate;          /* coroutine we delegate to via yield_from, or NULL */
  size_t heap_at;          /* 1 + index in the timer heap; 0 when not in it */
  coro__wait_list joiners; /* micro-thread: joins waiting for it to finish */
  coro_group *group;       /* micro-thread: the group that owns it, or NULL */
  coro *group_prev;        /* neighbours among the group's members */
  coro *group_next;
  char name[CORO_NAME_MAX]; /* NUL-terminated; read by the overflow handler */
  /* Last, so that a copy-stack coroutine's block stops before it
   * (CORO__COLD_COPY bytes): */
  coro__stack stack; /* own stack only: the stack we run on (the record is at
                        its top); a copy-stack coroutine's is the thread's
                        shared stack (coro__stack_of) */
} coro__cold;

/* The size of a copy-stack coroutine's cold block: everything but `stack`. */
#define CORO__COLD_COPY offsetof(coro__cold, stack)

/* A coroutine's record: what every resume and yield touches.  120 bytes on
 * x86_64 and aarch64, within two cache lines (tests/copystack.c keeps it so):
 * with a copy-stack generator's 96 bytes of frames, one 224-byte malloc chunk. */
struct coro {
  coro__context ctx; /* saved machine context while not running; first
                        member so the switch finds it at offset 0 */
  coro__tls *owner;  /* thread context that created it: calls from any
                        other thread are refused (-EPERM) */
  coro *resumer;     /* who resumed it last: where coro_yield returns;
                        &owner->main for the thread's own stack */
  int state;         /* CREATED, RUNNING, SUSPENDED or CLOSED: a RUNNING
                        coroutine that is not the current one is NORMAL
                        (it resumed another), which saves the resume
                        path from updating the whole chain */
  unsigned id;       /* unique in the process while it lives (0 once
                        destroyed; wraps after 2^32 creations): how
                        debuggers name it */
  void **out;        /* where the resumer wants the value we hand out
                        (yielded or returned); &owner->sink to discard */
  void **in;         /* where our pending coro_yield wants the sent value;
                        &owner->sink if not wanted */
  union {            /* never both needed: */
    coro_fn fn;      /*   body, until coro__entry has called it */
    void *result;    /*   its return value, once CLOSED */
  };
  void *arg;          /* the body's argument */
  int result_code;    /* 0, or the error it finished with, once CLOSED */
  int fail;           /* error recorded by coro_fail(), applied on return */
  unsigned flags;     /* CORO__F_*: zero for an ordinary guarded
                         coroutine, so the yield path tests one word */
  unsigned sched;     /* CORO__S_* (scheduler.h); 0 for a plain generator */
  void *saved;        /* copy-stack mode: our frames while displaced from
                         the shared stack (heap, or the end of our own
                         block: CORO__F_SAVED_INLINE), or NULL */
  uint32_t saved_len; /*   bytes of it in use: the top of the shared stack
                         down to our saved stack pointer */
  uint32_t saved_cap; /*   its allocated size */
  coro__cold *cold;   /* the rest (above); NULL for a copy-stack coroutine
                         that has not needed it yet */
  coro *all_prev;     /* neighbours in the thread's list of live coroutines */
  coro *all_next;     /*   (coro__tls.all), for coro_list() */
#ifdef CORO_ASAN
  void *asan_fake; /* ASan fake-stack handle saved while switched away */
#endif
};

/* An entry of the timer heap (timer.c): the deadline sits in the heap itself,
 * so that sifting compares without touching the coroutines' records. */
typedef struct coro__timer {
  int64_t deadline; /* when to wake */
  uint64_t seq;     /* order among equal deadlines (FIFO) */
  coro *c;          /* the parked coroutine (its cold.heap_at points back) */
} coro__timer;

/* This thread's scheduler (sched.c).  coro__tls embeds it, so its layout is
 * here; what its fields mean and the operations on it are in scheduler.h. */
typedef struct coro__sched {
  coro *head, *tail;  /* run queue, FIFO: micro-threads to start or resume, and
                         parked coroutines to wake */
  coro__timer *heap;  /* timer min-heap by deadline, heap[0] the earliest */
  size_t nheap;       /* entries in heap */
  size_t capheap;     /* its allocated length */
  uint64_t timer_seq; /* next timer's sequence number (FIFO among equal deadlines) */
  uint64_t rng;       /* the thread's one generator (coro__sched_rand): select's
                         fair choice, and with a seed every seeded choice */
  coro *host;         /* where coro_run() runs: every micro-thread's resumer */
  coro *root;         /* the micro-thread whose chain runs now */
  size_t live;        /* micro-threads spawned and not yet finished */
  size_t nqueued;     /* entries in the run queue */
  unsigned handoffs;  /* direct hand-offs since the host last ran */
  int running;        /* coro_run() is active */
  int seeded;         /* 1: seeded order (coro_sched_seed, CORO_SCHED_SEED), not FIFO */
  int seed_decided;   /* coro_sched_seed() was called or CORO_SCHED_SEED was read
                         (the thread's first coro_run): the environment is not
                         read again */
  coro **round;       /* seeded mode: the round's coroutines not run yet (coro_run
                         frees it when it returns) */
  size_t capround;    /* its allocated length */
  int nomem;          /* a copy-stack coroutine could not be switched in for
                         lack of memory: coro_run() returns -ENOMEM */
} coro__sched;

/* A thread's signal waits (signal.c): one signalfd for all of them. */
typedef struct coro__sigwaits {
  int fd;                  /* the signalfd; valid only while waiters is not empty */
  coro__wait_list waiters; /* the waits, oldest first (their data: the set and
                               the signal handed over, on the waiter's stack) */
} coro__sigwaits;

/* Per-thread state of the library: one instance per thread, zero-initialised. */
struct coro__tls {
  coro__stack_pool stacks;     /* this thread's stacks (stack.h) */
  coro *current;               /* running coroutine, &main on the thread's own
                                           stack; NULL until the thread's first create */
  int ready;                   /* per-thread setup done (alt signal stack, exit hook) */
  coro__sched sched;           /* micro-threads: the scheduler of this thread */
  coro__io *io;                /* fd registry and poller (io.c): NULL until the
                                           thread's first I/O call, freed at thread exit */
  coro__sigwaits sig;          /* coroutines in coro_signal_wait() (signal.c) */
  coro__offload_port *offload; /* this thread's end of the offload pool
                                           (offload.c), or NULL before its first job */
  coro *copy_occupant;         /* copy-stack coroutine whose frames are on the
                                           shared stack now, or NULL (copystack.c) */
  void **copy_dst;             /* a store into the frames the next copy-stack
                                           switch brings back (coro__copy_store), or NULL */
  void *copy_val;              /*   the value to store there */
  coro__copystack *copystack;  /* the shared stack and its copier, NULL
                                           before the thread's first copy-stack coroutine */
  int stack_mode;              /* CORO_STACK_MODE_OWN or _COPY for default
                                           attributes; 0 until first read */
  coro *all;                   /* every live coroutine of the thread, newest first */
  size_t nall;                 /* how many */
  void *sink;                  /* where a value nobody wants is stored (coro.out
                                  and coro.in when the caller passed NULL), so
                                  the hot paths store without a branch */
  unsigned next_id, id_end;    /* coro.id of the thread's next coroutine, and the
                                           end of the block of ids it took (registry.c) */
  /* --- the debuggers' registry (registry.c), under its lock --- */
  coro__tls *thread_prev, *thread_next; /* neighbours in coro__threads */
  int thread_listed;                    /* linked in coro__threads */
  int tid;                              /* kernel thread id (gettid), to match the
                                           debugger's threads */
  coro__cold main_cold;                 /* main's cold part (its name, its stack) */
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

/* --- the cold part of a record ------------------------------------------- */

/* c's cold part for reading: a coroutine that has none yet reads as one with
 * no name, not parked, in no group, with no timer and no joiners. */
extern const coro__cold coro__cold_none;
static inline const coro__cold *coro__cold_of(const coro *c) {
  return c->cold ? c->cold : &coro__cold_none;
}

/* An empty cold part: no name, not parked, no handlers, no timer, group or
 * joiners (its stack is not touched). */
void coro__cold_init(coro__cold *x);

/* c's cold part for writing, allocated first if c has none (copy-stack
 * mode only); NULL: no memory. */
coro__cold *coro__cold_alloc(coro *c);
static inline coro__cold *coro__cold_get(coro *c) {
  return CORO__LIKELY(c->cold != NULL) ? c->cold : coro__cold_alloc(c);
}

/* The stack c runs on: its own (in its cold part), or for a copy-stack
 * coroutine the thread's shared stack (copystack.c). */
coro__stack *coro__copy_stack_of(const coro *c);
static inline coro__stack *coro__stack_of(const coro *c) {
  if (CORO__UNLIKELY(c->flags & CORO__F_COPY)) return coro__copy_stack_of(c);
  return &c->cold->stack;
}

/* --- thread.c ------------------------------------------------------------ */

/* One-time per-thread setup: the thread's stack pool (alternate signal stack,
 * overflow handler), the thread's own stack as a coroutine, the thread-exit
 * hook.  Returns 0 or a negated errno. */
int coro__thread_setup(coro__tls *t);

/* --- registry.c: every thread's state, for debuggers ---------------------- */

/* Every set-up thread's coro__tls, linked through thread_next (a debugger's
 * entry point: tools/gdb/libcoro-gdb.py reads it by name). */
extern coro__tls *coro__threads;

/* Link t (the calling thread's, at its setup) / unlink it (at its exit). */
void coro__registry_add(coro__tls *t);
void coro__registry_remove(coro__tls *t);

/* Give t a fresh block of coroutine ids (t->next_id, t->id_end): one atomic
 * add per block keeps ids unique across threads at no cost per create. */
void coro__registry_ids(coro__tls *t);

/* --- coro.c: the switching primitives the scheduler builds on ------------ */

/* coro_create(), and for coro_spawn() (`spawn`) with the cold part a
 * micro-thread needs in the same block in copy-stack mode. */
int coro__create(coro **out, coro_fn fn, void *arg, const coro_attr *attr, int spawn);

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
  const coro__stack *st = coro__stack_of(to);
  __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake, st->lo,
                                 (size_t)(st->hi - st->lo));
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
  /* Only own stacks are unguarded: c has its cold part. */
  if (CORO__UNLIKELY(!coro__stack_canary_ok(&c->cold->stack)))
    coro__stack_smashed(c->cold->name, &c->cold->stack);
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
/* Test hook: how epoll's timed waits went, process-wide (relaxed counters). */
typedef struct coro__epoll_stats {
  long precise; /* waits given their timeout to the nanosecond (epoll_pwait2) */
  long rounded; /* waits whose timeout was rounded up to a whole millisecond
                   (epoll_wait: no epoll_pwait2 in the kernel) */
} coro__epoll_stats;
extern coro__epoll_stats coro__epoll_stats_now;
#ifdef CORO_HAVE_URING
extern const coro__io_backend coro__io_uring; /* built on Linux (CORO_WITH_URING) */
/* Test hooks, read when a ring is set up (single-threaded tests only): its
 * submission queue's length (0: the default, 256), and IORING_FEAT_* bits to
 * take for absent, to run the paths of older kernels on a new one. */
extern unsigned coro__uring_entries;
extern unsigned coro__uring_features_off;
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
 * at once if none does (then only timers could wake anything); a negated errno
 * if the backend cannot wait at all (not a transient error: see io.c). */
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

/* --- signal.c -------------------------------------------------------------- */

/* Thread exit: close the signalfd of the thread's signal waits, if any. */
void coro__signal_fini(coro__tls *t);

#endif
