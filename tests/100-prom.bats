#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-prom on generated snapshot streams (no root): exact counters that stay when connections
# close, label sets and port folding, hostile names that can neither break the format nor add a
# label, the series cap and TTL, the textfile, HTTP, and bad input with its status.
load test_helper/common

setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
	DIRS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for p in "${DIRS[@]}"; do
		rm -rf "$p"
	done
}

# metrics SCRIPT-FILE [PROM-OPTIONS]: the textfile for the stream of the script, in $T/m.prom
metrics() {
	local script=$1
	shift
	"$GEN" -o "$T/in.tcpt" "$script"
	tcptop-prom --textfile "$T/m.prom" "$@" "$T/in.tcpt"
}

# value NAME{LABELS}: the sample's value in $T/m.prom (exact match of the series)
value() {
	awk -v s="$1" 'index($0, s " ") == 1 { print substr($0, length(s) + 2) }' "$T/m.prom"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A connection that closes in the second snapshot and one that takes its label set over.
counting_script() {
	cat >"$T/s.txt" <<'S'
header kind=snapshot real=1700000000 host="web1"
snap seq=1 time=1700000001
row flow=1 proto=tcp src=10.0.0.1:40000 dst=93.184.216.34:443 pid=100 comm=curl state=ESTABLISHED in=1000 out=100 pin=3 pout=2 rtt=1500 new
row flow=2 proto=udp src=10.0.0.1:50000 dst=8.8.8.8:53 pid=101 comm=dig in=64 out=32 pin=1 pout=1 new
snapend
snap seq=2 time=1700000002
row flow=1 proto=tcp src=10.0.0.1:40000 dst=93.184.216.34:443 pid=100 comm=curl state=CLOSE in=3000 out=300 pin=6 pout=4 retrans=2 closed
row flow=3 proto=tcp src=10.0.0.1:40001 dst=93.184.216.34:443 pid=100 comm=curl state=ESTABLISHED in=500 out=50 pin=1 pout=1 rtt=2500 new
snapend
snap seq=3 time=1700000003 ringbuf=4
row flow=3 proto=tcp src=10.0.0.1:40001 dst=93.184.216.34:443 pid=100 comm=curl state=ESTABLISHED in=700 out=70 pin=2 pout=2 rtt=2500
snapend
end
S
}

# serve_counting: tcptop-prom serving the counting script's stream on a free port ($port), in
# PIDS; returns once it answers
serve_counting() {
	counting_script
	"$GEN" -o "$T/in.tcpt" "$T/s.txt"
	port=$(free_port)
	tcptop-prom --listen "127.0.0.1:$port" "$T/in.tcpt" 2>"$T/err" 3>&- &
	PIDS+=($!)
	for _ in $(seq 50); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && return 0
		sleep 0.1
	done
	fail "tcptop-prom never answered: $(cat "$T/err")"
}

CURL='host="web1",protocol="tcp",process="curl",remote_addr="93.184.216.34",remote_port="443"'
DIG='host="web1",protocol="udp",process="dig",remote_addr="8.8.8.8",remote_port="53"'

@test "counters are exact and keep a closed connection's bytes" {
	counting_script
	run -0 metrics "$T/s.txt"
	[ "$(value "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"}")" = 3700 ]
	[ "$(value "tcptop_network_io_bytes_total{$CURL,direction=\"transmit\"}")" = 370 ]
	[ "$(value "tcptop_network_packets_total{$CURL,direction=\"receive\"}")" = 8 ]
	[ "$(value "tcptop_tcp_retransmits_total{$CURL}")" = 2 ]
	[ "$(value "tcptop_connections_opened_total{$CURL}")" = 2 ]
	[ "$(value "tcptop_connections_closed_total{$CURL}")" = 1 ]
	[ "$(value "tcptop_connections{$CURL}")" = 1 ]
	[ "$(value "tcptop_tcp_rtt_seconds{$CURL}")" = 0.002500 ]
	[ "$(value "tcptop_network_io_bytes_total{$DIG,direction=\"receive\"}")" = 64 ]
	[ "$(value "tcptop_network_io_bytes_total{$DIG,direction=\"transmit\"}")" = 32 ]
	# UDP has no retransmits or failed connects: no sample rather than a zero that lies
	[ -z "$(value "tcptop_tcp_retransmits_total{$DIG}")" ]
	[ "$(value 'tcptop_loss_total{host="web1",cause="ringbuf"}')" = 4 ]
	[ "$(value 'tcptop_stream_up{host="web1",state="ended"}')" = 0 ]
	[ "$(value 'tcptop_exporter_series')" = 2 ]
	run -0 promtool check metrics <"$T/m.prom"
	[ ! -e "$T/m.prom.tmp" ]
}

@test "a counter that goes back (a reused flow id) counts again from zero, never down" {
	cat >"$T/s.txt" <<'S'
header kind=snapshot host="h"
snap seq=1 time=1700000001
row flow=7 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=a in=5000 new
snapend
snap seq=2 time=1700000002
row flow=7 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=a in=100 new
snapend
end
S
	run -0 metrics "$T/s.txt"
	[ "$(value 'tcptop_network_io_bytes_total{host="h",protocol="tcp",process="a",remote_addr="10.0.0.2",remote_port="80",direction="receive"}')" = 5100 ]
}

@test "a collector restarted: a connection begun before it counts what it moves from then, never twice" {
	# web1's collector restarts (a second header) while a connection lives on: the new one
	# reports it begun before it, with the kernel's counters since the connection began
	cat >"$T/s.txt" <<'S'
header kind=snapshot host="web1"
snap seq=1 time=1700000001
row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=app in=1000 out=100 new
row flow=2 proto=tcp src=10.0.0.1:40002 dst=10.0.0.2:80 comm=app in=7 out=7 begun
snapend
snap seq=2 time=1700000002
row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=app in=3000 out=300
snapend
end
header kind=snapshot host="web1"
snap seq=1 time=1700000010
row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=app in=3500 out=350 begun new
snapend
snap seq=2 time=1700000011
row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=app in=4000 out=400 closed
snapend
end
S
	run -0 metrics "$T/s.txt"
	local app='host="web1",protocol="tcp",process="app",remote_addr="10.0.0.2",remote_port="80"'
	# 3000 + 7 in the first section (one begun before the first collector counts whole), then
	# 500 of the second: what moved between the two collectors (3000 to 3500) is not known
	[ "$(value "tcptop_network_io_bytes_total{$app,direction=\"receive\"}")" = 3507 ]
	[ "$(value "tcptop_network_io_bytes_total{$app,direction=\"transmit\"}")" = 357 ]
	[ "$(value 'tcptop_stream_sections_total{host="web1"}')" = 2 ]
	run -0 promtool check metrics <"$T/m.prom"
}

@test "TCP figures: the time each connection had data to send and was held back, as counters" {
	# tests/fixtures/agg/limit.txt: slowread's receiver holds it back (busy 1.5 s, rwnd 1.4 s);
	# old began before the collector: its clocks count from its first reading (they wrap at
	# 2^32 ms); bulk's clocks wrapped past 2^32 before it was seen
	"$GEN" -o "$T/raw.tcpt" "$BATS_TEST_DIRNAME/fixtures/agg/limit.txt"
	tcptop-agg "$T/raw.tcpt" >"$T/in.tcpt"
	tcptop-prom --textfile "$T/m.prom" "$T/in.tcpt"
	local sr='host="h1",protocol="tcp",process="slowread",local_port="5001",remote_addr="10.0.0.2",remote_port="80"'
	local old='host="h1",protocol="tcp",process="old",local_port="5007",remote_addr="10.0.0.2",remote_port="80"'
	local bulk='host="h1",protocol="tcp",process="bulk",local_port="5003",remote_addr="10.0.0.2",remote_port="80"'
	[ "$(value "tcptop_tcp_busy_seconds_total{$sr}")" = 1.500 ]
	[ "$(value "tcptop_tcp_limited_seconds_total{$sr,cause=\"rwnd\"}")" = 1.400 ]
	[ "$(value "tcptop_tcp_limited_seconds_total{$sr,cause=\"sndbuf\"}")" = 0.000 ]
	[ "$(value "tcptop_tcp_busy_seconds_total{$old}")" = 0.900 ]
	[ "$(value "tcptop_tcp_limited_seconds_total{$old,cause=\"sndbuf\"}")" = 0.600 ]
	[ "$(value "tcptop_tcp_limited_seconds_total{$bulk,cause=\"sndbuf\"}")" = 0.000 ]
	# UDP has no figures: no sample rather than a zero that lies
	run -1 grep -E '^tcptop_tcp_(busy|limited)_seconds_total\{[^}]*protocol="udp"' "$T/m.prom"
	run -0 promtool check metrics <"$T/m.prom"
}

@test "ports: a listener's port is kept and its peers' folded; ephemeral ports folded" {
	cat >"$T/s.txt" <<'S'
header kind=snapshot host="h"
snap seq=1 time=1700000001
row flow=1 proto=tcp src=0.0.0.0:8080 state=LISTEN comm=srv
row flow=2 proto=tcp src=10.0.0.1:8080 dst=10.0.0.9:51000 comm=srv in=10 new
row flow=3 proto=tcp src=10.0.0.1:8080 dst=10.0.0.9:1234 comm=srv in=20 new
row flow=4 proto=tcp src=10.0.0.1:45000 dst=10.0.0.7:5432 comm=app out=30 new
row flow=5 proto=udp src=10.0.0.1:53 dst=10.0.0.8:40000 comm=dns out=40 new
snapend
end
S
	run -0 metrics "$T/s.txt"
	[ "$(value 'tcptop_network_io_bytes_total{host="h",protocol="tcp",process="srv",local_port="8080",remote_addr="10.0.0.9",direction="receive"}')" = 30 ]
	[ "$(value 'tcptop_network_io_bytes_total{host="h",protocol="tcp",process="app",remote_addr="10.0.0.7",remote_port="5432",direction="transmit"}')" = 30 ]
	[ "$(value 'tcptop_network_io_bytes_total{host="h",protocol="udp",process="dns",local_port="53",remote_addr="10.0.0.8",direction="transmit"}')" = 40 ]
	# the listener itself is no label set
	run -0 grep -c '^tcptop_connections{' "$T/m.prom"
	assert_output 3
	run -0 metrics "$T/s.txt" --ephemeral-ports 1000-2000
	[ "$(value 'tcptop_network_io_bytes_total{host="h",protocol="tcp",process="app",local_port="45000",remote_addr="10.0.0.7",remote_port="5432",direction="transmit"}')" = 30 ]
}

# Process names a hostile user can give (15 bytes, as the kernel keeps them).
hostile_names() {
	cat <<'N'
x\",evil=\"1
a\"} 9\nz 1
b\\\"c
l\nf
c\rr
\x1b[31mred
bad\xff\xfeutf
\xe2\x80\xaeevil
caf\xc3\xa9
} 1\n# EOF
N
}

@test "hostile process and host names stay one label value each, and the format valid" {
	local i=0 name
	{
		echo 'header kind=snapshot host="evil\"} 1\nx{host=\"y"'
		echo 'snap seq=1 time=1700000001'
		while IFS= read -r name; do
			i=$((i + 1))
			echo "row flow=$i proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:$((100 + i)) pid=$i comm=\"$name\" in=$i new"
		done < <(hostile_names)
		echo 'snapend'
		echo 'end'
	} >"$T/s.txt"
	run -0 metrics "$T/s.txt"
	run -0 promtool check metrics <"$T/m.prom"
	# the names as tcptop-csv shows them (the one sanitiser), read by Python's csv module
	tcptop-agg --help >/dev/null
	"$GEN" -o "$T/in.tcpt" "$T/s.txt"
	tcptop-csv -o "$T/rows.csv" "$T/in.tcpt"
	# every sample has exactly its family's labels, and the process values are the CSV's names
	run -0 python3 - "$T/m.prom" "$T/rows.csv" <<'PY'
import csv, re, sys
want = {r["process_name"]: int(r["bytes_in"]) for r in csv.DictReader(open(sys.argv[2], newline=""))}
lab = r'([a-z_]+)="((?:[^"\\]|\\.)*)"'
line_re = re.compile(r'^([a-z_]+)(?:\{(' + lab + r'(?:,' + lab + r')*)\})? (\S+)$')
got = {}
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith("#"):
        continue
    m = line_re.match(line)
    assert m, "malformed: %r" % line
    labels = dict((k, re.sub(r'\\(.)', lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), v))
                  for k, v in re.findall(lab, m.group(2) or ""))
    if m.group(1) == "tcptop_network_io_bytes_total" and labels["direction"] == "receive":
        assert sorted(labels) == sorted(["host", "protocol", "process",
                                         "remote_addr", "remote_port", "direction"]), labels
        assert labels["host"] == 'evil"} 1\\x0Ax{host="y', labels["host"]
        got[labels["process"]] = int(m.group(m.lastindex))
assert got == want, (got, want)
print(len(got))
PY
	echo "$output"
	assert_output 10
}

@test "cgroup: a label with the unit or container people know, sanitised; none for an unknown id" {
	cat >"$T/s.txt" <<'S'
header kind=snapshot host="h"
cgroup id=11 path="/system.slice/nginx.service"
cgroup id=12 path="/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope"
cgroup id=13 path="/user.slice/x\",evil=\"1\x1b"
snap seq=1 time=1700000001
row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=nginx cgroup=11 in=10 new
row flow=2 proto=tcp src=10.0.0.1:40001 dst=10.0.0.2:80 comm=app cgroup=12 in=20 new
row flow=3 proto=tcp src=10.0.0.1:40002 dst=10.0.0.2:80 comm=evil cgroup=13 in=30 new
row flow=4 proto=tcp src=10.0.0.1:40003 dst=10.0.0.2:80 comm=lost cgroup=99 in=40 new
snapend
cgroup id=14 path="/system.slice/nginx.service"
snap seq=2 time=1700000002
row flow=5 proto=tcp src=10.0.0.1:40004 dst=10.0.0.2:80 comm=nginx cgroup=14 in=5 new
snapend
end
S
	run -0 metrics "$T/s.txt"
	local at='remote_addr="10.0.0.2",remote_port="80",direction="receive"}'
	# a restarted unit (a new id, the same name) keeps its label set
	[ "$(value "tcptop_network_io_bytes_total{host=\"h\",protocol=\"tcp\",process=\"nginx\",cgroup=\"nginx.service\",$at")" = 15 ]
	[ "$(value 'tcptop_connections_opened_total{host="h",protocol="tcp",process="nginx",cgroup="nginx.service",remote_addr="10.0.0.2",remote_port="80"}')" = 2 ]
	[ "$(value "tcptop_network_io_bytes_total{host=\"h\",protocol=\"tcp\",process=\"app\",cgroup=\"0123456789ab\",$at")" = 20 ]
	# (value's awk would read the backslashes: the line as it is)
	run -0 grep -Fx 'tcptop_network_io_bytes_total{host="h",protocol="tcp",process="evil",cgroup="/user.slice/x\",evil=\"1\\x1B",remote_addr="10.0.0.2",remote_port="80",direction="receive"} 30' "$T/m.prom"
	# a path never reported: no label, not an empty one
	[ "$(value "tcptop_network_io_bytes_total{host=\"h\",protocol=\"tcp\",process=\"lost\",$at")" = 40 ]
	run -1 grep -c 'cgroup=""' "$T/m.prom"
	assert_output 0
	run -0 promtool check metrics <"$T/m.prom"
	# a collector that says it has no cgroups: the ids it wrote mean nothing
	sed -i '1s/$/ missing="cgroup"/' "$T/s.txt"
	run -0 metrics "$T/s.txt"
	run -1 grep -c 'cgroup=' "$T/m.prom"
}

@test "--max-series: connections beyond the cap go to the host's overflow series, counted as loss" {
	{
		echo 'header kind=snapshot host="h"'
		echo 'snap seq=1 time=1700000001'
		for i in 1 2 3 4 5; do
			echo "row flow=$i proto=tcp src=10.0.0.1:40000 dst=10.0.0.$i:80 comm=c in=$((i * 100)) new"
		done
		echo 'snapend'
		echo 'end'
	} >"$T/s.txt"
	run -0 metrics "$T/s.txt" --max-series 2
	[ "$(value 'tcptop_network_io_bytes_total{host="h",overflow="true",direction="receive"}')" = 1200 ]
	[ "$(value 'tcptop_connections_opened_total{host="h",overflow="true"}')" = 3 ]
	[ "$(value 'tcptop_loss_total{host="",cause="series_overflow"}')" = 3 ]
	run -0 grep -c '^tcptop_connections{' "$T/m.prom"
	assert_output 3
	run -0 promtool check metrics <"$T/m.prom"
}

@test "--series-ttl: a label set idle that long in stream time is dropped" {
	cat >"$T/s.txt" <<'S'
header kind=snapshot host="h"
snap seq=1 time=1700000001
row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.1:80 comm=old in=1 closed new
snapend
snap seq=2 time=1700000004
row flow=2 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=new in=2 new
snapend
snap seq=3 time=1700000011
row flow=2 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:80 comm=new in=2
snapend
end
S
	run -0 metrics "$T/s.txt" --series-ttl 5
	run -1 grep -F 'process="old"' "$T/m.prom"
	[ "$(value 'tcptop_exporter_series_expired_total')" = 1 ]
	[ "$(value 'tcptop_network_io_bytes_total{host="h",protocol="tcp",process="new",remote_addr="10.0.0.2",remote_port="80",direction="receive"}')" = 2 ]
	run -0 metrics "$T/s.txt" --series-ttl 0
	run -0 grep -F 'process="old"' "$T/m.prom"
}

@test "HTTP: /metrics in Prometheus text or OpenMetrics as asked, 404 and 405 otherwise" {
	local port
	serve_counting
	for _ in $(seq 50); do
		curl -fsS "http://127.0.0.1:$port/metrics" -o "$T/m.prom" 2>/dev/null &&
			grep -q 'state="ended"' "$T/m.prom" && break
		sleep 0.1
	done
	[ "$(value "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"}")" = 3700 ]
	run -0 promtool check metrics <"$T/m.prom"
	run -0 curl -sS -D - -o /dev/null "http://127.0.0.1:$port/metrics"
	assert_output --partial 'Content-Type: text/plain; version=0.0.4; charset=utf-8'
	run -0 curl -sS -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5' \
		"http://127.0.0.1:$port/metrics"
	assert_line '# TYPE tcptop_network_io_bytes counter'
	assert_line "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"} 3700"
	[ "${lines[-1]}" = '# EOF' ]
	run -0 curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nothing"
	assert_output 404
	run -0 curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics"
	assert_output 405
	# served on after the input ended, stopped by SIGTERM: the exporter reads until told to
	# stop (tcptop(1) EXIT STATUS, Stops; tcptop counts it as finished, the test below)
	kill -TERM "${PIDS[0]}"
	local st=0
	wait "${PIDS[0]}" || st=$?
	[ "$st" = 143 ]
}

@test "a stop while the input is still open: 128+N after cleanup, the textfile's host ended" {
	counting_script
	sed -i '$d' "$T/s.txt" # no END: the stream goes on
	"$GEN" -o "$T/in.tcpt" "$T/s.txt"
	mkfifo "$T/fifo"
	# the writer sends the snapshots and keeps the FIFO open, as a live tcptop-agg would
	bash -c 'cat "$1"; exec sleep 60' _ "$T/in.tcpt" >"$T/fifo" 3>&- &
	PIDS+=($!)
	local port
	port=$(free_port)
	tcptop-prom --listen "127.0.0.1:$port" --textfile "$T/m.prom" "$T/fifo" 2>"$T/err" 3>&- &
	PIDS+=($!)
	for _ in $(seq 100); do
		grep -qs 'state="live"' "$T/m.prom" && break
		sleep 0.1
	done
	[ "$(value "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"}")" = 3700 ]
	kill -TERM "${PIDS[1]}"
	local st=0
	wait "${PIDS[1]}" || st=$?
	[ "$st" = 143 ]
	# the last textfile says the pipeline ended; the values stay
	[ "$(value 'tcptop_stream_up{host="web1",state="ended"}')" = 0 ]
	[ "$(value "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"}")" = 3700 ]
	[ ! -s "$T/err" ]
}

# The raw recording of counting_script's connections (for tcptop --replay).
raw_script() {
	cat >"$1" <<'S'
header real=1700000000 mono=0 interval=1 host="web1"
open t=0.1 flow=1 proto=tcp src=10.0.0.1:40000 dst=93.184.216.34:443 pid=100 comm=curl in=1000 out=100
tick t=1
close t=1.5 flow=1 in=3000 out=300
open t=1.6 flow=3 proto=tcp src=10.0.0.1:40001 dst=93.184.216.34:443 pid=100 comm=curl in=500 out=50
tick t=2
sample t=2.5 flow=3 in=700 out=70
tick t=3
end t=3.1
S
}

# plant KIND PATH VICTIM: a symbolic link to VICTIM, a hard link to it, or a FIFO, at PATH.
plant() {
	case $1 in
	symlink) ln -s "$3" "$2" ;;
	hardlink) ln "$3" "$2" ;;
	fifo) mkfifo "$2" ;;
	esac
}

# textfile_attack MODE: in a directory that another user (uid 4242) owns and lets everyone
# write, that user plants a symbolic link, a hard link and a FIFO at the textfile's name and at
# the temporary's old fixed name (NAME.tmp), each arrangement in turn; then the exporter writes
# the textfile there, as root without sudo (MODE root) or through tcptop under sudo (MODE sudo:
# SUDO_UID of nobody, whose own files are the victims then, as the wrapper runs it). Every file
# a plant leads to must be byte for byte as it was, the textfile whole, the plants in place.
textfile_attack() {
	local mode=$1 d v tmp kind_tmp kind_name st owner=0
	d=$(shared_dir 0755)
	DIRS+=("$d")
	mkdir -m 0700 "$d/victims" "$d/drop"
	[ "$mode" = sudo ] && owner=65534
	for v in a b c; do
		printf 'the bytes of victim %s, owned by uid %s\n' "$v" "$owner" >"$d/victims/$v"
		chmod 0600 "$d/victims/$v"
	done
	chown -R "$owner:$owner" "$d/victims"
	sha256sum "$d"/victims/* >"$d/before"
	chown 4242:4242 "$d/drop"
	chmod 0777 "$d/drop"
	raw_script "$d/raw.txt"
	"$GEN" -o "$d/rec.tcpt" "$d/raw.txt"
	tcptop-agg "$d/rec.tcpt" >"$d/in.tcps"
	chmod 0644 "$d/rec.tcpt" "$d/in.tcps"
	for arrangement in symlink:hardlink hardlink:fifo fifo:symlink; do
		kind_tmp=${arrangement%:*}
		kind_name=${arrangement#*:}
		rm -rf "${d:?}"/drop/*
		plant "$kind_tmp" "$d/drop/m.prom.tmp" "$d/victims/a"
		plant "$kind_name" "$d/drop/m.prom" "$d/victims/b"
		# the plants are the attacker's own
		chown -h 4242:4242 "$d/drop/m.prom.tmp" "$d/drop/m.prom" 2>/dev/null || true
		st=0
		if [ "$mode" = root ]; then
			env -u SUDO_UID -u SUDO_GID timeout 20 tcptop-prom --textfile "$d/drop/m.prom" \
				"$d/in.tcps" 2>"$d/err" || st=$?
		else
			SUDO_UID=65534 SUDO_GID=65534 timeout 20 tcptop --replay "$d/rec.tcpt" \
				--textfile "$d/drop/m.prom" 2>"$d/err" || st=$?
		fi
		echo "# $mode, $kind_tmp at m.prom.tmp, $kind_name at m.prom: exit $st" >&3
		cat "$d/err" >&3
		[ "$st" = 0 ]
		run -0 sha256sum -c --quiet "$d/before"
		[ -f "$d/drop/m.prom" ] && [ ! -L "$d/drop/m.prom" ]
		grep -qF "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"} 3700" "$d/drop/m.prom"
		case $kind_tmp in
		symlink) [ -L "$d/drop/m.prom.tmp" ] ;;
		hardlink) [ "$(stat -c %i "$d/drop/m.prom.tmp")" = "$(stat -c %i "$d/victims/a")" ] ;;
		fifo) [ -p "$d/drop/m.prom.tmp" ] ;;
		esac
		# the file was written by the user it belongs to
		[ "$(stat -c %u "$d/drop/m.prom")" = "$owner" ]
		# nothing else was left in the directory: the plant, the textfile
		[ "$(find "$d/drop" -mindepth 1 | wc -l)" = 2 ]
	done
}

@test "--textfile in another user's directory: planted links and FIFOs are never written through (root)" {
	skip_unless_setpriv
	textfile_attack root
}

@test "--textfile in another user's directory: planted links and FIFOs are never written through (sudo)" {
	skip_unless_setpriv
	textfile_attack sudo
}

@test "--textfile: a directory that is a symbolic link is refused, nothing at PATH is touched at start" {
	counting_script
	"$GEN" -o "$T/in.tcpt" "$T/s.txt"
	mkdir "$T/real"
	ln -s real "$T/link"
	run -73 tcptop-prom --textfile "$T/link/m.prom" "$T/in.tcpt"
	assert_output --partial "$T/link: a symbolic link: give the directory it points to"
	[ -z "$(ls -A "$T/real")" ]
	run -73 tcptop-prom --textfile "$T/real/" "$T/in.tcpt"
	assert_output --partial 'no file name'
	# a FIFO at the name: the start does not open it (it would block), the end replaces it
	mkfifo "$T/real/m.prom"
	run -0 timeout 20 tcptop-prom --textfile "$T/real/m.prom" "$T/in.tcpt"
	[ -f "$T/real/m.prom" ] && [ ! -p "$T/real/m.prom" ]
	[ "$(ls -A "$T/real")" = m.prom ]
}

# abuse_input N SECONDS RECORDING: a raw recording of N connections to distinct peers (N label
# sets) open all along, and one of the process "ticker" that receives 1000 bytes a second, with
# a tick every second for SECONDS.
abuse_input() {
	awk -v n="$1" -v secs="$2" 'BEGIN {
		print "header real=1700000000 mono=0 interval=1 host=\"web1\""
		for (i = 0; i < n; i++)
			printf "open t=0.1 flow=%d proto=tcp src=10.0.0.1:%d dst=10.1.%d.%d:443 pid=100 comm=app in=%d out=%d\n",
				i + 10, 40000 + i % 20000, int(i / 250), i % 250 + 1, i, i
		print "open t=0.1 flow=1 proto=tcp src=10.0.0.1:39999 dst=10.9.9.9:443 pid=7 comm=ticker in=0 out=0"
		for (t = 1; t <= secs; t++) {
			printf "sample t=%s flow=1 in=%d out=%d\n", t - 0.5, t * 1000, t
			printf "tick t=%d\n", t
		}
		printf "end t=%s\n", secs + 0.5
	}' >"$T/abuse.txt"
	"$GEN" -o "$3" "$T/abuse.txt"
}

# live_exporter RECORDING: tcptop-agg replays it in real time, a snapshot a second, into
# tcptop-prom on a free port; sets PORT and PROM_PID.
live_exporter() {
	PORT=$(free_port)
	bash -c 'tcptop-agg --realtime --interval 1 "$1" | exec tcptop-prom --listen "127.0.0.1:$2"' \
		_ "$1" "$PORT" 2>"$T/prom.err" 3>&- &
	PIDS+=($!)
	for _ in $(seq 100); do
		PROM_PID=$(pgrep -P "$!" -x tcptop-prom) && curl -fs -o /dev/null \
			"http://127.0.0.1:$PORT/metrics" && break
		sleep 0.1
	done
	[ -n "$PROM_PID" ]
}

@test "80 slow clients (64 idle or slowloris, 16 slow readers) cannot starve scrapes: 60 s, every one within 1 s, memory flat" {
	abuse_input 600 100 "$T/rec.tcpt"
	live_exporter "$T/rec.tcpt"
	# 16 from each of 5 addresses, the most one address may hold; the scraper from 127.0.0.1.
	# 75 s: the first 15 fill the exposition slots (the slow readers pin one each time they
	# reconnect), the last 60 must be flat.
	python3 "$BATS_TEST_DIRNAME/prom/abuse.py" "$PORT" "$PROM_PID" 75 \
		--kinds idle=32,slowloris=32,trickle=16 \
		--addrs 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6 >"$T/report.json"
	run python3 - "$T/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = sorted(s["s"] for s in r["scrapes"])
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("scrapes %d, failed %d; latency p50 %.3f p90 %.3f p99 %.3f max %.3f s" %
      (len(lat), len(r["failures"]), pct(.5), pct(.9), pct(.99), lat[-1]))
opened = sorted(o["open"] for o in r["slow_open"] if o["t"] >= 15)
print("slow connections open (median of %d samples after 15 s): %d; opened %d, closed by "
      "the server %d" % (len(opened), opened[len(opened) // 2], r["slow_opened"],
                         r["slow_closed_by_server"]))
life = {k: (min(v), max(v)) if v else None for k, v in r["lifetimes"].items()}
print("lifetimes of the connections the server closed (min, max s):", life)
mem = [m for m in r["memory"] if "VmRSS" in m]
print("VmRSS every 5 s (kB):", [m["VmRSS"] for m in mem[::10]])
# flat: the median of the last 10 s within 10% of the median of the first 10 s of the 60 s
# (libmicrohttpd maps each connection's 64 KiB as it comes and unmaps it as it goes: single
# samples swing by a megabyte or so, a leak or a growing copy would not come back)
med = lambda xs: sorted(xs)[len(xs) // 2]
for k in ("VmRSS", "VmData"):
    first = med([m[k] for m in mem if 15 <= m["t"] < 25])
    last = med([m[k] for m in mem if m["t"] >= 65])
    every = [m[k] for m in mem if m["t"] >= 15]
    print("%s: %d kB at 15-25 s, %d kB at 65-75 s (%+.1f%%); %d-%d kB in between" %
          (k, first, last, 100.0 * (last - first) / first, min(every), max(every)))
    assert abs(last - first) <= first * 0.10, k + " moved more than 10%"
assert not r["failures"], r["failures"][:5]
assert len(lat) >= 100, "too few scrapes"
assert lat[-1] <= 1.0, "a scrape took %.3f s" % lat[-1]
# the scrapes saw the stream move on (a snapshot a second, 1000 bytes each), not one old copy
tick = [s["ticker"] for s in r["scrapes"]]
while tick and tick[0] is None:  # before the first snapshot
    tick.pop(0)
assert None not in tick and tick == sorted(tick) and tick[-1] - tick[0] >= 60000, (tick[0], tick[-1])
assert opened[len(opened) // 2] >= 64, "the slow clients were not held"
# idle ones closed after 10 s without traffic, slowloris ones cut at 30 s (a slow reader sees its
# cut only once it has read what it had received: its lifetime says little)
# (an idle one reopened at once may reach the server before it let the one it replaces go: the
# 17th of its address, closed at once, as tests/100's address limit test wants; a few at most)
idle = r["lifetimes"]["idle"]
assert sum(1 for t in idle if t < 1) <= 2, idle
assert all(9 <= t <= 13 for t in idle if t >= 1), idle
sl = r["lifetimes"]["slowloris"]
assert sl and all(29 <= t <= 33 for t in sl), sl
PY
	echo "$output" >&3
	assert_success
	[ ! -s "$T/prom.err" ]
}

@test "slow readers holding big expositions: scrapes are still answered and nothing leaks" {
	abuse_input 8000 3 "$T/rec.tcpt"
	local port
	port=$(free_port)
	bash -c 'tcptop-agg "$1" | exec tcptop-prom --listen "127.0.0.1:$2"' _ "$T/rec.tcpt" "$port" \
		2>"$T/err" 3>&- &
	PIDS+=($!)
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -q 'state="ended"' && break
		sleep 0.1
	done
	PROM_PID=$(pgrep -P "$!" -x tcptop-prom)
	# 8 readers that ask for 9 MB and read none of it; then 1000 HEAD requests and a scrape
	run python3 - "$port" "$PROM_PID" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def vmdata():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmData:"):
            return int(line.split()[1])
held = []
for i in range(8):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("127.0.0.%d" % (2 + i % 4), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
time.sleep(1)
before = vmdata()
refused = 0
for _ in range(1000):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        head += b
    c.close()
    refused += not head.startswith(b"HTTP/1.1 200")
after = vmdata()
t0 = time.monotonic()
c = socket.create_connection(("127.0.0.1", port), timeout=5)
c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = bytearray()
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    data += b
head, _, body = bytes(data).partition(b"\r\n\r\n")
print("8 readers hold their replies; 1000 HEAD: %d not answered 200; VmData %d -> %d kB; "
      "a GET then: %s, %d bytes in %.3f s" % (refused, before, after, head.split(b"\r\n")[0].decode(),
                                              len(body), time.monotonic() - t0))
assert refused == 0
assert head.startswith(b"HTTP/1.1 200") and len(body) > 9000000
assert after - before <= 4096, "VmData grew by %d kB" % (after - before)
PY
	echo "$output" >&3
	assert_success
}

@test "one address holds 16 connections at most; the 17th is closed, others still served" {
	local port
	serve_counting
	run -0 python3 - "$port" <<'PY'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
held = []
for _ in range(16):
    s = socket.socket()
    s.bind(("127.0.0.7", 0))
    s.connect(("127.0.0.1", port))
    held.append(s)
time.sleep(0.5)
extra = socket.socket()
extra.bind(("127.0.0.7", 0))
extra.connect(("127.0.0.1", port))
extra.settimeout(3)
try:
    closed = extra.recv(1) == b""
except ConnectionResetError:
    closed = True
except socket.timeout:
    closed = False
assert closed, "the 17th connection from one address was kept"
for s in held:  # the 16 are kept
    s.setblocking(False)
    try:
        assert s.recv(1) != b""
    except BlockingIOError:
        pass
body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read()
assert b"tcptop_network_io_bytes_total" in body
print("16 held, the 17th closed, a scrape from another address served")
PY
	echo "$output" >&3
}

@test "a busy port, bad options and the wrong input are refused with their status" {
	counting_script
	"$GEN" -o "$T/in.tcpt" "$T/s.txt"
	local port
	port=$(free_port)
	python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" 3>&- &
	PIDS+=($!)
	for _ in $(seq 100); do
		ss -Htln "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	run -73 tcptop-prom --listen "127.0.0.1:$port" "$T/in.tcpt"
	assert_output --partial "cannot listen on 127.0.0.1:$port"
	run -64 tcptop-prom --max-series 0 "$T/in.tcpt"
	run -64 tcptop-prom --listen nowhere "$T/in.tcpt"
	run -64 tcptop-prom --ephemeral-ports 9-2 "$T/in.tcpt"
	run -66 tcptop-prom --textfile "$T/x.prom" "$T/missing.tcpt"
	run -73 tcptop-prom --textfile "$T/no/such/dir/x.prom" "$T/in.tcpt"
	"$GEN" -o "$T/raw.tcpt" <<<'open t=0 flow=1'
	run -65 tcptop-prom --textfile "$T/x.prom" "$T/raw.tcpt"
	assert_output --partial 'tcptop-agg'
}

@test "tcptop --replay --prometheus serves the recording's totals until SIGTERM, then exits 0" {
	# the connections of counting_script as a raw recording
	raw_script "$T/raw.txt"
	"$GEN" -o "$T/rec.tcpt" "$T/raw.txt"
	local port
	port=$(free_port)
	tcptop --replay "$T/rec.tcpt" --prometheus "127.0.0.1:$port" --textfile "$T/t.prom" \
		2>"$T/err" 3>&- &
	PIDS+=($!)
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$port/metrics" -o "$T/m.prom" 2>/dev/null &&
			grep -q 'state="ended"' "$T/m.prom" && break
		sleep 0.1
	done
	[ "$(value "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"}")" = 3700 ]
	grep -qF "tcptop_network_io_bytes_total{$CURL,direction=\"receive\"} 3700" "$T/t.prom"
	kill -TERM "${PIDS[0]}"
	local st=0
	wait "${PIDS[0]}" || st=$?
	[ "$st" = 0 ]
	run -64 tcptop --replay "$T/rec.tcpt" --prometheus "127.0.0.1:$port" --log "$T/x.csv"
}

@test "delta snapshots: the same exposition as full snapshots, for every agg fixture" {
	local f name opts n=0
	for f in "$BATS_TEST_DIRNAME"/fixtures/agg/*.txt; do
		name=$(basename "$f" .txt)
		if [ "$name" = recorded ]; then
			cp "${f%.txt}.tcpt" "$T/raw.tcpt"
		else
			"$GEN" -o "$T/raw.tcpt" "$f"
		fi
		for opts in "" "--interval 0.5 --port 443"; do
			# shellcheck disable=SC2086
			tcptop-agg --full-every 1 $opts "$T/raw.tcpt" >"$T/full.tcps"
			# shellcheck disable=SC2086
			tcptop-agg --full-every 2 $opts "$T/raw.tcpt" >"$T/delta.tcps"
			tcptop-dump "$T/delta.tcps" | grep -q '^delta ' && n=$((n + 1))
			for popts in "" "--series-ttl 1 --max-series 3"; do
				# shellcheck disable=SC2086
				tcptop-prom $popts --textfile "$T/full.prom" "$T/full.tcps"
				# shellcheck disable=SC2086
				tcptop-prom $popts --textfile "$T/delta.prom" "$T/delta.tcps"
				# all but what the wall clock moves
				diff <(grep -v '^tcptop_stream_age_seconds\|^tcptop_exporter_scrape_duration' "$T/full.prom") \
					<(grep -v '^tcptop_stream_age_seconds\|^tcptop_exporter_scrape_duration' "$T/delta.prom") ||
					fail "$name $opts $popts: the expositions differ"
				grep -q '^tcptop_' "$T/full.prom"
			done
		done
	done
	[ "$n" -ge 10 ] || fail "only $n streams with deltas"
}

@test "a late start: deltas before the first full snapshot are not applied" {
	"$GEN" -o "$T/raw.tcpt" "$BATS_TEST_DIRNAME/fixtures/agg/multiple.txt"
	tcptop-agg --full-every 3 "$T/raw.tcpt" >"$T/delta.tcps"
	local hdr d2 full
	hdr=$(tcptop-dump -O "$T/delta.tcps" | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	d2=$(tcptop-dump -O "$T/delta.tcps" | grep '^@[0-9]* delta seq=' | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	full=$(tcptop-dump -O "$T/delta.tcps" | grep '^@[0-9]* snap seq=' | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	{ head -c "$hdr" "$T/delta.tcps"; tail -c +$((d2 + 1)) "$T/delta.tcps"; } >"$T/late.tcps"
	{ head -c "$hdr" "$T/delta.tcps"; tail -c +$((full + 1)) "$T/delta.tcps"; } >"$T/atfull.tcps"
	tcptop-prom --textfile "$T/late.prom" "$T/late.tcps"
	tcptop-prom --textfile "$T/atfull.prom" "$T/atfull.tcps"
	diff <(grep -v '^tcptop_stream_age_seconds\|^tcptop_exporter_scrape_duration' "$T/atfull.prom") \
		<(grep -v '^tcptop_stream_age_seconds\|^tcptop_exporter_scrape_duration' "$T/late.prom")
}
