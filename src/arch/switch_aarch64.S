/* SPDX-License-Identifier: MIT */
/*
 * switch_aarch64.S - context switch for the AArch64 AAPCS64 ABI.
 *
 * Saves only what a callee must preserve: x19-x28, the frame pointer x29, the
 * link register x30, sp, the low halves d8-d15 of v8-v15, and fpcr.
 *
 * Resumes with `ret` (through x30): unlike x86, the AArch64 return predictor
 * is not fooled the same way, and `ret` stays valid under BTI, where a `br` to
 * a return site would fault.
 *
 * Frame on the suspended stack (176 bytes, 16-byte aligned):
 *     [sp+0]   x19 x20   [sp+16]  x21 x22   [sp+32]  x23 x24
 *     [sp+48]  x25 x26   [sp+64]  x27 x28   [sp+80]  x29 x30
 *     [sp+96]  d8  d9    [sp+112] d10 d11   [sp+128] d12 d13
 *     [sp+144] d14 d15   [sp+160] fpcr, padding
 */
        .text
        .globl  coro__context_switch
        .hidden coro__context_switch
        .type   coro__context_switch, %function
        .p2align 4
/* int coro__context_switch(coro__context *from (x0), coro__context *to (x1), int pass (w2)) */
coro__context_switch:
        .cfi_startproc
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr                /* FP rounding mode and trap enables */
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]                /* from->sp: this side is now suspended */
        ldr     x9, [x1]
        mov     sp, x9                  /* to->sp: from here on we run on the other stack */
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        mov     w0, w2                  /* `pass` is what its switch call returns */
        ret                             /* to x30: the resumed side's return address */
        .cfi_endproc
        .size   coro__context_switch, .-coro__context_switch

/*
 * First code run on a fresh stack: coro__context_make() leaves x30 pointing
 * here, the entry function in x20 and its argument in x19.
 */
        .globl  coro__context_start
        .hidden coro__context_start
        .type   coro__context_start, %function
        .p2align 4
coro__context_start:
        .cfi_startproc
        .cfi_undefined x30              /* outermost frame: debuggers stop unwinding here */
        mov     x29, #0                 /* terminate the frame-pointer chain */
        mov     x0, x19                 /* arg */
        blr     x20                     /* entry(arg): never returns */
        brk     #0                      /* an entry that returns is a broken invariant */
        .cfi_endproc
        .size   coro__context_start, .-coro__context_start

        .section .note.GNU-stack,"",%progbits
