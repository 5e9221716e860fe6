/* SPDX-License-Identifier: MIT */
/*
 * io_uring.c - the io_uring backend's own paths, which the I/O tests run on
 * both backends do not reach: a submission queue that fills within one
 * round, a submit the kernel fails (CORO__FAULT_URING_SUBMIT) between the
 * two polls of one park, a closed fd whose polls must let go of the file at
 * once, and the paths of kernels older than this one (no single mapping of
 * the rings, no timeout argument to io_uring_enter), taken by masking the
 * features the kernel reports (coro__uring_features_off).
 *
 * Each case forces CORO_IO_BACKEND=io_uring and runs in a thread of its own,
 * whose first I/O sets up a ring with the hooks as the case set them.  Where
 * the kernel refuses io_uring (qemu-user, seccomp) a case says so and checks
 * nothing: the fallback is tested in io_backend.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

#define MS (INT64_C(1000000))

static void (*case_fn)(void); /* what the thread of with_ring runs */

static void *ring_thread(void *arg) {
  (void)arg;
  const char *name = coro_io_backend(); /* this thread's first I/O: its ring */
  ASSERT_TRUE(name != NULL);
  if (strcmp(name, "io_uring") != 0) return NULL;
  case_fn();
  return (void *)1;
}

/* Run fn in a fresh thread with a ring of `entries` (0: the default) lacking
 * `features_off`; returns 0 if the kernel gave no ring (fn did not run). */
static int with_ring(unsigned entries, unsigned features_off, void (*fn)(void)) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "io_uring", 1), 0);
  coro__uring_entries = entries;
  coro__uring_features_off = features_off;
  case_fn = fn;
  pthread_t th;
  void *ran = NULL;
  ASSERT_EQ(pthread_create(&th, NULL, ring_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, &ran), 0);
  coro__uring_entries = 0;
  coro__uring_features_off = 0;
  if (!ran) printf("the kernel refuses io_uring here: nothing to check\n");
  return ran != NULL;
}

static void make_pipe(int p[2]) { ASSERT_EQ(pipe2(p, O_CLOEXEC), 0); }

/* --- a queue that fills within one round ------------------------------------------ */

#define NPIPES 10
static int pipes[NPIPES][2]; /* one reader parks on each */
static int got[NPIPES];      /* what each reader's read returned */

static void *read_one(void *arg) {
  int i = (int)VI(arg);
  char c = 0;
  got[i] = (int)coro_fd_read(pipes[i][0], &c, 1, coro_now() + 10000 * MS);
  if (got[i] == 1) ASSERT_EQ(c, 'a' + i);
  return NULL;
}

static void *write_all(void *arg) {
  (void)arg;
  for (int i = 0; i < NPIPES; i++) {
    char c = (char)('a' + i);
    ASSERT_EQ(coro_fd_write(pipes[i][1], &c, 1, -1), 1);
  }
  return NULL;
}

/* Ten readers park in one round on a ring of four entries: the fifth poll
 * finds the queue full and hands it to the kernel before it takes a slot. */
static void full_queue_case(void) {
  for (int i = 0; i < NPIPES; i++) {
    make_pipe(pipes[i]);
    got[i] = 0;
    ASSERT_EQ(coro_spawn(NULL, read_one, IV(i), NULL), 0);
  }
  ASSERT_EQ(coro_spawn(NULL, write_all, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  for (int i = 0; i < NPIPES; i++) {
    ASSERT_EQ(got[i], 1);
    ASSERT_EQ(coro_fd_close(pipes[i][0]), 0);
    ASSERT_EQ(coro_fd_close(pipes[i][1]), 0);
  }
}

TEST(more_parks_in_one_round_than_the_queue_holds) { with_ring(4, 0, full_queue_case); }

/* --- a submit that fails between the two polls of one park ------------------------- */

static int target[2];    /* the pipe whose park half fails */
static int reused[2];    /* the pipe that gets target's read end's number */
static int filler_rc[3]; /* the three readers that fill the queue */

static void *fill(void *arg) {
  int i = (int)VI(arg);
  char c;
  filler_rc[i] = (int)coro_fd_read(pipes[i][0], &c, 1, -1);
  return NULL;
}

static void *read_reused(void *arg) {
  (void)arg;
  char c = 0;
  /* With the target's poll still pending under this number, this read
   * would never be armed: it would time out. */
  ASSERT_EQ(coro_fd_read(reused[0], &c, 1, coro_now() + 10000 * MS), 1);
  ASSERT_EQ(c, 'r');
  return NULL;
}

static void *half_armed(void *arg) {
  (void)arg;
  /* The queue holds three polls of four: the read poll takes the last slot,
   * the write poll finds it full and the submit that would make room fails. */
  coro__fault_arm(CORO__FAULT_URING_SUBMIT, 0, ENOMEM);
  ASSERT_EQ(coro_wait_fd(target[0], CORO_READ | CORO_WRITE, -1), -ENOMEM);
  coro__fault_reset();
  /* Nothing else runnable: the scheduler's wait submits the read poll. */
  ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  int num = target[0];
  ASSERT_EQ(coro_fd_close(target[0]), 0);
  /* The read end is really closed: no poll holds its file. */
  ASSERT_EQ(coro_fd_write(target[1], "x", 1, 0), -EPIPE);
  ASSERT_EQ(coro_fd_close(target[1]), 0);
  /* A new fd of the same number can be waited on. */
  make_pipe(reused);
  ASSERT_EQ(reused[0], num);
  coro *reader = NULL;
  ASSERT_EQ(coro_spawn(&reader, read_reused, NULL, NULL), 0);
  ASSERT_EQ(coro_sched_yield(), 0); /* it parks */
  ASSERT_EQ(coro_fd_write(reused[1], "r", 1, -1), 1);
  ASSERT_EQ(coro_join(reader, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(reader), 0);
  ASSERT_EQ(coro_fd_close(reused[0]), 0);
  ASSERT_EQ(coro_fd_close(reused[1]), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_fd_close(pipes[i][0]), 0); /* wakes the fillers */
  return NULL;
}

static void half_armed_case(void) {
  for (int i = 0; i < 3; i++) {
    make_pipe(pipes[i]);
    filler_rc[i] = 0;
    ASSERT_EQ(coro_spawn(NULL, fill, IV(i), NULL), 0);
  }
  make_pipe(target);
  ASSERT_EQ(coro_spawn(NULL, half_armed, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(filler_rc[i], -EBADF);
    ASSERT_EQ(coro_fd_close(pipes[i][1]), 0);
  }
}

/* The regression test of "an fd is ARMED as soon as one of its polls is
 * queued": armed only after both, the close skipped the cancel, the file
 * stayed open (no EPIPE) and the reused number's reader was never armed. */
TEST(a_park_whose_second_poll_cannot_be_queued_is_still_cancelled_by_close) {
  signal(SIGPIPE, SIG_IGN);
  with_ring(4, 0, half_armed_case);
}

/* --- a closed socket closes -------------------------------------------------------- */

static int sv[2];   /* the socket pair of the case */
static int sock_rc; /* what the parked reader's recv returned */

static void *recv_parked(void *arg) {
  (void)arg;
  char c;
  sock_rc = (int)coro_sock_recv(sv[0], &c, 1, 0, -1);
  return NULL;
}

static void *close_and_look(void *arg) {
  (void)arg;
  /* Nothing else runnable: the scheduler's wait hands the reader's poll to
   * the kernel. */
  ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  ASSERT_EQ(coro_fd_close(sv[0]), 0);
  /* Nothing waits on an fd now, so no later poll enters the kernel: the
   * cancel itself must have let go of the file, or the peer sees no EOF. */
  char c;
  ASSERT_EQ(recv(sv[1], &c, 1, MSG_DONTWAIT), 0);
  return NULL;
}

static void closed_socket_case(void) {
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  sock_rc = 1;
  ASSERT_EQ(coro_spawn(NULL, recv_parked, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, close_and_look, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(sock_rc, -EBADF);
  ASSERT_EQ(close(sv[1]), 0);
}

TEST(closing_a_polled_socket_closes_it_at_once) { with_ring(0, 0, closed_socket_case); }

/* --- older kernels' paths ---------------------------------------------------------- */

static int old_pipe[2]; /* the pipe of the older-kernel cases */

static void *read_late(void *arg) {
  (void)arg;
  char c = 0;
  /* No timeout argument: the waits below go through timeout requests. */
  ASSERT_EQ(coro_fd_read(old_pipe[0], &c, 1, coro_now() + 2 * MS), -ETIMEDOUT);
  ASSERT_EQ(coro_fd_read(old_pipe[0], &c, 1, coro_now() + 10000 * MS), 1);
  ASSERT_EQ(c, 'o');
  ASSERT_EQ(coro_fd_read(old_pipe[0], &c, 1, -1), 0); /* EOF */
  return NULL;
}

static void *write_late(void *arg) {
  (void)arg;
  /* Sleeps end while the reader is parked on the pipe: the ring's wait ends
   * by its limit. */
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_sleep(coro_now() + 3 * MS), 0);
  ASSERT_EQ(coro_fd_write(old_pipe[1], "o", 1, -1), 1);
  ASSERT_EQ(coro_sleep(coro_now() + 1 * MS), 0);
  ASSERT_EQ(coro_fd_close(old_pipe[1]), 0);
  return NULL;
}

static void old_kernel_case(void) {
  make_pipe(old_pipe);
  ASSERT_EQ(coro_spawn(NULL, read_late, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, write_late, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_fd_close(old_pipe[0]), 0);
}

TEST(without_a_single_mapping_the_rings_are_mapped_apart) {
  with_ring(0, IORING_FEAT_SINGLE_MMAP, old_kernel_case);
}

TEST(without_the_extended_argument_a_timed_wait_is_a_timeout_request) {
  with_ring(0, IORING_FEAT_EXT_ARG, old_kernel_case);
}

TEST(a_small_ring_without_either_still_serves) {
  with_ring(2, IORING_FEAT_SINGLE_MMAP | IORING_FEAT_EXT_ARG, full_queue_case);
}
