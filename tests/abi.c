/* SPDX-License-Identifier: MIT */
/*
 * abi.c - what the context switch owes the compiler, per the platform ABI.
 *
 * These are the bugs a switch written in assembly gets wrong silently: a body
 * started on a misaligned stack (SSE spills fault, or worse, work by luck),
 * callee-saved registers clobbered across a switch, floating-point control
 * state leaking from one coroutine into another.
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "coro.h"
#include "test.h"

/* The compiler trusts the ABI's 16-byte stack alignment when it places this
 * local, so its address shows the alignment the body really got.  noinline
 * and the escape through a volatile pointer keep the check from being folded. */
static void *volatile escape;

__attribute__((noinline)) static int aligned_here(void) {
  long double local = 1.0L;
  escape = &local;
  return ((uintptr_t)escape & 15u) == 0;
}

static void *alignment_body(void *arg) {
  (void)arg;
  int ok = aligned_here();
  coro_yield(IV(ok), NULL);
  return IV(aligned_here());
}

TEST(body_runs_on_abi_aligned_stack) {
  for (int i = 0; i < 4; i++) {
    coro *c;
    ASSERT_EQ(coro_create(&c, alignment_body, NULL, NULL), 0);
    void *ok;
    ASSERT_EQ(coro_next(c, &ok), CORO_YIELDED);
    ASSERT_EQ(VI(ok), 1);
    ASSERT_EQ(coro_next(c, &ok), CORO_RETURNED);
    ASSERT_EQ(VI(ok), 1);
    ASSERT_EQ(coro_destroy(c), 0);
  }
}

/* Many values live across each yield: at -O2 they sit in callee-saved
 * registers, which the switch must restore. */
static void *registers_body(void *arg) {
  volatile long seed = (long)(intptr_t)arg;
  long a = seed + 1, b = seed * 3, c = seed ^ 0x55, d = seed - 7, e = seed * seed, f = seed + 11;
  double x = (double)seed * 0.5, y = (double)seed + 0.25;
  for (int i = 0; i < 100; i++) {
    coro_yield(NULL, NULL);
    a += 1;
    b += 3;
    c ^= 1;
    d -= 1;
    e += 2;
    f += 5;
    x += 0.5;
    y *= 1.0;
  }
  long sum = a + b + c + d + e + f + (long)x + (long)y;
  return IV(sum);
}

static long expected_sum(long seed) {
  long a = seed + 1 + 100, b = seed * 3 + 300, c = seed ^ 0x55, d = seed - 7 - 100;
  long e = seed * seed + 200, f = seed + 11 + 500;
  double x = (double)seed * 0.5 + 50.0, y = (double)seed + 0.25;
  return a + b + c + d + e + f + (long)x + (long)y;
}

TEST(callee_saved_registers_survive_switches) {
  coro *c[3];
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(coro_create(&c[i], registers_body, IV(i * 1000 + 17), NULL), 0);
  /* Interleave them so each switch lands on different register contents. */
  long live_main = 424242;
  for (int round = 0; round < 100; round++)
    for (int i = 0; i < 3; i++) ASSERT_EQ(coro_next(c[i], NULL), CORO_YIELDED);
  for (int i = 0; i < 3; i++) {
    void *sum;
    ASSERT_EQ(coro_next(c[i], &sum), CORO_RETURNED);
    ASSERT_EQ(VI(sum), expected_sum(i * 1000 + 17));
    ASSERT_EQ(coro_destroy(c[i]), 0);
  }
  ASSERT_EQ(live_main, 424242);
}

/* The FP rounding mode is part of the saved control state: a coroutine that
 * changes it keeps its own, and does not change its resumer's. */
static void *rounding_body(void *arg) {
  (void)arg;
  fesetround(FE_UPWARD);
  coro_yield(IV(fegetround()), NULL);
  return IV(fegetround());
}

TEST(fp_rounding_mode_is_per_coroutine) {
  ASSERT_EQ(fesetround(FE_TONEAREST), 0);
  coro *c;
  ASSERT_EQ(coro_create(&c, rounding_body, NULL, NULL), 0);
  void *mode;
  ASSERT_EQ(coro_next(c, &mode), CORO_YIELDED);
  ASSERT_EQ(VI(mode), FE_UPWARD);
  ASSERT_EQ(fegetround(), FE_TONEAREST);
  fesetround(FE_DOWNWARD);
  ASSERT_EQ(coro_next(c, &mode), CORO_RETURNED);
  ASSERT_EQ(VI(mode), FE_UPWARD);
  ASSERT_EQ(fegetround(), FE_DOWNWARD);
  fesetround(FE_TONEAREST);
  ASSERT_EQ(coro_destroy(c), 0);
}

/* A fresh coroutine starts with the ABI's default FP environment, whatever
 * its creator had set. */
static void *default_rounding_body(void *arg) {
  (void)arg;
  return IV(fegetround());
}

TEST(fresh_coroutine_starts_with_default_rounding) {
  fesetround(FE_TOWARDZERO);
  coro *c;
  ASSERT_EQ(coro_create(&c, default_rounding_body, NULL, NULL), 0);
  void *mode;
  ASSERT_EQ(coro_next(c, &mode), CORO_RETURNED);
  fesetround(FE_TONEAREST);
#ifndef CORO_USE_UCONTEXT
  ASSERT_EQ(VI(mode), FE_TONEAREST);
#endif
  ASSERT_EQ(coro_destroy(c), 0);
}

/* The signal mask, unlike the FP control state, belongs to the thread: a
 * signal one coroutine blocks stays blocked after it yields (the ucontext
 * fallback must not let swapcontext bring back each context's old mask,
 * which would let coro_signal_wait's blocked signal kill the process). */
static void *blocks_sigusr1(void *arg) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
  coro_yield(NULL, NULL);
  sigset_t now;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
  ASSERT_EQ(sigismember(&now, SIGUSR2), 1); /* what main blocked meanwhile */
  return arg;
}

TEST(signal_mask_is_the_threads_across_switches) {
  coro *c;
  ASSERT_EQ(coro_create(&c, blocks_sigusr1, NULL, NULL), 0);
  ASSERT_EQ(coro_next(c, NULL), CORO_YIELDED);
  sigset_t now, s;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
  ASSERT_EQ(sigismember(&now, SIGUSR1), 1);
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
  ASSERT_EQ(coro_next(c, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(c), 0);
}
