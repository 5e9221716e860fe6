/* SPDX-License-Identifier: MIT */
/*
 * io_backend.c - choosing the readiness backend: CORO_IO_BACKEND forces epoll
 * or io_uring, an unknown name and an io_uring the kernel refuses fall back to
 * epoll with one line on stderr (once per process, however many threads), the
 * default is silent, and coro_io_backend() names what runs.  Each case then
 * moves bytes through a pipe on the backend it got.
 *
 * Whether io_uring is built in shows as CORO_HAVE_URING (tests see the
 * library's definitions); whether the kernel allows it is not known here, so
 * a forced io_uring either runs silently or falls back with its line.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#ifdef CORO_HAVE_URING
#include <linux/io_uring.h>
#include <sys/syscall.h>
#endif
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"
#include "internal.h"
#include "test.h"

static int fds[2];      /* the pipe the coroutines talk through */
static int err_fd = -1; /* where stderr goes while a case runs */

/* Send stderr to a scratch file, to read back what the library said. */
static void capture_stderr(void) {
  char path[] = "/tmp/coro_io_backend_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  unlink(path);
  err_fd = dup(STDERR_FILENO);
  ASSERT_TRUE(err_fd >= 0);
  ASSERT_EQ(dup2(fd, STDERR_FILENO), STDERR_FILENO);
  close(fd);
}

/* Put stderr back; returns what was written to it (static buffer). */
static const char *captured(void) {
  static char buf[4096];
  ASSERT_TRUE(err_fd >= 0);
  ssize_t n = pread(STDERR_FILENO, buf, sizeof(buf) - 1, 0);
  ASSERT_TRUE(n >= 0);
  buf[n] = '\0';
  ASSERT_EQ(dup2(err_fd, STDERR_FILENO), STDERR_FILENO);
  close(err_fd);
  err_fd = -1;
  return buf;
}

#ifdef CORO_HAVE_URING
static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}
#endif

static void *reader(void *arg) {
  (void)arg;
  char buf[8];
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), 5); /* parks first */
  ASSERT_TRUE(memcmp(buf, "hello", 5) == 0);
  ASSERT_EQ(coro_fd_read(fds[0], buf, sizeof(buf), -1), 0); /* EOF */
  return NULL;
}

static void *writer(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the reader parks first */
  ASSERT_EQ(coro_fd_write(fds[1], "hello", 5, -1), 5);
  ASSERT_EQ(coro_sched_yield(), 0);
  ASSERT_EQ(coro_fd_close(fds[1]), 0);
  return NULL;
}

/* A reader that has to park, woken by a writer, through whichever backend. */
static void pipe_round_trip(void) {
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(coro_spawn(NULL, reader, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, writer, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_fd_close(fds[0]), 0);
}

static const char *default_name(void) { return "epoll"; /* DEFAULT_URING in io.c */ }

TEST(forced_epoll_is_silent) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "epoll", 1), 0);
  capture_stderr();
  ASSERT_STR_EQ(coro_io_backend(), "epoll");
  ASSERT_STR_EQ(coro_io_backend(), "epoll"); /* chosen once, then the same */
  pipe_round_trip();
  ASSERT_STR_EQ(captured(), "");
}

TEST(default_is_silent) {
  ASSERT_EQ(unsetenv("CORO_IO_BACKEND"), 0);
  capture_stderr();
  ASSERT_STR_EQ(coro_io_backend(), default_name());
  pipe_round_trip();
  ASSERT_STR_EQ(captured(), "");
}

TEST(empty_name_is_the_default) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "", 1), 0);
  capture_stderr();
  ASSERT_STR_EQ(coro_io_backend(), default_name());
  ASSERT_STR_EQ(captured(), "");
}

TEST(forced_io_uring_runs_or_says_why) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "io_uring", 1), 0);
  capture_stderr();
  const char *name = coro_io_backend();
  ASSERT_TRUE(name != NULL);
  pipe_round_trip();
  const char *err = captured();
#ifdef CORO_HAVE_URING
  if (strcmp(name, "io_uring") == 0) {
    ASSERT_STR_EQ(err, "");
    return;
  }
  /* The kernel refused the ring (seccomp, sysctl): the fallback says so. */
  ASSERT_STR_EQ(name, "epoll");
  ASSERT_TRUE(strncmp(err, "libcoro: io_uring unavailable (", 31) == 0);
  ASSERT_EQ(count_lines(err), 1);
#else
  ASSERT_STR_EQ(name, "epoll");
  ASSERT_STR_EQ(err, "libcoro: io_uring unavailable (not built in), using epoll\n");
#endif
}

static void *other_thread(void *arg) {
  (void)arg;
  pipe_round_trip(); /* this thread's first I/O chooses its own backend */
  return (void *)(uintptr_t)(coro_io_backend() && strcmp(coro_io_backend(), "epoll") == 0);
}

TEST(refused_io_uring_falls_back_with_one_line) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "io_uring", 1), 0);
  coro__fault_arm(CORO__FAULT_URING, 0, EPERM); /* the kernel says no */
  capture_stderr();
  pipe_round_trip(); /* the first park chooses */
  ASSERT_STR_EQ(coro_io_backend(), "epoll");
  /* A second thread falls back too, and says nothing more. */
  pthread_t th;
  void *ok = NULL;
  ASSERT_EQ(pthread_create(&th, NULL, other_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, &ok), 0);
  ASSERT_TRUE(ok != NULL);
  const char *err = captured();
  coro__fault_reset();
#ifdef CORO_HAVE_URING
  ASSERT_STR_EQ(err, "libcoro: io_uring unavailable (Operation not permitted), using epoll\n");
#else
  ASSERT_STR_EQ(err, "libcoro: io_uring unavailable (not built in), using epoll\n");
#endif
}

/* A kernel before 5.5 drops completions that do not fit (no NODROP): a lost
 * poll completion would be a coroutine that never wakes, so no ring. */
TEST(io_uring_without_nodrop_falls_back_with_one_line) {
#ifdef CORO_HAVE_URING
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "io_uring", 1), 0);
  coro__uring_features_off = IORING_FEAT_NODROP;
  capture_stderr();
  pipe_round_trip();
  const char *name = coro_io_backend();
  const char *err = captured();
  coro__uring_features_off = 0;
  ASSERT_STR_EQ(name, "epoll");
  /* Refused for its age where the kernel has io_uring; else for that. */
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  long ring = syscall(__NR_io_uring_setup, 1, &p);
  if (ring >= 0) {
    close((int)ring);
    ASSERT_STR_EQ(err, "libcoro: io_uring unavailable (Operation not supported), using epoll\n");
  } else {
    ASSERT_TRUE(strncmp(err, "libcoro: io_uring unavailable (", 31) == 0);
    ASSERT_EQ(count_lines(err), 1);
  }
#else
  printf("built without io_uring: nothing to check\n");
#endif
}

TEST(refused_io_uring_by_default_is_silent) {
  ASSERT_EQ(unsetenv("CORO_IO_BACKEND"), 0);
  coro__fault_arm(CORO__FAULT_URING, 0, ENOSYS);
  capture_stderr();
  ASSERT_STR_EQ(coro_io_backend(), "epoll");
  pipe_round_trip();
  const char *err = captured();
  coro__fault_reset();
  ASSERT_STR_EQ(err, "");
}

TEST(unknown_name_falls_back_with_one_line) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "kqueue", 1), 0);
  capture_stderr();
  ASSERT_STR_EQ(coro_io_backend(), "epoll");
  pipe_round_trip();
  pthread_t th;
  void *ok = NULL;
  ASSERT_EQ(pthread_create(&th, NULL, other_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, &ok), 0);
  ASSERT_TRUE(ok != NULL);
  ASSERT_STR_EQ(captured(), "libcoro: unknown CORO_IO_BACKEND (kqueue), using epoll\n");
}

TEST(backend_without_memory_is_null) {
  ASSERT_EQ(setenv("CORO_IO_BACKEND", "epoll", 1), 0);
  coro__fault_arm(CORO__FAULT_MALLOC, 0, ENOMEM); /* the thread's I/O state */
  const char *name = coro_io_backend();
  coro__fault_reset();
  ASSERT_PTR_EQ(name, NULL);
  ASSERT_STR_EQ(coro_io_backend(), "epoll"); /* nothing was half made */
  pipe_round_trip();
}

/* --- fork ------------------------------------------------------------------------- */

static int pfd[2]; /* the parent's pipe, registered with its backend before the fork */

static void *time_out_on_parent_pipe(void *arg) {
  (void)arg;
  char c;
  ASSERT_EQ(coro_fd_read(pfd[0], &c, 1, coro_now() + 5 * INT64_C(1000000)), -ETIMEDOUT);
  return NULL;
}

static void *read_parent_pipe(void *arg) {
  (void)arg;
  char c = 0;
  /* Long enough for any machine; a lost registration shows as -ETIMEDOUT. */
  ASSERT_EQ(coro_fd_read(pfd[0], &c, 1, coro_now() + 20 * INT64_C(1000000000)), 1);
  ASSERT_EQ(c, 'p');
  return NULL;
}

static void *write_parent_pipe(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_sched_yield(), 0); /* the reader parks first */
  ASSERT_EQ(coro_fd_write(pfd[1], "p", 1, -1), 1);
  return NULL;
}

/* The child of a fork shares the parent's epoll set or ring until it rebuilds
 * its own: closing an inherited fd there must not unregister it for the
 * parent, and the child's own waits must work (a ring refuses a second
 * process: SINGLE_ISSUER). */
TEST(a_forked_child_gets_a_backend_of_its_own) {
  ASSERT_EQ(pipe2(pfd, O_CLOEXEC), 0);
  ASSERT_EQ(coro_spawn(NULL, time_out_on_parent_pipe, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0); /* pfd[0] is registered now */
  const char *name = coro_io_backend();
  ASSERT_TRUE(name != NULL);
  fflush(NULL);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    ASSERT_EQ(coro_fd_close(pfd[0]), 0);
    ASSERT_EQ(coro_fd_close(pfd[1]), 0);
    ASSERT_STR_EQ(coro_io_backend(), name);
    pipe_round_trip(); /* parks in the child's own backend */
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  /* The parent's registration of pfd[0] survived the child's close. */
  ASSERT_EQ(coro_spawn(NULL, read_parent_pipe, NULL, NULL), 0);
  ASSERT_EQ(coro_spawn(NULL, write_parent_pipe, NULL, NULL), 0);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_fd_close(pfd[0]), 0);
  ASSERT_EQ(coro_fd_close(pfd[1]), 0);
}
