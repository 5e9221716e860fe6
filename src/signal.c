/* SPDX-License-Identifier: MIT */
/*
 * signal.c - signals as events: a coroutine waits for SIGTERM as it waits for
 * a socket.
 *
 * Each wait blocks its signals in the calling thread (so that they stay
 * pending instead of running their default action), opens a signalfd for
 * exactly its set, parks on it through the I/O layer until it is readable,
 * reads one signal and closes the signalfd.  One signalfd per wait costs two
 * system calls more than a shared one, but signals are rare, and it needs no
 * per-thread state and no demultiplexing: two coroutines waiting on different
 * sets each own their fd; two waiting on the same signal both wake and the
 * first read takes it, the other finds nothing (EAGAIN) and parks again.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "internal.h"

/* 0 if set names at least one signal and none that cannot be caught. */
static int check_set(const sigset_t *set) {
  int any = 0;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sigismember(set, sig) != 1) continue;
    if (sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
    any = 1;
  }
  return any ? 0 : -EINVAL;
}

int coro_signal_wait(const sigset_t *set, int64_t deadline) {
  if (!set) return -EINVAL;
  int rc = check_set(set);
  if (rc < 0) return rc;
  rc = pthread_sigmask(SIG_BLOCK, set, NULL);
  if (rc != 0) return -rc;
  int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return -errno;
  coro__io_adopt(coro__tls_get(), fd, 0);
  for (;;) {
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof(si));
    if (n == (ssize_t)sizeof(si)) {
      rc = (int)si.ssi_signo;
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      rc = -errno;
      break;
    }
    rc = coro_wait_fd(fd, CORO_READ, deadline);
    if (rc < 0) break;
  }
  coro_fd_close(fd);
  return rc;
}
