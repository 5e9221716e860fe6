# cmake -DEXE=prog -DEXPECTED=file [-DEMULATOR=...] -P run_and_compare.cmake
# Runs EXE and fails unless its standard output equals EXPECTED byte for byte
# and it exits with status 0.
execute_process(COMMAND ${EMULATOR} ${EXE} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
file(READ ${EXPECTED} want)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}")
endif()
if(NOT out STREQUAL want)
  message(FATAL_ERROR "${EXE}: output differs from ${EXPECTED}\n--- got ---\n${out}--- want ---\n${want}")
endif()
message(STATUS "${EXE}: output matches ${EXPECTED}")
