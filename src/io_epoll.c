/* SPDX-License-Identifier: MIT */
/*
 * io_epoll.c - the epoll backend of the I/O layer (see the contract in
 * internal.h).
 *
 * Each fd is registered once, at the first park on it, for input, output and
 * peer hang-up, edge-triggered, and stays registered until coro_fd_close():
 * a read or write that succeeds costs no epoll_ctl, and parking on an armed
 * fd costs nothing either.  Edge-triggered is safe because a coroutine parks
 * only after its system call said EAGAIN: any readiness after that is a new
 * edge, and EPOLL_CTL_ADD reports a level that is already there.
 */
#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "internal.h"

/* Events fetched per epoll_wait; more wait for the next round. */
#define NEVENTS 256

typedef struct epoll_state {
  int epfd;                           /* the epoll instance */
  struct epoll_event events[NEVENTS]; /* epoll_wait's output */
} epoll_state;

static int ep_init(coro__io *io) {
  epoll_state *e = coro__malloc(sizeof(*e));
  if (!e) return -ENOMEM;
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0) {
    int err = -errno;
    coro__free(e);
    return err;
  }
  io->backend_data = e;
  return 0;
}

static void ep_fini(coro__io *io) {
  epoll_state *e = io->backend_data;
  close(e->epfd);
  coro__free(e);
  io->backend_data = NULL;
}

static int ep_arm(coro__io *io, int fd, coro__fd *f, unsigned events) {
  (void)events; /* registered for both directions at once */
  if (f->flags & CORO__FD_ARMED) return 0;
  epoll_state *e = io->backend_data;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
  /* EEXIST: a dup of a closed fd's description still holds the registration;
   * take it over with the same events. */
  if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
      (errno != EEXIST || epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) < 0))
    return -errno;
  f->flags |= CORO__FD_ARMED;
  return 0;
}

static void ep_forget(coro__io *io, int fd, coro__fd *f) {
  epoll_state *e = io->backend_data;
  /* Closing fd removes it from the epoll set, unless a dup of it lives on:
   * remove it explicitly so that the dup's events do not reach a stale entry. */
  epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
  f->flags &= ~(unsigned)CORO__FD_ARMED;
}

static int ep_poll(coro__io *io, int64_t deadline) {
  epoll_state *e = io->backend_data;
  int timeout = -1; /* milliseconds, rounded up: waking early would only spin */
  if (deadline >= 0) {
    int64_t left = deadline - (deadline ? coro_now() : 0);
    if (left <= 0)
      timeout = 0;
    else if (left / 1000000 >= INT_MAX)
      timeout = INT_MAX;
    else
      timeout = (int)((left + 999999) / 1000000);
  }
  int n = epoll_wait(e->epfd, e->events, NEVENTS, timeout);
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++) {
    uint32_t ev = e->events[i].events;
    unsigned ready = (ev & (EPOLLIN | EPOLLRDHUP) ? CORO__IO_READ : 0u) |
                     (ev & EPOLLOUT ? CORO__IO_WRITE : 0u) |
                     (ev & (EPOLLERR | EPOLLHUP) ? CORO__IO_ERR : 0u);
    coro__io_ready(io, e->events[i].data.fd, ready);
  }
  return 0;
}

const coro__io_backend coro__io_epoll = {
    .name = "epoll",
    .init = ep_init,
    .fini = ep_fini,
    .arm = ep_arm,
    .forget = ep_forget,
    .poll = ep_poll,
};
