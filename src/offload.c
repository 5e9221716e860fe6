/* SPDX-License-Identifier: MIT */
/*
 * offload.c - a small pool of threads for the calls that cannot be made
 * non-blocking (getaddrinfo, reads and writes of regular files, a library
 * that blocks): the calling coroutine parks, not its thread.
 *
 * One pool per process, shared by every scheduler thread: workers are made
 * on demand (when a job is queued and no worker is idle) up to a bound (4
 * unless coro_offload_threads() or CORO_OFFLOAD_THREADS says otherwise),
 * then live until the process exits (idle ones are joined then, see
 * pool_shutdown); they block every signal.  Each scheduler
 * thread has a port: an eventfd the I/O layer watches (io.c's fd hook) and a
 * list of its finished jobs.  A worker that finishes a job puts it on its
 * port's list and writes the eventfd; the I/O layer's readiness calls
 * reap(), which moves them to the port's reaped list and wakes each job's
 * coroutine, which takes its job off that list when it runs.
 *
 *     coroutine --job--> pool.queue --worker: fn(arg)--> port.done --eventfd--> reap --> wake
 *
 * A job lives on the heap and moves QUEUED -> RUNNING -> DONE -> REAPED.  The
 * pool's one mutex guards every field the workers touch (the queue, states,
 * the ports' lists and reference counts).  A coroutine woken early (deadline,
 * cancel) looks at its job under the mutex: QUEUED is withdrawn; RUNNING
 * cannot be interrupted, so a plain job is waited for to the end (fn may write
 * through arg into the caller's stack: the call must not return before fn
 * does) and a job whose data is all its own (getaddrinfo) is abandoned to the
 * worker, which discards its result; DONE and REAPED deliver their result.
 *
 * A port's eventfd dies with its thread: at the thread's exit the port is
 * marked dead and the fd closed, its queued jobs are withdrawn and its
 * finished ones freed, reaped or not (their coroutines will never run again,
 * woken ones included).  Its memory lives on, under a count, while a job
 * that names it still runs; the worker that finishes such a late job frees
 * it (as an abandoned one) instead of reporting it, so a worker never writes
 * to a freed port nor to a closed fd.
 * After fork() the child has no workers: the pool starts afresh.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "copystack.h"
#include "scheduler.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer" /* see io.c */
#endif

#define DEFAULT_THREADS 4

enum { QUEUED, RUNNING, DONE, REAPED }; /* job.state */

typedef struct job job;

/* A thread's end of the pool. */
struct coro__offload_port {
  int efd;       /* eventfd: written by workers, watched by the I/O layer */
  job *done;     /* finished jobs not yet reaped (pool.mu) */
  job *reaped;   /* reaped jobs whose coroutines have not taken them yet:
                    woken, not run (thread only; doubly linked) */
  size_t refs;   /* 1 for the thread while it lives + 1 per job naming it (pool.mu) */
  size_t parked; /* coroutines of the thread parked on a job (thread only) */
  int dead;      /* its thread has exited, efd is closed: late jobs are
                    freed by their workers (pool.mu) */
  int inherited; /* a fork's child's copy: its eventfd is shared with the parent */
};

struct job {
  void *(*fn)(void *);      /* the work */
  void *arg;                /* its argument */
  void *result;             /* fn's return value, once DONE */
  void (*discard)(job *);   /* non-NULL: the job may be abandoned while
                                  RUNNING; then the worker calls this, then frees */
  coro *who;                /* the parked coroutine */
  coro__offload_port *port; /* its thread's port */
  int state;                /* QUEUED, RUNNING, DONE, REAPED (pool.mu) */
  int abandoned;            /* its caller gave up while it ran (pool.mu) */
  job *next;                /* in pool.queue, port.done or port.reaped */
  job *prev;                /* in port.reaped */
};

/* One worker thread. */
typedef struct worker_slot {
  pthread_t th; /* the thread, joined at exit if idle then */
  int busy;     /* running a job (pool.mu) */
} worker_slot;

static struct {
  pthread_mutex_t mu;  /* guards everything here and the fields marked pool.mu */
  pthread_cond_t work; /* signalled when a job is queued, broadcast at exit */
  job *head, *tail;    /* queued jobs, FIFO */
  size_t nqueued;      /* how many */
  int max;             /* workers allowed (0: not decided yet) */
  int nthreads;        /* workers started (they live until the process exits) */
  int nidle;           /* of which waiting for work */
  int atfork;          /* the fork handler is installed */
  int quit;            /* the process is exiting: workers leave */
  worker_slot workers[CORO_OFFLOAD_THREADS_MAX]; /* [0, nthreads) */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER};

static void port_unref_locked(coro__offload_port *p) {
  if (--p->refs == 0) {
    if (!p->dead) close(p->efd);
    coro__free(p);
  }
}

/* Free a job nobody will take: its result first if it owns one (discard), not
 * when it never ran (`ran` 0).  Outside pool.mu: discard may take its time. */
static void drop_job(job *j, int ran) {
  if (ran && j->discard) j->discard(j);
  coro__free(j);
}

/* --- workers --------------------------------------------------------------------- */

static void *worker(void *arg) {
  worker_slot *me = arg;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (!pool.head && !pool.quit) {
      pool.nidle++;
      pthread_cond_wait(&pool.work, &pool.mu);
      pool.nidle--;
    }
    if (pool.quit) break; /* queued jobs belong to coroutines that will never run */
    job *j = pool.head;
    pool.head = j->next;
    if (!pool.head) pool.tail = NULL;
    pool.nqueued--;
    j->state = RUNNING;
    me->busy = 1;
    pthread_mutex_unlock(&pool.mu);
    void *r = j->fn(j->arg);
    pthread_mutex_lock(&pool.mu);
    me->busy = 0;
    j->result = r;
    coro__offload_port *p = j->port;
    if (j->abandoned || p->dead) { /* nobody waits for it any more */
      port_unref_locked(p);
      pthread_mutex_unlock(&pool.mu);
      drop_job(j, 1);
      pthread_mutex_lock(&pool.mu);
      continue;
    }
    j->state = DONE;
    j->next = p->done;
    p->done = j;
    /* Under the mutex: the port cannot be freed under us.  An eventfd write
     * fails only when the counter would overflow: the reader is woken anyway. */
    uint64_t one = 1;
    (void)!write(p->efd, &one, sizeof(one));
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

/* Process exit (after atexit handlers): idle workers leave and are joined, so
 * that what the C library keeps per thread (the resolver's state) is freed and
 * leak checkers see a clean exit; a worker still running a job is detached,
 * not waited for (its job may block for long: a slow name server). */
__attribute__((destructor)) static void pool_shutdown(void) {
  pthread_t idle[CORO_OFFLOAD_THREADS_MAX];
  int n = 0;
  pthread_mutex_lock(&pool.mu);
  pool.quit = 1;
  pthread_cond_broadcast(&pool.work);
  for (int i = 0; i < pool.nthreads; i++) {
    if (pool.workers[i].busy)
      pthread_detach(pool.workers[i].th);
    else
      idle[n++] = pool.workers[i].th;
  }
  pool.nthreads = 0;
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < n; i++) pthread_join(idle[i], NULL);
}

/* The worker bound: the call's, else CORO_OFFLOAD_THREADS, else 4 (pool.mu). */
static int max_threads(void) {
  if (!pool.max) {
    const char *e = getenv("CORO_OFFLOAD_THREADS");
    long n = e && *e ? strtol(e, NULL, 10) : 0;
    pool.max = n >= 1 && n <= CORO_OFFLOAD_THREADS_MAX ? (int)n : DEFAULT_THREADS;
  }
  return pool.max;
}

/* The child of a fork has none of the parent's workers: start afresh.  Jobs
 * queued or running in the parent are the parent's. */
static void atfork_prepare(void) { pthread_mutex_lock(&pool.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void atfork_child(void) {
  /* The forking thread's port: its eventfd is the parent's too (the parent
   * could consume the child's wake-ups); port_get replaces it. */
  coro__offload_port *p = coro__tls_get()->offload;
  if (p) p->inherited = 1;
  pthread_mutex_init(&pool.mu, NULL);
  pthread_cond_init(&pool.work, NULL);
  pool.head = pool.tail = NULL;
  pool.nqueued = 0;
  pool.nthreads = pool.nidle = 0;
}

/* Start a worker if the queue holds more jobs than idle workers will take
 * (pool.mu).  Returns 0, or a negated errno when none could start and none
 * exists. */
static int maybe_start_worker(void) {
  if (pool.nqueued <= (size_t)pool.nidle || pool.nthreads >= max_threads()) return 0;
  if (pool.quit) return pool.nthreads ? 0 : -ESHUTDOWN;
  if (!pool.atfork) {
    if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
      return pool.nthreads ? 0 : -ENOMEM;
    pool.atfork = 1;
  }
  worker_slot *w = &pool.workers[pool.nthreads];
  int err = coro__fault_injected(CORO__FAULT_THREAD);
  if (!err) {
    sigset_t all, old;
    /* Signals are for the program's threads, never the pool's: a worker
     * inherits the full mask set around its creation. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->busy = 0;
    err = pthread_create(&w->th, NULL, worker, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (!err) {
    pool.nthreads++;
    return 0;
  }
  return pool.nthreads ? 0 : -err; /* the queued job waits for a worker there is */
}

/* --- the thread's port ----------------------------------------------------------- */

/* The finished jobs of this thread: wake their coroutines (io.c's fd hook). */
static void reap(coro__tls *t) {
  coro__offload_port *p = t->offload;
  uint64_t n;
  /* Reset the counter first: a job finishing after the drain writes it again. */
  (void)!read(p->efd, &n, sizeof(n));
  pthread_mutex_lock(&pool.mu);
  job *list = p->done;
  p->done = NULL;
  for (job *j = list; j; j = j->next) j->state = REAPED;
  pthread_mutex_unlock(&pool.mu);
  for (job *j = list, *next; j; j = next) {
    next = j->next;
    /* On the reaped list until its coroutine runs and takes it: a thread
     * that exits before that frees it (coro__offload_fini). */
    j->prev = NULL;
    j->next = p->reaped;
    if (p->reaped) p->reaped->prev = j;
    p->reaped = j;
    coro__wake(&t->sched, j->who, 1);
  }
  /* A one-shot backend (io_uring) needs asking again while jobs remain. */
  if (p->parked) coro__io_hook_arm(t, p->efd);
}

/* Take j, reaped for the calling coroutine, off its port's reaped list. */
static void unreap(coro__offload_port *p, job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    p->reaped = j->next;
  if (j->next) j->next->prev = j->prev;
}

static int port_get(coro__tls *t, coro__offload_port **out) {
  if (t->offload && t->offload->inherited) {
    /* In a fork's child: the jobs the old port waits for run in the parent,
     * and no worker of this process knows the copy (the child started with
     * none, and new jobs name the new port), so it is freed -- unless a
     * coroutine of the child still waits on a job of the parent's (it was
     * parked at the fork): that one may look at its job's port when woken
     * by a deadline or a cancel, so the copy stays, left to the child's exit. */
    coro__offload_port *old = t->offload;
    coro__io_unhook(t, old->efd);
    close(old->efd);
    t->offload = NULL;
    if (!old->parked && !old->done && !old->reaped) coro__free(old);
  }
  if (t->offload) {
    *out = t->offload;
    return 0;
  }
  coro__offload_port *p = coro__malloc(sizeof(*p));
  if (!p) return -ENOMEM;
  memset(p, 0, sizeof(*p));
  p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->efd < 0) {
    int err = -errno;
    coro__free(p);
    return err;
  }
  int rc = coro__io_hook(t, p->efd, reap);
  if (rc < 0) {
    close(p->efd);
    coro__free(p);
    return rc;
  }
  p->refs = 1;
  t->offload = p;
  *out = p;
  return 0;
}

void coro__offload_fini(coro__tls *t) {
  coro__offload_port *p = t->offload;
  if (!p) return;
  t->offload = NULL;
  coro__io_unhook(t, p->efd);
  job *late = NULL; /* jobs to free once the mutex is let go */
  job *reaped = p->reaped;
  p->reaped = NULL;
  pthread_mutex_lock(&pool.mu);
  p->dead = 1; /* from now on no worker writes the eventfd */
  close(p->efd);
  /* Queued jobs of this thread: withdrawn, they never run. */
  for (job **pp = &pool.head, *prev = NULL; *pp;) {
    job *j = *pp;
    if (j->port != p) {
      prev = j;
      pp = &j->next;
      continue;
    }
    *pp = j->next;
    if (pool.tail == j) pool.tail = prev;
    pool.nqueued--;
    j->state = QUEUED; /* drop_job(j, 0): it never ran */
    j->next = late;
    late = j;
    p->refs--;
  }
  /* Finished jobs of coroutines that will never run again. */
  for (job *j = p->done, *next; j; j = next) {
    next = j->next;
    j->state = DONE;
    j->next = late;
    late = j;
    p->refs--;
  }
  p->done = NULL;
  /* Reaped ones too: their coroutines were woken but never ran to take them. */
  for (job *j = reaped, *next; j; j = next) {
    next = j->next;
    j->state = DONE;
    j->next = late;
    late = j;
    p->refs--;
  }
  port_unref_locked(p); /* the thread's own count; running jobs keep theirs */
  pthread_mutex_unlock(&pool.mu);
  for (job *j = late, *next; j; j = next) {
    next = j->next;
    drop_job(j, j->state == DONE);
  }
}

/* --- the calls ------------------------------------------------------------------- */

/* A call that cannot wait (deadline due, no scheduler, cancelled) fails at
 * once, before anything is queued: coro__park says why without parking. */
static int cannot_wait(coro__tls *t, int64_t deadline) {
  coro__sched *s = &t->sched;
  return deadline == 0 || !s->running || t->current == s->host ||
         s->root->sched & CORO__S_CANCELLED || (deadline > 0 && deadline <= coro_now());
}

/* Run j on the pool and park until it is done, the deadline or a cancel (see
 * the file's comment for what each means to a running job).  Returns 0 once
 * j is done: the caller reads its results and frees it.  Returns a negated
 * errno otherwise: j is gone then (freed, or abandoned to its worker). */
static int offload(coro__tls *t, job *j, int64_t deadline) {
  coro__offload_port *p = NULL;
  int rc;
  if (cannot_wait(t, deadline)) {
    rc = coro__park(t, deadline, "offload", NULL);
    goto out_free;
  }
  if ((rc = port_get(t, &p)) < 0 || (rc = coro__io_hook_arm(t, p->efd)) < 0) goto out_free;
  j->who = t->current;
  j->port = p;
  j->state = QUEUED;
  j->next = NULL;
  pthread_mutex_lock(&pool.mu);
  if (pool.tail)
    pool.tail->next = j;
  else
    pool.head = j;
  pool.tail = j;
  pool.nqueued++;
  p->refs++;
  rc = maybe_start_worker();
  if (rc < 0) { /* no worker exists, so j is the only job queued: take it back */
    pool.head = pool.tail = NULL;
    pool.nqueued = 0;
    p->refs--;
    pthread_mutex_unlock(&pool.mu);
    goto out_free;
  }
  pthread_cond_signal(&pool.work);
  pthread_mutex_unlock(&pool.mu);

  p->parked++;
  t->io->nwaiting++; /* the scheduler polls the I/O layer while we wait */
  rc = coro__park(t, deadline, "offload", j);
  pthread_mutex_lock(&pool.mu);
  if (j->state == QUEUED) { /* woken early, not started: withdraw it */
    job **pp = &pool.head, *prev = NULL;
    while (*pp != j) {
      prev = *pp;
      pp = &prev->next;
    }
    *pp = j->next;
    if (pool.tail == j) pool.tail = prev;
    pool.nqueued--;
    port_unref_locked(p);
    pthread_mutex_unlock(&pool.mu);
    coro__free(j);
    goto out_unpark;
  }
  if (j->state == RUNNING && j->discard) { /* woken early: abandon it to its worker */
    j->abandoned = 1;
    pthread_mutex_unlock(&pool.mu);
    goto out_unpark;
  }
  /* Reaped (by reap(): j is on p->reaped) unless we take it first. */
  int reaped = 1;
  if (j->state == DONE) { /* finished, not reaped yet (we woke first): take it */
    job **pp = &p->done;
    while (*pp != j) pp = &(*pp)->next;
    *pp = j->next;
    j->state = REAPED;
    reaped = 0;
  }
  /* RUNNING: fn may be writing into its caller's memory, so we wait for it,
   * deadline and cancel notwithstanding (a cancel shows at the next call). */
  while (j->state != REAPED) {
    pthread_mutex_unlock(&pool.mu);
    coro__park_shielded(t, -1, "offload", j);
    pthread_mutex_lock(&pool.mu);
  }
  port_unref_locked(p);
  pthread_mutex_unlock(&pool.mu);
  if (reaped) unreap(p, j);
  p->parked--;
  t->io->nwaiting--;
  return 0;

out_unpark:
  p->parked--;
  t->io->nwaiting--;
  return rc;
out_free:
  coro__free(j);
  return rc;
}

int coro_offload(void *(*fn)(void *), void *arg, void **result, int64_t deadline) {
  if (!fn) return -EINVAL;
  if (coro__on_shared(coro__tls_get(), arg)) return -EFAULT; /* see CORO_STACK_MODE_COPY */
  job *j = coro__malloc(sizeof(*j));
  if (!j) return -ENOMEM;
  memset(j, 0, sizeof(*j));
  j->fn = fn;
  j->arg = arg;
  int rc = offload(coro__tls_get(), j, deadline);
  if (rc < 0) return rc;
  if (result) *result = j->result;
  coro__free(j);
  return 0;
}

int coro_offload_threads(int n) {
  if (n < 0 || n > CORO_OFFLOAD_THREADS_MAX) return -EINVAL;
  pthread_mutex_lock(&pool.mu);
  int old = max_threads();
  if (n) pool.max = n; /* workers beyond a lowered bound stay, idle */
  pthread_mutex_unlock(&pool.mu);
  return old;
}

/* --- getaddrinfo ------------------------------------------------------------------ */

/* Everything the worker reads is copied here: the job can be abandoned. */
typedef struct gai_job {
  job j;                 /* first: the pool sees a job */
  struct addrinfo hints; /* the caller's, or zero */
  int has_hints;         /* hints given */
  int rc;                /* getaddrinfo's return */
  int err;               /* errno after EAI_SYSTEM */
  struct addrinfo *res;  /* its result */
  char *node, *service;  /* copies, or NULL (in strings[]) */
  char strings[];        /* node and service */
} gai_job;

static void *gai_run(void *arg) {
  gai_job *g = arg;
  g->rc = getaddrinfo(g->node, g->service, g->has_hints ? &g->hints : NULL, &g->res);
  g->err = errno;
  return NULL;
}

static void gai_discard(job *j) {
  gai_job *g = (gai_job *)j;
  if (g->rc == 0) freeaddrinfo(g->res);
}

static int eai_to_errno(int rc, int err) {
  switch (rc) {
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
  case EAI_ADDRFAMILY:
#endif
    return -ENOENT;
  case EAI_AGAIN:
    return -EAGAIN;
  case EAI_MEMORY:
    return -ENOMEM;
  case EAI_FAMILY:
    return -EAFNOSUPPORT;
  case EAI_SOCKTYPE:
    return -ESOCKTNOSUPPORT;
  case EAI_SERVICE:
    return -EPROTONOSUPPORT;
  case EAI_BADFLAGS:
    return -EINVAL;
  case EAI_OVERFLOW:
    return -EOVERFLOW;
  case EAI_SYSTEM:
    return err > 0 ? -err : -EIO;
  default:
    return -EIO; /* EAI_FAIL and anything else */
  }
}

int coro_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res, int64_t deadline) {
  if (!res || (!node && !service)) return -EINVAL;
  size_t ln = node ? strlen(node) + 1 : 0, ls = service ? strlen(service) + 1 : 0;
  gai_job *g = coro__malloc(sizeof(*g) + ln + ls);
  if (!g) return -ENOMEM;
  memset(g, 0, sizeof(*g));
  if (node) g->node = memcpy(g->strings, node, ln);
  if (service) g->service = memcpy(g->strings + ln, service, ls);
  if (hints) { /* the fields getaddrinfo reads of hints; the rest must be zero */
    g->has_hints = 1;
    g->hints.ai_flags = hints->ai_flags;
    g->hints.ai_family = hints->ai_family;
    g->hints.ai_socktype = hints->ai_socktype;
    g->hints.ai_protocol = hints->ai_protocol;
  }
  g->j.fn = gai_run;
  g->j.arg = g;
  g->j.discard = gai_discard;
  int rc = offload(coro__tls_get(), &g->j, deadline);
  if (rc < 0) return rc;
  rc = g->rc;
  if (rc == 0)
    *res = g->res;
  else
    rc = eai_to_errno(rc, g->err);
  coro__free(g);
  return rc;
}

/* --- regular files ----------------------------------------------------------------- */

/* pread or pwrite on a worker; in the heap with its job, not on the caller's
 * stack, which copy-stack mode displaces while the worker writes `ret`. */
typedef struct file_op {
  int fd;      /* the file */
  int write;   /* 1: pwrite, 0: pread */
  void *buf;   /* the caller's buffer */
  size_t len;  /* its length */
  off_t off;   /* where in the file */
  ssize_t ret; /* the call's return */
  int err;     /* its errno */
} file_op;

/* The job and its operation in one block. */
typedef struct file_job {
  job j;      /* first: the pool sees a job */
  file_op op; /* what the worker does */
} file_job;

static void *file_run(void *arg) {
  file_op *op = arg;
  op->ret = op->write ? pwrite(op->fd, op->buf, op->len, op->off)
                      : pread(op->fd, op->buf, op->len, op->off);
  op->err = errno;
  return NULL;
}

static ssize_t file_io(int fd, int write, void *buf, size_t len, off_t off, int64_t deadline) {
  if (fd < 0) return -EBADF;
  if ((!buf && len) || off < 0) return -EINVAL;
  coro__tls *t = coro__tls_get();
  if (len && coro__on_shared(t, buf)) return -EFAULT; /* displaced while the worker runs */
  file_job *fj = coro__malloc(sizeof(*fj));
  if (!fj) return -ENOMEM;
  memset(fj, 0, sizeof(*fj));
  fj->op = (file_op){.fd = fd, .write = write, .buf = buf, .len = len, .off = off};
  fj->j.fn = file_run;
  fj->j.arg = &fj->op;
  int rc = offload(t, &fj->j, deadline);
  if (rc < 0) return rc;
  ssize_t ret = fj->op.ret < 0 ? -fj->op.err : fj->op.ret;
  coro__free(fj);
  return ret;
}

ssize_t coro_file_pread(int fd, void *buf, size_t len, off_t off, int64_t deadline) {
  return file_io(fd, 0, buf, len, off, deadline);
}

ssize_t coro_file_pwrite(int fd, const void *buf, size_t len, off_t off, int64_t deadline) {
  return file_io(fd, 1, (void *)(uintptr_t)buf, len, off, deadline);
}
