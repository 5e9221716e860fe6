# SPDX-License-Identifier: MIT
# CPACK_PRE_BUILD_SCRIPTS of `make deb`: Debian installs manual pages
# compressed (policy 12.1: gzip -9n, no timestamp), so each page of the
# staging tree becomes page.gz and each symlink name.3 -> page.3 becomes
# name.3.gz -> page.3.gz.  `make install` leaves them as they are.
file(GLOB_RECURSE entries LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/*")
list(FILTER entries INCLUDE REGEX "/share/man/man[0-9]/[^/]+$")
foreach(f ${entries})
  if(f MATCHES "\\.gz$")
    continue()
  endif()
  if(IS_SYMLINK ${f})
    file(READ_SYMLINK ${f} target)
    file(REMOVE ${f})
    file(CREATE_LINK ${target}.gz ${f}.gz SYMBOLIC)
  else()
    execute_process(COMMAND gzip -9n ${f} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gzip -9n ${f} failed")
    endif()
  endif()
endforeach()
