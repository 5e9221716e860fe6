# SPDX-License-Identifier: MIT
# cmake -DEXE=test_harness [-DEMULATOR=...] [-DLIMIT=s] -P test_harness.cmake
# Runs each case of tests/harness.c as CTest would (output to pipes) and
# fails unless each ends as its code says -- a failed assert with its
# message, SIGABRT, a pass -- although it leaves processes running that hold
# those pipes: the runner (tests/test_main.c) must have killed them.  LIMIT
# (seconds, 10 by default) bounds the wait for the pipes to close; processes
# left alive hold them far longer (tests/harness.c), so a runner that leaves
# them fails here with "timeout" instead of hanging.  Not a time assertion:
# a case that works ends in milliseconds.
if(NOT DEFINED LIMIT)
  set(LIMIT 10)
endif()
set(failed "")
foreach(case fails_while_its_processes_run crashes_while_its_processes_run
             passes_while_its_processes_run)
  execute_process(COMMAND ${EMULATOR} ${EXE} ${case} TIMEOUT ${LIMIT}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(case STREQUAL "fails_while_its_processes_run")
    set(want_rc "^1$")
    set(want_err "harness\\.c:[0-9]+: ASSERT_EQ\\(1 \\+ 1, 3\\): 2 != 3")
  elseif(case STREQUAL "crashes_while_its_processes_run")
    set(want_rc "[Aa]borted") # "Child aborted" or "Subprocess aborted", by CMake version
    set(want_err "")
  else()
    set(want_rc "^0$")
    set(want_err "")
  endif()
  set(got "${case}: exit '${rc}'\n--- stdout ---\n${out}--- stderr ---\n${err}")
  if(NOT rc MATCHES "${want_rc}")
    string(APPEND failed "${case}: wanted exit '${want_rc}'\n${got}\n")
  elseif(NOT out MATCHES "child [0-9]+ and its child run")
    string(APPEND failed "${case}: its processes never ran\n${got}\n")
  elseif(want_err AND NOT err MATCHES "${want_err}")
    string(APPEND failed "${case}: stderr lacks /${want_err}/\n${got}\n")
  else()
    message(STATUS "${case}: exit '${rc}' at once, as it should")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "${failed}")
endif()
