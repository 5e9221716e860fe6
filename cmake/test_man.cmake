# SPDX-License-Identifier: MIT
# cmake -DHEADER=include/coro.h -DMAN=build/man [-DMAN_PROGRAM=man] [-DGROFF=groff]
#       -P test_man.cmake
# Every public call of the header (each CORO_API declaration of HEADER and of
# the files of include/coro/ it includes: cmake/headers.cmake) has a manual
# page: a page of man3 whose NAME names it, reachable under its own name
# (the page or a symlink to it), whose ERRORS entry for it names error codes
# (its own, those of the call it refers to, or its family's) or says it has
# none -- and a call whose comment names no code where it says what it
# returns (tools/man.awk's returned()) must say "Never fails." or "No error
# code: ..." in the header.  Then every page renders without a
# warning at 80 columns: `MANWIDTH=80 man --warnings -l` (and groff -ww, which
# warns about more) print nothing on stderr and no line is wider than 80.
# Without man (and groff) the rendering half is skipped, saying so.
include(${CMAKE_CURRENT_LIST_DIR}/headers.cmake)
coro_public_decls(${HEADER} decls)
file(STRINGS ${MAN}/calls lines)
# The codes each call's comment refers to (another call's, its family's).
file(STRINGS ${MAN}/refs ref_lines)
foreach(l ${ref_lines})
  string(REGEX MATCH "^([a-z_0-9]+) ?(.*)$" _ "${l}")
  set(refs_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
set(problems "")
foreach(l ${lines})
  string(REGEX MATCH "^([a-z_0-9]+) ([a-z_0-9]+\\.3) ([A-Z_]+)( coro_[a-z_0-9]+)?(.*)$" _ "${l}")
  set(how_${CMAKE_MATCH_1} ${CMAKE_MATCH_3})
  set(page_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
  string(STRIP "${CMAKE_MATCH_5}" codes)
  set(codes_${CMAKE_MATCH_1} "${codes}")
endforeach()
set(n 0)
foreach(d ${decls})
  string(REGEX MATCH "([a-z_0-9]+)\\(" _ "${d}")
  set(call ${CMAKE_MATCH_1})
  math(EXPR n "${n} + 1")
  if(NOT DEFINED page_${call})
    string(APPEND problems "\n  ${call}: no page (is it under a banner section of the header?)")
    continue()
  endif()
  set(page ${MAN}/man3/${page_${call}})
  if(NOT EXISTS ${MAN}/man3/${call}.3)
    string(APPEND problems "\n  ${call}: no man3/${call}.3")
  endif()
  file(READ ${page} text)
  string(REGEX MATCH "\\.SH NAME\n[^\n]*" name_line "${text}")
  string(REPLACE "\\-" "-" name_line "${name_line}")
  if(NOT " ${name_line}" MATCHES "[ ,\n]${call}[, ]")
    string(APPEND problems "\n  ${call}: ${page_${call}}'s NAME does not name it")
  endif()
  string(FIND "${text}" ".SH ERRORS" at)
  string(SUBSTRING "${text}" ${at} -1 errors)
  string(REGEX MATCH "\\.BR ${call} \\(\\)\n[^\n]*" entry "${errors}")
  if(NOT entry)
    string(APPEND problems "\n  ${call}: no ERRORS entry in ${page_${call}}")
  elseif(how_${call} MATCHES "^(NEVER_FAILS|NO_CODE)$")
    # it says so in its comment
  elseif(codes_${call} STREQUAL "")
    string(APPEND problems "\n  ${call}: its comment names no error code: list them, or say \"Never fails.\" or \"No error code: ...\"")
  else()
    # Its codes, and those of what its comment refers to ("as coro_fd_read()",
    # "an error above"): a page listing fewer is a page missing some.
    string(STRIP "${codes_${call}} ${refs_${call}}" cl)
    string(REGEX REPLACE " +" ";" cl "${cl}")
    list(REMOVE_DUPLICATES cl)
    foreach(c ${cl})
      if(NOT "${entry}\n" MATCHES "[ \n]${c}[,\n ]")
        string(APPEND problems "\n  ${call}: ${c} missing from its ERRORS entry")
      endif()
    endforeach()
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "manual pages:${problems}")
endif()
message(STATUS "${n} public calls, each with its page and its error codes")

file(GLOB pages ${MAN}/man3/*.3 ${MAN}/man7/*.7)
set(rendered 0)
foreach(p ${pages})
  if(IS_SYMLINK ${p})
    continue()
  endif()
  if(MAN_PROGRAM)
    execute_process(COMMAND ${CMAKE_COMMAND} -E env MANWIDTH=80 MAN_KEEP_FORMATTING=
                            ${MAN_PROGRAM} --warnings -l ${p}
                    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
      string(APPEND problems "\n  ${p}: man exited ${rc}: ${err}")
    endif()
    # Each line as a list element: the text's own ';', '[' and ']' (a "[" in
    # a header comment would open a CMake bracket spanning the elements that
    # follow) become '_' first, which keeps every width.
    string(REGEX REPLACE "[][;]" "_" out "${out}")
    string(REGEX MATCHALL "[^\n]*\n" out_lines "${out}")
    foreach(ol ${out_lines})
      string(LENGTH "${ol}" len)
      if(len GREATER 81) # with its newline
        string(APPEND problems "\n  ${p}: a line of ${len} columns: ${ol}")
      endif()
    endforeach()
    math(EXPR rendered "${rendered} + 1")
  endif()
  if(GROFF)
    execute_process(COMMAND ${GROFF} -man -Tutf8 -ww -z ${p} ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
      string(APPEND problems "\n  ${p}: groff -ww: ${err}")
    endif()
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "manual pages:${problems}")
endif()
if(NOT MAN_PROGRAM)
  message("SKIPPED: man is not installed (Debian: apt-get install man-db): pages not rendered")
else()
  message(STATUS "${rendered} pages render at 80 columns without a warning")
endif()
