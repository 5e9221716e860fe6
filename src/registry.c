/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the process-wide list of every thread's libcoro state, for
 * debuggers.
 *
 * Each thread keeps its coroutines in its own thread-local coro__tls (the list
 * coro__tls.all).  A debugger reading a live process or a core file finds a
 * thread-local variable only through libthread_db, which is missing for static
 * programs, for cores read on another machine and under qemu's gdbstub.  So
 * every thread that sets libcoro up is linked here too, by a plain global that
 * tools/gdb/libcoro-gdb.py finds by its symbol, coro__threads.
 *
 * Invariants: a coro__tls is linked from its thread's setup
 * (coro__thread_setup) until its thread-exit hook runs, while its memory is
 * certainly valid; the list changes only under `lock`.  In a fork's child only
 * the forking thread exists, so the child keeps only its own entry.  Nothing
 * on a coroutine path touches this: a thread pays one lock at setup and one
 * at exit.
 */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Every set-up thread's state, most recent first (the debuggers' entry point:
 * keep the name). */
coro__tls *coro__threads;

/* The first id of the next block of coroutine ids; 0 is never an id. */
static unsigned next_block = 1;
#define ID_BLOCK 1024u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void link_thread(coro__tls *t) {
  t->thread_prev = NULL;
  t->thread_next = coro__threads;
  if (coro__threads) coro__threads->thread_prev = t;
  coro__threads = t;
}

/* fork(2) with the lock held by nobody else: taken before, released after. */
static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }
static void after_fork_child(void) {
  coro__tls *t = coro__tls_get();
  coro__threads = NULL;
  if (t->thread_listed) {
    t->tid = (int)syscall(SYS_gettid);
    link_thread(t);
  }
  pthread_mutex_unlock(&lock);
}

static void setup_once(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

void coro__registry_add(coro__tls *t) {
  pthread_once(&once, setup_once);
  pthread_mutex_lock(&lock);
  t->tid = (int)syscall(SYS_gettid);
  link_thread(t);
  t->thread_listed = 1;
  pthread_mutex_unlock(&lock);
}

void coro__registry_remove(coro__tls *t) {
  pthread_mutex_lock(&lock);
  if (t->thread_listed) {
    if (t->thread_prev)
      t->thread_prev->thread_next = t->thread_next;
    else
      coro__threads = t->thread_next;
    if (t->thread_next) t->thread_next->thread_prev = t->thread_prev;
    t->thread_prev = t->thread_next = NULL;
    t->thread_listed = 0;
  }
  pthread_mutex_unlock(&lock);
}

void coro__registry_ids(coro__tls *t) {
  /* Blocks start at 1 + k * ID_BLOCK and hold ID_BLOCK - 1 ids: none is ever
   * 0, even once the counter wraps. */
  unsigned base = __atomic_fetch_add(&next_block, ID_BLOCK, __ATOMIC_RELAXED);
  t->next_id = base;
  t->id_end = base + ID_BLOCK - 1;
}
