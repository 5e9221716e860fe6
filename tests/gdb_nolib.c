/* SPDX-License-Identifier: MIT */
/*
 * gdb_nolib.c - a program without libcoro, for tests/gdb_check.cmake: the
 * gdb extension must say so, not fail.
 */
void gdb_checkpoint(void);
__attribute__((noinline)) void gdb_checkpoint(void) { __asm__ volatile("" ::: "memory"); }

int main(void) {
  gdb_checkpoint();
  return 0;
}
