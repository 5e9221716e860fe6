/* SPDX-License-Identifier: MIT */
/*
 * coro.h - libcoro, stackful coroutines for C with Python's generator semantics.
 *
 * The header coro.h is the single source of truth for the API: every public
 * call is declared in it with what it does and every error code it returns,
 * and the manual pages (libcoro(7), coro_send(3), ...) are generated from it.
 *
 * Concepts
 * --------
 * A coroutine is a function running on its own stack that can pause (yield)
 * and be resumed later, inside one OS thread.  It is driven asymmetrically,
 * like a Python generator: whoever calls coro_send() resumes it, and its next
 * coro_yield() (or its return) hands control and a value back to that caller.
 *
 *   Python                          libcoro
 *   g = gen(arg)                    coro_create(&g, gen, arg, NULL)
 *   v = next(g)                     coro_next(g, &v)
 *   v = g.send(x)                   coro_send(g, x, &v)
 *   x = yield v                     coro_yield(v, &x)
 *   return r                        return r;           (from the body)
 *   raise E                         return coro_fail(E);
 *   v = g.throw(E)                  coro_throw(g, E, &v)
 *   g.close()                       coro_close(g)
 *   r = yield from sub              coro_yield_from(sub, &r)
 *   for v in g: ...                 CORO_FOREACH(v, g) { ... }
 *   try: ... finally: ...           coro_cleanup_push(fn, arg)
 *   inspect.getgeneratorstate(g)    coro_get_state(g)
 *
 * Values are untyped pointers; NULL plays the part of Python's None.
 * Errors ("exceptions") are negative int codes: a negated errno (-EIO) or one of
 * the CORO_E* codes below.  A thrown code arrives in the coroutine as the
 * return value of the coro_yield() it is paused in.
 *
 * Resume is three-way, as in Lua: coro_send(), coro_next() and coro_throw()
 * return CORO_YIELDED (the coroutine paused and handed out a value),
 * CORO_RETURNED (it finished and handed out its return value: Python's
 * StopIteration.value), or a negative code (it finished with that error, or the
 * call was refused and nothing changed: see each call).
 *
 * Threads
 * -------
 * A coroutine belongs to the thread that created it and never migrates.  Any
 * call on a coroutine from another thread returns -EPERM.  Several threads may
 * each run their own coroutines; nothing here takes a lock.
 *
 * Stacks
 * ------
 * Each coroutine runs on an mmap'd stack that is reserved, not committed: an
 * idle coroutine costs only the pages it touched.  A guard page below every
 * stack turns an overflow into a report naming the coroutine ("stack overflow
 * in coroutine 'name'") and an abort, never silent corruption.  Freed stacks are
 * pooled per thread and reused with their mapping, guard and touched pages, so
 * a burst of coroutines after another costs no system call; coro_stack_trim()
 * gives the pool back.  See coro_stack_guard_mode() for how guards are kept
 * within the kernel's limit on memory mappings.
 *
 * Errors
 * ------
 * Every call that can fail returns an int: >= 0 on success, a negated errno or
 * a CORO_E* code on failure.  No call aborts on bad input; libcoro aborts only
 * on a broken invariant (a smashed stack canary, a stack overflow).  errno is
 * left alone: it belongs to the thread, not to the coroutine.
 *
 * C++
 * ---
 * The header compiles as C++ (extern "C", no C-style cast in its macros).  A
 * coroutine body may throw and catch exceptions within itself, but an
 * exception that escapes the body calls std::terminate: the unwinder walks
 * the coroutine's own stack, whose outermost frame (the switch's entry) ends
 * the unwind information, and never reaches the resumer's frames, which are
 * on another stack, so it finds no handler.  Catch everything in the body and
 * turn it into an error (`return coro_fail(-EIO);`, say).
 */
#ifndef CORO_H
#define CORO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/select.h> /* sigset_t (signals), even under -std=c11 */
#include <sys/socket.h> /* struct sockaddr, socklen_t (I/O, networking) */
#include <sys/types.h>  /* ssize_t */
#include <sys/uio.h>    /* struct iovec */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CORO_STATIC_BUILD) || !defined(__GNUC__)
#define CORO_API
#else
#define CORO_API __attribute__((visibility("default")))
#endif

/* ========================================================================== */
/* Version                                                                    */
/* ========================================================================== */

/* The version of this header (CMakeLists.txt's project version says the same:
 * test version.header_matches_cmake).  CORO_VERSION is one number,
 * (MAJOR << 16) | (MINOR << 8) | PATCH, to compare with >=. */
#define CORO_VERSION_MAJOR 0
#define CORO_VERSION_MINOR 2
#define CORO_VERSION_PATCH 0
#define CORO_VERSION_STRING "0.2.0"
#define CORO_VERSION ((CORO_VERSION_MAJOR << 16) | (CORO_VERSION_MINOR << 8) | CORO_VERSION_PATCH)

/* The version of the library running, which may be newer than the header a
 * program was compiled with (a shared library upgraded in place): CORO_VERSION
 * as it was when the library was built.  Never fails. */
CORO_API unsigned coro_version(void);

/* The same as a string, "MAJOR.MINOR.PATCH" (CORO_VERSION_STRING of the
 * library's build); never NULL, never fails. */
CORO_API const char *coro_version_string(void);

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
 * thread's last new coroutine needed: 256 bytes in all for a generator
 * suspended one call deep (figures in README.md).  Frames that do not fit take
 * a buffer of their own, sized to fit.  A micro-thread or a named coroutine
 * has 152 bytes more in its record; a plain generator gets them from the heap
 * at its first blocking call, cleanup handler, yield_from or name.
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
 *               delegated to (a value it yielded is not handed out).
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
/* Signals                                                                    */
/* ========================================================================== */

/* Wait until one of the signals in `set` is pending for the thread or the
 * process, take it (it is then no longer pending) and return its number (> 0).
 * The other coroutines run meanwhile; this is how a server hears SIGTERM,
 * SIGINT or SIGHUP without a signal handler:
 *
 *   sigset_t s;
 *   sigemptyset(&s);
 *   sigaddset(&s, SIGTERM);
 *   sigaddset(&s, SIGINT);
 *   int sig = coro_signal_wait(&s, -1);   -- then stop accepting, drain, exit
 *
 * The signals of `set` are blocked in the calling thread (pthread_sigmask) by
 * the first call and stay blocked after it returns, so that one arriving
 * between two waits stays pending for the next instead of running its default
 * action (usually: ending the process).  Unblock them yourself to undo that.
 * A signal sent to the process goes to any thread that does not block it: in
 * a program with other threads, block the set in every thread (before
 * creating them: the mask is inherited) or some other thread may take it.
 * Children made by fork() inherit the blocked mask; exec() keeps it too.
 *
 * A delivered signal wakes every coroutine of the thread that waits for it
 * (a broadcast, as a condition variable's): two coroutines waiting for
 * SIGTERM both return SIGTERM for one kill.  A waiter whose set does not
 * hold it goes on waiting, and a signal that arrives while no wait of the
 * thread wants it (or again, before the waiters it reached have returned)
 * stays pending for the next wait: nothing is lost.  The thread holds one
 * signalfd, for the union of the waited sets, while any wait lasts; a thread
 * that exits while coroutines wait (pthread_exit from a micro-thread, say)
 * closes it, and those waits never return.
 * Returns the signal number, or -EINVAL (set NULL, empty, or
 * holding SIGKILL or SIGSTOP, which cannot be waited for), -ETIMEDOUT,
 * -ECANCELED, -EDEADLK (no signal is pending and no scheduler runs on the
 * thread; with one pending it returns at once, scheduler or not), -EMFILE
 * (no fd left for the thread's signalfd, opened by its first wait),
 * -ENOMEM (copy-stack caller: no memory for its waiter record; or no memory
 * for the thread's fd table or the deadline, as coro_wait_fd), -EBUSY (io_uring: its submission queue stayed
 * full; see coro_io(3)). */
CORO_API int coro_signal_wait(const sigset_t *set, int64_t deadline);

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
/* Micro-threads: the cooperative scheduler                     coro_spawn(3) */
/* ========================================================================== */
/*
 * A micro-thread is a coroutine spawned onto this thread's scheduler, which
 * resumes it, lets it run until it blocks, yields or finishes, and runs the
 * next one: first in, first out, unless a seed is set (see "Order" below).
 * coro_run() drives the scheduler from an ordinary call (main, or any thread's
 * own stack).
 *
 * A blocking call (coro_sleep, coro_join, coro_sched_yield, and later channels,
 * locks and I/O) parks the coroutine that makes it -- the innermost of its
 * resume chain -- and runs others; the chain above it stays intact.  So a
 * generator resumed from a micro-thread may block, and when it later yields
 * its value still goes to its resumer.  Blocking with no scheduler running on
 * the thread returns -EDEADLK: nothing could ever wake the caller.
 *
 * Deadlines are absolute times on the monotonic clock in nanoseconds
 * (coro_now() + 1000000 is "in a millisecond"), the last argument of every
 * blocking call: -1 waits forever, 0 (or any time already past) does not wait.
 * A blocking call with a deadline may also return -ENOMEM, when the timer heap
 * cannot grow (nothing else changes).  So may the first blocking call of a
 * plain copy-stack generator (not a micro-thread, created without a name): it
 * gets the small record that says what it waits on then (see
 * CORO_STACK_MODE_COPY).
 *
 * Resolution: a deadline never ends a wait early; how late it may end
 * depends on where the scheduler sleeps.  With no file descriptor waited on,
 * in clock_nanosleep (nanoseconds); with one, in the thread's I/O backend:
 * io_uring takes a timespec (nanoseconds), epoll too through epoll_pwait2
 * (Linux 5.11+), and where that is missing (older kernels, qemu-user,
 * valgrind 3.19) epoll_wait's milliseconds, rounded up: up to 1 ms late.
 * Every one of them adds the kernel's timer slack (50 us by default for a
 * normal thread; prctl(PR_SET_TIMERSLACK) changes it) and the time the other
 * micro-threads run before the scheduler looks.
 *
 * Cancelling a micro-thread makes every blocking call made in its chain
 * return -ECANCELED, the one it is blocked in at once and every later one,
 * so it can run its cleanup and finish.
 *
 * Order: FIFO or seeded
 * ---------------------
 * The scheduler works in rounds: every micro-thread runnable when a round
 * begins gets a turn, then ready file descriptors and due deadlines are
 * collected for the rounds after.  By default the order is FIFO: micro-threads
 * run in the order they became runnable (spawned, woken, or yielded).  With a
 * seed -- coro_sched_seed(), or CORO_SCHED_SEED=<n> in the environment -- every
 * choice the API leaves open is drawn from one generator per thread, so the
 * same seed and the same program give the same interleaving every time, and
 * other seeds give others: a test run over many seeds explores interleavings
 * that FIFO order never shows.  (A program whose course depends on timing or
 * I/O -- which deadline is due, which fd is ready when -- replays as far as
 * those events come the same way.)
 *
 * Guaranteed in both modes:
 *   - a channel carries elements first in first out, and serves its waiting
 *     senders and receivers first in first out;
 *   - a mutex or a semaphore goes to its first waiter (no barging), a cond
 *     signal wakes the first waiter, a wait group wakes all;
 *   - a deadline never returns early, and among coroutines woken by their
 *     deadlines (and micro-threads spawned by watches at theirs) an earlier
 *     deadline runs first;
 *   - nothing runnable starves: a runnable micro-thread runs in the current
 *     round or the next; coro_sched_yield() ends the caller's turn and it runs
 *     again in a later round, after every micro-thread still to run in this one;
 *     I/O and timers are collected once per round.
 * Unspecified, FIFO by default and drawn from the seed with one:
 *   - which runnable micro-thread runs next: in spawn order? the one woken
 *     first (by a close, a broadcast, a ready fd) first? after a yield, the
 *     others that became runnable in the same round first?
 *   - which of several ready cases coro_chan_select() serves (random in both
 *     modes, from the seed with one);
 *   - the order of coroutines whose deadlines are equal, and of fds or
 *     watches found ready by the same poll.
 *
 * CORO_SCHED_SEED is read once per process, when the first thread starts its
 * scheduler (its first coro_run()); every thread takes that seed at its first
 * coro_run(), unless it called coro_sched_seed() before.  Its value is a
 * decimal number from 0 to 18446744073709551615, or "random": a seed is drawn
 * and printed on stderr ("libcoro: CORO_SCHED_SEED=random: seed N ...") so that
 * a failure can be replayed with CORO_SCHED_SEED=N.  Anything else (empty, not
 * a number, negative, too large) prints one warning line on stderr and keeps
 * FIFO order.
 */

/* Now, on the monotonic clock, in nanoseconds (never fails, never goes back). */
CORO_API int64_t coro_now(void);

/* Create a micro-thread running fn(arg) and queue it on this thread's
 * scheduler; it starts at the scheduler's next turn.  With out non-NULL the
 * handle is stored there: coro_join() gets its result and coro_destroy()
 * frees it once finished.  With out NULL it is detached: freed when it
 * finishes.  A spawned micro-thread is not a generator: coro_send/next/throw/
 * close refuse it, as they refuse a RUNNING coroutine, until it finishes;
 * after that it is a CLOSED coroutine like any other (see coro_send).
 * Errors: as coro_create() (-EINVAL, -ENOMEM). */
CORO_API int coro_spawn(coro **out, coro_fn fn, void *arg, const coro_attr *attr);

/* Run this thread's scheduler until no micro-thread is left, nor any watch
 * of coro_spawn_on_ready() (a micro-thread still to be spawned).  When none is
 * runnable it sleeps in the kernel until the first deadline or a file
 * descriptor a micro-thread or a watch waits on becomes ready.  Returns 0, or
 * -EDEADLK when every micro-thread left waits for something only another
 * could do, no deadline is pending and none waits on a file descriptor
 * (they stay parked: cancel them, or give
 * them what they wait for, and run again), -EBUSY when called while the
 * scheduler already runs (from a micro-thread), -EPERM from inside a
 * generator, -ENOMEM (copy-stack mode: a micro-thread could not be switched
 * in, no memory to save the frames it displaces; it stays queued and nothing
 * is lost: run again), or the error of the I/O backend's wait when it cannot
 * wait at all (-EBADF, -EFAULT, -EINVAL, -EPERM: its epoll or io_uring
 * descriptor was closed under it, or a seccomp filter refuses every wait; its
 * fd waiters stay parked, as for -EDEADLK; transient errors are retried). */
CORO_API int coro_run(void);

/* Let the other runnable micro-threads run, then continue: in FIFO order every
 * one runnable now runs first; with a seed, those still to run in this round
 * (see "Order").  Returns 0, or -ECANCELED (cancelled), -EDEADLK (no scheduler
 * running), -ENOMEM (the first blocking call of a plain copy-stack generator,
 * without memory for what it waits on: see above). */
CORO_API int coro_sched_yield(void);

/* Switch the calling thread's scheduler to the seeded order drawn from `seed`
 * (see "Order"): from its next coro_run() on, the choices the API leaves open
 * come from a generator set to `seed`, so calling it again with the same seed
 * before a run replays the same choices.  It overrides CORO_SCHED_SEED for this
 * thread.  Call it while the scheduler is not running (before coro_run(), or
 * between two).  Returns 0, or -EBUSY (coro_run() is active on this thread:
 * nothing changes). */
CORO_API int coro_sched_seed(uint64_t seed);

/* Sleep until `deadline` (see above).  Returns 0 once it has passed, or
 * -ECANCELED (cancelled: at once), -EDEADLK (no scheduler running), -ENOMEM
 * (the timer heap cannot grow for the deadline, or a plain copy-stack
 * generator's first blocking call finds no memory: nothing changes). */
CORO_API int coro_sleep(int64_t deadline);

/* Wait until micro-thread c finishes, then return what it finished with: 0
 * with its return value in *result (if result is not NULL), or its error
 * (-ECANCELED if it was cancelled before it could finish).  Every join waiting
 * when c finishes gets the result; c stays allocated until coro_destroy().
 * Errors: -EINVAL (c NULL, not a spawned micro-thread, detached, or already
 * joined), -EPERM (another thread's), -EDEADLK (c is the caller's own
 * micro-thread, or no scheduler runs), -ETIMEDOUT (deadline passed; c goes on,
 * join again later), -ECANCELED (the caller was cancelled), -ENOMEM
 * (copy-stack caller: no memory for its waiter record; or, with a deadline,
 * the timer heap cannot grow). */
CORO_API int coro_join(coro *c, void **result, int64_t deadline);

/* Cancel micro-thread c: see above.  One that has not started never runs and
 * finishes cancelled (what coro_join reports for it).  Returns 0, or -EINVAL
 * (c NULL or not a spawned micro-thread), -EPERM (another thread's), -ESRCH
 * (c has already finished). */
CORO_API int coro_cancel(coro *c);

/* ========================================================================== */
/* Groups: structured concurrency                               coro_group(3) */
/* ========================================================================== */
/*
 * A group (Trio's nursery) owns the micro-threads spawned into it: nothing in
 * it outlives it.  coro_group_close() cancels every member still running and
 * waits until each has run its cleanup and finished, then frees the group.
 * Members are detached: the group frees each one as it finishes and keeps
 * only the first error any of them finished with (a member's -ECANCELED after
 * the group was cancelled is not an error: the group asked for it).  Results
 * travel by channel or by the argument.
 *
 *   coro_group *g;
 *   coro_group_create(&g, CORO_GROUP_FAIL_FAST);
 *   for (int i = 0; i < n; i++) coro_group_spawn(g, worker, &jobs[i], NULL);
 *   int rc = coro_group_wait(g, deadline);    -- 0, a member's error, -ETIMEDOUT
 *   coro_group_close(g, -1);                  -- cancels whatever is left, waits
 *
 * A group is used by the coroutines of the thread that created it.
 */
typedef struct coro_group coro_group;

/* Flags of coro_group_create(). */
enum {
  CORO_GROUP_FAIL_FAST = 1 /* the first member to fail cancels the group (errgroup,
                              Trio): every other member gets -ECANCELED */
};

/* Create an empty group.  Returns 0 and the group in *out, or -EINVAL (out
 * NULL, an unknown flag), -ENOMEM. */
CORO_API int coro_group_create(coro_group **out, unsigned flags);

/* Spawn a micro-thread running fn(arg) into g, as coro_spawn() does, owned by
 * the group.  Returns 0, or -ECANCELED (the group was cancelled: nothing is
 * spawned), -EINVAL (g or fn NULL, a bad attr), -EPERM (another thread's
 * group), -ENOMEM; and the other errors of coro_spawn() (-ENOTSUP, -EFAULT:
 * see coro_create). */
CORO_API int coro_group_spawn(coro_group *g, coro_fn fn, void *arg, const coro_attr *attr);

/* Cancel every member (see coro_cancel) and refuse later spawns.  Does not
 * wait.  Returns 0 (also when already cancelled), -EINVAL (g NULL), -EPERM. */
CORO_API int coro_group_cancel(coro_group *g);

/* Wait until g has no member left.  Returns 0 or the first error a member
 * finished with (also to a wait whose deadline or cancel came just before the
 * last member finished, if it had not run again by then: the group is done);
 * or -ETIMEDOUT (deadline passed), -ECANCELED (the caller was
 * cancelled: the members go on -- close the group), -EDEADLK (the caller is
 * itself a member of g, or no scheduler runs), -EINVAL (g NULL), -EPERM,
 * -ENOMEM (copy-stack caller: no memory for its waiter record; or, with a
 * deadline, the timer heap cannot grow). */
CORO_API int coro_group_wait(coro_group *g, int64_t deadline);

/* Cancel g, wait until every member has finished -- even when the caller is
 * cancelled itself, so that nothing outlives the group -- and free it.
 * Returns what coro_group_wait() would (0 or the first member's error).
 * -ETIMEDOUT if the deadline passes first (a member still cleaning up): the
 * group stays, cancelled; close it again.  Refused with nothing changed:
 * -EDEADLK (members are still alive and the caller cannot wait for them: it
 * is one of them, or no scheduler runs -- cancel the group, run the
 * scheduler, close again), -EINVAL, -EPERM.  -ENOMEM (copy-stack caller: no
 * memory for its waiter record; or, with a deadline, the timer heap cannot
 * grow): the group stays, cancelled; close it again. */
CORO_API int coro_group_close(coro_group *g, int64_t deadline);

/* The number of members alive, or -EINVAL (g NULL). */
CORO_API long coro_group_size(const coro_group *g);

/* ========================================================================== */
/* Channels                                                      coro_chan(3) */
/* ========================================================================== */
/*
 * A channel carries fixed-size elements between the coroutines of one thread,
 * first in first out.  Unbuffered (capacity 0), a send waits for a receiver
 * and hands its element over directly (a rendezvous); buffered, a send waits
 * only while the buffer is full.  Closing a channel wakes every waiting sender
 * and receiver with -EPIPE; receivers then drain what is buffered, and get
 * -EPIPE once it is empty.  Sends and receives take a deadline as every
 * blocking call does (0: only if it can be done at once).
 */
typedef struct coro_chan coro_chan;

/* The largest element and capacity accepted. */
#define CORO_CHAN_ELEM_MAX (CORO__SIZE(1) << 20)
#define CORO_CHAN_CAPACITY_MAX (CORO__SIZE(1) << 30)

/* Create a channel of elements of `elem_size` bytes with room for `capacity`
 * of them (0: unbuffered).  Returns 0 and the channel in *out, or -EINVAL
 * (out NULL, elem_size 0 or over CORO_CHAN_ELEM_MAX, capacity over
 * CORO_CHAN_CAPACITY_MAX -- a negative number passed as size_t lands there),
 * -ENOMEM. */
CORO_API int coro_chan_create(coro_chan **out, size_t elem_size, size_t capacity);

/* Send the element at `elem` (elem_size bytes, copied).  Returns 0 once it is
 * buffered or taken by a receiver, or -EPIPE (the channel is or gets closed:
 * the element is not sent), -ETIMEDOUT (deadline passed first), -ECANCELED
 * (the caller's micro-thread was cancelled), -EDEADLK (it would have to wait
 * and no scheduler runs), -EINVAL (ch or elem NULL), -EPERM (another thread's
 * channel), -ENOMEM (a copy-stack caller that has to wait: no memory for its
 * waiter record and the element it carries; or, with a deadline, the timer
 * heap cannot grow). */
CORO_API int coro_chan_send(coro_chan *ch, const void *elem, int64_t deadline);

/* Receive an element into `elem` (elem_size bytes).  Returns 0, or -EPIPE (the
 * channel is closed and empty), -ETIMEDOUT, -ECANCELED, -EDEADLK, -EINVAL,
 * -EPERM, -ENOMEM as coro_chan_send(). */
CORO_API int coro_chan_recv(coro_chan *ch, void *elem, int64_t deadline);

/* Close the channel: see above.  Returns 0, or -EPIPE (already closed),
 * -EINVAL (ch NULL), -EPERM (another thread's channel). */
CORO_API int coro_chan_close(coro_chan *ch);

/* The number of elements buffered now, or -EINVAL if ch is NULL. */
CORO_API long coro_chan_len(const coro_chan *ch);

/* Free the channel.  Returns 0, or -EBUSY while a coroutine is still linked
 * to it: one waiting, or one woken from it (by close, a deadline or a cancel)
 * that has not run since -- close it, let the scheduler run them (coro_run, or
 * join them), then destroy.  -EINVAL (ch NULL), -EPERM (another thread's). */
CORO_API int coro_chan_destroy(coro_chan *ch);

/* One case of coro_chan_select(). */
enum { CORO_SEL_SEND = 1, CORO_SEL_RECV = 2 };
typedef struct coro_sel {
  coro_chan *ch; /* the channel */
  int op;        /* CORO_SEL_SEND or CORO_SEL_RECV */
  void *elem;    /* the element to send, or where to receive one */
  int result;    /* set for the case chosen: 0, or -EPIPE (the channel is
                    closed: nothing was sent, or nothing is left to receive) */
} coro_sel;

/* Wait until one of the n cases can go ahead, do it, and return its index.
 * When several are ready, one is chosen at random, so none starves.  A case
 * on a closed channel is ready and reports -EPIPE in its `result`.
 * deadline 0 is the non-blocking form.  Errors: -EINVAL (cases NULL, n 0 or
 * over 64, a NULL channel or element, an unknown op, or the same channel with
 * the same op twice), -EPERM (another thread's channel), -ETIMEDOUT,
 * -ECANCELED, -EDEADLK (as coro_chan_send), -ENOMEM (copy-stack caller: no
 * memory for its waiter records; or, with a deadline, the timer heap cannot
 * grow). */
CORO_API int coro_chan_select(coro_sel *cases, size_t n, int64_t deadline);

/* ========================================================================== */
/* Cooperative synchronisation                                   coro_sync(3) */
/* ========================================================================== */
/*
 * Locks for the coroutines of one thread: waiting parks the coroutine, never
 * the thread.  Waiters are served first in, first out.  Each object belongs
 * to the thread that created it (-EPERM from any other).  Waiting calls take
 * a deadline and fail with -ETIMEDOUT, -ECANCELED or -EDEADLK (nothing could
 * wake the caller) as every blocking call does.  Every call returns -EINVAL
 * for a NULL handle; the create calls -EINVAL for a NULL out, -ENOMEM.
 */
typedef struct coro_mutex coro_mutex;
typedef struct coro_cond coro_cond;
typedef struct coro_sem coro_sem;
typedef struct coro_wg coro_wg;

/* A mutex, held by one coroutine at a time: the one that locked it.
 * Errors: -EINVAL (out NULL), -ENOMEM. */
CORO_API int coro_mutex_create(coro_mutex **out);
/* Lock, waiting while another coroutine holds it.  Errors: -EDEADLK if the
 * caller holds it already (it would wait for itself) or nothing could wake
 * it, -ETIMEDOUT, -ECANCELED, -EINVAL (m NULL), -EPERM (another thread's),
 * -ENOMEM (copy-stack caller: no memory for its waiter record; or, with a
 * deadline, the timer heap cannot grow: as for every wait below). */
CORO_API int coro_mutex_lock(coro_mutex *m, int64_t deadline);
/* Unlock; the first waiter, if any, gets it.  -EPERM if the caller does not
 * hold it (or m is another thread's), -EINVAL (m NULL). */
CORO_API int coro_mutex_unlock(coro_mutex *m);
/* Free.  -EBUSY while held or waited on; -EINVAL (m NULL), -EPERM. */
CORO_API int coro_mutex_destroy(coro_mutex *m);

/* A condition variable.  Errors: -EINVAL (out NULL), -ENOMEM. */
CORO_API int coro_cond_create(coro_cond **out);
/* Unlock m, wait for a signal, lock m again, then return 0 (or -ETIMEDOUT,
 * -ECANCELED: m is held again in every case, except when relocking itself is
 * cancelled: -ECANCELED with m not held; coro_mutex_unlock then answers -EPERM,
 * which tells the two apart).  -EPERM if the caller does not hold m (or an
 * object is another thread's), -EINVAL (c or m NULL), -EDEADLK (nothing
 * could wake it), -ENOMEM (see coro_mutex_lock). */
CORO_API int coro_cond_wait(coro_cond *c, coro_mutex *m, int64_t deadline);
/* Wake the first waiter (0 even if none); -EINVAL (c NULL), -EPERM. */
CORO_API int coro_cond_signal(coro_cond *c);
/* Wake every waiter (0 even if none); -EINVAL (c NULL), -EPERM. */
CORO_API int coro_cond_broadcast(coro_cond *c);
/* Free.  -EBUSY while waited on; -EINVAL (c NULL), -EPERM. */
CORO_API int coro_cond_destroy(coro_cond *c);

/* A counting semaphore starting at `value`.  Errors: -EINVAL (out NULL), -ENOMEM. */
CORO_API int coro_sem_create(coro_sem **out, unsigned long value);
/* Take one, waiting while the count is 0.  Errors: -ETIMEDOUT, -ECANCELED,
 * -EDEADLK, -EINVAL (s NULL), -EPERM, -ENOMEM (see coro_mutex_lock). */
CORO_API int coro_sem_acquire(coro_sem *s, int64_t deadline);
/* Give one back: the first waiter takes it.  -EOVERFLOW at ULONG_MAX,
 * -EINVAL (s NULL), -EPERM. */
CORO_API int coro_sem_release(coro_sem *s);
/* Free.  -EBUSY while waited on; -EINVAL (s NULL), -EPERM. */
CORO_API int coro_sem_destroy(coro_sem *s);

/* A wait group: a counter that coro_wg_wait() waits to see at zero.
 * Errors: -EINVAL (out NULL), -ENOMEM. */
CORO_API int coro_wg_create(coro_wg **out);
/* Add delta (may be negative); at zero every waiter wakes.  -EINVAL if the
 * counter would go below zero (or wg is NULL), -EOVERFLOW past LONG_MAX
 * (nothing changes), -EPERM (another thread's). */
CORO_API int coro_wg_add(coro_wg *wg, long delta);
/* coro_wg_add(wg, -1).  Errors: as coro_wg_add(). */
CORO_API int coro_wg_done(coro_wg *wg);
/* Wait until the counter is zero (0 at once if it is).  Errors: -ETIMEDOUT,
 * -ECANCELED, -EDEADLK, -EINVAL (wg NULL), -EPERM, -ENOMEM (see
 * coro_mutex_lock). */
CORO_API int coro_wg_wait(coro_wg *wg, int64_t deadline);
/* Free.  -EBUSY while waited on; -EINVAL (wg NULL), -EPERM. */
CORO_API int coro_wg_destroy(coro_wg *wg);

/* ========================================================================== */
/* I/O                                                             coro_io(3) */
/* ========================================================================== */
/*
 * Reading and writing file descriptors (pipes, sockets, terminals) without
 * blocking the thread: a call tries the system call first and, only when it
 * would block (EAGAIN), parks the calling coroutine until the fd is ready, a
 * deadline passes or its micro-thread is cancelled.  The scheduler waits for
 * readiness in the kernel (epoll) only when no micro-thread is runnable, and
 * checks it once per round otherwise, so busy coroutines cannot starve I/O.
 *
 * Rules of use:
 *   - Non-blocking: the first call on an fd sets O_NONBLOCK on it (the flag
 *     belongs to the open file description: a dup of the fd, or a shell's
 *     terminal sharing it, sees it too).  Sockets made by coro_tcp_listen,
 *     coro_tcp_dial and coro_sock_accept are non-blocking from the start.
 *   - Close with coro_fd_close(): it wakes every coroutine waiting on the fd
 *     with -EBADF and makes the thread forget the fd.  A plain close() leaves
 *     the thread believing the fd is known: a new fd that reuses the number
 *     would not be made non-blocking and might never be reported ready; call
 *     coro_fd_forget() before (or right after) a close the library does not
 *     make.
 *   - An fd is waited on by the coroutines of one thread at a time.
 *   - fork(): the child's next I/O call gives the forking thread's state a
 *     backend of its own (the parent's epoll set or io_uring ring is left to
 *     the parent, whose registrations the child's closes do not touch) and
 *     re-arms the fds its coroutines wait on.  Offload jobs run in the parent's
 *     workers: a child's coroutine parked on one at the fork never wakes.
 *   - Writing to a socket never raises SIGPIPE (-EPIPE instead); writing to a
 *     pipe whose reader is gone does, as write(2) does, unless the program
 *     ignores SIGPIPE.
 *   - Regular files are always "ready": calls on them do not park (their reads
 *     and writes block the thread as read(2) does).
 *
 * Every blocking call takes a deadline (see Micro-threads; 0: only what can be
 * done at once, -ETIMEDOUT if it would wait) and, besides the errors listed,
 * returns -ETIMEDOUT (deadline passed), -ECANCELED (the caller's micro-thread
 * was cancelled), -EDEADLK (it would have to wait and no scheduler runs on the
 * thread: outside coro_run they still work as long as they need not wait),
 * -EBADF (fd < 0, not open, or closed by coro_fd_close while waiting), -ENOMEM
 * (no memory for the thread's fd table or the deadline), the negated errno of
 * the first use of the fd (fcntl) or of the backend (-EMFILE: no fd left for
 * epoll; -EPERM: the fd does not support readiness waiting), -EBUSY (the
 * io_uring backend only: its submission queue stayed full after handing it to
 * the kernel, whose completion queue is overflowing), and any error of the
 * underlying system call as a negated errno (-ECONNRESET, -EPIPE, -EIO...).
 */

/* The name of the calling thread's readiness backend, "epoll" or "io_uring",
 * choosing and starting it now if no I/O call has yet (each thread has its
 * own).  No error code: NULL if it cannot be started (no memory, no fd left
 * for epoll).
 *
 * The choice: CORO_IO_BACKEND=epoll or CORO_IO_BACKEND=io_uring in the
 * environment forces one; otherwise epoll (measured as fast or faster for
 * readiness waits: see bench/README.md).  io_uring exists in Linux builds
 * (CMake option CORO_WITH_URING, on by default; no liburing needed) on kernels
 * 5.5 and later that let the process set up a ring (containers' seccomp
 * profiles often refuse it; qemu-user has no io_uring); forcing it
 * where it cannot be had, or naming an unknown backend, falls back to epoll
 * and prints one line on stderr, once per process:
 *     libcoro: io_uring unavailable (Operation not permitted), using epoll */
CORO_API const char *coro_io_backend(void);

/* What coro_wait_fd() waits for; it returns the same bits. */
enum {
  CORO_READ = 1, /* readable: data, EOF, an error or a pending connection */
  CORO_WRITE = 2 /* writable: room to write, or an error */
};

/* Wait until fd is ready for any of `events` (CORO_READ | CORO_WRITE).
 * Returns the events that are ready (> 0: an error or hang-up on the fd counts
 * as ready for all of them: the next call reports it), or -EINVAL (events 0 or
 * unknown bits), -EBADF, -ETIMEDOUT, -ECANCELED, -EDEADLK, -ENOMEM, -EBUSY
 * (io_uring), -EMFILE (no fd left for epoll), -EPERM (fd does not support
 * readiness waiting), or the negated errno of the fd's first use (fcntl):
 * as the section says, but no error of a read or a write. */
CORO_API int coro_wait_fd(int fd, unsigned events, int64_t deadline);

/* Read up to len bytes, as read(2): returns the bytes read (> 0; fewer than
 * len if that is what is there), 0 at end of file, or an error (see above). */
CORO_API ssize_t coro_fd_read(int fd, void *buf, size_t len, int64_t deadline);

/* Write up to len bytes, as write(2): returns the bytes written (> 0, possibly
 * fewer than len: a partial write; see coro_fd_write_all), or an error above
 * (-EPIPE: the reader is gone). */
CORO_API ssize_t coro_fd_write(int fd, const void *buf, size_t len, int64_t deadline);

/* Write all len bytes, waiting as often as needed.  Returns 0 once all are
 * written, or the error that stopped it (an error above, as coro_fd_write());
 * either way *written (if not NULL) says how many bytes were written. */
CORO_API int coro_fd_write_all(int fd, const void *buf, size_t len, size_t *written,
                               int64_t deadline);

/* Scatter/gather forms of coro_fd_read/coro_fd_write (readv(2)/writev(2)):
 * the same returns; -EINVAL for iovcnt <= 0 or over IOV_MAX. */
CORO_API ssize_t coro_fd_readv(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);
CORO_API ssize_t coro_fd_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);

/* Write every byte of the iovcnt entries of iov, in order, waiting as often
 * as needed: a partial write goes on from the first byte the kernel did not
 * take, so nothing is lost or written twice.  iov itself is not modified (the
 * same array may go to many fds).  The deadline is for the whole call.
 * Returns 0 once all are written (at once if there is nothing to write:
 * iovcnt 0, or only empty entries), or the error that stopped it; either way
 * *written (if not NULL) says how many bytes were written: after -EPIPE
 * (the reader is gone, the peer closed mid-write), those the kernel took
 * before.  Errors: -EINVAL (iovcnt < 0 or over IOV_MAX, iov NULL with
 * iovcnt > 0, an entry with a NULL base and a length, a total over
 * SSIZE_MAX: nothing is written), -EBADF, -EPIPE, -ETIMEDOUT, -ECANCELED,
 * -EDEADLK, -ENOMEM and the other errors of coro_fd_writev. */
CORO_API int coro_fd_writev_all(int fd, const struct iovec *iov, int iovcnt, size_t *written,
                                int64_t deadline);

/* Wake every coroutine of this thread waiting on fd (their calls return
 * -EBADF), forget the fd, and close it.  Returns 0, or -EBADF (fd not open),
 * or another negated errno of close(2) (the fd is closed all the same). */
CORO_API int coro_fd_close(int fd);

/* What coro_fd_close does but the close: wake every coroutine of this thread
 * waiting on fd (-EBADF) and forget the fd (its registration with the
 * backend included), for an fd that will be closed by other means (plain
 * close(), fclose(), a library) or handed to code that expects it blocking
 * (O_NONBLOCK stays set: clear it with fcntl if needed).  The fd need not be
 * open: forgetting one closed by close() already repairs the thread's table.
 * Returns 0, or -EBADF (fd < 0). */
CORO_API int coro_fd_forget(int fd);

/* Spawn a micro-thread when fd is ready, not before: an idle connection then
 * holds no coroutine and no stack while it waits, only a small heap record
 * (about a hundred bytes, and a copy of attr's name if it has one; a parked
 * micro-thread holds at least the page at the top of its stack).
 *
 * Registers a watch on fd for `events` (CORO_READ | CORO_WRITE) and returns at
 * once.  Exactly once, when the first of these comes:
 *   - fd is ready for one of `events`, or reports an error or a hang-up (it is
 *     checked now too: an fd ready already fires at the scheduler's next turn);
 *   - `deadline` passes (-1: never; 0 or a time past: at the next turn, unless
 *     fd is ready now);
 *   - coro_fd_close() or coro_fd_forget() is called on fd (by this thread);
 * the watch fires: a detached micro-thread fn(arg) is spawned with attr (NULL:
 * the defaults; its name is copied now) on this thread's scheduler, as
 * coro_spawn(NULL, fn, arg, attr) would, at the scheduler's next round.  fn
 * finds out why by itself, with a wait that does not wait:
 *     int r = coro_wait_fd(fd, CORO_READ, 0);
 *     r > 0: ready (or an error the next read reports); -EBADF: fd was
 *     closed; any other r < 0 (a timeout): not ready, the deadline passed
 *     (or fd was forgotten).
 * fd belongs to fn once the watch fires (close it or watch it again).  If fd
 * may be closed by coro_fd_close while watched and its number reused by the
 * time fn runs, fn cannot tell from the fd alone: let the closer tell it
 * through arg.  A watch cannot be withdrawn but by firing it (coro_fd_forget).
 *
 * While watches wait, coro_run() does not return: a watch is live work, as a
 * parked micro-thread; one with no deadline on an fd never ready keeps it
 * waiting forever, as a micro-thread waiting on that fd forever does.  A watch
 * may be registered outside coro_run (before it, or from main): it fires once
 * coro_run runs.  If the micro-thread cannot be created when the watch fires
 * (no memory for its stack) the watch is kept and spawning is tried again at
 * the next round (at most every millisecond).  Watches of a thread that exits
 * are freed, their fn never runs.  A fork's child keeps its copies (they fire
 * in the child as in the parent).
 *
 * One fd may carry several watches and parked coroutines at once: readiness
 * fires the watches that wait for it and wakes the coroutines.  The rules of
 * the I/O section apply (the fd is made non-blocking; close it with
 * coro_fd_close or tell the library with coro_fd_forget: a plain close() of a
 * watched fd leaves the watch waiting for its deadline).
 *
 * Returns 0, or -EINVAL (fn NULL, events 0 or unknown bits, attr's stack_size
 * outside CORO_STACK_MIN..CORO_STACK_MAX), -EBADF (fd < 0 or not open, or the
 * library's own), -ENOMEM (no memory for the record, the fd table or the
 * deadline heap), the negated errno of the first use of the fd (fcntl) or of
 * the backend (-EMFILE: no fd left for epoll; -EPERM: fd does not support
 * readiness waiting).  It works with no scheduler running: registering does
 * not wait.  On error
 * nothing is registered and fn never runs.
 * -EBUSY too, on io_uring (its submission queue stayed full: see coro_io(3)). */
CORO_API int coro_spawn_on_ready(int fd, unsigned events, int64_t deadline, coro_fn fn, void *arg,
                                 const coro_attr *attr);

/* Accept a connection on listening socket fd, as accept(2); addr and addrlen
 * may be NULL.  Returns the new socket (non-blocking, close-on-exec), or an
 * error above (-EINVAL: fd is not listening; -EMFILE; -ECONNABORTED...).
 * An accept-like wait: many coroutines accepting on one socket are not a
 * herd.  Each connection wakes one of them (the one waiting longest); that
 * one, once it has taken a connection, wakes the next (more may be queued),
 * and one cancelled between its wake and its turn takes nothing and returns
 * -ECANCELED, passing the wake on, so no connection waits while an acceptor
 * sleeps.  (coro_wait_fd(fd, CORO_READ) still wakes every waiter.)
 * -EBUSY too, on io_uring (its submission queue stayed full: see coro_io(3)). */
CORO_API int coro_sock_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline);

/* Connect socket fd to addr, waiting until the connection is made.  Returns 0,
 * or an error above (-ECONNREFUSED, -ENETUNREACH, -ETIMEDOUT: the deadline passed
 * first; the socket is then half-way and should be closed). */
CORO_API int coro_sock_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                               int64_t deadline);

/* recv(2)/send(2) on a socket with the flags given (send adds MSG_NOSIGNAL):
 * socket forms of coro_fd_read/coro_fd_write, with the same returns
 * (-ECONNRESET: the peer reset the connection; -EPIPE: it is closed for
 * writing; -ENOTSOCK). */
CORO_API ssize_t coro_sock_recv(int fd, void *buf, size_t len, int flags, int64_t deadline);
CORO_API ssize_t coro_sock_send(int fd, const void *buf, size_t len, int flags, int64_t deadline);

/* ========================================================================== */
/* Offload: blocking calls on a thread pool                                   */
/* ========================================================================== */
/*
 * For the calls that cannot be made non-blocking -- name resolution, reads and
 * writes of regular files, a library that blocks -- a small pool of threads
 * runs them while the calling coroutine parks (its thread goes on running the
 * other micro-threads).  One pool per process: workers are started on first
 * use, one more whenever a job is queued and none is idle, up to a bound (4;
 * see coro_offload_threads), and stay until the process exits; they block
 * every signal.  A worker hands the job back to the caller's thread through an
 * eventfd its I/O layer waits on.  The calls take a deadline and a cancel like
 * every blocking call, with this meaning:
 *   - A job not yet started by a worker is withdrawn: the call returns
 *     -ETIMEDOUT or -ECANCELED and fn never runs.
 *   - A job already running cannot be interrupted.  coro_offload and the file
 *     calls then wait for it to finish -- fn may be writing through arg into
 *     the caller's memory, so they must not return before it does -- and
 *     deliver its result as if no deadline had passed (a cancel shows at the
 *     next blocking call).  coro_getaddrinfo owns all the job's memory, so it
 *     returns -ETIMEDOUT or -ECANCELED at once and the worker frees the
 *     result when it is done.
 *   - A thread that exits while its jobs are queued, running or finished but
 *     not yet returned to their callers (pthread_exit from a micro-thread,
 *     say) takes its end of the pool with it: its eventfd is closed at once,
 *     its queued jobs never run, its finished ones are freed with it, and
 *     each running one is freed by its worker when fn returns (fn's result
 *     is dropped -- coro_getaddrinfo's is freed; fn itself runs to its end,
 *     so what arg points to must outlive it).
 * Calls that cannot wait fail before queuing anything: -ETIMEDOUT (deadline 0
 * or past), -ECANCELED, -EDEADLK (no scheduler runs on the thread: a job
 * always has to wait).  Besides: -ENOMEM, and -EAGAIN (or another negated
 * errno of pthread_create) when no worker exists and none can be started;
 * -ESHUTDOWN when the process is exiting (its atexit handlers have stopped
 * the pool);
 * the errors of the first I/O call of the thread (its eventfd: -EMFILE);
 * -EBUSY on io_uring (its submission queue stayed full: see coro_io(3)).
 */

/* The most workers coro_offload_threads() accepts. */
#define CORO_OFFLOAD_THREADS_MAX 256

/* Run fn(arg) on a worker thread; the calling coroutine parks until it has
 * returned, and *result (if not NULL) receives its return value.  Returns 0,
 * or -EINVAL (fn NULL), -EFAULT (arg points into the thread's shared stack:
 * see CORO_STACK_MODE_COPY), or an error above. */
CORO_API int coro_offload(void *(*fn)(void *), void *arg, void **result, int64_t deadline);

/* Set the most worker threads the pool may have (1 .. CORO_OFFLOAD_THREADS_MAX;
 * a lower bound than the workers already started stops none of them); 0 only
 * asks.  Returns the bound before the call (by default 4, or
 * CORO_OFFLOAD_THREADS from the environment when it holds a number in range),
 * or -EINVAL. */
CORO_API int coro_offload_threads(int n);

struct addrinfo; /* <netdb.h> */

/* getaddrinfo(3) on a worker: resolves node and/or service (either may be
 * NULL, not both) with hints (may be NULL) into *res, to be freed with
 * freeaddrinfo().  Returns 0, or -EINVAL (res NULL, node and service both
 * NULL, bad hints flags), -ENOENT (no such name, or no address of the family
 * asked: EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY), -EAGAIN (the name server
 * failed for now: EAI_AGAIN), -EAFNOSUPPORT (EAI_FAMILY), -ESOCKTNOSUPPORT
 * (EAI_SOCKTYPE), -EPROTONOSUPPORT (service unknown for that socket type:
 * EAI_SERVICE), -ENOMEM, -EOVERFLOW, the errno of EAI_SYSTEM, -EIO (EAI_FAIL,
 * anything else), or an error above (a deadline or cancel returns at once). */
CORO_API int coro_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                              struct addrinfo **res, int64_t deadline);

/* pread(2) / pwrite(2) of a regular file on a worker (reads and writes of
 * regular files block the thread whatever O_NONBLOCK says).  Return the bytes
 * read (0 at end of file) or written, or -EBADF (fd < 0, or not open for
 * that), -EINVAL (buf NULL with len > 0, off < 0), -EFAULT (buf in the
 * thread's shared stack: see CORO_STACK_MODE_COPY), -ESPIPE (not seekable),
 * the call's other errors (-EIO, -ENOSPC, ...), or an error above. */
CORO_API ssize_t coro_file_pread(int fd, void *buf, size_t len, off_t off, int64_t deadline);
CORO_API ssize_t coro_file_pwrite(int fd, const void *buf, size_t len, off_t off, int64_t deadline);

/* ========================================================================== */
/* Networking                                                     coro_net(3) */
/* ========================================================================== */
/*
 * TCP over IPv4 and IPv6.  coro_tcp_listen takes numeric addresses
 * ("127.0.0.1", "::1", "[::1]"); coro_tcp_dial takes host names too, resolved
 * with coro_getaddrinfo on the offload pool.  Sockets are non-blocking and
 * close-on-exec; close them with coro_fd_close().
 */

/* Flags of coro_tcp_listen(). */
enum {
  CORO_TCP_REUSEPORT = 1 /* SO_REUSEPORT: several sockets (processes) share the port */
};

/* A TCP socket listening on host:port (host NULL or "": every IPv4 address;
 * port 0: one the kernel picks, see coro_sock_port), with SO_REUSEADDR;
 * backlog < 0 means SOMAXCONN.  Returns the socket, or -EINVAL (host not a
 * numeric address, port outside 0..65535, an unknown flag), -EADDRINUSE,
 * -EADDRNOTAVAIL, -EAFNOSUPPORT (no IPv6 here), -EACCES, -EMFILE, or another
 * negated errno of socket, setsockopt, bind or listen (-ENFILE, -ENOBUFS,
 * -ENOMEM). */
CORO_API int coro_tcp_listen(const char *host, int port, unsigned flags, int backlog);

/* A TCP connection to host:port, made before the deadline.  host is a
 * numeric address or a name; a name is resolved (coro_getaddrinfo, which needs
 * a running scheduler: -EDEADLK outside one) and its addresses are tried in
 * turn until one connects (the error of the last one otherwise).  Returns the
 * connected socket, or -EINVAL (host NULL or "", port outside 1..65535),
 * -ENOENT (no such name), -EAGAIN (the name server failed for now) and the
 * other errors of coro_getaddrinfo, -ECONNREFUSED, -ENETUNREACH,
 * -EAFNOSUPPORT, -EMFILE, -ETIMEDOUT, -ECANCELED, -EDEADLK (nothing is left
 * open on failure).
 * -EBUSY too, on io_uring (its submission queue stayed full: see coro_io(3)). */
CORO_API int coro_tcp_dial(const char *host, int port, int64_t deadline);

/* The local port of socket fd (after a listen on port 0, say), or -EBADF,
 * -ENOTSOCK, -EAFNOSUPPORT (not an IP socket). */
CORO_API int coro_sock_port(int fd);

/* A buffered reader over an fd, for line- or frame-based protocols: it reads
 * in large pieces and hands out lines, exact byte counts or frames.  It does
 * not own the fd.  Used by one coroutine at a time. */
typedef struct coro_reader coro_reader;

/* The length prefix of a frame: 4 bytes, big-endian (network order). */
#define CORO_FRAME_HEADER 4

/* A reader over fd with a buffer of `size` bytes (16 .. 1 GiB; the longest
 * line it can return).  Returns 0, or -EINVAL (out NULL, fd < 0, size out of
 * range), -ENOMEM. */
CORO_API int coro_reader_create(coro_reader **out, int fd, size_t size);

/* Free the reader (not the fd).  Returns 0, or -EINVAL (r NULL). */
CORO_API int coro_reader_destroy(coro_reader *r);

/* Read one line, its '\n' included, into line[0..size-1] and NUL-terminate it
 * (getline's contract).  Returns its length with the '\n' (> 0; at end of
 * file, an unterminated last line is returned without one), 0 at end of file,
 * or -EMSGSIZE when no '\n' comes within the first size - 1 bytes (or the
 * reader's buffer size): nothing is consumed, coro_reader_read can take it.
 * -EINVAL (r or line NULL, size < 2), and the errors of coro_fd_read: a
 * timeout or a cancel consumes nothing. */
CORO_API ssize_t coro_reader_line(coro_reader *r, char *line, size_t size, int64_t deadline);

/* Read up to len bytes: what is buffered first, else one read of the fd.
 * Returns the bytes read (> 0), 0 at end of file, -EINVAL (r NULL, or buf
 * NULL with len > 0), or the errors of coro_fd_read(). */
CORO_API ssize_t coro_reader_read(coro_reader *r, void *buf, size_t len, int64_t deadline);

/* Read exactly len bytes.  Returns len, or fewer when end of file came first
 * (0: at once), or the errors of coro_reader_read() (after some bytes were
 * read, those are lost to the caller: the stream is out of step, close it). */
CORO_API ssize_t coro_reader_read_full(coro_reader *r, void *buf, size_t len, int64_t deadline);

/* Read one frame: a CORO_FRAME_HEADER length prefix, then that many bytes into
 * buf.  Returns 1 with the payload length in *len, 0 at end of file before a
 * frame begins, -EMSGSIZE if the frame is longer than size (nothing is
 * consumed), -EPROTO if end of file comes inside a frame, -EINVAL (r or len
 * NULL, buf NULL with size > 0), or the errors of coro_fd_read() (inside a
 * frame the stream is then out of step: close it). */
CORO_API int coro_reader_frame(coro_reader *r, void *buf, size_t size, size_t *len,
                               int64_t deadline);

/* A buffered writer over an fd: small writes are copied into its buffer and
 * go out together at the next flush (or when the buffer is full), one system
 * call for many messages.  It does not own the fd and never flushes by
 * itself at a deadline: call coro_writer_flush() when a batch is complete
 * (a protocol's reply, a round of a broadcast).  Used by one coroutine at a
 * time.
 *
 * Every byte a write accepts is written once, in order, or waits in the
 * buffer (coro_writer_pending() says how many).  A write that does not fit
 * goes out in one writev together with what is buffered, without a copy,
 * until the rest fits.  Partial writes and EAGAIN are handled inside (the
 * coroutine parks until the fd is writable).  A deadline (-ETIMEDOUT), a
 * cancel (-ECANCELED), no scheduler (-EDEADLK) or no memory (-ENOMEM) lose
 * nothing: a later flush writes what waits.  An error of the fd itself
 * (-EPIPE: the peer is gone; -ECONNRESET, -EBADF, -EIO...) breaks the
 * stream: it sticks, and every later write and flush returns it at once
 * (what was pending is never written; close the fd). */
typedef struct coro_writer coro_writer;

/* A writer to fd with a buffer of `size` bytes (16 .. 1 GiB).  Returns 0, or
 * -EINVAL (out NULL, fd < 0, size out of range), -ENOMEM. */
CORO_API int coro_writer_create(coro_writer **out, int fd, size_t size);

/* Free the writer (not the fd), dropping what it still holds: flush first.
 * Returns 0, or -EINVAL (w NULL). */
CORO_API int coro_writer_destroy(coro_writer *w);

/* Accept len bytes of buf: copied into the buffer when they fit (no system
 * call), else written together with what is buffered until the rest fits.
 * Returns 0 once all len are accepted, or an error; either way *accepted (if
 * not NULL) says how many bytes of buf were, a prefix: on error, those
 * written before it (0 if it came while earlier bytes were being written),
 * the rest of buf is the caller's to write again.  len 0 does nothing.
 * Errors: -EINVAL (w NULL, buf NULL with len > 0), the stream's sticky error,
 * and the errors of coro_fd_writev_all() (-EPIPE, -ETIMEDOUT, -ECANCELED,
 * -EBUSY on io_uring...). */
CORO_API int coro_writer_write(coro_writer *w, const void *buf, size_t len, size_t *accepted,
                               int64_t deadline);

/* Write everything buffered.  Returns 0 once the buffer is empty (at once if
 * it was), or an error: after a deadline or a cancel the bytes not written
 * stay buffered, in order, for the next flush.  Errors: -EINVAL (w NULL),
 * the stream's sticky error, and the errors of coro_fd_writev_all() (-EPIPE,
 * -ETIMEDOUT, -ECANCELED, -EBUSY on io_uring...). */
CORO_API int coro_writer_flush(coro_writer *w, int64_t deadline);

/* Bytes accepted and not yet written, or -EINVAL (w NULL). */
CORO_API ssize_t coro_writer_pending(const coro_writer *w);

/* Write one frame (length prefix and payload) to fd, all of it.  Returns 0, or
 * -EMSGSIZE (len over UINT32_MAX), -EINVAL (buf NULL with len > 0), or the
 * errors of coro_fd_writev_all() (part of the frame may then have been
 * written). */
CORO_API int coro_frame_write(int fd, const void *buf, size_t len, int64_t deadline);

/* ========================================================================== */
/* Processes: the pre-fork runner                             coro_cluster(3) */
/* ========================================================================== */
/*
 * A scheduler uses one core.  coro_cluster_run() uses them all: it forks N
 * worker processes, each running its own scheduler with the caller's main
 * coroutine, and supervises them from the calling process (the parent), which
 * never runs a scheduler itself:
 *
 *   - a worker that exits or crashes is restarted.  The restart rule:
 *       - a worker that served -- it reported ready, then lived at least
 *         healthy_ns more -- is replaced at once, and its slot's count of
 *         fast failures is reset;
 *       - a fast failure -- a worker that died before it was ready, or
 *         within healthy_ns of its readiness -- is replaced after a delay
 *         that doubles at each consecutive one (backoff_min_ns ..
 *         backoff_max_ns): a crash loop never spins;
 *       - but the last worker up (no other worker of the runner is running
 *         or starting), when it had been ready, is replaced after
 *         backoff_min_ns at most, however long its slot's delay has grown:
 *         the service is never left with zero workers for the length of a
 *         grown backoff while it has workers that can get ready (one that
 *         never gets ready gains nothing by being forked sooner, and keeps
 *         its delay);
 *   - SIGTERM or SIGINT to the parent: every worker gets SIGTERM, which the
 *     runner turns into a stop that user code sees (coro_cluster_stopping,
 *     coro_cluster_wait_stop): stop accepting, finish what is in flight, let
 *     main return.  Workers still running drain_ns after the stop are
 *     SIGKILLed (at once after a second SIGTERM or SIGINT).
 *     coro_cluster_run returns once every worker has exited;
 *   - SIGHUP: a rolling restart, one worker at a time: its replacement is
 *     started and, once ready (its main coroutine has run up to its first
 *     wait), the old worker is stopped as above; the service never has zero
 *     workers (a replacement that dies before it is ready is restarted with
 *     the backoff while the old worker keeps serving; one that never gets
 *     ready holds the roll there: the old one is never stopped for it);
 *   - workers never outlive the parent (PR_SET_PDEATHSIG(SIGKILL), and a
 *     worker whose parent died while it was being forked exits at once);
 *   - every start, readiness, exit (status or signal), restart delay, fork
 *     failure and kill is logged with the worker's index and pid.
 *
 * Listening sockets: open them before the call (they are inherited by every
 * worker and stay open in the parent for the restarts), or open one per
 * worker with CORO_TCP_REUSEPORT in worker_init (the kernel then spreads the
 * connections over the workers' accept queues).
 *
 * Signals: the parent blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD in the
 * calling thread while it runs (other threads of the process should block
 * them too); only processes it forked are reaped (waitpid on their pids).
 * SIGCHLD's action is set to the default while it runs (an ignored SIGCHLD
 * would let the kernel reap the workers before their status is read) and
 * restored after, and in each worker.
 * In a worker SIGTERM, SIGINT and SIGHUP stay blocked: SIGTERM or SIGINT
 * (the parent's, or one sent to the worker directly) starts the stop.  The
 * runner waits for it with coro_signal_wait(), so a worker's own code that
 * waits for it the same way (a server written to run alone too) is woken by
 * the same delivery (see coro_signal_wait: every waiter gets it).
 * A worker leaves with _exit() after flushing stdio: the parent's atexit
 * handlers never run in it.
 */

/* The largest number of workers. */
#define CORO_CLUSTER_MAX 1024

/* Options of coro_cluster_run().  Initialise with coro_cluster_opts_init(). */
typedef struct coro_cluster_opts {
  int workers;           /* worker processes, 1..CORO_CLUSTER_MAX; 0: the number of
                            online CPUs (default) */
  const int *listen_fds; /* sockets opened before the call, inherited by every
                            worker (checked open; informative otherwise); may be NULL */
  size_t nlisten;        /* entries in listen_fds */
  int (*worker_init)(int index, void *arg); /* run in each worker before its
                            scheduler starts, with coro_cluster_run's arg: open
                            per-worker sockets here.  < 0: the worker exits with
                            status 1 (restarted with backoff).  NULL: none */
  int64_t drain_ns;                         /* how long workers have after a stop before SIGKILL
                             (default 10 s; 0: kill at once) */
  int64_t backoff_min_ns; /* restart delay after the first fast failure (default 100 ms) */
  int64_t backoff_max_ns; /* the most it grows to (default 30 s) */
  int64_t healthy_ns;     /* a worker that lived this long after its readiness
                             served: replaced at once, its slot's backoff
                             reset; one that died sooner, or before it was
                             ready, is a fast failure (default 1 s) */
  int log_fd;             /* where the parent writes its log lines; -1: nowhere
                             (default 2, stderr) */
  void (*log_fn)(const char *line, void *arg); /* if not NULL, gets each log
                             line (no '\n') instead of log_fd */
  void *log_arg;                               /* log_fn's argument */
} coro_cluster_opts;

/* Fill *o with the defaults.  Returns 0, or -EINVAL (o NULL). */
CORO_API int coro_cluster_opts_init(coro_cluster_opts *o);

/* Run worker_main(arg) as the main micro-thread of o->workers worker
 * processes (o NULL: the defaults) and supervise them as described above,
 * until a SIGTERM or SIGINT has stopped them all.  Returns 0 then.  In a
 * worker, the process exits when main has returned (status 0, or 1 if it
 * failed) and no micro-thread is left.
 * Errors (nothing started): -EINVAL (worker_main NULL, a field out of range:
 * workers < 0 or over CORO_CLUSTER_MAX, listen_fds NULL with nlisten > 0,
 * negative times, backoff_max_ns < backoff_min_ns, backoff_min_ns 0,
 * log_fd < -1), -EBADF (a listen fd is not open), -EBUSY (the calling thread
 * runs a scheduler, has live coroutines or pending coro_spawn_on_ready
 * watches: the workers would inherit them),
 * -EPERM (called inside a cluster worker), -ENOMEM, and the negated errno
 * of sigaction, pthread_sigmask or signalfd (-EMFILE).  A failed fork is not an error: it is
 * logged and retried with backoff. */
CORO_API int coro_cluster_run(const coro_cluster_opts *o, coro_fn worker_main, void *arg);

/* In a cluster worker: its index, 0..workers-1 (a replacement keeps the index
 * of the worker it replaces).  -ESRCH in any other process. */
CORO_API int coro_cluster_index(void);

/* In a cluster worker: 1 once the stop has come (SIGTERM or SIGINT), else 0.
 * 0 outside a worker.  Never fails. */
CORO_API int coro_cluster_stopping(void);

/* In a cluster worker, from a coroutine of its scheduler: wait until the stop
 * comes (0 at once if it has).  Returns 0, or -ETIMEDOUT, -ECANCELED,
 * -EDEADLK (no scheduler runs), -EPERM (another thread), -ESRCH (not a
 * cluster worker), -ENOMEM (as coro_chan_recv, which it waits in: a
 * copy-stack caller's waiter record, or the deadline's timer). */
CORO_API int coro_cluster_wait_stop(int64_t deadline);

/* ========================================================================== */
/* Processes: the process pool                                   coro_pool(3) */
/* ========================================================================== */
/*
 * A pool of worker processes for CPU-bound work items, used from coroutines:
 * coro_pool_submit() sends the request bytes to an idle worker over its
 * socketpair (length-prefixed), parks the calling coroutine -- not the thread
 * -- until the response bytes are back, and returns them.  Submitters that
 * find no idle worker wait first in, first out.  Each worker runs the
 * handler in a loop, one item at a time.
 *
 * Workers are forked by coro_pool_create() and by the replacement of a worker
 * that died.  The pool may be created from anywhere, also from a coroutine
 * while a scheduler runs: in the child the handler loop runs on a fresh thread
 * (its own stack and an empty libcoro state) and the child then _exit()s; it
 * never returns into the coroutine that forked it and never runs the parent's
 * scheduler.  The handler must not touch coroutines, channels or locks the
 * parent's scheduler owns (the child has copies that nothing drives); it may
 * create coroutines and run a scheduler of its own on its thread.  A worker
 * keeps only the fds exec would keep: every fd with FD_CLOEXEC (all that
 * libcoro opens, and what the program opened with O_CLOEXEC/SOCK_CLOEXEC) is
 * closed in it, so a connection the parent closes is really closed and
 * another pool's worker sees its socket's EOF; fds without the flag (stdio)
 * are inherited.  A fork of a multi-threaded process (libcoro's offload
 * threads make one) copies only the forking thread: a lock another thread
 * held then stays held in the worker, so a handler should not resolve names
 * (glibc's NSS) or take locks of the program's other threads.  A
 * worker dies with the thread that created the pool (PR_SET_PDEATHSIG), and
 * exits when its socket closes.  Forking copies the whole address space (cheap
 * with copy-on-write, but a huge parent forks slower): create pools early.
 *
 * A worker that dies mid-item (crash, kill, OOM) is replaced by a new one,
 * and the item fails with -ECHILD, or is retried once on another worker with
 * CORO_POOL_RETRY.  An item is never silently lost and its submitter never
 * hangs.  A pool is used by the coroutines of the thread that created it.
 */
typedef struct coro_pool coro_pool;

/* The work of a pool's worker, run in the worker process: handle the request
 * req[0..len-1] and store a response of *resp_len bytes in *resp, which must
 * come from malloc() (the worker frees it after sending; NULL with length 0
 * for an empty response).  Return >= 0 for success, or a negative code that
 * coro_pool_submit() returns to the submitter (a negated errno). */
typedef int (*coro_pool_handler)(const void *req, size_t len, void **resp, size_t *resp_len,
                                 void *arg);

/* Flags of coro_pool_opts. */
enum {
  CORO_POOL_RETRY = 1 /* an item whose worker died is retried once (on a new worker) */
};

/* The largest item (request or response) a pool accepts. */
#define CORO_POOL_ITEM_MAX (CORO__SIZE(1) << 30)

/* Options of coro_pool_create().  Initialise with coro_pool_opts_init(). */
typedef struct coro_pool_opts {
  unsigned flags;  /* CORO_POOL_* */
  size_t max_item; /* the largest request or response, 1..CORO_POOL_ITEM_MAX (default 64 MiB) */
  void *arg;       /* the handler's argument */
} coro_pool_opts;

/* Fill *o with the defaults.  Returns 0, or -EINVAL (o NULL). */
CORO_API int coro_pool_opts_init(coro_pool_opts *o);

/* Fork nworkers (1..CORO_CLUSTER_MAX) worker processes running handler
 * (opts NULL: the defaults).  Returns 0 and the pool in *out, or -EINVAL (out
 * or handler NULL, nworkers out of range, an unknown flag, max_item out of
 * range), -ENOMEM, the negated errno of socketpair or fork (-EAGAIN, -EMFILE):
 * then every worker already forked is stopped and reaped. */
CORO_API int coro_pool_create(coro_pool **out, int nworkers, coro_pool_handler handler,
                              const coro_pool_opts *opts);

/* From a coroutine of the pool's thread, with its scheduler running: run one
 * item on a worker.  Returns 0 with the response in *resp (malloc'd, len + 1
 * bytes with a NUL after the response, never NULL: free() it) and its length
 * in *resp_len; or the handler's negative code; or:
 *   -ECHILD     the worker died while handling the item (a new worker replaces
 *               it; with CORO_POOL_RETRY: it died twice, on two workers).  An
 *               item refused whole by a worker found dead (killed while idle)
 *               goes to its replacement instead, once, without the option;
 *   -ETIMEDOUT, -ECANCELED  the deadline passed or the caller was cancelled:
 *               if a worker had the item, it is killed and replaced (its
 *               response would come out of step);
 *   -EMSGSIZE   len or the response is over max_item;
 *   -EINVAL     p not a live pool (NULL, destroyed), req NULL with len > 0,
 *               resp or resp_len NULL;
 *   -EPERM      another thread's pool;
 *   -EDEADLK    not called from a coroutine of a running scheduler;
 *   -ENOMEM     no memory for the response, or (as coro_sem_acquire, which
 *               it waits in for a worker) a copy-stack caller's waiter record
 *               or the deadline's timer;
 *   -EAGAIN, -EMFILE  the negated errno of fork or socketpair when a dead
 *               worker could not be replaced (the next submit tries again);
 *   -EBUSY      io_uring: its submission queue stayed full (see coro_io(3)).
 * On any error *resp is NULL and *resp_len 0 (when they are not NULL). */
CORO_API int coro_pool_submit(coro_pool *p, const void *req, size_t len, void **resp,
                              size_t *resp_len, int64_t deadline);

/* Stop the workers (their sockets are closed: each exits after its current
 * item; one still alive 5 s later is SIGKILLed), reap them, and free the pool.
 * The thread waits (not parks) while they exit: they are idle, it is short.
 * Returns 0, or -EINVAL (p not a live pool), -EPERM (another thread's pool),
 * -EBUSY (items are in flight or waiting: nothing changes). */
CORO_API int coro_pool_destroy(coro_pool *p);

/* ========================================================================== */
/* Introspection: the live coroutines                                         */
/* ========================================================================== */

/* A snapshot of one live coroutine, as coro_list() reports it. */
typedef struct coro_info {
  coro *handle;             /* the coroutine (valid as long as it lives) */
  char name[CORO_NAME_MAX]; /* its name ("" if none) */
  int state;                /* as coro_get_state() */
  int micro_thread;         /* 1: spawned on the scheduler; 0: a generator */
  int cancelled;            /* 1: a micro-thread that was cancelled */
  const char *waiting_on;   /* what it waits for, or NULL: "sleep", "join",
                               "chan send", "chan recv", "select", "mutex",
                               "cond", "sem", "wait group", "group",
                               "fd read", "fd write", "fd" (both), "offload", "yield"
                               (runnable again after coro_sched_yield or
                               coro_yield), "start" (spawned, not started),
                               "chain" (a coroutine of its resume chain waits:
                               wait_object is that coroutine) */
  const void *wait_object;  /* the channel, lock, group or coroutine waited on */
  int64_t deadline;         /* when its wait times out, or -1 */
  size_t stack_size;        /* usable stack bytes */
  size_t stack_used;        /* bytes of stack in use now, from its top down to
                               its stack pointer (the coroutine object itself
                               sits at the top); 0 before it starts */
  size_t stack_high_water;  /* the deepest its stack has been, to the page: the
                               span from the top down to the lowest page the
                               kernel has committed (a reused stack may show a
                               former owner's depth); copy-stack mode: the
                               size of its saved-frames buffer: the deepest it
                               was saved at, to 16 bytes, until a save needs
                               under a quarter of it (a buffer of 1 KiB or
                               more is then given back for one that fits) */
  int copy_stack;           /* 1: copy-stack mode (stack_size is the shared
                               stack's, CORO_STACK_SHARED) */
  size_t stack_saved;       /* copy-stack mode: bytes of its frames kept in the
                               heap now (0 while they are on the shared stack,
                               and before it starts) */
} coro_info;

/* List the live coroutines of the calling thread -- created and not yet
 * destroyed: generators and micro-threads, newest first -- into out[0..n-1].
 * Returns how many are live, which may exceed n (call again with more room);
 * n 0 (out may be NULL) only counts.  -EINVAL if out is NULL and n is not 0. */
CORO_API long coro_list(coro_info *out, size_t n);

/* Write a table of coro_list() to fd, one line per coroutine: name, state,
 * what it waits on, stack used / high-water / size.  Safe to call from a
 * debugger.  (In gdb, and in a core file, tools/gdb/libcoro-gdb.py's
 * `info coroutines` shows every thread's coroutines and `coroutine ID bt`
 * their backtraces without calling into the process: see README.md.)
 * Returns the number of coroutines, or -EINVAL (fd < 0), or the negated
 * errno of a failed write (-EBADF, -EPIPE, -EIO, -ENOSPC...). */
CORO_API long coro_dump(int fd);

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

#endif /* CORO_H */
