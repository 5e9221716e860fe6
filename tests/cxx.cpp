// SPDX-License-Identifier: MIT
// cxx.cpp - the public header as a C++ program sees it.
//
// Built with g++'s strict set and -Wold-style-cast -Werror: every macro of
// coro.h a C++ user may expand (CORO_ATTR_INIT, the size limits,
// CORO_FOREACH) must compile warning-free there; so must each file of the
// header alone (<coro/core.h>, <coro/chan.h>...: the files cmake/headers.cmake
// generates into this program).  Run with a case name:
//   generator                          a generator driven from C++
//   exception_caught_inside_body       an exception thrown and caught within one body
//   exception_escaping_body_terminates an exception leaving the body calls
//                                      std::terminate (checked in a child process)
#include <coro.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace {

int failures = 0;

void check(bool ok, const char *what, int line) {
  if (!ok) {
    std::fprintf(stderr, "cxx.cpp:%d: check failed: %s\n", line, what);
    failures++;
  }
}
#define CHECK(x) check((x), #x, __LINE__)

void *count_to_three(void *) {
  for (std::intptr_t i = 1; i <= 3; i++) coro_yield(reinterpret_cast<void *>(i), nullptr);
  return nullptr;
}

void *catches_its_own(void *) {
  std::intptr_t caught = 0;
  try {
    coro_yield(nullptr, nullptr);
    throw std::runtime_error("inside");
  } catch (const std::exception &e) {
    caught = std::strcmp(e.what(), "inside") == 0 ? 1 : 2;
  }
  return reinterpret_cast<void *>(caught);
}

void *throws_out(void *) { throw std::runtime_error("escapes the coroutine"); }

void on_terminate() { _exit(70); }

void generator() {
  coro_attr attr = CORO_ATTR_INIT;
  CHECK(attr.stack_size == CORO_STACK_DEFAULT);
  CHECK(CORO_STACK_MIN <= attr.stack_size && attr.stack_size <= CORO_STACK_MAX);
  CHECK(CORO_CHAN_ELEM_MAX > 0 && CORO_CHAN_CAPACITY_MAX > 0 && CORO_POOL_ITEM_MAX > 0);
  attr.name = "cxx";
  coro *g = nullptr;
  CHECK(coro_create(&g, count_to_three, nullptr, &attr) == 0);
  std::intptr_t sum = 0;
  CORO_FOREACH(v, g) sum += reinterpret_cast<std::intptr_t>(v);
  CHECK(sum == 6);
  CHECK(coro_result(g, nullptr) == 0);
  CHECK(std::strcmp(coro_name(g), "cxx") == 0);
  CHECK(coro_destroy(g) == 0);
}

void exception_caught_inside_body() {
  coro *g = nullptr;
  void *out = nullptr;
  CHECK(coro_create(&g, catches_its_own, nullptr, nullptr) == 0);
  CHECK(coro_next(g, &out) == CORO_YIELDED);
  CHECK(coro_next(g, &out) == CORO_RETURNED);
  CHECK(reinterpret_cast<std::intptr_t>(out) == 1);
  CHECK(coro_destroy(g) == 0);
}

// The documented behaviour (coro.h, "C++"): the unwinder finds the outermost
// frame of the coroutine's stack, not the resumer's frames, so the exception
// has no handler and std::terminate runs.
void exception_escaping_body_terminates() {
  pid_t pid = fork();
  if (pid == 0) {
    std::set_terminate(on_terminate);
    coro *g = nullptr;
    if (coro_create(&g, throws_out, nullptr, nullptr) != 0) _exit(1);
    try {
      coro_next(g, nullptr);
    } catch (...) {
      _exit(2); // caught across the switch: not what the header says
    }
    _exit(3); // came back from the body as if nothing were thrown
  }
  CHECK(pid > 0);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 70);
}

} // namespace

int main(int argc, char **argv) {
  const struct {
    const char *name;
    void (*fn)();
  } cases[] = {{"generator", generator},
               {"exception_caught_inside_body", exception_caught_inside_body},
               {"exception_escaping_body_terminates", exception_escaping_body_terminates}};
  int ran = 0;
  for (const auto &c : cases) {
    if (argc < 2 || std::strcmp(argv[1], c.name) == 0) {
      c.fn();
      ran++;
    }
  }
  if (ran == 0) {
    std::fprintf(stderr, "cxx: no case %s\n", argv[1]);
    return 2;
  }
  std::printf("%d case(s), %d failure(s)\n", ran, failures);
  return failures == 0 ? 0 : 1;
}
