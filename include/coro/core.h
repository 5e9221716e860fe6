/* SPDX-License-Identifier: MIT */
/*
 * coro/core.h - coroutines: the handle and its types, creating and destroying,
 * resuming (send, next, throw, close), what a body does inside (yield, yield
 * from, fail, cleanup handlers), a coroutine's state, name and stack, and the
 * names of error codes.  Every other file of include/coro/ builds on it.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 *
 * CORO_API marks what the shared library exports (-fvisibility=hidden
 * hides the rest); CORO_STATIC_BUILD empties it.
 */
#ifndef CORO_CORE_H
#define CORO_CORE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CORO_STATIC_BUILD) || !defined(__GNUC__)
#define CORO_API
#else
#define CORO_API __attribute__((visibility("default")))
#endif

/* ========================================================================== */
/* Types                                                                      */
/* ========================================================================== */

/* An opaque coroutine handle. */
typedef struct coro coro;

/* The body of a coroutine.  `arg` is the pointer given to coro_create().  The
 * pointer it returns is the coroutine's return value (Python's `return r`);
 * `return coro_fail(err);` finishes it with an error instead. */
typedef void *(*coro_fn)(void *arg);

/* A cleanup handler: run with its `arg` when the coroutine finishes, is closed
 * or is destroyed (Python's `finally`).  It may fail with coro_fail() (an
 * exception raised in `finally`) but not yield.  See coro_cleanup_push(). */
typedef void (*coro_cleanup_fn)(void *arg);

/* The state of a coroutine, as inspect.getgeneratorstate() reports it. */
typedef enum coro_state {
  CORO_CREATED = 0,   /* created, its body has not started (GEN_CREATED) */
  CORO_RUNNING = 1,   /* executing now: it is the current coroutine (GEN_RUNNING) */
  CORO_SUSPENDED = 2, /* paused in coro_yield(), can be resumed (GEN_SUSPENDED) */
  CORO_NORMAL = 3,    /* active but not current: it resumed another coroutine
                         that has not yielded back yet (Lua's "normal") */
  CORO_CLOSED = 4,    /* finished, failed or closed; can never run again (GEN_CLOSED) */
  CORO_WAITING = 5    /* a micro-thread, or a coroutine of its resume chain, waiting
                         for the scheduler: blocked in a call such as coro_sleep, or
                         queued for its turn.  Only the scheduler resumes it */
} coro_state;

/* The outcome of a resume (coro_send, coro_next, coro_throw). Errors are < 0. */
enum {
  CORO_RETURNED = 0, /* the coroutine finished; *out is its return value */
  CORO_YIELDED = 1   /* the coroutine paused; *out is the value it yielded */
};

/* libcoro's own error codes, outside the errno range (as libuv's UV_EOF). */
enum {
  /* The coroutine has already finished (Python: StopIteration raised by a send
   * to an exhausted generator).  Returned by every resume of a CLOSED coroutine. */
  CORO_EDONE = -4001,
  /* An exit request (Python: GeneratorExit): what coro_yield() returns inside a
   * coroutine that is being closed.  The coroutine should clean up and return
   * (or `return coro_fail(CORO_EEXIT);`). */
  CORO_EEXIT = -4002,
  /* The coroutine yielded a value after receiving CORO_EEXIT (Python:
   * RuntimeError "generator ignored GeneratorExit").  It stays SUSPENDED. */
  CORO_EIGNORED = -4003,
  /* The coroutine finished with CORO_EDONE as its own error (Python, PEP 479:
   * RuntimeError "generator raised StopIteration"): typically a body that got
   * CORO_EDONE from a finished generator and passed it on with
   * `return coro_fail(rc);`, or a CORO_EDONE thrown into it (coro_throw) that
   * it did not handle.  Its resumer gets this code instead of CORO_EDONE, so
   * that "the generator raised" never reads as "the generator was already
   * finished", and coro_yield_from() propagates it as an error. */
  CORO_ELEAKEDDONE = -4004
};

/* A size_t constant, in C and in C++ (where a C-style cast would trip g++'s
 * -Wold-style-cast in the user's code). */
#ifdef __cplusplus
#define CORO__SIZE(n) (static_cast<size_t>(n))
#else
#define CORO__SIZE(n) ((size_t)(n))
#endif

/* Stack sizes, in bytes. */
#define CORO_STACK_DEFAULT CORO__SIZE(64 * 1024)      /* default usable stack */
#define CORO_STACK_MIN CORO__SIZE(16 * 1024)          /* smallest accepted */
#define CORO_STACK_MAX CORO__SIZE(1024 * 1024 * 1024) /* largest accepted (1 GiB) */
#define CORO_NAME_MAX 32                              /* name buffer, with the NUL */
#define CORO_STACK_SHARED CORO__SIZE(256 * 1024)      /* a thread's shared stack (copy-stack) */

/* Where a coroutine's frames live (coro_attr.stack_mode).
 *
 * OWN: a stack of its own (stack_size bytes, reserved virtually, guarded),
 * where its frames stay put.  Switching costs nothing but the switch; a
 * suspended coroutine costs the pages it touched (4 KiB at least, ~4.2 KiB
 * with its record).  Pick it for deep stacks, for coroutines that hand out
 * pointers to their locals, and for the fastest switches.
 *
 * COPY (copy-stack, or shared-stack): every copy-stack coroutine of a thread
 * runs on the thread's one shared stack (CORO_STACK_SHARED bytes, guarded);
 * a suspended one keeps only the bytes of stack it used, and its record is a
 * small heap block, which also brings room for as many bytes of frames as the
 * thread's last new coroutine needed: 224 bytes in all for a generator
 * suspended one call deep on x86_64 (figures in README.md).  Frames that do
 * not fit take a buffer of their own, sized to fit.  A micro-thread or a
 * named coroutine has 152 bytes more in its record; a plain generator gets
 * them from the heap at its first blocking call, cleanup handler, yield_from
 * or name.
 * Switching to a coroutine whose frames are not on the shared stack copies
 * the frames of the one there out and its own in (a few hundred bytes
 * usually); a generator driven from an ordinary stack is switched without
 * any copy as long as it is the only copy-stack coroutine running.  Pick it
 * for millions of mostly idle coroutines with shallow stacks.
 *
 * What copy-stack mode cannot do:
 *   - An address of a local of a copy-stack coroutine is valid only while it
 *     runs (or until another copy-stack coroutine of the thread runs): its
 *     frames are moved out of the way meanwhile.  Do not hand such an
 *     address to another coroutine (as its argument, a value sent or
 *     yielded, through a global) to be used while the owner is suspended,
 *     waiting or resuming another coroutine.  The library's own records
 *     (waiters, channel elements in flight, the values send, yield and join
 *     pass) are kept off the shared stack, so its calls are safe; where it
 *     can tell cheaply it refuses such a pointer with -EFAULT: the argument
 *     of a copy-stack coroutine, a value sent to one, the argument of
 *     coro_offload() and the buffer of coro_file_pread/pwrite (a worker
 *     thread writes them while the caller is displaced).
 *   - stack_size must stay CORO_STACK_DEFAULT (-EINVAL otherwise): the
 *     shared stack's size is CORO_STACK_SHARED.
 *   - The ucontext build (CORO_UCONTEXT=ON) has no copy-stack mode (-ENOTSUP).
 *   - A switch into a copy-stack coroutine may need memory (to save the
 *     frames it displaces); without it the call that switches fails with
 *     -ENOMEM and nothing changes (coro_send and the other resumes,
 *     coro_yield, coro_run, and the blocking calls, whose waiter records
 *     come from the heap in this mode; see each).  One switch has no caller
 *     to fail to: an own-stack coroutine that finishes into a displaced
 *     copy-stack resumer while the frames of the one on the shared stack
 *     cannot be saved; libcoro then prints a line and aborts (a finished
 *     coroutine has nowhere to wait for memory). */
enum {
  CORO_STACK_MODE_DEFAULT = 0, /* the thread's default: coro_set_stack_mode(),
                                  else CORO_STACK_MODE=copy in the environment,
                                  else OWN.  An explicit stack_size (not
                                  CORO_STACK_DEFAULT) means OWN */
  CORO_STACK_MODE_OWN = 1,     /* its own stack */
  CORO_STACK_MODE_COPY = 2     /* the thread's shared stack, copied out when idle */
};

/* Creation attributes.  Initialise with coro_attr_init() or CORO_ATTR_INIT,
 * then set what you need; a zeroed struct is rejected (stack_size 0). */
typedef struct coro_attr {
  size_t stack_size; /* usable stack in bytes, CORO_STACK_MIN..CORO_STACK_MAX;
                        rounded up to whole pages */
  const char *name;  /* name for reports and dumps (copied, truncated to
                        CORO_NAME_MAX - 1 bytes); NULL for none */
  int stack_mode;    /* CORO_STACK_MODE_*: where its frames live */
} coro_attr;

#define CORO_ATTR_INIT                                                                             \
  { CORO_STACK_DEFAULT, NULL, CORO_STACK_MODE_DEFAULT }

/* ========================================================================== */
/* Creating and destroying                                     coro_create(3) */
/* ========================================================================== */

/* Fill *attr with the defaults (CORO_STACK_DEFAULT, no name,
 * CORO_STACK_MODE_DEFAULT).  Returns 0, or -EINVAL if attr is NULL. */
CORO_API int coro_attr_init(coro_attr *attr);

/* Set the calling thread's stack mode for coroutines created with
 * CORO_STACK_MODE_DEFAULT (attr NULL included), generators and micro-threads
 * alike: CORO_STACK_MODE_OWN or CORO_STACK_MODE_COPY.  Without a call, a
 * thread reads CORO_STACK_MODE from the environment at its first coroutine
 * ("copy" for copy-stack mode; anything else, or unset, for OWN).  Coroutines
 * that exist keep their mode.  Returns the previous mode, or -EINVAL (another
 * value), -ENOTSUP (COPY in the ucontext build). */
CORO_API int coro_set_stack_mode(int mode);

/* Create a coroutine that will run fn(arg) on its own stack, in state CREATED:
 * nothing runs until the first coro_send()/coro_next().  attr may be NULL for
 * the defaults.  On success stores the handle in *out and returns 0.
 * Errors: -EINVAL (out or fn NULL, stack_size outside
 * CORO_STACK_MIN..CORO_STACK_MAX, stack_mode unknown, or COPY with a
 * stack_size other than CORO_STACK_DEFAULT), -ENOTSUP (COPY in the ucontext
 * build), -EFAULT (a copy-stack coroutine whose arg points into the thread's
 * shared stack), -ENOMEM (no memory or address space for the stack, the
 * record or the thread's shared stack: nothing is leaked, *out is untouched). */
CORO_API int coro_create(coro **out, coro_fn fn, void *arg, const coro_attr *attr);

/* Destroy a coroutine and give its stack back to the pool.  A SUSPENDED
 * coroutine is closed first (as coro_close(), so its cleanup handlers run);
 * CREATED and CLOSED ones are simply freed.  Returns 0, or what closing
 * reported -- CORO_EIGNORED if the coroutine yielded instead of exiting (its
 * remaining cleanup handlers are then run on the caller's stack, and what
 * they coro_fail() with is dropped with the coroutine: CORO_EIGNORED is
 * reported; Python would not run them at all), or the error it finished with
 * (a cleanup handler's too: see coro_cleanup_push) -- and in those cases the
 * coroutine is freed all the same.
 * Refused, with nothing freed: -EINVAL (c NULL), -EPERM (c belongs to another
 * thread), -EBUSY (c is RUNNING, NORMAL or WAITING: destroying itself, a
 * coroutine in the current resume chain or an unfinished micro-thread (or a
 * coroutine of its chain), or c is the target of another coroutine's
 * coro_yield_from(), or a coro_destroy() of c is already under way: called
 * again from one of c's cleanup handlers, which the first call frees with c).
 * -ENOMEM: closing it failed as coro_close() says; it is freed all the same,
 * its cleanup handlers run on the caller's stack. */
CORO_API int coro_destroy(coro *c);

/* ========================================================================== */
/* Resuming (the caller's side)                                               */
/* ========================================================================== */

/* Resume c, handing it `value` as the result of the coro_yield() it is paused
 * in (Python's g.send(value)).  The first send starts the body and must carry
 * NULL.  On CORO_YIELDED or CORO_RETURNED stores the value handed out in *out
 * (if out is not NULL).
 * Returns CORO_YIELDED, CORO_RETURNED, or:
 *   the negative code the coroutine finished with (via coro_fail()); it is
 *     CLOSED, *out is set to NULL (CORO_ELEAKEDDONE if that code was
 *     CORO_EDONE: see there);
 *   refused, nothing changes:
 *   -EINVAL   c is NULL, or value is not NULL and c is CREATED (Python: "can't
 *             send non-None value to a just-started generator");
 *   -EBUSY    c is RUNNING, NORMAL or WAITING (an unfinished micro-thread,
 *             or a coroutine of its chain) (Python: "generator already
 *             executing");
 *   -EPERM    c belongs to another thread;
 *   -EFAULT   c is a copy-stack coroutine and value points into the thread's
 *             shared stack (see CORO_STACK_MODE_COPY);
 *   -ENOMEM   copy-stack mode: no memory to save the frames that c's would
 *             displace from the shared stack;
 *   CORO_EDONE  c is CLOSED (Python: StopIteration), on every call. */
CORO_API int coro_send(coro *c, void *value, void **out);

/* coro_send(c, NULL, out): Python's next(g).  Same returns as coro_send(). */
CORO_API int coro_next(coro *c, void **out);

/* Raise error `err` (< 0) inside c at the coro_yield() it is paused in
 * (Python's g.throw(E)).  The coroutine may handle it and yield again, return,
 * or finish with an error; the outcome is reported as for coro_send().
 * On a CREATED coroutine the body never runs: c becomes CLOSED and err comes
 * straight back (CORO_EDONE as CORO_ELEAKEDDONE, as if the body had raised
 * it).  On a CLOSED coroutine err comes straight back.
 * Refused, nothing changes: -EINVAL (c NULL, or err >= 0), -EBUSY (c RUNNING,
 * NORMAL or WAITING), -EPERM (another thread's coroutine), -ENOMEM (as
 * coro_send()). */
CORO_API int coro_throw(coro *c, int err, void **out);

/* Close c (Python's g.close()).  A SUSPENDED coroutine sees CORO_EEXIT come
 * out of its pending coro_yield(), and is expected to clean up and return.
 * CREATED and CLOSED coroutines just become CLOSED.
 * Returns 0 when c is CLOSED afterwards, whether it returned or finished with
 * the exit request.  Otherwise:
 *   CORO_EIGNORED  c yielded a value instead ("generator ignored
 *                  GeneratorExit"); c stays SUSPENDED;
 *   err < 0        c finished with another error err; c is CLOSED (a cleanup
 *                  handler that fails while c exits reports its error here,
 *                  as an exception raised in `finally` comes out of Python's
 *                  close());
 *   refused: -EINVAL (c NULL), -EBUSY (c RUNNING, NORMAL or WAITING), -EPERM
 *   (another thread's coroutine), -ENOMEM (as coro_send(): c stays
 *   SUSPENDED). */
CORO_API int coro_close(coro *c);

/* The outcome of a CLOSED coroutine: 0 with its return value in *ret (if ret
 * is not NULL) when it returned or was closed, or the negative code it
 * finished with.  -EAGAIN if it has not finished; -EINVAL if c is NULL. */
CORO_API int coro_result(const coro *c, void **ret);

/* Iterate over the values a generator yields (Python's `for v in g:`):
 *     CORO_FOREACH(v, g) { use(v); }
 * declares `void *v` for the loop body.  The loop ends on anything but
 * CORO_YIELDED; coro_result(g, ...) then tells a return from an error. */
#define CORO_FOREACH(var, gen) for (void *var = NULL; coro_next((gen), &var) == CORO_YIELDED;)

/* ========================================================================== */
/* Inside a coroutine                                                         */
/* ========================================================================== */

/* Pause the current coroutine, handing `value` to its resumer (Python's
 * `x = yield value`).  When resumed, stores the sent value in *in (if in is not
 * NULL; NULL after a throw or close) and returns:
 *   0           resumed by coro_send()/coro_next();
 *   err < 0     resumed by coro_throw(c, err): handle it or pass it on with
 *               `return coro_fail(err);`;
 *   CORO_EEXIT  resumed by coro_close()/coro_destroy(): clean up and return.
 * Refused, nothing yielded and *in untouched:
 *   -EPERM      called outside any coroutine, or inside a cleanup handler
 *               (whichever stack it runs on: the coroutine's own as it
 *               finishes or in coro_cleanup_pop(1), or its destroyer's);
 *   -ENOMEM     copy-stack mode: no memory to save the frames the resumer's
 *               would displace; the coroutine goes on running. */
CORO_API int coro_yield(void *value, void **in);

/* Delegate to the generator `sub` until it finishes (Python's
 * `r = yield from sub`): its yields pass out to our resumer, values sent to us
 * go to it, throws are forwarded to it, and closing us closes it first.
 * Returns 0 with sub's return value in *result (if result is not NULL; NULL if
 * sub had already finished), or:
 *   err < 0     sub finished with err (thrown into it, or raised by it;
 *               CORO_ELEAKEDDONE if it raised a finished generator's
 *               code: PEP 479);
 *   CORO_EEXIT  we are being closed; sub has been closed; clean up and return;
 *   the error closing sub reported, if it refused to close (CORO_EIGNORED);
 *   refused: -EINVAL (sub NULL), -EPERM (outside any coroutine, in a cleanup
 *   handler, or sub belongs to another thread), -EBUSY (sub is the current
 *   coroutine, RUNNING/NORMAL/WAITING, or already delegated to by another
 *   coroutine);
 *   -ENOMEM     copy-stack mode, as coro_send() and coro_yield() say: a
 *               switch could not be made; sub stays SUSPENDED, no longer
 *               delegated to (a value it yielded is not handed out).  Also
 *               when the caller or sub is a plain copy-stack generator that
 *               has never parked, been named, pushed a cleanup handler or
 *               been in a yield_from: this call must first get the rest of
 *               its record from the heap (see CORO_STACK_MODE_COPY; it holds
 *               the delegation's links), and without memory for it the
 *               delegation never starts (sub is not resumed).
 * sub is not destroyed: the caller still owns it. */
CORO_API int coro_yield_from(coro *sub, void **result);

/* Record `err` (< 0) as the error the current coroutine finishes with and
 * return NULL, for `return coro_fail(err);` in its body (Python's `raise`).
 * An err >= 0 is recorded as -EINVAL, and CORO_EDONE finishes the coroutine
 * with CORO_ELEAKEDDONE (PEP 479): codes its resumer gets, not this call.  A
 * later coro_yield() before the body returns discards it.  Outside a
 * coroutine it records nothing.  Never fails: it always returns NULL. */
CORO_API void *coro_fail(int err);

/* Push a cleanup handler on the current coroutine.  Handlers run last-in
 * first-out, each once, when the coroutine finishes (returns or fails), or is
 * destroyed without finishing.  A handler may not yield: coro_yield() and
 * coro_yield_from() return -EPERM inside it (coro_cleanup_push/pop too).
 * A handler may fail, as an exception raised in Python's `finally` does:
 * coro_fail(err) inside it makes the coroutine finish with err instead of
 * its return value or its own error, and the last handler to fail wins
 * (handlers run LIFO: the first pushed runs last).  Its resumer gets err --
 * coro_close() and coro_destroy() too when they are what made it exit --
 * except from the handlers coro_destroy() runs itself for a coroutine that
 * ignored the exit request (see there).  A handler run by
 * coro_cleanup_pop(1) fails as the body's own coro_fail() does: the error
 * stands unless a later coro_yield() discards it.
 * Returns 0, or -EINVAL (fn NULL), -EPERM (outside any coroutine, or inside a
 * cleanup handler), -ENOMEM. */
CORO_API int coro_cleanup_push(coro_cleanup_fn fn, void *arg);

/* Pop the most recently pushed cleanup handler of the current coroutine,
 * running it first if `execute` is non-zero (as pthread_cleanup_pop).
 * Returns 0, or -ENOENT (none pushed), -EPERM (outside any coroutine, or
 * inside a cleanup handler). */
CORO_API int coro_cleanup_pop(int execute);

/* ========================================================================== */
/* Introspection: state, name, stack                                          */
/* ========================================================================== */

/* The coroutine running now on this thread, or NULL on the thread's own stack.
 * Never fails. */
CORO_API coro *coro_self(void);

/* The state of c (a coro_state value), or -EINVAL if c is NULL. */
CORO_API int coro_get_state(const coro *c);

/* "CREATED", "RUNNING", "SUSPENDED", "NORMAL", "CLOSED", "WAITING"; "?" for
 * anything else.  Never fails. */
CORO_API const char *coro_state_name(int state);

/* Set c's name (copied, truncated to CORO_NAME_MAX - 1 bytes; NULL clears it).
 * Returns 0, or -EINVAL (c NULL), -ENOMEM (c is a copy-stack coroutine created
 * without a name, whose first name needs a small record: the name stays ""). */
CORO_API int coro_set_name(coro *c, const char *name);

/* c's name ("" if none).  No error code: NULL if c is NULL. */
CORO_API const char *coro_name(const coro *c);

/* The usable stack size of c in bytes (page-rounded).  No error code: 0 if c
 * is NULL. */
CORO_API size_t coro_stack_size(const coro *c);

/* How guard pages protect stacks on this thread.  Linux caps memory mappings
 * per process (vm.max_map_count, 65530 by default) and an mprotect'ed guard
 * page splits a mapping, which would cap guarded stacks near 32 000.
 *   CORO_GUARD_MADVISE   guard pages installed with MADV_GUARD_INSTALL (Linux
 *                        6.13+): they split nothing, every stack is guarded;
 *   CORO_GUARD_MPROTECT  mprotect'ed guard pages while under a quarter of
 *                        vm.max_map_count, then stacks without a guard page
 *                        but with a canary checked at every switch;
 *   CORO_GUARD_CANARY    no guard pages, a canary at the stack's low end,
 *                        checked at every switch (a smashed canary aborts with
 *                        the coroutine's name).
 * The best mode the kernel supports is chosen at the first coroutine.
 * Never fails. */
enum { CORO_GUARD_MADVISE = 1, CORO_GUARD_MPROTECT = 2, CORO_GUARD_CANARY = 3 };
CORO_API int coro_stack_guard_mode(void);

/* Give this thread's pooled stack memory back to the kernel now.  A freed
 * stack stays with its thread for the next coroutine: its mapping, its guard
 * page and the pages it touched, so that a burst of coroutines after another
 * costs no system call and no page fault.  The pool decays by itself as the
 * thread keeps creating and destroying coroutines: per stack size, the empty
 * slabs beyond 4096 stacks' worth (at most 256 MiB of them) that stay unused
 * while the thread makes eight times as many stack allocations and frees as
 * the pool has stacks of that size are offered to the kernel with MADV_FREE
 * (it takes their pages back only when memory runs short), and unmapped if
 * they stay unused as long again.  A thread that stops creating coroutines
 * keeps its pool as it is.  This call unmaps every slab of the thread with
 * no stack in use and discards the pages of every free stack in the others
 * (their guard pages stay).  Safe at any time, from any coroutine or the
 * thread's own stack: stacks in use, the caller's included, are not touched.
 * Only the calling thread's stacks are trimmed.  *released (if not NULL)
 * gets the bytes of stack address space unmapped or discarded (0 if there
 * was nothing to trim).  Returns 0, or the error of a munmap/madvise the
 * kernel refused (-ENOMEM, -EINVAL): what could be trimmed was, the rest
 * stays pooled and usable. */
CORO_API int coro_stack_trim(size_t *released);

/* ========================================================================== */
/* Errors                                                                     */
/* ========================================================================== */

/* A short message for an error code libcoro returns ("generator already
 * executing", "resource busy", ...); never NULL, never fails.  0 gives
 * "success"; unknown codes give "unknown error". */
CORO_API const char *coro_strerror(int err);

/* The symbolic name of an error code ("EINVAL", "EPIPE", ...; libcoro's own
 * codes by their enum names); never NULL, never fails.  0 gives "OK"; unknown codes give "UNKNOWN". */
CORO_API const char *coro_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* CORO_CORE_H */
