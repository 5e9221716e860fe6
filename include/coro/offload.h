/* SPDX-License-Identifier: MIT */
/*
 * coro/offload.h - blocking calls on a pool of threads (name resolution,
 * regular files, a library that blocks) while the calling coroutine parks.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_OFFLOAD_H
#define CORO_OFFLOAD_H

#include "core.h"

#include <sys/types.h> /* ssize_t, off_t */

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* CORO_OFFLOAD_H */
