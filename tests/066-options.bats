#!/usr/bin/env bats
# One table of option ranges (lib/opts.c): every ranged option, at both ends and just past
# them, through the tool that owns it and through the wrapper. Out of range is 64 with the same
# one-line message from both, before any privilege check; in range goes on to the next check
# (a missing file: 66; no privilege: 77).

load test_helper/common

# unpriv CMD...: CMD without privilege (as nobody when we are root), so that an accepted value
# runs into the privilege check (77) instead of loading BPF.
unpriv() {
	if [ "$(id -u)" -eq 0 ]; then as_unpriv "$@"; else "$@"; fi
}

# ranges TOOL: "OPTION VALUE in|out" lines of TOOL's ranges; '' is the empty string.
ranges() {
	"$OUTPUT/tcptop-optdump" | awk -v t="$1" '$1 == t { print $2, $3, $4 }'
}

val() {
	if [ "$1" = "''" ]; then echo ""; else echo "$1"; fi
}

# expect OUT-OR-IN IN-STATUS PROGRAM CMD...: run CMD; out of range: 64 and one line,
# "PROGRAM: MESSAGE", MESSAGE kept in $msg; in range: IN-STATUS.
expect() {
	local want=$1 in_status=$2 prog=$3
	shift 3
	if [ "$want" = out ]; then
		run -64 "$@"
		[ "${#lines[@]}" -eq 1 ] || fail "more than one line: $output"
		[[ $output == "$prog: --"* ]] || fail "not a message of $prog: $output"
		msg=${output#"$prog: "}
	else
		run "-$in_status" "$@"
	fi
}

@test "the table covers every ranged option of the collector, the aggregator and the wrapper" {
	run -0 "$OUTPUT/tcptop-optdump"
	for o in interval duration udp-timeout max-flows pid port; do
		assert_line --regexp "^collect $o .* in$"
		assert_line --regexp "^collect $o .* out$"
	done
	for o in interval max-flows pid port speed process interface full-every; do
		assert_line --regexp "^agg $o .* in$"
		assert_line --regexp "^agg $o .* out$"
	done
}

@test "tcptop-agg and tcptop --replay: each range at both ends, the same status and message" {
	local n=0
	while read -r opt v want; do
		v=$(val "$v")
		expect "$want" 66 tcptop-agg tcptop-agg "--$opt" "$v" "$BATS_TEST_TMPDIR/none.tcpt"
		local agg_msg=${msg:-}
		# the wrapper's readers read delta snapshots: --full-every is for other readers of
		# tcptop-agg's stream, not a wrapper option
		if [ "$opt" = full-every ]; then
			n=$((n + 1))
			msg=
			continue
		fi
		expect "$want" 66 tcptop tcptop --replay "$BATS_TEST_TMPDIR/none.tcpt" --log - \
			"--$opt" "$v"
		[ "$want" = in ] || [ "$msg" = "$agg_msg" ] ||
			fail "--$opt $v: tcptop says '$msg', tcptop-agg '$agg_msg'"
		if [ "$opt" = process ] || [ "$opt" = interface ]; then
			# the aggregator's alone, live too: the wrapper checks them before privilege
			expect "$want" 77 tcptop unpriv "$OUTPUT/tcptop" --log - "--$opt" "$v"
			[ "$want" = in ] || [ "$msg" = "$agg_msg" ] ||
				fail "--$opt $v: tcptop (live) says '$msg', tcptop-agg '$agg_msg'"
		fi
		n=$((n + 1))
		msg=
	done < <(ranges agg)
	[ "$n" -ge 28 ]
}

@test "tcptop (live): each collector range at both ends, 64 before the privilege check (77)" {
	local n=0
	while read -r opt v want; do
		v=$(val "$v")
		expect "$want" 77 tcptop unpriv "$OUTPUT/tcptop" --log - "--$opt" "$v"
		if [ "$want" = out ]; then
			# the collector's own range, in its words (lib/opts.c)
			[[ $msg == "--$opt $v: too "*" ("*")" ]] || [[ $msg == "--$opt $v: invalid ("*")" ]] ||
				fail "--$opt $v: '$msg'"
		fi
		n=$((n + 1))
	done < <(ranges collect)
	[ "$n" -ge 24 ]
}

@test "tcptop-collect: each range at both ends, 64 before the privilege check, the wrapper's message" {
	# a missing tool, or a collector that checks its ranges its own way, is what this test is
	# for: a failure, never a skip
	[ -x "$OUTPUT/tcptop-collect" ] || fail "tcptop-collect is not built"
	while read -r opt v want; do
		v=$(val "$v")
		expect "$want" 77 tcptop-collect unpriv "$OUTPUT/tcptop-collect" "--$opt" "$v" \
			-o /dev/null
		local c_msg=${msg:-}
		expect "$want" 77 tcptop unpriv "$OUTPUT/tcptop" --log - "--$opt" "$v"
		[ "$want" = in ] || [ "$msg" = "$c_msg" ] ||
			fail "--$opt $v: tcptop says '$msg', tcptop-collect '$c_msg'"
		msg=
	done < <(ranges collect)
}

@test "tcptop-view and tcptop-prom (--closed, --max-series, --series-ttl): each range at both ends" {
	while read -r tool opt v want; do
		case $tool in
		view)
			# in range, the view goes on to look for a terminal (there is none: 64 too)
			run setsid -w tcptop-view "--$opt" "$v" </dev/null ;;
		prom)
			# in range, it reads the (empty) input and ends
			run tcptop-prom "--$opt" "$v" --textfile "$BATS_TEST_TMPDIR/t.prom" </dev/null ;;
		*) continue ;;
		esac
		if [ "$want" = out ]; then
			[ "$status" -eq 64 ] || fail "tcptop-$tool --$opt $v: status $status, not 64"
			[[ $output == "tcptop-$tool: --$opt $v: too "*" ("*")" ]] ||
				[[ $output == "tcptop-$tool: --$opt $v: invalid ("*")" ]] ||
				fail "tcptop-$tool --$opt $v: '$output'"
		else
			[[ $output != *"--$opt"* ]] || fail "tcptop-$tool --$opt $v refused: $output"
		fi
	done < <("$OUTPUT/tcptop-optdump" | awk '$1 == "view" || $1 == "prom"')
}
