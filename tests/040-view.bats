#!/usr/bin/env bats
# tcptop-view in a real terminal: tmux on a private socket, 120x40, fed from generated snapshot
# streams (files, or a FIFO written step by step); the screen read back with capture-pane.

load test_helper/common
load test_helper/travel

setup() {
	T=$BATS_TEST_TMPDIR
	NSESS=0
	SOCK=
}

teardown() {
	[ -z "$SOCK" ] || tmux -L "$SOCK" kill-server 2>/dev/null || true
	[ -z "${DNS_PID:-}" ] || kill "$DNS_PID" 2>/dev/null || true
}

tm() {
	tmux -L "$SOCK" "$@"
}

# start_view INPUT [ARGS...]: run tcptop-view in a fresh 120x40 tmux session, reading INPUT.
# The pane's shell keeps stty -g from before and after, the exit status and stderr.
start_view() {
	local input=$1
	shift
	cat >"$T/run.sh" <<-EOF
		trap : INT
		export LANG=C.UTF-8 LC_ALL=C.UTF-8 ${VIEW_ENV:-}
		stty -g >"$T/stty.before"
		"$OUTPUT/tcptop-view" $* <"$input" 2>"$T/stderr"
		echo \$? >"$T/status.tmp"
		stty -g >"$T/stty.after"
		mv "$T/status.tmp" "$T/status"
		exec sleep 600
	EOF
	# a fresh server each time: one being killed may still hold its socket
	[ -z "$SOCK" ] || tm kill-server 2>/dev/null || true
	NSESS=$((NSESS + 1))
	SOCK="tcptop-view-$$-$BATS_TEST_NUMBER-$NSESS"
	tm -f /dev/null new-session -d -x 120 -y 40 "bash $T/run.sh" 3>&-
}

screen() {
	tm capture-pane -p "$@"
}

# The pane line by line, each prefixed with the attributes in force at its first cell, as
# "[bold dim rev fg=N bg=N] text": capture-pane -e only writes changes, so replay them.
screen_attrs() {
	tm capture-pane -p -e | python3 -c '
import re, sys
st = {}
for line in sys.stdin.read().split("\n"):
    first = None
    for m in re.finditer(r"\x1b\[([0-9;]*)m|([^\x1b]+)", line):
        if m.group(2) is not None:
            if first is None and m.group(2).strip(" ") != "":
                first = dict(st)
            continue
        p = [int(x) if x else 0 for x in m.group(1).split(";")]
        i = 0
        while i < len(p):
            c = p[i]
            if c == 0: st = {}
            elif c in (1, 2, 4, 7): st[{1: "bold", 2: "dim", 4: "ul", 7: "rev"}[c]] = 1
            elif c == 22: st.pop("bold", None); st.pop("dim", None)
            elif c == 24: st.pop("ul", None)
            elif c == 27: st.pop("rev", None)
            elif 30 <= c <= 37: st["fg"] = c - 30
            elif c == 39: st.pop("fg", None)
            elif 40 <= c <= 47: st["bg"] = c - 40
            elif c == 49: st.pop("bg", None)
            elif c in (38, 48): i += 2
            i += 1
    first = first or {}
    keys = [k for k in ("bold", "dim", "ul", "rev") if k in first]
    keys += ["%s=%d" % (k, first[k]) for k in ("fg", "bg") if k in first]
    print("[%s] %s" % (" ".join(keys), re.sub(r"\x1b\[[0-9;]*m", "", line)))
'
}

# wait_screen TEXT: poll the pane (at most 10 s) until it shows TEXT.
wait_screen() {
	local i
	for i in $(seq 200); do
		screen | grep -qF -- "$1" && return 0
		sleep 0.05
	done
	echo "screen never showed: $1" >&2
	screen >&2
	return 1
}

# wait_gone TEXT: poll until the pane no longer shows TEXT.
wait_gone() {
	local i
	for i in $(seq 200); do
		screen | grep -qF -- "$1" || return 0
		sleep 0.05
	done
	echo "screen still shows: $1" >&2
	screen >&2
	return 1
}

# wait_exit STATUS: the view ended with STATUS and the terminal modes are those it found.
wait_exit() {
	local i
	for i in $(seq 200); do
		[ -f "$T/status" ] && break
		sleep 0.05
	done
	[ -f "$T/status" ] || { echo "the view did not exit" >&2; screen >&2; return 1; }
	echo "status $(cat "$T/status"), stderr: $(cat "$T/stderr")"
	[ "$(cat "$T/status")" = "$1" ]
	[ -s "$T/stty.before" ]
	diff "$T/stty.before" "$T/stty.after"
}

# The view switched the terminal to its own modes (so a missed restore would show).
assert_modes_changed() {
	local tty
	tty=$(tm display -p '#{pane_tty}')
	[ "$(stty -g -F "$tty")" != "$(cat "$T/stty.before")" ]
}

view_pid() {
	local shell
	shell=$(tm display -p '#{pane_pid}')
	ps -o pid= --ppid "$shell" | head -1 | tr -d ' '
}

HDR='header kind=snapshot real=1795996800 mono=100 interval=1 host="web1" backend="send=tp_btf recv=tp_btf" kernel="6.18.0" filter="port 443"'

# Three rows whose order differs between any two neighbouring columns.
three_rows() {
	cat <<'S'
row flow=1 cookie=11 proto=udp src=10.0.0.1:3000 dst=10.0.9.2:80 pid=200 comm="alpha" in=3000 out=2000 pin=10 pout=30 rate_in=100 rate_out=200 if=2 ifname="eth0" netns=4026531999
row flow=2 cookie=12 proto=tcp src=10.0.0.2:1000 dst=10.0.9.1:22 state=SYN_SENT pid=300 comm="bravo" in=1000 out=1000 pin=30 pout=20 rtt=500 rate_in=200 rate_out=300
row flow=3 cookie=13 proto=tcp src=[::1]:2000 dst=[::2]:443 state=ESTABLISHED pid=100 comm="charlie" in=2000 out=3000 pin=20 pout=10 rtt=900 rate_in=300 rate_out=100
S
}

basic_stream() {
	{
		echo "$HDR"
		echo "snap seq=7 time=1795996801.5 mono=101.5 span=1 interval=1"
		three_rows
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
}

# Process names of the table rows, top to bottom.
row_order() {
	screen | sed -n '5,$p' | grep -oE 'alpha|bravo|charlie' | tr '\n' ' '
}

wait_order() {
	local i
	for i in $(seq 200); do
		[ "$(row_order)" = "$1" ] && return 0
		sleep 0.05
	done
	echo "rows: '$(row_order)', expected '$1'" >&2
	screen >&2
	return 1
}

@test "--help lists every option and key, --version prints the version" {
	run -0 tcptop-view --help
	for o in --sort --reverse --raw-units --no-color --group --trend --closed --resolve \
		--dns-server --services --help --version; do
		assert_output --partial -- "$o"
	done
	assert_output --partial "default rx-rate"
	assert_output --partial "Exit status"
	run -0 tcptop-view --version
	assert_output "tcptop-view 0.1.0"
}

@test "--help's exit statuses are lib/contract.c's for tcptop-view, and tcptop-view(1) lists exactly them" {
	exit_statuses_agree tcptop-view tcptop-view.1
}

@test "bad options and bad --sort values: one line, usage status 64" {
	run -64 tcptop-view --bogus
	assert_output --partial "usage: tcptop-view"
	run -64 tcptop-view --sort nosuch
	assert_output --partial "--sort: unknown column 'nosuch'"
	run -64 tcptop-view extra-arg
	assert_output --partial "standard input"
}

@test "without a terminal it refuses and points at tcptop-csv (64)" {
	basic_stream
	run -64 setsid -w "$OUTPUT/tcptop-view" <"$T/in.tcpt"
	assert_output --partial "no terminal"
	assert_output --partial "tcptop-csv"
}

@test "a terminal type curses cannot drive: refused (64), terminal untouched" {
	basic_stream
	VIEW_ENV="TERM=no-such-terminal" start_view "$T/in.tcpt"
	wait_exit 64
	grep -q "cannot drive terminal type 'no-such-terminal'" "$T/stderr"
}

@test "stdin a terminal: refused, it must be a stream (64)" {
	start_view /dev/tty
	wait_exit 64
	grep -q "standard input is a terminal" "$T/stderr"
}

@test "header and rows show the right numbers" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_screen "charlie"
	run screen
	assert_line --index 0 --partial "web1  2026-11-30T00:00:01.500Z  interval 1s  span 1s  #7"
	assert_line --index 0 --partial "backend send=tp_btf recv=tp_btf  kernel 6.18.0"
	assert_line --index 1 --partial "TCP 2  UDP 1  RX 600 B/s  TX 600 B/s  total RX 5.86 KiB  TX 5.86 KiB  [port 443]"
	assert_line --index 3 --regexp '^  PROTO +LOCAL +REMOTE +PID +PROCESS +STATE +RX/s +TX/s +RX +TX +PKT-RX +PKT-TX +RTT'
	assert_line --index 4 --regexp '^  tcp6 +\[::1\]:2000 +\[::2\]:443 +100 +charlie +ESTABLISHED +300 B +100 B +1.95 KiB +2.93 KiB +20 +10 +900us'
	assert_line --index 5 --regexp '^  tcp +10.0.0.2:1000 +10.0.9.1:22 +300 +bravo +SYN_SENT +200 B +300 B +1000 B +1000 B +30 +20 +500us'
	assert_line --index 6 --regexp '^  udp +10.0.0.1:3000 +10.0.9.2:80 +200 +alpha +- +100 B +200 B +2.93 KiB +1.95 KiB +10 +30 +-'
	# u: raw numbers
	tm send-keys u
	wait_screen "RTT-us"
	run screen
	assert_line --index 4 --regexp 'charlie +ESTABLISHED +300 +100 +2000 +3000 +20 +10 +900 *$'
	assert_line --index 1 --partial "total RX 6000 B  TX 6000 B"
}

@test "--raw-units starts with exact numbers" {
	basic_stream
	start_view "$T/in.tcpt" --raw-units
	wait_screen "RTT-us"
	run screen
	assert_line --index 5 --regexp 'bravo +SYN_SENT +200 +300 +1000 +1000 +30 +20 +500 *$'
}

@test "human units: KiB, MiB, GiB, packets and RTT scale" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED pid=1 comm="big" in=5368709120 out=1572864 pin=1234567 pout=99999 rtt=2500000 rate_in=1536 rate_out=10485760'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "big"
	run screen
	assert_line --index 4 --regexp 'big +ESTABLISHED +1.50 KiB +10.0 MiB +5.00 GiB +1.50 MiB +1.23M +99999 +2.50s'
}

@test "sorting: every column in turn with Right, r reverses, Left goes back" {
	basic_stream
	start_view "$T/in.tcpt" --sort proto
	wait_order "bravo charlie alpha "
	local expect=(
		"local:alpha bravo charlie "
		"remote:bravo alpha charlie "
		"pid:charlie alpha bravo "
		"process:alpha bravo charlie "
		"state:alpha charlie bravo "
		"rx-rate:charlie bravo alpha "
		"tx-rate:bravo alpha charlie "
		"rx:alpha charlie bravo "
		"tx:charlie alpha bravo "
		"pkt-rx:bravo charlie alpha "
		"pkt-tx:alpha bravo charlie "
		"rtt:charlie bravo alpha "
	)
	local e
	for e in "${expect[@]}"; do
		tm send-keys Right
		wait_order "${e#*:}"
	done
	wait_screen "sort RTT (largest first)"
	tm send-keys r
	wait_order "alpha bravo charlie "
	wait_screen "sort RTT (smallest first)"
	tm send-keys Left
	wait_order "alpha bravo charlie "
	wait_screen "sort PKT-TX (largest first)"
	tm send-keys '<'
	wait_order "bravo charlie alpha "
	tm send-keys '>' '>'
	wait_order "charlie bravo alpha "
}

@test "--sort and --reverse choose the starting order" {
	basic_stream
	start_view "$T/in.tcpt" --sort tx --reverse
	wait_order "bravo alpha charlie "
	wait_screen "sort TX (smallest first)"
}

@test "filter as you type by process, address and port; Enter keeps it, Esc clears it" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_order "charlie bravo alpha "
	tm send-keys / b r
	wait_order "bravo "
	wait_screen "filter: br_"
	tm send-keys Enter
	wait_screen 'filter "br": 1 of 3'
	wait_order "bravo "
	tm send-keys / BSpace BSpace
	wait_order "charlie bravo alpha "
	tm send-keys 1 0 . 0 . 9 . 2
	wait_order "alpha "
	tm send-keys C-u : 4 4 3
	wait_order "charlie "
	tm send-keys Escape
	wait_order "charlie bravo alpha "
	wait_gone 'filter "'
}

# 100 rows: the selection moves with the keys and the table scrolls to keep it visible.
many_rows() {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801"
		for i in $(seq 1 100); do
			echo "row flow=$i proto=tcp src=10.0.0.1:$((1000 + i)) dst=10.0.0.2:80 state=ESTABLISHED pid=$i comm=\"p$i\" rate_in=$((1000 - i))"
		done
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
}

# The process name on the selected (reverse video) row, monochrome.
selected() {
	screen_attrs | sed -n '5,$p' | grep -E '^\[[^]]*rev' | grep -oE ' (p[0-9]+|one|two|three) ' |
		tr -d ' '
}

wait_selected() {
	local i
	for i in $(seq 200); do
		[ "$(selected)" = "$1" ] && return 0
		sleep 0.05
	done
	echo "selected '$(selected)', expected '$1'" >&2
	return 1
}

@test "scroll: Up, Down, PgDn, PgUp, Home, End move a visible selection" {
	many_rows
	VIEW_ENV="NO_COLOR=1" start_view "$T/in.tcpt"
	wait_screen "p1 "
	wait_selected p1
	tm send-keys Down Down
	wait_selected p3
	tm send-keys Up
	wait_selected p2
	tm send-keys End
	wait_selected p100
	wait_gone " p1 "
	tm send-keys Home
	wait_selected p1
	tm send-keys NPage
	wait_selected p35
	wait_screen " p35 "
	tm send-keys PPage
	wait_selected p1
}

# split_stream: $T/a.tcpt holds header and the first snapshot, $T/b.tcpt the rest.
split_stream() {
	local first=$1 rest=$2
	printf '%s\n' "$first" | gen -o "$T/first.tcpt"
	printf '%s\n%s\n' "$first" "$rest" | gen -o "$T/all.tcpt"
	local n
	n=$(stat -c %s "$T/first.tcpt")
	head -c "$n" "$T/all.tcpt" >"$T/a.tcpt"
	tail -c "+$((n + 1))" "$T/all.tcpt" >"$T/b.tcpt"
}

# start_fifo: the view reads a FIFO the test writes into on fd 4.
start_fifo() {
	mkfifo "$T/fifo"
	start_view "$T/fifo" "$@"
	exec 4>"$T/fifo"
}

snap() {
	local seq=$1
	shift
	echo "snap seq=$seq time=$((1795996800 + seq)) mono=$((100 + seq)) span=1"
	printf '%s\n' "$@"
	echo "snapend"
}

@test "pause holds the display while input keeps being read; p shows the newest" {
	split_stream "$HDR
$(snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED comm="first" pid=1 in=111')" \
		"$(snap 2 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED comm="first" pid=1 in=222')
$(snap 3 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED comm="first" pid=1 in=333')
end"
	start_fifo --raw-units
	cat "$T/a.tcpt" >&4
	wait_screen "#1 "
	wait_screen " 111 "
	tm send-keys p
	wait_screen "PAUSED"
	cat "$T/b.tcpt" >&4
	exec 4>&-
	wait_screen "2 newer snapshots read"
	wait_screen "stream ended"
	run screen
	assert_output --partial " 111 "
	assert_output --partial "#1 "
	tm send-keys p
	wait_screen " 333 "
	wait_screen "#3 "
	wait_gone "PAUSED"
	tm send-keys q
	wait_exit 0
}

@test "the selection stays on the same connection when rows reorder" {
	local r1='row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED comm="one" pid=1'
	local r2='row flow=2 proto=tcp src=10.0.0.1:3 dst=10.0.0.2:4 state=ESTABLISHED comm="two" pid=2'
	local r3='row flow=3 proto=tcp src=10.0.0.1:5 dst=10.0.0.2:6 state=ESTABLISHED comm="three" pid=3'
	split_stream "$HDR
$(snap 1 "$r1 rate_in=300" "$r2 rate_in=200" "$r3 rate_in=100")" \
		"$(snap 2 "$r1 rate_in=100" "$r2 rate_in=200" "$r3 rate_in=300")
end"
	VIEW_ENV="NO_COLOR=1" start_fifo
	cat "$T/a.tcpt" >&4
	wait_screen "three"
	wait_selected one
	tm send-keys Down
	wait_selected two
	tm send-keys Up
	wait_selected one
	cat "$T/b.tcpt" >&4
	exec 4>&-
	wait_screen "stream ended"
	# "one" moved from the top to the bottom, and is still the selected row
	[ "$(screen | sed -n 5p | grep -o three)" = three ]
	[ "$(screen | sed -n 7p | grep -o one)" = one ]
	wait_selected one
}

@test "help screen with ? lists the keys; any key returns" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_screen "charlie"
	run bash -c "tmux -L '$SOCK' capture-pane -p | sed -n 40p"
	assert_output --partial "q quit  Up/Dn select  </> sort  r reverse  / filter  p pause  u units  Enter details  a group  c closed  ? help"
	tm send-keys '?'
	wait_screen "tcptop-view keys"
	run screen
	for k in "q, Ctrl-C" "PgUp, PgDn" "Home, End" "Left, Right" "reverse the sort" "filter by" \
		"pause the display" "raw numbers" "every field of the selected" "group by process" \
		"last closed connections" "trend of each row" "time travel" "host names" \
		"service names"; do
		assert_output --partial "$k"
	done
	tm send-keys x
	wait_gone "tcptop-view keys"
	wait_screen "charlie"
}

@test "Ctrl-L repaints a garbled screen" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_screen "charlie"
	printf '\033[10;5HGARBAGE-ON-SCREEN' >"$(tm display -p '#{pane_tty}')"
	wait_screen "GARBAGE-ON-SCREEN"
	tm send-keys C-l
	wait_gone "GARBAGE-ON-SCREEN"
	wait_screen "charlie"
}

@test "Enter shows every field of the selected connection; Esc returns" {
	basic_stream
	start_view "$T/in.tcpt" --sort process
	wait_order "alpha bravo charlie "
	tm send-keys Enter
	wait_screen "Connection details"
	run screen
	assert_output --partial "protocol      UDP, IPv4"
	assert_output --partial "local         10.0.0.1:3000"
	assert_output --partial "remote        10.0.9.2:80"
	assert_output --partial "interface     eth0 (index 2)"
	assert_output --partial "netns         4026531999"
	assert_output --partial "socket cookie 11   flow 1"
	assert_output --partial "process       alpha   pid 200"
	assert_output --partial "received      3000 bytes (2.93 KiB)  10 packets"
	assert_output --partial "sent          2000 bytes (1.95 KiB)  30 packets"
	assert_output --partial "rate          in 100 B/s (100 B/s)  out 200 B/s (200 B/s)"
	tm send-keys Escape
	wait_gone "Connection details"
	wait_order "alpha bravo charlie "
}

@test "resize: columns adapt to the new width" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_screen "charlie"
	run screen
	assert_line --index 3 --partial "PKT-RX"
	tm resize-window -x 70 -y 20
	wait_gone "PKT-RX"
	run screen
	# dropped first: packets, totals, RTT, then the state
	assert_line --index 3 --regexp '^  PROTO +LOCAL +REMOTE +PID +PROCESS +RX/s +TX/s *$'
	assert_line --index 4 --regexp '^  tcp6 +\[::1\]:2000 +\[::2\]:443 +100 +charlie +300 B +100 B *$'
	local line
	while IFS= read -r line; do
		[ "${#line}" -le 70 ]
	done < <(screen)
	[ "$(screen | wc -l)" -eq 20 ]
	run bash -c "tmux -L '$SOCK' capture-pane -p | sed -n 20p"
	assert_output --partial "q quit"
	tm resize-window -x 120 -y 40
	wait_screen "PKT-RX"
}

@test "long IPv6 addresses are elided in the middle, the port kept" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801"
		echo 'row flow=1 proto=tcp src=[2001:db8:85a3:1111:2222:8a2e:370:7334]:443 dst=[2001:db8:85a3:3333:4444:8a2e:370:9999]:61000 state=ESTABLISHED pid=42 comm="longaddr" rate_in=10'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "longaddr"
	run screen
	assert_line --index 4 --regexp '^  tcp6 +\[2001:db8:[0-9a-f:]*…[0-9a-f:]*\]:443 +\[2001:db8:[0-9a-f:]*…[0-9a-f:]*\]:61000 +42 +longaddr'
	tm send-keys Enter
	wait_screen "local         [2001:db8:85a3:1111:2222:8a2e:370:7334]:443"
	wait_screen "remote        [2001:db8:85a3:3333:4444:8a2e:370:9999]:61000"
}

@test "closed rows are dimmed, new rows marked (attributes via capture-pane -e)" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED pid=1 comm="steady" rate_in=300'
		echo 'row flow=2 proto=tcp src=10.0.0.1:3 dst=10.0.0.2:4 state=CLOSE pid=2 comm="gone" rate_in=200 closed'
		echo 'row flow=3 proto=tcp src=10.0.0.1:5 dst=10.0.0.2:6 state=ESTABLISHED pid=3 comm="fresh" rate_in=100 new'
		echo 'row flow=4 proto=tcp src=10.0.0.1:7 dst=10.0.0.2:8 state=CLOSE pid=4 comm="brief" rate_in=50 new closed'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
	VIEW_ENV="NO_COLOR=1" start_view "$T/in.tcpt"
	wait_screen "fresh"
	run screen
	assert_line --index 5 --regexp '^- tcp .* gone '
	assert_line --index 6 --regexp '^\+ tcp .* fresh '
	run screen_attrs
	assert_line --index 5 --regexp '^\[dim\] - tcp .* gone '
	assert_line --index 6 --regexp '^\[bold\] \+ tcp .* fresh '
	assert_line --index 4 --regexp '^\[rev\]   tcp .* steady '
	# opened and closed within the interval: shown as closed
	assert_line --index 7 --regexp '^\[dim\] - tcp .* brief '
	# with colours the closed row is dimmed too
	tm kill-server
	start_view "$T/in.tcpt"
	wait_screen "fresh"
	run screen_attrs
	assert_line --index 5 --regexp '^\[dim\] - tcp .* gone '
	assert_line --index 6 --regexp '^\[bold fg=2\] \+ tcp .* fresh '
}

@test "colours by meaning, and NO_COLOR or --no-color give monochrome" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_screen "charlie"
	run screen_attrs
	assert_line --index 3 --regexp '^\[fg=0 bg=2\]   PROTO'
	assert_line --index 4 --regexp '^\[fg=0 bg=6\]   tcp6'
	assert_line --index 2 --regexp '^\[bold fg=3\] stream ended'
	local opt
	for opt in --no-color NO_COLOR; do
		tm kill-server
		if [ $opt = NO_COLOR ]; then
			VIEW_ENV="NO_COLOR=1" start_view "$T/in.tcpt"
		else
			start_view "$T/in.tcpt" $opt
		fi
		wait_screen "charlie"
		run screen_attrs
		refute_output --partial "fg="
		refute_output --partial "bg="
		assert_line --index 3 --regexp '^\[rev\]   PROTO'
		assert_line --index 4 --regexp '^\[rev\]   tcp6'
		assert_line --index 2 --regexp '^\[bold\] stream ended'
	done
}

@test "hostile names: no raw escape reaches the terminal, rows stay aligned" {
	{
		echo 'header kind=snapshot real=1795996800 mono=100 interval=1 host="evil\x1b]2;pwned-host\x07\x1b[2J" backend="b\x1b[31m" kernel="k\n"'
		echo "snap seq=1 time=1795996801"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED pid=1 comm="\x1b]2;pwned\x07" rate_in=600'
		echo 'row flow=2 proto=tcp src=10.0.0.1:3 dst=10.0.0.2:4 state=ESTABLISHED pid=2 comm="a\x1b[31mred\x9b" rate_in=500'
		echo 'row flow=3 proto=tcp src=10.0.0.1:5 dst=10.0.0.2:6 state=ESTABLISHED pid=3 comm="\xe2\x80\xaeevil\nx\ty" rate_in=400'
		echo 'row flow=4 proto=tcp src=10.0.0.1:7 dst=10.0.0.2:8 state=ESTABLISHED pid=4 comm="\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac" rate_in=300'
		echo 'row flow=5 proto=tcp src=10.0.0.1:9 dst=10.0.0.2:10 state=ESTABLISHED pid=5 comm="\xff\xfe\x80plain" rate_in=200 ifname="\x1b[5m"'
		echo 'row flow=6 proto=tcp src=10.0.0.1:11 dst=10.0.0.2:12 state=ESTABLISHED pid=6 comm="ok" rate_in=100'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "ESTABLISHED"
	run screen
	assert_output --partial 'evil\x1B]2;pwned-host\x07\x1B[2J'
	# names wider than the column are cut (the detail view shows all of them)
	assert_output --partial '\x1B]2;pwned\x'
	assert_output --partial 'a\x1B[31mred\x'
	assert_output --partial '\u{202E}evil\x'
	assert_output --partial '\xFF\xFE\x80pl'
	refute_output --partial $'\e'
	[ "$(tm display -p '#{pane_title}')" != pwned ]
	[ "$(tm display -p '#{pane_title}')" != pwned-host ]
	# rows aligned: the state column starts at the same display column on every row
	screen | sed -n '5,10p' >"$T/rows"
	run python3 -c '
import sys, unicodedata
cols = set()
for line in open(sys.argv[1], encoding="utf-8"):
    i = line.index("ESTABLISHED")
    cols.add(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[:i]))
print(sorted(cols))
sys.exit(len(cols) != 1)' "$T/rows"
	assert_success
	tm send-keys Down Down Enter
	wait_screen 'process       \u{202E}evil\x0Ax\x09y   pid 3'
	tm send-keys Escape
	wait_gone "Connection details"
	# the detail view sanitises the interface name too
	tm send-keys End Up Enter
	wait_screen "Connection details"
	wait_screen 'interface     \x1B[5m'
	run screen
	refute_output --partial $'\e'
}

@test "outside a UTF-8 locale names stay ASCII and rows aligned" {
	{
		echo 'header kind=snapshot host="h\xc3\xb6st"'
		echo "snap seq=1 time=1795996801"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED pid=1 comm="\xe6\x97\xa5\xe6\x9c\xac" rate_in=2'
		echo 'row flow=2 proto=tcp src=10.0.0.1:3 dst=10.0.0.2:4 state=ESTABLISHED pid=2 comm="caf\xc3\xa9\x01" rate_in=1'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
	VIEW_ENV="LANG=C LC_ALL=C" start_view "$T/in.tcpt"
	wait_screen "ESTABLISHED"
	run screen
	assert_line --index 0 --partial "h?st  "
	assert_line --index 4 --regexp '^  tcp +10.0.0.1:1 +10.0.0.2:2 +1 +\?\? +ESTABLISHED'
	assert_line --index 5 --regexp '^  tcp +10.0.0.1:3 +10.0.0.2:4 +2 +caf\?\\x01 +ESTABLISHED'
	[ "$(screen | sed -n 5p | grep -bo ESTABLISHED)" = "$(screen | sed -n 6p | grep -bo ESTABLISHED)" ]
	refute_output --partial "M-"
}

@test "an empty snapshot and a filter that matches nothing say so" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801"
		echo "snapend"
		echo "snap seq=2 time=1795996802"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 state=ESTABLISHED pid=1 comm="x"'
		echo "snapend"
	} | gen -o "$T/two.tcpt"
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801"
		echo "snapend"
		echo end
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "(no connections)"
	tm kill-server
	start_view "$T/two.tcpt"
	wait_screen "ESTABLISHED"
	tm send-keys / z z z
	wait_screen "(no connection matches the filter)"
}

@test "end of input: 'stream ended', waits for q, terminal restored (0)" {
	basic_stream
	start_view "$T/in.tcpt"
	wait_screen "stream ended: press q to quit"
	assert_modes_changed
	sleep 0.2
	[ ! -f "$T/status" ]
	tm send-keys q
	wait_exit 0
}

@test "input stopped without END: said on screen and on stderr, exit 0" {
	{
		echo "$HDR"
		snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="x" pid=1'
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "stream ended without END"
	tm send-keys q
	wait_exit 0
	grep -q "without an END record" "$T/stderr"
}

@test "q quits and restores the terminal (0)" {
	basic_stream
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "charlie"
	assert_modes_changed
	tm send-keys q
	wait_exit 0
	exec 4>&-
}

@test "Ctrl-C restores the terminal, exit 130" {
	echo "$HDR" | gen -o "$T/in.tcpt"
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "waiting for the first snapshot"
	assert_modes_changed
	tm send-keys C-c
	wait_exit 130
	exec 4>&-
}

# stop_stalled SIG STATUS: SIG to the view, whose input says nothing more; it must end within
# 1 s with STATUS and the terminal as it was.
stop_stalled() {
	local t0 ms pid
	pid=$(view_pid)
	t0=$(date +%s%N)
	kill -"$1" "$pid"
	# the view's own end (the pane's shell reaps it at once), not the status file the shell
	# writes after it
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt 1000 ] || fail "SIG$1: ended after $ms ms"
	wait_exit "$2"
}

@test "a stalled input cannot hold the view: SIGINT and SIGTERM end it within 1 s, terminal restored" {
	# a snapshot, then nothing: the reader thread waits in read(2), the table is up
	{
		echo "$HDR"
		snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="x" pid=1'
	} | gen -o "$T/in.tcpt"
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "10.0.0.1:1"
	assert_modes_changed
	stop_stalled INT 130
	exec 4>&-
	tm kill-server
	rm -f "$T/fifo" "$T/status"
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "10.0.0.1:1"
	stop_stalled TERM 143
	exec 4>&-
	# nothing at all yet: still waiting for the stream header, the terminal untouched
	tm kill-server
	rm -f "$T/fifo" "$T/status"
	start_fifo
	sleep 0.3
	stop_stalled INT 130
	exec 4>&-
}

@test "Ctrl-Z suspends with the terminal restored; fg brings the table back" {
	basic_stream
	NSESS=$((NSESS + 1))
	SOCK="tcptop-view-$$-$BATS_TEST_NUMBER-$NSESS"
	tm -f /dev/null new-session -d -x 120 -y 40 \
		"env -i PATH='$PATH' HOME='$HOME' TERM=screen LANG=C.UTF-8 PS1='$ ' bash --norc --noprofile -i" 3>&-
	tm send-keys "stty -g >$T/stty.before; tcptop-view <$T/in.tcpt 2>$T/stderr" Enter
	wait_screen "stream ended: press q"
	assert_modes_changed
	tm send-keys C-z
	wait_screen "Stopped"
	tm send-keys "stty -g >$T/stty.stopped" Enter
	for i in $(seq 100); do [ -s "$T/stty.stopped" ] && break; sleep 0.05; done
	diff "$T/stty.before" "$T/stty.stopped"
	tm send-keys "fg" Enter
	wait_screen "stream ended: press q"
	wait_screen "charlie"
	tm send-keys q
	wait_gone "charlie"
	# $? of fg is the view's status
	tm send-keys "echo \$? >$T/status.tmp; stty -g >$T/stty.after; mv $T/status.tmp $T/status" Enter
	wait_exit 0
}

@test "SIGTERM and SIGHUP restore the terminal, exit 143 and 129" {
	basic_stream
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "charlie"
	assert_modes_changed
	kill -TERM "$(view_pid)"
	wait_exit 143
	exec 4>&-
	tm kill-server
	rm -f "$T/fifo" "$T/status"
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "charlie"
	kill -HUP "$(view_pid)"
	wait_exit 129
	exec 4>&-
}

@test "fatal signals (SIGSEGV, SIGABRT): terminal restored, then the signal's own death" {
	basic_stream
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "charlie"
	assert_modes_changed
	kill -SEGV "$(view_pid)"
	wait_exit 139
	exec 4>&-
	tm kill-server
	rm -f "$T/fifo" "$T/status"
	start_fifo
	cat "$T/in.tcpt" >&4
	wait_screen "charlie"
	kill -ABRT "$(view_pid)"
	wait_exit 134
	exec 4>&-
}

@test "corrupt input after a good snapshot: terminal restored, the error with its offset (65)" {
	# the SNAP_END (record 5, the header is 0) of the second file has a bad trailer
	gen --corrupt-trailer 5 -o "$T/bad.tcpt" < <(echo "$HDR"; echo "snap seq=1 time=1795996801"; three_rows; echo snapend; echo end)
	split_stream "$HDR
$(snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="good" pid=1')" ""
	start_fifo
	cat "$T/a.tcpt" >&4
	wait_screen "good"
	assert_modes_changed
	printf 'garbage!garbage!garbage!' >&4
	wait_exit 65
	exec 4>&-
	grep -qE "^tcptop-view: -: .* at byte [0-9]+" "$T/stderr"
	tm kill-server
	rm -f "$T/status"
	start_view "$T/bad.tcpt"
	wait_exit 65
	grep -q "record trailer at byte" "$T/stderr"
}

@test "wrong kind of stream, empty or truncated input, read errors: refused before drawing" {
	echo 'header kind=raw' | gen -o "$T/raw.tcpt"
	start_view "$T/raw.tcpt"
	wait_exit 65
	grep -q "tcptop-agg" "$T/stderr"
	tm kill-server
	rm -f "$T/status"
	: >"$T/empty"
	start_view "$T/empty"
	wait_exit 65
	grep -q "empty input" "$T/stderr"
	tm kill-server
	rm -f "$T/status"
	start_view /
	wait_exit 74
	grep -q "read error" "$T/stderr"
}

@test "concatenated streams: a second section's snapshots are shown" {
	{
		echo "$HDR"
		snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="sect1" pid=1'
		echo end
	} | gen -o "$T/s1.tcpt"
	{
		echo 'header kind=snapshot real=1795996900 mono=100 interval=2 host="second"'
		snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="sect2" pid=1'
		echo end
	} | gen -o "$T/s2.tcpt"
	cat "$T/s1.tcpt" "$T/s2.tcpt" >"$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "stream ended"
	wait_screen "sect2"
	wait_screen "second  2026-11-30T00:00:01.000Z"
}

@test "loss is shown as a warning" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801 ringbuf=12 flow_table_full=3"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="x" pid=1'
		echo snapend
		echo end
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "LOSS: ringbuf=12 flow_table_full=3"
	run screen_attrs
	assert_line --index 2 --regexp '^\[bold fg=7 bg=1\] LOSS: ringbuf=12 flow_table_full=3  stream ended'
}

@test "a partial interval and connections hidden by the producer's filters are shown" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801 partial hidden=17"
		echo 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="x" pid=1'
		echo snapend
		echo end
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "PARTIAL interval"
	run screen
	assert_line --index 1 --partial "hidden by filters 17  [port 443]"
}

@test "loss counters that are all zero are no warning" {
	split_stream "$HDR
$(snap 1 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="x" pid=1' | sed '1s/$/ ringbuf=0 agg_gap=2/')" \
		"$(snap 2 'row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 comm="x" pid=1' | sed '1s/$/ ringbuf=0 flow_evicted=0/')
end"
	start_fifo
	cat "$T/a.tcpt" >&4
	wait_screen "LOSS: agg_gap=2  "
	cat "$T/b.tcpt" >&4
	exec 4>&-
	wait_screen "#2 "
	wait_screen "stream ended"
	run screen
	refute_output --partial "LOSS"
}

@test "bench-view: the frame benchmark runs, and its fast sort agrees with the comparator" {
	run -0 "$OUTPUT/tcptop-view-bench" 2000
	assert_output --partial "2000 rows"
	assert_output --regexp "frame CPU time: median [0-9.]+ ms, 90th percentile [0-9.]+ ms"
	assert_output --partial "order checked against the comparator after every frame: ok"
}

# ---- issue 15: cgroups, failed connects, groups, history, names ----

CG_HEX=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

# Four rows, two of them alpha's (pid 200), with cgroups; bravo's connect failed.
cgroup_stream() {
	{
		echo "$HDR missing=\"udp-peers rtt owners\""
		echo 'cgroup id=21 path="/system.slice/alpha.service"'
		echo "cgroup id=22 path=\"/system.slice/docker-$CG_HEX.scope\""
		echo "snap seq=7 time=1795996801.5 mono=101.5 span=1 interval=1"
		three_rows | sed -e 's/comm="alpha"/& cgroup=21/' -e 's/comm="charlie"/& cgroup=22/' \
			-e 's/state=SYN_SENT/& closed failed/'
		echo 'row flow=4 cookie=14 proto=tcp src=10.0.0.1:3001 dst=10.0.9.4:443 pid=200 comm="alpha" in=500 out=500 rate_in=1000 rate_out=1000 cgroup=21'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
}

@test "cgroup column, FAILED connects in red, the collector's missing features in the header" {
	cgroup_stream
	start_view "$T/in.tcpt" --sort process
	wait_screen "charlie"
	run screen
	# the words of lib/contract.h in its order, then a word this version does not know
	assert_output --partial "missing: owners udp-peers rtt"
	assert_line --index 3 --regexp ' CGROUP *$'
	assert_line --regexp '^  tcp +10\.0\.0\.1:3001 .* alpha +ESTABLISHED .* alpha\.service *$'
	assert_line --regexp 'bravo +FAILED'
	assert_line --regexp 'charlie .* 0123456789ab *$'
	# rtt is no feature a collector leaves out (no collector ever wrote it): the RTT shows
	assert_line --regexp 'charlie +ESTABLISHED .* 900us +0123456789ab'
	run screen_attrs
	assert_line --regexp '^\[bold fg=1\] -.*bravo +FAILED'
	# the filter matches cgroups too
	tm send-keys / a l p h a . s e
	wait_screen 'filter: alpha.se_'
	run screen
	assert_output --partial "alpha.service"
	refute_output --partial "charlie"
	tm send-keys Enter
	tm send-keys q
	wait_exit 0
}

@test "a groups by process, then by cgroup, then not; Enter opens a group; sort applies" {
	cgroup_stream
	start_view "$T/in.tcpt"
	wait_screen "charlie"
	tm send-keys a
	wait_screen "by process"
	run screen
	assert_line --regexp '^. +2 conns +200 alpha .* 1\.07 KiB .*alpha\.service'
	assert_line --regexp '1 conn +300 bravo'
	# sorted by RX/s: alpha's 1100 B/s first
	assert_line --index 4 --regexp '2 conns +200 alpha'
	assert_line --index 5 --regexp '1 conn +100 charlie'
	assert_line --index 6 --regexp '1 conn +300 bravo'
	tm send-keys Enter
	wait_screen "10.0.0.1:3001"
	run screen
	assert_line --regexp '^.   tcp +10\.0\.0\.1:3001'
	assert_line --regexp '^.   udp +10\.0\.0\.1:3000'
	tm send-keys Enter
	wait_gone "10.0.0.1:3001"
	# charlie's IPv6 connection keeps its whole PROTO under the group ("tc…" before)
	tm send-keys Down Enter
	wait_screen "[::1]:2000"
	run screen
	assert_line --regexp '^.   tcp6 +\[::1\]:2000 +\[::2\]:443 +100 +charlie'
	tm send-keys Enter
	wait_gone "[::1]:2000"
	tm send-keys a
	wait_screen "by cgroup"
	run screen
	assert_line --regexp '2 conns .* alpha\.service'
	assert_line --regexp '1 conn .* 0123456789ab'
	assert_line --regexp '1 conn .* - *$'
	tm send-keys a
	wait_gone "by cgroup"
	wait_screen "10.0.0.1:3001"
	tm send-keys q
	wait_exit 0
}

# Four snapshots: alpha speeds up, bravo closes in the second, the last is empty.
history_stream() {
	{
		echo "$HDR"
		echo 'snap seq=1 time=1795996801 mono=101 span=1 interval=1'
		echo 'row flow=1 src=10.0.0.1:3000 dst=10.0.9.2:80 pid=200 comm="alpha" in=100 rate_in=100'
		echo 'row flow=2 src=10.0.0.1:4000 dst=10.0.9.3:80 pid=300 comm="bravo" in=500 rate_in=500 new'
		echo 'snapend'
		echo 'snap seq=2 time=1795996802 mono=102 span=1 interval=1'
		echo 'row flow=1 src=10.0.0.1:3000 dst=10.0.9.2:80 pid=200 comm="alpha" in=500 rate_in=400'
		echo 'row flow=2 src=10.0.0.1:4000 dst=10.0.9.3:80 pid=300 comm="bravo" in=77777 rate_in=50 closed state=CLOSE'
		echo 'snapend'
		echo 'snap seq=3 time=1795996803 mono=103 span=1 interval=1'
		echo 'row flow=1 src=10.0.0.1:3000 dst=10.0.9.2:80 pid=200 comm="alpha" in=1300 rate_in=800'
		echo 'snapend'
		echo 'snap seq=4 time=1795996804 mono=104 span=1 interval=1'
		echo 'snapend'
		echo 'end'
	} | gen -o "$T/in.tcpt"
}

@test "end of a recording: the last snapshot with rows stays, marked; [ and ] travel in time" {
	history_stream
	start_view "$T/in.tcpt" --raw-units
	wait_screen "END OF RECORDING"
	run screen
	assert_line --index 0 --partial "#3"
	assert_output --partial "alpha"
	refute_output --partial "bravo"
	tm send-keys '['
	wait_screen "TIME TRAVEL 2/4"
	run screen
	assert_line --index 0 --partial "#2"
	assert_output --partial "bravo"
	tm send-keys '[' '['
	wait_screen "TIME TRAVEL 1/4"
	tm send-keys ']' ']'
	wait_screen "TIME TRAVEL 3/4"
	tm send-keys ']'
	wait_screen "(no connections)"
	run screen
	assert_line --index 0 --partial "#4"
	assert_output --partial "stream ended"
	refute_output --partial "TIME TRAVEL"
	tm send-keys q
	wait_exit 0
}

@test "c lists the last closed connections with their final totals; --closed bounds them" {
	history_stream
	start_view "$T/in.tcpt" --raw-units
	wait_screen "END OF RECORDING"
	tm send-keys c
	wait_screen "CLOSED: last 1 (at most 1000)"
	run screen
	assert_line --regexp '^- tcp +10\.0\.0\.1:4000 .* bravo +CLOSE .* 77777 '
	refute_output --partial "alpha"
	tm send-keys c
	wait_gone "CLOSED:"
	wait_screen "alpha"
	tm send-keys q
	wait_exit 0
	start_view "$T/in.tcpt" --closed 0
	wait_screen "END OF RECORDING"
	tm send-keys c
	wait_screen "CLOSED: last 0 (at most 0)"
	tm send-keys q
	wait_exit 0
	run -64 tcptop-view --closed 2000000 <"$T/in.tcpt"
	assert_output --partial "too large"
}

@test "on an 80x24 terminal the detail view packs its fields and keeps the rate graph" {
	history_stream
	start_view "$T/in.tcpt"
	wait_screen "END OF RECORDING"
	tm resize-window -x 80 -y 24
	tm send-keys Enter
	wait_screen "Connection details"
	run screen
	assert_output --partial "pid 200"
	assert_output --regexp "received +1300 bytes"
	assert_output --partial "rate in+out, last 60 snapshots (3 seen), top 800 B/s"
	# the graph: at least 3 rows of bars between its title and its axis
	run bash -c "tmux -L '$SOCK' capture-pane -p | sed -n '/rate in+out/,/^ +-/p' | grep -c '^ |'"
	[ "$output" -ge 3 ]
	local line
	while IFS= read -r line; do
		[ "${#line}" -le 80 ]
	done < <(screen)
	tm send-keys q
	wait_exit 0
}

@test "t shows each row's trend, in blocks or ASCII; the detail view graphs 60 snapshots" {
	history_stream
	start_view "$T/in.tcpt"
	wait_screen "END OF RECORDING"
	tm send-keys t
	wait_screen "TREND"
	run screen
	# alpha: 100, 400, 800 B/s over the three snapshots it was in
	assert_line --regexp 'alpha .* ▁▄█ *$'
	tm send-keys Enter
	wait_screen "Connection details"
	run screen
	assert_output --partial "rate in+out, last 60 snapshots (3 seen), top 800 B/s"
	assert_output --partial "█"
	tm send-keys q
	wait_exit 0
	VIEW_ENV="LANG=C LC_ALL=C" start_view "$T/in.tcpt" --trend
	wait_screen "TREND"
	run screen
	assert_line --regexp 'alpha .* [.]=@ *$'
	tm send-keys q
	wait_exit 0
}

@test "the / filter takes UTF-8 text, and Backspace removes a whole character" {
	{
		echo "$HDR"
		echo "snap seq=1 time=1795996801.5 mono=101.5 span=1 interval=1"
		three_rows | sed 's/comm="bravo"/comm="br\\xc3\\xa4vo"/'
		echo "snapend"
		echo "end"
	} | gen -o "$T/in.tcpt"
	start_view "$T/in.tcpt"
	wait_screen "bräv"
	tm send-keys / 'ä'
	wait_screen 'filter: ä_'
	run screen
	assert_output --partial "bräv"
	refute_output --partial "alpha"
	tm send-keys BSpace
	wait_screen 'filter: _'
	wait_screen "alpha"
	tm send-keys 'räv' Enter
	wait_screen 'filter "räv": 1 of 3'
	tm send-keys q
	wait_exit 0
}

@test "n shows ports as service names; d host names from a DNS server on loopback, never waiting" {
	basic_stream
	python3 "$TCPTOP_SRC/tests/dns/dns-server.py" "$T/dns.port" 10.0.9.2=alpha-peer.example \
		10.0.9.1=bravo-peer.example 3>&- &
	DNS_PID=$!
	for i in $(seq 100); do [ -s "$T/dns.port" ] && break; sleep 0.05; done
	start_view "$T/in.tcpt" --dns-server "127.0.0.1:$(cat "$T/dns.port")"
	wait_screen "charlie"
	tm send-keys n
	wait_screen "10.0.9.1:ssh"
	run screen
	assert_output --partial "[::2]:https"
	tm send-keys n d
	wait_screen "alpha-peer.example:80"
	run screen
	assert_output --partial "bravo-peer.example:22"
	# no name for ::2 (NXDOMAIN): the address stays
	assert_output --partial "[::2]:443"
	grep -q '^2\.9\.0\.10\.in-addr\.arpa$' "$T/dns.port.log"
	tm send-keys q
	wait_exit 0
	kill "$DNS_PID"
	# a server that never answers: the table is drawn and keys work at once
	rm -f "$T/dns.port" "$T/dns.port.log"
	python3 "$TCPTOP_SRC/tests/dns/dns-server.py" "$T/dns.port" --silent 3>&- &
	DNS_PID=$!
	for i in $(seq 100); do [ -s "$T/dns.port" ] && break; sleep 0.05; done
	start_view "$T/in.tcpt" --resolve --dns-server "127.0.0.1:$(cat "$T/dns.port")"
	wait_screen "10.0.9.2:80"
	for i in $(seq 100); do [ -s "$T/dns.port.log" ] && break; sleep 0.05; done
	[ -s "$T/dns.port.log" ]
	tm send-keys r
	wait_screen "(smallest first)"
	run screen
	assert_output --partial "10.0.9.2:80"
	tm send-keys q
	wait_exit 0
	kill "$DNS_PID"
}

@test "--dns-server that is no address: 64 before the screen changes (the resolver starts with the view)" {
	basic_stream
	start_view "$T/in.tcpt" --resolve --dns-server dns.example
	wait_exit 64
	grep -q -- "--dns-server dns.example: not ADDR or ADDR:PORT" "$T/stderr"
	start_view "$T/in.tcpt" --dns-server 127.0.0.1:0
	wait_exit 64
}

@test "the resolver's own queries leave the table by who sent them; the same ports from anyone else stay" {
	python3 "$TCPTOP_SRC/tests/dns/dns-server.py" "$T/dns.port" 3>&- &
	DNS_PID=$!
	for i in $(seq 100); do [ -s "$T/dns.port" ] && break; sleep 0.05; done
	local sport netns boot pane vpid lport
	sport=$(cat "$T/dns.port")
	netns=$(stat -L -c %i /proc/self/ns/net)
	boot=$(cat /proc/sys/kernel/random/boot_id)
	# the input comes through a FIFO: the header first (the view reads it before it starts),
	# the rows once the view's pid and its resolver's port are known
	mkfifo "$T/fifo"
	exec 5<>"$T/fifo"
	printf '%s\n' "header kind=snapshot real=1795996800 mono=100 interval=1 host=\"web1\" boot=$boot" |
		gen -o "$T/head.tcpt"
	cat "$T/head.tcpt" >&5
	start_view "$T/fifo" --resolve --dns-server "127.0.0.1:$sport"
	for i in $(seq 200); do
		pane=$(tm display -p '#{pane_pid}' 2>/dev/null)
		vpid=$(pgrep -P "$pane" -x tcptop-view) && [ -n "$vpid" ] &&
			lport=$(ss -Huanp 2>/dev/null | awk -v p="pid=$vpid," 'index($0, p) { n = split($4, a, ":"); print a[n] }') &&
			[ -n "$lport" ] && break
		sleep 0.05
	done
	[ -n "$lport" ] || fail "no resolver socket of tcptop-view (pid $vpid)"
	{
		echo "header kind=snapshot real=1795996800 mono=100 interval=1 host=\"web1\" boot=$boot"
		echo "snap seq=1 time=1795996801.5 mono=101.5 span=1 interval=1"
		echo "row flow=1 proto=udp src=127.0.0.1:$lport dst=127.0.0.1:$sport pid=$vpid comm=\"ourview\" in=40 out=40 netns=$netns"
		echo "row flow=2 proto=udp src=127.0.0.1:$lport dst=127.0.0.1:$sport pid=$((vpid + 1)) comm=\"otherproc\" in=1 out=1 netns=$netns"
		echo "row flow=3 proto=udp src=127.0.0.1:$lport dst=127.0.0.1:$sport pid=$vpid comm=\"otherns\" in=2 out=2 netns=4026530000"
		echo "snapend"
		echo "end"
	} | gen -o "$T/rest.tcpt"
	tail -c +$(($(stat -c %s "$T/head.tcpt") + 1)) "$T/rest.tcpt" >&5
	exec 5>&-
	wait_screen "otherns"
	run screen
	assert_output --partial "otherproc"
	refute_output --partial "ourview"
	assert_output --partial "our DNS queries 1"
	tm send-keys q
	wait_exit 0
	kill "$DNS_PID"
}

@test "the detail view names the cgroup and a network namespace ip netns knows" {
	cgroup_stream
	mkdir -p "$T/netns"
	touch "$T/netns/blue"
	ino=$(stat -c %i "$T/netns/blue")
	{
		echo "$HDR"
		echo 'cgroup id=21 path="/system.slice/alpha.service"'
		echo "snap seq=1 time=1795996801.5 mono=101.5 span=1 interval=1"
		three_rows | sed -e "s/netns=4026531999/netns=$ino/" -e 's/comm="alpha"/& cgroup=21/'
		echo "snapend"
		echo "end"
	} | gen -o "$T/ns.tcpt"
	VIEW_ENV="TCPTOP_NETNS_DIR=$T/netns" start_view "$T/ns.tcpt" --sort process
	wait_screen "charlie"
	tm send-keys Enter
	wait_screen "Connection details"
	run screen
	assert_output --partial "netns         $ino (blue)"
	assert_output --partial "cgroup        alpha.service   id 21"
	tm send-keys q
	wait_exit 0
}

# The table tcptop-view draws for the README's recording, blank lines and trailing blanks out.
readme_capture() {
	gen -o "$T/readme.tcpt" "$TCPTOP_SRC/tests/fixtures/readme/sample.txt"
	tcptop-agg "$T/readme.tcpt" >"$T/readme.snap"
	start_view "$T/readme.snap"
	wait_screen "stream ended" >&2
	screen | sed -e 's/ *$//' -e '/^$/d'
}

@test "README.md's sample is what tcptop-view draws for tests/fixtures/readme/sample.txt" {
	readme_capture >"$T/got"
	tm send-keys q
	wait_exit 0 >/dev/null
	if [ -n "${README_UPDATE:-}" ]; then
		python3 - "$TCPTOP_SRC/README.md" "$T/got" <<'PY'
import re, sys
readme, got = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
new = re.sub(r'(<!-- sample:[^\n]*-->\n```\n).*?(\n```)', lambda m: m.group(1) + got.rstrip('\n') + m.group(2), text, count=1, flags=re.S)
open(readme, 'w').write(new)
PY
	fi
	python3 -c 'import re, sys; m = re.search(r"<!-- sample:[^\n]*-->\n```\n(.*?\n)```", open(sys.argv[1]).read(), re.S); print(m.group(1) if m else "", end="")' \
		"$TCPTOP_SRC/README.md" >"$T/want"
	[ -s "$T/want" ] || fail "README.md has no sample block after '<!-- sample:'"
	run diff -u "$T/want" "$T/got"
	[ "$status" -eq 0 ] ||
		fail "README.md's sample no longer matches tcptop-view (README_UPDATE=1 tests/run tests/040-view.bats rewrites it): $output"
}

# Three snapshots of two TCP connections with figures (a receiver's window holding one, an
# application that writes little) and a UDP flow.
limit_stream() {
	{
		echo "$HDR"
		local s
		for s in 1 2 3; do
			echo "snap seq=$s time=$((1795996800 + s)) mono=$((100 + s)) span=1 interval=1"
			echo "row flow=1 cookie=11 src=10.0.0.1:40000 dst=10.0.9.1:5001 pid=10 comm=\"slowread\" out=$((s * 80000)) rate_out=80000 busy=$((s * 1000)) rwnd=$((s * 950)) cwnd=$((10 + s)) ssthresh=none reord=3 inflight=7 unsent=30000 minrtt=100100 rttvar=2500 drate=$((150000 + s * 10000)) retrans=$s rbytes=$((s * 1448)) lost=$s limit=rwnd limit_pct=95"
			echo "row flow=2 cookie=12 src=10.0.0.1:40001 dst=10.0.9.1:5002 pid=11 comm=\"chatty\" out=$((s * 4000)) rate_out=4000 busy=$((s * 200)) cwnd=10 ssthresh=none reord=3 minrtt=100000 rttvar=500 drate=28000 limit=app limit_pct=80"
			echo "row flow=3 cookie=13 proto=udp src=10.0.0.1:53 dst=10.0.9.1:5353 pid=12 comm=\"dns\" in=10 out=10"
			echo "snapend"
		done
		echo "end"
	} | "$GEN" >"$T/in.tcpt"
}

# wait_names "A B ": the order of the limit_stream's processes on screen.
wait_names() {
	local i
	for i in $(seq 200); do
		[ "$(screen | sed -n '5,$p' | grep -oE 'slowread|chatty|dns' | tr '\n' ' ')" = "$1" ] &&
			return 0
		sleep 0.05
	done
	fail "rows never in the order '$1': $(screen)"
}

@test "LIMIT: its column sorts and filters (/rwnd), groups show the worst, Enter lists the figures and g graphs them" {
	limit_stream
	start_view "$T/in.tcpt" --sort limit
	wait_screen "stream ended"
	run screen
	assert_line --regexp 'RTT +LIMIT *$'
	assert_line --regexp 'slowread .* rwnd 95% *$'
	assert_line --regexp 'chatty .* app 80% *$'
	assert_line --regexp 'dns .* - *$'
	wait_names "slowread chatty dns "
	tm send-keys / r w n d Enter
	wait_names "slowread "
	tm send-keys / Escape
	wait_names "slowread chatty dns "
	tm send-keys a
	wait_screen "1 conn"
	run screen
	assert_line --regexp 'slowread .* rwnd 95% *$'
	tm send-keys a a
	wait_names "slowread chatty dns "
	tm send-keys Enter
	wait_screen "Connection details"
	run screen
	assert_output --partial "limit         rwnd 95% of the interval: the peer's receive window held the data back"
	assert_output --partial "busy 3000 ms   rwnd_limited 2850 ms   sndbuf_limited 0 ms"
	assert_output --partial "cwnd 13   ssthresh none   in flight 7"
	assert_output --partial "retransmits 3 (4344 bytes, mod 2^32)   lost 3"
	assert_output --partial "rate in+out, last 60 snapshots (3 seen)"
	tm send-keys g
	wait_screen "busy: % of each interval with data to send"
	tm send-keys g
	wait_screen "rwnd_limited: % of each interval held back by the peer's window, last 60 snapshots (3 seen), top 95%"
	tm send-keys g g
	wait_screen "cwnd (segments), last 60 snapshots (3 seen), top 13"
	tm send-keys G G G G
	wait_screen "rate in+out"
	tm send-keys q
	wait_exit 0
}

# view_tables FILE PREFIX: every snapshot's screen of the view on FILE (travel_screens)
# It runs in a command substitution, whose tmux server the test's teardown does not know: it
# ends that server itself, whatever failed (the panes' sleep 600 outlived the test before).
view_tables() {
	local n st=0
	start_view "$1" --raw-units
	n=$(travel_screens "$2") && wait_exit 0 >&2 || st=1
	tm kill-server 2>/dev/null || true
	[ "$st" = 0 ] && echo "$n"
}

@test "delta snapshots: the view shows every snapshot of a recording as from full snapshots" {
	local name n m i
	for name in multiple recorded gaps; do
		if [ "$name" = recorded ]; then
			cp "$BATS_TEST_DIRNAME/fixtures/agg/recorded.tcpt" "$T/raw.tcpt"
		else
			gen -o "$T/raw.tcpt" "$BATS_TEST_DIRNAME/fixtures/agg/$name.txt"
		fi
		tcptop-agg --full-every 1 "$T/raw.tcpt" >"$T/full.tcps"
		tcptop-agg "$T/raw.tcpt" >"$T/delta.tcps"
		tcptop-dump "$T/delta.tcps" | grep -q '^delta ' || fail "$name: no delta"
		n=$(view_tables "$T/full.tcps" "$T/full-$name")
		m=$(view_tables "$T/delta.tcps" "$T/delta-$name")
		[ "$n" -ge 3 ] && [ "$n" = "$m" ] || fail "$name: $n and $m snapshots"
		for i in $(seq 0 $((n - 1))); do
			diff "$T/full-$name.$i" "$T/delta-$name.$i" || fail "$name: screen $i differs"
		done
	done
}
