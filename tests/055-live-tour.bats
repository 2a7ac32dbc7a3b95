#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The live tour (issue 20): this host recorded by two collectors (one under another host name)
# while known traffic runs between a systemd-like service and a docker-like container, each in
# its own cgroup under the cgroup2 mount, the container in another network namespace behind a
# veth pair: TCP over IPv4 and IPv6, 20 short connections, UDP datagrams, a refused connect
# (tests/traffic/tour.py holds every number). Then every documented reader feature runs on the
# recordings and is checked exactly: tcptop-agg (and --merge of the two), tcptop-csv (--group
# process and cgroup, -f jsonl, --resolve against tests/dns/dns-server.py), tcptop-prom, and
# tcptop-view's a, c, t, [, ] and Enter in tmux. Recorded once, in setup_file; root and BPF.
load test_helper/common
load test_helper/travel

TOUR="$BATS_TEST_DIRNAME/traffic/tour.py"
PORT=47000

# The tour needs root, BTF and a cgroup2 mount (without them every test says why it is skipped)
# and its tools (a missing one is a failure of the machine's setup: setup_file fails).
tour_missing() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (live eBPF, cgroups, a network namespace)"; return; }
	[ -r /sys/kernel/btf/vmlinux ] || { echo "kernel has no BTF (/sys/kernel/btf/vmlinux)"; return; }
	awk '$3 == "cgroup2" { f = 1 } END { exit !f }' /proc/self/mounts ||
		echo "no cgroup2 mount"
}

# wait_tick FILE: until the recording in FILE has its first TICK (10 s)
wait_tick() {
	for _ in $(seq 100); do
		tcptop-dump "$1" 2>/dev/null | grep -q '^tick' && return 0
		sleep 0.1
	done
	echo "no tick in $1 after 10 s: $(cat "$1.err" 2>/dev/null)" >&2
	return 1
}

setup_file() {
	[ -z "$(tour_missing)" ] || return 0
	local d=$BATS_FILE_TMPDIR id=$$ t
	for t in ip nsenter unshare tmux python3 tcptop-collect; do
		command -v "$t" >/dev/null || { echo "$t is missing (make deps installs it)" >&2; return 1; }
	done
	export TOUR_ID=$id TOUR_NS="tcptop-tour-$id" TOUR_NET=$((id % 200 + 20))
	export TOUR_A4="10.251.$TOUR_NET.1" TOUR_C4="10.251.$TOUR_NET.2"
	export TOUR_A6="fd00:251:$TOUR_NET::1" TOUR_C6="fd00:251:$TOUR_NET::2"
	export TOUR_HVETH="tt${id}h" TOUR_CVETH="tt${id}c"
	# the cgroups: a systemd unit and a docker container scope under one slice of our own
	export TOUR_CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	export TOUR_SLICE="/tcptop-tour-$id.slice"
	export TOUR_HEX=$(printf 'tcptop-tour' | sha256sum | cut -c1-64)
	export TOUR_UNIT="$TOUR_SLICE/tour-web.service"
	export TOUR_SCOPE="$TOUR_SLICE/docker-$TOUR_HEX.scope"
	mkdir -p "$TOUR_CG2$TOUR_UNIT" "$TOUR_CG2$TOUR_SCOPE"
	# the container's network namespace, behind a veth pair
	ip netns add "$TOUR_NS"
	ip link add "$TOUR_HVETH" type veth peer name "$TOUR_CVETH"
	ip link set "$TOUR_CVETH" netns "$TOUR_NS"
	ip addr add "$TOUR_A4/24" dev "$TOUR_HVETH"
	ip -6 addr add "$TOUR_A6/64" dev "$TOUR_HVETH" nodad
	ip link set "$TOUR_HVETH" up
	ip -n "$TOUR_NS" addr add "$TOUR_C4/24" dev "$TOUR_CVETH"
	ip -n "$TOUR_NS" -6 addr add "$TOUR_C6/64" dev "$TOUR_CVETH" nodad
	ip -n "$TOUR_NS" link set "$TOUR_CVETH" up
	ip -n "$TOUR_NS" link set lo up
	export TOUR_HOSTNS=$(stat -L -c %i /proc/self/ns/net)
	export TOUR_CNS=$(stat -L -c %i "/run/netns/$TOUR_NS")
	export TOUR_HOST=$(hostname)
	# two collectors: this host, and the same under the host name tour-b (a UTS namespace of
	# its own: the same network namespace, mounts and cgroups)
	tcptop-collect --interval 0.2 -o "$d/a.tcpt" 2>"$d/a.tcpt.err" 3>&- &
	echo $! >"$d/a.pid"
	bg_track $!
	unshare --uts sh -c "hostname tour-b && exec tcptop-collect --interval 0.2 -o '$d/b.tcpt'" \
		2>"$d/b.tcpt.err" 3>&- &
	echo $! >"$d/b.pid"
	bg_track $!
	wait_tick "$d/a.tcpt"
	wait_tick "$d/b.tcpt"
	# the traffic: the server in the container (its namespace and cgroup), the client in the
	# service; each moves itself into its cgroup before it makes a socket
	sh -c "echo \$\$ >'$TOUR_CG2$TOUR_SCOPE/cgroup.procs' && exec nsenter --net='/run/netns/$TOUR_NS' python3 '$TOUR' server $TOUR_C4 $TOUR_C6 $PORT '$d/ready'" \
		>"$d/server.out" 2>"$d/server.err" 3>&- &
	echo $! >"$d/server.pid"
	bg_track $!
	for _ in $(seq 200); do [ -f "$d/ready" ] && break; sleep 0.05; done
	[ -f "$d/ready" ] || { cat "$d/server.err" >&2; return 1; }
	sh -c "echo \$\$ >'$TOUR_CG2$TOUR_UNIT/cgroup.procs' && exec python3 '$TOUR' client $TOUR_C4 $TOUR_C6 $PORT" \
		>"$d/client.out" 2>"$d/client.err" 3>&- || { cat "$d/client.err" >&2; return 1; }
	wait "$(cat "$d/server.pid")" || { cat "$d/server.err" >&2; return 1; }
	sleep 0.5 # the last sample period, then the stop
	kill -INT "$(cat "$d/a.pid")" "$(cat "$d/b.pid")"
	wait "$(cat "$d/a.pid")" || { cat "$d/a.tcpt.err" >&2; return 1; }
	wait "$(cat "$d/b.pid")" || { cat "$d/b.tcpt.err" >&2; return 1; }
	# what the readers read: snapshots of each recording, one of the whole tour (--interval
	# 60: every connection in one snapshot), and the merge of the two
	tcptop-agg "$d/a.tcpt" >"$d/a.tcps"
	tcptop-agg --interval 60 "$d/a.tcpt" >"$d/a60.tcps"
	tcptop-agg --merge "$d/a.tcpt" "$d/b.tcpt" >"$d/m.tcps"
	tcptop-agg --merge --interval 60 "$d/a.tcpt" "$d/b.tcpt" >"$d/m60.tcps"
}

teardown_file() {
	bg_kill_all
	[ -n "${TOUR_ID:-}" ] || return 0
	ip netns del "$TOUR_NS" 2>/dev/null || true
	ip link del "$TOUR_HVETH" 2>/dev/null || true
	for _ in $(seq 20); do
		rmdir "$TOUR_CG2$TOUR_UNIT" "$TOUR_CG2$TOUR_SCOPE" "$TOUR_CG2$TOUR_SLICE" 2>/dev/null &&
			break
		sleep 0.1
	done
}

setup() {
	local why
	why=$(tour_missing)
	[ -z "$why" ] || skip "$why"
	D=$BATS_FILE_TMPDIR
	T=$BATS_TEST_TMPDIR
}

# csv_of IN [OPTIONS...] > CSV: tcptop-csv of a snapshot stream
# The python checks below read $D/client.out (what the client did, with its local ports).

@test "the recording: every connection of the tour, both ends, exact bytes and packets, cgroups, namespaces, interfaces" {
	run -0 cat "$D/a.tcpt.err" "$D/b.tcpt.err"
	assert_output ''
	# the collector left nothing out on this kernel: cgroups and namespaces are known
	run -0 bash -c 'tcptop-dump "$1" | head -n 1' _ "$D/a.tcpt"
	refute_output --partial 'missing='
	tcptop-csv -o "$T/a.csv" "$D/a.tcps"
	run -0 python3 - "$T/a.csv" "$D/client.out" <<'PY'
import csv, os, sys
E = os.environ
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
done = [l.split() for l in open(sys.argv[2])]
last = {}
for r in rows:  # each connection's last row: its final totals
    last[(r["protocol"], r["local_addr"], r["local_port"], r["remote_addr"], r["remote_port"])] = r
unit, scope = E["TOUR_UNIT"], E["TOUR_SCOPE"]
c4, c6, a4, a6 = E["TOUR_C4"], E["TOUR_C6"], E["TOUR_A4"], E["TOUR_A6"]
port = int(os.environ.get("PORT", "47000"))
def check(key, proc, bin_, bout, cg, ns, ifname, pin=None, pout=None, state="CLOSE"):
    r = last.get(key)
    assert r, "no row for %s" % (key,)
    got = (r["process_name"], int(r["bytes_in"]), int(r["bytes_out"]), r["cgroup_path"],
           r["netns"], r["interface"], r["state"], r["closed"])
    want = (proc, bin_, bout, cg, ns, ifname, state, "1")
    assert got == want, "%s: %s, not %s" % (key, got, want)
    if pin is not None:
        assert (int(r["packets_in"]), int(r["packets_out"])) == (pin, pout), (key, r)
n = 0
for what, *f in done:
    if what in ("tcp4", "short"):
        lport, out, inn = map(int, f)
        p = port if what == "tcp4" else port + 2
        check(("tcp", a4, str(lport), c4, str(p)), "tour-client", inn, out, unit,
              E["TOUR_HOSTNS"], E["TOUR_HVETH"])
        check(("tcp", c4, str(p), a4, str(lport)), "tour-server", out, inn, scope,
              E["TOUR_CNS"], E["TOUR_CVETH"])
        n += 2
    elif what == "tcp6":
        lport, out, inn = map(int, f)
        check(("tcp", a6, str(lport), c6, str(port + 1)), "tour-client", inn, out, unit,
              E["TOUR_HOSTNS"], E["TOUR_HVETH"])
        check(("tcp", c6, str(port + 1), a6, str(lport)), "tour-server", out, inn, scope,
              E["TOUR_CNS"], E["TOUR_CVETH"])
        n += 2
    elif what == "udp":
        lport, dg, out, inn = map(int, f)
        check(("udp", a4, str(lport), c4, str(port + 3)), "tour-client", inn, out, unit,
              E["TOUR_HOSTNS"], E["TOUR_HVETH"], dg, dg, state="")
        n += 1
    elif what == "refused":
        r = [r for k, r in last.items() if k[3] == c4 and k[4] == str(port + 4)]
        assert len(r) == 1 and r[0]["failed"] == "1" and r[0]["process_name"] == "tour-client" \
            and r[0]["cgroup"] == "tour-web.service" and r[0]["bytes_in"] == "0", r
        n += 1
# the server's UDP flow: one unconnected socket, the client its peer
r = last[("udp", c4, str(port + 3), a4, [f[0] for w, *f in done if w == "udp"][0])]
assert (r["process_name"], r["bytes_in"], r["bytes_out"], r["packets_in"], r["packets_out"],
        r["cgroup"], r["netns"]) == ("tour-server", "8407", "4207", "7", "7",
                                     E["TOUR_HEX"][:12], E["TOUR_CNS"]), r
n += 1
# the short forms: the unit, and the container's 12 hex digits
assert {r["cgroup"] for r in last.values() if r["process_name"] == "tour-client"} == \
    {"tour-web.service"}
assert {r["cgroup"] for r in last.values() if r["process_name"] == "tour-server"} == \
    {E["TOUR_HEX"][:12]}
assert all(r[c] == "0" for r in rows for c in r if c.startswith("loss_")), "loss"
print(n, "connections")
PY
	# 22 TCP connections, both ends; the client's UDP flow and the server's; the refused one
	assert_output '47 connections'
	# the client did what tour.py says: 1 + 1 + 20 TCP connections, 7 datagrams, 1 refused
	run -0 cut -d' ' -f1 "$D/client.out"
	assert_equal "$(sort <<<"$output" | uniq -c | tr -s ' ' | tr '\n' ',')" \
		' 1 refused, 20 short, 1 tcp4, 1 tcp6, 1 udp,'
	run -0 cat "$D/server.out"
	assert_output 'served tcp4 100003 tcp6 300007 short 20020 udp 8407'
}

@test "the container's UDP flow ends when its socket closes, as the client's does (udp-close)" {
	# the server's unconnected socket closes when tour.py ends, 0.5 s before the collector
	# stops; the collector claims udp-close (nothing missing in its header)
	tcptop-csv -o "$T/a.csv" "$D/a.tcps"
	run -0 python3 - "$T/a.csv" <<'PY'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
for side in ("tour-client", "tour-server"):
    closed = [r["closed"] for r in rows if r["protocol"] == "udp" and r["process_name"] == side]
    print(side, "closed" if "1" in closed else "never closed")
PY
	assert_line --index 0 'tour-client closed'
	assert_line --index 1 'tour-server closed'
}

@test "rates: in the snapshot of the whole tour each connection's rate is its bytes over the span" {
	# every tour connection began and ended inside the snapshot (none begun before): its rate
	# is all its bytes over the snapshot's span, so the rows add up to what moved; short
	# connections the collector saw first at their close showed 0 B/s before
	tcptop-dump --table "$D/a60.tcps" >"$T/a60.txt"
	run -0 python3 - "$T/a60.txt" <<'PY'
import re, sys
span, bad, n, tot_rate, tot_bytes = None, [], 0, 0.0, 0
for line in open(sys.argv[1]):
    if line.startswith("snap "):
        span = float(re.search(r" span=([0-9.]+)", line).group(1))
    m = re.search(r'comm="tour-(client|server)".* in=(\d+) out=(\d+) .* rate_in=([0-9.]+) '
                  r'rate_out=([0-9.]+)', line)
    if line.startswith("row ") and m:
        bin_, bout, rin, rout = int(m[2]), int(m[3]), float(m[4]), float(m[5])
        n += 1
        tot_rate += rin
        tot_bytes += bin_
        for b, r in ((bin_, rin), (bout, rout)):
            if abs(r * span - b) > 0.01 * span + 1e-6 * b:
                bad.append(line[:120])
print(n, "rows", len(bad), "wrong", round(tot_rate * span), tot_bytes)
PY
	# 47 rows; 722734 bytes in, both ways (428437 + 294297)
	assert_output '47 rows 0 wrong 722734 722734'
}

@test "--merge of the two recordings: a host column, each host's rows exact, the cgroup column from each host's paths" {
	run -0 bash -c 'tcptop-dump "$1" | grep "^cgroup "' _ "$D/m.tcps"
	assert_line "cgroup id=$(stat -c %i "$TOUR_CG2$TOUR_UNIT") host=1 path=\"$TOUR_UNIT\""
	assert_line "cgroup id=$(stat -c %i "$TOUR_CG2$TOUR_UNIT") host=2 path=\"$TOUR_UNIT\""
	assert_line "cgroup id=$(stat -c %i "$TOUR_CG2$TOUR_SCOPE") host=1 path=\"$TOUR_SCOPE\""
	assert_line "cgroup id=$(stat -c %i "$TOUR_CG2$TOUR_SCOPE") host=2 path=\"$TOUR_SCOPE\""
	tcptop-csv -o "$T/m.csv" "$D/m.tcps"
	run -0 python3 - "$T/m.csv" <<'PY'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
E = os.environ
last = {}
for r in rows:
    last[(r["host"], r["protocol"], r["local_addr"], r["local_port"], r["remote_addr"],
          r["remote_port"])] = r
for h in (E["TOUR_HOST"], "tour-b"):
    mine = [r for k, r in last.items() if k[0] == h and r["process_name"].startswith("tour-")]
    tx = sum(int(r["bytes_out"]) for r in mine if r["process_name"] == "tour-client")
    rx = sum(int(r["bytes_in"]) for r in mine if r["process_name"] == "tour-client")
    cg = sorted({(r["process_name"], r["cgroup"]) for r in mine})
    print(h == E["TOUR_HOST"] and "this host" or h, len(mine), tx, rx, cg)
PY
	local hex=${TOUR_HEX:0:12}
	assert_line --index 0 "this host 47 428437 294297 [('tour-client', 'tour-web.service'), ('tour-server', '$hex')]"
	assert_line --index 1 "tour-b 47 428437 294297 [('tour-client', 'tour-web.service'), ('tour-server', '$hex')]"
}

@test "tcptop-csv --group process and --group cgroup: the tour's processes and cgroups, exact sums and counts" {
	# one snapshot of the whole tour: each connection in it once, with its final totals
	tcptop-csv -g process -o "$T/p.csv" "$D/a60.tcps"
	tcptop-csv -g cgroup -o "$T/c.csv" "$D/a60.tcps"
	run -0 python3 - "$T/p.csv" "$T/c.csv" <<'PY'
import csv, sys
for f, key in ((sys.argv[1], "process_name"), (sys.argv[2], "cgroup")):
    rows = list(csv.DictReader(open(f, newline="")))
    last = max(int(r["snapshot_seq"]) for r in rows)
    for r in rows:
        if int(r["snapshot_seq"]) == last and r[key].startswith(("tour-", "e")):
            print(r[key], r["connections"], r["bytes_out"], r["bytes_in"], r["packets_out"] != "")
PY
	# client: 100003 + 300007 + 20 x 1001 + 7 x 1201 out, 200009 + 50021 + 20 x 2003 + 7 x 601
	# in, over 1 + 1 + 20 + 1 + 1 (refused) connections; the server the other way, 23
	local hex=${TOUR_HEX:0:12}
	assert_line 'tour-client 24 428437 294297 True'
	assert_line 'tour-server 23 294297 428437 True'
	assert_line 'tour-web.service 24 428437 294297 True'
	assert_line "$hex 23 294297 428437 True"
	[ "${#lines[@]}" -eq 4 ]
}

@test "tcptop-csv --group on the merged recordings: a group per host, named for its host" {
	tcptop-csv -g process -o "$T/p.csv" "$D/m60.tcps"
	run -0 python3 - "$T/p.csv" <<'PY'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
last = max(int(r["snapshot_seq"]) for r in rows)
for r in rows:
    if int(r["snapshot_seq"]) == last and r["process_name"] == "tour-client":
        print(r["host"] == os.environ["TOUR_HOST"] and "this host" or r["host"],
              r["connections"], r["bytes_out"])
PY
	assert_line 'this host 24 428437'
	assert_line 'tour-b 24 428437'
}

@test "tcptop-csv -f jsonl: the rows of the CSV, as JSON with numbers" {
	tcptop-csv -o "$T/a.csv" "$D/a.tcps"
	tcptop-csv -f jsonl -o "$T/a.jsonl" "$D/a.tcps"
	run -0 python3 - "$T/a.csv" "$T/a.jsonl" "$D/client.out" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
objs = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(objs), (len(rows), len(objs))
for r, o in zip(rows, objs):
    assert list(r) == list(o), (list(r), list(o))
    for k, v in r.items():
        w = o[k]
        assert (v == "" and w is None) or str(w) == v or \
            (isinstance(w, float) and float(v) == w) or (isinstance(w, bool)), (k, v, w)
    assert isinstance(o["bytes_in"], int) and isinstance(o["local_port"], int)
tcp4 = [l.split() for l in open(sys.argv[3]) if l.startswith("tcp4 ")][0]
mine = [o for o in objs if o["local_port"] == int(tcp4[1]) and o["process_name"] == "tour-client"]
print(mine[-1]["bytes_out"], mine[-1]["bytes_in"], mine[-1]["cgroup"], mine[-1]["closed"])
PY
	assert_output '100003 200009 tour-web.service True'
}

@test "tcptop-csv --resolve names the peers from the test DNS server" {
	start_dns "$TOUR_C4=web.tour.test" "$TOUR_C6=web6.tour.test" "$TOUR_A4=client.tour.test"
	# the recording twice (two sections): each snapshot waits 0.2 s at most for the names
	# it asked for, so on a busy machine the first may show some empty; the second section's
	# rows show every name the server gave
	cat "$D/a60.tcps" "$D/a60.tcps" |
		tcptop-csv --resolve --dns-server "127.0.0.1:$DNS_PORT" -o "$T/r.csv"
	run -0 python3 - "$T/r.csv" <<'PY'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) % 2 == 0  # two sections of the same rows: the second half is the second
E = os.environ
names = {}
for r in rows[len(rows) // 2:]:
    if r["process_name"].startswith("tour-"):
        names.setdefault((r["remote_addr"], r["remote_host"]), 0)
        names[(r["remote_addr"], r["remote_host"])] += 1
for (a, h), n in sorted(names.items()):
    a = {E["TOUR_C4"]: "C4", E["TOUR_C6"]: "C6", E["TOUR_A4"]: "A4", E["TOUR_A6"]: "A6"}[a]
    print(a, h or "-", n)
PY
	# every row of the peers in the table named, the address not in it empty
	assert_line 'A4 client.tour.test 22'
	assert_line 'A6 - 1'
	assert_line 'C4 web.tour.test 23'
	assert_line 'C6 web6.tour.test 1'
	# the server was asked
	run -0 grep -c 'in-addr.arpa\|ip6.arpa' "$BATS_TEST_TMPDIR/dns.port.log"
	[ "$output" -ge 3 ]
}

@test "tcptop-prom: the counters are the bytes, datagrams and connections moved" {
	tcptop-prom --textfile "$T/a.prom" "$D/a.tcps"
	local h="host=\"$TOUR_HOST\"" c='cgroup="tour-web.service"' s="cgroup=\"${TOUR_HEX:0:12}\""
	local cl="$h,protocol=\"tcp\",process=\"tour-client\",$c,remote_addr=\"$TOUR_C4\""
	# the client's IPv4 TCP: the big connection and the 20 short ones (ephemeral ports
	# folded): 100003 + 20 x 1001 out, 200009 + 20 x 2003 in
	run -0 grep -F "tcptop_network_io_bytes_total{$cl,direction=\"transmit\"} 120023" "$T/a.prom"
	run -0 grep -F "tcptop_network_io_bytes_total{$cl,direction=\"receive\"} 240069" "$T/a.prom"
	run -0 grep -F "tcptop_connections_opened_total{$cl} 22" "$T/a.prom"
	run -0 grep -F "tcptop_connections_closed_total{$cl} 22" "$T/a.prom"
	run -0 grep -F "tcptop_connections_failed_total{$cl} 1" "$T/a.prom"
	# IPv6, both ends
	run -0 grep -F "tcptop_network_io_bytes_total{$h,protocol=\"tcp\",process=\"tour-client\",$c,remote_addr=\"$TOUR_C6\",direction=\"transmit\"} 300007" "$T/a.prom"
	run -0 grep -F "tcptop_network_io_bytes_total{$h,protocol=\"tcp\",process=\"tour-server\",$s,remote_addr=\"$TOUR_A6\",direction=\"transmit\"} 50021" "$T/a.prom"
	# UDP: 7 datagrams of 1201 bytes each way's, 7 answers of 601
	local ul="$h,protocol=\"udp\",process=\"tour-client\",$c,remote_addr=\"$TOUR_C4\""
	run -0 grep -F "tcptop_network_io_bytes_total{$ul,direction=\"transmit\"} 8407" "$T/a.prom"
	run -0 grep -F "tcptop_network_packets_total{$ul,direction=\"transmit\"} 7" "$T/a.prom"
	run -0 grep -F "tcptop_network_packets_total{$ul,direction=\"receive\"} 7" "$T/a.prom"
	# the server side, in its container
	run -0 grep -F "tcptop_network_io_bytes_total{$h,protocol=\"tcp\",process=\"tour-server\",$s,remote_addr=\"$TOUR_A4\",direction=\"receive\"} 120023" "$T/a.prom"
	run -0 grep -F "tcptop_loss_total{$h,cause=\"agg_names_full\"} 0" "$T/a.prom"
	run -0 promtool check metrics <"$T/a.prom"
	# merged: each host's own counters
	tcptop-prom --textfile "$T/m.prom" "$D/m.tcps"
	run -0 grep -F "tcptop_network_io_bytes_total{host=\"tour-b\",protocol=\"tcp\",process=\"tour-client\",$c,remote_addr=\"$TOUR_C4\",direction=\"transmit\"} 120023" "$T/m.prom"
	run -0 grep -F "tcptop_network_io_bytes_total{$cl,direction=\"transmit\"} 120023" "$T/m.prom"
}

# ---- the view, in tmux ----

# each test's view has a tmux server of its own (one being killed may still hold its socket),
# its socket in the test's folder, ended by the test's teardown
tm() {
	tmux -S "$BATS_TEST_TMPDIR/tmux.sock" "$@"
}

teardown() {
	[ -z "${TOUR_ID:-}" ] || tm kill-server 2>/dev/null || true
	bg_kill_all
}

# view IN [ARGS...]: tcptop-view on IN in a 220x60 session (wide enough for every column)
view() {
	local in=$1
	shift
	tm -f /dev/null new-session -d -x 220 -y 60 \
		"LANG=C.UTF-8 LC_ALL=C.UTF-8 tcptop-view $* <'$in' 2>'$T/view.err'; echo \$? >'$T/view.status'; sleep 60" 3>&-
}

screen() {
	tm capture-pane -p
}

# wait_screen TEXT: until the pane shows TEXT (10 s)
wait_screen() {
	for _ in $(seq 200); do
		screen | grep -qF -- "$1" && return 0
		sleep 0.05
	done
	echo "the screen never showed: $1" >&2
	screen >&2
	return 1
}

wait_gone() {
	for _ in $(seq 200); do
		screen | grep -qF -- "$1" || return 0
		sleep 0.05
	done
	echo "the screen still shows: $1" >&2
	return 1
}

@test "the view on the whole tour: a groups by process then cgroup, Enter details, t trends, c closed connections" {
	local lport hex=${TOUR_HEX:0:12}
	read -r _ lport _ <"$D/client.out"
	view "$D/a60.tcps" --raw-units --sort process
	wait_screen "stream ended"
	# a: by process, exact sums; again: by cgroup; again: none
	tm send-keys a
	wait_screen "by process"
	run screen
	assert_line --regexp '^. +24 conns +[0-9]+ +tour-client .* 294297 +428437 .* tour-web\.service *$'
	assert_line --regexp '^. +23 conns +[0-9]+ +tour-server .* 428437 +294297 .* '"$hex"' *$'
	tm send-keys a
	wait_screen "by cgroup"
	run screen
	assert_line --regexp '^. +24 conns .* 294297 +428437 .* tour-web\.service *$'
	assert_line --regexp '^. +23 conns .* 428437 +294297 .* '"$hex"' *$'
	tm send-keys a
	wait_gone "by cgroup"
	# Enter: the details of the client's IPv4 connection, picked by its port
	tm send-keys / $(sed 's/./& /g' <<<"$lport") Enter
	wait_screen "filter \"$lport\": 2 of"
	tm send-keys Enter
	wait_screen "Connection details"
	run screen
	assert_output --regexp "local +$TOUR_A4:$lport"
	assert_output --regexp "remote +$TOUR_C4:$PORT"
	assert_output --regexp "interface +$TOUR_HVETH "
	assert_output --regexp "netns +$TOUR_HOSTNS"
	assert_output --regexp "cgroup +tour-web\.service +id $(stat -c %i "$TOUR_CG2$TOUR_UNIT")"
	assert_output --regexp "process +tour-client"
	assert_output --regexp "received +200009 bytes"
	assert_output --regexp "sent +100003 bytes"
	tm send-keys Escape
	wait_gone "Connection details"
	# t: a trend column, the one snapshot of each row a full block
	tm send-keys t
	wait_screen "TREND"
	run screen
	assert_line --regexp "^. tcp +$TOUR_A4:$lport .* 200009 +100003 .* tour-web\\.service +█ *\$"
	# c: the closed connections with their final totals, the refused connect among them
	tm send-keys / BSpace BSpace BSpace BSpace BSpace BSpace Enter
	tm send-keys c
	wait_screen "CLOSED: last"
	run screen
	assert_line --regexp "^. tcp +$TOUR_A4:$lport +$TOUR_C4:$PORT .* tour-client +CLOSE .* 200009 +100003 "
	assert_line --regexp "^. tcp6 +\\[$TOUR_A6\\]:[0-9]+ +\\[$TOUR_C6\\]:$((PORT + 1)) .* tour-client +CLOSE .* 50021 +300007 "
	assert_line --regexp "tour-client +FAILED .* $TOUR_C4:$((PORT + 4))|$TOUR_C4:$((PORT + 4)) .* tour-client +FAILED"
	tm send-keys q
	for _ in $(seq 100); do [ -f "$T/view.status" ] && break; sleep 0.05; done
	run -0 cat "$T/view.status" "$T/view.err"
	assert_output '0'
}

@test "the view: [ and ] travel through the recording's snapshots, each as tcptop-agg wrote it" {
	local n m k tcp udp rx
	n=$(tcptop-dump --table "$D/a.tcps" | grep -c '^snap ')
	# the last snapshot with rows: every flow may have closed before the last one
	m=$(tcptop-dump --table "$D/a.tcps" | sed -n 's/^snap seq=\([0-9]*\) .* rows=\([1-9][0-9]*\) .*/\1/p' |
		tail -n 1)
	[ "$n" -ge 2 ] && [ "$m" -ge 2 ]
	echo "# snapshots: $n, the last with rows: $m" >&3
	view "$D/a.tcps" --raw-units
	if [ "$m" -lt "$n" ]; then
		# an empty end: the view stays on the last snapshot with connections, and says so
		wait_screen "END OF RECORDING"
		run screen
		assert_line --index 0 --partial "#$m "
	else
		wait_screen "stream ended"
	fi
	for ((k = m - 1; k >= 1; k--)); do
		tm send-keys '['
		wait_screen "TIME TRAVEL $k/$n"
		# the header's counts are the snapshot's, from the stream
		read -r tcp udp rx < <(tcptop-dump --table "$D/a.tcps" | grep "^snap seq=$k " |
			sed -E 's/.* tcp=([0-9]+) udp=([0-9]+) bytes_in=([0-9]+) .*/\1 \2 \3/')
		run screen
		assert_line --index 0 --partial "#$k "
		assert_line --index 1 --regexp "^TCP $tcp  UDP $udp  .* total RX $rx B "
	done
	# back to the newest, where travel ends
	for ((k = 2; k < n; k++)); do
		tm send-keys ']'
		wait_screen "TIME TRAVEL $k/$n"
	done
	tm send-keys ']'
	wait_gone "TIME TRAVEL"
	run screen
	assert_line --index 0 --partial "#$n "
	tm send-keys q
}

@test "the view of the merged recordings: both hosts in the header, a HOST column, the cgroup column" {
	view "$D/m60.tcps" --raw-units --sort process
	wait_screen "END OF RECORDING"
	run screen
	assert_line --index 0 --regexp "^$TOUR_HOST \\((live|ended)\\), tour-b \\((live|ended)\\) "
	assert_line --regexp ' CGROUP +HOST *$'
	assert_line --regexp "^. tcp +$TOUR_A4:[0-9]+ +$TOUR_C4:$PORT .* tour-client .* 200009 +100003 .* tour-web\\.service +$TOUR_HOST *\$"
	assert_line --regexp "^. tcp +$TOUR_A4:[0-9]+ +$TOUR_C4:$PORT .* tour-client .* 200009 +100003 .* tour-web\\.service +tour-b *\$"
	tm send-keys q
}

@test "the view of the merged recordings: a groups each host's processes apart" {
	view "$D/m60.tcps" --raw-units --sort process
	wait_screen "END OF RECORDING"
	tm send-keys a
	wait_screen "by process"
	run screen
	assert_line --regexp "^. +24 conns +[0-9]+ +tour-client .* 294297 +428437 .* tour-web\\.service +$TOUR_HOST *\$"
	assert_line --regexp "^. +24 conns +[0-9]+ +tour-client .* 294297 +428437 .* tour-web\\.service +tour-b *\$"
	tm send-keys q
}

# view_screens IN PREFIX: every snapshot's screen of the view on IN (travel_screens)
view_screens() {
	local n
	view "$1" --raw-units
	n=$(travel_screens "$2") || return 1
	tm kill-server
	for _ in $(seq 100); do
		tm has-session 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$BATS_TEST_TMPDIR/tmux.sock"
	echo "$n"
}

@test "delta snapshots of the live tour: the CSV, the exposition and every view screen as from full snapshots" {
	local in n m i full
	# at the collector's period (every connection's changes in many snapshots): deltas by
	# default and every third snapshot full, each recording and the merge, against full ones
	tcptop-agg --interval 0.2 --full-every 1 "$D/a.tcpt" >"$T/a-full.tcps"
	tcptop-agg --interval 0.2 "$D/a.tcpt" >"$T/a.tcps"
	tcptop-agg --interval 0.2 --full-every 3 "$D/a.tcpt" >"$T/a-d3.tcps"
	tcptop-agg --merge --interval 0.2 --full-every 1 "$D/a.tcpt" "$D/b.tcpt" >"$T/m-full.tcps"
	tcptop-agg --merge --interval 0.2 "$D/a.tcpt" "$D/b.tcpt" >"$T/m.tcps"
	for in in a a-d3 m; do
		run -0 bash -c 'tcptop-dump "$1" | grep -c "^delta "' _ "$T/$in.tcps"
		[ "$output" -ge 2 ] || fail "$in: $output deltas"
		full=$T/${in%-d3}-full.tcps
		tcptop-csv "$full" >"$T/full.csv"
		tcptop-csv "$T/$in.tcps" | cmp - "$T/full.csv" || fail "$in: the CSV differs"
		[ "$(wc -l <"$T/full.csv")" -ge 20 ]
		tcptop-csv --group cgroup "$full" >"$T/full-g.csv"
		tcptop-csv --group cgroup "$T/$in.tcps" | cmp - "$T/full-g.csv" || fail "$in: --group differs"
		tcptop-prom --textfile "$T/full.prom" "$full"
		tcptop-prom --textfile "$T/d.prom" "$T/$in.tcps"
		diff <(grep -v '^tcptop_stream_age_seconds\|^tcptop_exporter_scrape_duration' "$T/full.prom") \
			<(grep -v '^tcptop_stream_age_seconds\|^tcptop_exporter_scrape_duration' "$T/d.prom") ||
			fail "$in: the expositions differ"
	done
	n=$(view_screens "$T/a-full.tcps" "$T/full")
	m=$(view_screens "$T/a.tcps" "$T/delta")
	[ "$n" -ge 3 ] && [ "$n" = "$m" ] || fail "$n and $m snapshots"
	for i in $(seq 0 $((n - 1))); do
		diff "$T/full.$i" "$T/delta.$i" || fail "screen $i differs"
	done
}
