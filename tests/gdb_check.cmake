# SPDX-License-Identifier: MIT
# gdb_check.cmake - one test of tools/gdb/libcoro-gdb.py: run tests/gdb_target
# (or another program) under `gdb -batch`, live or from a core file, and check
# what the extension prints.
#
#   cmake -DGDB=gdb -DSCRIPT=.../libcoro-gdb.py -DTARGET=.../gdb_target
#         -DCASE=live|core|gcore|nolib|none|empty|stale|bad_id|damaged|freed|cycle|nodebug|nodebug_core
#         -DWORK=dir [-DNOLIB=prog] [-DOBJCOPY=objcopy] [-DEMULATOR=qemu-aarch64;-L;...]
#         -P gdb_check.cmake
#
# A test that cannot run here prints "SKIP: <reason>" (the test's
# SKIP_REGULAR_EXPRESSION): no gdb, no way to get a core file.  With EMULATOR
# (the aarch64 stage) the program runs under qemu-user's gdbstub and gdb
# (gdb-multiarch) attaches to it with `target remote`; qemu cannot write a
# core file of the program it emulates, so the core cases skip there.
#
# Every output is also checked for what must never appear: a Python traceback.
cmake_minimum_required(VERSION 3.16)

if(NOT GDB)
  message("SKIP: gdb is not installed (Debian: apt-get install gdb; gdb-multiarch for aarch64)")
  return()
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

# run_gdb(OUT program core-or-"" gdb-commands...): gdb -batch with the extension
# sourced (auto-load is tested on an installed tree, not here).
set(GDB_BASE ${GDB} -nx -batch -iex "set pagination off" -iex "set confirm off"
             -iex "set debuginfod enabled off" -ex "source ${SCRIPT}")
function(run_gdb out prog core)
  set(cmds)
  foreach(c ${ARGN})
    list(APPEND cmds -ex "${c}")
  endforeach()
  execute_process(COMMAND ${GDB_BASE} ${cmds} ${prog} ${core}
                  WORKING_DIRECTORY ${WORK} OUTPUT_VARIABLE o ERROR_VARIABLE e TIMEOUT 120)
  set(${out} "${o}${e}" PARENT_SCOPE)
endfunction()

# run_live(OUT mode gdb-commands...): stop `TARGET mode` at gdb_checkpoint, then
# run the commands.  Under an emulator, through qemu's gdbstub.
function(run_live out prog mode)
  if(EMULATOR)
    string(REPLACE "|" ";" EMULATOR "${EMULATOR}")
    list(GET EMULATOR 0 qemu)
    list(SUBLIST EMULATOR 1 -1 qemu_args)
    # qemu-user -L ROOT: the same root is gdb's sysroot (the target's libc).
    set(sysroot "")
    list(FIND qemu_args -L at)
    if(at GREATER -1)
      math(EXPR at "${at} + 1")
      list(GET qemu_args ${at} sysroot)
    endif()
    # qemu's gdbstub on a Unix socket of the test's own directory (tests
    # run in parallel: no port to share); qemu waits there for gdb.
    set(sock ${WORK}/qemu-gdb.sock)
    set(cmds "set sysroot ${sysroot}" "target remote ${sock}"
             "break gdb_checkpoint" "continue" ${ARGN} "kill")
    set(cmdargs)
    foreach(c ${cmds})
      list(APPEND cmdargs -ex "${c}")
    endforeach()
    execute_process(COMMAND sh -c "\"$@\" </dev/null >/dev/null 2>&1 & i=0; while [ ! -S \"${sock}\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done"
                            sh ${qemu} ${qemu_args} -g ${sock} ${prog} ${mode}
                    WORKING_DIRECTORY ${WORK} TIMEOUT 60)
    execute_process(COMMAND ${GDB_BASE} ${cmdargs} ${prog}
                    WORKING_DIRECTORY ${WORK} OUTPUT_VARIABLE o ERROR_VARIABLE e TIMEOUT 120)
    set(${out} "${o}${e}" PARENT_SCOPE)
  else()
    run_gdb(o ${prog} "" "break gdb_checkpoint" "run ${mode}" ${ARGN} "kill")
    set(${out} "${o}" PARENT_SCOPE)
  endif()
endfunction()

# expect(OUTPUT regex what): the output must match.  Functions, not macros: a
# macro would expand the regex's escapes a second time.
set_property(GLOBAL PROPERTY gdb_check_failures 0)
function(fail what)
  message("FAIL: ${what}")
  get_property(n GLOBAL PROPERTY gdb_check_failures)
  math(EXPR n "${n} + 1")
  set_property(GLOBAL PROPERTY gdb_check_failures ${n})
endfunction()
function(expect text regex what)
  if(NOT "${text}" MATCHES "${regex}")
    fail("${what}\n  (no match for: ${regex})")
  endif()
endfunction()
function(expect_not text regex what)
  if("${text}" MATCHES "${regex}")
    fail("${what}\n  (unexpected: ${regex} -> '${CMAKE_MATCH_0}')")
  endif()
endfunction()
macro(done text)
  message("---- gdb output ----\n${text}\n--------------------")
  expect_not("${text}" "Traceback|Python Exception|internal error" "a Python error escaped")
  get_property(failures GLOBAL PROPERTY gdb_check_failures)
  if(failures GREATER 0)
    message(FATAL_ERROR "${failures} check(s) failed")
  endif()
  return()
endmacro()

# What the "parked" scenario must show (see tests/gdb_target.c): each
# coroutine's listing line, then its backtrace with the function it parked in.
function(check_parked out where_outer)
  expect("${out}" "\n[ *] +[0-9]+ +1 +sleeper +mt +WAITING sleep until " "sleeper sleeps")
  expect("${out}" "\n[ *] +[0-9]+ +1 +receiver +mt +WAITING chan recv 0x" "receiver waits on the channel")
  expect("${out}" "\n[ *] +[0-9]+ +1 +joiner +mt +WAITING join 0x" "joiner waits for sleeper")
  expect("${out}" "\n[ *] +[0-9]+ +1 +holder +mt +WAITING sleep until [^\n]* 0x[0-9a-f]+ 0x" "holder sleeps in a group")
  expect("${out}" "\n[ *] +[0-9]+ +1 +locker +mt +WAITING mutex 0x" "locker waits on the mutex")
  expect("${out}" "\n  +[0-9]+ +1 +gen +gen +SUSPENDED " "gen is suspended")
  expect("${out}" "\n  +[0-9]+ +1 +fresh +gen +CREATED " "fresh is created")
  expect("${out}" "\n  +[0-9]+ +1 +done +gen +CLOSED " "done is closed")
  expect("${out}" "\n  +[0-9]+ +1 +stopper +mt +NORMAL " "stopper is normal")
  expect("${out}" "\n[*] +[0-9]+ +1 +outer +gen +RUNNING " "outer runs")
  expect("${out}" "\n  +[0-9]+ +2 +t2-gen +gen +SUSPENDED " "the second thread's generator")
  # Copy-stack generators (none in the ucontext build: gdb_target checks that
  # creating them fails with -ENOTSUP only there).
  if("${out}" MATCHES "cs-here")
    expect("${out}" "\n  +[0-9]+ +1 +cs-here +gen +SUSPENDED +[^\n]* shared " "cs-here occupies the shared stack")
    expect("${out}" "\n  +[0-9]+ +1 +cs-away +gen +SUSPENDED +[0-9.]+[KM]? saved " "cs-away's frames are saved")
    expect("${out}" "Coroutine [0-9]+ \"cs-here\"[^\n]*(\n#[0-9]+ [^\n]*)*\n#[0-9]+ [^\n]*cs_inner" "cs-here's backtrace")
    expect("${out}" "libcoro: coroutine [0-9]+ \\(cs-away\\) is a copy-stack coroutine displaced" "cs-away has no backtrace, and says why")
    # The second thread's unnamed copy-stack generator has no cold part
    # (coro.cold NULL): no name ("-"), its thread's occupant, a backtrace.
    expect("${out}" "\n  +[0-9]+ +2 +- +gen +SUSPENDED +[^\n]* shared +- +0x" "the generator without a cold part is listed")
    expect("${out}" "Coroutine [0-9]+ \"-\" \\(SUSPENDED, thread 2\\):(\n#[0-9]+ [^\n]*)*\n#[0-9]+ [^\n]*anon_inner[^\n]*\n#[0-9]+ [^\n]*anon_body"
           "the backtrace of the generator without a cold part")
  endif()
  set(fr "\n#[0-9]+ [^\n]*")
  expect("${out}" "Coroutine [0-9]+ \"sleeper\"[^\n]*(${fr})*${fr}park_in_sleep" "sleeper's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"receiver\"[^\n]*(${fr})*${fr}park_in_recv" "receiver's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"joiner\"[^\n]*(${fr})*${fr}park_in_join" "joiner's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"holder\"[^\n]*(${fr})*${fr}park_in_hold" "holder's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"locker\"[^\n]*(${fr})*${fr}park_in_lock" "locker's backtrace")
  # (The ucontext build shows its switch function as frame 0.)
  expect("${out}" "Coroutine [0-9]+ \"gen\"[^\n]*(${fr})*\n#[0-9]+ [^\n]*gen_inner[^\n]*\n#[0-9]+ [^\n]*gen_outer[^\n]*\n#[0-9]+ [^\n]*gen_body"
         "gen's backtrace: the yield inside a nested call")
  expect("${out}" "Coroutine [0-9]+ \"t2-gen\"[^\n]*(${fr})*\n#[0-9]+ [^\n]*t2_inner" "t2-gen's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"stopper\"[^\n]*(${fr})*\n#[0-9]+ [^\n]*stopper_body" "stopper's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"outer\"[^\n]*(${fr})*${fr}${where_outer}" "outer's backtrace")
  expect("${out}" "Coroutine [0-9]+ \"fresh\"[^\n]*\nlibcoro: coroutine [0-9]+ \\(fresh\\) has not started" "fresh has no frames")
  expect("${out}" "Coroutine [0-9]+ \"done\"[^\n]*\nlibcoro: coroutine [0-9]+ \\(done\\) has finished" "done has no frames")
  # Every suspended stack ends where libcoro started it: nothing beyond.
  expect_not("${out}" "Backtrace stopped|corrupt stack" "a backtrace stopped early")
endfunction()

# get_core(OUT prog mode): a core file of `prog mode` aborting, or "" with a
# reason in SKIP_REASON.  CORE_WAY: kernel (ulimit -c in WORK, when the
# machine's core_pattern writes a plain file there) or gcore (gdb writes it
# at the SIGABRT).
function(get_core out prog mode way)
  set(${out} "" PARENT_SCOPE)
  if(EMULATOR)
    set(SKIP_REASON "qemu-user writes no core file of the program it emulates" PARENT_SCOPE)
    return()
  endif()
  if(way STREQUAL "kernel")
    file(READ /proc/sys/kernel/core_pattern pattern)
    string(STRIP "${pattern}" pattern)
    if(pattern MATCHES "^\\|" OR pattern MATCHES "/" OR pattern MATCHES "%[^p]")
      set(SKIP_REASON "kernel.core_pattern is '${pattern}', not a plain file name (left as it is)" PARENT_SCOPE)
      return()
    endif()
    execute_process(COMMAND sh -c "ulimit -c unlimited 2>/dev/null || exit 77; exec \"$0\" \"$1\"" ${prog} ${mode}
                    WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET TIMEOUT 60)
    if(rc EQUAL 77)
      set(SKIP_REASON "the core size limit cannot be raised (ulimit -c)" PARENT_SCOPE)
      return()
    endif()
    file(GLOB cores ${WORK}/core*)
    if(NOT cores)
      set(SKIP_REASON "the kernel wrote no core file (exit ${rc}, core_pattern '${pattern}')" PARENT_SCOPE)
      return()
    endif()
    list(GET cores 0 core)
  elseif(SANITIZE)
    set(SKIP_REASON "gcore of an ASan program writes its shadow memory: too slow to test" PARENT_SCOPE)
    return()
  else()
    set(core ${WORK}/gcore.core)
    # gcore reads memory 1 MiB at a time: a slab of stacks guarded with
    # MADV_GUARD_INSTALL (Linux 6.13+) fails to read and comes out as zeros,
    # so this run uses mprotect guards (the kernel's own core dump has no
    # such problem: see the kernel way).
    execute_process(COMMAND ${CMAKE_COMMAND} -E env CORO_STACK_GUARD=mprotect
                            ${GDB_BASE} -ex "run" -ex "gcore ${core}" -ex "kill" --args ${prog} ${mode}
                    WORKING_DIRECTORY ${WORK} OUTPUT_VARIABLE o ERROR_VARIABLE e TIMEOUT 120)
    if(NOT EXISTS ${core})
      message("${o}${e}")
      message(FATAL_ERROR "gcore wrote no core file")
    endif()
  endif()
  set(${out} ${core} PARENT_SCOPE)
endfunction()

set(INFO_AND_BT "info coroutines" "coroutine apply all bt")

if(CASE STREQUAL "live")
  run_live(out ${TARGET} parked ${INFO_AND_BT})
  check_parked("${out}" "gdb_checkpoint")
  if(NOT "${TARGET}" MATCHES "nodbg")
    # The program's own debug info: source lines in its frames.
    expect("${out}" "park_in_sleep \\(\\) at [^\n]*gdb_target.c:[0-9]+" "source lines of the program")
  endif()
  # libcoro's frames carry source lines in any case.
  expect("${out}" "coro_sleep [^\n]* at [^\n]*sched.c:[0-9]+" "source lines of libcoro")
  done("${out}")
elseif(CASE STREQUAL "core" OR CASE STREQUAL "gcore")
  if(CASE STREQUAL "core")
    get_core(core ${TARGET} parked-abort kernel)
  else()
    get_core(core ${TARGET} parked-abort gcore)
  endif()
  if(NOT core)
    message("SKIP: ${SKIP_REASON}")
    return()
  endif()
  run_gdb(out ${TARGET} ${core} ${INFO_AND_BT})
  check_parked("${out}" "outer_body")
  expect("${out}" "sleep until [0-9.]+s" "a core file shows absolute deadlines")
  done("${out}")
elseif(CASE STREQUAL "nolib")
  run_live(out ${NOLIB} "" "info coroutines" "coroutine 1 bt" "coroutine apply all bt")
  expect("${out}" "libcoro: no libcoro in this program[^\n]*\n[^\n]*libcoro: no libcoro in this program[^\n]*\n[^\n]*libcoro: no libcoro"
         "every command says there is no libcoro")
  done("${out}")
elseif(CASE STREQUAL "none" OR CASE STREQUAL "empty")
  run_live(out ${TARGET} ${CASE} "info coroutines" "coroutine apply all bt" "coroutine 1 bt")
  expect("${out}" "No coroutines.\nNo coroutines.\n" "no coroutine is listed")
  expect("${out}" "libcoro: no live coroutine has id 1" "id 1 is not live")
  done("${out}")
elseif(CASE STREQUAL "stale")
  run_live(out ${TARGET} stale "info coroutines" "coroutine 1 bt" "continue" "info coroutines" "coroutine 1 bt")
  expect("${out}" "\n +1 +1 +ephemeral +gen +SUSPENDED" "ephemeral is listed first")
  expect("${out}" "\n#[0-9]+ [^\n]*yield_forever" "ephemeral's backtrace")
  expect("${out}" "\n +2 +1 +replacement +gen +SUSPENDED" "then replacement")
  expect("${out}" "libcoro: no live coroutine has id 1: [^\n]*destroyed" "the stale id is refused")
  done("${out}")
elseif(CASE STREQUAL "bad_id")
  run_live(out ${TARGET} stale "coroutine 99999 bt" "coroutine no_such_thing bt" "coroutine 0x10 bt"
           "coroutine" "coroutine apply" "coroutine apply 99999 bt" "coroutine 1 frame 99"
           "info coroutines 12345")
  expect("${out}" "no live coroutine has id 99999" "an unknown id")
  expect("${out}" "'no_such_thing' is not a coroutine id" "not an id")
  expect("${out}" "0x10 is not a live coroutine" "an address that is no coroutine")
  expect("${out}" "libcoro: usage: coroutine ID" "usage of coroutine")
  expect("${out}" "libcoro: usage: coroutine apply" "usage of coroutine apply")
  expect("${out}" "the coroutine has no frame 99" "a frame beyond the last")
  expect("${out}" "no live coroutine has id 12345" "info coroutines with a bad id")
  done("${out}")
elseif(CASE STREQUAL "damaged" OR CASE STREQUAL "freed" OR CASE STREQUAL "cycle")
  run_live(out ${TARGET} ${CASE} ${INFO_AND_BT} "coroutine 1 bt")
  # The newest ("third") is read before the damage in every case.
  expect("${out}" "\n +3 +1 +third +gen +SUSPENDED" "what precedes the damage is listed")
  expect("${out}" "libcoro: the coroutine list of thread 1 \\(coro__tls 0x[0-9a-f]+\\) is damaged: " "damage is reported")
  if(CASE STREQUAL "damaged")
    expect("${out}" "is damaged: entry 2 of the list \\(0x10\\) is not readable memory" "a wild link")
  elseif(CASE STREQUAL "freed")
    expect("${out}" "is damaged: entry 2 of the list \\(0x[0-9a-f]+\\) was destroyed but is still listed" "a freed entry")
  else()
    expect("${out}" "is damaged: entry 4 of the list \\(0x[0-9a-f]+\\) was listed already: the list has a cycle" "a cycle")
  endif()
  if(NOT CASE STREQUAL "cycle") # "first" is beyond the damage (a cycle reads it)
    expect("${out}" "no live coroutine has id 1:[^\n]*the list of thread 1 is damaged" "an id beyond the damage")
  endif()
  done("${out}")
elseif(CASE STREQUAL "nodebug" OR CASE STREQUAL "nodebug_core")
  # The same program with every debug section stripped: libcoro's too.
  set(stripped ${WORK}/gdb_target_stripped)
  execute_process(COMMAND ${OBJCOPY} --strip-debug ${TARGET} ${stripped} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "objcopy --strip-debug failed (${rc})")
  endif()
  if(CASE STREQUAL "nodebug")
    run_live(out ${stripped} parked "info coroutines" "coroutine 1 bt" "coroutine apply all bt")
  else()
    get_core(core ${stripped} parked-abort kernel)
    if(NOT core)
      get_core(core ${stripped} parked-abort gcore)
    endif()
    if(NOT core)
      message("SKIP: ${SKIP_REASON}")
      return()
    endif()
    run_gdb(out ${stripped} ${core} "info coroutines" "coroutine 1 bt" "coroutine apply all bt")
  endif()
  set(msg "libcoro: found libcoro \\(symbol coro__threads\\) but not its debug info: the types struct coro and struct coro__tls are missing")
  expect("${out}" "${msg}[^\n]*\n[^\n]*${msg}[^\n]*\n[^\n]*${msg}" "every command says what is missing")
  done("${out}")
elseif(CASE STREQUAL "autoload")
  # Install to a private prefix; gdb, told that prefix's auto-load directory
  # (as /usr/share/gdb/auto-load is by default), loads the extension when the
  # program loads the installed libcoro.so: no `source`.
  set(prefix ${WORK}/prefix)
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix}
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (${rc})")
  endif()
  set(script ${prefix}/share/gdb/auto-load${prefix}/${LIBDIR}/${LIBNAME}-gdb.py)
  if(NOT EXISTS ${script})
    fail("the extension is not installed as ${script}")
  endif()
  execute_process(COMMAND ${GDB} -nx -batch -iex "set pagination off" -iex "set confirm off"
                          -iex "set auto-load scripts-directory ${prefix}/share/gdb/auto-load"
                          -iex "set auto-load safe-path ${prefix}"
                          -ex "set environment LD_LIBRARY_PATH ${prefix}/${LIBDIR}"
                          -ex "break gdb_checkpoint" -ex "run parked" -ex "info sharedlibrary"
                          -ex "info coroutines" -ex "coroutine apply all bt" -ex "kill" ${TARGET}
                  WORKING_DIRECTORY ${WORK} OUTPUT_VARIABLE o ERROR_VARIABLE e TIMEOUT 120)
  set(out "${o}${e}")
  expect("${out}" "${prefix}/${LIBDIR}/libcoro.so" "the installed library is the one loaded")
  check_parked("${out}" "gdb_checkpoint")
  done("${out}")
else()
  message(FATAL_ERROR "gdb_check.cmake: unknown CASE '${CASE}'")
endif()
