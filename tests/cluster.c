/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the pre-fork runner, driven from outside as an operator would:
 * each case forks a child that calls coro_cluster_run() (the cluster's
 * parent), then acts as its clients and sends it signals.  The workers serve
 * a tiny line protocol: the client sends "<ms>\n", the worker answers
 * "A <pid>\n" at once (the request is in flight), sleeps ms, answers
 * "D <pid>\n" and closes.  The parent logs to a file the test reads.
 *
 * Cases: serving and a clean stop; per-worker SO_REUSEPORT sockets; a worker
 * SIGKILLed under load (restarted, the other worker's requests complete);
 * SIGTERM during load (every in-flight request completes); a worker crashing
 * at start (the backoff grows, the parent still answers SIGTERM); SIGHUP
 * (rolling restart: never a failed request, new pids); the parent SIGKILLed
 * (no worker survives); fork failing (logged, retried); bad input.
 * No case asserts a time: deadlines are generous and only bound a hang.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
#define LONG (50 * SEC) /* bounds a hang; never reached when things work */

/* --- the server run by the workers --------------------------------------------------- */

static int listen_fd = -1; /* inherited, or opened by reuseport_init in each worker */
static int reuse_port;     /* the port reuseport_init listens on */

static void *conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  coro_wg *wg = NULL;
  coro_reader *r = NULL;
  char line[64];
  if (coro_reader_create(&r, fd, 256) == 0 && coro_reader_line(r, line, sizeof(line), -1) > 0) {
    long ms = atol(line);
    char out[32];
    int n = snprintf(out, sizeof(out), "A %d\n", (int)getpid());
    if (coro_fd_write_all(fd, out, (size_t)n, NULL, -1) == 0) {
      coro_sleep(coro_now() + ms * MS);
      n = snprintf(out, sizeof(out), "D %d\n", (int)getpid());
      coro_fd_write_all(fd, out, (size_t)n, NULL, -1);
    }
  }
  if (r) coro_reader_destroy(r);
  coro_fd_close(fd);
  (void)wg;
  return NULL;
}

typedef struct server {
  coro_group *conns; /* in-flight connections */
} server;

static void *acceptor(void *arg) {
  server *s = arg;
  for (;;) {
    int c = coro_sock_accept(listen_fd, NULL, NULL, -1);
    if (c == -ECANCELED) return NULL;
    if (c < 0) {
      coro_sleep(coro_now() + MS);
      continue;
    }
    coro_group_spawn(s->conns, conn, (void *)(intptr_t)c, NULL);
  }
}

/* Accept until the stop, then finish what is in flight and return. */
static void *server_main(void *arg) {
  (void)arg;
  server s;
  if (coro_group_create(&s.conns, 0) < 0) return coro_fail(-ENOMEM);
  coro *a;
  if (coro_spawn(&a, acceptor, &s, NULL) < 0) return coro_fail(-ENOMEM);
  /* Checked here, reported by the exit status ("exited with status 0"). */
  int idx = coro_cluster_index();
  if (idx < 0 || idx >= CORO_CLUSTER_MAX || coro_cluster_stopping() != 0 ||
      coro_cluster_wait_stop(0) != -ETIMEDOUT)
    return coro_fail(-EPROTO);
  if (coro_cluster_wait_stop(-1) != 0 || coro_cluster_stopping() != 1 ||
      coro_cluster_wait_stop(0) != 0)
    return coro_fail(-EPROTO);
  coro_cancel(a);
  coro_join(a, NULL, -1);
  coro_destroy(a);
  coro_group_wait(s.conns, -1); /* in-flight requests finish */
  coro_group_close(s.conns, -1);
  return NULL;
}

static int reuseport_init(int index, void *arg) {
  (void)index;
  (void)arg;
  listen_fd = coro_tcp_listen("127.0.0.1", reuse_port, CORO_TCP_REUSEPORT, -1);
  return listen_fd < 0 ? listen_fd : 0;
}

/* Slow to start: a rolling restart has a window where the old worker must
 * still serve. */
static int slow_init(int index, void *arg) {
  (void)index;
  (void)arg;
  struct timespec ts = {0, 200 * 1000000L};
  nanosleep(&ts, NULL);
  return 0;
}

/* A main that waits for SIGTERM itself, as a program written to run alone
 * would: the runner's stop must reach it too. */
static void *own_signal_main(void *arg) {
  (void)arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  int sig = coro_signal_wait(&set, -1);
  return sig == SIGTERM ? NULL : coro_fail(-EPROTO);
}

/* Lives 100 ms, then fails (exit status 1). */
static void *short_lived_main(void *arg) {
  (void)arg;
  coro_sleep(coro_now() + 100 * MS);
  return coro_fail(-EIO);
}

static void *crash_main(void *arg) {
  (void)arg;
  _exit(3);
}

/* --- the test's side -------------------------------------------------------------------- */

static char log_path[64];
static int log_fd = -1;

static void log_open(void) {
  snprintf(log_path, sizeof(log_path), "/tmp/coro_cluster_test_XXXXXX");
  log_fd = mkstemp(log_path);
  ASSERT_TRUE(log_fd >= 0);
  unlink(log_path);
}

/* The whole log so far (static buffer). */
static const char *log_text(void) {
  static char buf[1 << 18];
  ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

static int log_count(const char *needle) {
  int k = 0;
  for (const char *s = log_text(); (s = strstr(s, needle)) != NULL; s += strlen(needle)) k++;
  return k;
}

static void pause_ms(int ms) {
  if (coro_self()) {
    coro_sleep(coro_now() + ms * MS);
  } else {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* Wait until the log holds needle at least `count` times. */
static void wait_log(const char *needle, int count) {
  int64_t end = coro_now() + LONG;
  while (log_count(needle) < count) {
    if (coro_now() > end)
      test__fail(__FILE__, __LINE__, "log lacks %d x \"%s\":\n%s", count, needle, log_text());
    pause_ms(5);
  }
}

/* Pids of the "worker N pid P started" lines, in order; returns how many. */
static int started_pids(int *pids, int max) {
  int k = 0;
  const char *s = log_text();
  while (k < max && (s = strstr(s, " pid ")) != NULL) {
    int pid;
    char word[16];
    if (sscanf(s, " pid %d %15s", &pid, word) == 2 && !strcmp(word, "started")) pids[k++] = pid;
    s += 5;
  }
  return k;
}

static coro_cluster_opts opts_for(int workers) {
  coro_cluster_opts o;
  ASSERT_EQ(coro_cluster_opts_init(&o), 0);
  o.workers = workers;
  o.log_fd = log_fd;
  o.drain_ns = LONG;
  o.backoff_min_ns = 10 * MS;
  o.backoff_max_ns = 200 * MS;
  o.healthy_ns = SEC;
  return o;
}

/* Fork the cluster's parent; it exits with 0 when coro_cluster_run returned 0. */
static pid_t start_cluster(const coro_cluster_opts *o, coro_fn fn) {
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    int rc = coro_cluster_run(o, fn, NULL);
    fflush(NULL);
    _exit(rc == 0 ? 0 : 100);
  }
  return pid;
}

/* Wait for the cluster's parent to exit; returns its exit status. */
static int wait_exit(pid_t pid) {
  int64_t end = coro_now() + LONG;
  int status;
  for (;;) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) break;
    if (coro_now() > end) {
      kill(pid, SIGKILL);
      test__fail(__FILE__, __LINE__, "the cluster's parent did not exit:\n%s", log_text());
    }
    pause_ms(5);
  }
  fputs(log_text(), stdout); /* for the record: ctest --output-on-failure -V shows it */
  ASSERT_TRUE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static int listen_port(void) {
  listen_fd = coro_tcp_listen("127.0.0.1", 0, 0, -1);
  ASSERT_TRUE(listen_fd >= 0);
  return coro_sock_port(listen_fd);
}

/* One request from a coroutine: returns 0 with the pids of the ack and the
 * answer, or the error.  *acked is set once the ack came. */
static int request(int port, long ms, int *ack_pid, int *done_pid, int *acked) {
  int fd = coro_tcp_dial("127.0.0.1", port, coro_now() + LONG);
  if (fd < 0) return fd;
  coro_reader *r;
  char line[64];
  int n = snprintf(line, sizeof(line), "%ld\n", ms), rc;
  if ((rc = coro_reader_create(&r, fd, 256)) < 0) goto out;
  if ((rc = coro_fd_write_all(fd, line, (size_t)n, NULL, coro_now() + LONG)) < 0) goto out_reader;
  rc = (int)coro_reader_line(r, line, sizeof(line), coro_now() + LONG);
  if (rc <= 0 || sscanf(line, "A %d", ack_pid) != 1) {
    rc = rc < 0 ? rc : -EPROTO;
    goto out_reader;
  }
  if (acked) *acked = 1;
  rc = (int)coro_reader_line(r, line, sizeof(line), coro_now() + LONG);
  rc = rc > 0 && sscanf(line, "D %d", done_pid) == 1 ? 0 : rc < 0 ? rc : -EPROTO;
out_reader:
  coro_reader_destroy(r);
out:
  coro_fd_close(fd);
  return rc;
}

/* --- serving, stopping --------------------------------------------------------------- */

typedef struct client {
  int port;
  long ms;
  int rc;        /* the request's outcome */
  int ack, done; /* pids */
  int acked;     /* the ack came: the request is in flight */
  int finished;
} client;

static void *client_run(void *arg) {
  client *c = arg;
  c->rc = request(c->port, c->ms, &c->ack, &c->done, &c->acked);
  c->finished = 1;
  return NULL;
}

static void *serve_some(void *arg) {
  int port = *(int *)arg;
  for (int i = 0; i < 10; i++) {
    client c = {port, 0, -1, 0, 0, 0, 0};
    client_run(&c);
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(c.ack, c.done);
  }
  return NULL;
}

TEST(serves_then_stops_on_sigterm_and_logs_pids) {
  log_open();
  int port = listen_port();
  coro_cluster_opts o = opts_for(2);
  o.listen_fds = &listen_fd;
  o.nlisten = 1;
  pid_t parent = start_cluster(&o, server_main);
  wait_log(" ready", 2);
  ASSERT_EQ(coro_spawn(NULL, serve_some, &port, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  int pids[8];
  ASSERT_EQ(started_pids(pids, 8), 2);
  ASSERT_EQ(log_count("worker 0 pid "), 3); /* started, ready, exited */
  ASSERT_EQ(log_count("stopping 2 workers"), 1);
  ASSERT_EQ(log_count("exited with status 0"), 2);
  ASSERT_EQ(log_count("all workers exited"), 1);
  coro_fd_close(listen_fd);
}

TEST(sigint_stops_too_and_per_worker_reuseport_sockets_serve) {
  log_open();
  /* A port for the workers' SO_REUSEPORT sockets: one the kernel picked, let go. */
  int probe = coro_tcp_listen("127.0.0.1", 0, CORO_TCP_REUSEPORT, -1);
  ASSERT_TRUE(probe >= 0);
  reuse_port = coro_sock_port(probe);
  coro_fd_close(probe);
  coro_cluster_opts o = opts_for(2);
  o.worker_init = reuseport_init;
  pid_t parent = start_cluster(&o, server_main);
  wait_log(" ready", 2);
  ASSERT_EQ(coro_spawn(NULL, serve_some, &reuse_port, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(kill(parent, SIGINT), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  ASSERT_EQ(log_count("Interrupt: stopping 2 workers"), 1);
}

/* --- faults ------------------------------------------------------------------------ */

#define NLOAD 64

typedef struct load {
  int port;
  pid_t parent;
  client c[NLOAD];
  int n;
} load;

/* Long requests until two workers have acked some; kill one; the other's
 * requests all complete; the killed one is restarted and serves. */
static void *kill_under_load(void *arg) {
  load *l = arg;
  int a = 0, b = 0;
  while (!b && l->n < NLOAD) {
    client *c = &l->c[l->n++];
    *c = (client){l->port, 1500, -1, 0, 0, 0, 0};
    ASSERT_EQ(coro_spawn(NULL, client_run, c, NULL), 0);
    while (!c->acked && !c->finished) coro_sleep(coro_now() + MS);
    ASSERT_TRUE(c->acked);
    if (!a) a = c->ack;
    if (c->ack != a) b = c->ack;
  }
  ASSERT_TRUE(b != 0); /* both workers got some */
  ASSERT_EQ(kill(a, SIGKILL), 0);
  for (int i = 0; i < l->n; i++) {
    while (!l->c[i].finished) coro_sleep(coro_now() + 5 * MS);
    if (l->c[i].ack == b) { /* the other worker's connections are not lost */
      ASSERT_EQ(l->c[i].rc, 0);
      ASSERT_EQ(l->c[i].done, b);
    } else {
      ASSERT_TRUE(l->c[i].rc < 0); /* the killed worker's are cut */
    }
  }
  wait_log("killed by signal 9", 1);
  wait_log(" ready", 3); /* the replacement */
  int seen_new = 0;
  for (int i = 0; i < 200 && !seen_new; i++) {
    client c = {l->port, 0, -1, 0, 0, 0, 0};
    client_run(&c);
    ASSERT_EQ(c.rc, 0);
    ASSERT_NE(c.ack, a);
    seen_new = c.ack != b;
  }
  return NULL;
}

TEST(worker_sigkilled_under_load_is_restarted_others_lose_nothing) {
  log_open();
  /* One SO_REUSEPORT socket per worker: the kernel spreads the connections
   * over both by their addresses, so both workers get some however loaded
   * the machine is.  (On one shared socket whichever worker wakes first
   * takes each connection, and under load one could take all NLOAD.) */
  int probe = coro_tcp_listen("127.0.0.1", 0, CORO_TCP_REUSEPORT, -1);
  ASSERT_TRUE(probe >= 0);
  reuse_port = coro_sock_port(probe);
  coro_fd_close(probe);
  load l = {reuse_port, 0, {{0}}, 0};
  coro_cluster_opts o = opts_for(2);
  o.worker_init = reuseport_init;
  l.parent = start_cluster(&o, server_main);
  wait_log(" ready", 2);
  ASSERT_EQ(coro_spawn(NULL, kill_under_load, &l, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  int pids[8];
  ASSERT_EQ(started_pids(pids, 8), 3);
  ASSERT_EQ(kill(l.parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(l.parent), 0);
}

/* Requests in flight on every worker, then SIGTERM: every one completes. */
static void *term_under_load(void *arg) {
  load *l = arg;
  l->n = 16;
  for (int i = 0; i < l->n; i++) {
    l->c[i] = (client){l->port, 400, -1, 0, 0, 0, 0};
    ASSERT_EQ(coro_spawn(NULL, client_run, &l->c[i], NULL), 0);
  }
  for (int i = 0; i < l->n; i++)
    while (!l->c[i].acked && !l->c[i].finished) coro_sleep(coro_now() + MS);
  ASSERT_EQ(kill(l->parent, SIGTERM), 0);
  for (int i = 0; i < l->n; i++) {
    while (!l->c[i].finished) coro_sleep(coro_now() + 5 * MS);
    ASSERT_EQ(l->c[i].rc, 0); /* zero in-flight requests lost */
    ASSERT_EQ(l->c[i].done, l->c[i].ack);
  }
  return NULL;
}

TEST(sigterm_during_load_loses_no_in_flight_request) {
  log_open();
  load l = {listen_port(), 0, {{0}}, 0};
  coro_cluster_opts o = opts_for(3);
  l.parent = start_cluster(&o, server_main);
  wait_log(" ready", 3);
  ASSERT_EQ(coro_spawn(NULL, term_under_load, &l, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(wait_exit(l.parent), 0);
  ASSERT_EQ(log_count("SIGKILL"), 0); /* all drained within the deadline */
  ASSERT_EQ(log_count("exited with status 0"), 3);
  coro_fd_close(listen_fd);
}

/* Start an hour-long request in l->c[0] and return it once a worker has
 * acknowledged it: it is in flight. */
static client *request_in_flight(load *l) {
  client *c = &l->c[0];
  *c = (client){l->port, 3600 * 1000L, -1, 0, 0, 0, 0};
  ASSERT_EQ(coro_spawn(NULL, client_run, c, NULL), 0);
  while (!c->acked && !c->finished) coro_sleep(coro_now() + MS);
  ASSERT_TRUE(c->acked);
  return c;
}

/* A request far longer than the drain deadline: SIGTERM, then SIGKILL. */
static void *straggler(void *arg) {
  load *l = arg;
  client *c = request_in_flight(l);
  ASSERT_EQ(kill(l->parent, SIGTERM), 0);
  while (!c->finished) coro_sleep(coro_now() + 5 * MS);
  ASSERT_TRUE(c->rc < 0); /* cut by the kill */
  return NULL;
}

TEST(drain_deadline_sigkills_stragglers) {
  log_open();
  load l = {listen_port(), 0, {{0}}, 0};
  coro_cluster_opts o = opts_for(1);
  o.drain_ns = 100 * MS;
  l.parent = start_cluster(&o, server_main);
  wait_log(" ready", 1);
  ASSERT_EQ(coro_spawn(NULL, straggler, &l, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(wait_exit(l.parent), 0);
  ASSERT_EQ(log_count("still running at the drain deadline: SIGKILL"), 1);
  ASSERT_EQ(log_count("killed by signal 9"), 1);
  coro_fd_close(listen_fd);
}

/* A second SIGTERM does not wait for the drain deadline. */
static void *insist(void *arg) {
  load *l = arg;
  client *c = request_in_flight(l);
  ASSERT_EQ(kill(l->parent, SIGTERM), 0);
  wait_log("stopping 1 workers", 1);
  ASSERT_EQ(kill(l->parent, SIGTERM), 0);
  while (!c->finished) coro_sleep(coro_now() + 5 * MS);
  ASSERT_TRUE(c->rc < 0);
  return NULL;
}

TEST(second_sigterm_kills_at_once) {
  log_open();
  load l = {listen_port(), 0, {{0}}, 0};
  coro_cluster_opts o = opts_for(1); /* drain deadline: LONG */
  l.parent = start_cluster(&o, server_main);
  wait_log(" ready", 1);
  ASSERT_EQ(coro_spawn(NULL, insist, &l, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(wait_exit(l.parent), 0);
  ASSERT_EQ(log_count("Terminated again: killing the 1 workers left now"), 1);
  ASSERT_EQ(log_count("killed by signal 9"), 1);
  coro_fd_close(listen_fd);
}

TEST(worker_crashing_at_start_backs_off_and_parent_stays_responsive) {
  log_open();
  coro_cluster_opts o = opts_for(2);
  o.backoff_min_ns = 20 * MS;
  o.backoff_max_ns = 160 * MS;
  o.healthy_ns = LONG;
  pid_t parent = start_cluster(&o, crash_main);
  /* Watch a window: without backoff this would be thousands of forks. */
  wait_log("(5 fast failures in a row)", 2);
  pause_ms(500);
  int pids[512];
  int starts = started_pids(pids, 512);
  ASSERT_TRUE(starts >= 10);
  ASSERT_TRUE(starts < 200);
  ASSERT_TRUE(log_count("exited with status 3") >= 10);
  ASSERT_TRUE(log_count("restart in 0.02 s (1 fast failures in a row)") >= 2);
  ASSERT_TRUE(log_count("restart in 0.16 s (5 fast failures in a row)") >= 2); /* capped */
  ASSERT_EQ(log_count("restart in 0.32 s"), 0);
  /* The parent still answers signals while it backs off. */
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  ASSERT_EQ(log_count("all workers exited"), 1);
}

TEST(a_worker_that_lived_long_enough_resets_the_backoff) {
  log_open();
  coro_cluster_opts o = opts_for(1);
  o.healthy_ns = 20 * MS;  /* 100 ms is "long enough" */
  o.backoff_min_ns = LONG; /* a fast failure would stall the test */
  o.backoff_max_ns = LONG;
  pid_t parent = start_cluster(&o, short_lived_main);
  wait_log("exited with status 1", 3);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  ASSERT_TRUE(log_count("; restart now") >= 3);
  ASSERT_EQ(log_count("fast failures"), 0);
}

/* --- the restart rule: back off for fast failures only, never leave zero ---------- */

/* Replays the log's events: every "worker N pid P started" makes P up, every
 * exit line ("pid P killed by"/"exited with") takes it down.  Returns how
 * many exits left no worker up while their line says a restart delay other
 * than `allowed` (NULL: any delay at all, "restart now" excepted); *exits
 * gets the number of exits seen. */
static int zero_windows(const char *allowed, int *exits) {
  int upp[512], nup = 0, bad = 0;
  *exits = 0;
  for (const char *line = log_text(); *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), line);
    const char *at = strstr(buf, " pid ");
    int pid;
    char word[16];
    if (at && sscanf(at, " pid %d %15s", &pid, word) == 2) {
      if (!strcmp(word, "started") && nup < 512) {
        upp[nup++] = pid;
      } else if (!strcmp(word, "killed") || !strcmp(word, "exited")) {
        for (int k = 0; k < nup; k++)
          if (upp[k] == pid) upp[k--] = upp[--nup];
        ++*exits;
        const char *restart = strstr(buf, "; restart in ");
        if (!nup && restart && (!allowed || strncmp(restart, allowed, strlen(allowed)) != 0)) bad++;
      }
    }
    line += len + (end ? 1 : 0);
  }
  return bad;
}

/* pause_ms for longer than a second. */
static void pause_long(int ms) {
  for (; ms > 0; ms -= 100) pause_ms(ms < 100 ? ms : 100);
}

/* The case: workers SIGKILLed one at a time after serving a while
 * (longer than the default healthy_ns, shorter than the old default 5 s)
 * are replaced at once: with a backoff of LONG any delay would stall it. */
TEST(workers_that_served_are_replaced_at_once) {
  log_open();
  coro_cluster_opts o = opts_for(2), def;
  ASSERT_EQ(coro_cluster_opts_init(&def), 0);
  ASSERT_EQ(def.healthy_ns, SEC); /* documented */
  o.healthy_ns = def.healthy_ns;  /* the default rule */
  o.backoff_min_ns = LONG;
  o.backoff_max_ns = LONG;
  pid_t parent = start_cluster(&o, own_signal_main);
  for (int round = 0; round < 4; round++) {
    wait_log(" ready", 2 + round); /* both up: the replacement of the last kill too */
    pause_long(1300);              /* 1.3 s: it served past the default healthy_ns (1 s) */
    int pids[16];
    int n = started_pids(pids, 16);
    ASSERT_EQ(n, 2 + round);
    ASSERT_EQ(kill(pids[n - 2], SIGKILL), 0); /* the oldest one up: slots alternate */
    wait_log("killed by signal 9", round + 1);
  }
  wait_log(" ready", 6);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  ASSERT_EQ(log_count("; restart now"), 4);
  ASSERT_EQ(log_count("fast failures"), 0);
  int exits;
  ASSERT_EQ(zero_windows(NULL, &exits), 0);
  ASSERT_EQ(exits, 6); /* 4 kills and the 2 at the stop */
}

/* Ready at once (its first wait), then fails 30 ms later: a fast failure
 * every time (healthy_ns LONG below), in both slots. */
static void *dies_right_after_ready_main(void *arg) {
  (void)arg;
  coro_sleep(coro_now() + 30 * MS);
  return coro_fail(-EIO);
}

TEST(the_last_worker_up_is_never_held_back) {
  log_open();
  coro_cluster_opts o = opts_for(2);
  o.healthy_ns = LONG;
  o.backoff_min_ns = 20 * MS;
  o.backoff_max_ns = LONG; /* grows without a useful bound */
  pid_t parent = start_cluster(&o, dies_right_after_ready_main);
  /* Without the rule both slots soon wait seconds, then minutes: stalled. */
  wait_log("exited with status 1", 16);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  int exits;
  ASSERT_EQ(zero_windows("; restart in 0.02 s", &exits), 0);
  ASSERT_TRUE(exits >= 16);
  ASSERT_TRUE(log_count("; the last worker)") >= 1);
  /* ...and the grown backoff still holds the other slot while one is up */
  ASSERT_TRUE(log_count("(4 fast failures in a row") >= 1);
}

TEST(worker_waiting_for_sigterm_itself_sees_the_stop) {
  log_open();
  coro_cluster_opts o = opts_for(2); /* drain deadline LONG: no SIGKILL to rescue it */
  pid_t parent = start_cluster(&o, own_signal_main);
  wait_log(" ready", 2);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  ASSERT_EQ(log_count("exited with status 0"), 2);
}

typedef struct roll {
  int port;
  pid_t parent;
  int old[2]; /* the first two pids */
  int ok, failed;
} roll;

static void *roll_client(void *arg) {
  roll *r = arg;
  int hup_sent = 0;
  for (;;) {
    client c = {r->port, 0, -1, 0, 0, 0, 0};
    client_run(&c);
    if (c.rc == 0)
      r->ok++;
    else
      r->failed++;
    if (r->ok == 10 && !hup_sent) {
      ASSERT_EQ(kill(r->parent, SIGHUP), 0);
      hup_sent = 1;
    }
    if (hup_sent && log_count("rolling restart done")) break;
    if (r->ok + r->failed > 100000) break;
  }
  /* Now only new workers answer (the old ones may still drain, idle). */
  wait_log("(retired)", 2);
  for (int i = 0; i < 20; i++) {
    client c = {r->port, 0, -1, 0, 0, 0, 0};
    client_run(&c);
    ASSERT_EQ(c.rc, 0);
    ASSERT_TRUE(c.ack != r->old[0] && c.ack != r->old[1]);
  }
  return NULL;
}

TEST(sighup_rolls_one_worker_at_a_time_never_zero) {
  log_open();
  roll r = {listen_port(), 0, {0, 0}, 0, 0};
  coro_cluster_opts o = opts_for(2);
  r.parent = start_cluster(&o, server_main);
  wait_log(" ready", 2);
  ASSERT_EQ(started_pids(r.old, 2), 2);
  ASSERT_EQ(coro_spawn(NULL, roll_client, &r, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(r.failed, 0); /* a client kept succeeding throughout */
  ASSERT_TRUE(r.ok >= 10);
  int pids[8];
  ASSERT_EQ(started_pids(pids, 8), 4);
  ASSERT_EQ(log_count("(rolling restart)"), 2);
  ASSERT_EQ(log_count("replaced by pid"), 2);
  ASSERT_EQ(kill(r.parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(r.parent), 0);
  coro_fd_close(listen_fd);
}

/* Replays the log: the pids ready and not yet told to stop.  Returns the
 * fewest there were between the first "ready" and the "rolling restart
 * done" line. */
static int fewest_serving_during_roll(void) {
  int serving[16], n = 0, fewest = 1 << 20, rolling = 0;
  const char *s = log_text();
  for (const char *line = s; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < 511 ? len : 511), line);
    int idx, pid, newpid;
    const char *w = strstr(buf, "worker ");
    if (strstr(buf, "SIGHUP")) rolling = 1;
    if (w && sscanf(w, "worker %d pid %d replaced by pid %d", &idx, &pid, &newpid) == 3) {
      for (int i = 0; i < n; i++)
        if (serving[i] == pid) serving[i] = serving[--n];
    } else if (w && strstr(buf, " ready") && sscanf(w, "worker %d pid %d", &idx, &pid) == 2 &&
               n < 16) {
      serving[n++] = pid;
    }
    if (rolling && n < fewest) fewest = n;
    if (strstr(buf, "rolling restart done")) break;
    line = nl ? nl + 1 : line + len;
  }
  return fewest;
}

static void *roll_one_client(void *arg) {
  roll *r = arg;
  int hup_sent = 0;
  while (!log_count("rolling restart done")) {
    client c = {r->port, 0, -1, 0, 0, 0, 0};
    client_run(&c);
    if (c.rc == 0)
      r->ok++;
    else
      r->failed++;
    if (r->ok == 5 && !hup_sent) {
      ASSERT_EQ(kill(r->parent, SIGHUP), 0);
      hup_sent = 1;
    }
  }
  return NULL;
}

TEST(sighup_with_one_slow_worker_keeps_it_serving_until_the_new_one_is_ready) {
  log_open();
  roll r = {listen_port(), 0, {0, 0}, 0, 0};
  coro_cluster_opts o = opts_for(1);
  o.worker_init = slow_init;
  r.parent = start_cluster(&o, server_main);
  wait_log(" ready", 1);
  ASSERT_EQ(coro_spawn(NULL, roll_one_client, &r, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(r.failed, 0);
  ASSERT_EQ(fewest_serving_during_roll(), 1); /* never zero */
  ASSERT_EQ(kill(r.parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(r.parent), 0);
  coro_fd_close(listen_fd);
}

/* The first worker serves; every later one (the replacements of a rolling
 * restart) fails at once, before its first wait -- a new build that cannot
 * start.  Such a replacement is never "ready", so the old worker is never
 * stopped for it. */
static char first_marker[64];

static void *fails_after_the_first_main(void *arg) {
  int fd = open(first_marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return coro_fail(-EADDRINUSE);
  close(fd);
  return server_main(arg);
}

/* One worker whose replacements fail at once; a SIGHUP, then the two
 * failures of its replacements, none taken for ready and none replacing it.
 * Returns the runner's pid; *old: the first worker's. */
static pid_t sighup_with_failing_replacements(int *old) {
  log_open();
  snprintf(first_marker, sizeof(first_marker), "/tmp/coro_cluster_first_%d", (int)getpid());
  unlink(first_marker);
  (void)listen_port(); /* the workers' listening socket (listen_fd) */
  coro_cluster_opts o = opts_for(1);
  pid_t parent = start_cluster(&o, fails_after_the_first_main);
  wait_log(" ready", 1);
  int pids[4];
  ASSERT_EQ(started_pids(pids, 4), 1);
  *old = pids[0];
  ASSERT_EQ(kill(parent, SIGHUP), 0);
  wait_log("exited with status 1", 2); /* two replacements failed */
  ASSERT_EQ(log_count(" ready"), 1);   /* none of them was taken for ready */
  ASSERT_TRUE(strstr(log_text(), "replaced by") == NULL);
  return parent;
}

static void stop_failing_replacements(pid_t parent) {
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  wait_exit(parent);
  unlink(first_marker);
  coro_fd_close(listen_fd);
}

TEST(sighup_whose_replacement_fails_at_once_keeps_the_old_worker) {
  int old;
  pid_t parent = sighup_with_failing_replacements(&old);
  client c = {coro_sock_port(listen_fd), 0, -1, 0, 0, 0, 0};
  ASSERT_EQ(coro_spawn(NULL, client_run, &c, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(c.rc, 0);
  ASSERT_EQ(c.done, old); /* the old worker still serves */
  stop_failing_replacements(parent);
}

/* Found by seeds (CORO_SCHED_SEED=5 over the suite): the worker's readiness
 * reporter took its turn before main had run at all -- it trusted spawn
 * order -- and reported a main that then failed at once as ready.  Pinned to
 * a seed that puts the reporter first; the workers inherit it with the fork. */
TEST(seeded_replacement_that_fails_at_once_is_not_ready) {
  ASSERT_EQ(coro_sched_seed(5), 0);
  int old;
  stop_failing_replacements(sighup_with_failing_replacements(&old));
}

/* The same under seed 6, with a main that dies at its first instruction
 * (_exit, so no CLOSED state to look at): reported ready before 45f8ba1, its
 * slot then never backed off past the first failure (the backoff is for
 * workers that were not ready).  Seeds 1-12 pass the cases above. */
TEST(seeded_worker_crashing_at_start_is_never_ready) {
  ASSERT_EQ(coro_sched_seed(6), 0);
  log_open();
  coro_cluster_opts o = opts_for(1);
  o.backoff_min_ns = 20 * MS;
  o.backoff_max_ns = 40 * MS;
  o.healthy_ns = LONG;
  pid_t parent = start_cluster(&o, crash_main);
  wait_log("(3 fast failures in a row)", 1);
  ASSERT_EQ(log_count(" ready"), 0);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
}

TEST(ignored_sigchld_does_not_hide_exit_statuses) {
  log_open();
  coro_cluster_opts o = opts_for(1);
  o.healthy_ns = LONG;
  pid_t parent = fork();
  ASSERT_TRUE(parent >= 0);
  if (parent == 0) {
    signal(SIGCHLD, SIG_IGN);
    int rc = coro_cluster_run(&o, crash_main, NULL);
    struct sigaction now;
    sigaction(SIGCHLD, NULL, &now);
    _exit(rc == 0 && now.sa_handler == SIG_IGN ? 0 : 100); /* restored */
  }
  wait_log("exited with status 3", 2);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  ASSERT_EQ(log_count("vanished"), 0);
}

/* Gone: no such process, or a zombie waiting for its reaper. */
static int gone(int pid) {
  if (kill(pid, 0) < 0) return errno == ESRCH;
  char path[64], buf[256];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

TEST(parent_sigkilled_no_worker_survives) {
  log_open();
  listen_port();
  coro_cluster_opts o = opts_for(3);
  pid_t parent = start_cluster(&o, server_main);
  wait_log(" ready", 3);
  int pids[3];
  ASSERT_EQ(started_pids(pids, 3), 3);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(!gone(pids[i]));
  ASSERT_EQ(kill(parent, SIGKILL), 0);
  int status;
  ASSERT_EQ(waitpid(parent, &status, 0), parent);
  int64_t end = coro_now() + LONG;
  for (int i = 0; i < 3; i++) {
    while (!gone(pids[i])) {
      if (coro_now() > end) test__fail(__FILE__, __LINE__, "worker %d survived", pids[i]);
      pause_ms(5);
    }
  }
  coro_fd_close(listen_fd);
}

/* The parent's log callback heals the fork fault after three failures. */
static int fork_failures;
static void heal_after_three(const char *line, void *arg) {
  (void)arg;
  if (strstr(line, "fork failed") && ++fork_failures == 3) coro__fault_reset();
  ssize_t n = write(log_fd, line, strlen(line));
  n = write(log_fd, "\n", 1);
  (void)n;
}

TEST(fork_failure_is_logged_and_retried) {
  log_open();
  listen_port();
  coro_cluster_opts o = opts_for(1);
  o.log_fn = heal_after_three;
  pid_t parent = fork();
  ASSERT_TRUE(parent >= 0);
  if (parent == 0) {
    coro__fault_arm(CORO__FAULT_FORK, 0, EAGAIN);
    int rc = coro_cluster_run(&o, server_main, NULL);
    _exit(rc == 0 ? 0 : 100);
  }
  wait_log(" ready", 1);
  ASSERT_EQ(log_count("fork failed: Resource temporarily unavailable; retry in"), 3);
  ASSERT_EQ(log_count("retry in 0.04 s"), 1); /* the backoff grows */
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
  coro_fd_close(listen_fd);
}

/* --- bad input ------------------------------------------------------------------------- */

static void *inside_scheduler(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cluster_run(NULL, server_main, NULL), -EBUSY);
  return NULL;
}

static int watch_ran;
static void *inside_watch(void *arg) {
  watch_ran++;
  return arg;
}

static int inner_rc_pipe[2];
static void *nested_main(void *arg) {
  (void)arg;
  int rc = coro_cluster_run(NULL, server_main, NULL);
  ssize_t n = write(inner_rc_pipe[1], &rc, sizeof(rc));
  (void)n;
  int idx = coro_cluster_index();
  n = write(inner_rc_pipe[1], &idx, sizeof(idx));
  coro_cluster_wait_stop(-1);
  return NULL;
}

TEST(bad_input) {
  coro_cluster_opts o;
  ASSERT_EQ(coro_cluster_opts_init(NULL), -EINVAL);
  ASSERT_EQ(coro_cluster_opts_init(&o), 0);
  o.log_fd = -1;
  ASSERT_EQ(coro_cluster_run(&o, NULL, NULL), -EINVAL);
  coro_cluster_opts b = o;
  b.workers = -1;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  b.workers = CORO_CLUSTER_MAX + 1;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  b = o;
  b.nlisten = 1;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  int bad = 1000000;
  b.listen_fds = &bad;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EBADF);
  b = o;
  b.drain_ns = -1;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  b = o;
  b.backoff_min_ns = 0;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  b = o;
  b.backoff_max_ns = b.backoff_min_ns - 1;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  b = o;
  b.healthy_ns = -1;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  b = o;
  b.log_fd = -2;
  ASSERT_EQ(coro_cluster_run(&b, server_main, NULL), -EINVAL);
  /* Not in a worker. */
  ASSERT_EQ(coro_cluster_index(), -ESRCH);
  ASSERT_EQ(coro_cluster_stopping(), 0);
  ASSERT_EQ(coro_cluster_wait_stop(0), -ESRCH);
  /* A live coroutine on the thread: the workers would inherit it. */
  coro *g;
  ASSERT_EQ(coro_create(&g, server_main, NULL, NULL), 0);
  ASSERT_EQ(coro_cluster_run(&o, server_main, NULL), -EBUSY);
  ASSERT_EQ(coro_destroy(g), 0);
  /* A pending watch: a micro-thread still to be spawned, inherited too. */
  int wp[2];
  ASSERT_EQ(pipe(wp), 0);
  ASSERT_EQ(coro_spawn_on_ready(wp[0], CORO_READ, -1, inside_watch, NULL, NULL), 0);
  ASSERT_EQ(coro_cluster_run(&o, server_main, NULL), -EBUSY);
  ASSERT_EQ(coro_fd_close(wp[0]), 0); /* fires it */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(watch_ran, 1);
  close(wp[1]);
  /* From inside a running scheduler. */
  ASSERT_EQ(coro_spawn(NULL, inside_scheduler, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
}

TEST(nested_run_in_a_worker_is_refused) {
  log_open();
  ASSERT_EQ(pipe(inner_rc_pipe), 0);
  coro_cluster_opts o = opts_for(1);
  pid_t parent = start_cluster(&o, nested_main);
  int rc = 0, idx = -1;
  ASSERT_EQ(read(inner_rc_pipe[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
  ASSERT_EQ(read(inner_rc_pipe[0], &idx, sizeof(idx)), (ssize_t)sizeof(idx));
  ASSERT_EQ(rc, -EPERM);
  ASSERT_EQ(idx, 0);
  ASSERT_EQ(kill(parent, SIGTERM), 0);
  ASSERT_EQ(wait_exit(parent), 0);
}
