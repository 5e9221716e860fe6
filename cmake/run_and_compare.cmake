# SPDX-License-Identifier: MIT
# cmake -DEXE=prog -DEXPECTED=file [-DARGS=a;b] [-DEXPECTED_RC=n] [-DEMULATOR=...]
#       -P run_and_compare.cmake
# Runs EXE with the arguments ARGS (none by default) and fails unless its
# standard output equals EXPECTED byte for byte and it exits with status
# EXPECTED_RC (0 by default).  Without EXPECTED the output is not checked.
if(NOT DEFINED EXPECTED_RC)
  set(EXPECTED_RC 0)
endif()
execute_process(COMMAND ${EMULATOR} ${EXE} ${ARGS} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL EXPECTED_RC)
  message(FATAL_ERROR "${EXE} ${ARGS} exited with ${rc}, not ${EXPECTED_RC}")
endif()
if(NOT DEFINED EXPECTED)
  message(STATUS "${EXE} ${ARGS}: exited with ${rc}")
  return()
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "${EXE} ${ARGS}: output differs from ${EXPECTED}\n--- got ---\n${out}--- want ---\n${want}")
endif()
message(STATUS "${EXE} ${ARGS}: output matches ${EXPECTED}")
