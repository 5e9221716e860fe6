/* SPDX-License-Identifier: MIT */
/* A minimal user of the installed library: prints "3 2 1 returned". */
#include <coro.h>
#include <stdint.h>
#include <stdio.h>

static void *countdown(void *arg) {
  for (intptr_t i = (intptr_t)arg; i > 0; i--) coro_yield((void *)i, NULL);
  return NULL;
}

int main(void) {
  coro *g;
  if (coro_create(&g, countdown, (void *)3, NULL) < 0) return 1;
  CORO_FOREACH(v, g) printf("%ld ", (long)(intptr_t)v);
  printf("%s\n", coro_result(g, NULL) == 0 ? "returned" : "failed");
  return coro_destroy(g);
}
