/* SPDX-License-Identifier: MIT */
/*
 * overflow.c - a stack overflow never corrupts silently: it aborts with a
 * report naming the coroutine and its stack size.  For each guard mode:
 *   madvise, mprotect  unbounded recursion runs into the guard page; the
 *                      SIGSEGV handler reports "stack overflow in coroutine
 *                      'name'" and aborts;
 *   canary             a recursion that writes just past the stack's low end
 *                      smashes the canary there; the next switch away reports
 *                      "canary smashed" and aborts.
 * Plus the canary fallbacks: past the mprotect guard budget, and when
 * installing a guard fails.
 *
 * Each case re-executes this program on itself (fork + exec of
 * this program with the case's name, so the child starts with no libcoro
 * state and its guard mode can be chosen), captures the child's stderr and
 * checks it died by SIGABRT with the expected report.  Labelled no_valgrind:
 * the children overflow on purpose.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

/* --- running a case in a fresh process --------------------------------------------- */

static int in_child(void) { return getenv("CORO_TEST_CHILD") != NULL; }

static const char *mode_env(int mode) {
  return mode == CORO_GUARD_MADVISE    ? "madvise"
         : mode == CORO_GUARD_MPROTECT ? "mprotect"
         : mode == CORO_GUARD_CANARY   ? "canary"
                                       : NULL;
}

static char child_err[1 << 14]; /* the last child's stderr */

/* This test program's path, to re-execute it.  Not "/proc/self/exe" itself:
 * under valgrind that is valgrind's own binary (readlink gives the client's). */
static const char *self_exe(void) {
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "/proc/self/exe";
  path[n] = '\0';
  return path;
}

/* A case's name and function, for run_child(). */
#define FRESH(name) #name, test_##name

/* Run case `name` (function `self`) in a fresh process with CORO_STACK_GUARD
 * for `mode` (0:
 * unset); `force` non-zero makes the child call coro__stack_force_guard_mode()
 * instead.  Returns its wait status; its stderr is in child_err. */
static int run_child(const char *name, test_fn self, int mode, int force) {
  const char *exe = self_exe();
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    struct rlimit no_core = {0, 0}; /* it aborts on purpose: no core file */
    setrlimit(RLIMIT_CORE, &no_core);
    setenv("CORO_TEST_CHILD", "1", 1);
    if (mode_env(mode))
      setenv("CORO_STACK_GUARD", mode_env(mode), 1);
    else
      unsetenv("CORO_STACK_GUARD");
    char f[16];
    snprintf(f, sizeof(f), "%d", force);
    setenv("CORO_TEST_FORCE", f, 1);
    execl(exe, "test_overflow", name, (char *)NULL);
    /* No exec (e.g. under qemu-user without binfmt_misc): if libcoro has not
     * been set up in this process yet, this fork is as fresh as an exec. */
    if (coro__page_size == 0) {
      self();
      exit(0);
    }
    _exit(127);
  }
  close(fds[1]);
  size_t n = 0;
  ssize_t got;
  while ((got = read(fds[0], child_err + n, sizeof(child_err) - 1 - n)) > 0) n += (size_t)got;
  child_err[n] = '\0';
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

/* In the child: apply CORO_TEST_FORCE before any coroutine exists, and say
 * which mode we got. */
static void child_setup(void) {
  const char *f = getenv("CORO_TEST_FORCE");
  if (f && atoi(f)) coro__stack_force_guard_mode(atoi(f));
  fprintf(stderr, "mode=%d\n", coro_stack_guard_mode());
}

static int kernel_has_madvise_guards(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  int ok = 0, fds[2];
  if (madvise(p, page, 102 /* MADV_GUARD_INSTALL */) == 0 && pipe(fds) == 0) {
    ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
  }
  munmap(p, 2 * page);
  return ok;
}

/* Fails unless the child died by SIGABRT, ran in guard mode `mode` (0: any),
 * and its stderr holds every string of `want` and none of `unwanted`. */
static void expect_abort(int status, int mode, const char *const *want, const char *unwanted) {
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
    test__fail(__FILE__, __LINE__, "child did not die by SIGABRT (status 0x%x); stderr:\n%s",
               (unsigned)status, child_err);
  if (mode) {
    char m[16];
    snprintf(m, sizeof(m), "mode=%d\n", mode);
    if (!strstr(child_err, m))
      test__fail(__FILE__, __LINE__, "child did not run in mode %d; stderr:\n%s", mode, child_err);
  }
  for (; *want; want++)
    if (!strstr(child_err, *want))
      test__fail(__FILE__, __LINE__, "child's stderr lacks \"%s\":\n%s", *want, child_err);
  if (unwanted && strstr(child_err, unwanted))
    test__fail(__FILE__, __LINE__, "child's stderr has \"%s\":\n%s", unwanted, child_err);
}

/* --- the bodies that overflow ------------------------------------------------------ */

/* Unbounded recursion, half a KiB per frame, every byte written. */
__attribute__((noinline)) static long recurse_forever(long depth) {
  volatile char buf[512];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (char)(depth + (long)i);
  if (depth == LONG_MAX) return 0; /* never: keeps the compiler from calling it infinite */
  return recurse_forever(depth + 1) + buf[depth % 512];
}

static void *recurse_body(void *arg) {
  (void)arg;
  return IV(recurse_forever(0));
}

/* Write 3 KiB below the caller's frame. */
__attribute__((noinline)) static long smash_below(void) {
  volatile char big[3072];
  for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)0xa5;
  return big[100];
}

/* Recurse until a frame is within 1 KiB of `lo`, then write 3 KiB below it:
 * the write covers lo (the canary word) and stays inside the page below the
 * stack, which belongs to the same slot and is not protected when the stack
 * has no guard. */
__attribute__((noinline)) static long descend_and_smash(uintptr_t lo, long depth) {
  volatile char buf[512];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (char)depth;
  long r = (uintptr_t)buf > lo + 1024 ? descend_and_smash(lo, depth + 1) : smash_below();
  return r + buf[0];
}

/* Overflows moderately, then yields: that switch must abort.  arg: a
 * coroutine to resume after the overflow instead of yielding, or NULL. */
static void *smash_body(void *arg) {
  descend_and_smash((uintptr_t)coro_self()->cold->stack.lo, 0);
  if (arg) {
    coro_next(arg, NULL); /* a switch away: must abort before `arg` runs */
    fprintf(stderr, "back\n");
  }
  coro_yield(NULL, NULL);
  fprintf(stderr, "survived the yield\n");
  return NULL;
}

static coro *create_named(coro_fn fn, void *arg, size_t size, const char *name) {
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = size;
  attr.name = name;
  coro *c;
  ASSERT_EQ(coro_create(&c, fn, arg, &attr), 0);
  return c;
}

/* Child side: overflow a guarded 64 KiB stack (and a 128 KiB one, to see the
 * size is the coroutine's own, if CORO_TEST_BIG is set). */
__attribute__((noreturn)) static void child_recurse(void) {
  child_setup();
  int big = getenv("CORO_TEST_BIG") != NULL;
  coro *c = create_named(recurse_body, NULL, big ? 128 << 10 : 64 << 10,
                         big ? "big-recursion" : "deep-recursion");
  coro_next(c, NULL);
  fprintf(stderr, "survived the overflow\n");
  exit(3);
}

/* Child side: the moderate overflow on a canary-protected stack. */
__attribute__((noreturn)) static void child_smash(void) {
  child_setup();
  coro *c = create_named(smash_body, NULL, 64 << 10, "deep-recursion");
  ASSERT_EQ(coro_stack_guard_mode() == CORO_GUARD_CANARY ? 0 : 1, c->cold->stack.guarded);
  coro_next(c, NULL);
  fprintf(stderr, "survived the smash\n");
  exit(3);
}

static const char *const guard_report[] = {"stack overflow in coroutine 'deep-recursion'", "65536",
                                           NULL};
static const char *const canary_report[] = {"stack overflow", "canary smashed", "'deep-recursion'",
                                            "65536", NULL};

/* --- guard pages ------------------------------------------------------------------- */

TEST(overflow_guard_page_madvise) {
  if (in_child()) child_recurse();
  int mode = kernel_has_madvise_guards() ? CORO_GUARD_MADVISE : CORO_GUARD_MPROTECT;
  expect_abort(run_child(FRESH(overflow_guard_page_madvise), CORO_GUARD_MADVISE, 0), mode,
               guard_report, "canary");
}

TEST(overflow_guard_page_mprotect) {
  if (in_child()) child_recurse();
  expect_abort(run_child(FRESH(overflow_guard_page_mprotect), CORO_GUARD_MPROTECT, 0),
               CORO_GUARD_MPROTECT, guard_report, "canary");
}

TEST(overflow_guard_page_automatic) {
  if (in_child()) child_recurse();
  expect_abort(run_child(FRESH(overflow_guard_page_automatic), 0, 0), 0, guard_report, "canary");
  /* the report gives this coroutine's name and stack size */
  setenv("CORO_TEST_BIG", "1", 1);
  int status = run_child(FRESH(overflow_guard_page_automatic), 0, 0);
  unsetenv("CORO_TEST_BIG");
  static const char *const big_report[] = {"stack overflow in coroutine 'big-recursion'", "131072",
                                           NULL};
  expect_abort(status, 0, big_report, "deep-recursion");
}

/* --- canaries ---------------------------------------------------------------------- */

TEST(overflow_canary_mode_smashed_canary) {
  if (in_child()) child_smash();
  /* chosen by the test hook, then by the environment */
  expect_abort(run_child(FRESH(overflow_canary_mode_smashed_canary), 0, CORO_GUARD_CANARY),
               CORO_GUARD_CANARY, canary_report, "survived");
  expect_abort(run_child(FRESH(overflow_canary_mode_smashed_canary), CORO_GUARD_CANARY, 0),
               CORO_GUARD_CANARY, canary_report, "survived");
}

static void *other_body(void *arg) {
  (void)arg;
  fprintf(stderr, "other ran\n");
  coro_yield(NULL, NULL);
  return NULL;
}

/* "a canary at the stack's low end, checked at every switch" (coro.h): a
 * coroutine that smashed its canary and then resumes another one is caught
 * at that switch, before the other runs (it could be the very coroutine
 * whose memory the overflow hit). */
TEST(overflow_canary_checked_when_resuming_another) {
  if (in_child()) {
    child_setup();
    coro *other = create_named(other_body, NULL, 64 << 10, "other");
    coro *c = create_named(smash_body, other, 64 << 10, "deep-recursion");
    coro_next(c, NULL);
    fprintf(stderr, "survived the smash\n");
    exit(3);
  }
  expect_abort(
      run_child(FRESH(overflow_canary_checked_when_resuming_another), CORO_GUARD_CANARY, 0),
      CORO_GUARD_CANARY, canary_report, "other ran");
}

static long max_map_count(void) {
  long n = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
  if (f) {
    if (fscanf(f, "%ld", &n) != 1) n = 65530;
    fclose(f);
  }
  return n;
}

/* Create 64 KiB coroutines running fn until one gets no guard (mprotect mode
 * past its budget): that one; *guarded counts those before it. */
static coro *create_until_unguarded(coro_fn fn, const char *name, long max, long *guarded) {
  coro *c = NULL;
  for (long i = 0; i < max; i++) {
    c = create_named(fn, NULL, 64 << 10, name);
    if (!c->cold->stack.guarded) break;
    ++*guarded;
  }
  return c;
}

/* In mprotect mode, guards stop at a quarter of vm.max_map_count; the stacks
 * beyond get a canary, which catches the overflow instead. */
TEST(overflow_past_mprotect_budget_smashes_canary) {
  if (in_child()) {
    child_setup();
    long max_maps = max_map_count();
    long guarded = 0;
    coro *c = create_until_unguarded(smash_body, "deep-recursion", max_maps, &guarded);
    fprintf(stderr, "guarded=%ld of max_map_count=%ld\n", guarded, max_maps);
    ASSERT_TRUE(!c->cold->stack.guarded);
    ASSERT_TRUE(guarded <= max_maps / 4 && guarded > max_maps / 4 - 16);
    coro_next(c, NULL);
    fprintf(stderr, "survived the smash\n");
    exit(3);
  }
  expect_abort(
      run_child(FRESH(overflow_past_mprotect_budget_smashes_canary), CORO_GUARD_MPROTECT, 0),
      CORO_GUARD_MPROTECT, canary_report, "survived");
}

/* A guard that cannot be installed (madvise or mprotect failing) leaves a
 * working stack protected by a canary instead. */
TEST(overflow_guard_install_failed_smashes_canary) {
  if (in_child()) {
    child_setup(); /* the mode is chosen (and probed) before the faults */
    coro__fault_arm(CORO__FAULT_MADVISE, 0, EINVAL);
    coro__fault_arm(CORO__FAULT_MPROTECT, 0, ENOMEM);
    coro *c = create_named(smash_body, NULL, 64 << 10, "deep-recursion");
    coro__fault_reset();
    ASSERT_EQ(c->cold->stack.guarded, 0);
    coro_next(c, NULL);
    fprintf(stderr, "survived the smash\n");
    exit(3);
  }
  int madv = kernel_has_madvise_guards() ? CORO_GUARD_MADVISE : CORO_GUARD_MPROTECT;
  expect_abort(
      run_child(FRESH(overflow_guard_install_failed_smashes_canary), CORO_GUARD_MADVISE, 0), madv,
      canary_report, "survived");
  expect_abort(
      run_child(FRESH(overflow_guard_install_failed_smashes_canary), CORO_GUARD_MPROTECT, 0),
      CORO_GUARD_MPROTECT, canary_report, "survived");
}

/* --- a SIGSEGV that is not an overflow (issue 11, item 7) --------------------------------- */

/* Fails unless the child died by SIGSEGV itself, as it would have without
 * libcoro, and its stderr has none of `unwanted`.  In a sanitizer build the
 * handler before ours is the sanitizer's: then its report and its exit are
 * what "as without libcoro" means (UBSan may stop at a null store first). */
static void expect_segv(int status, const char *unwanted) {
  int ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
#ifdef CORO_SANITIZE_BUILD
  ok = ok || ((strstr(child_err, "AddressSanitizer: SEGV") ||
               strstr(child_err, "runtime error: store to null pointer")) &&
              !(WIFEXITED(status) && WEXITSTATUS(status) == 3));
#endif
  if (!ok)
    test__fail(__FILE__, __LINE__, "child did not die by SIGSEGV (status 0x%x); stderr:\n%s",
               (unsigned)status, child_err);
  if (strstr(child_err, unwanted))
    test__fail(__FILE__, __LINE__, "child's stderr has \"%s\":\n%s", unwanted, child_err);
  if (strstr(child_err, "stack overflow"))
    test__fail(__FILE__, __LINE__, "child reported an overflow:\n%s", child_err);
}

static void *trivial_body(void *arg) { return arg; }

/* libcoro's handler is installed (a coroutine ran), the program has none. */
static void child_with_handler(void) {
  child_setup();
  coro *c = create_named(trivial_body, NULL, 64 << 10, "trivial");
  ASSERT_EQ(coro_next(c, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(c), 0);
}

/* raise(SIGSEGV) and kill(getpid(), SIGSEGV) end the process by SIGSEGV, as
 * they would without libcoro (the handler used to return, once). */
TEST(segv_sent_not_ours_ends_the_process) {
  if (in_child()) {
    child_with_handler();
    if (getenv("CORO_TEST_KILL"))
      kill(getpid(), SIGSEGV);
    else
      raise(SIGSEGV);
    fprintf(stderr, "survived the signal\n");
    exit(3);
  }
  expect_segv(run_child(FRESH(segv_sent_not_ours_ends_the_process), 0, 0), "survived");
  setenv("CORO_TEST_KILL", "1", 1);
  int status = run_child(FRESH(segv_sent_not_ours_ends_the_process), 0, 0);
  unsetenv("CORO_TEST_KILL");
  expect_segv(status, "survived");
}

static int *volatile bad_pointer; /* NULL, unknown to the compiler */

static void *null_write_body(void *arg) {
  (void)arg;
  *bad_pointer = 1;
  return NULL;
}

/* A bad pointer in a coroutine is a plain SIGSEGV, not an overflow report. */
TEST(segv_bad_pointer_in_a_coroutine_is_a_plain_segv) {
  if (in_child()) {
    child_setup();
    coro *c = create_named(null_write_body, NULL, 64 << 10, "bad-pointer");
    coro_next(c, NULL);
    fprintf(stderr, "survived the fault\n");
    exit(3);
  }
  expect_segv(run_child(FRESH(segv_bad_pointer_in_a_coroutine_is_a_plain_segv), 0, 0), "survived");
}

static volatile sig_atomic_t program_handler_ran;
static void program_handler(int sig) {
  (void)sig;
  program_handler_ran++;
}

/* A SIGSEGV the program ignores (or handles) before libcoro was set up:
 * ignored (handled) as before, and libcoro's handler is still there for the
 * overflow that comes next (it used to put SIG_IGN back: a bare SIGSEGV). */
TEST(segv_ignored_or_handled_keeps_the_overflow_report) {
  if (in_child()) {
    if (getenv("CORO_TEST_HANDLE"))
      signal(SIGSEGV, program_handler);
    else
      signal(SIGSEGV, SIG_IGN);
    child_with_handler();
    raise(SIGSEGV);
    kill(getpid(), SIGSEGV);
    fprintf(stderr, "program handler ran %d times\n", (int)program_handler_ran);
    child_recurse();
  }
  expect_abort(run_child(FRESH(segv_ignored_or_handled_keeps_the_overflow_report), 0, 0), 0,
               guard_report, "survived");
  setenv("CORO_TEST_HANDLE", "1", 1);
  int status = run_child(FRESH(segv_ignored_or_handled_keeps_the_overflow_report), 0, 0);
  unsetenv("CORO_TEST_HANDLE");
  static const char *const handled[] = {"program handler ran 2 times",
                                        "stack overflow in coroutine 'deep-recursion'", NULL};
  expect_abort(status, 0, handled, "survived");
}

/* --- an overflow on an unguarded stack, before any switch (item 8) ------------------ */

/* Past the mprotect guard budget, unbounded recursion on an unguarded stack
 * runs through the slots below it and faults further down: reported by the
 * running coroutine's name (it used to be a bare SIGSEGV). */
TEST(overflow_unguarded_past_budget_reported_by_name) {
  if (in_child()) {
    child_setup();
    long max_maps = max_map_count();
    long guarded = 0;
    coro *c = create_until_unguarded(recurse_body, "other", max_maps, &guarded);
    ASSERT_TRUE(!c->cold->stack.guarded);
    /* two more unguarded ones: the overflow runs through these first two */
    create_named(recurse_body, NULL, 64 << 10, "other");
    c = create_named(recurse_body, NULL, 64 << 10, "deep-recursion");
    ASSERT_TRUE(!c->cold->stack.guarded);
    coro_next(c, NULL);
    fprintf(stderr, "survived the overflow\n");
    exit(3);
  }
  static const char *const want[] = {"stack overflow in coroutine 'deep-recursion'", "65536", NULL};
  expect_abort(
      run_child(FRESH(overflow_unguarded_past_budget_reported_by_name), CORO_GUARD_MPROTECT, 0),
      CORO_GUARD_MPROTECT, want, "'other'");
}

/* In canary mode nothing is guarded: an overflow that never switches runs to
 * the bottom of the slab, faults below it, and is reported by name. */
TEST(overflow_canary_mode_unbounded_reported_by_name) {
  if (in_child()) {
    child_setup();
    create_named(recurse_body, NULL, 64 << 10, "other");
    create_named(recurse_body, NULL, 64 << 10, "other");
    coro *c = create_named(recurse_body, NULL, 64 << 10, "deep-recursion");
    ASSERT_EQ(c->cold->stack.guarded, 0);
    coro_next(c, NULL);
    fprintf(stderr, "survived the overflow\n");
    exit(3);
  }
  static const char *const want[] = {"stack overflow in coroutine 'deep-recursion'", "65536", NULL};
  expect_abort(
      run_child(FRESH(overflow_canary_mode_unbounded_reported_by_name), CORO_GUARD_CANARY, 0),
      CORO_GUARD_CANARY, want, "'other'");
}
