# SPDX-License-Identifier: MIT
# The two commands of the README, and a few more.  Everything is built by
# CMake under build/; nothing but gcc, make and cmake is needed.
#
#   make demo        build, then run the article's programs and a short
#                    coroutines-vs-threads comparison
#   make test        build everything and run every test through CTest
#   make test-seeds  rerun the scheduler, channel, sync, group, select, timer,
#                    I/O and process tests under SEEDS scheduler seeds (default
#                    20; LABEL=seeds_core for the scheduler-level ones only)
#   make bench       the full benchmark set (and a plot when gnuplot is installed)
#   make bench-json  the benchmarks as one JSON object per line
#   make bench-http  examples/httpd against its --threads variant and nginx (wrk, loopback)
#   make install     install under PREFIX (default /usr/local)

BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build demo test test-seeds bench bench-json bench-http install clean format

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@echo "== examples/interleave: A (1 2 3) and B (x y z) as coroutines"
	@$(BUILD)/examples/interleave
	@echo
	@echo "== examples/producer_consumer: the article's lock-free producer/consumer"
	@$(BUILD)/examples/producer_consumer
	@echo
	@echo "== examples/pipeline: a lazy pipeline of generators chained with yield from"
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

bench-json: build
	@$(BUILD)/bench/bench_core --json
	@$(BUILD)/bench/bench_sched --json

bench-http: build
	bash bench/http.sh $(BUILD)

install: build
	cmake --install $(BUILD)

format:
	clang-format -i include/*.h src/*.c src/*.h src/arch/*.c src/arch/*.h tests/*.c tests/*.h examples/*.c bench/*.c

clean:
	rm -rf $(BUILD)
