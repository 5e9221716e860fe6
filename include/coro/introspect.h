/* SPDX-License-Identifier: MIT */
/*
 * coro/introspect.h - the live coroutines of a thread: a snapshot of each
 * (state, what it waits on, its stack) and a table of them for a debugger.
 *
 * Part of the API <coro.h> declares: programs include <coro.h>, which
 * includes every file of include/coro/ in the order of the manual; this one
 * also compiles alone.  Each banner section below is documentation as much
 * as code: tools/man.awk makes the manual pages of its calls from it.
 */
#ifndef CORO_INTROSPECT_H
#define CORO_INTROSPECT_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================== */
/* Introspection: the live coroutines                                         */
/* ========================================================================== */

/* A snapshot of one live coroutine, as coro_list() reports it. */
typedef struct coro_info {
  coro *handle;             /* the coroutine (valid as long as it lives) */
  char name[CORO_NAME_MAX]; /* its name ("" if none) */
  int state;                /* as coro_get_state() */
  int micro_thread;         /* 1: spawned on the scheduler; 0: a generator */
  int cancelled;            /* 1: a micro-thread that was cancelled */
  const char *waiting_on;   /* what it waits for, or NULL: "sleep", "join",
                               "chan send", "chan recv", "select", "mutex",
                               "cond", "sem", "wait group", "group",
                               "fd read", "fd write", "fd" (both), "offload", "yield"
                               (runnable again after coro_sched_yield or
                               coro_yield), "start" (spawned, not started),
                               "chain" (a coroutine of its resume chain waits:
                               wait_object is that coroutine) */
  const void *wait_object;  /* the channel, lock, group or coroutine waited on */
  int64_t deadline;         /* when its wait times out, or -1 */
  size_t stack_size;        /* usable stack bytes */
  size_t stack_used;        /* bytes of stack in use now, from its top down to
                               its stack pointer (the coroutine object itself
                               sits at the top); 0 before it starts */
  size_t stack_high_water;  /* the deepest its stack has been, to the page: the
                               span from the top down to the lowest page the
                               kernel has committed (a reused stack may show a
                               former owner's depth); copy-stack mode: the
                               size of its saved-frames buffer: the deepest it
                               was saved at, to 16 bytes, until a save needs
                               under a quarter of it (a buffer of 1 KiB or
                               more is then given back for one that fits) */
  int copy_stack;           /* 1: copy-stack mode (stack_size is the shared
                               stack's, CORO_STACK_SHARED) */
  size_t stack_saved;       /* copy-stack mode: bytes of its frames kept in the
                               heap now (0 while they are on the shared stack,
                               and before it starts) */
} coro_info;

/* List the live coroutines of the calling thread -- created and not yet
 * destroyed: generators and micro-threads, newest first -- into out[0..n-1].
 * Returns how many are live, which may exceed n (call again with more room);
 * n 0 (out may be NULL) only counts.  -EINVAL if out is NULL and n is not 0. */
CORO_API long coro_list(coro_info *out, size_t n);

/* Write a table of coro_list() to fd, one line per coroutine: name, state,
 * what it waits on, stack used / high-water / size.  Safe to call from a
 * debugger.  (In gdb, and in a core file, tools/gdb/libcoro-gdb.py's
 * `info coroutines` shows every thread's coroutines and `coroutine ID bt`
 * their backtraces without calling into the process: see README.md.)
 * Returns the number of coroutines, or -EINVAL (fd < 0), or the negated
 * errno of a failed write (-EBADF, -EPIPE, -EIO, -ENOSPC...). */
CORO_API long coro_dump(int fd);

#ifdef __cplusplus
}
#endif

#endif /* CORO_INTROSPECT_H */
