/* SPDX-License-Identifier: MIT */
/*
 * coro/net.h - networking: TCP sockets that listen and dial (names
 * resolved on the offload pool), and buffered readers and writers over an
 * fd for line- and frame-based protocols.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_NET_H
#define CORO_NET_H

#include "core.h"

#include <sys/types.h> /* ssize_t */

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================== */
/* Networking                                                     coro_net(3) */
/* ========================================================================== */
/*
 * TCP over IPv4 and IPv6.  coro_tcp_listen takes numeric addresses
 * ("127.0.0.1", "::1", "[::1]"); coro_tcp_dial takes host names too, resolved
 * with coro_getaddrinfo on the offload pool.  Sockets are non-blocking and
 * close-on-exec; close them with coro_fd_close().
 */

/* Flags of coro_tcp_listen(). */
enum {
  CORO_TCP_REUSEPORT = 1 /* SO_REUSEPORT: several sockets (processes) share the port */
};

/* A TCP socket listening on host:port (host NULL or "": every IPv4 address;
 * port 0: one the kernel picks, see coro_sock_port), with SO_REUSEADDR;
 * backlog < 0 means SOMAXCONN.  Returns the socket, or -EINVAL (host not a
 * numeric address, port outside 0..65535, an unknown flag), -EADDRINUSE,
 * -EADDRNOTAVAIL, -EAFNOSUPPORT (no IPv6 here), -EACCES, -EMFILE, or another
 * negated errno of socket, setsockopt, bind or listen (-ENFILE, -ENOBUFS,
 * -ENOMEM). */
CORO_API int coro_tcp_listen(const char *host, int port, unsigned flags, int backlog);

/* A TCP connection to host:port, made before the deadline.  host is a
 * numeric address or a name; a name is resolved (coro_getaddrinfo, which needs
 * a running scheduler: -EDEADLK outside one) and its addresses are tried in
 * turn until one connects (the error of the last one otherwise).  Returns the
 * connected socket, or -EINVAL (host NULL or "", port outside 1..65535),
 * -ENOENT (no such name), -EAGAIN (the name server failed for now) and the
 * other errors of coro_getaddrinfo, -ECONNREFUSED, -ENETUNREACH,
 * -EAFNOSUPPORT, -EMFILE, -ETIMEDOUT, -ECANCELED, -EDEADLK (nothing is left
 * open on failure).
 * -EBUSY too, on io_uring (its submission queue stayed full: see coro_io(3)). */
CORO_API int coro_tcp_dial(const char *host, int port, int64_t deadline);

/* The local port of socket fd (after a listen on port 0, say), or -EBADF,
 * -ENOTSOCK, -EAFNOSUPPORT (not an IP socket). */
CORO_API int coro_sock_port(int fd);

/* A buffered reader over an fd, for line- or frame-based protocols: it reads
 * in large pieces and hands out lines, exact byte counts or frames.  It does
 * not own the fd.  Used by one coroutine at a time. */
typedef struct coro_reader coro_reader;

/* The length prefix of a frame: 4 bytes, big-endian (network order). */
#define CORO_FRAME_HEADER 4

/* A reader over fd with a buffer of `size` bytes (16 .. 1 GiB; the longest
 * line it can return).  Returns 0, or -EINVAL (out NULL, fd < 0, size out of
 * range), -ENOMEM. */
CORO_API int coro_reader_create(coro_reader **out, int fd, size_t size);

/* Free the reader (not the fd).  Returns 0, or -EINVAL (r NULL). */
CORO_API int coro_reader_destroy(coro_reader *r);

/* Read one line, its '\n' included, into line[0..size-1] and NUL-terminate it
 * (getline's contract).  Returns its length with the '\n' (> 0; at end of
 * file, an unterminated last line is returned without one), 0 at end of file,
 * or -EMSGSIZE when no '\n' comes within the first size - 1 bytes (or the
 * reader's buffer size): nothing is consumed, coro_reader_read can take it.
 * -EINVAL (r or line NULL, size < 2), and the errors of coro_fd_read: a
 * timeout or a cancel consumes nothing. */
CORO_API ssize_t coro_reader_line(coro_reader *r, char *line, size_t size, int64_t deadline);

/* Read up to len bytes: what is buffered first, else one read of the fd.
 * Returns the bytes read (> 0), 0 at end of file, -EINVAL (r NULL, or buf
 * NULL with len > 0), or the errors of coro_fd_read(). */
CORO_API ssize_t coro_reader_read(coro_reader *r, void *buf, size_t len, int64_t deadline);

/* Read exactly len bytes.  Returns len, or fewer when end of file came first
 * (0: at once), or the errors of coro_reader_read() (after some bytes were
 * read, those are lost to the caller: the stream is out of step, close it). */
CORO_API ssize_t coro_reader_read_full(coro_reader *r, void *buf, size_t len, int64_t deadline);

/* Read one frame: a CORO_FRAME_HEADER length prefix, then that many bytes into
 * buf.  Returns 1 with the payload length in *len, 0 at end of file before a
 * frame begins, -EMSGSIZE if the frame is longer than size (nothing is
 * consumed), -EPROTO if end of file comes inside a frame, -EINVAL (r or len
 * NULL, buf NULL with size > 0), or the errors of coro_fd_read() (inside a
 * frame the stream is then out of step: close it). */
CORO_API int coro_reader_frame(coro_reader *r, void *buf, size_t size, size_t *len,
                               int64_t deadline);

/* A buffered writer over an fd: small writes are copied into its buffer and
 * go out together at the next flush (or when the buffer is full), one system
 * call for many messages.  It does not own the fd and never flushes by
 * itself at a deadline: call coro_writer_flush() when a batch is complete
 * (a protocol's reply, a round of a broadcast).  Used by one coroutine at a
 * time.
 *
 * Every byte a write accepts is written once, in order, or waits in the
 * buffer (coro_writer_pending() says how many).  A write that does not fit
 * goes out in one writev together with what is buffered, without a copy,
 * until the rest fits.  Partial writes and EAGAIN are handled inside (the
 * coroutine parks until the fd is writable).  A deadline (-ETIMEDOUT), a
 * cancel (-ECANCELED), no scheduler (-EDEADLK) or no memory (-ENOMEM) lose
 * nothing: a later flush writes what waits.  An error of the fd itself
 * (-EPIPE: the peer is gone; -ECONNRESET, -EBADF, -EIO...) breaks the
 * stream: it sticks, and every later write and flush returns it at once
 * (what was pending is never written; close the fd). */
typedef struct coro_writer coro_writer;

/* A writer to fd with a buffer of `size` bytes (16 .. 1 GiB).  Returns 0, or
 * -EINVAL (out NULL, fd < 0, size out of range), -ENOMEM. */
CORO_API int coro_writer_create(coro_writer **out, int fd, size_t size);

/* Free the writer (not the fd), dropping what it still holds: flush first.
 * Returns 0, or -EINVAL (w NULL). */
CORO_API int coro_writer_destroy(coro_writer *w);

/* Accept len bytes of buf: copied into the buffer when they fit (no system
 * call), else written together with what is buffered until the rest fits.
 * Returns 0 once all len are accepted, or an error; either way *accepted (if
 * not NULL) says how many bytes of buf were, a prefix: on error, those
 * written before it (0 if it came while earlier bytes were being written),
 * the rest of buf is the caller's to write again.  len 0 does nothing.
 * Errors: -EINVAL (w NULL, buf NULL with len > 0), the stream's sticky error,
 * and the errors of coro_fd_writev_all() (-EPIPE, -ETIMEDOUT, -ECANCELED,
 * -EBUSY on io_uring...). */
CORO_API int coro_writer_write(coro_writer *w, const void *buf, size_t len, size_t *accepted,
                               int64_t deadline);

/* Write everything buffered.  Returns 0 once the buffer is empty (at once if
 * it was), or an error: after a deadline or a cancel the bytes not written
 * stay buffered, in order, for the next flush.  Errors: -EINVAL (w NULL),
 * the stream's sticky error, and the errors of coro_fd_writev_all() (-EPIPE,
 * -ETIMEDOUT, -ECANCELED, -EBUSY on io_uring...). */
CORO_API int coro_writer_flush(coro_writer *w, int64_t deadline);

/* Bytes accepted and not yet written, or -EINVAL (w NULL). */
CORO_API ssize_t coro_writer_pending(const coro_writer *w);

/* Write one frame (length prefix and payload) to fd, all of it.  Returns 0, or
 * -EMSGSIZE (len over UINT32_MAX), -EINVAL (buf NULL with len > 0), or the
 * errors of coro_fd_writev_all() (part of the frame may then have been
 * written). */
CORO_API int coro_frame_write(int fd, const void *buf, size_t len, int64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CORO_NET_H */
