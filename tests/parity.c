/* SPDX-License-Identifier: MIT */
/*
 * parity.c - generator semantics, one case per row of the parity table in
 * DESIGN.md ("Generator semantics — parity with Python"), plus the cleanup
 * handlers, introspection, nesting and the article's producer/consumer.
 *
 * Every case asserts exact return codes, values and states, and proves the
 * order of execution with a side-effect log: what ran, in which order, how
 * many times (e.g. that a body did NOT run, that cleanups ran LIFO once).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

/* --- side-effect log --------------------------------------------------------------- */

static char logbuf[4096];

static void log_reset(void) { logbuf[0] = '\0'; }

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...) {
  size_t n = strlen(logbuf);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(logbuf + n, sizeof(logbuf) - n, fmt, ap);
  va_end(ap);
}

/* A cleanup handler that logs its argument (a string). */
static void log_cleanup(void *arg) { note("%s", (const char *)arg); }

/* A value that no coroutine hands out: proves an out-parameter untouched. */
#define SENTINEL IV(0x5e5e)

/* --- creating and starting --------------------------------------------------------- */

static void *logging_body(void *arg) {
  (void)arg;
  note("a");
  if (coro_yield(IV(10), NULL) < 0) return NULL;
  note("b");
  if (coro_yield(IV(20), NULL) < 0) return NULL;
  note("c");
  return IV(30);
}

TEST(created_state_nothing_runs) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_EQ(coro_get_state(g), CORO_CREATED);
  ASSERT_STR_EQ(logbuf, "");
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -EAGAIN);
  ASSERT_PTR_EQ(r, SENTINEL);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, ""); /* destroying a CREATED generator runs nothing */
}

TEST(next_runs_to_first_yield) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 10);
  ASSERT_STR_EQ(logbuf, "a"); /* stopped at the first yield, not past it */
  ASSERT_EQ(coro_get_state(g), CORO_SUSPENDED);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 20);
  ASSERT_STR_EQ(logbuf, "ab");
  ASSERT_EQ(coro_destroy(g), 0);

  /* g.send(None) is next(g) */
  log_reset();
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_EQ(coro_send(g, NULL, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 10);
  ASSERT_STR_EQ(logbuf, "a");
  /* out may be NULL: the value is dropped, the generator still advances */
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_STR_EQ(logbuf, "ab");
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(send_non_none_to_created_is_einval_and_changes_nothing) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_EQ(coro_send(g, IV(5), &v), -EINVAL);
  ASSERT_PTR_EQ(v, SENTINEL);
  ASSERT_EQ(coro_get_state(g), CORO_CREATED);
  ASSERT_STR_EQ(logbuf, "");
  ASSERT_EQ(coro_send(g, IV(5), &v), -EINVAL); /* every time */
  /* Nothing changed: it starts normally afterwards. */
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 10);
  ASSERT_STR_EQ(logbuf, "a");
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- yield and return -------------------------------------------------------------- */

/* x = yield v: hands out 2*x for every x it is sent, logs what it received;
 * stops when sent None. */
static void *doubler(void *arg) {
  (void)arg;
  void *in = SENTINEL;
  int rc = coro_yield(IV(-1), &in);
  while (rc == 0 && in != NULL) {
    long long x = VI(in);
    note("[%lld]", x);
    in = SENTINEL;
    rc = coro_yield(IV(2 * x), &in);
  }
  note("rc=%d in=%s", rc, in == NULL ? "NULL" : "other");
  return IV(7);
}

TEST(yield_returns_sent_value) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, doubler, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), -1);
  for (int i = 1; i <= 5; i++) {
    ASSERT_EQ(coro_send(g, IV(i * 11), &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), 2 * i * 11);
  }
  ASSERT_STR_EQ(logbuf, "[11][22][33][44][55]");
  /* next() sends None: the pending yield returns 0 with NULL in *in */
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 7);
  ASSERT_STR_EQ(logbuf, "[11][22][33][44][55]rc=0 in=NULL");
  ASSERT_EQ(coro_destroy(g), 0);
}

static void *returns_after_one_yield(void *arg) {
  note("y");
  coro_yield(IV(1), NULL);
  note("r");
  return arg;
}

TEST(return_value_is_reported) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, returns_after_one_yield, IV(42), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 42); /* StopIteration.value */
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_EQ(VI(r), 42);
  ASSERT_STR_EQ(logbuf, "yr");
  ASSERT_EQ(coro_destroy(g), 0);

  /* Returning NULL (Python's bare return) is reported the same way. */
  ASSERT_EQ(coro_create(&g, returns_after_one_yield, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  v = SENTINEL;
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(send_after_finish_is_edone_every_time) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, returns_after_one_yield, IV(3), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_STR_EQ(logbuf, "yr");
  for (int i = 0; i < 3; i++) {
    v = SENTINEL;
    ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
    ASSERT_PTR_EQ(v, SENTINEL); /* refused: nothing handed out */
    ASSERT_EQ(coro_send(g, NULL, &v), CORO_EDONE);
    ASSERT_EQ(coro_send(g, IV(9), &v), CORO_EDONE);
    ASSERT_PTR_EQ(v, SENTINEL);
    ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  }
  ASSERT_STR_EQ(logbuf, "yr"); /* the body never ran again */
  void *r;
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_EQ(VI(r), 3); /* the outcome is kept */
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- throw ------------------------------------------------------------------------- */

/* Yields 0, 1, 2, ...; handles an error thrown in by logging it and yielding
 * 1000 + |err|; a second error in a row is re-raised; returns when closed.
 * Cleanup logs "C". */
static void *handles_one_error(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  int handled = 0;
  for (long i = 0;; i++) {
    void *in = SENTINEL;
    int rc = coro_yield(IV(i), &in);
    while (rc < 0 && rc != CORO_EEXIT) {
      note("got%d,in=%s;", rc, in == NULL ? "NULL" : "other");
      if (handled) return coro_fail(rc);
      handled = 1;
      rc = coro_yield(IV(1000 - rc), &in);
    }
    if (rc == CORO_EEXIT) return NULL; /* closed: finish */
    handled = 0;
  }
}

TEST(throw_handled_then_yields_again) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, handles_one_error, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 0);
  v = SENTINEL;
  ASSERT_EQ(coro_throw(g, -EIO, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1000 + EIO);
  ASSERT_EQ(coro_get_state(g), CORO_SUSPENDED);
  char expect[64];
  snprintf(expect, sizeof(expect), "got%d,in=NULL;", -EIO);
  ASSERT_STR_EQ(logbuf, expect);
  /* It goes on yielding normally afterwards. */
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 2);
  ASSERT_STR_EQ(logbuf, expect); /* no cleanup yet */
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(throw_unhandled_comes_back_and_closes) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, handles_one_error, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_throw(g, -EIO, &v), CORO_YIELDED);
  v = SENTINEL;
  /* the second one is not handled: it comes back out of the throw */
  ASSERT_EQ(coro_throw(g, -ENOSPC, &v), -ENOSPC);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  char expect[128];
  snprintf(expect, sizeof(expect), "got%d,in=NULL;got%d,in=NULL;C", -EIO, -ENOSPC);
  ASSERT_STR_EQ(logbuf, expect); /* the cleanup ran, once */
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -ENOSPC);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, expect);
}

TEST(throw_on_created_never_runs_body) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_EQ(coro_throw(g, -EIO, &v), -EIO);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, ""); /* the body never ran */
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -EIO);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
  /* On a CLOSED generator the error comes straight back too. */
  ASSERT_EQ(coro_throw(g, -EPIPE, &v), -EPIPE);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "");
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "");
}

/* --- the generator raises ---------------------------------------------------------- */

static void *raises_after_one_yield(void *arg) {
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  coro_yield(IV(1), NULL);
  note("raise;");
  return coro_fail((int)VI(arg));
}

TEST(generator_error_reported_and_closed) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, raises_after_one_yield, IV(-ENOSPC), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  v = SENTINEL;
  ASSERT_EQ(coro_next(g, &v), -ENOSPC);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "raise;C");
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -ENOSPC);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "raise;C");

  /* libcoro's own codes too; and coro_fail of a non-negative code is EINVAL */
  ASSERT_EQ(coro_create(&g, raises_after_one_yield, IV(5), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, &v), -EINVAL);
  ASSERT_EQ(coro_result(g, NULL), -EINVAL);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- close ------------------------------------------------------------------------- */

/* Pushes a cleanup, yields; on resume logs what the yield said and how it
 * ends: arg 0 returns, 1 finishes with CORO_EEXIT, 2 with -EPIPE. */
static void *closeable(void *arg) {
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  void *in = SENTINEL;
  int rc = coro_yield(IV(1), &in);
  note("%s,in=%s;", coro_err_name(rc), in == NULL ? "NULL" : "other");
  switch (VI(arg)) {
  case 0:
    return IV(99);
  case 1:
    return coro_fail(rc);
  default:
    return coro_fail(-EPIPE);
  }
}

TEST(close_suspended_runs_cleanup) {
  coro *g;
  void *r;
  /* It returns on the exit request: close reports 0 */
  log_reset();
  ASSERT_EQ(coro_create(&g, closeable, IV(0), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_STR_EQ(logbuf, "");
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT,in=NULL;C");
  ASSERT_EQ(coro_result(g, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_EDONE);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT,in=NULL;C"); /* once */

  /* It passes GeneratorExit on: still a clean close, not an error */
  log_reset();
  ASSERT_EQ(coro_create(&g, closeable, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT,in=NULL;C");
  r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_destroy(g), 0);

  /* It raises another error while closing: close reports it, it is CLOSED */
  log_reset();
  ASSERT_EQ(coro_create(&g, closeable, IV(2), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), -EPIPE);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT,in=NULL;C");
  ASSERT_EQ(coro_result(g, &r), -EPIPE);
  ASSERT_EQ(coro_close(g), 0); /* closing again is a no-op */
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT,in=NULL;C");
}

/* Ignores the first exit request (yields "ignored"), obeys the second. */
static void *ignores_exit_once(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  int rc = coro_yield(IV(1), NULL);
  note("%s;", rc ? coro_err_name(rc) : "0");
  rc = coro_yield(IV(2), NULL); /* generator ignored GeneratorExit */
  note("%s;", rc ? coro_err_name(rc) : "0");
  rc = coro_yield(IV(3), NULL);
  note("%s;", rc ? coro_err_name(rc) : "0");
  return NULL;
}

TEST(close_ignored_generatorexit_stays_suspended) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, ignores_exit_once, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), CORO_EIGNORED);
  ASSERT_EQ(coro_get_state(g), CORO_SUSPENDED);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;"); /* no cleanup: it did not finish */
  ASSERT_EQ(coro_result(g, NULL), -EAGAIN);
  /* still a working generator, paused at the yield after the exit request */
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 3);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;0;");
  /* a second close goes through */
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;0;CORO_EEXIT;C");
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(close_created_or_closed_is_noop) {
  log_reset();
  coro *g;
  void *v, *r;
  /* CREATED: becomes CLOSED, the body never runs */
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "");
  r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_next(g, &v), CORO_EDONE);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_STR_EQ(logbuf, "");
  ASSERT_EQ(coro_destroy(g), 0);

  /* CLOSED by returning: close changes nothing, the return value is kept */
  ASSERT_EQ(coro_create(&g, returns_after_one_yield, IV(42), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_EQ(VI(r), 42);
  ASSERT_EQ(coro_destroy(g), 0);

  /* CLOSED by an error: close is a no-op and the error is kept */
  log_reset();
  ASSERT_EQ(coro_create(&g, raises_after_one_yield, IV(-EIO), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, &v), -EIO);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_result(g, &r), -EIO);
  ASSERT_STR_EQ(logbuf, "raise;C"); /* cleanup not run a second time */
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- send while running ------------------------------------------------------------ */

static void *sends_to_itself(void *arg) {
  (void)arg;
  coro *self = coro_self();
  void *v = SENTINEL;
  note("%d,", coro_get_state(self));
  note("%d,", coro_send(self, NULL, &v));
  note("%d,", coro_send(self, IV(1), &v));
  note("%d,", coro_next(self, &v));
  note("%d,", coro_throw(self, -EIO, &v));
  note("%d,", coro_close(self));
  note("%s", v == SENTINEL ? "untouched" : "touched");
  coro_yield(IV(1), NULL);
  /* again from a SUSPENDED-then-resumed state, not only the first run */
  note(";%d,%d", coro_next(self, &v), coro_get_state(self));
  return IV(2);
}

TEST(send_to_running_is_ebusy) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, sends_to_itself, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  char expect[128];
  snprintf(expect, sizeof(expect), "%d,%d,%d,%d,%d,%d,untouched", CORO_RUNNING, -EBUSY, -EBUSY,
           -EBUSY, -EBUSY, -EBUSY);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED); /* refusals changed nothing */
  ASSERT_EQ(VI(v), 2);
  size_t n = strlen(expect);
  snprintf(expect + n, sizeof(expect) - n, ";%d,%d", -EBUSY, CORO_RUNNING);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- destroy ----------------------------------------------------------------------- */

static void *pushes_abc_then_yields(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "A"), 0);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "B"), 0);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  int rc = coro_yield(IV(1), NULL);
  note("%s;", coro_err_name(rc));
  return NULL;
}

TEST(destroy_suspended_closes_first) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, pushes_abc_then_yields, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_STR_EQ(logbuf, "");
  ASSERT_EQ(coro_destroy(g), 0);
  /* the body saw the exit request, then its cleanups ran, LIFO, once */
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;CBA");
}

/* The process's memory mappings (/proc/self/maps): how many, and their total
 * size.  Both, because the kernel merges adjacent anonymous mappings: leaked
 * stacks may add size without adding lines.  (Not VmSize: under qemu-user
 * that is the emulator's, while /proc/self/maps shows the program's own.) */
struct mem {
  long maps; /* number of mappings */
  long kib;  /* total size in KiB */
};

static struct mem mem_now(void) {
  static char buf[1 << 16];
  struct mem m = {-1, -1};
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return m;
  /* each line starts "lo-hi " in hex; a read may end mid-line */
  size_t have = 0;
  ssize_t got;
  unsigned long long bytes = 0;
  m.maps = 0;
  while ((got = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
    have += (size_t)got;
    buf[have] = '\0';
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
      char *end;
      unsigned long long lo = strtoull(line, &end, 16);
      unsigned long long hi = *end == '-' ? strtoull(end + 1, NULL, 16) : lo;
      bytes += hi - lo;
      m.maps++;
      line = nl + 1;
    }
    have = (size_t)(buf + have - line);
    memmove(buf, line, have);
  }
  close(fd);
  m.kib = (long)(bytes / 1024);
  return m;
}

/* Fails unless the mappings grew by at most `maps` more and `kib` KiB. */
#define ASSERT_MEM_GROWTH_AT_MOST(before, maps_, kib_)                                             \
  do {                                                                                             \
    struct mem now_ = mem_now();                                                                   \
    if ((before).maps < 0 || (before).kib < 0 || now_.maps > (before).maps + (maps_) ||            \
        now_.kib > (before).kib + (kib_))                                                          \
      test__fail(__FILE__, __LINE__, "mappings grew from %ld (%ld KiB) to %ld (%ld KiB)",          \
                 (before).maps, (before).kib, now_.maps, now_.kib);                                \
  } while (0)

static void *ignores_every_exit(void *arg) {
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "A"), 0);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "B"), 0);
  for (;;) {
    int rc = coro_yield(arg, NULL);
    if (rc == CORO_EEXIT) note("x");
  }
}

TEST(destroy_ignoring_reports_and_frees) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, ignores_every_exit, IV(5), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(g), CORO_EIGNORED);
  /* it was asked to exit once, ignored it; its cleanups still ran, LIFO, once */
  ASSERT_STR_EQ(logbuf, "xBA");

  /* ...and it was freed anyway: thousands of them do not add mappings */
  struct mem before = mem_now();
  for (int i = 0; i < 3000; i++) {
    log_reset();
    ASSERT_EQ(coro_create(&g, ignores_every_exit, IV(i), NULL), 0);
    void *v;
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
    ASSERT_EQ(coro_destroy(g), CORO_EIGNORED);
    ASSERT_STR_EQ(logbuf, "xBA");
  }
  ASSERT_MEM_GROWTH_AT_MOST(before, 2, 1024); /* 3000 stacks would be 200 MiB */
}

/* --- yield from -------------------------------------------------------------------- */

/* sub: yields arg, arg+1, arg+2, returns arg+99 */
static void *sub_counter(void *arg) {
  long long base = VI(arg);
  for (int i = 0; i < 3; i++) coro_yield(IV(base + i), NULL);
  return IV(base + 99);
}

/* outer: yields 0, delegates to the sub given as arg, yields what it returned
 * (or the error), returns -1 */
static void *outer_delegator(void *arg) {
  coro *sub = arg;
  coro_yield(IV(0), NULL);
  void *r = SENTINEL;
  int rc = coro_yield_from(sub, &r);
  note("yf=%d,r=%lld;", rc, r == SENTINEL ? -12345LL : VI(r));
  coro_yield(r, NULL);
  return IV(-1);
}

static coro *observed_outer;

/* a sub that reports the state of the coroutine delegating to it */
static void *sub_observes(void *arg) {
  (void)arg;
  note("outer=%s;", coro_state_name(coro_get_state(observed_outer)));
  coro_yield(IV(1), NULL);
  note("outer=%s;", coro_state_name(coro_get_state(observed_outer)));
  return NULL;
}

TEST(yield_from_delegator_is_normal_while_sub_runs) {
  log_reset();
  coro *sub;
  ASSERT_EQ(coro_create(&sub, sub_observes, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&observed_outer, outer_delegator, sub, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(observed_outer, &v), CORO_YIELDED); /* 0 */
  ASSERT_EQ(coro_next(observed_outer, &v), CORO_YIELDED); /* the sub's 1 */
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_get_state(observed_outer), CORO_SUSPENDED);
  ASSERT_EQ(coro_next(observed_outer, &v), CORO_YIELDED); /* the sub returned */
  ASSERT_STR_EQ(logbuf, "outer=NORMAL;outer=NORMAL;yf=0,r=0;");
  ASSERT_EQ(coro_destroy(observed_outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

TEST(yield_from_values_pass_through) {
  log_reset();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, sub_counter, IV(10), NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_delegator, sub, NULL), 0);
  long long want[] = {0, 10, 11, 12, 109};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), want[i]);
    if (i >= 1 && i <= 3) {
      /* while delegating: outer and sub both paused */
      ASSERT_EQ(coro_get_state(outer), CORO_SUSPENDED);
      ASSERT_EQ(coro_get_state(sub), CORO_SUSPENDED);
    }
  }
  ASSERT_STR_EQ(logbuf, "yf=0,r=109;");
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_next(outer, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), -1);
  /* sub is not destroyed by yield_from: the caller still owns it */
  void *r;
  ASSERT_EQ(coro_result(sub, &r), 0);
  ASSERT_EQ(VI(r), 109);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

/* sub: logs every value it is sent, yields it + 100; stops when sent None */
static void *sub_echo(void *arg) {
  (void)arg;
  void *in = NULL;
  coro_yield(IV(-1), &in);
  while (in) {
    note("s%lld;", VI(in));
    void *x = in;
    coro_yield(IV(VI(x) + 100), &in);
  }
  return IV(77);
}

TEST(yield_from_send_forwarded) {
  log_reset();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, sub_echo, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_delegator, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED); /* into the sub */
  ASSERT_EQ(VI(v), -1);
  ASSERT_EQ(coro_send(outer, IV(7), &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 107);
  ASSERT_EQ(coro_send(outer, IV(8), &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 108);
  ASSERT_STR_EQ(logbuf, "s7;s8;");
  ASSERT_EQ(coro_send(outer, NULL, &v), CORO_YIELDED); /* sub returns 77 */
  ASSERT_EQ(VI(v), 77);
  ASSERT_STR_EQ(logbuf, "s7;s8;yf=0,r=77;");
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

/* sub: handles -EIO (logs, yields 555), re-raises anything else */
static void *sub_handles_eio(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "subC;"), 0);
  int rc = coro_yield(IV(1), NULL);
  for (;;) {
    if (rc == -EIO) {
      note("sub:EIO;");
      rc = coro_yield(IV(555), NULL);
    } else if (rc < 0) {
      note("sub:%s;", coro_err_name(rc));
      return coro_fail(rc);
    } else {
      rc = coro_yield(IV(2), NULL);
    }
  }
}

TEST(yield_from_throw_forwarded) {
  log_reset();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, sub_handles_eio, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_delegator, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  /* handled inside the sub: the sub's next yield comes out of the throw */
  ASSERT_EQ(coro_throw(outer, -EIO, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 555);
  ASSERT_STR_EQ(logbuf, "sub:EIO;");
  ASSERT_EQ(coro_get_state(sub), CORO_SUSPENDED);
  /* not handled by the sub: it finishes with it, yield_from reports it */
  ASSERT_EQ(coro_throw(outer, -EPIPE, &v), CORO_YIELDED);
  ASSERT_PTR_EQ(v, NULL); /* outer yields its r, which is NULL */
  char expect[128];
  snprintf(expect, sizeof(expect), "sub:EIO;sub:EPIPE;subC;yf=%d,r=0;", -EPIPE);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_result(sub, NULL), -EPIPE);
  ASSERT_EQ(coro_get_state(outer), CORO_SUSPENDED);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

/* sub: returns 4242 when an error is thrown in */
static void *sub_returns_on_throw(void *arg) {
  (void)arg;
  while (coro_yield(IV(3), NULL) == 0) {}
  return IV(4242);
}

TEST(yield_from_throw_answered_by_return) {
  log_reset();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, sub_returns_on_throw, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_delegator, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 3);
  /* the sub returns in answer to the throw: yield from evaluates to that */
  ASSERT_EQ(coro_throw(outer, -EIO, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 4242);
  ASSERT_STR_EQ(logbuf, "yf=0,r=4242;");
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

/* outer with a cleanup, logs what yield_from says, then returns */
static void *outer_logs_exit(void *arg) {
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "outerC;"), 0);
  int rc = coro_yield_from(arg, NULL);
  note("outer:%s;", coro_err_name(rc));
  return NULL;
}

TEST(yield_from_close_forwarded) {
  log_reset();
  coro *sub, *outer;
  ASSERT_EQ(coro_create(&sub, sub_handles_eio, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_logs_exit, sub, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_close(outer), 0);
  /* the sub is closed first (its cleanup runs), then the outer sees the
   * exit request and runs its own */
  ASSERT_STR_EQ(logbuf, "sub:CORO_EEXIT;subC;outer:CORO_EEXIT;outerC;");
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_get_state(outer), CORO_CLOSED);
  ASSERT_EQ(coro_result(sub, NULL), 0);   /* closed as asked */
  ASSERT_EQ(coro_result(outer, NULL), 0); /* returned */
  ASSERT_EQ(coro_destroy(sub), 0);
  ASSERT_EQ(coro_destroy(outer), 0);

  /* the same through destroy of the outer */
  log_reset();
  ASSERT_EQ(coro_create(&sub, sub_handles_eio, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_logs_exit, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_STR_EQ(logbuf, "sub:CORO_EEXIT;subC;outer:CORO_EEXIT;outerC;");
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(sub), 0); /* no longer delegated to: destroyable */
}

static void *sub_returns_at_once(void *arg) {
  note("sub;");
  return arg;
}

TEST(yield_from_returns_sub_result) {
  log_reset();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, sub_returns_at_once, IV(1234), NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_delegator, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 0);
  /* the sub never yields: the outer goes straight on with its result */
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1234);
  ASSERT_STR_EQ(logbuf, "sub;yf=0,r=1234;");
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

/* outer that passes the sub's error on */
static void *outer_reraises(void *arg) {
  void *r = SENTINEL;
  int rc = coro_yield_from(arg, &r);
  note("yf=%d,r=%s;", rc, r == NULL ? "NULL" : "other");
  if (rc < 0) return coro_fail(rc);
  return r;
}

TEST(yield_from_sub_error_propagates) {
  log_reset();
  coro *sub, *outer;
  void *v;
  ASSERT_EQ(coro_create(&sub, raises_after_one_yield, IV(-EPIPE), NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_reraises, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  v = SENTINEL;
  ASSERT_EQ(coro_next(outer, &v), -EPIPE);
  ASSERT_PTR_EQ(v, NULL);
  char expect[64];
  snprintf(expect, sizeof(expect), "raise;Cyf=%d,r=NULL;", -EPIPE);
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_get_state(sub), CORO_CLOSED);
  ASSERT_EQ(coro_get_state(outer), CORO_CLOSED);
  ASSERT_EQ(coro_result(sub, NULL), -EPIPE);
  ASSERT_EQ(coro_result(outer, NULL), -EPIPE);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

TEST(yield_from_finished_sub_gives_null) {
  log_reset();
  coro *sub, *outer;
  void *v;
  /* a sub that returned a value: the value was already taken */
  ASSERT_EQ(coro_create(&sub, sub_returns_at_once, IV(5), NULL), 0);
  ASSERT_EQ(coro_next(sub, &v), CORO_RETURNED);
  ASSERT_EQ(coro_create(&outer, outer_reraises, sub, NULL), 0);
  v = SENTINEL;
  ASSERT_EQ(coro_next(outer, &v), CORO_RETURNED);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_STR_EQ(logbuf, "sub;yf=0,r=NULL;");
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);

  /* a sub closed before it ever ran */
  log_reset();
  ASSERT_EQ(coro_create(&sub, sub_returns_at_once, IV(5), NULL), 0);
  ASSERT_EQ(coro_close(sub), 0);
  ASSERT_EQ(coro_create(&outer, outer_reraises, sub, NULL), 0);
  ASSERT_EQ(coro_next(outer, &v), CORO_RETURNED);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_STR_EQ(logbuf, "yf=0,r=NULL;"); /* the sub's body never ran */
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
}

/* --- PEP 479: a finished generator's CORO_EDONE leaking out of another --------------- */

/* Python twins of the cases below (CPython 3.11, since 3.7 by PEP 479):
 *
 *   def done(): return 1; yield
 *   def leak(d):                         # d already exhausted
 *       next(d)                          # StopIteration raised inside leak
 *       yield 1
 *   next(leak(d))        -> RuntimeError: generator raised StopIteration
 *   def outer(d):
 *       r = yield from leak(d)           # the RuntimeError passes through
 *       yield 2
 *   next(outer(d))       -> RuntimeError: generator raised StopIteration
 *   g = y(); next(g); g.throw(StopIteration)   -> RuntimeError (passed on)
 *   g = y(); g.throw(StopIteration)            -> RuntimeError (just created)
 *   g.throw(StopIteration) once g is closed    -> StopIteration (no frame runs)
 */

/* Passes on what coro_next() of the finished generator `arg` reports, the
 * way the header teaches: `return coro_fail(rc);`. */
static void *passes_on_done(void *arg) {
  int rc = coro_next(arg, NULL);
  note("inner=%s;", coro_err_name(rc));
  if (rc < 0) return coro_fail(rc);
  coro_yield(IV(1), NULL);
  return NULL;
}

static coro *finished_generator(void) {
  coro *d;
  ASSERT_EQ(coro_create(&d, sub_returns_at_once, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(d, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_next(d, NULL), CORO_EDONE);
  return d;
}

TEST(pep479_done_raised_by_a_body_is_leakeddone) {
  log_reset();
  coro *d = finished_generator(), *g;
  ASSERT_EQ(coro_create(&g, passes_on_done, d, NULL), 0);
  void *v = SENTINEL;
  ASSERT_EQ(coro_next(g, &v), CORO_ELEAKEDDONE);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_STR_EQ(logbuf, "sub;inner=CORO_EDONE;");
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_EQ(coro_result(g, NULL), CORO_ELEAKEDDONE);
  /* ...and only then does g report "finished", as any CLOSED generator */
  ASSERT_EQ(coro_next(g, NULL), CORO_EDONE);
  ASSERT_STR_EQ(coro_err_name(CORO_ELEAKEDDONE), "CORO_ELEAKEDDONE");
  ASSERT_STR_EQ(coro_strerror(CORO_ELEAKEDDONE), "generator raised StopIteration");
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_destroy(d), 0);
}

TEST(pep479_yield_from_propagates_leakeddone) {
  log_reset();
  coro *d = finished_generator(), *sub, *outer;
  ASSERT_EQ(coro_create(&sub, passes_on_done, d, NULL), 0);
  ASSERT_EQ(coro_create(&outer, outer_reraises, sub, NULL), 0);
  void *v = SENTINEL;
  ASSERT_EQ(coro_next(outer, &v), CORO_ELEAKEDDONE);
  ASSERT_PTR_EQ(v, NULL);
  char expect[80];
  snprintf(expect, sizeof(expect), "sub;inner=CORO_EDONE;yf=%d,r=NULL;", CORO_ELEAKEDDONE);
  ASSERT_STR_EQ(logbuf, expect); /* an error, not "sub finished" */
  ASSERT_EQ(coro_result(outer, NULL), CORO_ELEAKEDDONE);
  ASSERT_EQ(coro_destroy(outer), 0);
  ASSERT_EQ(coro_destroy(sub), 0);
  ASSERT_EQ(coro_destroy(d), 0);
}

/* Passes on whatever error its one yield gets. */
static void *passes_thrown(void *arg) {
  (void)arg;
  int rc = coro_yield(IV(1), NULL);
  return rc < 0 ? coro_fail(rc) : NULL;
}

TEST(pep479_thrown_done_becomes_leakeddone) {
  coro *g;
  void *v = SENTINEL;
  /* suspended, passes the thrown CORO_EDONE on */
  ASSERT_EQ(coro_create(&g, passes_thrown, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_throw(g, CORO_EDONE, &v), CORO_ELEAKEDDONE);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_EQ(coro_result(g, NULL), CORO_ELEAKEDDONE);
  /* closed: the code comes straight back, as StopIteration does in Python */
  ASSERT_EQ(coro_throw(g, CORO_EDONE, &v), CORO_EDONE);
  ASSERT_EQ(coro_destroy(g), 0);
  /* just created: the body never runs, but the frame "raised" it */
  ASSERT_EQ(coro_create(&g, passes_thrown, NULL, NULL), 0);
  ASSERT_EQ(coro_throw(g, CORO_EDONE, &v), CORO_ELEAKEDDONE);
  ASSERT_EQ(coro_result(g, NULL), CORO_ELEAKEDDONE);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- states ------------------------------------------------------------------------ */

static coro *state_outer;

/* inner: reports the states of the outer and itself as seen from inside */
static void *state_inner(void *arg) {
  (void)arg;
  note("inner:outer=%s,self=%s;", coro_state_name(coro_get_state(state_outer)),
       coro_state_name(coro_get_state(coro_self())));
  return NULL;
}

static void *state_outer_body(void *arg) {
  coro *inner = arg;
  note("outer:self=%s,inner=%s;", coro_state_name(coro_get_state(coro_self())),
       coro_state_name(coro_get_state(inner)));
  ASSERT_EQ(coro_next(inner, NULL), CORO_RETURNED);
  note("outer:self=%s,inner=%s;", coro_state_name(coro_get_state(coro_self())),
       coro_state_name(coro_get_state(inner)));
  coro_yield(NULL, NULL);
  return NULL;
}

TEST(states_created_running_suspended_normal_closed) {
  log_reset();
  coro *inner;
  ASSERT_EQ(coro_create(&inner, state_inner, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&state_outer, state_outer_body, inner, NULL), 0);
  ASSERT_EQ(coro_get_state(state_outer), CORO_CREATED);
  ASSERT_EQ(coro_next(state_outer, NULL), CORO_YIELDED);
  ASSERT_STR_EQ(logbuf, "outer:self=RUNNING,inner=CREATED;"
                        "inner:outer=NORMAL,self=RUNNING;"
                        "outer:self=RUNNING,inner=CLOSED;");
  ASSERT_EQ(coro_get_state(state_outer), CORO_SUSPENDED);
  ASSERT_EQ(coro_next(state_outer, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_get_state(state_outer), CORO_CLOSED);

  ASSERT_EQ(CORO_CREATED, 0);
  ASSERT_STR_EQ(coro_state_name(CORO_CREATED), "CREATED");
  ASSERT_STR_EQ(coro_state_name(CORO_RUNNING), "RUNNING");
  ASSERT_STR_EQ(coro_state_name(CORO_SUSPENDED), "SUSPENDED");
  ASSERT_STR_EQ(coro_state_name(CORO_NORMAL), "NORMAL");
  ASSERT_STR_EQ(coro_state_name(CORO_CLOSED), "CLOSED");
  ASSERT_STR_EQ(coro_state_name(CORO_WAITING), "WAITING");
  ASSERT_STR_EQ(coro_state_name(CORO_WAITING + 1), "?");
  ASSERT_STR_EQ(coro_state_name(-1), "?");
  ASSERT_STR_EQ(coro_state_name(-EINVAL), "?");
  ASSERT_EQ(coro_destroy(state_outer), 0);
  ASSERT_EQ(coro_destroy(inner), 0);
}

/* --- for x in g -------------------------------------------------------------------- */

static void *count_n(void *arg) {
  for (long long i = 0; i < VI(arg); i++) coro_yield(IV(i * i), NULL);
  return IV(77);
}

static void *count_then_fail(void *arg) {
  (void)arg;
  coro_yield(IV(1), NULL);
  coro_yield(IV(2), NULL);
  return coro_fail(-ERANGE);
}

TEST(foreach_iterates_all_values) {
  coro *g;
  ASSERT_EQ(coro_create(&g, count_n, IV(6), NULL), 0);
  long long n = 0, sum = 0;
  CORO_FOREACH(v, g) {
    ASSERT_EQ(VI(v), n * n);
    sum += VI(v);
    n++;
  }
  ASSERT_EQ(n, 6);
  ASSERT_EQ(sum, 0 + 1 + 4 + 9 + 16 + 25);
  void *r;
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_EQ(VI(r), 77);
  ASSERT_EQ(coro_destroy(g), 0);

  /* an empty generator: the body runs, no iteration */
  ASSERT_EQ(coro_create(&g, count_n, IV(0), NULL), 0);
  n = 0;
  CORO_FOREACH(v, g) {
    (void)v;
    n++;
  }
  ASSERT_EQ(n, 0);
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_EQ(VI(r), 77);
  ASSERT_EQ(coro_destroy(g), 0);

  /* ends on an error too; coro_result tells which */
  ASSERT_EQ(coro_create(&g, count_then_fail, NULL, NULL), 0);
  n = 0;
  CORO_FOREACH(v, g) {
    n++;
    ASSERT_EQ(VI(v), n);
  }
  ASSERT_EQ(n, 2);
  ASSERT_EQ(coro_result(g, &r), -ERANGE);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- cleanup handlers -------------------------------------------------------------- */

static void *pushes_abc_then_returns(void *arg) {
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "A"), 0);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "B"), 0);
  coro_yield(NULL, NULL);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  note("body;");
  return arg ? coro_fail(-EIO) : IV(1);
}

TEST(cleanup_handlers_run_lifo_on_finish) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, pushes_abc_then_returns, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_STR_EQ(logbuf, "");
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_STR_EQ(logbuf, "body;CBA");
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "body;CBA"); /* exactly once */

  /* finishing with an error runs them the same way */
  log_reset();
  ASSERT_EQ(coro_create(&g, pushes_abc_then_returns, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, &v), -EIO);
  ASSERT_STR_EQ(logbuf, "body;CBA");
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "body;CBA");
}

TEST(cleanup_handlers_run_lifo_on_close) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, pushes_abc_then_yields, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;CBA");
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;CBA");
}

TEST(cleanup_handlers_run_lifo_on_destroy) {
  log_reset();
  coro *g;
  /* destroyed while suspended and obeying the exit request */
  ASSERT_EQ(coro_create(&g, pushes_abc_then_yields, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "CORO_EEXIT;CBA");

  /* destroyed while suspended and ignoring it: run by destroy itself */
  log_reset();
  ASSERT_EQ(coro_create(&g, ignores_every_exit, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(g), CORO_EIGNORED);
  ASSERT_STR_EQ(logbuf, "xBA");
}

static void *pop_body(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "A"), 0);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "B"), 0);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  ASSERT_EQ(coro_cleanup_pop(1), 0); /* runs C now */
  note(";");
  ASSERT_EQ(coro_cleanup_pop(0), 0); /* drops B without running it */
  note(";");
  coro_yield(NULL, NULL);
  ASSERT_EQ(coro_cleanup_pop(1), 0); /* runs A */
  ASSERT_EQ(coro_cleanup_pop(1), -ENOENT);
  ASSERT_EQ(coro_cleanup_pop(0), -ENOENT);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "D"), 0);
  note(";");
  return NULL;
}

TEST(cleanup_pop_execute_and_discard) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, pop_body, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_STR_EQ(logbuf, "C;;");
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_STR_EQ(logbuf, "C;;A;D"); /* B never ran; D ran at the end */
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_STR_EQ(logbuf, "C;;A;D");
}

/* --- coro_fail in a cleanup handler: an exception raised in `finally` ------------- */

/* Python twins (CPython 3.11):
 *
 *   def g():                        next(g())  -> OSError: the error raised in
 *       try: return 1                              `finally` replaces the return
 *       finally: raise OSError()
 *   def g():                        next(g())  -> KeyError (its __context__ the
 *       try:                                       OSError): the last one raised
 *           try: return 1                          wins
 *           finally: raise OSError()
 *       finally: raise KeyError()
 *   def g():                        next(g())  -> OSError: replaces the body's
 *       try: raise KeyError()                      own error
 *       finally: raise OSError()
 *   def g():                        g.close()  -> OSError comes out of close
 *       try: yield 1
 *       finally: raise OSError()
 *   ... and `del g` there           the OSError goes to sys.unraisablehook
 *   a finally that calls next() on an exhausted generator -> RuntimeError
 */

/* A handler that fails with the error its arg holds, and logs it. */
static void failing_cleanup(void *arg) {
  int err = (int)VI(arg);
  note("f%s;", coro_err_name(err));
  coro_fail(err);
}

/* arg: what the body does at the end: 0 returns 7, < 0 fails with it, 1
 * yields once first (to be closed or destroyed there).  Its handlers fail
 * with -EIO then, pushed first and so run last, -ENOENT. */
static void *body_with_failing_cleanups(void *arg) {
  int how = (int)VI(arg);
  ASSERT_EQ(coro_cleanup_push(failing_cleanup, IV(-ENOENT)), 0);
  ASSERT_EQ(coro_cleanup_push(failing_cleanup, IV(-EIO)), 0);
  if (how == 1) {
    int rc = coro_yield(IV(1), NULL);
    note("yield=%s;", coro_err_name(rc));
    return IV(7);
  }
  return how < 0 ? coro_fail(how) : IV(7);
}

/* One handler, failing with arg. */
static void *returns_with_one_failing_cleanup(void *arg) {
  ASSERT_EQ(coro_cleanup_push(failing_cleanup, arg), 0);
  return IV(7);
}

TEST(cleanup_fail_replaces_the_return_value) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, returns_with_one_failing_cleanup, IV(-EIO), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), -EIO);
  ASSERT_PTR_EQ(v, NULL);
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -EIO);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_STR_EQ(logbuf, "fEIO;");
  ASSERT_EQ(coro_destroy(g), 0);
  /* a handler passing on a finished generator's CORO_EDONE: PEP 479 */
  ASSERT_EQ(coro_create(&g, returns_with_one_failing_cleanup, IV(CORO_EDONE), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_ELEAKEDDONE);
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(cleanup_fail_last_handler_to_fail_wins) {
  log_reset();
  coro *g;
  void *v = SENTINEL;
  ASSERT_EQ(coro_create(&g, body_with_failing_cleanups, IV(0), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), -ENOENT);
  ASSERT_PTR_EQ(v, NULL);
  ASSERT_STR_EQ(logbuf, "fEIO;fENOENT;");
  ASSERT_EQ(coro_destroy(g), 0);
  /* ...and they replace the body's own error */
  log_reset();
  ASSERT_EQ(coro_create(&g, body_with_failing_cleanups, IV(-EPIPE), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), -ENOENT);
  ASSERT_EQ(coro_result(g, NULL), -ENOENT);
  ASSERT_STR_EQ(logbuf, "fEIO;fENOENT;");
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(cleanup_fail_during_close_comes_out_of_close) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, body_with_failing_cleanups, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), -ENOENT);
  ASSERT_STR_EQ(logbuf, "yield=CORO_EEXIT;fEIO;fENOENT;");
  ASSERT_EQ(coro_get_state(g), CORO_CLOSED);
  ASSERT_EQ(coro_result(g, NULL), -ENOENT);
  ASSERT_EQ(coro_close(g), 0); /* closed: a no-op from now on */
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(cleanup_fail_during_destroy_comes_out_of_destroy) {
  log_reset();
  coro *g;
  ASSERT_EQ(coro_create(&g, body_with_failing_cleanups, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(g), -ENOENT); /* freed all the same */
  ASSERT_STR_EQ(logbuf, "yield=CORO_EEXIT;fEIO;fENOENT;");
}

/* Pushes a failing handler, then ignores every exit request. */
static void *ignores_exit_with_failing_cleanup(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(failing_cleanup, IV(-EIO)), 0);
  for (;;) coro_yield(NULL, NULL);
}

/* A coroutine that destroys arg (which ignores exit requests) and returns 9. */
static void *destroys_an_ignoring_one(void *arg) {
  int rc = coro_destroy(arg);
  note("destroy=%s;", coro_err_name(rc));
  return IV(9);
}

TEST(cleanup_fail_in_handlers_destroy_runs_does_not_touch_the_destroyer) {
  log_reset();
  coro *g, *d;
  ASSERT_EQ(coro_create(&g, ignores_exit_with_failing_cleanup, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_create(&d, destroys_an_ignoring_one, g, NULL), 0);
  void *v = SENTINEL;
  /* The handler runs on d's stack: its error belongs to g, which is freed
   * having ignored the exit request -- that is what destroy reports. */
  ASSERT_EQ(coro_next(d, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 9);
  ASSERT_STR_EQ(logbuf, "fEIO;destroy=CORO_EIGNORED;");
  ASSERT_EQ(coro_destroy(d), 0);
  /* from the thread's own stack the same */
  log_reset();
  ASSERT_EQ(coro_create(&g, ignores_exit_with_failing_cleanup, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(g), CORO_EIGNORED);
  ASSERT_STR_EQ(logbuf, "fEIO;");
}

/* coro_cleanup_pop(1) runs its handler in the body: a failure is recorded as
 * coro_fail() in the body is (it stands unless a later yield discards it). */
static void *pops_a_failing_cleanup(void *arg) {
  ASSERT_EQ(coro_cleanup_push(failing_cleanup, IV(-EIO)), 0);
  ASSERT_EQ(coro_cleanup_pop(1), 0);
  if (arg) coro_yield(NULL, NULL);
  return IV(7);
}

TEST(cleanup_fail_in_a_popped_handler_is_the_bodys) {
  log_reset();
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, pops_a_failing_cleanup, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), -EIO);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_create(&g, pops_a_failing_cleanup, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 7);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- coro_fail --------------------------------------------------------------------- */

static void *fail_then_yield(void *arg) {
  ASSERT_PTR_EQ(coro_fail(-EIO), NULL);
  coro_yield(IV(1), NULL);    /* discards the recorded error */
  if (arg) coro_fail(-EPIPE); /* recorded, then the body returns normally */
  return IV(5);
}

TEST(fail_discarded_by_later_yield) {
  coro *g;
  void *v;
  ASSERT_EQ(coro_create(&g, fail_then_yield, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 5);
  ASSERT_EQ(coro_result(g, NULL), 0);
  ASSERT_EQ(coro_destroy(g), 0);

  /* an error recorded after the last yield stands, whatever the body returns */
  ASSERT_EQ(coro_create(&g, fail_then_yield, IV(1), NULL), 0);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  v = SENTINEL;
  ASSERT_EQ(coro_next(g, &v), -EPIPE);
  ASSERT_PTR_EQ(v, NULL);
  void *r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -EPIPE);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- coro_result ------------------------------------------------------------------- */

TEST(coro_result_reports_outcome) {
  coro *g;
  void *r;
  /* not finished: -EAGAIN while CREATED and SUSPENDED, *ret untouched */
  ASSERT_EQ(coro_create(&g, returns_after_one_yield, IV(8), NULL), 0);
  r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -EAGAIN);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_result(g, &r), -EAGAIN);
  ASSERT_PTR_EQ(r, SENTINEL);
  /* returned */
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_result(g, &r), 0);
  ASSERT_EQ(VI(r), 8);
  ASSERT_EQ(coro_result(g, NULL), 0); /* ret may be NULL */
  ASSERT_EQ(coro_destroy(g), 0);

  /* failed */
  ASSERT_EQ(coro_create(&g, raises_after_one_yield, IV(-ENOSPC), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_next(g, NULL), -ENOSPC);
  r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -ENOSPC);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_destroy(g), 0);

  /* closed while suspended */
  ASSERT_EQ(coro_create(&g, closeable, IV(0), NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(coro_result(g, NULL), 0);
  ASSERT_EQ(coro_destroy(g), 0);

  /* thrown into before it started */
  ASSERT_EQ(coro_create(&g, returns_after_one_yield, IV(8), NULL), 0);
  ASSERT_EQ(coro_throw(g, -ETIMEDOUT, NULL), -ETIMEDOUT);
  r = SENTINEL;
  ASSERT_EQ(coro_result(g, &r), -ETIMEDOUT);
  ASSERT_PTR_EQ(r, NULL);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- names and self ---------------------------------------------------------------- */

TEST(name_set_get_truncate) {
  coro *g;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, NULL), 0);
  ASSERT_STR_EQ(coro_name(g), ""); /* none */
  ASSERT_EQ(coro_destroy(g), 0);

  char src[64] = "worker-1";
  coro_attr attr;
  ASSERT_EQ(coro_attr_init(&attr), 0);
  attr.name = src;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, &attr), 0);
  src[0] = 'X'; /* the name was copied */
  ASSERT_STR_EQ(coro_name(g), "worker-1");

  ASSERT_EQ(coro_set_name(g, "renamed"), 0);
  ASSERT_STR_EQ(coro_name(g), "renamed");
  /* exactly CORO_NAME_MAX - 1 bytes fit */
  char max[CORO_NAME_MAX];
  memset(max, 'm', sizeof(max) - 1);
  max[sizeof(max) - 1] = '\0';
  ASSERT_EQ(coro_set_name(g, max), 0);
  ASSERT_STR_EQ(coro_name(g), max);
  /* longer is truncated to CORO_NAME_MAX - 1 */
  char longer[100];
  for (size_t i = 0; i < sizeof(longer) - 1; i++) longer[i] = (char)('a' + (char)(i % 26));
  longer[sizeof(longer) - 1] = '\0';
  ASSERT_EQ(coro_set_name(g, longer), 0);
  ASSERT_EQ(strlen(coro_name(g)), CORO_NAME_MAX - 1);
  ASSERT_EQ(strncmp(coro_name(g), longer, CORO_NAME_MAX - 1), 0);
  /* NULL clears it */
  ASSERT_EQ(coro_set_name(g, NULL), 0);
  ASSERT_STR_EQ(coro_name(g), "");
  ASSERT_EQ(coro_destroy(g), 0);

  /* a long name through the attributes is truncated the same way */
  attr.name = longer;
  ASSERT_EQ(coro_create(&g, logging_body, NULL, &attr), 0);
  ASSERT_EQ(strlen(coro_name(g)), CORO_NAME_MAX - 1);
  ASSERT_EQ(strncmp(coro_name(g), longer, CORO_NAME_MAX - 1), 0);
  /* the name survives running and finishing */
  log_reset();
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_close(g), 0);
  ASSERT_EQ(strncmp(coro_name(g), longer, CORO_NAME_MAX - 1), 0);
  ASSERT_EQ(coro_destroy(g), 0);
}

static coro *self_inner_h, *self_outer_h;

static void *self_inner(void *arg) {
  (void)arg;
  note("inner=%d;", coro_self() == self_inner_h);
  coro_yield(NULL, NULL);
  note("inner=%d;", coro_self() == self_inner_h);
  return NULL;
}

static void *self_outer(void *arg) {
  (void)arg;
  note("outer=%d;", coro_self() == self_outer_h);
  ASSERT_EQ(coro_next(self_inner_h, NULL), CORO_YIELDED);
  note("outer=%d;", coro_self() == self_outer_h); /* back to us after it yielded */
  coro_yield(NULL, NULL);
  ASSERT_EQ(coro_next(self_inner_h, NULL), CORO_RETURNED);
  note("outer=%d;", coro_self() == self_outer_h); /* and after it finished */
  return NULL;
}

TEST(self_is_current_or_null) {
  log_reset();
  ASSERT_PTR_EQ(coro_self(), NULL);
  ASSERT_EQ(coro_create(&self_inner_h, self_inner, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&self_outer_h, self_outer, NULL, NULL), 0);
  ASSERT_PTR_EQ(coro_self(), NULL);
  ASSERT_EQ(coro_next(self_outer_h, NULL), CORO_YIELDED);
  ASSERT_PTR_EQ(coro_self(), NULL);
  ASSERT_STR_EQ(logbuf, "outer=1;inner=1;outer=1;");
  ASSERT_EQ(coro_next(self_outer_h, NULL), CORO_RETURNED);
  ASSERT_PTR_EQ(coro_self(), NULL);
  ASSERT_STR_EQ(logbuf, "outer=1;inner=1;outer=1;inner=1;outer=1;");
  ASSERT_EQ(coro_destroy(self_outer_h), 0);
  ASSERT_EQ(coro_destroy(self_inner_h), 0);
  ASSERT_PTR_EQ(coro_self(), NULL);
}

/* --- nesting ----------------------------------------------------------------------- */

static coro *nest_a_h, *nest_b_h;

/* C yields 1..4 then returns 100; first reports the states of A and B */
static void *nest_c(void *arg) {
  (void)arg;
  note("states:A=%s,B=%s,C=%s;", coro_state_name(coro_get_state(nest_a_h)),
       coro_state_name(coro_get_state(nest_b_h)), coro_state_name(coro_get_state(coro_self())));
  for (int i = 1; i <= 4; i++) {
    void *in = NULL;
    coro_yield(IV(i), &in);
    note("C%lld;", VI(in));
  }
  return IV(100);
}

/* B resumes C, sends it 10*its previous value, yields each value + 1000 */
static void *nest_b(void *arg) {
  coro *c = arg;
  void *v = NULL;
  long long prev = 0;
  int rc;
  while ((rc = coro_send(c, prev ? IV(10 * prev) : NULL, &v)) == CORO_YIELDED) {
    prev = VI(v);
    void *in = NULL;
    coro_yield(IV(VI(v) + 1000), &in);
    note("B%lld;", VI(in));
  }
  ASSERT_EQ(rc, CORO_RETURNED);
  return IV(VI(v) + 1000);
}

/* A resumes B, yields each value negated, returns B's result + 1 */
static void *nest_a(void *arg) {
  coro *b = arg;
  void *v = NULL;
  int rc;
  while ((rc = coro_next(b, &v)) == CORO_YIELDED) {
    void *in = NULL;
    coro_yield(IV(-VI(v)), &in);
    note("A%lld;", VI(in));
  }
  ASSERT_EQ(rc, CORO_RETURNED);
  return IV(VI(v) + 1);
}

TEST(nested_resume) {
  log_reset();
  coro *a, *b, *c;
  ASSERT_EQ(coro_create(&c, nest_c, NULL, NULL), 0);
  ASSERT_EQ(coro_create(&b, nest_b, c, NULL), 0);
  ASSERT_EQ(coro_create(&a, nest_a, b, NULL), 0);
  nest_a_h = a;
  nest_b_h = b;
  void *v;
  ASSERT_EQ(coro_next(a, &v), CORO_YIELDED);
  /* seen from C at the bottom of the chain: both above it are NORMAL */
  ASSERT_STR_EQ(logbuf, "states:A=NORMAL,B=NORMAL,C=RUNNING;");
  log_reset();
  ASSERT_EQ(VI(v), -1001);
  ASSERT_EQ(coro_get_state(b), CORO_SUSPENDED);
  ASSERT_EQ(coro_get_state(c), CORO_SUSPENDED);
  for (int i = 2; i <= 4; i++) {
    ASSERT_EQ(coro_send(a, IV(i * 7), &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), -(1000 + i));
  }
  ASSERT_EQ(coro_send(a, IV(99), &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1101);
  /* each level got what its resumer sent it: A its sends, B nothing (next),
   * C ten times its previous value */
  ASSERT_STR_EQ(logbuf, "A14;B0;C10;A21;B0;C20;A28;B0;C30;A99;B0;C40;");
  ASSERT_EQ(coro_get_state(a), CORO_CLOSED);
  ASSERT_EQ(coro_get_state(b), CORO_CLOSED);
  ASSERT_EQ(coro_get_state(c), CORO_CLOSED);
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_destroy(b), 0);
  ASSERT_EQ(coro_destroy(c), 0);
}

/* Stackful: a yield deep inside ordinary nested calls pauses the whole stack. */
__attribute__((noinline)) static long deep_walk(int depth, long acc) {
  volatile long local = acc + depth; /* lives across the yield */
  if (depth == 0) {
    void *in = NULL;
    coro_yield(IV(local), &in);
    return local + VI(in);
  }
  long r = deep_walk(depth - 1, local);
  return r + local - local + 1; /* one per level on the way out */
}

static void *deep_body(void *arg) {
  int depth = (int)VI(arg);
  for (int round = 0; round < 3; round++) {
    long r = deep_walk(depth, round * 1000000L);
    coro_yield(IV(r), NULL);
  }
  return NULL;
}

TEST(deep_yield_from_nested_call) {
  coro *g;
  const int depth = 200;
  ASSERT_EQ(coro_create(&g, deep_body, IV(depth), NULL), 0);
  long sum_depths = (long)depth * (depth + 1) / 2;
  for (long round = 0; round < 3; round++) {
    void *v;
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED); /* from depth 0 of the recursion */
    ASSERT_EQ(VI(v), round * 1000000L + sum_depths);
    ASSERT_EQ(coro_send(g, IV(5), &v), CORO_YIELDED); /* unwinds all the frames */
    ASSERT_EQ(VI(v), round * 1000000L + sum_depths + 5 + depth);
  }
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- many at once ------------------------------------------------------------------ */

/* yields arg, 2*arg, ..., 10*arg; returns arg */
static void *multiples(void *arg) {
  for (long long k = 1; k <= 10; k++) coro_yield(IV(k * VI(arg)), NULL);
  return arg;
}

TEST(many_generators_interleaved) {
  enum { N = 200 };
  static coro *g[N];
  for (int i = 0; i < N; i++) ASSERT_EQ(coro_create(&g[i], multiples, IV(i + 1), NULL), 0);
  /* round-robin, a different rotation each round */
  for (long long k = 1; k <= 10; k++) {
    for (int j = 0; j < N; j++) {
      int i = (int)((j * 7 + k) % N);
      void *v;
      ASSERT_EQ(coro_next(g[i], &v), CORO_YIELDED);
      ASSERT_EQ(VI(v), k * (i + 1));
    }
  }
  for (int i = N - 1; i >= 0; i--) {
    void *v;
    ASSERT_EQ(coro_next(g[i], &v), CORO_RETURNED);
    ASSERT_EQ(VI(v), i + 1);
  }
  for (int i = 0; i < N; i++) ASSERT_EQ(coro_destroy(g[i]), 0);
}

/* --- the article's programs -------------------------------------------------------- */

/* def consumer(): r = ''; while True: n = yield r; if not n: return; ... r = '200 OK' */
static void *consumer(void *arg) {
  (void)arg;
  const char *r = "";
  for (;;) {
    void *in = NULL;
    int rc = coro_yield((void *)(uintptr_t)r, &in);
    if (rc < 0) return coro_fail(rc);
    if (!in) return NULL;
    note("[CONSUMER] Consuming %lld...\n", VI(in));
    r = "200 OK";
  }
}

TEST(article_producer_consumer) {
  log_reset();
  coro *c;
  ASSERT_EQ(coro_create(&c, consumer, NULL, NULL), 0);
  void *r = SENTINEL;
  ASSERT_EQ(coro_send(c, NULL, &r), CORO_YIELDED);
  ASSERT_STR_EQ((const char *)r, "");
  for (long long n = 1; n <= 5; n++) {
    note("[PRODUCER] Producing %lld...\n", n);
    ASSERT_EQ(coro_send(c, IV(n), &r), CORO_YIELDED);
    note("[PRODUCER] Consumer return: %s\n", (const char *)r);
  }
  ASSERT_EQ(coro_close(c), 0);
  ASSERT_EQ(coro_get_state(c), CORO_CLOSED);
  ASSERT_STR_EQ(logbuf, "[PRODUCER] Producing 1...\n"
                        "[CONSUMER] Consuming 1...\n"
                        "[PRODUCER] Consumer return: 200 OK\n"
                        "[PRODUCER] Producing 2...\n"
                        "[CONSUMER] Consuming 2...\n"
                        "[PRODUCER] Consumer return: 200 OK\n"
                        "[PRODUCER] Producing 3...\n"
                        "[CONSUMER] Consuming 3...\n"
                        "[PRODUCER] Consumer return: 200 OK\n"
                        "[PRODUCER] Producing 4...\n"
                        "[CONSUMER] Consuming 4...\n"
                        "[PRODUCER] Consumer return: 200 OK\n"
                        "[PRODUCER] Producing 5...\n"
                        "[CONSUMER] Consuming 5...\n"
                        "[PRODUCER] Consumer return: 200 OK\n");
  ASSERT_EQ(coro_destroy(c), 0);
}

/* A prints 1 2 3, B prints x y z; each yields after two lines: 1 2 x y 3 z */
static void *print_three(void *arg) {
  const char *s = arg;
  for (int i = 0; i < 3; i++) {
    note("%c\n", s[i]);
    if (i == 1) coro_yield(NULL, NULL);
  }
  return NULL;
}

TEST(article_interleave) {
  log_reset();
  coro *a, *b;
  ASSERT_EQ(coro_create(&a, print_three, "123", NULL), 0);
  ASSERT_EQ(coro_create(&b, print_three, "xyz", NULL), 0);
  int live = 2;
  while (live) {
    live = 0;
    if (coro_next(a, NULL) == CORO_YIELDED) live++;
    if (coro_next(b, NULL) == CORO_YIELDED) live++;
  }
  ASSERT_STR_EQ(logbuf, "1\n2\nx\ny\n3\nz\n");
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_destroy(b), 0);
}
