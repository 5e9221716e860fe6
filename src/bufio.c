/* SPDX-License-Identifier: MIT */
/*
 * bufio.c - writing whole: coro_fd_writev_all(), which finishes partial
 * writes, and the buffered writer (coro_writer), which turns many small
 * writes into few system calls.
 *
 * Both rest on put(): write the bytes an iovec array describes, in order,
 * through coro_fd_writev (which parks on EAGAIN), until at least `want` of
 * them are written, counting them in *done.  The caller's array is never
 * modified (a broadcast hands the same one to every connection): each
 * writev gets a window of at most WINDOW entries copied onto the stack, its
 * first one advanced past what is written already.  So a partial write
 * loses and repeats nothing: the next writev starts at the first byte the
 * kernel did not take.
 *
 * The writer's buffer:
 *
 *     buf[0 .. start)      written already (reused after a compaction)
 *     buf[start .. end)    accepted, not yet written: what flush writes
 *     buf[end .. size)     room for the next writes
 *
 * Invariant: every byte a write accepted is written exactly once, or is in
 * buf[start .. end), in the order written.  A write that does not fit in the
 * room goes out in one writev together with what is buffered (no copy),
 * until the rest fits.  Errors of the fd itself (-EPIPE, -ECONNRESET,
 * -EBADF...) break the stream: they stick, every later call returns them.
 * A deadline, a cancel or a missing scheduler lose nothing: the bytes wait
 * in the buffer for the next flush.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

/* Entries per writev: 1 KiB of the coroutine's stack. */
#define WINDOW 64

#define WRITER_MIN 16
#define WRITER_MAX ((size_t)1 << 30)

/* Write the bytes of iov[0..n) from the first not yet written (*done of them
 * are) until at least `want` are, or an error.  Returns 0 or the error. */
static int put(int fd, const struct iovec *iov, int n, size_t want, size_t *done,
               int64_t deadline) {
  int i = 0;
  size_t off = *done; /* bytes of iov[i] written */
  while (i < n && off >= iov[i].iov_len) off -= iov[i++].iov_len;
  while (*done < want) {
    struct iovec win[WINDOW];
    int m = 0;
    for (int j = i; j < n && m < WINDOW; j++) {
      size_t skip = j == i ? off : 0;
      if (iov[j].iov_len == skip) continue; /* nothing of it left to write */
      win[m].iov_base = (char *)iov[j].iov_base + skip;
      win[m].iov_len = iov[j].iov_len - skip;
      m++;
    }
    if (m == 0) return 0; /* want was more than there is: all written */
    ssize_t w = coro_fd_writev(fd, win, m, deadline);
    if (w < 0) return (int)w;
    if (w == 0) return -EIO; /* writev returns 0 only for nothing to write */
    size_t k = (size_t)w;
    *done += k;
    for (k += off, off = 0; i < n && k >= iov[i].iov_len; i++) k -= iov[i].iov_len;
    off = k;
  }
  return 0;
}

int coro_fd_writev_all(int fd, const struct iovec *iov, int iovcnt, size_t *written,
                       int64_t deadline) {
  size_t done = 0, total = 0;
  int rc = 0;
  if (iovcnt < 0 || iovcnt > IOV_MAX || (!iov && iovcnt)) {
    rc = -EINVAL;
    goto out;
  }
  for (int i = 0; i < iovcnt; i++) {
    if ((!iov[i].iov_base && iov[i].iov_len) || iov[i].iov_len > (size_t)SSIZE_MAX - total) {
      rc = -EINVAL; /* writev(2) refuses a total over SSIZE_MAX */
      goto out;
    }
    total += iov[i].iov_len;
  }
  if (fd < 0) {
    rc = -EBADF;
    goto out;
  }
  rc = put(fd, iov, iovcnt, total, &done, deadline);
out:
  if (written) *written = done;
  return rc;
}

/* --- the buffered writer -------------------------------------------------------------- */

struct coro_writer {
  int fd;              /* what it writes to (not owned) */
  int err;             /* 0, or the fd's error that broke the stream (sticky) */
  size_t size;         /* bytes in buf */
  size_t start, end;   /* the bytes accepted and not yet written: buf[start..end) */
  unsigned char buf[]; /* size bytes */
};

/* Errors after which the stream is still whole: nothing was lost, a later
 * call may go on.  Any other error is the fd's own, and sticks. */
static int transient(int err) {
  return err == -ETIMEDOUT || err == -ECANCELED || err == -EDEADLK || err == -ENOMEM;
}

static int fail(coro_writer *w, int err) {
  if (!transient(err)) w->err = err;
  return err;
}

int coro_writer_create(coro_writer **out, int fd, size_t size) {
  if (!out || fd < 0 || size < WRITER_MIN || size > WRITER_MAX) return -EINVAL;
  coro_writer *w = coro__malloc(sizeof(*w) + size);
  if (!w) return -ENOMEM;
  w->fd = fd;
  w->err = 0;
  w->size = size;
  w->start = w->end = 0;
  *out = w;
  return 0;
}

int coro_writer_destroy(coro_writer *w) {
  if (!w) return -EINVAL;
  coro__free(w);
  return 0;
}

ssize_t coro_writer_pending(const coro_writer *w) {
  if (!w) return -EINVAL;
  return (ssize_t)(w->end - w->start);
}

int coro_writer_write(coro_writer *w, const void *buf, size_t len, size_t *accepted,
                      int64_t deadline) {
  size_t took = 0;
  int rc = 0;
  if (!w || (!buf && len)) {
    rc = -EINVAL;
    goto out;
  }
  if (w->err) {
    rc = w->err;
    goto out;
  }
  size_t pending = w->end - w->start;
  if (len > w->size - pending) {
    /* Too much to keep: write the buffered bytes and these together until
     * what is left of them fits in the buffer. */
    struct iovec v[2] = {{w->buf + w->start, pending}, {(void *)(uintptr_t)buf, len}};
    size_t done = 0;
    rc = put(w->fd, v, 2, pending + len - w->size, &done, deadline);
    if (done < pending) {
      w->start += done;
    } else {
      took = done - pending;
      w->start = w->end = 0;
    }
    if (rc < 0) {
      rc = fail(w, rc);
      goto out;
    }
  }
  /* The rest fits: make room at the end if the written head took it. */
  size_t rest = len - took;
  if (rest > w->size - w->end) {
    memmove(w->buf, w->buf + w->start, w->end - w->start);
    w->end -= w->start;
    w->start = 0;
  }
  if (rest) memcpy(w->buf + w->end, (const char *)buf + took, rest);
  w->end += rest;
  if (w->start == w->end) w->start = w->end = 0;
  took = len;
out:
  if (accepted) *accepted = took;
  return rc;
}

int coro_writer_flush(coro_writer *w, int64_t deadline) {
  if (!w) return -EINVAL;
  if (w->err) return w->err;
  if (w->start == w->end) return 0;
  struct iovec v = {w->buf + w->start, w->end - w->start};
  size_t done = 0;
  int rc = put(w->fd, &v, 1, v.iov_len, &done, deadline);
  w->start += done;
  if (w->start == w->end) w->start = w->end = 0;
  return rc < 0 ? fail(w, rc) : 0;
}
