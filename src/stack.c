/* SPDX-License-Identifier: MIT */
/*
 * stack.c - coroutine stacks: slabs, guard pages, the pool, overflow reports.
 *
 * Stacks are carved from slabs: one anonymous MAP_NORESERVE mapping holding
 * many slots of one size.  Memory is committed only where touched, so an idle
 * coroutine costs the page or two it used.
 *
 *     slab:  | G | stack 0 | G | stack 1 | G | stack 2 | ...
 *            guard page below each stack (the stack grows down into it)
 *
 * The limit that shapes this file is vm.max_map_count (65530 by default): a
 * guard made with mprotect splits the mapping, two map entries per stack, so
 * guarded stacks would cap out near 32 000.  Three guard modes, the best one
 * the kernel supports chosen once per process:
 *   MADVISE   MADV_GUARD_INSTALL (Linux 6.13+) marks the guard page in the
 *             page tables without splitting the mapping: every stack guarded,
 *             one map entry per slab.  Probed, not assumed (an emulator may
 *             accept the call and do nothing).
 *   MPROTECT  mprotect(PROT_NONE) guards while the process holds fewer than a
 *             quarter of vm.max_map_count of them; past that, or when the
 *             kernel refuses, a slot gets a canary instead.
 *   CANARY    no guards; a canary word at the stack's low end.
 * The canary is checked at every switch away from a coroutine; a smashed one
 * is a broken invariant: report and abort.
 *
 * The pool never pays the kernel twice for memory it still uses.  A slab's
 * mapping, its guards and the pages its stacks touched stay with the thread
 * while the thread keeps needing them, until the decay below, or
 * coro_stack_trim(), or the thread's exit:
 *   - a slot's guard is installed the first time the slot is handed out (one
 *     system call, once per slab lifetime: a new slab costs one mmap and a
 *     slab used by three coroutines pays three guards, not a slab's worth);
 *     it stays when the slot is freed, reused, or its pages discarded (guard
 *     markers and PROT_NONE survive MADV_FREE and MADV_DONTNEED);
 *   - freed slots go on their slab's free list, kept in the slab's side
 *     table (LIFO, so the next coroutine reuses the warmest slot; nothing is
 *     written into a free slot, so its pages may be discarded);
 *   - a slab with no slot in use joins its class's warm list, mapped, its
 *     pages as they are (the next burst takes it with no fault and no
 *     system call).
 * Decay: each class counts the stack operations that reach its slabs (every
 * allocation and free the thread's cache does not absorb).  The first
 * CORO__STACK_WARM slots' worth of empty slabs per class (4096 stacks, at
 * most 256 MiB of slabs) never decay.  Beyond those, an empty slab that
 * stayed unused while the class handled CORO__STACK_DECAY_TURNS (8) times as
 * many operations as it has slots (stack.h) gets one madvise(MADV_FREE) and turns
 * cold: the kernel takes its pages back only when memory runs short (until
 * then reuse costs no fault, but each page's first write after it may cost
 * a trap: ~5-10 us a page on a shadow-paging VM, hence not at once); a cold
 * slab unused as long again is unmapped.  A kernel without MADV_FREE gets
 * the unmap at the first step.  The decay runs only inside pool operations:
 * a thread that stops creating coroutines keeps its pool until it resumes
 * or calls coro_stack_trim().
 * Allocation takes a partly used slab first, then a warm empty one, then a
 * cold one, and maps a new slab last.  Each stack's usable top is coloured by
 * its slot (coro__stack_top, stack.h) so that stacks a whole number of pages
 * apart do not all start in the same cache sets.  coro_stack_trim() unmaps
 * every empty slab and discards the pages of free slots.
 *
 * Overflow: a SIGSEGV handler, on an alternate signal stack (the faulting
 * stack has no room left), checks whether the fault hit the running
 * coroutine's guard page, or, for an unguarded stack, fell below it in its
 * slab (or the page below the slab) while the stack pointer was at its
 * bottom; if so it prints the coroutine's name and stack size and aborts.  A
 * fault that is not ours is handled as it would be without libcoro: the
 * previous handler runs, or the default action (re-raised for a signal sent
 * with kill or raise, which would not come back by itself).  Our handler
 * stays installed.
 *
 * Everything here is per thread except the guard mode, the guard budget and
 * the signal handler, which are process-wide and set up once.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "coro.h"
#include "stack.h"

#ifdef CORO_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define SLAB_BYTES ((size_t)16 << 20) /* target slab size: slots per slab = this / slot */
#define SLAB_MAX_SLOTS 1024u
#define ALTSTACK_SIZE ((size_t)64 << 10)

/* Per-slot bookkeeping kept outside the slot (the slot itself may be idle,
 * its pages discarded). */
typedef struct slot_info {
  unsigned vg_id;        /* Valgrind stack id, 0 if not registered */
  unsigned next_free;    /* while free: 1 + index of the next free slot, 0 at the end */
  unsigned char used;    /* handed out at least once: guard decided */
  unsigned char guarded; /* guard page installed */
  unsigned char busy;    /* handed out now (the thread's cache counts as busy) */
  unsigned char dirty;   /* handed out since its pages were last discarded */
} slot_info;

/* A list of slabs, linked both ways through coro__slab.prev/next. */
typedef struct slab_list {
  coro__slab *head; /* the first, taken first */
  coro__slab *tail; /* the last */
} slab_list;

/* A pool of stack slots of one size, per thread. */
struct coro__stack_class {
  size_t size;                    /* usable size of its stacks (page multiple) */
  size_t slot_size;               /* size + the guard page */
  unsigned nslots;                /* slots per slab */
  unsigned nslabs;                /* slabs mapped */
  unsigned nempty;                /* of them, with no slot in use (on the empty list) */
  unsigned nwarm;                 /* of those, with their pages resident (not MADV_FREE'd) */
  unsigned warm_cap;              /* empty slabs never decayed: CORO__STACK_WARM slots' worth */
  unsigned long long ops;         /* stack operations that reached the slabs (cache
                                     misses): the clock that idle slabs age by */
  coro__slab *avail;              /* slabs with a free slot and a slot in use, most
                                     recently freed into first */
  slab_list warm;                 /* slabs with nothing in use, pages resident: the
                                     ones whose every slot was used first, the most
                                     recently emptied first */
  slab_list cold;                 /* slabs with nothing in use, MADV_FREE'd by the
                                     decay, the most recently decayed first */
  struct coro__stack_class *next; /* next size class of this thread */
};

/* Empty slabs per class that never decay: CORO__STACK_WARM slots' worth,
 * but no more than CORO__STACK_WARM_BYTES of them (big stacks), at least
 * one; see the top of the file. */
#define CORO__STACK_WARM 4096u
#define CORO__STACK_WARM_BYTES ((size_t)256 << 20)

/* Where a slab is linked. */
enum { ON_NONE, ON_AVAIL, ON_EMPTY };

struct coro__slab {
  char *base;                    /* start of the mapping */
  coro__stack_class *cls;        /* size class it belongs to */
  unsigned bumped;               /* slots [0, bumped) have been handed out at least once */
  unsigned nused;                /* slots in use now */
  unsigned nguarded;             /* slots with an mprotect guard (for the process budget) */
  unsigned free_head;            /* 1 + index of the first free slot below bumped, 0 if none */
  coro__slab *prev, *next;       /* links in cls->avail, cls->warm or cls->cold */
  int on;                        /* ON_*: the list it is linked in (none while full) */
  int cold;                      /* empty and given to the kernel with MADV_FREE */
  unsigned long long idle_since; /* while empty: cls->ops when it emptied or was decayed */
  slot_info slots[];             /* one per slot */
};

/* --- process-wide state -------------------------------------------------- */

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static coro__stack_running_fn running; /* the layer above's answer to "who runs?" */
static int guard_mode;                 /* CORO_GUARD_*, chosen once */
static int forced_guard_mode;          /* test hook, read by the once-init */
static long guard_budget;              /* mprotect guards allowed in the process */
static long guards_in_use;             /* mprotect guards now (atomic: many threads) */
static struct sigaction old_segv;      /* handler before ours, to chain to */
size_t coro__page_size;                /* set once by process_setup */
#define page_size coro__page_size

static void process_setup(void);

void coro__stack_force_guard_mode(int mode) { forced_guard_mode = mode; }

int coro_stack_guard_mode(void) {
  pthread_once(&process_once, process_setup);
  return __atomic_load_n(&guard_mode, __ATOMIC_RELAXED);
}

/* Does MADV_GUARD_INSTALL really guard?  Install one and read through it with
 * write(): the kernel answers EFAULT for a guard page, without any signal.
 * 1 yes, 0 no, -1 cannot tell now (no memory or no file descriptor). */
static int probe_madvise_guard(void) {
  int err = 0, ok = -1, fds[2];
  char *p = coro__mmap(2 * page_size, &err);
  if (!p) return -1;
  if (coro__madvise(p, page_size, MADV_GUARD_INSTALL) != 0) {
    ok = 0;
  } else if (pipe2(fds, O_CLOEXEC) == 0) {
    ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
  }
  coro__munmap(p, 2 * page_size);
  return ok;
}

/* Set when the probe could not tell: the next new slab probes again, so one
 * failed mmap at start-up does not leave the process with weaker guards. */
static int reprobe;

static long read_max_map_count(void) {
  long n = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
  if (f) {
    if (fscanf(f, "%ld", &n) != 1 || n <= 0) n = 65530;
    fclose(f);
  }
  return n;
}

/* --- overflow report ------------------------------------------------------ */

/* Async-signal-safe formatting: no stdio in a signal handler. */
static size_t put_str(char *buf, size_t at, size_t cap, const char *s) {
  while (*s && at + 1 < cap) buf[at++] = *s++;
  return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, uintmax_t v, int base) {
  char tmp[32];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % (uintmax_t)base];
    v /= (uintmax_t)base;
  } while (v && n < 32);
  while (n && at + 1 < cap) buf[at++] = tmp[--n];
  return at;
}

static void report(const char *name, const coro__stack *s, const char *what, const void *addr) {
  char buf[256];
  size_t n = put_str(buf, 0, sizeof(buf), "libcoro: ");
  n = put_str(buf, n, sizeof(buf), what);
  n = put_str(buf, n, sizeof(buf), " in coroutine '");
  n = put_str(buf, n, sizeof(buf), name && name[0] ? name : "(unnamed)");
  n = put_str(buf, n, sizeof(buf), "' (stack size ");
  n = put_num(buf, n, sizeof(buf), s->size, 10);
  n = put_str(buf, n, sizeof(buf), " bytes");
  if (addr) {
    n = put_str(buf, n, sizeof(buf), ", fault at 0x");
    n = put_num(buf, n, sizeof(buf), (uintptr_t)addr, 16);
  }
  n = put_str(buf, n, sizeof(buf), ")\n");
  ssize_t w = write(STDERR_FILENO, buf, n);
  (void)w;
}

/* Die with SIGABRT even if the program catches it: the stack is unusable. */
__attribute__((noreturn)) static void die(void) {
  signal(SIGABRT, SIG_DFL);
  abort();
}

void coro__stack_smashed(const char *name, const coro__stack *s) {
  report(name, s, "stack overflow (canary smashed)", NULL);
  die();
}

/* The interrupted code's stack pointer, 0 where we cannot tell. */
static uintptr_t fault_sp(const void *uctx) {
#if defined(__x86_64__) && defined(REG_RSP)
  return (uintptr_t)((const ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)((const ucontext_t *)uctx)->uc_mcontext.sp;
#else
  (void)uctx;
  return 0;
#endif
}

/* Did the fault at addr come from the running stack s overflowing?
 *   - guarded: the fault is in its guard page;
 *   - unguarded (mprotect past the budget, a guard that failed, canary
 *     mode): the recursion wrote through the page below its stack and the
 *     slots below it, and faulted further down, in a guard of a slot below,
 *     or under the slab: the fault is below s->lo, no lower than a page
 *     under its slab, and (where we can read it) the stack pointer is at the
 *     bottom of the stack or below it, close to the fault.  A stray pointer
 *     into memory below the stack faults with the stack pointer well inside
 *     it: not an overflow. */
static int is_overflow(const coro__stack *s, uintptr_t addr, uintptr_t sp) {
  uintptr_t lo = (uintptr_t)s->lo;
  if (s->guarded && addr >= lo - page_size && addr < lo) return 1;
  uintptr_t floor = (uintptr_t)s->slab->base - page_size;
  if (addr >= lo || addr < floor) return 0;
  if (!sp) return !s->guarded;
  uintptr_t near = (uintptr_t)64 << 10; /* the largest frame we assume */
  return sp < lo + page_size && sp + near >= addr && addr + near >= sp;
}

static void on_segv(int sig, siginfo_t *info, void *uctx) {
  /* A fault the kernel raised (si_code > 0); kill(), raise() and sigqueue()
   * give si_code <= 0, and si_addr is no address then. */
  int fault = info->si_code > 0;
  if (fault) {
    const char *name = NULL;
    const coro__stack *s = running ? running(&name) : NULL;
    if (s && is_overflow(s, (uintptr_t)info->si_addr, fault_sp(uctx))) {
      report(name, s, "stack overflow", info->si_addr);
      die();
    }
  }
  /* Not ours: what would have happened without libcoro.  Our handler stays
   * for the next fault, except where the process is about to die. */
  if (old_segv.sa_flags & SA_SIGINFO) {
    old_segv.sa_sigaction(sig, info, uctx);
    return;
  }
  if (old_segv.sa_handler == SIG_IGN && !fault) return; /* ignored, as it would have been */
  if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
    old_segv.sa_handler(sig);
    return;
  }
  /* The default action: terminate with a core dump.  A fault happens again
   * when we return, this time with the default action, and the core points
   * at the culprit (an ignored fault gets the default too, as the kernel
   * forces).  A sent signal would not come back: send it again, unblocked. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSEGV, &dfl, NULL);
  if (fault) return;
  sigset_t segv;
  sigemptyset(&segv);
  sigaddset(&segv, SIGSEGV);
  raise(SIGSEGV);                            /* pending while blocked in this handler ... */
  pthread_sigmask(SIG_UNBLOCK, &segv, NULL); /* ... delivered now: the process ends */
}

/* --- per-thread setup and teardown ----------------------------------------- */

static void process_setup(void) {
  page_size = (size_t)sysconf(_SC_PAGESIZE);

  const char *env = getenv("CORO_STACK_GUARD");
  int mode = forced_guard_mode;
  if (!mode && env) {
    if (strcmp(env, "madvise") == 0)
      mode = CORO_GUARD_MADVISE;
    else if (strcmp(env, "mprotect") == 0)
      mode = CORO_GUARD_MPROTECT;
    else if (strcmp(env, "canary") == 0)
      mode = CORO_GUARD_CANARY;
  }
  if (!mode || mode == CORO_GUARD_MADVISE) {
    int probe = probe_madvise_guard();
    mode = probe == 1 ? CORO_GUARD_MADVISE : CORO_GUARD_MPROTECT;
    reprobe = probe < 0;
  }
  __atomic_store_n(&guard_mode, mode, __ATOMIC_RELAXED);
  guard_budget = read_max_map_count() / 4;

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
}

int coro__stack_pool_init(coro__stack_pool *p, coro__stack_running_fn hook) {
  __atomic_store_n(&running, hook, __ATOMIC_RELAXED); /* the same for every thread */
  pthread_once(&process_once, process_setup);
  /* An overflow handler needs a stack of its own: the faulting one is full.
   * Keep the thread's alternate stack if it already has one (ASan sets one). */
  stack_t old;
  if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
    /* With a PROT_NONE page at each end (best effort): an unguarded stack
     * that overflows into the mapping below it must fault before its stack
     * pointer enters the alternate stack, or the kernel would take the
     * handler to be running already and could not deliver the fault. */
    int err = 0;
    size_t len = ALTSTACK_SIZE + 2 * page_size;
    char *alt = coro__mmap(len, &err);
    if (!alt) return err;
    coro__mprotect(alt, page_size, PROT_NONE);
    coro__mprotect(alt + page_size + ALTSTACK_SIZE, page_size, PROT_NONE);
    stack_t ss = {.ss_sp = alt + page_size, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
      err = -errno;
      coro__munmap(alt, len);
      return err;
    }
    p->altstack = alt;
    p->altstack_size = len;
  }
  return 0;
}

void coro__stack_pool_fini(coro__stack_pool *p) {
  coro__stack_trim(p, NULL);
  if (p->altstack) {
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    coro__munmap(p->altstack, p->altstack_size);
    p->altstack = NULL;
  }
  /* Classes with slabs still in use stay: those coroutines were leaked. */
  for (coro__stack_class **pc = &p->classes; *pc;) {
    coro__stack_class *cls = *pc;
    if (cls->nslabs == 0) {
      *pc = cls->next;
      coro__free(cls);
    } else {
      pc = &cls->next;
    }
  }
}

/* --- slabs ------------------------------------------------------------------ */

static void avail_push(coro__stack_class *cls, coro__slab *s) {
  s->prev = NULL;
  s->next = cls->avail;
  if (cls->avail) cls->avail->prev = s;
  cls->avail = s;
  s->on = ON_AVAIL;
}

static void avail_remove(coro__stack_class *cls, coro__slab *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    cls->avail = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = NULL;
  s->on = ON_NONE;
}

static size_t slab_bytes(const coro__stack_class *cls) { return cls->slot_size * cls->nslots; }

static void list_push_front(slab_list *l, coro__slab *s) {
  s->prev = NULL;
  s->next = l->head;
  if (l->head)
    l->head->prev = s;
  else
    l->tail = s;
  l->head = s;
}

static void list_push_back(slab_list *l, coro__slab *s) {
  s->next = NULL;
  s->prev = l->tail;
  if (l->tail)
    l->tail->next = s;
  else
    l->head = s;
  l->tail = s;
}

static void list_remove(slab_list *l, coro__slab *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    l->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    l->tail = s->prev;
  s->prev = s->next = NULL;
}

/* Link s into a list of empty slabs: first, or last if it has slots never
 * used (a fresh slot costs a guard and a fault where a used one costs
 * nothing, so those are taken last). */
static void empty_push(slab_list *l, coro__slab *s) {
  if (s->bumped < s->cls->nslots)
    list_push_back(l, s);
  else
    list_push_front(l, s);
}

/* A slab has just lost its last slot in use: keep it warm, its pages as
 * they are (the decay decides later what to give back). */
static void retire(coro__stack_class *cls, coro__slab *s) {
  s->on = ON_EMPTY;
  s->cold = 0;
  s->idle_since = cls->ops;
  cls->nempty++;
  cls->nwarm++;
  empty_push(&cls->warm, s);
}

/* Take an empty slab for use, warm ones first; NULL if none. */
static coro__slab *unretire(coro__stack_class *cls) {
  coro__slab *s = cls->warm.head;
  if (s) {
    list_remove(&cls->warm, s);
    cls->nwarm--;
  } else if ((s = cls->cold.head) != NULL) {
    list_remove(&cls->cold, s);
    s->cold = 0;
  } else {
    return NULL;
  }
  cls->nempty--;
  return s;
}

static int release_slab(coro__slab *s);

/* The decay (see the top of the file): the empty slabs beyond the warm cap
 * that stayed idle get one MADV_FREE each (cold; unmapped at once where the
 * kernel has no MADV_FREE), cold ones that stayed idle as long again are
 * unmapped.  Both lists are taken from their tail: the slabs the next
 * allocations would take last, which are also (but for the one slab with
 * slots never used, kept last) the ones idle longest.  Called on every
 * operation that reaches the slabs; costs a comparison when nothing is due. */
static void decay(coro__stack_class *cls) {
  for (;;) {
    unsigned long long idle =
        (unsigned long long)CORO__STACK_DECAY_TURNS * cls->nslabs * cls->nslots;
    coro__slab *s = cls->warm.tail;
    if (cls->nwarm > cls->warm_cap && cls->ops - s->idle_since >= idle) {
      list_remove(&cls->warm, s);
      cls->nwarm--;
      if (coro__madvise(s->base, slab_bytes(cls), MADV_FREE) == 0) {
        s->cold = 1;
        s->idle_since = cls->ops;
        list_push_front(&cls->cold, s);
        continue;
      }
      cls->nempty--;
      release_slab(s);
      continue;
    }
    s = cls->cold.tail;
    if (s && cls->ops - s->idle_since >= idle) {
      list_remove(&cls->cold, s);
      cls->nempty--;
      release_slab(s);
      continue;
    }
    return;
  }
}

static coro__stack_class *find_class(coro__stack_pool *p, size_t size) {
  for (coro__stack_class *c = p->classes; c; c = c->next)
    if (c->size == size) return c;
  coro__stack_class *c = coro__malloc(sizeof(*c));
  if (!c) return NULL;
  memset(c, 0, sizeof(*c));
  c->size = size;
  c->slot_size = size + page_size;
  size_t n = SLAB_BYTES / c->slot_size;
  c->nslots = n < 1 ? 1u : n > SLAB_MAX_SLOTS ? SLAB_MAX_SLOTS : (unsigned)n;
  unsigned by_slots = (CORO__STACK_WARM + c->nslots - 1) / c->nslots;
  size_t by_bytes = CORO__STACK_WARM_BYTES / slab_bytes(c);
  c->warm_cap = by_bytes < 1 ? 1u : by_bytes < by_slots ? (unsigned)by_bytes : by_slots;
  c->next = p->classes;
  p->classes = c;
  return c;
}

static coro__slab *new_slab(coro__stack_class *cls, int *err) {
  coro__slab *s = coro__malloc(sizeof(*s) + cls->nslots * sizeof(s->slots[0]));
  if (!s) {
    *err = -ENOMEM;
    return NULL;
  }
  memset(s, 0, sizeof(*s) + cls->nslots * sizeof(s->slots[0]));
  if (__atomic_exchange_n(&reprobe, 0, __ATOMIC_RELAXED)) {
    int probe = probe_madvise_guard();
    if (probe == 1)
      __atomic_store_n(&guard_mode, CORO_GUARD_MADVISE, __ATOMIC_RELAXED);
    else if (probe < 0)
      __atomic_store_n(&reprobe, 1, __ATOMIC_RELAXED);
  }
  s->base = coro__mmap(slab_bytes(cls), err);
  if (!s->base) {
    coro__free(s);
    return NULL;
  }
  s->cls = cls;
  cls->nslabs++;
  return s;
}

/* Unmap an empty slab (unlinked by the caller). */
static int release_slab(coro__slab *s) {
  coro__stack_class *cls = s->cls;
  for (unsigned i = 0; i < s->bumped; i++)
    if (s->slots[i].vg_id) VALGRIND_STACK_DEREGISTER(s->slots[i].vg_id);
  if (s->nguarded) __atomic_sub_fetch(&guards_in_use, (long)s->nguarded, __ATOMIC_RELAXED);
  int rc = coro__munmap(s->base, slab_bytes(cls));
  cls->nslabs--;
  coro__free(s);
  return rc;
}

/* Decide and install the guard of a slot handed out for the first time. */
static void guard_slot(coro__slab *s, char *slot, slot_info *si) {
  if (__atomic_load_n(&guard_mode, __ATOMIC_RELAXED) == CORO_GUARD_MADVISE) {
    si->guarded = coro__madvise(slot, page_size, MADV_GUARD_INSTALL) == 0;
  } else if (guard_mode == CORO_GUARD_MPROTECT) {
    if (__atomic_add_fetch(&guards_in_use, 1, __ATOMIC_RELAXED) <= guard_budget &&
        coro__mprotect(slot, page_size, PROT_NONE) == 0) {
      si->guarded = 1;
      s->nguarded++;
    } else {
      __atomic_sub_fetch(&guards_in_use, 1, __ATOMIC_RELAXED);
    }
  }
}

/* Anything due to decay?  One comparison in the common case. */
static inline void maybe_decay(coro__stack_class *cls) {
  if (cls->nwarm > cls->warm_cap || cls->cold.tail) decay(cls);
}

int coro__stack_alloc(coro__stack_pool *p, size_t size, coro__stack *out) {
  coro__stack_class *cls = find_class(p, size);
  if (!cls) return -ENOMEM;
  cls->ops++;
  coro__slab *s = cls->avail;
  if (!s) {
    s = unretire(cls);
    if (!s) {
      int err = 0;
      s = new_slab(cls, &err);
      if (!s) return err == -ENOMEM || err == -EAGAIN ? -ENOMEM : err;
    }
    avail_push(cls, s);
  }

  unsigned i;
  if (s->free_head) {
    i = s->free_head - 1;
    s->free_head = s->slots[i].next_free;
  } else {
    i = s->bumped++;
  }
  char *slot = s->base + (size_t)i * cls->slot_size;
  slot_info *si = &s->slots[i];
  if (!si->used) {
    si->used = 1;
    guard_slot(s, slot, si);
    si->vg_id = VALGRIND_STACK_REGISTER(slot + page_size, slot + cls->slot_size);
  }
  si->busy = 1;
  si->dirty = 1;
  if (++s->nused == cls->nslots) avail_remove(cls, s); /* full */

  out->lo = slot + page_size;
  out->hi = slot + cls->slot_size;
  out->size = size;
  out->slab = s;
  out->slot = i;
  out->guarded = si->guarded;
  maybe_decay(cls);
  return 0;
}

void coro__stack_free(coro__stack_pool *p, const coro__stack *st) {
  coro__slab *s = st->slab;
  coro__stack_class *cls = s->cls;
  (void)p;
#ifdef CORO_ASAN
  /* Frames abandoned on this stack left their redzones poisoned (a stack
   * that went through the cache was cleaned there already: harmless). */
  ASAN_UNPOISON_MEMORY_REGION(st->lo, (size_t)(st->hi - st->lo));
#endif
  cls->ops++;
  slot_info *si = &s->slots[st->slot];
  si->busy = 0;
  si->next_free = s->free_head;
  s->free_head = st->slot + 1;
  if (--s->nused == 0) {
    if (s->on == ON_AVAIL) avail_remove(cls, s);
    retire(cls, s);
  } else if (s->on == ON_NONE) {
    avail_push(cls, s); /* was full */
  }
  maybe_decay(cls);
}

/* --- giving memory back ------------------------------------------------------ */

/* Discard the pages of s's free slots used since their last discard, a run
 * of neighbours at a time (their guards stay).  Returns 0 or the first error; adds the bytes to *bytes. */
static int discard_free_slots(coro__slab *s, size_t *bytes) {
  coro__stack_class *cls = s->cls;
  int rc = 0;
  for (unsigned i = 0; i < s->bumped;) {
    if (s->slots[i].busy || !s->slots[i].dirty) {
      i++;
      continue;
    }
    unsigned j = i;
    while (j < s->bumped && !s->slots[j].busy && s->slots[j].dirty) s->slots[j++].dirty = 0;
    /* [first usable byte of slot i, end of slot j-1) */
    char *lo = s->base + (size_t)i * cls->slot_size + page_size;
    size_t len = (size_t)(j - i) * cls->slot_size - page_size;
    int r = coro__madvise(lo, len, MADV_DONTNEED);
    if (r == 0)
      *bytes += len;
    else if (!rc)
      rc = r;
    i = j;
  }
  return rc;
}

int coro__stack_trim(coro__stack_pool *p, size_t *released) {
  size_t bytes = 0;
  int rc = 0;
  while (p->ncached) coro__stack_free(p, &p->cache[--p->ncached]);
  for (coro__stack_class *cls = p->classes; cls; cls = cls->next) {
    for (coro__slab *s; (s = unretire(cls)) != NULL;) {
      size_t len = slab_bytes(cls);
      int r = release_slab(s);
      if (r == 0)
        bytes += len;
      else if (!rc)
        rc = r;
    }
    for (coro__slab *s = cls->avail; s; s = s->next) {
      int r = discard_free_slots(s, &bytes);
      if (r < 0 && !rc) rc = r;
    }
  }
  if (released) *released = bytes;
  return rc;
}
