/* SPDX-License-Identifier: MIT */
/*
 * chan_producer_consumer.c - the article's producer/consumer again (see
 * producer_consumer.c), but as two micro-threads talking over two unbuffered
 * channels instead of a generator driven with send/yield.  It prints exactly
 * the same 15 lines.
 *
 * The generator's `n = yield r` is one exchange both ways; with channels it
 * is two rendezvous: the consumer sends r on `replies`, then receives n on
 * `requests`.  The producer's `r = c.send(n)` is the mirror image: send n,
 * then receive r.  c.send(None), which starts the generator, becomes
 * receiving the consumer's first, empty reply; c.close() becomes closing
 * `requests`, which makes the consumer's pending receive return -EPIPE.
 *
 *     producer                         consumer
 *     recv(replies)      <-- '' ---    send(replies, r = '')
 *     send(requests, 1)  --- 1 -->     recv(requests)    prints Consuming 1
 *     recv(replies)      <-- OK ---    send(replies, '200 OK')
 *     ...
 *     close(requests)    -- EPIPE ->   recv(requests) fails: return
 */
#include <errno.h>
#include <stdio.h>

#include "coro.h"

typedef struct wires {
  coro_chan *requests; /* long: producer -> consumer */
  coro_chan *replies;  /* const char *: consumer -> producer */
} wires;

static void *consumer(void *arg) {
  const wires *w = arg;
  const char *r = "";
  for (;;) {
    long n;
    int rc = coro_chan_send(w->replies, &r, -1);           /* n = yield r: hand r over ... */
    if (rc == 0) rc = coro_chan_recv(w->requests, &n, -1); /* ... then wait for n */
    if (rc == -EPIPE) return NULL; /* the producer closed us (GeneratorExit) */
    if (rc < 0) return coro_fail(rc);
    if (!n) return NULL;
    printf("[CONSUMER] Consuming %ld...\n", n);
    r = "200 OK";
  }
}

static void *producer(void *arg) {
  const wires *w = arg;
  const char *r;
  int rc = coro_chan_recv(w->replies, &r, -1); /* c.send(None): start the consumer */
  long n = 0;
  while (rc == 0 && n < 5) {
    n = n + 1;
    printf("[PRODUCER] Producing %ld...\n", n);
    rc = coro_chan_send(w->requests, &n, -1); /* r = c.send(n) */
    if (rc == 0) rc = coro_chan_recv(w->replies, &r, -1);
    if (rc == 0) printf("[PRODUCER] Consumer return: %s\n", r);
  }
  coro_chan_close(w->requests); /* c.close() */
  return rc < 0 ? coro_fail(rc) : NULL;
}

int main(void) {
  wires w = {NULL, NULL};
  coro *p = NULL, *c = NULL;
  int rc = coro_chan_create(&w.requests, sizeof(long), 0);
  if (rc == 0) rc = coro_chan_create(&w.replies, sizeof(const char *), 0);
  if (rc == 0) rc = coro_spawn(&c, consumer, &w, NULL);
  if (rc == 0) rc = coro_spawn(&p, producer, &w, NULL);
  if (rc < 0 && c) coro_cancel(c); /* a micro-thread cancelled before it starts never runs */
  if (c) {
    int run = coro_run();
    if (rc == 0) rc = run;
  }
  if (rc == 0) rc = coro_result(p, NULL);
  if (rc == 0) rc = coro_result(c, NULL);
  if (p) coro_destroy(p);
  if (c) coro_destroy(c);
  if (w.requests) coro_chan_destroy(w.requests);
  if (w.replies) coro_chan_destroy(w.replies);
  if (rc < 0) {
    fprintf(stderr, "chan_producer_consumer: %s (%s)\n", coro_strerror(rc), coro_err_name(rc));
    return 1;
  }
  return 0;
}
