/* SPDX-License-Identifier: MIT */
/*
 * net.c - TCP over loopback: listen, accept, dial, echo over IPv4 and IPv6,
 * refused and timed-out dials, a peer that resets mid-request, a thousand
 * connections in one thread, and the buffered reader's lines and frames.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
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

/* --- accept wakes one acceptor per connection ---------------------------------------- */

#define HOUR_NS (INT64_C(3600) * 1000 * MS)
#define ACCEPTORS 8

static int acc_lfd = -1;      /* the listening socket the acceptors share */
static int acc_accepted;      /* connections accepted so far */
static int acc_most_runnable; /* most other acceptors found runnable by one that accepted */

/* Acceptors not parked on the listener: woken, queued for their turn. */
static int runnable_acceptors(void) {
  coro_info info[64];
  long n = coro_list(info, 64);
  ASSERT_TRUE(n >= 0 && n <= 64);
  int k = 0;
  for (long i = 0; i < n; i++)
    if (!strcmp(info[i].name, "acceptor") && info[i].handle != coro_self() &&
        info[i].state == CORO_WAITING && !info[i].waiting_on)
      k++;
  return k;
}

/* Accepts until the listener is closed; arg, if set, receives each result. */
static void *acceptor_loop(void *arg) {
  for (;;) {
    int fd = coro_sock_accept(acc_lfd, NULL, NULL, coro_now() + HOUR_NS);
    if (arg) *(int *)arg = fd;
    if (fd < 0) return IV(fd);
    int r = runnable_acceptors();
    if (r > acc_most_runnable) acc_most_runnable = r;
    acc_accepted++;
    coro_fd_close(fd);
  }
}

static void spawn_acceptors(int n, coro **out) {
  coro_attr attr = CORO_ATTR_INIT;
  attr.name = "acceptor";
  for (int i = 0; i < n; i++)
    ASSERT_EQ(coro_spawn(out ? &out[i] : NULL, acceptor_loop, NULL, &attr), 0);
}

static void wait_accepted(int n) {
  for (int i = 0; acc_accepted < n; i++) {
    ASSERT_TRUE(i < 100000); /* bounds a hang */
    coro_sleep(coro_now() + MS / 10);
  }
}

/* Dials `arg` connections one at a time, then `arg` more all at once; closes
 * the listener at the end (the acceptors leave with -EBADF). */
static void *dial_one_by_one_then_a_burst(void *arg) {
  int n = (int)VI(arg), port = coro_sock_port(acc_lfd), fds[64];
  for (int i = 0; i < n; i++) {
    int fd = coro_tcp_dial("127.0.0.1", port, coro_now() + HOUR_NS);
    ASSERT_TRUE(fd >= 0);
    wait_accepted(i + 1);
    coro_fd_close(fd);
  }
  for (int i = 0; i < n; i++) ASSERT_TRUE((fds[i] = coro_tcp_dial("127.0.0.1", port, -1)) >= 0);
  wait_accepted(2 * n); /* none left unserved in the queue */
  for (int i = 0; i < n; i++) coro_fd_close(fds[i]);
  coro_fd_close(acc_lfd);
  return NULL;
}

TEST(a_connection_wakes_one_acceptor_not_the_herd) {
  acc_lfd = coro_tcp_listen("127.0.0.1", 0, 0, -1);
  ASSERT_TRUE(acc_lfd >= 0);
  coro *a[ACCEPTORS];
  spawn_acceptors(ACCEPTORS, a);
  go(dial_one_by_one_then_a_burst, IV(20));
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(acc_accepted, 40);
  /* One woken per connection, plus at most the one it passes the wake on to
   * (in case more connections wait): never the other seven. */
  ASSERT_TRUE(acc_most_runnable <= 1);
  for (int i = 0; i < ACCEPTORS; i++) {
    void *r;
    ASSERT_EQ(coro_join(a[i], &r, 0), 0);
    ASSERT_EQ(VI(r), -EBADF);
    ASSERT_EQ(coro_destroy(a[i]), 0);
  }
}

static coro *acc_first;    /* the acceptor that parked first */
static int acc_first_got;  /* what its one accept returned */
static int acc_first_done; /* it returned */

/* Accepts once, into acc_first_got. */
static void *accept_once(void *arg) {
  (void)arg;
  acc_first_got = coro_sock_accept(acc_lfd, NULL, NULL, coro_now() + HOUR_NS);
  acc_first_done = 1;
  if (acc_first_got >= 0) coro_fd_close(acc_first_got);
  return NULL;
}

/* Is c woken but not run yet (queued), rather than parked? */
static int is_woken(coro *c) {
  coro_info info[16];
  long n = coro_list(info, 16);
  for (long i = 0; i < n && i < 16; i++)
    if (info[i].handle == c) return info[i].state == CORO_WAITING && !info[i].waiting_on;
  return 0;
}

/* Another thread connects (blocking) and holds the connection until the
 * server closes it: the connection arrives while the scheduler is busy. */
static void *connect_from_a_thread(void *arg) {
  int port = (int)VI(arg);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  char c;
  ASSERT_EQ(read(fd, &c, 1), 0); /* the acceptor closed it */
  close(fd);
  return NULL;
}

/* Yields (so that the scheduler polls between its turns) until the
 * connection made by another thread has woken acc_first -- queued behind
 * us, not run yet -- then cancels it; closes the listener once another
 * acceptor took the connection. */
static void *cancel_the_woken(void *arg) {
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, connect_from_a_thread, IV(coro_sock_port(acc_lfd))), 0);
  for (int i = 0; !is_woken(acc_first); i++) {
    ASSERT_TRUE(i < 10000000);                          /* bounds a hang */
    ASSERT_EQ(coro_get_state(acc_first), CORO_WAITING); /* it has not run */
    ASSERT_EQ(coro_sched_yield(), 0);
  }
  ASSERT_EQ(coro_cancel(acc_first), 0);
  for (int i = 0; acc_accepted < 1 && !acc_first_done; i++) { /* someone took it */
    ASSERT_TRUE(i < 100000);
    coro_sleep(coro_now() + MS / 10);
  }
  coro_fd_close(acc_lfd);
  ASSERT_EQ(pthread_join(th, NULL), 0);
  (void)arg;
  return NULL;
}

TEST(a_woken_acceptor_cancelled_before_it_runs_passes_the_connection_on) {
  acc_lfd = coro_tcp_listen("127.0.0.1", 0, 0, -1);
  ASSERT_TRUE(acc_lfd >= 0);
  ASSERT_EQ(coro_spawn(&acc_first, accept_once, NULL, NULL), 0);
  coro *others[2];
  spawn_acceptors(2, others);
  go(cancel_the_woken, NULL);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(acc_first_got, -ECANCELED); /* it took nothing */
  ASSERT_EQ(acc_accepted, 1);           /* another one did */
  ASSERT_EQ(coro_destroy(acc_first), 0);
  for (int i = 0; i < 2; i++) ASSERT_EQ(coro_destroy(others[i]), 0);
}

/* An acceptor whose deadline passes leaves; the next connection goes to one
 * still waiting. */
static void *accept_briefly(void *arg) {
  (void)arg;
  return IV(coro_sock_accept(acc_lfd, NULL, NULL, coro_now() + 5 * MS));
}

static void *dial_after(void *arg) {
  ASSERT_EQ(coro_join(arg, NULL, -1), 0); /* it timed out */
  int fd = coro_tcp_dial("127.0.0.1", coro_sock_port(acc_lfd), coro_now() + HOUR_NS);
  ASSERT_TRUE(fd >= 0);
  wait_accepted(1);
  coro_fd_close(fd);
  coro_fd_close(acc_lfd);
  return NULL;
}

TEST(a_timed_out_acceptor_leaves_the_connection_to_the_others) {
  acc_lfd = coro_tcp_listen("127.0.0.1", 0, 0, -1);
  ASSERT_TRUE(acc_lfd >= 0);
  coro *brief;
  ASSERT_EQ(coro_spawn(&brief, accept_briefly, NULL, NULL), 0);
  spawn_acceptors(3, NULL);
  go(dial_after, brief);
  ASSERT_EQ(coro_run(), 0);
  ASSERT_EQ(acc_accepted, 1);
  void *r;
  ASSERT_EQ(coro_result(brief, &r), 0);
  ASSERT_EQ(VI(r), -ETIMEDOUT);
  ASSERT_EQ(coro_destroy(brief), 0);
}
