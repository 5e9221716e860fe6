/* SPDX-License-Identifier: MIT */
/*
 * io_uring.c - the io_uring backend of the I/O layer (see the contract in
 * internal.h), on liburing.  Built when CMake finds liburing; chosen at run
 * time by io.c when the kernel lets this thread set up a ring.
 *
 * Readiness only: a park submits IORING_OP_POLL_ADD for the fd and the
 * direction it waits for, and the scheduler's poll reaps the completions.  The
 * data itself still moves with read/write/send/recv, so the two backends share
 * every line of io.c.
 *
 * One-shot polls, not multishot.  A multishot poll stays armed for the fd's
 * life, as the epoll backend's registration does, but it posts one completion
 * per wake-up of the fd's wait queue -- a socket being written to steadily
 * would fill the completion queue with POLLOUT events nobody waits for --
 * and a request that outlives interest in it holds a reference to the file.
 * A one-shot poll is asked for only when a coroutine parks (after its system
 * call said EAGAIN), completes once, and checks the level when it starts, so
 * readiness that came between the EAGAIN and the poll is not lost.  The price
 * is one submission entry per park, which costs no system call of its own:
 * entries queued by arm() go to the kernel with the next wait, in the same
 * io_uring_enter.
 *
 * Per fd, at most one poll per direction is in flight (coro__fd.bk_pending).
 * A request is named by its user_data:
 *
 *     63            33  32  31            0
 *     | seq (31 bits) | dir |  fd (32 bits) |      dir: 0 read, 1 write
 *
 * forget() (coro_fd_close) cancels the fd's polls and bumps its seq
 * (coro__fd.bk_seq), so a completion of the old requests -- -ECANCELED, or a
 * readiness that raced the cancel -- cannot be taken for one of a new fd that
 * reuses the number.  Cancelling is submitted at once: an in-flight poll holds
 * a reference to the file, and a socket must really close when the program
 * closes it.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>

#include "internal.h"

/* Submission queue entries; the completion queue is twice as long, and the
 * kernel keeps the completions that do not fit (IORING_FEAT_NODROP). */
#define ENTRIES 256

/* user_data of the cancel requests themselves: their completions are ignored. */
#define CANCEL_TAG UINT64_MAX

/* One thread submits and reaps (SINGLE_ISSUER), and completions are only
 * wanted when the scheduler asks for them (DEFER_TASKRUN: the kernel runs the
 * completion work inside our io_uring_enter instead of interrupting the
 * thread); TASKRUN_FLAG tells a look at the queues that such work waits. */
#define RING_FLAGS                                                                                 \
  (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG)

typedef struct uring_state {
  struct io_uring ring; /* the ring: mmapped queues and the fd behind them */
} uring_state;

static uint64_t tag(int fd, unsigned dir, uint32_t seq) {
  return (uint64_t)(uint32_t)fd | (uint64_t)dir << 32 | (uint64_t)(seq & 0x7fffffffu) << 33;
}

static int ur_init(coro__io *io) {
  int e = coro__fault_injected(CORO__FAULT_URING);
  if (e) return -e;
  uring_state *u = coro__malloc(sizeof(*u));
  if (!u) return -ENOMEM;
  /* Containers often refuse io_uring_setup (seccomp: EPERM or ENOSYS), and a
   * sysctl can disable it: the caller falls back to epoll. */
  int rc = io_uring_queue_init(ENTRIES, &u->ring, RING_FLAGS);
  if (rc == -EINVAL) /* a kernel older than 6.1 */
    rc = io_uring_queue_init(ENTRIES, &u->ring, 0);
  if (rc < 0) {
    coro__free(u);
    return rc;
  }
  io->backend_data = u;
  return 0;
}

static void ur_fini(coro__io *io) {
  uring_state *u = io->backend_data;
  io_uring_queue_exit(&u->ring); /* cancels whatever is in flight */
  coro__free(u);
  io->backend_data = NULL;
}

/* A free submission entry, flushing the queue to the kernel if it is full. */
static struct io_uring_sqe *sqe_get(uring_state *u, int *err) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
  if (!sqe) {
    int rc = io_uring_submit(&u->ring);
    if (rc < 0) {
      *err = rc;
      return NULL;
    }
    sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) *err = -EBUSY;
  }
  return sqe;
}

static int ur_arm(coro__io *io, int fd, coro__fd *f, unsigned events) {
  uring_state *u = io->backend_data;
  for (unsigned dir = 0; dir < 2; dir++) {
    unsigned ev = dir ? CORO__IO_WRITE : CORO__IO_READ;
    if (!(events & ev) || f->bk_pending & ev) continue;
    int err = 0;
    struct io_uring_sqe *sqe = sqe_get(u, &err);
    if (!sqe) return err;
    io_uring_prep_poll_add(sqe, fd, dir ? POLLOUT : POLLIN | POLLRDHUP);
    io_uring_sqe_set_data64(sqe, tag(fd, dir, f->bk_seq));
    f->bk_pending |= ev;
    /* ARMED as soon as one poll is queued, not after both: if the second
     * cannot be queued, a close must still cancel the first (forget runs
     * only for ARMED fds), or it would hold the file and its pending bit
     * would keep a new fd of the same number from ever being armed. */
    f->flags |= CORO__FD_ARMED;
  }
  return 0;
}

static void ur_forget(coro__io *io, int fd, coro__fd *f) {
  uring_state *u = io->backend_data;
  for (unsigned dir = 0; dir < 2; dir++) {
    unsigned ev = dir ? CORO__IO_WRITE : CORO__IO_READ;
    if (!(f->bk_pending & ev)) continue;
    int err = 0;
    struct io_uring_sqe *sqe = sqe_get(u, &err);
    if (!sqe) continue; /* the ring is torn down at thread exit at the latest */
    io_uring_prep_poll_remove(sqe, tag(fd, dir, f->bk_seq));
    io_uring_sqe_set_data64(sqe, CANCEL_TAG);
  }
  io_uring_submit(&u->ring);
  f->bk_pending = 0;
  f->bk_seq++;
  f->flags &= ~(unsigned)CORO__FD_ARMED;
}

/* Report one completion. */
static void reap(coro__io *io, uint64_t data, int res) {
  if (data == CANCEL_TAG) return;
  int fd = (int)(uint32_t)data;
  unsigned dir = (unsigned)(data >> 32) & 1u;
  uint32_t seq = (uint32_t)(data >> 33);
  if (fd < 0 || (size_t)fd >= io->nfds) return;
  coro__fd *f = &io->fds[fd];
  unsigned ev = dir ? CORO__IO_WRITE : CORO__IO_READ;
  if ((f->bk_seq & 0x7fffffffu) != seq || !(f->bk_pending & ev)) return; /* a forgotten fd's */
  f->bk_pending &= ~ev;
  /* res: the poll's revents, or a negated errno (the fd was closed under the
   * poll, say): the woken coroutines' next system call says what happened. */
  unsigned ready = ev;
  if (res < 0 || res & (POLLERR | POLLHUP | POLLNVAL)) ready |= CORO__IO_ERR;
  coro__io_ready(io, fd, ready);
}

static int ur_poll(coro__io *io, int64_t deadline) {
  uring_state *u = io->backend_data;
  struct io_uring_cqe *cqe = NULL;
  int rc;
  int64_t left = deadline > 0 ? deadline - coro_now() : deadline;
  if (left == 0 || (deadline > 0 && left <= 0)) {
    /* Only what is there: enter the kernel only to hand over queued polls
     * or to run completion work it has flagged; else just read the queue. */
    unsigned kflags = IO_URING_READ_ONCE(*u->ring.sq.kflags);
    rc = 0;
    if (io_uring_sq_ready(&u->ring) || kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
      rc = io_uring_submit_and_get_events(&u->ring);
  } else if (left < 0) {
    rc = io_uring_submit_and_wait(&u->ring, 1);
  } else {
    struct __kernel_timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
    rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    if (rc == -ETIME) rc = 0;
  }
  unsigned head, n = 0;
  io_uring_for_each_cqe(&u->ring, head, cqe) {
    reap(io, io_uring_cqe_get_data64(cqe), cqe->res);
    n++;
  }
  io_uring_cq_advance(&u->ring, n);
  return rc < 0 ? rc : 0;
}

const coro__io_backend coro__io_uring = {
    .name = "io_uring",
    .init = ur_init,
    .fini = ur_fini,
    .arm = ur_arm,
    .forget = ur_forget,
    .poll = ur_poll,
};
