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
#   - a call whose comment names codes only outside what it says it returns
#     (coro_fail without its "Never fails": it records -EINVAL and
#     CORO_ELEAKEDDONE for its coroutine, it returns neither): those are not
#     its errors, so the check must fail, naming it; and on the header as it
#     is, no page lists a code its call does not return (coro_chan_select's
#     -EPIPE goes to a case's result, coro_close returns 0 for CORO_EEXIT);
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

string(REPLACE "  Never fails: it always returns NULL." "" t "${header}")
if(t STREQUAL header)
  message(FATAL_ERROR "coro_fail's comment is not as this test expects: update it")
endif()
check(recorded "${t}" TRUE "coro_fail: its comment names no error code")

check(as_is "${header}" FALSE "public calls, each with its page")
foreach(t coro_chan:coro_chan_select:EPIPE coro_send:coro_close:CORO_EEXIT
          coro_yield:coro_fail:EINVAL)
  string(REPLACE ":" ";" t "${t}")
  list(GET t 0 page)
  list(GET t 1 call)
  list(GET t 2 code)
  file(READ ${WORK}/as_is/man/man3/${page}.3 text)
  string(REGEX MATCH "\\.BR ${call} \\(\\)\n[^\n]*" entry "${text}")
  if(NOT entry OR entry MATCHES "${code}")
    message(FATAL_ERROR "as_is: ${call}'s ERRORS entry lists ${code}, which it does not return: ${entry}")
  endif()
endforeach()

if(NOT MAN_PROGRAM)
  message("SKIPPED: man is not installed: the '[' case needs rendered pages")
  return()
endif()
string(REPLACE "Wait until the counter is zero (0 at once" "Wait until the counter is zero [0 at once" t "${header}")
check(bracket "${t}" FALSE "pages render at 80 columns")
