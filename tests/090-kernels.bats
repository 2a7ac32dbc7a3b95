#!/usr/bin/env bats
# Kernel matrix: Debian's 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie) and 7.2 (sid) each
# booted once under qemu (tests/vm/run-vm); inside, tests/vm/guest-checks records the live
# scenario of 050-collect.bats with `--backend auto` and with each backend forced, and on 5.10
# and 6.1 once more under kernel.unprivileged_bpf_disabled=1. The assertions run here, on the
# host, where a process start costs 50 times less. `make test-kernels` runs this file alone.
# Each VM has TCPTOP_VM_TIMEOUT (660 s); each run in it a limit of its own (guest-checks), whose
# sum is under that, so that a run that hangs fails alone, named with its phase.
# time limit: 900 s

load test_helper/common

VM="$BATS_TEST_DIRNAME/vm/run-vm"
FLOWS="$BATS_TEST_DIRNAME/traffic/flows.py"
KERNELS="5.10 6.1 6.12 7.2"
BACKENDS="auto tracepoint fentry kprobe"

# A forced backend the kernel lacks exits 69 ("not offered"); where that is expected:
# the send/recv length tracepoints came in 6.3.
not_offered() {
	case "$1 $2" in
	"5.10 tracepoint" | "6.1 tracepoint") return 0 ;;
	esac
	return 1
}

vm_usable() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (the guest writes to the project as root)"; return 1; }
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "qemu-system-x86_64 not installed (package qemu-system-x86)"; return 1; }
	command -v busybox >/dev/null || { echo "busybox not installed (package busybox-static)"; return 1; }
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		{ echo "no Debian archive key (package debian-archive-keyring)"; return 1; }
	return 0
}

# bats 1.8 cannot skip from setup_file: each test skips through need_vm
need_vm() {
	local why
	why=$(vm_usable) || skip "$why"
}

# boot K: one VM for kernel K, everything guest-checks does in it; status and seconds kept
boot() {
	local k=$1 start=$SECONDS extra=() st=0
	case $k in 5.10) extra=(--privdrop) ;; 6.1) extra=(--kprobe-miss --privdrop) ;; esac
	TCPTOP_VM_KERNEL=$k "$VM" -t "${TCPTOP_VM_TIMEOUT:-660}" \
		"$BATS_TEST_DIRNAME/vm/guest-checks" "$RES/$k" "${extra[@]}" >"$RES/$k.vm.out" 2>&1 ||
		st=$?
	# 125 is the VM failing, not the collector (a download that broke off, a guest that never
	# came up): once more, if there is time; the first try's output is kept for the matrix
	if [ $st = 125 ] && [ $((SECONDS - start)) -lt 240 ]; then
		mv "$RES/$k.vm.out" "$RES/$k.vm.first"
		rm -rf "${RES:?}/$k"
		st=0
		TCPTOP_VM_KERNEL=$k "$VM" -t "${TCPTOP_VM_TIMEOUT:-660}" \
			"$BATS_TEST_DIRNAME/vm/guest-checks" "$RES/$k" "${extra[@]}" >"$RES/$k.vm.out" 2>&1 ||
			st=$?
	fi
	echo $st >"$RES/$k.vm.status"
	echo $((SECONDS - start)) >"$RES/$k.vm.secs"
	# folded here, while the other VM still runs
	local d
	for d in "$RES/$k"/live-*; do
		[ -s "$d/run.tcpt" ] || continue
		tcptop-dump "$d/run.tcpt" >"$d/run.txt" 2>&1 || true
		python3 "$FLOWS" <"$d/run.txt" >"$d/flows.txt" 2>&1 || true
	done
}

setup_file() {
	vm_usable >/dev/null || return 0
	# TCPTOP_VM_RESULTS=DIR: assert on the results a run kept (TCPTOP_VM_KEEP=1), no boot
	if [ -n "${TCPTOP_VM_RESULTS:-}" ]; then
		RES=$TCPTOP_VM_RESULTS
		export RES
		return 0
	fi
	RES="$OUTPUT/vm/results.$$"
	TCPTOP_VM_TAG="kernels.$$"
	export RES TCPTOP_VM_TAG
	rm -rf "$RES"
	mkdir -p "$RES"
	local k start=$SECONDS
	# the downloads first (once per machine; unpacking is most of it, two at a time), so the
	# boots time only boots
	for k in $KERNELS; do
		while [ "$(jobs -rp | wc -l)" -ge "${TCPTOP_VM_JOBS:-2}" ]; do wait -n || true; done
		TCPTOP_VM_KERNEL=$k "$VM" --fetch >"$RES/fetch-$k.out" 2>&1 3>&- &
	done
	wait || true
	echo $((SECONDS - start)) >"$RES/fetch.secs"
	# two VMs at a time: each has two vCPUs, the machine two cores; 5.10 and 6.1 (the longest,
	# with the privilege run) start first
	start=$SECONDS
	for k in $KERNELS; do
		while [ "$(jobs -rp | wc -l)" -ge "${TCPTOP_VM_JOBS:-2}" ]; do wait -n || true; done
		boot "$k" 3>&- &
	done
	wait || true
	echo $((SECONDS - start)) >"$RES/boots.secs"
}

# Every qemu this file started ends here, whatever happened: run-vm's own trap ends its qemu,
# and a qemu whose run-vm was killed is found by this file's tag on its kernel command line.
teardown_file() {
	local p
	[ -n "${TCPTOP_VM_TAG:-}" ] && for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "tcptop.tag=$TCPTOP_VM_TAG " &&
			kill "${p#/proc/}" 2>/dev/null
	done
	if [ -n "${RES:-}" ] && [ -z "${TCPTOP_VM_KEEP:-}" ] && [ -z "${TCPTOP_VM_RESULTS:-}" ]; then
		rm -rf "$RES"
	fi
}

# regexp-quote a literal
re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# booted K: the VM of kernel K ran guest-checks to its end (status 3) on that kernel
booted() {
	run -0 cat "$RES/$1.vm.status"
	if [ "$output" != 3 ]; then
		[ -e "$RES/$1.vm.first" ] && { echo "first VM:"; cat "$RES/$1.vm.first"; echo "second VM:"; }
		cat "$RES/$1.vm.out"
		running "$1"
		false
	fi
	run -0 cat "$RES/$1/uname"
	assert_output --regexp "^$(re "$1")[.-]"
}

# running K: the run the VM of kernel K was in when it stopped, its phase and how long it ran
running() {
	local name began
	read -r name began 2>/dev/null <"$RES/$1/running" || return 0
	echo "the VM stopped in run $name (phase $(cat "$RES/$1/$name/phase" 2>/dev/null ||
		echo unknown), $(($(date +%s) - began)) s before this test); runs done:"
	cat "$RES/$1/steps" 2>/dev/null
}

# ran K NAME: guest-checks' step NAME on kernel K ended with status 0; the collector's status
# is in $output. A run stopped at its limit is named with the phase it was in.
ran() {
	local rec st secs
	booted "$1"
	run -0 cat "$RES/$1/$2.out"
	rec=$(grep "^$2 " "$RES/$1/steps") || { echo "no record of run $2 on $1"; running "$1"; false; }
	read -r _ st secs _ <<<"$rec"
	if [ "$st" != 0 ]; then
		case $rec in
		*timed-out-in=*) echo "run $2 on $1 stopped at its limit after $secs s: it hung in" \
			"phase ${rec##*timed-out-in=}; phases done (s):" \
			"$(tr '\n' ' ' <"$RES/$1/$2/phases" 2>/dev/null)" ;;
		*) echo "run $2 on $1 ended with status $st after $secs s" ;;
		esac
		cat "$RES/$1/$2.out" "$RES/$1/$2/collect.err" 2>/dev/null
		false
	fi
	run -0 cat "$RES/$1/$2/collect.status"
}

# header K NAME: the stream header's backend="..." and missing="..." values
header_field() {
	sed -n "1s/.* $2=\"\\([^\"]*\\)\".*/\\1/p" "$RES/$1/$3/run.txt"
}

# tcp_rows LINE [BEGUN]: the two rows flows.py prints for a connection tcptop-traffic reported,
# exact bytes both ways (as in 050-collect.bats; packet counts, only non-zero, are "+")
tcp_rows() {
	local what proto a b pid bytes n rest
	read -r what proto a b pid bytes <<<"$1"
	n=${bytes#bytes=}
	rest="pid=${pid#pid=} comm=tcptop-traffic in=$n out=$n pin=+ pout=+ state=CLOSE end=closed begun=${2:-no} rtt=yes"
	echo "tcp $a $b $rest"
	echo "tcp $b $a $rest"
}

# live_exact K NAME SHORT: the run NAME on kernel K recorded everything exactly: the header,
# TCP v4 and v6 both ways, UDP per flow, SHORT short connections, the connection begun before
# the collector, no loss, a clean end. The expected rows are compared with what flows.py
# folded from the stream in one go (hundreds of assert_line would take a minute here).
live_exact() {
	local k=$1 d=$RES/$1/$2 what a b pid dg by anon line exp=$BATS_TEST_TMPDIR/expected
	ran "$k" "$2"
	assert_output 0
	run -0 head -1 "$d/run.txt"
	assert_output --partial "kernel=\"$(cat "$RES/$k/uname")\""
	run -0 tail -1 "$d/run.txt"
	assert_output --regexp '^end t='
	run -0 grep -c . "$d/short.out"
	assert_output "$3"
	run -0 grep -c . "$d/udp.out"
	assert_output 4
	# every loss counter there is, zero
	run -0 grep '^loss ' "$d/flows.txt"
	assert_output --regexp '^loss( [a-z_]+=0)+$'
	# TCP figures and their clocks: every kernel of the matrix has them (tcptop-collect(1))
	run -0 grep -c '^close .* busy=[0-9]* rwnd=[0-9]* sndbuf=[0-9]* .* cwnd=[1-9]' "$d/run.txt"
	[ "$output" -ge 4 ]
	run header_field "$k" missing "$2"
	refute_output --regexp 'tcp-(figures|limits)'
	{
		echo end
		tcp_rows "$(cat "$d/tcp4.out")"
		tcp_rows "$(cat "$d/tcp6.out")"
		tcp_rows "$(grep '^hold' "$d/hold.out")" yes
		while read -r line; do tcp_rows "$line"; done <"$d/short.out"
		while read -r what a b pid dg by anon; do
			dg=${dg#datagrams=} by=${by#bytes=} pid=${pid#pid=}
			echo "udp $a $b pid=$pid comm=tcptop-traffic in=0 out=$by pin=0 pout=$dg state=0 end=closed begun=no rtt=no"
			# "anon": read with recv(), the receiving socket is not told the sender
			[ "$anon" = anon ] && a=0.0.0.0:0
			echo "udp $b $a pid=$pid comm=tcptop-traffic in=$by out=0 pin=$dg pout=0 state=0 end=closed begun=no rtt=no"
		done <"$d/udp.out"
	} >"$exp"
	sed -E '/^tcp /{s/ pin=[1-9][0-9]* / pin=+ /; s/ pout=[1-9][0-9]* / pout=+ /}' "$d/flows.txt" \
		>"$BATS_TEST_TMPDIR/actual"
	# every expected row is there (the output lists those missing), and no stream error
	run grep -Fxv -f "$BATS_TEST_TMPDIR/actual" "$exp"
	[ "$status" -eq 1 ] || { echo "rows missing from $d/flows.txt:"; echo "$output"; false; }
	run -1 grep -F "error:" "$d/flows.txt"
}

# kernel_backend K B: backend B on kernel K is exact, or, where expected, not offered (69 with
# a message, no stream)
kernel_backend() {
	local k=$1 b=$2 d=$RES/$1/live-$2 short=50
	need_vm
	if not_offered "$k" "$b"; then
		ran "$k" "live-$b"
		assert_output 69
		run -0 grep -v -E '^tcptop-collect: [a-z-]+ left out: ' "$d/collect.err"
		assert_output --regexp "^tcptop-collect: backend $b unavailable: "
		[ "${#lines[@]}" -eq 1 ]
		[ ! -e "$d/tcp4.out" ]
		return 0
	fi
	[ "$b" = auto ] && short=200
	live_exact "$k" "live-$b" "$short"
	# the backend carries UDP; auto takes the first the kernel offers
	run -0 header_field "$k" backend "live-$b"
	case $b in
	auto) assert_output --regexp '(^| )udp=(tracepoint|fentry|kprobe)(\+cgroup)?( |$)' ;;
	*) assert_output --regexp "(^| )udp=$b(\+cgroup)?( |\$)" ;;
	esac
	left_out "$k" "live-$b"
}

# left_out K NAME: the collector's stderr is one line per feature it left out, and the header
# lists exactly those
left_out() {
	local d=$RES/$1/$2 f want=() got
	while read -r f; do want+=("$f"); done < <(sed -n 's/^tcptop-collect: \([a-z-]*\) left out: .*/\1/p' "$d/collect.err" | sort -u)
	run grep -v -E '^tcptop-collect: [a-z-]+ left out: ' "$d/collect.err"
	assert_output ""
	got=$(header_field "$1" missing "$2" | tr ' ' '\n' | sort -u | xargs)
	[ "$got" = "${want[*]+"${want[*]}"}" ] || { echo "header: missing=\"$got\", stderr: ${want[*]+"${want[*]}"}"; false; }
}

# privdrop K: under unprivileged_bpf_disabled=1 the collector dropped to 4242:4343 and records
# kept coming after the drop (all the scenario's traffic follows the first tick, after the drop)
privdrop() {
	local k=$1 d=$RES/$1/live-privdrop
	need_vm
	run -0 cat "$RES/$k/unprivileged_bpf_disabled"
	assert_output 1
	run -0 cat "$d/collect.err"
	assert_line --regexp "dropped privilege to .*: uid 4242 gid 4343, "
	# what -v says it keeps, for the matrix
	grep 'dropped privilege' "$d/collect.err" | sed "s/^/# $k: /" >&3
	run -0 stat -c %u:%g "$d/run.tcpt"
	assert_output 4242:4343
	live_exact "$k" live-privdrop 50
	run -0 grep -c '^tick' "$d/run.txt"
	[ "$output" -ge 3 ]
}

# kprobe_miss K: with the kprobe backend, 1100 receives in flight against the kretprobes' 1024
# instances: the returns the kernel missed count no datagram, and the collector says how many
# in kprobe_missed, so that what it counted and what it missed make the 1100 exactly
kprobe_miss() {
	local k=$1 d=$RES/$1/live-kprobe-miss what sender ports n bytes counted missed
	need_vm
	ran "$k" live-kprobe-miss
	assert_output 0
	read -r what sender ports n bytes <<<"$(grep '^udp ' "$d/blocked.out")"
	[ "$n" = datagrams=1100 ] && [ "$bytes" = bytes=100 ]
	run -0 tail -1 "$d/run.txt"
	assert_output --regexp '^end t='
	[[ "$(grep '^loss ' "$d/flows.txt")" =~ kprobe_missed=([0-9]+) ]] ||
		fail "no kprobe_missed in: $(grep '^loss ' "$d/flows.txt")"
	missed=${BASH_REMATCH[1]}
	# each receiving socket's flow from the sender: one datagram of 100 bytes, where counted
	counted=$(awk -v ports="${ports#ports=}" -v s="${sender#*:}" '
		BEGIN { n = split(ports, p, ","); for (i = 1; i <= n; i++) want["127.0.0.1:" p[i]] = 1 }
		$1 == "udp" && ($2 in want) && $3 == "127.0.0.1:" s && / in=100 out=0 pin=1 pout=0 / { c++ }
		END { print c + 0 }' "$d/flows.txt")
	# the sends return at once: every one counted
	run -0 grep -c "^udp $(re "$sender") 127\.0\.0\.1:[0-9]* .* in=0 out=100 pin=0 pout=1 " "$d/flows.txt"
	assert_output 1100
	echo "# $k: 1100 receives in flight: $counted counted, kprobe_missed=$missed" >&3
	[ "$missed" -gt 0 ] || fail "no miss: $counted of 1100 counted (the kretprobes keep 1024)"
	[ $((counted + missed)) -eq 1100 ] || fail "$counted counted + $missed missed is not 1100"
	run -1 grep -F "error:" "$d/flows.txt"
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

@test "run-vm: kernels come through apt with its own configuration, from the system's archive" {
	need_vm
	local cache=${TCPTOP_VM_CACHE:-/var/cache/tcptop-vm} host
	[ -w "$cache" ] || cache=${XDG_CACHE_HOME:-$HOME/.cache}/tcptop-vm
	run -0 cat "$cache/apt/apt.conf"
	assert_line "Dir::Etc::sourceparts \"-\";"
	assert_line "Dir::Etc::sourcelist \"$cache/apt/sources.list\";"
	assert_line "Dir::State::Lists \"$cache/apt/lists\";"
	run -0 cat "$cache/apt/sources.list"
	assert_line --regexp '^deb \[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg\] [a-z]+://[^ ]+ sid main$'
	# the archive's host is the system's, never one written in the project
	host=$(sed -n '1s,.*://\([^/ ]*\).*,\1,p' "$cache/apt/sources.list")
	[ -n "$host" ]
	run -0 grep -rqs -- "$host" /etc/apt
	run -1 grep -rl -- "$host" "$BATS_TEST_DIRNAME/vm"
}

@test "5.10 boots, and its VM's status comes back through run-vm" {
	need_vm
	booted 5.10
	run -0 cat "$RES/5.10.vm.out"
	assert_output --partial "status 3 after"
}
@test "5.10 auto: exact bytes, datagrams, pid, name, 200 short connections, begun" {
	kernel_backend 5.10 auto
}
@test "5.10 tracepoint: not offered (the send/recv tracepoints came in 6.3)" {
	kernel_backend 5.10 tracepoint
}
@test "5.10 fentry: exact (50 short connections)" {
	kernel_backend 5.10 fentry
}
@test "5.10 kprobe: exact (50 short connections)" {
	kernel_backend 5.10 kprobe
}
@test "5.10 unprivileged_bpf_disabled=1: records keep coming after the privilege drop" {
	privdrop 5.10
}

@test "6.1 boots, and its VM's status comes back through run-vm" {
	need_vm
	booted 6.1
}
@test "6.1 auto: exact bytes, datagrams, pid, name, 200 short connections, begun" {
	kernel_backend 6.1 auto
}
@test "6.1 tracepoint: not offered (the send/recv tracepoints came in 6.3)" {
	kernel_backend 6.1 tracepoint
}
@test "6.1 fentry: exact (50 short connections)" {
	kernel_backend 6.1 fentry
}
@test "6.1 kprobe: exact (50 short connections)" {
	kernel_backend 6.1 kprobe
}
@test "6.1 kprobe, 1100 receives in flight: what the kretprobes missed is kprobe_missed, and counted + missed = 1100" {
	kprobe_miss 6.1
}
@test "6.1 unprivileged_bpf_disabled=1: records keep coming after the privilege drop" {
	privdrop 6.1
}

@test "6.12 boots, and its VM's status comes back through run-vm" {
	need_vm
	booted 6.12
}
@test "6.12 auto: exact bytes, datagrams, pid, name, 200 short connections, begun" {
	kernel_backend 6.12 auto
}
@test "6.12 tracepoint: exact (50 short connections)" {
	kernel_backend 6.12 tracepoint
}
@test "6.12 fentry: exact (50 short connections)" {
	kernel_backend 6.12 fentry
}
@test "6.12 kprobe: exact (50 short connections)" {
	kernel_backend 6.12 kprobe
}

@test "7.2 boots, and its VM's status comes back through run-vm" {
	need_vm
	booted 7.2
}
@test "7.2 auto: exact bytes, datagrams, pid, name, 200 short connections, begun" {
	kernel_backend 7.2 auto
}
@test "7.2 tracepoint: exact (50 short connections)" {
	kernel_backend 7.2 tracepoint
}
@test "7.2 fentry: exact (50 short connections)" {
	kernel_backend 7.2 fentry
}
@test "7.2 kprobe: exact (50 short connections)" {
	kernel_backend 7.2 kprobe
}

# The table for README and the closing note: kernel, run, result, seconds, what auto chose and
# what the header says is missing. It fails only when no kernel booted.
@test "matrix: kernel, backend, result, time, missing features" {
	need_vm
	local k b d st secs res booted=0
	{
		echo "# fetch $(cat "$RES/fetch.secs") s, boots $(cat "$RES/boots.secs") s (${TCPTOP_VM_JOBS:-2} at a time)"
		printf '# %-5s %-10s %-22s %5s  %s\n' kernel run result secs "backend / missing"
		for k in $KERNELS; do
			[ "$(cat "$RES/$k.vm.status" 2>/dev/null)" = 3 ] && booted=$((booted + 1))
			printf '# %-5s %-10s %-22s %5s  %s\n' "$k" boot \
				"$(cat "$RES/$k/uname" 2>/dev/null || echo "failed")" \
				"$(cat "$RES/$k.vm.secs" 2>/dev/null)" \
				"$([ -e "$RES/$k.vm.first" ] && echo "booted twice, the first VM failed: $(grep -m1 '^run-vm: ' "$RES/$k.vm.first")")"
			for b in $BACKENDS kprobe-miss privdrop; do
				d=$RES/$k/live-$b
				[ -d "$d" ] || continue
				secs=$(awk -v n="live-$b" '$1 == n { print $3 }' "$RES/$k/steps" 2>/dev/null)
				st=$(cat "$d/collect.status" 2>/dev/null)
				case $st in
				0) res="ran (status 0)" ;;
				69) res="not offered (69)" ;;
				*) res="failed (${st:-no status})" ;;
				esac
				printf '# %-5s %-10s %-22s %5s  %s\n' "$k" "$b" "$res" "$secs" \
					"$( [ -r "$d/run.txt" ] && echo "$(header_field "$k" backend "live-$b") / missing: $(header_field "$k" missing "live-$b")" || head -1 "$d/collect.err")"
			done
		done
	} >&3
	[ "$booted" -gt 0 ]
}
