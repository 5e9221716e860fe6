/* SPDX-License-Identifier: MIT */
/* test_main.c - the runner behind TEST(): one case by name, or all of them. */
#include <stdarg.h>

#include "test.h"

#define MAX_TESTS 512

static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int ntests;

void test__register(const char *name, test_fn fn) {
  if (ntests == MAX_TESTS) {
    fprintf(stderr, "too many tests\n");
    exit(2);
  }
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  ntests++;
}

void test__fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stdout);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    for (int i = 0; i < ntests; i++) {
      if (strcmp(tests[i].name, argv[1]) == 0) {
        tests[i].fn();
        printf("1 passed, 0 failed\n");
        return 0;
      }
    }
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  /* All cases in this one process: the first failure exits non-zero. */
  for (int i = 0; i < ntests; i++) {
    printf("%s\n", tests[i].name);
    fflush(stdout);
    tests[i].fn();
  }
  printf("%d passed, 0 failed\n", ntests);
  return 0;
}
