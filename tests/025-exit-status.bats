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

# ---- the contracts of lib/contract.c and lib/stream.c, walked across every tool ----

TOOLS="tcptop-collect tcptop-agg tcptop-view tcptop-prom tcptop-csv tcptop"

# contract_exits TOOL: the statuses the contract gives TOOL, sorted
contract_exits() {
	tcptop-contract | awk -v t="$1" '$1 == "exit" && $2 == t { print $3 }' | sort
}

@test "each tool's --help lists exactly the exit statuses the contract gives it" {
	local t want got
	for t in $TOOLS; do
		want=$(contract_exits "$t")
		got=$("$t" --help | awk '/^Exit status/ { on = 1; next }
			on && /^  128\+N/ { print "128+N"; next }
			on && /^  [0-9]/ { print $1; next }
			on { on = 0 }' | sort)
		[ -n "$want" ] || fail "the contract gives $t no status"
		[ "$want" = "$got" ] || fail "$t --help lists '$(echo $got)', the contract '$(echo $want)'"
	done
}

@test "each man page's EXIT STATUS lists exactly what its tool's --help lists" {
	local t
	for t in $TOOLS; do
		exit_statuses_agree "$t" "$t.1"
	done
}

@test "tcptop-stream(5) names every record kind, loss code and missing-feature word of the contract" {
	local kind name
	while read -r kind a b c; do
		case $kind in
		record) name=$b ;;
		loss) name=$b ;;
		feature) name=$a ;;
		*) continue ;;
		esac
		grep -qF -- "$name" "$TCPTOP_SRC/man/tcptop-stream.5" ||
			grep -qF -- "${name//_/\\_}" "$TCPTOP_SRC/man/tcptop-stream.5" ||
			grep -qF -- "${name//-/\\-}" "$TCPTOP_SRC/man/tcptop-stream.5" ||
			fail "tcptop-stream(5) does not name the $kind $name"
	done < <(tcptop-contract)
}

@test "tcptop-csv has a loss column for every loss code, in the contract's order" {
	printf '%s\n' 'header interval=1 host="h"' 'tick t=1.0' 'tick t=2.0' 'end t=2.0' |
		"$GEN" | tcptop-agg | tcptop-csv >"$BATS_TEST_TMPDIR/h.csv"
	local want got
	want=$(tcptop-contract | awk '$1 == "loss" { print "loss_" $3 }')
	got=$(head -n 1 "$BATS_TEST_TMPDIR/h.csv" | tr ',' '\n' | grep '^loss_')
	[ "$want" = "$got" ] || fail "CSV loss columns '$(echo $got)', the contract '$(echo $want)'"
}

@test "a collector's missing list uses the contract's words only" {
	skip_unless_bpf
	local words
	words=$(tcptop-contract | awk '$1 == "feature" { print $2 }')
	run -0 timeout 20 tcptop-collect --duration 0.5 -o "$BATS_TEST_TMPDIR/r.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/r.tcpt"
	local m w
	m=$(sed -n 's/.*missing="\([^"]*\)".*/\1/p' <<<"$output" | head -n 1)
	for w in $m; do
		grep -qx -- "$w" <<<"$words" || fail "the collector wrote '$w', not a contract word"
	done
}

@test "tcptop-stream(5)'s missing-feature words are the contract's, no other" {
	local want got
	want=$(tcptop-contract | awk '$1 == "feature" { print $2 }' | sort)
	got=$(sed -n '/^\.B 9 missing$/,/^\.RE$/p' "$TCPTOP_SRC/man/tcptop-stream.5" |
		sed -n 's/^\.B \([a-z\\-]*\)$/\1/p' | sed 's/\\-/-/g' | sort)
	[ "$want" = "$got" ] || fail "tcptop-stream(5) lists '$(echo $got)', the contract '$(echo $want)'"
}

@test "tcptop-csv --help lists the columns of its header, each once, in order" {
	printf '%s\n' 'header interval=1 host="h"' 'tick t=1.0' 'tick t=2.0' 'end t=2.0' |
		"$GEN" | tcptop-agg |
		tcptop-csv --figures --resolve --dns-server 127.0.0.1:9 >"$BATS_TEST_TMPDIR/h.csv"
	local want got
	want=$(head -n 1 "$BATS_TEST_TMPDIR/h.csv" | tr -d '\r' | tr ',' '\n')
	# the list: from the line after the one that ends the title with "):" to "Empty"
	got=$(tcptop-csv --help | sed -n '/^Columns/,/^Empty/p' | sed '1,/):$/d;$d' |
		tr -d ' \n' | tr ',' '\n')
	[ "$want" = "$got" ] || fail "--help and the header differ:
$(diff <(echo "$want") <(echo "$got"))"
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
