/* SPDX-License-Identifier: MIT */
/*
 * idle_conns.c - open N idle TCP connections to a server and hold them, so
 * that the server's memory per idle connection can be read (bench/http.sh).
 *
 *   idle_conns HOST PORT N
 *
 * Connects N times to the numeric IPv4 address HOST:PORT, one blocking
 * connect after the other, sends nothing, prints "open N" on stdout (flushed)
 * and then holds the connections until it is killed (SIGTERM).  Raise
 * `ulimit -n` above N first.  Exits 1 with a message if a connect fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: idle_conns HOST PORT N\n");
    return 2;
  }
  struct sockaddr_in a = {.sin_family = AF_INET};
  long port = strtol(argv[2], NULL, 10), n = strtol(argv[3], NULL, 10);
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || port <= 0 || port > 65535 || n <= 0) {
    fprintf(stderr, "idle_conns: bad address, port or count\n");
    return 2;
  }
  a.sin_port = htons((uint16_t)port);
  for (long i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
      fprintf(stderr, "idle_conns: connection %ld: %s\n", i + 1, strerror(errno));
      return 1;
    }
  }
  printf("open %ld\n", n);
  fflush(stdout);
  for (;;) pause();
}
