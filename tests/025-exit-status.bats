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

@test "a delta stream cut inside a record or corrupt: 65 from every reader, the offset in one line" {
	"$GEN" -o "$BATS_TEST_TMPDIR/raw.tcpt" "$BATS_TEST_DIRNAME/fixtures/agg/basic.txt"
	tcptop-agg "$BATS_TEST_TMPDIR/raw.tcpt" >"$BATS_TEST_TMPDIR/d.tcps"
	local off
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/d.tcps" | grep -m1 '^@[0-9]* drow ' | sed 's/^@\([0-9]*\) .*/\1/')
	[ -n "$off" ]
	head -c $((off + 30)) "$BATS_TEST_TMPDIR/d.tcps" >"$BATS_TEST_TMPDIR/cut.tcps"
	{ head -c $((off + 4)) "$BATS_TEST_TMPDIR/d.tcps"; printf '\010\0\0\0'; tail -c +$((off + 9)) "$BATS_TEST_TMPDIR/d.tcps"; } \
		>"$BATS_TEST_TMPDIR/bad.tcps"
	for f in cut bad; do
		run -65 --separate-stderr tcptop-csv -o "$BATS_TEST_TMPDIR/o.csv" "$BATS_TEST_TMPDIR/$f.tcps"
		assert_equal "$(grep -c "at byte $off" <<<"$stderr")" 1
		run -65 --separate-stderr tcptop-prom --textfile "$BATS_TEST_TMPDIR/o.prom" "$BATS_TEST_TMPDIR/$f.tcps"
		assert_equal "$(grep -c "at byte $off" <<<"$stderr")" 1
		run -65 --separate-stderr tcptop-dump --table "$BATS_TEST_TMPDIR/$f.tcps"
		assert_equal "$(grep -c "at byte $off" <<<"$stderr")" 1
		# what came before it is out: the first snapshot, whole
		run -0 grep -c '^snapend seq=1$' <<<"$output"
	done
}
