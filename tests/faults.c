/* SPDX-License-Identifier: MIT */
/*
 * faults.c - what happens when the system says no, using the fault-injection
 * hooks of src/internal.h (coro__fault_arm / coro__fault_reset), which make
 * libcoro's mmap, mprotect, madvise or malloc fail on demand:
 *   - mmap failing at create: -ENOMEM, *out untouched, no mapping leaked, and
 *     everything works once the fault is gone;
 *   - malloc failing for a new size class, a slab header, a cleanup handler;
 *   - every mmap and malloc of a process's very first create failing in turn
 *     (a sweep, in a fresh process);
 *   - mmap failing in a burst that reuses what an earlier one left;
 *   - a guard page that cannot be installed: creation still succeeds, the
 *     stack is protected by a canary instead.
 * Every case also checks that a coroutine created before the fault ("the
 * bystander") keeps working.  The fault counters are process-wide and
 * unsynchronised: no threads here.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------------- */

#define SENTINEL_HANDLE ((coro *)(uintptr_t)0x5e5e)

static char logbuf[256];

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...) {
  size_t n = strlen(logbuf);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(logbuf + n, sizeof(logbuf) - n, fmt, ap);
  va_end(ap);
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

/* Mappings a memory checker's allocator may split off its own reservation
 * when a block size is first used (ASan commits 64 KiB pieces of a region it
 * reserved: more lines, no more KiB).  Not ours: a leaked slab adds 16 MiB. */
#ifdef CORO_ASAN
#define ALLOCATOR_MAPS 8
#else
#define ALLOCATOR_MAPS 0
#endif

/* Fails unless the mappings grew by at most `maps` more and `kib` KiB.  A
 * little slack in KiB leaves room for a memory checker's own bookkeeping
 * (valgrind's shows in our maps); a slab of stacks is 16 MiB.  Under ASan its
 * allocator splits its own reserved regions as it commits them (the count
 * grows, the KiB do not), so the count gets a little slack there too. */
#ifdef CORO_SANITIZE_BUILD
#define SANITIZER_MAPS 8
#else
#define SANITIZER_MAPS 0
#endif
#define ASSERT_MEM_GROWTH_AT_MOST(before, maps_, kib_)                                             \
  do {                                                                                             \
    struct mem now_ = mem_now();                                                                   \
    if ((before).maps < 0 || (before).kib < 0 ||                                                   \
        now_.maps > (before).maps + (maps_) + SANITIZER_MAPS || now_.kib > (before).kib + (kib_))  \
      test__fail(__FILE__, __LINE__, "mappings grew from %ld (%ld KiB) to %ld (%ld KiB)",          \
                 (before).maps, (before).kib, now_.maps, now_.kib);                                \
  } while (0)

/* Yields arg, arg+1, arg+2, returns arg+100; returns at once when closed. */
static void *counter(void *arg) {
  for (long long i = 0; i < 3; i++)
    if (coro_yield(IV(VI(arg) + i), NULL) == CORO_EEXIT) return NULL;
  return IV(VI(arg) + 100);
}

/* Checks a counter paused after yielding arg+from-1 runs on to its end. */
static void counter_finish(coro *g, long long arg, int from) {
  void *v;
  for (int i = from; i < 3; i++) {
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), arg + i);
  }
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), arg + 100);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* The bystander: a counter from 500, advanced to its first yield. */
static coro *bystander_start(void) {
  coro *b;
  ASSERT_EQ(coro_create(&b, counter, IV(500), NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 500);
  return b;
}

static coro *create_sized(size_t size, long long arg) {
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = size;
  coro *g;
  ASSERT_EQ(coro_create(&g, counter, IV(arg), &attr), 0);
  return g;
}

/* Each case uses stack sizes of its own, so that its first create of that
 * size needs a new size class and a new slab whichever cases ran before in
 * the same process. */
#define KIB ((size_t)1024)

/* --- mmap -------------------------------------------------------------------------- */

TEST(mmap_fail_at_create_is_enomem_and_leaks_nothing) {
  coro *b = bystander_start();
  const int errs[] = {ENOMEM, EAGAIN};
  for (size_t i = 0; i < 2; i++) {
    struct mem before = mem_now();
    coro_attr attr = CORO_ATTR_INIT;
    attr.stack_size = 128 * KIB;
    coro__fault_arm(CORO__FAULT_MMAP, 0, errs[i]);
    coro *g = SENTINEL_HANDLE;
    ASSERT_EQ(coro_create(&g, counter, IV(1), &attr), -ENOMEM);
    ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
    ASSERT_EQ(coro_create(&g, counter, IV(1), &attr), -ENOMEM); /* as long as it lasts */
    ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
    coro__fault_reset();
    ASSERT_MEM_GROWTH_AT_MOST(before, ALLOCATOR_MAPS, 256); /* nothing leaked (a slab is 16 MiB) */
  }
  /* once the fault is gone, everything works */
  coro *g = create_sized(128 * KIB, 10);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 10);
  counter_finish(g, 10, 1);
  counter_finish(b, 500, 1);
}

/* Create counters of `size` into live[*n...] (each advanced to its first
 * yield) until a create fails or max are alive; returns the failure (*out
 * left untouched) or 0. */
static int create_until_failure(size_t size, coro **live, int max, int *n) {
  for (; *n < max; ++*n) {
    coro_attr attr = CORO_ATTR_INIT;
    attr.stack_size = size;
    coro *g = SENTINEL_HANDLE;
    int rc = coro_create(&g, counter, IV(*n), &attr);
    if (rc < 0) {
      ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
      return rc;
    }
    live[*n] = g;
    void *v;
    ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), *n);
  }
  return 0;
}

TEST(mmap_fail_when_slab_full_keeps_others_working) {
  coro *b = bystander_start();
  enum { MAX = 5000 };
  static coro *live[MAX];
  int n = 0;
  /* no new mapping allowed: creates succeed while the current slab has room,
   * then fail cleanly */
  coro *first = create_sized(132 * KIB, 0); /* first slab of this size */
  coro__fault_arm(CORO__FAULT_MMAP, 0, ENOMEM);
  int rc = create_until_failure(132 * KIB, live, MAX, &n);
  ASSERT_EQ(rc, -ENOMEM);
  ASSERT_TRUE(n > 0 && n < MAX);
  coro__fault_reset();
  /* the ones created work; so does a new one */
  coro *extra = create_sized(132 * KIB, 7000);
  for (int i = 0; i < n; i++) counter_finish(live[i], i, 1);
  counter_finish(extra, 7000, 0);
  counter_finish(first, 0, 0);
  counter_finish(b, 500, 1);
}

/* A burst reuses the slabs an earlier burst left without a single mmap; a
 * burst that outgrows them gets -ENOMEM from the slab it cannot map, and
 * every coroutine created before (in the reused slabs and the bystander)
 * works.  A trim then gives everything back. */
TEST(mmap_fail_during_burst_loses_nothing) {
  coro *b = bystander_start();
  enum { MAX = 2000 };
  static coro *live[MAX];
  const size_t size = 136 * KIB; /* 211 a slab */
  struct mem before = mem_now();
  long allocs = coro__live_allocs();
  int first = 0;
  for (; first < 450; first++) live[first] = create_sized(size, first); /* three slabs */
  for (int i = 0; i < first; i++) ASSERT_EQ(coro_destroy(live[i]), 0);
  coro__fault_arm(CORO__FAULT_MMAP, 0, ENOMEM);
  int n = 0, rc = create_until_failure(size, live, MAX, &n);
  coro__fault_reset();
  ASSERT_EQ(rc, -ENOMEM);
  note("reused %d stacks without mmap", n);
  ASSERT_TRUE(n >= first); /* every slot of the first burst, and no more than its slabs */
  ASSERT_TRUE(n < first + 211);
  for (int i = 0; i < n; i++) counter_finish(live[i], i, 1);
  counter_finish(b, 500, 1);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
  /* +2 lines: valgrind's own mappings show in ours and may split when the
   * slabs between them go (the KiB check is what catches a leaked slab) */
  ASSERT_MEM_GROWTH_AT_MOST(before, ALLOCATOR_MAPS + 2, 256);
  /* the slab headers went with the slabs; the new size class's record stays */
  ASSERT_TRUE(coro__live_allocs() <= allocs + 1);
}

/* --- malloc ------------------------------------------------------------------------ */

TEST(malloc_fail_for_new_size_class_is_enomem) {
  coro *b = bystander_start();
  struct mem before = mem_now();
  /* the size-class struct (first malloc of a create with a new size) */
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = 20 * KIB;
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  coro *g = SENTINEL_HANDLE;
  ASSERT_EQ(coro_create(&g, counter, IV(1), &attr), -ENOMEM);
  ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
  coro__fault_reset();
  ASSERT_MEM_GROWTH_AT_MOST(before, ALLOCATOR_MAPS, 256);
  g = create_sized(20 * KIB, 1);
  counter_finish(g, 1, 0);

  /* the slab header (the second malloc) */
  before = mem_now();
  attr.stack_size = 24 * KIB;
  coro__fault_arm(CORO__FAULT_MALLOC, 1, ENOMEM);
  g = SENTINEL_HANDLE;
  ASSERT_EQ(coro_create(&g, counter, IV(2), &attr), -ENOMEM);
  ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
  coro__fault_reset();
  ASSERT_MEM_GROWTH_AT_MOST(before, ALLOCATOR_MAPS, 256);
  g = create_sized(24 * KIB, 2);
  counter_finish(g, 2, 0);
  counter_finish(b, 500, 1);
}

static void log_cleanup(void *arg) { note("%s", (const char *)arg); }

static void *pushes_under_fault(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "A"), 0);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  int rc = coro_cleanup_push(log_cleanup, "B");
  coro__fault_reset();
  note("push=%d;", rc);
  ASSERT_EQ(coro_cleanup_push(log_cleanup, "C"), 0);
  coro_yield(IV(1), NULL);
  return IV(2);
}

TEST(malloc_fail_in_cleanup_push_is_enomem) {
  coro *b = bystander_start();
  logbuf[0] = '\0';
  coro *g;
  ASSERT_EQ(coro_create(&g, pushes_under_fault, NULL, NULL), 0);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 2);
  char expect[64];
  snprintf(expect, sizeof(expect), "push=%d;CA", -ENOMEM); /* B was never pushed */
  ASSERT_STR_EQ(logbuf, expect);
  ASSERT_EQ(coro_destroy(g), 0);
  counter_finish(b, 500, 1);
}

/* --- the first create of a process, every allocation failing in turn --------------- */

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

/* A case's name and function, for run_in_fresh_process(). */
#define FRESH(name) #name, test_##name

/* Run case `name` (function `self`) of this program in a fresh process (no
 * libcoro state),
 * with CORO_STACK_GUARD=guard if guard is not NULL. */
static void run_in_fresh_process(const char *name, test_fn self, const char *guard) {
  const char *exe = self_exe();
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    setenv("CORO_TEST_CHILD", "1", 1);
    if (guard) setenv("CORO_STACK_GUARD", guard, 1);
    execl(exe, "test_faults", name, (char *)NULL);
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
    test__fail(__FILE__, __LINE__, "child %s failed, status 0x%x:\n%s", name, (unsigned)status,
               err);
}

/* Make the k-th call through `site` fail, for k = 0, 1, ... until the first
 * create of the process succeeds: each failure is a clean -ENOMEM. */
static void first_create_sweep(int site) {
  int k = 0;
  for (;; k++) {
    ASSERT_TRUE(k < 50);
    coro__fault_arm(site, k, ENOMEM);
    coro *g = SENTINEL_HANDLE;
    int rc = coro_create(&g, counter, IV(k), NULL);
    coro__fault_reset();
    if (rc == 0) {
      counter_finish(g, k, 0);
      break;
    }
    ASSERT_EQ(rc, -ENOMEM);
    ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
  }
  fprintf(stderr, "succeeded once %d calls went through\n", k);
  ASSERT_TRUE(k >= 1); /* at least one call there could fail */
  /* everything works afterwards, and keeps its memory use steady */
  struct mem before = mem_now();
  for (int i = 0; i < 1000; i++) {
    coro *g;
    ASSERT_EQ(coro_create(&g, counter, IV(i), NULL), 0);
    ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
    ASSERT_EQ(coro_destroy(g), 0);
  }
  ASSERT_MEM_GROWTH_AT_MOST(before, ALLOCATOR_MAPS, 256);
  int mode = coro_stack_guard_mode();
  ASSERT_TRUE(mode >= CORO_GUARD_MADVISE && mode <= CORO_GUARD_CANARY);
}

TEST(first_create_mmap_failures_are_clean) {
  if (in_child()) {
    first_create_sweep(CORO__FAULT_MMAP);
    return;
  }
  run_in_fresh_process(FRESH(first_create_mmap_failures_are_clean), NULL);
}

TEST(first_create_malloc_failures_are_clean) {
  if (in_child()) {
    first_create_sweep(CORO__FAULT_MALLOC);
    return;
  }
  run_in_fresh_process(FRESH(first_create_malloc_failures_are_clean), NULL);
}

/* --- guard pages that cannot be installed ------------------------------------------ */

/* Uses 32 KiB of its stack, yields, checks it was left intact. */
__attribute__((noinline)) static int use_frames(uintptr_t top, int depth) {
  volatile unsigned char buf[1024];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)(depth + (int)i);
  int ok = 1;
  if (top - (uintptr_t)buf < 32 * KIB)
    ok = use_frames(top, depth + 1);
  else
    coro_yield(IV(depth), NULL);
  for (size_t i = 0; i < sizeof(buf); i++)
    if (buf[i] != (unsigned char)(depth + (int)i)) ok = 0;
  return ok;
}

static void *uses_stack(void *arg) {
  volatile char here = 0;
  (void)arg;
  return IV(use_frames((uintptr_t)&here, 0));
}

/* With `site` failing, a create that installs a guard on a fresh slot still
 * succeeds: an unguarded, canary-protected stack that works. */
static void guard_fails_then_canary(int site, size_t size) {
  coro *b = bystander_start();
  coro_attr attr = CORO_ATTR_INIT;
  attr.stack_size = size; /* a new size: a fresh slab, a fresh slot */
  coro__fault_arm(site, 0, site == CORO__FAULT_MPROTECT ? ENOMEM : EINVAL);
  coro *g = SENTINEL_HANDLE;
  ASSERT_EQ(coro_create(&g, uses_stack, NULL, &attr), 0);
  coro__fault_reset();
  ASSERT_TRUE(g != SENTINEL_HANDLE);
  ASSERT_EQ(g->cold->stack.guarded, 0);
  ASSERT_EQ(*(const uint64_t *)(const void *)g->cold->stack.lo, CORO__CANARY); /* at its low end */
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_TRUE(VI(v) >= 16);
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  /* the next fresh slot, with no fault, gets its guard */
  coro *h;
  ASSERT_EQ(coro_create(&h, uses_stack, NULL, &attr), 0);
  ASSERT_EQ(h->cold->stack.guarded, 1);
  ASSERT_EQ(coro_next(h, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(h, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 1);
  ASSERT_EQ(coro_destroy(h), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  counter_finish(b, 500, 1);
}

TEST(madvise_guard_failure_falls_back_to_canary) {
  if (!in_child()) {
    /* needs a process in madvise mode */
    run_in_fresh_process(FRESH(madvise_guard_failure_falls_back_to_canary), "madvise");
    return;
  }
  if (coro_stack_guard_mode() != CORO_GUARD_MADVISE) {
    fprintf(stderr, "skipped: the kernel has no MADV_GUARD_INSTALL\n");
    return;
  }
  guard_fails_then_canary(CORO__FAULT_MADVISE, 136 * KIB);
}

TEST(mprotect_guard_failure_falls_back_to_canary) {
  if (!in_child()) {
    run_in_fresh_process(FRESH(mprotect_guard_failure_falls_back_to_canary), "mprotect");
    return;
  }
  ASSERT_EQ(coro_stack_guard_mode(), CORO_GUARD_MPROTECT);
  guard_fails_then_canary(CORO__FAULT_MPROTECT, 140 * KIB);
}

/* --- the guard-mode probe ------------------------------------------------------ */

/* The test's own oracle: does this kernel turn MADV_GUARD_INSTALL (102) into a
 * real guard?  A write() that reads from a guard page fails with EFAULT. */
static int kernel_has_guard_pages(void) {
  long page = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_TRUE(p != MAP_FAILED);
  int fds[2], yes = 0;
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  if (madvise(p, (size_t)page, 102) == 0) yes = write(fds[1], p, 1) < 0 && errno == EFAULT;
  close(fds[0]);
  close(fds[1]);
  munmap(p, (size_t)page);
  return yes;
}

/* The probe runs on the process's first mmap.  If that mmap fails, the probe
 * cannot tell, and the process must not settle for mprotect guards for good:
 * the next slab probes again. */
TEST(inconclusive_guard_probe_is_retried) {
  if (in_child()) {
    coro__fault_arm(CORO__FAULT_MMAP, 0, ENOMEM);
    coro *g = SENTINEL_HANDLE;
    ASSERT_EQ(coro_create(&g, counter, IV(1), NULL), -ENOMEM);
    ASSERT_PTR_EQ(g, SENTINEL_HANDLE);
    coro__fault_reset();
    ASSERT_EQ(coro_create(&g, counter, IV(3), NULL), 0);
    counter_finish(g, 3, 0);
    int want = kernel_has_guard_pages() ? CORO_GUARD_MADVISE : CORO_GUARD_MPROTECT;
    ASSERT_EQ(coro_stack_guard_mode(), want);
    return;
  }
  run_in_fresh_process(FRESH(inconclusive_guard_probe_is_retried), NULL);
}
