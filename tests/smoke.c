/* SPDX-License-Identifier: MIT */
#include "coro.h"
#include "test.h"

static void *counter(void *arg) {
  long n = (long)(intptr_t)arg;
  for (long i = 0; i < n; i++) coro_yield(IV(i), NULL);
  return IV(100);
}

TEST(count_to_three) {
  coro *g;
  ASSERT_EQ(coro_create(&g, counter, IV(3), NULL), 0);
  void *v;
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
  }
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 100);
  ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
  ASSERT_EQ(coro_destroy(g), 0);
}
