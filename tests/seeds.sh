#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/seeds.sh - rerun a CTest label under many scheduler seeds.
#
#   tests/seeds.sh BUILD_DIR [SEEDS] [LABEL] [FIRST]
#
# Runs `ctest -L LABEL` (default seeds) once per seed FIRST..FIRST+SEEDS-1
# (default 1..10) with CORO_SCHED_SEED set to it, and prints, for every seed
# that failed, the seed, the failing tests and the command that replays each.
# Exits 1 if any seed failed.  CTEST_ARGS adds arguments to every ctest run
# (e.g. CTEST_ARGS="-j2 -E uring").  `make test-seeds` and CI's seeds stage
# call it.
set -uo pipefail

build=${1:?usage: tests/seeds.sh BUILD_DIR [SEEDS] [LABEL] [FIRST]}
count=${2:-10}
label=${3:-seeds}
first=${4:-1}
read -r -a extra <<<"${CTEST_ARGS:--j2}"
log=$(mktemp /tmp/coro-seeds.XXXXXX)
trap 'rm -f "$log"' EXIT

failed_seeds=()
failures=()
start=$(date +%s)
for ((seed = first; seed < first + count; seed++)); do
  if CORO_SCHED_SEED=$seed ctest --test-dir "$build" -L "^${label}\$" --output-on-failure \
       "${extra[@]}" >"$log" 2>&1; then
    if ! grep -q "tests passed" "$log"; then
      echo "seeds: seed $seed: ctest ran no test of label $label" >&2
      cat "$log" >&2
      exit 1
    fi
    printf 'seeds: seed %d passed (%s)\n' "$seed" "$(grep -oE '[0-9]+% tests passed.*' "$log" | head -1)"
    continue
  fi
  failed_seeds+=("$seed")
  echo "seeds: seed $seed FAILED:"
  # The failing tests, and what each printed (ctest's --output-on-failure).
  grep -E '^\s+[0-9]+ - .* \((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception|Not Run)' "$log"
  grep -E '^/.*:[0-9]+: ' "$log" | sed 's/^/    /'
  while read -r name; do
    file=${name%%.*}
    case=${name#*.}
    failures+=("CORO_SCHED_SEED=$seed $build/tests/test_$file ${case%.uring}")
  done < <(grep -E '^\s+[0-9]+ - ' "$log" | sed -E 's/^\s+[0-9]+ - ([^ ]+) .*/\1/')
done
end=$(date +%s)

echo "seeds: $count seeds of label $label ($first..$((first + count - 1))) in $((end - start)) s:" \
     "${#failed_seeds[@]} failed${failed_seeds[*]:+: ${failed_seeds[*]}}"
if [ ${#failures[@]} -gt 0 ]; then
  echo "seeds: replay each failure with:"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
exit 0
