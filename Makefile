# SPDX-License-Identifier: MIT
# The two commands of the README, and a few more.  Everything is built by
# CMake under build/; nothing but gcc, make and cmake is needed.
#
#   make demo        build, then run three programs -- the two of the article
#                    "Why Coroutines Outperform Threads: A Deep Dive into
#                    Python's Generator Magic" and a generator pipeline -- and
#                    a short coroutines-vs-threads comparison
#   make test        build everything and run every test through CTest
#   make test-seeds  rerun the scheduler, channel, sync, group, select, timer,
#                    I/O and process tests under SEEDS scheduler seeds (default
#                    20; LABEL=seeds_core for the scheduler-level ones only)
#   make bench       the full benchmark set (and a plot when gnuplot is installed)
#   make bench-json  the benchmarks as one JSON object per line
#   make bench-http  examples/httpd against its --threads variant and nginx (wrk, loopback)
#   make install     install under PREFIX (default /usr/local; DESTDIR is honoured).
#                    The prefix is given at install time, so it holds whatever
#                    configured build/ first (make demo, make test)
#   make man         the manual pages, generated from the header (include/coro.h,
#                    include/coro/*.h) into build/man/
#   make dist        the source tarball build/libcoro-VERSION.tar.gz (git archive of HEAD)
#   make deb         Debian packages of the library and its -dev files (CPack, build-deb/)

BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build demo test test-seeds bench bench-json bench-http install man dist deb clean format

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@echo "Three programs, then a comparison.  The first two are the programs of the article"
	@echo "\"Why Coroutines Outperform Threads: A Deep Dive into Python's Generator Magic\", in C."
	@echo
	@echo "== 1/3 examples/interleave: the article's A (1 2 3) and B (x y z) as coroutines"
	@$(BUILD)/examples/interleave
	@echo
	@echo "== 2/3 examples/producer_consumer: the article's lock-free producer/consumer"
	@$(BUILD)/examples/producer_consumer
	@echo
	@echo "== 3/3 examples/pipeline: a lazy pipeline of generators chained with yield from"
	@$(BUILD)/examples/pipeline
	@echo
	@echo "== bench/bench_core --quick: coroutines vs threads vs processes, same work"
	@$(BUILD)/bench/bench_core --quick

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

SEEDS ?= 20
LABEL ?= seeds
test-seeds: build
	bash tests/seeds.sh $(BUILD) $(SEEDS) $(LABEL)

bench: build
	$(BUILD)/bench/bench_core
	@sh bench/plot.sh $(BUILD)
	$(BUILD)/bench/bench_sched
	$(BUILD)/bench/bench_io
	$(BUILD)/bench/bench_broadcast

bench-json: build
	@$(BUILD)/bench/bench_core --json
	@$(BUILD)/bench/bench_sched --json
	@$(BUILD)/bench/bench_io --json
	@$(BUILD)/bench/bench_broadcast --json

bench-http: build
	bash bench/http.sh $(BUILD)

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

man: build
	cmake --build $(BUILD) --target coro_man

dist: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) --target coro_dist

deb:
	cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	  -DCORO_BUILD_TESTS=OFF -DCORO_BUILD_EXAMPLES=OFF -DCORO_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build build-deb -j $(JOBS)
	cd build-deb && cpack -G DEB

format:
	clang-format -i include/*.h include/coro/*.h src/*.c src/*.h src/arch/*.c src/arch/*.h tests/*.c tests/*.h examples/*.c examples/*.h bench/*.c

clean:
	rm -rf $(BUILD)
