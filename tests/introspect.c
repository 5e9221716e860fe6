/* SPDX-License-Identifier: MIT */
/*
 * introspect.c - coro_list() and coro_dump(): every live coroutine of the
 * thread, with its name, state, what it waits on and its stack usage.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

#define MAXLIST 64

static coro_info infos[MAXLIST];

/* The entry for c in a fresh listing (fails the test if c is not listed). */
static const coro_info *find(const coro *c) {
  long n = coro_list(infos, MAXLIST);
  ASSERT_TRUE(n >= 0 && n <= MAXLIST);
  for (long i = 0; i < n; i++)
    if (infos[i].handle == c) return &infos[i];
  test__fail(__FILE__, __LINE__, "coroutine %p is not listed", (const void *)c);
}

static int listed(const coro *c) {
  long n = coro_list(infos, MAXLIST);
  for (long i = 0; i < n && i < MAXLIST; i++)
    if (infos[i].handle == c) return 1;
  return 0;
}

/* Yields once; destroyed while suspended, its yield returns CORO_EEXIT. */
static void *yield_once(void *arg) {
  int rc = coro_yield(arg, NULL);
  ASSERT_TRUE(rc == 0 || rc == CORO_EEXIT);
  return NULL;
}

static coro *named(coro_fn fn, void *arg, const char *name, size_t stack) {
  coro_attr a;
  ASSERT_EQ(coro_attr_init(&a), 0);
  a.name = name;
  if (stack) a.stack_size = stack;
  coro *c;
  ASSERT_EQ(coro_create(&c, fn, arg, &a), 0);
  return c;
}

TEST(list_counts_and_forgets_destroyed_coroutines) {
  long base = coro_list(NULL, 0);
  ASSERT_TRUE(base >= 0);
  coro *a = named(yield_once, NULL, "a", 0), *b = named(yield_once, NULL, "b", 0);
  ASSERT_EQ(coro_list(NULL, 0), base + 2);
  ASSERT_TRUE(listed(a) && listed(b));
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_list(NULL, 0), base + 1);
  ASSERT_TRUE(!listed(a) && listed(b));
  ASSERT_EQ(coro_destroy(b), 0);
  ASSERT_EQ(coro_list(NULL, 0), base);
}

TEST(list_fills_at_most_n_and_returns_the_total) {
  coro *c[5];
  for (int i = 0; i < 5; i++) c[i] = named(yield_once, NULL, "x", 0);
  coro_info two[2];
  memset(two, 0, sizeof(two));
  ASSERT_EQ(coro_list(two, 2), 5);
  ASSERT_PTR_EQ(two[0].handle, c[4]); /* newest first */
  ASSERT_PTR_EQ(two[1].handle, c[3]);
  for (int i = 0; i < 5; i++) ASSERT_EQ(coro_destroy(c[i]), 0);
}

TEST(list_reports_name_state_and_stack_of_generators) {
  coro *g = named(yield_once, NULL, "gen-one", 128 * 1024);
  const coro_info *i = find(g);
  ASSERT_STR_EQ(i->name, "gen-one");
  ASSERT_EQ(i->state, CORO_CREATED);
  ASSERT_EQ(i->micro_thread, 0);
  ASSERT_EQ(i->cancelled, 0);
  ASSERT_TRUE(i->waiting_on == NULL);
  ASSERT_EQ(i->deadline, -1);
  ASSERT_EQ(i->stack_size, 128 * 1024);
  ASSERT_EQ(i->stack_used, 0);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  i = find(g);
  ASSERT_EQ(i->state, CORO_SUSPENDED);
  ASSERT_TRUE(i->stack_used > 0 && i->stack_used < 16 * 1024);
  ASSERT_TRUE(i->stack_high_water >= i->stack_used);
  ASSERT_TRUE(i->stack_high_water <= i->stack_size);
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_EQ(find(g)->state, CORO_CLOSED);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* Recurses `depth` frames of 1 KiB each, then yields from the bottom. */
static int deep(int depth) {
  volatile char pad[1024];
  pad[0] = (char)depth;
  pad[sizeof(pad) - 1] = (char)depth;
  if (depth == 0) {
    ASSERT_EQ(coro_yield(NULL, NULL), 0);
    return pad[0];
  }
  return deep(depth - 1) + pad[sizeof(pad) - 1];
}

static void *go_deep(void *arg) {
  deep((int)(intptr_t)arg);
  ASSERT_EQ(coro_yield(NULL, NULL), CORO_EEXIT); /* back near the top; then destroyed */
  return NULL;
}

TEST(list_high_water_mark_remembers_the_deepest_point) {
  /* An unusual stack size, so that a fresh slab slot (untouched) is used. */
  coro *g = named(go_deep, IV(100), "deep", 384 * 1024);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  const coro_info *i = find(g);
  ASSERT_TRUE(i->stack_used >= 100 * 1024);
  size_t deepest = i->stack_high_water;
  ASSERT_TRUE(deepest >= i->stack_used);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  i = find(g);
  ASSERT_TRUE(i->stack_used < 16 * 1024);             /* used now: shallow again */
  ASSERT_TRUE(i->stack_high_water >= deepest - 4096); /* high water: still deep */
  ASSERT_TRUE(i->stack_high_water >= 100 * 1024);
  ASSERT_EQ(coro_destroy(g), 0);
}

/* --- micro-threads: what each waits on ------------------------------------------------- */

struct scene {
  coro_chan *ch;
  coro_sem *sem;
  coro_group *g;
  coro *sleeper, *receiver, *locker, *joiner, *chain, *chained_gen, *yielder, *unstarted;
  coro *inspector;
  int64_t deadline;
  int checked;
};

static struct scene sc;

static void *sleep_until(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(sc.deadline), -ECANCELED);
  return NULL;
}

static void *receive(void *arg) {
  (void)arg;
  int v;
  ASSERT_EQ(coro_chan_recv(sc.ch, &v, -1), -EPIPE);
  return NULL;
}

static void *lock(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sem_acquire(sc.sem, -1), 0);
  return NULL;
}

static void *join(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_join(sc.receiver, NULL, -1), 0);
  return NULL;
}

static void *gen_sleeps(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(-1), -ECANCELED);
  return NULL;
}

static void *drive_gen(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_next(sc.chained_gen, NULL), CORO_RETURNED);
  return NULL;
}

static void *yields(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++) coro_sched_yield();
  return NULL;
}

static void *nothing(void *arg) { return arg; }

static void *inspect(void *arg) {
  (void)arg;
  const coro_info *i = find(sc.sleeper);
  ASSERT_EQ(i->state, CORO_WAITING);
  ASSERT_EQ(i->micro_thread, 1);
  ASSERT_STR_EQ(i->waiting_on, "sleep");
  ASSERT_EQ(i->deadline, sc.deadline);

  i = find(sc.receiver);
  ASSERT_STR_EQ(i->waiting_on, "chan recv");
  ASSERT_PTR_EQ(i->wait_object, sc.ch);
  ASSERT_EQ(i->deadline, -1);

  i = find(sc.locker);
  ASSERT_STR_EQ(i->waiting_on, "sem");
  ASSERT_PTR_EQ(i->wait_object, sc.sem);

  i = find(sc.joiner);
  ASSERT_STR_EQ(i->waiting_on, "join");
  ASSERT_PTR_EQ(i->wait_object, sc.receiver);

  i = find(sc.chain); /* its generator waits on its behalf */
  ASSERT_STR_EQ(i->waiting_on, "chain");
  ASSERT_PTR_EQ(i->wait_object, sc.chained_gen);
  i = find(sc.chained_gen);
  ASSERT_EQ(i->micro_thread, 0);
  ASSERT_STR_EQ(i->waiting_on, "sleep");
  ASSERT_EQ(i->state, CORO_WAITING);

  i = find(sc.yielder);
  ASSERT_STR_EQ(i->waiting_on, "yield");

  i = find(sc.unstarted);
  ASSERT_STR_EQ(i->waiting_on, "start");

  i = find(sc.inspector);
  ASSERT_EQ(i->state, CORO_RUNNING);
  ASSERT_TRUE(i->waiting_on == NULL);
  ASSERT_TRUE(i->stack_used > 0 && i->stack_used <= i->stack_size);

  /* Let everything finish: cancel the sleepers, close the channel, release. */
  ASSERT_EQ(coro_cancel(sc.sleeper), 0);
  ASSERT_EQ(coro_cancel(sc.chain), 0);
  ASSERT_TRUE(find(sc.sleeper)->cancelled);
  ASSERT_EQ(coro_chan_close(sc.ch), 0);
  ASSERT_EQ(coro_sem_release(sc.sem), 0);
  sc.checked = 1;
  return NULL;
}

static void *yield_first(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* let the others park */
  ASSERT_EQ(coro_spawn(&sc.unstarted, nothing, NULL, NULL), 0);
  return inspect(NULL);
}

TEST(list_reports_what_each_microthread_waits_on) {
  memset(&sc, 0, sizeof(sc));
  sc.deadline = coro_now() + INT64_C(3600) * 1000000000;
  ASSERT_EQ(coro_chan_create(&sc.ch, sizeof(int), 0), 0);
  ASSERT_EQ(coro_sem_create(&sc.sem, 0), 0);
  ASSERT_EQ(coro_create(&sc.chained_gen, gen_sleeps, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.sleeper, sleep_until, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.receiver, receive, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.locker, lock, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.joiner, join, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.chain, drive_gen, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.inspector, yield_first, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(&sc.yielder, yields, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(sc.checked, 1);
  coro *all[] = {sc.sleeper,   sc.receiver, sc.locker,    sc.joiner,     sc.chain,
                 sc.inspector, sc.yielder,  sc.unstarted, sc.chained_gen};
  for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) ASSERT_EQ(coro_destroy(all[k]), 0);
  ASSERT_EQ(coro_chan_destroy(sc.ch), 0);
  ASSERT_EQ(coro_sem_destroy(sc.sem), 0);
}

static void *in_group(void *arg) {
  ASSERT_EQ(coro_sleep(-1), -ECANCELED);
  (void)arg;
  return NULL;
}

static void *group_waiter(void *arg) {
  coro_group *g = arg;
  ASSERT_EQ(coro_group_wait(g, -1), -ECANCELED);
  return NULL;
}

static void *group_inspector(void *arg) {
  coro *w = arg;
  const coro_info *i = find(w);
  ASSERT_STR_EQ(i->waiting_on, "group");
  ASSERT_PTR_EQ(i->wait_object, sc.g);
  ASSERT_EQ(coro_cancel(w), 0);
  ASSERT_EQ(coro_group_close(sc.g, -1), 0);
  return NULL;
}

TEST(list_reports_a_wait_on_a_group) {
  ASSERT_EQ(coro_group_create(&sc.g, 0), 0);
  ASSERT_EQ(coro_group_spawn(sc.g, in_group, NULL, NULL), 0);
  coro *w;
  ASSERT_EQ(coro_spawn(&w, group_waiter, sc.g, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, group_inspector, w, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_destroy(w), 0);
}

/* --- coro_dump --------------------------------------------------------------------------- */

TEST(dump_writes_a_header_and_one_line_per_coroutine) {
  coro *a = named(yield_once, NULL, "dump-alpha", 0);
  coro *b = named(yield_once, NULL, "dump-beta", 0);
  ASSERT_EQ(coro_next(b, NULL), CORO_YIELDED);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  long n = coro_dump(p[1]);
  ASSERT_EQ(n, coro_list(NULL, 0));
  ASSERT_EQ(close(p[1]), 0);
  char buf[8192];
  size_t len = 0;
  ssize_t r;
  while ((r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0) len += (size_t)r;
  buf[len] = '\0';
  ASSERT_EQ(close(p[0]), 0);
  long lines = 0;
  for (size_t k = 0; k < len; k++) lines += buf[k] == '\n';
  ASSERT_EQ(lines, n + 1);
  ASSERT_TRUE(strstr(buf, "dump-alpha") && strstr(buf, "CREATED"));
  ASSERT_TRUE(strstr(buf, "dump-beta") && strstr(buf, "SUSPENDED"));
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_destroy(b), 0);
}

TEST(dump_reports_a_failed_write) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(close(p[1]), 0);
  coro *a = named(yield_once, NULL, "a", 0);
  ASSERT_EQ(coro_dump(p[0]), -EBADF); /* the read end: not writable */
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(close(p[0]), 0);
}

TEST(list_and_dump_bad_input) {
  ASSERT_EQ(coro_list(NULL, 1), -EINVAL);
  ASSERT_EQ(coro_dump(-1), -EINVAL);
}

static void *other_thread(void *arg) {
  (void)arg;
  coro *mine = named(yield_once, NULL, "theirs", 0);
  long n = coro_list(infos, MAXLIST);
  int ok = n == 1 && infos[0].handle == mine;
  ASSERT_EQ(coro_destroy(mine), 0);
  return IV(ok);
}

TEST(list_shows_only_the_calling_threads_coroutines) {
  coro *a = named(yield_once, NULL, "ours", 0);
  pthread_t th;
  void *ok;
  ASSERT_EQ(pthread_create(&th, NULL, other_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, &ok), 0);
  ASSERT_EQ(VI(ok), 1);
  ASSERT_TRUE(listed(a));
  ASSERT_EQ(coro_destroy(a), 0);
}
