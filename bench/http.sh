#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/http.sh - HTTP on loopback: examples/httpd (micro-threads), its
# --threads variant (a thread per connection, the same request code) and
# Debian's nginx with one worker, all answering GET / with "Hello, World!".
#
#   bash bench/http.sh [BUILD_DIR]        (make bench-http: BUILD_DIR = build)
#
# Rows: requests/s and p99 latency from `wrk -t2 -cC -dD --latency` at 100 and
# 1000 connections (D = $HTTP_BENCH_DURATION, 5s by default; the median of
# $HTTP_BENCH_REPEAT runs, 5 by default, with their range); then the same for
# multi-core by processes: `httpd --workers N` (the pre-fork runner, one
# listening socket inherited by N worker processes) next to nginx with
# `worker_processes N`, for each N in $HTTP_BENCH_WORKERS ("1 2" by default);
# then the
# resident memory (VmRSS) of the two httpd variants holding 10 000 idle
# connections (bench/idle_conns; $HTTP_BENCH_IDLE to change the count).
# HTTP_BENCH_ONLY=idle runs only those memory rows (no wrk, no nginx).
# Everything is on 127.0.0.1, each run bounded in time.  wrk and nginx are
# installed with apt-get when missing and running as root; otherwise their
# rows are skipped with a note.  wrk runs on the same machine and takes CPU
# from the server: compare the rows with each other, not with other machines.
set -u

BUILD=${1:-build}
HTTPD=$BUILD/examples/httpd
IDLE=$BUILD/bench/idle_conns
DURATION=${HTTP_BENCH_DURATION:-5s}
IDLE_N=${HTTP_BENCH_IDLE:-10000}
REPEAT=${HTTP_BENCH_REPEAT:-5}
WORKERS=${HTTP_BENCH_WORKERS:-1 2}
ONLY=${HTTP_BENCH_ONLY:-}
TMP=$(mktemp -d /tmp/coro-bench-http.XXXXXX)
PIDS=()

note() { printf 'bench/http.sh: %s\n' "$*" >&2; }
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

for f in "$HTTPD" "$IDLE"; do
  if [ ! -x "$f" ]; then
    note "$f is missing: build first (make build)"
    exit 1
  fi
done

# --- tools --------------------------------------------------------------------------
want=()
if [ "$ONLY" != idle ]; then
  command -v wrk >/dev/null || want+=(wrk)
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || want+=(nginx-light)
fi
if [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    note "installing ${want[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${want[@]}" >/dev/null ||
      note "could not install ${want[*]}"
  else
    note "${want[*]} missing and not root: install them (apt-get install wrk nginx-light) for every row"
  fi
fi
HAVE_WRK=0
command -v wrk >/dev/null && HAVE_WRK=1
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)

# Room for 10 000 connections on each side (and wrk's 1000).
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_N + 100)) ]; then
  note "ulimit -n is $(ulimit -n): the idle rows use $(($(ulimit -n) - 100)) connections"
  IDLE_N=$(($(ulimit -n) - 100))
fi

# --- servers ----------------------------------------------------------------------------
# start_httpd ARGS...: start httpd on an ephemeral port; sets SPID and SPORT.
start_httpd() {
  rm -f "$TMP/httpd.out" # not a stale port from the last run
  "$HTTPD" --port 0 --read-timeout 600000 "$@" >"$TMP/httpd.out" 2>"$TMP/httpd.err" &
  SPID=$!
  PIDS+=("$SPID")
  local i
  for i in $(seq 100); do
    SPORT=$(awk '/^listening on/ {print $3}' "$TMP/httpd.out" 2>/dev/null)
    [ -n "$SPORT" ] && return 0
    sleep 0.05
  done
  note "httpd did not start: $(cat "$TMP/httpd.err")"
  return 1
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# start_nginx [N]: N workers (default 1), "Hello, World!" for every request;
# sets SPID and SPORT.
start_nginx() {
  local try nworkers=${1:-1}
  mkdir -p "$TMP/nginx/logs"
  for try in 1 2 3 4 5; do
    SPORT=$((20000 + RANDOM % 20000))
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $nworkers;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 1000000;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$SPORT;
    location / { return 200 "Hello, World!"; }
  }
}
EOF
    "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" \
      2>>"$TMP/nginx/logs/error.log" &
    SPID=$!
    PIDS+=("$SPID")
    local i
    for i in $(seq 40); do
      if ! kill -0 "$SPID" 2>/dev/null; then break; fi
      if ss -ltn "sport = :$SPORT" 2>/dev/null | grep -q LISTEN; then return 0; fi
      sleep 0.05
    done
    stop_pid "$SPID"
  done
  note "nginx did not start: $(tail -3 "$TMP/nginx/logs/error.log")"
  return 1
}

# --- measurements -----------------------------------------------------------------------

# run_wrk KEY CONNS: one wrk run against SPORT; appends "rps p99_ms" to $TMP/KEY.CONNS.
run_wrk() {
  local key=$1 conns=$2 out rps p99
  out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:$SPORT/" 2>&1)
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  # wrk prints latencies with a unit (us, ms, s): in ms
  p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
          print (u == "us" ? v / 1000 : u == "s" ? v * 1000 : v) }' <<<"$out")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    note "$key at $conns connections: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')"
  fi
  [ -n "$rps" ] && [ -n "$p99" ] && echo "$rps $p99" >>"$TMP/$key.$conns"
}

# row NAME KEY CONNS: the median of the runs, with their range.
row() {
  local f=$TMP/$2.$3
  if [ ! -s "$f" ]; then
    printf '%-20s %6s %12s\n' "$1" "$3" "skipped"
    return
  fi
  local rps p99
  rps=$(awk '{print $1}' "$f" | sort -n | awk '{v[NR] = $1} END {printf "%.0f (%.0f-%.0f)", v[int((NR + 1) / 2)], v[1], v[NR]}')
  p99=$(awk '{print $2}' "$f" | sort -n | awk '{v[NR] = $1} END {printf "%.2f (%.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR]}')
  printf '%-20s %6s %28s %28s\n' "$1" "$3" "$rps" "$p99"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# The machine's kernel stacks (kB): each thread has one (16 KiB on x86_64),
# which VmRSS does not count.  Other processes' threads come and go too, so
# on a shared machine this is close, not exact.
used_kb() { awk '/^KernelStack:/ {print $2}' /proc/meminfo; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# idle_row NAME: with SPID/SPORT running, RSS before and with IDLE_N idle connections.
MEM_ROWS=()
idle_row() {
  local name=$1 before after ipid i sys0 sys1
  before=$(rss_kb "$SPID")
  sys0=$(used_kb)
  rm -f "$TMP/idle.out"
  "$IDLE" 127.0.0.1 "$SPORT" "$IDLE_N" >"$TMP/idle.out" 2>"$TMP/idle.err" &
  ipid=$!
  PIDS+=("$ipid")
  for i in $(seq 1200); do # up to 60 s for the connections and the accepts
    grep -q '^open' "$TMP/idle.out" && [ "$(fd_count "$SPID")" -ge "$IDLE_N" ] && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q '^open' "$TMP/idle.out"; then
    note "$name: idle_conns failed: $(cat "$TMP/idle.err")"
    stop_pid "$ipid"
    return
  fi
  sleep 1 # let the last accepted connections park
  after=$(rss_kb "$SPID")
  sys1=$(used_kb)
  MEM_ROWS+=("$(printf '%-22s %8s %10s MiB %10s MiB %10.1f KiB %10.1f KiB' "$name" "$IDLE_N" \
    "$(awk -v k="$before" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$(awk -v k="$after" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$(awk -v a="$after" -v b="$before" -v n="$IDLE_N" 'BEGIN {print (a - b) / n}')" \
    "$(awk -v a="$sys1" -v b="$sys0" -v n="$IDLE_N" 'BEGIN {print (a - b) / n}')")")
  stop_pid "$ipid"
}

echo "== bench/http.sh: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
  "Linux $(uname -r), wrk -t2 -d$DURATION --latency on 127.0.0.1"

# The servers take turns in every repetition, so that a noisy neighbour
# spreads over all of them rather than falling on one.
if [ "$ONLY" = idle ]; then
  note "HTTP_BENCH_ONLY=idle: only the memory rows"
elif [ "$HAVE_WRK" = 1 ]; then
  for conns in 100 1000; do
    for rep in $(seq "$REPEAT"); do
      if start_httpd; then
        run_wrk coro "$conns"
        stop_pid "$SPID"
      fi
      if start_httpd --threads; then
        run_wrk threads "$conns"
        stop_pid "$SPID"
      fi
      if [ -n "$NGINX" ] && start_nginx; then
        run_wrk nginx "$conns"
        stop_pid "$SPID"
      fi
    done
  done
  # Multi-core by processes: the runner's workers against nginx's, N each.
  for conns in 100 1000; do
    for rep in $(seq "$REPEAT"); do
      for n in $WORKERS; do
        if start_httpd --workers "$n"; then
          run_wrk "coro_w$n" "$conns"
          stop_pid "$SPID"
        fi
        if [ -n "$NGINX" ] && start_nginx "$n"; then
          run_wrk "nginx_w$n" "$conns"
          stop_pid "$SPID"
        fi
      done
    done
  done
  echo
  echo "median of $REPEAT runs (min-max)"
  printf '%-20s %6s %28s %28s\n' server conns requests/s "p99 latency, ms"
  for conns in 100 1000; do
    row "httpd (coroutines)" coro "$conns"
    row "httpd --threads" threads "$conns"
    row "nginx (1 worker)" nginx "$conns"
  done
  echo
  echo "multi-core by processes: N worker processes each (median of $REPEAT runs)"
  printf '%-20s %6s %28s %28s\n' server conns requests/s "p99 latency, ms"
  for conns in 100 1000; do
    for n in $WORKERS; do
      row "httpd --workers $n" "coro_w$n" "$conns"
      row "nginx ($n worker$([ "$n" = 1 ] || echo s))" "nginx_w$n" "$conns"
    done
  done
else
  note "wrk is missing: the throughput rows are skipped"
fi

if start_httpd; then
  idle_row "httpd (coroutines)"
  stop_pid "$SPID"
fi
if start_httpd --threads; then
  idle_row "httpd --threads"
  stop_pid "$SPID"
fi
echo
printf '%-22s %8s %14s %14s %14s %14s\n' server idle "RSS before" "RSS with them" "RSS per conn" \
  "+kernel stacks"
printf '%s\n' "${MEM_ROWS[@]}"
