/* SPDX-License-Identifier: MIT */
/*
 * errors.c - names and messages for every code libcoro returns, in one table.
 *
 * The messages of the generator errors are Python's, so a C program reports
 * the same thing a Python programmer would read.  0 is in the table too: a
 * program that prints every return code names success "OK", not "UNKNOWN".
 */
#include <errno.h>
#include <stddef.h>

#include "coro.h"

static const struct {
  int code;         /* negative code */
  const char *name; /* symbolic name */
  const char *msg;  /* short message */
} table[] = {
    {0, "OK", "success"}, /* what most calls return when all went well */
    {CORO_EDONE, "CORO_EDONE", "generator already finished (StopIteration)"},
    {CORO_EEXIT, "CORO_EEXIT", "generator exit requested (GeneratorExit)"},
    {CORO_EIGNORED, "CORO_EIGNORED", "generator ignored GeneratorExit"},
    {CORO_ELEAKEDDONE, "CORO_ELEAKEDDONE", "generator raised StopIteration"},
    {-EPERM, "EPERM", "operation not permitted here"},
    {-ENOENT, "ENOENT", "no such entry"},
    {-ESRCH, "ESRCH", "no such micro-thread running (already finished)"},
    {-EINTR, "EINTR", "interrupted"},
    {-EIO, "EIO", "input/output error"},
    {-EBADF, "EBADF", "bad file descriptor"},
    {-EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {-ENOMEM, "ENOMEM", "out of memory"},
    {-EACCES, "EACCES", "permission denied"},
    {-EFAULT, "EFAULT", "bad address"},
    {-EBUSY, "EBUSY", "generator already executing (resource busy)"},
    {-EEXIST, "EEXIST", "already exists"},
    {-EINVAL, "EINVAL", "invalid argument"},
    {-EMFILE, "EMFILE", "too many open files"},
    {-ENOSPC, "ENOSPC", "no space left"},
    {-EPIPE, "EPIPE", "broken pipe or closed channel"},
    {-ERANGE, "ERANGE", "result out of range"},
    {-EDEADLK, "EDEADLK", "deadlock avoided"},
    {-ENOSYS, "ENOSYS", "not implemented"},
    {-ENOTSUP, "ENOTSUP", "not supported"},
    {-EOVERFLOW, "EOVERFLOW", "value too large"},
    {-EPROTO, "EPROTO", "protocol error (truncated frame)"},
    {-EMSGSIZE, "EMSGSIZE", "message too long"},
    {-ENOTSOCK, "ENOTSOCK", "not a socket"},
    {-EAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported"},
    {-EADDRINUSE, "EADDRINUSE", "address already in use"},
    {-EADDRNOTAVAIL, "EADDRNOTAVAIL", "address not available"},
    {-ENETUNREACH, "ENETUNREACH", "network unreachable"},
    {-ECONNABORTED, "ECONNABORTED", "connection aborted"},
    {-ECONNRESET, "ECONNRESET", "connection reset by peer"},
    {-ECONNREFUSED, "ECONNREFUSED", "connection refused"},
    {-ETIMEDOUT, "ETIMEDOUT", "timed out"},
    {-ECANCELED, "ECANCELED", "canceled"},
};

static size_t find(int err) {
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (table[i].code == err) return i;
  return (size_t)-1;
}

const char *coro_strerror(int err) {
  size_t i = find(err);
  return i == (size_t)-1 ? "unknown error" : table[i].msg;
}

const char *coro_err_name(int err) {
  size_t i = find(err);
  return i == (size_t)-1 ? "UNKNOWN" : table[i].name;
}
