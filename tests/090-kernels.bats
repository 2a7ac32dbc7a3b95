#!/usr/bin/env bats
# Kernel portability: Debian's 6.1 kernel (no sock_send_length tracepoints) booted once under
# qemu (tests/vm/run-vm); inside it hookcheck and the live scenario of 050-collect.bats run with
# fentry forced and again with kprobes forced (tests/vm/guest-checks); the assertions run here,
# on the host, where a process start costs 50 times less. `make test-kernels` runs this file.

load test_helper/common

VM="$BATS_TEST_DIRNAME/vm/run-vm"

# The collector's kprobe programs load on 6.1 only with an accounting that runs in a kprobe
# (tests/vm/NOTES-for-collector.md, section 2; tests/vm/kprobe-accounting.patch): the BPF
# source says so by defining TCPTOP_KP_ACCOUNT_SEND.
kp_collector() {
	grep -q '^#define TCPTOP_KP_ACCOUNT_SEND' "$BATS_TEST_DIRNAME/../bpf/tcptop.bpf.c"
}
skip_unless_kp_collector() {
	kp_collector || skip "the collector has no kprobe-safe accounting yet (tests/vm/NOTES-for-collector.md)"
}
FLOWS="$BATS_TEST_DIRNAME/traffic/flows.py"

vm_usable() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (the guest writes to the project as root)"; return 1; }
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "qemu-system-x86_64 not installed (package qemu-system-x86)"; return 1; }
	command -v busybox >/dev/null || { echo "busybox not installed (package busybox-static)"; return 1; }
	return 0
}

# bats 1.8 cannot skip from setup_file: each test skips through need_vm
need_vm() {
	local why
	why=$(vm_usable) || skip "$why"
}

setup_file() {
	vm_usable >/dev/null || return 0
	LIVE=fentry
	kp_collector && LIVE="fentry kprobe"
	RES="$OUTPUT/vm/results.$$"
	export RES
	rm -rf "$RES"
	local b st=0
	"$VM" -t 600 "$BATS_TEST_DIRNAME/vm/guest-checks" "$RES" $LIVE >"$BATS_FILE_TMPDIR/vm.out" 2>&1 ||
		st=$?
	echo $st >"$BATS_FILE_TMPDIR/vm.status"
	# a kernel after 6.5 (no tcp_sendpage/udp_sendpage), hookcheck only
	st=0
	TCPTOP_VM_KERNEL=linux-image-6.12-amd64 "$VM" -t 300 "$BATS_TEST_DIRNAME/vm/guest-checks" \
		"$RES/6.12" >"$BATS_FILE_TMPDIR/vm612.out" 2>&1 || st=$?
	echo $st >"$BATS_FILE_TMPDIR/vm612.status"
	for b in $LIVE; do
		[ -d "$RES/live-$b" ] || continue
		tcptop-dump "$RES/live-$b/run.tcpt" >"$RES/live-$b/run.txt" 2>&1 || true
		python3 "$FLOWS" <"$RES/live-$b/run.txt" >"$RES/live-$b/flows.txt" 2>&1 || true
	done
}

teardown_file() {
	if [ -n "${RES:-}" ]; then
		rm -rf "$RES"
	fi
}

# regexp-quote a literal
re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# step_ok NAME: a step of guest-checks ran with status 0; its output is in $output
step_ok() {
	run -0 cat "$RES/$1.status"
	assert_output 0
	run cat "$RES/$1.out"
}

# assert_tcp LINE [BEGUN]: both sockets of a connection printed by tcptop-traffic, exact bytes
# (the same assertion as 050-collect.bats)
assert_tcp() {
	local what proto a b pid bytes n rest
	read -r what proto a b pid bytes <<<"$1"
	n=${bytes#bytes=}
	rest="pid=${pid#pid=} comm=tcptop-traffic in=$n out=$n pin=[1-9][0-9]* pout=[1-9][0-9]* state=CLOSE end=closed"
	assert_line --regexp "^tcp $(re "$a") $(re "$b") $rest begun=${2:-no} rtt=yes$"
	assert_line --regexp "^tcp $(re "$b") $(re "$a") $rest begun=${2:-no} rtt=yes$"
}

# live B: the scenario recorded with backend B ran; $output holds its flows
live() {
	step_ok "live-$1"
	run -0 cat "$RES/live-$1/collect.status"
	assert_output 0
	run -0 cat "$RES/live-$1/flows.txt"
}

@test "run-vm: --help is 0, a bad option or missing command is 64" {
	run -0 "$VM" --help
	assert_output --partial "usage: run-vm"
	run -64 "$VM" --bogus
	assert_output --partial "unknown option: --bogus"
	run -64 "$VM"
	assert_output --partial "usage: run-vm"
	run -64 "$VM" -t soon true
	assert_output --partial "-t: not a number of seconds: soon"
}

@test "run-vm: a kernel that cannot be fetched is a VM failure (125), not the command's status" {
	need_vm
	TCPTOP_VM_KERNEL=linux-image-0.0.0-none-amd64 run -125 "$VM" true
	assert_output --partial "cannot fetch linux-image-0.0.0-none-amd64"
}

@test "run-vm: the guest runs Debian's 6.1 kernel and the command's status comes back" {
	need_vm
	run -0 cat "$BATS_FILE_TMPDIR/vm.status"
	assert_output 3
	run -0 cat "$RES/uname"
	assert_output --regexp '^6\.1\.[0-9]+-[0-9]+-amd64$'
	run -0 cat "$BATS_FILE_TMPDIR/vm.out"
	assert_output --partial "status 3 after"
}

@test "6.1 fentry: hookcheck counts every send and receive path exactly" {
	need_vm
	step_ok hookcheck-fentry
	refute_output --partial "not ok"
	assert_line "# 40 threads blocked in read() at once: received 4000 of 4000 bytes in 40 calls"
	refute_output --partial "absent from this kernel"
	assert_line --regexp "^ok 1 - TCP IPv4 1 MiB write\(\): sent 1048576 in [0-9]+ calls, received 1048576 "
	assert_line --regexp "^ok 3 - TCP IPv4 1 MiB sendfile\(\): sent 1048576 in [0-9]+ calls, received 1048576 "
	assert_line --regexp "^ok 6 - TCP MSG_PEEK .*: sent 1000 in 1 calls, received 1000 in 1 calls$"
	assert_line --regexp "^ok 9 - UDP IPv6 socket to a v4-mapped address .*: sent 1000 in 10 calls, received 1000 in 10 calls$"
	assert_line --regexp "^ok 13 - UDP IPv4 sendfile\(\) of 1000 bytes: sent 1000 in 1 calls, received 1000 in 1 calls$"
	assert_line "1..14"
}

@test "6.1 kprobe: hookcheck counts every send and receive path exactly" {
	need_vm
	step_ok hookcheck-kprobe
	refute_output --partial "not ok"
	refute_output --partial "absent from this kernel"
	assert_line --regexp "^ok 3 - TCP IPv4 1 MiB sendfile\(\): sent 1048576 in [0-9]+ calls, received 1048576 "
	assert_line --regexp "^ok 6 - TCP MSG_PEEK .*: sent 1000 in 1 calls, received 1000 in 1 calls$"
	assert_line --regexp "^ok 9 - UDP IPv6 socket to a v4-mapped address .*: sent 1000 in 10 calls, received 1000 in 10 calls$"
	assert_line --regexp "^ok 13 - UDP IPv4 sendfile\(\) of 1000 bytes: sent 1000 in 1 calls, received 1000 in 1 calls$"
	assert_line "1..14"
	assert_line "# kprobe argument map full: 0"
}

@test "6.1 kprobe: 40 readers blocked at once are all counted once maxactive is raised (tracefs)" {
	need_vm
	step_ok hookcheck-kprobe-maxactive
	refute_output --partial "not ok"
	assert_line "1..14"
	assert_line "# kretprobes attached through tracefs with maxactive 64"
	assert_line "# 40 threads blocked in read() at once: received 4000 of 4000 bytes in 40 calls"
	# the default (max(10, 2 x CPUs) in flight) misses returns: measured, not asserted
	run -0 cat "$RES/hookcheck-kprobe.out"
	assert_line --regexp "^# 40 threads blocked in read\(\) at once: received [0-9]+ of 4000 bytes"
}

@test "6.12, without the sendpage functions: hookcheck exact with fentry and with kprobes" {
	need_vm
	run -0 cat "$BATS_FILE_TMPDIR/vm612.status"
	assert_output 3
	run -0 cat "$RES/6.12/uname"
	assert_output --regexp '^6\.12\.'
	local b
	for b in fentry kprobe; do
		step_ok 6.12/hookcheck-$b
		refute_output --partial "not ok"
		assert_line "# $b tcp_sendpage: absent from this kernel"
		assert_line --regexp "^ok 3 - TCP IPv4 1 MiB sendfile\(\): sent 1048576 in [0-9]+ calls, received 1048576 "
		assert_line --regexp "^ok 13 - UDP IPv4 sendfile\(\) of 1000 bytes: sent 1000 in 1 calls, received 1000 in 1 calls$"
		assert_line "1..14"
	done
}

# ---- the collector, with each backend forced ----

live_header() {
	step_ok "live-$1"
	run -0 head -1 "$RES/live-$1/run.txt"
	assert_output --partial "backend=\"send=$1 recv=$1 "
	assert_output --partial 'kernel="6.1.'
	run -0 cat "$RES/live-$1/collect.err"
	assert_output ""
	run -0 tail -1 "$RES/live-$1/run.txt"
	assert_output --regexp '^end t='
}

live_tcp() {
	live "$1"
	assert_tcp "$(cat "$RES/live-$1/tcp4.out")"
	assert_tcp "$(cat "$RES/live-$1/tcp6.out")"
	assert_output --partial "tcp [::1]:"
}

live_udp() {
	live "$1"
	local what a b pid dg by n=0
	while read -r what a b pid dg by; do
		dg=${dg#datagrams=} by=${by#bytes=} pid=${pid#pid=}
		assert_line --regexp "^udp $(re "$a") $(re "$b") pid=$pid comm=tcptop-traffic in=0 out=$by pin=0 pout=$dg state=0 end=closed"
		assert_line --regexp "^udp $(re "$b") $(re "$a") pid=$pid comm=tcptop-traffic in=$by out=0 pin=$dg pout=0 state=0 end=closed"
		n=$((n + 1))
	done <"$RES/live-$1/udp.out"
	[ "$n" -eq 4 ]
}

live_short() {
	live "$1"
	local n=0 line
	while read -r line; do
		assert_tcp "$line"
		n=$((n + 1))
	done <"$RES/live-$1/short.out"
	[ "$n" -eq 200 ]
}

live_begun() {
	live "$1"
	assert_tcp "$(grep '^hold' "$RES/live-$1/hold.out")" yes
}

live_clean() {
	live "$1"
	assert_line "loss ringbuf=0 flow_table_full=0 flow_evicted=0"
	assert_line "end"
	refute_line --partial "error:"
}

@test "6.1 fentry: the collector starts, its header names fentry, SIGINT ends it cleanly" {
	need_vm
	live_header fentry
}
@test "6.1 fentry: TCP over 127.0.0.1 and ::1, exact bytes both ways, pid, name, RTT" {
	need_vm
	live_tcp fentry
}
@test "6.1 fentry: UDP, exact datagrams and bytes per flow" {
	need_vm
	live_udp fentry
}
@test "6.1 fentry: all 200 short-lived connections with their final totals" {
	need_vm
	live_short fentry
}
@test "6.1 fentry: a connection opened before the collector is begun, with exact totals" {
	need_vm
	live_begun fentry
}
@test "6.1 fentry: no loss, no stream error" {
	need_vm
	live_clean fentry
}

@test "6.1 kprobe: the collector starts, its header names kprobe, SIGINT ends it cleanly" {
	need_vm
	skip_unless_kp_collector
	live_header kprobe
}
@test "6.1 kprobe: TCP over 127.0.0.1 and ::1, exact bytes both ways, pid, name, RTT" {
	need_vm
	skip_unless_kp_collector
	live_tcp kprobe
}
@test "6.1 kprobe: UDP, exact datagrams and bytes per flow" {
	need_vm
	skip_unless_kp_collector
	live_udp kprobe
}
@test "6.1 kprobe: all 200 short-lived connections with their final totals" {
	need_vm
	skip_unless_kp_collector
	live_short kprobe
}
@test "6.1 kprobe: a connection opened before the collector is begun, with exact totals" {
	need_vm
	skip_unless_kp_collector
	live_begun kprobe
}
@test "6.1 kprobe: no loss, no stream error" {
	need_vm
	skip_unless_kp_collector
	live_clean kprobe
}
