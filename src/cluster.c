/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the pre-fork runner: N worker processes, each with its own
 * scheduler, supervised by a parent that never runs one.
 *
 *     parent (coro_cluster_run: poll over a signalfd and readiness pipes)
 *       | fork, before any scheduler: no child inherits scheduler state
 *       +-- worker 0: coro_run { main: worker_main(arg), watch: coro_signal_wait,
 *       +-- worker 1:            supervise: readiness byte, then join main }
 *       ...
 *
 * The parent owns slots (one per worker index) and processes.  A slot has at
 * most one serving process and, during a rolling restart, one incoming; old
 * processes being stopped (retiring) belong to no slot's count.  Invariants:
 *   - a slot without a serving process gets one at restart_at (after the
 *     backoff), never sooner: a crash loop costs one fork per delay;
 *   - the backoff is for fast failures only: a process that died before it
 *     was ready, or within healthy_ns of its readiness.  One that served
 *     longer is replaced at once and resets its slot's count;
 *   - the last process to go, when it had been ready, is replaced after
 *     backoff_min_ns at most, whatever its slot's count: the service is never
 *     left with zero workers for the length of a grown backoff (a process
 *     that never got ready gains nothing by being forked again sooner);
 *   - SIGCHLD only prompts a waitpid(pid, WNOHANG) of each of our processes,
 *     so the caller's other children are left alone, and a coalesced SIGCHLD
 *     loses nothing;
 *   - a process is SIGKILLed at most once, at its kill_at (stop + drain).
 * A worker reports readiness with one byte on a pipe once its main coroutine
 * has run up to its first wait; EOF before it means it died first.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define SEC INT64_C(1000000000)

/* --- the worker's side ----------------------------------------------------------- */

/* What a worker process knows of itself (process-wide: the runner forks from
 * one thread and the worker runs its scheduler on that thread). */
static struct {
  int index;       /* 0..n-1 in a worker, -1 elsewhere */
  int ready_fd;    /* write end of the readiness pipe, -1 once used */
  int stopping;    /* the stop has come */
  coro_chan *stop; /* closed at the stop: coro_cluster_wait_stop receives on it */
  coro *main;      /* worker_main's micro-thread */
  coro *watcher;   /* waits for SIGTERM or SIGINT */
  coro_fn fn;      /* worker_main, which main runs (run_main) */
  void *arg;       /* its argument */
  int started;     /* main has begun its first turn */
} self = {-1, -1, 0, NULL, NULL, NULL, NULL, NULL, 0};

int coro_cluster_index(void) { return self.index >= 0 ? self.index : -ESRCH; }

int coro_cluster_stopping(void) { return self.index >= 0 && self.stopping; }

int coro_cluster_wait_stop(int64_t deadline) {
  if (self.index < 0 || !self.stop) return -ESRCH;
  if (self.stopping) return 0;
  char c;
  int rc = coro_chan_recv(self.stop, &c, deadline);
  return rc == -EPIPE ? 0 : rc;
}

/* Waits for SIGTERM or SIGINT (blocked since the fork, so one sent early is
 * pending, not lost); ends at the stop, or cancelled when main ends. */
static void *watch(void *arg) {
  (void)arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int rc = coro_signal_wait(&set, -1);
  if (rc < 0) return coro_fail(rc);
  self.stopping = 1;
  coro_chan_close(self.stop);
  /* The worker's own code waiting for the signal with coro_signal_wait got
   * this same delivery: a signal wakes every waiter of the thread. */
  return NULL;
}

/* Reports readiness once main has run up to its first wait, then waits for
 * main to finish and ends the watcher, so the scheduler can return.  A main
 * that failed before it ever waited is not ready: the pipe closes without the
 * byte, which the parent reads as "died before ready" (a rolling restart then
 * keeps the old worker serving). */
static void *supervise(void *arg) {
  (void)arg;
  /* Spawned after main, but the order of a round is not FIFO under a seed
   * (coro_sched_seed): main may not have had its first turn yet.  Once it
   * has begun, it has run up to its first wait, since it is not running now. */
  while (!self.started && coro_sched_yield() == 0) {}
  if (self.ready_fd >= 0) {
    int failed = coro_get_state(self.main) == CORO_CLOSED && coro_result(self.main, NULL) < 0;
    ssize_t n;
    if (!failed)
      while ((n = write(self.ready_fd, "R", 1)) < 0 && errno == EINTR) {}
    close(self.ready_fd);
    self.ready_fd = -1;
  }
  coro_join(self.main, NULL, -1);
  coro_cancel(self.watcher);
  return NULL;
}

/* main's body: worker_main, noting that its first turn has begun. */
static void *run_main(void *arg) {
  (void)arg;
  self.started = 1;
  return self.fn(self.arg);
}

/* The worker process: returns its exit status. */
static int worker(int index, int ready_fd, const coro_cluster_opts *o, coro_fn fn, void *arg) {
  self.index = index;
  self.ready_fd = ready_fd;
  if (o->worker_init && o->worker_init(index, arg) < 0) return 1;
  if (coro_chan_create(&self.stop, 1, 0) < 0) return 1;
  if (coro_spawn(&self.watcher, watch, NULL, NULL) < 0) return 1;
  self.fn = fn;
  self.arg = arg;
  if (coro_spawn(&self.main, run_main, NULL, NULL) < 0) return 1;
  coro *sup;
  if (coro_spawn(&sup, supervise, NULL, NULL) < 0) return 1;
  coro_run();
  int status = coro_result(self.main, NULL) < 0 ? 1 : 0;
  coro_destroy(sup);
  coro_destroy(self.main);
  coro_destroy(self.watcher);
  coro_chan_destroy(self.stop);
  return status;
}

/* --- the parent's side ------------------------------------------------------------ */

/* One worker process the parent forked. */
typedef struct proc {
  pid_t pid;        /* 0: the entry is free */
  int slot;         /* the index it serves */
  int ready_fd;     /* read end of its readiness pipe, -1 once read or closed */
  int ready;        /* it reported readiness */
  int incoming;     /* started by a rolling restart; serves once ready */
  int retiring;     /* SIGTERM sent: draining, counts for no slot */
  int killed;       /* SIGKILL sent */
  int64_t started;  /* when it was forked */
  int64_t ready_at; /* when it reported readiness (ready set) */
  int64_t kill_at;  /* retiring: when to SIGKILL it */
} proc;

/* One worker index. */
typedef struct slot {
  int fails;          /* consecutive fast failures (see reaped) */
  int64_t restart_at; /* when to start a process for it if it has none */
} slot;

/* The parent's state for one coro_cluster_run. */
typedef struct run {
  const coro_cluster_opts *o; /* options (defaults filled in) */
  int n;                      /* workers */
  slot *slots;                /* n of them */
  proc *procs;                /* 2n entries: a serving and an incoming one per slot,
                                 plus retiring ones (see spawn for the bound) */
  size_t nprocs;              /* entries in procs */
  int sigfd;                  /* signalfd: TERM, INT, HUP, CHLD */
  sigset_t oldmask;           /* the caller's mask, restored at return */
  struct sigaction oldchld;   /* the caller's SIGCHLD action, restored at return
                                 and in the workers */
  pid_t self;                 /* the parent's pid */
  int stopping;               /* SIGTERM/SIGINT received */
  int rolling;                /* a rolling restart runs: roll is the slot it is at */
  int roll;
  coro_fn fn; /* worker_main */
  void *arg;  /* its argument */
} run;

__attribute__((format(printf, 2, 3))) static void say(const run *r, const char *fmt, ...) {
  const coro_cluster_opts *o = r->o;
  if (!o->log_fn && o->log_fd < 0) return;
  char line[512];
  int k = snprintf(line, sizeof(line), "coro_cluster[%d]: ", (int)r->self);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + k, sizeof(line) - (size_t)k, fmt, ap);
  va_end(ap);
  if (o->log_fn) {
    o->log_fn(line, o->log_arg);
    return;
  }
  size_t len = strlen(line);
  if (len < sizeof(line) - 1) line[len++] = '\n';
  for (size_t at = 0; at < len;) {
    ssize_t w = write(o->log_fd, line + at, len - at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    at += (size_t)w;
  }
}

static double secs(int64_t ns) { return (double)ns / (double)SEC; }

/* The delay before the next start of slot s after a failure. */
static int64_t backoff(const run *r, const slot *s) {
  if (s->fails <= 0) return 0;
  int64_t d = r->o->backoff_min_ns;
  for (int i = 1; i < s->fails && d < r->o->backoff_max_ns; i++) d *= 2;
  return d < r->o->backoff_max_ns ? d : r->o->backoff_max_ns;
}

/* The processes serving (or about to serve) slot i: not retiring. */
static int serving(const run *r, int i, int incoming) {
  int k = 0;
  for (size_t j = 0; j < r->nprocs; j++) {
    const proc *p = &r->procs[j];
    if (p->pid && p->slot == i && !p->retiring && (incoming < 0 || p->incoming == incoming)) k++;
  }
  return k;
}

/* Processes serving any slot, or on their way to (not retiring). */
static size_t up(const run *r) {
  size_t k = 0;
  for (size_t j = 0; j < r->nprocs; j++) k += r->procs[j].pid && !r->procs[j].retiring;
  return k;
}

static size_t live(const run *r) {
  size_t k = 0;
  for (size_t j = 0; j < r->nprocs; j++) k += r->procs[j].pid != 0;
  return k;
}

/* In the child just forked for slot i: become the worker, never return. */
__attribute__((noreturn)) static void child(run *r, int i, int ready_fd) {
  /* Die with the parent; if it died before the prctl, the ppid changed. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != r->self) _exit(1);
  close(r->sigfd);
  for (size_t j = 0; j < r->nprocs; j++)
    if (r->procs[j].pid && r->procs[j].ready_fd >= 0) close(r->procs[j].ready_fd);
  /* The parent's I/O state (an epoll instance, shared after fork) is not ours. */
  coro__io_fini(coro__tls_get());
  sigaction(SIGCHLD, &r->oldchld, NULL);
  sigset_t m = r->oldmask;
  sigaddset(&m, SIGTERM);
  sigaddset(&m, SIGINT);
  sigaddset(&m, SIGHUP);
  pthread_sigmask(SIG_SETMASK, &m, NULL);
  int status = worker(i, ready_fd, r->o, r->fn, r->arg);
  fflush(NULL);
  _exit(status);
}

/* Fork a process for slot i.  On failure the slot backs off. */
static void spawn(run *r, int i, int incoming, int64_t now) {
  slot *s = &r->slots[i];
  proc *p = NULL;
  for (size_t j = 0; j < r->nprocs && !p; j++)
    if (!r->procs[j].pid) p = &r->procs[j];
  if (!p) { /* every entry is a retiring process still draining: wait for one */
    s->restart_at = now + r->o->backoff_min_ns;
    return;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    int err = errno;
    s->fails++;
    s->restart_at = now + backoff(r, s);
    say(r, "worker %d: pipe failed: %s; retry in %.2f s", i, strerror(err),
        secs(s->restart_at - now));
    return;
  }
  int pid = coro__fork();
  if (pid == 0) {
    close(fds[0]);
    child(r, i, fds[1]);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    s->fails++;
    s->restart_at = now + backoff(r, s);
    say(r, "worker %d: fork failed: %s; retry in %.2f s", i, strerror(-pid),
        secs(s->restart_at - now));
    return;
  }
  memset(p, 0, sizeof(*p));
  p->pid = pid;
  p->slot = i;
  p->ready_fd = fds[0];
  p->incoming = incoming;
  p->started = now;
  if (!incoming) s->restart_at = 0;
  say(r, "worker %d pid %d started%s", i, pid, incoming ? " (rolling restart)" : "");
}

/* Send the stop to p: it drains until kill_at. */
static void retire(run *r, proc *p, int64_t now) {
  if (p->retiring) return;
  p->retiring = 1;
  p->kill_at = now + r->o->drain_ns;
  kill(p->pid, SIGTERM);
}

/* p has exited with `status`: log it, free the entry, schedule a restart. */
static void reaped(run *r, proc *p, int status, int64_t now) {
  int64_t lived = now - p->started;
  char what[96];
  if (WIFSIGNALED(status))
    snprintf(what, sizeof(what), "killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else
    snprintf(what, sizeof(what), "exited with status %d", WEXITSTATUS(status));
  int i = p->slot, pid = (int)p->pid, was_serving = !p->retiring, was_ready = p->ready;
  int64_t served = was_ready ? now - p->ready_at : 0;
  if (p->ready_fd >= 0) {
    /* Its readiness byte may still be unread (the exit was seen first): it
     * was ready then, if only just (served 0).  Its end is closed: no wait. */
    char c;
    ssize_t n;
    while ((n = read(p->ready_fd, &c, 1)) < 0 && errno == EINTR) {}
    if (n == 1) was_ready = 1;
    close(p->ready_fd);
  }
  memset(p, 0, sizeof(*p));
  if (!was_serving || r->stopping) {
    say(r, "worker %d pid %d %s after %.2f s%s", i, pid, what, secs(lived),
        r->stopping ? "" : " (retired)");
    return;
  }
  /* A fast failure: it died before it was ready, or right after (it had
   * served less than healthy_ns).  Even when another process still serves
   * the slot (an incoming one died before it was ready), the next start
   * waits for the backoff -- unless this was the last process up and it had
   * been ready: then the first step of the backoff at most. */
  slot *s = &r->slots[i];
  if (was_ready && served >= r->o->healthy_ns)
    s->fails = 0;
  else
    s->fails++;
  int64_t delay = backoff(r, s);
  int last = was_ready && !up(r) && delay > r->o->backoff_min_ns;
  if (last) delay = r->o->backoff_min_ns;
  s->restart_at = now + delay;
  if (s->fails)
    say(r, "worker %d pid %d %s after %.2f s; restart in %.2f s (%d fast failures in a row%s)", i,
        pid, what, secs(lived), secs(delay), s->fails, last ? "; the last worker" : "");
  else
    say(r, "worker %d pid %d %s after %.2f s; restart now", i, pid, what, secs(lived));
}

static void reap(run *r, int64_t now) {
  for (size_t j = 0; j < r->nprocs; j++) {
    proc *p = &r->procs[j];
    if (!p->pid) continue;
    int status;
    pid_t got;
    while ((got = waitpid(p->pid, &status, WNOHANG)) < 0 && errno == EINTR) {}
    if (got == p->pid) {
      reaped(r, p, status, now);
    } else if (got < 0 && errno == ECHILD) { /* reaped by someone else */
      say(r, "worker %d pid %d vanished (reaped elsewhere)", p->slot, (int)p->pid);
      int i = p->slot;
      if (p->ready_fd >= 0) close(p->ready_fd);
      memset(p, 0, sizeof(*p));
      if (!r->stopping && !serving(r, i, -1)) r->slots[i].restart_at = now;
    }
  }
}

/* p reported readiness (or its pipe closed: it died first, SIGCHLD follows). */
static void readiness(run *r, proc *p, int64_t now) {
  char c;
  ssize_t n;
  while ((n = read(p->ready_fd, &c, 1)) < 0 && errno == EINTR) {}
  if (n < 0 && errno == EAGAIN) return;
  close(p->ready_fd);
  p->ready_fd = -1;
  if (n != 1) return;
  p->ready = 1;
  p->ready_at = now;
  say(r, "worker %d pid %d ready", p->slot, (int)p->pid);
  if (!p->incoming) return;
  /* A rolling restart: the replacement serves, the old one drains. */
  p->incoming = 0;
  for (size_t j = 0; j < r->nprocs; j++) {
    proc *q = &r->procs[j];
    if (q != p && q->pid && q->slot == p->slot && !q->retiring) {
      say(r, "worker %d pid %d replaced by pid %d: stopping it", q->slot, (int)q->pid, (int)p->pid);
      retire(r, q, now);
    }
  }
  if (r->stopping) retire(r, p, now);
  r->roll++;
}

/* A stop: every process drains, then is killed. */
static void stop_all(run *r, int signo, int64_t now) {
  if (r->stopping) { /* the operator insists: no more waiting */
    say(r, "%s again: killing the %zu workers left now", strsignal(signo), live(r));
    for (size_t j = 0; j < r->nprocs; j++)
      if (r->procs[j].pid) r->procs[j].kill_at = now;
    return;
  }
  r->stopping = 1;
  r->rolling = 0;
  say(r, "%s: stopping %zu workers, drain deadline %.2f s", strsignal(signo), live(r),
      secs(r->o->drain_ns));
  for (size_t j = 0; j < r->nprocs; j++)
    if (r->procs[j].pid) retire(r, &r->procs[j], now);
}

/* The rolling restart's step: start the incoming process of slot r->roll. */
static void roll_step(run *r, int64_t now) {
  while (r->rolling && r->roll < r->n) {
    int i = r->roll;
    if (serving(r, i, 1)) return; /* its replacement is on its way */
    if (!serving(r, i, 0)) {      /* no process: the restart makes a new one */
      r->roll++;
      continue;
    }
    if (r->slots[i].restart_at > now) return; /* backing off */
    spawn(r, i, 1, now);
    return;
  }
  if (r->rolling) say(r, "rolling restart done");
  r->rolling = 0;
}

/* Handle every signal the signalfd holds. */
static void signals(run *r, int64_t now) {
  struct signalfd_siginfo si;
  ssize_t n;
  while ((n = read(r->sigfd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
    int signo = (int)si.ssi_signo;
    if (signo == SIGCHLD) {
      reap(r, now);
    } else if (signo == SIGTERM || signo == SIGINT) {
      stop_all(r, signo, now);
    } else if (signo == SIGHUP && !r->stopping) {
      say(r, "SIGHUP: rolling restart of %d workers", r->n);
      r->rolling = 1;
      r->roll = 0;
    }
  }
}

static int64_t earliest(int64_t a, int64_t b) { return a < 0 || (b >= 0 && b < a) ? b : a; }

/* The supervision loop. */
static void supervise_loop(run *r) {
  struct pollfd *pfd = coro__malloc(sizeof(*pfd) * (r->nprocs + 1));
  proc **who = coro__malloc(sizeof(*who) * (r->nprocs + 1));
  for (;;) {
    int64_t now = coro_now();
    reap(r, now);
    if (r->stopping && !live(r)) break;
    int64_t wake = -1;
    if (!r->stopping) {
      for (int i = 0; i < r->n; i++) {
        slot *s = &r->slots[i];
        if (serving(r, i, -1)) continue;
        if (s->restart_at <= now) spawn(r, i, 0, now);
        if (!serving(r, i, -1)) wake = earliest(wake, s->restart_at);
      }
      roll_step(r, now);
      if (r->rolling && r->roll < r->n && r->slots[r->roll].restart_at > now)
        wake = earliest(wake, r->slots[r->roll].restart_at);
    }
    for (size_t j = 0; j < r->nprocs; j++) {
      proc *p = &r->procs[j];
      if (!p->pid || !p->retiring || p->killed) continue;
      if (p->kill_at <= now) {
        say(r, "worker %d pid %d still running at the drain deadline: SIGKILL", p->slot,
            (int)p->pid);
        kill(p->pid, SIGKILL);
        p->killed = 1;
      } else {
        wake = earliest(wake, p->kill_at);
      }
    }
    nfds_t k = 0;
    if (pfd && who) {
      pfd[k].fd = r->sigfd;
      pfd[k].events = POLLIN;
      who[k++] = NULL;
      for (size_t j = 0; j < r->nprocs; j++) {
        proc *p = &r->procs[j];
        if (!p->pid || p->ready_fd < 0) continue;
        pfd[k].fd = p->ready_fd;
        pfd[k].events = POLLIN;
        who[k++] = p;
      }
    }
    int ms = -1;
    if (wake >= 0) {
      int64_t d = wake - now;
      ms = d <= 0 ? 0 : (int)(d > 1000 * SEC ? 1000000 : (d + 999999) / 1000000);
    }
    if (!k) { /* no memory for the poll set: poll the signalfd alone, briefly */
      struct pollfd one = {.fd = r->sigfd, .events = POLLIN};
      poll(&one, 1, ms < 0 || ms > 100 ? 100 : ms);
      signals(r, coro_now());
      continue;
    }
    int got = poll(pfd, k, ms);
    if (got <= 0) continue;
    now = coro_now();
    for (nfds_t j = 1; j < k; j++)
      if (pfd[j].revents) readiness(r, who[j], now);
    if (pfd[0].revents) signals(r, now);
  }
  coro__free(pfd);
  coro__free(who);
}

int coro_cluster_opts_init(coro_cluster_opts *o) {
  if (!o) return -EINVAL;
  memset(o, 0, sizeof(*o));
  o->drain_ns = 10 * SEC;
  o->backoff_min_ns = SEC / 10;
  o->backoff_max_ns = 30 * SEC;
  o->healthy_ns = SEC;
  o->log_fd = 2;
  return 0;
}

int coro_cluster_run(const coro_cluster_opts *o, coro_fn worker_main, void *arg) {
  coro_cluster_opts def;
  if (!o) {
    coro_cluster_opts_init(&def);
    o = &def;
  }
  if (!worker_main || o->workers < 0 || o->workers > CORO_CLUSTER_MAX ||
      (!o->listen_fds && o->nlisten) || o->drain_ns < 0 || o->backoff_min_ns <= 0 ||
      o->backoff_max_ns < o->backoff_min_ns || o->healthy_ns < 0 || o->log_fd < -1)
    return -EINVAL;
  for (size_t i = 0; i < o->nlisten; i++)
    if (o->listen_fds[i] < 0 || fcntl(o->listen_fds[i], F_GETFD) < 0) return -EBADF;
  if (self.index >= 0) return -EPERM;
  coro__tls *t = coro__tls_get();
  if (t->sched.running || t->nall || coro__watch_pending(t)) return -EBUSY;
  run r = {.o = o, .fn = worker_main, .arg = arg, .self = getpid()};
  r.n = o->workers;
  if (!r.n) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    r.n = cpus < 1 ? 1 : cpus > CORO_CLUSTER_MAX ? CORO_CLUSTER_MAX : (int)cpus;
  }
  /* A serving and an incoming process per slot, and as many retiring. */
  r.nprocs = 4 * (size_t)r.n;
  r.slots = coro__malloc(sizeof(*r.slots) * (size_t)r.n);
  r.procs = coro__malloc(sizeof(*r.procs) * r.nprocs);
  int rc = -ENOMEM;
  if (!r.slots || !r.procs) goto out_free;
  memset(r.slots, 0, sizeof(*r.slots) * (size_t)r.n);
  memset(r.procs, 0, sizeof(*r.procs) * r.nprocs);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  /* SIGCHLD ignored would reap the workers behind our back (no status). */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  if (sigaction(SIGCHLD, &dfl, &r.oldchld) < 0) {
    rc = -errno;
    goto out_free;
  }
  if ((rc = -pthread_sigmask(SIG_BLOCK, &set, &r.oldmask)) < 0) goto out_chld;
  r.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (r.sigfd < 0) {
    rc = -errno;
    goto out_mask;
  }
  say(&r, "starting %d workers", r.n);
  supervise_loop(&r);
  say(&r, "all workers exited");
  rc = 0;
  /* Signals that came after the last read must not hit the caller's
   * defaults when the mask is restored (a second SIGTERM would kill it). */
  struct signalfd_siginfo si;
  while (read(r.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {}
  close(r.sigfd);
out_mask:
  pthread_sigmask(SIG_SETMASK, &r.oldmask, NULL);
out_chld:
  sigaction(SIGCHLD, &r.oldchld, NULL);
out_free:
  coro__free(r.slots);
  coro__free(r.procs);
  return rc;
}
