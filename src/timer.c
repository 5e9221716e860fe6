/* SPDX-License-Identifier: MIT */
/*
 * timer.c - the deadlines of parked coroutines, in a binary min-heap.
 *
 * heap[0] is the earliest deadline.  An entry holds the deadline itself, so
 * sifting reads only the heap's own array (a million sleepers' records stay
 * out of the cache); each coroutine in the heap knows its position
 * (cold.heap_at = index + 1; 0 = not in the heap, and CORO__S_TIMER set while
 * it is, for the wake's test), so removing one that was woken early (its event
 * came, or it was cancelled) costs O(log n) too: a million sleeping coroutines
 * cost no O(n) work per tick.
 *
 * A binary heap is not stable, so equal deadlines are ordered by a sequence
 * number taken when the timer is added: they fire first in, first out.
 */
#include <errno.h>

#include "scheduler.h"

/* Does a fire before b? */
static inline int before(const coro__timer *a, const coro__timer *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void place(coro__sched *s, size_t i, coro__timer e) {
  s->heap[i] = e;
  e.c->cold->heap_at = i + 1;
}

static void sift_up(coro__sched *s, size_t i) {
  coro__timer e = s->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(&e, &s->heap[parent])) break;
    place(s, i, s->heap[parent]);
    i = parent;
  }
  place(s, i, e);
}

static void sift_down(coro__sched *s, size_t i) {
  coro__timer e = s->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= s->nheap) break;
    if (child + 1 < s->nheap && before(&s->heap[child + 1], &s->heap[child])) child++;
    if (!before(&s->heap[child], &e)) break;
    place(s, i, s->heap[child]);
    i = child;
  }
  place(s, i, e);
}

int coro__timer_add(coro__sched *s, coro *c, int64_t deadline) {
  /* A parked coroutine has its cold part (park_checked made sure). */
  if (s->nheap == s->capheap) {
    size_t cap = s->capheap ? 2 * s->capheap : 64;
    coro__timer *heap = coro__malloc(cap * sizeof(*heap));
    if (!heap) return -ENOMEM;
    for (size_t i = 0; i < s->nheap; i++) heap[i] = s->heap[i];
    coro__free(s->heap);
    s->heap = heap;
    s->capheap = cap;
  }
  s->heap[s->nheap] = (coro__timer){.deadline = deadline, .seq = s->timer_seq++, .c = c};
  c->sched |= CORO__S_TIMER;
  sift_up(s, s->nheap++);
  return 0;
}

void coro__timer_remove(coro__sched *s, coro *c) {
  if (!(c->sched & CORO__S_TIMER)) return;
  c->sched &= ~(unsigned)CORO__S_TIMER;
  size_t i = c->cold->heap_at - 1;
  c->cold->heap_at = 0;
  coro__timer last = s->heap[--s->nheap];
  if (i == s->nheap) return; /* it was the last one */
  place(s, i, last);
  if (i > 0 && s->heap[(i - 1) / 2].deadline > last.deadline)
    sift_up(s, i);
  else
    sift_down(s, i);
}

coro *coro__timer_first(const coro__sched *s, int64_t *deadline) {
  if (!s->nheap) return NULL;
  *deadline = s->heap[0].deadline;
  return s->heap[0].c;
}

int64_t coro__timer_deadline(const coro__sched *s, const coro *c) {
  return c->sched & CORO__S_TIMER ? s->heap[c->cold->heap_at - 1].deadline : -1;
}
