#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Many hosts in one table: tcptop-agg --merge on recordings of two hosts with different clocks
# (each host's snapshots on its own clock, in wall time; the same output however read), their
# states (live, lagging, ended), the host column of tcptop-csv, tcptop-view and tcptop-prom; and
# live, two collectors in two network namespaces, each its own host (root and BPF).
load test_helper/common

setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
	# alpha: monotonic clock at 0 when the wall clock read 1700000000
	cat >"$T/alpha.txt" <<'S'
header real=1700000000 mono=0 interval=1 host="alpha" boot="boot-a"
open t=0.1 flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.9:443 pid=1 comm=curl in=100 out=10
tick t=1
sample t=1.5 flow=1 in=300 out=30
tick t=2
close t=2.2 flow=1 in=400 out=40
loss t=2.5 ringbuf=2
tick t=3
end t=3.1
S
	# beta: another clock (5000 s since its boot), 0.4 s behind alpha's in wall time
	cat >"$T/beta.txt" <<'S'
header real=1700000000.4 mono=5000 interval=1 host="beta" boot="boot-b"
open t=5000.2 flow=1 proto=udp src=10.0.0.2:5353 dst=10.0.0.8:53 pid=2 comm=dig in=64 out=32
tick t=5001
tick t=5002
sample t=5002.5 flow=1 in=128 out=64
tick t=5003
tick t=5004
end t=5004.1
S
	"$GEN" -o "$T/alpha.tcpt" "$T/alpha.txt"
	"$GEN" -o "$T/beta.tcpt" "$T/beta.txt"
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	tmux kill-session -t "fleet$$" 2>/dev/null || true
	if [ -n "${NETNS_A:-}" ]; then
		ip netns del "$NETNS_A" 2>/dev/null || true
		ip netns del "$NETNS_B" 2>/dev/null || true
	fi
}

@test "--merge: one table of two hosts, each cut on its own clock, in wall time" {
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump' _ "$T/alpha.tcpt" "$T/beta.tcpt"
	# one merged snapshot per interval, at the later host's time (beta: .4)
	run -0 grep -c '^snap ' <<<"$output"
	assert_output 4
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump | grep -E "^(snap |hostrec)" | cut -d" " -f1-4' \
		_ "$T/alpha.tcpt" "$T/beta.tcpt"
	assert_line --index 0 'snap seq=1 time=1700000001.400000000 mono=1700000001.400000000'
	assert_line --index 1 'hostrec index=1 state=live time=1700000001.000000000'
	assert_line --index 2 'hostrec index=2 state=live time=1700000001.400000000'
	# alpha ended after its third snapshot: its connection leaves, beta's stays
	assert_line --index 10 'hostrec index=1 state=ended time=1700000003.000000000'
	assert_line --index 11 'hostrec index=2 state=live time=1700000004.400000000'
	# the header names both hosts; its clock is the wall clock
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump | head -n 1' _ "$T/alpha.tcpt" "$T/beta.tcpt"
	assert_output --partial 'real=0.000000000 mono=0.000000000'
	assert_output --partial 'host="alpha+beta"'
}

@test "--merge of files gives the same bytes however the inputs are read" {
	tcptop-agg --merge "$T/alpha.tcpt" "$T/beta.tcpt" >"$T/m1.tcpt"
	tcptop-agg --merge "$T/alpha.tcpt" <(cat "$T/beta.tcpt") >"$T/m2.tcpt"
	cat "$T/beta.tcpt" | tcptop-agg --merge "$T/alpha.tcpt" - >"$T/m3.tcpt"
	run -0 cmp "$T/m1.tcpt" "$T/m2.tcpt"
	run -0 cmp "$T/m1.tcpt" "$T/m3.tcpt"
}

@test "tcptop-csv: a host column, the first 16 columns as they were; exact totals per host" {
	tcptop-agg --merge "$T/alpha.tcpt" "$T/beta.tcpt" | tcptop-csv -o "$T/m.csv"
	run -0 python3 - "$T/m.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
hdr = open(sys.argv[1]).readline().strip().split(",")
assert hdr[:2] == ["timestamp", "protocol"] and hdr[15] == "rtt_us" and "host" in hdr[16:], hdr
last = {}
for r in rows:
    last[(r["host"], r["protocol"])] = (int(r["bytes_in"]), int(r["bytes_out"]))
print(sorted(last.items()))
print(sorted({r["host"] for r in rows if r["closed"] == "1"}))
PY
	assert_line --index 0 "[(('alpha', 'tcp'), (400, 40)), (('beta', 'udp'), (128, 64))]"
	assert_line --index 1 "['alpha']"
	# one host alone: the column holds the header's host name
	run -0 bash -c 'tcptop-agg "$1" | tcptop-csv | python3 -c "import csv, sys; print(list(csv.DictReader(sys.stdin))[-1][\"host\"])"' _ "$T/alpha.tcpt"
	assert_output alpha
}

@test "tcptop-prom: a host label per host, exact totals, loss per host" {
	tcptop-agg --merge "$T/alpha.tcpt" "$T/beta.tcpt" >"$T/m.tcpt"
	tcptop-prom --textfile "$T/m.prom" "$T/m.tcpt"
	run -0 grep -F 'tcptop_network_io_bytes_total{host="alpha",protocol="tcp",process="curl",remote_addr="10.0.0.9",remote_port="443",direction="receive"} 400' "$T/m.prom"
	run -0 grep -F 'tcptop_network_io_bytes_total{host="beta",protocol="udp",process="dig",local_port="5353",remote_addr="10.0.0.8",remote_port="53",direction="transmit"} 64' "$T/m.prom"
	run -0 grep -F 'tcptop_loss_total{host="alpha",cause="ringbuf"} 2' "$T/m.prom"
	run -0 grep -F 'tcptop_loss_total{host="beta",cause="agg_gap"} 0' "$T/m.prom"
	run -0 grep -F 'tcptop_stream_up{host="alpha",state="ended"} 0' "$T/m.prom"
	# the merged header's "alpha+beta" is no host
	run -1 grep -F 'host="alpha+beta"' "$T/m.prom"
	run -0 promtool check metrics <"$T/m.prom"
}

@test "a live input that goes quiet is lagging, its last rows shown, until it catches up" {
	# beta's first 400 bytes, three seconds of silence, then the rest
	local size
	size=$(stat -c %s "$T/beta.tcpt")
	head -c 400 "$T/beta.tcpt" >"$T/b1.tcpt"
	tail -c $((size - 400)) "$T/beta.tcpt" >"$T/b2.tcpt"
	tcptop-agg --merge "$T/alpha.tcpt" <(cat "$T/b1.tcpt"; sleep 3; cat "$T/b2.tcpt") |
		tcptop-dump >"$T/m.txt"
	run -0 grep -E '^hostrec index=2 state=lagging' "$T/m.txt"
	# while lagging, beta's connection is still in the table, neither new nor closed
	run -0 awk '/^snap /{s=$0} /^hostrec index=2 state=lagging/{lag=1} /^row /&&lag&&/host=2/{print; exit}' "$T/m.txt"
	assert_output --partial 'comm="dig"'
	refute_output --partial ' new '
	# and it ends live, with its totals
	run -0 bash -c "grep -E '^hostrec index=2' '$T/m.txt' | tail -n 1"
	assert_output --partial 'state=live'
}

@test "tcptop-view: the hosts and their states in the header, a HOST column" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	tcptop-agg --merge "$T/alpha.tcpt" "$T/beta.tcpt" >"$T/m.tcpt"
	tmux new-session -d -s "fleet$$" -x 130 -y 12 "tcptop-view <'$T/m.tcpt'; sleep 30" 3>&-
	for _ in $(seq 50); do
		tmux capture-pane -p -t "fleet$$" >"$T/screen" 2>/dev/null
		grep -q 'stream ended' "$T/screen" && break
		sleep 0.1
	done
	run -0 cat "$T/screen"
	assert_line --index 0 --partial 'alpha (ended), beta (live)'
	assert_line --regexp '^ +PROTO +LOCAL .* HOST$'
	assert_line --regexp '^ +udp +10\.0\.0\.2:5353 .* beta$'
}

@test "--merge refuses --realtime, and a missing input" {
	run -64 tcptop-agg --merge --realtime "$T/alpha.tcpt" "$T/beta.tcpt"
	run -66 tcptop-agg --merge "$T/alpha.tcpt" "$T/missing.tcpt"
	run -64 tcptop-agg --merge
}

@test "live: two collectors in two network namespaces, each its own host, exact bytes" {
	skip_unless_bpf
	command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs ip and unshare"
	[ -x "$OUTPUT/tcptop-collect" ] && [ -x "$OUTPUT/tcptop-traffic" ] ||
		skip "tcptop-collect and tcptop-traffic are not built"
	NETNS_A="tcptop-fleet-a-$$" NETNS_B="tcptop-fleet-b-$$"
	ip netns add "$NETNS_A"
	ip netns add "$NETNS_B"
	ip -n "$NETNS_A" link set lo up
	ip -n "$NETNS_B" link set lo up
	local ns_a ns_b
	ns_a=$(ip netns exec "$NETNS_A" stat -L -c %i /proc/self/ns/net)
	ns_b=$(ip netns exec "$NETNS_B" stat -L -c %i /proc/self/ns/net)
	# each collector in its namespace, with its own host name (a UTS namespace of its own)
	for h in a b; do
		local ns=NETNS_${h^^}
		mkfifo "$T/$h.fifo"
		ip netns exec "${!ns}" unshare --uts sh -c \
			"hostname fleet-$h && exec tcptop-collect --duration 6 >'$T/$h.fifo'" \
			2>"$T/$h.err" 3>&- &
		PIDS+=($!)
	done
	tcptop-agg --merge "$T/a.fifo" "$T/b.fifo" >"$T/m.tcpt" 2>"$T/agg.err" 3>&- &
	PIDS+=($!)
	sleep 2
	ip netns exec "$NETNS_A" tcptop-traffic tcp 4 100003 >"$T/ta.out"
	ip netns exec "$NETNS_B" tcptop-traffic tcp 4 200003 >"$T/tb.out"
	wait "${PIDS[-1]}" || { cat "$T/agg.err" "$T/a.err" "$T/b.err" >&2; false; }
	tcptop-csv -o "$T/m.csv" "$T/m.tcpt"
	# each host shows its own namespace's connection with its exact bytes
	run -0 python3 - "$T/m.csv" "$ns_a" "$ns_b" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
hosts = sorted({r["host"] for r in rows})
assert hosts == ["fleet-a", "fleet-b"], hosts
def top(host, ns):
    return max(int(r["bytes_in"]) for r in rows
               if r["host"] == host and r["netns"] == ns and r["process_name"] == "tcptop-traffic")
print(top("fleet-a", sys.argv[2]), top("fleet-b", sys.argv[3]))
PY
	assert_output '100003 200003'
}
