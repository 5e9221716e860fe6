#!/bin/sh
# SPDX-License-Identifier: MIT
# plot.sh BUILD_DIR - draw BUILD_DIR/bench/bench_core.png from the data that
# bench_core wrote to BUILD_DIR/bench/bench_core.dat: one horizontal bar per
# round-trip mechanism (median, log scale), with the min..max of the repeats as
# an error bar.  Without gnuplot it prints a one-line note and exits 0, so that
# `make bench` works on machines without it.
set -eu

build=${1:-build}
dat="$build/bench/bench_core.dat"
png="$build/bench/bench_core.png"

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "plot.sh: gnuplot is not installed: no plot (the figures are in $dat)"
  exit 0
fi
if [ ! -r "$dat" ]; then
  echo "plot.sh: $dat not found: run $build/bench/bench_core first" >&2
  exit 1
fi

# Rows: kind key median min max unit vs_coroutine "label"; keep the round trips.
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT INT TERM
awk '$1 == "roundtrip"' "$dat" >"$rows"
if [ ! -s "$rows" ]; then
  echo "plot.sh: no round-trip rows in $dat" >&2
  exit 1
fi
# The data file's first line says which run it was; "_" would turn into a
# subscript in gnuplot's enhanced text.
title=$(sed -n '1s/^# *//p' "$dat" | sed 's/_/\\\\_/g')

# pngcairo draws better; plain png (libgd) is the fallback.
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
  term='pngcairo size 1000,460 font "Sans,10"'
else
  term='png size 1000,460'
fi

gnuplot <<EOF
set terminal $term
set output "$png"
set title "Round trip (hand a value over and back), ns, log scale\n{/*0.8 $title; bars: median, whiskers: min..max}"
set logscale x 10
set xrange [1:1e6]
set format x "10^{%T}"
set xlabel "nanoseconds per round trip"
set grid xtics mxtics
set yrange [:] reverse
set offsets 0, 0, 0.5, 0.5
set ytics nomirror scale 0
set key off
set style fill solid 0.8 noborder
set lmargin 34
# boxxyerrorbars: x y xlow xhigh ylow yhigh; the bar runs from 1 ns to the median.
# libcoro's own row (the first) in orange, the others in blue.
colour(row) = row == 0 ? 0xdd7711 : 0x4477aa
ns_text(ns) = ns >= 100 ? sprintf("%.0f ns", ns) : sprintf("%.1f ns", ns)
plot "$rows" using (sqrt(\$3)):0:(1):3:(\$0-0.35):(\$0+0.35):(colour(\$0)):ytic(8) \
       with boxxyerrorbars lc rgb variable, \
     "" using 3:0:4:5 with xerrorbars lc rgb "#222222" pt -1, \
     "" using 5:0:(sprintf(" %s  (%.3gx coroutine)", ns_text(\$3), \$7)) with labels left offset 1,0 font ",9"
EOF
echo "$png"
