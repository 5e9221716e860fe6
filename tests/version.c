/* SPDX-License-Identifier: MIT */
/*
 * version.c - the version macros of coro.h, the library's coro_version() and
 * coro_version_string(), and CMake's project version (CORO_CMAKE_VERSION, given
 * by tests/CMakeLists.txt) all say the same; a release bumps them together.
 */
#include <stdio.h>

#include "coro.h"
#include "test.h"

TEST(header_matches_cmake) {
  char v[32];
  snprintf(v, sizeof(v), "%d.%d.%d", CORO_VERSION_MAJOR, CORO_VERSION_MINOR, CORO_VERSION_PATCH);
  ASSERT_STR_EQ(v, CORO_CMAKE_VERSION);
  ASSERT_STR_EQ(CORO_VERSION_STRING, CORO_CMAKE_VERSION);
}

TEST(library_matches_header) {
  ASSERT_EQ(coro_version(), CORO_VERSION);
  ASSERT_STR_EQ(coro_version_string(), CORO_VERSION_STRING);
  ASSERT_EQ(coro_version() >> 16, CORO_VERSION_MAJOR);
  ASSERT_EQ((coro_version() >> 8) & 0xff, CORO_VERSION_MINOR);
  ASSERT_EQ(coro_version() & 0xff, CORO_VERSION_PATCH);
}
