/* SPDX-License-Identifier: MIT */
/*
 * pool.c - a process pool: work items run by a handler in worker processes,
 * submitted from coroutines.
 *
 *     submitting coroutines          pool (parent side)          workers
 *     submit --sem (FIFO)--> idle worker i --socketpair i--> handler loop
 *            <-- response ---------------------------------
 *
 * Wire format, both ways: an 8-byte header -- length (u32, big-endian) and
 * status (i32, big-endian; 0 for a request, the handler's return for a
 * response) -- then the payload.
 *
 * Invariants:
 *   - sem counts the idle workers, and idle[] lists them: a submitter takes
 *     one (waiting first in first out on the semaphore) and gives it back
 *     when its item is done, so a worker has at most one item at a time and
 *     its socket never carries two out of step;
 *   - a worker whose item did not complete normally (it died, or the
 *     submitter timed out or was cancelled) is killed, reaped and replaced
 *     before its slot goes back to idle[]: a slot in idle[] with pid 0 is one
 *     whose replacement failed to fork, and the next taker tries again;
 *   - live pools are kept in a process-wide list, so that a destroyed or
 *     bogus handle is refused (-EINVAL) instead of being used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define HDR 8

/* One worker process. */
typedef struct pworker {
  pid_t pid; /* 0: none (its replacement could not be forked) */
  int fd;    /* the parent's end of its socketpair, -1 with pid 0 */
} pworker;

struct coro_pool {
  coro_pool *next;  /* in the list of live pools */
  coro__tls *owner; /* its thread */
  int n;            /* workers */
  pworker *w;       /* n of them */
  int *idle;        /* indices of idle workers, nidle of them (a stack) */
  int nidle;
  coro_sem *sem;             /* counts idle workers; submitters wait on it in order */
  coro_pool_handler handler; /* run in the workers */
  coro_pool_opts opts;       /* a copy */
  size_t inflight;           /* submitters inside coro_pool_submit */
};

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static coro_pool *pools; /* live pools */

static int is_live(const coro_pool *p) {
  int found = 0;
  pthread_mutex_lock(&pools_lock);
  for (coro_pool *q = pools; q && !found; q = q->next) found = q == p;
  pthread_mutex_unlock(&pools_lock);
  return found;
}

static void put32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* --- the worker process ------------------------------------------------------------- */

/* What the handler thread of a worker needs. */
typedef struct wctx {
  int fd;                    /* its end of the socketpair, blocking */
  coro_pool_handler handler; /* the work */
  void *arg;                 /* its argument */
  size_t max_item;           /* the largest response it may send */
} wctx;

/* read(2) all of len bytes: 1, 0 at EOF (or an error). */
static int read_all(int fd, void *buf, size_t len) {
  for (size_t at = 0; at < len;) {
    ssize_t got = read(fd, (char *)buf + at, len - at);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;
    at += (size_t)got;
  }
  return 1;
}

static int send_all(int fd, const void *buf, size_t len) {
  for (size_t at = 0; at < len;) {
    ssize_t put = send(fd, (const char *)buf + at, len - at, MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return 0;
    at += (size_t)put;
  }
  return 1;
}

/* The handler loop, on a fresh thread: one item at a time until EOF. */
static void *serve(void *arg) {
  const wctx *c = arg;
  unsigned char h[HDR];
  while (read_all(c->fd, h, HDR)) {
    size_t len = get32(h);
    char *req = malloc(len ? len : 1);
    if (!req || !read_all(c->fd, req, len)) break;
    void *resp = NULL;
    size_t rlen = 0;
    int st = c->handler(req, len, &resp, &rlen, c->arg);
    free(req);
    if (st >= 0 && rlen > c->max_item) st = -EMSGSIZE;
    if (st >= 0 && !resp && rlen) st = -EINVAL;
    if (st < 0) rlen = 0;
    put32(h, (uint32_t)rlen);
    put32(h + 4, (uint32_t)(st < 0 ? st : 0));
    int ok = send_all(c->fd, h, HDR) && send_all(c->fd, resp, rlen);
    free(resp);
    if (!ok) break;
  }
  return NULL;
}

/* Close every fd above stderr that has FD_CLOEXEC, but `keep`: what exec
 * would close.  That is every fd libcoro makes (sockets, the poller, the
 * offload eventfd, other pools' sockets) and what the program opened with
 * O_CLOEXEC.  A worker holding copies would keep a connection open after the
 * parent closed it (its peer never sees EOF), keep a listener accepting into
 * a queue nobody serves, and keep another pool's worker from seeing EOF on
 * its socket when that pool is destroyed. */
static void close_cloexec_fds(int keep) {
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int dfd = dirfd(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
      char *end;
      long fd = strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end || fd <= 2 || fd == keep || fd == dfd || fd > INT_MAX) continue;
      int fl = fcntl((int)fd, F_GETFD);
      if (fl >= 0 && fl & FD_CLOEXEC) close((int)fd);
    }
    closedir(d);
    return;
  }
  /* No /proc: ask every number up to the limit (bounded: this is a fork). */
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; fd++) {
    if (fd == keep) continue;
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && fl & FD_CLOEXEC) close(fd);
  }
}

/* In the child just forked for worker i: run the handler loop, never return. */
__attribute__((noreturn)) static void child(coro_pool *p, int i, int fd, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  for (int j = 0; j < p->n; j++)
    if (p->w[j].fd >= 0) close(p->w[j].fd);
  close_cloexec_fds(fd);
  (void)i;
  /* A fresh thread: a stack of its own (we may be on a coroutine's small
   * stack) and an empty libcoro state, so the handler may even run a
   * scheduler of its own. */
  wctx c = {fd, p->handler, p->opts.arg, p->opts.max_item};
  pthread_t th;
  if (pthread_create(&th, NULL, serve, &c) != 0) _exit(1);
  pthread_join(th, NULL);
  _exit(0);
}

/* --- the parent's side ------------------------------------------------------------ */

/* Fork worker i.  0, or a negated errno (the slot stays empty). */
static int start(coro_pool *p, int i) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  pid_t parent = getpid();
  int pid = coro__fork();
  if (pid == 0) {
    close(sv[0]);
    child(p, i, sv[1], parent);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return pid;
  }
  p->w[i].pid = pid;
  p->w[i].fd = sv[0];
  return 0;
}

/* Kill and reap worker i, close its socket: the slot is empty. */
static void stop_hard(coro_pool *p, int i) {
  pworker *w = &p->w[i];
  if (w->pid > 0) {
    kill(w->pid, SIGKILL);
    while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {}
  }
  if (w->fd >= 0) coro_fd_close(w->fd);
  w->pid = 0;
  w->fd = -1;
}

int coro_pool_opts_init(coro_pool_opts *o) {
  if (!o) return -EINVAL;
  memset(o, 0, sizeof(*o));
  o->max_item = (size_t)64 << 20;
  return 0;
}

static void free_pool(coro_pool *p) {
  if (p->sem) coro_sem_destroy(p->sem);
  coro__free(p->idle);
  coro__free(p->w);
  coro__free(p);
}

int coro_pool_create(coro_pool **out, int nworkers, coro_pool_handler handler,
                     const coro_pool_opts *opts) {
  coro_pool_opts def;
  if (!opts) {
    coro_pool_opts_init(&def);
    opts = &def;
  }
  if (!out || !handler || nworkers < 1 || nworkers > CORO_CLUSTER_MAX ||
      opts->flags & ~(unsigned)CORO_POOL_RETRY || opts->max_item < 1 ||
      opts->max_item > CORO_POOL_ITEM_MAX)
    return -EINVAL;
  coro_pool *p = coro__malloc(sizeof(*p));
  if (!p) return -ENOMEM;
  memset(p, 0, sizeof(*p));
  p->owner = coro__tls_get();
  p->n = nworkers;
  p->handler = handler;
  p->opts = *opts;
  p->w = coro__malloc(sizeof(*p->w) * (size_t)nworkers);
  p->idle = coro__malloc(sizeof(*p->idle) * (size_t)nworkers);
  int rc = -ENOMEM;
  if (!p->w || !p->idle || coro_sem_create(&p->sem, 0) < 0) goto out_free;
  for (int i = 0; i < nworkers; i++) p->w[i] = (pworker){0, -1};
  for (int i = 0; i < nworkers; i++) {
    if ((rc = start(p, i)) < 0) goto out_stop;
    p->idle[p->nidle++] = i;
    coro_sem_release(p->sem);
  }
  pthread_mutex_lock(&pools_lock);
  p->next = pools;
  pools = p;
  pthread_mutex_unlock(&pools_lock);
  *out = p;
  return 0;
out_stop:
  for (int i = 0; i < nworkers; i++) stop_hard(p, i);
out_free:
  free_pool(p);
  return rc;
}

/* Read exactly len bytes from a worker; 0, or an error (-EPIPE at EOF). */
static int recv_all(int fd, void *buf, size_t len, int64_t deadline) {
  for (size_t at = 0; at < len;) {
    ssize_t got = coro_fd_read(fd, (char *)buf + at, len - at, deadline);
    if (got == 0) return -EPIPE;
    if (got < 0) return (int)got;
    at += (size_t)got;
  }
  return 0;
}

/* One attempt of the item on worker i.  Returns 0 or the handler's code
 * (the worker is fine), or -ECHILD (it died), or the caller's error
 * (-ETIMEDOUT, -ECANCELED, -ENOMEM): in those two cases *broken is set, the
 * worker must be replaced.  *unsent: it had died before the item's first
 * byte could be written (killed while idle): the item never reached it. */
static int attempt(coro_pool *p, int i, const void *req, size_t len, void **resp, size_t *resp_len,
                   int64_t deadline, int *broken, int *unsent) {
  int fd = p->w[i].fd;
  unsigned char h[HDR];
  put32(h, (uint32_t)len);
  put32(h + 4, 0);
  *broken = 1;
  size_t put = 0;
  int rc = coro_fd_write_all(fd, h, HDR, &put, deadline);
  *unsent = put == 0 && (rc == -EPIPE || rc == -ECONNRESET);
  if (rc == 0 && len) rc = coro_fd_write_all(fd, req, len, NULL, deadline);
  if (rc == 0) rc = recv_all(fd, h, HDR, deadline);
  if (rc == -EPIPE || rc == -ECONNRESET) return -ECHILD;
  if (rc < 0) return rc;
  size_t rlen = get32(h);
  int st = (int)get32(h + 4);
  if (rlen > p->opts.max_item) return -EPROTO; /* cannot happen: the worker checks */
  char *buf = malloc(rlen + 1);
  if (!buf) return -ENOMEM;
  rc = recv_all(fd, buf, rlen, deadline);
  if (rc < 0) {
    free(buf);
    return rc == -EPIPE || rc == -ECONNRESET ? -ECHILD : rc;
  }
  *broken = 0;
  if (st < 0) {
    free(buf);
    return st;
  }
  buf[rlen] = '\0';
  *resp = buf;
  *resp_len = rlen;
  return 0;
}

int coro_pool_submit(coro_pool *p, const void *req, size_t len, void **resp, size_t *resp_len,
                     int64_t deadline) {
  if (resp) *resp = NULL;
  if (resp_len) *resp_len = 0;
  if (!p || !is_live(p) || (!req && len) || !resp || !resp_len) return -EINVAL;
  coro__tls *t = coro__tls_get();
  if (p->owner != t) return -EPERM;
  if (len > p->opts.max_item) return -EMSGSIZE;
  if (!t->sched.running || !t->current || t->current == t->sched.host) return -EDEADLK;
  p->inflight++;
  int rc, tries = p->opts.flags & CORO_POOL_RETRY ? 2 : 1, resent = 0;
  for (;;) {
    rc = coro_sem_acquire(p->sem, deadline);
    if (rc < 0) break;
    int i = p->idle[--p->nidle];
    if (!p->w[i].pid && (rc = start(p, i)) < 0) { /* an earlier replacement failed */
      p->idle[p->nidle++] = i;
      coro_sem_release(p->sem);
      break;
    }
    int broken, unsent;
    rc = attempt(p, i, req, len, resp, resp_len, deadline, &broken, &unsent);
    if (broken) {
      stop_hard(p, i);
      int err = start(p, i); /* on failure the next taker of slot i tries again */
      /* An item that never reached a worker (it died idle) goes to the next
       * one, once, whatever the retry option: nothing of it ran. */
      if (rc == -ECHILD && err == 0 && ((unsent && !resent++) || --tries > 0)) {
        p->idle[p->nidle++] = i;
        coro_sem_release(p->sem);
        continue;
      }
      /* Nothing of an unsent item ran: if no replacement could be forked,
       * that (-EAGAIN...) is the error, not a worker dying on the item. */
      if (rc == -ECHILD && unsent && err < 0) rc = err;
    }
    p->idle[p->nidle++] = i;
    coro_sem_release(p->sem);
    break;
  }
  p->inflight--;
  return rc;
}

int coro_pool_destroy(coro_pool *p) {
  if (!p || !is_live(p)) return -EINVAL;
  if (p->owner != coro__tls_get()) return -EPERM;
  if (p->inflight) return -EBUSY;
  pthread_mutex_lock(&pools_lock);
  for (coro_pool **q = &pools; *q; q = &(*q)->next)
    if (*q == p) {
      *q = p->next;
      break;
    }
  pthread_mutex_unlock(&pools_lock);
  /* EOF makes each idle worker leave its loop and exit. */
  for (int i = 0; i < p->n; i++)
    if (p->w[i].fd >= 0) {
      coro_fd_close(p->w[i].fd);
      p->w[i].fd = -1;
    }
  int64_t give_up = coro_now() + INT64_C(5000000000);
  for (int i = 0; i < p->n; i++) {
    pid_t pid = p->w[i].pid;
    if (pid <= 0) continue;
    for (;;) {
      pid_t got = waitpid(pid, NULL, WNOHANG);
      if (got == pid || (got < 0 && errno != EINTR)) break;
      if (got == 0 && coro_now() >= give_up) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        break;
      }
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
  }
  free_pool(p);
  return 0;
}
