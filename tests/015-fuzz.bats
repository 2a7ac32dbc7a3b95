#!/usr/bin/env bats
# Regression: the fuzz target replays its seed corpus and every saved crash input.

load test_helper/common

@test "fuzz target replays the seeds and saved crashes without a fault" {
	[ -x "$OUTPUT/fuzz/fuzz-stream" ] || fail "fuzz target not built (make fuzz)"
	shopt -s nullglob
	inputs=("$OUTPUT"/fuzz/seeds/*.tcpt "$BATS_TEST_DIRNAME"/fuzz/crashes/*)
	[ "${#inputs[@]}" -ge 5 ]
	run -0 "$OUTPUT/fuzz/fuzz-stream" -runs=1 "${inputs[@]}"
	[ "$(grep -c '^Executed ' <<<"$output")" -eq "${#inputs[@]}" ]
}
