# SPDX-License-Identifier: MIT
# cmake -DSOURCE_DIR=... -DWORK=... [-DGENERATOR=...] -P test_subproject.cmake
# libcoro inside a parent project (tests/subproject) whose own targets have
# the names of libcoro's programs: it configures, builds and runs with the
# defaults (libcoro builds its libraries only), and it still configures with
# libcoro's tests, examples and benchmarks turned on (every target of libcoro
# is named coro_*).
file(REMOVE_RECURSE ${WORK})
include(${CMAKE_CURRENT_LIST_DIR}/test_run.cmake)

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/subproject -B ${WORK}/default
    -DCORO_SOURCE_DIR=${SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK}/default)
foreach(exe echo httpd primes interleave bench_core readme_example primes_static test/test_smoke)
  run(${WORK}/default/${exe})
  get_filename_component(name ${exe} NAME)
  if(NOT out STREQUAL "1 2 3 ${name}\n")
    message(FATAL_ERROR "${exe} printed '${out}'")
  endif()
endforeach()
run(${CMAKE_CTEST_COMMAND} --test-dir ${WORK}/default --output-on-failure)
if(NOT out MATCHES "100% tests passed, 0 tests failed out of 2\n")
  message(FATAL_ERROR "the parent's ctest ran other tests than its two:\n${out}")
endif()

# Everything of libcoro on: it configures next to the parent's names.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/subproject -B ${WORK}/all
    -DCORO_SOURCE_DIR=${SOURCE_DIR} -DCORO_EXPECT_PROGRAMS=ON
    -DCORO_BUILD_TESTS=ON -DCORO_BUILD_EXAMPLES=ON -DCORO_BUILD_BENCH=ON)
message(STATUS "subproject: the parent's echo, httpd, primes, test/ ... build and run next to libcoro")
