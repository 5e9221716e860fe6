/* SPDX-License-Identifier: MIT */
/* The parent project's program: a generator through libcoro, then its name. */
#include <coro.h>
#include <stdint.h>
#include <stdio.h>

static void *count(void *arg) {
  for (intptr_t i = 1; i <= (intptr_t)arg; i++) coro_yield((void *)i, NULL);
  return NULL;
}

int main(void) {
  coro *g;
  if (coro_create(&g, count, (void *)3, NULL) < 0) return 1;
  CORO_FOREACH(v, g) printf("%ld ", (long)(intptr_t)v);
  printf("%s\n", PROGRAM);
  return coro_destroy(g);
}
