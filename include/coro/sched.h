/* SPDX-License-Identifier: MIT */
/*
 * coro/sched.h - micro-threads: coroutines spawned onto the thread's
 * cooperative scheduler, which runs them until they block; deadlines,
 * cancellation, the scheduling order (FIFO or seeded), and groups, which
 * own the micro-threads spawned into them (structured concurrency).
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_SCHED_H
#define CORO_SCHED_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* CORO_SCHED_H */
