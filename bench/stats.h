/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the figures the round-robin benchmarks (bench_io, bench_accept, bench_broadcast)
 * print for each row: median, min and max of its rounds' samples.  n is at
 * most STATS_MAX_ROUNDS.
 */
#ifndef CORO_BENCH_STATS_H
#define CORO_BENCH_STATS_H

#include <stdlib.h>
#include <string.h>

#define STATS_MAX_ROUNDS 25

static int stats_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline double median(const double *v, int n) {
  double s[STATS_MAX_ROUNDS];
  memcpy(s, v, (size_t)n * sizeof(*s));
  qsort(s, (size_t)n, sizeof(*s), stats_cmp);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static inline double minv(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
  return m;
}

static inline double maxv(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

#endif
