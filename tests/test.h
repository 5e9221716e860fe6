/* SPDX-License-Identifier: MIT */
/*
 * test.h - the test harness: TEST(name) cases and asserts that print both sides.
 *
 * Each test file is one program.  Run with no argument it runs every case in
 * it; run with a case name it runs just that one (CTest does this, so every
 * case is its own process with its own timeout).  Asserts do not depend on
 * NDEBUG.  The last line is "N passed, N failed".  Processes a case forks are
 * killed when it ends, passed or failed (tests/test_main.c): a failing case
 * fails at once, not at its timeout.
 */
#ifndef CORO_TEST_H
#define CORO_TEST_H

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test__register(const char *name, test_fn fn);
void test__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define TEST(name)                                                                                 \
  static void test_##name(void);                                                                   \
  __attribute__((constructor)) static void test_register_##name(void) {                            \
    test__register(#name, test_##name);                                                            \
  }                                                                                                \
  static void test_##name(void)

#define ASSERT_TRUE(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) test__fail(__FILE__, __LINE__, "ASSERT_TRUE(%s)", #cond);                         \
  } while (0)

#define ASSERT_EQ(a, b)                                                                            \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    if (a_ != b_)                                                                                  \
      test__fail(__FILE__, __LINE__, "ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_);           \
  } while (0)

#define ASSERT_NE(a, b)                                                                            \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    if (a_ == b_) test__fail(__FILE__, __LINE__, "ASSERT_NE(%s, %s): both %lld", #a, #b, a_);      \
  } while (0)

#define ASSERT_PTR_EQ(a, b)                                                                        \
  do {                                                                                             \
    const void *a_ = (const void *)(a), *b_ = (const void *)(b);                                   \
    if (a_ != b_)                                                                                  \
      test__fail(__FILE__, __LINE__, "ASSERT_PTR_EQ(%s, %s): %p != %p", #a, #b, a_, b_);           \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                         \
      test__fail(__FILE__, __LINE__, "ASSERT_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b,            \
                 a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                          \
  } while (0)

/* File descriptors open in this process now (entries of /proc/self/fd, the
 * directory's own included): compare two counts to see an fd left behind. */
static inline int test_open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  ASSERT_TRUE(d != NULL);
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* Pointer <-> small integer, for passing values through void *. */
#define IV(n) ((void *)(intptr_t)(n))
#define VI(p) ((long long)(intptr_t)(p))

#endif
