/* SPDX-License-Identifier: MIT */
/*
 * interleave.c - the article's first program: A prints 1 2 3, B prints x y z,
 * and driven as coroutines their output interleaves:
 *
 *     1 2 x y 3 z   (one per line)
 *
 * Each function yields once, in the middle; a round-robin driver resumes every
 * coroutine that has not finished until none is left.  No threads, no locks:
 * the order is fixed by where the yields are.
 */
#include <stdio.h>

#include "coro.h"

static void *a(void *arg) {
  (void)arg;
  puts("1");
  puts("2");
  coro_yield(NULL, NULL); /* let B run */
  puts("3");
  return NULL;
}

static void *b(void *arg) {
  (void)arg;
  puts("x");
  puts("y");
  coro_yield(NULL, NULL); /* let A run */
  puts("z");
  return NULL;
}

int main(void) {
  coro *task[2];
  if (coro_create(&task[0], a, NULL, NULL) < 0 || coro_create(&task[1], b, NULL, NULL) < 0) {
    fputs("interleave: cannot create coroutines\n", stderr);
    return 1;
  }
  /* Round robin: resume each in turn until every one has finished. */
  for (int live = 2; live > 0;) {
    live = 0;
    for (int i = 0; i < 2; i++)
      if (coro_get_state(task[i]) != CORO_CLOSED && coro_next(task[i], NULL) == CORO_YIELDED)
        live++;
  }
  coro_destroy(task[0]);
  coro_destroy(task[1]);
  return 0;
}
