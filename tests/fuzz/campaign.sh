#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A fuzzing campaign: each target in turn (never two at once), TARGET=SECONDS pairs, then one
# line of figures per target for tests/fuzz/README.md. Run from the source tree after make fuzz:
#   nice -n 19 tests/fuzz/campaign.sh OUTPUT stream=720 agg=480 csv=600 view=600
set -u
out=$1
shift
log=$out/fuzz/campaign.log
: >"$log"
for spec in "$@"; do
	t=${spec%%=*} secs=${spec#*=}
	case $t in
	stream) seeds=$out/fuzz/seeds ;;
	agg) seeds=$out/fuzz/seeds-agg ;;
	dns) seeds=tests/fuzz/corpus/dns ;;
	merge) seeds=$out/fuzz/seeds-merge ;;
	*) seeds=$out/fuzz/seeds-snap ;;
	esac
	mkdir -p "$out/fuzz/corpus-$t" "tests/fuzz/crashes/$t"
	before=$(ls "tests/fuzz/crashes/$t" | wc -l)
	start=$(date +%s)
	"$out/fuzz/fuzz-$t" -max_total_time="$secs" -max_len=16384 -print_final_stats=1 \
		-report_slow_units=120 \
		-artifact_prefix="tests/fuzz/crashes/$t/" "$out/fuzz/corpus-$t" \
		"tests/fuzz/corpus/$t" "$seeds" >"$out/fuzz/campaign-$t.log" 2>&1
	status=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz/campaign-$t.log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$out/fuzz/campaign-$t.log" | tail -1)
	corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$out/fuzz/campaign-$t.log" | tail -1)
	found=$(($(ls "tests/fuzz/crashes/$t" | wc -l) - before))
	printf '%s execs=%s seconds=%s %s %s findings=%s status=%s\n' "$t" "${execs:-?}" \
		"$took" "$cov" "$corp" "$found" "$status" | tee -a "$log"
done
