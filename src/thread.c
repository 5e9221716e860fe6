/* SPDX-License-Identifier: MIT */
/*
 * thread.c - the library's per-thread context: coro__this_thread, set up at
 * the thread's first call that needs it, torn down layer by layer when the
 * thread exits.
 *
 * Setup (once per thread): the stack pool (stack.c: the process-wide guard
 * mode and SIGSEGV handler the first time, then the thread's alternate signal
 * stack), and the thread's own stack as the coroutine at the root of every
 * resume chain.  Teardown, from a pthread key's destructor, runs from the top
 * layer down: the offload port (it watches an fd of the I/O registry), the
 * I/O registry and backend, the timer heap, the stack pool last.
 * coro_stack_trim() lives here too: the thread's pool is the thread's.
 */
#include <pthread.h>
#include <string.h>

#include "internal.h"

CORO__TLS coro__tls coro__this_thread;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key; /* its destructor tidies a thread's state at exit */

/* Thread exit.  Coroutines still alive keep their stacks (the program leaked
 * them); everything else goes. */
static void thread_exit(void *arg) {
  coro__tls *t = arg;
  coro__registry_remove(t); /* before its memory goes with the thread */
  coro__offload_fini(t);    /* its port watches an fd of the registry: first */
  coro__io_fini(t);         /* the fd registry and the poller (io.c) */
  /* The timer heap's array outlives each coro_run() so that the next one does
   * not grow it again; it goes with the thread.  Coroutines still in it were
   * leaked by the program and can never run again (they belong to this thread). */
  coro__free(t->sched.heap);
  t->sched.heap = NULL;
  t->sched.nheap = t->sched.capheap = 0;
  coro__stack_pool_fini(&t->stacks);
}

static void make_key(void) { pthread_key_create(&exit_key, thread_exit); }

/* The overflow report's hook (see stack.h): called from the SIGSEGV handler,
 * it reads only this thread's own state. */
static const coro__stack *running_stack(const char **name) {
  coro *c = coro__tls_get()->current;
  if (!c || (c->flags & CORO__F_MAIN)) return NULL;
  *name = coro__cold_of(c)->name;
  return coro__stack_of(c);
}

int coro__thread_setup(coro__tls *t) {
  if (t->ready) return 0;
  pthread_once(&key_once, make_key);
  int rc = coro__stack_pool_init(&t->stacks, running_stack);
  if (rc < 0) return rc;
  /* The thread's own stack becomes the root resumer of every chain. */
  t->main.owner = t;
  t->main.state = CORO_RUNNING;
  t->main.flags = CORO__F_MAIN;
  t->main.out = t->main.in = &t->sink;
  t->main.cold = &t->main_cold;
  memcpy(t->main_cold.name, "(thread)", sizeof("(thread)"));
  t->current = &t->main;
  pthread_setspecific(exit_key, t);
  coro__registry_add(t);
  t->ready = 1;
  return 0;
}

int coro_stack_trim(size_t *released) {
  coro__tls *t = coro__tls_get();
  if (!t->ready) { /* no stack was ever taken on this thread */
    if (released) *released = 0;
    return 0;
  }
  return coro__stack_trim(&t->stacks, released);
}
