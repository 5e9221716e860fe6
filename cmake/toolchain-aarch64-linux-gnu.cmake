# SPDX-License-Identifier: MIT
# Cross-compile for 64-bit ARM Linux with Debian's cross toolchain, and run the
# tests under qemu-user.
#
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
#   cmake --build build-aarch64 && (cd build-aarch64 && ctest)
#
# CTest prefixes every test whose command is a target with the emulator; the
# example tests pass it to run_and_compare.cmake themselves.  -L points qemu at
# the arm64 dynamic loader and libc that libc6-dev-arm64-cross installs.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CORO_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${CORO_CROSS_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${CORO_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${CORO_CROSS_TRIPLE}-g++)

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/${CORO_CROSS_TRIPLE})

# find_* look in the arm64 tree only, never at the host's x86_64 libraries
# (programs, such as nm, still come from the host).
set(CMAKE_FIND_ROOT_PATH /usr/${CORO_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
