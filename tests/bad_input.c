/* SPDX-License-Identifier: MIT */
/*
 * bad_input.c - every misuse the API documents, one case each: NULL handles,
 * closed and running coroutines, another thread's coroutine, stack sizes out
 * of range, calls made outside a coroutine or inside a cleanup handler,
 * destroying what is still in use, unknown error codes.
 *
 * Each call must be refused with its documented code and change nothing: the
 * coroutine it was given still works, and so does a "bystander" coroutine
 * created before the misuse (no call may damage an unrelated coroutine).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdint.h>

#include "coro.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------------- */

static void noop_cleanup(void *arg) { (void)arg; }

static char logbuf[1024];

static void log_reset(void) { logbuf[0] = '\0'; }

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...) {
  size_t n = strlen(logbuf);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(logbuf + n, sizeof(logbuf) - n, fmt, ap);
  va_end(ap);
}

#define SENTINEL IV(0x5e5e)

/* The bystander: yields arg, arg+1, ... arg+4, returns arg+1000.  Any
 * unexpected resume signal makes it fail with -EFAULT. */
static void *bystander_body(void *arg) {
  for (long long i = 0; i < 5; i++) {
    void *in = SENTINEL;
    int rc = coro_yield(IV(VI(arg) + i), &in);
    if (rc != 0 || in != NULL) return coro_fail(-EFAULT);
  }
  return IV(VI(arg) + 1000);
}

/* Created and advanced to its first yield before the misuse... */
static coro *bystander_start(void) {
  coro *b;
  ASSERT_EQ(coro_create(&b, bystander_body, IV(500), NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 500);
  return b;
}

/* ...and run to its end after it, exactly as if nothing had happened. */
static void bystander_finish(coro *b) {
  void *v;
  ASSERT_EQ(coro_get_state(b), CORO_SUSPENDED);
  for (int i = 1; i < 5; i++) {
    ASSERT_EQ(coro_next(b, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), 500 + i);
  }
  ASSERT_EQ(coro_next(b, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1500);
  ASSERT_EQ(coro_destroy(b), 0);
}

/* A plain generator for the misuse to target: yields 1, 2, 3, returns 4;
 * returns at once when closed. */
static void *target_body(void *arg) {
  (void)arg;
  for (int i = 1; i <= 3; i++)
    if (coro_yield(IV(i), NULL) == CORO_EEXIT) return NULL;
  return IV(4);
}

/* Checks a target paused after yielding `from - 1` runs on to its end. */
static void target_finish(coro *g, int from) {
  void *v;
  for (int i = from; i <= 3; i++) {
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
  }
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 4);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- NULL and closed handles ------------------------------------------------------- */

static void *yield_from_null_body(void *arg) {
  (void)arg;
  void *r = SENTINEL;
  int rc = coro_yield_from(NULL, &r);
  note("%d,%s", rc, r == SENTINEL ? "untouched" : "touched");
  return NULL;
}

TEST(null_handle_to_every_call) {
  coro *b = bystander_start();
  void *v = SENTINEL;
  ASSERT_EQ(coro_destroy(NULL), -EINVAL);
  ASSERT_EQ(coro_send(NULL, NULL, &v), -EINVAL);
  ASSERT_EQ(coro_send(NULL, IV(1), &v), -EINVAL);
  ASSERT_EQ(coro_next(NULL, &v), -EINVAL);
  ASSERT_EQ(coro_throw(NULL, -EIO, &v), -EINVAL);
  ASSERT_EQ(coro_close(NULL), -EINVAL);
  ASSERT_EQ(coro_result(NULL, &v), -EINVAL);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_get_state(NULL), -EINVAL);
  ASSERT_EQ(coro_set_name(NULL, "x"), -EINVAL);
  ASSERT_EQ(coro_set_name(NULL, NULL), -EINVAL);
  ASSERT_PTR_EQ(coro_name(NULL), NULL);
  ASSERT_EQ(coro_stack_size(NULL), 0);

  /* yield_from(NULL) from inside a coroutine */
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, yield_from_null_body, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,untouched", -EINVAL);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

TEST(create_null_out_or_fn_is_einval) {
  coro *b = bystander_start();
  coro *g = SENTINEL;
  ASSERT_EQ(coro_create(NULL, target_body, NULL, NULL), -EINVAL);
  ASSERT_EQ(coro_create(&g, NULL, NULL, NULL), -EINVAL);
  ASSERT_PTR_EQ(g, SENTINEL);
  coro_attr attr = CORO_ATTR_INIT;
  ASSERT_EQ(coro_create(&g, NULL, NULL, &attr), -EINVAL);
  ASSERT_EQ(coro_create(NULL, NULL, NULL, &attr), -EINVAL);
  ASSERT_PTR_EQ(g, SENTINEL);
  /* and a valid one afterwards works */
  ASSERT_EQ(coro_create(&g, target_body, NULL, &attr), 0);
  target_finish(g, 1);
  bystander_finish(b);
}

TEST(resume_closed_is_edone) {
  coro *b = bystander_start();
  coro *g;
  ASSERT_EQ(coro_create(&g, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), 0);
  for (int i = 0; i < 3; i++) {
    void *v = SENTINEL;
    ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
    ASSERT_EQ(coro_send(g, NULL, &v), CORO_EDONE);
    ASSERT_EQ(coro_send(g, IV(3), &v), CORO_EDONE);
    ASSERT_PTR_EQ(v, SENTINEL);
    ASSERT_EQ(coro_throw(g, -EIO, NULL), -EIO); /* comes straight back */
    ASSERT_EQ(coro_close(g), 0);
    ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
    ASSERT_EQ(coro_result(g, NULL), 0);
  }
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

/* --- RUNNING and NORMAL ------------------------------------------------------------ */

static coro *busy_outer;

/* inner: tries to resume, throw into, close and yield_from its resumer, which
 * is NORMAL, and itself, which is RUNNING */
static void *busy_inner(void *arg) {
  (void)arg;
  coro *self = coro_self();
  void *v = SENTINEL;
  note("%d %d %d %d %d %d|", coro_send(busy_outer, NULL, &v), coro_next(busy_outer, &v),
       coro_throw(busy_outer, -EIO, &v), coro_close(busy_outer), coro_yield_from(busy_outer, &v),
       coro_get_state(busy_outer));
  note("%d %d %d %d %d|", coro_send(self, NULL, &v), coro_next(self, &v),
       coro_throw(self, -EIO, &v), coro_close(self), coro_get_state(self));
  note("%s", v == SENTINEL ? "untouched" : "touched");
  return IV(8);
}

static void *busy_outer_body(void *arg) {
  void *v;
  ASSERT_EQ(coro_next(arg, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 8);
  ASSERT_EQ(coro_get_state(coro_self()), CORO_RUNNING); /* still itself */
  coro_yield(IV(1), NULL);
  return IV(2);
}

TEST(resume_running_or_normal_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *inner;
  ASSERT_EQ(coro_create(&inner, busy_inner, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&busy_outer, busy_outer_body, inner, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(busy_outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  char expect[160];
  snprintf(expect, sizeof(expect), "%d %d %d %d %d %d|%d %d %d %d %d|untouched", -EBUSY, -EBUSY,
           -EBUSY, -EBUSY, -EBUSY, CORO_NORMAL, -EBUSY, -EBUSY, -EBUSY, -EBUSY, CORO_RUNNING);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_next(busy_outer, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 2);
  ASSERT_EQ(coro_destroy(busy_outer), 0);
  ASSERT_EQ(coro_destroy(inner), 0);
  bystander_finish(b);
}

/* --- another thread's coroutine ---------------------------------------------------- */

struct foreign {
  coro *suspended; /* started, paused after yielding 1 */
  coro *created;   /* never started */
  sem_t ready;     /* posted by the owner once both exist */
  sem_t done;      /* posted by main once it has misused them */
};

static void *foreign_owner(void *arg) {
  struct foreign *f = arg;
  ASSERT_EQ(coro_create(&f->suspended, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&f->created, target_body, NULL, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(f->suspended, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  sem_post(&f->ready);
  while (sem_wait(&f->done) != 0) {}
  /* intact: both run on normally here, and are destroyed by their owner */
  ASSERT_EQ(coro_get_state(f->suspended), CORO_SUSPENDED);
  ASSERT_EQ(coro_get_state(f->created), CORO_CREATED);
  target_finish(f->suspended, 2);
  target_finish(f->created, 1);
  return IV(1);
}

/* A main-thread coroutine trying to delegate to the foreign one. */
static void *delegates_to_foreign(void *arg) {
  void *r = SENTINEL;
  int rc = coro_yield_from(arg, &r);
  note("%d,%s", rc, r == SENTINEL ? "untouched" : "touched");
  return NULL;
}

static void misuse_foreign(coro *c, int state) {
  void *v = SENTINEL;
  ASSERT_EQ(coro_send(c, NULL, &v), -EPERM);
  ASSERT_EQ(coro_send(c, IV(5), &v), -EPERM);
  ASSERT_EQ(coro_next(c, &v), -EPERM);
  ASSERT_EQ(coro_throw(c, -EIO, &v), -EPERM);
  ASSERT_EQ(coro_close(c), -EPERM);
  ASSERT_EQ(coro_destroy(c), -EPERM);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_get_state(c), state);

  log_reset();
  coro *d;
  ASSERT_EQ(coro_create(&d, delegates_to_foreign, c, NULL), 0);
  ASSERT_EQ(coro_next(d, NULL), CORO_RETURNED);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,untouched", -EPERM);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(d), 0);
  ASSERT_EQ(coro_get_state(c), state);
}

TEST(other_thread_coroutine_is_eperm) {
  coro *b = bystander_start();
  struct foreign f;
  memset(&f, 0, sizeof(f));
  ASSERT_EQ(sem_init(&f.ready, 0, 0), 0);
  ASSERT_EQ(sem_init(&f.done, 0, 0), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, foreign_owner, &f), 0);
  while (sem_wait(&f.ready) != 0) {}
  misuse_foreign(f.suspended, CORO_SUSPENDED);
  misuse_foreign(f.created, CORO_CREATED);
  bystander_finish(b);
  sem_post(&f.done);
  void *ret = NULL;
  ASSERT_EQ(pthread_join(th, &ret), 0); /* last: the owner destroys them */
  ASSERT_EQ(VI(ret), 1);
  sem_destroy(&f.ready);
  sem_destroy(&f.done);
}

/* --- stack sizes ------------------------------------------------------------------- */

TEST(stack_size_out_of_range_is_einval) {
  coro *b = bystander_start();
  const size_t bad[] = {0, 1, CORO_STACK_MIN - 1, CORO_STACK_MAX + 1, SIZE_MAX, SIZE_MAX / 2};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    coro_attr attr;
    ASSERT_EQ(coro_attr_init(&attr), 0);
    attr.stack_size = bad[i];
    attr.name = "bad";
    coro *g = SENTINEL;
    ASSERT_EQ(coro_create(&g, target_body, NULL, &attr), -EINVAL);
    ASSERT_PTR_EQ(g, SENTINEL);
  }
  /* a zeroed struct is rejected (stack_size 0) */
  coro_attr zero;
  memset(&zero, 0, sizeof(zero));
  coro *g = SENTINEL;
  ASSERT_EQ(coro_create(&g, target_body, NULL, &zero), -EINVAL);
  ASSERT_PTR_EQ(g, SENTINEL);
  bystander_finish(b);
}

TEST(stack_size_bounds_accepted) {
  coro *b = bystander_start();
  const size_t good[] = {CORO_STACK_MIN, CORO_STACK_MAX};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    coro_attr attr = CORO_ATTR_INIT;
    attr.stack_size = good[i];
    coro *g;
    ASSERT_EQ(coro_create(&g, target_body, NULL, &attr), 0);
    ASSERT_EQ(coro_stack_size(g), good[i]);
    target_finish(g, 1);
  }
  bystander_finish(b);
}

/* --- calls that need a coroutine, made outside one --------------------------------- */

TEST(yield_outside_coroutine_is_eperm) {
  coro *b = bystander_start();
  void *in = SENTINEL;
  ASSERT_EQ(coro_yield(IV(1), &in), -EPERM);
  ASSERT_EQ(coro_yield(NULL, NULL), -EPERM);
  ASSERT_PTR_EQ(in, SENTINEL);
  ASSERT_PTR_EQ(coro_self(), NULL);
  bystander_finish(b);
}

TEST(yield_from_outside_coroutine_is_eperm) {
  coro *b = bystander_start();
  coro *sub;
  ASSERT_EQ(coro_create(&sub, target_body, NULL, NULL), 0);
  void *r = SENTINEL;
  ASSERT_EQ(coro_yield_from(sub, &r), -EPERM);
  int rc = coro_yield_from(NULL, &r); /* either refusal applies */
  ASSERT_TRUE(rc == -EPERM || rc == -EINVAL);
  ASSERT_PTR_EQ(r, SENTINEL);
  ASSERT_EQ(coro_get_state(sub), CORO_CREATED); /* not started */
  /* the bystander is SUSPENDED, not ours to delegate to from here either */
  ASSERT_EQ(coro_yield_from(b, &r), -EPERM);
  target_finish(sub, 1);
  bystander_finish(b);
}

TEST(fail_outside_coroutine_does_nothing) {
  coro *b = bystander_start();
  ASSERT_PTR_EQ(coro_fail(-EIO), NULL);
  ASSERT_PTR_EQ(coro_fail(0), NULL);
  /* not recorded anywhere: a coroutine created after it returns normally */
  coro *g;
  ASSERT_EQ(coro_create(&g, target_body, NULL, NULL), 0);
  target_finish(g, 1);
  bystander_finish(b); /* and the suspended one was not marked either */
}

/* A thread that never created a coroutine: every call that needs one is
 * refused there too, before any per-thread setup. */
static void *fresh_thread(void *arg) {
  coro *foreign = arg;
  long bad = 0;
  void *in = SENTINEL;
  bad += coro_self() != NULL;
  bad += coro_yield(IV(1), &in) != -EPERM;
  bad += in != SENTINEL;
  bad += coro_yield_from(foreign, NULL) != -EPERM;
  bad += coro_cleanup_push(noop_cleanup, NULL) != -EPERM;
  bad += coro_cleanup_pop(1) != -EPERM;
  bad += coro_fail(-EIO) != NULL;
  bad += coro_next(foreign, NULL) != -EPERM;
  bad += coro_destroy(foreign) != -EPERM;
  bad += coro_self() != NULL;
  return IV(bad);
}

TEST(calls_outside_coroutine_in_fresh_thread) {
  coro *b = bystander_start();
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, fresh_thread, b), 0);
  void *bad = NULL;
  ASSERT_EQ(pthread_join(th, &bad), 0);
  ASSERT_EQ(VI(bad), 0);
  bystander_finish(b);
}

/* --- yield_from misuse ------------------------------------------------------------- */

static void *yield_from_self_body(void *arg) {
  (void)arg;
  void *r = SENTINEL;
  int rc = coro_yield_from(coro_self(), &r);
  note("%d,%s;", rc, r == SENTINEL ? "untouched" : "touched");
  coro_yield(IV(1), NULL); /* still a working coroutine */
  return IV(2);
}

TEST(yield_from_self_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, yield_from_self_body, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,untouched;", -EBUSY);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 2);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

/* delegates to the sub in arg, logs and yields what yield_from said;
 * returns when closed */
static void *delegator_body(void *arg) {
  void *r = SENTINEL;
  int rc = coro_yield_from(arg, &r);
  if (rc == CORO_EEXIT) return NULL;
  note("%d,%s;", rc, r == SENTINEL ? "untouched" : VI(r) == 4 ? "4" : "other");
  coro_yield(IV(100 + rc), NULL);
  return NULL;
}

TEST(yield_from_already_delegated_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *sub, *first, *second;
  void *v;
  ASSERT_EQ(coro_create(&sub, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&first, delegator_body, sub, NULL), 0);
  ASSERT_EQ(coro_create(&second, delegator_body, sub, NULL), 0);
  ASSERT_EQ(coro_next(first, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1); /* first delegates to sub */
  /* second may not delegate to it too: refused, sub untouched */
  ASSERT_EQ(coro_next(second, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 100 - EBUSY);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,untouched;", -EBUSY);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_get_state(sub), CORO_SUSPENDED);
  /* the first delegation goes on as before */
  ASSERT_EQ(coro_next(first, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 2);
  ASSERT_EQ(coro_next(first, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 3);
  ASSERT_EQ(coro_next(first, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 100); /* yield_from returned 0 with 4 */
  snprintf(expect, sizeof(expect), "%d,untouched;0,4;", -EBUSY);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(first), 0);
  ASSERT_EQ(coro_destroy(second), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
  bystander_finish(b);
}

static coro *normal_outer;

static void *yield_from_resumer_body(void *arg) {
  (void)arg;
  void *r = SENTINEL;
  int rc = coro_yield_from(normal_outer, &r); /* our resumer: NORMAL */
  note("%d,%s;", rc, r == SENTINEL ? "untouched" : "touched");
  return NULL;
}

static void *resumes_arg(void *arg) {
  ASSERT_EQ(coro_next(arg, NULL), CORO_RETURNED);
  coro_yield(IV(1), NULL);
  return NULL;
}

TEST(yield_from_resumer_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *inner;
  ASSERT_EQ(coro_create(&inner, yield_from_resumer_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&normal_outer, resumes_arg, inner, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(normal_outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,untouched;", -EBUSY);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_next(normal_outer, &v), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(normal_outer), 0);
  ASSERT_EQ(coro_destroy(inner), 0);
  bystander_finish(b);
}

/* --- destroying what is in use ----------------------------------------------------- */

static void *destroys_itself(void *arg) {
  (void)arg;
  note("%d;", coro_destroy(coro_self()));
  void *in = NULL;
  coro_yield(IV(1), &in);
  note("%d;", coro_destroy(coro_self()));
  return in;
}

TEST(destroy_self_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, destroys_itself, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_send(g, IV(33), &v), CORO_RETURNED); /* it still works */
  ASSERT_EQ(VI(v), 33);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d;%d;", -EBUSY, -EBUSY);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

static coro *chain_top;

static void *destroys_resumer(void *arg) {
  (void)arg;
  note("%d,%d;", coro_destroy(chain_top), coro_get_state(chain_top));
  return NULL;
}

TEST(destroy_normal_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *inner;
  ASSERT_EQ(coro_create(&inner, destroys_resumer, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&chain_top, resumes_arg, inner, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(chain_top, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,%d;", -EBUSY, CORO_NORMAL);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_next(chain_top, &v), CORO_RETURNED); /* it still works */
  ASSERT_EQ(coro_destroy(chain_top), 0);
  ASSERT_EQ(coro_destroy(inner), 0);
  bystander_finish(b);
}

TEST(destroy_delegated_sub_is_ebusy) {
  log_reset();
  coro *b = bystander_start();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, delegator_body, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_destroy(sub), -EBUSY);
  ASSERT_EQ(coro_get_state(sub), CORO_SUSPENDED);
  /* nothing freed, the delegation goes on */
  for (int i = 2; i <= 3; i++) {
    ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
    ASSERT_EQ(coro_destroy(sub), -EBUSY);
  }
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 100);
  ASSERT_STR_EQ(logbuf, "0,4;");
  /* no longer delegated to: destroyable */
  ASSERT_EQ(coro_destroy(sub), 0);
  ASSERT_EQ(coro_destroy(outer), 0);

  /* destroying the delegator instead closes the sub and releases it */
  ASSERT_EQ(coro_create(&sub, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, delegator_body, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(sub), 0);
  bystander_finish(b);
}

/* --- cleanup handler misuse -------------------------------------------------------- */

/* A handler that tries everything a handler may not do. */
static void misbehaving_cleanup(void *arg) {
  void *in = SENTINEL;
  coro *sub = arg;
  note("[y%d yf%d push%d pop%d pop%d %s]", coro_yield(IV(666), &in), coro_yield_from(sub, NULL),
       coro_cleanup_push(noop_cleanup, NULL), coro_cleanup_pop(0), coro_cleanup_pop(1),
       in == SENTINEL ? "untouched" : "touched");
}

static void *pushes_misbehaving(void *arg) {
  ASSERT_EQ(coro_cleanup_push(misbehaving_cleanup, arg), 0);
  ASSERT_EQ(coro_cleanup_push(misbehaving_cleanup, arg), 0);
  ASSERT_EQ(coro_cleanup_pop(1), 0); /* run now */
  note(";");
  coro_yield(IV(1), NULL);
  return IV(9); /* the other one runs as it finishes */
}

TEST(cleanup_handler_cannot_yield_or_push) {
  log_reset();
  coro *b = bystander_start();
  coro *sub, *g;
  ASSERT_EQ(coro_create(&sub, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&g, pushes_misbehaving, sub, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  char one[128];
  snprintf(one, sizeof(one), "[y%d yf%d push%d pop%d pop%d untouched]", -EPERM, -EPERM, -EPERM,
           -EPERM, -EPERM);
  char expect[300];
  snprintf(expect, sizeof(expect), "%s;", one);
  ASSERT_STR_EQ(logbuf, expect);
  /* the coroutine still finishes properly */
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 9);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_EQ(coro_result(g, NULL), 0);
  snprintf(expect, sizeof(expect), "%s;%s", one, one);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_get_state(sub), CORO_CREATED); /* yield_from never started it */
  ASSERT_EQ(coro_destroy(g), 0);
  target_finish(sub, 1);
  bystander_finish(b);
}

/* Ignores every exit request; its handler tries to yield. */
static void *ignoring_with_yielding_handler(void *arg) {
  ASSERT_EQ(coro_cleanup_push(misbehaving_cleanup, arg), 0);
  for (;;) coro_yield(IV(1), NULL);
}

/* Destroys the coroutine in arg (which ignores exit requests), so that its
 * handler runs on this coroutine's stack; then goes on yielding. */
static void *destroys_ignoring(void *arg) {
  note("destroy=%d;", coro_destroy(arg));
  void *in = NULL;
  coro_yield(IV(2), &in);
  return in;
}

TEST(cleanup_handler_run_by_destroy_cannot_yield) {
  log_reset();
  coro *b = bystander_start();
  coro *sub, *g, *host;
  ASSERT_EQ(coro_create(&sub, target_body, NULL, NULL), 0);
  char one[128];
  snprintf(one, sizeof(one), "[y%d yf%d push%d pop%d pop%d untouched]", -EPERM, -EPERM, -EPERM,
           -EPERM, -EPERM);
  char expect[300];

  /* from the thread's own stack */
  ASSERT_EQ(coro_create(&g, ignoring_with_yielding_handler, sub, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(g), CORO_EIGNORED);
  ASSERT_STR_EQ(logbuf, one);

  /* from inside another coroutine: the handler must not yield *that* one */
  log_reset();
  ASSERT_EQ(coro_create(&g, ignoring_with_yielding_handler, sub, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_create(&host, destroys_ignoring, g, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(host, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 2); /* not 666 from the handler */
  snprintf(expect, sizeof(expect), "%sdestroy=%d;", one, CORO_EIGNORED);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_send(host, IV(21), &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 21);
  ASSERT_EQ(coro_destroy(host), 0);
  ASSERT_EQ(coro_get_state(sub), CORO_CREATED);
  target_finish(sub, 1);
  bystander_finish(b);
}

TEST(cleanup_push_pop_outside_coroutine_is_eperm) {
  coro *b = bystander_start();
  ASSERT_EQ(coro_cleanup_push(noop_cleanup, NULL), -EPERM);
  ASSERT_EQ(coro_cleanup_pop(0), -EPERM);
  ASSERT_EQ(coro_cleanup_pop(1), -EPERM);
  bystander_finish(b);
}

static void *push_null_body(void *arg) {
  (void)arg;
  note("%d,%d;", coro_cleanup_push(NULL, NULL), coro_cleanup_pop(1));
  return NULL;
}

TEST(cleanup_push_null_fn_is_einval) {
  log_reset();
  coro *b = bystander_start();
  coro *g;
  ASSERT_EQ(coro_create(&g, push_null_body, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,%d;", -EINVAL, -ENOENT); /* nothing was pushed */
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

static void *pop_none_body(void *arg) {
  (void)arg;
  note("%d,%d;", coro_cleanup_pop(0), coro_cleanup_pop(1));
  ASSERT_EQ(coro_cleanup_push(noop_cleanup, NULL), 0);
  ASSERT_EQ(coro_cleanup_pop(0), 0);
  note("%d;", coro_cleanup_pop(0));
  return IV(3);
}

TEST(cleanup_pop_with_none_is_enoent) {
  log_reset();
  coro *b = bystander_start();
  coro *g;
  ASSERT_EQ(coro_create(&g, pop_none_body, NULL, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 3);
  char expect[64];
  snprintf(expect, sizeof(expect), "%d,%d;%d;", -ENOENT, -ENOENT, -ENOENT);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(g), 0);
  bystander_finish(b);
}

/* --- throw with a non-error -------------------------------------------------------- */

TEST(throw_nonnegative_is_einval) {
  coro *b = bystander_start();
  coro *started, *fresh;
  ASSERT_EQ(coro_create(&started, target_body, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&fresh, target_body, NULL, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(started, &v), CORO_YIELDED);
  const int bad[] = {0, 1, CORO_YIELDED, EIO, INT_MAX};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = SENTINEL;
    ASSERT_EQ(coro_throw(started, bad[i], &v), -EINVAL);
    ASSERT_EQ(coro_throw(fresh, bad[i], &v), -EINVAL);
    ASSERT_PTR_EQ(v, SENTINEL);
    ASSERT_EQ(coro_get_state(started), CORO_SUSPENDED);
    ASSERT_EQ(coro_get_state(fresh), CORO_CREATED);
  }
  /* nothing changed */
  target_finish(started, 2);
  target_finish(fresh, 1);
  bystander_finish(b);
}

/* --- attributes and error names ---------------------------------------------------- */

TEST(attr_init_null_is_einval) {
  coro *b = bystander_start();
  ASSERT_EQ(coro_attr_init(NULL), -EINVAL);
  coro_attr attr;
  memset(&attr, 0xab, sizeof(attr));
  ASSERT_EQ(coro_attr_init(&attr), 0);
  ASSERT_EQ(attr.stack_size, CORO_STACK_DEFAULT);
  ASSERT_PTR_EQ(attr.name, NULL);
  coro_attr init = CORO_ATTR_INIT;
  ASSERT_EQ(init.stack_size, CORO_STACK_DEFAULT);
  ASSERT_PTR_EQ(init.name, NULL);
  bystander_finish(b);
}

/* 0 is what most calls return on success: printing it names success, not an
 * unknown code (a newcomer's rc-printing loop saw "UNKNOWN"). */
TEST(strerror_and_err_name_of_zero_say_success) {
  ASSERT_STR_EQ(coro_err_name(0), "OK");
  ASSERT_STR_EQ(coro_strerror(0), "success");
}

TEST(strerror_and_err_name_of_unknown_codes) {
  coro *b = bystander_start();
  const int unknown[] = {1, 12345, -12345, INT_MIN, INT_MAX, -4000, -4005, -9999};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    ASSERT_STR_EQ(coro_strerror(unknown[i]), "unknown error");
    ASSERT_STR_EQ(coro_err_name(unknown[i]), "UNKNOWN");
  }
  /* never NULL, over a wide range */
  for (int e = -5000; e <= 5000; e++) {
    ASSERT_TRUE(coro_strerror(e) != NULL);
    ASSERT_TRUE(coro_err_name(e) != NULL);
  }
  /* every code the API documents has its own name */
  ASSERT_STR_EQ(coro_err_name(CORO_EDONE), "CORO_EDONE");
  ASSERT_STR_EQ(coro_err_name(CORO_EEXIT), "CORO_EEXIT");
  ASSERT_STR_EQ(coro_err_name(CORO_EIGNORED), "CORO_EIGNORED");
  ASSERT_STR_EQ(coro_err_name(-EINVAL), "EINVAL");
  ASSERT_STR_EQ(coro_err_name(-EBUSY), "EBUSY");
  ASSERT_STR_EQ(coro_err_name(-EPERM), "EPERM");
  ASSERT_STR_EQ(coro_err_name(-ENOMEM), "ENOMEM");
  ASSERT_STR_EQ(coro_err_name(-ENOENT), "ENOENT");
  ASSERT_STR_EQ(coro_err_name(-EAGAIN), "EAGAIN");
  ASSERT_STR_EQ(coro_strerror(CORO_EIGNORED), "generator ignored GeneratorExit");
  const int documented[] = {CORO_EDONE, CORO_EEXIT, CORO_EIGNORED, CORO_ELEAKEDDONE, -EINVAL,
                            -EBUSY,     -EPERM,     -ENOMEM,       -ENOENT,          -EAGAIN};
  for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
    ASSERT_TRUE(strcmp(coro_strerror(documented[i]), "unknown error") != 0);
  bystander_finish(b);
}
