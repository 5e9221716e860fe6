/* SPDX-License-Identifier: MIT */
/*
 * io_timers.c - deadlines while a coroutine waits on an fd, when the
 * scheduler sleeps in the I/O backend instead of clock_nanosleep:
 *   - epoll: a 450 us sleep asks the kernel for 450 us (epoll_pwait2), not a
 *     millisecond-rounded epoll_wait: counted by the backend's test hook
 *     (coro__epoll_stats_now), where the kernel has epoll_pwait2;
 *   - epoll without epoll_pwait2 (CORO__FAULT_EPOLL_PWAIT2 plays ENOSYS, as
 *     qemu-user and valgrind 3.19 answer): rounded up to whole milliseconds;
 *   - io_uring (where the kernel gives a ring): the same sleeps;
 * and in every case no sleep or fd deadline ends before its deadline.  No
 * duration is asserted: what the backend was asked, and "not before".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/time_types.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

#ifndef __NR_epoll_pwait2
#define __NR_epoll_pwait2 441
#endif

#define US (INT64_C(1000))
#define NSLEEPS 5

static int fds[2]; /* the pipe a reader parks on throughout */

static void *park_reader(void *arg) {
  (void)arg;
  char c = 0;
  ASSERT_EQ(coro_fd_read(fds[0], &c, 1, -1), 1);
  ASSERT_EQ(c, 'e');
  return NULL;
}

static void *short_sleeps(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the reader parks first */
  for (int i = 0; i < NSLEEPS; i++) {
    int64_t dl = coro_now() + 450 * US; /* long enough to reach the backend under qemu */
    ASSERT_EQ(coro_sleep(dl), 0);
    ASSERT_TRUE(coro_now() >= dl);
  }
  /* A deadline of an fd wait itself, with the reader still parked. */
  int64_t dl = coro_now() + 470 * US;
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, dl), -ETIMEDOUT);
  ASSERT_TRUE(coro_now() >= dl);
  ASSERT_EQ(coro_fd_write(fds[1], "e", 1, -1), 1);
  return NULL;
}

/* Short sleeps and an fd deadline while a reader is parked on a pipe, on
 * `backend`; returns the name of the backend that ran. */
static const char *sleep_beside_a_reader(const char *backend) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", backend, 1), 0);
  memset(&coro__epoll_stats_now, 0, sizeof(coro__epoll_stats_now));
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(coro_spawn(NULL, park_reader, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, short_sleeps, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_fd_close(fds[0]), 0);
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  return coro_io_backend();
}

/* Does this kernel (or emulator) have epoll_pwait2? */
static int kernel_has_pwait2(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_TRUE(ep >= 0);
  struct epoll_event ev;
  struct __kernel_timespec ts = {0, 0};
  long rc = syscall(__NR_epoll_pwait2, ep, &ev, 1, &ts, NULL, 0);
  int has = !(rc < 0 && errno == ENOSYS);
  close(ep);
  return has;
}

TEST(epoll_sleeps_beside_an_fd_waiter_are_not_rounded_to_milliseconds) {
  ASSERT_STR_EQ(sleep_beside_a_reader("epoll"), "epoll");
  coro__epoll_stats st = coro__epoll_stats_now;
  if (!kernel_has_pwait2()) {
    printf("no epoll_pwait2 here: waits rounded up to milliseconds (%ld)\n", st.rounded);
    ASSERT_EQ(st.precise, 0);
    ASSERT_TRUE(st.rounded >= 1);
    return;
  }
  /* Not one wait was rounded.  (How many reached the backend at all depends
   * on the machine's speed: a deadline that passed on the way is a wait of
   * 0, neither precise nor rounded.) */
  ASSERT_EQ(st.rounded, 0);
  ASSERT_TRUE(st.precise >= 1);
}

TEST(epoll_without_pwait2_rounds_up_and_is_never_early) {
  coro__fault_arm(CORO__FAULT_EPOLL_PWAIT2, 0, ENOSYS);
  ASSERT_STR_EQ(sleep_beside_a_reader("epoll"), "epoll");
  coro__fault_reset();
  coro__epoll_stats st = coro__epoll_stats_now;
  ASSERT_EQ(st.precise, 0);
  ASSERT_TRUE(st.rounded >= 1);
}

TEST(io_uring_sleeps_beside_an_fd_waiter_are_never_early) {
  const char *name = sleep_beside_a_reader("io_uring");
  ASSERT_TRUE(name != NULL);
  if (strcmp(name, "io_uring") != 0) {
    printf("the kernel refuses io_uring here: ran on %s\n", name);
    return;
  }
  /* The ring takes a timespec: epoll's counters were not touched. */
  ASSERT_EQ(coro__epoll_stats_now.precise + coro__epoll_stats_now.rounded, 0);
}
