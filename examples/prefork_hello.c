/* SPDX-License-Identifier: MIT */
/*
 * prefork_hello.c - a tiny HTTP-ish server on the pre-fork runner.
 *
 *     prefork_hello [port] [workers]      serve until SIGTERM or Ctrl-C
 *     prefork_hello --self-test           serve, check, stop (for CI)
 *
 * The listening socket is opened before the fork and inherited by every
 * worker.  Each worker accepts connections and answers every request with
 * "hello from pid N".  The runner logs to stderr each worker's pid when it
 * starts, when it is ready, and when it exits and is restarted; try
 * `kill -9` on a worker's pid, `kill -HUP` on the parent (rolling restart),
 * then Ctrl-C.  On the stop, a worker stops accepting, lets the requests in
 * flight finish, and returns.
 *
 * --self-test: a client process makes 20 requests, then sends SIGTERM to the
 * parent; the program prints how many were answered and exits 0 if all were.
 */
#define _POSIX_C_SOURCE 200809L
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro.h"

static int listen_fd;

static void *handle(void *arg) {
  int fd = (int)(intptr_t)arg;
  coro_reader *r;
  char line[1024];
  if (coro_reader_create(&r, fd, sizeof(line)) < 0) {
    coro_fd_close(fd);
    return NULL;
  }
  /* Read the request head up to its empty line, then answer and close. */
  ssize_t n;
  while ((n = coro_reader_line(r, line, sizeof(line), coro_now() + 10 * 1000000000LL)) > 0)
    if (!strcmp(line, "\r\n") || !strcmp(line, "\n")) break;
  if (n > 0) {
    char body[64], out[256];
    int blen = snprintf(body, sizeof(body), "hello from pid %d\n", (int)getpid());
    int olen = snprintf(out, sizeof(out),
                        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        blen, body);
    coro_fd_write_all(fd, out, (size_t)olen, NULL, coro_now() + 10 * 1000000000LL);
  }
  coro_reader_destroy(r);
  coro_fd_close(fd);
  return NULL;
}

static void *acceptor(void *arg) {
  coro_group *conns = arg;
  for (;;) {
    int c = coro_sock_accept(listen_fd, NULL, NULL, -1);
    if (c == -ECANCELED) return NULL;
    if (c >= 0) coro_group_spawn(conns, handle, (void *)(intptr_t)c, NULL);
  }
}

/* Each worker's main coroutine. */
static void *worker_main(void *arg) {
  (void)arg;
  coro_group *conns;
  coro *acc;
  if (coro_group_create(&conns, 0) < 0 || coro_spawn(&acc, acceptor, conns, NULL) < 0)
    return coro_fail(-ENOMEM);
  coro_cluster_wait_stop(-1); /* SIGTERM or SIGINT */
  coro_cancel(acc);           /* stop accepting */
  coro_join(acc, NULL, -1);
  coro_destroy(acc);
  coro_group_wait(conns, -1); /* finish what is in flight (the runner's drain
                                 deadline bounds this) */
  coro_group_close(conns, -1);
  return NULL;
}

/* The --self-test client, in a process of its own (blocking sockets). */
static int client(int port) {
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    char buf[512];
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
      size_t have = 0;
      ssize_t n;
      while (have < sizeof(buf) - 1 && (n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0)
        have += (size_t)n;
      buf[have] = '\0';
      ok += strstr(buf, "200 OK") && strstr(buf, "hello from pid") ? 1 : 0;
    }
    if (fd >= 0) close(fd);
  }
  return ok;
}

int main(int argc, char **argv) {
  int self_test = argc > 1 && !strcmp(argv[1], "--self-test");
  int port = !self_test && argc > 1 ? atoi(argv[1]) : self_test ? 0 : 8080;
  coro_cluster_opts o;
  coro_cluster_opts_init(&o);
  o.workers = argc > 2 ? atoi(argv[2]) : self_test ? 2 : 0;
  listen_fd = coro_tcp_listen("127.0.0.1", port, 0, -1);
  if (listen_fd < 0) {
    fprintf(stderr, "listen on port %d: %s\n", port, coro_strerror(listen_fd));
    return 1;
  }
  port = coro_sock_port(listen_fd);
  o.listen_fds = &listen_fd;
  o.nlisten = 1;
  pid_t tester = -1;
  if (self_test) { /* the listening socket queues connections already */
    tester = fork();
    if (tester == 0) {
      int ok = client(port);
      kill(getppid(), SIGTERM);
      _exit(ok == 20 ? 0 : 1);
    }
  }
  printf("prefork_hello: listening on 127.0.0.1:%d, parent pid %d\n", port, (int)getpid());
  fflush(stdout);
  int rc = coro_cluster_run(&o, worker_main, NULL);
  if (rc < 0) {
    fprintf(stderr, "coro_cluster_run: %s\n", coro_strerror(rc));
    return 1;
  }
  if (self_test) {
    int status;
    waitpid(tester, &status, 0);
    int good = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("self-test: %s\n", good ? "20 of 20 requests answered" : "FAILED");
    return good ? 0 : 1;
  }
  return 0;
}
