/* SPDX-License-Identifier: MIT */
/*
 * switch_ucontext.c - portable fallback on makecontext/swapcontext.
 *
 * Correct everywhere POSIX ucontext exists, but each switch saves and restores
 * the signal mask with a system call (about 2 us here, 200x the assembly).
 * The signal mask is the thread's, as with the assembly switches, not each
 * context's: before swapcontext installs the mask saved in `to`, that is
 * refreshed with the thread's current one (one more system call), or a signal
 * blocked by one coroutine (coro_signal_wait) would be unblocked by the next
 * switch and could end the process.
 * Built when CORO_UCONTEXT=ON, or on an architecture without assembly.
 *
 * makecontext() passes only int arguments, so the entry function and its
 * argument travel through the context itself.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "switch.h"

typedef struct start_args {
  coro__entry_fn entry; /* function to call on the new stack */
  void *arg;            /* its argument */
} start_args;

/* Set by coro__context_make, read once by start(): a fresh context is always
 * entered right after the switch to it, on the same thread. */
static _Thread_local start_args pending_start[1];

/* The `pass` of the last switch on this thread, read by the side it resumed. */
static _Thread_local int passed;

static void start(void) {
  start_args a = pending_start[0];
  a.entry(a.arg);
  abort(); /* an entry that returns is a broken invariant */
}

void coro__context_make(coro__context *ctx, void *stack_lo, void *stack_hi, coro__entry_fn entry,
                        void *arg) {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack_lo;
  ctx->uc.uc_stack.ss_size = (size_t)((char *)stack_hi - (char *)stack_lo);
  ctx->uc.uc_link = NULL;
  ctx->sp = NULL;
  makecontext(&ctx->uc, start, 0);
  ctx->entry = entry;
  ctx->arg = arg;
}

int coro__context_switch(coro__context *from, coro__context *to, int pass) {
  if (to->entry) {
    pending_start[0].entry = to->entry;
    pending_start[0].arg = to->arg;
    to->entry = NULL;
  }
  passed = pass;
  pthread_sigmask(SIG_SETMASK, NULL, &to->uc.uc_sigmask);
  swapcontext(&from->uc, &to->uc);
  return passed;
}
