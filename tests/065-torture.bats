#!/usr/bin/env bats
# A sample of the torture trials (make torture runs them all, tests/torture/README.md has the
# figures): SIGINTs at random moments to tcptop --replay --log, each signal once to the table.

load test_helper/common

setup() {
	export TORTURE_DIR=$BATS_TEST_TMPDIR TORTURE_CONNS=300 TORTURE_INTERVALS=300
}

@test "20 SIGINTs at random moments to tcptop --replay --log: every CSV ends with a whole snapshot" {
	run -0 "$BATS_TEST_DIRNAME/torture/torture.sh" replay 20
	assert_output --partial "replay: 20 runs"
	assert_output --partial "torture: 0 failed"
}

@test "INT, TERM, HUP, QUIT, ABRT, SEGV, TSTP+CONT, PIPE to the table in tmux: the terminal as it was" {
	need_tool tmux tmux
	run -0 "$BATS_TEST_DIRNAME/torture/torture.sh" table 1
	assert_output --partial "table: 8 of 8 signals left the terminal as it was"
}
