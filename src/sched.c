/* SPDX-License-Identifier: MIT */
/*
 * sched.c - micro-threads: a cooperative scheduler per thread, FIFO or seeded.
 *
 * Who runs where:
 *
 *     host (the caller of coro_run, e.g. main's stack)
 *       |  coro__enter / wake: switch into one chain at a time
 *       v
 *     micro-thread M  --resumes-->  generator G  --resumes-->  generator H
 *     (root of the chain: its resumer is the host)
 *
 * A blocking call parks the coroutine that makes it, the innermost of its
 * chain (H above): H stays RUNNING with its resumer links intact, and control
 * goes straight back to the host with CORO__PARKED.  Waking H switches straight
 * back into it; when H later yields, its value goes to G as usual, and when M
 * yields or finishes, control returns to the host, which reads the outcome.
 *
 * Invariants:
 *   - Only one chain runs at a time: sched.root is its micro-thread.  A chain
 *     has at most one parked coroutine (root->parked).
 *   - A micro-thread is RUNNING from spawn to finish, so the generator calls
 *     refuse it (-EBUSY) and only the scheduler resumes it.
 *   - A coroutine is in the run queue at most once (CORO__S_QUEUED); a parked
 *     one is in the run queue, or the timer heap, or a wait list, or several.
 *     Waking takes it out of the timer heap; the parking call takes itself out
 *     of its wait list when it returns.
 *   - The first wake wins.  A waiter woken by its deadline or a cancel stays
 *     in its wait list until it runs, so whoever serves a list skips woken
 *     waiters (coro__wait_first): a value is never handed to a coroutine that
 *     will report a timeout.
 *
 * Rounds.  coro_run() works in rounds: the coroutines runnable when a round
 * begins each get a turn, then the I/O backend is polled and the due timers
 * fire; what becomes runnable meanwhile waits for a later round (FIFO mode's
 * direct hand-offs may take it on the way).  So nothing runnable starves.
 *
 * Order.  FIFO by default: the run queue is served in the order coroutines
 * became runnable, due timers fire in deadline order (equal deadlines in the
 * order they were set), and a parking coroutine hands the CPU straight to the
 * next parked one.  With a seed (coro_sched_seed, CORO_SCHED_SEED) the order is
 * drawn from the thread's generator instead: each round runs its coroutines in
 * a random order (a Fisher-Yates shuffle done one pick at a time), with no
 * direct hand-offs (the host makes every choice), and fires only the timers of
 * the earliest due deadline, so that a later deadline never runs before an
 * earlier one while equal ones run in any order.  Everything else (wait lists,
 * handoff of locks, deadlines) is the same code in both modes: the seed moves
 * only what the header leaves unspecified.  A round and its order depend only
 * on the generator and on what the program and the outside world did (which
 * timers were due, which fds ready), so the same seed replays the same
 * interleaving of a program that does not depend on timing or I/O.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copystack.h"
#include "scheduler.h"

/* Waiters live on the parked coroutine's stack and are linked into lists
 * that outlive the call; every parking call unlinks its waiter before it
 * returns, which gcc 12's -Wdangling-pointer cannot see through the park. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

int64_t coro_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the run queue ------------------------------------------------------------ */

static coro *dequeue(coro__sched *s) {
  coro *c = s->head;
  s->nqueued--;
  s->head = c->cold->run_next;
  if (!s->head) s->tail = NULL;
  c->sched &= ~(unsigned)CORO__S_QUEUED;
  return c;
}

/* Is this queued coroutine a parked one, which a plain switch resumes (not a
 * micro-thread to start or to resume after coro_yield, which the host enters)? */
static inline int parked_kind(const coro *c) {
  return !(c->sched & CORO__S_SPAWNED) ||
         ((c->sched & CORO__S_STARTED) && !(c->sched & CORO__S_YIELDED));
}

/* Direct hand-offs in a row before going back to the host, whose turn fires
 * the timers: bounds how long a busy ping-pong can delay a sleeper. */
#define HANDOFF_MAX 64

/* --- parking and waking ---------------------------------------------------------- */

/* park() flags. */
enum {
  PARK_REQUEUE = 1, /* runnable again at once (coro_sched_yield) */
  PARK_SHIELD = 2   /* a cancelled micro-thread still parks (a cancel only wakes it) */
};

/* Park the current coroutine c, which may park: record what it waits on,
 * then hand the CPU straight to the next parked coroutine in the queue (one
 * switch instead of two through the host), or go back to the host.  If the
 * next is c itself (a yield with nobody else runnable), just go on. */
static CORO__HOT_INLINE int park_now(coro__tls *t, coro *c, unsigned flags, const char *what,
                                     const void *obj) {
  coro__sched *s = &t->sched;
  coro *root = s->root;
  coro__cold *x = c->cold;
  x->root = root;
  x->wake = 0;
  x->wait_what = what;
  x->wait_obj = obj;
  root->cold->parked = c;
  if (flags & PARK_REQUEUE) coro__enqueue(s, c);
  coro *next = s->head;
  /* A hand-off never has to save frames (only the host, which can wait for
   * memory, switches in a displaced copy-stack coroutine). */
  if (next && parked_kind(next) && s->handoffs < HANDOFF_MAX && coro__copy_ready(next)) {
    s->handoffs++;
    dequeue(s);
    coro__cold *nx = next->cold;
    s->root = nx->root;
    nx->root->cold->parked = NULL;
    if (next == c) return nx->wake;
    return coro__transfer(t, next, nx->wake);
  }
  return coro__transfer(t, s->host, CORO__PARKED);
}

/* park() with every check: cancelled first ("at once, and every later
 * call"), then a deadline that is due (0: "do not wait", with or without a
 * scheduler), then whether anything could ever wake us; then the timer. */
static __attribute__((noinline)) int park_checked(coro__tls *t, int64_t deadline, unsigned flags,
                                                  const char *what, const void *obj) {
  coro__sched *s = &t->sched;
  coro *c = t->current;
  int in_chain = s->running && c && c != s->host;
  int requeue = flags & PARK_REQUEUE;
  if (in_chain && s->root->sched & CORO__S_CANCELLED && !(flags & PARK_SHIELD)) return -ECANCELED;
  if (deadline >= 0 && !requeue && (deadline == 0 || deadline <= coro_now())) return -ETIMEDOUT;
  if (!in_chain) return -EDEADLK;
  /* A copy-stack coroutine's first park: what it waits on goes in its cold
   * part, which it gets now. */
  if (CORO__UNLIKELY(!c->cold) && !coro__cold_alloc(c)) return -ENOMEM;
  if (deadline >= 0 && !requeue) {
    int rc = coro__timer_add(s, c, deadline);
    if (rc < 0) return rc;
  }
  return park_now(t, c, flags, what, obj);
}

/* The core of every blocking call.  The common case (no deadline, in a
 * running chain, not cancelled) tests a few words and ends in a tail call of
 * the switch, with no stack frame of its own; the rest goes out of line. */
static CORO__HOT_INLINE int park(coro__tls *t, int64_t deadline, unsigned flags, const char *what,
                                 const void *obj) {
  coro__sched *s = &t->sched;
  coro *c = t->current;
  if (CORO__UNLIKELY(deadline >= 0 || !s->running || c == s->host || !c->cold ||
                     (s->root->sched & CORO__S_CANCELLED && !(flags & PARK_SHIELD))))
    return park_checked(t, deadline, flags, what, obj);
  return park_now(t, c, flags, what, obj);
}

int coro__park(coro__tls *t, int64_t deadline, const char *what, const void *obj) {
  return park(t, deadline, 0, what, obj);
}

int coro__park_shielded(coro__tls *t, int64_t deadline, const char *what, const void *obj) {
  return park(t, deadline, PARK_SHIELD, what, obj);
}

/* --- micro-threads ------------------------------------------------------------------ */

int coro_spawn(coro **out, coro_fn fn, void *arg, const coro_attr *attr) {
  coro *c;
  int rc = coro__create(&c, fn, arg, attr, 1);
  if (rc < 0) return rc;
  coro__tls *t = c->owner;
  c->state = CORO_RUNNING;
  c->sched = CORO__S_SPAWNED | (out ? 0u : CORO__S_DETACHED);
  t->sched.live++;
  coro__enqueue(&t->sched, c);
  if (out) *out = c;
  return 0;
}

/* Micro-thread c has finished (state CLOSED): its joiners get the result. */
static void finished(coro__tls *t, coro *c) {
  coro__sched *s = &t->sched;
  s->live--;
  coro__cold *x = c->cold; /* a micro-thread has one */
  if (x->group) coro__group_member_done(t, c);
  for (coro__waiter *w; (w = coro__wait_first(&x->joiners));) {
    coro__wait_remove(&x->joiners, w);
    w->done = 1;
    coro__wake(s, w->who, 0);
  }
  if (c->sched & CORO__S_DETACHED) {
    c->state = CORO_CLOSED;
    coro_destroy(c);
  }
}

/* The switch into c found no memory to save the copy-stack frames it would
 * displace: nothing ran.  Put c back at the head of the queue (the caller
 * has undone its own steps) and have coro_run() return -ENOMEM; it can be
 * called again. */
static void not_run(coro__sched *s, coro *c) {
  s->root = NULL;
  s->nqueued++;
  c->sched |= CORO__S_QUEUED;
  c->cold->run_next = s->head;
  s->head = c;
  if (!s->tail) s->tail = c;
  s->nomem = 1;
}

/* Give the CPU to what the run queue's head stands for, until control comes
 * back to the host.  Inlined into the loops (CORO__HOT_INLINE): out of line it
 * cost copy-stack ping-pong a fifth of its time, a mispredicted return on
 * each of the host's two switches back per round trip. */
static CORO__HOT_INLINE void run_one(coro__tls *t, coro *c) {
  coro__sched *s = &t->sched;
  int rc;
  if (c->sched & CORO__S_SPAWNED && !(c->sched & CORO__S_STARTED)) {
    if (c->sched & CORO__S_CANCELLED) { /* cancelled before it ran: it never runs */
      c->state = CORO_CLOSED;
      c->result = NULL;
      c->result_code = -ECANCELED;
      finished(t, c);
      return;
    }
    c->sched |= CORO__S_STARTED;
    s->root = c;
    rc = coro__enter(t, c, 0);
    if (CORO__UNLIKELY(rc == CORO__NOMEM)) c->sched &= ~(unsigned)CORO__S_STARTED;
  } else if (c->sched & CORO__S_YIELDED) { /* a micro-thread that yielded */
    c->sched &= ~(unsigned)CORO__S_YIELDED;
    s->root = c;
    rc = coro__enter(t, c, c->sched & CORO__S_CANCELLED ? -ECANCELED : 0);
    if (CORO__UNLIKELY(rc == CORO__NOMEM)) c->sched |= CORO__S_YIELDED;
  } else { /* a parked coroutine: straight back into its chain */
    coro__cold *x = c->cold;
    s->root = x->root;
    x->root->cold->parked = NULL;
    rc = coro__transfer(t, c, x->wake);
    if (CORO__UNLIKELY(rc == CORO__NOMEM)) x->root->cold->parked = c;
  }
  if (CORO__UNLIKELY(rc == CORO__NOMEM)) { /* copy-stack: nothing ran */
    not_run(s, c);
    return;
  }
  /* Back on the host: what did the chain of s->root do? (It may be another
   * chain than the one entered: parked coroutines hand off directly.) */
  coro *m = s->root;
  s->root = NULL;
  s->handoffs = 0;
  if (rc == CORO__PARKED) return; /* waits in a queue, the heap or a list */
  if (rc == CORO_YIELDED) {       /* coro_yield() in a micro-thread: its turn is over */
    m->state = CORO_RUNNING;
    m->sched |= CORO__S_YIELDED;
    coro__enqueue(s, m);
    return;
  }
  finished(t, m); /* returned or failed: it is CLOSED */
}

/* Sleep in the kernel until the earliest deadline (nothing is runnable). */
static void idle_until(int64_t deadline) {
  struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* Wake every parked coroutine whose deadline has passed; in seeded mode only
 * those of the earliest deadline (the next ones at the next round), since the
 * round that runs them is shuffled and a later deadline must not run first. */
static void fire_timers(coro__sched *s) {
  int64_t first, at;
  coro *c = coro__timer_first(s, &first);
  if (!c) return;
  int64_t now = coro_now();
  at = first;
  while (c && at <= now && (!s->seeded || at == first)) {
    coro__wake(s, c, -ETIMEDOUT);
    c = coro__timer_first(s, &at);
  }
}

/* --- seeded order ------------------------------------------------------------------ */

/* splitmix64's finaliser: any seed, 0 included, gives a well-spread state. */
static uint64_t mix(uint64_t z) {
  z += UINT64_C(0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void set_seed(coro__sched *s, uint64_t seed) {
  s->seeded = 1;
  s->seed_decided = 1;
  s->rng = mix(seed);
}

int coro_sched_seed(uint64_t seed) {
  coro__sched *s = &coro__tls_get()->sched;
  if (s->running) return -EBUSY;
  set_seed(s, seed);
  return 0;
}

/* CORO_SCHED_SEED, read once per process (the first thread to start a
 * scheduler): every thread that starts one later takes the same seed, and a
 * bad value or a random seed is one line on stderr, not one per thread. */
static struct {
  int seeded;    /* a seed was given (or drawn for "random") */
  uint64_t seed; /* that seed */
} env_seed;

static void say(const char *line) { (void)!write(STDERR_FILENO, line, strlen(line)); }

/* Parse a seed: decimal digits only, at most UINT64_MAX.  0 or -EINVAL. */
static int parse_seed(const char *v, uint64_t *out) {
  uint64_t n = 0;
  if (!*v) return -EINVAL;
  for (; *v; v++) {
    if (*v < '0' || *v > '9') return -EINVAL;
    unsigned d = (unsigned)(*v - '0');
    if (n > (UINT64_MAX - d) / 10) return -EINVAL; /* overflows */
    n = n * 10 + d;
  }
  *out = n;
  return 0;
}

/* A seed for CORO_SCHED_SEED=random: the kernel's entropy, else the clock. */
static uint64_t random_seed(void) {
  uint64_t seed;
  if (getentropy(&seed, sizeof(seed)) == 0) return seed;
  return mix((uint64_t)coro_now() ^ ((uint64_t)getpid() << 32));
}

static void read_env(void) {
  const char *v = getenv("CORO_SCHED_SEED");
  char line[256];
  if (!v) return;
  if (strcmp(v, "random") == 0) {
    env_seed.seed = random_seed();
    env_seed.seeded = 1;
    snprintf(line, sizeof(line),
             "libcoro: CORO_SCHED_SEED=random: seed %llu (CORO_SCHED_SEED=%llu replays it)\n",
             (unsigned long long)env_seed.seed, (unsigned long long)env_seed.seed);
    say(line);
    return;
  }
  if (parse_seed(v, &env_seed.seed) == 0) {
    env_seed.seeded = 1;
    return;
  }
  snprintf(line, sizeof(line),
           "libcoro: CORO_SCHED_SEED=\"%.64s\" is not a seed (a decimal number up to "
           "18446744073709551615, or random): FIFO order\n",
           v);
  say(line);
}

/* The thread's first coro_run, unless coro_sched_seed() came first. */
static void seed_from_env(coro__sched *s) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, read_env);
  s->seed_decided = 1;
  if (env_seed.seeded) set_seed(s, env_seed.seed);
}

/* Take c, the next to run, off the run queue's count. */
static inline void taken(coro__sched *s, coro *c) {
  s->nqueued--;
  c->sched &= ~(unsigned)CORO__S_QUEUED;
}

/* A round of seeded mode: every coroutine runnable now, in an order drawn
 * from the generator.  They stay marked QUEUED (woken) until their turn, so
 * no server mistakes one for a waiter still waiting; what they make runnable
 * goes on the queue for the next round.  No direct hand-off: the host picks
 * every turn.  If the round's array cannot grow, this round runs FIFO. */
static void seeded_round(coro__tls *t) {
  coro__sched *s = &t->sched;
  size_t n = s->nqueued;
  if (n > s->capround) {
    size_t cap = s->capround ? s->capround : 64;
    while (cap < n) cap *= 2;
    coro **r = coro__malloc(cap * sizeof(*r));
    if (!r) {
      for (; n && s->head; n--) run_one(t, dequeue(s));
      return;
    }
    coro__free(s->round);
    s->round = r;
    s->capround = cap;
  }
  for (size_t i = 0; i < n; i++) {
    s->round[i] = s->head;
    s->head = s->head->cold->run_next;
  }
  s->tail = NULL; /* n was every entry: the queue starts again empty */
  for (size_t left = n; left; left--) {
    size_t j = coro__sched_rand(s, left);
    coro *c = s->round[j];
    s->round[j] = s->round[left - 1];
    taken(s, c);
    s->handoffs = HANDOFF_MAX; /* a park goes back to the host */
    run_one(t, c);
  }
}

int coro_run(void) {
  coro__tls *t = coro__tls_get();
  if (!t->ready) {
    int rc = coro__thread_setup(t);
    if (rc < 0) return rc;
  }
  coro__sched *s = &t->sched;
  if (s->running) return -EBUSY;
  if (!(t->current->flags & CORO__F_MAIN)) return -EPERM;
  if (!s->seed_decided) seed_from_env(s);
  s->running = 1;
  s->host = t->current;
  int rc = 0;
  /* Pending watches (coro_spawn_on_ready, watch.c) are live work too: a
   * micro-thread not spawned yet. */
  while (s->live || coro__watch_pending(t)) {
    /* One round: as many turns as were runnable when it began (direct
     * hand-offs take some on the way), then the timers, so that coroutines
     * yielding in a loop cannot starve the sleepers. */
    if (CORO__UNLIKELY(s->seeded))
      seeded_round(t); /* a switch without memory requeues its coroutine */
    else
      for (size_t turns = s->nqueued; turns && s->head && !s->nomem; turns--)
        run_one(t, dequeue(s));
    if (CORO__UNLIKELY(s->nomem)) { /* a copy-stack switch found no memory */
      s->nomem = 0;
      rc = -ENOMEM;
      break;
    }
    /* I/O (io.c): once per round, collect ready fds without waiting, so that
     * busy coroutines cannot starve those waiting on an fd.  A no-op unless
     * some coroutine or watch waits on an fd. */
    int prc = s->head ? coro__io_poll(t, 0) : 0;
    if (CORO__UNLIKELY(prc < 0)) {
      rc = prc;
      break;
    }
    fire_timers(s);
    /* Watches fired by the poll, their deadline or a close: spawn them now. */
    int64_t wnext = coro__watch_round(t);
    if (s->head || !(s->live || coro__watch_pending(t))) continue;
    int64_t next = -1;
    coro__timer_first(s, &next); /* leaves -1 if there is none */
    if (wnext >= 0 && (next < 0 || wnext < next)) next = wnext;
    /* Nothing runnable: sleep in the I/O backend until an fd is ready or the
     * first deadline, if any coroutine waits on an fd; else in idle_until. */
    prc = coro__io_poll(t, next);
    if (CORO__UNLIKELY(prc < 0)) {
      rc = prc;
      break;
    }
    if (prc) {
      fire_timers(s);
      continue;
    }
    if (next < 0) { /* every micro-thread waits for something only another could do */
      rc = -EDEADLK;
      break;
    }
    idle_until(next);
    fire_timers(s);
  }
  s->running = 0;
  s->host = NULL;
  coro__free(s->round);
  s->round = NULL;
  s->capround = 0;
  return rc;
}

/* --- blocking calls ------------------------------------------------------------------ */

int coro_sched_yield(void) {
  coro__tls *t = coro__tls_get();
  int rc = park(t, -1, PARK_REQUEUE, "yield", NULL);
  return rc == -ETIMEDOUT ? 0 : rc;
}

int coro_sleep(int64_t deadline) {
  coro__tls *t = coro__tls_get();
  int rc = park(t, deadline, 0, "sleep", NULL);
  return rc == -ETIMEDOUT ? 0 : rc;
}

int coro_join(coro *c, void **result, int64_t deadline) {
  coro__tls *t = coro__tls_get();
  if (!c) return -EINVAL;
  if (c->owner != t) return -EPERM;
  if (!(c->sched & CORO__S_SPAWNED) || c->sched & (CORO__S_DETACHED | CORO__S_JOINED))
    return -EINVAL;
  if (c->state != CORO_CLOSED) {
    if (c == t->sched.root || c == t->current) return -EDEADLK; /* joining ourselves */
    coro__waiter local, *w = coro__waiters_get(t, &local, 1, 0);
    if (!w) return -ENOMEM;
    *w = (coro__waiter){.who = t->current};
    coro__wait_push(&c->cold->joiners, w);
    int rc = park(t, deadline, 0, "join", c);
    int done = w->done;
    if (!done) coro__wait_remove(&c->cold->joiners, w); /* a timeout or a cancel: still linked */
    coro__waiters_put(t, w, &local, 1, 0);
    if (!done) return coro__unserved(rc);
  }
  c->sched |= CORO__S_JOINED;
  return coro_result(c, result);
}

int coro_cancel(coro *c) {
  coro__tls *t = coro__tls_get();
  if (!c) return -EINVAL;
  if (c->owner != t) return -EPERM;
  if (!(c->sched & CORO__S_SPAWNED)) return -EINVAL;
  if (c->state == CORO_CLOSED) return -ESRCH;
  coro__cancel(t, c);
  return 0;
}

void coro__cancel(coro__tls *t, coro *c) {
  c->sched |= CORO__S_CANCELLED;
  if (c->cold->parked) coro__wake(&t->sched, c->cold->parked, -ECANCELED);
}
