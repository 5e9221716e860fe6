# SPDX-License-Identifier: MIT
# include()d by the -P test scripts that drive builds (test_install.cmake,
# test_subproject.cmake): run(cmd args...) runs a command, fails the test
# with its output when it exits non-zero, and leaves its stdout in `out`.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
