#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmarks of tcptop-agg (make bench-agg): throughput against `cat FILE >/dev/null` on the same
# generated stream (100,000 live connections, 10 million counter records), 5 alternating runs,
# medians and their ratio; then memory per tracked connection from RSS with 1 million live
# connections, against the same program holding none. Usage: bench.sh OUTPUT
set -eu
out=$1
agg=$out/tcptop-agg gen=$out/tcptop-gen
mkdir -p "$out/bench"
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }

# ---- throughput ----
file=$out/bench/agg-raw.tcpt
conns=100000 records=10000000
# 100,000 opens, 10,000,000 samples, a tick per round of samples (100): 72 bytes each
want=$(((conns + records + records / conns) * 72 + 1000))
if [ ! -s "$file" ] || [ "$(stat -c %s "$file")" -lt $((want - 2000)) ]; then
	"$gen" --bulk-raw "$conns,$records" -o "$file"
fi
n=$(("$out/tests/bench-read" "$file" 2>/dev/null || echo "$((conns + records + records / conns + 1))") | cut -d' ' -f1)
size=$(stat -c %s "$file")
cat "$file" >/dev/null # warm the page cache
cats=() aggs=() ccpus=() acpus=() hids=() hcpus=()
# cpu CMD...: runs CMD with stdout to /dev/null, prints "WALL CPU" in seconds
cpu() {
	local t0 t1 c
	t0=$(now)
	c=$( { /usr/bin/time -f '%U %S' "$@" >/dev/null; } 2>&1 | tail -n 1)
	t1=$(now)
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "$c" | awk '{ print $1 + $2 }')"
}
for i in 1 2 3 4 5; do
	set -- $(cpu cat "$file")
	cats+=("$1") ccpus+=("$2")
	set -- $(cpu "$agg" "$file")
	aggs+=("$1") acpus+=("$2")
	# the same input with every row filtered out: the cost of reading and tracking alone
	set -- $(cpu "$agg" --pid 1 "$file")
	hids+=("$1") hcpus+=("$2")
done
mc=$(median "${cats[@]}") ma=$(median "${aggs[@]}")
mcc=$(median "${ccpus[@]}") mac=$(median "${acpus[@]}")
snaps=$((records / conns))
printf 'tcptop-agg throughput: %s bytes, %s records, %s live connections, %s snapshots of %s rows\n' \
	"$size" "$n" "$conns" "$snaps" "$conns"
printf '  cat FILE >/dev/null         median %.3f s wall (%.0f MB/s), %.3f s CPU\n' "$mc" \
	"$(echo "$size / $mc / 1000000" | bc -l)" "$mcc"
printf '  tcptop-agg FILE >/dev/null  median %.3f s wall (%.1f M records/s), %.3f s CPU (%.1f M records/s)\n' \
	"$ma" "$(echo "$n / $ma / 1000000" | bc -l)" "$mac" "$(echo "$n / $mac / 1000000" | bc -l)"
printf '  ratio agg/cat throughput: %.2f wall, %.2f CPU (target 0.3; records/s target 10 M)\n' \
	"$(echo "$mc / $ma" | bc -l)" "$(echo "$mcc / $mac" | bc -l)"
mh=$(median "${hids[@]}") mhc=$(median "${hcpus[@]}")
printf '  tcptop-agg --pid 1 (no rows written)  median %.3f s wall (%.1f M records/s), %.3f s CPU; ratio to cat %.2f wall, %.2f CPU\n' \
	"$mh" "$(echo "$n / $mh / 1000000" | bc -l)" "$mhc" "$(echo "$mc / $mh" | bc -l)" \
	"$(echo "$mcc / $mhc" | bc -l)"

# ---- memory per connection ----
# rss_after STREAM: agg's VmRSS (kB) once it has read STREAM and waits on its pipe for more
rss_after() {
	local f=$1 size pid rss=0 i
	size=$(stat -c %s "$f")
	mkfifo "$out/bench/agg-fifo.$$"
	"$agg" --max-flows 2000000 <"$out/bench/agg-fifo.$$" >/dev/null 2>&1 &
	pid=$!
	exec 7>"$out/bench/agg-fifo.$$"
	cat "$f" >&7
	for ((i = 0; i < 600; i++)); do
		# everything read, and asleep in read(2) again: the whole input is processed
		if [ "$(awk '/^rchar/ { print $2 }' "/proc/$pid/io")" -ge "$size" ] &&
			[ "$(awk '{ print $3 }' "/proc/$pid/stat")" = S ]; then
			rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
			break
		fi
		sleep 0.1
	done
	exec 7>&-
	wait "$pid" || true
	rm -f "$out/bench/agg-fifo.$$"
	echo "$rss"
}
big=$out/bench/agg-1m.tcpt none=$out/bench/agg-0.tcpt
[ -s "$big" ] || "$gen" --bulk-raw 1000000,0 -o "$big"
[ -s "$none" ] || "$gen" --bulk-raw 0,0 -o "$none"
r0=$(rss_after "$none")
r1=$(rss_after "$big")
printf 'tcptop-agg memory: RSS %s kB holding 1,000,000 live connections, %s kB holding none\n' \
	"$r1" "$r0"
printf '  %.0f bytes per tracked connection (target 256)\n' \
	"$(echo "($r1 - $r0) * 1024 / 1000000" | bc -l)"
