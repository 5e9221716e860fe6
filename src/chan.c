/* SPDX-License-Identifier: MIT */
/*
 * chan.c - channels: FIFO queues of fixed-size elements between coroutines.
 *
 *     struct coro_chan
 *     +----------------------+
 *     | ring of `capacity`    |  elements buffered, oldest at `head`
 *     | elements              |
 *     | senders  (wait list)  |  each waiter's data points at the element
 *     | receivers (wait list) |  it sends, or at the buffer it receives into
 *     +----------------------+
 *
 * Invariants:
 *   - Receivers wait only while the buffer is empty; senders only while it is
 *     full (for an unbuffered channel, "full" always holds).  So both lists
 *     are never served at once.
 *   - Whoever completes a waiter's operation copies the element, marks the
 *     waiter done and wakes it with 0.  Waiters already woken by a deadline
 *     or a cancel are skipped (coro__wait_first): they are never served.
 *   - Closing wakes every waiter with -EPIPE (done = -1); elements still
 *     buffered stay for receivers to drain.
 *   - `nwaiting` counts the waiters that will touch the channel again: from
 *     their push until they are served (the server counts them off: a served
 *     waiter never looks at the channel again, so the channel may go at once)
 *     or, if woken otherwise (close, deadline, cancel), until their blocking
 *     call returns.  Destroy refuses while it is non-zero.
 *   - A select waits with one waiter per case, all on the same coroutine: the
 *     first channel to serve or close wins, and the others skip the rest of
 *     its waiters, as it is woken; it unlinks them all when it runs.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "copystack.h"
#include "scheduler.h"

/* Waiters live on the parked coroutine's stack and are linked into lists
 * that outlive the call; every parking call unlinks its waiter before it
 * returns, which gcc 12's -Wdangling-pointer cannot see through the park. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

struct coro_chan {
  coro__tls *owner;          /* thread whose coroutines may use it */
  size_t elem_size;          /* bytes per element */
  size_t capacity;           /* elements the ring holds; 0 = unbuffered */
  size_t head;               /* index of the oldest buffered element */
  size_t len;                /* elements buffered */
  int closed;                /* coro_chan_close() was called */
  size_t nwaiting;           /* waiters not served: linked, or woken by close,
                                a deadline or a cancel and not run yet;
                                coro_chan_destroy() is -EBUSY meanwhile */
  coro__wait_list senders;   /* waiting to send (buffer full) */
  coro__wait_list receivers; /* waiting to receive (buffer empty) */
  unsigned char ring[];      /* capacity * elem_size bytes */
};

int coro_chan_create(coro_chan **out, size_t elem_size, size_t capacity) {
  if (!out || elem_size == 0 || elem_size > CORO_CHAN_ELEM_MAX || capacity > CORO_CHAN_CAPACITY_MAX)
    return -EINVAL;
  if (capacity && elem_size > SIZE_MAX / capacity - sizeof(coro_chan)) return -ENOMEM;
  coro_chan *ch = coro__malloc(sizeof(*ch) + elem_size * capacity);
  if (!ch) return -ENOMEM;
  memset(ch, 0, sizeof(*ch));
  ch->owner = coro__tls_get();
  ch->elem_size = elem_size;
  ch->capacity = capacity;
  *out = ch;
  return 0;
}

static inline int check(const coro_chan *ch) {
  if (!ch) return -EINVAL;
  if (ch->owner != coro__tls_get()) return -EPERM;
  return 0;
}

static inline unsigned char *slot(coro_chan *ch, size_t i) {
  return ch->ring + ((ch->head + i) % ch->capacity) * ch->elem_size;
}

/* Copy one element: the common small sizes without a call to memcpy. */
static inline void copy_elem(void *dst, const void *src, size_t n) {
  switch (n) {
  case sizeof(void *):
    memcpy(dst, src, sizeof(void *));
    break;
  case sizeof(int):
    memcpy(dst, src, sizeof(int));
    break;
  case 2 * sizeof(void *):
    memcpy(dst, src, 2 * sizeof(void *));
    break;
  default:
    memcpy(dst, src, n);
  }
}

/* Serve waiter w with its element copied, then wake it. */
static void serve(coro_chan *ch, coro__wait_list *l, coro__waiter *w) {
  coro__wait_remove(l, w);
  ch->nwaiting--; /* it never touches the channel again */
  w->done = 1;
  coro__wake(&ch->owner->sched, w->who, 0);
}

/* Park on list l until served; returns 0 when served, else why not.  A
 * copy-stack caller's frames may be displaced while it waits, so its waiter
 * and the element in flight are in the heap: the element is copied there
 * before a send and from there after a receive. */
static int wait_on(coro_chan *ch, coro__wait_list *l, void *data, int64_t deadline) {
  coro__tls *t = ch->owner;
  size_t size = ch->elem_size;
  coro__waiter local, *w = coro__waiters_get(t, &local, 1, size);
  if (!w) return -ENOMEM;
  int sending = l == &ch->senders;
  *w = (coro__waiter){.who = t->current, .data = data};
  if (w != &local) {
    w->data = coro__waiter_buf(w, 1, size, 0);
    if (sending) memcpy(w->data, data, size);
  }
  coro__wait_push(l, w);
  ch->nwaiting++;
  int rc = coro__park(t, deadline, sending ? "chan send" : "chan recv", ch);
  int done = w->done;
  /* Served: the server unlinked and counted us off, and the channel may be
   * gone by now, so do not touch it.  Otherwise destroy waited for us. */
  if (done > 0) {
    if (w != &local && !sending) memcpy(data, w->data, size);
    rc = 0;
  } else {
    ch->nwaiting--;
    if (done)
      rc = -EPIPE; /* closed: close unlinked us */
    else
      coro__wait_remove(l, w);
  }
  coro__waiters_put(t, w, &local, 1, size);
  return rc;
}

/* Send without waiting: 0 done, -EPIPE closed, -EAGAIN it would have to wait.
 * This and try_recv return before any switch, so no mispredicted return is
 * at stake; they are CORO__HOT_INLINE (sys.h) because gcc out-lined them once
 * coro__wake grew, and channel ping-pong measured 10% slower for it (52.5
 * against 58.3 ns, bench/README.md, "The inlining regression"). */
static CORO__HOT_INLINE int try_send(coro_chan *ch, const void *elem) {
  if (ch->closed) return -EPIPE;
  coro__waiter *r = coro__wait_first(&ch->receivers);
  if (r) { /* a receiver waits: the buffer is empty, hand it over */
    copy_elem(r->data, elem, ch->elem_size);
    serve(ch, &ch->receivers, r);
    return 0;
  }
  if (ch->len < ch->capacity) {
    copy_elem(slot(ch, ch->len++), elem, ch->elem_size);
    return 0;
  }
  return -EAGAIN;
}

/* Receive without waiting: 0 done, -EPIPE closed and empty, -EAGAIN it would
 * have to wait. */
static CORO__HOT_INLINE int try_recv(coro_chan *ch, void *elem) {
  if (ch->len) {
    copy_elem(elem, slot(ch, 0), ch->elem_size);
    ch->head = (ch->head + 1) % ch->capacity;
    ch->len--;
    /* Room now: the first waiting sender's element joins the buffer. */
    coro__waiter *s = coro__wait_first(&ch->senders);
    if (s) {
      copy_elem(slot(ch, ch->len++), s->data, ch->elem_size);
      serve(ch, &ch->senders, s);
    }
    return 0;
  }
  coro__waiter *s = coro__wait_first(&ch->senders);
  if (s) { /* unbuffered: take it straight from the sender */
    copy_elem(elem, s->data, ch->elem_size);
    serve(ch, &ch->senders, s);
    return 0;
  }
  return ch->closed ? -EPIPE : -EAGAIN;
}

int coro_chan_send(coro_chan *ch, const void *elem, int64_t deadline) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (!elem) return -EINVAL;
  rc = try_send(ch, elem);
  if (rc != -EAGAIN) return rc;
  return wait_on(ch, &ch->senders, (void *)(uintptr_t)elem, deadline);
}

int coro_chan_recv(coro_chan *ch, void *elem, int64_t deadline) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (!elem) return -EINVAL;
  rc = try_recv(ch, elem);
  if (rc != -EAGAIN) return rc;
  return wait_on(ch, &ch->receivers, elem, deadline);
}

/* --- select ------------------------------------------------------------------------- */

#define SELECT_MAX 64

/* Could this case go ahead now (including "the channel is closed")? */
static int ready(coro_sel *c) {
  coro_chan *ch = c->ch;
  if (ch->closed) return 1;
  if (c->op == CORO_SEL_SEND)
    return ch->len < ch->capacity || coro__wait_first(&ch->receivers) != NULL;
  return ch->len > 0 || coro__wait_first(&ch->senders) != NULL;
}

/* The wait list a case's waiter goes on. */
static coro__wait_list *list_of(const coro_sel *c) {
  return c->op == CORO_SEL_SEND ? &c->ch->senders : &c->ch->receivers;
}

int coro_chan_select(coro_sel *cases, size_t n, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  if (!cases || n == 0 || n > SELECT_MAX) return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    coro_sel *c = &cases[i];
    if (!c->ch || !c->elem || (c->op != CORO_SEL_SEND && c->op != CORO_SEL_RECV)) return -EINVAL;
    if (c->ch->owner != t) return -EPERM;
    for (size_t j = 0; j < i; j++)
      if (cases[j].ch == c->ch && cases[j].op == c->op) return -EINVAL; /* duplicate */
  }
  /* Ready now: pick one at random, so that no case starves. */
  size_t readies[SELECT_MAX], nready = 0;
  for (size_t i = 0; i < n; i++)
    if (ready(&cases[i])) readies[nready++] = i;
  if (nready) {
    size_t i = readies[coro__sched_rand(&t->sched, nready)];
    coro_sel *c = &cases[i];
    c->result = c->op == CORO_SEL_SEND ? try_send(c->ch, c->elem) : try_recv(c->ch, c->elem);
    return (int)i;
  }
  /* Wait on every case at once; the first channel to serve us (or to
   * close) wins, and the others skip our waiters since we are woken.  A
   * copy-stack caller's waiters and elements are in the heap (see wait_on):
   * one buffer per case, of the largest element size. */
  size_t size = 0, sizes[SELECT_MAX]; /* a served case's channel may be gone */
  for (size_t i = 0; i < n; i++) {
    sizes[i] = cases[i].ch->elem_size;
    if (sizes[i] > size) size = sizes[i];
  }
  coro__waiter local[SELECT_MAX], *w = coro__waiters_get(t, local, n, size);
  if (!w) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    w[i] = (coro__waiter){.who = t->current, .data = cases[i].elem};
    if (w != local) {
      w[i].data = coro__waiter_buf(w, n, size, i);
      if (cases[i].op == CORO_SEL_SEND) memcpy(w[i].data, cases[i].elem, sizes[i]);
    }
    coro__wait_push(list_of(&cases[i]), &w[i]);
    cases[i].ch->nwaiting++;
  }
  int rc = coro__park(t, deadline, "select", cases[0].ch);
  int chosen = -1;
  for (size_t i = 0; i < n; i++) {
    if (w[i].done > 0) { /* served: unlinked, counted off; its channel may be gone */
      chosen = (int)i;
      cases[i].result = 0;
      if (w != local && cases[i].op == CORO_SEL_RECV) memcpy(cases[i].elem, w[i].data, sizes[i]);
      continue;
    }
    cases[i].ch->nwaiting--;
    if (w[i].done) { /* closed: close unlinked it */
      chosen = (int)i;
      cases[i].result = -EPIPE;
    } else {
      coro__wait_remove(list_of(&cases[i]), &w[i]);
    }
  }
  coro__waiters_put(t, w, local, n, size);
  return chosen >= 0 ? chosen : rc;
}

int coro_chan_close(coro_chan *ch) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (ch->closed) return -EPIPE;
  ch->closed = 1;
  coro__sched *s = &ch->owner->sched;
  for (coro__waiter *w; (w = coro__wait_first(&ch->receivers));) {
    coro__wait_remove(&ch->receivers, w);
    w->done = -1; /* closed: tells a select which of its cases it was */
    coro__wake(s, w->who, -EPIPE);
  }
  for (coro__waiter *w; (w = coro__wait_first(&ch->senders));) {
    coro__wait_remove(&ch->senders, w);
    w->done = -1;
    coro__wake(s, w->who, -EPIPE);
  }
  return 0;
}

long coro_chan_len(const coro_chan *ch) { return ch ? (long)ch->len : -EINVAL; }

int coro_chan_destroy(coro_chan *ch) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (ch->nwaiting) return -EBUSY; /* waiting, or woken and not run yet */
  coro__free(ch);
  return 0;
}
