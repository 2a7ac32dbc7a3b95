#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark of tcptop-csv: rows per second on a generated snapshot stream of ROWS rows (10,000
# rows a snapshot), against `cat` of its CSV output (a file of the same size as what tcptop-csv
# writes), 5 alternating runs each, medians and their ratio; CPU time (user+sys) as well, since
# wall-clock time swings on a shared machine. With BASE (another build of tcptop-csv, e.g. an
# older commit's), it runs alternating with the build on the same stream, and the medians of
# their CPU times and its ratio are said too. Usage: bench.sh OUTPUT [ROWS [BASE]]
set -eu
out=$1 rows=${2:-10000000} base=${3:-}
per=10000
snaps=$(((rows + per - 1) / per))
rows=$((snaps * per))
dir=$out/bench
stream=$dir/csv-$rows.tcpt csv=$dir/csv-$rows.csv
mkdir -p "$dir"
[ -s "$stream" ] || "$out/tcptop-gen" --bulk-snap "$per,$snaps" -o "$stream"
"$out/tcptop-csv" "$stream" >"$csv" # the output of the same size, and a warm page cache
lines=$(wc -l <"$csv")
[ "$lines" -eq $((rows + 1)) ] || { echo "bench-csv: $lines lines, expected $((rows + 1))" >&2; exit 1; }
cat "$csv" >/dev/null

TIMEFORMAT='%R %U %S'
# run CMD...: prints "wall cpu" in seconds
run() { { time "$@" >/dev/null; } 2>&1 | awk '{ print $1, $2 + $3 }'; }
cats=() csvs=() cpus=() bases=()
for i in 1 2 3 4 5; do
	set -- $(run cat "$csv")
	cats+=("$1")
	set -- $(run "$out/tcptop-csv" "$stream")
	csvs+=("$1") cpus+=("$2")
	if [ -n "$base" ]; then
		set -- $(run "$base" "$stream")
		bases+=("$2")
	fi
done
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
mc=$(median "${cats[@]}") mw=$(median "${csvs[@]}") mu=$(median "${cpus[@]}")
size=$(stat -c %s "$csv") ssize=$(stat -c %s "$stream")
printf 'tcptop-csv: %s rows (%s snapshots), stream %s bytes, CSV %s bytes\n' "$rows" "$snaps" \
	"$ssize" "$size"
printf '  cat CSV >/dev/null          median %.3f s  (%.0f MB/s)\n' "$mc" \
	"$(echo "$size / $mc / 1000000" | bc -l)"
printf '  tcptop-csv STREAM >/dev/null median %.3f s wall, %.3f s CPU\n' "$mw" "$mu"
printf '  rows/s: %.2f M (wall), %.2f M (CPU)  (target >= 1 M)\n' \
	"$(echo "$rows / $mw / 1000000" | bc -l)" "$(echo "$rows / $mu / 1000000" | bc -l)"
printf '  ratio tcptop-csv/cat throughput on the same output: %.3f\n' "$(echo "$mc / $mw" | bc -l)"
if [ -n "$base" ]; then
	mb=$(median "${bases[@]}")
	printf '  %s STREAM: median %.3f s CPU (runs %s); this build %.3f s (runs %s)\n' "$base" \
		"$mb" "${bases[*]}" "$mu" "${cpus[*]}"
	printf '  CPU a row: %.2f times less than BASE (load average %s)\n' \
		"$(echo "$mb / $mu" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
fi
