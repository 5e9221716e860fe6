/* SPDX-License-Identifier: MIT */
/*
 * seed_probe.c - a helper of tests/seeds.c, not a test: prints the order in
 * which micro-threads take their turns, as CORO_SCHED_SEED (read once per
 * process) leaves it.
 *
 * Six micro-threads (a..f) each take four turns, yielding between them; a
 * select among three ready channels runs after them.  Two threads each run
 * that scheduler, one after the other, and print one line each:
 *     <turns as letters> <the cases select chose>
 * FIFO order gives "abcdefabcdef..." on both lines.  With --seed=N each
 * thread calls coro_sched_seed(N) before its first coro_run.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"

#define NTHREADS 6
#define NTURNS 4

static __thread char order[NTHREADS * NTURNS + 32];
static __thread size_t norder;

static void *turns(void *arg) {
  for (int i = 0; i < NTURNS; i++) {
    order[norder++] = *(const char *)arg;
    coro_sched_yield();
  }
  return NULL;
}

/* Eight selects over three channels that always have an element ready. */
static void *selects(void *arg) {
  (void)arg;
  coro_chan *ch[3];
  for (int i = 0; i < 3; i++) coro_chan_create(&ch[i], sizeof(int), 8);
  order[norder++] = ' ';
  for (int k = 0; k < 8; k++) {
    int v = k, got[3];
    for (int i = 0; i < 3; i++) coro_chan_send(ch[i], &v, 0);
    coro_sel cases[3];
    for (int i = 0; i < 3; i++)
      cases[i] = (coro_sel){.ch = ch[i], .op = CORO_SEL_RECV, .elem = &got[i]};
    int chosen = coro_chan_select(cases, 3, 0);
    order[norder++] = (char)('0' + chosen);
    for (int i = 0; i < 3; i++) /* drain, so every channel has one again */
      while (coro_chan_recv(ch[i], &got[i], 0) == 0) {}
  }
  for (int i = 0; i < 3; i++) coro_chan_destroy(ch[i]);
  return NULL;
}

static const char *seed_arg; /* N of --seed=N, or NULL */

static void *one_scheduler(void *arg) {
  static const char *const names[NTHREADS] = {"a", "b", "c", "d", "e", "f"};
  (void)arg;
  norder = 0;
  if (seed_arg && coro_sched_seed(strtoull(seed_arg, NULL, 10)) < 0) return "seed refused";
  for (int i = 0; i < NTHREADS; i++) coro_spawn(NULL, turns, (void *)(uintptr_t)names[i], NULL);
  if (coro_run() < 0) return "run failed";
  coro_spawn(NULL, selects, NULL, NULL);
  if (coro_run() < 0) return "run failed";
  order[norder] = '\0';
  printf("%s\n", order);
  fflush(stdout);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1 && strncmp(argv[1], "--seed=", 7) == 0) seed_arg = argv[1] + 7;
  for (int i = 0; i < 2; i++) {
    pthread_t th;
    void *err = NULL;
    if (pthread_create(&th, NULL, one_scheduler, NULL) != 0) return 2;
    pthread_join(th, &err);
    if (err) {
      fprintf(stderr, "seed_probe: %s\n", (const char *)err);
      return 1;
    }
  }
  return 0;
}
