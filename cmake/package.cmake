# SPDX-License-Identifier: MIT
# Releases of the top-level build: `make dist` (target coro_dist, the source
# tarball) and `make deb` (CPack, two Debian packages as Debian lays a library
# out: policy 8.1-8.4).
#
#   libcoro0.MINOR  the shared library (its soname names the package: see
#                   docs/RELEASING.md), Depends from dpkg-shlibdeps, a shlibs file
#   libcoro-dev     libcoro.so, libcoro.a, the header (coro.h, coro/*.h), coro.pc,
#                   the CMake package and the manual pages; Depends on the same
#                   version of the first
#
# Each carries usr/share/doc/<package>/copyright (LICENSE), installed only
# into packages (EXCLUDE_FROM_ALL), not by `make install`.

# --- make dist: git archive of HEAD (the tree's files, git's timestamps) --------
find_package(Git QUIET)
set(CORO_DIST ${PROJECT_BINARY_DIR}/libcoro-${PROJECT_VERSION}.tar.gz)
add_custom_target(coro_dist
  COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} rev-parse --git-dir > /dev/null
  COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} archive --format=tar.gz
          --prefix=libcoro-${PROJECT_VERSION}/ -o ${CORO_DIST} HEAD
  COMMAND ${CMAKE_COMMAND} -E echo "${CORO_DIST} (git archive of HEAD: commit first)"
  VERBATIM)

# --- make deb: CPack ------------------------------------------------------------
set(CORO_DEB_RUNTIME libcoro${CORO_SOVERSION})
set(CORO_PACKAGE_MAINTAINER "libcoro authors <maintainers@libcoro.invalid>" CACHE STRING
    "The Maintainer field of the Debian packages (Name <address>)")
foreach(pkg ${CORO_DEB_RUNTIME} libcoro-dev)
  if(pkg STREQUAL libcoro-dev)
    set(comp dev)
  else()
    set(comp runtime)
  endif()
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg}
          RENAME copyright COMPONENT ${comp} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libcoro)
set(CPACK_PACKAGE_VENDOR "the libcoro authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's Description: its first line is the summary (Debian policy 5.6.13).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# Not stripped: libcoro keeps its debug info (CORO_DEBUG_INFO) for the gdb
# extension that libcoro-dev ships (a dh build would move it to a -dbgsym package).
set(CPACK_STRIP_FILES OFF)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CORO_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${CORO_DEB_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "stackful coroutines for C with Python's generator semantics
libcoro gives C the semantics of Python's generators (send, yield, throw,
close, yield from) on stackful coroutines, micro-threads on a cooperative
scheduler with channels, timers, locks and I/O, a pre-fork runner and a
process pool.

This package holds the shared library.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcoro-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "${CORO_DEB_RUNTIME} (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")
set(CPACK_DEBIAN_DEV_DESCRIPTION "stackful coroutines for C -- development files
libcoro gives C the semantics of Python's generators (send, yield, throw,
close, yield from) on stackful coroutines, micro-threads on a cooperative
scheduler with channels, timers, locks and I/O, a pre-fork runner and a
process pool.

This package holds the header (coro.h and coro/*.h), the static library,
the pkg-config file, the CMake package and the manual pages.")
# Compressed manual pages, as Debian has them (CPACK_PRE_BUILD_SCRIPTS: CMake 3.19+).
if(NOT CMAKE_VERSION VERSION_LESS 3.19)
  set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/deb_man_gzip.cmake)
endif()
include(CPack)
