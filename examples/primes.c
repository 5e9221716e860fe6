/* SPDX-License-Identifier: MIT */
/*
 * primes.c - the concurrent prime sieve (Go's classic), with micro-threads and
 * unbuffered channels.
 *
 *     generate --ch0--> filter(2) --ch1--> filter(3) --ch2--> filter(5) --> ...
 *
 * A generator micro-thread sends 2, 3, 4, ... into the first channel.  The
 * sieve receives from the last channel of the chain: what arrives there is
 * the next prime, since every smaller prime's filter let it through.  For each
 * prime it spawns a new filter between the last channel and a new one, which
 * drops that prime's multiples.
 *
 *     usage: primes [N]    print the first N primes (1..100000, default 20)
 *
 * At the end the chain is still running, every stage blocked in a channel:
 * the sieve cancels the generator and the filters (their pending send or
 * receive returns -ECANCELED and they finish), joins them, then closes and
 * destroys the channels, so that nothing leaks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "coro.h"

#define N_MAX 100000L

typedef struct stage {
  coro_chan *in;  /* NULL for the generator */
  coro_chan *out; /* where it sends what it lets through */
  long prime;     /* the multiples a filter drops */
} stage;

/* Send 2, 3, 4, ... to st->out until cancelled. */
static void *generate(void *arg) {
  const stage *st = arg;
  for (long i = 2;; i++) {
    int rc = coro_chan_send(st->out, &i, -1);
    if (rc < 0) return coro_fail(rc);
  }
}

/* Copy st->in to st->out, dropping the multiples of st->prime. */
static void *filter(void *arg) {
  const stage *st = arg;
  for (;;) {
    long i;
    int rc = coro_chan_recv(st->in, &i, -1);
    if (rc == 0 && i % st->prime != 0) rc = coro_chan_send(st->out, &i, -1);
    if (rc < 0) return coro_fail(rc);
  }
}

typedef struct sieve_state {
  long n;          /* primes wanted */
  coro_chan **ch;  /* ch[0] from the generator, ch[k] from the filter of the k-th prime */
  size_t nch;      /* channels created */
  stage *stages;   /* stages[0] is the generator's, stages[k] the k-th filter's */
  coro **threads;  /* the micro-threads running stages[] */
  size_t nthreads; /* micro-threads spawned */
} sieve_state;

/* Cancel every stage, wait for each to finish, then free the channels. */
static int stop_chain(sieve_state *s) {
  int rc = 0;
  for (size_t k = 0; k < s->nthreads; k++) coro_cancel(s->threads[k]);
  for (size_t k = 0; k < s->nthreads; k++) {
    int jr = coro_join(s->threads[k], NULL, -1);
    if (jr != -ECANCELED && rc == 0) rc = jr; /* a stage can only end by being cancelled */
    coro_destroy(s->threads[k]);
  }
  for (size_t k = 0; k < s->nch; k++) {
    coro_chan_close(s->ch[k]);
    if (coro_chan_destroy(s->ch[k]) < 0 && rc == 0) rc = -EBUSY;
  }
  return rc;
}

/* Spawn the stage k of the chain (the generator for k = 0). */
static int start_stage(sieve_state *s, size_t k, coro_chan *in, long prime) {
  int rc = coro_chan_create(&s->ch[s->nch], sizeof(long), 0);
  if (rc < 0) return rc;
  stage *st = &s->stages[k];
  st->in = in;
  st->out = s->ch[s->nch++];
  st->prime = prime;
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = CORO_STACK_MIN; /* a stage needs little: thousands of them may run */
  rc = coro_spawn(&s->threads[s->nthreads], k ? filter : generate, st, &attr);
  if (rc < 0) return rc;
  s->nthreads++;
  return 0;
}

static void *sieve(void *arg) {
  sieve_state *s = arg;
  int rc = start_stage(s, 0, NULL, 0);
  for (long k = 1; rc == 0 && k <= s->n; k++) {
    coro_chan *last = s->ch[s->nch - 1];
    long prime;
    rc = coro_chan_recv(last, &prime, -1);
    if (rc < 0) break;
    printf("%ld\n", prime);
    if (k < s->n) rc = start_stage(s, (size_t)k, last, prime); /* the last needs no filter */
  }
  int stop = stop_chain(s);
  if (rc == 0) rc = stop;
  return rc < 0 ? coro_fail(rc) : NULL;
}

int main(int argc, char **argv) {
  long n = 20;
  if (argc > 2) goto usage;
  if (argc == 2) {
    char *end;
    errno = 0;
    n = strtol(argv[1], &end, 10);
    if (errno || end == argv[1] || *end || n < 1 || n > N_MAX) goto usage;
  }

  sieve_state s = {0};
  s.n = n;
  s.ch = calloc((size_t)n, sizeof(*s.ch));
  s.stages = calloc((size_t)n, sizeof(*s.stages));
  s.threads = calloc((size_t)n, sizeof(*s.threads));
  int rc = -ENOMEM;
  coro *m = NULL;
  if (s.ch && s.stages && s.threads) rc = coro_spawn(&m, sieve, &s, NULL);
  if (rc == 0) rc = coro_run();
  if (rc == 0) rc = coro_result(m, NULL);
  if (m) coro_destroy(m);
  free(s.ch);
  free(s.stages);
  free(s.threads);
  fflush(stdout);
  if (rc < 0) {
    fprintf(stderr, "primes: %s (%s)\n", coro_strerror(rc), coro_err_name(rc));
    return 1;
  }
  return 0;

usage:
  fprintf(stderr, "usage: primes [N]   print the first N primes, N in 1..%ld (default 20)\n",
          N_MAX);
  return 2;
}
