/* SPDX-License-Identifier: MIT */
/*
 * bufio.c - coro_fd_writev_all() and the buffered writer (coro_writer):
 *   - every bad input (NULL, negative or huge counts, over IOV_MAX, NULL
 *     bases, sizes out of range) and the zero-length cases;
 *   - partial writes through a pipe of one page, with many small entries:
 *     the reader gets the exact stream, nothing lost or doubled, and the
 *     caller's iovec array is left as it was;
 *   - the peer closing mid-write: -EPIPE, with the count written equal to
 *     what the peer read; for the writer, the error sticks;
 *   - deadlines and cancels: the count written is exact, the writer keeps
 *     what was not written and a later flush delivers exactly that;
 *   - small writes cost no system call until the flush; a write larger than
 *     the buffer goes out together with what is buffered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

#define MS (INT64_C(1000000))
#define BIG (256 * 1024) /* more than a pipe or socket buffer holds */

static int fds[2];             /* the case's pipe or socket pair: [0] read, [1] write */
static unsigned char src[BIG]; /* the stream written: byte i is pattern(i) */
static unsigned char dst[BIG]; /* what the reader got */
static size_t ngot;            /* how much of it */
static size_t pipe_size;       /* what small_pipe's pipe holds */

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 251); }

static void fill_src(void) {
  for (size_t i = 0; i < BIG; i++) src[i] = pattern(i);
}

/* A pipe holding one page, so that writes come back partial. */
static void small_pipe(void) {
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  int n = fcntl(fds[1], F_SETPIPE_SZ, 4096);
  ASSERT_TRUE(n >= 4096);
  pipe_size = (size_t)n;
}

static void close_both(void) {
  if (fds[0] >= 0) ASSERT_EQ(coro_fd_close(fds[0]), 0);
  if (fds[1] >= 0) ASSERT_EQ(coro_fd_close(fds[1]), 0);
}

/* Is anything readable on fd right now? */
static int readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Read fds[0] to end of file (or `limit` bytes) into dst, in small pieces. */
static void *drain(void *arg) {
  size_t limit = arg ? (size_t)VI(arg) : BIG;
  ngot = 0;
  while (ngot < limit) {
    size_t want = limit - ngot < 1000 ? limit - ngot : 1000;
    ssize_t n = coro_fd_read(fds[0], dst + ngot, want, -1);
    ASSERT_TRUE(n >= 0);
    if (n == 0) break;
    ngot += (size_t)n;
  }
  return NULL;
}

/* --- coro_fd_writev_all: bad input ------------------------------------------------- */

TEST(writev_all_refuses_bad_input_and_writes_nothing) {
  small_pipe();
  char c = 'x';
  struct iovec one = {&c, 1};
  struct iovec null_base = {NULL, 1};
  struct iovec huge[2] = {{&c, (size_t)SSIZE_MAX}, {&c, 1}};
  size_t written = 99;
  ASSERT_EQ(coro_fd_writev_all(fds[1], NULL, 1, &written, -1), -EINVAL);
  ASSERT_EQ(written, 0);
  ASSERT_EQ(coro_fd_writev_all(fds[1], &one, -1, &written, -1), -EINVAL);
  ASSERT_EQ(coro_fd_writev_all(fds[1], &one, IOV_MAX + 1, &written, -1), -EINVAL);
  ASSERT_EQ(coro_fd_writev_all(fds[1], &null_base, 1, &written, -1), -EINVAL);
  ASSERT_EQ(coro_fd_writev_all(fds[1], huge, 2, &written, -1), -EINVAL);
  ASSERT_EQ(coro_fd_writev_all(-1, &one, 1, &written, -1), -EBADF);
  ASSERT_EQ(coro_fd_writev_all(fds[0], &one, 1, NULL, 0), -EBADF); /* the read end */
  ASSERT_TRUE(!readable(fds[0]));
  /* Nothing to write: 0 at once, NULL iov included. */
  struct iovec empty[3] = {{NULL, 0}, {&c, 0}, {NULL, 0}};
  ASSERT_EQ(coro_fd_writev_all(fds[1], NULL, 0, &written, -1), 0);
  ASSERT_EQ(written, 0);
  ASSERT_EQ(coro_fd_writev_all(fds[1], empty, 3, &written, -1), 0);
  ASSERT_EQ(written, 0);
  ASSERT_TRUE(!readable(fds[0]));
  close_both();
}

/* --- coro_fd_writev_all: partial writes -------------------------------------------- */

#define NIOV 1000 /* more than the window of one writev (64) */
static struct iovec iov[NIOV], iov_copy[NIOV];

/* Cut src into NIOV entries of uneven sizes, with empty ones among them. */
static size_t cut_src(void) {
  size_t at = 0;
  for (int i = 0; i < NIOV; i++) {
    size_t len = i % 10 == 3 ? 0 : (size_t)(i * 37 % 500);
    iov[i].iov_base = src + at;
    iov[i].iov_len = len;
    at += len;
  }
  memcpy(iov_copy, iov, sizeof(iov));
  return at;
}

static size_t total_len;
static int writev_rc;
static size_t writev_done;

static void *writev_everything(void *arg) {
  (void)arg;
  writev_rc = coro_fd_writev_all(fds[1], iov, NIOV, &writev_done, -1);
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  fds[1] = -1;
  return NULL;
}

TEST(writev_all_finishes_partial_writes_without_losing_or_doubling_a_byte) {
  fill_src();
  total_len = cut_src();
  ASSERT_TRUE(total_len > 100000); /* many times the pipe */
  small_pipe();
  ASSERT_EQ(coro_spawn(NULL, writev_everything, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, drain, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(writev_rc, 0);
  ASSERT_EQ(writev_done, total_len);
  ASSERT_EQ(ngot, total_len);
  ASSERT_TRUE(memcmp(dst, src, total_len) == 0);
  ASSERT_TRUE(memcmp(iov, iov_copy, sizeof(iov)) == 0); /* the caller's array is untouched */
  close_both();
}

/* --- coro_fd_writev_all: the peer closes mid-write ---------------------------------- */

static void *read_some_then_close(void *arg) {
  (void)arg;
  drain(IV(10000));
  ASSERT_EQ(ngot, 10000);
  ASSERT_EQ(coro_fd_close(fds[0]), 0);
  fds[0] = -1;
  return NULL;
}

static void *writev_until_epipe(void *arg) {
  (void)arg;
  struct iovec v[2] = {{src, BIG / 2}, {src + BIG / 2, BIG / 2}};
  writev_rc = coro_fd_writev_all(fds[1], v, 2, &writev_done, -1);
  return NULL;
}

TEST(writev_all_to_a_peer_that_closes_is_epipe_with_what_it_read) {
  fill_src();
  /* A socket pair: what the peer had not read when it closed is dropped,
   * so what it read plus what was queued for it is what the kernel took. */
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  int small = 4096;
  ASSERT_EQ(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  ASSERT_EQ(coro_spawn(NULL, writev_until_epipe, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, read_some_then_close, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(writev_rc, -EPIPE);
  ASSERT_TRUE(writev_done >= 10000); /* at least what the peer read */
  ASSERT_TRUE(writev_done < BIG);
  ASSERT_TRUE(memcmp(dst, src, 10000) == 0);
  close_both();
}

TEST(writev_all_to_a_pipe_whose_reader_closed_mid_write_reports_what_it_read) {
  fill_src();
  signal(SIGPIPE, SIG_IGN); /* a pipe raises it, as write(2) does */
  small_pipe();
  ASSERT_EQ(coro_spawn(NULL, writev_until_epipe, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, read_some_then_close, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(writev_rc, -EPIPE);
  /* A pipe's unread bytes were taken too: at least what was read, at most
   * that plus the pipe's page. */
  ASSERT_TRUE(writev_done >= 10000 && writev_done <= 10000 + pipe_size);
  close_both();
}

/* --- coro_fd_writev_all: deadline, cancel, no scheduler ----------------------------- */

static void *writev_with_deadline(void *arg) {
  (void)arg;
  struct iovec v = {src, BIG};
  writev_rc = coro_fd_writev_all(fds[1], &v, 1, &writev_done, coro_now() + 20 * MS);
  return NULL;
}

TEST(writev_all_deadline_reports_exactly_what_was_written) {
  fill_src();
  small_pipe();
  ASSERT_EQ(coro_spawn(NULL, writev_with_deadline, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0); /* nobody reads: the pipe fills, the deadline passes */
  ASSERT_EQ(writev_rc, -ETIMEDOUT);
  ASSERT_TRUE(writev_done > 0 && writev_done < BIG);
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  fds[1] = -1;
  ASSERT_EQ(coro_spawn(NULL, drain, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ngot, writev_done); /* written means in the pipe: no more, no less */
  ASSERT_TRUE(memcmp(dst, src, ngot) == 0);
  close_both();
}

static void *writev_forever(void *arg) {
  (void)arg;
  struct iovec v = {src, BIG};
  writev_rc = coro_fd_writev_all(fds[1], &v, 1, &writev_done, -1);
  return NULL;
}

static void *cancel_later(void *arg) {
  ASSERT_EQ(coro_sleep(coro_now() + 5 * MS), 0); /* the writer waits on the full pipe */
  ASSERT_EQ(coro_cancel(arg), 0);
  return NULL;
}

TEST(writev_all_cancelled_reports_what_was_written) {
  fill_src();
  small_pipe();
  coro *w = NULL;
  ASSERT_EQ(coro_spawn(&w, writev_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_later, w, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_destroy(w), 0);
  ASSERT_EQ(writev_rc, -ECANCELED);
  ASSERT_TRUE(writev_done > 0 && writev_done < BIG);
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  fds[1] = -1;
  drain(NULL); /* no wait needed: the pipe holds it all, then EOF */
  ASSERT_EQ(ngot, writev_done);
  close_both();
}

TEST(writev_all_without_a_scheduler_writes_what_fits_then_edeadlk) {
  fill_src();
  small_pipe();
  struct iovec v = {src, BIG};
  size_t written = 0;
  ASSERT_EQ(coro_fd_writev_all(fds[1], &v, 1, &written, -1), -EDEADLK);
  ASSERT_TRUE(written > 0 && written < BIG);
  close_both();
}

/* --- the writer: bad input ----------------------------------------------------------- */

TEST(writer_refuses_bad_input) {
  small_pipe();
  coro_writer *w = (coro_writer *)&fds; /* must stay untouched on error */
  ASSERT_EQ(coro_writer_create(NULL, fds[1], 64), -EINVAL);
  ASSERT_EQ(coro_writer_create(&w, -1, 64), -EINVAL);
  ASSERT_EQ(coro_writer_create(&w, fds[1], 15), -EINVAL);
  ASSERT_EQ(coro_writer_create(&w, fds[1], ((size_t)1 << 30) + 1), -EINVAL);
  ASSERT_PTR_EQ(w, &fds);
  size_t acc = 99;
  ASSERT_EQ(coro_writer_write(NULL, "x", 1, &acc, -1), -EINVAL);
  ASSERT_EQ(acc, 0);
  ASSERT_EQ(coro_writer_flush(NULL, -1), -EINVAL);
  ASSERT_EQ(coro_writer_pending(NULL), -EINVAL);
  ASSERT_EQ(coro_writer_destroy(NULL), -EINVAL);
  ASSERT_EQ(coro_writer_create(&w, fds[1], 16), 0);
  ASSERT_EQ(coro_writer_write(w, NULL, 1, &acc, -1), -EINVAL);
  ASSERT_EQ(coro_writer_write(w, NULL, 0, &acc, -1), 0); /* nothing to accept */
  ASSERT_EQ(coro_writer_write(w, "x", 0, NULL, -1), 0);
  ASSERT_EQ(coro_writer_pending(w), 0);
  ASSERT_EQ(coro_writer_flush(w, -1), 0); /* nothing buffered: no system call needed */
  ASSERT_TRUE(!readable(fds[0]));
  ASSERT_EQ(coro_writer_destroy(w), 0);
  close_both();
}

/* --- the writer: batching ----------------------------------------------------------- */

TEST(writer_holds_small_writes_until_the_flush) {
  fill_src();
  small_pipe();
  coro_writer *w = NULL;
  ASSERT_EQ(coro_writer_create(&w, fds[1], 64), 0);
  size_t acc = 0;
  for (int i = 0; i < 6; i++) {
    ASSERT_EQ(coro_writer_write(w, "hello ", 6, &acc, 0), 0); /* deadline 0: never waits */
    ASSERT_EQ(acc, 6);
  }
  ASSERT_EQ(coro_writer_pending(w), 36);
  ASSERT_TRUE(!readable(fds[0])); /* no system call yet */
  ASSERT_EQ(coro_writer_flush(w, 0), 0);
  ASSERT_EQ(coro_writer_pending(w), 0);
  char buf[64];
  ASSERT_EQ(read(fds[0], buf, sizeof(buf)), 36);
  ASSERT_TRUE(memcmp(buf, "hello hello hello hello hello hello ", 36) == 0);
  /* Filling past the buffer writes what was buffered and the new bytes in
   * order, and keeps only what fits. */
  ASSERT_EQ(coro_writer_write(w, src, 50, &acc, 0), 0);
  ASSERT_EQ(coro_writer_write(w, src, 50, &acc, 0), 0);
  ASSERT_EQ(coro_writer_write(w, src + 50, 100, &acc, 0), 0); /* over: goes out */
  ASSERT_EQ(acc, 100);
  ASSERT_TRUE(coro_writer_pending(w) <= 64);
  ASSERT_EQ(coro_writer_flush(w, 0), 0);
  ssize_t n = read(fds[0], dst, sizeof(dst));
  ASSERT_EQ(n, 200);
  ASSERT_TRUE(memcmp(dst + 50, src, 150) == 0);
  ASSERT_EQ(coro_writer_destroy(w), 0);
  close_both();
}

/* Writes of every size, up to several buffers, through the small pipe. */
static void *write_in_pieces(void *arg) {
  coro_writer *w = arg;
  size_t at = 0, step = 1;
  while (at < BIG) {
    size_t len = step < BIG - at ? step : BIG - at;
    size_t acc = 0;
    ASSERT_EQ(coro_writer_write(w, src + at, len, &acc, -1), 0);
    ASSERT_EQ(acc, len);
    at += len;
    step = step * 3 % 1531 + 1; /* 1 .. 1531, over the buffer's 1000 at times */
  }
  ASSERT_EQ(coro_writer_flush(w, -1), 0);
  ASSERT_EQ(coro_writer_pending(w), 0);
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  fds[1] = -1;
  return NULL;
}

TEST(writer_delivers_the_exact_stream_through_partial_writes) {
  fill_src();
  small_pipe();
  coro_writer *w = NULL;
  ASSERT_EQ(coro_writer_create(&w, fds[1], 1000), 0);
  ASSERT_EQ(coro_spawn(NULL, write_in_pieces, w, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, drain, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ngot, BIG);
  ASSERT_TRUE(memcmp(dst, src, BIG) == 0);
  ASSERT_EQ(coro_writer_destroy(w), 0);
  close_both();
}

/* --- the writer: deadline, cancel, EPIPE -------------------------------------------- */

TEST(writer_deadline_keeps_what_was_not_written_for_the_next_flush) {
  fill_src();
  small_pipe();
  coro_writer *w = NULL;
  ASSERT_EQ(coro_writer_create(&w, fds[1], 16384), 0);
  /* Deadline 0 and no scheduler: the pipe takes a page, the rest stays. */
  ASSERT_EQ(coro_writer_write(w, src, 10000, NULL, 0), 0);
  ASSERT_EQ(coro_writer_flush(w, 0), -ETIMEDOUT);
  ssize_t left = coro_writer_pending(w);
  ASSERT_TRUE(left > 0 && left < 10000);
  /* A write that does not fit now: it goes out with the buffered bytes, and
   * its deadline leaves a prefix of it accepted, exactly. */
  size_t acc = 99;
  int rc = coro_writer_write(w, src + 10000, 16384, &acc, 0);
  ASSERT_EQ(rc, -ETIMEDOUT);
  ASSERT_EQ(acc, 0); /* the pipe is full: not even the buffered bytes moved */
  ASSERT_EQ(coro_writer_pending(w), left);
  /* Drain the pipe and flush: the stream is whole, in order. */
  ssize_t n = read(fds[0], dst, sizeof(dst));
  ASSERT_EQ((size_t)n + (size_t)left, 10000);
  ASSERT_EQ((size_t)n, pipe_size);
  size_t have = (size_t)n;
  while (coro_writer_pending(w) > 0) {
    rc = coro_writer_flush(w, 0);
    ASSERT_TRUE(rc == 0 || rc == -ETIMEDOUT);
    n = read(fds[0], dst + have, sizeof(dst) - have);
    ASSERT_TRUE(n > 0);
    have += (size_t)n;
  }
  ASSERT_EQ(have, 10000);
  ASSERT_TRUE(memcmp(dst, src, 10000) == 0);
  ASSERT_EQ(coro_writer_write(w, "x", 1, NULL, 0), 0); /* not sticky */
  ASSERT_EQ(coro_writer_destroy(w), 0);
  close_both();
}

static coro_writer *cw; /* the writer of the cancel case */
static int flush_rc;

static void *flush_forever(void *arg) {
  (void)arg;
  flush_rc = coro_writer_flush(cw, -1);
  return NULL;
}

TEST(writer_cancelled_flush_keeps_the_rest) {
  fill_src();
  small_pipe();
  ASSERT_EQ(coro_writer_create(&cw, fds[1], 65536), 0);
  ASSERT_EQ(coro_writer_write(cw, src, 65536, NULL, -1), 0);
  coro *f = NULL;
  ASSERT_EQ(coro_spawn(&f, flush_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, cancel_later, f, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_destroy(f), 0);
  ASSERT_EQ(flush_rc, -ECANCELED);
  ssize_t left = coro_writer_pending(cw);
  ASSERT_TRUE(left > 0 && left < 65536);
  /* Flushed by another coroutine with a reader: the rest, once. */
  ASSERT_EQ(coro_spawn(NULL, flush_forever, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, drain, IV(65536), NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(flush_rc, 0);
  ASSERT_EQ(ngot, 65536);
  ASSERT_TRUE(memcmp(dst, src, 65536) == 0);
  ASSERT_EQ(coro_writer_destroy(cw), 0);
  close_both();
}

static void *write_to_vanishing_peer(void *arg) {
  (void)arg;
  coro_writer *w = NULL;
  ASSERT_EQ(coro_writer_create(&w, fds[1], 4096), 0);
  int rc = 0;
  size_t at = 0;
  while (rc == 0 && at < BIG) {
    size_t acc = 0;
    rc = coro_writer_write(w, src + at, 3000, &acc, -1);
    at += acc;
  }
  ASSERT_EQ(rc, -EPIPE);
  ASSERT_TRUE(at >= 10000);
  /* Broken: every later call says so at once. */
  ASSERT_EQ(coro_writer_write(w, "x", 1, NULL, -1), -EPIPE);
  ASSERT_EQ(coro_writer_flush(w, -1), -EPIPE);
  ASSERT_TRUE(coro_writer_pending(w) >= 0);
  ASSERT_EQ(coro_writer_destroy(w), 0);
  return NULL;
}

TEST(writer_to_a_peer_that_closes_is_epipe_and_stays_so) {
  fill_src();
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  int small = 4096; /* the stream must not fit in the socket's buffers */
  ASSERT_EQ(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  ASSERT_EQ(coro_spawn(NULL, write_to_vanishing_peer, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, read_some_then_close, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_TRUE(memcmp(dst, src, 10000) == 0);
  close_both();
}
