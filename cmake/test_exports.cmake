# SPDX-License-Identifier: MIT
# cmake -DLIB=libcoro.so -DHEADER=include/coro.h -DNM=nm -P test_exports.cmake
# The shared library must export exactly the functions the header declares
# with CORO_API (HEADER and the files of include/coro/ it includes:
# cmake/headers.cmake): nothing internal leaks, nothing declared is missing.
include(${CMAKE_CURRENT_LIST_DIR}/headers.cmake)
coro_public_decls(${HEADER} decls)
set(declared "")
foreach(d ${decls})
  string(REGEX MATCH "([a-z_0-9]+)\\(" _ "${d}")
  list(APPEND declared ${CMAKE_MATCH_1})
endforeach()
execute_process(COMMAND ${NM} -D --defined-only ${LIB} OUTPUT_VARIABLE nm_out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${LIB}")
endif()
string(REGEX MATCHALL " T ([a-zA-Z_0-9]+)" exported "${nm_out}")
list(TRANSFORM exported REPLACE " T " "")
list(SORT declared)
list(SORT exported)
if(NOT declared STREQUAL exported)
  set(extra ${exported})
  list(REMOVE_ITEM extra ${declared})
  set(missing ${declared})
  list(REMOVE_ITEM missing ${exported})
  message(FATAL_ERROR "exports differ from the header\n exported, not declared: ${extra}\n declared, not exported: ${missing}")
endif()
list(LENGTH declared n)
message(STATUS "${n} functions declared in coro.h and include/coro/, the same ${n} exported")
