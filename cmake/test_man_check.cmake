# SPDX-License-Identifier: MIT
# cmake -DAWK=awk -DSOURCE_DIR=. -DWORK=build/man-check [-DMAN_PROGRAM=man]
#       -P test_man_check.cmake
# The manual's check (test_man.cmake) can fail, and fails only where it
# should: it runs tools/man.awk and test_man.cmake over edited copies of
# include/coro.h --
#   - a call whose comment lost its codes (coro_mutex_create: it used to take
#     its family's -ETIMEDOUT and -ECANCELED): the check must fail, naming it;
#   - a call that refers to another for its returns ("the errors of
#     coro_fd_read()") with a code of its own: its page lists both, and the
#     check passes;
#   - an unbalanced '[' in a comment: the rendered page is read line by line
#     (not as a CMake list, where '[' opens a bracket): the check passes.
file(READ ${SOURCE_DIR}/include/coro.h header)
function(check name text expect_fail expect_msg)
  set(dir ${WORK}/${name})
  file(REMOVE_RECURSE ${dir})
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/coro.h "${text}")
  execute_process(COMMAND ${CMAKE_COMMAND} -DAWK=${AWK} -DSCRIPT=${SOURCE_DIR}/tools/man.awk
                          -DHEADER=${dir}/coro.h -DOUT=${dir}/man -DVERSION=0 -P ${SOURCE_DIR}/cmake/man.cmake
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: man.cmake failed: ${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -DHEADER=${dir}/coro.h -DMAN=${dir}/man
                          "-DMAN_PROGRAM=${MAN_PROGRAM}" -P ${SOURCE_DIR}/cmake/test_man.cmake
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(expect_fail AND rc EQUAL 0)
    message(FATAL_ERROR "${name}: the check passed, it must fail")
  elseif(NOT expect_fail AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: the check failed: ${err}")
  endif()
  if(NOT "${out}${err}" MATCHES "${expect_msg}")
    message(FATAL_ERROR "${name}: no \"${expect_msg}\" in: ${out}${err}")
  endif()
endfunction()

string(REGEX REPLACE "(A mutex, held by one coroutine at a time: the one that locked it.)\n \\* Errors: -EINVAL \\(out NULL\\), -ENOMEM." "\\1" t "${header}")
if(t STREQUAL header)
  message(FATAL_ERROR "coro_mutex_create's comment is not as this test expects: update it")
endif()
check(no_codes "${t}" TRUE "coro_mutex_create: its comment names no error code")

string(REPLACE "or the errors of coro_fd_read()" "-EPROTO, or the errors of coro_fd_read()" t "${header}")
check(refers "${t}" FALSE "public calls, each with its page")
file(READ ${WORK}/refers/man/man3/coro_reader_read.3 page)
string(REGEX MATCH "\\.BR coro_reader_read \\(\\)\n[^\n]*" entry "${page}")
foreach(c EINVAL EPROTO ETIMEDOUT EBADF)
  if(NOT entry MATCHES "${c}")
    message(FATAL_ERROR "refers: ${c} missing from coro_reader_read's entry: ${entry}")
  endif()
endforeach()

if(NOT MAN_PROGRAM)
  message("SKIPPED: man is not installed: the '[' case needs rendered pages")
  return()
endif()
string(REPLACE "Wait until the counter is zero (0 at once" "Wait until the counter is zero [0 at once" t "${header}")
check(bracket "${t}" FALSE "pages render at 80 columns")
