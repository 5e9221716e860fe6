/* SPDX-License-Identifier: MIT */
/*
 * signal.c - signals as events: a coroutine waits for SIGTERM as it waits for
 * a socket, and a delivered signal wakes every coroutine of the thread that
 * waits for it (broadcast).
 *
 * A thread has one signalfd while any of its coroutines waits (coro__tls.sig):
 *
 *     coro__sigwaits (per thread)
 *     +------------------+        coro__waiters (on their stacks), oldest first
 *     | fd  (signalfd)   |        +------------+    +------------+
 *     | waiters    ------+------> | who, data -+--> | who, data -+--> ...
 *     +------------------+        +------|-----+    +------------+
 *                                  sig_wait: set, got
 *
 * Every waiter parks on that fd through the I/O layer.  Whoever runs next
 * after a delivery (a woken waiter, or a new one) drains it: it reads one
 * signal at a time and hands each to every waiter whose set holds it and
 * that has none yet, waking the parked ones.  Invariants:
 *   - the fd's mask is the union of the sets of the waiters that have no
 *     signal yet, set again before each read: a signal nobody waits for any
 *     more stays pending (blocked) for the next wait instead of being read and
 *     lost, and so does a second delivery that arrives once every waiter of
 *     that signal has one;
 *   - the fd exists exactly while the list is not empty: the last waiter to
 *     leave closes it.  A thread that exits while coroutines wait (they
 *     never leave) closes it in coro__signal_fini and forgets the list,
 *     whose records belong to those coroutines (on their stacks, or in the
 *     heap for copy-stack ones) and are leaked with them;
 *   - a waiter that got a signal returns it even if a deadline or a cancel
 *     woke it first: a signal taken from the kernel is never dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "copystack.h"
#include "scheduler.h"

/* 0 if set names at least one signal and none that cannot be caught. */
static int check_set(const sigset_t *set) {
  int any = 0;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sigismember(set, sig) != 1) continue;
    if (sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
    any = 1;
  }
  return any ? 0 : -EINVAL;
}

/* What one coroutine in coro_signal_wait() waits for: its waiter's data. */
typedef struct sig_wait {
  sigset_t set; /* the signals it waits for */
  int got;      /* the signal handed to it, 0 until then */
} sig_wait;

static inline sig_wait *of(const coro__waiter *w) { return w->data; }

/* Point the thread's signalfd at the signals still wanted: the union of the
 * sets of the waiters without one.  Returns 1 if any is wanted, 0 if none,
 * or a negated errno. */
static int want(coro__sigwaits *sw) {
  sigset_t mask;
  sigemptyset(&mask);
  int any = 0;
  for (coro__waiter *w = sw->waiters.head; w; w = w->next) {
    if (of(w)->got) continue;
    sigorset(&mask, &mask, &of(w)->set);
    any = 1;
  }
  if (signalfd(sw->fd, &mask, 0) < 0) return -errno;
  return any;
}

/* Hand signal `sig` to every waiter that waits for it and has none yet;
 * wake those parked (the running one, `self`, sees it when this returns). */
static void deliver(coro__tls *t, coro__sigwaits *sw, int sig) {
  for (coro__waiter *w = sw->waiters.head; w; w = w->next) {
    if (of(w)->got || sigismember(&of(w)->set, sig) != 1) continue;
    of(w)->got = sig;
    if (w->who != t->current) coro__wake(&t->sched, w->who, CORO__IO_READ);
  }
}

/* Read and deliver the signals pending for the waiters, one at a time.
 * 0, or a negated errno (the fd could not be read or re-aimed). */
static int drain(coro__tls *t, coro__sigwaits *sw) {
  for (;;) {
    int rc = want(sw);
    if (rc <= 0) return rc;
    struct signalfd_siginfo si;
    ssize_t n = read(sw->fd, &si, sizeof(si));
    if (n == (ssize_t)sizeof(si)) {
      deliver(t, sw, (int)si.ssi_signo);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return -errno;
    return 0;
  }
}

/* Link w, opening the thread's signalfd for the first waiter. */
static int join(coro__tls *t, coro__sigwaits *sw, coro__waiter *w) {
  if (!sw->waiters.head) {
    sigset_t none;
    sigemptyset(&none);
    int fd = signalfd(-1, &none, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    coro__io_adopt(t, fd, 0);
    sw->fd = fd;
  }
  coro__wait_push(&sw->waiters, w);
  return 0;
}

/* Unlink w; the last waiter closes the fd. */
static void leave(coro__sigwaits *sw, coro__waiter *w) {
  coro__wait_remove(&sw->waiters, w);
  if (!sw->waiters.head) {
    coro_fd_close(sw->fd);
    sw->fd = -1;
  } else {
    (void)want(sw); /* its signals are no longer read: best effort, the next
                       drain aims the fd again anyway */
  }
}

int coro_signal_wait(const sigset_t *set, int64_t deadline) {
  if (!set) return -EINVAL;
  int rc = check_set(set);
  if (rc < 0) return rc;
  rc = pthread_sigmask(SIG_BLOCK, set, NULL);
  if (rc != 0) return -rc;
  coro__tls *t = coro__tls_get();
  coro__sigwaits *sw = &t->sig;
  /* Other coroutines hand the signal to our records: off a copy-stack
   * caller's stack, which is displaced while it waits (copystack.h). */
  sig_wait local_me, *me = &local_me;
  coro__waiter local, *w = coro__waiters_get(t, &local, 1, sizeof(*me));
  if (!w) return -ENOMEM;
  if (w != &local) me = coro__waiter_buf(w, 1, sizeof(*me), 0);
  *me = (sig_wait){.set = *set, .got = 0};
  *w = (coro__waiter){.data = me};
  if ((rc = join(t, sw, w)) < 0) goto out;
  w->who = t->current; /* after join: the thread's first I/O call sets it up */
  for (;;) {
    rc = drain(t, sw);
    if (me->got || rc < 0) break;
    rc = coro_wait_fd(sw->fd, CORO_READ, deadline);
    if (me->got || rc < 0) break;
  }
  leave(sw, w);
  if (me->got) rc = me->got;
out:
  coro__waiters_put(t, w, &local, 1, sizeof(*me));
  return rc;
}

void coro__signal_fini(coro__tls *t) {
  coro__sigwaits *sw = &t->sig;
  if (!sw->waiters.head) return; /* no wait, no fd */
  /* A plain close: coro_fd_close would wake the waiters, and the I/O
   * registry that knows the fd goes next (thread.c). */
  close(sw->fd);
  sw->fd = -1;
  sw->waiters = (coro__wait_list){0};
}
