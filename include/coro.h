/* SPDX-License-Identifier: MIT */
/*
 * coro.h - libcoro, stackful coroutines for C with Python's generator semantics.
 *
 * The header coro.h is the single source of truth for the API: every public
 * call is declared in it with what it does and every error code it returns,
 * and the manual pages (libcoro(7), coro_send(3), ...) are generated from it.
 *
 * Concepts
 * --------
 * A coroutine is a function running on its own stack that can pause (yield)
 * and be resumed later, inside one OS thread.  It is driven asymmetrically,
 * like a Python generator: whoever calls coro_send() resumes it, and its next
 * coro_yield() (or its return) hands control and a value back to that caller.
 *
 *   Python                          libcoro
 *   g = gen(arg)                    coro_create(&g, gen, arg, NULL)
 *   v = next(g)                     coro_next(g, &v)
 *   v = g.send(x)                   coro_send(g, x, &v)
 *   x = yield v                     coro_yield(v, &x)
 *   return r                        return r;           (from the body)
 *   raise E                         return coro_fail(E);
 *   v = g.throw(E)                  coro_throw(g, E, &v)
 *   g.close()                       coro_close(g)
 *   r = yield from sub              coro_yield_from(sub, &r)
 *   for v in g: ...                 CORO_FOREACH(v, g) { ... }
 *   try: ... finally: ...           coro_cleanup_push(fn, arg)
 *   inspect.getgeneratorstate(g)    coro_get_state(g)
 *
 * Values are untyped pointers; NULL plays the part of Python's None.
 * Errors ("exceptions") are negative int codes: a negated errno (-EIO) or one of
 * the CORO_E* codes below.  A thrown code arrives in the coroutine as the
 * return value of the coro_yield() it is paused in.
 *
 * Resume is three-way, as in Lua: coro_send(), coro_next() and coro_throw()
 * return CORO_YIELDED (the coroutine paused and handed out a value),
 * CORO_RETURNED (it finished and handed out its return value: Python's
 * StopIteration.value), or a negative code (it finished with that error, or the
 * call was refused and nothing changed: see each call).
 *
 * Threads
 * -------
 * A coroutine belongs to the thread that created it and never migrates.  Any
 * call on a coroutine from another thread returns -EPERM.  Several threads may
 * each run their own coroutines; nothing here takes a lock.
 *
 * Stacks
 * ------
 * Each coroutine runs on an mmap'd stack that is reserved, not committed: an
 * idle coroutine costs only the pages it touched.  A guard page below every
 * stack turns an overflow into a report naming the coroutine ("stack overflow
 * in coroutine 'name'") and an abort, never silent corruption.  Freed stacks are
 * pooled per thread and reused with their mapping, guard and touched pages, so
 * a burst of coroutines after another costs no system call; coro_stack_trim()
 * gives the pool back.  See coro_stack_guard_mode() for how guards are kept
 * within the kernel's limit on memory mappings.
 *
 * Errors
 * ------
 * Every call that can fail returns an int: >= 0 on success, a negated errno or
 * a CORO_E* code on failure.  No call aborts on bad input; libcoro aborts only
 * on a broken invariant (a smashed stack canary, a stack overflow).  errno is
 * left alone: it belongs to the thread, not to the coroutine.
 *
 * C++
 * ---
 * The header compiles as C++ (extern "C", no C-style cast in its macros).  A
 * coroutine body may throw and catch exceptions within itself, but an
 * exception that escapes the body calls std::terminate: the unwinder walks
 * the coroutine's own stack, whose outermost frame (the switch's entry) ends
 * the unwind information, and never reaches the resumer's frames, which are
 * on another stack, so it finds no handler.  Catch everything in the body and
 * turn it into an error (`return coro_fail(-EIO);`, say).
 */
/*
 * The header's files: <coro.h> includes the files of include/coro/, one
 * concept each, in the order of the manual (cmake/headers.cmake reads it from
 * the lines below: tools/man.awk takes the files in that order), then declares
 * the version.  Each file also compiles alone, but programs include <coro.h>.
 */
#ifndef CORO_H
#define CORO_H

/* In the manual's order (see above), which clang-format must not sort: */
/* clang-format off */
#include "coro/core.h"       /* coroutines: create, resume, yield; state, name, stack; errors */
#include "coro/sched.h"      /* micro-threads, the cooperative scheduler, groups */
#include "coro/chan.h"       /* channels */
#include "coro/sync.h"       /* mutexes, condition variables, semaphores, wait groups */
#include "coro/io.h"         /* file descriptors, sockets, watches; signals */
#include "coro/offload.h"    /* blocking calls on a thread pool */
#include "coro/net.h"        /* TCP, buffered readers and writers */
#include "coro/proc.h"       /* the pre-fork runner, the process pool */
#include "coro/introspect.h" /* the live coroutines */
/* clang-format on */

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================== */
/* Version                                                                    */
/* ========================================================================== */

/* The version of this header (CMakeLists.txt's project version says the same:
 * test version.header_matches_cmake).  CORO_VERSION is one number,
 * (MAJOR << 16) | (MINOR << 8) | PATCH, to compare with >=. */
#define CORO_VERSION_MAJOR 0
#define CORO_VERSION_MINOR 2
#define CORO_VERSION_PATCH 0
#define CORO_VERSION_STRING "0.2.0"
#define CORO_VERSION ((CORO_VERSION_MAJOR << 16) | (CORO_VERSION_MINOR << 8) | CORO_VERSION_PATCH)

/* The version of the library running, which may be newer than the header a
 * program was compiled with (a shared library upgraded in place): CORO_VERSION
 * as it was when the library was built.  Never fails. */
CORO_API unsigned coro_version(void);

/* The same as a string, "MAJOR.MINOR.PATCH" (CORO_VERSION_STRING of the
 * library's build); never NULL, never fails. */
CORO_API const char *coro_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* CORO_H */
