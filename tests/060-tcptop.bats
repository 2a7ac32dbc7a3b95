#!/usr/bin/env bats
# The wrapper: options, refusals before anything starts, replay; live end to end as root.

load test_helper/common

# A raw stream with two TCP connections and a UDP flow over three intervals.
raw_script() {
	cat <<'S'
header interval=1 host="replayhost"
ifname if=1 name=lo
open t=1.0 flow=1 proto=tcp src=127.0.0.1:40000 dst=127.0.0.1:443 pid=100 comm="curl"
open t=1.0 flow=2 proto=tcp src=[::1]:40001 dst=[::1]:8080 pid=200 comm="wget"
open t=1.0 flow=3 proto=udp src=127.0.0.1:5353 dst=127.0.0.1:53 pid=300 comm="resolver"
tick t=1.0
sample t=2.0 flow=1 in=1000 out=100 pin=2 pout=1
sample t=2.0 flow=2 in=5000 out=50 pin=5 pout=1
sample t=2.0 flow=3 in=64 out=32 pin=1 pout=1
tick t=2.0
sample t=3.0 flow=1 in=3000 out=300 pin=4 pout=2
close t=3.0 flow=2 in=6000 out=60 pin=6 pout=2
tick t=3.0
sample t=4.0 flow=1 in=4000 out=400 pin=5 pout=3
tick t=4.0
end t=4.0
S
}

@test "--help lists every option and the exit statuses" {
	run -0 tcptop --help
	for o in --port --pid --process --interface --tcp --udp --interval --log --record \
		--replay --speed --udp-timeout --max-flows --backend --duration --verbose --help \
		--version; do
		assert_output --partial -- "$o"
	done
	assert_output --partial "Exit status"
}

@test "bad options: usage on stderr, 64" {
	run -64 tcptop --bogus
	assert_output --partial "usage: tcptop"
	run -64 tcptop --interval 0
	assert_output --partial "--interval 0: too small"
	run -64 tcptop --interval -1
	assert_output --partial "--interval -1: invalid"
	run -64 tcptop --port 70000
	run -64 tcptop --pid abc
	run -64 tcptop --replay x.tcpt --record y.tcpt
	run -64 tcptop --speed 2
	run -64 tcptop extra-argument
}

@test "live without privilege: 77 with one line, before anything starts" {
	cd /
	run -77 as_unpriv "$OUTPUT/tcptop" --log "$BATS_TEST_TMPDIR/never.csv"
	assert_output --partial "needs root or CAP_BPF and CAP_PERFMON"
	[ "${#lines[@]}" -eq 1 ]
	[ ! -e "$BATS_TEST_TMPDIR/never.csv" ]
}

@test "replay file missing: 66; unwritable log or record: 73" {
	run -66 tcptop --replay "$BATS_TEST_TMPDIR/none.tcpt" --log -
	raw_script | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	run -73 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log "$BATS_TEST_TMPDIR/no/such/dir.csv"
	assert_output --partial "cannot create log file"
}

# A copy of the wrapper beside stand-in stages that only leave a mark: it runs the tools found
# next to itself, so this shows which stages were started.
fake_pipeline() {
	fake=$BATS_TEST_TMPDIR/fake
	mkdir -p "$fake"
	cp "$OUTPUT/tcptop" "$fake/"
	for t in tcptop-collect tcptop-agg tcptop-view tcptop-csv; do
		printf '#!/bin/sh\ntouch "%s/started-%s"\n' "$fake" "$t" >"$fake/$t"
		chmod +x "$fake/$t"
	done
}

@test "live: an unwritable --log or --record is refused (73) before the collector starts" {
	skip_unless_root
	fake_pipeline
	run -73 "$fake/tcptop" --log /proc/tcptop-cannot.csv
	assert_output --partial "cannot create log file /proc/tcptop-cannot.csv"
	run -73 "$fake/tcptop" --log - --record "$BATS_TEST_TMPDIR/no/dir.tcpt"
	assert_output --partial "cannot create record file"
	run ! ls "$fake"/started-*
}

@test "live: the stages start, and the one that fails gives the status" {
	skip_unless_root
	fake_pipeline
	printf '#!/bin/sh\necho "tcptop-collect: no usable hook" >&2\nexit 69\n' >"$fake/tcptop-collect"
	run -69 "$fake/tcptop" --log "$BATS_TEST_TMPDIR/x.csv"
	assert_output --partial "no usable hook"
}

@test "the table without a terminal: refused with a hint" {
	raw_script | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	run -64 setsid -w tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" </dev/null
	assert_output --partial "use --log"
}

@test "replay --log gives the same CSV as the pipeline by hand, twice identical" {
	raw_script | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	run -0 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log "$BATS_TEST_TMPDIR/a.csv"
	run -0 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log "$BATS_TEST_TMPDIR/b.csv"
	tcptop-agg "$BATS_TEST_TMPDIR/r.tcpt" | tcptop-csv >"$BATS_TEST_TMPDIR/manual.csv"
	cmp "$BATS_TEST_TMPDIR/a.csv" "$BATS_TEST_TMPDIR/b.csv"
	cmp "$BATS_TEST_TMPDIR/a.csv" "$BATS_TEST_TMPDIR/manual.csv"
	run -0 python3 - "$BATS_TEST_TMPDIR/a.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
last = {}
for r in rows:
    last[(r['process_name'], r['remote_port'])] = r
assert last[('curl', '443')]['bytes_in'] == '4000', last
assert last[('wget', '8080')]['bytes_in'] == '6000', last
assert last[('resolver', '53')]['bytes_out'] == '32', last
print(len(rows))
PY
}

@test "replay with filters: --tcp, --udp, --port, --pid, --process" {
	raw_script | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	count() { tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log - "$@" |
		python3 -c 'import csv,sys; print(sorted({r["process_name"] for r in csv.DictReader(sys.stdin)}))'; }
	run -0 count --tcp
	assert_output "['curl', 'wget']"
	run -0 count --udp
	assert_output "['resolver']"
	run -0 count --tcp --udp
	assert_output "['curl', 'resolver', 'wget']"
	run -0 count --port 443
	assert_output "['curl']"
	run -0 count --pid 200
	assert_output "['wget']"
	run -0 count --process esol
	assert_output "['resolver']"
}

@test "a corrupt recording: the first failing stage's status (65) and its message" {
	raw_script | "$GEN" --corrupt-trailer 5 >"$BATS_TEST_TMPDIR/bad.tcpt"
	run -65 tcptop --replay "$BATS_TEST_TMPDIR/bad.tcpt" --log "$BATS_TEST_TMPDIR/bad.csv"
	assert_output --partial "record trailer at byte"
}

@test "replay works for an unprivileged user" {
	shared=$(mktemp -d /tmp/tcptop-test.XXXXXX)
	chmod 1777 "$shared"
	raw_script | "$GEN" >"$shared/r.tcpt"
	chmod 644 "$shared/r.tcpt"
	run -0 as_unpriv "$OUTPUT/tcptop" --replay "$shared/r.tcpt" --log "$shared/u.csv"
	size=$(stat -c %s "$shared/u.csv")
	owner=$(stat -c %u "$shared/u.csv")
	rm -rf "$shared"
	[ "$size" -gt 0 ]
	[ "$owner" = 65534 ]
}
