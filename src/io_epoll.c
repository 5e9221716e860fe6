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
 *
 * Timed waits go through epoll_pwait2 (5.11+), whose timeout is a timespec:
 * a 50 us sleep while an fd is waited on sleeps 50 us (plus the kernel's
 * timer slack), not a millisecond.  It is called through syscall(), so no
 * glibc of a given age is needed; where the kernel (or qemu-user) says
 * ENOSYS, the process falls back to epoll_wait's milliseconds, rounded up:
 * a wait may end up to 1 ms late, never early.
 */
#include <errno.h>
#include <limits.h>
#include <linux/time_types.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Events fetched per epoll_wait; more wait for the next round. */
#define NEVENTS 256

#ifndef __NR_epoll_pwait2 /* the same number on every architecture */
#define __NR_epoll_pwait2 441
#endif

/* Does the kernel have epoll_pwait2?  0 not known yet, 1 yes, -1 no (ENOSYS):
 * process-wide, learnt by the first timed wait; relaxed, as every thread
 * that asks learns the same answer. */
static int have_pwait2;

coro__epoll_stats coro__epoll_stats_now; /* test hook: see internal.h */

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

/* epoll_pwait2 for `left` ns (> 0); -ENOSYS where there is none. */
static int pwait2(epoll_state *e, int64_t left) {
  if (__atomic_load_n(&have_pwait2, __ATOMIC_RELAXED) < 0) return -ENOSYS;
  int err = coro__fault_injected(CORO__FAULT_EPOLL_PWAIT2);
  if (err) return -err; /* not remembered: the test that asked resets it */
  struct __kernel_timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
  /* No signal mask: its size is read only with one. */
  long n = syscall(__NR_epoll_pwait2, e->epfd, e->events, NEVENTS, &ts, NULL, 0);
  if (n < 0 && errno == ENOSYS) {
    __atomic_store_n(&have_pwait2, -1, __ATOMIC_RELAXED);
    return -ENOSYS;
  }
  __atomic_store_n(&have_pwait2, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&coro__epoll_stats_now.precise, 1, __ATOMIC_RELAXED);
  return n < 0 ? -errno : (int)n;
}

static int ep_poll(coro__io *io, int64_t deadline) {
  epoll_state *e = io->backend_data;
  int64_t left = deadline > 0 ? deadline - coro_now() : deadline; /* 0 now, < 0 no limit */
  int n = -ENOSYS;
  if (left > 0) n = pwait2(e, left);
  if (n == -ENOSYS) {
    int timeout = -1; /* milliseconds, rounded up: waking early would only spin */
    if (deadline >= 0) {
      if (left <= 0)
        timeout = 0;
      else if (left / 1000000 >= INT_MAX)
        timeout = INT_MAX;
      else
        timeout = (int)((left + 999999) / 1000000);
      if (left > 0 && left % 1000000)
        __atomic_fetch_add(&coro__epoll_stats_now.rounded, 1, __ATOMIC_RELAXED);
    }
    n = epoll_wait(e->epfd, e->events, NEVENTS, timeout);
    if (n < 0) n = -errno;
  }
  if (n < 0) return n;
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
