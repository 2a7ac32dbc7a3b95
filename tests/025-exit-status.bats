#!/usr/bin/env bats
# Exit statuses that the other files do not reach: out of memory is 71 (EX_OSERR) in every tool.

load test_helper/common

@test "tcptop-agg out of memory at start: 71 with a message, never a crash, whatever the limit" {
	printf '%s\n' 'header interval=1 host="h"' \
		'open t=1.0 flow=1 proto=tcp src=127.0.0.1:40000 dst=127.0.0.1:443 pid=100 comm="curl"' \
		'tick t=1.0' 'end t=1.0' | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	# below some limit the dynamic loader fails (127), above another everything fits (0);
	# the shell's own failures are left out (common.bash)
	run -0 oom_statuses tcptop-agg "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "71 "
	[[ "$output" =~ ^((0|71|127)\ )+$ ]] || fail "statuses under memory limits: $output"
}

@test "no tool defines its own exit constants or exits with a bare number" {
	cd "$TCPTOP_SRC"
	# (lib/ returns sizes such as 64, never statuses: library code never exits)
	run bash -c "grep -nE 'define EX_|(errx?|exit|_exit)\\((6[4-9]|7[0-8])\\b' \
		tcptop/*.c tcptop-*/*.c lib/*.c;
		grep -nE 'return (6[4-9]|7[0-8]);' tcptop/main.c tcptop-*/main.c"
	assert_output ""
}

@test "tcptop-csv --changes out of memory for its connections: 71 with a message, never a crash" {
	"$GEN" --bulk-snap 60000,2 -o "$BATS_TEST_TMPDIR/s.tcpt"
	run -0 oom_statuses tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" --changes
	assert_output --partial "71 "
	[[ "$output" =~ ^((0|71|127)\ )+$ ]] || fail "statuses under memory limits: $output"
	# the limits at which it ran out are ones where the full output fits: its memory of the
	# 60,000 connections is what ran out
	local kb lim= st
	for kb in $(seq 1000 100 16000); do
		st=0
		(ulimit -v "$kb" && exec tcptop-csv --changes "$BATS_TEST_TMPDIR/s.tcpt" \
			>/dev/null 2>&1) || st=$?
		[ "$st" != 71 ] || lim=$kb
	done
	[ -n "$lim" ] || fail "never 71"
	(ulimit -v "$lim" && exec tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >/dev/null) ||
		fail "without --changes it fails too at $lim kB"
}
