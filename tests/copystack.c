/* SPDX-License-Identifier: MIT */
/*
 * copystack.c - copy-stack (shared-stack) mode: frames that survive being
 * displaced, resume chains of copy-stack coroutines, records that must not
 * live on a displaced stack (waiters, elements in flight, values passed),
 * what the mode refuses, and running out of memory at every place it needs
 * some (a failed switch changes nothing, leaks nothing).
 *
 * Every coroutine here asks for copy-stack mode explicitly, so the file
 * means the same with and without CORO_STACK_MODE=copy.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

#define MS (INT64_C(1000000))

#ifdef CORO_USE_UCONTEXT
static void *nothing_at_all(void *arg) { return arg; }
#endif

static coro_attr copy_attr(void) {
  coro_attr a = CORO_ATTR_INIT;
  a.stack_mode = CORO_STACK_MODE_COPY;
#ifdef CORO_USE_UCONTEXT
  /* The ucontext build has no copy-stack mode: every case checks that it
   * says so, and ends there. */
  coro *c = NULL;
  ASSERT_EQ(coro_create(&c, nothing_at_all, NULL, &a), -ENOTSUP);
  ASSERT_EQ(coro_set_stack_mode(CORO_STACK_MODE_COPY), -ENOTSUP);
  puts("ucontext build: copy-stack mode is refused with -ENOTSUP (checked); nothing else to test");
  exit(0);
#endif
  return a;
}

static coro *gen(coro_fn fn, void *arg) {
  coro_attr a = copy_attr();
  coro *c = NULL;
  ASSERT_EQ(coro_create(&c, fn, arg, &a), 0);
  return c;
}

static void spawn(coro **out, coro_fn fn, void *arg) {
  coro_attr a = copy_attr();
  ASSERT_EQ(coro_spawn(out, fn, arg, &a), 0);
}

/* --- what the mode accepts and refuses ---------------------------------------------------- */

static void *ret_arg(void *arg) { return arg; }

TEST(copy_attr_with_explicit_stack_size_is_einval) {
  coro_attr a = copy_attr();
  a.stack_size = CORO_STACK_MIN;
  coro *c = (coro *)(uintptr_t)0x5e5e;
  ASSERT_EQ(coro_create(&c, ret_arg, NULL, &a), -EINVAL);
  ASSERT_EQ(coro_spawn(&c, ret_arg, NULL, &a), -EINVAL);
  ASSERT_PTR_EQ(c, (coro *)(uintptr_t)0x5e5e);
  a.stack_size = CORO_STACK_DEFAULT;
  a.stack_mode = 7; /* unknown */
  ASSERT_EQ(coro_create(&c, ret_arg, NULL, &a), -EINVAL);
  a.stack_mode = -1;
  ASSERT_EQ(coro_create(&c, ret_arg, NULL, &a), -EINVAL);
  ASSERT_EQ(coro_list(NULL, 0), 0); /* nothing was made */
}

TEST(set_stack_mode_returns_the_old_one_and_refuses_others) {
  (void)copy_attr(); /* (the ucontext build ends here) */
  int old = coro_set_stack_mode(CORO_STACK_MODE_COPY);
  ASSERT_TRUE(old == CORO_STACK_MODE_OWN || old == CORO_STACK_MODE_COPY);
  coro *c;
  ASSERT_EQ(coro_create(&c, ret_arg, IV(5), NULL), 0);
  coro_info i;
  ASSERT_EQ(coro_list(&i, 1), 1);
  ASSERT_EQ(i.copy_stack, 1);
  ASSERT_EQ(coro_stack_size(c), CORO_STACK_SHARED);
  void *v = NULL;
  ASSERT_EQ(coro_next(c, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 5);
  ASSERT_EQ(coro_destroy(c), 0);
  /* An explicit size under the copy default: its own stack. */
  coro_attr a = CORO_ATTR_INIT;
  a.stack_size = CORO_STACK_MIN;
  ASSERT_EQ(coro_create(&c, ret_arg, NULL, &a), 0);
  ASSERT_EQ(coro_list(&i, 1), 1);
  ASSERT_EQ(i.copy_stack, 0);
  ASSERT_EQ(coro_destroy(c), 0);
  ASSERT_EQ(coro_set_stack_mode(CORO_STACK_MODE_OWN), CORO_STACK_MODE_COPY);
  ASSERT_EQ(coro_set_stack_mode(0), -EINVAL);
  ASSERT_EQ(coro_set_stack_mode(3), -EINVAL);
  ASSERT_EQ(coro_set_stack_mode(CORO_STACK_MODE_OWN), CORO_STACK_MODE_OWN);
  ASSERT_EQ(coro_create(&c, ret_arg, NULL, NULL), 0);
  ASSERT_EQ(coro_list(&i, 1), 1);
  ASSERT_EQ(i.copy_stack, 0);
  ASSERT_EQ(coro_destroy(c), 0);
}

/* --- generators: frames survive being displaced -------------------------------------------- */

/* Yields running sums of a local array, which other generators' frames
 * overwrite on the shared stack between its yields. */
static void *summer(void *arg) {
  long base = VI(arg);
  long a[64];
  for (int i = 0; i < 64; i++) a[i] = base * 1000 + i;
  for (int round = 0; round < 5; round++) {
    long sum = 0;
    for (int i = 0; i < 64; i++) sum += a[i];
    void *in = NULL;
    int rc = coro_yield(IV(sum), &in);
    if (rc == CORO_EEXIT) return NULL; /* destroyed while suspended */
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(VI(in), base * 10 + round); /* the sent value reached our local */
  }
  return IV(base);
}

TEST(interleaved_generators_keep_their_frames) {
  enum { N = 20 };
  coro *g[N];
  for (int i = 0; i < N; i++) g[i] = gen(summer, IV(i + 1));
  void *v;
  for (int i = 0; i < N; i++) ASSERT_EQ(coro_next(g[i], &v), CORO_YIELDED);
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < N; i++) {
      long base = i + 1, expect = 64 * base * 1000 + 63 * 64 / 2;
      int rc = coro_send(g[i], IV(base * 10 + round), &v);
      ASSERT_EQ(rc, round < 4 ? CORO_YIELDED : CORO_RETURNED);
      ASSERT_EQ(VI(v), round < 4 ? expect : base);
    }
  }
  for (int i = 0; i < N; i++) ASSERT_EQ(coro_destroy(g[i]), 0);
}

TEST(coro_list_reports_the_saved_size) {
  coro *a = gen(summer, IV(1)), *b = gen(summer, IV(2));
  void *v;
  ASSERT_EQ(coro_next(a, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED); /* displaces a */
  coro_info i[2];
  ASSERT_EQ(coro_list(i, 2), 2); /* newest first: b, a */
  ASSERT_PTR_EQ(i[0].handle, b);
  ASSERT_EQ(i[0].stack_saved, 0); /* on the shared stack */
  ASSERT_EQ(i[1].copy_stack, 1);
  ASSERT_TRUE(i[1].stack_saved >= 64 * sizeof(long)); /* its array at least */
  ASSERT_TRUE(i[1].stack_saved < 4096);
  ASSERT_EQ(i[1].stack_saved, i[1].stack_used);
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_destroy(b), 0);
}

/* A copy-stack generator that resumes another: the inner one's frames
 * displace ours; the values go through the records, not our locals. */
static void *counter(void *arg) {
  long n = VI(arg);
  for (long i = 1; i <= n; i++) {
    void *in = NULL;
    ASSERT_EQ(coro_yield(IV(i * 100), &in), 0);
    ASSERT_EQ(VI(in), i);
  }
  return IV(-n);
}

static void *outer_driver(void *arg) {
  coro *inner = gen(counter, arg);
  long got[8] = {0}, n = VI(arg);
  void *v = NULL;
  ASSERT_EQ(coro_next(inner, &v), CORO_YIELDED); /* into our local v */
  got[0] = VI(v);
  for (long i = 1; i <= n; i++) {
    int rc = coro_send(inner, IV(i), &v);
    ASSERT_EQ(rc, i < n ? CORO_YIELDED : CORO_RETURNED);
    got[i] = VI(v);
    ASSERT_EQ(coro_yield(IV(got[i - 1]), NULL), 0); /* and out to main */
  }
  ASSERT_EQ(got[n], -n);
  ASSERT_EQ(coro_destroy(inner), 0);
  return IV(got[0] + got[n - 1]);
}

TEST(copy_generator_resumes_a_copy_generator) {
  coro *o = gen(outer_driver, IV(5));
  void *v;
  for (long i = 1; i <= 5; i++) {
    ASSERT_EQ(coro_next(o, &v), CORO_YIELDED);
    ASSERT_EQ(VI(v), i * 100);
  }
  ASSERT_EQ(coro_next(o, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 100 + 500);
  ASSERT_EQ(coro_destroy(o), 0);
}

static void *delegator(void *arg) {
  coro *sub = gen(counter, arg);
  void *r = NULL;
  ASSERT_EQ(coro_yield_from(sub, &r), 0);
  ASSERT_EQ(VI(r), -VI(arg));
  ASSERT_EQ(coro_destroy(sub), 0);
  return IV(VI(r) * 2);
}

TEST(yield_from_between_copy_generators) {
  coro *d = gen(delegator, IV(3));
  void *v;
  ASSERT_EQ(coro_next(d, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 100);
  ASSERT_EQ(coro_send(d, IV(1), &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 200);
  ASSERT_EQ(coro_send(d, IV(2), &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 300);
  ASSERT_EQ(coro_send(d, IV(3), &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), -6);
  ASSERT_EQ(coro_destroy(d), 0);
}

/* Closing a displaced generator brings its frames back: the body sees the
 * exit request with its locals intact, and its cleanup handlers run. */
static long cleaned, handled;
static void note(void *p) { handled += (long)(intptr_t)p; }

static void *with_cleanup(void *arg) {
  long mine = VI(arg);
  ASSERT_EQ(coro_cleanup_push(note, arg), 0);
  for (;;)
    if (coro_yield(NULL, NULL) == CORO_EEXIT) {
      cleaned += mine; /* a local of our displaced frames */
      return NULL;
    }
}

TEST(closing_a_displaced_generator_runs_its_cleanup_in_its_frames) {
  cleaned = handled = 0;
  coro *a = gen(with_cleanup, IV(7)), *b = gen(with_cleanup, IV(11));
  ASSERT_EQ(coro_next(a, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_next(b, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_destroy(a), 0); /* displaced: brought back to close */
  ASSERT_EQ(cleaned, 7);
  ASSERT_EQ(handled, 7);
  ASSERT_EQ(coro_destroy(b), 0);
  ASSERT_EQ(cleaned, 18);
  ASSERT_EQ(handled, 18);
}

/* --- micro-threads: a copy-stack generator in a copy-stack chain ------------------------ */

static coro_chan *tick;

/* A generator that blocks in the middle of its chain. */
static void *blocking_gen(void *arg) {
  (void)arg;
  for (;;) {
    long v = 0;
    if (coro_chan_recv(tick, &v, -1) < 0) return NULL;
    ASSERT_EQ(coro_yield(IV(v * 2), NULL), 0);
  }
}

static long chain_sum;

static void *chain_root(void *arg) {
  (void)arg;
  coro *g = gen(blocking_gen, NULL);
  void *v = NULL;
  while (coro_next(g, &v) == CORO_YIELDED) chain_sum += VI(v);
  ASSERT_EQ(coro_destroy(g), 0);
  return NULL;
}

static void *ticker(void *arg) {
  for (long i = 1; i <= VI(arg); i++) {
    char pad[300]; /* frames of a different depth on the shared stack */
    memset(pad, (int)i, sizeof(pad));
    ASSERT_EQ(coro_chan_send(tick, &i, -1), 0);
    ASSERT_EQ(coro_sleep(0), 0);
    for (size_t k = 0; k < sizeof(pad); k++) ASSERT_EQ(pad[k], (char)i);
  }
  ASSERT_EQ(coro_chan_close(tick), 0);
  return NULL;
}

TEST(copy_generator_blocks_inside_a_copy_microthread) {
  chain_sum = 0;
  ASSERT_EQ(coro_chan_create(&tick, sizeof(long), 0), 0);
  coro *r, *t;
  spawn(&r, chain_root, NULL);
  spawn(&t, ticker, IV(10));
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(chain_sum, 2 * 55);
  ASSERT_EQ(coro_join(r, NULL, 0), 0);
  ASSERT_EQ(coro_join(t, NULL, 0), 0);
  ASSERT_EQ(coro_destroy(r), 0);
  ASSERT_EQ(coro_destroy(t), 0);
  ASSERT_EQ(coro_chan_destroy(tick), 0);
}

/* --- elements in flight, both directions, while their owner is displaced ---------------- */

typedef struct big {
  long v[25]; /* 200 bytes: past the small waiter blocks */
} big;

static coro_chan *bigch;

static void *big_sender(void *arg) {
  for (long k = 0; k < 5; k++) {
    big b; /* on our stack while we wait for a receiver */
    for (int i = 0; i < 25; i++) b.v[i] = VI(arg) * 1000 + k * 25 + i;
    ASSERT_EQ(coro_chan_send(bigch, &b, -1), 0);
  }
  return NULL;
}

static long big_sum;

static void *big_receiver(void *arg) {
  (void)arg;
  for (;;) {
    big b; /* filled while we are displaced */
    memset(&b, 0, sizeof(b));
    if (coro_chan_recv(bigch, &b, -1) < 0) return NULL;
    for (int i = 1; i < 25; i++) ASSERT_EQ(b.v[i], b.v[0] + i);
    big_sum += b.v[0];
  }
}

static void *noise(void *arg) {
  for (long i = 0; i < VI(arg); i++) {
    volatile char junk[512];
    for (size_t k = 0; k < sizeof(junk); k++) junk[k] = (char)0x77;
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  return NULL;
}

static void *closer(void *arg) {
  coro **senders = arg;
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_join(senders[i], NULL, -1), 0);
  ASSERT_EQ(coro_chan_close(bigch), 0);
  return NULL;
}

static void elements_in_flight(size_t capacity) {
  big_sum = 0;
  ASSERT_EQ(coro_chan_create(&bigch, sizeof(big), capacity), 0);
  static coro *senders[3];
  for (int i = 0; i < 3; i++) spawn(&senders[i], big_sender, IV(i + 1));
  for (int i = 0; i < 2; i++) spawn(NULL, big_receiver, NULL);
  spawn(NULL, noise, IV(30));
  spawn(NULL, closer, senders);
  ASSERT_EQ(coro_run(), 0);
  long expect = 0;
  for (long s = 1; s <= 3; s++)
    for (long k = 0; k < 5; k++) expect += s * 1000 + k * 25;
  ASSERT_EQ(big_sum, expect);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_destroy(senders[i]), 0);
  ASSERT_EQ(coro_chan_destroy(bigch), 0);
}

TEST(channel_elements_in_flight_while_their_owners_are_displaced) {
  elements_in_flight(0);
  elements_in_flight(2);
}

/* Select: a send case and a receive case, each element on the stack. */
static coro_chan *sel_in, *sel_out;

static void *selector(void *arg) {
  (void)arg;
  long out = 4242, in = 0;
  int sent = 0, got = 0;
  while (!sent || !got) {
    coro_sel c[2] = {{.ch = sel_out, .op = CORO_SEL_SEND, .elem = &out},
                     {.ch = sel_in, .op = CORO_SEL_RECV, .elem = &in}};
    int i = coro_chan_select(sent ? c + 1 : c, sent ? 1 : 2, -1);
    ASSERT_TRUE(i >= 0);
    if (sent) i++;
    ASSERT_EQ(c[i].result, 0);
    if (i == 0) sent = 1;
    if (i == 1) got = 1;
  }
  ASSERT_EQ(in, 777);
  return NULL;
}

static void *sel_peer(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(coro_now() + MS), 0); /* the selector waits, displaced */
  long v = 0;
  ASSERT_EQ(coro_chan_recv(sel_out, &v, -1), 0);
  ASSERT_EQ(v, 4242);
  ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  v = 777;
  ASSERT_EQ(coro_chan_send(sel_in, &v, -1), 0);
  return NULL;
}

TEST(select_cases_in_flight_while_displaced) {
  ASSERT_EQ(coro_chan_create(&sel_in, sizeof(long), 0), 0);
  ASSERT_EQ(coro_chan_create(&sel_out, sizeof(long), 0), 0);
  spawn(NULL, selector, NULL);
  spawn(NULL, sel_peer, NULL);
  spawn(NULL, noise, IV(20));
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_chan_destroy(sel_in), 0);
  ASSERT_EQ(coro_chan_destroy(sel_out), 0);
}

/* Joins, a mutex and a wait group whose waiters are parked while displaced. */
static coro_mutex *mu;
static coro_wg *wg;
static long shared_count;

static void *locker(void *arg) {
  for (long i = 0; i < VI(arg); i++) {
    ASSERT_EQ(coro_mutex_lock(mu, -1), 0);
    long before = shared_count;
    ASSERT_EQ(coro_sched_yield(), 0); /* others queue on the mutex meanwhile */
    shared_count = before + 1;
    ASSERT_EQ(coro_mutex_unlock(mu), 0);
  }
  ASSERT_EQ(coro_wg_done(wg), 0);
  return IV(VI(arg));
}

static void *joiner(void *arg) {
  coro **kids = arg;
  long total = 0;
  for (int i = 0; i < 4; i++) {
    void *r = NULL;
    ASSERT_EQ(coro_join(kids[i], &r, -1), 0);
    total += VI(r);
  }
  ASSERT_EQ(coro_wg_wait(wg, -1), 0);
  ASSERT_EQ(total, 1 + 2 + 3 + 4);
  for (int i = 0; i < 4; i++) ASSERT_EQ(coro_destroy(kids[i]), 0);
  return NULL;
}

TEST(join_mutex_and_wait_group_while_displaced) {
  shared_count = 0;
  ASSERT_EQ(coro_mutex_create(&mu), 0);
  ASSERT_EQ(coro_wg_create(&wg), 0);
  ASSERT_EQ(coro_wg_add(wg, 4), 0);
  static coro *kids[4];
  for (int i = 0; i < 4; i++) spawn(&kids[i], locker, IV(i + 1));
  spawn(NULL, joiner, kids);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(shared_count, 10);
  ASSERT_EQ(coro_mutex_destroy(mu), 0);
  ASSERT_EQ(coro_wg_destroy(wg), 0);
}

/* An fd wait parked while displaced. */
static void *pipe_reader(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[16];
  ssize_t n = coro_fd_read(fd, buf, sizeof(buf), -1);
  ASSERT_EQ(n, 5);
  ASSERT_EQ(memcmp(buf, "hello", 5), 0);
  return NULL;
}

static void *pipe_writer(void *arg) {
  ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  ASSERT_EQ(coro_fd_write((int)(intptr_t)arg, "hello", 5, -1), 5);
  return NULL;
}

TEST(fd_wait_while_displaced) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  spawn(NULL, pipe_reader, IV(p[0]));
  spawn(NULL, pipe_writer, IV(p[1]));
  spawn(NULL, noise, IV(10));
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_fd_close(p[0]), 0);
  ASSERT_EQ(coro_fd_close(p[1]), 0);
}

/* --- what a user may not do: refused, not corrupted -------------------------------------- */

static void *write_through(void *arg) {
  *(long *)arg = 1;
  return NULL;
}

static void *read_value(void *arg) {
  (void)arg;
  void *in = NULL;
  ASSERT_EQ(coro_yield(NULL, &in), 0);
  return in;
}

static void *nothing(void *arg) { return arg; }

static void *hands_out_its_locals(void *arg) {
  (void)arg;
  long local = 0;
  coro_attr a = copy_attr();
  coro *c = (coro *)(uintptr_t)0x5e5e;
  /* A copy-stack coroutine given our local would write into its own frames. */
  ASSERT_EQ(coro_spawn(&c, write_through, &local, &a), -EFAULT);
  ASSERT_EQ(coro_create(&c, write_through, &local, &a), -EFAULT);
  ASSERT_PTR_EQ(c, (coro *)(uintptr_t)0x5e5e);
  /* Sending it our local: refused too. */
  coro *g = gen(read_value, NULL);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_EQ(coro_send(g, &local, NULL), -EFAULT);
  ASSERT_EQ(coro_get_state(g), CORO_SUSPENDED); /* nothing changed */
  ASSERT_EQ(coro_send(g, IV(9), NULL), CORO_RETURNED);
  ASSERT_EQ(coro_destroy(g), 0);
  /* A worker thread would write into it while we are displaced. */
  ASSERT_EQ(coro_offload(nothing, &local, NULL, -1), -EFAULT);
  char buf[8];
  ASSERT_EQ(coro_file_pread(0, buf, sizeof(buf), 0, -1), -EFAULT);
  ASSERT_EQ(local, 0);
  return NULL;
}

TEST(locals_handed_to_others_are_efault) {
  spawn(NULL, hands_out_its_locals, NULL);
  ASSERT_EQ(coro_run(), 0);
}

/* --- running out of memory: the switch fails, nothing is lost ---------------------------- */

/* The allocations still live once the thread's shared stack exists (it
 * stays for the thread's life): the baseline a test must come back to. */
static long baseline(void) {
  coro *c = gen(ret_arg, NULL);
  ASSERT_EQ(coro_destroy(c), 0);
  return coro__live_allocs();
}

TEST(growth_failure_on_resume_is_enomem_and_loses_nothing) {
  long before = baseline();
  coro *a = gen(summer, IV(1)), *b = gen(summer, IV(2));
  void *v;
  ASSERT_EQ(coro_next(a, &v), CORO_YIELDED); /* a occupies the shared stack */
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_next(b, &v), -ENOMEM); /* a's frames cannot be saved */
  coro__fault_reset();
  ASSERT_EQ(coro_get_state(b), CORO_CREATED);
  ASSERT_EQ(coro_get_state(a), CORO_SUSPENDED);
  ASSERT_EQ(coro_send(a, IV(10), &v), CORO_YIELDED); /* a intact */
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED);         /* now it works */
  ASSERT_EQ(coro_send(a, IV(11), &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 64 * 1000 + 63 * 32);
  ASSERT_EQ(coro_destroy(a), 0);
  ASSERT_EQ(coro_destroy(b), 0);
  ASSERT_EQ(coro__live_allocs(), before);
}

/* The inner generator's yield back to its displaced resumer must save the
 * inner one's frames: that yield fails, the inner one goes on. */
static int yield_failed;

static void *inner_retries(void *arg) {
  (void)arg;
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  int rc = coro_yield(IV(1), NULL);
  coro__fault_reset();
  if (rc == -ENOMEM) {
    yield_failed = 1;
    rc = coro_yield(IV(2), NULL); /* again, with memory */
  }
  ASSERT_EQ(rc, 0);
  return IV(3);
}

static void *outer_of_retrier(void *arg) {
  (void)arg;
  long mark = 12345; /* displaced while the inner one runs */
  coro *in = gen(inner_retries, NULL);
  void *v = NULL;
  ASSERT_EQ(coro_next(in, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 2);
  ASSERT_EQ(coro_next(in, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 3);
  ASSERT_EQ(coro_destroy(in), 0);
  return IV(mark);
}

TEST(yield_to_a_displaced_resumer_without_memory_is_enomem) {
  yield_failed = 0;
  long before = baseline();
  coro *o = gen(outer_of_retrier, NULL);
  void *v;
  ASSERT_EQ(coro_next(o, &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), 12345);
  ASSERT_EQ(yield_failed, 1);
  ASSERT_EQ(coro_destroy(o), 0);
  ASSERT_EQ(coro__live_allocs(), before);
}

static long ran;

/* Yields from under a local bigger than the room a record brings for saved
 * frames (HINT_MAX): its save needs a malloc whatever the thread learnt. */
static void *yield_twice(void *arg) {
  long me = VI(arg);
  volatile char deep[1024];
  deep[0] = (char)me;
  ASSERT_EQ(coro_sched_yield(), 0);
  ran += me + deep[0] - (char)me;
  return NULL;
}

TEST(run_without_memory_to_switch_is_enomem_and_can_go_on) {
  ran = 0;
  long before = baseline();
  spawn(NULL, yield_twice, IV(1));
  spawn(NULL, yield_twice, IV(2));
  /* The first runs, yields and stays on the shared stack; starting the
   * second needs its frames saved. */
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_run(), -ENOMEM);
  coro__fault_reset();
  ASSERT_EQ(ran, 0);
  ASSERT_EQ(coro_run(), 0); /* everyone goes on where they were */
  ASSERT_EQ(ran, 3);
  ASSERT_EQ(coro__live_allocs(), before);
}

/* Creating copy-stack coroutines until the address space runs out: a clear
 * -ENOMEM, no crash (in a child, under RLIMIT_AS; ~1/3 of 10^7's memory). */
static void *park_forever(void *arg) {
  (void)arg;
  while (coro_yield(NULL, NULL) == 0) {}
  return NULL;
}

TEST(out_of_memory_at_scale_is_enomem) {
#ifdef CORO_SANITIZE_BUILD
  puts("skipped: a sanitizer's shadow memory does not fit under RLIMIT_AS");
  return;
#endif
#ifdef CORO_TEST_EMULATED
  puts("skipped: under an emulator RLIMIT_AS limits the emulator, not this program");
  return;
#endif
  const char *pre = getenv("LD_PRELOAD");
  if (pre && strstr(pre, "vgpreload")) {
    puts("skipped: valgrind's own reservations do not fit under RLIMIT_AS");
    return;
  }
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {(rlim_t)256 << 20, (rlim_t)256 << 20};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(2);
    coro_attr a = copy_attr();
    long n = 0;
    int rc = 0;
    for (;;) {
      coro *c;
      rc = coro_create(&c, park_forever, NULL, &a);
      if (rc < 0) break;
      rc = coro_next(c, NULL);
      if (rc != CORO_YIELDED) break;
      n++;
    }
    _exit(rc == -ENOMEM && n > 10000 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* The same by injected allocation failure, wherever the run is: the n-th
 * allocation fails, at a create or at a switch, and every coroutine made
 * before it still runs to its end. */
TEST(injected_failure_among_many_is_enomem_and_the_rest_run) {
  long before = baseline();
  enum { N = 2000 };
  static coro *cs[N];
  coro_attr a = copy_attr();
  for (long after = 0; after < 40; after += 7) {
    int n = 0, rc = 0;
    coro__fault_arm(CORO__FAULT_MALLOC, after, ENOMEM);
    while (n < N) {
      rc = coro_create(&cs[n], summer, IV(n + 1), &a);
      if (rc < 0) break;
      n++;
      rc = coro_next(cs[n - 1], NULL);
      if (rc != CORO_YIELDED) break;
    }
    coro__fault_reset();
    ASSERT_EQ(rc, -ENOMEM);
    for (int i = 0; i < n; i++) {
      void *v = NULL;
      int st = coro_get_state(cs[i]);
      if (st == CORO_CREATED) ASSERT_EQ(coro_next(cs[i], &v), CORO_YIELDED);
      for (int round = 0; round < 5; round++)
        ASSERT_EQ(coro_send(cs[i], IV((i + 1) * 10 + round), &v),
                  round < 4 ? CORO_YIELDED : CORO_RETURNED);
      ASSERT_EQ(VI(v), i + 1);
      ASSERT_EQ(coro_destroy(cs[i]), 0);
    }
  }
  ASSERT_EQ(coro__live_allocs(), before);
}

/* coro_stack_trim() gives the pool's stacks back; copy-stack coroutines do
 * not live in the pool (records and saved frames are heap blocks, the
 * shared stack is the thread's own): trimming while they are alive -- one on
 * the shared stack, others displaced, from inside one of them too -- leaves
 * them all intact. */
static void *trims_inside(void *arg) {
  long mine[16];
  for (int i = 0; i < 16; i++) mine[i] = VI(arg) + i;
  size_t released = 0;
  ASSERT_EQ(coro_stack_trim(&released), 0);
  ASSERT_EQ(coro_yield(NULL, NULL), 0);
  ASSERT_EQ(coro_stack_trim(NULL), 0);
  for (int i = 0; i < 16; i++) ASSERT_EQ(mine[i], VI(arg) + i);
  return IV(mine[15]);
}

TEST(stack_trim_while_copy_stack_coroutines_are_alive) {
  enum { N = 8 };
  coro *g[N];
  /* Some own-stack generators come and go, so that the pool has something
   * to trim. */
  for (int i = 0; i < 50; i++) {
    coro *o;
    ASSERT_EQ(coro_create(&o, ret_arg, NULL, NULL), 0);
    ASSERT_EQ(coro_destroy(o), 0);
  }
  for (int i = 0; i < N; i++) g[i] = gen(i % 2 ? summer : trims_inside, IV((i + 1) * 100));
  void *v;
  for (int i = 0; i < N; i++) ASSERT_EQ(coro_next(g[i], &v), CORO_YIELDED);
  size_t released = 0;
  ASSERT_EQ(coro_stack_trim(&released), 0);
  for (int i = 0; i < N; i++) {
    if (i % 2) {
      long base = (i + 1) * 100;
      ASSERT_EQ(coro_send(g[i], IV(base * 10), &v), CORO_YIELDED);
      ASSERT_EQ(VI(v), 64 * base * 1000 + 63 * 32);
    } else {
      ASSERT_EQ(coro_next(g[i], &v), CORO_RETURNED);
      ASSERT_EQ(VI(v), (i + 1) * 100 + 15);
    }
  }
  for (int i = 0; i < N; i++) ASSERT_EQ(coro_destroy(g[i]), 0);
}

/* --- the record: small, and its cold part only where it is needed ------------------------ */

TEST(the_record_stays_small_and_plain_generators_have_no_cold_part) {
#if UINTPTR_MAX == UINT64_MAX && !defined(CORO_USE_UCONTEXT)
  /* What a suspended copy-stack generator costs besides its frames (with
   * them, one 224-byte malloc chunk: the next test). */
#ifdef CORO_ASAN
  ASSERT_EQ(sizeof(coro), 120 + sizeof(void *)); /* asan_fake */
#else
  ASSERT_EQ(sizeof(coro), 120);
#endif
#endif
  coro *plain = gen(ret_arg, NULL);
  ASSERT_PTR_EQ(plain->cold, NULL);
  coro_attr a = copy_attr();
  a.name = "named";
  coro *named = NULL;
  ASSERT_EQ(coro_create(&named, ret_arg, NULL, &a), 0);
  ASSERT_PTR_EQ(named->cold, (coro__cold *)(named + 1)); /* one block */
  ASSERT_STR_EQ(coro_name(named), "named");
  a.name = "";
  coro *empty = NULL;
  ASSERT_EQ(coro_create(&empty, ret_arg, NULL, &a), 0);
  ASSERT_PTR_EQ(empty->cold, NULL); /* an empty name needs none */
  coro *mt = NULL;
  spawn(&mt, ret_arg, NULL);
  ASSERT_PTR_EQ(mt->cold, (coro__cold *)(mt + 1));
  coro *own = NULL;
  coro_attr o = CORO_ATTR_INIT;
  o.stack_mode = CORO_STACK_MODE_OWN; /* whatever CORO_STACK_MODE says */
  ASSERT_EQ(coro_create(&own, ret_arg, NULL, &o), 0);
  ASSERT_TRUE(own->cold != NULL); /* at the top of its own stack */
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(mt, NULL, -1), 0);
  coro *all[] = {plain, named, empty, mt, own};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) ASSERT_EQ(coro_destroy(all[i]), 0);
}

/* A generator suspended in a coro_yield() called from its body saves the
 * switch's frame (64 bytes: six registers, the control words, the return
 * address into the body), the body's (16: an alignment slot, the return
 * address into coro__entry) and coro__entry's (16: the register that keeps
 * the record, the return address into the start).  Record and frames then
 * fit a 216-byte request: glibc's 224-byte chunk, against libaco's 256 bytes
 * (bench/README.md).  Only where those frames are what the optimiser makes
 * of x86_64 code with our flags: -O0, frame pointers and the sanitizers'
 * frames are larger (tests/CMakeLists.txt). */
#if defined(__x86_64__) && UINTPTR_MAX == UINT64_MAX && defined(__OPTIMIZE__) &&                   \
    defined(CORO_TEST_OWN_FLAGS) && !defined(CORO_SANITIZE_BUILD) && !defined(CORO_ASAN) &&        \
    !defined(CORO_USE_UCONTEXT)
#define FRAMES_ARE_X86_64_O2 1
static void *yields_once(void *arg) {
  coro_yield(arg, NULL);
  return NULL;
}
#endif

TEST(a_generator_suspended_one_call_deep_fits_224_bytes) {
#ifdef FRAMES_ARE_X86_64_O2
  coro *a = gen(yields_once, NULL), *b = gen(yields_once, NULL);
  void *v;
  ASSERT_EQ(coro_next(a, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED); /* saves a: the thread learns its size */
  ASSERT_EQ(a->saved_len, 64 + 16 + 16);
  coro *c = gen(yields_once, NULL); /* brings room for that much */
  ASSERT_EQ(coro_next(c, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(a, &v), CORO_RETURNED); /* saves c into its room */
  ASSERT_TRUE(c->flags & CORO__F_SAVED_INLINE);
  ASSERT_EQ(c->saved_len, 96);
  ASSERT_TRUE(sizeof(coro) + c->saved_cap <= 224 - sizeof(size_t)); /* one chunk */
  coro *all[] = {a, b, c};
  for (size_t i = 0; i < 3; i++) ASSERT_EQ(coro_destroy(all[i]), 0);
#else
  printf(
      "skipped: the frame sizes counted are x86_64's, optimised, with the project's own flags\n");
#endif
}

TEST(a_generator_without_cold_part_reads_as_empty) {
  coro *g = gen(summer, IV(3));
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_STR_EQ(coro_name(g), "");
  ASSERT_EQ(coro_stack_size(g), CORO_STACK_SHARED);
  coro_info i;
  ASSERT_EQ(coro_list(&i, 1), 1);
  ASSERT_PTR_EQ(i.handle, g);
  ASSERT_STR_EQ(i.name, "");
  ASSERT_EQ(i.deadline, -1);
  ASSERT_PTR_EQ(i.waiting_on, NULL);
  ASSERT_EQ(i.stack_size, CORO_STACK_SHARED);
  ASSERT_PTR_EQ(g->cold, NULL); /* reading made none */
  ASSERT_EQ(coro_destroy(g), 0);
}

TEST(set_name_gives_a_generator_its_cold_part_or_enomem) {
  long before = baseline();
  coro *g = gen(ret_arg, NULL);
  ASSERT_EQ(coro_set_name(g, NULL), 0); /* clearing no name needs nothing */
  ASSERT_EQ(coro_set_name(g, ""), 0);
  ASSERT_PTR_EQ(g->cold, NULL);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_set_name(g, "late"), -ENOMEM);
  coro__fault_reset();
  ASSERT_STR_EQ(coro_name(g), ""); /* unchanged */
  ASSERT_EQ(coro_set_name(g, "late"), 0);
  ASSERT_STR_EQ(coro_name(g), "late");
  ASSERT_TRUE(g->cold != NULL && g->cold != (coro__cold *)(g + 1));
  ASSERT_EQ(coro_set_name(g, NULL), 0);
  ASSERT_STR_EQ(coro_name(g), "");
  ASSERT_EQ(coro_destroy(g), 0); /* frees the separate cold part too */
  ASSERT_EQ(coro__live_allocs(), before);
}

/* A plain copy-stack generator that sleeps inside a micro-thread's chain:
 * its first park needs its cold part (what it waits on, its timer). */
static int sleep_rc[2];

static void *sleeper_gen(void *arg) {
  (void)arg;
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  /* Deadlines far enough ahead that a slow run (valgrind, qemu) still parks
   * rather than finding them passed at once. */
  sleep_rc[0] = coro_sleep(coro_now() + 50 * MS);
  coro__fault_reset();
  sleep_rc[1] = coro_sleep(coro_now() + 50 * MS);
  return IV(7);
}

static void *drives_sleeper(void *arg) {
  coro *g = arg;
  void *v = NULL;
  ASSERT_EQ(coro_next(g, &v), CORO_RETURNED);
  return v;
}

static void *lists_sleeper(void *arg) {
  coro *g = arg;
  coro_info i[8];
  long n = coro_list(i, 8);
  for (long k = 0; k < n; k++)
    if (i[k].handle == g) {
      ASSERT_STR_EQ(i[k].waiting_on, "sleep");
      ASSERT_TRUE(i[k].deadline > 0);
      return IV(1);
    }
  return IV(0);
}

static void *naps(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sleep(coro_now() + 50 * MS), 0); /* parks, so the heap is made */
  return NULL;
}

TEST(a_generator_parks_without_memory_for_its_cold_part_is_enomem) {
  /* The thread's timer heap is kept from one coro_run() to the next: made
   * before the baseline. */
  ASSERT_EQ(coro_spawn(NULL, naps, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  long before = baseline();
  coro *g = gen(sleeper_gen, NULL);
  coro *d, *l;
  spawn(&d, drives_sleeper, g);
  spawn(&l, lists_sleeper, g);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(sleep_rc[0], -ENOMEM);
  ASSERT_EQ(sleep_rc[1], 0);
  void *v;
  ASSERT_EQ(coro_join(d, &v, -1), 0);
  ASSERT_EQ(VI(v), 7);
  ASSERT_EQ(coro_join(l, &v, -1), 0);
  ASSERT_EQ(VI(v), 1); /* listed as sleeping, with its deadline */
  ASSERT_TRUE(g->cold != NULL);
  ASSERT_EQ(coro_destroy(d), 0);
  ASSERT_EQ(coro_destroy(l), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro__live_allocs(), before);
}

/* Yields once from under a 16 KiB local, then from its own frame only. */
static __attribute__((noinline)) int yield_deep(void) {
  volatile char depth[16384];
  for (size_t i = 0; i < sizeof(depth); i += 512) depth[i] = (char)(i / 512);
  int rc = coro_yield(IV(1), NULL);
  return rc + depth[512];
}

static void *deep_then_shallow(void *arg) {
  (void)arg;
  ASSERT_EQ(yield_deep(), 1); /* depth[512] survived being saved */
  while (coro_yield(IV(2), NULL) == 0) {}
  return NULL;
}

static size_t saved_cap_of(const coro *c) {
  coro_info i[4];
  long n = coro_list(i, 4);
  for (long k = 0; k < n; k++)
    if (i[k].handle == c) return i[k].stack_high_water; /* saved_cap, copy-stack */
  return 0;
}

TEST(a_saved_buffer_shrinks_once_the_frames_are_much_smaller) {
  coro *g = gen(deep_then_shallow, NULL), *other = gen(summer, IV(1));
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(other, &v), CORO_YIELDED); /* displaces g: saved deep */
  size_t deep = saved_cap_of(g);
  ASSERT_TRUE(deep >= 16384);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);             /* from its own frame now */
  ASSERT_EQ(coro_send(other, IV(10), &v), CORO_YIELDED); /* displaces g again */
  size_t shallow = saved_cap_of(g);
  ASSERT_TRUE(shallow < 4096);
  ASSERT_EQ(shallow % 16, 0);
  /* Saved again at about the same depth: the buffer stays (no malloc). */
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_send(other, IV(11), &v), CORO_YIELDED);
  coro__fault_reset();
  ASSERT_EQ(saved_cap_of(g), shallow);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_destroy(other), 0);
}

/* Shrinking is an economy, never a failure: without memory the big buffer
 * is kept and the switch goes on. */
TEST(a_shrink_without_memory_keeps_the_big_buffer) {
  coro *g = gen(deep_then_shallow, NULL), *other = gen(summer, IV(1));
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(other, &v), CORO_YIELDED);
  size_t deep = saved_cap_of(g);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_send(other, IV(10), &v), CORO_YIELDED);
  coro__fault_reset();
  ASSERT_EQ(saved_cap_of(g), deep);
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED); /* its frames came back intact */
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro_destroy(other), 0);
}

static int handler_ran;
static void count_handler(void *arg) { handler_ran += (int)VI(arg); }

static void *pushes_without_memory(void *arg) {
  (void)arg;
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  int rc = coro_cleanup_push(count_handler, IV(100)); /* no cold part: none made */
  coro__fault_reset();
  ASSERT_EQ(rc, -ENOMEM);
  ASSERT_EQ(coro_cleanup_pop(1), -ENOENT);
  ASSERT_EQ(coro_cleanup_push(count_handler, IV(1)), 0);
  ASSERT_EQ(coro_yield(NULL, NULL), 0);
  return NULL;
}

TEST(cleanup_push_gives_a_generator_its_cold_part_or_enomem) {
  handler_ran = 0;
  long before = baseline();
  coro *g = gen(pushes_without_memory, NULL);
  ASSERT_EQ(coro_next(g, NULL), CORO_YIELDED);
  ASSERT_TRUE(g->cold != NULL);
  ASSERT_EQ(coro_next(g, NULL), CORO_RETURNED);
  ASSERT_EQ(handler_ran, 1); /* the one pushed, once */
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro__live_allocs(), before);
}

static void *delegates_without_memory(void *arg) {
  coro *sub = arg;
  void *r = NULL;
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  int rc = coro_yield_from(sub, &r);
  coro__fault_reset();
  ASSERT_EQ(rc, -ENOMEM);
  ASSERT_EQ(coro_get_state(sub), CORO_CREATED); /* nothing started */
  ASSERT_EQ(coro_yield_from(sub, &r), 0);
  return r;
}

TEST(yield_from_between_plain_copy_generators_without_memory_is_enomem) {
  long before = baseline();
  coro *sub = gen(counter, IV(2));
  coro *g = gen(delegates_without_memory, sub);
  void *v;
  ASSERT_EQ(coro_next(g, &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 100);
  ASSERT_EQ(coro_send(g, IV(1), &v), CORO_YIELDED);
  ASSERT_EQ(VI(v), 200);
  ASSERT_EQ(coro_destroy(sub), -EBUSY); /* g delegates to it */
  ASSERT_EQ(coro_send(g, IV(2), &v), CORO_RETURNED);
  ASSERT_EQ(VI(v), -2);
  ASSERT_EQ(coro_destroy(sub), 0);
  ASSERT_EQ(coro_destroy(g), 0);
  ASSERT_EQ(coro__live_allocs(), before);
}

/* Yields the sum of a small local array, which must survive being saved. */
static void *sums8(void *arg) {
  long a[8];
  for (int i = 0; i < 8; i++) a[i] = VI(arg) * 10 + i;
  for (;;) {
    long sum = 0;
    for (int i = 0; i < 8; i++) sum += a[i];
    if (coro_yield(IV(sum), NULL) != 0) return NULL;
  }
}

/* A thread's copy-stack coroutines saved at one depth: a new record brings
 * room for that much, and its first save needs no malloc. */
TEST(a_new_record_brings_room_for_its_frames) {
  coro *a = gen(sums8, IV(1)), *b = gen(sums8, IV(2));
  void *v;
  ASSERT_EQ(coro_next(a, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED); /* a's first save: the thread learns */
  if (a->saved_len > 512) {                  /* HINT_MAX: a sanitizer's frames are bigger */
    printf("skipped: frames of %u bytes, more than a record brings room for\n", a->saved_len);
    ASSERT_EQ(coro_destroy(a), 0);
    ASSERT_EQ(coro_destroy(b), 0);
    return;
  }
  coro *c = gen(sums8, IV(3));
  ASSERT_TRUE(c->flags & CORO__F_SAVED_INLINE);
  ASSERT_PTR_EQ(c->saved, (char *)(c + 1)); /* right after the record */
  ASSERT_TRUE(c->saved_cap >= 8 * sizeof(long));
  ASSERT_EQ(coro_next(c, &v), CORO_YIELDED);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM);
  ASSERT_EQ(coro_next(a, &v), CORO_YIELDED); /* saves c into its room */
  coro__fault_reset();
  ASSERT_EQ(coro_next(c, &v), CORO_YIELDED); /* intact */
  ASSERT_EQ(VI(v), 8 * 30 + 28);
  ASSERT_TRUE(c->flags & CORO__F_SAVED_INLINE);
  /* Saved deeper than its room: a buffer of its own; the room is unused. */
  coro *d = gen(deep_then_shallow, NULL);
  ASSERT_TRUE(d->flags & CORO__F_SAVED_INLINE);
  ASSERT_EQ(coro_next(d, &v), CORO_YIELDED);
  ASSERT_EQ(coro_next(b, &v), CORO_YIELDED);
  ASSERT_TRUE(!(d->flags & CORO__F_SAVED_INLINE));
  ASSERT_EQ(coro_next(d, &v), CORO_YIELDED);
  coro *all[] = {a, b, c, d};
  for (size_t i = 0; i < 4; i++) ASSERT_EQ(coro_destroy(all[i]), 0);
}
