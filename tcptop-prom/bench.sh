#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark of tcptop-prom at N label sets (one connection each; 9 to 10 samples each):
#  1. the exposition built in-process, median of 7 runs, in CPU time (the verdict: wall time
#     swings on a shared machine) and wall time; heap bytes per label set with its connection;
#  2. a real server: tcptop-prom --listen fed a snapshot of N connections, scraped SCRAPES times
#     over HTTP with curl; the exporter's CPU time (user+sys from /proc) per scrape, and what a
#     scrape every 15 s costs as a share of one core. Usage: bench.sh OUTPUT [N] [SCRAPES]
set -eu
out=$1 n=${2:-100000} scrapes=${3:-5}
tick=$(getconf CLK_TCK)

echo "tcptop-prom: $n label sets"
"$out/tests/bench-prom" "$n" | tee "$out/bench-prom.txt" | sed 's/^/  /'

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fifo=$(mktemp -u) && mkfifo "$fifo"
"$out/tcptop-prom" --listen "127.0.0.1:$port" --max-series "$n" "$fifo" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$fifo"' EXIT
"$out/tests/bench-prom" --stream "$n" >"$fifo"
# ready when every label set is in
for _ in $(seq 600); do
	got=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null | sed -n 's/^tcptop_exporter_series //p') || true
	[ "${got:-0}" -ge "$n" ] && break
	sleep 0.5
done
[ "${got:-0}" -ge "$n" ] || { echo "bench-prom: the exporter never held $n label sets" >&2; exit 1; }
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
c0=$(cpu)
t0=$(date +%s.%N)
bytes=0
for _ in $(seq "$scrapes"); do
	b=$(curl -fsS -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/metrics")
	bytes=$((bytes + b))
done
t1=$(date +%s.%N)
c1=$(cpu)
per=$(echo "($c1 - $c0) / $tick / $scrapes" | bc -l)
wall=$(echo "($t1 - $t0) / $scrapes" | bc -l)
printf '  HTTP scrape: %d bytes, exporter CPU %.3f s a scrape (median-free mean of %d), wall %.3f s\n' \
	"$((bytes / scrapes))" "$per" "$scrapes" "$wall"
printf '  a scrape every 15 s: %.2f%% of one core (target < 1%%)\n' "$(echo "$per / 15 * 100" | bc -l)"
