#!/usr/bin/env bats
# The test runner itself: a file that hangs is stopped at its time limit, reported as failed by
# name, and the run goes on; nothing it started is left behind.

load test_helper/common

@test "tests/run: a file whose setup leaves a process holding the pipe fails by name, the run goes on" {
	cd "$TCPTOP_SRC"
	# the outer timeout only keeps this test from hanging the suite when the runner is broken;
	# 10 s leaves a loaded machine time to run the file that passes
	run -1 timeout 90 env TCPTOP_TEST_FILE_TIMEOUT=10 tests/run \
		tests/fixtures/runner/holds-pipe.bats tests/fixtures/runner/passes.bats
	assert_line 'FAILED: tests/fixtures/runner/holds-pipe.bats: timed out after 10 s (TCPTOP_TEST_FILE_TIMEOUT), killed'
	assert_line 'ok 1 runs after a file that hung'
	# the time limit, and the failed setup_file when bats got that far
	assert_line --regexp '^1 passed, [12] failed, 0 skipped$'
	# the holder went with the file
	run -1 pgrep -f 'sleep 1000.4242'
}

@test "tests/run: what a file leaves behind in its process group is killed when it ends" {
	cd "$TCPTOP_SRC"
	f=$BATS_TEST_TMPDIR/leaves.bats
	# started with 3>&- so bats itself ends; the runner's pipe is still held through stdout
	printf '@test "leaves a child" {\n\tsleep 1000.4343 3>&- &\n}\n' >"$f"
	run -0 timeout 60 env TCPTOP_TEST_FILE_TIMEOUT=30 tests/run "$f"
	assert_line '1 passed, 0 failed, 0 skipped'
	run -1 pgrep -f 'sleep 1000.4343'
}

@test "tests/run: a bad time limit is a usage error" {
	cd "$TCPTOP_SRC"
	run -64 env TCPTOP_TEST_FILE_TIMEOUT=soon tests/run tests/fixtures/runner/passes.bats
	assert_output --partial 'a whole number of seconds'
}

@test "bg_start and bg_kill_all: a tracked process and its children end at teardown" {
	bg_start bash -c 'sleep 1000.4646 & sleep 1000.4747; wait'
	sleep 0.3
	run -0 pgrep -f 'sleep 1000.4646'
	bg_kill_all
	run -1 pgrep -f 'sleep 1000.4646'
	run -1 pgrep -f 'sleep 1000.4747'
	run -1 kill -0 "$BG_PID"
}
