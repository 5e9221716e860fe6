/* SPDX-License-Identifier: MIT */
/*
 * coro/proc.h - processes: the pre-fork runner, which runs a scheduler per
 * worker process and supervises them, and the process pool, which runs
 * CPU-bound work items in worker processes for coroutines.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_PROC_H
#define CORO_PROC_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* CORO_PROC_H */
