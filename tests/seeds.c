/* SPDX-License-Identifier: MIT */
/*
 * seeds.c - seeded scheduling: coro_sched_seed() and CORO_SCHED_SEED.
 *
 * What a seed must do: the same seed gives the same order every time, other
 * seeds other orders, and everything the header guarantees (FIFO wait lists,
 * lock handoff, deadlines in order and never early, rounds in which every
 * runnable micro-thread runs) holds under every seed.  CORO_SCHED_SEED is read
 * once per process, so its cases run tests/seed_probe in a child process with
 * the variable set, and read what it prints.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

#ifndef SEED_PROBE_BIN
#error "SEED_PROBE_BIN: the path of tests/seed_probe, set by tests/CMakeLists.txt"
#endif
#ifndef SEED_PROBE_EMULATOR
#define SEED_PROBE_EMULATOR "" /* cross builds: qemu and its arguments, separated by '|' */
#endif

#define MS (INT64_C(1000000))
#define NSEEDS 64 /* seeds each guarantee is checked under */

/* --- a trace of turns --------------------------------------------------------------- */

static char trace[1024];
static size_t ntrace;

static void mark(char ch) {
  if (ntrace + 1 < sizeof(trace)) trace[ntrace++] = ch;
  trace[ntrace] = '\0';
}

static void *turns(void *arg) {
  for (int i = 0; i < 5; i++) {
    mark(*(const char *)arg);
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  return NULL;
}

/* Eight micro-threads a..h taking five turns each; the trace of their turns. */
static void run_turns(char *out, size_t len) {
  static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  ntrace = 0;
  trace[0] = '\0';
  for (int i = 0; i < 8; i++)
    ASSERT_EQ(coro_spawn(NULL, turns, (void *)(uintptr_t)names[i], NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  snprintf(out, len, "%s", trace);
}

/* --- coro_sched_seed -------------------------------------------------------------------- */

static void *seed_while_running(void *arg) {
  *(int *)arg = coro_sched_seed(1);
  return NULL;
}

TEST(seed_refused_while_running) {
  int rc = 1;
  ASSERT_EQ(coro_spawn(NULL, seed_while_running, &rc, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(rc, -EBUSY);
  ASSERT_EQ(coro_sched_seed(1), 0); /* not running: accepted, before or between runs */
  ASSERT_EQ(coro_sched_seed(UINT64_MAX), 0);
}

TEST(same_seed_same_order_other_seed_other_order) {
  char a[64], b[64], c[64];
  ASSERT_EQ(coro_sched_seed(7), 0);
  run_turns(a, sizeof(a));
  ASSERT_EQ(coro_sched_seed(7), 0);
  run_turns(b, sizeof(b));
  ASSERT_STR_EQ(a, b);
  ASSERT_EQ(coro_sched_seed(8), 0);
  run_turns(c, sizeof(c));
  ASSERT_TRUE(strcmp(a, c) != 0);
  ASSERT_EQ(strlen(a), 40);
  ASSERT_TRUE(strncmp(a, "abcdefgh", 8) != 0 || strncmp(a + 8, "abcdefgh", 8) != 0);
}

/* The seed is the calling thread's: another thread seeded alike runs alike. */
static void *seeded_thread(void *arg) {
  if (coro_sched_seed(7) < 0) return "seed";
  run_turns(arg, 64);
  return NULL;
}

TEST(seed_belongs_to_the_calling_thread) {
  char here[64], there[64];
  pthread_t th;
  void *err = "not run";
  ASSERT_EQ(pthread_create(&th, NULL, seeded_thread, there), 0);
  ASSERT_EQ(pthread_join(th, &err), 0);
  ASSERT_PTR_EQ(err, NULL);
  ASSERT_EQ(coro_sched_seed(7), 0);
  run_turns(here, sizeof(here));
  ASSERT_STR_EQ(here, there);
}

/* Rounds: five rounds of eight turns, each a permutation of a..h, under every
 * seed; and over the seeds, the first round is not always the same. */
TEST(every_round_runs_every_runnable_micro_thread) {
  char t[64], first[9] = "";
  int varied = 0;
  for (uint64_t seed = 0; seed < NSEEDS; seed++) {
    ASSERT_EQ(coro_sched_seed(seed), 0);
    run_turns(t, sizeof(t));
    for (int r = 0; r < 5; r++) {
      unsigned seen = 0;
      for (int i = 0; i < 8; i++) seen |= 1u << (t[r * 8 + i] - 'a');
      if (seen != 0xffu)
        test__fail(__FILE__, __LINE__, "seed %llu: round %d of %s", (unsigned long long)seed, r, t);
    }
    if (!*first)
      memcpy(first, t, 8);
    else if (memcmp(first, t, 8) != 0)
      varied = 1;
  }
  ASSERT_TRUE(varied);
}

/* --- what stays guaranteed under every seed ----------------------------------------- */

static coro_chan *gch;
static int arrivals; /* order in which receivers or lockers started to wait */

static void *receiver(void *arg) {
  int me = arrivals++, v = -1; /* no switch between this and the wait */
  ASSERT_EQ(coro_chan_recv(gch, &v, -1), 0);
  ASSERT_EQ(v, me); /* served in the order it came */
  (void)arg;
  return NULL;
}

static void *sender(void *arg) {
  while (arrivals < *(int *)arg) ASSERT_EQ(coro_sched_yield(), 0); /* let them queue */
  for (int i = 0; i < *(int *)arg; i++) ASSERT_EQ(coro_chan_send(gch, &i, -1), 0);
  return NULL;
}

TEST(seeded_channel_serves_waiters_fifo) {
  for (uint64_t seed = 0; seed < NSEEDS; seed++) {
    int n = 6;
    arrivals = 0;
    ASSERT_EQ(coro_chan_create(&gch, sizeof(int), 0), 0);
    ASSERT_EQ(coro_sched_seed(seed), 0);
    ASSERT_EQ(coro_spawn(NULL, sender, &n, NULL), 0);
    for (int i = 0; i < n; i++) ASSERT_EQ(coro_spawn(NULL, receiver, NULL, NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(arrivals, n);
    ASSERT_EQ(coro_chan_destroy(gch), 0);
  }
}

static coro_mutex *gmu;
static int locked, served;

static void *locker(void *arg) {
  (void)arg;
  while (!locked) ASSERT_EQ(coro_sched_yield(), 0);
  int me = arrivals++; /* no switch between this and the wait */
  ASSERT_EQ(coro_mutex_lock(gmu, -1), 0);
  ASSERT_EQ(served++, me); /* the lock went to the first waiter each time */
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_mutex_unlock(gmu), 0);
  return NULL;
}

static void *holder(void *arg) {
  ASSERT_EQ(coro_mutex_lock(gmu, -1), 0);
  locked = 1;
  while (arrivals < *(int *)arg) ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_mutex_unlock(gmu), 0);
  return NULL;
}

TEST(seeded_mutex_goes_to_its_first_waiter) {
  for (uint64_t seed = 0; seed < NSEEDS; seed++) {
    int n = 5;
    ASSERT_EQ(coro_mutex_create(&gmu), 0);
    ASSERT_EQ(coro_sched_seed(seed), 0);
    arrivals = served = locked = 0;
    for (int i = 0; i < n; i++) ASSERT_EQ(coro_spawn(NULL, locker, NULL, NULL), 0);
    ASSERT_EQ(coro_spawn(NULL, holder, &n, NULL), 0);
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(served, n);
    ASSERT_EQ(coro_mutex_destroy(gmu), 0);
  }
}

/* Sleepers in three groups of equal deadlines: each wakes at or after its
 * deadline, and the wake order never puts a later deadline first.  A sleeper
 * whose deadline had passed already when it called coro_sleep (a very slow
 * machine) returns at once without being woken by it: it is not logged. */
static int64_t woke[9];
static int nwoke, nlate;

static void *sleeper(void *arg) {
  int64_t dl = *(const int64_t *)arg;
  int late = coro_now() >= dl;
  ASSERT_EQ(coro_sleep(dl), 0);
  ASSERT_TRUE(coro_now() >= dl);
  if (late)
    nlate++;
  else
    woke[nwoke++] = dl;
  return NULL;
}

TEST(seeded_deadlines_never_early_and_in_order) {
  for (uint64_t seed = 0; seed < 16; seed++) {
    int64_t base = coro_now() + 5 * MS, dl[9];
    nwoke = nlate = 0;
    ASSERT_EQ(coro_sched_seed(seed), 0);
    for (int i = 0; i < 9; i++) {
      dl[i] = base + (2 - i % 3) * MS; /* spawned latest deadline first */
      ASSERT_EQ(coro_spawn(NULL, sleeper, &dl[i], NULL), 0);
    }
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(nwoke + nlate, 9);
    for (int i = 1; i < nwoke; i++)
      if (woke[i] < woke[i - 1])
        test__fail(__FILE__, __LINE__, "seed %llu: deadline +%lld ms woke after +%lld ms",
                   (unsigned long long)seed, (long long)((woke[i] - base) / MS),
                   (long long)((woke[i - 1] - base) / MS));
  }
}

/* Select among ready cases draws from the seed too: the same seed chooses
 * alike, and over the cases every one is chosen. */
static void *selects(void *arg) {
  char *out = arg;
  coro_chan *ch[3];
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_chan_create(&ch[i], sizeof(int), 1), 0);
  for (int k = 0; k < 24; k++) {
    int v = k, got[3];
    coro_sel cases[3];
    for (int i = 0; i < 3; i++) {
      if (coro_chan_len(ch[i]) == 0) ASSERT_EQ(coro_chan_send(ch[i], &v, 0), 0);
      cases[i] = (coro_sel){.ch = ch[i], .op = CORO_SEL_RECV, .elem = &got[i]};
    }
    int chosen = coro_chan_select(cases, 3, 0);
    ASSERT_TRUE(chosen >= 0 && chosen < 3);
    out[k] = (char)('0' + chosen);
  }
  out[24] = '\0';
  for (int i = 0; i < 3; i++) {
    int v;
    while (coro_chan_recv(ch[i], &v, 0) == 0) {}
    ASSERT_EQ(coro_chan_destroy(ch[i]), 0);
  }
  return NULL;
}

TEST(seeded_select_replays) {
  char a[32], b[32], c[32];
  ASSERT_EQ(coro_sched_seed(11), 0);
  ASSERT_EQ(coro_spawn(NULL, selects, a, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_sched_seed(11), 0);
  ASSERT_EQ(coro_spawn(NULL, selects, b, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_STR_EQ(a, b);
  ASSERT_EQ(coro_sched_seed(12), 0);
  ASSERT_EQ(coro_spawn(NULL, selects, c, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_TRUE(strcmp(a, c) != 0);
  ASSERT_TRUE(strchr(a, '0') && strchr(a, '1') && strchr(a, '2'));
}

/* --- CORO_SCHED_SEED, through tests/seed_probe ------------------------------------------ */

typedef struct probe {
  char out[512]; /* its stdout: one line per thread */
  char err[512]; /* its stderr */
  int status;    /* its exit status */
} probe;

static void read_all(int fd, char *buf, size_t len) {
  size_t n = 0;
  for (ssize_t r; n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0;) n += (size_t)r;
  buf[n] = '\0';
  close(fd);
}

/* Run the probe with CORO_SCHED_SEED=value (unset if NULL), args after it. */
static void run_probe(probe *p, const char *value, const char *arg) {
  char env[256], emu[512];
  char *envp[] = {env, NULL};
  char *argv[16];
  int n = 0;
  snprintf(env, sizeof(env), "CORO_SCHED_SEED=%s", value ? value : "");
  if (!value) envp[0] = NULL;
  snprintf(emu, sizeof(emu), "%s", SEED_PROBE_EMULATOR);
  for (char *save = NULL, *tok = strtok_r(emu, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
    argv[n++] = tok;
  argv[n++] = (char *)SEED_PROBE_BIN;
  if (arg) argv[n++] = (char *)arg;
  argv[n] = NULL;
  int out[2], err[2];
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(err), 0);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvpe(argv[0], argv, envp); /* a cross build's emulator is found on PATH */
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  read_all(out[0], p->out, sizeof(p->out));
  read_all(err[0], p->err, sizeof(p->err));
  ASSERT_EQ(waitpid(pid, &p->status, 0), pid);
  ASSERT_TRUE(WIFEXITED(p->status));
  ASSERT_EQ(WEXITSTATUS(p->status), 0);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* FIFO: a..f in turn, twice (two threads), and nothing on stderr. */
static const char fifo_turns[] = "abcdefabcdefabcdefabcdef";

static void assert_fifo(const probe *p) {
  char line[64];
  snprintf(line, sizeof(line), "%s ", fifo_turns);
  ASSERT_EQ(strncmp(p->out, line, strlen(line)), 0);
  const char *second = strchr(p->out, '\n');
  ASSERT_TRUE(second != NULL);
  ASSERT_EQ(strncmp(second + 1, line, strlen(line)), 0);
}

TEST(env_unset_is_fifo) {
  probe p;
  run_probe(&p, NULL, NULL);
  assert_fifo(&p);
  ASSERT_STR_EQ(p.err, "");
}

/* Each bad value: one warning line naming it, and FIFO order in both threads. */
static void bad_value(const char *value) {
  probe p;
  run_probe(&p, value, NULL);
  assert_fifo(&p);
  ASSERT_EQ(count_lines(p.err), 1);
  ASSERT_TRUE(strstr(p.err, "CORO_SCHED_SEED") != NULL);
  ASSERT_TRUE(strstr(p.err, "FIFO") != NULL);
  char quoted[128];
  snprintf(quoted, sizeof(quoted), "\"%s\"", value);
  ASSERT_TRUE(strstr(p.err, quoted) != NULL);
}

TEST(env_empty_warns_and_stays_fifo) { bad_value(""); }
TEST(env_non_numeric_warns_and_stays_fifo) {
  bad_value("abc");
  bad_value("12x");
  bad_value(" 12");
  bad_value("0x10");
  bad_value("RANDOM");
}
TEST(env_negative_warns_and_stays_fifo) {
  bad_value("-1");
  bad_value("-0");
}
TEST(env_overflowing_warns_and_stays_fifo) {
  bad_value("18446744073709551616"); /* UINT64_MAX + 1 */
  bad_value("99999999999999999999999");
}

TEST(env_seed_replays_in_every_thread) {
  probe a, b, c;
  run_probe(&a, "42", NULL);
  run_probe(&b, "42", NULL);
  run_probe(&c, "43", NULL);
  ASSERT_STR_EQ(a.err, "");
  ASSERT_STR_EQ(a.out, b.out); /* same seed, same order: every time */
  ASSERT_TRUE(strcmp(a.out, c.out) != 0);
  ASSERT_EQ(count_lines(a.out), 2);
  const char *second = strchr(a.out, '\n') + 1; /* each thread starts from the seed */
  ASSERT_EQ(strncmp(a.out, second, (size_t)(second - a.out)), 0);
  ASSERT_TRUE(strncmp(a.out, fifo_turns, strlen(fifo_turns)) != 0);
  probe max;
  run_probe(&max, "18446744073709551615", NULL); /* UINT64_MAX is a seed */
  ASSERT_STR_EQ(max.err, "");
  run_probe(&max, "0", NULL);
  ASSERT_STR_EQ(max.err, "");
  ASSERT_TRUE(strncmp(max.out, fifo_turns, strlen(fifo_turns)) != 0);
}

TEST(env_random_prints_a_seed_that_replays) {
  probe r, again;
  run_probe(&r, "random", NULL);
  ASSERT_EQ(count_lines(r.err), 1);
  const char *at = strstr(r.err, "seed ");
  ASSERT_TRUE(at != NULL);
  unsigned long long seed = strtoull(at + 5, NULL, 10);
  char value[32];
  snprintf(value, sizeof(value), "%llu", seed);
  run_probe(&again, value, NULL);
  ASSERT_STR_EQ(again.out, r.out);
  ASSERT_STR_EQ(again.err, "");
}

/* coro_sched_seed() wins over the environment, FIFO or bad value alike. */
TEST(coro_sched_seed_overrides_env) {
  probe env5, call5, call5_bad;
  run_probe(&env5, "5", NULL);
  run_probe(&call5, "9", "--seed=5");
  run_probe(&call5_bad, "junk", "--seed=5");
  ASSERT_STR_EQ(call5.out, env5.out);
  ASSERT_STR_EQ(call5_bad.out, env5.out);
  ASSERT_STR_EQ(call5_bad.err, ""); /* the environment was never read */
}
