#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Many hosts in one table: tcptop-agg --merge on recordings of two hosts with different clocks
# (each host's snapshots on its own clock, in wall time; the same output however read), their
# states (live, lagging, ended), the host column of tcptop-csv, tcptop-view and tcptop-prom, each
# host's cgroups; and live, two collectors in two network namespaces that see cgroups, each its
# own host (root and BPF).
load test_helper/common
load test_helper/stall

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
	if [ -n "${SLICE:-}" ]; then
		for _ in $(seq 20); do
			rmdir "$SLICE/traffic-a.service" "$SLICE/traffic-b.service" "$SLICE" \
				2>/dev/null && break
			sleep 0.1
		done
	fi
}

@test "--merge: one table of two hosts, each cut on its own clock, in wall time" {
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump --table' _ "$T/alpha.tcpt" "$T/beta.tcpt"
	# one merged snapshot per interval, at the later host's time (beta: .4), and a last one
	# without rows once both inputs have ended
	run -0 grep -c '^snap ' <<<"$output"
	assert_output 5
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump --table | grep -E "^(snap |hostrec)" | cut -d" " -f1-4' \
		_ "$T/alpha.tcpt" "$T/beta.tcpt"
	assert_line --index 0 'snap seq=1 time=1700000001.400000000 mono=1700000001.400000000'
	assert_line --index 1 'hostrec index=1 state=live time=1700000001.000000000'
	assert_line --index 2 'hostrec index=2 state=live time=1700000001.400000000'
	# alpha ended after its third snapshot: its connection leaves, beta's stays
	assert_line --index 10 'hostrec index=1 state=ended time=1700000003.000000000'
	assert_line --index 11 'hostrec index=2 state=live time=1700000004.400000000'
	# beta's input ended after its last snapshot: a last merged one, a millisecond later,
	# says so (both ended, no rows); it said beta live for ever before
	assert_line --index 12 'snap seq=5 time=1700000004.401000000 mono=1700000004.401000000'
	assert_line --index 13 'hostrec index=1 state=ended time=1700000003.000000000'
	assert_line --index 14 'hostrec index=2 state=ended time=1700000004.400000000'
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump --table | grep "^snap seq=5 "' _ "$T/alpha.tcpt" "$T/beta.tcpt"
	assert_output --partial ' rows=0 tcp=0 udp=0 bytes_in=0 bytes_out=0 '
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
		tcptop-dump --table >"$T/m.txt"
	run -0 grep -E '^hostrec index=2 state=lagging' "$T/m.txt"
	# while lagging, beta's connection is still in the table, neither new nor closed
	run -0 awk '/^snap /{s=$0} /^hostrec index=2 state=lagging/{lag=1} /^row /&&lag&&/host=2/{print; exit}' "$T/m.txt"
	assert_output --partial 'comm="dig"'
	refute_output --partial ' new '
	# and it catches up live, then ends
	run -0 bash -c "grep -E '^hostrec index=2' '$T/m.txt' | tail -n 2"
	assert_line --index 0 --partial 'state=live'
	assert_line --index 1 --partial 'state=ended'
}

# view_screen STREAM COLS ROWS [ARGS...]: tcptop-view on STREAM in tmux (session fleet$$, ended
# by the teardown), its screen in $T/screen once the stream is read (5 s at most)
view_screen() {
	local in=$1 cols=$2 rows=$3
	shift 3
	command -v tmux >/dev/null || fail "tmux is not installed"
	tmux new-session -d -s "fleet$$" -x "$cols" -y "$rows" \
		"LANG=C.UTF-8 tcptop-view $* <'$in'; sleep 30" 3>&-
	for _ in $(seq 50); do
		tmux capture-pane -p -t "fleet$$" >"$T/screen" 2>/dev/null
		grep -q 'stream ended\|END OF RECORDING' "$T/screen" && break
		sleep 0.1
	done
}

@test "tcptop-view: the hosts and their states in the header, a HOST column" {
	tcptop-agg --merge "$T/alpha.tcpt" "$T/beta.tcpt" >"$T/m.tcpt"
	view_screen "$T/m.tcpt" 130 12
	run -0 cat "$T/screen"
	assert_line --index 0 --partial 'alpha (ended), beta (live)'
	assert_line --regexp '^ +PROTO +LOCAL .* HOST$'
	assert_line --regexp '^ +udp +10\.0\.0\.2:5353 .* beta$'
}

# web1 and web2: the filter fixture's six connections and three cgroups (ids 11, 12, 13), each
# under its own host name; web2b names another cgroup with id 11, as a second kernel may
cgroup_hosts() {
	local fx="$BATS_TEST_DIRNAME/fixtures/agg/filters.txt"
	sed 's/^header /header host="web1" /' "$fx" | "$GEN" -o "$T/web1.tcpt"
	sed 's/^header /header host="web2" /' "$fx" | "$GEN" -o "$T/web2.tcpt"
	sed -e 's/^header /header host="web2" /' \
		-e 's|^cgroup id=11 path=.*|cgroup id=11 path="/system.slice/postgres.service"|' \
		"$fx" | "$GEN" -o "$T/web2b.tcpt"
}

@test "--merge of streams with CGROUP records: no crash, each host's paths carried with its index" {
	# the README's fleet command on what every collector with cgroup v2 writes: it crashed
	# (SIGSEGV, 139) on the first CGROUP, and the merge dropped the paths
	cgroup_hosts
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" >"$3"' _ "$T/web1.tcpt" "$T/web2.tcpt" "$T/m.tcpt"
	assert_output ''
	tcptop-dump --table "$T/m.tcpt" >"$T/m.txt"
	# each host's three paths, once, with its index, before the first snapshot naming them
	run -0 grep -n '^cgroup ' "$T/m.txt"
	assert_output '2:cgroup id=11 host=1 path="/system.slice/nginx.service"
3:cgroup id=12 host=1 path="/system.slice/ssh.service"
4:cgroup id=13 host=1 path="/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope"
5:cgroup id=11 host=2 path="/system.slice/nginx.service"
6:cgroup id=12 host=2 path="/system.slice/ssh.service"
7:cgroup id=13 host=2 path="/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope"'
	run -0 grep -n -m1 '^snap ' "$T/m.txt"
	assert_output --regexp '^8:snap seq=1 '
	# the cgroup column and label of every host's rows: the late owner's (flow 5) from its
	# snapshot on
	tcptop-csv -o "$T/m.csv" "$T/m.tcpt"
	run -0 python3 - "$T/m.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
last = max(r["snapshot_seq"] for r in rows)
for h in ("web1", "web2"):
    print(h, sorted((r["local_port"], r["cgroup"]) for r in rows
                    if r["host"] == h and r["snapshot_seq"] == last))
PY
	assert_line --index 0 "web1 [('22', 'ssh.service'), ('40000', ''), ('443', 'nginx.service'), ('443', 'nginx.service'), ('8080', 'ssh.service'), ('9999', '0123456789ab')]"
	assert_line --index 1 "web2 [('22', 'ssh.service'), ('40000', ''), ('443', 'nginx.service'), ('443', 'nginx.service'), ('8080', 'ssh.service'), ('9999', '0123456789ab')]"
	# --cgroup filters each host before the merge
	run -0 bash -c 'tcptop-agg --merge --cgroup nginx.service "$1" "$2" | tcptop-dump --table | grep "^snap seq=1 "' \
		_ "$T/web1.tcpt" "$T/web2.tcpt"
	assert_output --partial ' hidden=8 rows=4 tcp=2 udp=2 bytes_in=18 '
}

@test "--merge: a cgroup id two hosts share names two cgroups, each host's own (CGROUP.host)" {
	# web1's id 11 is nginx.service, web2b's postgres.service: a reader that keys a path by
	# the id alone shows one host's cgroup on the other's rows
	cgroup_hosts
	tcptop-agg --merge "$T/web1.tcpt" "$T/web2b.tcpt" >"$T/m.tcpt"
	run -0 bash -c 'tcptop-dump "$1" | grep "^cgroup id=11 "' _ "$T/m.tcpt"
	assert_line --index 0 'cgroup id=11 host=1 path="/system.slice/nginx.service"'
	assert_line --index 1 'cgroup id=11 host=2 path="/system.slice/postgres.service"'
	# tcptop-csv: each host's nginx connection (port 443 to 10.9.9.1) with its own cgroup
	tcptop-csv -o "$T/m.csv" "$T/m.tcpt"
	tcptop-csv -g cgroup -o "$T/g.csv" "$T/m.tcpt"
	run -0 python3 - "$T/m.csv" "$T/g.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
last = max(r["snapshot_seq"] for r in rows)
for r in rows:
    if r["snapshot_seq"] == last and r["remote_addr"] == "10.9.9.1":
        print(r["host"], r["cgroup"], r["cgroup_path"])
groups = list(csv.DictReader(open(sys.argv[2], newline="")))
print(sorted((g["host"], g["cgroup"], g["connections"]) for g in groups
             if g["snapshot_seq"] == last and g["cgroup"].endswith(".service")))
PY
	assert_line --index 0 'web1 nginx.service /system.slice/nginx.service'
	assert_line --index 1 'web2 postgres.service /system.slice/postgres.service'
	assert_line --index 2 "[('web1', 'nginx.service', '2'), ('web1', 'ssh.service', '2'), ('web2', 'postgres.service', '2'), ('web2', 'ssh.service', '2')]"
	# --group process: the same pid and name on two hosts are two processes, each named for
	# its host (not the merged header's "web1+web2")
	tcptop-csv -g process -o "$T/p.csv" "$T/m.tcpt"
	run -0 python3 - "$T/p.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
last = max(r["snapshot_seq"] for r in rows)
print(sorted((g["host"], g["connections"], g["bytes_in"]) for g in rows
             if g["snapshot_seq"] == last and g["process_name"] == "nginx: worker"))
PY
	assert_output "[('web1', '2', '9'), ('web2', '2', '9')]"
	# tcptop-prom: each host's series under its own cgroup label
	tcptop-prom --textfile "$T/m.prom" "$T/m.tcpt"
	run -0 bash -c 'grep "^tcptop_connections_opened_total{" "$1" | grep -o "host=\"[^\"]*\",.*cgroup=\"[a-z]*\.service\"" | sed "s/,.*cgroup=/ /" | sort -u' _ "$T/m.prom"
	assert_output - <<'OUT'
host="web1" "nginx.service"
host="web1" "ssh.service"
host="web2" "postgres.service"
host="web2" "ssh.service"
OUT
}

# merge_waiting PID: until tcptop-agg --merge's loop waits for a live input (bounded)
merge_waiting() {
	for _ in $(seq 200); do
		grep -q futex "/proc/$1/wchan" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}

@test "--merge: SIGINT with a file left to read stops at once: END after the last merged snapshot, 130" {
	# beta from a FIFO that says nothing: alpha's records wait for it (it may be earlier), so
	# alpha is left unread; the merge used to ignore the signal and wait for ever
	mkfifo "$T/b.fifo"
	silent_writer "$T/b.fifo"
	tcptop-agg --merge "$T/alpha.tcpt" "$T/b.fifo" >"$T/m.tcpt" 2>"$T/err" 3>&- &
	pid=$!
	merge_waiting "$pid"
	signal_and_wait "$pid" INT
	kill "$writer"
	[ "$ms" -lt 1000 ] || fail "stopped after $ms ms"
	assert_equal "$st" 130
	run -0 cat "$T/err"
	assert_output ''
	run -0 bash -c 'tcptop-dump "$1" | tail -n 1' _ "$T/m.tcpt"
	assert_output 'end t=0.000000000'
}

@test "--merge: SIGTERM with pipes that stall ends within 1 s (143); pipes that end within 0.3 s are read whole (0)" {
	mkfifo "$T/a.fifo" "$T/b.fifo"
	# two silent pipes: given up after the grace
	sleep 60 >"$T/a.fifo" 3>&- &
	wa=$!
	silent_writer "$T/b.fifo"
	tcptop-agg --merge "$T/a.fifo" "$T/b.fifo" >"$T/m.tcpt" 3>&- &
	pid=$!
	merge_waiting "$pid"
	signal_and_wait "$pid" TERM
	kill "$wa" "$writer"
	[ "$ms" -lt 1000 ] || fail "stopped after $ms ms"
	[ "$ms" -ge 250 ] || fail "did not wait for the pipes: $ms ms"
	assert_equal "$st" 143
	run -0 bash -c 'tcptop-dump "$1" | tail -n 1' _ "$T/m.tcpt"
	assert_output --regexp '^end t='
	# two pipes that end on the same Ctrl-C, as collectors do: the whole merge, exit 0
	tcptop-agg --merge "$T/alpha.tcpt" "$T/beta.tcpt" >"$T/expected.tcpt"
	tcptop-agg --merge "$T/a.fifo" "$T/b.fifo" >"$T/m.tcpt" 3>&- &
	pid=$!
	exec 4>"$T/a.fifo" 5>"$T/b.fifo"
	head -c 300 "$T/alpha.tcpt" >&4
	head -c 300 "$T/beta.tcpt" >&5
	merge_waiting "$pid"
	kill -INT "$pid"
	tail -c +301 "$T/alpha.tcpt" >&4
	tail -c +301 "$T/beta.tcpt" >&5
	exec 4>&- 5>&-
	st=0
	wait "$pid" || st=$?
	assert_equal "$st" 0
	run -0 cmp "$T/expected.tcpt" "$T/m.tcpt"
}

@test "--merge: the hosts' loss counters summed code by code; codes beyond the room in agg_loss_other" {
	# each host's six codes of a newer collector fit in its own snapshots (11 with agg's 5);
	# merged, 17 codes: the last one's value goes to agg_loss_other
	local h c
	for h in a b; do
		c=$([ $h = a ] && echo 100 || echo 200)
		python3 - "$c" >"$T/$h.txt" <<'PY'
import struct, sys
c = int(sys.argv[1])
print('header real=1700000000 mono=0 interval=1 host="%s"' % ("a" if c == 100 else "b"))
body = struct.pack("<QII", 500000000, 6, 0)
body += b"".join(struct.pack("<IIQ", c + i, 0, 7000 if c + i == 205 else 1 + i) for i in range(6))
print('rawrec type=23 hex=' + body.hex())
print('tick t=1')
print('end t=1')
PY
		"$GEN" -o "$T/$h.tcpt" "$T/$h.txt"
	done
	run -0 bash -c 'tcptop-agg --merge "$1" "$2" | tcptop-dump --table | grep -E "^(snap|hostrec) "' _ "$T/a.tcpt" "$T/b.tcpt"
	assert_line --index 0 --partial ' loss100=1 loss101=2 loss102=3 loss103=4 loss104=5 loss105=6 agg_table_full=0 agg_unknown_flow=0 agg_gap=0 agg_names_full=0 loss200=1 loss201=2 loss202=3 loss203=4 loss204=5 agg_loss_other=7000'
	assert_line --index 2 --partial ' loss200=1 loss201=2 loss202=3 loss203=4 loss204=5 loss205=7000 agg_table_full=0 '
}

@test "tcptop-view: a cgroup id two hosts share shows each host's own cgroup" {
	cgroup_hosts
	tcptop-agg --merge "$T/web1.tcpt" "$T/web2b.tcpt" >"$T/m.tcpt"
	view_screen "$T/m.tcpt" 160 24 --sort process
	run -0 cat "$T/screen"
	assert_line --regexp '10\.9\.9\.1:50001 .* nginx: worker .* nginx\.service +web1 *$'
	assert_line --regexp '10\.9\.9\.1:50001 .* nginx: worker .* postgres\.service +web2 *$'
}

@test "--merge refuses --realtime, and a missing input" {
	run -64 tcptop-agg --merge --realtime "$T/alpha.tcpt" "$T/beta.tcpt"
	run -66 tcptop-agg --merge "$T/alpha.tcpt" "$T/missing.tcpt"
	run -64 tcptop-agg --merge
}

@test "live: two collectors in two network namespaces, each its own host, exact bytes, cgroups seen" {
	skip_unless_bpf
	local t
	for t in ip unshare nsenter; do
		command -v "$t" >/dev/null || fail "$t is missing (make deps installs it)"
	done
	[ -x "$OUTPUT/tcptop-collect" ] && [ -x "$OUTPUT/tcptop-traffic" ] ||
		fail "tcptop-collect and tcptop-traffic are not built"
	CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[ -n "$CG2" ] || skip "no cgroup2 mount"
	NETNS_A="tcptop-fleet-a-$$" NETNS_B="tcptop-fleet-b-$$"
	ip netns add "$NETNS_A"
	ip netns add "$NETNS_B"
	ip -n "$NETNS_A" link set lo up
	ip -n "$NETNS_B" link set lo up
	# the traffic of each host in a unit of its own
	SLICE="$CG2/tcptop-fleet-$$.slice"
	mkdir -p "$SLICE/traffic-a.service" "$SLICE/traffic-b.service"
	local ns_a ns_b
	ns_a=$(stat -L -c %i "/run/netns/$NETNS_A")
	ns_b=$(stat -L -c %i "/run/netns/$NETNS_B")
	# each collector in its namespace, with its own host name (a UTS namespace of its own);
	# nsenter, not ip netns exec: that remounts /sys, which hid the cgroup2 mount below it
	for h in a b; do
		local ns=NETNS_${h^^}
		mkfifo "$T/$h.fifo"
		nsenter --net="/run/netns/${!ns}" unshare --uts sh -c \
			"hostname fleet-$h && exec tcptop-collect --duration 6 >'$T/$h.fifo'" \
			2>"$T/$h.err" 3>&- &
		PIDS+=($!)
	done
	tcptop-agg --merge "$T/a.fifo" "$T/b.fifo" >"$T/m.tcpt" 2>"$T/agg.err" 3>&- &
	PIDS+=($!)
	sleep 2
	sh -c "echo \$\$ >'$SLICE/traffic-a.service/cgroup.procs' && exec nsenter --net='/run/netns/$NETNS_A' tcptop-traffic tcp 4 100003" >"$T/ta.out"
	sh -c "echo \$\$ >'$SLICE/traffic-b.service/cgroup.procs' && exec nsenter --net='/run/netns/$NETNS_B' tcptop-traffic tcp 4 200003" >"$T/tb.out"
	wait "${PIDS[-1]}" || { cat "$T/agg.err" "$T/a.err" "$T/b.err" >&2; false; }
	tcptop-csv -o "$T/m.csv" "$T/m.tcpt"
	# each host shows its own namespace's connection with its exact bytes, in its unit
	run -0 python3 - "$T/m.csv" "$ns_a" "$ns_b" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
hosts = sorted({r["host"] for r in rows})
assert hosts == ["fleet-a", "fleet-b"], hosts
def top(host, ns):
    mine = [r for r in rows if r["host"] == host and r["netns"] == ns and
            r["process_name"] == "tcptop-traffic"]
    return max(int(r["bytes_in"]) for r in mine), sorted({r["cgroup"] for r in mine})
print(*top("fleet-a", sys.argv[2]), *top("fleet-b", sys.argv[3]))
PY
	assert_output "100003 ['traffic-a.service'] 200003 ['traffic-b.service']"
	# the collectors saw the cgroup2 mount: nothing missing, each host's paths in the stream
	run -0 bash -c 'tcptop-dump "$1" | grep "^cgroup .*traffic-"' _ "$T/m.tcpt"
	assert_line --regexp "^cgroup id=[0-9]+ host=1 path=\"/tcptop-fleet-$$\\.slice/traffic-a\\.service\"\$"
	assert_line --regexp "^cgroup id=[0-9]+ host=2 path=\"/tcptop-fleet-$$\\.slice/traffic-b\\.service\"\$"
	run -0 cat "$T/a.err" "$T/b.err"
	refute_output --partial cgroup
}
