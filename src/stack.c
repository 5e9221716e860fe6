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
 * Guards are installed lazily, the first time a slot is handed out, so a new
 * slab costs one mmap.  Freed slots go on their slab's free list (LIFO, so the
 * next coroutine reuses warm memory).  A slab whose slots are all free is
 * unmapped, except one spare per size class, so a workload hovering around a
 * slab boundary does not map and unmap in a loop.
 *
 * Overflow: a SIGSEGV handler, on an alternate signal stack (the faulting
 * stack has no room left), checks whether the fault hit the running
 * coroutine's guard page; if so it prints the coroutine's name and stack size
 * and aborts, otherwise it hands the signal to whatever handler was there.
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

/* Per-slot bookkeeping kept outside the slot (the slot itself may be idle). */
typedef struct slot_info {
  unsigned vg_id;        /* Valgrind stack id, 0 if not registered */
  unsigned char used;    /* handed out at least once: guard decided */
  unsigned char guarded; /* guard page installed */
} slot_info;

/* A pool of stack slots of one size, per thread. */
struct coro__stack_class {
  size_t size;                    /* usable size of its stacks (page multiple) */
  size_t slot_size;               /* size + the guard page */
  unsigned nslots;                /* slots per slab */
  unsigned nempty;                /* slabs with no slot in use (at most 1 kept) */
  unsigned nslabs;                /* slabs mapped */
  coro__slab *avail;              /* slabs with a free slot, most recently freed into first */
  struct coro__stack_class *next; /* next size class of this thread */
};

struct coro__slab {
  char *base;              /* start of the mapping */
  coro__stack_class *cls;  /* size class it belongs to */
  unsigned bumped;         /* slots [0, bumped) have been handed out at least once */
  unsigned nused;          /* slots in use now */
  unsigned nguarded;       /* slots with an mprotect guard (for the process budget) */
  void *free_head;         /* free slots, linked through their top word */
  coro__slab *prev, *next; /* links in cls->avail while it has a free slot */
  int in_avail;            /* 1 while linked in cls->avail */
  slot_info slots[];       /* one per slot */
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

static void on_segv(int sig, siginfo_t *info, void *uctx) {
  const char *name = NULL;
  const coro__stack *s = running ? running(&name) : NULL;
  char *addr = info->si_addr;
  if (s && s->guarded && addr >= s->lo - page_size && addr < s->lo) {
    report(name, s, "stack overflow", addr);
    die();
  }
  /* Not ours: pass it on as if we had never been installed. */
  if (old_segv.sa_flags & SA_SIGINFO) {
    old_segv.sa_sigaction(sig, info, uctx);
  } else if (old_segv.sa_handler == SIG_DFL || old_segv.sa_handler == SIG_IGN) {
    /* Restore and return: the faulting instruction runs again and gets the
     * default action, with a core dump pointing at the real culprit. */
    sigaction(SIGSEGV, &old_segv, NULL);
  } else {
    old_segv.sa_handler(sig);
  }
}

/* --- per-thread setup and teardown ----------------------------------------- */

static void release_slab(coro__slab *s);

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

int coro__stack_pool_init(coro__stack_pool *t, coro__stack_running_fn hook) {
  __atomic_store_n(&running, hook, __ATOMIC_RELAXED); /* the same for every thread */
  pthread_once(&process_once, process_setup);
  /* An overflow handler needs a stack of its own: the faulting one is full.
   * Keep the thread's alternate stack if it already has one (ASan sets one). */
  stack_t old;
  if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
    int err = 0;
    void *p = coro__mmap(ALTSTACK_SIZE, &err);
    if (!p) return err;
    stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
      err = -errno;
      coro__munmap(p, ALTSTACK_SIZE);
      return err;
    }
    t->altstack = p;
    t->altstack_size = ALTSTACK_SIZE;
  }
  return 0;
}

static void release_slab(coro__slab *s);

void coro__stack_pool_fini(coro__stack_pool *t) {
  while (t->ncached) coro__stack_free(t, &t->cache[--t->ncached]);
  if (t->altstack) {
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    coro__munmap(t->altstack, t->altstack_size);
    t->altstack = NULL;
  }
  for (coro__stack_class **pc = &t->classes; *pc;) {
    coro__stack_class *cls = *pc;
    for (coro__slab *s = cls->avail, *next; s; s = next) {
      next = s->next;
      if (s->nused == 0) release_slab(s);
    }
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
  s->in_avail = 1;
}

static void avail_remove(coro__stack_class *cls, coro__slab *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    cls->avail = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = NULL;
  s->in_avail = 0;
}

static coro__stack_class *find_class(coro__stack_pool *t, size_t size) {
  for (coro__stack_class *c = t->classes; c; c = c->next)
    if (c->size == size) return c;
  coro__stack_class *c = coro__malloc(sizeof(*c));
  if (!c) return NULL;
  memset(c, 0, sizeof(*c));
  c->size = size;
  c->slot_size = size + page_size;
  size_t n = SLAB_BYTES / c->slot_size;
  c->nslots = n < 1 ? 1u : n > SLAB_MAX_SLOTS ? SLAB_MAX_SLOTS : (unsigned)n;
  c->next = t->classes;
  t->classes = c;
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
  s->base = coro__mmap(cls->slot_size * cls->nslots, err);
  if (!s->base) {
    coro__free(s);
    return NULL;
  }
  s->cls = cls;
  avail_push(cls, s);
  cls->nempty++;
  cls->nslabs++;
  return s;
}

static void release_slab(coro__slab *s) {
  coro__stack_class *cls = s->cls;
  for (unsigned i = 0; i < s->bumped; i++)
    if (s->slots[i].vg_id) VALGRIND_STACK_DEREGISTER(s->slots[i].vg_id);
  if (s->nguarded) __atomic_sub_fetch(&guards_in_use, (long)s->nguarded, __ATOMIC_RELAXED);
  coro__munmap(s->base, cls->slot_size * cls->nslots);
  if (s->in_avail) avail_remove(cls, s);
  cls->nempty--;
  cls->nslabs--;
  coro__free(s);
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

int coro__stack_alloc(coro__stack_pool *t, size_t size, coro__stack *out) {
  coro__stack_class *cls = find_class(t, size);
  if (!cls) return -ENOMEM;
  coro__slab *s = cls->avail;
  if (!s) {
    int err = 0;
    s = new_slab(cls, &err);
    if (!s) return err == -ENOMEM || err == -EAGAIN ? -ENOMEM : err;
  }
  if (s->nused == 0) cls->nempty--;

  unsigned i;
  char *slot;
  if (s->free_head) {
    /* A free slot's top two words: the link, then its index (no division). */
    void **link = s->free_head;
    s->free_head = link[0];
    i = (unsigned)(uintptr_t)link[-1];
    slot = s->base + (size_t)i * cls->slot_size;
  } else {
    i = s->bumped++;
    slot = s->base + (size_t)i * cls->slot_size;
  }
  slot_info *si = &s->slots[i];
  if (!si->used) {
    si->used = 1;
    guard_slot(s, slot, si);
    si->vg_id = VALGRIND_STACK_REGISTER(slot + page_size, slot + cls->slot_size);
  }
  s->nused++;
  if (!s->free_head && s->bumped == cls->nslots) avail_remove(cls, s);

  out->lo = slot + page_size;
  out->hi = slot + cls->slot_size;
  out->size = size;
  out->slab = s;
  out->slot = i;
  out->guarded = si->guarded;
  return 0;
}

void coro__stack_free(coro__stack_pool *t, const coro__stack *st) {
  coro__slab *s = st->slab;
  coro__stack_class *cls = s->cls;
  (void)t;
#ifdef CORO_ASAN
  /* Frames abandoned on this stack left their redzones poisoned (a stack
   * that went through the cache was cleaned there already: harmless). */
  ASAN_UNPOISON_MEMORY_REGION(st->lo, (size_t)(st->hi - st->lo));
#endif
  /* Link through the slot's top words, a page that is resident already. */
  void **link = (void **)(void *)(st->hi - sizeof(void *));
  link[0] = s->free_head;
  link[-1] = (void *)(uintptr_t)st->slot;
  s->free_head = link;
  if (!s->in_avail) avail_push(cls, s);
  if (--s->nused == 0 && ++cls->nempty > 1) release_slab(s); /* keep one spare */
}
