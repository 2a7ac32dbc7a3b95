#!/usr/bin/env bats
# The stream format end to end through the generator and the decoder (no root).

load test_helper/common

script() {
	cat <<'S'
header interval=1 host="h\x1bost" backend="send=tp_btf recv=tp_btf"
ifname if=1 name=lo
open t=1.0 flow=7 proto=tcp src=127.0.0.1:5000 dst=127.0.0.1:80 pid=42 comm="cu,rl\n" state=ESTABLISHED begun in=10 out=20
open t=1.1 flow=8 proto=udp src=[::1]:53 dst=[2001:db8::1]:4444 pid=43 comm="dns"
sample t=1.5 flow=7 in=100 out=200 pin=3 pout=4 rtt=55 retrans=1
state t=1.6 flow=7 old=ESTABLISHED new=FIN_WAIT1
owner t=1.7 flow=8 pid=44 comm="x"
tick t=2
loss t=2 ringbuf=3 flow_evicted=1
close t=2.5 flow=7 state=CLOSE in=1000 out=2000
end t=3
S
}

# offset_of K: byte offset of record K (the header is 0) of the valid script's stream
offset_of() {
	script | "$GEN" | tcptop-dump -O | sed -n "$(($1 + 1))s/^@\([0-9]*\) .*/\1/p"
}

@test "generated stream decodes and re-encodes byte for byte" {
	script | "$GEN" >"$BATS_TEST_TMPDIR/a.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/a.tcpt"
	assert_line --index 2 --partial 'open t=1.000000000 flow=7 cookie=7 proto=tcp src=127.0.0.1:5000 dst=127.0.0.1:80'
	assert_line --index 2 --partial 'comm="cu,rl\x0a" begun in=10 out=20'
	assert_line --index 3 --partial 'src=[::1]:53 dst=[2001:db8::1]:4444'
	tcptop-dump "$BATS_TEST_TMPDIR/a.tcpt" | "$GEN" | cmp - "$BATS_TEST_TMPDIR/a.tcpt"
}


@test "stream begins with the palindromic header type and the signature" {
	script | "$GEN" >"$BATS_TEST_TMPDIR/a.tcpt"
	run -0 bash -c "head -c 16 '$BATS_TEST_TMPDIR/a.tcpt' | od -An -tx1 | tr -d ' \n'"
	[ "${output:0:8}" = "0a0d0d0a" ]
	[ "${output:16:16}" = "746370746f70891a" ]
}

@test "cgroup ids and paths, missing features and the failed flag survive the round trip" {
	cat >"$BATS_TEST_TMPDIR/c.txt" <<'S'
header interval=1 missing="rtt retrans"
cgroup id=42 path="/system.slice/ngi\x1bnx.service"
open t=1.0 flow=7 src=127.0.0.1:5000 dst=127.0.0.1:80 pid=42 comm="curl" state=SYN_SENT cgroup=42
owner t=1.5 flow=7 pid=43 comm="curl" cgroup=42
end t=3
S
	"$GEN" "$BATS_TEST_TMPDIR/c.txt" >"$BATS_TEST_TMPDIR/c.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/c.tcpt"
	assert_line --index 0 --partial 'missing="rtt retrans"'
	assert_line --index 1 'cgroup id=42 path="/system.slice/ngi\x1bnx.service"'
	assert_line --index 2 --partial 'retrans=0 cgroup=42'
	assert_line --index 3 --partial 'comm="curl" cgroup=42'
	tcptop-dump "$BATS_TEST_TMPDIR/c.tcpt" | "$GEN" | cmp - "$BATS_TEST_TMPDIR/c.tcpt"
	printf 'header kind=snapshot\nsnap seq=1\nrow flow=1 state=SYN_SENT closed failed cgroup=9\nsnapend\nend\n' |
		"$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/s.tcpt"
	assert_line --index 2 --partial 'closed failed in=0'
	assert_line --index 2 --partial 'cgroup=9'
}

@test "unknown record types are skipped" {
	{ script | sed '$d'; echo 'rawrec type=4660 hex=01020304'; echo 'end t=3'; } |
		"$GEN" >"$BATS_TEST_TMPDIR/u.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/u.tcpt"
	assert_line --index 10 --partial 'end t=3'
}

@test "truncated inside a record: 65 with the record's offset" {
	script | "$GEN" --truncate 300 >"$BATS_TEST_TMPDIR/t.tcpt"
	run -65 tcptop-dump -O "$BATS_TEST_TMPDIR/t.tcpt"
	assert_output --partial "truncated CONN_OPEN record at byte $(offset_of 2)"
	assert_output --partial "input ends after $((300 - $(offset_of 2))) of 160 bytes"
}

@test "ended on a record boundary without END: warning, status 0" {
	script | sed '$d' | "$GEN" >"$BATS_TEST_TMPDIR/n.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/n.tcpt"
	assert_output --partial 'without an END record'
}

@test "bad trailer: 65 naming the trailer's offset" {
	script | "$GEN" --corrupt-trailer 2 >"$BATS_TEST_TMPDIR/c.tcpt"
	run -65 tcptop-dump "$BATS_TEST_TMPDIR/c.tcpt"
	assert_output --partial "record trailer at byte $(($(offset_of 3) - 4)) says 168, its header at byte $(offset_of 2) says 160"
}

@test "oversized and misaligned records: 65 with the offset" {
	script | "$GEN" --oversize 3 >"$BATS_TEST_TMPDIR/o.tcpt"
	run -65 tcptop-dump "$BATS_TEST_TMPDIR/o.tcpt"
	assert_output --partial 'above the cap'
	assert_output --partial "record length 1048576 at byte $(offset_of 3) above the cap"
	script | "$GEN" --misalign 3 >"$BATS_TEST_TMPDIR/m.tcpt"
	run -65 tcptop-dump "$BATS_TEST_TMPDIR/m.tcpt"
	assert_output --partial 'not a multiple of 8'
}

@test "future major version and bad signature are refused" {
	{ echo 'header major=2 minor=0'; echo 'end'; } | "$GEN" >"$BATS_TEST_TMPDIR/v.tcpt"
	run -65 tcptop-dump "$BATS_TEST_TMPDIR/v.tcpt"
	assert_output --partial 'unsupported stream version 2.0 at byte 20'
	script | "$GEN" --bad-magic >"$BATS_TEST_TMPDIR/b.tcpt"
	run -65 tcptop-dump "$BATS_TEST_TMPDIR/b.tcpt"
	assert_output --partial 'bad stream signature at byte 8'
}

@test "text is not a stream; CRLF mangling is detected" {
	run -65 bash -c 'echo "hello world, not a stream" | tcptop-dump'
	assert_output --partial 'not a tcptop stream'
	script | "$GEN" | sed 's/$/\r/' >"$BATS_TEST_TMPDIR/crlf.tcpt"
	run -65 tcptop-dump "$BATS_TEST_TMPDIR/crlf.tcpt"
	assert_output --partial 'tcptop'
}

@test "concatenated streams are sections" {
	script | "$GEN" >"$BATS_TEST_TMPDIR/a.tcpt"
	cat "$BATS_TEST_TMPDIR/a.tcpt" "$BATS_TEST_TMPDIR/a.tcpt" >"$BATS_TEST_TMPDIR/aa.tcpt"
	run -0 tcptop-dump "$BATS_TEST_TMPDIR/aa.tcpt"
	[ "$(grep -c '^header' <<<"$output")" -eq 2 ]
}

@test "one byte at a time through a pipe gives the same records" {
	script | "$GEN" >"$BATS_TEST_TMPDIR/a.tcpt"
	tcptop-dump "$BATS_TEST_TMPDIR/a.tcpt" >"$BATS_TEST_TMPDIR/whole"
	dd if="$BATS_TEST_TMPDIR/a.tcpt" bs=1 status=none | tcptop-dump >"$BATS_TEST_TMPDIR/bytes"
	cmp "$BATS_TEST_TMPDIR/whole" "$BATS_TEST_TMPDIR/bytes"
}

@test "missing input file: 66" {
	run -66 tcptop-dump "$BATS_TEST_TMPDIR/nope"
}
