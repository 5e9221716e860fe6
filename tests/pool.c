/* SPDX-License-Identifier: MIT */
/*
 * pool.c - the process pool: items and results over socketpairs, concurrent
 * submitters, a handler's error, a worker that dies mid-item (by its own
 * crash or killed from outside) with and without CORO_POOL_RETRY, deadlines
 * and cancels mid-item, fork failing at create and at a replacement, a pool
 * created from inside a coroutine, and every bad input.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

#define HOUR (INT64_C(3600) * 1000000000)
#define MS INT64_C(1000000)

/* Shared between the test and the workers (MAP_SHARED, made before the fork). */
typedef struct shared {
  atomic_int calls;   /* handler calls, every worker */
  atomic_int crashes; /* "crash-once" requests that crashed */
  int pid_pipe[2];    /* "report" requests write the worker's pid here */
} shared;

static shared *shared_new(void) {
  shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_TRUE(s != MAP_FAILED);
  memset(s, 0, sizeof(*s));
  ASSERT_EQ(pipe(s->pid_pipe), 0);
  return s;
}

static void shared_free(shared *s) {
  close(s->pid_pipe[0]);
  close(s->pid_pipe[1]);
  munmap(s, sizeof(*s));
}

static int reply(void **resp, size_t *resp_len, const char *text) {
  size_t n = strlen(text);
  *resp = malloc(n ? n : 1);
  if (!*resp) return -ENOMEM;
  memcpy(*resp, text, n);
  *resp_len = n;
  return 0;
}

/* The handler: "fail" -> -EDOM; "crash" -> SIGKILL itself; "segv" -> raise
 * SIGSEGV; "crash-once" ->
 * crash at the first such request of the whole pool; "report" -> write the
 * pid to the pipe, then sleep an hour (killed from outside); "sleep" -> an
 * hour; "pid" -> the worker's pid; "big" -> 64 bytes; anything else ->
 * reversed. */
static int handler(const void *req, size_t len, void **resp, size_t *resp_len, void *arg) {
  shared *s = arg;
  if (s) atomic_fetch_add(&s->calls, 1);
  char buf[64];
  if (len == 4 && !memcmp(req, "fail", 4)) return -EDOM;
  if (len == 5 && !memcmp(req, "crash", 5)) raise(SIGKILL);
  if (len == 4 && !memcmp(req, "segv", 4)) raise(SIGSEGV); /* libcoro's handler is installed */
  if (len == 10 && !memcmp(req, "crash-once", 10)) {
    if (atomic_fetch_add(&s->crashes, 1) == 0) raise(SIGKILL);
    return reply(resp, resp_len, "survived");
  }
  if ((len == 6 && !memcmp(req, "report", 6)) || (len == 5 && !memcmp(req, "sleep", 5))) {
    if (len == 6) {
      pid_t pid = getpid();
      ssize_t w = write(s->pid_pipe[1], &pid, sizeof(pid));
      (void)w;
    }
    sleep(3600);
    return reply(resp, resp_len, "woke");
  }
  if (len == 3 && !memcmp(req, "nap", 3)) { /* long enough for the others to queue */
    struct timespec ts = {0, 30 * 1000000L};
    nanosleep(&ts, NULL);
    return reply(resp, resp_len, "pan");
  }
  if (len == 3 && !memcmp(req, "pid", 3)) {
    snprintf(buf, sizeof(buf), "%d", (int)getpid());
    return reply(resp, resp_len, buf);
  }
  if (len == 3 && !memcmp(req, "big", 3)) {
    memset(buf, 'b', sizeof(buf));
    *resp = malloc(sizeof(buf));
    memcpy(*resp, buf, sizeof(buf));
    *resp_len = sizeof(buf);
    return 0;
  }
  char *out = malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++) out[i] = ((const char *)req)[len - 1 - i];
  *resp = out;
  *resp_len = len;
  return 0;
}

/* Submit text and expect rc, and (if rc is 0) the response `want`. */
static void expect(coro_pool *p, const char *text, int rc, const char *want, int64_t deadline) {
  void *resp = IV(1);
  size_t n = 99;
  ASSERT_EQ(coro_pool_submit(p, text, strlen(text), &resp, &n, deadline), rc);
  if (rc == 0) {
    ASSERT_EQ(n, strlen(want));
    ASSERT_STR_EQ((char *)resp, want);
    free(resp);
  } else {
    ASSERT_PTR_EQ(resp, NULL);
    ASSERT_EQ(n, 0);
  }
}

/* No child of ours is left unreaped. */
static void assert_no_children(void) {
  ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
  ASSERT_EQ(errno, ECHILD);
}

/* --- many submitters ---------------------------------------------------------------- */

typedef struct job {
  coro_pool *p;
  int id;
  int done; /* items that came back right */
} job;

static void *submitter(void *arg) {
  job *j = arg;
  for (int k = 0; k < 25; k++) {
    char req[32], want[32];
    int n = snprintf(req, sizeof(req), "item-%d-%d", j->id, k);
    for (int i = 0; i < n; i++) want[i] = req[n - 1 - i];
    want[n] = '\0';
    void *resp;
    size_t len;
    ASSERT_EQ(coro_pool_submit(j->p, req, (size_t)n, &resp, &len, coro_now() + HOUR), 0);
    ASSERT_STR_EQ((char *)resp, want);
    free(resp);
    j->done++;
  }
  return NULL;
}

TEST(many_submitters_share_the_workers) {
  coro_pool *p;
  ASSERT_EQ(coro_pool_create(&p, 3, handler, NULL), 0);
  job jobs[8];
  for (int i = 0; i < 8; i++) {
    jobs[i] = (job){p, i, 0};
    ASSERT_EQ(coro_spawn(NULL, submitter, &jobs[i], NULL), 0);
  }
  ASSERT_EQ(coro_run(), 0);
  for (int i = 0; i < 8; i++) ASSERT_EQ(jobs[i].done, 25);
  ASSERT_EQ(coro_pool_destroy(p), 0);
  assert_no_children();
}

/* One worker, three submitters in a loop: they take turns (FIFO), none
 * gets the worker twice in a row while another waits (each item takes 30 ms,
 * so the others are waiting by the time it is done). */
typedef struct turn {
  coro_pool *p;
  int id;
  int *seq; /* shared: completion order */
  int *nseq;
} turn;

static void *taker(void *arg) {
  turn *t = arg;
  for (int k = 0; k < 10; k++) {
    void *resp;
    size_t n;
    ASSERT_EQ(coro_pool_submit(t->p, "nap", 3, &resp, &n, coro_now() + HOUR), 0);
    free(resp);
    t->seq[(*t->nseq)++] = t->id;
  }
  return NULL;
}

TEST(submitters_take_turns_fairly) {
  coro_pool *p;
  ASSERT_EQ(coro_pool_create(&p, 1, handler, NULL), 0);
  int seq[30], nseq = 0;
  turn t[3];
  for (int i = 0; i < 3; i++) {
    t[i] = (turn){p, i, seq, &nseq};
    ASSERT_EQ(coro_spawn(NULL, taker, &t[i], NULL), 0);
  }
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(nseq, 30);
  for (int k = 0; k + 1 < 28; k++) ASSERT_NE(seq[k], seq[k + 1]);
  ASSERT_EQ(coro_pool_destroy(p), 0);
}

/* --- one-shot bodies run in a micro-thread ------------------------------------------ */

typedef struct ctx {
  coro_pool *p;
  shared *s;
} ctx;

static void run_in_thread(coro_fn fn, void *arg) {
  coro *c;
  ASSERT_EQ(coro_spawn(&c, fn, arg, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(c, NULL, 0), 0);
  ASSERT_EQ(coro_destroy(c), 0);
}

/* A pool of n workers running handler, body(ctx) run in a micro-thread on
 * it, then the pool destroyed and every worker reaped. */
static void run_on_pool(int n, coro_fn body) {
  ctx c = {NULL, NULL};
  ASSERT_EQ(coro_pool_create(&c.p, n, handler, NULL), 0);
  run_in_thread(body, &c);
  ASSERT_EQ(coro_pool_destroy(c.p), 0);
  assert_no_children();
}

static void *basics_body(void *arg) {
  ctx *c = arg;
  expect(c->p, "abc", 0, "cba", -1);
  expect(c->p, "", 0, "", -1); /* empty request, empty response */
  expect(c->p, "fail", -EDOM, NULL, -1);
  void *resp;
  size_t n;
  ASSERT_EQ(coro_pool_submit(c->p, "pid", 3, &resp, &n, -1), 0);
  ASSERT_NE(atoi(resp), getpid()); /* run in another process */
  ASSERT_TRUE(atoi(resp) > 0);
  free(resp);
  ASSERT_EQ(coro_pool_submit(c->p, NULL, 0, &resp, &n, -1), 0);
  ASSERT_EQ(n, 0);
  free(resp);
  return NULL;
}

TEST(results_errors_and_empty_items) { run_on_pool(2, basics_body); }

static void *crash_body(void *arg) {
  ctx *c = arg;
  expect(c->p, "crash", -ECHILD, NULL, coro_now() + HOUR);
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR); /* replaced: the pool still works */
  expect(c->p, "crash", -ECHILD, NULL, coro_now() + HOUR);
  expect(c->p, "xy", 0, "yx", coro_now() + HOUR);
  return NULL;
}

TEST(worker_crashing_mid_item_fails_the_item_and_is_replaced) { run_on_pool(1, crash_body); }

static void *segv_body(void *arg) {
  ctx *c = arg;
  expect(c->p, "segv", -ECHILD, NULL, coro_now() + HOUR);
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR); /* replaced */
  return NULL;
}

/* A handler that raises SIGSEGV (libcoro's SIGSEGV handler inherited from
 * the parent, none of the program's) kills its worker: the item fails with
 * -ECHILD (the handler used to return once, and the item was a success). */
TEST(handler_raising_sigsegv_fails_the_item) {
  struct rlimit no_core = {0, 0}; /* the worker dies by SIGSEGV on purpose */
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0);
  ASSERT_TRUE(coro_stack_guard_mode() > 0); /* sets libcoro up: its handler is installed */
  struct sigaction now;
  ASSERT_EQ(sigaction(SIGSEGV, NULL, &now), 0);
  ASSERT_TRUE(now.sa_flags & SA_SIGINFO);
  run_on_pool(1, segv_body);
}

/* One micro-thread submits an item that blocks; another learns the worker's
 * pid from the pipe and kills it. */
static void *report_submit(void *arg) {
  ctx *c = arg;
  expect(c->p, "report", -ECHILD, NULL, coro_now() + HOUR);
  return NULL;
}

static void *killer(void *arg) {
  ctx *c = arg;
  pid_t pid;
  ASSERT_EQ(coro_fd_read(c->s->pid_pipe[0], &pid, sizeof(pid), coro_now() + HOUR),
            (ssize_t)sizeof(pid));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  return NULL;
}

static void *others(void *arg) {
  ctx *c = arg;
  for (int i = 0; i < 20; i++) expect(c->p, "hello", 0, "olleh", coro_now() + HOUR);
  return NULL;
}

TEST(worker_killed_mid_item_reports_echild_never_hangs) {
  ctx c = {NULL, shared_new()};
  ASSERT_EQ(coro_pool_create(&c.p, 2, handler, &(coro_pool_opts){0, 1 << 20, c.s}), 0);
  coro *a, *b, *o;
  ASSERT_EQ(coro_spawn(&a, report_submit, &c, NULL), 0);
  ASSERT_EQ(coro_spawn(&b, killer, &c, NULL), 0);
  ASSERT_EQ(coro_spawn(&o, others, &c, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  coro *all[] = {a, b, o};
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(coro_join(all[i], NULL, 0), 0);
    ASSERT_EQ(coro_destroy(all[i]), 0);
  }
  ASSERT_EQ(coro_pool_destroy(c.p), 0);
  assert_no_children();
  shared_free(c.s);
}

static void *retry_body(void *arg) {
  ctx *c = arg;
  expect(c->p, "crash-once", 0, "survived", coro_now() + HOUR); /* retried on a new worker */
  ASSERT_EQ(atomic_load(&c->s->crashes), 2);
  expect(c->p, "crash", -ECHILD, NULL, coro_now() + HOUR); /* died twice */
  expect(c->p, "ok", 0, "ko", coro_now() + HOUR);
  return NULL;
}

TEST(retry_option_retries_once_on_a_new_worker) {
  ctx c = {NULL, shared_new()};
  coro_pool_opts o;
  ASSERT_EQ(coro_pool_opts_init(&o), 0);
  o.flags = CORO_POOL_RETRY;
  o.arg = c.s;
  ASSERT_EQ(coro_pool_create(&c.p, 1, handler, &o), 0);
  run_in_thread(retry_body, &c);
  ASSERT_EQ(coro_pool_destroy(c.p), 0);
  assert_no_children();
  shared_free(c.s);
}

static void *timeout_body(void *arg) {
  ctx *c = arg;
  expect(c->p, "sleep", -ETIMEDOUT, NULL, coro_now() + 50 * MS);
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR); /* the sleeper was replaced */
  expect(c->p, "sleep", -ETIMEDOUT, NULL, 0);       /* deadline 0: only what can be done at once */
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR);
  return NULL;
}

TEST(deadline_mid_item_kills_and_replaces_the_worker) { run_on_pool(1, timeout_body); }

static void *sleeper(void *arg) {
  ctx *c = arg;
  expect(c->p, "sleep", -ECANCELED, NULL, -1);
  return NULL;
}

static void *cancel_body(void *arg) {
  ctx *c = arg;
  coro *s;
  ASSERT_EQ(coro_spawn(&s, sleeper, c, NULL), 0);
  ASSERT_EQ(coro_sleep(coro_now() + 20 * MS), 0);
  ASSERT_EQ(coro_cancel(s), 0);
  ASSERT_EQ(coro_join(s, NULL, -1), 0);
  ASSERT_EQ(coro_destroy(s), 0);
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR);
  return NULL;
}

TEST(cancel_mid_item_kills_and_replaces_the_worker) { run_on_pool(1, cancel_body); }

static void *big_body(void *arg) {
  ctx *c = arg;
  char req[17] = "0123456789abcdef";
  void *resp;
  size_t n;
  ASSERT_EQ(coro_pool_submit(c->p, req, 17, &resp, &n, -1), -EMSGSIZE); /* over max_item */
  ASSERT_EQ(coro_pool_submit(c->p, req, 16, &resp, &n, -1), 0);
  free(resp);
  expect(c->p, "big", -EMSGSIZE, NULL, -1); /* the response is over max_item */
  expect(c->p, "abc", 0, "cba", -1);
  return NULL;
}

TEST(items_over_max_item_are_refused) {
  ctx c;
  coro_pool_opts o;
  ASSERT_EQ(coro_pool_opts_init(&o), 0);
  o.max_item = 16;
  ASSERT_EQ(coro_pool_create(&c.p, 1, handler, &o), 0);
  run_in_thread(big_body, &c);
  ASSERT_EQ(coro_pool_destroy(c.p), 0);
}

/* Created from a coroutine while the scheduler runs: the workers are forked
 * from a coroutine's stack and must run only the handler. */
static void *ticker(void *arg) {
  int *ticks = arg;
  for (int i = 0; i < 10; i++) {
    (*ticks)++;
    coro_sleep(coro_now() + MS);
  }
  return NULL;
}

static void *inside_body(void *arg) {
  (void)arg;
  coro_pool *p;
  ASSERT_EQ(coro_pool_create(&p, 2, handler, NULL), 0);
  for (int i = 0; i < 10; i++) expect(p, "inside", 0, "edisni", coro_now() + HOUR);
  ASSERT_EQ(coro_pool_destroy(p), 0);
  return NULL;
}

TEST(pool_created_inside_a_running_scheduler) {
  int ticks = 0;
  ASSERT_EQ(coro_spawn(NULL, ticker, &ticks, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, inside_body, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ticks, 10);
  assert_no_children();
}

TEST(fork_failing_at_create_reaps_what_was_started) {
  coro_pool *p = (coro_pool *)(uintptr_t)0x5e5e;
  coro__fault_arm(CORO__FAULT_FORK, 2, EAGAIN);
  ASSERT_EQ(coro_pool_create(&p, 4, handler, NULL), -EAGAIN);
  coro__fault_reset();
  ASSERT_PTR_EQ(p, (coro_pool *)(uintptr_t)0x5e5e);
  assert_no_children();
}

static void *fork_fail_body(void *arg) {
  ctx *c = arg;
  coro__fault_arm(CORO__FAULT_FORK, 0, EAGAIN);
  expect(c->p, "crash", -ECHILD, NULL, coro_now() + HOUR); /* no replacement */
  expect(c->p, "abc", -EAGAIN, NULL, coro_now() + HOUR);   /* tried again, fails */
  coro__fault_reset();
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR); /* and heals */
  return NULL;
}

TEST(fork_failing_at_a_replacement_is_reported_then_heals) { run_on_pool(1, fork_fail_body); }

/* SIGKILL the (one, idle) worker of p and return its pid once it is dead:
 * every thread of it has exited (its socket is closed), not reaped (the pool
 * does that).  Before that, an item written into its socket could be lost
 * with it: -ECHILD, as for any death mid-item. */
static int kill_idle_worker(coro_pool *p) {
  void *resp;
  size_t n;
  ASSERT_EQ(coro_pool_submit(p, "pid", 3, &resp, &n, -1), 0);
  int pid = atoi(resp);
  free(resp);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  siginfo_t si;
  ASSERT_EQ(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
  return pid;
}

static void *idle_kill_body(void *arg) {
  ctx *c = arg;
  void *resp;
  size_t n;
  int pid = kill_idle_worker(c->p);
  /* The item never reached the dead worker: it runs on its replacement. */
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR);
  ASSERT_EQ(coro_pool_submit(c->p, "pid", 3, &resp, &n, -1), 0);
  ASSERT_NE(atoi(resp), pid);
  free(resp);
  return NULL;
}

TEST(worker_killed_while_idle_is_replaced_and_the_next_item_runs) {
  run_on_pool(1, idle_kill_body);
}

/* The same, but no replacement can be forked: nothing of the item ran, so the
 * error is the fork's (-EAGAIN), not -ECHILD (a worker died on the item). */
static void *idle_kill_fork_fail_body(void *arg) {
  ctx *c = arg;
  kill_idle_worker(c->p);
  coro__fault_arm(CORO__FAULT_FORK, 0, EAGAIN);
  expect(c->p, "abc", -EAGAIN, NULL, coro_now() + HOUR);
  coro__fault_reset();
  expect(c->p, "abc", 0, "cba", coro_now() + HOUR); /* and heals */
  return NULL;
}

TEST(worker_killed_while_idle_and_no_fork_gives_the_fork_error) {
  run_on_pool(1, idle_kill_fork_fail_body);
}

/* The pool's process SIGKILLed: its workers die with it (PDEATHSIG). */
static int pids_pipe[2];
static void *ask_pids(void *arg) {
  coro_pool *p = arg;
  void *resp;
  size_t n;
  ASSERT_EQ(coro_pool_submit(p, "pid", 3, &resp, &n, -1), 0);
  int pid = atoi(resp);
  free(resp);
  ASSERT_EQ(write(pids_pipe[1], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
  coro_sleep(coro_now() + HOUR); /* until the test kills us; the worker waits, idle */
  return NULL;
}

static int proc_gone(int pid) {
  if (kill(pid, 0) < 0) return errno == ESRCH;
  char path[64], buf[256];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f) return 1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *q = strrchr(buf, ')');
  return !q || q[2] == 'Z' || q[2] == 'X';
}

TEST(pool_workers_die_with_their_parent) {
  ASSERT_EQ(pipe(pids_pipe), 0);
  pid_t owner = fork();
  ASSERT_TRUE(owner >= 0);
  if (owner == 0) {
    coro_pool *p;
    if (coro_pool_create(&p, 1, handler, NULL) < 0) _exit(1);
    coro_spawn(NULL, ask_pids, p, NULL);
    coro_run();
    _exit(0);
  }
  int pid;
  ASSERT_EQ(read(pids_pipe[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
  ASSERT_TRUE(!proc_gone(pid));
  ASSERT_EQ(kill(owner, SIGKILL), 0);
  ASSERT_EQ(waitpid(owner, NULL, 0), owner);
  int64_t end = coro_now() + HOUR;
  while (!proc_gone(pid) && coro_now() < end) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  ASSERT_TRUE(proc_gone(pid));
}

/* --- bad input ------------------------------------------------------------------------ */

/* The destroy-while-busy case: one micro-thread has an item in flight (a
 * "sleep" that never ends) until the other has tried to destroy the pool and
 * cancels it.  Decided by events, not by a race of two timeouts (under
 * valgrind on a loaded machine a 100 ms item could time out before a 20 ms
 * sleep ended). */
static int busy_submitting; /* busy_body is about to park in its submit */
static coro *busy;          /* its handle, for destroy_busy to cancel */

static void *busy_body(void *arg) {
  ctx *c = arg;
  busy_submitting = 1;
  expect(c->p, "sleep", -ECANCELED, NULL, -1);
  return NULL;
}

static void *destroy_busy(void *arg) {
  ctx *c = arg;
  while (!busy_submitting) ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_sched_yield(), 0); /* busy_body is parked in its submit now */
  ASSERT_EQ(coro_pool_destroy(c->p), -EBUSY);
  ASSERT_EQ(coro_cancel(busy), 0);
  return NULL;
}

static void *other_thread(void *arg) {
  coro_pool *p = arg;
  void *resp;
  size_t n;
  intptr_t ok =
      coro_pool_submit(p, "a", 1, &resp, &n, 0) == -EPERM && coro_pool_destroy(p) == -EPERM;
  return (void *)ok;
}

static void *bad_submit_body(void *arg) {
  ctx *c = arg;
  void *resp;
  size_t n;
  static long fake_space[64];
  coro_pool *fake = (coro_pool *)(void *)fake_space;
  ASSERT_EQ(coro_pool_submit(NULL, "a", 1, &resp, &n, -1), -EINVAL);
  ASSERT_EQ(coro_pool_submit(fake, "a", 1, &resp, &n, -1), -EINVAL);
  ASSERT_EQ(coro_pool_submit(c->p, NULL, 1, &resp, &n, -1), -EINVAL);
  ASSERT_EQ(coro_pool_submit(c->p, "a", 1, NULL, &n, -1), -EINVAL);
  ASSERT_EQ(coro_pool_submit(c->p, "a", 1, &resp, NULL, -1), -EINVAL);
  ASSERT_EQ(coro_pool_submit(c->p, "a", SIZE_MAX, &resp, &n, -1), -EMSGSIZE);
  ASSERT_EQ(coro_pool_submit(c->p, "a", CORO_POOL_ITEM_MAX + 1, &resp, &n, -1), -EMSGSIZE);
  return NULL;
}

static void *dead_submit_body(void *arg) {
  ctx *c = arg;
  void *resp;
  size_t n;
  ASSERT_EQ(coro_pool_submit(c->p, "a", 1, &resp, &n, -1), -EINVAL);
  ASSERT_EQ(coro_pool_submit(c->p, "a", SIZE_MAX, &resp, &n, -1), -EINVAL);
  return NULL;
}

/* Workers close what exec would: an fd with FD_CLOEXEC that the parent holds
 * is not open in a worker, one without it is.  (So a second pool's worker
 * holds no copy of the first pool's sockets, which are SOCK_CLOEXEC, and the
 * first pool's destroy finds its workers leaving on EOF.) */
static int fd_probe_cloexec = -1, fd_probe_inherit = -1;

static int fd_handler(const void *req, size_t len, void **resp, size_t *resp_len, void *arg) {
  (void)req;
  (void)len;
  (void)arg;
  char buf[16];
  snprintf(buf, sizeof(buf), "%d%d", fcntl(fd_probe_cloexec, F_GETFD) >= 0,
           fcntl(fd_probe_inherit, F_GETFD) >= 0);
  return reply(resp, resp_len, buf);
}

static void *fd_body(void *arg) {
  coro_pool *p = arg;
  expect(p, "?", 0, "01", -1);
  return NULL;
}

TEST(workers_keep_only_the_fds_exec_would_keep) {
  int cl[2], inh[2];
  ASSERT_EQ(pipe2(cl, O_CLOEXEC), 0);
  ASSERT_EQ(pipe(inh), 0);
  fd_probe_cloexec = cl[0];
  fd_probe_inherit = inh[0];
  coro_pool *p;
  ASSERT_EQ(coro_pool_create(&p, 1, fd_handler, NULL), 0);
  run_in_thread(fd_body, p);
  ASSERT_EQ(coro_pool_destroy(p), 0);
  close(cl[0]);
  close(cl[1]);
  close(inh[0]);
  close(inh[1]);
}

/* A connection the parent closes after a worker was forked is closed: its
 * peer sees EOF at once (no worker holds a copy).  One item first, so the
 * worker has surely closed its copies (it does so before it serves). */
TEST(a_socket_closed_by_the_parent_is_closed_despite_the_workers) {
  int sv[2], inh[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(pipe(inh), 0);
  fd_probe_cloexec = sv[1];
  fd_probe_inherit = inh[0];
  coro_pool *p;
  ASSERT_EQ(coro_pool_create(&p, 1, fd_handler, NULL), 0);
  run_in_thread(fd_body, p);
  ASSERT_EQ(close(sv[1]), 0);
  char b;
  ASSERT_EQ(coro_fd_read(sv[0], &b, 1, 0), 0); /* EOF, not -ETIMEDOUT */
  ASSERT_EQ(coro_pool_destroy(p), 0);
  coro_fd_close(sv[0]);
  close(inh[0]);
  close(inh[1]);
}

TEST(bad_input) {
  coro_pool *p = (coro_pool *)(uintptr_t)0x5e5e;
  coro_pool_opts o;
  ASSERT_EQ(coro_pool_opts_init(NULL), -EINVAL);
  ASSERT_EQ(coro_pool_opts_init(&o), 0);
  ASSERT_EQ(coro_pool_create(NULL, 1, handler, NULL), -EINVAL);
  ASSERT_EQ(coro_pool_create(&p, 1, NULL, NULL), -EINVAL);
  ASSERT_EQ(coro_pool_create(&p, 0, handler, NULL), -EINVAL);
  ASSERT_EQ(coro_pool_create(&p, -1, handler, NULL), -EINVAL);
  ASSERT_EQ(coro_pool_create(&p, CORO_CLUSTER_MAX + 1, handler, NULL), -EINVAL);
  o.flags = 2;
  ASSERT_EQ(coro_pool_create(&p, 1, handler, &o), -EINVAL);
  o.flags = 0;
  o.max_item = 0;
  ASSERT_EQ(coro_pool_create(&p, 1, handler, &o), -EINVAL);
  o.max_item = CORO_POOL_ITEM_MAX + 1;
  ASSERT_EQ(coro_pool_create(&p, 1, handler, &o), -EINVAL);
  ASSERT_PTR_EQ(p, (coro_pool *)(uintptr_t)0x5e5e);
  ASSERT_EQ(coro_pool_destroy(NULL), -EINVAL);

  ctx c;
  ASSERT_EQ(coro_pool_create(&c.p, 1, handler, NULL), 0);
  /* Outside a running scheduler: nothing could wait for the result. */
  void *resp = IV(1);
  size_t n = 5;
  ASSERT_EQ(coro_pool_submit(c.p, "a", 1, &resp, &n, -1), -EDEADLK);
  ASSERT_PTR_EQ(resp, NULL);
  ASSERT_EQ(n, 0);
  run_in_thread(bad_submit_body, &c);
  /* Another thread's pool. */
  pthread_t th;
  void *ok;
  ASSERT_EQ(pthread_create(&th, NULL, other_thread, c.p), 0);
  ASSERT_EQ(pthread_join(th, &ok), 0);
  ASSERT_EQ(VI(ok), 1);
  /* Destroy while an item is in flight. */
  coro *a, *b;
  ASSERT_EQ(coro_spawn(&a, busy_body, &c, NULL), 0);
  busy = a;
  ASSERT_EQ(coro_spawn(&b, destroy_busy, &c, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(a, NULL, 0), 0);
  ASSERT_EQ(coro_join(b, NULL, 0), 0);
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_destroy(b), 0);
  ASSERT_EQ(coro_pool_destroy(c.p), 0);
  /* After destroy: refused, not used. */
  ASSERT_EQ(coro_pool_destroy(c.p), -EINVAL);
  run_in_thread(dead_submit_body, &c);
  assert_no_children();
}
