/* SPDX-License-Identifier: MIT */
/*
 * worker_pool.c - a pool of micro-threads fed by a buffered channel, with a
 * deadline on every job.
 *
 *     boss --jobs (buffered, 4)--> worker 1..4 --results (buffered, 10)--> boss
 *
 * The boss submits 10 jobs.  A job is "work" of a known duration, simulated
 * by coro_sleep(), and an absolute deadline on coro_now()'s clock.  A worker
 * works on a job until it is done or its deadline comes, whichever is first:
 * a job whose work would pass its deadline is abandoned there with a timeout
 * result.  The durations and deadlines are chosen so that no outcome depends
 * on the machine's speed: the feasible jobs take 1..3 ms with 1 s to spare,
 * the others need 50 ms and have 5 ms.
 *
 * While the job channel is full the boss waits in coro_chan_send(): that is
 * the pool's back pressure.  The result channel has room for every result, so
 * a worker never waits to hand one back while the boss is still submitting.
 * The boss then collects the results, prints them by job id, and closes the
 * job channel: the workers drain it, see -EPIPE and return, and are joined.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "coro.h"

#define MS ((int64_t)1000000) /* nanoseconds */
#define N_WORKERS 4
#define N_JOBS 10

typedef struct job {
  int id;
  int64_t work;     /* how long it takes, ns */
  int64_t deadline; /* absolute, on coro_now()'s clock */
} job;

typedef struct result {
  int id;
  int done; /* 1: done, 0: abandoned at its deadline */
} result;

typedef struct pool {
  coro_chan *jobs;    /* job, buffered */
  coro_chan *results; /* result, room for N_JOBS */
} pool;

static void *worker(void *arg) {
  pool *p = arg;
  long handled = 0;
  for (;;) {
    job j;
    int rc = coro_chan_recv(p->jobs, &j, -1);
    if (rc == -EPIPE) break; /* closed and drained: no more work */
    if (rc < 0) return coro_fail(rc);
    int64_t end = coro_now() + j.work;
    result r = {j.id, end <= j.deadline};
    rc = coro_sleep(r.done ? end : j.deadline); /* work, or give up at the deadline */
    if (rc == 0) rc = coro_chan_send(p->results, &r, -1);
    if (rc < 0) return coro_fail(rc);
    handled++;
  }
  return (void *)(intptr_t)handled;
}

/* The jobs: {id, work in ms, time allowed in ms}. */
static const struct {
  int id;
  int work_ms, allowed_ms;
} table[N_JOBS] = {
    {1, 2, 1000}, {2, 1, 1000}, {3, 50, 5},   {4, 3, 1000}, {5, 2, 1000},
    {6, 1, 1000}, {7, 50, 5},   {8, 3, 1000}, {9, 1, 1000}, {10, 50, 5},
};

static int boss(pool *p) {
  coro *workers[N_WORKERS];
  int rc = 0, n = 0;
  for (; n < N_WORKERS && rc == 0; n++) rc = coro_spawn(&workers[n], worker, p, NULL);
  if (rc < 0) n--;

  for (int i = 0; i < N_JOBS && rc == 0; i++) {
    job j = {table[i].id, table[i].work_ms * MS, coro_now() + table[i].allowed_ms * MS};
    rc = coro_chan_send(p->jobs, &j, -1); /* waits while the buffer is full */
  }

  int done[N_JOBS + 1] = {0}, got = 0;
  for (; got < N_JOBS && rc == 0; got++) {
    result r;
    rc = coro_chan_recv(p->results, &r, -1);
    if (rc == 0) done[r.id] = r.done ? 1 : -1;
  }
  for (int id = 1; id <= N_JOBS; id++) {
    if (done[id]) printf("job %d: %s\n", id, done[id] > 0 ? "done" : "timed out");
  }

  coro_chan_close(p->jobs); /* the workers see -EPIPE once it is drained */
  long total = 0;
  for (int k = 0; k < n; k++) {
    void *handled;
    int jr = coro_join(workers[k], &handled, -1);
    if (jr == 0) total += (long)(intptr_t)handled;
    if (jr < 0 && rc == 0) rc = jr;
    coro_destroy(workers[k]);
  }
  if (rc == 0) printf("%d workers handled %ld jobs\n", n, total);
  return rc;
}

static void *boss_main(void *arg) {
  int rc = boss(arg);
  return rc < 0 ? coro_fail(rc) : NULL;
}

int main(void) {
  pool p = {NULL, NULL};
  coro *b = NULL;
  int rc = coro_chan_create(&p.jobs, sizeof(job), N_WORKERS);
  if (rc == 0) rc = coro_chan_create(&p.results, sizeof(result), N_JOBS);
  if (rc == 0) rc = coro_spawn(&b, boss_main, &p, NULL);
  if (rc == 0) rc = coro_run();
  if (rc == 0) rc = coro_result(b, NULL);
  if (b) coro_destroy(b);
  if (p.jobs) coro_chan_destroy(p.jobs);
  if (p.results) coro_chan_destroy(p.results);
  if (rc < 0) {
    fprintf(stderr, "worker_pool: %s (%s)\n", coro_strerror(rc), coro_err_name(rc));
    return 1;
  }
  return 0;
}
