/* SPDX-License-Identifier: MIT */
/*
 * echo.c - a TCP echo server on libcoro: one micro-thread per connection
 * sends back every byte it reads, as it comes.
 *
 *   echo [--port P] [--host ADDR]
 *
 * It prints "listening on P" (the real port: --port 0 lets the kernel pick)
 * once it accepts.  SIGTERM or SIGINT stops it: the listener and the open
 * connections are closed and it exits with 0.  A connection idle for
 * IDLE_NS is closed.  When out of file descriptors (EMFILE), accepting
 * backs off (1 ms doubling to 100 ms) instead of spinning.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"

#define MS ((int64_t)1000000) /* nanoseconds */
#define IDLE_NS (300000 * MS) /* a connection idle this long is closed */
#define BACKOFF_MIN (1 * MS)  /* accept back-off on EMFILE... */
#define BACKOFF_MAX (100 * MS)

static int listen_fd = -1; /* the listening socket */
static sigset_t stop_set;  /* SIGTERM and SIGINT */
static int stopping;       /* a stop signal came */

static void *echo_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[4096];
  ssize_t n;
  while ((n = coro_fd_read(fd, buf, sizeof(buf), coro_now() + IDLE_NS)) > 0)
    if (coro_fd_write_all(fd, buf, (size_t)n, NULL, coro_now() + IDLE_NS) < 0) break;
  coro_fd_close(fd);
  return NULL;
}

/* Waits for a stop signal, then closes the listener: the accept loop ends.
 * A wait may fail when the process has no fd left for the signalfd it opens
 * (EMFILE, while the server is saturated): it tries again a little later. */
static void *signal_watch(void *arg) {
  for (;;) {
    int rc = coro_signal_wait(&stop_set, -1);
    if (rc > 0) break;
    if (rc == -ECANCELED || coro_sleep(coro_now() + BACKOFF_MAX) == -ECANCELED) return arg;
  }
  stopping = 1;
  coro_fd_close(listen_fd);
  return arg;
}

static void *accept_loop(void *arg) {
  coro_group *g;
  coro *watch;
  if (coro_group_create(&g, 0) < 0) return coro_fail(-ENOMEM);
  if (coro_spawn(&watch, signal_watch, NULL, NULL) < 0) {
    coro_group_close(g, -1);
    return coro_fail(-ENOMEM);
  }
  coro_sched_yield(); /* the watcher parks first, its signalfd open before accepts use every fd */
  int64_t backoff = BACKOFF_MIN;
  while (!stopping) {
    int fd = coro_sock_accept(listen_fd, NULL, NULL, -1);
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
      coro_sleep(coro_now() + backoff);
      backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
      continue;
    }
    if (fd == -EBADF || fd == -EINVAL || fd == -ECANCELED) break;
    if (fd < 0) continue; /* ECONNABORTED...: that connection only */
    backoff = BACKOFF_MIN;
    if (coro_group_spawn(g, echo_conn, (void *)(intptr_t)fd, NULL) < 0) coro_fd_close(fd);
  }
  if (!stopping) coro_fd_close(listen_fd);
  coro_group_close(g, -1); /* cancels the connections and waits for them */
  coro_cancel(watch);
  coro_join(watch, NULL, -1);
  coro_destroy(watch);
  return arg;
}

static void usage(void) {
  fprintf(stderr, "usage: echo [--port P] [--host ADDR]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = 7000;
  for (int i = 1; i < argc; i++) {
    char *end;
    if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
      port = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || port < 0 || port > 65535) usage();
    } else if (i + 1 < argc && strcmp(argv[i], "--host") == 0) {
      host = argv[++i];
    } else {
      usage();
    }
  }
  /* Blocked before anything else, so that a signal sent at any time stays
   * pending until coro_signal_wait takes it. */
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
  listen_fd = coro_tcp_listen(host, (int)port, 0, -1);
  if (listen_fd < 0) {
    fprintf(stderr, "echo: listen on %s:%ld: %s\n", host, port, coro_strerror(listen_fd));
    return 1;
  }
  printf("listening on %d\n", coro_sock_port(listen_fd));
  fflush(stdout);
  coro *loop;
  int rc = coro_spawn(&loop, accept_loop, NULL, NULL);
  if (rc == 0) rc = coro_run();
  if (rc == 0) rc = coro_join(loop, NULL, 0);
  coro_destroy(loop);
  if (rc < 0) {
    fprintf(stderr, "echo: %s\n", coro_strerror(rc));
    return 1;
  }
  return 0;
}
