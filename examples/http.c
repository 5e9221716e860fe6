/* SPDX-License-Identifier: MIT */
/*
 * http.c - the request syntax of examples/httpd.c: RFC 9112's request line
 * (3), its target forms (3.2), the header fields the server acts on (Host,
 * Content-Length, Transfer-Encoding, Connection, Expect), and the chunked
 * transfer coding (7.1).  See http.h for the contract.
 *
 * Strict where a lenient reading could frame a message two ways (request
 * smuggling): one Content-Length value, no Content-Length with
 * Transfer-Encoding, chunked last and once, CRLF after every chunk line; no
 * obs-fold, no whitespace before a header's colon.  Lenient where RFC 9112
 * allows it and nothing can go wrong: a bare LF ends a head line, empty list
 * elements are skipped.
 */
#include "http.h"

#include <string.h>

/* RFC 9110 tchar: the characters of a method, a header name, a token. */
static int is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 'a' - 'A') : c;
}

int http_equals_ci(const char *p, size_t n, const char *s) {
  if (strlen(s) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)p[i]) != (unsigned char)s[i]) return 0;
  return 1;
}

static int hex(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* --- the request line ----------------------------------------------------------------- */

static http_method method_of(const char *m, size_t n) {
  static const char *const known[] = {"POST",    "PUT",   "DELETE", "CONNECT",
                                      "OPTIONS", "TRACE", "PATCH"};
  if (n == 3 && memcmp(m, "GET", 3) == 0) return HTTP_GET;
  if (n == 4 && memcmp(m, "HEAD", 4) == 0) return HTTP_HEAD;
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strlen(known[i]) == n && memcmp(m, known[i], n) == 0) return HTTP_KNOWN;
  return HTTP_UNKNOWN;
}

/* RFC 3986 unreserved and sub-delims: the characters of a reg-name. */
static int is_host_char(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c != 0 && strchr("-._~!$&'()*+,;=", c) != NULL;
}

/* uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2): a reg-name (its
 * characters and %XX), an IPv4 address (a reg-name too), or an IP literal in
 * brackets (checked for its characters only), then digits after a colon.
 * need_host: the host may not be empty (an "http" URI's may not). */
static int valid_authority(const char *p, size_t n, int need_host) {
  const unsigned char *u = (const unsigned char *)p;
  size_t i = 0;
  if (n > 0 && p[0] == '[') {
    for (i = 1; i < n && p[i] != ']'; i++)
      if (!is_host_char(u[i]) && p[i] != ':') return 0;
    if (i >= n || i == 1) return 0; /* no ']', or nothing between */
    i++;
  } else {
    while (i < n && p[i] != ':') {
      if (p[i] == '%') {
        if (i + 2 >= n || hex(u[i + 1]) < 0 || hex(u[i + 2]) < 0) return 0;
        i += 3;
      } else if (is_host_char(u[i])) {
        i++;
      } else {
        return 0; /* a space, '/', '@' (userinfo), a control... */
      }
    }
    if (i == 0 && need_host) return 0;
  }
  if (i == n) return 1;
  if (p[i] != ':') return 0;
  for (i++; i < n; i++)
    if (u[i] < '0' || u[i] > '9') return 0;
  return 1;
}

/* The absolute-form "http://authority/path?query" (or https) in t[0..*n):
 * checks the authority, then makes *t, *n the path and query alone.  An
 * empty path becomes "/", written over the authority's last byte (the
 * authority is not needed any more: the server has one site).  Returns 1
 * (it was that form), 0 (another form), -1 (a bad authority: 400). */
static int absolute_form(char **t, size_t *n) {
  size_t skip = *n >= 7 && http_equals_ci(*t, 7, "http://")    ? 7
                : *n >= 8 && http_equals_ci(*t, 8, "https://") ? 8
                                                               : 0;
  if (skip == 0) return 0;
  char *a = *t + skip;
  size_t left = *n - skip, an = 0;
  while (an < left && a[an] != '/' && a[an] != '?' && a[an] != '#') an++;
  if (!valid_authority(a, an, 1)) return -1;
  char *path = a + an;
  size_t pn = left - an;
  if (pn == 0 || path[0] != '/') {
    path--;
    *path = '/';
    pn++;
  }
  *t = path;
  *n = pn;
  return 1;
}

/* --- header fields ---------------------------------------------------------------------- */

/* The Connection header: a comma-separated list of tokens. */
static void connection_tokens(const char *v, size_t n, int *close, int *keep) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (is_ows(v[i]) || v[i] == ',')) i++;
    size_t b = i;
    while (i < n && v[i] != ',' && !is_ows(v[i])) i++;
    if (http_equals_ci(v + b, i - b, "close")) *close = 1;
    if (http_equals_ci(v + b, i - b, "keep-alive")) *keep = 1;
  }
}

/* What the Transfer-Encoding lines of a request said, all lines together. */
typedef struct codings {
  int seen;         /* a Transfer-Encoding line came */
  int chunked;      /* how many codings listed were chunked (empty elements skipped) */
  int last_chunked; /* the last one listed was chunked */
  int unknown;      /* how many were another coding */
} codings;

static void transfer_codings(const char *v, size_t n, codings *tc) {
  tc->seen = 1;
  for (size_t i = 0; i < n;) {
    size_t e = i;
    while (e < n && v[e] != ',') e++;
    size_t b = i, end = e;
    while (b < end && is_ows(v[b])) b++;
    while (end > b && is_ows(v[end - 1])) end--;
    if (end > b) {
      int chunked = http_equals_ci(v + b, end - b, "chunked");
      tc->chunked += chunked;
      tc->unknown += !chunked;
      tc->last_chunked = chunked;
    }
    i = e + 1;
  }
}

/* The message's framing from its Transfer-Encoding, if any: 0, or a status. */
static int framing(const codings *tc, int lengths, http_request *rq) {
  if (!tc->seen) return 0;
  if (rq->minor == 0) return 400;    /* 6.1: HTTP/1.0 framing with it is faulty */
  if (lengths) return 400;           /* 6.3: both, a smuggling attempt */
  if (!tc->last_chunked) return 400; /* 6.3: no length can be known (and no list at all) */
  if (tc->chunked > 1) return 400;   /* 7.1: chunked applied once */
  if (tc->unknown) return 501;       /* 6.1: a coding the server does not know */
  rq->chunked = 1;
  return 0;
}

/* --- the head --------------------------------------------------------------------------- */

int http_parse_head(char *p, size_t n, http_request *rq) {
  const unsigned char *u = (const unsigned char *)p;
  char *nl = memchr(p, '\n', n);
  if (!nl) return 400;
  size_t le = (size_t)(nl - p), i = 0;
  if (le > 0 && p[le - 1] == '\r') le--;
  /* method SP target SP HTTP/1.x */
  while (i < le && is_tchar(u[i])) i++;
  if (i == 0 || i >= le || p[i] != ' ') return 400;
  rq->method = method_of(p, i++);
  size_t t = i;
  while (i < le && u[i] > 0x20 && u[i] < 0x7f) i++;
  if (i == t || i >= le || p[i] != ' ') return 400;
  rq->target = p + t;
  rq->target_len = i - t;
  if (rq->target_len > HTTP_TARGET_MAX) return 414;
  i++;
  if (le - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 6] != '.') return 400;
  unsigned char major = u[i + 5], minor = u[i + 7];
  if (major < '0' || major > '9' || minor < '0' || minor > '9') return 400;
  if (major != '1') return 505;
  rq->minor = minor - '0';
  int absolute = absolute_form(&rq->target, &rq->target_len);
  if (absolute < 0) return 400;

  /* header lines, up to the empty one */
  int close = 0, keep = 0, hosts = 0, lengths = 0, count = 0, expect = 0;
  codings tc = {0, 0, 0, 0};
  rq->content_length = 0;
  rq->chunked = rq->expect_continue = 0;
  size_t pos = (size_t)(nl - p) + 1;
  for (;;) {
    nl = memchr(p + pos, '\n', n - pos);
    if (!nl) return 400; /* cannot happen: the head ends with an empty line */
    size_t end = (size_t)(nl - p);
    if (end > pos && p[end - 1] == '\r') end--;
    if (end == pos) break; /* the empty line */
    if (++count > HTTP_HEADERS_MAX) return 431;
    size_t k = pos;
    while (k < end && is_tchar(u[k])) k++;
    if (k == pos || k >= end || p[k] != ':') return 400; /* also obs-fold, space before ':' */
    size_t name = pos, name_len = k - pos, v = k + 1;
    for (size_t j = v; j < end; j++)
      if ((u[j] < 0x20 && u[j] != '\t') || u[j] == 0x7f) return 400; /* CR, NUL, controls */
    while (v < end && is_ows(p[v])) v++;
    size_t ve = end;
    while (ve > v && is_ows(p[ve - 1])) ve--;
    if (http_equals_ci(p + name, name_len, "host")) {
      /* RFC 9112 3.2: exactly one, valid even where the absolute-form overrides it */
      if (++hosts > 1 || !valid_authority(p + v, ve - v, 0)) return 400;
    } else if (http_equals_ci(p + name, name_len, "content-length")) {
      uint64_t len = 0;
      if (ve == v) return 400;
      for (size_t j = v; j < ve; j++) {
        if (u[j] < '0' || u[j] > '9' || len > (UINT64_MAX - 9) / 10) return 400;
        len = len * 10 + (uint64_t)(u[j] - '0');
      }
      if (lengths++ && len != rq->content_length) return 400;
      rq->content_length = len;
    } else if (http_equals_ci(p + name, name_len, "transfer-encoding")) {
      transfer_codings(p + v, ve - v, &tc);
    } else if (http_equals_ci(p + name, name_len, "connection")) {
      connection_tokens(p + v, ve - v, &close, &keep);
    } else if (http_equals_ci(p + name, name_len, "expect")) {
      /* RFC 9110 10.1.1: 100-continue is the one expectation; HTTP/1.0 ignores it */
      if (http_equals_ci(p + v, ve - v, "100-continue"))
        expect = 1;
      else if (ve > v && rq->minor >= 1)
        return 417;
    }
    pos = (size_t)(nl - p) + 1;
  }
  /* RFC 9112 3.2: an HTTP/1.1 request has a Host, in absolute-form too (its
   * value is then ignored, the target's host used instead: 3.2.2) */
  if (rq->minor >= 1 && hosts == 0) return 400;
  int status = framing(&tc, lengths, rq);
  if (status) return status;
  if (rq->chunked) rq->content_length = 0;
  rq->expect_continue = expect && rq->minor >= 1;
  rq->keep_alive = !close && (rq->minor >= 1 || keep);
  return 0;
}

int http_too_large(const char *p, size_t n) {
  const unsigned char *u = (const unsigned char *)p;
  size_t i = 0;
  while (i < n && is_tchar(u[i])) i++;
  if (i == 0 || i >= n || p[i] != ' ') return 431;
  size_t t = ++i;
  while (i < n && u[i] > 0x20 && u[i] < 0x7f) i++;
  return i - t > HTTP_TARGET_MAX ? 414 : 431;
}

long http_decode_path(char *t, size_t n) {
  size_t q = 0, o = 0;
  while (q < n && t[q] != '?' && t[q] != '#') q++;
  if (q == 0 || t[0] != '/') return -1;
  for (size_t i = 0; i < q; i++) {
    unsigned char ch = (unsigned char)t[i];
    if (ch == '%') {
      int h1 = i + 2 < q ? hex((unsigned char)t[i + 1]) : -1;
      int h2 = i + 2 < q ? hex((unsigned char)t[i + 2]) : -1;
      if (h1 < 0 || h2 < 0) return -1;
      ch = (unsigned char)(h1 * 16 + h2);
      if (ch == 0) return -1;
      i += 2;
    }
    t[o++] = (char)ch;
  }
  t[o] = '\0';                 /* o <= q <= n */
  for (size_t s = 0; s < o;) { /* every segment between slashes */
    size_t e = s;
    while (e < o && t[e] != '/') e++;
    if (e - s == 2 && t[s] == '.' && t[s + 1] == '.') return -1;
    s = e + 1;
  }
  return (long)o;
}

/* --- the chunked coding (RFC 9112 7.1) ------------------------------------------------------
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )
 *
 * One state per place in this grammar; the decoder takes one byte at a time
 * except for chunk data, which it skips in one step. */

enum {
  SIZE_FIRST,      /* a chunk-size's first hex digit */
  SIZE,            /* its other digits, or what follows them */
  EXT_BWS,         /* whitespace after the size or a value: only ';' may follow */
  EXT_NAME_FIRST,  /* after ';': a name's first tchar */
  EXT_NAME,        /* in a name */
  EXT_NAME_BWS,    /* whitespace after a name: '=' or ';' */
  EXT_VALUE_FIRST, /* after '=': a token or a quoted-string */
  EXT_TOKEN,       /* in a token value */
  EXT_QUOTED,      /* in a quoted-string */
  EXT_QUOTED_PAIR, /* after a backslash in it */
  EXT_QUOTED_END,  /* after its closing quote */
  SIZE_LF,         /* the LF of the size line's CRLF */
  DATA,            /* chunk data: `size` bytes to skip */
  DATA_CR,         /* the CRLF after the data */
  DATA_LF,
  TRAILER_FIRST, /* a trailer field's first byte, or the CR of the final CRLF */
  TRAILER_NAME,  /* in a field name */
  TRAILER_VALUE, /* after its ':' */
  TRAILER_LF,    /* the LF ending a field line */
  END_LF,        /* the LF of the final CRLF */
};

void http_chunked_init(http_chunked *d, uint64_t limit) {
  *d = (http_chunked){.state = SIZE_FIRST, .limit = limit};
}

/* Where the byte c leads from an extension state (-1: nowhere, 400). */
static int ext_step(int state, unsigned char c) {
  int ws = c == ' ' || c == '\t';
  switch (state) {
  case EXT_BWS:
    return ws ? EXT_BWS : c == ';' ? EXT_NAME_FIRST : -1;
  case EXT_NAME_FIRST:
    return ws ? EXT_NAME_FIRST : is_tchar(c) ? EXT_NAME : -1;
  case EXT_NAME: /* what may follow its whitespace, or CR */
    if (is_tchar(c)) return EXT_NAME;
    return c == '\r' ? SIZE_LF : ext_step(EXT_NAME_BWS, c);
  case EXT_NAME_BWS:
    return ws ? EXT_NAME_BWS : c == '=' ? EXT_VALUE_FIRST : c == ';' ? EXT_NAME_FIRST : -1;
  case EXT_VALUE_FIRST:
    return ws ? EXT_VALUE_FIRST : c == '"' ? EXT_QUOTED : is_tchar(c) ? EXT_TOKEN : -1;
  case EXT_TOKEN: /* what may follow a quoted value */
    return is_tchar(c) ? EXT_TOKEN : ext_step(EXT_QUOTED_END, c);
  case EXT_QUOTED_END:
    return ws ? EXT_BWS : c == ';' ? EXT_NAME_FIRST : c == '\r' ? SIZE_LF : -1;
  case EXT_QUOTED: /* qdtext: HTAB, SP, VCHAR but '"' and '\\', obs-text */
    if (c == '"') return EXT_QUOTED_END;
    if (c == '\\') return EXT_QUOTED_PAIR;
    return c == '\t' || (c >= 0x20 && c != 0x7f) ? EXT_QUOTED : -1;
  default: /* EXT_QUOTED_PAIR: HTAB, SP, VCHAR, obs-text */
    return c == '\t' || (c >= 0x20 && c != 0x7f) ? EXT_QUOTED : -1;
  }
}

/* The states that take one fixed byte: that byte, and the state after it. */
static const struct {
  unsigned char byte; /* the one byte allowed */
  int next;           /* where it leads */
} fixed[] = {[DATA_CR] = {'\r', DATA_LF},
             [DATA_LF] = {'\n', SIZE_FIRST},
             [TRAILER_LF] = {'\n', TRAILER_FIRST}};

int http_chunked_feed(http_chunked *d, const char *p, size_t n, size_t *used) {
  const unsigned char *u = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = u[i];
    if (d->state <= SIZE_LF && ++d->line > HTTP_CHUNK_LINE_MAX) return 400;
    if (d->state >= TRAILER_FIRST && ++d->trailer > HTTP_HEAD_MAX) return 431;
    switch (d->state) {
    case SIZE_FIRST:
    case SIZE: {
      int h = hex(c);
      if (h >= 0) {
        if (d->size > UINT64_MAX >> 4) return 400; /* it would overflow */
        d->size = d->size << 4 | (uint64_t)h;
        d->state = SIZE;
      } else if (d->state == SIZE_FIRST) {
        return 400;
      } else {
        d->state = ext_step(EXT_QUOTED_END, c); /* what may follow a value may follow the size */
        if (d->state < 0) return 400;
      }
      break;
    }
    case SIZE_LF:
      if (c != '\n') return 400;
      if (d->size > d->limit - d->total) return 413;
      d->total += d->size;
      d->line = 0;
      d->state = d->size ? DATA : TRAILER_FIRST;
      break;
    case DATA: {
      size_t take = n - i < d->size ? n - i : (size_t)d->size;
      d->size -= take;
      i += take - 1; /* the loop adds the last one */
      if (d->size == 0) d->state = DATA_CR;
      break;
    }
    case DATA_CR: /* not CR: more data than the size said, or a bare LF */
    case DATA_LF:
    case TRAILER_LF:
      if (c != fixed[d->state].byte) return 400;
      d->state = fixed[d->state].next;
      break;
    case TRAILER_FIRST:
      if (c == '\r') {
        d->state = END_LF;
      } else if (is_tchar(c)) {
        if (++d->trailers > HTTP_HEADERS_MAX) return 431;
        d->state = TRAILER_NAME;
      } else {
        return 400; /* obs-fold, a bare LF, garbage */
      }
      break;
    case TRAILER_NAME:
      if (c == ':')
        d->state = TRAILER_VALUE;
      else if (!is_tchar(c))
        return 400;
      break;
    case TRAILER_VALUE:
      if (c == '\r')
        d->state = TRAILER_LF;
      else if ((c < 0x20 && c != '\t') || c == 0x7f)
        return 400;
      break;
    case END_LF:
      if (c != '\n') return 400;
      *used = i + 1;
      return 1;
    default: /* the extensions */
      d->state = ext_step(d->state, c);
      if (d->state < 0) return 400;
    }
  }
  *used = n;
  return 0;
}
