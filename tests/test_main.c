/* SPDX-License-Identifier: MIT */
/*
 * test_main.c - the runner behind TEST(): one case by name, or all of them.
 *
 * The cases run in a child of this process, in a process group of its own
 * that this process (the supervisor) ends with SIGKILL once the child has
 * ended, however it ended: an assert, a crash, a sanitizer's report.  So a
 * case that fails while processes it forked still run (a cluster's parent
 * and its workers) fails at once with its message: left alive, those would
 * hold CTest's output pipe until the timeout, and outlive it.  The child's
 * exit status (or the signal that killed it) becomes the supervisor's.
 * A test program that runs itself again (fork + exec, tests/overflow.c) is
 * already inside the group: CORO_TEST_GROUP says so, and it runs in-process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 512

static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int ntests;

void test__register(const char *name, test_fn fn) {
  if (ntests == MAX_TESTS) {
    fprintf(stderr, "too many tests\n");
    exit(2);
  }
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  ntests++;
}

void test__fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stdout);
  exit(1);
}

/* --- the supervisor ---------------------------------------------------------------- */

static volatile pid_t group; /* the cases' process group (the child's pid) */

/* End as the child did: by its signal (no second core file), or 128 + it. */
static void die_of(int sig) {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
  raise(sig);
  _exit(128 + sig);
}

/* CTest or a terminal stopping the supervisor stops the group first. */
static void on_stop(int sig) {
  kill(-group, SIGKILL);
  die_of(sig);
}

/* Returns in the child, which runs the cases; never returns in the parent.
 * Without a child (fork failed) the cases run here, unsupervised. */
static void supervise(void) {
  if (getenv("CORO_TEST_GROUP")) return; /* run again by a case: in its group */
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("test_main: fork (the cases run unsupervised)");
    return;
  }
  if (pid == 0) {
    setpgid(0, 0); /* both sides: whichever runs first, the group exists */
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", (int)getpid());
    setenv("CORO_TEST_GROUP", buf, 1);
    return;
  }
  setpgid(pid, pid);
  group = pid;
  struct sigaction stop;
  memset(&stop, 0, sizeof(stop));
  stop.sa_handler = on_stop;
  int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) sigaction(stops[i], &stop, NULL);
  /* Wait without reaping: the zombie keeps the group's id from being reused
   * until the group is killed. */
  siginfo_t info;
  while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0) {
    if (errno != EINTR) {
      perror("test_main: waitid");
      kill(-pid, SIGKILL);
      exit(2);
    }
  }
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) die_of(WTERMSIG(status));
  exit(WEXITSTATUS(status));
}

int main(int argc, char **argv) {
  supervise();
  if (argc > 1) {
    for (int i = 0; i < ntests; i++) {
      if (strcmp(tests[i].name, argv[1]) == 0) {
        tests[i].fn();
        printf("1 passed, 0 failed\n");
        return 0;
      }
    }
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  /* All cases in this one process: the first failure exits non-zero. */
  for (int i = 0; i < ntests; i++) {
    printf("%s\n", tests[i].name);
    fflush(stdout);
    tests[i].fn();
  }
  printf("%d passed, 0 failed\n", ntests);
  return 0;
}
