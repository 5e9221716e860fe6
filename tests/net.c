/* SPDX-License-Identifier: MIT */
/*
 * net.c - TCP over loopback: listen, accept, dial, echo over IPv4 and IPv6,
 * refused and timed-out dials, a peer that resets mid-request, a thousand
 * connections in one thread, and the buffered reader's lines and frames.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro.h"
#include "test.h"

#define MS (INT64_C(1000000))

static void go(coro_fn fn, void *arg) { ASSERT_EQ(coro_spawn(NULL, fn, arg, NULL), 0); }

/* --- an echo server: one micro-thread per connection, line by line ---------------- */

typedef struct server {
  int lfd;               /* listening socket */
  long nconn;            /* connections to serve before it stops */
  long served;           /* connections finished */
  const char *dial_host; /* where clients dial */
  int port;              /* the listener's port */
} server;

static void *echo_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  coro_reader *r;
  ASSERT_EQ(coro_reader_create(&r, fd, 256), 0);
  char line[256];
  ssize_t n;
  while ((n = coro_reader_line(r, line, sizeof(line), -1)) > 0)
    ASSERT_EQ(coro_fd_write_all(fd, line, (size_t)n, NULL, -1), 0);
  ASSERT_EQ(n, 0); /* the client closed */
  ASSERT_EQ(coro_reader_destroy(r), 0);
  ASSERT_EQ(coro_fd_close(fd), 0);
  return NULL;
}

static void *serve(void *arg) {
  server *s = arg;
  for (long i = 0; i < s->nconn; i++) {
    int fd = coro_sock_accept(s->lfd, NULL, NULL, -1);
    ASSERT_TRUE(fd >= 0);
    go(echo_conn, (void *)(intptr_t)fd);
  }
  ASSERT_EQ(coro_fd_close(s->lfd), 0);
  return NULL;
}

static void *client(void *arg) {
  server *s = arg;
  int fd = coro_tcp_dial(s->dial_host, s->port, coro_now() + 10000 * MS);
  ASSERT_TRUE(fd >= 0);
  char msg[64], back[64];
  int len = snprintf(msg, sizeof(msg), "hello from %d\nand again\n", fd);
  ASSERT_EQ(coro_fd_write_all(fd, msg, (size_t)len, NULL, -1), 0);
  coro_reader *r;
  ASSERT_EQ(coro_reader_create(&r, fd, 64), 0);
  ASSERT_EQ(coro_reader_read_full(r, back, (size_t)len, -1), len);
  ASSERT_TRUE(memcmp(msg, back, (size_t)len) == 0);
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  ASSERT_EQ(coro_reader_read(r, back, sizeof(back), -1), 0); /* the server closed too */
  ASSERT_EQ(coro_reader_destroy(r), 0);
  ASSERT_EQ(coro_fd_close(fd), 0);
  s->served++;
  return NULL;
}

static void echo_test(const char *listen_host, const char *dial_host, long nconn) {
  server s = {.nconn = nconn, .dial_host = dial_host};
  s.lfd = coro_tcp_listen(listen_host, 0, 0, -1);
  ASSERT_TRUE(s.lfd >= 0);
  s.port = coro_sock_port(s.lfd);
  ASSERT_TRUE(s.port > 0);
  go(serve, &s);
  for (long i = 0; i < nconn; i++) go(client, &s);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(s.served, nconn);
}

TEST(echo_over_loopback_ipv4) { echo_test("127.0.0.1", "127.0.0.1", 3); }

/* Does this machine have IPv6 loopback? */
static int have_ipv6(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

TEST(echo_over_loopback_ipv6) {
  if (!have_ipv6()) {
    printf("SKIP: no IPv6 loopback on this machine (socket or bind to ::1 failed)\n");
    return;
  }
  echo_test("::1", "[::1]", 3);
}

/* One thread, one scheduler, many connections at once (fewer if the fd limit
 * is lower: each costs two fds). */
TEST(many_concurrent_connections_echo_in_one_thread) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  long n = 1000;
  if ((long)rl.rlim_cur < 2 * n + 64) {
    n = ((long)rl.rlim_cur - 64) / 2;
    printf("fd limit %ld: %ld connections instead of 1000\n", (long)rl.rlim_cur, n);
  }
  ASSERT_TRUE(n > 0);
  echo_test("127.0.0.1", "127.0.0.1", n);
}

/* --- dialing ---------------------------------------------------------------------- */

static void *dial_refused(void *arg) {
  ASSERT_EQ(coro_tcp_dial("127.0.0.1", *(int *)arg, -1), -ECONNREFUSED);
  return NULL;
}

TEST(dial_to_a_closed_port_is_econnrefused) {
  int lfd = coro_tcp_listen("127.0.0.1", 0, 0, 1);
  ASSERT_TRUE(lfd >= 0);
  int port = coro_sock_port(lfd);
  ASSERT_EQ(coro_fd_close(lfd), 0);
  go(dial_refused, &port);
  ASSERT_EQ(coro_run(), 0);
}

static int timed_out;

static void *dial_until_timeout(void *arg) {
  int port = *(int *)arg, open[64], nopen = 0;
  /* Nobody accepts and the backlog is 0: once the accept queue is full the
   * kernel drops new SYNs, so a dial waits until its deadline. */
  for (int i = 0; i < 64 && !timed_out; i++) {
    int fd = coro_tcp_dial("127.0.0.1", port, coro_now() + 50 * MS);
    if (fd == -ETIMEDOUT)
      timed_out = 1;
    else if (fd >= 0)
      open[nopen++] = fd;
    else
      ASSERT_EQ(fd, -ETIMEDOUT); /* prints what came instead */
  }
  while (nopen) ASSERT_EQ(coro_fd_close(open[--nopen]), 0);
  return NULL;
}

TEST(dial_deadline_passes_when_nobody_answers) {
  int lfd = coro_tcp_listen("127.0.0.1", 0, 0, 0);
  ASSERT_TRUE(lfd >= 0);
  int port = coro_sock_port(lfd);
  timed_out = 0;
  go(dial_until_timeout, &port);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(timed_out, 1);
  ASSERT_EQ(coro_fd_close(lfd), 0);
}

static void *accept_with_deadline(void *arg) {
  int lfd = *(int *)arg;
  ASSERT_EQ(coro_sock_accept(lfd, NULL, NULL, coro_now() + 5 * MS), -ETIMEDOUT);
  ASSERT_EQ(coro_sock_accept(lfd, NULL, NULL, 0), -ETIMEDOUT);
  return NULL;
}

TEST(accept_deadline_passes_with_nobody_dialing) {
  int lfd = coro_tcp_listen(NULL, 0, CORO_TCP_REUSEPORT, 4);
  ASSERT_TRUE(lfd >= 0);
  go(accept_with_deadline, &lfd);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_fd_close(lfd), 0);
}

TEST(listen_and_dial_refuse_bad_input) {
  ASSERT_EQ(coro_tcp_listen("localhost", 0, 0, 1), -EINVAL); /* names: not here */
  ASSERT_EQ(coro_tcp_listen("127.0.0.1", 70000, 0, 1), -EINVAL);
  ASSERT_EQ(coro_tcp_listen("127.0.0.1", -1, 0, 1), -EINVAL);
  ASSERT_EQ(coro_tcp_listen("127.0.0.1", 0, 0x100, 1), -EINVAL);
  ASSERT_EQ(coro_tcp_listen("[::1", 0, 0, 1), -EINVAL);
  ASSERT_EQ(coro_tcp_dial(NULL, 80, -1), -EINVAL);
  ASSERT_EQ(coro_tcp_dial("127.0.0.1", 0, -1), -EINVAL);
  ASSERT_EQ(coro_tcp_dial("", 80, -1), -EINVAL);
  ASSERT_EQ(coro_tcp_dial("127.0.0.1", 65536, -1), -EINVAL);
  /* A name needs the offload pool, hence a scheduler. */
  ASSERT_EQ(coro_tcp_dial("example.com", 80, -1), -EDEADLK);
  ASSERT_EQ(coro_sock_port(-1), -EBADF);
  ASSERT_EQ(coro_sock_port(0x7fff), -EBADF);
  int lfd = coro_tcp_listen("127.0.0.1", 0, 0, 1);
  ASSERT_TRUE(lfd >= 0);
  int port = coro_sock_port(lfd);
  ASSERT_EQ(coro_tcp_listen("127.0.0.1", port, 0, 1), -EADDRINUSE);
  ASSERT_EQ(coro_fd_close(lfd), 0);
}

/* --- a peer that resets mid-request -------------------------------------------------- */

static int server_rc;

static void *read_request(void *arg) {
  int lfd = *(int *)arg;
  int fd = coro_sock_accept(lfd, NULL, NULL, -1);
  ASSERT_TRUE(fd >= 0);
  coro_reader *r;
  ASSERT_EQ(coro_reader_create(&r, fd, 128), 0);
  char line[128];
  server_rc = (int)coro_reader_line(r, line, sizeof(line), -1); /* no '\n' ever comes */
  ASSERT_EQ(coro_reader_destroy(r), 0);
  ASSERT_EQ(coro_fd_close(fd), 0);
  return NULL;
}

static void *send_half_then_reset(void *arg) {
  int port = *(int *)arg;
  int fd = coro_tcp_dial("127.0.0.1", port, -1);
  ASSERT_TRUE(fd >= 0);
  ASSERT_EQ(coro_sock_send(fd, "GET /ha", 7, 0, -1), 7);
  for (int i = 0; i < 3; i++) ASSERT_EQ(coro_sched_yield(), 0); /* the server waits for more */
  struct linger lg = {.l_onoff = 1, .l_linger = 0};             /* close sends a RST */
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  ASSERT_EQ(coro_fd_close(fd), 0);
  return NULL;
}

TEST(peer_reset_mid_request_is_econnreset) {
  int lfd = coro_tcp_listen("127.0.0.1", 0, 0, 4);
  ASSERT_TRUE(lfd >= 0);
  int port = coro_sock_port(lfd);
  server_rc = 1;
  go(read_request, &lfd);
  go(send_half_then_reset, &port);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(server_rc, -ECONNRESET);
  ASSERT_EQ(coro_fd_close(lfd), 0);
}

/* --- the buffered reader --------------------------------------------------------------- */

static int sp[2]; /* a socket pair: [0] the reader's side, [1] the writer's */

static void *write_in_pieces(void *arg) {
  const char **pieces = arg;
  for (; *pieces; pieces++) {
    ASSERT_EQ(coro_fd_write_all(sp[1], *pieces, strlen(*pieces), NULL, -1), 0);
    ASSERT_EQ(coro_sleep(coro_now() + MS), 0); /* each piece its own packet */
  }
  ASSERT_EQ(shutdown(sp[1], SHUT_WR), 0);
  return NULL;
}

static void *read_lines(void *arg) {
  (void)arg;
  coro_reader *r;
  ASSERT_EQ(coro_reader_create(&r, sp[0], 16), 0);
  char line[32];
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), 6);
  ASSERT_STR_EQ(line, "hello\n");
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), 1);
  ASSERT_STR_EQ(line, "\n");
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), 12);
  ASSERT_STR_EQ(line, "split line!\n");
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), 4); /* unterminated, then EOF */
  ASSERT_STR_EQ(line, "tail");
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), 0);
  ASSERT_EQ(coro_reader_destroy(r), 0);
  return NULL;
}

static void socket_pair(void) {
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
}

static void close_pair(void) {
  ASSERT_EQ(coro_fd_close(sp[0]), 0);
  ASSERT_EQ(coro_fd_close(sp[1]), 0);
}

TEST(reader_lines_across_packet_boundaries) {
  socket_pair();
  static const char *pieces[] = {"hel", "lo\n\nspl", "it", " line!\nta", "il", NULL};
  go(read_lines, NULL);
  go(write_in_pieces, pieces);
  ASSERT_EQ(coro_run(), 0);
  close_pair();
}

TEST(reader_line_too_long_is_emsgsize) {
  socket_pair();
  ASSERT_EQ(write(sp[1], "0123456789abcdef\nshort\n", 23), 23);
  coro_reader *r;
  ASSERT_EQ(coro_reader_create(&r, sp[0], 64), 0);
  char line[8];
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), -EMSGSIZE);
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), -EMSGSIZE); /* nothing consumed */
  char big[17];
  ASSERT_EQ(coro_reader_read_full(r, big, 17, -1), 17); /* the caller takes it another way */
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), -1), 6);
  ASSERT_STR_EQ(line, "short\n");
  ASSERT_EQ(coro_reader_line(r, line, sizeof(line), 0), -ETIMEDOUT);
  ASSERT_EQ(coro_reader_line(r, line, 1, -1), -EINVAL);
  ASSERT_EQ(coro_reader_line(NULL, line, sizeof(line), -1), -EINVAL);
  ASSERT_EQ(coro_reader_create(&r, sp[0], 4), -EINVAL);
  ASSERT_EQ(coro_reader_destroy(r), 0);
  close_pair();
}

static void *write_frames(void *arg) {
  (void)arg;
  ASSERT_EQ(coro_frame_write(sp[1], "first", 5, -1), 0);
  ASSERT_EQ(coro_frame_write(sp[1], NULL, 0, -1), 0);
  static char big[100000]; /* larger than the socket buffer and the reader's */
  memset(big, 'z', sizeof(big));
  ASSERT_EQ(coro_frame_write(sp[1], big, sizeof(big), -1), 0);
  ASSERT_EQ(coro_frame_write(sp[1], "too long", 8, -1), 0);
  ASSERT_EQ(coro_fd_write_all(sp[1], "\0\0\0\x09half", 8, NULL, -1), 0); /* truncated */
  ASSERT_EQ(shutdown(sp[1], SHUT_WR), 0);
  return NULL;
}

static void *read_frames(void *arg) {
  (void)arg;
  coro_reader *r;
  ASSERT_EQ(coro_reader_create(&r, sp[0], 64), 0);
  static char buf[100000];
  size_t len = 99;
  ASSERT_EQ(coro_reader_frame(r, buf, sizeof(buf), &len, -1), 1);
  ASSERT_EQ(len, 5);
  ASSERT_TRUE(memcmp(buf, "first", 5) == 0);
  ASSERT_EQ(coro_reader_frame(r, buf, sizeof(buf), &len, -1), 1);
  ASSERT_EQ(len, 0);
  ASSERT_EQ(coro_reader_frame(r, buf, sizeof(buf), &len, -1), 1);
  ASSERT_EQ(len, sizeof(buf));
  ASSERT_TRUE(buf[0] == 'z' && buf[sizeof(buf) - 1] == 'z');
  ASSERT_EQ(coro_reader_frame(r, buf, 4, &len, -1), -EMSGSIZE); /* nothing consumed */
  ASSERT_EQ(coro_reader_frame(r, buf, 8, &len, -1), 1);
  ASSERT_EQ(len, 8);
  ASSERT_EQ(coro_reader_frame(r, buf, sizeof(buf), &len, -1), -EPROTO);
  ASSERT_EQ(coro_reader_frame(r, buf, sizeof(buf), &len, -1), 0); /* end of file */
  ASSERT_EQ(coro_reader_destroy(r), 0);
  return NULL;
}

TEST(reader_frames_round_trip_and_refuse_bad_ones) {
  socket_pair();
  go(read_frames, NULL);
  go(write_frames, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(coro_frame_write(sp[1], NULL, 3, -1), -EINVAL);
  close_pair();
}
