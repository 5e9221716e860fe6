/* SPDX-License-Identifier: MIT */
/*
 * producer_consumer.c - the article's lock-free producer/consumer, line for
 * line.  The consumer is a generator: `n = yield r` becomes
 * coro_yield(r, &n); the producer drives it with coro_send() and finally
 * closes it, which makes the consumer's pending yield return CORO_EEXIT
 * (Python's GeneratorExit).
 *
 *     def consumer():                      def produce(c):
 *         r = ''                               c.send(None)
 *         while True:                          n = 0
 *             n = yield r                      while n < 5:
 *             if not n:                            n = n + 1
 *                 return                           print('[PRODUCER] Producing %s...' % n)
 *             print('[CONSUMER] ...' % n)          r = c.send(n)
 *             r = '200 OK'                         print('[PRODUCER] Consumer return: %s' % r)
 *                                              c.close()
 */
#include <stdint.h>
#include <stdio.h>

#include "coro.h"

static void *consumer(void *arg) {
  const char *r = "";
  (void)arg;
  for (;;) {
    void *in;
    int rc = coro_yield((void *)r, &in);
    if (rc < 0) return coro_fail(rc); /* closed (CORO_EEXIT) or an error thrown in */
    intptr_t n = (intptr_t)in;
    if (!n) return NULL;
    printf("[CONSUMER] Consuming %ld...\n", (long)n);
    r = "200 OK";
  }
}

static int produce(coro *c) {
  if (coro_send(c, NULL, NULL) != CORO_YIELDED) return -1;
  intptr_t n = 0;
  while (n < 5) {
    n = n + 1;
    printf("[PRODUCER] Producing %ld...\n", (long)n);
    void *r;
    if (coro_send(c, (void *)n, &r) != CORO_YIELDED) return -1;
    printf("[PRODUCER] Consumer return: %s\n", (const char *)r);
  }
  return coro_close(c);
}

int main(void) {
  coro *c;
  if (coro_create(&c, consumer, NULL, NULL) < 0) {
    fputs("producer_consumer: cannot create the consumer\n", stderr);
    return 1;
  }
  int rc = produce(c);
  coro_destroy(c);
  return rc == 0 ? 0 : 1;
}
