/* SPDX-License-Identifier: MIT */
/*
 * bench_io.c - the two readiness backends, epoll and io_uring, side by side
 * in one run.
 *
 * What it measures (per row, ns per operation, for each backend):
 *   pingpong     two micro-threads, two pipes: one byte written down one, read
 *                back from the other; every read parks (one round trip = two
 *                parks, two wake-ups through the backend);
 *   pingpong_64  64 such pairs at once in one scheduler: ns per round trip of
 *                the whole (how well a backend batches many fds per wait);
 *   busy_round   two micro-threads yielding to each other while a third waits
 *                on a pipe that never becomes readable: the scheduler asks the
 *                backend for readiness without waiting once per round (epoll:
 *                an epoll_wait system call; io_uring: a look at the completion
 *                queue), ns per round trip of the two yielders.
 *
 * Method (as bench_core): a discarded warm-up round, then R rounds (default
 * 7, 5 with --quick) of every row on both backends, round-robin; each figure
 * is the median with min..max; the ratio io_uring/epoll is paired (the ratio
 * within each round, then the median).  Each measurement runs in a fresh
 * thread whose first I/O call chooses its backend from CORO_IO_BACKEND, set
 * before the thread starts.  Nothing is asserted.  With --json, stdout is one
 * JSON object on one line.  A backend the kernel refuses is reported as such.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "stats.h"

#define MAX_ROUNDS STATS_MAX_ROUNDS
#define PAIRS 64

static struct {
  int quick; /* --quick: fewer iterations and rounds */
  int json;  /* --json: one JSON object on stdout */
  int rounds;
} opt = {0, 0, 7};

static void die(const char *what, long rc) {
  fprintf(stderr, "bench_io: %s failed (%ld)\n", what, rc);
  exit(1);
}

/* --- the rows ------------------------------------------------------------------ */

typedef struct pair {
  int req[2], rep[2]; /* pipes: request (ping -> pong), reply */
  long iters;         /* round trips to make */
} pair;

static void *ping(void *arg) {
  pair *p = arg;
  char c = 'x';
  for (long i = 0; i < p->iters; i++) {
    if (coro_fd_write(p->req[1], &c, 1, -1) != 1) die("ping write", i);
    if (coro_fd_read(p->rep[0], &c, 1, -1) != 1) die("ping read", i);
  }
  return NULL;
}

static void *pong(void *arg) {
  pair *p = arg;
  char c;
  for (long i = 0; i < p->iters; i++) {
    if (coro_fd_read(p->req[0], &c, 1, -1) != 1) die("pong read", i);
    if (coro_fd_write(p->rep[1], &c, 1, -1) != 1) die("pong write", i);
  }
  return NULL;
}

static void pair_open(pair *p, long iters) {
  if (pipe2(p->req, O_CLOEXEC) || pipe2(p->rep, O_CLOEXEC)) die("pipe2", 0);
  p->iters = iters;
}

static void pair_close(pair *p) {
  coro_fd_close(p->req[0]);
  coro_fd_close(p->req[1]);
  coro_fd_close(p->rep[0]);
  coro_fd_close(p->rep[1]);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* npairs pairs, iters round trips each: ns per round trip of all of them. */
static double run_pairs(int npairs, long iters) {
  static pair ps[PAIRS];
  for (int i = 0; i < npairs; i++) {
    pair_open(&ps[i], iters);
    if (coro_spawn(NULL, ping, &ps[i], NULL) || coro_spawn(NULL, pong, &ps[i], NULL))
      die("spawn", 0);
  }
  double t0 = now_ns();
  int rc = coro_run();
  double t1 = now_ns();
  if (rc) die("coro_run", rc);
  for (int i = 0; i < npairs; i++) pair_close(&ps[i]);
  return (t1 - t0) / (double)iters;
}

static long busy_left; /* yields each yielder still makes */
static int idle_pipe[2];

static void *yielder(void *arg) {
  (void)arg;
  while (busy_left-- > 0) coro_sched_yield();
  return NULL;
}

static void *idle_reader(void *arg) {
  (void)arg;
  char c;
  /* Never readable: woken by the close at the end (-EBADF). */
  coro_fd_read(idle_pipe[0], &c, 1, -1);
  return NULL;
}

static void *closer(void *arg) {
  (void)arg;
  /* Each yielder leaves by one last decrement: -2 once both are done. */
  while (busy_left > -2) coro_sched_yield();
  coro_fd_close(idle_pipe[0]);
  return NULL;
}

static double run_busy(long iters) {
  if (pipe2(idle_pipe, O_CLOEXEC)) die("pipe2", 0);
  busy_left = 2 * iters; /* shared: iters round trips of the two yielders */
  if (coro_spawn(NULL, idle_reader, NULL, NULL)) die("spawn", 0);
  if (coro_spawn(NULL, yielder, NULL, NULL) || coro_spawn(NULL, yielder, NULL, NULL))
    die("spawn", 0);
  if (coro_spawn(NULL, closer, NULL, NULL)) die("spawn", 0);
  double t0 = now_ns();
  int rc = coro_run();
  double t1 = now_ns();
  if (rc) die("coro_run", rc);
  close(idle_pipe[1]);
  return (t1 - t0) / (double)iters;
}

/* --- rows, backends, rounds ------------------------------------------------------- */

enum { ROW_PINGPONG, ROW_PINGPONG_64, ROW_BUSY, NROWS };
static const char *const row_key[NROWS] = {"pingpong", "pingpong_64", "busy_round"};
static const char *const backend_name[2] = {"epoll", "io_uring"};

typedef struct job {
  int row;      /* ROW_* */
  long iters;   /* round trips */
  double ns;    /* result */
  char got[16]; /* the backend the thread got */
} job;

static void *job_thread(void *arg) {
  job *j = arg;
  const char *b = coro_io_backend();
  snprintf(j->got, sizeof(j->got), "%s", b ? b : "none");
  switch (j->row) {
  case ROW_PINGPONG:
    j->ns = run_pairs(1, j->iters);
    break;
  case ROW_PINGPONG_64:
    j->ns = run_pairs(PAIRS, j->iters);
    break;
  default:
    j->ns = run_busy(j->iters);
    break;
  }
  return NULL;
}

static long iters_of(int row) {
  static const long full[NROWS] = {200000, 10000, 2000000};
  return opt.quick ? full[row] / 10 : full[row];
}

static double measure(int row, int backend, char *got) {
  setenv("CORO_IO_BACKEND", backend_name[backend], 1); /* read by the new thread */
  job j = {.row = row, .iters = iters_of(row)};
  pthread_t th;
  if (pthread_create(&th, NULL, job_thread, &j)) die("pthread_create", 0);
  pthread_join(th, NULL);
  if (got) snprintf(got, 16, "%s", j.got);
  return j.ns;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      opt.quick = 1;
      opt.rounds = 5;
    } else if (strcmp(argv[i], "--json") == 0) {
      opt.json = 1;
    } else {
      fprintf(stderr, "usage: bench_io [--quick] [--json]\n");
      return 2;
    }
  }
  /* Which backends this kernel gives: a refused io_uring prints its line here. */
  char got[2][16];
  for (int b = 0; b < 2; b++) measure(ROW_PINGPONG, b, got[b]); /* also the warm-up */
  int have_uring = strcmp(got[1], "io_uring") == 0;
  int nb = have_uring ? 2 : 1;
  for (int r = 0; r < NROWS; r++) /* the rest of the warm-up */
    for (int b = 0; b < nb; b++) measure(r, b, NULL);

  static double ns[NROWS][2][MAX_ROUNDS];
  for (int k = 0; k < opt.rounds; k++)
    for (int r = 0; r < NROWS; r++)
      for (int b = 0; b < nb; b++) ns[r][b][k] = measure(r, b, NULL);

  if (opt.json)
    printf("{\"io_uring\":%s", have_uring ? "true" : "false");
  else
    printf("bench_io: %d rounds (%s), ns per round trip, median (min..max); io_uring %s\n",
           opt.rounds, opt.quick ? "--quick" : "full", have_uring ? "available" : "refused");
  for (int r = 0; r < NROWS; r++) {
    double ratio[MAX_ROUNDS];
    for (int k = 0; k < opt.rounds; k++) ratio[k] = nb == 2 ? ns[r][1][k] / ns[r][0][k] : 0;
    if (opt.json) {
      for (int b = 0; b < nb; b++)
        printf(",\"%s_%s_ns\":%.1f", row_key[r], backend_name[b], median(ns[r][b], opt.rounds));
      if (nb == 2) printf(",\"%s_ratio\":%.3f", row_key[r], median(ratio, opt.rounds));
      continue;
    }
    printf("  %-12s", row_key[r]);
    for (int b = 0; b < nb; b++)
      printf("  %s %8.0f (%.0f..%.0f)", backend_name[b], median(ns[r][b], opt.rounds),
             minv(ns[r][b], opt.rounds), maxv(ns[r][b], opt.rounds));
    if (nb == 2) printf("  io_uring/epoll %.2f", median(ratio, opt.rounds));
    printf("\n");
  }
  if (opt.json) printf("}\n");
  return 0;
}
