/* SPDX-License-Identifier: MIT */
/*
 * context_aarch64.c - building the first frame of a fresh AArch64 context.
 *
 * The frame mirrors what coro__context_switch() stores (176 bytes below
 * stack_hi), so the first switch "returns" into coro__context_start with
 * x19 = arg and x20 = entry; x29 = 0 ends the frame chain; fpcr = 0 is the
 * ABI's initial value (round to nearest, no traps).
 */
#include <stdint.h>
#include <string.h>

#include "switch.h"

void coro__context_start(void);

void coro__context_make(coro__context *ctx, void *stack_lo, void *stack_hi, coro__entry_fn entry,
                        void *arg) {
  uint64_t *frame = (uint64_t *)stack_hi - 22; /* 176 bytes */
  (void)stack_lo;
  memset(frame, 0, 22 * sizeof(*frame));
  frame[0] = (uint64_t)(uintptr_t)arg;                  /* x19 */
  frame[1] = (uint64_t)(uintptr_t)entry;                /* x20 */
  frame[11] = (uint64_t)(uintptr_t)coro__context_start; /* x30 */
  ctx->sp = frame;
}
