#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# LIMIT: why a connection goes no faster. Each cause is made to happen on a path of two test
# namespaces joined by a delay line (tests/traffic/limitnet, tests/traffic/limits.py): the
# kernel's own report (ss -ti) must name it, interval by interval, and what the collector read
# of the connection must be what ss reads, field by field, once it is idle.

load test_helper/common

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	export LIMITNET="$BATS_TEST_DIRNAME/traffic/limitnet"
	export LIMITS="$BATS_TEST_DIRNAME/traffic/limits.py"
	export NS="tl$$"
	local out
	out=$("$LIMITNET" up "$NS" 2>"$BATS_FILE_TMPDIR/limitnet.err") || {
		echo "limitnet: $(cat "$BATS_FILE_TMPDIR/limitnet.err")" >"$BATS_FILE_TMPDIR/broken"
		"$LIMITNET" down "$NS"
		return 0
	}
	echo "${out#delayline }" >"$BATS_FILE_TMPDIR/delayline.pid"
}

teardown_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	bg_kill_all
	"$LIMITNET" down "$NS" "$(cat "$BATS_FILE_TMPDIR/delayline.pid" 2>/dev/null)"
}

setup() {
	skip_unless_root "network namespaces, TUN devices and qdiscs"
	need_tool ip iproute2
	need_tool tc iproute2
	need_tool python3 python3
	# the path is this machine's setup: one that cannot be made fails every test
	[ ! -f "$BATS_FILE_TMPDIR/broken" ] || fail "$(cat "$BATS_FILE_TMPDIR/broken")"
	T="$BATS_TEST_TMPDIR"
}

# wait_line FILE REGEX [TENTHS]: until a line of FILE matches (default 10 s).
wait_line() {
	local i
	for i in $(seq "${3:-100}"); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no line /$2/ in $1 after $((${3:-100} / 10)) s: $(cat "$1" 2>/dev/null)"
}

# ss_raw: the sender's connection as ss -ti sees it.
ss_raw() {
	ip netns exec "${NS}a" ss -tni state established src "$SRC" dst "$DST"
}

# scenario NAME SECONDS [LOSS%]: runs the scenario over the path; the sender's ss figures every
# second until it is idle go to $T/ss ("t_ms=... name=value..."); SRC and DST are its ends.
scenario() {
	local name=$1 secs=$2 port t0 now
	bg_start ip netns exec "${NS}b" python3 "$LIMITS" recv 0 --bind 198.51.100.1 \
		--scenario "$name" --slow-for "$secs" >"$T/recv"
	wait_line "$T/recv" '^listening'
	port=$(awk '/^listening/ { print $2 }' "$T/recv")
	[ -z "${3:-}" ] || "$LIMITNET" loss "$NS" "$port" "$3" || fail "no loss rule"
	collect "$port"
	bg_start ip netns exec "${NS}a" python3 "$LIMITS" send 198.51.100.1 "$port" \
		--scenario "$name" --seconds "$secs" >"$T/send"
	SENDER=$BG_PID
	wait_line "$T/send" '^conn'
	read -r _ SRC DST <"$T/send"
	FLOW=$(flow_of "$SRC" "$DST")
	# one sample a second (ss alone: parsed at the end), on the second since the start
	t0=${EPOCHREALTIME/./}
	: >"$T/ss.raw"
	for ((k = 0; ; k++)); do
		now=${EPOCHREALTIME/./}
		{ echo "@ $((now / 1000))"; ss_raw; } >>"$T/ss.raw"
		[ -n "${SENT_MS:-}" ] || ! grep -q '^sent' "$T/send" || SENT_MS=$((now / 1000))
		grep -q '^idle' "$T/send" && break
		[ "$k" -lt $((secs + 20)) ] || fail "the sender is not idle $((secs + 20)) s after it began"
		d=$((t0 + (k + 1) * 1000000 - ${EPOCHREALTIME/./}))
		[ "$d" -le 0 ] || sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
	done
	# the figures once idle: the clocks stand still; the collector samples them within a
	# period (0.5 s): wait for that, then read ss
	sleep 1.2
	{ echo "@ $((${EPOCHREALTIME/./} / 1000))"; ss_raw; } >>"$T/ss.raw"
	python3 "$LIMITS" ss <"$T/ss.raw" >"$T/ss"
	# the collector's last figures are those of this moment: it stops before the close
	if [ -n "${COLLECTOR:-}" ]; then
		kill -INT "$COLLECTOR"
		wait "$COLLECTOR" || fail "the collector failed: $(cat "$T/collect.err")"
	fi
	kill -USR1 "$SENDER"
	wait_line "$T/send" '^closed'
	if [ -n "${3:-}" ]; then ip netns exec "${NS}b" nft delete table inet limitnet; fi
}

# collect PORT: the collector records the TCP connections of PORT (the scenario's: the host
# may have many others), every 0.5 s, to $T/raw.tcpt.
collect() {
	bg_start tcptop-collect --tcp --port "$1" --interval 0.5 -o "$T/raw.tcpt" \
		2>"$T/collect.err"
	COLLECTOR=$BG_PID
	# its first pass walks every connection of the host: 18 s here beside another test's
	# two million
	for _ in $(seq 600); do
		tcptop-dump "$T/raw.tcpt" 2>/dev/null | grep -q '^tick' && return 0
		sleep 0.1
	done
	fail "the collector wrote no tick in 60 s: $(cat "$T/collect.err")"
}

# flow_of SRC DST: the flow id the collector gave the connection (waits for its open).
flow_of() {
	local f
	for _ in $(seq 50); do
		f=$(tcptop-dump "$T/raw.tcpt" 2>/dev/null | awk -v s="src=$1" -v d="dst=$2" \
			'$1 == "open" && index($0, " " s " ") && index($0, " " d " ") {
				for (i = 1; i <= NF; i++) if ($i ~ /^flow=/) { print substr($i, 6); exit }
			}')
		[ -n "$f" ] && echo "$f" && return 0
		sleep 0.1
	done
	fail "the collector never opened $1 -> $2: $(tcptop-dump "$T/raw.tcpt" 2>&1 | head -20)"
}

# expect_same_as_ss: the collector's last figures of the connection, idle, are ss's.
expect_same_as_ss() {
	local last
	last=$(tcptop-dump "$T/raw.tcpt" | grep -E "^(open|sample|close) .* flow=$FLOW " |
		grep ' busy=' | tail -1)
	[ -n "$last" ] || fail "no figures of flow $FLOW in the raw stream"
	run python3 "$LIMITS" same "$(tail -1 "$T/ss")" "$last"
	[ "$status" -eq 0 ] || fail "tcptop and ss differ: $output (ss: $(tail -1 "$T/ss"); tcptop: $last)"
	assert_output --regexp '^same 14$'
}

# pipeline: the recording through tcptop-agg (1 s intervals) and tcptop-csv --figures; the
# sender's rows ("EPOCH_MS LIMIT PCT busy rwnd sndbuf") in $T/rows.
pipeline() {
	tcptop-agg --interval 1 "$T/raw.tcpt" | tcptop-csv --figures >"$T/snap.csv" ||
		fail "the pipeline failed on the recording"
	python3 "$LIMITS" rows "$T/snap.csv" "$SRC" >"$T/rows"
	[ -s "$T/rows" ] || fail "no row of $SRC in the snapshots: $(head -3 "$T/snap.csv")"
}

# expect_limit NAME: the table's LIMIT of the sender, in every interval from its second to the
# end of the transfer, is NAME, all but one at most (one interval may straddle the start or
# the end); and its clocks agree with ss's within an interval at every second ss read them.
expect_limit() {
	local n good
	pipeline
	# the intervals while the sender wrote: from the second row to the first after the
	# second in which the test saw it had sent all
	awk -v end="$SENT_MS" 'NR > 1 && $1 <= end + 500' "$T/rows" >"$T/during"
	n=$(wc -l <"$T/during")
	good=$(awk -v l="$1" '$2 == l' "$T/during" | wc -l)
	[ "$n" -ge 3 ] && [ "$good" -ge $((n - 1)) ] ||
		fail "$good of $n intervals are $1 in the table: $(tr '\n' ';' <"$T/during")"
	run python3 "$LIMITS" near "$T/ss" "$T/snap.csv" "$SRC" 1050
	[ "$status" -eq 0 ] || fail "the table's clocks and ss's differ: $output"
}

# verdicts FIRST LAST: the verdict of each interval between the samples FIRST..LAST of $T/ss
# (1-based), by the rule of lib/limit.c: the largest of rwnd, sndbuf, cwnd (busy without a
# stall) and app (nothing to send); one a line, as "VERDICT rwnd% sndbuf% cwnd% app%".
verdicts() {
	sed -n "$1,$2p" "$T/ss" | awk '
	{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (NR > 1) {
			span = v["t_ms"] - t; busy = v["busy_ms"] - b
			rw = v["rwnd_ms"] - r; sb = v["sndbuf_ms"] - s
			if (busy > span) busy = span
			if (rw > busy) rw = busy
			if (sb > busy - rw) sb = busy - rw
			cw = busy - rw - sb; app = span - busy
			best = "rwnd"; m = rw
			if (sb > m) { best = "sndbuf"; m = sb }
			if (cw > m) { best = "cwnd"; m = cw }
			if (app > m) { best = "app"; m = app }
			printf "%s %d %d %d %d\n", best, 100 * rw / span, 100 * sb / span,
				100 * cw / span, 100 * app / span
		}
		t = v["t_ms"]; b = v["busy_ms"]; r = v["rwnd_ms"]; s = v["sndbuf_ms"]
	}'
}

# expect_verdict NAME: every interval from the second second to the end of the transfer is
# NAME, all but one at most (a second of slow start or of draining may straddle).
expect_verdict() {
	local last n good
	last=$(($(wc -l <"$T/ss") - 1))
	verdicts 2 "$last" >"$T/verdicts"
	n=$(wc -l <"$T/verdicts")
	good=$(grep -c "^$1 " "$T/verdicts")
	[ "$n" -ge 3 ] && [ "$good" -ge $((n - 1)) ] ||
		fail "$good of $n intervals are $1: $(tr '\n' ';' <"$T/verdicts") ss: $(cat "$T/ss")"
}

@test "a receiver that reads slowly through a small buffer holds the sender by its window (rwnd): ss -ti and the table say so each second; the figures equal ss's" {
	scenario rwnd 7
	expect_verdict rwnd
	expect_same_as_ss
	expect_limit rwnd
	grep -q '^received' "$T/recv" || wait_line "$T/recv" '^received'
}

@test "a 64 KiB send buffer on a 100 ms path holds the sender (sndbuf): ss -ti and the table say so each second; the figures equal ss's" {
	scenario sndbuf 7
	expect_verdict sndbuf
	expect_same_as_ss
	expect_limit sndbuf
}

@test "a writer of 2000 bytes every half second leaves the connection idle (app): ss -ti and the table say so each second; the figures equal ss's" {
	scenario app 7
	expect_verdict app
	expect_same_as_ss
	expect_limit app
}

@test "5% loss on the path keeps data in flight with retransmissions (cwnd): ss -ti and the table say so each second; the figures equal ss's" {
	need_tool nft nftables
	scenario cwnd 7 5
	expect_verdict cwnd
	expect_same_as_ss
	expect_limit cwnd
	last=$(grep ' cwnd=[0-9]' "$T/ss" | tail -1)
	[[ "$last" =~ \ retrans=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] ||
		fail "no retransmission: $last"
	[[ "$last" =~ \ ssthresh=([0-9]+) ]] || fail "no slow-start threshold set by a loss: $last"
}
