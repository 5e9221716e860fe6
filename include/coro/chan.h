/* SPDX-License-Identifier: MIT */
/*
 * coro/chan.h - channels: fixed-size elements carried first in first out
 * between the coroutines of one thread, buffered or not, and select over
 * several of them.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_CHAN_H
#define CORO_CHAN_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* CORO_CHAN_H */
