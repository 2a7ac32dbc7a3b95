#!/usr/bin/env bats
# The wrapper under sudo: stages run as the invoking user with nothing left of root's rights,
# output files are opened as that user, the record tee sees a closed table, and only the first
# failing stage speaks. Stand-in collectors and replays: no BPF needed.

load test_helper/common

# A raw stream of 100 connections over 300 intervals (about 2 MB: far more than a pipe holds).
big_stream() {
	python3 -c '
print("header interval=1 host=\"h\"")
print("ifname if=1 name=lo")
for f in range(1, 101):
    print("open t=1.0 flow=%d proto=tcp src=127.0.0.1:%d dst=127.0.0.1:443 pid=100 comm=\"curl\"" % (f, 10000 + f))
for s in range(2, 302):
    for f in range(1, 101):
        print("sample t=%d.0 flow=%d in=%d out=%d pin=%d pout=%d" % (s, f, s * 1000, s * 100, s, s))
    print("tick t=%d.0" % s)
print("end t=302.0")' | "$GEN"
}

small_stream() {
	printf '%s\n' 'header interval=1 host="h"' \
		'open t=1.0 flow=1 proto=tcp src=127.0.0.1:40000 dst=127.0.0.1:443 pid=100 comm="curl"' \
		'tick t=1.0' 'sample t=2.0 flow=1 in=1000 out=100 pin=2 pout=1' 'tick t=2.0' \
		'end t=2.0' | "$GEN"
}

# A directory every user may write in (sticky, like /tmp), holding a root-owned 0644 file and
# a symbolic link to it. $shared, $victim, $link.
shared_dir() {
	shared=$(mktemp -d /tmp/tcptop-test.XXXXXX)
	chmod 1777 "$shared"
	victim=$shared/root-owned
	link=$shared/link
	printf 'precious\n' >"$victim"
	chmod 0644 "$victim"
	ln -s "$victim" "$link"
	cp "$victim" "$BATS_TEST_TMPDIR/victim.orig"
}

teardown() {
	bg_kill_all
	[ -z "${shared:-}" ] || rm -rf "$shared"
}

# A copy of the wrapper in a directory of its own, with the real tools beside it; the caller
# replaces some of them by stand-ins. $fake.
fake_dir() {
	fake=${shared:-$BATS_TEST_TMPDIR}/fake
	mkdir -p "$fake"
	chmod 755 "$fake"
	cp "$OUTPUT/tcptop" "$fake/"
	for t in tcptop-collect tcptop-agg tcptop-view tcptop-csv; do
		ln -sf "$OUTPUT/$t" "$fake/$t"
	done
}

# stand_in TOOL SCRIPT: replace TOOL by a shell script.
stand_in() {
	rm -f "$fake/$1"
	printf '#!/bin/sh\n%s\n' "$2" >"$fake/$1"
	chmod 755 "$fake/$1"
}

sudo_as_nobody() {
	SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody "$@"
}

@test "under sudo: --log at a root-owned file, or at a symlink to one, is refused (73) and left byte-identical" {
	skip_unless_root "to run the wrapper as sudo does"
	shared_dir
	small_stream >"$shared/r.tcpt"
	chmod 644 "$shared/r.tcpt"
	run -73 sudo_as_nobody tcptop --replay "$shared/r.tcpt" --log "$victim"
	assert_output --partial "cannot create log file $victim: Permission denied"
	cmp "$victim" "$BATS_TEST_TMPDIR/victim.orig"
	run -73 sudo_as_nobody tcptop --replay "$shared/r.tcpt" --log "$link"
	assert_output --partial "cannot create log file $link: a symbolic link"
	cmp "$victim" "$BATS_TEST_TMPDIR/victim.orig"
	[ "$(stat -c %u "$victim")" = 0 ]
	# and a new file is the user's
	run -0 sudo_as_nobody tcptop --replay "$shared/r.tcpt" --log "$shared/new.csv"
	[ "$(stat -c %u:%g "$shared/new.csv")" = 65534:65534 ]
}

@test "under sudo: --record at a root-owned file, or at a symlink to one, is refused (73) and left byte-identical" {
	skip_unless_root "to run the wrapper as sudo does"
	shared_dir
	fake_dir
	small_stream >"$shared/r.tcpt"
	stand_in tcptop-collect "exec cat '$shared/r.tcpt'"
	for target in "$victim" "$link"; do
		run -73 sudo_as_nobody "$fake/tcptop" --log - --record "$target"
		assert_output --partial "cannot create record file $target"
		cmp "$victim" "$BATS_TEST_TMPDIR/victim.orig"
	done
	run -0 sudo_as_nobody "$fake/tcptop" --log "$shared/o.csv" --record "$shared/new.tcpt"
	[ "$(stat -c %u:%g "$shared/new.tcpt")" = 65534:65534 ]
	cmp "$shared/r.tcpt" "$shared/new.tcpt"
}

@test "tcptop-csv -o: a symbolic link is refused (73), the file it points to untouched" {
	small_stream | tcptop-agg >"$BATS_TEST_TMPDIR/s.tcpt"
	printf 'keep\n' >"$BATS_TEST_TMPDIR/target.csv"
	ln -s "$BATS_TEST_TMPDIR/target.csv" "$BATS_TEST_TMPDIR/link.csv"
	run -73 tcptop-csv -o "$BATS_TEST_TMPDIR/link.csv" "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "link.csv: a symbolic link"
	[ "$(cat "$BATS_TEST_TMPDIR/target.csv")" = keep ]
}

# Each stand-in stage writes what /proc says about it into $shared, then does its job (cat).
status_stages() {
	for t in tcptop-agg tcptop-csv; do
		stand_in "$t" "grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status >'$shared/$t.status'; exec cat >/dev/null"
	done
	stand_in tcptop-collect "grep -E '^(Uid|CapEff):' /proc/self/status >'$shared/tcptop-collect.status'"
}

@test "under sudo: the user stages are the sudo user, with the user's groups, no capability in any set, no_new_privs" {
	skip_unless_root "to run the wrapper as sudo does"
	shared_dir
	fake_dir
	status_stages
	run -0 sudo_as_nobody "$fake/tcptop" --log -
	for t in tcptop-agg tcptop-csv; do
		run -0 cat "$shared/$t.status"
		assert_line --regexp '^Uid:\s+65534\s+65534\s+65534\s+65534$'
		assert_line --regexp '^Gid:\s+65534\s+65534\s+65534\s+65534$'
		# nobody's groups from the group database: nogroup (65534) alone, none of root's
		assert_line --regexp '^Groups:\s*(65534)?\s*$'
		for c in CapInh CapPrm CapEff CapBnd CapAmb; do
			assert_line --regexp "^$c:\s+0000000000000000$"
		done
		assert_line --regexp '^NoNewPrivs:\s+1$'
	done
	# the collector is left as it was started (it drops on its own, after attaching)
	run -0 cat "$shared/tcptop-collect.status"
	assert_line --regexp '^Uid:\s+0\s+0\s+0\s+0$'
}

@test "root without sudo: the user stages keep uid 0 but no capability" {
	skip_unless_root "the case of a root login"
	shared_dir
	fake_dir
	status_stages
	run -0 env -u SUDO_UID -u SUDO_GID "$fake/tcptop" --log -
	run -0 cat "$shared/tcptop-agg.status"
	assert_line --regexp '^Uid:\s+0\s+0\s+0\s+0$'
	assert_line --regexp '^CapEff:\s+0000000000000000$'
	assert_line --regexp '^CapBnd:\s+0000000000000000$'
	assert_line --regexp '^NoNewPrivs:\s+1$'
}

@test "a privilege drop that fails ends the run with 77 before anything is written" {
	skip_unless_root "setpriv takes CAP_SETGID from a root wrapper"
	shared_dir
	small_stream >"$shared/r.tcpt"
	chmod 644 "$shared/r.tcpt"
	# without CAP_SETGID, setgroups and setresgid cannot work
	run -77 sudo_as_nobody setpriv --bounding-set=-setgid "$OUTPUT/tcptop" \
		--replay "$shared/r.tcpt" --log "$shared/never.csv"
	assert_output --partial "cannot drop privilege to sudo user 65534: setgroups"
	[ "${#lines[@]}" -eq 1 ]
	[ ! -e "$shared/never.csv" ]
}

@test "--record f --log - | head -1 ends within seconds, nothing left behind" {
	skip_unless_root "live mode, with a stand-in collector"
	shared_dir
	fake_dir
	big_stream >"$shared/big.tcpt"
	stand_in tcptop-collect "exec cat '$shared/big.tcpt'"
	start=$(date +%s)
	run -0 timeout 30 bash -c "'$fake/tcptop' --record '$shared/rec.tcpt' --log - | head -1"
	[ $(($(date +%s) - start)) -lt 15 ]
	assert_output --partial "proto"
	sleep 0.5
	# the wrapper, the tee, the stages (run from $fake) and the stand-in (cat of $shared/big.tcpt)
	run -1 pgrep -f "$shared/"
	[ -s "$shared/rec.tcpt" ]
}

@test "--replay --log - | head -1 ends within seconds, nothing left behind" {
	d=$(mktemp -d "$BATS_TEST_TMPDIR/replay.XXXXXX")
	big_stream >"$d/big.tcpt"
	start=$(date +%s)
	run -0 timeout 30 bash -c "tcptop --replay '$d/big.tcpt' --log - | head -1"
	[ $(($(date +%s) - start)) -lt 15 ]
	assert_output --partial "proto"
	sleep 0.5
	run -1 pgrep -f "$d/"
}

@test "a failed replay: only the first failing stage's message, on a line of its own" {
	run -65 tcptop --replay /dev/zero --log -
	assert_output "tcptop-agg: /dev/zero: not a tcptop stream: bad magic at byte 0"
	# the table: the view's "empty input" used to come first, sometimes on the same line
	need_tool script util-linux
	for i in 1 2 3 4 5; do
		run -65 script -qec "tcptop --replay /dev/zero" /dev/null
		assert_output $'tcptop-agg: /dev/zero: not a tcptop stream: bad magic at byte 0\r'
	done
}

@test "a failed collector: its message alone, though the later stages complain too" {
	skip_unless_root "live mode, with a stand-in collector"
	fake_dir
	stand_in tcptop-collect 'echo "tcptop-collect: no usable hook" >&2; exit 69'
	stand_in tcptop-agg 'cat >/dev/null; echo "tcptop-agg: empty input" >&2; exit 65'
	stand_in tcptop-csv 'cat >/dev/null; echo "tcptop-csv: empty input" >&2; exit 65'
	run -69 "$fake/tcptop" --log -
	assert_output "tcptop-collect: no usable hook"
	run -69 script -qec "'$fake/tcptop'" /dev/null
	assert_output $'tcptop-collect: no usable hook\r'
}
