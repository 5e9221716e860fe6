/* SPDX-License-Identifier: MIT */
/*
 * switch.h - the context-switch contract, implemented once per ABI.
 *
 * The build picks exactly one implementation file:
 *   switch_x86_64.S    x86_64 System V
 *   switch_aarch64.S   AArch64 AAPCS64
 *   switch_ucontext.c  any POSIX system (CORO_UCONTEXT=ON): slow, portable
 *
 * A context is "where a suspended stack resumes".  For the assembly switches it
 * is just the saved stack pointer: everything else a callee must preserve is
 * pushed on the suspended stack itself, so a switch touches no other memory.
 *
 * Stack of a suspended context, as the assembly leaves it (x86_64):
 *
 *     higher addresses
 *     | return address  |  <- popped and jumped to on resume
 *     | rbp rbx r12..r15|
 *     | mxcsr | x87 cw  |  <- sp saved in coro__context.sp
 *     lower addresses
 */
#ifndef CORO_ARCH_SWITCH_H
#define CORO_ARCH_SWITCH_H

#include <stddef.h>
#ifdef CORO_USE_UCONTEXT
#include <ucontext.h>
#endif

/* The function a fresh context starts in.  It must never return: a coroutine
 * ends by switching away for good. */
typedef void (*coro__entry_fn)(void *arg);

typedef struct coro__context {
  void *sp; /* saved stack pointer of the suspended side (assembly switches) */
#ifdef CORO_USE_UCONTEXT
  ucontext_t uc;        /* full machine context (fallback only) */
  coro__entry_fn entry; /* fallback: function a fresh context starts in, NULL once started */
  void *arg;            /* fallback: its argument */
#endif
} coro__context;

/* Prepare `ctx` so that the first switch to it calls entry(arg) on the stack
 * [stack_lo, stack_hi).  stack_hi must be 16-byte aligned. */
void coro__context_make(coro__context *ctx, void *stack_lo, void *stack_hi, coro__entry_fn entry,
                        void *arg);

/* Save the running context into `from` and resume `to`, which sees its own
 * pending coro__context_switch() call return `pass`.  Returns, in `from`, the
 * `pass` of whichever switch resumes it later.
 *
 * Passing the result in a register is what lets callers tail-call the switch:
 * the side that switches away does all the bookkeeping for the side it
 * resumes, so nothing runs after the switch and no `ret` executes on the
 * other side's return-stack entries (each such `ret` mispredicts). */
int coro__context_switch(coro__context *from, coro__context *to, int pass);

#endif
