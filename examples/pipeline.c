/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c - generators at work in C: a lazy pipeline chained with
 * coro_yield_from (Python's `yield from`).
 *
 * Part 1, a pipeline: nothing is computed until the consumer asks for it.
 *
 *     chain(range(1, 10), range(20, 26))   two ranges concatenated with yield from;
 *       -> odd()                           keeps the odd numbers
 *       -> square()                        squares them
 *       -> take the first 7                then closes the pipeline
 *
 * Closing the head closes each stage in turn (close is forwarded through
 * yield from), and every stage's cleanup handler reports it.  The ranges
 * return how many values they produced; `yield from` hands that back to chain.
 *
 * Part 2, recursion: an in-order walk of a binary tree, where each subtree is
 * a generator the parent delegates to with yield from, as in PEP 380.
 */
#include <stdint.h>
#include <stdio.h>

#include "coro.h"

#define V(n) ((void *)(intptr_t)(n))
#define N(p) ((long)(intptr_t)(p))

/* --- part 1: a lazy pipeline -------------------------------------------------- */

typedef struct range_args {
  long lo, hi; /* yields lo, lo+1, ..., hi-1 */
} range_args;

static void *range(void *arg) {
  const range_args *r = arg;
  long n = 0;
  for (long i = r->lo; i < r->hi; i++, n++)
    if (coro_yield(V(i), NULL) < 0) return NULL; /* closed */
  return V(n);                                   /* the value of `yield from range(...)` */
}

static void report_closed(void *name) { printf("  (%s finished)\n", (const char *)name); }

static void *chain(void *arg) {
  range_args *parts = arg;
  long total = 0;
  coro_cleanup_push(report_closed, "chain");
  for (int i = 0; i < 2; i++) {
    coro *sub;
    if (coro_create(&sub, range, &parts[i], NULL) < 0) return coro_fail(-ENOMEM);
    void *count;
    int rc = coro_yield_from(sub, &count);
    coro_destroy(sub);
    if (rc < 0) return coro_fail(rc); /* closed from downstream: pass it on */
    printf("  (range %ld..%ld gave %ld values)\n", parts[i].lo, parts[i].hi - 1, N(count));
    total += N(count);
  }
  return V(total);
}

/* A stage that pulls from `src` and yields what it lets through. */
static void *odd(void *src) {
  coro_cleanup_push(report_closed, "odd");
  void *v;
  CORO_FOREACH(x, (coro *)src) {
    if (N(x) % 2 && coro_yield(x, &v) < 0) return NULL;
  }
  return NULL;
}

static void *square(void *src) {
  coro_cleanup_push(report_closed, "square");
  CORO_FOREACH(x, (coro *)src) {
    if (coro_yield(V(N(x) * N(x)), NULL) < 0) return NULL;
  }
  return NULL;
}

static int pipeline(void) {
  range_args parts[2] = {{1, 10}, {20, 26}};
  coro *c, *o, *s;
  if (coro_create(&c, chain, parts, NULL) < 0) return -1;
  if (coro_create(&o, odd, c, NULL) < 0) return -1;
  if (coro_create(&s, square, o, NULL) < 0) return -1;

  printf("squares of the odd numbers of 1..9 then 20..25, the first 7:\n");
  int taken = 0;
  CORO_FOREACH(v, s) {
    printf("%ld\n", N(v));
    if (++taken == 7) break;
  }
  /* Closing the last stage makes it return; destroying the earlier ones
   * closes them: each runs its cleanup. */
  coro_destroy(s);
  coro_destroy(o);
  coro_destroy(c);
  return 0;
}

/* --- part 2: recursive yield from --------------------------------------------- */

typedef struct node {
  const char *key;
  struct node *left, *right;
} node;

static void *inorder(void *arg) {
  node *n = arg;
  if (!n) return NULL;
  coro *sub;
  if (n->left) {
    if (coro_create(&sub, inorder, n->left, NULL) < 0) return coro_fail(-ENOMEM);
    int rc = coro_yield_from(sub, NULL);
    coro_destroy(sub);
    if (rc < 0) return coro_fail(rc);
  }
  if (coro_yield((void *)n->key, NULL) < 0) return NULL;
  if (n->right) {
    if (coro_create(&sub, inorder, n->right, NULL) < 0) return coro_fail(-ENOMEM);
    int rc = coro_yield_from(sub, NULL);
    coro_destroy(sub);
    if (rc < 0) return coro_fail(rc);
  }
  return NULL;
}

static int tree(void) {
  node a = {"apple", NULL, NULL}, c = {"cherry", NULL, NULL}, e = {"elder", NULL, NULL};
  node g = {"grape", NULL, NULL}, b = {"banana", &a, &c}, f = {"fig", &e, &g};
  node d = {"date", &b, &f};
  coro *walk;
  if (coro_create(&walk, inorder, &d, NULL) < 0) return -1;
  printf("in-order walk of a tree, one generator per subtree:\n");
  CORO_FOREACH(key, walk) printf("%s\n", (const char *)key);
  int rc = coro_result(walk, NULL);
  coro_destroy(walk);
  return rc;
}

int main(void) { return pipeline() == 0 && tree() == 0 ? 0 : 1; }
