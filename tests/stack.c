/* SPDX-License-Identifier: MIT */
/*
 * stack.c - coroutine stacks: the guard mode, stack sizes and how much of a
 * stack is really usable, 100 000 live coroutines in each guard mode, and
 * reuse of freed stacks (no growth of the process's memory mappings).
 *
 * The guard mode is chosen once per process, at the first coroutine, so the
 * cases that need a given mode run in a fresh process: the case re-executes
 * this test program (fork + exec) with its own name and CORO_STACK_GUARD set,
 * and checks that child's exit status.  This holds whether CTest runs one
 * case per process or the program runs them all.  Where exec is impossible
 * (qemu-user without binfmt_misc) a plain fork does, if libcoro was not set
 * up in the process yet.
 * Stack overflows (which abort) are in overflow.c.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------------- */

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

/* Does this kernel really guard pages with MADV_GUARD_INSTALL?  (Reading a
 * guard page through write() fails with EFAULT, without a signal.) */
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

/* The mode a process asking for `requested` gets: madvise falls back to
 * mprotect where the kernel lacks it. */
static int expected_mode(int requested) {
  if (requested == CORO_GUARD_MADVISE && !kernel_has_madvise_guards()) return CORO_GUARD_MPROTECT;
  return requested;
}

static const char *mode_env(int mode) {
  return mode == CORO_GUARD_MADVISE    ? "madvise"
         : mode == CORO_GUARD_MPROTECT ? "mprotect"
         : mode == CORO_GUARD_CANARY   ? "canary"
                                       : NULL;
}

/* A case's name and function, for run_in_fresh_process(). */
#define FRESH(name) #name, test_##name

/* In the child a case was re-executed into? */
static int in_child(void) { return getenv("CORO_TEST_CHILD") != NULL; }

/* This test program's path, to re-execute it.  Not "/proc/self/exe" itself:
 * under valgrind that is valgrind's own binary (readlink gives the client's). */
static const char *self_exe(void) {
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "/proc/self/exe";
  path[n] = '\0';
  return path;
}

/* Run case `name` (function `self`) of this program in a fresh process with
 * CORO_STACK_GUARD set for `mode` (0: unset, automatic choice); `force` non-zero makes the
 * child call coro__stack_force_guard_mode(force) first instead.  Fails the
 * test, showing the child's stderr, unless the child passed. */
static void run_in_fresh_process(const char *name, test_fn self, int mode, int force) {
  const char *exe = self_exe();
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    setenv("CORO_TEST_CHILD", "1", 1);
    if (mode_env(mode))
      setenv("CORO_STACK_GUARD", mode_env(mode), 1);
    else
      unsetenv("CORO_STACK_GUARD");
    char f[16];
    snprintf(f, sizeof(f), "%d", force);
    setenv("CORO_TEST_FORCE", f, 1);
    execl(exe, "test_stack", name, (char *)NULL);
    /* No exec (e.g. under qemu-user without binfmt_misc): if libcoro has not
     * been set up in this process yet, this fork is as fresh as an exec. */
    if (coro__page_size == 0) {
      self();
      exit(0);
    }
    _exit(127);
  }
  close(fds[1]);
  static char err[1 << 14];
  size_t n = 0;
  ssize_t got;
  while ((got = read(fds[0], err + n, sizeof(err) - 1 - n)) > 0) n += (size_t)got;
  err[n] = '\0';
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    test__fail(__FILE__, __LINE__,
               "child %s (CORO_STACK_GUARD=%s, force %d) failed, status 0x%x:\n%s", name,
               mode_env(mode) ? mode_env(mode) : "(unset)", force, (unsigned)status, err);
}

/* In the child: apply CORO_TEST_FORCE before any coroutine exists. */
static void child_setup(void) {
  const char *f = getenv("CORO_TEST_FORCE");
  if (f && atoi(f)) coro__stack_force_guard_mode(atoi(f));
}

static void *trivial(void *arg) { return arg; }

#define SENTINEL_HANDLE ((coro *)(uintptr_t)0x5e5e)

/* --- the guard mode ---------------------------------------------------------------- */

TEST(guard_mode_is_one_of_three) {
  int mode = coro_stack_guard_mode();
  ASSERT_TRUE(mode == CORO_GUARD_MADVISE || mode == CORO_GUARD_MPROTECT ||
              mode == CORO_GUARD_CANARY);
  ASSERT_EQ(coro_stack_guard_mode(), mode); /* stable */
  coro *g;
  ASSERT_EQ(coro_create(&g, trivial, NULL, NULL), 0);
  ASSERT_EQ(coro_stack_guard_mode(), mode); /* creating one changes nothing */
  ASSERT_EQ(coro_destroy(g), 0);
}

/* Child side: checks the mode it was started in is the one it gets. */
static void check_mode_child(int requested) {
  child_setup();
  int mode = coro_stack_guard_mode();
  if (requested) ASSERT_EQ(mode, expected_mode(requested));
  /* automatic: the best the kernel has */
  else
    ASSERT_EQ(mode, kernel_has_madvise_guards() ? CORO_GUARD_MADVISE : CORO_GUARD_MPROTECT);
  coro *g;
  ASSERT_EQ(coro_create(&g, trivial, NULL, NULL), 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_stack_guard_mode(), mode);
}

TEST(guard_mode_automatic_is_best_available) {
  if (in_child()) {
    check_mode_child(0);
    return;
  }
  run_in_fresh_process(FRESH(guard_mode_automatic_is_best_available), 0, 0);
}

TEST(guard_mode_chosen_by_environment) {
  if (in_child()) {
    const char *m = getenv("CORO_TEST_MODE");
    check_mode_child(m ? atoi(m) : 0);
    return;
  }
  static const int modes[] = {CORO_GUARD_MADVISE, CORO_GUARD_MPROTECT, CORO_GUARD_CANARY};
  for (size_t i = 0; i < 3; i++) {
    char m[8];
    snprintf(m, sizeof(m), "%d", modes[i]);
    setenv("CORO_TEST_MODE", m, 1);
    run_in_fresh_process(FRESH(guard_mode_chosen_by_environment), modes[i], 0);
  }
  unsetenv("CORO_TEST_MODE");
}

TEST(guard_mode_forced_by_test_hook) {
  if (in_child()) {
    check_mode_child(atoi(getenv("CORO_TEST_FORCE")));
    return;
  }
  static const int modes[] = {CORO_GUARD_MADVISE, CORO_GUARD_MPROTECT, CORO_GUARD_CANARY};
  for (size_t i = 0; i < 3; i++)
    run_in_fresh_process(FRESH(guard_mode_forced_by_test_hook), 0, modes[i]);
}

/* --- stack sizes ------------------------------------------------------------------- */

TEST(stack_size_reports_page_rounded_request) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  coro *g;
  ASSERT_EQ(coro_create(&g, trivial, NULL, NULL), 0);
  ASSERT_EQ(coro_stack_size(g), CORO_STACK_DEFAULT);
  ASSERT_EQ(coro_destroy(g), 0);

  const size_t asked[] = {
      CORO_STACK_MIN,        CORO_STACK_MIN + 1,        CORO_STACK_MIN + page - 1,
      CORO_STACK_MIN + page, CORO_STACK_DEFAULT + 1,    100000,
      (size_t)1 << 20,       ((size_t)1 << 20) + 12345, CORO_STACK_MAX - 1};
  for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
    coro_attr attr = CORO_ATTR_INIT;
    attr.stack_size = asked[i];
    ASSERT_EQ(coro_create(&g, trivial, IV(i), &attr), 0);
    size_t want = (asked[i] + page - 1) / page * page;
    ASSERT_EQ(coro_stack_size(g), want);
    void *v;
    ASSERT_EQ(coro_next(g, &v), CORO_RETURNED); /* and it runs */
    ASSERT_EQ(VI(v), (long long)i);
    ASSERT_EQ(coro_stack_size(g), want); /* still, once CLOSED */
    ASSERT_EQ(coro_destroy(g), 0);
  }
}

/* Fill frames of ~1 KiB until `bytes` below `top` are in use, yield at the
 * bottom, then check on the way back that every frame kept its contents. */
__attribute__((noinline)) static int fill_frames(uintptr_t top, size_t bytes, int depth) {
  volatile unsigned char buf[1024];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)(depth * 31 + (int)i);
  int ok;
  if (top - (uintptr_t)buf < bytes) {
    ok = fill_frames(top, bytes, depth + 1);
  } else {
    coro_yield(IV(depth), NULL);
    ok = 1;
  }
  for (size_t i = 0; i < sizeof(buf); i++)
    if (buf[i] != (unsigned char)(depth * 31 + (int)i)) ok = 0;
  return ok;
}

/* Uses arg bytes of its stack, yields its depth, returns 1 if all frames
 * were intact after the yield. */
static void *use_stack(void *arg) {
  volatile char here = 0;
  return IV(fill_frames((uintptr_t)&here, (size_t)(uintptr_t)arg, 0));
}

/* Runs use_stack(bytes) on a stack of `size`, with another coroutine using
 * its own stack while the first is paused at its deepest point. */
static void check_usable(size_t size, size_t bytes) {
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = size;
  coro *g, *other;
  ASSERT_EQ(coro_create(&g, use_stack, IV(bytes), &attr), 0);
  ASSERT_EQ(coro_create(&other, use_stack, IV(bytes / 2), &attr), 0);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_TRUE(VI(v) >= (long long)(bytes / 2048)); /* really that deep */
  ASSERT_EQ(coro_next(other, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(other, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_destroy(other), 0);
}

TEST(custom_stack_size_is_usable) {
  check_usable((size_t)1 << 20, (size_t)900 << 10);  /* 1 MiB, use 900 KiB */
  check_usable((size_t)8 << 20, (size_t)7680 << 10); /* 8 MiB, use 7.5 MiB */
}

TEST(default_and_min_stacks_are_usable) {
  check_usable(CORO_STACK_DEFAULT, (size_t)48 << 10);
  check_usable(CORO_STACK_MIN, (size_t)8 << 10);
}

/* --- 100 000 live coroutines ------------------------------------------------------- */

enum { MANY = 100000 };

/* Yields its index; when resumed returns twice its index, when closed returns. */
static void *live_body(void *arg) {
  void *in = NULL;
  if (coro_yield(arg, &in) == CORO_EEXIT) return NULL;
  return IV(2 * VI(arg));
}

/* Creates MANY coroutines, resumes each to its first yield, then finishes a
 * third, closes a third and destroys a third while suspended. */
static void many_live_round(void) {
  coro **all = calloc(MANY, sizeof(*all));
  ASSERT_TRUE(all != NULL);
  int n = 0, rc = 0;
  for (; n < MANY; n++) {
    coro *c = SENTINEL_HANDLE;
    rc = coro_create(&c, live_body, IV(n), NULL);
    if (rc < 0) {
      /* failing is allowed, but cleanly: -ENOMEM, nothing handed out */
      ASSERT_EQ(rc, -ENOMEM);
      ASSERT_PTR_EQ(c, SENTINEL_HANDLE);
      break;
    }
    all[n] = c;
    void *v;
    ASSERT_EQ(coro_next(c, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), n);
  }
  if (n < MANY) fprintf(stderr, "note: stopped at %d coroutines (%s)\n", n, coro_strerror(rc));
  ASSERT_TRUE(n > 0);
  /* every one created still works, whether or not we ran out */
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(coro_get_state(all[i]), CORO_SUSPENDED);
    void *v;
    switch (i % 3) {
    case 0:
      ASSERT_EQ(coro_next(all[i], &v), CORO_RETURNED);
      ASSERT_EQ(VI(v), 2LL * i);
      ASSERT_EQ(coro_destroy(all[i]), 0);
      break;
    case 1:
      ASSERT_EQ(coro_close(all[i]), 0);
      ASSERT_EQ(coro_get_state(all[i]), CORO_CLOSED);
      ASSERT_EQ(coro_destroy(all[i]), 0);
      break;
    default:
      ASSERT_EQ(coro_destroy(all[i]), 0); /* closes it first */
    }
  }
  free(all);
}

static void many_live(void) {
  /* Warm up (the thread's alternate signal stack, one slab) for the baseline. */
  coro *g;
  ASSERT_EQ(coro_create(&g, live_body, NULL, NULL), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  struct mem before = mem_now();
  many_live_round();
  /* A second round reuses what the first left: no growth at all, and no
   * mmap, mprotect or guard install (the only memory calls allowed would be
   * the decay's MADV_FREE of idle slabs: at most one a slab). */
  struct mem mid = mem_now();
  long mmaps = coro__sys_calls(CORO__FAULT_MMAP), mprotects = coro__sys_calls(CORO__FAULT_MPROTECT);
  long madvises = coro__sys_calls(CORO__FAULT_MADVISE);
  many_live_round();
  ASSERT_MEM_GROWTH_AT_MOST(mid, 2, 1024);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MMAP), mmaps);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MPROTECT), mprotects);
  long freed_slabs = coro__sys_calls(CORO__FAULT_MADVISE) - madvises;
  if (freed_slabs > MANY / 240 + 1)
    test__fail(__FILE__, __LINE__, "%ld madvise calls", freed_slabs);
  /* Trimmed, everything is given back: what stays is the thread's spare
   * signal stack and nothing of the 100 000 stacks (6.5 GiB). */
  size_t released = 0;
  ASSERT_EQ(coro_stack_trim(&released), 0);
  ASSERT_TRUE(released >= (size_t)MANY * CORO_STACK_DEFAULT);
  ASSERT_MEM_GROWTH_AT_MOST(before, 0, 64);
  ASSERT_EQ(coro_stack_trim(&released), 0); /* nothing left to trim */
  ASSERT_EQ(released, 0);
  /* and the pool still works */
  ASSERT_EQ(coro_create(&g, live_body, IV(5), NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 5);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 10);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* Runs many_live() in a fresh process whose guard mode is `mode` (0: auto). */
static void many_live_in(const char *name, test_fn self, int mode) {
  if (in_child()) {
    child_setup();
    if (mode) ASSERT_EQ(coro_stack_guard_mode(), expected_mode(mode));
    many_live();
    return;
  }
  run_in_fresh_process(name, self, mode, 0);
}

TEST(many_live_automatic) { many_live_in(FRESH(many_live_automatic), 0); }
TEST(many_live_madvise) { many_live_in(FRESH(many_live_madvise), CORO_GUARD_MADVISE); }
TEST(many_live_mprotect) { many_live_in(FRESH(many_live_mprotect), CORO_GUARD_MPROTECT); }
TEST(many_live_canary) { many_live_in(FRESH(many_live_canary), CORO_GUARD_CANARY); }

/* --- reuse ------------------------------------------------------------------------- */

/* 100 000 create/run/destroy cycles with up to 17 alive at a time: freed
 * stacks are reused, so the number of mappings does not grow once the first
 * cycles have set up the stacks in use at a time. */
static void reuse_cycles(void) {
  enum { RING = 16, CYCLES = 100000, WARMUP = 1000 };
  coro *ring[RING] = {0};
  struct mem before = {-1, -1};
  for (int i = 0; i < CYCLES; i++) {
    if (i == WARMUP) before = mem_now();
    coro **slot = &ring[i % RING];
    if (*slot) {
      if (i % 2) {
        void *v;
        ASSERT_EQ(coro_next(*slot, &v), CORO_RETURNED);
        ASSERT_EQ(VI(v), 2LL * (i - RING));
      }
      ASSERT_EQ(coro_destroy(*slot), 0); /* the others: destroyed suspended */
    }
    ASSERT_EQ(coro_create(slot, live_body, IV(i), NULL), 0);
    void *v;
    ASSERT_EQ(coro_next(*slot, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
  }
  for (int i = 0; i < RING; i++) ASSERT_EQ(coro_destroy(ring[i]), 0);
  ASSERT_MEM_GROWTH_AT_MOST(before, 2, 1024);
}

TEST(stacks_are_reused) { reuse_cycles(); }

static void reuse_in(const char *name, test_fn self, int mode) {
  if (in_child()) {
    child_setup();
    ASSERT_EQ(coro_stack_guard_mode(), expected_mode(mode));
    reuse_cycles();
    return;
  }
  run_in_fresh_process(name, self, mode, 0);
}

TEST(stacks_are_reused_mprotect) {
  reuse_in(FRESH(stacks_are_reused_mprotect), CORO_GUARD_MPROTECT);
}
TEST(stacks_are_reused_canary) { reuse_in(FRESH(stacks_are_reused_canary), CORO_GUARD_CANARY); }

/* --- the pool keeps what it had: guards, pages, trim ------------------------------- */

/* Does reading the byte at p fault?  write() reads it for the kernel, which
 * answers EFAULT instead of sending a signal. */
static int faults_on_read(const char *p) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  int yes = write(fds[1], p, 1) < 0 && errno == EFAULT;
  close(fds[0]);
  close(fds[1]);
  return yes;
}

/* Every coroutine of a burst has its guard page (or, in canary mode, its
 * canary), whether its slot is fresh, reused or trimmed. */
static void check_burst_guards(int n, int want_guard) {
  coro **all = calloc((size_t)n, sizeof(*all));
  ASSERT_TRUE(all != NULL);
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(coro_create(&all[i], live_body, IV(i), NULL), 0);
    ASSERT_EQ(all[i]->cold->stack.guarded, want_guard);
    if (want_guard)
      ASSERT_TRUE(faults_on_read(all[i]->cold->stack.lo - 1));
    else
      ASSERT_EQ(*(const uint64_t *)(const void *)all[i]->cold->stack.lo, CORO__CANARY);
    ASSERT_TRUE(!faults_on_read(all[i]->cold->stack.lo));
    void *v;
    ASSERT_EQ(coro_next(all[i], &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i);
  }
  for (int i = 0; i < n; i++) ASSERT_EQ(coro_destroy(all[i]), 0);
  free(all);
}

static void guards_kept(void) {
  child_setup();
  int want_guard = coro_stack_guard_mode() != CORO_GUARD_CANARY;
  enum { BURST = 1000 };                 /* five slabs of default stacks */
  check_burst_guards(BURST, want_guard); /* fresh slots */
  long mmaps = coro__sys_calls(CORO__FAULT_MMAP), mprotects = coro__sys_calls(CORO__FAULT_MPROTECT);
  long madvises = coro__sys_calls(CORO__FAULT_MADVISE);
  check_burst_guards(BURST, want_guard); /* reused: no system call at all */
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MMAP), mmaps);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MPROTECT), mprotects);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MADVISE), madvises);
  size_t released = 0;
  ASSERT_EQ(coro_stack_trim(&released), 0);
  ASSERT_TRUE(released >= (size_t)BURST * CORO_STACK_DEFAULT);
  check_burst_guards(BURST, want_guard); /* after a trim: new slabs, guarded again */
  /* a trim that only discards pages of free slots (one stays in use) */
  coro *keep;
  ASSERT_EQ(coro_create(&keep, live_body, IV(7), NULL), 0);
  check_burst_guards(BURST, want_guard);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
  check_burst_guards(BURST, want_guard);
  void *v;
  ASSERT_EQ(coro_next(keep, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 7);
  ASSERT_EQ(coro_destroy(keep), 0);
}

static void guards_kept_in(const char *name, test_fn self, int mode) {
  if (in_child()) {
    guards_kept();
    return;
  }
  run_in_fresh_process(name, self, mode, 0);
}

TEST(guards_kept_across_reuse_and_trim_madvise) {
  guards_kept_in(FRESH(guards_kept_across_reuse_and_trim_madvise), CORO_GUARD_MADVISE);
}
TEST(guards_kept_across_reuse_and_trim_mprotect) {
  guards_kept_in(FRESH(guards_kept_across_reuse_and_trim_mprotect), CORO_GUARD_MPROTECT);
}
TEST(guards_kept_across_reuse_and_trim_canary) {
  guards_kept_in(FRESH(guards_kept_across_reuse_and_trim_canary), CORO_GUARD_CANARY);
}

/* Fills `bytes` of its stack with a pattern, yields, trims (the second time
 * it is resumed) and checks every frame again when resumed for the last time. */
static void *trimmer(void *arg) {
  volatile char here = 0;
  return IV(fill_frames((uintptr_t)&here, (size_t)(uintptr_t)arg, 0));
}

static void *trim_inside(void *arg) {
  (void)arg;
  size_t released = 1;
  int rc = coro_stack_trim(&released);
  return IV(rc == 0 ? 1 : rc);
}

/* Trimming while coroutines are alive touches none of them: suspended ones
 * (their frames deep in their stacks) and the running one keep every byte. */
TEST(trim_while_coroutines_are_alive) {
  enum { N = 600 };
  coro *all[N];
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(coro_create(&all[i], trimmer, IV(20 * 1024), NULL), 0);
    void *v;
    ASSERT_EQ(coro_next(all[i], &v), CORO_YIELDED);
  }
  /* free every other one: their slots' pages are what trim discards */
  for (int i = 0; i < N; i += 2) ASSERT_EQ(coro_destroy(all[i]), 0);
  size_t released = 0;
  ASSERT_EQ(coro_stack_trim(&released), 0);
  ASSERT_TRUE(released >= (size_t)(N / 2 - CORO__STACK_CACHE) * CORO_STACK_DEFAULT);
  /* from inside a coroutine, with another suspended and one running */
  coro *in;
  ASSERT_EQ(coro_create(&in, trim_inside, NULL, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(in, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_destroy(in), 0);
  for (int i = 1; i < N; i += 2) {
    ASSERT_EQ(coro_next(all[i], &v), CORO_RETURNED);
    ASSERT_EQ(VI(v), 1); /* every frame intact */
    ASSERT_EQ(coro_destroy(all[i]), 0);
  }
  /* and the pool still hands out working stacks */
  check_usable(CORO_STACK_DEFAULT, (size_t)48 << 10);
}

static void *trim_on_fresh_thread(void *arg) {
  (void)arg;
  size_t released = 12345;
  int rc = coro_stack_trim(&released);
  if (rc != 0 || released != 0) return IV(1);
  return IV(coro_stack_trim(NULL) == 0 ? 0 : 2);
}

/* Nothing to trim: a thread that never had a coroutine, then one whose pool
 * was trimmed already. */
TEST(trim_with_nothing_to_trim) {
  pthread_t th;
  void *r = NULL;
  ASSERT_EQ(pthread_create(&th, NULL, trim_on_fresh_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, &r), 0);
  ASSERT_EQ(VI(r), 0);
  coro *g;
  ASSERT_EQ(coro_create(&g, trivial, NULL, NULL), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  size_t released = 0;
  ASSERT_EQ(coro_stack_trim(&released), 0);
  ASSERT_TRUE(released >= CORO_STACK_DEFAULT); /* the one slab went */
  ASSERT_EQ(coro_stack_trim(&released), 0);
  ASSERT_EQ(released, 0);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
}

/* --- decay: empty slabs kept while the pool needs them ------------------------------ */

/* Big stacks, one a slab, so that every slab-level step shows in the
 * system-call counts. */
enum { BIG_N = 64 };
#define BIG_STACK ((size_t)8 << 20)

static void big_burst(coro **all, int n) {
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = BIG_STACK;
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(coro_create(&all[i], live_body, IV(i), &attr), 0);
    void *v;
    ASSERT_EQ(coro_next(all[i], &v), CORO_YIELDED); /* its top page touched */
    ASSERT_EQ(VI(v), i);
  }
}

static void big_drain(coro **all, int n) {
  for (int i = 0; i < n; i++) ASSERT_EQ(coro_destroy(all[i]), 0);
}

/* Churn with 20 alive (16 through the thread's cache, 4 through slabs:
 * CHURN_OPS slab operations a cycle): `cycles` times. */
enum { CHURN = 20, CHURN_OPS = 2 * (CHURN - CORO__STACK_CACHE) };
static void big_churn(long cycles) {
  coro *few[CHURN];
  for (long c = 0; c < cycles; c++) {
    big_burst(few, CHURN);
    big_drain(few, CHURN);
  }
}

/* Empty slabs the class keeps warm whatever happens: 256 MiB of 8 MiB stacks. */
static long big_warm_cap(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (long)(((size_t)256 << 20) / (BIG_STACK + page));
}

/* A pool in regular use keeps everything it emptied: burst after burst of
 * 64 stacks (twice the warm cap of this size), with up to three bursts'
 * worth of churn between them, takes its slabs back with no system call at
 * all: no MADV_FREE when a burst drains (its pages would be re-dirtied at
 * the next: a trap per page on some VMs), no munmap, no mmap, no guard. */
TEST(emptied_slabs_stay_warm_across_bursts) {
  ASSERT_TRUE(big_warm_cap() < BIG_N - CORO__STACK_CACHE);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
  coro *all[BIG_N];
  big_burst(all, BIG_N); /* maps the slabs, installs the guards */
  long mmaps = coro__sys_calls(CORO__FAULT_MMAP), munmaps = coro__sys_calls(CORO__FAULT_MUNMAP);
  long madvises = coro__sys_calls(CORO__FAULT_MADVISE);
  long mprotects = coro__sys_calls(CORO__FAULT_MPROTECT);
  for (int round = 0; round < 20; round++) {
    big_drain(all, BIG_N);
    ASSERT_EQ(coro__sys_calls(CORO__FAULT_MADVISE), madvises);
    if (round % 2) big_churn(3 * 2 * BIG_N / CHURN_OPS);
    big_burst(all, BIG_N);
  }
  big_drain(all, BIG_N);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MMAP), mmaps);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MUNMAP), munmaps);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MADVISE), madvises);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MPROTECT), mprotects);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
}

/* Churn cycles in the decay's unit for the big class: its slabs (one slot
 * each) times CORO__STACK_DECAY_TURNS stack operations. */
static long decay_cycles(void) { return (long)CORO__STACK_DECAY_TURNS * BIG_N / CHURN_OPS; }

/* After a burst, a pool that keeps working with fewer stacks gives the rest
 * back in two steps: the empty slabs beyond the warm cap that stayed unused
 * while the class handled CORO__STACK_DECAY_TURNS times as many stack
 * operations as it has slots get one MADV_FREE each, and once they stay
 * unused as long again they are unmapped.  The warm cap's worth stays mapped
 * and warm for good. */
TEST(idle_slabs_decay_then_unmap) {
  ASSERT_EQ(coro_stack_trim(NULL), 0);
  coro *all[BIG_N];
  big_burst(all, BIG_N);
  big_drain(all, BIG_N);
  /* the cache holds 16 of them whole; 48 empty slabs, 4 of them in the churn */
  long idle = BIG_N - CORO__STACK_CACHE - big_warm_cap();
  long munmaps = coro__sys_calls(CORO__FAULT_MUNMAP);
  long madvises = coro__sys_calls(CORO__FAULT_MADVISE);
  big_churn(decay_cycles() / 2); /* not idle yet */
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MADVISE), madvises);
  big_churn(decay_cycles()); /* 1.5 units: idle, not yet twice */
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MADVISE) - madvises, idle); /* MADV_FREE, once */
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MUNMAP), munmaps);
  big_churn(4 * decay_cycles());
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MADVISE) - madvises, idle);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MUNMAP) - munmaps, idle); /* then unmapped */
  /* a new burst gets its slabs back: the warm ones, then new mappings */
  long mmaps = coro__sys_calls(CORO__FAULT_MMAP);
  big_burst(all, BIG_N);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MMAP) - mmaps, idle);
  big_drain(all, BIG_N);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
}

/* A kernel without MADV_FREE (before 4.5: EINVAL): the idle slabs are
 * unmapped at the first step instead. */
TEST(idle_slabs_unmapped_when_madv_free_fails) {
  ASSERT_EQ(coro_stack_trim(NULL), 0);
  coro *all[BIG_N];
  big_burst(all, BIG_N);
  big_drain(all, BIG_N);
  long idle = BIG_N - CORO__STACK_CACHE - big_warm_cap();
  long munmaps = coro__sys_calls(CORO__FAULT_MUNMAP);
  coro__fault_arm(CORO__FAULT_MADVISE, 0, EINVAL);
  big_churn(decay_cycles() / 2);
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MUNMAP), munmaps);
  big_churn(decay_cycles());
  coro__fault_reset();
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MUNMAP) - munmaps, idle);
  big_churn(4 * decay_cycles()); /* nothing more to give back */
  ASSERT_EQ(coro__sys_calls(CORO__FAULT_MUNMAP) - munmaps, idle);
  check_usable(BIG_STACK, (size_t)1 << 20);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
}
