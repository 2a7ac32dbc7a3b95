#!/usr/bin/env bats
# Regression: each fuzz target (stream, dns, agg, merge, csv, view) replays its seeds, its
# committed corpus and every crash input saved for it, under ASan and UBSan, without a fault.

load test_helper/common

# replay TARGET SEED-DIR: every input once; each must be executed, none may fault.
replay() {
	local t=$1 seeds=$2 fz="$OUTPUT/fuzz/fuzz-$1"
	[ -x "$fz" ] || fail "fuzz target $t not built (make fuzz)"
	shopt -s nullglob
	inputs=("$seeds"/*.tcp[ts] "$BATS_TEST_DIRNAME/fuzz/corpus/$t"/*
		"$BATS_TEST_DIRNAME/fuzz/crashes/$t"/*)
	[ "${#inputs[@]}" -ge 5 ] || fail "only ${#inputs[@]} inputs for $t (make fuzz builds the seeds)"
	run -0 "$fz" -runs=1 "${inputs[@]}"
	[ "$(grep -c '^Executed ' <<<"$output")" -eq "${#inputs[@]}" ]
}

@test "fuzz-stream replays its seeds, corpus and saved crashes without a fault" {
	replay stream "$OUTPUT/fuzz/seeds"
}

@test "fuzz-dns replays its committed replies and saved crashes without a fault" {
	replay dns "$BATS_TEST_DIRNAME/fuzz/corpus/dns"
}

@test "fuzz-agg replays its seeds, corpus and saved crashes without a fault" {
	replay agg "$OUTPUT/fuzz/seeds-agg"
}

@test "fuzz-merge (tcptop-agg --merge, several inputs) replays its seeds, corpus and saved crashes without a fault" {
	replay merge "$OUTPUT/fuzz/seeds-merge"
}

@test "fuzz-csv replays its seeds, corpus and saved crashes without a fault" {
	replay csv "$OUTPUT/fuzz/seeds-snap"
}

@test "fuzz-view replays its seeds, corpus and saved crashes without a fault" {
	replay view "$OUTPUT/fuzz/seeds-snap"
}

@test "the view's saved crash (a NaN rate, units[-1] in fmt_bytes) stays in the replay set" {
	# found by fuzz-view: fmt_bytes() indexed units[-1] for a NaN rate read from the input
	shopt -s nullglob
	crashes=("$BATS_TEST_DIRNAME"/fuzz/crashes/view/crash-*)
	[ "${#crashes[@]}" -ge 1 ]
}
