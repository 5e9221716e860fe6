/* SPDX-License-Identifier: MIT */
/*
 * coro/sync.h - cooperative synchronisation: mutexes, condition variables,
 * semaphores and wait groups that park the waiting coroutine, never the
 * thread.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_SYNC_H
#define CORO_SYNC_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* CORO_SYNC_H */
