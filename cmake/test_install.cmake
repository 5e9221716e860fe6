# SPDX-License-Identifier: MIT
# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK=... -P test_install.cmake
# Installs the build into a scratch prefix, then builds and runs a consumer
# project against it three ways: find_package (shared and static),
# add_subdirectory, and pkg-config when it is installed.  Then the installed
# tree is moved to another prefix, and find_package and pkg-config must work
# from there: the package names no path of the build machine.
file(REMOVE_RECURSE ${WORK})
include(${CMAKE_CURRENT_LIST_DIR}/test_run.cmake)
function(expect_output exe)
  run(${exe})
  if(NOT out STREQUAL "3 2 1 returned\n")
    message(FATAL_ERROR "${exe} printed '${out}'")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK}/prefix)
foreach(f include/coro.h lib/libcoro.a lib/pkgconfig/coro.pc lib/cmake/coro/coroConfig.cmake
          share/man/man7/libcoro.7 share/man/man3/coro_chan.3 share/man/man3/coro_chan_send.3)
  string(REPLACE "lib/" "${LIBDIR}/" f "${f}")
  if(NOT EXISTS ${WORK}/prefix/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

# The header: coro.h and each file of include/coro/ it includes, under
# include/ as in the source tree (coro.h finds its files as "coro/NAME.h").
include(${CMAKE_CURRENT_LIST_DIR}/headers.cmake)
coro_public_headers(${SOURCE_DIR}/include/coro.h headers)
foreach(h ${headers})
  file(RELATIVE_PATH rel ${SOURCE_DIR} ${h})
  if(NOT EXISTS ${WORK}/prefix/${rel})
    message(FATAL_ERROR "not installed: ${rel}")
  endif()
endforeach()

# A page's other names are symlinks to it (Debian's preference over .so pages).
if(NOT IS_SYMLINK ${WORK}/prefix/share/man/man3/coro_chan_send.3)
  message(FATAL_ERROR "share/man/man3/coro_chan_send.3 is not a symlink to coro_chan.3")
endif()

# find_package(coro) against the installed package.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK}/pkg -DCMAKE_PREFIX_PATH=${WORK}/prefix)
run(${CMAKE_COMMAND} --build ${WORK}/pkg)
expect_output(${WORK}/pkg/consumer)
expect_output(${WORK}/pkg/consumer_static)

# add_subdirectory(libcoro) from the source tree.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK}/sub -DCORO_SOURCE_DIR=${SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK}/sub)
expect_output(${WORK}/sub/consumer)

# pkg-config, when the machine has it (a fresh Debian may not).
find_program(PKG_CONFIG pkg-config)
find_program(CC NAMES cc gcc)
function(pkg_config_consumer prefix exe)
  if(PKG_CONFIG AND CC)
    set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
    run(${PKG_CONFIG} --cflags --libs --static coro)
    string(STRIP "${out}" flags)
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(${CC} ${SOURCE_DIR}/tests/consumer/main.c -o ${exe} ${flags} -Wl,-rpath,${prefix}/${LIBDIR})
    expect_output(${exe})
  else()
    message(STATUS "pkg-config not installed: that route is not checked")
  endif()
endfunction()
pkg_config_consumer(${WORK}/prefix ${WORK}/pc_consumer)

# Relocatable: no installed package file names the build tree, the source
# tree or the prefix it was installed to; moved elsewhere, it still works.
file(GLOB_RECURSE pkg_files ${WORK}/prefix/${LIBDIR}/cmake/*.cmake ${WORK}/prefix/${LIBDIR}/pkgconfig/*.pc)
foreach(f ${pkg_files})
  file(READ ${f} text)
  foreach(path ${BUILD_DIR} ${SOURCE_DIR} ${WORK})
    string(FIND "${text}" "${path}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${f} names the absolute path ${path}:\n${text}")
    endif()
  endforeach()
  # A system path (/usr/lib/.../liburing.so, say): a '/' that does not follow
  # a variable (${_IMPORT_PREFIX}/lib, ${pcfiledir}/..) or a name.
  if(text MATCHES "(^|[^A-Za-z0-9_}.)])(/(usr|lib|lib64|opt|home|tmp|var)/[^\n\"]*)")
    message(FATAL_ERROR "${f} names the absolute path ${CMAKE_MATCH_2}")
  endif()
endforeach()
file(RENAME ${WORK}/prefix ${WORK}/moved)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK}/pkg-moved -DCMAKE_PREFIX_PATH=${WORK}/moved)
run(${CMAKE_COMMAND} --build ${WORK}/pkg-moved)
expect_output(${WORK}/pkg-moved/consumer)
expect_output(${WORK}/pkg-moved/consumer_static)
pkg_config_consumer(${WORK}/moved ${WORK}/pc_consumer_moved)
message(STATUS "install: find_package, add_subdirectory and pkg-config consumers all work, also from a moved prefix")
