#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Exactness at scale (issue 22, point 5): 20,000 idle loopback connections (18,000 held by
# tcptop-traffic idle, 2,000 by a holder of its own that can wake one). The live table (the
# wrapper in tmux, filtered with the key / to one connection), then `tcptop --log FILE
# --log-changes`, each alone, watch them; once it has seen every one, a connection idle until
# then moves a known number of bytes each way. The table shows exactly those bytes on both its
# ends and nothing else; the log has rows of that connection only, the last of each end with
# those bytes, and no row of an idle one. One pipeline at a time: a second collector's
# activation gives the sockets storage that the first takes for its own (tcptop-collect(1),
# Active connections), and would read the woken one only at its next walk.
# Root and BPF; about 30 s (longer on a host holding a million more sockets: the first walks).
load test_helper/common

N=20000          # idle connections in all
HELD=2000        # of them the holder's, to its own listener
WAKE_A=1234      # the connections woken (the table's, the log's), by their number among
WAKE_B=1500      # the holder's
# flows the collectors hold: room for a host that holds many more sockets than ours (beyond its
# flow table, connections would be met again as new)
MAXF=4194304
UP=1234567       # bytes it sends from its client end
DOWN=765433      # bytes it sends back from its server end

teardown() {
	[ -z "${SOCK:-}" ] || tmux -L "$SOCK" kill-server 2>/dev/null || true
	bg_kill_all
}

# The holder: HELD connections from 127.0.0.3 to one listener of its own there (an address of
# its own: the table's filter by address and port finds one connection), opened before any
# collector starts; then, for each line on standard input, "wake I UP DOWN" moves UP bytes from
# connection I's client to its server and DOWN back, read whole, and prints "woke I CPORT
# SPORT". Prints "ready N LPORT A B" (the listener's port; connections WAKE_A's and WAKE_B's
# client ports).
holder() {
	cat >"$BATS_TEST_TMPDIR/holder.py" <<'PY'
import resource, socket, sys
n, a, b = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
lsn = socket.socket()
lsn.bind(('127.0.0.3', 0))
lsn.listen(4096)
lport = lsn.getsockname()[1]
pairs = []
for _ in range(n):
    c = socket.create_connection(lsn.getsockname(), source_address=('127.0.0.3', 0))
    s, _ = lsn.accept()
    pairs.append((c, s))
lsn.close()
print('ready %d %d %d %d' % (n, lport, pairs[a][0].getsockname()[1], pairs[b][0].getsockname()[1]),
      flush=True)
for line in sys.stdin:
    w = line.split()
    i, up, down = int(w[1]), int(w[2]), int(w[3])
    c, s = pairs[i]
    for x, y, size in ((c, s, up), (s, c, down)):
        x.sendall(b'u' * size)
        got = 0
        while got < size:
            got += len(y.recv(size - got))
    print('woke %d %d %d' % (i, c.getsockname()[1], s.getsockname()[1]), flush=True)
PY
}

# until SECS CMD...: CMD every 0.2 s until it succeeds, SECS at most, or it says 2 (no use
# waiting); its status.
until_ok() {
	local end=$((SECONDS + $1)) st
	shift
	while :; do
		"$@" && return 0
		st=$?
		[ "$st" -ne 2 ] && [ "$SECONDS" -lt "$end" ] || return "$st"
		sleep 0.2
	done
}

# shows TEXT: the table's screen holds TEXT.
shows() {
	tmux -L "$SOCK" capture-pane -p | grep -qF "$1"
}

# gone_table: the table quit (its pane, session and server with it)
gone_table() {
	! tmux -L "$SOCK" has-session 2>/dev/null
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

# seen REC: the recording REC has the OPEN of both ends of every idle connection (the holder's
# to LPORT, tcptop-traffic's to 127.0.0.100).
# seen REC -v: prints how many.
seen() {
	local n
	n=$(tcptop-dump "$1" 2>/dev/null | grep -cE "^open .*(:$LPORT|127\.0\.0\.100:[0-9]+)( |$)")
	[ "${2:-}" != -v ] || echo "$n"
	[ "$n" -ge $((2 * N)) ]
}

# ready OUT PID: PID printed its ready line in OUT; fails at once (status 2) when PID ended.
ready() {
	grep -q '^ready' "$1" && return 0
	kill -0 "$2" 2>/dev/null || return 2
	return 1
}

# exact_rows CPORT: the table (raw units) shows both ends of the connection from CPORT with
# their exact bytes, and no other row.
exact_rows() {
	tmux -L "$SOCK" capture-pane -p >"$BATS_TEST_TMPDIR/screen"
	python3 - "$BATS_TEST_TMPDIR/screen" "$1" "$LPORT" "$UP" "$DOWN" <<'PY'
import sys
lines = open(sys.argv[1]).read().split('\n')
cport, lport, up, down = sys.argv[2:6]
rows = [w for w in (l.split() for l in lines) if w and w[0] == 'tcp']
want = {('127.0.0.3:' + cport, down, up), ('127.0.0.3:' + lport, up, down)}
# PROTO LOCAL REMOTE PID PROCESS STATE RX/s TX/s RX TX ...
got = {(r[1], r[8], r[9]) for r in rows if len(r) > 9}
sys.exit(0 if len(rows) == 2 and got == want else 1)
PY
}

# woke I: asks the holder to wake connection I, waits for its answer (20 s at most)
woke() {
	local n
	n=$(grep -c '^woke' "$BATS_TEST_TMPDIR/holder.out" || true)
	echo "wake $1 $UP $DOWN" >&5
	until_ok 20 woken "$((n + 1))" || fail "the holder did not wake $1: $(cat "$BATS_TEST_TMPDIR/holder.out")"
}

woken() {
	[ "$(grep -c '^woke' "$BATS_TEST_TMPDIR/holder.out")" -ge "$1" ]
}

# wait_seen REC: until the collector recording REC has seen every idle connection
wait_seen() {
	# (a collector's first walk reads every socket of the host at a quarter of each interval:
	# a host holding a million more makes it last tens of seconds; 20 s more for each 400,000)
	local wait
	wait=$((60 + $(awk '$1 == "TCP:" { print $3 }' /proc/net/sockstat) / 20000))
	until_ok "$wait" seen "$1" ||
		fail "$1: $(seen "$1" -v) of $((2 * N)) sockets after $wait s: $(cat "$1.err")"
	echo "# $(basename "$1"): every connection seen after $SECONDS s" >&3
}

@test "20,000 idle connections: one woken among them is exact in the live table and in --log-changes, no idle one moves" {
	skip_unless_bpf
	need_tool tmux tmux
	local d=$BATS_TEST_TMPDIR st=0 hpid ipid a b
	holder
	# the holder's commands through fd 5, opened read-write: never blocks, whatever happens
	mkfifo "$d/holder.in"
	exec 5<>"$d/holder.in"
	# (not bg_start: a command put in the background inside a function reads /dev/null)
	python3 "$d/holder.py" "$HELD" "$WAKE_A" "$WAKE_B" <"$d/holder.in" >"$d/holder.out" 2>&1 3>&- &
	hpid=$!
	bg_track $hpid
	until_ok 30 ready "$d/holder.out" $hpid || fail "holder not ready: $(cat "$d/holder.out")"
	read -r _ _ LPORT a b <"$d/holder.out"
	# the others, to listeners on 127.0.0.100, held while fd 4 is open
	mkfifo "$d/idle.in"
	exec 4<>"$d/idle.in"
	tcptop-traffic idle $((N - HELD)) <"$d/idle.in" >"$d/idle.out" 2>&1 3>&- &
	ipid=$!
	bg_track $ipid
	until_ok 60 ready "$d/idle.out" $ipid || fail "tcptop-traffic idle not ready: $(cat "$d/idle.out")"

	# the log alone; A woken once its collector has seen every connection, then two intervals
	bg_start tcptop --log "$d/ch.csv" --log-changes --interval 1 --max-flows $MAXF --verbose \
		--record "$d/log.tcpt" \
		2>"$d/log.tcpt.err"
	WPID=$BG_PID
	wait_seen "$d/log.tcpt"
	sleep 2 # two intervals with all of them idle
	woke "$WAKE_A"
	run -0 grep "^woke $WAKE_A $a $LPORT\$" "$d/holder.out"
	until_ok 10 grep -q ",127.0.0.3,$a," "$d/ch.csv" || fail "no row of it in the log"
	sleep 2.2
	kill -INT "$WPID"
	until_ok 10 gone "$WPID" || fail "tcptop --log did not end on SIGINT"
	wait "$WPID" || st=$?
	[ "$st" -eq 0 ] || fail "tcptop --log exited $st: $(cat "$d/log.tcpt.err")"
	# then the table of every connection, filtered to connection B's client address and port
	# (both its ends), in exact numbers; B woken once its collector has seen every one
	SOCK=tcptop-scale-$$
	cat >"$d/run.sh" <<-EOF
		export LANG=C.UTF-8 LC_ALL=C.UTF-8
		exec "$OUTPUT/tcptop" --interval 1 --max-flows $MAXF --record "$d/table.tcpt" 2>"$d/table.tcpt.err"
	EOF
	tmux -L "$SOCK" -f /dev/null new-session -d -x 200 -y 20 "bash $d/run.sh" 3>&-
	bg_track "$(tmux -L "$SOCK" display -p '#{pid}')"
	wait_seen "$d/table.tcpt"
	tmux -L "$SOCK" send-keys / "127.0.0.3:$b" Enter u
	until_ok 10 shows "127.0.0.3:$b" ||
		fail "the table does not show the connection: $(tmux -L "$SOCK" capture-pane -p)"
	sleep 1
	woke "$WAKE_B"
	run -0 grep "^woke $WAKE_B $b $LPORT\$" "$d/holder.out"
	until_ok 20 exact_rows "$b" || fail "the table, not exact:
$(cat "$d/screen")"
	tmux -L "$SOCK" send-keys q
	until_ok 10 gone_table || fail "the table did not quit"

	# the idle connections were held throughout
	kill -0 "$hpid" && kill -0 "$ipid" || fail "a holder of idle connections ended early"
	run -1 grep -q '^done' "$d/idle.out"
	run -0 timeout 20 python3 - "$d/ch.csv" "$a" "$LPORT" "$UP" "$DOWN" "$N" <<'PY'
import csv, sys
path, cport, lport = sys.argv[1:4]
up, down, n = (int(a) for a in sys.argv[4:7])
rows = list(csv.DictReader(open(path, newline='')))
ours = [r for r in rows if r['protocol'] == 'tcp' and
        r['local_addr'] == r['remote_addr'] == '127.0.0.3' and
        lport in (r['local_port'], r['remote_port'])]
woken = [r for r in ours if cport in (r['local_port'], r['remote_port'])]
idle = [r for r in ours if r not in woken] + \
       [r for r in rows if '127.0.0.100' in (r['local_addr'], r['remote_addr'])]
# an idle connection: no row after its first appearance (none at all when the collector's
# first walk met it before its first snapshot), and nothing moved
seen = set()
for r in idle:
    k = (r['local_addr'], r['local_port'], r['remote_addr'], r['remote_port'])
    assert k not in seen, 'an idle connection written again: %s' % r
    seen.add(k)
    assert int(r['bytes_in']) == int(r['bytes_out']) == 0, r
ends = {}
for r in woken:
    assert r['begun_before'] == '1' and r['new'] == '0' and r['closed'] == '0', r
    ends.setdefault(r['local_port'], []).append(r)
assert set(ends) == {cport, lport}, 'ends written: %s' % sorted(ends)
for port, sent, got in ((cport, up, down), (lport, down, up)):
    # each row an interval in which it moved, or its LIMIT verdict went (app to none once
    # it stopped): never an idle interval's repeat
    prev = None
    for r in ends[port]:
        moved = float(r['rate_in_bytes_sec']) > 0 or float(r['rate_out_bytes_sec']) > 0
        assert moved or (prev and r['limit'] != prev['limit']), r
        prev = r
    last = ends[port][-1]
    assert (int(last['bytes_out']), int(last['bytes_in'])) == (sent, got), last
    for a, b in zip(ends[port], ends[port][1:]):
        assert int(a['bytes_out']) <= int(b['bytes_out']) and int(a['bytes_in']) <= int(b['bytes_in'])
print('rows', len(rows), 'woken', len(woken), 'idle rows', len(idle), 'of', n, 'idle connections')
PY
	assert_output --partial "of $N idle connections"
	exec 4>&- 5>&-
}
