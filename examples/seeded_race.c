/* SPDX-License-Identifier: MIT */
/*
 * seeded_race.c - a check-then-act race between micro-threads that FIFO
 * order hides, found by running the same program under many scheduler seeds
 * (coro_sched_seed), and fixed with a coroutine mutex.
 *
 * A bank account holds 100.  Three tellers serve one customer each, who wants
 * to withdraw 60, 50 and 30.  A teller first looks the customer up, then
 * checks the balance, has the withdrawal approved by the audit service (a
 * micro-thread answering requests over a channel) and only then takes the
 * money:
 *
 *     teller:  look up --> check balance --> audit round trip --> debit
 *                          `------------ not atomic: the audit parks ----'
 *
 * The look-ups take different times (the first customer is known at once,
 * the others need one or two look-ups at the audit service), so in FIFO order
 * each teller checks the balance only after the previous one has debited it:
 * 60 is paid, 50 refused (40 left), 30 paid, and the balance never goes below
 * zero.  But nothing in libcoro's documentation promises that
 * order: with a seed, the micro-threads runnable in a round run in any order,
 * and some seeds let a teller check the balance while another one sits in its
 * audit between its own check and its debit.  Both pay out: the balance goes
 * negative.
 *
 * The fix holds the account's coroutine mutex from the check to the debit,
 * so no check can come between another teller's check and its debit.
 *
 * The program runs the race once in FIFO order, then the buggy version under
 * seeds 1..N (default 100, or the first argument) until one breaks the
 * invariant "balance >= 0", then the fixed version under the same N seeds.
 * Its output is the same on every run: the seeds decide everything, nothing
 * depends on time.  Exit status 0 when a seed found the bug and none broke
 * the fix; 1 otherwise.  With CORO_SCHED_SEED=<n> in the environment the
 * first run takes that seed instead of FIFO order: CORO_SCHED_SEED=5 replays
 * the broken day that seed 5 found (and exits 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "coro.h"

#define NTELLERS 3

static const int withdrawal[NTELLERS] = {60, 50, 30}; /* what each customer asks for */
static const int lookups[NTELLERS] = {0, 1, 2};       /* audit calls to find the customer */

/* The bank: one account, the audit service's request channel, the mutex of
 * the fixed version. */
static int balance;
static coro_chan *audit_requests; /* of coro_chan *: where to send the answer */
static coro_mutex *account_lock;
static int use_lock; /* 1: the fixed version */

/* The audit service: answers every request (1 = approved) until closed. */
static void *auditor(void *arg) {
  (void)arg;
  coro_chan *reply;
  while (coro_chan_recv(audit_requests, &reply, -1) == 0) {
    int ok = 1;
    coro_chan_send(reply, &ok, -1);
  }
  return NULL;
}

/* One round trip to the audit service: the teller parks until it answers. */
static int audit(coro_chan *reply) {
  int ok = 0;
  if (coro_chan_send(audit_requests, &reply, -1) < 0) return 0;
  if (coro_chan_recv(reply, &ok, -1) < 0) return 0;
  return ok;
}

static void *teller(void *arg) {
  int i = (int)(intptr_t)arg;
  coro_chan *reply;
  if (coro_chan_create(&reply, sizeof(int), 1) < 0) return NULL;
  for (int k = 0; k < lookups[i]; k++) audit(reply); /* find the customer */
  if (use_lock) coro_mutex_lock(account_lock, -1);
  if (balance >= withdrawal[i]) { /* check ... */
    if (audit(reply))             /* ... (parks: other tellers run) ... */
      balance -= withdrawal[i];   /* ... then act */
  }
  if (use_lock) coro_mutex_unlock(account_lock);
  coro_chan_destroy(reply);
  return NULL;
}

/* Closes the audit service once every teller has finished. */
static void *closer(void *arg) {
  coro **tellers = arg;
  for (int i = 0; i < NTELLERS; i++) {
    coro_join(tellers[i], NULL, -1);
    coro_destroy(tellers[i]);
  }
  coro_chan_close(audit_requests);
  return NULL;
}

/* One day at the bank; returns the closing balance, or INT32_MIN if the
 * library refused something. */
static int bank_day(int fixed) {
  coro *tellers[NTELLERS];
  balance = 100;
  use_lock = fixed;
  if (coro_chan_create(&audit_requests, sizeof(coro_chan *), 0) < 0) return INT32_MIN;
  if (coro_mutex_create(&account_lock) < 0) return INT32_MIN;
  if (coro_spawn(NULL, auditor, NULL, NULL) < 0) return INT32_MIN;
  for (int i = 0; i < NTELLERS; i++)
    if (coro_spawn(&tellers[i], teller, (void *)(intptr_t)i, NULL) < 0) return INT32_MIN;
  if (coro_spawn(NULL, closer, tellers, NULL) < 0) return INT32_MIN;
  if (coro_run() < 0) return INT32_MIN;
  coro_mutex_destroy(account_lock);
  coro_chan_destroy(audit_requests);
  return balance;
}

int main(int argc, char **argv) {
  int nseeds = argc > 1 ? atoi(argv[1]) : 100;
  if (nseeds < 1) {
    fprintf(stderr, "usage: seeded_race [SEEDS >= 1]\n");
    return 2;
  }

  const char *env = getenv("CORO_SCHED_SEED"); /* read by the first coro_run */
  int fifo = bank_day(0);
  if (env)
    printf("CORO_SCHED_SEED=%s: balance %d (%s)\n", env, fifo,
           fifo >= 0 ? "invariant holds" : "BROKEN");
  else
    printf("FIFO order: balance %d (%s)\n", fifo, fifo >= 0 ? "invariant holds" : "BROKEN");

  int found = 0, broken = 0;
  for (int seed = 1; seed <= nseeds; seed++) {
    coro_sched_seed((uint64_t)seed);
    int b = bank_day(0);
    if (b < 0) {
      broken++;
      if (!found) {
        found = seed;
        printf("seed %d breaks it: balance %d (CORO_SCHED_SEED=%d replays it)\n", seed, b, seed);
      }
    }
  }
  printf("without the lock: %d of %d seeds break the invariant\n", broken, nseeds);

  int fixed_broken = 0;
  for (int seed = 1; seed <= nseeds; seed++) {
    coro_sched_seed((uint64_t)seed);
    if (bank_day(1) < 0) fixed_broken++;
  }
  printf("with the account's mutex: %d of %d seeds break it\n", fixed_broken, nseeds);
  return found && !fixed_broken && fifo >= 0 ? 0 : 1;
}
