# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by every bats file: assertions, paths, and skips that say why.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${OUTPUT:=$BATS_TEST_DIRNAME/../.output}"
export PATH="$OUTPUT:$PATH"
GEN="$OUTPUT/tcptop-gen"

# skip_unless_root [WHY]: WHY says what root is needed for (default: live eBPF).
skip_unless_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (${1:-live eBPF})"
}

# BPF is usable when we are root and the kernel has BTF.
skip_unless_bpf() {
	skip_unless_root
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
}

# need_tool CMD PACKAGE: CMD is one of the project's dependencies (make deps installs PACKAGE):
# its absence is a failure of the machine's setup, never a skip that hides the test.
need_tool() {
	command -v "$1" >/dev/null || fail "$1 is missing (package $2: make deps installs it)"
}

# kernel_has_send_tracepoints: the kernel has the sock_send_length/sock_recv_length tracepoints
# (6.3+), with which the collector activates connections and names unconnected UDP peers: where
# it has them, a collector without activation or peers is a regression, not a reason to skip.
kernel_has_send_tracepoints() {
	grep -q 'btf_trace_sock_send_length' <(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null)
}

# A user without privilege, for the "exit 77" and privilege-drop tests.
unpriv_user() {
	if id nobody >/dev/null 2>&1; then echo nobody; else echo 65534; fi
}

# as_unpriv CMD...: run CMD as nobody (numeric ids: Debian's group is nogroup), no capabilities.
as_unpriv() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"
}

# gen SCRIPT-TEXT [GEN-OPTIONS] > stream: the generator reading its script from stdin.
gen() {
	"$GEN" "$@"
}

# ---- background processes: whatever a test starts, its teardown ends ----
# bg_start CMD...: start CMD in the background, its fd 3 closed (bats waits for fd 3 to close),
# and record its pid; BG_PID is set to it. bg_track PID...: record processes started otherwise.
# bg_kill_all (called by the default teardown and teardown_file below; call it from your own
# if a file defines them) sends TERM to each recorded process and its children, then KILL to
# what is left after 2 s. Pids started in setup_file are kept for teardown_file.
bg_pidfile() {
	if [ -n "${BATS_TEST_TMPDIR:-}" ] && [ -d "$BATS_TEST_TMPDIR" ]; then
		echo "$BATS_TEST_TMPDIR/.bg-pids"
	else
		echo "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/.bg-pids"
	fi
}

bg_track() {
	local p
	for p; do echo "$p" >>"$(bg_pidfile)"; done
}

bg_start() {
	"$@" 3>&- &
	BG_PID=$!
	bg_track "$BG_PID"
}

# The process and its descendants, deepest first.
bg_tree() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do bg_tree "$c"; done
	echo "$1"
}

bg_kill_all() {
	local f p pids=() i
	f=$(bg_pidfile)
	[ -f "$f" ] || return 0
	while read -r p; do
		[ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=($(bg_tree "$p"))
	done <"$f"
	rm -f "$f"
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null
	for i in $(seq 20); do
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && break; done || return 0
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null
	return 0
}

teardown() {
	bg_kill_all
}

teardown_file() {
	bg_kill_all
}

# start_dns [--silent] [--bind ADDR:PORT] [ADDR=NAME ...]: tests/dns/dns-server.py on loopback, ended by the
# teardown; DNS_PORT is its port, $BATS_TEST_TMPDIR/dns.port.log the questions it was asked.
start_dns() {
	rm -f "$BATS_TEST_TMPDIR/dns.port" "$BATS_TEST_TMPDIR/dns.port.log"
	bg_start python3 "$BATS_TEST_DIRNAME/dns/dns-server.py" "$BATS_TEST_TMPDIR/dns.port" "$@"
	for _ in $(seq 200); do [ -s "$BATS_TEST_TMPDIR/dns.port" ] && break; sleep 0.05; done
	[ -s "$BATS_TEST_TMPDIR/dns.port" ] || fail "the DNS test server did not start"
	DNS_PORT=$(cat "$BATS_TEST_TMPDIR/dns.port")
}

# Tests that become nobody with setpriv (as_unpriv): only root may switch users.
skip_unless_setpriv() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: setpriv cannot become nobody (uid 65534) otherwise"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
}

# shared_dir MODE: a fresh folder under /tmp whose path every user can reach (the test's own
# folder is 0700: nobody could not enter it whatever the mode below it); prints its path.
shared_dir() {
	local d
	d=$(mktemp -d /tmp/tcptop-test.XXXXXX) && chmod "$1" "$d" && echo "$d"
}

# oom_statuses TOOL INPUT [OPTION...]: the exit statuses of TOOL OPTION... INPUT under
# address-space limits from 1 MB to 16 MB, each once, space separated ("71-nomsg" for a 71
# without TOOL's out-of-memory message). Under the tightest limits the subshell's bash itself
# may fail to allocate before it execs the tool (status 2, bash's "xmalloc: cannot allocate"):
# that limit never reached the tool, and is left out.
oom_statuses() {
	local tool=$1 in=$2 kb st d=$BATS_TEST_TMPDIR/oom
	shift 2
	for kb in $(seq 1000 100 16000); do
		(ulimit -v "$kb" && exec "$tool" "$@" "$in" >/dev/null 2>"$d.err") 2>"$d.sh"
		st=$?
		if [ "$st" = 2 ] && grep -q 'xmalloc: cannot allocate' "$d.sh"; then
			continue
		fi
		[ "$st" = 71 ] && ! grep -q "$tool: out of memory" "$d.err" && st=71-nomsg
		echo "$st"
	done | sort -u | tr '\n' ' '
}

# exit_statuses_agree TOOL PAGE: TOOL --help prints its part of the exit status table
# (exit_help of lib/contract.c) and man/PAGE's EXIT STATUS lists exactly those codes, in
# that order, and points at tcptop(1)'s Stops paragraph; fails saying how they differ.
exit_statuses_agree() {
	local help page
	help=$("$OUTPUT/$1" --help | sed -n '/^Exit status (tcptop(1) EXIT STATUS):$/,/^[^ ]/p' |
		sed -n -e 's/^  \(128+N\):.*/\1/p' -e 's/^  \([0-9][0-9]*\) .*/\1/p')
	page=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$TCPTOP_SRC/man/$2" |
		awk '/^\.TP/ { getline; print }' |
		sed -e 's/^\.BR* //' -e 's/ \\fIN\\fR/N/' -e 's/ .*//')
	[ -n "$help" ] || fail "$1 --help has no exit status lines"
	[ "$help" = "$page" ] || fail "$1 --help (left) and $2 EXIT STATUS (right) differ:
$(diff <(echo "$help") <(echo "$page"))"
	sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$TCPTOP_SRC/man/$2" | grep -q '^\.B Stops$' ||
		fail "$2 EXIT STATUS does not refer to tcptop(1) Stops"
}

# kill_tagged TAG: every process whose command line holds "tcptop.tag=TAG " (a qemu started by
# run-vm or run-system, found by the tag on its kernel command line when its runner was killed)
kill_tagged() {
	local p
	[ -n "$1" ] || return 0
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "tcptop.tag=$1 " &&
			kill "${p#/proc/}" 2>/dev/null
	done
	return 0
}
