/* SPDX-License-Identifier: MIT */
/*
 * coro.c - the coroutine object and its state machine (Python's generators).
 *
 * States and who moves between them:
 *
 *     CREATED --send(NULL)/next--> RUNNING --yield--> SUSPENDED --send--> RUNNING
 *        |                          |   ^ resumes another / it yields back
 *        |                          v   |
 *        |                         NORMAL
 *        +--throw/close--> CLOSED <--returns or fails (body ends)
 *
 * Invariants:
 *   - t->current is the innermost RUNNING coroutine of this thread, or
 *     &t->main on the thread's own stack (NULL before the thread's first
 *     coroutine).  Every coroutine in the chain of resumers
 *     above it is marked RUNNING too and reported NORMAL (coro_get_state), so
 *     resuming and yielding touch only the two coroutines involved.
 *   - A coroutine only ever switches to its resumer (yield, finish) or to a
 *     coroutine it resumes: the chain is a stack, as in Lua.
 *   - The side that switches away does the bookkeeping of the side it
 *     resumes (current, states, *out or *in) and passes the resumed side's
 *     return code through the switch: nothing runs after a switch, so every
 *     switch is a tail call and no `ret` lands on the other side's
 *     return-stack entries.
 *   - Cleanup handlers run exactly once, on the coroutine's own stack when it
 *     finishes, or on the destroyer's stack when it is destroyed while still
 *     suspended (it ignored the exit request).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copystack.h"
#include "internal.h"

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

static inline coro__tls *this_thread(void) { return coro__tls_get(); }

/* --- switching ------------------------------------------------------------ */

/* Start or continue c (CREATED or SUSPENDED): its pending coro_yield returns
 * `signal` with `value` in its *in.  Returns, once c yields or finishes, the
 * outcome for the caller: CORO_YIELDED, CORO_RETURNED or c's error, with the
 * value handed out already stored in *out by c. */
static int resume_slow(coro__tls *t, coro *c, int signal, void *value, void **out, int raw);

/* `raw`: a switch that found no memory returns CORO__NOMEM (for the
 * scheduler), else -ENOMEM (for the public calls).  The fast path never
 * fails, and ends in a tail call of the switch: nothing may run after it. */
static inline int resume_any(coro__tls *t, coro *c, int signal, void *value, void **out, int raw) {
  coro *self = t->current; /* stays RUNNING: not current, so it reads as NORMAL */
  if (CORO__UNLIKELY((self->flags & CORO__F_UNGUARDED) || !coro__copy_ready(c)))
    return resume_slow(t, c, signal, value, out, raw);
  *c->in = value;
  c->resumer = self;
  c->out = out ? out : &t->sink;
  c->state = CORO_RUNNING;
  t->current = c;
  return coro__switch_to(self, c, signal, 0);
}

static inline int resume(coro__tls *t, coro *c, int signal, void *value, void **out) {
  return resume_any(t, c, signal, value, out, 0);
}

/* resume() when c's frames are displaced from the shared stack (or ours is
 * unguarded).  The sent value goes into c's frames once they are back (the
 * store is handed to the switch: coro__copy_store); the switch may fail
 * (CORO__NOMEM: the frames it would displace could not be saved). */
static __attribute__((noinline)) int resume_slow(coro__tls *t, coro *c, int signal, void *value,
                                                 void **out, int raw) {
  coro *self = t->current;
  if (self->flags & CORO__F_UNGUARDED) coro__check_canary(self);
  int state = c->state;
  coro *resumer = c->resumer;
  coro__copy_store(t, c, c->in, value);
  c->resumer = self;
  c->out = out ? out : &t->sink;
  c->state = CORO_RUNNING;
  t->current = c;
  int rc = coro__switch_to(self, c, signal, 0);
  if (CORO__UNLIKELY(rc == CORO__NOMEM)) { /* nothing ran: undo */
    c->state = state;
    c->resumer = resumer;
    return raw ? rc : -ENOMEM;
  }
  return rc;
}

/* The running coroutine c hands `outcome` and `value` to its resumer and
 * stops: SUSPENDED (outcome CORO_YIELDED), or CLOSED for good.  Returns, when
 * c is resumed, the signal for its pending coro_yield. */
static inline int leave(coro *c, int outcome, void *value, int dying) {
  coro__tls *t = c->owner; /* see this_thread() */
  coro *r = c->resumer;
  if (CORO__UNLIKELY(c->flags & CORO__F_UNGUARDED)) coro__check_canary(c);
  coro__copy_store(t, r, c->out, value); /* into r's frames: once they are back */
  t->current = r;
  return coro__switch_to(c, r, outcome, dying);
}

/* --- cleanup handlers -------------------------------------------------------- */

/* Run and free every handler of c, LIFO.  `host` is the coroutine whose stack
 * they run on (c itself, or the destroyer's: another coroutine or the
 * thread's own): it may not yield meanwhile.  A handler's coro_fail() lands
 * in host->fail: on c's own stack that is c's error (the caller reads it
 * after this, so the last handler to fail wins, as the last exception raised
 * in nested `finally` blocks does); on a destroyer's stack it is not the
 * destroyer's, and is undone. */
static void run_cleanups(coro *c, coro *host) {
  int host_fail = host->fail;
  host->flags += CORO__F_CLEANUP_ONE;
  while (c->cold->cleanups) { /* it has handlers: it has its cold part */
    coro__cleanup *h = c->cold->cleanups;
    c->cold->cleanups = h->next;
    h->fn(h->arg);
    coro__free(h);
  }
  host->flags -= CORO__F_CLEANUP_ONE;
  if (host != c) host->fail = host_fail;
}

/* --- the body's life --------------------------------------------------------- */

/* The code a coroutine finishing with error `err` reports: CORO_EDONE, the
 * "already finished" of another generator passed on, becomes
 * CORO_ELEAKEDDONE (PEP 479), so that it never reads as this one's end. */
static inline int leaked(int err) { return err == CORO_EDONE ? CORO_ELEAKEDDONE : err; }

/* What follows a body's return, out of line: the frame the body runs under,
 * coro__entry's, is then one register and a return address, and a suspended
 * copy-stack coroutine saves it with its own (tests/copystack.c counts it). */
static __attribute__((noinline, noreturn)) void finish(coro *c) {
  /* A handler that fails replaces the return value or the body's error
   * (Python: an exception raised in `finally`). */
  if (c->cold && c->cold->cleanups) run_cleanups(c, c);
  int code = leaked(c->fail);
  if (code) c->result = NULL;
  c->result_code = code;
  c->state = CORO_CLOSED;
  if (c->flags & CORO__F_COPY) coro__copy_dead(c);
  if (leave(c, code ? code : CORO_RETURNED, c->result, 1) == CORO__NOMEM) {
    /* Our resumer runs on the shared stack, whose occupant could not be
     * saved, and a finished coroutine has nowhere to wait: documented. */
    static const char msg[] = "libcoro: no memory to save a copy-stack coroutine\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
  }
  /* A CLOSED coroutine is never switched to.  Not __builtin_unreachable():
   * gcc 12 with -fsanitize=undefined then prunes the checks in leave(). */
  abort();
}

/* First and last frame of every coroutine's stack. */
void coro__entry(void *arg) {
  coro *c = arg;
#ifdef CORO_ASAN
  coro__tls *t = c->owner; /* see this_thread() */
  /* The first switch into this stack: learn the bounds of the stack that
   * switched here if it was the thread's own (needed to switch back). */
  const void *lo;
  size_t size;
  __sanitizer_finish_switch_fiber(NULL, &lo, &size);
  if (c->resumer == &t->main) {
    t->main_cold.stack.lo = (char *)(uintptr_t)lo;
    t->main_cold.stack.hi = (char *)(uintptr_t)lo + size;
  }
#endif
  c->result = c->fn(c->arg); /* the same word: fn is not needed again */
  finish(c);
}

/* The checks every call on a coroutine handle starts with. */
static inline int check_handle(coro__tls *t, const coro *c) {
  if (CORO__UNLIKELY(!c)) return -EINVAL;
  if (CORO__UNLIKELY(c->owner != t)) return -EPERM;
  return 0;
}

/* CORO__NOMEM (a copy-stack switch could not save the frames it displaces)
 * is -ENOMEM to the caller of a public call. */
static inline int nomem(int rc) { return CORO__UNLIKELY(rc == CORO__NOMEM) ? -ENOMEM : rc; }

static int send_internal(coro__tls *t, coro *c, void *value, void **out) {
  switch (c->state) {
  case CORO_SUSPENDED:
    break;
  case CORO_CREATED:
    if (value) return -EINVAL; /* can't send non-None value to a just-started generator */
    break;
  case CORO_CLOSED:
    return CORO_EDONE;
  default:
    return -EBUSY; /* generator already executing */
  }
  return resume(t, c, 0, value, out);
}

static int throw_internal(coro__tls *t, coro *c, int err, void **out) {
  switch (c->state) {
  case CORO_SUSPENDED:
    return resume(t, c, err, NULL, out);
  case CORO_CREATED: /* the body never runs, but its frame raises err */
    c->state = CORO_CLOSED;
    c->result = NULL;
    c->result_code = err = leaked(err);
    /* fall through */
  case CORO_CLOSED:
    if (out) *out = NULL;
    return err;
  default:
    return -EBUSY;
  }
}

static int close_internal(coro__tls *t, coro *c) {
  switch (c->state) {
  case CORO_SUSPENDED: {
    int rc = throw_internal(t, c, CORO_EEXIT, NULL);
    if (rc == CORO_YIELDED) return CORO_EIGNORED; /* it stays SUSPENDED */
    if (rc == CORO_RETURNED || rc == CORO_EEXIT) {
      c->result_code = 0; /* closed as asked: not an error */
      return 0;
    }
    return rc;
  }
  case CORO_CREATED:
    c->state = CORO_CLOSED;
    c->result = NULL;
    c->result_code = 0;
    return 0;
  case CORO_CLOSED:
    return 0;
  default:
    return -EBUSY;
  }
}

/* --- public: creating and destroying ------------------------------------------- */

int coro_attr_init(coro_attr *attr) {
  if (!attr) return -EINVAL;
  attr->stack_size = CORO_STACK_DEFAULT;
  attr->name = NULL;
  attr->stack_mode = CORO_STACK_MODE_DEFAULT;
  return 0;
}

static void set_name(coro__cold *x, const char *name) {
  size_t n = name ? strnlen(name, CORO_NAME_MAX - 1) : 0;
  memcpy(x->name, name ? name : "", n);
  x->name[n] = '\0';
}

/* A cold part with nothing in it (what coro__cold_of reads for a copy-stack
 * coroutine that has none). */
const coro__cold coro__cold_none;

void coro__cold_init(coro__cold *x) {
  x->run_next = NULL;
  x->root = NULL;
  x->parked = NULL;
  x->wake = 0;
  x->cleanups = NULL;
  x->delegator = NULL;
  x->delegate = NULL;
  x->heap_at = 0;
  x->joiners.head = x->joiners.tail = NULL;
  x->wait_what = NULL;
  x->wait_obj = NULL;
  x->group = NULL;
  x->group_prev = x->group_next = NULL;
  x->name[0] = '\0';
}

coro__cold *coro__cold_alloc(coro *c) {
  coro__cold *x = coro__malloc(CORO__COLD_COPY);
  if (!x) return NULL;
  coro__cold_init(x);
  c->cold = x;
  return x;
}

/* The stack mode a coroutine created with attr gets: CORO_STACK_MODE_OWN or
 * _COPY, or -EINVAL (unknown mode; copy-stack with an explicit stack size),
 * -ENOTSUP (copy-stack in a ucontext build).  An explicit size with the
 * default mode means its own stack, whatever the thread's default. */
static int stack_mode(coro__tls *t, const coro_attr *attr) {
  int mode = attr ? attr->stack_mode : CORO_STACK_MODE_DEFAULT;
  if (mode == CORO_STACK_MODE_DEFAULT) {
    if (attr && attr->stack_size != CORO_STACK_DEFAULT) return CORO_STACK_MODE_OWN;
    return coro__stack_mode(t);
  }
  if (mode == CORO_STACK_MODE_OWN) return mode;
  if (mode != CORO_STACK_MODE_COPY || attr->stack_size != CORO_STACK_DEFAULT) return -EINVAL;
#ifdef CORO_USE_UCONTEXT
  return -ENOTSUP;
#else
  return mode;
#endif
}

/* A record and a stack for a new coroutine: at the top of its own stack, or
 * from the heap for a copy-stack one (its frames go on the shared stack),
 * with its cold part if `cold` (else it has none until it needs one). */
static int make(coro__tls *t, int mode, size_t size, int cold, coro **out) {
  coro *c;
  if (mode == CORO_STACK_MODE_COPY) return coro__copy_new(t, cold, out);
  coro__stack st;
  int rc = coro__stack_get(&t->stacks, size, &st);
  if (rc < 0) return rc;
  coro__stack_set_canary(&st);
  /* The record sits at the top of its stack, cache-line aligned, and its
   * cold part right below it. */
  uintptr_t at = ((uintptr_t)coro__stack_top(&st) - sizeof(coro)) & ~(uintptr_t)63;
  c = (coro *)at;
  coro__cold *x = (coro__cold *)at - 1;
#ifdef CORO_SANITIZE_BUILD
  /* Garbage first, so a field this function forgets shows up in tests. */
  memset(x, 0xa5, sizeof(*x) + sizeof(*c));
#endif
  x->stack = st;
  coro__cold_init(x);
  c->cold = x;
  c->saved = NULL;
  c->saved_len = c->saved_cap = 0;
  c->flags = st.guarded ? 0u : CORO__F_UNGUARDED;
  coro__context_make(&c->ctx, st.lo, (void *)((uintptr_t)x & ~(uintptr_t)15), coro__entry, c);
  *out = c;
  return 0;
}

/* coro_create(); `spawn`: for coro_spawn(), so a copy-stack micro-thread gets
 * its cold part at once (it needs it: joins, groups, parks). */
int coro__create(coro **out, coro_fn fn, void *arg, const coro_attr *attr, int spawn) {
  coro__tls *t = this_thread();
  size_t size = attr ? attr->stack_size : CORO_STACK_DEFAULT;
  if (!out || !fn || size < CORO_STACK_MIN || size > CORO_STACK_MAX) return -EINVAL;
  if (CORO__UNLIKELY(!t->ready)) {
    int rc = coro__thread_setup(t);
    if (rc < 0) return rc;
  }
  int mode = stack_mode(t, attr);
  if (mode < 0) return mode;
  /* A copy-stack body runs on the shared stack, so its argument must not
   * point there: into frames that are displaced while it runs. */
  if (mode == CORO_STACK_MODE_COPY && coro__on_shared(t, arg)) return -EFAULT;
  size = (size + coro__page_size - 1) & ~(coro__page_size - 1);

  coro *c;
  const char *name = attr ? attr->name : NULL;
  int rc = make(t, mode, size, spawn || (name && *name), &c);
  if (rc < 0) return rc;
  /* Every other field is set here: no memset of the whole object on the
   * create path. */
  c->owner = t;
  c->resumer = &t->main;
  c->state = CORO_CREATED;
  if (CORO__UNLIKELY(t->next_id == t->id_end)) coro__registry_ids(t);
  c->id = t->next_id++;
  c->out = &t->sink;
  c->in = &t->sink;
  c->fn = fn; /* c->result shares its word (set when it finishes) */
  c->arg = arg;
  c->result_code = 0;
  c->fail = 0;
  c->sched = 0;
  c->all_prev = NULL;
  c->all_next = t->all;
  if (t->all) t->all->all_prev = c;
  t->all = c;
  t->nall++;
#ifdef CORO_ASAN
  c->asan_fake = NULL;
#endif
  if (name && c->cold) set_name(c->cold, name);
  *out = c;
  return 0;
}

int coro_create(coro **out, coro_fn fn, void *arg, const coro_attr *attr) {
  return coro__create(out, fn, arg, attr, 0);
}

int coro_destroy(coro *c) {
  coro__tls *t = this_thread();
  int rc = check_handle(t, c);
  if (rc < 0) return rc;
  if (c->state == CORO_RUNNING || coro__cold_of(c)->delegator)
    return -EBUSY;                                  /* RUNNING includes NORMAL */
  if (c->flags & CORO__F_DESTROYING) return -EBUSY; /* from its own handlers: freed once */
  c->flags |= CORO__F_DESTROYING;
  if (c->state == CORO_SUSPENDED) {
    rc = close_internal(t, c);
    /* It yielded instead of exiting: its frames are abandoned, but its
     * handlers still owe their cleanup.  Run them here. */
    if (coro__cold_of(c)->cleanups) run_cleanups(c, t->current);
  }
  /* (Read again: running its exit may have given it a cold part.) */
  if (coro__cold_of(c)->delegate) c->cold->delegate->cold->delegator = NULL;
  if (c->all_prev)
    c->all_prev->all_next = c->all_next;
  else
    t->all = c->all_next;
  if (c->all_next) c->all_next->all_prev = c->all_prev;
  t->nall--;
  c->id = 0; /* a debugger that still finds it listed knows it is freed */
  if (c->flags & CORO__F_COPY)
    coro__copy_free(t, c);
  else
    coro__stack_put(&t->stacks, &c->cold->stack);
  return rc;
}

/* --- public: resuming ------------------------------------------------------------ */

int coro_send(coro *c, void *value, void **out) {
  coro__tls *t = this_thread();
  int rc = check_handle(t, c);
  if (rc < 0) return rc;
  /* It would read the value from frames its own displace. */
  if ((c->flags & CORO__F_COPY) && coro__on_shared(t, value)) return -EFAULT;
  return send_internal(t, c, value, out);
}

int coro_next(coro *c, void **out) {
  coro__tls *t = this_thread();
  int rc = check_handle(t, c);
  return rc < 0 ? rc : send_internal(t, c, NULL, out);
}

int coro_throw(coro *c, int err, void **out) {
  coro__tls *t = this_thread();
  int rc = check_handle(t, c);
  if (rc < 0) return rc;
  if (err >= 0) return -EINVAL;
  return throw_internal(t, c, err, out);
}

int coro_close(coro *c) {
  coro__tls *t = this_thread();
  int rc = check_handle(t, c);
  return rc < 0 ? rc : close_internal(t, c);
}

int coro_result(const coro *c, void **ret) {
  if (!c) return -EINVAL;
  if (c->state != CORO_CLOSED) return -EAGAIN;
  if (ret) *ret = c->result_code ? NULL : c->result;
  return c->result_code;
}

/* --- public: inside a coroutine ----------------------------------------------------- */

/* coro_yield when the current coroutine has any flag set or its resumer is
 * a copy-stack coroutine: refuse on the thread's own stack or in a cleanup
 * handler, else check the canary, or go through yield_copy. */
static int yield_slow(coro *c, void *value, void **in);

/* Suspend the current coroutine c with `value`; returns its resume signal,
 * the sent value already in *in. */
static inline int yield_internal(coro *c, void *value, void **in) {
  c->fail = 0;
  c->in = in ? in : &c->owner->sink;
  c->state = CORO_SUSPENDED;
  return leave(c, CORO_YIELDED, value, 0);
}

/* yield_internal() to a resumer whose frames are displaced from the shared
 * stack: the switch may fail (CORO__NOMEM: we stay RUNNING, nothing was
 * handed out), so it cannot be a tail call. */
static __attribute__((noinline)) int yield_copy(coro *c, void *value, void **in) {
  c->fail = 0;
  c->in = in ? in : &c->owner->sink;
  c->state = CORO_SUSPENDED;
  int sig = leave(c, CORO_YIELDED, value, 0);
  if (CORO__UNLIKELY(sig == CORO__NOMEM)) c->state = CORO_RUNNING;
  return sig;
}

static inline int involves_copy(const coro *c) { return !coro__copy_ready(c->resumer); }

int coro_yield(void *value, void **in) {
  coro__tls *t = this_thread();
  coro *c = t->current;
  if (CORO__UNLIKELY(!c || c->flags || !coro__copy_ready(c->resumer)))
    return yield_slow(c, value, in);
  return yield_internal(c, value, in);
}

/* Is c a coroutine that may yield or push cleanups now? */
static inline int may_yield(const coro *c) {
  return c && !(c->flags & (CORO__F_MAIN | CORO__F_IN_CLEANUP));
}

static int yield_slow(coro *c, void *value, void **in) {
  if (!may_yield(c)) return -EPERM;
  if (involves_copy(c)) return nomem(yield_copy(c, value, in));
  return yield_internal(c, value, in); /* unguarded: leave() checks the canary */
}

int coro_yield_from(coro *sub, void **result) {
  coro__tls *t = this_thread();
  coro *self = t->current;
  if (!may_yield(self)) return -EPERM;
  int rc = check_handle(t, sub);
  if (rc < 0) return rc;
  if (sub == self || coro__cold_of(sub)->delegator) return -EBUSY;
  /* The two links live in the cold parts (copy-stack: made now, or -ENOMEM
   * with nothing started). */
  coro__cold *sx = coro__cold_get(sub), *mx = sx ? coro__cold_get(self) : NULL;
  if (!mx) return -ENOMEM;

  void *v = NULL;
  rc = send_internal(t, sub, NULL, &v);
  if (rc == -EBUSY) return rc; /* sub is in our resume chain: nothing started */
  sx->delegator = self;
  mx->delegate = sub;
  while (rc == CORO_YIELDED) {
    void *in = NULL;
    int sig = involves_copy(self) ? yield_copy(self, v, &in) : yield_internal(self, v, &in);
    if (sig == CORO__NOMEM) {
      rc = -ENOMEM; /* could not hand v out: sub stays suspended */
      break;
    }
    if (sig == 0) {
      rc = send_internal(t, sub, in, &v);
    } else if (sig == CORO_EEXIT) {
      /* Closing us closes the delegate first (PEP 380). */
      rc = close_internal(t, sub);
      if (rc == 0) rc = CORO_EEXIT;
      break;
    } else {
      rc = throw_internal(t, sub, sig, &v);
    }
  }
  sx->delegator = NULL;
  mx->delegate = NULL;
  if (rc == CORO_RETURNED || rc == CORO_EDONE) {
    if (result) *result = rc == CORO_RETURNED ? v : NULL;
    return 0;
  }
  if (result) *result = NULL;
  return rc;
}

void *coro_fail(int err) {
  coro *c = this_thread()->current;
  if (c && !(c->flags & CORO__F_MAIN)) c->fail = err < 0 ? err : -EINVAL;
  return NULL;
}

int coro_cleanup_push(coro_cleanup_fn fn, void *arg) {
  coro *c = this_thread()->current;
  if (!fn) return -EINVAL;
  if (!may_yield(c)) return -EPERM;
  coro__cold *x = coro__cold_get(c); /* copy-stack: its first handler makes it */
  if (!x) return -ENOMEM;
  coro__cleanup *h = coro__malloc(sizeof(*h));
  if (!h) return -ENOMEM;
  h->fn = fn;
  h->arg = arg;
  h->next = x->cleanups;
  x->cleanups = h;
  return 0;
}

int coro_cleanup_pop(int execute) {
  coro *c = this_thread()->current;
  if (!may_yield(c)) return -EPERM;
  coro__cleanup *h = c->cold ? c->cold->cleanups : NULL;
  if (!h) return -ENOENT;
  c->cold->cleanups = h->next;
  if (execute) {
    c->flags += CORO__F_CLEANUP_ONE;
    h->fn(h->arg);
    c->flags -= CORO__F_CLEANUP_ONE;
  }
  coro__free(h);
  return 0;
}

/* --- public: introspection ------------------------------------------------------------ */

coro *coro_self(void) {
  coro *c = this_thread()->current;
  return c && !(c->flags & CORO__F_MAIN) ? c : NULL;
}

int coro_get_state(const coro *c) {
  if (!c) return -EINVAL;
  if (c->state != CORO_RUNNING || c->owner->current == c) return c->state;
  /* Marked RUNNING but not current: NORMAL if it is in the current resume
   * chain (it resumed the coroutine below it), else its chain is parked or
   * queued by the scheduler. */
  for (const coro *r = c->owner->current; r && !(r->flags & CORO__F_MAIN); r = r->resumer)
    if (r == c) return CORO_NORMAL;
  return CORO_WAITING;
}

const char *coro_state_name(int state) {
  static const char *const names[] = {"CREATED", "RUNNING", "SUSPENDED",
                                      "NORMAL",  "CLOSED",  "WAITING"};
  return state >= 0 && state <= CORO_WAITING ? names[state] : "?";
}

int coro_set_name(coro *c, const char *name) {
  if (!c) return -EINVAL;
  if (!c->cold && !(name && *name)) return 0; /* nothing to clear */
  coro__cold *x = coro__cold_get(c);
  if (!x) return -ENOMEM; /* copy-stack: its name keeps its old value */
  set_name(x, name);
  return 0;
}

const char *coro_name(const coro *c) { return c ? coro__cold_of(c)->name : NULL; }

size_t coro_stack_size(const coro *c) { return c ? coro__stack_of(c)->size : 0; }

/* --- for the scheduler (sched.c) ----------------------------------------------------- */

int coro__enter(coro__tls *t, coro *c, int signal) {
  return resume_any(t, c, signal, NULL, NULL, 1);
}
