/* SPDX-License-Identifier: MIT */
/*
 * pool_primes.c - counting primes on a process pool, from coroutines.
 *
 *     pool_primes [limit] [processes]
 *
 * Counts the primes below `limit` (default 3 000 000) by trial division,
 * split into 64 ranges.  Each range is a work item: its bounds travel as
 * bytes to a worker process, which sends back its count.  One micro-thread
 * per range submits its item and parks until the answer is back, so every
 * worker is kept busy.  The same work runs on a pool of 1 process, then on a
 * pool of `processes` (default: the online CPUs); the counts must agree, the
 * times are printed for comparison (never checked: machines differ).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"

#define RANGES 64

typedef struct range {
  uint64_t lo, hi; /* [lo, hi) */
} range;

static int is_prime(uint64_t n) {
  if (n < 2) return 0;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return 0;
  return 1;
}

/* Run in a worker process: the request is a range, the response its count. */
static int count_range(const void *req, size_t len, void **resp, size_t *resp_len, void *arg) {
  (void)arg;
  range r;
  if (len != sizeof(r)) return -EINVAL;
  memcpy(&r, req, sizeof(r));
  uint64_t *count = malloc(sizeof(*count));
  if (!count) return -ENOMEM;
  *count = 0;
  for (uint64_t n = r.lo; n < r.hi; n++) *count += (uint64_t)is_prime(n);
  *resp = count;
  *resp_len = sizeof(*count);
  return 0;
}

typedef struct item {
  coro_pool *pool;
  range r;
  uint64_t count;
  int rc;
} item;

static void *submit(void *arg) {
  item *it = arg;
  void *resp;
  size_t len;
  it->rc = coro_pool_submit(it->pool, &it->r, sizeof(it->r), &resp, &len, -1);
  if (it->rc == 0) {
    memcpy(&it->count, resp, sizeof(it->count));
    free(resp);
  }
  return NULL;
}

/* Count on a pool of `procs` processes; returns the count, or -1. */
static long long count_on(int procs, uint64_t limit, double *secs) {
  coro_pool *pool;
  int rc = coro_pool_create(&pool, procs, count_range, NULL);
  if (rc < 0) {
    fprintf(stderr, "coro_pool_create: %s\n", coro_strerror(rc));
    return -1;
  }
  static item items[RANGES];
  int64_t t0 = coro_now();
  for (int i = 0; i < RANGES; i++) {
    items[i] =
        (item){pool, {limit * (uint64_t)i / RANGES, limit * (uint64_t)(i + 1) / RANGES}, 0, 0};
    coro_spawn(NULL, submit, &items[i], NULL);
  }
  coro_run();
  *secs = (double)(coro_now() - t0) / 1e9;
  coro_pool_destroy(pool);
  long long total = 0;
  for (int i = 0; i < RANGES; i++) {
    if (items[i].rc < 0) {
      fprintf(stderr, "item %d: %s\n", i, coro_strerror(items[i].rc));
      return -1;
    }
    total += (long long)items[i].count;
  }
  return total;
}

int main(int argc, char **argv) {
  long long limit = argc > 1 ? atoll(argv[1]) : 3000000;
  long procs = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
  if (limit < 1 || procs < 1 || procs > CORO_CLUSTER_MAX) {
    fprintf(stderr, "usage: pool_primes [limit >= 1] [processes 1..%d]\n", CORO_CLUSTER_MAX);
    return 2;
  }
  double t1, tn;
  long long c1 = count_on(1, (uint64_t)limit, &t1);
  long long cn = count_on((int)procs, (uint64_t)limit, &tn);
  if (c1 < 0 || cn < 0 || c1 != cn) {
    fprintf(stderr, "counts differ: %lld and %lld\n", c1, cn);
    return 1;
  }
  printf("primes below %lld: %lld\n", limit, c1);
  printf("1 process:   %.3f s\n", t1);
  printf("%ld processes: %.3f s (%.2fx)\n", procs, tn, tn > 0 ? t1 / tn : 0.0);
  return 0;
}
