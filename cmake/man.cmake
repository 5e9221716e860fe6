# SPDX-License-Identifier: MIT
# cmake -DAWK=awk -DSCRIPT=tools/man.awk -DHEADER=include/coro.h -DOUT=build/man
#       -DVERSION=x.y.z -P cmake/man.cmake
# The build step of the manual: runs tools/man.awk over the header -- HEADER
# (include/coro.h), then the files of include/coro/ in the order it includes
# them (cmake/headers.cmake) -- into OUT/man3 and OUT/man7 (emptied first: a
# call removed from the header loses its page), then makes the other names of
# each page (OUT/links) symlinks to it, as Debian prefers to .so pages.  The
# date is SOURCE_DATE_EPOCH's when it is set (string(TIMESTAMP) reads it), so a
# package build is reproducible.
include(${CMAKE_CURRENT_LIST_DIR}/headers.cmake)
coro_public_headers(${HEADER} headers)
string(TIMESTAMP date "%Y-%m-%d" UTC)
file(REMOVE_RECURSE ${OUT}/man3 ${OUT}/man7)
file(MAKE_DIRECTORY ${OUT}/man3 ${OUT}/man7)
execute_process(COMMAND ${AWK} -v out=${OUT} -v version=${VERSION} -v date=${date} -f ${SCRIPT} ${headers}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SCRIPT} failed (${rc}): ${err}")
endif()
file(STRINGS ${OUT}/links links)
foreach(l ${links})
  string(REPLACE " " ";" l "${l}")
  list(GET l 0 name)
  list(GET l 1 page)
  file(CREATE_LINK ${page} ${OUT}/man3/${name}.3 SYMBOLIC)
endforeach()
file(TOUCH ${OUT}/stamp)
