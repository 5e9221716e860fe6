/* SPDX-License-Identifier: MIT */
/*
 * io.c - file descriptors that park the coroutine, not the thread.
 *
 * Every call tries its system call first and parks only on EAGAIN, so a
 * ready fd costs exactly one system call.  Parking goes through the thread's
 * fd registry:
 *
 *     coro__io (per thread, coro__tls.io)
 *     +--------------------+
 *     | backend (epoll)    |  armed once per fd, polled by the scheduler
 *     | fds[fd]            |  flags (KNOWN: O_NONBLOCK set, ARMED)
 *     |   readers, writers |  wait lists of coroutines parked on the fd
 *     +--------------------+
 *
 * Invariants:
 *   - A waiter is linked in its fd's list only while its coroutine is parked
 *     on it; nwaiting counts them, and the scheduler polls only while it is
 *     non-zero.  Whoever wakes a waiter (readiness, coro_fd_close) unlinks it
 *     and sets `done`; a waiter woken by a deadline or a cancel unlinks itself.
 *   - fds[] may move when it grows (realloc-like): waiters never keep a pointer
 *     to an entry across a park; the lists' nodes live on the coroutines'
 *     stacks and move with nothing.
 *   - Readiness wakes every waiter of the list: with edge-triggered events a
 *     waiter left asleep might never hear of data that stays unread.  Each one
 *     retries its system call and parks again on EAGAIN.
 *   - Except accept-like waits (coro_sock_accept: what one event offers, one
 *     connection, only one waiter can take): a readiness event wakes one of
 *     them, the oldest, and the backend is asked again for the others.  So
 *     that no connection sits unserved while acceptors sleep (edge-triggered
 *     epoll reports a burst once), the woken one passes the wake on to the
 *     next acceptor once it got a connection, and also when it finds itself
 *     cancelled, without taking any.  An error or hang-up, or a close, still
 *     wakes them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "copystack.h"
#include "scheduler.h"

/* Waiters live on the parked coroutine's stack and are linked into lists
 * that outlive the call; every parking call unlinks its waiter before it
 * returns, which gcc 12's -Wdangling-pointer cannot see through the park. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

/* coro__fd.flags beyond the ones internal.h shares. */
enum { FD_SOCKET = 1u << 8 }; /* a socket: writes use send(MSG_NOSIGNAL) */

_Static_assert((int)CORO_READ == (int)CORO__IO_READ && (int)CORO_WRITE == (int)CORO__IO_WRITE,
               "the public and internal event bits are the same");

/* --- the registry ------------------------------------------------------------ */

/* A fork's child inherits the forking thread's I/O state, whose backend is
 * an epoll set or a ring shared with the parent: events would go to whichever
 * process asks first, and removing an fd from it would remove it for the
 * parent too.  The child marks it and rebuilds it at its next use (fresh()). */
static void atfork_child(void) {
  coro__io *io = coro__tls_get()->io;
  if (io && io->backend) io->inherited = 1;
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, atfork_child); }

/* This thread's I/O state, created at its first I/O call. */
static int io_get(coro__tls *t, coro__io **out) {
  if (CORO__LIKELY(t->io != NULL)) {
    *out = t->io;
    return 0;
  }
  if (!t->ready) { /* the exit hook that frees t->io comes with the setup */
    int rc = coro__thread_setup(t);
    if (rc < 0) return rc;
  }
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_atfork);
  coro__io *io = coro__malloc(sizeof(*io));
  if (!io) return -ENOMEM;
  memset(io, 0, sizeof(*io));
  io->owner = t;
  t->io = io;
  *out = io;
  return 0;
}

/* The entry of fd (>= 0), growing the table to hold it. */
static int fd_entry(coro__io *io, int fd, coro__fd **out) {
  size_t i = (size_t)fd;
  if (CORO__UNLIKELY(i >= io->nfds)) {
    /* Only an open fd may grow the table: a huge bad one must not. */
    if (fcntl(fd, F_GETFD) < 0) return -errno;
    size_t n = io->nfds ? io->nfds : 64;
    while (n <= i) n *= 2;
    coro__fd *fds = coro__malloc(n * sizeof(*fds));
    if (!fds) return -ENOMEM;
    /* The lists' heads move with their entries; their nodes do not move. */
    if (io->nfds) memcpy(fds, io->fds, io->nfds * sizeof(*fds));
    memset(fds + io->nfds, 0, (n - io->nfds) * sizeof(*fds));
    coro__free(io->fds);
    io->fds = fds;
    io->nfds = n;
  }
  *out = &io->fds[i];
  return 0;
}

/* First sight of an fd: make it non-blocking, note whether it is a socket. */
static int learn(int fd, coro__fd *f) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) f->flags |= FD_SOCKET;
  f->flags |= CORO__FD_KNOWN;
  return 0;
}

/* Ready fd for the calls below: the registry exists and fd is non-blocking.
 * Stores its entry's flags in *flags. */
static inline int prepare(coro__tls *t, int fd, unsigned *flags) {
  if (CORO__UNLIKELY(fd < 0)) return -EBADF;
  coro__io *io = t->io;
  if (CORO__LIKELY(io && (size_t)fd < io->nfds && io->fds[fd].flags & CORO__FD_KNOWN)) {
    *flags = io->fds[fd].flags;
    return 0;
  }
  int rc = io_get(t, &io);
  if (rc < 0) return rc;
  coro__fd *f = NULL;
  rc = fd_entry(io, fd, &f);
  if (rc < 0) return rc;
  if (!(f->flags & CORO__FD_KNOWN)) {
    rc = learn(fd, f);
    if (rc < 0) return rc;
  }
  *flags = f->flags;
  return 0;
}

void coro__io_adopt(coro__tls *t, int fd, int socket) {
  coro__io *io = NULL;
  coro__fd *f = NULL;
  if (fd < 0 || io_get(t, &io) < 0 || fd_entry(io, fd, &f) < 0) return; /* learnt later */
  f->flags = CORO__FD_KNOWN | (socket ? FD_SOCKET : 0u);
}

/* --- the backend ---------------------------------------------------------------- */

/* The backend a thread takes when CORO_IO_BACKEND does not say: see the commit
 * that set it and bench/README.md for the measurements behind the choice. */
#define DEFAULT_URING 0

/* Print one line on stderr, once per process: threads choose their backends
 * one by one, and a misconfiguration is worth one line, not one per thread. */
static void say_once(const char *what, const char *why) {
  static int said; /* set atomically by the first thread to speak */
  if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED)) return;
  char line[200];
  int n = snprintf(line, sizeof(line), "libcoro: %s (%s), using epoll\n", what, why);
  if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
}

/* Choose and start this thread's backend.  CORO_IO_BACKEND=epoll or
 * io_uring forces one; otherwise DEFAULT_URING decides.  io_uring that cannot
 * be had (not built in, or the kernel refuses the ring) falls back to epoll,
 * with one line on stderr if it was forced; an unknown name also gets one line
 * and epoll: a typo in the environment must not stop a program's I/O. */
static int choose(coro__io *io) {
  const char *want = getenv("CORO_IO_BACKEND");
  int uring = DEFAULT_URING;
  int forced = 0;
  if (want && *want) {
    if (strcmp(want, "epoll") == 0) {
      uring = 0;
    } else if (strcmp(want, "io_uring") == 0) {
      uring = forced = 1;
    } else {
      say_once("unknown CORO_IO_BACKEND", want);
      uring = 0;
    }
  }
  if (uring) {
#ifdef CORO_HAVE_URING
    int rc = coro__io_uring.init(io);
    if (rc == 0) {
      io->backend = &coro__io_uring;
      return 0;
    }
    if (forced) say_once("io_uring unavailable", strerror(-rc));
#else
    if (forced) say_once("io_uring unavailable", "not built in");
#endif
  }
  int rc = coro__io_epoll.init(io);
  if (rc < 0) return rc;
  io->backend = &coro__io_epoll;
  return 0;
}

/* In a fork's child: let go of the parent's backend (closing only our copy
 * of its fd), forget every registration, start a backend of our own and arm
 * the fds coroutines wait on again. */
static void rebuild(coro__io *io) {
  io->inherited = 0;
  io->backend->fini(io);
  io->backend = NULL;
  for (size_t i = 0; i < io->nfds; i++) {
    coro__fd *f = &io->fds[i];
    f->flags &= ~(unsigned)CORO__FD_ARMED;
    f->bk_pending = 0;
    f->bk_seq++;
  }
  if (choose(io) < 0) return; /* the next wait tries again */
  for (size_t i = 0; i < io->nfds; i++) {
    coro__fd *f = &io->fds[i];
    unsigned ev = (f->readers.head ? CORO__IO_READ : 0u) | (f->writers.head ? CORO__IO_WRITE : 0u) |
                  coro__watch_events(f);
    if (ev) io->backend->arm(io, (int)i, f, ev);
  }
}

static inline void fresh(coro__io *io) {
  if (CORO__UNLIKELY(io->inherited)) rebuild(io);
}

const char *coro_io_backend(void) {
  coro__tls *t = coro__tls_get();
  coro__io *io = NULL;
  if (io_get(t, &io) < 0) return NULL;
  fresh(io);
  if (!io->backend && choose(io) < 0) return NULL;
  return io->backend->name;
}

/* --- parking on an fd ---------------------------------------------------------- */

/* The mark of an accept-like waiter (coro__waiter.data): one per event. */
static char accept_like;
#define ACCEPT_LIKE ((void *)&accept_like)

/* Wake the waiters of list l with `code` (> 0: the ready events; < 0: why):
 * every one, or with `one`, all but the accept-like ones and the first of
 * those.  Returns 1 if accept-like waiters are left parked. */
static int wake(coro__io *io, coro__wait_list *l, int code, int one) {
  int took = 0, left = 0;
  for (coro__waiter *w = l->head, *next; w; w = next) {
    next = w->next;
    if (coro__woken(w->who)) { /* woken by its deadline or a cancel: its own */
      coro__wait_remove(l, w);
      continue;
    }
    if (one && w->data == ACCEPT_LIKE && took++) {
      left = 1;
      continue;
    }
    coro__wait_remove(l, w);
    w->done = code > 0 ? 1 : -1;
    coro__wake(&io->owner->sched, w->who, code);
  }
  return left;
}

static void wake_all(coro__io *io, coro__wait_list *l, int code) { wake(io, l, code, 0); }

/* An accept-like waiter woken by readiness passes it on to the next one of
 * fd (see the file's comment). */
static void pass_on(coro__io *io, int fd) {
  if ((size_t)fd < io->nfds) wake(io, &io->fds[fd].readers, CORO__IO_READ, 1);
}

void coro__io_ready(coro__io *io, int fd, unsigned events) {
  if (fd < 0 || (size_t)fd >= io->nfds) return;
  coro__fd *f = &io->fds[fd];
  if (CORO__UNLIKELY(f->flags & CORO__FD_HOOK)) {
    if (io->hook) io->hook(io->owner);
    return;
  }
  /* One accept-like reader per event; the backend must then report the
   * next event to those left (io_uring's polls are one-shot). */
  if (events & (CORO__IO_READ | CORO__IO_ERR) &&
      wake(io, &f->readers, (int)events, !(events & CORO__IO_ERR)))
    io->backend->arm(io, fd, f, CORO__IO_READ);
  if (events & (CORO__IO_WRITE | CORO__IO_ERR)) wake_all(io, &f->writers, (int)events);
  if (f->watches) coro__watch_ready(io, f, events);
}

/* Park until fd is ready for `events` (CORO__IO_*: one or both), its deadline
 * or a cancel.  The registry holds fd (prepare or fd_entry ran).  Returns the
 * ready events (> 0) or an error.  `one`: an accept-like read (see above). */
static int wait_ready_as(coro__tls *t, int fd, unsigned events, int64_t deadline, int one) {
  const char *what = events == CORO__IO_READ    ? "fd read"
                     : events == CORO__IO_WRITE ? "fd write"
                                                : "fd";
  /* Unable to wait (deadline 0, no scheduler, cancelled): the park says why,
   * without arming anything. */
  if (deadline == 0 || !t->sched.running) return coro__park(t, deadline, what, NULL);
  coro__io *io = t->io;
  fresh(io);
  if (CORO__UNLIKELY(!io->backend)) {
    int rc = choose(io);
    if (rc < 0) return rc;
  }
  int rc = io->backend->arm(io, fd, &io->fds[fd], events);
  if (rc < 0) return rc;
  coro__waiter local[2], *w = coro__waiters_get(t, local, 2, 0);
  if (!w) return -ENOMEM;
  coro__wait_list *lists[2];
  size_t n = 0;
  for (unsigned ev = CORO__IO_READ; ev <= CORO__IO_WRITE; ev <<= 1) {
    if (!(events & ev)) continue;
    w[n] = (coro__waiter){.who = t->current, .data = one ? ACCEPT_LIKE : NULL};
    lists[n] = ev == CORO__IO_READ ? &io->fds[fd].readers : &io->fds[fd].writers;
    coro__wait_push(lists[n], &w[n]);
    n++;
  }
  io->nwaiting += n;
  rc = coro__park(t, deadline, what, NULL);
  /* fds[] may have moved while we were parked: look the lists up again. */
  for (size_t i = 0; i < n; i++) {
    if (w[i].done) continue; /* unlinked by whoever woke it */
    unsigned ev = n == 2 ? (i ? CORO__IO_WRITE : CORO__IO_READ) : events;
    coro__wait_remove(ev == CORO__IO_READ ? &io->fds[fd].readers : &io->fds[fd].writers, &w[i]);
  }
  coro__waiters_put(t, w, local, 2, 0);
  io->nwaiting -= n;
  return rc;
}

static int wait_ready(coro__tls *t, int fd, unsigned events, int64_t deadline) {
  return wait_ready_as(t, fd, events, deadline, 0);
}

/* Is the micro-thread of the running chain cancelled? */
static int cancelled(const coro__tls *t) {
  const coro__sched *s = &t->sched;
  return s->running && t->current != s->host && s->root->sched & CORO__S_CANCELLED;
}

int coro__io_hook(coro__tls *t, int fd, void (*hook)(coro__tls *t)) {
  coro__io *io = NULL;
  coro__fd *f = NULL;
  int rc = io_get(t, &io);
  if (rc < 0 || (rc = fd_entry(io, fd, &f)) < 0) return rc;
  f->flags = CORO__FD_KNOWN | CORO__FD_HOOK;
  io->hook = hook;
  return 0;
}

int coro__io_hook_arm(coro__tls *t, int fd) {
  coro__io *io = t->io;
  fresh(io);
  if (CORO__UNLIKELY(!io->backend)) {
    int rc = choose(io);
    if (rc < 0) return rc;
  }
  return io->backend->arm(io, fd, &io->fds[fd], CORO__IO_READ);
}

void coro__io_unhook(coro__tls *t, int fd) {
  coro__io *io = t->io;
  if (!io || fd < 0 || (size_t)fd >= io->nfds) return;
  fresh(io);
  coro__fd *f = &io->fds[fd];
  if (io->backend && f->flags & CORO__FD_ARMED) io->backend->forget(io, fd, f);
  f->flags = 0;
  io->hook = NULL;
}

int coro__io_prepare(coro__tls *t, int fd, coro__io **out) {
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  if (flags & CORO__FD_HOOK) return -EBADF;
  coro__io *io = t->io;
  fresh(io);
  if (!io->backend && (rc = choose(io)) < 0) return rc;
  *out = io;
  return 0;
}

int coro__io_arm(coro__io *io, int fd, unsigned events) {
  return io->backend->arm(io, fd, &io->fds[fd], events);
}

int coro__io_poll(coro__tls *t, int64_t deadline) {
  coro__io *io = t->io;
  if (CORO__LIKELY(!io || (!io->nwaiting && !io->nwatch))) return 0;
  fresh(io);
  if (CORO__UNLIKELY(!io->backend)) return 0; /* a rebuild that failed: nothing armed */
  /* A transient error (EINTR; EAGAIN, EBUSY or ENOMEM in the kernel) is a
   * wake-up with nothing ready: the scheduler's loop comes back here.  Any
   * other is a backend that cannot wait (its own fallbacks tried): returned,
   * so that coro_run() ends with it instead of spinning with its fd waiters
   * never woken. */
  int rc = io->backend->poll(io, deadline);
  if (rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc == -ENOMEM) return 1;
  return rc < 0 ? rc : 1;
}

void coro__io_fini(coro__tls *t) {
  coro__io *io = t->io;
  if (!io) return;
  /* An inherited backend's fini closes only this process's copies: fine. */
  if (io->backend) io->backend->fini(io);
  coro__watch_fini(io);
  coro__free(io->fds);
  coro__free(io);
  t->io = NULL;
}

/* --- the calls ----------------------------------------------------------------- */

static inline int would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

int coro__io_level(int fd, unsigned events) {
  struct pollfd p = {
      .fd = fd,
      .events = (short)((events & CORO_READ ? POLLIN : 0) | (events & CORO_WRITE ? POLLOUT : 0))};
  while (poll(&p, 1, 0) < 0)
    if (errno != EINTR) return -errno;
  if (p.revents & POLLNVAL) return -EBADF;
  if (p.revents & (POLLERR | POLLHUP)) return (int)events;
  return (p.revents & POLLIN ? CORO_READ : 0) | (p.revents & POLLOUT ? CORO_WRITE : 0);
}

int coro_wait_fd(int fd, unsigned events, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  if (!events || events & ~(unsigned)(CORO_READ | CORO_WRITE)) return -EINVAL;
  if (fd < 0) return -EBADF;
  /* Readiness reported once may have been consumed before: ask the kernel
   * for the level now, which also tells a closed fd. */
  int ready = coro__io_level(fd, events);
  if (ready) return ready;
  coro__io *io = NULL;
  coro__fd *f = NULL;
  int rc = io_get(t, &io);
  if (rc < 0) return rc;
  if ((rc = fd_entry(io, fd, &f)) < 0) return rc;
  rc = wait_ready(t, fd, events, deadline);
  if (rc < 0) return rc;
  return rc & CORO__IO_ERR ? (int)events : rc & (int)events;
}

ssize_t coro_fd_read(int fd, void *buf, size_t len, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready(t, fd, CORO__IO_READ, deadline)) < 0) return rc;
  }
}

ssize_t coro_fd_write(int fd, const void *buf, size_t len, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  for (;;) {
    ssize_t n = flags & FD_SOCKET ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready(t, fd, CORO__IO_WRITE, deadline)) < 0) return rc;
  }
}

int coro_fd_write_all(int fd, const void *buf, size_t len, size_t *written, int64_t deadline) {
  const char *p = buf;
  size_t done = 0;
  int rc = 0;
  while (done < len) {
    ssize_t n = coro_fd_write(fd, p + done, len - done, deadline);
    if (n <= 0) { /* write(2) returns 0 only for len 0: keep a bug from looping */
      rc = n < 0 ? (int)n : -EIO;
      break;
    }
    done += (size_t)n;
  }
  if (written) *written = done;
  return rc;
}

ssize_t coro_fd_readv(int fd, const struct iovec *iov, int iovcnt, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  for (;;) {
    ssize_t n = readv(fd, iov, iovcnt);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready(t, fd, CORO__IO_READ, deadline)) < 0) return rc;
  }
}

ssize_t coro_fd_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  if (iovcnt <= 0 || iovcnt > IOV_MAX) return -EINVAL; /* sendmsg would take 0 */
  for (;;) {
    ssize_t n;
    if (flags & FD_SOCKET) {
      struct msghdr m = {.msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = (size_t)iovcnt};
      n = sendmsg(fd, &m, MSG_NOSIGNAL);
    } else {
      n = writev(fd, iov, iovcnt);
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready(t, fd, CORO__IO_WRITE, deadline)) < 0) return rc;
  }
}

/* Wake fd's waiters with -EBADF and drop what the thread knows of it. */
static void forget(coro__io *io, int fd) {
  if (!io || (size_t)fd >= io->nfds) return;
  fresh(io);
  coro__fd *f = &io->fds[fd];
  if (f->flags & CORO__FD_HOOK) return; /* the library's own (offload's eventfd) */
  wake_all(io, &f->readers, -EBADF);
  wake_all(io, &f->writers, -EBADF);
  if (f->watches) coro__watch_forget(io, f);
  if (io->backend && f->flags & CORO__FD_ARMED) io->backend->forget(io, fd, f);
  f->flags = 0;
}

int coro_fd_forget(int fd) {
  if (fd < 0) return -EBADF;
  forget(coro__tls_get()->io, fd);
  return 0;
}

int coro_fd_close(int fd) {
  coro__tls *t = coro__tls_get();
  if (fd < 0) return -EBADF;
  forget(t->io, fd);
  /* On Linux the fd is closed even when close reports EINTR: never retry. */
  if (close(fd) < 0 && errno != EINTR) return -errno;
  return 0;
}

int coro_sock_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  int woken = 0; /* by a readiness event meant for one acceptor: us */
  for (;;) {
    int s = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
      if (woken) pass_on(t->io, fd); /* more may wait in the queue */
      coro__io_adopt(t, s, 1);
      return s;
    }
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready_as(t, fd, CORO__IO_READ, deadline, 1)) < 0) return rc;
    woken = 1;
    if (cancelled(t)) { /* cancelled after the wake: leave the connection to another */
      pass_on(t->io, fd);
      return -ECANCELED;
    }
  }
}

int coro_sock_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned flags;
  int rc = prepare(t, fd, &flags);
  if (rc < 0) return rc;
  if (connect(fd, addr, addrlen) == 0) return 0;
  /* Interrupted, the connection still goes on: wait for it as for EINPROGRESS. */
  if (errno != EINPROGRESS && errno != EINTR) return -errno;
  if ((rc = wait_ready(t, fd, CORO__IO_WRITE, deadline)) < 0) return rc;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

ssize_t coro_sock_recv(int fd, void *buf, size_t len, int flags, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned fl;
  int rc = prepare(t, fd, &fl);
  if (rc < 0) return rc;
  for (;;) {
    ssize_t n = recv(fd, buf, len, flags);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready(t, fd, CORO__IO_READ, deadline)) < 0) return rc;
  }
}

ssize_t coro_sock_send(int fd, const void *buf, size_t len, int flags, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  unsigned fl;
  int rc = prepare(t, fd, &fl);
  if (rc < 0) return rc;
  for (;;) {
    ssize_t n = send(fd, buf, len, flags | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if ((rc = wait_ready(t, fd, CORO__IO_WRITE, deadline)) < 0) return rc;
  }
}
