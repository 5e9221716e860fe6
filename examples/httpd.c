/* SPDX-License-Identifier: MIT */
/*
 * httpd.c - a small HTTP/1.1 server on libcoro: one micro-thread per
 * connection while it is served, none while it is idle (a watch of
 * coro_spawn_on_ready stands for it), with keep-alive and pipelining, a fixed
 * answer or static files.
 *
 *   httpd [--port P] [--host ADDR] [--root DIR [--follow-symlinks]]
 *         [--read-timeout MS] [--threads | --workers N]
 *
 * It prints "listening on P" (the real port: --port 0 lets the kernel pick)
 * once it accepts.  Without --root, GET / answers "Hello, World!" and any
 * other path 404; with --root DIR it serves the regular files under DIR
 * (a directory serves its index.html), refusing any ".." segment.  GET and
 * HEAD are served; the other methods of RFC 9110 (and PATCH) get 405 with
 * Allow, a method it does not know 501.  The request syntax (the request
 * line in origin- or absolute-form, Host, Content-Length, Transfer-Encoding
 * with chunked bodies, Expect: 100-continue) is http.c's.  SIGTERM or SIGINT
 * stops it: the listener is closed, open connections are closed, and it
 * exits with 0.
 *
 * --threads runs the same request code on a thread per connection with
 * blocking sockets, so that the two can be compared (bench/http.sh).
 * serve_coro(cfg, lfd) and serve_threads(cfg, lfd) each serve one listening
 * socket until a stop signal.
 *
 * --workers N runs N worker processes (0: one per online CPU) on libcoro's
 * pre-fork runner (coro_cluster_run): the socket is opened once, before the
 * fork, and every worker runs the coroutine server's accept loop on it.  The
 * parent restarts a worker that dies (with backoff), SIGHUP restarts them
 * one at a time, and SIGTERM/SIGINT stops them all before it exits with 0
 * (a stopping worker gives its connections a second to finish their request);
 * it logs each worker's pid, start, exit and restart on stderr.
 *
 * The shape of a connection (serve_conn, shared by both servers):
 *
 *   in[]:  | done | request head + body | next pipelined request ... |  free  |
 *                 ^start                                            ^end
 *   out[]: responses gathered while complete requests are buffered, written
 *          in one go when the next request is not all there yet (pipelining
 *          costs one write for the whole batch).
 *
 * Limits: a request head (request line and headers) of at most HTTP_HEAD_MAX
 * bytes and HTTP_HEADERS_MAX header lines, else 431, and a request-target of
 * at most HTTP_TARGET_MAX bytes, else 414; a body (Content-Length, or decoded
 * from chunks) of at most BODY_MAX, else 413; malformed requests get 400 (see
 * http.h for each status); a connection idle before its first request or
 * between requests is closed without an answer after --read-timeout; from the
 * first byte of a request (an empty line before its request line counts, and
 * at most EMPTY_LINES_MAX of those are ignored, else 400) its head must be in
 * within --read-timeout, else 408, and its body within --read-timeout after
 * the head, so a slow client cannot hold a connection forever.  Bodies are
 * read and discarded; with Expect: 100-continue a "100 Continue" goes out
 * before the body is read.  When the server closes a connection it does a
 * lingering close: shutdown(SHUT_WR), then reads and discards what the client
 * still sends, for at most LINGER_NS, so the client reads the answer before
 * any reset.  Static files are read with plain read(2), which blocks the
 * thread on a slow disk: acceptable for an example.
 *
 * Symbolic links under the root are not followed: a request whose path
 * meets one, as its last component or as a directory on the way, wherever
 * it points (outside the root or inside), answers 403, so that no link can
 * serve a file from outside the root.  The kernel does it with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where it has it, else a walk
 * opens one component at a time with O_NOFOLLOW: the same answers either
 * way (HTTPD_RESOLVE=walk in the environment forces the walk, for tests).
 * --follow-symlinks follows every link, even one that leads out of the root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "http.h"

#define MS ((int64_t)1000000)           /* nanoseconds */
#define EMPTY_LINES_MAX 8               /* empty lines before a request line */
#define IN_SIZE (HTTP_HEAD_MAX + 8192)  /* input buffer: a full head and more */
#define OUT_SIZE 16384                  /* output buffer */
#define BODY_MAX ((uint64_t)1 << 20)    /* request bodies read and discarded */
#define LINGER_NS (1000 * MS)           /* lingering close: time bound */
#define LINGER_BYTES ((size_t)4 << 20)  /* lingering close: bytes bound */
#define CONN_STACK ((size_t)128 * 1024) /* a connection's micro-thread stack */
#define IDLE_GRACE (100 * MS)           /* idle this long, a connection becomes a watch */
#define BACKOFF_MIN (1 * MS)            /* accept back-off on EMFILE... */
#define BACKOFF_MAX (100 * MS)

/* --- configuration ---------------------------------------------------------------- */

typedef struct config {
  const char *host;     /* address to listen on */
  int port;             /* port (0: the kernel picks) */
  int threads;          /* 1: thread per connection */
  const char *root;     /* static files under this directory, or NULL */
  int root_fd;          /* the root directory, opened once (-1 without) */
  int follow_symlinks;  /* 1: symbolic links under the root are followed, wherever they go */
  int openat2;          /* 1: the kernel resolves beneath the root (else: the walk) */
  int64_t read_timeout; /* ns a request head (or a write) may take */
  atomic_int *stopping; /* set once a stop signal came */
} config;

/* --- I/O of a connection: the coroutine and the thread servers plug in here -------- */

typedef struct conn_io {
  /* read up to len bytes before deadline: bytes (> 0), 0 at EOF, or -errno */
  ssize_t (*read)(int fd, void *buf, size_t len, int64_t deadline);
  /* write all len bytes before deadline: 0, or -errno */
  int (*write_all)(int fd, const void *buf, size_t len, int64_t deadline);
} conn_io;

static ssize_t coro_read(int fd, void *buf, size_t len, int64_t deadline) {
  return coro_fd_read(fd, buf, len, deadline);
}

static int coro_write(int fd, const void *buf, size_t len, int64_t deadline) {
  return coro_fd_write_all(fd, buf, len, NULL, deadline);
}

static const conn_io coro_conn_io = {coro_read, coro_write};

/* Wait with poll(2) until fd is ready for events or the deadline passes. */
static int poll_until(int fd, short events, int64_t deadline) {
  for (;;) {
    int ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - coro_now();
      if (left <= 0) return -ETIMEDOUT;
      ms = left / MS + 1 > INT_MAX ? INT_MAX : (int)(left / MS + 1);
    }
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, ms);
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return -errno;
  }
}

static ssize_t blocking_read(int fd, void *buf, size_t len, int64_t deadline) {
  for (;;) {
    int rc = poll_until(fd, POLLIN, deadline);
    if (rc < 0) return rc;
    ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno != EINTR && errno != EAGAIN) return -errno;
  }
}

static int blocking_write(int fd, const void *buf, size_t len, int64_t deadline) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      int rc = poll_until(fd, POLLOUT, deadline);
      if (rc < 0) return rc;
    } else if (n < 0 && errno != EINTR) {
      return -errno;
    }
  }
  return 0;
}

static const conn_io thread_conn_io = {blocking_read, blocking_write};

/* --- a connection ----------------------------------------------------------------------- */

typedef struct conn {
  int fd;             /* the socket */
  const config *cfg;  /* the server's settings */
  const conn_io *io;  /* how it reads and writes */
  size_t start, end;  /* unparsed input: in[start..end) */
  size_t scanned;     /* bytes of in[start..] searched for the end of the head */
  size_t out_len;     /* bytes gathered in out[] */
  int handoff;        /* coroutine server: return when idle between requests */
  int64_t idle_until; /* set when it did: the idle deadline (else -1) */
  char in[IN_SIZE];   /* input */
  char out[OUT_SIZE]; /* output */
} conn;

static int flush(conn *c) {
  if (c->out_len == 0) return 0;
  int rc = c->io->write_all(c->fd, c->out, c->out_len, coro_now() + c->cfg->read_timeout);
  c->out_len = 0;
  return rc;
}

static int append(conn *c, const void *p, size_t n) {
  if (c->out_len + n > sizeof(c->out)) {
    int rc = flush(c);
    if (rc < 0) return rc;
    if (n > sizeof(c->out)) return c->io->write_all(c->fd, p, n, coro_now() + c->cfg->read_timeout);
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

static const char *reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 417:
    return "Expectation Failed";
  case 431:
    return "Request Header Fields Too Large";
  case 501:
    return "Not Implemented";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Internal Server Error";
  }
}

/* The status line and headers of an answer with a body of `length` bytes. */
static int append_head(conn *c, int status, const char *type, uint64_t length, int keep_alive,
                       int minor) {
  char h[512];
  int n =
      snprintf(h, sizeof(h),
               "HTTP/1.1 %d %s\r\nServer: libcoro\r\nContent-Type: %s\r\n"
               "Content-Length: %" PRIu64 "\r\n%s%s\r\n",
               status, reason(status), type, length, status == 405 ? "Allow: GET, HEAD\r\n" : "",
               !keep_alive  ? "Connection: close\r\n"
               : minor == 0 ? "Connection: keep-alive\r\n"
                            : "");
  return append(c, h, (size_t)n);
}

/* A short text answer: the reason phrase as its body. */
static int append_status(conn *c, int status, int keep_alive, int minor, int head_only) {
  char body[64];
  int n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
  int rc = append_head(c, status, "text/plain; charset=utf-8", (uint64_t)n, keep_alive, minor);
  if (rc == 0 && !head_only) rc = append(c, body, (size_t)n);
  return rc;
}

/* Close as a server should when it ends the connection: stop writing, then
 * read and discard for a while, so that what the client still sends does not
 * turn into a reset that destroys the answer before the client reads it. */
static void linger_close(conn *c) {
  if (shutdown(c->fd, SHUT_WR) < 0) return;
  int64_t deadline = coro_now() + LINGER_NS;
  size_t total = 0;
  while (total < LINGER_BYTES) {
    ssize_t n = c->io->read(c->fd, c->in, sizeof(c->in), deadline);
    if (n <= 0) break;
    total += (size_t)n;
  }
}

static const char *content_type(const char *path, size_t n) {
  static const char *const types[][2] = {{".html", "text/html; charset=utf-8"},
                                         {".htm", "text/html; charset=utf-8"},
                                         {".txt", "text/plain; charset=utf-8"},
                                         {".css", "text/css"},
                                         {".js", "text/javascript"},
                                         {".json", "application/json"},
                                         {".png", "image/png"},
                                         {".jpg", "image/jpeg"},
                                         {".jpeg", "image/jpeg"},
                                         {".gif", "image/gif"},
                                         {".svg", "image/svg+xml"},
                                         {".ico", "image/x-icon"}};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    size_t k = strlen(types[i][0]);
    if (n >= k && http_equals_ci(path + n - k, k, types[i][0])) return types[i][1];
  }
  return "application/octet-stream";
}

/* Open rel (relative, without any ".." segment: http_decode_path checked it)
 * beneath the directory dirfd without following any symbolic link: a link
 * anywhere on the path fails with -ELOOP.  openat2(RESOLVE_NO_SYMLINKS) does
 * it in one call; where the kernel lacks openat2 (before Linux 5.6, seccomp
 * filters, qemu-user) a walk opens one component at a time with O_NOFOLLOW,
 * each relative to the directory before it, which no rename or link created
 * meanwhile can lead out of the root.  Returns the fd, or -errno. */
static int open_beneath(const config *cfg, int dirfd, const char *rel, int flags) {
  if (cfg->follow_symlinks) {
    int fd = openat(dirfd, rel, flags);
    return fd < 0 ? -errno : fd;
  }
  if (cfg->openat2) {
    struct open_how how = {.flags = (__u64)flags, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    return fd < 0 ? -errno : (int)fd;
  }
  int dir = dirfd, fd;
  for (;;) {
    while (*rel == '/') rel++;
    size_t n = strcspn(rel, "/");
    char name[NAME_MAX + 1];
    if (n > NAME_MAX) {
      fd = -ENAMETOOLONG;
      break;
    }
    memcpy(name, rel, n);
    name[n] = '\0';
    rel += n;
    if (*rel == '\0') { /* the last component: O_NOFOLLOW refuses a link (ELOOP) */
      fd = openat(dir, name, flags | O_NOFOLLOW);
      fd = fd < 0 ? -errno : fd;
      break;
    }
    /* A directory, on the way or before a trailing slash: O_PATH |
     * O_NOFOLLOW opens a link itself, and fstat tells which it is. */
    fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st = {.st_mode = 0};
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
      close(fd);
      fd = S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
    } else if (fd < 0) {
      fd = -errno;
    }
    if (dir != dirfd) close(dir);
    if (fd < 0) return fd;
    dir = fd;
    if (rel[strspn(rel, "/")] == '\0') { /* only slashes left: the directory itself */
      fd = openat(dir, ".", flags);
      fd = fd < 0 ? -errno : fd;
      break;
    }
  }
  if (dir != dirfd) close(dir);
  return fd;
}

/* Does this kernel have openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)?
 * HTTPD_RESOLVE=walk says no, so that tests reach the walk on any kernel. */
static int have_openat2(int root_fd) {
  const char *force = getenv("HTTPD_RESOLVE");
  if (force && strcmp(force, "walk") == 0) return 0;
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
  long fd = syscall(SYS_openat2, root_fd, ".", &how, sizeof(how));
  if (fd < 0) return 0; /* ENOSYS, EPERM from a seccomp filter, E2BIG, EINVAL */
  close((int)fd);
  return 1;
}

/* Answer a request for a file under the root.  Returns 0, or < 0 when the
 * connection must close at once (a write failed, the file changed). */
static int serve_file(conn *c, const http_request *rq, int head_only) {
  long n = http_decode_path(rq->target, rq->target_len);
  if (n < 0) return append_status(c, 400, rq->keep_alive, rq->minor, head_only);
  const char *rel = rq->target;
  while (*rel == '/') rel++;
  const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = open_beneath(c->cfg, c->cfg->root_fd, *rel ? rel : ".", flags);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    int d = fd;
    fd = open_beneath(c->cfg, d, "index.html", flags);
    close(d);
    rel = "index.html";
    n = (long)strlen(rel);
  } else {
    n = (long)strlen(rel);
  }
  if (fd < 0) {
    /* ELOOP: a symbolic link refused (or, following them, a loop); EXDEV:
     * out of the root (openat2: cannot happen without ".." or links). */
    int status = fd == -EACCES || fd == -EPERM || fd == -ELOOP || fd == -EXDEV ? 403
                 : fd == -ENOENT || fd == -ENOTDIR || fd == -ENAMETOOLONG      ? 404
                                                                               : 500;
    return append_status(c, status, rq->keep_alive, rq->minor, head_only);
  }
  int rc;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    rc = append_status(c, 404, rq->keep_alive, rq->minor, head_only);
    goto out_close;
  }
  uint64_t left = (uint64_t)st.st_size;
  rc = append_head(c, 200, content_type(rel, (size_t)n), left, rq->keep_alive, rq->minor);
  if (head_only) goto out_close;
  while (rc == 0 && left > 0) {
    if (c->out_len == sizeof(c->out) && (rc = flush(c)) < 0) break;
    size_t room = sizeof(c->out) - c->out_len;
    ssize_t got = read(fd, c->out + c->out_len, left < room ? (size_t)left : room);
    if (got <= 0) {
      rc = -EIO; /* the file shrank or failed: the answer cannot be completed */
      break;
    }
    c->out_len += (size_t)got;
    left -= (uint64_t)got;
  }
out_close:
  close(fd);
  return rc;
}

static const char hello_keep_alive[] = "HTTP/1.1 200 OK\r\nServer: libcoro\r\n"
                                       "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
                                       "Hello, World!";

/* Answer one parsed request. Returns 0, or < 0 when the connection must close. */
static int respond(conn *c, const http_request *rq) {
  int head_only = rq->method == HTTP_HEAD, get = rq->method == HTTP_GET;
  if (!get && !head_only) /* 405 (with Allow) for a method we know, 501 for one we do not */
    return append_status(c, rq->method == HTTP_KNOWN ? 405 : 501, rq->keep_alive, rq->minor, 0);
  if (c->cfg->root) return serve_file(c, rq, head_only);
  size_t path = 0;
  while (path < rq->target_len && rq->target[path] != '?') path++;
  if (path != 1 || rq->target[0] != '/')
    return append_status(c, 404, rq->keep_alive, rq->minor, head_only);
  if (get && rq->keep_alive && rq->minor == 1) /* the common case, ready-made */
    return append(c, hello_keep_alive, sizeof(hello_keep_alive) - 1);
  int rc = append_head(c, 200, "text/plain", 13, rq->keep_alive, rq->minor);
  if (rc == 0 && !head_only) rc = append(c, "Hello, World!", 13);
  return rc;
}

/* Look for the end of the head (an empty line) in in[start..end).  Returns
 * its length (the empty line included), or 0 if it is not all there. */
static size_t find_head(conn *c) {
  const char *p = c->in + c->start;
  size_t n = c->end - c->start;
  size_t i = c->scanned > 2 ? c->scanned - 2 : 0; /* the tail may have been "\n\r" */
  for (;;) {
    const char *nl = i < n ? memchr(p + i, '\n', n - i) : NULL;
    if (!nl) break;
    size_t k = (size_t)(nl - p);
    if ((k >= 1 && p[k - 1] == '\n') || (k >= 2 && p[k - 1] == '\r' && p[k - 2] == '\n'))
      return k + 1;
    i = k + 1;
  }
  c->scanned = n;
  return 0;
}

/* Read and discard a request body of `len` bytes that begins at in[from]. */
static int skip_body(conn *c, size_t from, uint64_t len, int64_t deadline) {
  size_t have = c->end - from;
  if (len <= have) {
    c->start = from + (size_t)len;
    return 0;
  }
  len -= have;
  c->start = c->end = from;
  int rc = flush(c); /* the client may wait for earlier answers before it sends the body */
  if (rc < 0) return rc;
  while (len > 0) {
    size_t room = sizeof(c->in) - from;
    ssize_t n = c->io->read(c->fd, c->in + from, len < room ? (size_t)len : room, deadline);
    if (n <= 0) return n == 0 ? -EPIPE : (int)n;
    len -= (uint64_t)n;
  }
  return 0;
}

/* Read and discard a chunked body that begins at in[from]: the bytes go
 * through the decoder, which says where the body ends, and the room past the
 * head is reused for each read.  Returns 0 (c->start is past the body), the
 * status to answer (400, 413, 431), or -errno. */
static int skip_chunked(conn *c, size_t from, int64_t deadline) {
  http_chunked d;
  http_chunked_init(&d, BODY_MAX);
  for (;;) {
    size_t used;
    int rc = http_chunked_feed(&d, c->in + from, c->end - from, &used);
    if (rc == 1) {
      c->start = from + used; /* what follows is the next request */
      return 0;
    }
    if (rc != 0) return rc;
    c->start = c->end = from; /* all taken */
    if ((rc = flush(c)) < 0) return rc;
    ssize_t n = c->io->read(c->fd, c->in + from, sizeof(c->in) - from, deadline);
    if (n <= 0) return n == 0 ? -EPIPE : (int)n;
    c->end = from + (size_t)n;
  }
}

/* Serve requests on the connection until it ends.  The caller closes c->fd. */
static void serve_conn(conn *c) {
  /* Between requests (nothing of the next one here yet) the connection may
   * stay idle until idle_deadline; from the first byte of a request, an empty
   * line before it included, its head must be all here by `deadline`. */
  int64_t idle_deadline = coro_now() + c->cfg->read_timeout, deadline = -1;
  int empty_lines = 0; /* before the request under way */
  c->start = c->end = c->scanned = c->out_len = 0;
  c->idle_until = -1;
  for (;;) {
    /* Empty lines (CRLF or a bare LF) before a request line are ignored
     * (RFC 9112 2.2), up to EMPTY_LINES_MAX of them. */
    for (;;) {
      size_t k = c->start < c->end && c->in[c->start] == '\r' ? c->start + 1 : c->start;
      if (k >= c->end || c->in[k] != '\n') break;
      c->start = k + 1;
      c->scanned = 0;
      if (++empty_lines > EMPTY_LINES_MAX) {
        append_status(c, 400, 0, 1, 0);
        goto out_error;
      }
    }
    if (deadline < 0 && (empty_lines > 0 || c->start < c->end))
      deadline = coro_now() + c->cfg->read_timeout; /* a request has begun */
    size_t head = find_head(c);
    if (head == 0) {
      size_t have = c->end - c->start;
      if (have > HTTP_HEAD_MAX) { /* 414 if it is the target that is too long, else 431 */
        append_status(c, http_too_large(c->in + c->start, have), 0, 1, 0);
        goto out_error;
      }
      if (flush(c) < 0) return;
      if (c->start == c->end) {
        c->start = c->end = 0;
      } else if (c->end == sizeof(c->in)) {
        memmove(c->in, c->in + c->start, have);
        c->start = 0;
        c->end = have;
      }
      /* Between requests with the server stopping: go on only with what is
       * already here (deadline 0), so a request sent just before the stop is
       * still answered (--workers: a rolling restart must not cut it).  Idle,
       * with a handoff: wait IDLE_GRACE at most, then the caller hands the
       * connection to a watch until the deadline (no stack while idle).  The
       * grace keeps a busy keep-alive connection, whose next request comes
       * within milliseconds, from paying a watch and a new micro-thread per
       * request (~12% of the requests/s under wrk without it).  Once a
       * request has begun (if only with an empty line) there is no handoff:
       * its deadline holds until its head is in. */
      int stopping = *c->cfg->stopping, begun = deadline >= 0;
      int idle = !begun && c->handoff && !stopping;
      int64_t until = stopping ? 0 : begun ? deadline : idle_deadline;
      if (idle) {
        int64_t grace = coro_now() + IDLE_GRACE;
        if (grace < until) until = grace;
      }
      ssize_t n = c->io->read(c->fd, c->in + c->end, sizeof(c->in) - c->end, until);
      if (stopping && n <= 0) return;
      if (n == -ETIMEDOUT && idle && coro_now() < idle_deadline) {
        c->idle_until = idle_deadline;
        return;
      }
      if (n == -ETIMEDOUT && begun) {
        append_status(c, 408, 0, 1, 0);
        goto out_error;
      }
      if (n <= 0) return; /* EOF, idle timeout, reset, cancelled */
      c->end += (size_t)n;
      continue;
    }
    if (head > HTTP_HEAD_MAX) {
      append_status(c, http_too_large(c->in + c->start, head), 0, 1, 0);
      goto out_error;
    }
    http_request rq;
    int status = http_parse_head(c->in + c->start, head, &rq);
    if (status == 0 && rq.content_length > BODY_MAX) status = 413;
    if (status != 0) {
      append_status(c, status, 0, 1, 0);
      goto out_error;
    }
    size_t body = c->start + head;
    if ((rq.chunked || rq.content_length > c->end - body) && sizeof(c->in) - body < 4096) {
      /* The body may be still to come and there is little room past the head
       * (none when the head ends the buffer): move the request to the front. */
      size_t shift = c->start;
      memmove(c->in, c->in + shift, c->end - shift);
      rq.target -= shift;
      c->end -= shift;
      c->start = 0;
      body -= shift; /* now head <= HTTP_HEAD_MAX: IN_SIZE - HTTP_HEAD_MAX bytes of room */
    }
    /* Expect: 100-continue with none of the body here yet: the client waits
     * for a 100 before it sends the body (RFC 9110 10.1.1); it goes out with
     * the answers before it, as the body is read. */
    if (rq.expect_continue && (rq.chunked || rq.content_length > 0) && c->end == body) {
      static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (append(c, go_on, sizeof(go_on) - 1) < 0) return;
    }
    /* The body has its own deadline, from the end of the head. */
    int64_t body_deadline = coro_now() + c->cfg->read_timeout;
    int rc = rq.chunked ? skip_chunked(c, body, body_deadline)
                        : skip_body(c, body, rq.content_length, body_deadline);
    if (rc > 0) { /* a bad chunked body */
      append_status(c, rc, 0, 1, 0);
      goto out_error;
    }
    if (rc < 0) return;
    /* The head stays in in[] below `body`: reading the body only goes past it. */
    if (respond(c, &rq) < 0) return;
    c->scanned = 0;
    if (!rq.keep_alive) {
      if (flush(c) == 0) linger_close(c);
      return;
    }
    idle_deadline = coro_now() + c->cfg->read_timeout;
    deadline = -1;
    empty_lines = 0;
  }
out_error:
  if (flush(c) == 0) linger_close(c);
}

/* --- stop signals --------------------------------------------------------------------- */

/* SIGTERM and SIGINT, blocked in the main thread before it serves (and so in
 * every thread it creates), so that one sent at any time stays pending until
 * the server takes it: coro_signal_wait in the coroutine server, a signalfd in
 * the thread server. */
static int stop_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  int rc = pthread_sigmask(SIG_BLOCK, set, NULL);
  return rc ? -rc : 0;
}

/* --- the coroutine server ------------------------------------------------------------- */

typedef struct conn_arg conn_arg;

typedef struct server {
  const config *cfg; /* settings */
  int lfd;           /* the listening socket */
  sigset_t stop;     /* the stop signals */
  int64_t grace;     /* after a stop, how long connections get to finish
                        before they are closed (ns; 0: closed at once) */
  conn_arg *conns;   /* open connections, idle or served */
  coro_wg *live;     /* counts them: the server waits for zero when stopping */
  coro_attr attr;    /* of the connections' micro-threads */
} server;

/* An open connection.  While it is idle (before its first request, or
 * IDLE_GRACE after its last answer) no micro-thread exists for it: a watch
 * (coro_spawn_on_ready) spawns conn_coro when the client sends, hangs up, or
 * the idle deadline passes, and this record is all it costs. */
struct conn_arg {
  conn_arg *prev, *next; /* neighbours in server.conns */
  server *s;             /* its server */
  int fd;                /* the accepted socket */
  coro *self;            /* the micro-thread serving it, NULL while idle */
};

static void conn_end(conn_arg *a) {
  server *s = a->s;
  coro_fd_close(a->fd);
  if (a->prev)
    a->prev->next = a->next;
  else
    s->conns = a->next;
  if (a->next) a->next->prev = a->prev;
  free(a);
  coro_wg_done(s->live);
}

/* The connection's buffers live in this frame, only while requests are
 * served.  Returns the idle deadline if the connection went idle (hand it to
 * a watch), else -1 (close it). */
__attribute__((noinline)) static int64_t serve_coro_conn(const config *cfg, int fd) {
  conn c;
  c.fd = fd;
  c.cfg = cfg;
  c.io = &coro_conn_io;
  c.handoff = 1;
  serve_conn(&c);
  return c.idle_until;
}

/* Spawned by the connection's watch: serve what came, then hand the idle
 * connection back to a watch, or close it (timeout, EOF, error, stopping). */
static void *conn_coro(void *arg) {
  conn_arg *a = arg;
  server *s = a->s;
  int64_t idle = -1;
  /* Why we run: ready (> 0), the idle deadline (-ETIMEDOUT), or stopping
   * (a request already here is still answered: serve_conn reads only that). */
  if (coro_wait_fd(a->fd, CORO_READ, 0) > 0) {
    a->self = coro_self();
    idle = serve_coro_conn(s->cfg, a->fd);
    a->self = NULL;
  }
  if (idle >= 0 && !*s->cfg->stopping &&
      coro_spawn_on_ready(a->fd, CORO_READ, idle, conn_coro, a, &s->attr) == 0)
    return NULL;
  conn_end(a);
  return NULL;
}

/* Waits for a stop signal, then closes the listener: the accept loop ends.
 * A wait may fail when the process has no fd left for the signalfd it opens
 * (EMFILE, while the server is saturated): it tries again a little later. */
static void *signal_watch(void *arg) {
  server *s = arg;
  for (;;) {
    int rc = coro_signal_wait(&s->stop, -1);
    if (rc > 0) break;
    if (rc == -ECANCELED || coro_sleep(coro_now() + BACKOFF_MAX) == -ECANCELED) return NULL;
  }
  *s->cfg->stopping = 1;
  coro_fd_close(s->lfd);
  return NULL;
}

static void *accept_loop(void *arg) {
  server *s = arg;
  coro *watch;
  if (coro_wg_create(&s->live) < 0) return coro_fail(-ENOMEM);
  if (coro_spawn(&watch, signal_watch, s, NULL) < 0) {
    coro_wg_destroy(s->live);
    return coro_fail(-ENOMEM);
  }
  coro_sched_yield(); /* the watcher parks first, its signalfd open before accepts use every fd */
  coro_attr_init(&s->attr);
  s->attr.stack_size = CONN_STACK;
  int64_t backoff = BACKOFF_MIN;
  while (!*s->cfg->stopping) {
    int fd = coro_sock_accept(s->lfd, NULL, NULL, -1);
    if (fd < 0) {
      if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
        coro_sleep(coro_now() + backoff); /* out of fds: wait for some to be closed */
        backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
        continue;
      }
      if (fd == -EBADF || fd == -EINVAL || fd == -ECANCELED) break;
      continue; /* ECONNABORTED, EPROTO, EPERM...: that connection only */
    }
    backoff = BACKOFF_MIN;
    conn_arg *a = malloc(sizeof(*a));
    if (!a) {
      coro_fd_close(fd);
      continue;
    }
    *a = (conn_arg){.prev = NULL, .next = s->conns, .s = s, .fd = fd, .self = NULL};
    if (s->conns) s->conns->prev = a;
    s->conns = a;
    coro_wg_add(s->live, 1);
    /* No micro-thread until the client sends its first request. */
    if (coro_spawn_on_ready(fd, CORO_READ, coro_now() + s->cfg->read_timeout, conn_coro, a,
                            &s->attr) < 0)
      conn_end(a);
  }
  if (!*s->cfg->stopping) coro_fd_close(s->lfd);
  *s->cfg->stopping = 1;
  /* With a grace, a request already on its way (its connection accepted
   * just before the stop) is answered: a served connection returns between
   * requests once it sees `stopping`, an idle one's watch fires when its
   * request comes. */
  if (s->grace > 0) coro_wg_wait(s->live, coro_now() + s->grace);
  /* Then idle connections: fire their watches (conn_coro answers what is
   * already there and closes); served ones: cancel them.  Nothing runs
   * during this loop (spawns and wake-ups take effect when we park), so the
   * list holds still. */
  for (conn_arg *a = s->conns; a; a = a->next) {
    if (a->self)
      coro_cancel(a->self);
    else
      coro_fd_forget(a->fd);
  }
  coro_wg_wait(s->live, -1);
  coro_wg_destroy(s->live);
  coro_cancel(watch);
  coro_join(watch, NULL, -1);
  coro_destroy(watch);
  return NULL;
}

/* Serve on listening socket lfd with micro-threads until a stop signal.
 * Closes lfd.  Returns 0, or -errno. */
static int serve_coro(const config *cfg, int lfd) {
  server s = {.cfg = cfg, .lfd = lfd};
  int rc = stop_signals(&s.stop);
  if (rc < 0) return rc;
  coro *main_loop;
  rc = coro_spawn(&main_loop, accept_loop, &s, NULL);
  if (rc == 0) rc = coro_run();
  if (rc == 0) rc = coro_join(main_loop, NULL, 0);
  coro_destroy(main_loop);
  return rc;
}

/* --- the thread-per-connection server ------------------------------------------------- */

typedef struct thread_conn {
  struct thread_conn *prev, *next; /* the list of live connections */
  const config *cfg;               /* settings */
  int fd;                          /* the socket */
} thread_conn;

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_gone = PTHREAD_COND_INITIALIZER;
static thread_conn threads_list = {&threads_list, &threads_list, NULL, -1};
static long threads_live; /* connections served by a thread now */

static void *conn_thread(void *arg) {
  thread_conn *t = arg;
  conn *c = NULL;
  /* As conn_coro: no buffers until the client sends something. */
  if (poll_until(t->fd, POLLIN, coro_now() + t->cfg->read_timeout) == 0) c = malloc(sizeof(*c));
  if (c) {
    c->fd = t->fd;
    c->cfg = t->cfg;
    c->io = &thread_conn_io;
    c->handoff = 0; /* a thread waits in its own read */
    serve_conn(c);
    free(c);
  }
  pthread_mutex_lock(&threads_lock);
  t->prev->next = t->next;
  t->next->prev = t->prev;
  close(t->fd); /* under the lock: the stopping server shuts down only live fds */
  if (--threads_live == 0) pthread_cond_broadcast(&threads_gone);
  pthread_mutex_unlock(&threads_lock);
  free(t);
  return NULL;
}

static void sleep_ns(int64_t ns) {
  struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Serve on listening socket lfd with a thread per connection until a stop
 * signal.  Closes lfd.  Returns 0, or -errno. */
static int serve_threads(const config *cfg, int lfd) {
  sigset_t stop;
  int rc = stop_signals(&stop); /* before any thread starts: they inherit the mask */
  if (rc < 0) return rc;
  int sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return -errno;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int64_t backoff = BACKOFF_MIN;
  for (;;) {
    struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    if (p[1].revents) break; /* a stop signal */
    if (!p[0].revents) continue;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC); /* blocking sockets */
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        sleep_ns(backoff); /* out of fds: wait for some to be closed */
        backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
      }
      continue; /* EAGAIN (another took it), ECONNABORTED...: that one only */
    }
    backoff = BACKOFF_MIN;
    thread_conn *t = malloc(sizeof(*t));
    if (!t) {
      close(fd);
      continue;
    }
    t->cfg = cfg;
    t->fd = fd;
    pthread_mutex_lock(&threads_lock);
    t->next = threads_list.next;
    t->prev = &threads_list;
    t->next->prev = t;
    threads_list.next = t;
    threads_live++;
    pthread_t th;
    if (pthread_create(&th, &attr, conn_thread, t) != 0) {
      t->prev->next = t->next;
      t->next->prev = t->prev;
      threads_live--;
      pthread_mutex_unlock(&threads_lock);
      close(fd);
      free(t);
      sleep_ns(backoff); /* out of threads: as out of fds */
      backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
      continue;
    }
    pthread_mutex_unlock(&threads_lock);
  }
  *cfg->stopping = 1;
  close(lfd);
  pthread_mutex_lock(&threads_lock);
  for (thread_conn *t = threads_list.next; t != &threads_list; t = t->next)
    shutdown(t->fd, SHUT_RDWR); /* its reads and writes end at once */
  while (threads_live > 0) pthread_cond_wait(&threads_gone, &threads_lock);
  pthread_mutex_unlock(&threads_lock);
  pthread_attr_destroy(&attr);
  close(sfd);
  return 0;
}

/* --- main --------------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: httpd [--port P] [--host ADDR] [--root DIR [--follow-symlinks]] "
                  "[--read-timeout MS] [--threads | --workers N]\n");
  exit(2);
}

/* --- --workers: the pre-fork runner ------------------------------------------------------ */

static int cluster_lfd; /* the listening socket, inherited by every worker */

/* Each worker's main coroutine: the coroutine server's accept loop on the
 * shared socket.  Its own signal watcher sees the stop: the runner passes
 * SIGTERM/SIGINT on to code that waits for them. */
static void *worker_main(void *arg) {
  /* A worker stopped by a rolling restart must not cut the requests it
   * accepted: they get a second (the runner's drain deadline is 10 s). */
  server s = {.cfg = arg, .lfd = cluster_lfd, .grace = 1000 * MS};
  int rc = stop_signals(&s.stop);
  if (rc < 0) return coro_fail(rc);
  return accept_loop(&s);
}

static int serve_workers(const config *cfg, int lfd, int workers) {
  coro_cluster_opts o;
  coro_cluster_opts_init(&o);
  o.workers = workers;
  o.listen_fds = &lfd;
  o.nlisten = 1;
  cluster_lfd = lfd;
  int rc = coro_cluster_run(&o, worker_main, (void *)(uintptr_t)cfg);
  coro_fd_close(lfd);
  return rc;
}

static long number(const char *s, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) usage();
  return v;
}

int main(int argc, char **argv) {
  static atomic_int stopping;
  config cfg = {.host = "127.0.0.1",
                .port = 8080,
                .root_fd = -1,
                .read_timeout = 10000 * MS,
                .stopping = &stopping};
  int workers = -1; /* --workers: -1 one process */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--threads") == 0) {
      cfg.threads = 1;
    } else if (i + 1 < argc && strcmp(a, "--workers") == 0) {
      workers = (int)number(argv[++i], 0, CORO_CLUSTER_MAX);
    } else if (i + 1 < argc && strcmp(a, "--port") == 0) {
      cfg.port = (int)number(argv[++i], 0, 65535);
    } else if (i + 1 < argc && strcmp(a, "--host") == 0) {
      cfg.host = argv[++i];
    } else if (i + 1 < argc && strcmp(a, "--root") == 0) {
      cfg.root = argv[++i];
    } else if (strcmp(a, "--follow-symlinks") == 0) {
      cfg.follow_symlinks = 1;
    } else if (i + 1 < argc && strcmp(a, "--read-timeout") == 0) {
      cfg.read_timeout = number(argv[++i], 1, 86400000) * MS;
    } else {
      usage();
    }
  }
  if (cfg.threads && workers >= 0) usage();
  signal(SIGPIPE, SIG_IGN);
  if (cfg.root) {
    cfg.root_fd = open(cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfg.root_fd < 0) {
      fprintf(stderr, "httpd: %s: %s\n", cfg.root, strerror(errno));
      return 1;
    }
    cfg.openat2 = have_openat2(cfg.root_fd);
  }
  int lfd = coro_tcp_listen(cfg.host, cfg.port, 0, -1);
  if (lfd < 0) {
    fprintf(stderr, "httpd: listen on %s:%d: %s\n", cfg.host, cfg.port, coro_strerror(lfd));
    return 1;
  }
  printf("listening on %d\n", coro_sock_port(lfd));
  fflush(stdout);
  int rc = cfg.threads    ? serve_threads(&cfg, lfd)
           : workers >= 0 ? serve_workers(&cfg, lfd, workers)
                          : serve_coro(&cfg, lfd);
  if (cfg.root_fd >= 0) close(cfg.root_fd);
  if (rc < 0) {
    fprintf(stderr, "httpd: %s\n", coro_strerror(rc));
    return 1;
  }
  return 0;
}
