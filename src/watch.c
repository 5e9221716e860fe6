/* SPDX-License-Identifier: MIT */
/*
 * watch.c - coro_spawn_on_ready(): a micro-thread that does not exist yet.
 *
 * A parked micro-thread costs at least the page at the top of its stack (its
 * object and frames).  A watch costs a small heap record: what to spawn (fn,
 * arg, the stack size and name of attr), the fd and events it waits for and
 * its deadline.  When the fd is ready, the deadline passes or the fd is
 * forgotten, the record fires: it leaves the fd and the deadline heap for the
 * thread's due list, and the scheduler's next turn spawns its micro-thread and
 * frees it.
 *
 *     coro__io (per thread)
 *     +-------------------+
 *     | fds[fd].watches --+--> watch <-> watch        armed: nwatch counts them
 *     | wheap[]  ---------+--> the armed ones with a deadline, min-heap
 *     | due, due_tail  ---+--> watch -> watch         fired: ndue counts them
 *     +-------------------+
 *
 * Invariants:
 *   - A watch is in exactly one list: its fd's (armed) or the due list.  It
 *     is in the deadline heap only while armed with a deadline >= 0.
 *   - Firing is done once: whoever fires (readiness, the deadline, a forget)
 *     unlinks it from its fd and from the heap.  Only spawning frees it, so a
 *     spawn that fails (no memory for a stack) leaves it due, tried again at
 *     the next round: a watch is never lost.
 *   - Deadlines: a second min-heap, of watch records, beside the scheduler's
 *     heap of coroutines (timer.c).  Sharing that heap would need a fake
 *     coroutine per watch or a tagged entry on the scheduler's hot path; a
 *     separate one costs coro_run one more look (coro__watch_round) whose
 *     result joins the earliest coroutine deadline to bound the sleep.
 *   - Records are malloc'd, so fds[] may move under them: only the list head
 *     lives in the entry, and no record points back into it.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Retrying a spawn that failed: not sooner than this (ns), so that a thread
 * out of memory does not spin while nothing else is runnable. */
#define RETRY_NS 1000000

struct coro__watch {
  coro__watch *prev, *next; /* neighbours in its fd's list or the due list */
  coro_fn fn;               /* what to spawn ... */
  void *arg;                /* ... with this argument */
  char *name;               /* attr's name, copied (coro__malloc), or NULL */
  size_t stack_size;        /* attr's stack size */
  int64_t deadline;         /* absolute; < 0: none */
  uint64_t seq;             /* order among equal deadlines */
  size_t heap_at;           /* 1 + index in io->wheap; 0 when not in it */
  int fd;                   /* the fd it watches */
  unsigned events;          /* CORO__IO_READ / WRITE it waits for */
};
_Static_assert(sizeof(coro__watch) <= 96, "a watch stays small: it is what an idle fd costs");

/* --- the deadline heap --------------------------------------------------------- */

static inline int before(const coro__watch *a, const coro__watch *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(coro__io *io, size_t i, coro__watch *w) {
  io->wheap[i] = w;
  w->heap_at = i + 1;
}

static void sift_up(coro__io *io, size_t i) {
  coro__watch *w = io->wheap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(w, io->wheap[parent])) break;
    place(io, i, io->wheap[parent]);
    i = parent;
  }
  place(io, i, w);
}

static void sift_down(coro__io *io, size_t i) {
  coro__watch *w = io->wheap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= io->nwheap) break;
    if (child + 1 < io->nwheap && before(io->wheap[child + 1], io->wheap[child])) child++;
    if (!before(io->wheap[child], w)) break;
    place(io, i, io->wheap[child]);
    i = child;
  }
  place(io, i, w);
}

/* Room for one more entry.  0 or -ENOMEM. */
static int heap_reserve(coro__io *io) {
  if (io->nwheap < io->capwheap) return 0;
  size_t cap = io->capwheap ? 2 * io->capwheap : 64;
  coro__watch **h = coro__malloc(cap * sizeof(*h));
  if (!h) return -ENOMEM;
  if (io->nwheap) memcpy(h, io->wheap, io->nwheap * sizeof(*h));
  coro__free(io->wheap);
  io->wheap = h;
  io->capwheap = cap;
  return 0;
}

static void heap_remove(coro__io *io, coro__watch *w) {
  if (!w->heap_at) return;
  size_t i = w->heap_at - 1;
  w->heap_at = 0;
  coro__watch *last = io->wheap[--io->nwheap];
  if (i == io->nwheap) return;
  place(io, i, last);
  if (i > 0 && before(last, io->wheap[(i - 1) / 2]))
    sift_up(io, i);
  else
    sift_down(io, i);
}

/* --- firing ------------------------------------------------------------------------ */

static void due_push(coro__io *io, coro__watch *w) {
  w->next = NULL;
  w->prev = io->due_tail;
  if (io->due_tail)
    io->due_tail->next = w;
  else
    io->due = w;
  io->due_tail = w;
  io->ndue++;
}

/* Take armed watch w off its fd (f) and the heap, onto the due list. */
static void fire(coro__io *io, coro__fd *f, coro__watch *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    f->watches = w->next;
  if (w->next) w->next->prev = w->prev;
  io->nwatch--;
  heap_remove(io, w);
  due_push(io, w);
}

void coro__watch_ready(coro__io *io, coro__fd *f, unsigned events) {
  for (coro__watch *w = f->watches, *next; w; w = next) {
    next = w->next;
    if (w->events & events || events & CORO__IO_ERR) fire(io, f, w);
  }
}

void coro__watch_forget(coro__io *io, coro__fd *f) {
  while (f->watches) fire(io, f, f->watches);
}

unsigned coro__watch_events(const coro__fd *f) {
  unsigned ev = 0;
  for (const coro__watch *w = f->watches; w; w = w->next) ev |= w->events;
  return ev;
}

static void drop(coro__watch *w) {
  coro__free(w->name);
  coro__free(w);
}

int64_t coro__watch_round(coro__tls *t) {
  coro__io *io = t->io;
  if (CORO__LIKELY(!io || (!io->nwatch && !io->ndue))) return -1;
  if (io->nwheap) {
    int64_t now = coro_now();
    /* In seeded order a round runs its micro-threads in any order: fire the
     * earliest due deadline only, the next ones at the next rounds, so that a
     * later deadline never runs first (as sched.c's fire_timers). */
    int64_t first = io->wheap[0]->deadline;
    while (io->nwheap && io->wheap[0]->deadline <= now &&
           (!t->sched.seeded || io->wheap[0]->deadline == first)) {
      coro__watch *w = io->wheap[0];
      fire(io, &io->fds[w->fd], w);
    }
  }
  /* Spawn in firing order; stop at the first failure (what failed for one
   * stack fails for the next) and keep the rest for the next round. */
  while (io->due) {
    coro__watch *w = io->due;
    coro_attr attr = {.stack_size = w->stack_size, .name = w->name};
    if (coro_spawn(NULL, w->fn, w->arg, &attr) < 0) return coro_now() + RETRY_NS;
    io->due = w->next;
    if (!io->due) io->due_tail = NULL;
    io->ndue--;
    drop(w);
  }
  return io->nwheap ? io->wheap[0]->deadline : -1;
}

void coro__watch_fini(coro__io *io) {
  for (size_t i = 0; i < io->nfds; i++) {
    for (coro__watch *w = io->fds[i].watches, *next; w; w = next) {
      next = w->next;
      drop(w);
    }
    io->fds[i].watches = NULL;
  }
  for (coro__watch *w = io->due, *next; w; w = next) {
    next = w->next;
    drop(w);
  }
  io->due = io->due_tail = NULL;
  io->nwatch = io->ndue = 0;
  coro__free(io->wheap);
  io->wheap = NULL;
  io->nwheap = io->capwheap = 0;
}

/* --- the call ---------------------------------------------------------------------- */

int coro_spawn_on_ready(int fd, unsigned events, int64_t deadline, coro_fn fn, void *arg,
                        const coro_attr *attr) {
  coro__tls *t = coro__tls_get();
  size_t size = attr ? attr->stack_size : CORO_STACK_DEFAULT;
  if (!fn || !events || events & ~(unsigned)(CORO_READ | CORO_WRITE) || size < CORO_STACK_MIN ||
      size > CORO_STACK_MAX)
    return -EINVAL;
  if (fd < 0) return -EBADF;
  /* The level now: readiness an epoll edge reported before (and nobody
   * consumed) would never be reported again; this also tells a closed fd. */
  int ready = coro__io_level(fd, events); /* asked for, or an error or hang-up */
  if (ready < 0) return ready;
  coro__io *io = NULL;
  int rc = coro__io_prepare(t, fd, &io);
  if (rc < 0) return rc;
  coro__watch *w = coro__malloc(sizeof(*w));
  if (!w) return -ENOMEM;
  *w = (coro__watch){.fn = fn,
                     .arg = arg,
                     .stack_size = size,
                     .deadline = deadline < 0 ? -1 : deadline,
                     .fd = fd,
                     .events = events};
  if (attr && attr->name) {
    size_t n = strnlen(attr->name, CORO_NAME_MAX - 1);
    if (!(w->name = coro__malloc(n + 1))) goto out_free;
    memcpy(w->name, attr->name, n);
    w->name[n] = '\0';
  }
  if (ready || (deadline >= 0 && deadline <= coro_now())) {
    due_push(io, w); /* spawned at the scheduler's next turn */
    return 0;
  }
  if (deadline >= 0 && (rc = heap_reserve(io)) < 0) goto out_free;
  if ((rc = coro__io_arm(io, fd, events)) < 0) goto out_free;
  /* Linked at the head: the fd's watches fire together, order is moot. */
  coro__fd *f = &io->fds[fd];
  w->next = f->watches;
  if (f->watches) f->watches->prev = w;
  f->watches = w;
  io->nwatch++;
  if (deadline >= 0) {
    w->seq = io->wseq++;
    io->wheap[io->nwheap] = w;
    sift_up(io, io->nwheap++);
  }
  return 0;
out_free:
  drop(w);
  return rc < 0 ? rc : -ENOMEM;
}
