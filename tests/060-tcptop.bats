#!/usr/bin/env bats
# The wrapper: options, refusals before anything starts, replay; live end to end as root.

load test_helper/common
load test_helper/stall

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
	for o in --port --pid --process --interface --cgroup --format --tcp --udp --interval --log --record \
		--replay --speed --udp-timeout --max-flows --backend --duration --verbose --resolve \
		--help --version; do
		assert_output --partial -- "$o"
	done
	assert_output --partial "Exit status"
}

@test "--help's exit statuses are lib/contract.c's for tcptop, and tcptop(1) lists exactly them" {
	exit_statuses_agree tcptop tcptop.1
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
	skip_unless_setpriv
	cd /
	# a folder nobody may write to (1777): had the wrapper created the log first, it would be there
	shared=$(shared_dir 1777)
	run -77 as_unpriv "$OUTPUT/tcptop" --log "$shared/never.csv"
	never=$(ls -A "$shared")
	rm -rf "$shared"
	assert_output --partial "needs root or CAP_NET_ADMIN, CAP_PERFMON and CAP_BPF"
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$never" ""
}

@test "live as root without CAP_NET_ADMIN: 77 naming it, before any stage starts" {
	skip_unless_root
	need_tool setpriv util-linux
	fake_pipeline
	# root keeps uid 0, the capability is gone from every set (as the collector needs it
	# for its cgroup hooks, the wrapper asks for it too: lib/contract.c caps_live_capture)
	run -77 setpriv --bounding-set=-net_admin --inh-caps=-net_admin "$fake/tcptop" \
		--log "$BATS_TEST_TMPDIR/x.csv"
	assert_output --partial "missing CAP_NET_ADMIN"
	[ "${#lines[@]}" -eq 1 ]
	run ! ls "$fake"/started-*
	[ ! -e "$BATS_TEST_TMPDIR/x.csv" ]
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
	# each reads its input to the end, as a stage does: a stage that ended at once would
	# have the wrapper stop the ones before it, which then died of that, not of their own
	for t in tcptop-collect tcptop-agg tcptop-view tcptop-csv; do
		printf '#!/bin/sh\ntouch "%s/started-%s"\ncat >/dev/null\n' "$fake" "$t" >"$fake/$t"
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

@test "replay --log: JSON Lines with --format jsonl or a .jsonl name; --cgroup filters" {
	raw_script | sed '1a cgroup id=5 path="/system.slice/curl-job.service"' |
		sed 's/^\(open .*comm="curl".*\)$/\1 cgroup=5/' | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log "$BATS_TEST_TMPDIR/out.jsonl"
	run -0 python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; print(len(rows) > 0, sorted({r["process_name"] for r in rows}))' "$BATS_TEST_TMPDIR/out.jsonl"
	assert_output "True ['curl', 'resolver', 'wget']"
	run -0 bash -c 'tcptop --replay "$0" --log - --format jsonl | head -c 1' "$BATS_TEST_TMPDIR/r.tcpt"
	assert_output "{"
	run -0 bash -c 'tcptop --replay "$0" --log - --cgroup "curl-*" | python3 -c "import csv,sys; print(sorted({(r[\"process_name\"], r[\"cgroup\"]) for r in csv.DictReader(sys.stdin)}))"' "$BATS_TEST_TMPDIR/r.tcpt"
	assert_output "[('curl', 'curl-job.service')]"
	run -64 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --format xml --log -
	assert_output --partial "invalid (csv or jsonl)"
}

@test "replay --log --resolve: tcptop-csv names the remote hosts; with --prometheus: 64" {
	raw_script | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	start_dns 127.0.0.1=loopback.test
	# a copy of the wrapper runs the tools beside it: there, a tcptop-csv that points the real
	# one at the test server (the wrapper has no --dns-server: it uses /etc/resolv.conf's)
	mkdir "$BATS_TEST_TMPDIR/bin"
	cp "$OUTPUT/tcptop" "$BATS_TEST_TMPDIR/bin/"
	printf '#!/bin/sh\necho "$*" >"%s"\nexec "%s" "$@" --dns-server 127.0.0.1:%s\n' \
		"$BATS_TEST_TMPDIR/csv.args" "$OUTPUT/tcptop-csv" "$DNS_PORT" \
		>"$BATS_TEST_TMPDIR/bin/tcptop-csv"
	chmod +x "$BATS_TEST_TMPDIR/bin/tcptop-csv"
	run -0 "$BATS_TEST_TMPDIR/bin/tcptop" --replay "$BATS_TEST_TMPDIR/r.tcpt" --resolve \
		--log "$BATS_TEST_TMPDIR/out.csv"
	run -0 cat "$BATS_TEST_TMPDIR/csv.args"
	assert_output --partial -- "--resolve"
	run -0 python3 -c '
import csv, sys
print(sorted({(r["remote_addr"], r["remote_host"]) for r in csv.DictReader(open(sys.argv[1]))}))' \
		"$BATS_TEST_TMPDIR/out.csv"
	assert_output "[('127.0.0.1', 'loopback.test'), ('::1', '')]"
	# without it, no column
	run -0 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log -
	refute_output --partial remote_host
	run -64 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --resolve --prometheus 127.0.0.1:0
	assert_output --partial "--resolve applies to the table and --log only"
}

@test "--excel-safe goes through to tcptop-csv; only with --log as CSV" {
	raw_script | sed 's/comm="curl"/comm="=cmd|calc"/; s/comm="wget"/comm="-bash"/' |
		"$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	run -0 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log - --excel-safe
	assert_output --partial ",\"'=cmd|calc\","
	assert_output --partial ",\"'-bash\","
	run -0 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log -
	assert_output --partial ",=cmd|calc,"
	run -64 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --log x.jsonl --excel-safe
	assert_output --partial "--excel-safe applies to --log as CSV only"
	run -64 tcptop --replay "$BATS_TEST_TMPDIR/r.tcpt" --excel-safe
	assert_output --partial "--excel-safe applies to --log as CSV only"
}

@test "a corrupt recording: the first failing stage's status (65) and its message" {
	raw_script | "$GEN" --corrupt-trailer 5 >"$BATS_TEST_TMPDIR/bad.tcpt"
	run -65 tcptop --replay "$BATS_TEST_TMPDIR/bad.tcpt" --log "$BATS_TEST_TMPDIR/bad.csv"
	assert_output --partial "record trailer at byte"
}

@test "replay works for an unprivileged user" {
	skip_unless_setpriv
	shared=$(shared_dir 1777)
	raw_script | "$GEN" >"$shared/r.tcpt"
	chmod 644 "$shared/r.tcpt"
	run -0 as_unpriv "$OUTPUT/tcptop" --replay "$shared/r.tcpt" --log "$shared/u.csv"
	size=$(stat -c %s "$shared/u.csv")
	owner=$(stat -c %u "$shared/u.csv")
	rm -rf "$shared"
	[ "$size" -gt 0 ]
	[ "$owner" = 65534 ]
}

@test "replay of a stalled FIFO: Ctrl-C or SIGTERM ends tcptop --log within 1 s, the CSV whole" {
	raw_script | grep -v '^end' | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	tcptop-agg "$BATS_TEST_TMPDIR/r.tcpt" 2>/dev/null | tcptop-csv >"$BATS_TEST_TMPDIR/want.csv"
	run -0 cut -d, -f 24,25 "$BATS_TEST_TMPDIR/want.csv"
	assert_output "$(printf 'snapshot_seq,partial\n1,0\n1,0\n1,0\n2,0\n2,0\n2,0\n3,0\n3,0\n3,0\n4,0\n4,0')"
	for how in group-INT wrapper-INT wrapper-TERM; do
		rm -f "$BATS_TEST_TMPDIR/fifo" "$BATS_TEST_TMPDIR/out.csv"
		mkfifo "$BATS_TEST_TMPDIR/fifo"
		# its own process group, as a shell gives a command: Ctrl-C reaches every stage
		setsid tcptop --replay "$BATS_TEST_TMPDIR/fifo" --log "$BATS_TEST_TMPDIR/out.csv" \
			2>"$BATS_TEST_TMPDIR/err" 3>&- &
		pid=$!
		exec 5>"$BATS_TEST_TMPDIR/fifo"
		cat "$BATS_TEST_TMPDIR/r.tcpt" >&5 # three snapshots, then the writer says nothing
		for _ in $(seq 100); do
			[ "$(wc -l <"$BATS_TEST_TMPDIR/out.csv" 2>/dev/null || echo 0)" -ge 12 ] && break
			sleep 0.05
		done
		sleep 0.2
		case $how in
		group-INT) signal_and_wait "$pid" INT "-$pid" ;;
		wrapper-INT) signal_and_wait "$pid" INT ;;
		wrapper-TERM) signal_and_wait "$pid" TERM ;;
		esac
		exec 5>&-
		[ "$ms" -lt 1000 ] || fail "$how: ended after $ms ms"
		# the replay was cut short: 128 + the signal the run got (tcptop(1), Stops)
		case $how in
		*-TERM) want=143 ;;
		*) want=130 ;;
		esac
		[ "$st" -eq "$want" ] || fail "$how: exit $st, not $want: $(cat "$BATS_TEST_TMPDIR/err")"
		# the four snapshots the ticks closed, none partial, as from the file itself
		cmp "$BATS_TEST_TMPDIR/want.csv" "$BATS_TEST_TMPDIR/out.csv"
	done
}

@test "replay of a stalled FIFO in the table: Ctrl-C ends tcptop within 1 s, terminal restored" {
	raw_script | grep -v '^end' | "$GEN" >"$BATS_TEST_TMPDIR/r.tcpt"
	d=$BATS_TEST_TMPDIR
	sock=tcptop-stall-$$
	mkfifo "$d/fifo"
	cat >"$d/run.sh" <<-EOF
		trap : INT
		export LANG=C.UTF-8 LC_ALL=C.UTF-8
		stty -g >"$d/stty.before"
		"$OUTPUT/tcptop" --replay "$d/fifo" --speed 100 2>"$d/stderr"
		echo \$? >"$d/status.tmp"
		stty -g >"$d/stty.after"
		mv "$d/status.tmp" "$d/status"
		exec sleep 600
	EOF
	tmux -L "$sock" -f /dev/null new-session -d -x 120 -y 30 "bash $d/run.sh" 3>&-
	exec 5>"$d/fifo"
	cat "$d/r.tcpt" >&5
	for _ in $(seq 100); do
		tmux -L "$sock" capture-pane -p | grep -q resolver && break
		sleep 0.05
	done
	t0=$(date +%s%N)
	tmux -L "$sock" send-keys C-c
	for _ in $(seq 300); do [ -e "$d/status" ] && break; sleep 0.01; done
	ms=$((($(date +%s%N) - t0) / 1000000))
	exec 5>&-
	screen=$(tmux -L "$sock" capture-pane -p)
	tmux -L "$sock" kill-server 2>/dev/null || true
	[ -e "$d/status" ] || fail "tcptop did not end: $screen"
	[ "$ms" -lt 1000 ] || fail "ended after $ms ms"
	assert_equal "$(cat "$d/status")" 130
	cmp "$d/stty.before" "$d/stty.after"
}

# ---- live, end to end (root, BPF) ----

# start_log OUT.csv [OPTIONS...]: the wrapper in --log mode in the background; waits until the
# collector is attached (its verbose report names the hooks). Sets WPID.
start_log() {
	local out=$1 i
	shift
	tcptop --log "$out" --interval 1 --verbose "$@" 2>"$out.err" 3>&- &
	WPID=$!
	for i in $(seq 200); do
		grep -qi 'attached\|privilege' "$out.err" 2>/dev/null && return 0
		kill -0 "$WPID" 2>/dev/null || { cat "$out.err" >&2; return 1; }
		sleep 0.1
	done
	cat "$out.err" >&2
	return 1
}

# stop_log: SIGINT to the wrapper alone (as a service manager would); its status must be 0.
stop_log() {
	local st=0
	sleep 2.2 # two intervals: the last samples are in a tick
	kill -INT "$WPID"
	wait "$WPID" || st=$?
	[ "$st" -eq 0 ] || { cat "$1.err" >&2; echo "tcptop exited $st" >&2; return 1; }
}

# check_csv CSV TRAFFIC-OUTPUT...: every connection the traffic program printed is in the CSV
# with its exact bytes, pid and name (last row of each), the CSV parses, rows are complete.
check_csv() {
	python3 - "$@" <<'PY'
import csv, sys
path, outs = sys.argv[1], sys.argv[2:]
raw = open(path, newline='').read()
assert raw.endswith('\n'), 'CSV does not end with a complete line'
rows = list(csv.DictReader(raw.splitlines(keepends=True)))
for r in rows:
    assert None not in r and len(r) >= 16, r
last = {}
for r in rows:
    last[(r['protocol'], r['local_addr'], r['local_port'], r['remote_addr'], r['remote_port'])] = r
def ep(s):
    a, p = s.rsplit(':', 1)
    return a.strip('[]'), p
n = 0
for out in outs:
    for line in open(out):
        w = line.split()
        if not w or w[0] not in ('conn', 'short', 'udp'):
            continue
        kv = dict(x.split('=', 1) for x in w if '=' in x)
        if w[0] == 'udp':
            proto, a, b = 'udp', ep(w[1]), ep(w[2])
        else:
            proto, a, b = w[1], ep(w[2]), ep(w[3])
        want = int(kv['bytes'])
        # 'anon': the receiver read with recv(), not asking who sent: the peer is unknown
        sender = ('0.0.0.0', '0') if 'anon' in w else a
        for (l, r, direction) in ((a, b, 'bytes_out'), (b, sender, 'bytes_in')):
            k = (proto, l[0], l[1], r[0], r[1])
            assert k in last, 'no row for %s (%d rows)' % (k, len(rows))
            row = last[k]
            assert int(row[direction]) == want, (k, direction, row[direction], want)
            if proto == 'tcp':
                assert int(row['bytes_in']) == int(row['bytes_out']) == want, row
            assert row['process_name'] == 'tcptop-traffic', row
            assert row['pid'] == kv['pid'], (row['pid'], kv['pid'])
            n += 1
print('checked', n, 'sockets in', len(rows), 'rows')
PY
}

@test "live --log: exact bytes, pid and name of the traffic's connections; SIGINT ends it cleanly" {
	skip_unless_bpf
	d=$BATS_TEST_TMPDIR
	start_log "$d/out.csv"
	tcptop-traffic tcp 4 1000003 >"$d/t4"
	tcptop-traffic tcp 6 777777 >"$d/t6"
	tcptop-traffic udp 20 333 >"$d/u"
	tcptop-traffic short 20 1001 >"$d/s"
	stop_log "$d/out.csv"
	run -0 check_csv "$d/out.csv" "$d/t4" "$d/t6" "$d/u" "$d/s"
	assert_output --partial "checked 52 sockets"
}

@test "live --log: Ctrl-C (SIGINT to the whole process group) ends it with 0 once every stage finished" {
	skip_unless_bpf
	d=$BATS_TEST_TMPDIR
	setsid tcptop --log "$d/out.csv" --interval 1 --verbose 2>"$d/out.csv.err" 3>&- &
	WPID=$!
	for _ in $(seq 200); do
		grep -qi 'attached\|privilege' "$d/out.csv.err" 2>/dev/null && break
		sleep 0.1
	done
	tcptop-traffic tcp 4 4242 >"$d/t4"
	sleep 2.2
	signal_and_wait "$WPID" INT "-$WPID"
	# the collector's input is the kernel: it ends the stream whole, the readers read their
	# pipes to the end; nothing was left unread (tcptop(1), Stops)
	[ "$st" -eq 0 ] || fail "exit $st: $(cat "$d/out.csv.err")"
	run -0 check_csv "$d/out.csv" "$d/t4"
}

@test "live --log --resolve: the resolver's own queries are left out, another process's to the same server and port 53 shown" {
	skip_unless_bpf
	need_tool unshare util-linux
	d=$BATS_TEST_TMPDIR
	# the wrapper asks /etc/resolv.conf's server: in a mount namespace of its own (the same
	# network namespace: the collector sees everything), that is the test server on port 53
	start_dns --bind 127.0.53.53:53 127.0.0.1=lo.test
	echo "nameserver 127.0.53.53" >"$d/resolv.conf"
	unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$d/resolv.conf" \
		"$OUTPUT/tcptop" --log "$d/out.csv" --record "$d/rec.tcpt" --resolve --interval 1 \
		--verbose 2>"$d/out.csv.err" 3>&- &
	WPID=$!
	bg_track "$WPID"
	for _ in $(seq 200); do
		grep -qi 'attached\|privilege' "$d/out.csv.err" 2>/dev/null && break
		sleep 0.1
	done
	csv=$(pgrep -P "$WPID" -x tcptop-csv) || fail "no tcptop-csv under the wrapper"
	tcptop-traffic tcp 4 1001 >"$d/t" # a peer 127.0.0.1: tcptop-csv asks its name
	# another process asks the same server on port 53, from a socket of its own
	python3 -c '
import os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.53.53", 53))
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x011\x010\x010\x03127\x07in-addr\x04arpa\x00" + struct.pack(">HH", 12, 1)
for _ in range(3):
    s.send(q)
    s.settimeout(2)
    s.recv(512)
print(os.getpid(), s.getsockname()[1])' >"$d/other"
	read -r opid oport <"$d/other"
	sleep 2.2
	kill -INT "$WPID"
	wait "$WPID" || fail "tcptop exited $?: $(cat "$d/out.csv.err")"
	grep -q '^1\.0\.0\.127\.in-addr\.arpa$' "$BATS_TEST_TMPDIR/dns.port.log" ||
		fail "tcptop-csv never asked the test server"
	# the flows to the server in the recording: tcptop-csv's own and the other process's
	tcptop-agg "$d/rec.tcpt" | tcptop-csv >"$d/all.csv"
	ask='import csv, sys
print(" ".join(sorted({"%s:%s" % (r["pid"], r["local_port"]) for r in csv.DictReader(open(sys.argv[1]))
    if r["protocol"] == "udp" and r["remote_addr"] == "127.0.53.53" and r["remote_port"] == "53"})))'
	run -0 python3 -c "$ask" "$d/all.csv"
	assert_output --partial "$csv:"
	assert_output --partial "$opid:$oport"
	# the log that resolved: the other process's flow only
	run -0 python3 -c "$ask" "$d/out.csv"
	assert_output "$opid:$oport"
	run -0 python3 -c 'import csv, sys
print(sorted({r["remote_host"] for r in csv.DictReader(open(sys.argv[1])) if r["remote_addr"] == "127.0.0.1"}))' "$d/out.csv"
	assert_output --partial "lo.test"
}

@test "live --log with --tcp, --udp, --port, --pid, --process" {
	skip_unless_bpf
	d=$BATS_TEST_TMPDIR
	protos() { python3 -c 'import csv,sys; print(" ".join(sorted({r["protocol"] for r in csv.DictReader(open(sys.argv[1]))})))' "$1"; }

	start_log "$d/tcp.csv" --tcp
	tcptop-traffic tcp 4 50001 >"$d/t" && tcptop-traffic udp 5 100 >"$d/u"
	stop_log "$d/tcp.csv"
	run -0 protos "$d/tcp.csv"
	assert_output "tcp"
	run -0 check_csv "$d/tcp.csv" "$d/t"

	start_log "$d/udp.csv" --udp
	tcptop-traffic tcp 4 50001 >"$d/t" && tcptop-traffic udp 5 100 >"$d/u"
	stop_log "$d/udp.csv"
	run -0 protos "$d/udp.csv"
	assert_output "udp"
	run -0 check_csv "$d/udp.csv" "$d/u"

	# --pid and --process: a connection held open by a process known in advance
	tcptop-traffic hold 4001 >"$d/hold" 3>&- &
	hpid=$!
	for i in $(seq 100); do grep -q ready "$d/hold" && break; sleep 0.1; done
	start_log "$d/pid.csv" --pid "$hpid"
	tcptop-traffic tcp 4 50001 >"$d/t"
	kill -USR1 "$hpid"
	for i in $(seq 100); do grep -q done "$d/hold" && break; sleep 0.1; done
	stop_log "$d/pid.csv"
	run -0 python3 -c 'import csv,sys; print(" ".join(sorted({r["pid"] for r in csv.DictReader(open(sys.argv[1]))})))' "$d/pid.csv"
	assert_output "$hpid"

	start_log "$d/proc.csv" --process tcptop-traff
	tcptop-traffic tcp 4 50001 >"$d/t"
	stop_log "$d/proc.csv"
	run -0 python3 -c 'import csv,sys; print(" ".join(sorted({r["process_name"] for r in csv.DictReader(open(sys.argv[1]))})))' "$d/proc.csv"
	assert_output "tcptop-traffic"
	run -0 check_csv "$d/proc.csv" "$d/t"

	# --port: the held connection's server port is the filter; other traffic must not show
	tcptop-traffic hold 3001 >"$d/hold" 3>&- &
	hpid=$!
	for i in $(seq 100); do grep -q ready "$d/hold" && break; sleep 0.1; done
	port=$(sed -n 's/^hold tcp [^ ]* [^ ]*:\([0-9]*\) .*/\1/p' "$d/hold")
	[ -n "$port" ] || fail "no port in: $(cat "$d/hold")"
	start_log "$d/port.csv" --port "$port"
	tcptop-traffic tcp 4 50001 >"$d/t"
	kill -USR1 "$hpid"
	for i in $(seq 100); do grep -q done "$d/hold" && break; sleep 0.1; done
	stop_log "$d/port.csv"
	run -0 python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    assert sys.argv[2] in (r["local_port"], r["remote_port"]), r
assert rows, "no row for port " + sys.argv[2]
print("ok", len(rows))' "$d/port.csv" "$port"
	assert_output --partial "ok"
	# both ends of the held connection, with their exact bytes (held: "hold" lines)
	sed 's/^hold /conn /' "$d/hold" >"$d/hold.conn"
	run -0 check_csv "$d/port.csv" "$d/hold.conn"
	assert_output --partial "checked 2 sockets"
}

@test "live --record then --replay --log: the same rows; two replays identical" {
	skip_unless_bpf
	d=$BATS_TEST_TMPDIR
	start_log "$d/live.csv" --record "$d/run.tcpt"
	tcptop-traffic tcp 4 123457 >"$d/t"
	tcptop-traffic udp 7 99 >"$d/u"
	stop_log "$d/live.csv"
	run -0 tcptop --replay "$d/run.tcpt" --log "$d/replay1.csv"
	run -0 tcptop --replay "$d/run.tcpt" --log "$d/replay2.csv"
	cmp "$d/replay1.csv" "$d/replay2.csv"
	cmp "$d/live.csv" "$d/replay1.csv"
	run -0 check_csv "$d/replay1.csv" "$d/t" "$d/u"
	run -0 tcptop-dump "$d/run.tcpt"
	assert_line --index -1 --partial "end"
}

@test "live under sudo: only the collector keeps root; the files belong to the invoking user" {
	skip_unless_bpf
	shared=$(mktemp -d /tmp/tcptop-test.XXXXXX)
	chmod 1777 "$shared"
	SUDO_UID=65534 SUDO_GID=65534 tcptop --log "$shared/u.csv" --record "$shared/u.tcpt" \
		--interval 1 2>"$shared/err" 3>&- &
	WPID=$!
	# this wrapper's stages only: other tcptop-agg processes may run on the machine
	stage_uid() { ps -o uid=,comm= --ppid "$WPID" | awk -v c="$1" '$2 == c { print $1 }'; }
	for i in $(seq 100); do [ -n "$(stage_uid tcptop-csv)" ] && break; sleep 0.1; done
	sleep 1
	agg_uid=$(stage_uid tcptop-agg)
	csv_uid=$(stage_uid tcptop-csv)
	kill -INT "$WPID"
	wait "$WPID"
	csv_owner=$(stat -c %u "$shared/u.csv") rec_owner=$(stat -c %u "$shared/u.tcpt")
	rm -rf "$shared"
	# one assertion a line: under bats only a failing last command of a && list fails the test
	assert_equal "$agg_uid" 65534
	assert_equal "$csv_uid" 65534
	assert_equal "$csv_owner" 65534
	assert_equal "$rec_owner" 65534
}

# ids of the BPF programs of tcptop-collect (named tp__*, fe__*, kp__*) loaded now
our_prog_ids() {
	bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .* name \(tp\|fe\|kp\)__.*/\1/p' | sort
}

@test "live: Ctrl-C leaves no stage running and no BPF program attached" {
	skip_unless_bpf
	d=$BATS_TEST_TMPDIR
	our_prog_ids >"$d/before"
	start_log "$d/out.csv"
	stages=$(pgrep -P "$WPID" | tr '\n' ' ')
	[ "$(wc -w <<<"$stages")" -eq 3 ]
	our_prog_ids >"$d/during"
	ours=$(comm -13 "$d/before" "$d/during")
	[ -n "$ours" ]
	tcptop-traffic tcp 4 1001 >/dev/null
	stop_log "$d/out.csv"
	for p in $stages; do
		run ! kill -0 "$p"
	done
	for i in $(seq 50); do
		our_prog_ids >"$d/after"
		[ -z "$(comm -12 "$d/after" <(echo "$ours"))" ] && break
		sleep 0.1
	done
	run -0 comm -12 "$d/after" <(echo "$ours")
	assert_output ""
}

# The table in a terminal: tmux on a private socket.
@test "live table in tmux: the traffic's connection shows within two intervals; q quits; terminal restored" {
	skip_unless_bpf
	d=$BATS_TEST_TMPDIR
	sock=tcptop-e2e-$$
	tcptop-traffic hold 4001 >"$d/hold" 3>&- &
	hpid=$!
	for i in $(seq 100); do grep -q ready "$d/hold" && break; sleep 0.1; done
	cat >"$d/run.sh" <<-EOF
		export LANG=C.UTF-8 LC_ALL=C.UTF-8
		stty -g >"$d/stty.before"
		"$OUTPUT/tcptop" --interval 1 --pid $hpid 2>"$d/stderr"
		echo \$? >"$d/status"
		stty -g >"$d/stty.after"
		exec sleep 600
	EOF
	tmux -L "$sock" -f /dev/null new-session -d -x 140 -y 30 "bash $d/run.sh" 3>&-
	shown=
	for i in $(seq 30); do # 3 s: two intervals and the start-up
		# the name may be elided at 140 columns ("tcptop-traff…": the LIMIT column)
		tmux -L "$sock" capture-pane -p | grep -q "tcptop-traff" && { shown=1; break; }
		sleep 0.1
	done
	screen=$(tmux -L "$sock" capture-pane -p)
	tmux -L "$sock" send-keys q
	for i in $(seq 100); do [ -e "$d/status" ] && break; sleep 0.1; done
	tmux -L "$sock" kill-server 2>/dev/null || true
	kill -USR1 "$hpid" 2>/dev/null || true
	wait "$hpid" || true
	[ -n "$shown" ] || { echo "$screen"; false; }
	[ "$(cat "$d/status")" = 0 ]
	cmp "$d/stty.before" "$d/stty.after"
}

@test "as an unprivileged user: live exits 77, replay works" {
	skip_unless_setpriv
	run -77 as_unpriv "$OUTPUT/tcptop" --interval 1
	assert_output --partial "needs root"
	shared=$(mktemp -d /tmp/tcptop-test.XXXXXX)
	chmod 755 "$shared"
	raw_script | "$GEN" >"$shared/r.tcpt"
	chmod 644 "$shared/r.tcpt"
	run -0 as_unpriv "$OUTPUT/tcptop" --replay "$shared/r.tcpt" --log -
	rm -rf "$shared"
	assert_output --partial "curl"
}
