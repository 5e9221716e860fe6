/* SPDX-License-Identifier: MIT */
/*
 * offload.c - the blocking-work pool: results delivered, many jobs at once,
 * the thread not blocked while a job runs, deadlines and cancels before and
 * after a job starts, calls that cannot wait, bad input, a worker that cannot
 * be started, several scheduler threads, a thread that exits with its jobs
 * queued, running, finished but not polled, or polled but not yet taken by
 * their coroutines, getaddrinfo (names, bad names, bad hints, deadlines racing
 * the workers), pread/pwrite of a temporary file, coro_tcp_dial by name, and
 * the port a fork's child inherits.
 * Every case also runs on io_uring (<case>.uring).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define MS (INT64_C(1000000))
#define HOUR (INT64_C(3600) * 1000 * MS)

static void go(coro_fn fn, void *arg) { ASSERT_EQ(coro_spawn(NULL, fn, arg, NULL), 0); }

static void *plus_one(void *arg) { return (void *)((intptr_t)arg + 1); }

/* --- results ------------------------------------------------------------------------ */

static void *offload_plus_one(void *arg) {
  void *r = NULL;
  ASSERT_EQ(coro_offload(plus_one, arg, &r, -1), 0);
  ASSERT_EQ(VI(r), VI(arg) + 1);
  ASSERT_EQ(coro_offload(plus_one, arg, NULL, coro_now() + HOUR), 0); /* result not wanted */
  return NULL;
}

TEST(result_is_delivered) {
  go(offload_plus_one, IV(41));
  ASSERT_EQ(coro_run(), 0);
}

static long finished_jobs;

static void *offload_many(void *arg) {
  for (int k = 0; k < 5; k++) {
    void *r = NULL;
    ASSERT_EQ(coro_offload(plus_one, IV(VI(arg) * 10 + k), &r, coro_now() + HOUR), 0);
    ASSERT_EQ(VI(r), VI(arg) * 10 + k + 1);
  }
  finished_jobs++;
  return NULL;
}

TEST(many_coroutines_offload_at_once) {
  for (int i = 0; i < 200; i++) go(offload_many, IV(i));
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(finished_jobs, 200);
}

/* The job waits for a semaphore that only another micro-thread of the same
 * thread posts: were the thread blocked, this would never end. */
static sem_t sem;
static volatile int started; /* set by a job when it begins */

static void *wait_sem(void *arg) {
  __atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
  while (sem_wait(&sem) != 0) continue; /* EINTR: valgrind can interrupt it */
  return arg;
}

static void *offload_wait_sem(void *arg) {
  void *r = NULL;
  ASSERT_EQ(coro_offload(wait_sem, arg, &r, -1), 0);
  ASSERT_PTR_EQ(r, arg);
  return NULL;
}

static void *post_when_started(void *arg) {
  (void)arg;
  while (!__atomic_load_n(&started, __ATOMIC_SEQ_CST)) ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  sem_post(&sem);
  return NULL;
}

TEST(the_thread_runs_other_coroutines_while_a_job_runs) {
  sem_init(&sem, 0, 0);
  go(offload_wait_sem, IV(7));
  go(post_when_started, NULL);
  ASSERT_EQ(coro_run(), 0);
  sem_destroy(&sem);
}

/* --- deadlines and cancels ----------------------------------------------------------- */

static volatile int ran; /* set by a job that must never run */

static void *must_not_run(void *arg) {
  __atomic_store_n(&ran, 1, __ATOMIC_SEQ_CST);
  return arg;
}

static void *offload_withdrawn_by_deadline(void *arg) {
  (void)arg;
  /* The only worker is stuck in wait_sem: this job stays queued. */
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, coro_now() + 20 * MS), -ETIMEDOUT);
  sem_post(&sem); /* now let the first one finish */
  return NULL;
}

TEST(a_deadline_before_the_job_starts_withdraws_it) {
  ASSERT_EQ(coro_offload_threads(1), 4);
  sem_init(&sem, 0, 0);
  go(offload_wait_sem, IV(1));
  go(offload_withdrawn_by_deadline, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ran, 0);
  sem_destroy(&sem);
}

static coro *victim;

static void *offload_then_block(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, -1), -ECANCELED);
  ASSERT_EQ(coro_offload(plus_one, NULL, NULL, -1), -ECANCELED); /* and every later call */
  return NULL;
}

static void *cancel_victim_then_post(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the victim parks on its queued job */
  ASSERT_EQ(coro_cancel(victim), 0);
  ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  sem_post(&sem);
  return NULL;
}

TEST(a_cancel_before_the_job_starts_withdraws_it) {
  ASSERT_EQ(coro_offload_threads(1), 4);
  sem_init(&sem, 0, 0);
  go(offload_wait_sem, IV(1));
  ASSERT_EQ(coro_spawn(&victim, offload_then_block, NULL, NULL), 0);
  go(cancel_victim_then_post, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(victim, NULL, 0), 0);
  ASSERT_EQ(coro_destroy(victim), 0);
  ASSERT_EQ(ran, 0);
  sem_destroy(&sem);
}

static void *offload_cancelled_while_running(void *arg) {
  void *r = NULL;
  /* Cancelled once the job runs: the call waits for it and delivers. */
  ASSERT_EQ(coro_offload(wait_sem, arg, &r, -1), 0);
  ASSERT_PTR_EQ(r, arg);
  ASSERT_EQ(coro_sleep(-1), -ECANCELED); /* the cancel shows at the next call */
  return NULL;
}

static void *cancel_when_started_then_post(void *arg) {
  (void)arg;
  while (!__atomic_load_n(&started, __ATOMIC_SEQ_CST)) ASSERT_EQ(coro_sleep(coro_now() + MS), 0);
  ASSERT_EQ(coro_cancel(victim), 0);
  ASSERT_EQ(coro_sleep(coro_now() + 5 * MS), 0); /* the victim stays parked */
  sem_post(&sem);
  return NULL;
}

TEST(a_cancel_while_the_job_runs_waits_for_it) {
  sem_init(&sem, 0, 0);
  ASSERT_EQ(coro_spawn(&victim, offload_cancelled_while_running, IV(5), NULL), 0);
  go(cancel_when_started_then_post, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_join(victim, NULL, 0), 0);
  ASSERT_EQ(coro_destroy(victim), 0);
  sem_destroy(&sem);
}

/* A deadline that passes around the start: either the job never ran and the
 * call timed out, or it ran to its end and the call delivered -- never a
 * return while fn still runs (it writes into the caller's frame). */
typedef struct slow {
  int begun, ended; /* fn's progress, written by the worker */
} slow;

static void *slow_job(void *arg) {
  slow *s = arg;
  s->begun = 1;
  struct timespec ts = {0, 5 * 1000 * 1000}; /* outlives the 2 ms deadline */
  nanosleep(&ts, NULL);
  s->ended = 1;
  return arg;
}

static int deadline_done;

static void *offload_slow(void *arg) {
  (void)arg;
  slow s = {0, 0};
  void *r = NULL;
  int rc = coro_offload(slow_job, &s, &r, coro_now() + 2 * MS);
  if (rc == 0) {
    ASSERT_EQ(s.ended, 1);
    ASSERT_PTR_EQ(r, &s);
  } else {
    ASSERT_EQ(rc, -ETIMEDOUT);
    ASSERT_EQ(s.begun, 0);
  }
  deadline_done++;
  return NULL;
}

TEST(a_deadline_around_the_start_never_returns_while_fn_runs) {
  for (int i = 0; i < 20; i++) go(offload_slow, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(deadline_done, 20);
}

static void *offload_when_cancelled(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_cancel(coro_self()), 0);
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, -1), -ECANCELED);
  return NULL;
}

static void *offload_deadline_zero(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, coro_now() - 1), -ETIMEDOUT);
  ASSERT_EQ(coro_offload(NULL, NULL, NULL, -1), -EINVAL);
  return NULL;
}

TEST(calls_that_cannot_wait_fail_at_once) {
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, -1), -EDEADLK); /* no scheduler */
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, 0), -ETIMEDOUT);
  ASSERT_EQ(coro_offload(NULL, NULL, NULL, -1), -EINVAL);
  ASSERT_EQ(coro_file_pread(0, NULL, 0, 0, -1), -EDEADLK);
  struct addrinfo *res = NULL;
  ASSERT_EQ(coro_getaddrinfo("localhost", NULL, NULL, &res, -1), -EDEADLK);
  go(offload_when_cancelled, NULL);
  go(offload_deadline_zero, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ran, 0);
}

/* --- the pool ---------------------------------------------------------------------- */

TEST(thread_bound_is_checked_and_kept) {
  ASSERT_EQ(coro_offload_threads(-1), -EINVAL);
  ASSERT_EQ(coro_offload_threads(CORO_OFFLOAD_THREADS_MAX + 1), -EINVAL);
  ASSERT_EQ(coro_offload_threads(0), 4);
  ASSERT_EQ(coro_offload_threads(2), 4);
  ASSERT_EQ(coro_offload_threads(0), 2);
  ASSERT_EQ(coro_offload_threads(CORO_OFFLOAD_THREADS_MAX), 2);
  go(offload_plus_one, IV(1));
  ASSERT_EQ(coro_run(), 0);
}

TEST(thread_bound_from_the_environment) {
  ASSERT_EQ(setenv("CORO_OFFLOAD_THREADS", "3", 1), 0);
  ASSERT_EQ(coro_offload_threads(0), 3);
}

TEST(bad_thread_bound_in_the_environment_is_ignored) {
  ASSERT_EQ(setenv("CORO_OFFLOAD_THREADS", "many", 1), 0);
  ASSERT_EQ(coro_offload_threads(0), 4);
}

static void *offload_without_workers(void *arg) {
  (void)arg;
  coro__fault_arm(CORO__FAULT_THREAD, 0, EAGAIN);
  ASSERT_EQ(coro_offload(must_not_run, NULL, NULL, -1), -EAGAIN);
  coro__fault_reset();
  void *r = NULL;
  ASSERT_EQ(coro_offload(plus_one, IV(1), &r, -1), 0); /* the fault is gone: it works */
  ASSERT_EQ(VI(r), 2);
  /* With a worker already there, a failed start only means fewer workers. */
  coro__fault_arm(CORO__FAULT_THREAD, 0, EAGAIN);
  ASSERT_EQ(coro_offload(plus_one, IV(2), &r, -1), 0);
  coro__fault_reset();
  ASSERT_EQ(VI(r), 3);
  return NULL;
}

TEST(no_worker_can_be_started) {
  go(offload_without_workers, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(ran, 0);
}

static void *scheduler_thread(void *arg) {
  for (int i = 0; i < 20; i++) go(offload_many, IV(VI(arg) * 100 + i));
  ASSERT_EQ(coro_run(), 0);
  return NULL; /* the thread's port is released at its exit */
}

TEST(several_scheduler_threads_share_the_pool) {
  pthread_t th[3];
  for (int i = 0; i < 3; i++) ASSERT_EQ(pthread_create(&th[i], NULL, scheduler_thread, IV(i)), 0);
  for (int i = 0; i < 3; i++) ASSERT_EQ(pthread_join(th[i], NULL), 0);
  ASSERT_EQ(__atomic_load_n(&finished_jobs, __ATOMIC_SEQ_CST) >= 0, 1);
}

/* --- a thread that exits while its jobs run ------------------------------------------ */

static sem_t job_started, job_release;

static void *held_job(void *arg) {
  sem_post(&job_started);
  while (sem_wait(&job_release) != 0) {}
  return arg;
}

static void *offloads_held_job(void *arg) {
  (void)arg;
  coro_offload(held_job, NULL, NULL, -1);
  ASSERT_TRUE(0); /* its thread exits first: never resumed */
  return NULL;
}

static void *sleeps_an_hour(void *arg) {
  (void)arg;
  coro_sleep(coro_now() + (int64_t)3600 * 1000000000);
  return NULL;
}

/* Exits its thread from inside the scheduler (as a thread calling
 * pthread_exit from any function would) once arg jobs have started. */
static void *exits_the_thread(void *arg) {
  for (long n = VI(arg); n > 0; n--)
    while (sem_trywait(&job_started) != 0) coro_sleep(coro_now() + 1000000);
  pthread_exit(NULL);
}

/* The thread: `jobs` micro-threads offload a held job (the last of them only
 * queued when jobs exceeds the worker bound), one sleeps, one exits the thread. */
static void *exits_mid_job(void *arg) {
  long jobs = VI(arg);
#ifdef __SANITIZE_ADDRESS__
  /* The coroutines this thread leaves parked are the program's leak (their
   * slabs), not the library's: LeakSanitizer is told to skip what this
   * thread allocates.  coro__live_allocs below still counts every block. */
  __lsan_disable();
#endif
  for (long i = 0; i < jobs; i++) go(offloads_held_job, NULL);
  go(sleeps_an_hour, NULL);
  go(exits_the_thread, IV(jobs < 2 ? jobs : 2));
  coro_run();
  ASSERT_TRUE(0); /* never returns */
  return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg) {
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, fn, arg), 0);
  ASSERT_EQ(pthread_join(th, NULL), 0);
}

/* The port (and its eventfd) dies with its thread; the workers free the jobs
 * that finish later.  The coroutines the thread left parked are leaked by the
 * program (their stacks stay), so the allocations are compared with those of
 * a thread that exits the same way with no job at all. */
TEST(a_thread_that_exits_mid_job_leaks_neither_port_nor_jobs) {
  ASSERT_EQ(coro_offload_threads(2), 4);
  ASSERT_EQ(sem_init(&job_started, 0, 0), 0);
  ASSERT_EQ(sem_init(&job_release, 0, 0), 0);
  int fds = test_open_fds();
  long base = coro__live_allocs();
  run_thread(exits_mid_job, IV(0)); /* the same exit, no offload */
  long no_jobs = coro__live_allocs() - base;
  ASSERT_EQ(test_open_fds(), fds); /* its poller went with it */
  for (long jobs = 1; jobs <= 3; jobs++) {
    base = coro__live_allocs();
    fds = test_open_fds();
    run_thread(exits_mid_job, IV(jobs)); /* 2 workers: a third job stays queued */
    ASSERT_EQ(test_open_fds(), fds);     /* the port's eventfd went with its thread */
    for (long i = 0; i < (jobs < 2 ? jobs : 2); i++) ASSERT_EQ(sem_post(&job_release), 0);
    /* The workers let go of the late jobs: wait until they are idle again. */
    for (int tries = 0; coro__live_allocs() - base != no_jobs && tries < 5000; tries++)
      usleep(1000);
    ASSERT_EQ(coro__live_allocs() - base, no_jobs);
  }
}

/* The window between a job's completion reaching its thread and its coroutine
 * running: the thread's poll took the job off the port and woke the coroutine,
 * and another micro-thread, ahead of it in the run queue, exits the thread. */

static int reaped_window_seen; /* the exiter found the offloader woken, not run */

/* Offloads quick jobs one after another until its thread exits. */
static void *offloads_quick_jobs(void *arg) {
  (void)arg;
  for (;;) {
    void *r = NULL;
    ASSERT_EQ(coro_offload(plus_one, IV(1), &r, -1), 0);
    ASSERT_EQ(VI(r), 2);
  }
  return NULL;
}

/* c is WAITING and waits on nothing: it was woken and has not run since.  The
 * offloader is woken by its job's completion alone (no deadline, no cancel). */
static int woken_not_run(const coro *c) {
  coro_info info[4];
  long n = coro_list(info, 4);
  ASSERT_TRUE(n >= 2 && n <= 4);
  for (long i = 0; i < n; i++)
    if (info[i].handle == c) return info[i].state == CORO_WAITING && !info[i].waiting_on;
  ASSERT_TRUE(0); /* c is alive */
  return 0;
}

/* Yields (a poll of the I/O layer between its turns) until it runs while the
 * offloader has been woken by a finished job and has not run yet: FIFO order
 * gives that at the first completion (the poll queues the offloader behind
 * this one); a seeded order may run the offloader first, then its next job
 * tries again.  Then exits the thread. */
static void *exits_while_a_completion_waits(void *arg) {
  coro *offloader = arg;
  for (long tries = 0; tries < 1000000; tries++) {
    ASSERT_EQ(coro_sched_yield(), 0);
    if (woken_not_run(offloader)) {
      reaped_window_seen = 1;
      break;
    }
  }
  pthread_exit(NULL);
}

/* The thread: one micro-thread offloads jobs, one exits the thread in the
 * window (arg 1), or at once while the other sleeps (arg 0: the same exit
 * with nothing offloaded, to compare with). */
static void *exits_before_a_completion_runs(void *arg) {
#ifdef __SANITIZE_ADDRESS__
  __lsan_disable(); /* the coroutines left behind are the program's leak */
#endif
  coro *c;
  ASSERT_EQ(coro_spawn(&c, VI(arg) ? offloads_quick_jobs : sleeps_an_hour, NULL, NULL), 0);
  go(VI(arg) ? exits_while_a_completion_waits : exits_the_thread, VI(arg) ? c : IV(0));
  coro_run();
  ASSERT_TRUE(0); /* never returns */
  return NULL;
}

/* The job the thread's poll handed to a coroutine that never ran is freed
 * with the thread, and so is the port that counted it. */
TEST(a_thread_that_exits_before_a_finished_job_is_taken_leaks_nothing) {
  int fds = test_open_fds();
  long base = coro__live_allocs();
  run_thread(exits_before_a_completion_runs, IV(0));
  long no_jobs = coro__live_allocs() - base;
  for (int i = 0; i < 3; i++) {
    reaped_window_seen = 0;
    base = coro__live_allocs();
    run_thread(exits_before_a_completion_runs, IV(1));
    ASSERT_EQ(reaped_window_seen, 1);
    ASSERT_EQ(test_open_fds(), fds);
    /* The thread's one job had finished: no worker holds anything. */
    ASSERT_EQ(coro__live_allocs() - base, no_jobs);
  }
}

/* The window before that: a job finished and on its port's list, the thread
 * not polled since.  One worker: the first job to start waits until both
 * offloaders have parked, the second one's start says the first is on the
 * port, and the thread exits without a poll in between. */

static sem_t both_parked;
static int jobs_begun, offloaders_parked;

static void *first_waits_second_holds(void *arg) {
  if (__atomic_fetch_add(&jobs_begun, 1, __ATOMIC_SEQ_CST) == 0) {
    while (sem_wait(&both_parked) != 0) {}
    return arg;
  }
  return held_job(arg); /* the first one is on the port now */
}

static void *offloads_first_or_second(void *arg) {
  (void)arg;
  offloaders_parked++; /* it parks in coro_offload without yielding before */
  coro_offload(first_waits_second_holds, NULL, NULL, -1);
  ASSERT_TRUE(0); /* its thread exits first: never resumed */
  return NULL;
}

static void *exits_before_a_completion_is_polled(void *arg) {
  (void)arg;
  while (offloaders_parked < 2) ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(sem_post(&both_parked), 0);
  while (sem_trywait(&job_started) != 0) {} /* no yield: no poll takes the first */
  pthread_exit(NULL);
}

static void *exits_with_a_completion_unpolled(void *arg) {
  (void)arg;
#ifdef __SANITIZE_ADDRESS__
  __lsan_disable(); /* the coroutines left behind are the program's leak */
#endif
  go(offloads_first_or_second, NULL);
  go(offloads_first_or_second, NULL);
  go(exits_before_a_completion_is_polled, NULL);
  coro_run();
  ASSERT_TRUE(0); /* never returns */
  return NULL;
}

TEST(a_thread_that_exits_before_a_finished_job_is_polled_leaks_nothing) {
  ASSERT_EQ(coro_offload_threads(1), 4);
  ASSERT_EQ(sem_init(&job_started, 0, 0), 0);
  ASSERT_EQ(sem_init(&job_release, 0, 0), 0);
  ASSERT_EQ(sem_init(&both_parked, 0, 0), 0);
  int fds = test_open_fds();
  long base = coro__live_allocs();
  run_thread(exits_mid_job, IV(0)); /* the same exit with no offload, to compare */
  long no_jobs = coro__live_allocs() - base;
  for (int i = 0; i < 3; i++) {
    jobs_begun = offloaders_parked = 0;
    base = coro__live_allocs();
    run_thread(exits_with_a_completion_unpolled, NULL);
    ASSERT_EQ(test_open_fds(), fds);
    ASSERT_EQ(sem_post(&job_release), 0); /* the second job ends: its worker frees it */
    for (int tries = 0; coro__live_allocs() - base != no_jobs && tries < 5000; tries++)
      usleep(1000);
    ASSERT_EQ(coro__live_allocs() - base, no_jobs);
  }
}

/* --- getaddrinfo --------------------------------------------------------------------- */

static void *resolve(void *arg) {
  (void)arg;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  ASSERT_EQ(coro_getaddrinfo("localhost", "80", &hints, &res, coro_now() + HOUR), 0);
  ASSERT_TRUE(res != NULL);
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    ASSERT_TRUE(ai->ai_family == AF_INET || ai->ai_family == AF_INET6);
  freeaddrinfo(res);
  ASSERT_EQ(coro_getaddrinfo("127.0.0.1", NULL, NULL, &res, -1), 0); /* no hints */
  freeaddrinfo(res);
  ASSERT_EQ(coro_getaddrinfo(NULL, "80", &hints, &res, -1), 0); /* no node */
  freeaddrinfo(res);
  /* A name that cannot exist (RFC 2606): no such name, or the resolver is
   * unreachable here (no network). */
  int rc = coro_getaddrinfo("no-such-host.invalid", NULL, NULL, &res, coro_now() + HOUR);
  ASSERT_TRUE(rc == -ENOENT || rc == -EAGAIN);
  hints.ai_flags = AI_NUMERICHOST;
  ASSERT_EQ(coro_getaddrinfo("localhost", NULL, &hints, &res, -1), -ENOENT);
  hints.ai_flags = 0x40000000; /* no such flag */
  ASSERT_EQ(coro_getaddrinfo("localhost", NULL, &hints, &res, -1), -EINVAL);
  hints.ai_flags = 0;
  hints.ai_family = 12345;
  ASSERT_EQ(coro_getaddrinfo("localhost", NULL, &hints, &res, -1), -EAFNOSUPPORT);
  hints.ai_family = AF_UNSPEC;
  ASSERT_EQ(coro_getaddrinfo("localhost", "no-such-service-here", &hints, &res, -1),
            -EPROTONOSUPPORT);
  ASSERT_EQ(coro_getaddrinfo("localhost", NULL, NULL, NULL, -1), -EINVAL);
  ASSERT_EQ(coro_getaddrinfo(NULL, NULL, NULL, &res, -1), -EINVAL);
  ASSERT_EQ(coro_getaddrinfo("localhost", NULL, NULL, &res, 0), -ETIMEDOUT);
  return NULL;
}

TEST(getaddrinfo_resolves_and_maps_errors) {
  go(resolve, NULL);
  ASSERT_EQ(coro_run(), 0);
}

static long gai_ok, gai_timedout;

static void *resolve_racing(void *arg) {
  struct addrinfo *res = NULL;
  /* Deadlines of 0..199 us: some jobs are withdrawn, some abandoned while
   * they run (the worker frees their result), some deliver. */
  int rc = coro_getaddrinfo("localhost", "80", NULL, &res, coro_now() + (VI(arg) % 200) * 1000);
  if (rc == 0) {
    freeaddrinfo(res);
    gai_ok++;
  } else {
    ASSERT_EQ(rc, -ETIMEDOUT);
    gai_timedout++;
  }
  return NULL;
}

TEST(getaddrinfo_deadlines_racing_the_workers_lose_nothing) {
  for (int i = 0; i < 300; i++) go(resolve_racing, IV(i * 7));
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(gai_ok + gai_timedout, 300);
}

/* --- regular files -------------------------------------------------------------------- */

static void *file_io(void *arg) {
  (void)arg;
  char path[] = "/tmp/coro_offload_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  ASSERT_EQ(unlink(path), 0);
  ASSERT_EQ(coro_file_pwrite(fd, "hello world", 11, 0, -1), 11);
  char buf[16] = {0};
  ASSERT_EQ(coro_file_pread(fd, buf, 5, 6, coro_now() + HOUR), 5);
  ASSERT_TRUE(memcmp(buf, "world", 5) == 0);
  ASSERT_EQ(coro_file_pread(fd, buf, sizeof(buf), 100, -1), 0); /* past the end */
  ASSERT_EQ(coro_file_pwrite(fd, "!", 1, 11, -1), 1);
  ASSERT_EQ(coro_file_pread(fd, buf, sizeof(buf), 0, -1), 12);
  ASSERT_TRUE(memcmp(buf, "hello world!", 12) == 0);
  ASSERT_EQ(coro_file_pread(fd, buf, 0, 0, -1), 0);
  ASSERT_EQ(coro_file_pread(fd, NULL, 0, 0, -1), 0);
  /* bad input */
  ASSERT_EQ(coro_file_pread(-1, buf, 1, 0, -1), -EBADF);
  ASSERT_EQ(coro_file_pwrite(-1, buf, 1, 0, -1), -EBADF);
  ASSERT_EQ(coro_file_pread(fd, NULL, 1, 0, -1), -EINVAL);
  ASSERT_EQ(coro_file_pwrite(fd, NULL, 1, 0, -1), -EINVAL);
  ASSERT_EQ(coro_file_pread(fd, buf, 1, -1, -1), -EINVAL);
  ASSERT_EQ(coro_file_pread(fd, buf, 1, 0, 0), -ETIMEDOUT);
  /* errors of the call itself come back */
  int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(ro >= 0);
  ASSERT_EQ(coro_file_pwrite(ro, "x", 1, 0, -1), -EBADF);
  close(ro);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(coro_file_pread(p[0], buf, 1, 0, -1), -ESPIPE);
  close(p[0]);
  close(p[1]);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(coro_file_pread(fd, buf, 1, 0, -1), -EBADF); /* closed */
  return NULL;
}

TEST(file_pread_pwrite_of_a_temporary_file) {
  go(file_io, NULL);
  ASSERT_EQ(coro_run(), 0);
}

/* --- dial by name ---------------------------------------------------------------------- */

static int dial_port;

static void *accept_one(void *arg) {
  int lfd = (int)(intptr_t)arg;
  int fd = coro_sock_accept(lfd, NULL, NULL, coro_now() + HOUR);
  ASSERT_TRUE(fd >= 0);
  char c;
  ASSERT_EQ(coro_fd_read(fd, &c, 1, coro_now() + HOUR), 1);
  ASSERT_EQ(coro_fd_write(fd, &c, 1, -1), 1);
  ASSERT_EQ(coro_fd_close(fd), 0);
  ASSERT_EQ(coro_fd_close(lfd), 0);
  return NULL;
}

static void *dial_by_name(void *arg) {
  (void)arg;
  /* localhost may resolve to ::1 first, which refuses: the next address answers. */
  int fd = coro_tcp_dial("localhost", dial_port, coro_now() + HOUR);
  ASSERT_TRUE(fd >= 0);
  char c = 'k';
  ASSERT_EQ(coro_fd_write(fd, &c, 1, -1), 1);
  ASSERT_EQ(coro_fd_read(fd, &c, 1, coro_now() + HOUR), 1);
  ASSERT_EQ(c, 'k');
  ASSERT_EQ(coro_fd_close(fd), 0);
  int rc = coro_tcp_dial("no-such-host.invalid", 80, coro_now() + HOUR);
  ASSERT_TRUE(rc == -ENOENT || rc == -EAGAIN);
  ASSERT_EQ(coro_tcp_dial("localhost", dial_port, 0), -ETIMEDOUT);
  return NULL;
}

TEST(tcp_dial_resolves_host_names) {
  int lfd = coro_tcp_listen("127.0.0.1", 0, 0, 4);
  ASSERT_TRUE(lfd >= 0);
  dial_port = coro_sock_port(lfd);
  go(accept_one, (void *)(intptr_t)lfd);
  go(dial_by_name, NULL);
  ASSERT_EQ(coro_run(), 0);
}

/* --- fork ------------------------------------------------------------------------ */

/* One offload, its result checked. */
static void *offload_once(void *arg) {
  void *r = NULL;
  ASSERT_EQ(coro_offload(plus_one, arg, &r, -1), 0);
  ASSERT_EQ(VI(r), VI(arg) + 1);
  return NULL;
}

static void *do_nothing(void *arg) { return arg; }

/* Whether a fork's child of this (now threaded) process can start a thread:
 * qemu-user 7.2 aborts the child when it tries (an assertion in its plugin
 * hooks, exit status 127), which no C library can work around.  Probed, not
 * assumed, so that an emulator that mends it runs the test. */
static int forked_child_can_start_a_thread(void) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, do_nothing, NULL) != 0 || pthread_join(t, NULL) != 0) _exit(1);
    _exit(0);
  }
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

/* A fork's child inherits its thread's port, whose eventfd the parent shares:
 * its first offload replaces it, and the copy must go then (every child of a
 * server that offloads would keep one).  Counted in the child: that first
 * offload leaves as many blocks allocated as a second one, which replaces
 * nothing. */
TEST(a_forked_child_frees_the_port_it_replaces) {
  go(offload_once, IV(1));
  ASSERT_EQ(coro_run(), 0); /* this thread has a port now */
  if (!forked_child_can_start_a_thread()) {
    puts("skipped: a fork's child of a threaded process cannot start a thread here");
    return;
  }
  fflush(NULL);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    long base = coro__live_allocs();
    go(offload_once, IV(2)); /* a new port; the inherited one must be freed */
    ASSERT_EQ(coro_run(), 0);
    long first = coro__live_allocs() - base;
    base = coro__live_allocs();
    go(offload_once, IV(3)); /* the same port again */
    ASSERT_EQ(coro_run(), 0);
    ASSERT_EQ(coro__live_allocs() - base, 0);
    ASSERT_EQ(first, 0);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}
