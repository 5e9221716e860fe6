/* SPDX-License-Identifier: MIT */
/*
 * introspect.c - what the live coroutines of a thread are doing.
 *
 * Every coroutine is linked into its thread's list (coro__tls.all) from
 * coro_create() to coro_destroy(); parking records what it waits on.  A
 * listing reads those, the saved stack pointer, and the kernel's view of
 * which stack pages are committed (mincore), which is the stack's high-water
 * mark to the page: a stack grows down one page at a time and libcoro hands
 * pages back only when a whole slot is released.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scheduler.h"

/* The saved stack pointer of a coroutine that is not running. */
static uintptr_t saved_sp(const coro *c) {
#ifdef CORO_USE_UCONTEXT
#if defined(__x86_64__)
  return (uintptr_t)c->ctx.uc.uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)c->ctx.uc.uc_mcontext.sp;
#else
  (void)c;
  return 0;
#endif
#else
  return (uintptr_t)c->ctx.sp;
#endif
}

/* Bytes from the top of c's stack down to the lowest committed page. */
static size_t high_water(const coro__stack *st) {
  size_t page = coro__page_size;
  size_t npages = (size_t)(st->hi - st->lo) / page;
  unsigned char vec[256];
  /* Scan from the low end up: the first resident page is the deepest. */
  for (size_t at = 0; at < npages; at += sizeof(vec)) {
    size_t n = npages - at < sizeof(vec) ? npages - at : sizeof(vec);
    if (mincore(st->lo + at * page, n * page, vec) < 0) return 0;
    for (size_t i = 0; i < n; i++)
      if (vec[i] & 1) return (size_t)(st->hi - (st->lo + (at + i) * page));
  }
  return 0;
}

/* What c, in `state`, waits on.  wait_what is set by every park and cleared
 * by the wake, but a coroutine parked by coro_sched_yield() keeps "yield"
 * until it parks again: it counts only while c is WAITING. */
static const char *waiting_on(const coro *c, int state, const void **obj) {
  *obj = NULL;
  if (state != CORO_WAITING) return NULL;
  const coro__cold *x = coro__cold_of(c);
  if (x->parked && x->parked != c) { /* a coroutine of its chain waits for it */
    *obj = x->parked;
    return "chain";
  }
  if (x->wait_what) {
    *obj = x->wait_obj;
    return x->wait_what;
  }
  if (c->sched & CORO__S_SPAWNED && !(c->sched & CORO__S_STARTED)) return "start";
  if (c->sched & CORO__S_YIELDED) return "yield";
  return NULL; /* woken: runnable, queued for its turn */
}

static void describe(const coro__tls *t, const coro *c, coro_info *i) {
  const coro__stack *st = coro__stack_of(c);
  i->handle = (coro *)(uintptr_t)c;
  memcpy(i->name, coro__cold_of(c)->name, sizeof(i->name));
  i->state = coro_get_state(c);
  i->micro_thread = (c->sched & CORO__S_SPAWNED) != 0;
  i->cancelled = (c->sched & CORO__S_CANCELLED) != 0;
  i->waiting_on = waiting_on(c, i->state, &i->wait_object);
  i->deadline = coro__timer_deadline(&t->sched, c);
  i->stack_size = st->size;
  uintptr_t sp = 0;
  if (c == t->current)
    sp = (uintptr_t)__builtin_frame_address(0);
  else if (c->state != CORO_CREATED && c->state != CORO_CLOSED &&
           !(c->sched & CORO__S_SPAWNED && !(c->sched & CORO__S_STARTED)))
    sp = saved_sp(c);
  i->stack_used =
      sp > (uintptr_t)st->lo && sp <= (uintptr_t)st->hi ? (size_t)((uintptr_t)st->hi - sp) : 0;
  i->copy_stack = (c->flags & CORO__F_COPY) != 0;
  i->stack_saved = 0;
  if (i->copy_stack) { /* the shared stack's pages say nothing of this one */
    int displaced = c != t->copy_occupant && c->ctx.sp;
    i->stack_saved = displaced ? c->saved_len : 0;
    i->stack_high_water = c->saved_cap;
  } else {
    i->stack_high_water = high_water(st);
  }
  if (i->stack_high_water < i->stack_used) i->stack_high_water = i->stack_used;
}

long coro_list(coro_info *out, size_t n) {
  if (!out && n) return -EINVAL;
  coro__tls *t = coro__tls_get();
  size_t k = 0;
  for (const coro *c = t->all; c && k < n; c = c->all_next) describe(t, c, &out[k++]);
  return (long)t->nall;
}

/* Write all of buf, or return a negated errno. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

long coro_dump(int fd) {
  if (fd < 0) return -EINVAL;
  coro__tls *t = coro__tls_get();
  char line[256];
  int len = snprintf(line, sizeof(line), "%-18s %-31s %-9s %-28s %9s %9s %9s\n", "coroutine",
                     "name", "state", "waiting on", "used", "high", "size");
  int rc = write_all(fd, line, (size_t)len);
  long count = 0;
  for (const coro *c = t->all; c && rc == 0; c = c->all_next, count++) {
    coro_info i;
    describe(t, c, &i);
    char what[64] = "-";
    if (i.waiting_on) {
      if (i.wait_object)
        snprintf(what, sizeof(what), "%s %p", i.waiting_on, i.wait_object);
      else
        snprintf(what, sizeof(what), "%s", i.waiting_on);
    }
    len = snprintf(line, sizeof(line), "%-18p %-31s %-9s %-28s %9zu %9zu %9zu%s\n",
                   (void *)i.handle, i.name[0] ? i.name : "-", coro_state_name(i.state), what,
                   i.stack_used, i.stack_high_water, i.stack_size, i.cancelled ? " cancelled" : "");
    rc = write_all(fd, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
  }
  return rc < 0 ? rc : count;
}
