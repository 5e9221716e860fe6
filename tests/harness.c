/* SPDX-License-Identifier: MIT */
/*
 * harness.c - the test runner itself (tests/test_main.c), driven by
 * cmake/test_harness.cmake, which runs each case as CTest would and checks
 * how it ends.  Every case leaves a child and a grandchild running that hold
 * the output pipe and would never exit by themselves (pause(); an alarm ends
 * them after HOLD_S should the runner not), then ends: with a failed assert,
 * a crash, or a pass.  The runner must kill them when the case ends, so the
 * pipe closes at once and the driver sees the case's own status and message,
 * not its own timeout.  Not a CTest test file of its own: two of the cases
 * fail on purpose.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>

#include "test.h"

#define HOLD_S 900 /* longer than any timeout of the driver */

/* Forks a child that forks a grandchild; returns once both run. */
static void leave_two_running(void) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t child = fork();
  ASSERT_TRUE(child >= 0);
  if (child == 0) {
    alarm(HOLD_S);
    pid_t grandchild = fork();
    if (grandchild == 0) {
      alarm(HOLD_S);
      if (write(p[1], "g", 1) != 1) _exit(1);
      for (;;) pause();
    }
    if (grandchild < 0 || write(p[1], "c", 1) != 1) _exit(1);
    for (;;) pause();
  }
  char two[2];
  ASSERT_EQ(read(p[0], two, 1) + read(p[0], two + 1, 1), 2);
  close(p[0]);
  close(p[1]);
  printf("child %d and its child run\n", (int)child);
  fflush(stdout);
}

TEST(fails_while_its_processes_run) {
  leave_two_running();
  ASSERT_EQ(1 + 1, 3);
}

TEST(crashes_while_its_processes_run) {
  leave_two_running();
  abort();
}

TEST(passes_while_its_processes_run) { leave_two_running(); }
