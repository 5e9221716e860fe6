/* SPDX-License-Identifier: MIT */
/*
 * io_uring.c - the io_uring backend of the I/O layer (see the contract in
 * internal.h), on the raw system calls: io_uring_setup(2), io_uring_enter(2)
 * and mmap(2) of the rings, with nothing but <linux/io_uring.h>.  Built on
 * every Linux build; chosen at run time by io.c when the kernel lets this
 * thread set up a ring (5.5 or later: see ur_init).
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
 *
 * The rings, shared with the kernel (one mapping with IORING_FEAT_SINGLE_MMAP,
 * else one each; the entries always have their own):
 *
 *     SQ ring: head (kernel), tail (us), mask, flags (kernel), array[i] = i
 *     SQEs:    sqes[tail & mask] filled by us, read by the kernel at enter
 *     CQ ring: head (us), tail (kernel), mask, cqes[head & mask]
 *
 * Each index has one writer.  The orderings are those the kernel's notes on
 * barriers (io_uring/io_uring.c, and io_uring(7)) prescribe, each commented
 * where it is made: publish the SQ tail with a store-release after filling the
 * entries, read the SQ head with a load-acquire before reusing an entry, read
 * the CQ tail with a load-acquire before reading completions, and publish the
 * CQ head with a store-release after reading them.  No SQPOLL thread, so no
 * full barrier before reading the SQ flags: they are hints we read after our
 * own io_uring_enter, or at worst one round late.
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* The ABI of kernels newer than the oldest header with io_uring (5.1), for
 * building on older linux-libc-dev; the kernel refuses what it lacks. */
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9) /* 5.19 */
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12) /* 6.0 */
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13) /* 6.1 */
#endif
#ifndef IORING_SQ_CQ_OVERFLOW
#define IORING_SQ_CQ_OVERFLOW (1U << 1) /* 5.8 */
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2) /* 5.19 */
#endif
#ifndef IORING_FEAT_SINGLE_MMAP
#define IORING_FEAT_SINGLE_MMAP (1U << 0) /* 5.4 */
#endif
#ifndef IORING_FEAT_NODROP
#define IORING_FEAT_NODROP (1U << 1) /* 5.5 */
#endif
#ifndef IORING_FEAT_EXT_ARG /* 5.11, with its argument */
#define IORING_FEAT_EXT_ARG (1U << 8)
#define IORING_ENTER_EXT_ARG (1U << 3)
struct io_uring_getevents_arg {
  __u64 sigmask;    /* signal mask during the wait, or 0 */
  __u32 sigmask_sz; /* its size */
  __u32 pad;        /* zero */
  __u64 ts;         /* struct __kernel_timespec *: the wait's limit */
};
#endif
#ifndef __NR_io_uring_setup /* the same numbers on every architecture */
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#endif

/* Submission queue entries by default; the completion queue is twice as long,
 * and the kernel keeps the completions that do not fit (IORING_FEAT_NODROP). */
#define ENTRIES 256

/* user_data of our own requests (cancels, timeouts): their completions are
 * ignored.  No poll's tag is this: its seq would be 2^31 - 1 and its fd -1. */
#define OWN_TAG UINT64_MAX

/* One thread submits and reaps (SINGLE_ISSUER), and completions are only
 * wanted when the scheduler asks for them (DEFER_TASKRUN: the kernel runs the
 * completion work inside our io_uring_enter instead of interrupting the
 * thread); TASKRUN_FLAG tells a look at the queues that such work waits. */
#define RING_FLAGS                                                                                 \
  (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG)

unsigned coro__uring_entries;      /* test hook: see internal.h */
unsigned coro__uring_features_off; /* test hook: see internal.h */

typedef struct uring_state {
  int fd;                    /* the ring (io_uring_setup) */
  unsigned features;         /* IORING_FEAT_* the kernel has (less the test hook's) */
  unsigned sq_tail;          /* our copy of *sq_ktail: we are its only writer */
  unsigned sq_mask;          /* SQ entries - 1 */
  unsigned sq_entries;       /* SQ entries, a power of two */
  unsigned *sq_khead;        /* first entry the kernel has not consumed (kernel's) */
  unsigned *sq_ktail;        /* one past the last entry we published (ours) */
  unsigned *sq_kflags;       /* IORING_SQ_*: hints the kernel sets (kernel's) */
  struct io_uring_sqe *sqes; /* the submission entries, indexed by tail & mask */
  unsigned cq_mask;          /* CQ entries - 1 */
  unsigned *cq_khead;        /* first completion we have not read (ours) */
  unsigned *cq_ktail;        /* one past the last completion posted (kernel's) */
  struct io_uring_cqe *cqes; /* the completions, indexed by head & mask */
  void *sq_ring, *cq_ring;   /* the rings' mappings (the same one with SINGLE_MMAP) */
  size_t sq_ring_len;        /* their lengths */
  size_t cq_ring_len;        /*   (cq_ring_len 0: cq_ring is sq_ring) */
  size_t sqes_len;           /* the entries' mapping's length */
} uring_state;

static uint64_t tag(int fd, unsigned dir, uint32_t seq) {
  return (uint64_t)(uint32_t)fd | (uint64_t)dir << 32 | (uint64_t)(seq & 0x7fffffffu) << 33;
}

/* --- setting up and tearing down -------------------------------------------------- */

static void *map_ring(int fd, size_t len, __u64 offset, int *err) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, (off_t)offset);
  if (p == MAP_FAILED) {
    *err = -errno;
    return NULL;
  }
  return p;
}

static void unmap_rings(uring_state *u) {
  if (u->sqes) munmap(u->sqes, u->sqes_len);
  if (u->cq_ring_len) munmap(u->cq_ring, u->cq_ring_len);
  if (u->sq_ring) munmap(u->sq_ring, u->sq_ring_len);
}

/* Map what io_uring_setup described in *p and find the fields in it. */
static int map_rings(uring_state *u, const struct io_uring_params *p) {
  int err = 0;
  u->sq_ring_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
  size_t cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
  if (u->features & IORING_FEAT_SINGLE_MMAP) {
    /* One mapping holds both rings (5.4 on): the longer length covers both. */
    if (cq_len > u->sq_ring_len) u->sq_ring_len = cq_len;
    if (!(u->sq_ring = map_ring(u->fd, u->sq_ring_len, IORING_OFF_SQ_RING, &err))) return err;
    u->cq_ring = u->sq_ring;
  } else {
    if (!(u->sq_ring = map_ring(u->fd, u->sq_ring_len, IORING_OFF_SQ_RING, &err))) return err;
    if (!(u->cq_ring = map_ring(u->fd, cq_len, IORING_OFF_CQ_RING, &err))) goto out_unmap;
    u->cq_ring_len = cq_len;
  }
  u->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
  if (!(u->sqes = map_ring(u->fd, u->sqes_len, IORING_OFF_SQES, &err))) goto out_unmap;

  char *sq = u->sq_ring, *cq = u->cq_ring;
  u->sq_khead = (unsigned *)(void *)(sq + p->sq_off.head);
  u->sq_ktail = (unsigned *)(void *)(sq + p->sq_off.tail);
  u->sq_kflags = (unsigned *)(void *)(sq + p->sq_off.flags);
  u->sq_mask = *(unsigned *)(void *)(sq + p->sq_off.ring_mask);
  u->sq_entries = p->sq_entries;
  u->sq_tail = *u->sq_ktail; /* 0: nothing was published yet */
  u->cq_khead = (unsigned *)(void *)(cq + p->cq_off.head);
  u->cq_ktail = (unsigned *)(void *)(cq + p->cq_off.tail);
  u->cq_mask = *(unsigned *)(void *)(cq + p->cq_off.ring_mask);
  u->cqes = (struct io_uring_cqe *)(void *)(cq + p->cq_off.cqes);
  /* The kernel takes entry array[head & mask]: map slot i to entry i once,
   * so that entries are consumed in the order we fill them.  Written before
   * any entry is published: the first tail's store-release covers it. */
  unsigned *array = (unsigned *)(void *)(sq + p->sq_off.array);
  for (unsigned i = 0; i < p->sq_entries; i++) array[i] = i;
  return 0;

out_unmap:
  unmap_rings(u);
  return err;
}

static int ur_init(coro__io *io) {
  int e = coro__fault_injected(CORO__FAULT_URING);
  if (e) return -e;
  uring_state *u = coro__malloc(sizeof(*u));
  if (!u) return -ENOMEM;
  memset(u, 0, sizeof(*u));
  unsigned entries = coro__uring_entries ? coro__uring_entries : ENTRIES;
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  p.flags = RING_FLAGS;
  /* Containers often refuse io_uring_setup (seccomp: EPERM or ENOSYS), and a
   * sysctl can disable it: the caller falls back to epoll. */
  long fd = syscall(__NR_io_uring_setup, entries, &p);
  if (fd < 0 && errno == EINVAL) { /* a kernel older than 6.1 */
    memset(&p, 0, sizeof(p));
    fd = syscall(__NR_io_uring_setup, entries, &p);
  }
  int rc = fd < 0 ? -errno : 0;
  if (rc < 0) goto out_free;
  u->fd = (int)fd;
  u->features = p.features & ~coro__uring_features_off;
  /* Without NODROP (before 5.5) a full completion queue drops completions,
   * and a dropped poll completion is a coroutine that never wakes. */
  if (!(u->features & IORING_FEAT_NODROP)) {
    rc = -EOPNOTSUPP;
    goto out_close;
  }
  if ((rc = map_rings(u, &p)) < 0) goto out_close;
  io->backend_data = u;
  return 0;

out_close:
  close(u->fd);
out_free:
  coro__free(u);
  return rc;
}

static void ur_fini(coro__io *io) {
  uring_state *u = io->backend_data;
  unmap_rings(u);
  close(u->fd); /* the last reference: the kernel cancels what is in flight */
  coro__free(u);
  io->backend_data = NULL;
}

/* --- submitting ----------------------------------------------------------------- */

/* Entries published and not yet consumed by the kernel. */
static unsigned sq_pending(const uring_state *u) {
  /* Acquire: pairs with the kernel's store-release of the head once it has
   * read the entries (io_commit_sqring), so that an entry we reuse after
   * this is not written before the kernel is done reading it. */
  return u->sq_tail - __atomic_load_n(u->sq_khead, __ATOMIC_ACQUIRE);
}

/* io_uring_enter: hand over the entries pending, and with IORING_ENTER_GETEVENTS
 * wait for min_complete completions (arg: an extended argument, or NULL).
 * Returns what it returns (the entries consumed) or a negated errno. */
static int enter(uring_state *u, unsigned min_complete, unsigned flags, const void *arg,
                 size_t argsz) {
  unsigned n = sq_pending(u);
  if (n) {
    int e = coro__fault_injected(CORO__FAULT_URING_SUBMIT);
    if (e) return -e;
  }
  long rc = syscall(__NR_io_uring_enter, u->fd, n, min_complete, flags, arg, argsz);
  return rc < 0 ? -errno : (int)rc;
}

/* The next free submission entry, zeroed, flushing the queue to the kernel if
 * it is full; publish it with sqe_push once filled.  NULL and *err set if
 * the queue stays full. */
static struct io_uring_sqe *sqe_get(uring_state *u, int *err) {
  if (sq_pending(u) >= u->sq_entries) {
    int rc;
    do rc = enter(u, 0, 0, NULL, 0);
    while (rc == -EINTR);
    if (rc < 0) {
      *err = rc;
      return NULL;
    }
    if (sq_pending(u) >= u->sq_entries) {
      *err = -EBUSY;
      return NULL;
    }
  }
  struct io_uring_sqe *sqe = &u->sqes[u->sq_tail & u->sq_mask];
  memset(sqe, 0, sizeof(*sqe));
  return sqe;
}

/* Publish the entry sqe_get returned: the kernel takes it at the next enter. */
static void sqe_push(uring_state *u, struct io_uring_sqe *sqe, __u8 opcode, int fd, __u64 data) {
  sqe->opcode = opcode;
  sqe->fd = fd;
  sqe->user_data = data;
  u->sq_tail++;
  /* Release: the entry's stores above (and sqe_get's zeroing) are visible
   * before the tail that hands it over; pairs with the kernel's load-acquire
   * of the tail (io_sqring_entries).  One store per entry: the kernel looks
   * only when we enter, so batching them would save nothing but this store. */
  __atomic_store_n(u->sq_ktail, u->sq_tail, __ATOMIC_RELEASE);
}

static int ur_arm(coro__io *io, int fd, coro__fd *f, unsigned events) {
  uring_state *u = io->backend_data;
  for (unsigned dir = 0; dir < 2; dir++) {
    unsigned ev = dir ? CORO__IO_WRITE : CORO__IO_READ;
    if (!(events & ev) || f->bk_pending & ev) continue;
    int err = 0;
    struct io_uring_sqe *sqe = sqe_get(u, &err);
    if (!sqe) return err;
    /* The 16-bit field: the kernel reads it as the 32-bit one word-swapped
     * on big-endian machines, so it means the same on every byte order. */
    sqe->poll_events = (__u16)(dir ? POLLOUT : POLLIN | POLLRDHUP);
    sqe_push(u, sqe, IORING_OP_POLL_ADD, fd, tag(fd, dir, f->bk_seq));
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
  int queued = 0;
  for (unsigned dir = 0; dir < 2; dir++) {
    unsigned ev = dir ? CORO__IO_WRITE : CORO__IO_READ;
    if (!(f->bk_pending & ev)) continue;
    int err = 0;
    struct io_uring_sqe *sqe = sqe_get(u, &err);
    if (!sqe) continue;                  /* the ring is torn down at thread exit at the latest */
    sqe->addr = tag(fd, dir, f->bk_seq); /* the request to remove */
    sqe_push(u, sqe, IORING_OP_POLL_REMOVE, -1, OWN_TAG);
    queued = 1;
  }
  /* GETEVENTS with nothing to wait for: with DEFER_TASKRUN the removed poll
   * completes (and lets go of the file) only in task work that runs inside
   * such an enter, and no later one may come if nothing else waits. */
  if (queued) enter(u, 0, IORING_ENTER_GETEVENTS, NULL, 0);
  f->bk_pending = 0;
  f->bk_seq++;
  f->flags &= ~(unsigned)CORO__FD_ARMED;
}

/* --- completions ---------------------------------------------------------------- */

/* Report one completion. */
static void reap_one(coro__io *io, uint64_t data, int res) {
  if (data == OWN_TAG) return;
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

/* Read every completion posted so far. */
static void reap(coro__io *io, uring_state *u) {
  unsigned head = *u->cq_khead; /* ours alone: a plain read */
  /* Acquire: pairs with the kernel's store-release of the tail after it
   * wrote the completions (io_commit_cqring), so that we read them whole. */
  unsigned tail = __atomic_load_n(u->cq_ktail, __ATOMIC_ACQUIRE);
  while (head != tail) {
    const struct io_uring_cqe *cqe = &u->cqes[head & u->cq_mask];
    uint64_t data = cqe->user_data;
    int res = cqe->res;
    head++;
    /* Release: our reads of the completion are done before the kernel may
     * see its slot free and write a new one there.  Before reporting it, as
     * reporting may run code that submits (the offload hook re-arms). */
    __atomic_store_n(u->cq_khead, head, __ATOMIC_RELEASE);
    reap_one(io, data, res);
  }
}

/* Wait at most `ns` (> 0) for a completion. */
static int wait_for(uring_state *u, int64_t ns) {
  struct __kernel_timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  if (u->features & IORING_FEAT_EXT_ARG) { /* 5.11 on: the limit rides on the enter */
    /* No signal mask: sigmask_sz is read only with one. */
    struct io_uring_getevents_arg arg = {
        .sigmask = 0, .sigmask_sz = 0, .pad = 0, .ts = (__u64)(uintptr_t)&ts};
    int rc = enter(u, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    return rc == -ETIME ? 0 : rc;
  }
  /* Before: a timeout request, which completes when the time is up or one
   * other completion came (count 1), so the wait for one completion ends
   * either way; the kernel reads ts when it takes the request, in this enter. */
  int err = 0;
  struct io_uring_sqe *sqe = sqe_get(u, &err);
  if (!sqe) return err;
  sqe->addr = (__u64)(uintptr_t)&ts;
  sqe->len = 1;
  sqe->off = 1;
  sqe_push(u, sqe, IORING_OP_TIMEOUT, -1, OWN_TAG);
  return enter(u, 1, IORING_ENTER_GETEVENTS, NULL, 0);
}

static int ur_poll(coro__io *io, int64_t deadline) {
  uring_state *u = io->backend_data;
  int rc = 0;
  int64_t left = deadline > 0 ? deadline - coro_now() : deadline;
  if (deadline == 0 || (deadline > 0 && left <= 0)) {
    /* Only what is there: enter the kernel only to hand over queued polls
     * or to run completion work it has flagged; else just read the queue.
     * The flags are hints the kernel sets atomically: a relaxed read (a
     * stale one costs a round, not a completion). */
    unsigned kflags = __atomic_load_n(u->sq_kflags, __ATOMIC_RELAXED);
    if (sq_pending(u) || kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
      rc = enter(u, 0, IORING_ENTER_GETEVENTS, NULL, 0);
  } else if (left < 0) {
    rc = enter(u, 1, IORING_ENTER_GETEVENTS, NULL, 0);
  } else {
    rc = wait_for(u, left);
  }
  reap(io, u);
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
