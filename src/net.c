/* SPDX-License-Identifier: MIT */
/*
 * net.c - TCP helpers (listen, dial) and the buffered reader, on top of io.c.
 *
 * The reader's buffer:
 *
 *     buf                start            end                 cap
 *     | consumed (free)  | unread bytes   | free               |
 *
 * A fill compacts the unread bytes to the front only when the free tail is
 * gone, so a line is scanned in place and copied once, to the caller.
 * Invariant: start <= end <= cap; a line (or frame header) waits in the
 * buffer until it is whole, so a timeout or a cancel consumes nothing of it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* --- TCP ------------------------------------------------------------------------ */

/* Parse a numeric IPv4 or IPv6 address ("[::1]" too) and a port. */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  if (port < 0 || port > 65535) return -EINVAL;
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof(*in4);
    return 0;
  }
  char buf[INET6_ADDRSTRLEN + 2];
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf)) {
    memcpy(buf, host + 1, n - 2);
    buf[n - 2] = '\0';
    host = buf;
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*in6);
    return 0;
  }
  return -EINVAL; /* not numeric: coro_tcp_dial resolves names (offload.c) */
}

int coro_tcp_listen(const char *host, int port, unsigned flags, int backlog) {
  if (flags & ~(unsigned)CORO_TCP_REUSEPORT) return -EINVAL;
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = parse_addr(host && *host ? host : "0.0.0.0", port, &ss, &len);
  if (rc < 0) return rc;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
      (flags & CORO_TCP_REUSEPORT &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
      bind(fd, (struct sockaddr *)&ss, len) < 0 ||
      listen(fd, backlog < 0 ? SOMAXCONN : backlog) < 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  coro__io_adopt(coro__tls_get(), fd, 1);
  return fd;
}

/* A connection to one address, or an error (nothing left open). */
static int dial_addr(const struct sockaddr *sa, socklen_t len, int64_t deadline) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  coro__io_adopt(coro__tls_get(), fd, 1);
  int rc = coro_sock_connect(fd, sa, len, deadline);
  if (rc < 0) {
    coro_fd_close(fd);
    return rc;
  }
  return fd;
}

int coro_tcp_dial(const char *host, int port, int64_t deadline) {
  if (!host || !*host || port <= 0 || port > 65535) return -EINVAL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (parse_addr(host, port, &ss, &len) == 0)
    return dial_addr((struct sockaddr *)&ss, len, deadline);
  /* A name: resolve it on the offload pool, then try its addresses in the
   * resolver's order (RFC 6724) until one answers. */
  char serv[8];
  snprintf(serv, sizeof(serv), "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = coro_getaddrinfo(host, serv, &hints, &res, deadline);
  if (rc < 0) return rc;
  rc = -ENOENT;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    rc = dial_addr(ai->ai_addr, ai->ai_addrlen, deadline);
    if (rc >= 0 || rc == -ETIMEDOUT || rc == -ECANCELED) break;
  }
  freeaddrinfo(res);
  return rc;
}

int coro_sock_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (fd < 0) return -EBADF;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return -EAFNOSUPPORT;
}

/* --- the buffered reader ------------------------------------------------------------ */

#define READER_MIN 16
#define READER_MAX ((size_t)1 << 30)

struct coro_reader {
  int fd;              /* what it reads (not owned) */
  size_t cap;          /* bytes in buf */
  size_t start, end;   /* the unread bytes are buf[start..end) */
  unsigned char buf[]; /* cap bytes */
};

int coro_reader_create(coro_reader **out, int fd, size_t size) {
  if (!out || fd < 0 || size < READER_MIN || size > READER_MAX) return -EINVAL;
  coro_reader *r = coro__malloc(sizeof(*r) + size);
  if (!r) return -ENOMEM;
  r->fd = fd;
  r->cap = size;
  r->start = r->end = 0;
  *out = r;
  return 0;
}

int coro_reader_destroy(coro_reader *r) {
  if (!r) return -EINVAL;
  coro__free(r);
  return 0;
}

/* Read more of the fd into the free tail, compacting first if it is gone.
 * The caller made sure not all of buf is unread.  Returns coro_fd_read's. */
static ssize_t fill(coro_reader *r, int64_t deadline) {
  if (r->start == r->end) {
    r->start = r->end = 0;
  } else if (r->end == r->cap) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  ssize_t n = coro_fd_read(r->fd, r->buf + r->end, r->cap - r->end, deadline);
  if (n > 0) r->end += (size_t)n;
  return n;
}

ssize_t coro_reader_line(coro_reader *r, char *line, size_t size, int64_t deadline) {
  if (!r || !line || size < 2) return -EINVAL;
  size_t limit = size - 1 < r->cap ? size - 1 : r->cap; /* longest line we can return */
  size_t scanned = 0;                                   /* unread bytes already searched for '\n' */
  for (;;) {
    size_t avail = r->end - r->start;
    size_t upto = avail < limit ? avail : limit;
    const unsigned char *p = r->buf + r->start;
    const unsigned char *nl = memchr(p + scanned, '\n', upto - scanned);
    size_t len = nl ? (size_t)(nl - p) + 1 : 0;
    if (!nl) {
      if (avail >= limit) return -EMSGSIZE; /* nothing consumed */
      scanned = upto;
      ssize_t n = fill(r, deadline);
      if (n < 0) return n;
      if (n > 0) continue;
      if (!avail) return 0; /* end of file */
      len = avail;          /* the last line, unterminated */
    }
    memcpy(line, r->buf + r->start, len);
    line[len] = '\0';
    r->start += len;
    return (ssize_t)len;
  }
}

ssize_t coro_reader_read(coro_reader *r, void *buf, size_t len, int64_t deadline) {
  if (!r || (!buf && len)) return -EINVAL;
  if (!len) return 0;
  if (r->start == r->end) {
    if (len >= r->cap) return coro_fd_read(r->fd, buf, len, deadline); /* no copy */
    ssize_t n = fill(r, deadline);
    if (n <= 0) return n;
  }
  size_t avail = r->end - r->start, n = len < avail ? len : avail;
  memcpy(buf, r->buf + r->start, n);
  r->start += n;
  return (ssize_t)n;
}

ssize_t coro_reader_read_full(coro_reader *r, void *buf, size_t len, int64_t deadline) {
  if (!r || (!buf && len)) return -EINVAL;
  unsigned char *p = buf;
  size_t done = 0;
  while (done < len) {
    ssize_t n = coro_reader_read(r, p + done, len - done, deadline);
    if (n < 0) return n;
    if (n == 0) break; /* end of file */
    done += (size_t)n;
  }
  return (ssize_t)done;
}

int coro_reader_frame(coro_reader *r, void *buf, size_t size, size_t *len, int64_t deadline) {
  if (!r || !len || (!buf && size)) return -EINVAL;
  while (r->end - r->start < CORO_FRAME_HEADER) { /* the header stays buffered until whole */
    size_t avail = r->end - r->start;
    ssize_t n = fill(r, deadline);
    if (n < 0) return (int)n;
    if (n == 0) return avail ? -EPROTO : 0;
  }
  const unsigned char *h = r->buf + r->start;
  size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | (size_t)h[3];
  if (n > size) return -EMSGSIZE;
  r->start += CORO_FRAME_HEADER;
  ssize_t got = coro_reader_read_full(r, buf, n, deadline);
  if (got < 0) return (int)got;
  if ((size_t)got < n) return -EPROTO;
  *len = n;
  return 1;
}

int coro_frame_write(int fd, const void *buf, size_t len, int64_t deadline) {
  if (!buf && len) return -EINVAL;
  if (len > UINT32_MAX) return -EMSGSIZE;
  unsigned char h[CORO_FRAME_HEADER] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                                        (unsigned char)(len >> 8), (unsigned char)len};
  struct iovec iov[2] = {{h, sizeof(h)}, {(void *)(uintptr_t)buf, len}};
  return coro_fd_writev_all(fd, iov, len ? 2 : 1, NULL, deadline); /* writes may be partial */
}
