/* SPDX-License-Identifier: MIT */
/*
 * io.c - file descriptors that park the coroutine: readiness waits with
 * deadlines, reads that wait for a writer, partial reads and writes, a full
 * pipe, scatter/gather, close while waited on, cancel, bad fds, no scheduler,
 * and fairness between busy coroutines and I/O.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

#define MS (INT64_C(1000000))

static int fds[2]; /* the pipe of the current test: [0] read end, [1] write end */

static void make_pipe(void) { ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0); }

static void close_pipe(void) {
  if (fds[0] >= 0) ASSERT_EQ(coro_fd_close(fds[0]), 0);
  if (fds[1] >= 0) ASSERT_EQ(coro_fd_close(fds[1]), 0);
}

/* Spawn fn(arg) detached. */
static void go(coro_fn fn, void *arg) { ASSERT_EQ(coro_spawn(NULL, fn, arg, NULL), 0); }

/* --- readiness ------------------------------------------------------------------ */

static void *wait_readable(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, coro_now() + 5 * MS), -ETIMEDOUT);
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, -1), CORO_READ); /* write_one wrote */
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ | CORO_WRITE, 0), CORO_READ);
  return NULL;
}

static void *write_one_later(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(coro_now() + 10 * MS), 0);
  ASSERT_EQ(coro_fd_write(fds[1], "x", 1, -1), 1);
  return NULL;
}

TEST(wait_fd_honours_zero_deadline_and_readiness) {
  make_pipe();
  /* Without a scheduler: what is ready is reported, nothing waits. */
  ASSERT_EQ(coro_wait_fd(fds[1], CORO_WRITE, 0), CORO_WRITE);
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, -1), -EDEADLK);
  ASSERT_EQ(coro_wait_fd(fds[0], 0, -1), -EINVAL);
  ASSERT_EQ(coro_wait_fd(fds[0], 4, -1), -EINVAL);
  go(wait_readable, NULL);
  go(write_one_later, NULL);
  ASSERT_EQ(coro_run(), 0);
  close_pipe();
}

/* --- reading and writing ------------------------------------------------------------ */

static int reader_done;

static void *read_hello(void *arg) {
  (void)arg;
  char buf[16];
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), 5);
  ASSERT_TRUE(memcmp(buf, "hello", 5) == 0);
  reader_done = 1;
  return NULL;
}

static void *see_reader_parked_then_write(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the reader has run and parked */
  coro_info info[8];
  long n = coro_list(info, 8);
  int seen = 0;
  for (long i = 0; i < n && i < 8; i++)
    if (info[i].waiting_on && strcmp(info[i].waiting_on, "fd read") == 0) seen++;
  ASSERT_EQ(seen, 1);
  ASSERT_EQ(reader_done, 0);
  ASSERT_EQ(coro_fd_write(fds[1], "hello", 5, -1), 5);
  return NULL;
}

TEST(read_parks_until_another_micro_thread_writes) {
  make_pipe();
  reader_done = 0;
  go(read_hello, NULL);
  go(see_reader_parked_then_write, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(reader_done, 1);
  close_pipe();
}

TEST(read_returns_what_is_there_and_zero_at_eof) {
  make_pipe();
  ASSERT_EQ(write(fds[1], "abc", 3), 3);
  char buf[100];
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), 3); /* partial: no scheduler needed */
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), 0), -ETIMEDOUT);
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), -EDEADLK); /* would wait, nobody to run */
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  fds[1] = -1;
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), 0);
  close_pipe();
}

static void *read_with_deadline(void *arg) {
  (void)arg;
  char buf[4];
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), coro_now() + 5 * MS), -ETIMEDOUT);
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), 0), -ETIMEDOUT);
  return NULL;
}

TEST(read_deadline_passes_with_nothing_to_read) {
  make_pipe();
  go(read_with_deadline, NULL);
  ASSERT_EQ(coro_run(), 0);
  close_pipe();
}

#define BIG (256 * 1024) /* four times a default pipe's capacity */

static int writer_done;

static void *write_big(void *arg) {
  unsigned char *data = arg;
  size_t written = 0;
  ASSERT_EQ(coro_fd_write_all(fds[1], data, BIG, &written, -1), 0);
  ASSERT_EQ(written, BIG);
  writer_done = 1;
  return NULL;
}

static void *drain_big(void *arg) {
  unsigned char *data = arg;
  static unsigned char got[BIG];
  size_t have = 0;
  int first = 1;
  while (have < BIG) {
    ssize_t n = coro_fd_read(fds[0], got + have, 1000, -1); /* small reads: many turns */
    ASSERT_TRUE(n > 0);
    if (first) ASSERT_EQ(writer_done, 0); /* the writer parked on the full pipe */
    first = 0;
    have += (size_t)n;
  }
  ASSERT_TRUE(memcmp(got, data, BIG) == 0);
  return NULL;
}

TEST(write_to_a_full_pipe_parks_until_drained) {
  make_pipe();
  static unsigned char data[BIG];
  for (size_t i = 0; i < BIG; i++) data[i] = (unsigned char)(i * 7 + i / 251);
  writer_done = 0;
  go(write_big, data);
  go(drain_big, data);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(writer_done, 1);
  close_pipe();
}

TEST(readv_and_writev_scatter_and_gather) {
  make_pipe();
  struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
  ASSERT_EQ(coro_fd_writev(fds[1], out, 3, -1), 6);
  char a[3] = {0}, b[8] = {0};
  struct iovec in[2] = {{a, 2}, {b, sizeof(b) - 1}};
  ASSERT_EQ(coro_fd_readv(fds[0], in, 2, -1), 6);
  ASSERT_STR_EQ(a, "ab");
  ASSERT_STR_EQ(b, "cdef");
  ASSERT_EQ(coro_fd_writev(fds[1], out, 0, -1), -EINVAL);
  ASSERT_EQ(coro_fd_readv(fds[0], in, 2, 0), -ETIMEDOUT);
  close_pipe();
}

TEST(write_to_a_pipe_without_reader_is_epipe) {
  make_pipe();
  signal(SIGPIPE, SIG_IGN); /* a pipe raises it, as write(2) does */
  ASSERT_EQ(coro_fd_close(fds[0]), 0);
  fds[0] = -1;
  size_t written = 99;
  ASSERT_EQ(coro_fd_write_all(fds[1], "abc", 3, &written, -1), -EPIPE);
  ASSERT_EQ(written, 0);
  close_pipe();
}

/* --- closing, cancelling, bad fds ---------------------------------------------------- */

static int read_rc;

static void *read_and_record(void *arg) {
  (void)arg;
  char buf[4];
  read_rc = (int)coro_fd_read(fds[0], buf, sizeof(buf), -1);
  return NULL;
}

static void *close_read_end(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the reader waits now */
  ASSERT_EQ(coro_fd_close(fds[0]), 0);
  fds[0] = -1;
  return NULL;
}

TEST(closing_an_fd_wakes_its_waiter_with_ebadf) {
  make_pipe();
  read_rc = 1;
  go(read_and_record, NULL);
  go(close_read_end, NULL);
  ASSERT_EQ(coro_run(), 0); /* not -EDEADLK, no hang */
  ASSERT_EQ(read_rc, -EBADF);
  close_pipe();
}

static void *wait_on_bad_fds(void *arg) {
  int closed = *(int *)arg;
  char buf[4];
  ASSERT_EQ(coro_wait_fd(closed, CORO_READ, -1), -EBADF);
  ASSERT_EQ(coro_wait_fd(-1, CORO_WRITE, -1), -EBADF);
  ASSERT_EQ(coro_fd_read(closed, buf, sizeof(buf), -1), -EBADF);
  ASSERT_EQ(coro_fd_write(-3, buf, sizeof(buf), -1), -EBADF);
  ASSERT_EQ(coro_fd_read(1 << 24, buf, sizeof(buf), -1), -EBADF); /* no table that large */
  ASSERT_EQ(coro_sock_accept(closed, NULL, NULL, -1), -EBADF);
  return NULL;
}

TEST(waiting_on_a_closed_or_invalid_fd_is_ebadf) {
  make_pipe();
  int closed = fds[0];
  char buf[4];
  ASSERT_EQ(coro_fd_read(closed, buf, 0, 0), 0); /* now known to the registry */
  ASSERT_EQ(coro_fd_close(closed), 0);
  fds[0] = -1;
  ASSERT_EQ(coro_fd_close(closed), -EBADF);
  ASSERT_EQ(coro_fd_close(-1), -EBADF);
  ASSERT_EQ(coro_wait_fd(closed, CORO_READ, -1), -EBADF);
  go(wait_on_bad_fds, &closed);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_sock_recv(fds[1], buf, sizeof(buf), 0, -1), -ENOTSOCK);
  close_pipe();
}

static void *cancel_it(void *arg) {
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(cancelling_a_blocked_reader_returns_ecanceled) {
  make_pipe();
  read_rc = 1;
  coro *r;
  ASSERT_EQ(coro_spawn(&r, read_and_record, NULL, NULL), 0);
  go(cancel_it, r);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(read_rc, -ECANCELED);
  ASSERT_EQ(coro_join(r, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(r), 0);
  close_pipe();
}

TEST(blocking_without_a_scheduler_is_edeadlk) {
  make_pipe();
  char buf[4];
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), -EDEADLK);
  ASSERT_EQ(coro_wait_fd(fds[0], CORO_READ, coro_now() + 1000 * MS), -EDEADLK);
  /* With data there is nothing to wait for. */
  ASSERT_EQ(coro_fd_write(fds[1], "ok", 2, -1), 2);
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), 2);
  close_pipe();
}

/* --- fairness ------------------------------------------------------------------------ */

#define BUSY_MAX 100000L

static int got_data;
static long busy_turns;

static void *read_one(void *arg) {
  (void)arg;
  char c;
  ASSERT_EQ(coro_fd_read(fds[0], &c, 1, -1), 1);
  got_data = 1;
  return NULL;
}

static void *write_one_after_yields(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_fd_write(fds[1], "x", 1, -1), 1);
  return NULL;
}

static void *busy(void *arg) {
  (void)arg;
  while (!got_data && busy_turns < BUSY_MAX) {
    busy_turns++;
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  return NULL;
}

/* A coroutine yielding in a loop never leaves the run queue empty: the reader
 * is woken only because the scheduler polls once per round anyway. */
TEST(busy_yielders_do_not_starve_io) {
  make_pipe();
  got_data = 0;
  busy_turns = 0;
  go(read_one, NULL);
  go(busy, NULL);
  go(busy, NULL);
  go(write_one_after_yields, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(got_data, 1);
  ASSERT_TRUE(busy_turns < BUSY_MAX);
  close_pipe();
}

/* --- coro_fd_forget ------------------------------------------------------------ */

static void *time_out_reading(void *arg) {
  (void)arg;
  char c;
  ASSERT_EQ(coro_fd_read(fds[0], &c, 1, coro_now() + 5 * MS), -ETIMEDOUT); /* arms fds[0] */
  return NULL;
}

static void *read_x(void *arg) {
  (void)arg;
  char c = 0;
  ASSERT_EQ(coro_fd_read(fds[0], &c, 1, -1), 1); /* parks: the new fd must be learnt */
  ASSERT_EQ(c, 'x');
  return NULL;
}

static void *write_x_after_yield(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_fd_write(fds[1], "x", 1, -1), 1);
  return NULL;
}

TEST(forget_repairs_a_plain_close) {
  make_pipe();
  int old0 = fds[0], old1 = fds[1];
  go(time_out_reading, NULL);
  ASSERT_EQ(coro_run(), 0);
  /* Closed behind the library's back, then forgotten. */
  ASSERT_EQ(close(fds[0]), 0);
  ASSERT_EQ(close(fds[1]), 0);
  ASSERT_EQ(coro_fd_forget(old0), 0);
  ASSERT_EQ(coro_fd_forget(old1), 0);
  make_pipe(); /* the same numbers, blocking again */
  ASSERT_EQ(fds[0], old0);
  ASSERT_EQ(fds[1], old1);
  go(read_x, NULL);
  go(write_x_after_yield, NULL);
  ASSERT_EQ(coro_run(), 0);
  close_pipe();
}

static void *forget_read_end(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the reader parks first */
  ASSERT_EQ(coro_fd_forget(fds[0]), 0);
  return NULL;
}

TEST(forget_wakes_waiters_with_ebadf_and_refuses_bad_fds) {
  ASSERT_EQ(coro_fd_forget(-1), -EBADF);
  ASSERT_EQ(coro_fd_forget(12345), 0); /* never seen: nothing to forget */
  make_pipe();
  read_rc = 0;
  go(read_and_record, NULL);
  go(forget_read_end, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(read_rc, -EBADF);
  /* The fd is still open and usable: the library learns it again. */
  ASSERT_EQ(coro_fd_write(fds[1], "y", 1, -1), 1);
  char c = 0;
  ASSERT_EQ(coro_fd_read(fds[0], &c, 1, -1), 1);
  ASSERT_EQ(c, 'y');
  close_pipe();
}
