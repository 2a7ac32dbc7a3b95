#!/usr/bin/env bats
# tcptop-collect live: known loopback traffic (tcptop-traffic) against the decoded stream.
# Needs root and a kernel with BTF; the option and exit-status tests run anywhere.

load test_helper/common

FLOWS="$BATS_TEST_DIRNAME/traffic/flows.py"

# regexp-quote a literal
re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

have_bpf() {
	[ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ]
}

# wait_for FILE PATTERN: until the decoded stream in FILE has a line matching PATTERN (20 s)
wait_for() {
	local i
	for i in $(seq 200); do
		tcptop-dump "$1" 2>/dev/null | grep -q "$2" && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1" >&2
	return 1
}

# The whole scenario runs once: a connection held open from before the collector started,
# then 10 MB each way over 127.0.0.1 and ::1, UDP to a connected peer and to three peers
# from one unconnected socket, 200 short connections; SIGINT ends the collector.
setup_file() {
	have_bpf || return 0
	local d=$BATS_FILE_TMPDIR i
	tcptop-traffic hold 100001 >"$d/hold.out" 2>&1 3>&- &
	echo $! >"$d/hold.pid"
	bg_track $!
	for i in $(seq 100); do grep -q ready "$d/hold.out" && break; sleep 0.1; done
	tcptop-collect --interval 0.2 -o "$d/run.tcpt" 2>"$d/collect.err" 3>&- &
	echo $! >"$d/collect.pid"
	bg_track $!
	wait_for "$d/run.tcpt" '^tick'
	tcptop-traffic tcp 4 10000019 >"$d/tcp4.out"
	tcptop-traffic tcp 6 10000019 >"$d/tcp6.out"
	tcptop-traffic udp 100 1201 >"$d/udp.out"
	tcptop-traffic short 200 1001 >"$d/short.out"
	kill -USR1 "$(cat "$d/hold.pid")"
	for i in $(seq 100); do grep -q done "$d/hold.out" && break; sleep 0.1; done
	sleep 0.5 # let the last sample period pass before the signal
	kill -INT "$(cat "$d/collect.pid")"
	wait "$(cat "$d/collect.pid")"
	echo $? >"$d/collect.status"
	tcptop-dump "$d/run.tcpt" >"$d/run.txt" 2>&1
	python3 "$FLOWS" <"$d/run.txt" >"$d/flows.txt"
}

teardown() {
	bg_kill_all
	if [ -f "$BATS_TEST_TMPDIR/dir" ]; then rm -rf "$(cat "$BATS_TEST_TMPDIR/dir")"; fi
	if [ -f "$BATS_TEST_TMPDIR/netns" ]; then ip netns del "$(cat "$BATS_TEST_TMPDIR/netns")"; fi
}

# assert_tcp LINE: both sockets of a connection printed by tcptop-traffic, exact bytes
assert_tcp() {
	local what proto a b pid bytes n rest
	read -r what proto a b pid bytes <<<"$1"
	n=${bytes#bytes=}
	rest="pid=${pid#pid=} comm=tcptop-traffic in=$n out=$n pin=[1-9][0-9]* pout=[1-9][0-9]* state=CLOSE end=closed"
	assert_line --regexp "^tcp $(re "$a") $(re "$b") $rest begun=${2:-no} rtt=yes$"
	assert_line --regexp "^tcp $(re "$b") $(re "$a") $rest begun=${2:-no} rtt=yes$"
}

load_flows() {
	skip_unless_bpf
	run -0 cat "$BATS_FILE_TMPDIR/flows.txt"
}

@test "--help lists every option, --version prints the version" {
	run -0 tcptop-collect --help
	for o in --output --interval --duration --udp-timeout --max-flows --pid --port --tcp \
		--udp --backend --verbose --help --version; do
		assert_output --partial -- "$o"
	done
	run -0 tcptop-collect --version
	assert_output "tcptop-collect 0.1.0"
}

@test "a bad option or value is a usage error naming it (64)" {
	run -64 tcptop-collect --bogus
	assert_output --partial "usage: tcptop-collect"
	run -64 tcptop-collect --interval 0
	assert_output --partial "--interval 0: too small"
	run -64 tcptop-collect --port 70000
	assert_output --partial "--port 70000: too large"
	run -64 tcptop-collect --backend magic
	assert_output --partial "--backend magic: unknown"
}

@test "refuses to write the stream to a terminal (64)" {
	need_tool script util-linux
	run -64 script -qec "$OUTPUT/tcptop-collect" /dev/null
	assert_output --partial "refusing to write a binary stream to a terminal"
}

@test "an unprivileged user gets 77 and one line naming what is missing" {
	skip_unless_root
	run -77 setpriv --reuid="$(unpriv_user)" --regid=nogroup --clear-groups --inh-caps=-all \
		"$OUTPUT/tcptop-collect" -o /dev/null
	# the message of lib/contract.c's caps_live_capture_check(), which the wrapper gives too
	assert_output "tcptop-collect: needs root or CAP_NET_ADMIN, CAP_PERFMON and CAP_BPF (missing CAP_NET_ADMIN, CAP_PERFMON, CAP_BPF)"
}

@test "an output file that cannot be created is 73" {
	skip_unless_bpf
	run -73 tcptop-collect -o "$BATS_TEST_TMPDIR/no/such/dir/x.tcpt"
	assert_output --partial "no/such/dir/x.tcpt"
}

@test "a write error is 74" {
	skip_unless_bpf
	[ -w /dev/full ] || skip "no /dev/full"
	run -74 tcptop-collect -o /dev/full --duration 0.5
	assert_output "tcptop-collect: writing /dev/full: No space left on device"
}

@test "a backend the kernel lacks is 69 with the reason" {
	skip_unless_bpf
	local b=kprobe why="kernel has no kprobes"
	if [ -e /sys/bus/event_source/devices/kprobe ]; then
		grep -q 'btf_trace_sock_send_length' <(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null) &&
			skip "this kernel has every backend"
		b=tracepoint why="kernel has no sock_send_length"
	fi
	run -69 tcptop-collect --backend "$b" -o /dev/null
	assert_output --regexp "^tcptop-collect: backend $b unavailable: $why"
	[ "${#lines[@]}" -eq 1 ]
}

@test "the header names producer, backend per hook and interval" {
	skip_unless_bpf
	run -0 head -1 "$BATS_FILE_TMPDIR/run.txt"
	assert_output --partial 'interval=0.200000000 producer="tcptop-collect"'
	# auto's choice: the send/recv tracepoints where the kernel has them (6.3+)
	local udp=fentry
	grep -q btf_trace_sock_send_length <(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null) &&
		udp='tracepoint\+cgroup'
	assert_output --regexp "backend=\"tcp=iter(\\+storage|\\+active)? udp=$udp netns=(run|iter)\""
	assert_output --regexp "kernel=\"$(re "$(uname -r)")\""
}

@test "SIGINT ends the stream with END, exit 0, and no diagnostics" {
	skip_unless_bpf
	run -0 cat "$BATS_FILE_TMPDIR/collect.status"
	assert_output 0
	run -0 tail -1 "$BATS_FILE_TMPDIR/run.txt"
	assert_output --regexp '^end t='
	run -0 cat "$BATS_FILE_TMPDIR/collect.err"
	assert_output ""
}

@test "TCP over 127.0.0.1: exact bytes both ways, pid, name, RTT, closed" {
	load_flows
	assert_tcp "$(cat "$BATS_FILE_TMPDIR/tcp4.out")"
}

@test "TCP over ::1: addresses and exact bytes both ways" {
	load_flows
	assert_tcp "$(cat "$BATS_FILE_TMPDIR/tcp6.out")"
	assert_output --partial "tcp [::1]:"
}

@test "UDP: exact datagrams and bytes per flow, three flows from one unconnected socket" {
	load_flows
	local what a b pid dg by anon srcs=()
	while read -r what a b pid dg by anon; do
		dg=${dg#datagrams=} by=${by#bytes=} pid=${pid#pid=}
		assert_line --regexp "^udp $(re "$a") $(re "$b") pid=$pid comm=tcptop-traffic in=0 out=$by pin=0 pout=$dg state=0 end=closed"
		if [ "$anon" = anon ]; then
			# read with recv(): the sender is not known to the receiving socket
			assert_line --regexp "^udp $(re "$b") 0\.0\.0\.0:0 pid=$pid comm=tcptop-traffic in=$by out=0 pin=$dg pout=0 state=0 end=closed"
		else
			assert_line --regexp "^udp $(re "$b") $(re "$a") pid=$pid comm=tcptop-traffic in=$by out=0 pin=$dg pout=0 state=0 end=closed"
		fi
		srcs+=("$a")
	done <"$BATS_FILE_TMPDIR/udp.out"
	[ "${#srcs[@]}" -eq 4 ]
	[ "${srcs[1]}" = "${srcs[2]}" ]
	[ "${srcs[2]}" = "${srcs[3]}" ]
	run -0 grep -c "^udp $(re "${srcs[1]}") " "$BATS_FILE_TMPDIR/flows.txt"
	assert_output 3
}

@test "all 200 short-lived connections appear with their final totals" {
	skip_unless_bpf
	local d=$BATS_FILE_TMPDIR what proto a b pid bytes rest
	while read -r what proto a b pid bytes; do
		rest="pid=${pid#pid=} comm=tcptop-traffic in=${bytes#bytes=} out=${bytes#bytes=} pin=[1-9][0-9]* pout=[1-9][0-9]* state=CLOSE end=closed begun=no rtt=yes"
		echo "^tcp $(re "$a") $(re "$b") $rest\$"
		echo "^tcp $(re "$b") $(re "$a") $rest\$"
	done <"$d/short.out" >"$d/short.re"
	run -0 wc -l <"$d/short.re"
	assert_output 400
	run -0 grep -c -E -f "$d/short.re" "$d/flows.txt"
	assert_output 400
}

@test "a connection opened before the collector is flagged begun, with exact totals" {
	load_flows
	assert_tcp "$(grep '^hold' "$BATS_FILE_TMPDIR/hold.out")" yes
}

@test "no loss and a consistent stream at this rate" {
	load_flows
	# every counter the collector keeps, zero (udp_peers_evicted where the peer table is used)
	assert_line --regexp "^loss ringbuf=0 flow_table_full=0 flow_evicted=0 walk_failed=0 owners_full=0( udp_peers_evicted=0)?$"
	assert_line "end"
	refute_line --partial "error:"
}

@test "| head -c 100 ends quietly and leaves no BPF program of ours behind" {
	skip_unless_bpf
	need_tool bpftool bpftool
	# This bpftool lists no owner pids: ours are the programs with our names loaded after
	# the highest id that exists now.
	local before
	before=$(bpftool prog show | sed -n 's/^\([0-9]*\):.*/\1/p' | sort -n | tail -1)
	run -0 bash -c '"$2" --interval 0.1 2>"$1/err" | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"' \
		_ "$BATS_TEST_TMPDIR" "$OUTPUT/tcptop-collect"
	assert_output 0
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_output ""
	# the kernel frees programs after their last fd closes, a moment later: wait up to 5 s
	for i in $(seq 50); do
		run -0 bash -c 'bpftool prog show | awk -v min="$1" -F"[: ]+" \
			"\$1 > min && \$4 ~ /^(tp|fe|kp|cg|it)__/ { print \$1, \$4 }"' _ "${before:-0}"
		[ -z "$output" ] && break
		sleep 0.1
	done
	assert_output ""
}

@test "after the drop: invoking uid and groups, no capability, records keep coming" {
	skip_unless_bpf
	local d pid i st
	# -o is created as the invoking user, after the drop: a folder that user may reach
	d=$(mktemp -d /tmp/tcptop-drop.XXXXXX)
	chown 4242:4343 "$d"
	echo "$d" >"$BATS_TEST_TMPDIR/dir"
	SUDO_UID=4242 SUDO_GID=4343 tcptop-collect --interval 0.1 -o "$d/drop.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/drop.tcpt" '^tick'
	run -0 stat -c '%u:%g' "$d/drop.tcpt"
	assert_output "4242:4343"
	run -0 grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' "/proc/$pid/status"
	assert_line --regexp '^Uid:[[:space:]]+4242[[:space:]]+4242[[:space:]]+4242[[:space:]]+4242$'
	assert_line --regexp '^Gid:[[:space:]]+4343[[:space:]]+4343[[:space:]]+4343[[:space:]]+4343$'
	# no passwd entry for 4242: its own group only, none of root's
	assert_line --regexp '^Groups:[[:space:]]+4343[[:space:]]*$'
	assert_line --regexp '^CapInh:[[:space:]]+0000000000000000$'
	assert_line --regexp '^CapAmb:[[:space:]]+0000000000000000$'
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	if [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)" = 0 ] || [ "$(printf "%s\n" 5.19 "$(uname -r)" | sort -V | head -1)" = 5.19 ]; then
		assert_line --regexp '^CapPrm:[[:space:]]+0000000000000000$'
		assert_line --regexp '^CapEff:[[:space:]]+0000000000000000$'
	else
		# only CAP_BPF (bit 39), where bpf() needs it (tests/090 covers those kernels)
		assert_line --regexp '^CapEff:[[:space:]]+0000008000000000$'
	fi
	run -0 tcptop-traffic tcp 4 4099
	read -r _ _ a b _ <<<"$output"
	wait_for "$d/drop.tcpt" "^close .*in=4099 out=4099"
	run -0 tcptop-dump "$d/drop.tcpt"
	assert_line --regexp "^open .* src=$(re "$a") dst=$(re "$b") "
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
}

@test "filters: --tcp shows no UDP, --port only that port" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid a b st
	tcptop-collect --interval 0.1 --tcp -o "$d/tcp.tcpt" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/tcp.tcpt" '^tick'
	tcptop-traffic udp 3 100 >/dev/null
	tcptop-traffic tcp 4 5003 >/dev/null
	wait_for "$d/tcp.tcpt" '^close .*in=5003'
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 tcptop-dump "$d/tcp.tcpt"
	refute_line --partial "proto=udp"
	assert_line --partial 'filter="tcp"'

	tcptop-traffic hold 3001 >"$d/hold.out" 3>&- &
	local hold=$!
	bg_track "$hold"
	for i in $(seq 100); do grep -q ready "$d/hold.out" && break; sleep 0.1; done
	read -r _ _ a b _ <"$d/hold.out"
	tcptop-collect --interval 0.1 --port "${b##*:}" -o "$d/port.tcpt" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/port.tcpt" '^tick'
	tcptop-traffic tcp 4 5003 >/dev/null
	kill -USR1 "$hold"
	wait "$hold"
	wait_for "$d/port.tcpt" '^close .*in=6002'
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 bash -c "tcptop-dump '$d/port.tcpt' | grep '^open'"
	assert_line --regexp "src=$(re "$a") dst=$(re "$b") .* begun"
	assert_line --regexp "src=$(re "$b") dst=$(re "$a") .* begun"
	[ "${#lines[@]}" -eq 2 ]
}

@test "no cgroup v2 mount: the header lists cgroup as missing, and one line says so" {
	skip_unless_bpf
	need_tool unshare util-linux
	local d=$BATS_TEST_TMPDIR
	# a mount namespace of its own, without the cgroup2 mounts (as ip netns exec makes)
	run unshare -m --propagation private sh -c '
		awk '"'"'$3 == "cgroup2" { print $2 }'"'"' /proc/self/mounts | xargs -r -n1 umount -l
		grep -q " cgroup2 " /proc/self/mounts && exit 99
		exec tcptop-collect --tcp --duration 0.5 -o "$1"' sh "$d/nocg.tcpt"
	assert_success
	assert_output "tcptop-collect: cgroup left out: no cgroup v2 mount"
	run -0 bash -c "tcptop-dump '$d/nocg.tcpt' | head -1"
	assert_output --regexp ' missing="([a-z-]+ )*cgroup( [a-z-]+)*"'
}

MAPFILL="$BATS_TEST_DIRNAME/traffic/mapfill.py"

# full_table NAME OPTION...: a collector whose map NAME is filled to the brim (mapfill.py)
# once it runs, in $d/full.tcpt (pid in $pid)
full_table() {
	local name=$1
	shift
	tcptop-collect --interval 0.2 "$@" -o "$d/full.tcpt" 2>"$d/full.err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/full.tcpt" '^tick'
	run -0 python3 "$MAPFILL" "$pid" "$name"
	assert_output --regexp "^filled $name: [0-9]+ entries"
}

# stop_full: SIGINT, status 0, the stream folded into $d/full.txt
stop_full() {
	local st=0
	sleep 0.5 # a period after the traffic
	kill -INT "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	tcptop-dump "$d/full.tcpt" | python3 "$FLOWS" >"$d/full.txt"
}

@test "the owners table full: owners not recorded are counted (owners_full), their connection shows no process" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid what proto a b rest unowned
	full_table owners --tcp
	# the host's closes free entries: full again just before (its connect and its accept
	# each try to record an owner)
	python3 "$MAPFILL" "$pid" owners >/dev/null
	tcptop-traffic tcp 4 7001 >"$d/tcp.out"
	read -r what proto a b rest <"$d/tcp.out"
	stop_full
	run -0 cat "$d/full.txt"
	# both sockets, exact; those without a process each had an owner refused, counted
	unowned=$(grep -cE "^tcp ($(re "$a") $(re "$b")|$(re "$b") $(re "$a")) pid=0 .* in=7001 out=7001 " \
		"$d/full.txt")
	[ "$unowned" -ge 1 ] || fail "both sockets got an owner: the table was not full"
	[[ "$(grep '^loss ' "$d/full.txt")" =~ owners_full=([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -ge "$unowned" ] ||
		fail "owners_full=${BASH_REMATCH[1]} for $unowned sockets without an owner"
	refute_line --partial "error:"
}

@test "the UDP peer table full: datagrams whose peer was not kept are counted (udp_peers_evicted), under the unknown peer" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid what a b p dg by anon
	full_table udp_peer --udp
	if ! grep -q '+cgroup' <(tcptop-dump "$d/full.tcpt" | head -1); then
		kernel_has_send_tracepoints &&
			fail "no peer table on a kernel with the send/recv tracepoints: $(tcptop-dump "$d/full.tcpt" | head -1)"
		skip "no peer table on this kernel (no sock_send_length tracepoint)"
	fi
	# a call under way while it filled frees its entry at its end: full again
	python3 "$MAPFILL" "$pid" udp_peer >/dev/null
	tcptop-traffic udp 10 100 >"$d/udp.out"
	stop_full
	run -0 cat "$d/full.txt"
	# the unconnected socket's 30 sendto() and its 3 peers' 30 recvfrom(), at least (another
	# process of the host may make such calls too)
	[[ "$(grep '^loss ' "$d/full.txt")" =~ udp_peers_evicted=([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -ge 60 ] || fail "udp_peers_evicted=${BASH_REMATCH[1]}, 60 expected"
	# the sender's datagrams to its three peers, under the unknown peer
	read -r what a b p dg by <<<"$(sed -n 2p "$d/udp.out")"
	assert_line --regexp "^udp $(re "$a") 0\.0\.0\.0:0 ${p} comm=tcptop-traffic in=0 out=3000 pin=0 pout=30 "
	refute_line --partial "error:"
}

# hold_idle N: N idle loopback connections held by tcptop-traffic (pid in $idle) while fd 4,
# its standard input, stays open; the caller closes fd 4
hold_idle() {
	local i
	mkfifo "$BATS_TEST_TMPDIR/hold"
	tcptop-traffic idle "$1" <"$BATS_TEST_TMPDIR/hold" >"$BATS_TEST_TMPDIR/idle.out" 2>&1 3>&- &
	idle=$!
	exec 4>"$BATS_TEST_TMPDIR/hold"
	bg_track "$idle"
	for i in $(seq 300); do grep -q '^ready' "$BATS_TEST_TMPDIR/idle.out" && break; sleep 0.1; done
	run -0 grep "^ready $1\$" "$BATS_TEST_TMPDIR/idle.out"
}

@test "5,000 idle connections: every one arrives, though one period's records overflow the iterator's buffer many times" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid idle n st
	hold_idle 5000
	tcptop-collect --interval 0.5 --tcp -o "$d/idle.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/idle.tcpt" '^tick'
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	# both ends of each: 10,000 sockets of the idle processes, each opened once (other
	# tests or benchmarks may hold connections of their own)
	local pids
	pids=$(echo "$idle" $(pgrep -P "$idle") | tr ' ' '|')
	n=$(tcptop-dump "$d/idle.tcpt" | grep -E '^open .*proto=tcp .*127\.0\.0\.100:.* state=ESTABLISHED ' |
		grep -cE " pid=($pids) .* begun")
	[ "$n" -eq 10000 ] || fail "$n of 10000 idle sockets announced"
	run -0 bash -c "tcptop-dump '$d/idle.tcpt' | grep '^loss' | tail -1"
	assert_output --regexp 'ringbuf=0 flow_table_full=0 flow_evicted=0'
	run -0 python3 "$FLOWS" < <(tcptop-dump "$d/idle.tcpt")
	refute_output --partial "error:"
	exec 4>&-
}

@test "periods longer than the interval (20,000 idle connections, --interval 0.01): SIGINT still ends the collector within 3 s" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid idle i st
	hold_idle 20000
	tcptop-collect --interval 0.01 --tcp -o "$d/idle.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/idle.tcpt" '^tick'
	sleep 1
	kill -INT "$pid"
	# (the loop ran period after period without looking at its signals: it never ended)
	for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "tcptop-collect still runs 3 s after SIGINT"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 bash -c "tcptop-dump '$d/idle.tcpt' | tail -1"
	assert_output --regexp '^end t='
	exec 4>&-
}

# wake_start N: tests/traffic/wake.py holding N idle loopback connections (pid in $wake),
# its commands through fd 5; the caller closes fd 5
wake_start() {
	local i
	mkfifo "$BATS_TEST_TMPDIR/wake.in"
	python3 "$BATS_TEST_DIRNAME/traffic/wake.py" "$1" <"$BATS_TEST_TMPDIR/wake.in" \
		>"$BATS_TEST_TMPDIR/wake.out" 2>&1 3>&- &
	wake=$!
	exec 5>"$BATS_TEST_TMPDIR/wake.in"
	bg_track "$wake"
	for i in $(seq 300); do grep -q '^ready' "$BATS_TEST_TMPDIR/wake.out" && break; sleep 0.1; done
	run -0 grep "^ready $1\$" "$BATS_TEST_TMPDIR/wake.out"
}

# wake_send I BYTES: sends BYTES on connection I; prints "CLIENT SERVER TOTAL"
wake_send() {
	local out=$BATS_TEST_TMPDIR/wake.out n i
	n=$(grep -c '^sent' "$out")
	echo "send $1 $2" >&5
	for i in $(seq 100); do
		[ "$(grep -c '^sent' "$out")" -gt "$n" ] && break
		sleep 0.1
	done
	grep '^sent' "$out" | tail -1 | cut -d' ' -f3-
}

# flow_of FILE SRC DST: the stream flow id of that connection's socket
flow_of() {
	tcptop-dump "$1" | grep -E "^open .* src=$(re "$2") dst=$(re "$3") " | head -1 |
		sed -E 's/.* flow=([0-9]+) .*/\1/'
}

# polled SRC: whether the collector's polled map holds the socket at local address SRC
# no_activation_skip STREAM: the stream's collector activates connections, or the kernel has no
# send/recv tracepoints to do it with (skip); on a kernel that has them, none is a failure.
no_activation_skip() {
	grep -q 'tcp=iter+active' <(tcptop-dump "$1" | head -1) && return 0
	kernel_has_send_tracepoints &&
		fail "no activation on a kernel with the send/recv tracepoints: $(tcptop-dump "$1" | head -1)"
	skip "no activation on this kernel (no sock_send_length tracepoint)"
}

polled() {
	bpftool -j map dump name polled 2>/dev/null | python3 -c '
import json, sys
port = int(sys.argv[1])
# an entry deleted between the listing and its lookup comes without "formatted"
print(sum(1 for e in json.load(sys.stdin)
          if e.get("formatted", {}).get("value", {}).get("e", {}).get("lport") == port))' "${1##*:}"
}

@test "activation: with the walk a minute away, a connection idle since before the start is sampled in the period it wakes, exact" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid wake st c s total flow
	wake_start 200
	tcptop-collect --interval 0.2 --full-walk 60 --tcp -o "$d/wake.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/wake.tcpt" '^tick'
	no_activation_skip "$d/wake.tcpt"
	sleep 0.5
	read -r c s total <<<"$(wake_send 117 300007)"
	[ "$total" = 300007 ]
	flow=$(flow_of "$d/wake.tcpt" "$c" "$s")
	[ -n "$flow" ] || fail "the connection was never opened in the stream"
	# the first walk met it at 0 bytes; no walk comes before a minute: the activation did it
	wait_for "$d/wake.tcpt" "^sample .* flow=$flow in=0 out=300007 "
	read -r c s total <<<"$(wake_send 117 1000)"
	wait_for "$d/wake.tcpt" "^sample .* flow=$flow in=0 out=301007 "
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 bash -c "tcptop-dump '$d/wake.tcpt' | grep '^loss' | tail -1"
	assert_output --regexp 'ringbuf=0 flow_table_full=0 flow_evicted=0'
	exec 5>&-
}

@test "activation: a connection quiet for two periods leaves the polled map at the next walk, and its next call brings it back" {
	skip_unless_bpf
	need_tool bpftool bpftool
	local d=$BATS_TEST_TMPDIR pid wake st c s total flow i
	wake_start 20
	tcptop-collect --interval 0.5 --full-walk 1 --tcp -o "$d/wake.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/wake.tcpt" '^tick'
	no_activation_skip "$d/wake.tcpt"
	read -r c s total <<<"$(wake_send 3 5000)"
	[ "$(polled "$c")" -eq 1 ] || fail "the woken client socket is not polled"
	[ "$(polled "$s")" -eq 1 ] || fail "the woken server socket is not polled"
	# quiet: 1 s (two periods) unchanged, then a walk (every second) ends its polling
	for i in $(seq 50); do [ "$(polled "$c")" -eq 0 ] && break; sleep 0.1; done
	[ "$(polled "$c")" -eq 0 ] || fail "still polled 5 s after it went quiet"
	[ "$(polled "$s")" -eq 0 ] || fail "the server end still polled"
	read -r c s total <<<"$(wake_send 3 2000)"
	[ "$total" = 7000 ]
	[ "$(polled "$c")" -eq 1 ] || fail "woken again, the socket is not polled"
	flow=$(flow_of "$d/wake.tcpt" "$c" "$s")
	wait_for "$d/wake.tcpt" "^sample .* flow=$flow in=0 out=7000 "
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	exec 5>&-
}

@test "activation: where another BPF program gives sockets storage, every period walks, and a woken connection is still sampled in time" {
	skip_unless_bpf
	[ -x "$OUTPUT/tests/bench-floor" ] || fail "no $OUTPUT/tests/bench-floor (make test builds it)"
	local d=$BATS_TEST_TMPDIR pid wake floor st c s total flow i
	wake_start 20
	# the reference monitor "storage" gives every socket that sends or receives storage of
	# its own, so that the collector's tracepoints take such sockets for active ones
	"$OUTPUT/tests/bench-floor" storage >"$d/floor.out" 2>&1 3>&- &
	floor=$!
	bg_track "$floor"
	for i in $(seq 100); do grep -q ready "$d/floor.out" && break; sleep 0.1; done
	if ! grep -q ready "$d/floor.out"; then
		kernel_has_send_tracepoints &&
			fail "the storage monitor does not load on a kernel with the tracepoints: $(cat "$d/floor.out")"
		skip "the storage monitor does not load on this kernel: $(cat "$d/floor.out")"
	fi
	read -r c s total <<<"$(wake_send 5 100)"
	tcptop-collect -v --interval 0.2 --full-walk 60 --tcp -o "$d/wake.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/wake.tcpt" '^tick'
	no_activation_skip "$d/wake.tcpt"
	sleep 0.5
	read -r c s total <<<"$(wake_send 5 4000)"
	flow=$(flow_of "$d/wake.tcpt" "$c" "$s")
	[ -n "$flow" ] || fail "the connection was never opened in the stream"
	# (without the fallback, not before the walk a minute later)
	wait_for "$d/wake.tcpt" "^sample .* flow=$flow in=0 out=4100 "
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 grep -E "connections carry another BPF program's socket storage.*every period walks" "$d/err"
	exec 5>&-
}

@test "20,000 idle connections, the walk spread over periods: each opened once, and one woken among them sampled exact each time it wakes" {
	skip_unless_bpf
	local d=$BATS_TEST_TMPDIR pid idle wake st c s total flow n pids i
	hold_idle 20000
	wake_start 10
	# a slice of 10 ms each period (a quarter of 0.04 s): the first walk of 40,000 sockets
	# takes several; the next follows it at once, paced (a chunk of about 500 sockets a
	# period, some 80 periods), then none for a minute: activation samples the woken one each
	# time it wakes (the paced walk may read it once more)
	tcptop-collect -v --interval 0.04 --full-walk 60 --tcp -o "$d/big.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/big.tcpt" '^tick'
	grep -q 'tcp=iter+active' <(tcptop-dump "$d/big.tcpt" | head -1) ||
		skip "no activation on this kernel"
	for i in $(seq 300); do grep -q 'the walk of every connection took' "$d/err" && break; sleep 0.1; done
	# (a walk read whole in one period said "over 1 period"); the next follows it at once
	run -0 grep -E 'the walk of every connection took .* over ([2-9]|[1-9][0-9]+) periods: the next now, paced at [0-9.e+-]+ ms of CPU a period' "$d/err"
	for n in 100003 7 250001; do
		read -r c s total <<<"$(wake_send 3 "$n")"
		flow=$(flow_of "$d/big.tcpt" "$c" "$s")
		[ -n "$flow" ] || fail "the woken connection was never opened"
		wait_for "$d/big.tcpt" "^sample .* flow=$flow in=0 out=$total "
	done
	[ "$total" = 350011 ]
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	# both ends of each idle connection opened once, none ended (evicted)
	pids=$(echo "$idle" $(pgrep -P "$idle") | tr ' ' '|')
	n=$(tcptop-dump "$d/big.tcpt" | grep -E '^open .*proto=tcp ' | grep -cE " pid=($pids) ")
	[ "$n" -eq 40000 ] || fail "$n of 40000 idle sockets opened"
	run -0 bash -c "tcptop-dump '$d/big.tcpt' | grep '^loss' | tail -1"
	assert_output --regexp 'ringbuf=0 flow_table_full=0 flow_evicted=0 walk_failed=0 '
	exec 4>&- 5>&-
}

@test "another network namespace: its connections and flows, exact, under their own namespace" {
	skip_unless_bpf
	need_tool ip iproute2
	local d=$BATS_TEST_TMPDIR ns="tcptop-test-$$" pid st a b own theirs
	ip netns add "$ns" || skip "cannot create a network namespace here"
	echo "$ns" >"$d/netns"
	ip -n "$ns" link set lo up
	tcptop-collect --interval 0.2 -o "$d/ns.tcpt" 2>"$d/err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_for "$d/ns.tcpt" '^tick'
	ip netns exec "$ns" "$OUTPUT/tcptop-traffic" tcp 4 300007 >"$d/tcp.out"
	ip netns exec "$ns" "$OUTPUT/tcptop-traffic" udp 7 333 >"$d/udp.out"
	sleep 0.5
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	tcptop-dump "$d/ns.tcpt" >"$d/ns.txt"
	python3 "$FLOWS" <"$d/ns.txt" >"$d/flows.txt"
	run -0 cat "$d/flows.txt"
	assert_tcp "$(cat "$d/tcp.out")"
	read -r _ a b _ <<<"$(grep -v anon "$d/udp.out" | head -1)"
	assert_line --regexp "^udp $(re "$a") $(re "$b") pid=[0-9]+ comm=tcptop-traffic in=0 out=2331 pin=0 pout=7 "
	assert_line --regexp "^udp $(re "$b") $(re "$a") pid=[0-9]+ comm=tcptop-traffic in=2331 out=0 pin=7 pout=0 "
	# the namespace recorded is theirs, not the collector's
	own=$(stat -L -c %i /proc/self/ns/net)
	theirs=$(stat -L -c %i "/run/netns/$ns")
	read -r _ _ a _ <"$d/tcp.out"
	run -0 grep -E "^open .* src=$(re "$a") .* netns=$theirs " "$d/ns.txt"
	[ "$theirs" != "$own" ]
}
