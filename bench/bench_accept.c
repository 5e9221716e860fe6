/* SPDX-License-Identifier: MIT */
/*
 * bench_accept.c - accept throughput with many acceptors on one listening
 * socket: one readiness wakes one acceptor, or all of them (a herd).
 *
 * What it measures (ns per accepted connection, server side):
 *   one_N   N micro-threads (1, 8, 64) loop on coro_sock_accept() on one
 *           listening socket: each connection wakes one of them;
 *   herd_N  the same N with accept4() and, on EAGAIN, coro_wait_fd(CORO_READ):
 *           what coro_sock_accept() did before it became accept-like (plus
 *           the poll(2) level check coro_wait_fd makes before it parks): every
 *           parked acceptor is woken by each connection, one wins, the others
 *           get EAGAIN and park again.
 * A client thread connects C times, one connection at a time: it connects
 * (blocking), waits for the byte the acceptor writes, and closes with
 * SO_LINGER 0 (no TIME_WAIT piles up).  So each connection finds every
 * acceptor parked: the figure is the round trip of one connection, herd
 * included.  Both rows run on both backends (epoll, and io_uring when the
 * kernel gives it), each measurement in a fresh thread.
 *
 * Method (as bench_io): a discarded warm-up round, then R rounds (default 5,
 * 3 with --quick) of every row round-robin; each figure is the median with
 * min..max; herd/one is the paired ratio (within each round, then the
 * median).  Nothing is asserted.  With --json, stdout is one JSON object.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "stats.h"

#define MAX_ROUNDS STATS_MAX_ROUNDS

static struct {
  int quick;  /* --quick: fewer connections and rounds */
  int json;   /* --json: one JSON object on stdout */
  int rounds; /* R */
  long conns; /* C */
} opt = {0, 0, 5, 4000};

static void die(const char *what, long rc) {
  fprintf(stderr, "bench_accept: %s failed (%ld)\n", what, rc);
  exit(1);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* --- one measurement ---------------------------------------------------------- */

typedef struct server {
  int lfd;       /* the listening socket */
  int herd;      /* 1: coro_wait_fd + accept4; 0: coro_sock_accept */
  long left;     /* connections still to accept */
  long eagain;   /* failed accept4 calls (herd mode) */
  double t0, t1; /* first and last accept */
} server;

static void *acceptor(void *arg) {
  server *s = arg;
  while (s->left > 0) {
    int fd;
    if (s->herd) { /* the old coro_sock_accept: accept4, on EAGAIN park, retry */
      fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EBADF) return NULL; /* closed while this one was woken */
        if (errno != EAGAIN) die("accept4", errno);
        s->eagain++;
        if (coro_wait_fd(s->lfd, CORO_READ, -1) < 0) return NULL; /* closed: done */
        continue;
      }
    } else {
      fd = coro_sock_accept(s->lfd, NULL, NULL, -1);
      if (fd == -EBADF) return NULL;
      if (fd < 0) die("coro_sock_accept", fd);
    }
    if (write(fd, "a", 1) != 1) die("write", errno); /* the client waits for it */
    close(fd);
    if (s->t0 == 0) s->t0 = now_ns();
    if (--s->left == 0) {
      s->t1 = now_ns();
      coro_fd_close(s->lfd); /* wakes the others with -EBADF */
    }
  }
  return NULL;
}

typedef struct client {
  int port;   /* where to connect */
  long conns; /* how many times */
} client;

static void *client_thread(void *arg) {
  client *c = arg;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct linger lg = {1, 0};
  for (long i = 0; i < c->conns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket", errno);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) die("connect", errno);
    char b;
    if (read(fd, &b, 1) != 1) die("read", errno); /* accepted: the next one may come */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
  }
  return NULL;
}

typedef struct job {
  int herd, acceptors; /* the row */
  double ns;           /* result: ns per connection */
  double eagain;       /* failed accepts per connection */
  char got[16];        /* the backend the thread got */
} job;

static void *job_thread(void *arg) {
  job *j = arg;
  const char *b = coro_io_backend();
  snprintf(j->got, sizeof(j->got), "%s", b ? b : "none");
  server s = {.herd = j->herd, .left = opt.conns};
  s.lfd = coro_tcp_listen("127.0.0.1", 0, 0, -1);
  if (s.lfd < 0) die("coro_tcp_listen", s.lfd);
  for (int i = 0; i < j->acceptors; i++)
    if (coro_spawn(NULL, acceptor, &s, NULL)) die("spawn", i);
  client c = {coro_sock_port(s.lfd), opt.conns};
  pthread_t th;
  if (pthread_create(&th, NULL, client_thread, &c)) die("pthread_create", 0);
  int rc = coro_run();
  if (rc) die("coro_run", rc);
  pthread_join(th, NULL);
  j->ns = (s.t1 - s.t0) / (double)(opt.conns - 1);
  j->eagain = (double)s.eagain / (double)opt.conns;
  return NULL;
}

static const char *const backend_name[2] = {"epoll", "io_uring"};
static const int acceptors[3] = {1, 8, 64};

static double measure(int herd, int n, int backend, char *got, double *eagain) {
  setenv("CORO_IO_BACKEND", backend_name[backend], 1); /* read by the new thread */
  job j = {.herd = herd, .acceptors = n};
  pthread_t th;
  if (pthread_create(&th, NULL, job_thread, &j)) die("pthread_create", 0);
  pthread_join(th, NULL);
  if (got) snprintf(got, 16, "%s", j.got);
  if (eagain) *eagain = j.eagain;
  return j.ns;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      opt.quick = 1;
      opt.rounds = 3;
      opt.conns = 1000;
    } else if (strcmp(argv[i], "--json") == 0) {
      opt.json = 1;
    } else {
      fprintf(stderr, "usage: bench_accept [--quick] [--json]\n");
      return 2;
    }
  }
  char got[2][16];
  for (int b = 0; b < 2; b++) measure(0, 1, b, got[b], NULL); /* which backends; warm-up */
  int nb = strcmp(got[1], "io_uring") == 0 ? 2 : 1;
  static double ns[2][3][2][MAX_ROUNDS], eag[2][3][2][MAX_ROUNDS];
  for (int k = -1; k < opt.rounds; k++) /* round -1: the rest of the warm-up */
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < nb; b++)
        for (int herd = 0; herd < 2; herd++) {
          double e, v = measure(herd, acceptors[a], b, NULL, &e);
          if (k < 0) continue;
          ns[herd][a][b][k] = v;
          eag[herd][a][b][k] = e;
        }

  if (opt.json)
    printf("{\"conns\":%ld,\"io_uring\":%s", opt.conns, nb == 2 ? "true" : "false");
  else
    printf("bench_accept: %d rounds of %ld connections, ns per accepted connection, median "
           "(min..max); io_uring %s\n",
           opt.rounds, opt.conns, nb == 2 ? "available" : "refused");
  for (int b = 0; b < nb; b++)
    for (int a = 0; a < 3; a++) {
      double ratio[MAX_ROUNDS];
      for (int k = 0; k < opt.rounds; k++) ratio[k] = ns[1][a][b][k] / ns[0][a][b][k];
      if (opt.json) {
        for (int herd = 0; herd < 2; herd++)
          printf(",\"%s_%s_%d_ns\":%.1f", herd ? "herd" : "one", backend_name[b], acceptors[a],
                 median(ns[herd][a][b], opt.rounds));
        printf(",\"herd_%s_%d_eagain_per_conn\":%.2f", backend_name[b], acceptors[a],
               median(eag[1][a][b], opt.rounds));
        printf(",\"%s_%d_herd_over_one\":%.3f", backend_name[b], acceptors[a],
               median(ratio, opt.rounds));
        continue;
      }
      printf("  %-8s %2d acceptors  one %7.0f (%.0f..%.0f)  herd %7.0f (%.0f..%.0f, %.1f "
             "EAGAIN/conn)  herd/one %.2f\n",
             backend_name[b], acceptors[a], median(ns[0][a][b], opt.rounds),
             minv(ns[0][a][b], opt.rounds), maxv(ns[0][a][b], opt.rounds),
             median(ns[1][a][b], opt.rounds), minv(ns[1][a][b], opt.rounds),
             maxv(ns[1][a][b], opt.rounds), median(eag[1][a][b], opt.rounds),
             median(ratio, opt.rounds));
    }
  if (opt.json) printf("}\n");
  return 0;
}
