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
 *   - Closing wakes every waiter with -EPIPE; elements still buffered stay for
 *     receivers to drain.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

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

/* Serve waiter w with its element copied, then wake it. */
static void serve(coro_chan *ch, coro__wait_list *l, coro__waiter *w) {
  coro__wait_remove(l, w);
  w->done = 1;
  coro__wake(&ch->owner->sched, w->who, 0);
}

/* Park on list l until served; returns 0 when served, else why not. */
static int wait_on(coro_chan *ch, coro__wait_list *l, void *data, int64_t deadline) {
  coro__tls *t = ch->owner;
  coro__waiter w = {.who = t->current, .data = data};
  coro__wait_push(l, &w);
  int rc = coro__park(t, deadline);
  coro__wait_remove(l, &w);
  if (w.done) return 0;
  return rc < 0 ? rc : -EPIPE; /* woken without being served: closed */
}

int coro_chan_send(coro_chan *ch, const void *elem, int64_t deadline) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (!elem) return -EINVAL;
  if (ch->closed) return -EPIPE;
  coro__waiter *r = coro__wait_first(&ch->receivers);
  if (r) { /* a receiver waits: the buffer is empty, hand it over */
    memcpy(r->data, elem, ch->elem_size);
    serve(ch, &ch->receivers, r);
    return 0;
  }
  if (ch->len < ch->capacity) {
    memcpy(slot(ch, ch->len++), elem, ch->elem_size);
    return 0;
  }
  return wait_on(ch, &ch->senders, (void *)(uintptr_t)elem, deadline);
}

int coro_chan_recv(coro_chan *ch, void *elem, int64_t deadline) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (!elem) return -EINVAL;
  if (ch->len) {
    memcpy(elem, slot(ch, 0), ch->elem_size);
    ch->head = (ch->head + 1) % ch->capacity;
    ch->len--;
    /* Room now: the first waiting sender's element joins the buffer. */
    coro__waiter *s = coro__wait_first(&ch->senders);
    if (s) {
      memcpy(slot(ch, ch->len++), s->data, ch->elem_size);
      serve(ch, &ch->senders, s);
    }
    return 0;
  }
  coro__waiter *s = coro__wait_first(&ch->senders);
  if (s) { /* unbuffered: take it straight from the sender */
    memcpy(elem, s->data, ch->elem_size);
    serve(ch, &ch->senders, s);
    return 0;
  }
  if (ch->closed) return -EPIPE;
  return wait_on(ch, &ch->receivers, elem, deadline);
}

int coro_chan_close(coro_chan *ch) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (ch->closed) return -EPIPE;
  ch->closed = 1;
  coro__sched *s = &ch->owner->sched;
  for (coro__waiter *w; (w = coro__wait_first(&ch->receivers));) {
    coro__wait_remove(&ch->receivers, w);
    coro__wake(s, w->who, -EPIPE);
  }
  for (coro__waiter *w; (w = coro__wait_first(&ch->senders));) {
    coro__wait_remove(&ch->senders, w);
    coro__wake(s, w->who, -EPIPE);
  }
  return 0;
}

long coro_chan_len(const coro_chan *ch) { return ch ? (long)ch->len : -EINVAL; }

int coro_chan_destroy(coro_chan *ch) {
  int rc = check(ch);
  if (rc < 0) return rc;
  if (ch->senders.head || ch->receivers.head) return -EBUSY;
  coro__free(ch);
  return 0;
}
