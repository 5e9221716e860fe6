/* SPDX-License-Identifier: MIT */
/*
 * version.c - the version of the library that runs, for a program to compare
 * with the header it was compiled with (CORO_VERSION): with a shared library
 * they differ after an upgrade in place.  The values are the header's macros
 * as they were when the library was built.
 */
#include "coro.h"

unsigned coro_version(void) { return (unsigned)CORO_VERSION; }

const char *coro_version_string(void) { return CORO_VERSION_STRING; }
