/* SPDX-License-Identifier: MIT */
/*
 * timers_big.c - a million detached micro-threads on 16 KiB stacks, each
 * sleeping until its own now + (i % 1000) microseconds: the timer heap holds
 * up to a million entries at once.  Every one must run, none may wake before
 * its deadline, and coro_run() must return 0 once the last has finished.
 * Labelled no_valgrind (far too slow there).  Nothing here asserts a duration.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "coro.h"
#include "test.h"

#define N 1000000

static long ran;      /* micro-threads that finished their sleep */
static long bad_rc;   /* coro_sleep returned something other than 0 */
static long too_soon; /* woke before the deadline */

static void *big_sleeper(void *arg) {
  int64_t deadline = coro_now() + (int64_t)(VI(arg) % 1000) * 1000;
  int rc = coro_sleep(deadline);
  if (rc != 0)
    bad_rc++;
  else if (coro_now() < deadline)
    too_soon++;
  ran++;
  return NULL;
}

TEST(million_detached_sleepers) {
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = CORO_STACK_MIN;
  for (long i = 0; i < N; i++) ASSERT_EQ(coro_spawn(NULL, big_sleeper, IV(i), &attr), 0);
  ASSERT_EQ(ran, 0); /* nothing runs before coro_run */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ran, N);
  ASSERT_EQ(bad_rc, 0);
  ASSERT_EQ(too_soon, 0);
  ASSERT_EQ(coro_run(), 0); /* nothing left */
}
