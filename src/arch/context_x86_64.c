/* SPDX-License-Identifier: MIT */
/*
 * context_x86_64.c - building the first frame of a fresh x86_64 context.
 *
 * The frame mirrors what coro__context_switch() pushes, so the first switch to
 * it "returns" into coro__context_start with r12 = entry and rbx = arg:
 *
 *     stack_hi (16-byte aligned)
 *     [hi-8]  coro__context_start    popped into rcx and jumped to; rsp is then
 *                                    hi, 16-byte aligned as the ABI wants at a
 *                                    `call` (so the entry function sees the
 *                                    usual rsp = 8 mod 16)
 *     [hi-16] rbp = 0                ends the frame-pointer chain
 *     [hi-24] rbx = arg
 *     [hi-32] r12 = entry
 *     [hi-40] r13  [hi-48] r14  [hi-56] r15 = 0
 *     [hi-64] MXCSR 0x1f80, x87 CW 0x037f (the ABI's initial values)  <- sp
 */
#include <stdint.h>
#include <string.h>

#include "switch.h"

void coro__context_start(void);

void coro__context_make(coro__context *ctx, void *stack_lo, void *stack_hi, coro__entry_fn entry,
                        void *arg) {
  uint64_t *sp = (uint64_t *)stack_hi;
  (void)stack_lo;
  *--sp = (uint64_t)(uintptr_t)coro__context_start;
  *--sp = 0;                               /* rbp */
  *--sp = (uint64_t)(uintptr_t)arg;        /* rbx */
  *--sp = (uint64_t)(uintptr_t)entry;      /* r12 */
  *--sp = 0;                               /* r13 */
  *--sp = 0;                               /* r14 */
  *--sp = 0;                               /* r15 */
  *--sp = (uint64_t)0x037f << 32 | 0x1f80; /* x87 CW in the high half, MXCSR low */
  ctx->sp = sp;
}
