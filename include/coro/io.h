/* SPDX-License-Identifier: MIT */
/*
 * coro/io.h - waiting on the kernel without blocking the thread: reads,
 * writes and socket calls on file descriptors that park the calling
 * coroutine until the fd is ready, watches that spawn a micro-thread when
 * one is, and signals taken as events (coro_signal_wait).  Both go through
 * the thread's readiness backend (epoll or io_uring).
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_IO_H
#define CORO_IO_H

#include "core.h"

#include <sys/select.h> /* sigset_t (signals), even under -std=c11 */
#include <sys/socket.h> /* struct sockaddr, socklen_t */
#include <sys/types.h>  /* ssize_t */
#include <sys/uio.h>    /* struct iovec */

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================== */
/* I/O                                                             coro_io(3) */
/* ========================================================================== */
/*
 * Reading and writing file descriptors (pipes, sockets, terminals) without
 * blocking the thread: a call tries the system call first and, only when it
 * would block (EAGAIN), parks the calling coroutine until the fd is ready, a
 * deadline passes or its micro-thread is cancelled.  The scheduler waits for
 * readiness in the kernel (epoll) only when no micro-thread is runnable, and
 * checks it once per round otherwise, so busy coroutines cannot starve I/O.
 *
 * Rules of use:
 *   - Non-blocking: the first call on an fd sets O_NONBLOCK on it (the flag
 *     belongs to the open file description: a dup of the fd, or a shell's
 *     terminal sharing it, sees it too).  Sockets made by coro_tcp_listen,
 *     coro_tcp_dial and coro_sock_accept are non-blocking from the start.
 *   - Close with coro_fd_close(): it wakes every coroutine waiting on the fd
 *     with -EBADF and makes the thread forget the fd.  A plain close() leaves
 *     the thread believing the fd is known: a new fd that reuses the number
 *     would not be made non-blocking and might never be reported ready; call
 *     coro_fd_forget() before (or right after) a close the library does not
 *     make.
 *   - An fd is waited on by the coroutines of one thread at a time.
 *   - fork(): the child's next I/O call gives the forking thread's state a
 *     backend of its own (the parent's epoll set or io_uring ring is left to
 *     the parent, whose registrations the child's closes do not touch) and
 *     re-arms the fds its coroutines wait on.  Offload jobs run in the parent's
 *     workers: a child's coroutine parked on one at the fork never wakes.
 *   - Writing to a socket never raises SIGPIPE (-EPIPE instead); writing to a
 *     pipe whose reader is gone does, as write(2) does, unless the program
 *     ignores SIGPIPE.
 *   - Regular files are always "ready": calls on them do not park (their reads
 *     and writes block the thread as read(2) does).
 *
 * Every blocking call takes a deadline (see Micro-threads; 0: only what can be
 * done at once, -ETIMEDOUT if it would wait) and, besides the errors listed,
 * returns -ETIMEDOUT (deadline passed), -ECANCELED (the caller's micro-thread
 * was cancelled), -EDEADLK (it would have to wait and no scheduler runs on the
 * thread: outside coro_run they still work as long as they need not wait),
 * -EBADF (fd < 0, not open, or closed by coro_fd_close while waiting), -ENOMEM
 * (no memory for the thread's fd table or the deadline), the negated errno of
 * the first use of the fd (fcntl) or of the backend (-EMFILE: no fd left for
 * epoll; -EPERM: the fd does not support readiness waiting), -EBUSY (the
 * io_uring backend only: its submission queue stayed full after handing it to
 * the kernel, whose completion queue is overflowing), and any error of the
 * underlying system call as a negated errno (-ECONNRESET, -EPIPE, -EIO...).
 */

/* The name of the calling thread's readiness backend, "epoll" or "io_uring",
 * choosing and starting it now if no I/O call has yet (each thread has its
 * own).  No error code: NULL if it cannot be started (no memory, no fd left
 * for epoll).
 *
 * The choice: CORO_IO_BACKEND=epoll or CORO_IO_BACKEND=io_uring in the
 * environment forces one; otherwise epoll (measured as fast or faster for
 * readiness waits: see bench/README.md).  io_uring exists in Linux builds
 * (CMake option CORO_WITH_URING, on by default; no liburing needed) on kernels
 * 5.5 and later that let the process set up a ring (containers' seccomp
 * profiles often refuse it; qemu-user has no io_uring); forcing it
 * where it cannot be had, or naming an unknown backend, falls back to epoll
 * and prints one line on stderr, once per process:
 *     libcoro: io_uring unavailable (Operation not permitted), using epoll */
CORO_API const char *coro_io_backend(void);

/* What coro_wait_fd() waits for; it returns the same bits. */
enum {
  CORO_READ = 1, /* readable: data, EOF, an error or a pending connection */
  CORO_WRITE = 2 /* writable: room to write, or an error */
};

/* Wait until fd is ready for any of `events` (CORO_READ | CORO_WRITE).
 * Returns the events that are ready (> 0: an error or hang-up on the fd counts
 * as ready for all of them: the next call reports it), or -EINVAL (events 0 or
 * unknown bits), -EBADF, -ETIMEDOUT, -ECANCELED, -EDEADLK, -ENOMEM, -EBUSY
 * (io_uring), -EMFILE (no fd left for epoll), -EPERM (fd does not support
 * readiness waiting), or the negated errno of the fd's first use (fcntl):
 * as the section says, but no error of a read or a write. */
CORO_API int coro_wait_fd(int fd, unsigned events, int64_t deadline);

/* Read up to len bytes, as read(2): returns the bytes read (> 0; fewer than
 * len if that is what is there), 0 at end of file, or an error (see above). */
CORO_API ssize_t coro_fd_read(int fd, void *buf, size_t len, int64_t deadline);

/* Write up to len bytes, as write(2): returns the bytes written (> 0, possibly
 * fewer than len: a partial write; see coro_fd_write_all), or an error above
 * (-EPIPE: the reader is gone). */
CORO_API ssize_t coro_fd_write(int fd, const void *buf, size_t len, int64_t deadline);

/* Write all len bytes, waiting as often as needed.  Returns 0 once all are
 * written, or the error that stopped it (an error above, as coro_fd_write());
 * either way *written (if not NULL) says how many bytes were written. */
CORO_API int coro_fd_write_all(int fd, const void *buf, size_t len, size_t *written,
                               int64_t deadline);

/* Scatter/gather forms of coro_fd_read/coro_fd_write (readv(2)/writev(2)):
 * the same returns; -EINVAL for iovcnt <= 0 or over IOV_MAX. */
CORO_API ssize_t coro_fd_readv(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);
CORO_API ssize_t coro_fd_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);

/* Write every byte of the iovcnt entries of iov, in order, waiting as often
 * as needed: a partial write goes on from the first byte the kernel did not
 * take, so nothing is lost or written twice.  iov itself is not modified (the
 * same array may go to many fds).  The deadline is for the whole call.
 * Returns 0 once all are written (at once if there is nothing to write:
 * iovcnt 0, or only empty entries), or the error that stopped it; either way
 * *written (if not NULL) says how many bytes were written: after -EPIPE
 * (the reader is gone, the peer closed mid-write), those the kernel took
 * before.  Errors: -EINVAL (iovcnt < 0 or over IOV_MAX, iov NULL with
 * iovcnt > 0, an entry with a NULL base and a length, a total over
 * SSIZE_MAX: nothing is written), -EBADF, -EPIPE, -ETIMEDOUT, -ECANCELED,
 * -EDEADLK, -ENOMEM and the other errors of coro_fd_writev. */
CORO_API int coro_fd_writev_all(int fd, const struct iovec *iov, int iovcnt, size_t *written,
                                int64_t deadline);

/* Wake every coroutine of this thread waiting on fd (their calls return
 * -EBADF), forget the fd, and close it.  Returns 0, or -EBADF (fd not open),
 * or another negated errno of close(2) (the fd is closed all the same). */
CORO_API int coro_fd_close(int fd);

/* What coro_fd_close does but the close: wake every coroutine of this thread
 * waiting on fd (-EBADF) and forget the fd (its registration with the
 * backend included), for an fd that will be closed by other means (plain
 * close(), fclose(), a library) or handed to code that expects it blocking
 * (O_NONBLOCK stays set: clear it with fcntl if needed).  The fd need not be
 * open: forgetting one closed by close() already repairs the thread's table.
 * Returns 0, or -EBADF (fd < 0). */
CORO_API int coro_fd_forget(int fd);

/* Spawn a micro-thread when fd is ready, not before: an idle connection then
 * holds no coroutine and no stack while it waits, only a small heap record
 * (about a hundred bytes, and a copy of attr's name if it has one; a parked
 * micro-thread holds at least the page at the top of its stack).
 *
 * Registers a watch on fd for `events` (CORO_READ | CORO_WRITE) and returns at
 * once.  Exactly once, when the first of these comes:
 *   - fd is ready for one of `events`, or reports an error or a hang-up (it is
 *     checked now too: an fd ready already fires at the scheduler's next turn);
 *   - `deadline` passes (-1: never; 0 or a time past: at the next turn, unless
 *     fd is ready now);
 *   - coro_fd_close() or coro_fd_forget() is called on fd (by this thread);
 * the watch fires: a detached micro-thread fn(arg) is spawned with attr (NULL:
 * the defaults; its name is copied now) on this thread's scheduler, as
 * coro_spawn(NULL, fn, arg, attr) would, at the scheduler's next round.  fn
 * finds out why by itself, with a wait that does not wait:
 *     int r = coro_wait_fd(fd, CORO_READ, 0);
 *     r > 0: ready (or an error the next read reports); -EBADF: fd was
 *     closed; any other r < 0 (a timeout): not ready, the deadline passed
 *     (or fd was forgotten).
 * fd belongs to fn once the watch fires (close it or watch it again).  If fd
 * may be closed by coro_fd_close while watched and its number reused by the
 * time fn runs, fn cannot tell from the fd alone: let the closer tell it
 * through arg.  A watch cannot be withdrawn but by firing it (coro_fd_forget).
 *
 * While watches wait, coro_run() does not return: a watch is live work, as a
 * parked micro-thread; one with no deadline on an fd never ready keeps it
 * waiting forever, as a micro-thread waiting on that fd forever does.  A watch
 * may be registered outside coro_run (before it, or from main): it fires once
 * coro_run runs.  If the micro-thread cannot be created when the watch fires
 * (no memory for its stack) the watch is kept and spawning is tried again at
 * the next round (at most every millisecond).  Watches of a thread that exits
 * are freed, their fn never runs.  A fork's child keeps its copies (they fire
 * in the child as in the parent).
 *
 * One fd may carry several watches and parked coroutines at once: readiness
 * fires the watches that wait for it and wakes the coroutines.  The rules of
 * the I/O section apply (the fd is made non-blocking; close it with
 * coro_fd_close or tell the library with coro_fd_forget: a plain close() of a
 * watched fd leaves the watch waiting for its deadline).
 *
 * Returns 0, or -EINVAL (fn NULL, events 0 or unknown bits, attr's stack_size
 * outside CORO_STACK_MIN..CORO_STACK_MAX), -EBADF (fd < 0 or not open, or the
 * library's own), -ENOMEM (no memory for the record, the fd table or the
 * deadline heap), the negated errno of the first use of the fd (fcntl) or of
 * the backend (-EMFILE: no fd left for epoll; -EPERM: fd does not support
 * readiness waiting).  It works with no scheduler running: registering does
 * not wait.  On error
 * nothing is registered and fn never runs.
 * -EBUSY too, on io_uring (its submission queue stayed full: see coro_io(3)). */
CORO_API int coro_spawn_on_ready(int fd, unsigned events, int64_t deadline, coro_fn fn, void *arg,
                                 const coro_attr *attr);

/* Accept a connection on listening socket fd, as accept(2); addr and addrlen
 * may be NULL.  Returns the new socket (non-blocking, close-on-exec), or an
 * error above (-EINVAL: fd is not listening; -EMFILE; -ECONNABORTED...).
 * An accept-like wait: many coroutines accepting on one socket are not a
 * herd.  Each connection wakes one of them (the one waiting longest); that
 * one, once it has taken a connection, wakes the next (more may be queued),
 * and one cancelled between its wake and its turn takes nothing and returns
 * -ECANCELED, passing the wake on, so no connection waits while an acceptor
 * sleeps.  (coro_wait_fd(fd, CORO_READ) still wakes every waiter.)
 * -EBUSY too, on io_uring (its submission queue stayed full: see coro_io(3)). */
CORO_API int coro_sock_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline);

/* Connect socket fd to addr, waiting until the connection is made.  Returns 0,
 * or an error above (-ECONNREFUSED, -ENETUNREACH, -ETIMEDOUT: the deadline passed
 * first; the socket is then half-way and should be closed). */
CORO_API int coro_sock_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                               int64_t deadline);

/* recv(2)/send(2) on a socket with the flags given (send adds MSG_NOSIGNAL):
 * socket forms of coro_fd_read/coro_fd_write, with the same returns
 * (-ECONNRESET: the peer reset the connection; -EPIPE: it is closed for
 * writing; -ENOTSOCK). */
CORO_API ssize_t coro_sock_recv(int fd, void *buf, size_t len, int flags, int64_t deadline);
CORO_API ssize_t coro_sock_send(int fd, const void *buf, size_t len, int flags, int64_t deadline);

/* ========================================================================== */
/* Signals                                                                    */
/* ========================================================================== */

/* Wait until one of the signals in `set` is pending for the thread or the
 * process, take it (it is then no longer pending) and return its number (> 0).
 * The other coroutines run meanwhile; this is how a server hears SIGTERM,
 * SIGINT or SIGHUP without a signal handler:
 *
 *   sigset_t s;
 *   sigemptyset(&s);
 *   sigaddset(&s, SIGTERM);
 *   sigaddset(&s, SIGINT);
 *   int sig = coro_signal_wait(&s, -1);   -- then stop accepting, drain, exit
 *
 * The signals of `set` are blocked in the calling thread (pthread_sigmask) by
 * the first call and stay blocked after it returns, so that one arriving
 * between two waits stays pending for the next instead of running its default
 * action (usually: ending the process).  Unblock them yourself to undo that.
 * A signal sent to the process goes to any thread that does not block it: in
 * a program with other threads, block the set in every thread (before
 * creating them: the mask is inherited) or some other thread may take it.
 * Children made by fork() inherit the blocked mask; exec() keeps it too.
 *
 * A delivered signal wakes every coroutine of the thread that waits for it
 * (a broadcast, as a condition variable's): two coroutines waiting for
 * SIGTERM both return SIGTERM for one kill.  A waiter whose set does not
 * hold it goes on waiting, and a signal that arrives while no wait of the
 * thread wants it (or again, before the waiters it reached have returned)
 * stays pending for the next wait: nothing is lost.  The thread holds one
 * signalfd, for the union of the waited sets, while any wait lasts; a thread
 * that exits while coroutines wait (pthread_exit from a micro-thread, say)
 * closes it, and those waits never return.
 * Returns the signal number, or -EINVAL (set NULL, empty, or
 * holding SIGKILL or SIGSTOP, which cannot be waited for), -ETIMEDOUT,
 * -ECANCELED, -EDEADLK (no signal is pending and no scheduler runs on the
 * thread; with one pending it returns at once, scheduler or not), -EMFILE
 * (no fd left for the thread's signalfd, opened by its first wait),
 * -ENOMEM (copy-stack caller: no memory for its waiter record; or no memory
 * for the thread's fd table or the deadline, as coro_wait_fd), -EBUSY (io_uring: its submission queue stayed
 * full; see coro_io(3)). */
CORO_API int coro_signal_wait(const sigset_t *set, int64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CORO_IO_H */
