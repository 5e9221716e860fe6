# SPDX-License-Identifier: MIT
# cmake -DAWK=awk -DSOURCE_DIR=. -DWORK=build/man-check [-DMAN_PROGRAM=man]
#       -P test_man_check.cmake
# The manual's check (test_man.cmake) can fail, and fails only where it
# should: it runs tools/man.awk and test_man.cmake over edited copies of
# the header (include/coro.h and include/coro/*.h) --
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

# The header's files (cmake/headers.cmake), each as its path under include/
# and its text: an edit applies to whichever file holds what it replaces.
include(${CMAKE_CURRENT_LIST_DIR}/headers.cmake)
coro_public_headers(${SOURCE_DIR}/include/coro.h header_files)
set(names "")
foreach(f ${header_files})
  file(RELATIVE_PATH rel ${SOURCE_DIR}/include ${f})
  list(APPEND names ${rel})
  file(READ ${f} "text_${rel}")
endforeach()

# check(name MODE from to expect_fail expect_msg): a copy of the header with
# `from` replaced by `to` (MODE REGEX: string(REGEX REPLACE), STRING:
# string(REPLACE), NONE: as it is; an edit that changes nothing fails: the
# comment is no longer as this test expects), its pages, and their check.
function(check name mode from to expect_fail expect_msg)
  set(dir ${WORK}/${name})
  file(REMOVE_RECURSE ${dir})
  set(changed FALSE)
  foreach(rel ${names})
    set(text "${text_${rel}}")
    if(mode STREQUAL "REGEX")
      string(REGEX REPLACE "${from}" "${to}" text "${text}")
    elseif(mode STREQUAL "STRING")
      string(REPLACE "${from}" "${to}" text "${text}")
    endif()
    if(NOT text STREQUAL "${text_${rel}}")
      set(changed TRUE)
    endif()
    file(WRITE ${dir}/include/${rel} "${text}")
  endforeach()
  if(NOT mode STREQUAL "NONE" AND NOT changed)
    message(FATAL_ERROR "${name}: no comment of the header is as this test expects: update it")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -DAWK=${AWK} -DSCRIPT=${SOURCE_DIR}/tools/man.awk
                          -DHEADER=${dir}/include/coro.h -DOUT=${dir}/man -DVERSION=0
                          -P ${SOURCE_DIR}/cmake/man.cmake
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: man.cmake failed: ${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -DHEADER=${dir}/include/coro.h -DMAN=${dir}/man
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

check(no_codes REGEX
      "(A mutex, held by one coroutine at a time: the one that locked it.)\n \\* Errors: -EINVAL \\(out NULL\\), -ENOMEM."
      "\\1" TRUE "coro_mutex_create: its comment names no error code")

check(refers STRING "or the errors of coro_fd_read()" "-EPROTO, or the errors of coro_fd_read()"
      FALSE "public calls, each with its page")
file(READ ${WORK}/refers/man/man3/coro_reader_read.3 page)
string(REGEX MATCH "\\.BR coro_reader_read \\(\\)\n[^\n]*" entry "${page}")
foreach(c EINVAL EPROTO ETIMEDOUT EBADF)
  if(NOT entry MATCHES "${c}")
    message(FATAL_ERROR "refers: ${c} missing from coro_reader_read's entry: ${entry}")
  endif()
endforeach()

check(recorded STRING "  Never fails: it always returns NULL." "" TRUE
      "coro_fail: its comment names no error code")

check(as_is NONE "" "" FALSE "public calls, each with its page")
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
check(bracket STRING "Wait until the counter is zero (0 at once" "Wait until the counter is zero [0 at once"
      FALSE "pages render at 80 columns")
