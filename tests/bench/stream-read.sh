#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark: lib's stream reader against `cat FILE >/dev/null` on the same 1 GB generated file,
# 5 alternating runs each, medians and their ratio. Usage: stream-read.sh OUTPUT [MB]
set -eu
out=$1 mb=${2:-1024}
file=$out/bench/stream-read.tcpt
mkdir -p "$out/bench"
# samples are 72 bytes on the wire: records for the requested size
records=$((mb * 1024 * 1024 / 72))
if [ ! -s "$file" ] || [ "$(stat -c %s "$file")" -lt $((mb * 1024 * 1024 * 9 / 10)) ]; then
	"$out/tcptop-gen" --bulk-raw "100000,$records" -o "$file"
fi
size=$(stat -c %s "$file")
cat "$file" >/dev/null # warm the page cache
now() { date +%s.%N; }
cats=() reads=()
for i in 1 2 3 4 5; do
	t0=$(now); cat "$file" >/dev/null; t1=$(now)
	cats+=("$(echo "$t1 - $t0" | bc -l)")
	set -- $("$out/tests/bench-read" "$file")
	n=$1
	t0=$(now); "$out/tests/bench-read" "$file" >/dev/null; t1=$(now)
	reads+=("$(echo "$t1 - $t0" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
mc=$(median "${cats[@]}") mr=$(median "${reads[@]}")
printf 'stream reader: %s bytes, %s records\n' "$size" "$n"
printf '  cat FILE >/dev/null  median %.3f s  (%.0f MB/s)\n' "$mc" "$(echo "$size / $mc / 1000000" | bc -l)"
printf '  tcptop reader        median %.3f s  (%.0f MB/s, %.1f M records/s)\n' "$mr" \
	"$(echo "$size / $mr / 1000000" | bc -l)" "$(echo "$n / $mr / 1000000" | bc -l)"
printf '  ratio reader/cat throughput: %.2f (target >= 0.5)\n' "$(echo "$mc / $mr" | bc -l)"
