/* SPDX-License-Identifier: MIT */
/*
 * http.h - the HTTP/1.1 request syntax of examples/httpd.c (RFC 9112, RFC
 * 9110): parsing a request head, deciding which limit a head too large
 * broke, decoding a path, and a chunked body decoder.  No I/O and no
 * allocation: the server reads, these functions look at its bytes.
 *
 * The answer to a bad request is the status these functions return (400,
 * 413, 414, 417, 431, 501, 505); 0 means go on.  A parsed request points into
 * the caller's buffer, which must stay put while the request is used.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 8192       /* request line + headers (or trailers), bytes: else 431 */
#define HTTP_HEADERS_MAX 64      /* header (or trailer) lines: else 431 */
#define HTTP_TARGET_MAX 4096     /* request-target, bytes: else 414 */
#define HTTP_CHUNK_LINE_MAX 4096 /* a chunk's size line, extensions included: else 400 */

/* What the server knows of a method (RFC 9110 9, RFC 5789). */
typedef enum http_method {
  HTTP_GET,     /* GET */
  HTTP_HEAD,    /* HEAD */
  HTTP_KNOWN,   /* POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH: 405 with Allow */
  HTTP_UNKNOWN, /* any other token (methods are case-sensitive): 501 */
} http_method;

typedef struct http_request {
  http_method method;      /* which one */
  char *target;            /* origin-form, or absolute-form's path and query: from '/'; any
                              other form ("*", host:port, a bare word) as it came */
  size_t target_len;       /* its length (>= 1) */
  int minor;               /* HTTP/1.minor */
  int keep_alive;          /* the connection stays open after the answer */
  int chunked;             /* Transfer-Encoding: chunked (content_length is then 0) */
  int expect_continue;     /* Expect: 100-continue, HTTP/1.1 */
  uint64_t content_length; /* body bytes that follow the head (Content-Length) */
} http_request;

/* Parse the head p[0..n) (request line and header lines; it ends with an
 * empty line).  The absolute-form's empty path is written as "/" into p.
 * Returns 0, or the status to answer: 400 (malformed; a missing, doubled or
 * invalid Host; Content-Length with Transfer-Encoding; chunked not last or
 * twice; Transfer-Encoding in HTTP/1.0), 414 (target longer than
 * HTTP_TARGET_MAX), 417 (an expectation other than 100-continue), 431 (more
 * than HTTP_HEADERS_MAX header lines), 501 (a transfer coding other than
 * chunked), 505 (not HTTP/1.x). */
int http_parse_head(char *p, size_t n, http_request *rq);

/* A head p[0..n) longer than HTTP_HEAD_MAX (complete or not): 414 if its
 * request-target (as far as it came) is longer than HTTP_TARGET_MAX, else 431. */
int http_too_large(const char *p, size_t n);

/* Decode the path of target t[0..n) in place (query dropped, %XX decoded),
 * NUL-terminate it (t[n] must be writable), and check it: it starts with '/'
 * and has no ".." segment and no NUL.  Returns its length, or -1 (400). */
long http_decode_path(char *t, size_t n);

/* Case-insensitive comparison of p[0..n) with the lower-case string s. */
int http_equals_ci(const char *p, size_t n, const char *s);

/* A chunked body (RFC 9112 7.1), decoded as its bytes come, in pieces of any
 * size: chunk sizes in hex (an overflow is 400), chunk extensions checked
 * against their grammar and ignored, data counted (more than `limit` decoded
 * bytes is 413) and skipped, trailer fields checked like header fields and
 * ignored (beyond HTTP_HEAD_MAX bytes or HTTP_HEADERS_MAX lines: 431).  Every
 * line of it must end with CRLF (a bare LF is 400): its framing leaves no
 * room for two readings of one body. */
typedef struct http_chunked {
  int state;      /* where in the grammar the next byte goes */
  uint64_t size;  /* the size being read, then the chunk's data bytes still to skip */
  uint64_t total; /* decoded (data) bytes so far */
  uint64_t limit; /* most decoded bytes allowed */
  size_t line;    /* bytes of the size line so far */
  size_t trailer; /* bytes of the trailer section so far */
  int trailers;   /* its field lines so far */
} http_chunked;

void http_chunked_init(http_chunked *d, uint64_t limit);

/* Feed p[0..n).  Returns 0 when all n bytes were taken and the body goes
 * on, 1 when it ended (*used: how many of the n bytes were its last; what
 * follows is the next request), or 400, 413, 431. */
int http_chunked_feed(http_chunked *d, const char *p, size_t n, size_t *used);

#endif
