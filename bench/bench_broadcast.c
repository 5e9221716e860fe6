/* SPDX-License-Identifier: MIT */
/*
 * bench_broadcast.c - a chat server's broadcast, three ways side by side in
 * one run: what one write per message costs against the buffered writer.
 *
 * One sender micro-thread broadcasts rounds of MSGS messages (48 bytes each,
 * a chat line) to CLIENTS connections (AF_UNIX socket pairs); one reader
 * micro-thread per connection reads until it has every byte.  Per row, ns per
 * message delivered to one client:
 *   per_message  coro_fd_write_all for every message to every client: one
 *                system call per message and client;
 *   writer       coro_writer_write for every message (a copy into the
 *                connection's buffer), coro_writer_flush per client after
 *                each round: one system call per round and client;
 *   writev_all   batching by hand: one coro_fd_writev_all per round and
 *                client, of the round's MSGS messages (the same iovec array
 *                for every client).
 *
 * Method (as bench_io): a discarded warm-up, then R rounds (7, 5 with
 * --quick) of the three rows round-robin; each figure is the median with
 * min..max, and the ratios to per_message are paired per round.  Nothing is
 * asserted.  --json prints one JSON object on one line.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "stats.h"

#define CLIENTS 16
#define MSGS 16    /* messages per round (arriving together) */
#define MSG_LEN 48 /* bytes per message */
#define NROWS 3

enum { ROW_PER_MESSAGE, ROW_WRITER, ROW_WRITEV_ALL };
static const char *const row_key[NROWS] = {"per_message", "writer", "writev_all"};

static struct {
  int quick;   /* --quick: fewer messages and rounds */
  int json;    /* --json: one JSON object on stdout */
  int rounds;  /* measured rounds */
  long bursts; /* rounds of MSGS messages per measurement */
} opt = {0, 0, 7, 2000};

static int sv[CLIENTS][2];        /* [c][0] the server's end, [c][1] the client's */
static char msgs[MSGS][MSG_LEN];  /* the round's messages */
static struct iovec iov[MSGS];    /* the same, for writev_all */
static coro_writer *out[CLIENTS]; /* the writer row's buffers */
static int row_now;               /* the row being measured */

static void die(const char *what, long rc) {
  fprintf(stderr, "bench_broadcast: %s failed (%ld)\n", what, rc);
  exit(1);
}

static void *reader(void *arg) {
  int fd = sv[(intptr_t)arg][1];
  static char sink[65536];
  long want = opt.bursts * MSGS * MSG_LEN;
  while (want > 0) {
    ssize_t n = coro_fd_read(fd, sink, sizeof(sink), -1);
    if (n <= 0) die("read", n);
    want -= n;
  }
  return NULL;
}

static void *sender(void *arg) {
  (void)arg;
  for (long b = 0; b < opt.bursts; b++) {
    switch (row_now) {
    case ROW_PER_MESSAGE:
      for (int m = 0; m < MSGS; m++)
        for (int c = 0; c < CLIENTS; c++) {
          int rc = coro_fd_write_all(sv[c][0], msgs[m], MSG_LEN, NULL, -1);
          if (rc) die("write_all", rc);
        }
      break;
    case ROW_WRITER:
      for (int m = 0; m < MSGS; m++)
        for (int c = 0; c < CLIENTS; c++) {
          int rc = coro_writer_write(out[c], msgs[m], MSG_LEN, NULL, -1);
          if (rc) die("writer_write", rc);
        }
      for (int c = 0; c < CLIENTS; c++) {
        int rc = coro_writer_flush(out[c], -1);
        if (rc) die("writer_flush", rc);
      }
      break;
    default:
      for (int c = 0; c < CLIENTS; c++) {
        int rc = coro_fd_writev_all(sv[c][0], iov, MSGS, NULL, -1);
        if (rc) die("writev_all", rc);
      }
      break;
    }
  }
  return NULL;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One measurement of `row`: ns per message per client. */
static double measure(int row) {
  row_now = row;
  for (int c = 0; c < CLIENTS; c++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[c])) die("socketpair", c);
    if (coro_writer_create(&out[c], sv[c][0], MSGS * MSG_LEN)) die("writer_create", c);
    if (coro_spawn(NULL, reader, (void *)(intptr_t)c, NULL)) die("spawn", c);
  }
  if (coro_spawn(NULL, sender, NULL, NULL)) die("spawn", 0);
  double t0 = now_ns();
  int rc = coro_run();
  double t1 = now_ns();
  if (rc) die("coro_run", rc);
  for (int c = 0; c < CLIENTS; c++) {
    coro_writer_destroy(out[c]);
    coro_fd_close(sv[c][0]);
    coro_fd_close(sv[c][1]);
  }
  return (t1 - t0) / ((double)opt.bursts * MSGS * CLIENTS);
}

/* Median, min and max of v[0..n). */
static void stats(const double *v, int n, double *med, double *lo, double *hi) {
  *med = median(v, n);
  *lo = minv(v, n);
  *hi = maxv(v, n);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      opt.quick = 1;
      opt.rounds = 5;
      opt.bursts = 200;
    } else if (strcmp(argv[i], "--json") == 0) {
      opt.json = 1;
    } else {
      fprintf(stderr, "usage: bench_broadcast [--quick] [--json]\n");
      return 2;
    }
  }
  for (int m = 0; m < MSGS; m++) {
    snprintf(msgs[m], MSG_LEN, "<user%02d> message %02d of the round, hello all", m, m);
    msgs[m][MSG_LEN - 1] = '\n';
    iov[m].iov_base = msgs[m];
    iov[m].iov_len = MSG_LEN;
  }
  for (int r = 0; r < NROWS; r++) measure(r); /* warm-up */
  static double ns[NROWS][STATS_MAX_ROUNDS], ratio[NROWS][STATS_MAX_ROUNDS];
  for (int k = 0; k < opt.rounds; k++) {
    for (int r = 0; r < NROWS; r++) ns[r][k] = measure(r);
    for (int r = 0; r < NROWS; r++) ratio[r][k] = ns[ROW_PER_MESSAGE][k] / ns[r][k];
  }
  if (opt.json)
    printf("{\"backend\":\"%s\",\"clients\":%d,\"msgs_per_round\":%d", coro_io_backend(), CLIENTS,
           MSGS);
  else
    printf("bench_broadcast: %d clients, rounds of %d messages of %d bytes, %s; %d rounds (%s),\n"
           "ns per message per client, median (min..max), speedup over per_message (paired)\n",
           CLIENTS, MSGS, MSG_LEN, coro_io_backend(), opt.rounds, opt.quick ? "--quick" : "full");
  for (int r = 0; r < NROWS; r++) {
    double med, lo, hi, rmed, rlo, rhi;
    stats(ns[r], opt.rounds, &med, &lo, &hi);
    stats(ratio[r], opt.rounds, &rmed, &rlo, &rhi);
    if (opt.json)
      printf(",\"%s_ns\":%.1f,\"%s_speedup\":%.2f", row_key[r], med, row_key[r], rmed);
    else
      printf("  %-12s %8.1f (%.1f..%.1f)  x%.2f\n", row_key[r], med, lo, hi, rmed);
  }
  if (opt.json) printf("}\n");
  return 0;
}
