#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The systemd units of the packages: as `make install` writes them, systemd-analyze verify is
# clean; the exporter holds no privilege, the collector is a dynamic user with its four
# capabilities as ambient ones, a syscall filter and limits; the exporter's command line, run as
# the unit runs it, serves a stream written into its FIFO, and the stream of a collector that
# restarted as the next section. tests/120-system.bats runs them under systemd on a booted Debian.
load test_helper/common

: "${TCPTOP_SRC:=$BATS_TEST_DIRNAME/..}"

setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (package systemd)"
	[ -x "$OUTPUT/tcptop-collect" ] && [ -x "$OUTPUT/tcptop-prom" ] ||
		skip "the programs are not built ($OUTPUT)"
	# the units as `make install` writes them, with the programs of this build
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TCPTOP_SRC" --no-print-directory -s \
		OUTPUT="$OUTPUT" DESTDIR="$T/root" BINDIR="$OUTPUT" SYSTEMDUNITDIR=/lib/systemd/system \
		install-systemd >/dev/null
	U="$T/root/lib/systemd/system"
	# their Documentation= pages, where man finds them
	mkdir -p "$T/man/man1"
	ln -s "$TCPTOP_SRC"/man/*.1 "$T/man/man1/"
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# serves PORT LINE: within 10 s, the exporter on PORT serves LINE
serves() {
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$1/metrics" -o "$T/m.prom" 2>/dev/null &&
			grep -qxF "$2" "$T/m.prom" && break
		sleep 0.1
	done
	run -0 grep -xF "$2" "$T/m.prom"
}

# prop UNIT KEY: a property of the unit file, as systemd would read it (last assignment wins)
prop() {
	sed -n "s/^$2=//p" "$U/$1" | tail -n 1
}

@test "systemd-analyze verify is clean on both units" {
	MANPATH="$T/man" run systemd-analyze verify "$U/tcptop-exporter.service" \
		"$U/tcptop-collect.service"
	assert_success
	refute_output
}

@test "the exporter runs as a dynamic user with no capability, hardened" {
	[ "$(prop tcptop-exporter.service DynamicUser)" = yes ]
	[ "$(prop tcptop-exporter.service CapabilityBoundingSet)" = "" ]
	grep -qx 'CapabilityBoundingSet=' "$U/tcptop-exporter.service"
	[ "$(prop tcptop-exporter.service NoNewPrivileges)" = yes ]
	[ "$(prop tcptop-exporter.service ProtectSystem)" = strict ]
	[ "$(prop tcptop-exporter.service PrivateTmp)" = yes ]
	# systemd's own score of the sandbox: 0 is the best, 10 the worst
	run -0 systemd-analyze security --offline=yes "$U/tcptop-exporter.service"
	local score
	score=$(sed -n 's/.*Overall exposure level for tcptop-exporter.service: \([0-9.]*\).*/\1/p' <<<"$output")
	echo "exposure $score" >&3
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}

@test "the collector: a dynamic user given its four capabilities as ambient ones, filtered, limited" {
	local caps="CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_RESOURCE" score
	[ "$(prop tcptop-collect.service DynamicUser)" = yes ]
	[ "$(prop tcptop-collect.service CapabilityBoundingSet)" = "$caps" ]
	[ "$(prop tcptop-collect.service AmbientCapabilities)" = "$caps" ]
	[ "$(prop tcptop-collect.service NoNewPrivileges)" = yes ]
	[ "$(prop tcptop-collect.service ProtectSystem)" = strict ]
	[ "$(prop tcptop-collect.service RestrictAddressFamilies)" = AF_UNIX ]
	grep -qx 'SystemCallFilter=@system-service bpf perf_event_open' "$U/tcptop-collect.service"
	[ "$(prop tcptop-collect.service SystemCallErrorNumber)" = EPERM ]
	[ -n "$(prop tcptop-collect.service MemoryMax)" ]
	[ -n "$(prop tcptop-collect.service TasksMax)" ]
	# it writes into the exporter's FIFO, opened by systemd; it starts after the exporter and
	# stops and restarts with it
	[ "$(prop tcptop-collect.service StandardOutput)" = 'file:%t/tcptop/raw.fifo' ]
	[ "$(prop tcptop-collect.service PartOf)" = tcptop-exporter.service ]
	[ "$(prop tcptop-collect.service Requires)" = tcptop-exporter.service ]
	# the exporter wants it but is not bound to it: a restart of the collector leaves it up
	[ "$(prop tcptop-exporter.service Wants)" = tcptop-collect.service ]
	run grep -E '^BindsTo=' "$U/tcptop-exporter.service"
	assert_failure
	run -0 systemd-analyze security --offline=yes "$U/tcptop-collect.service"
	score=$(sed -n 's/.*Overall exposure level for tcptop-collect.service: \([0-9.]*\).*/\1/p' <<<"$output")
	echo "exposure $score" >&3
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}

@test "both units read /etc/default/tcptop, with the packaged file's defaults when it is absent" {
	local v
	for u in tcptop-collect.service tcptop-exporter.service; do
		[ "$(prop $u EnvironmentFile)" = -/etc/default/tcptop ]
	done
	[[ "$(prop tcptop-collect.service Environment)" == *INTERVAL=15* ]]
	[[ "$(prop tcptop-exporter.service Environment)" == *INTERVAL=15* ]]
	[[ "$(prop tcptop-exporter.service Environment)" == *'"PROM_ARGS=--listen 127.0.0.1:9687"'* ]]
	# the Debian file says the same, commented out
	for v in 'INTERVAL=15' 'PROM_ARGS="--listen 127.0.0.1:9687"' 'COLLECT_ARGS=""'; do
		grep -qxF "#$v" "$TCPTOP_SRC/packaging/debian/tcptop.default"
	done
}

@test "neither unit is enabled by the packages" {
	# not enabled; started only where deb-systemd-invoke would (never a disabled or static
	# unit); restarted after an upgrade, stopped on removal (tests/120-system.bats)
	grep -q 'dh_installsystemd --no-enable --restart-after-upgrade' "$TCPTOP_SRC/packaging/debian/rules"
	run grep -E '%systemd_post|systemctl (enable|start)' "$TCPTOP_SRC/packaging/rpm/tcptop.spec"
	assert_failure
	# the collector cannot be enabled alone: it has no [Install] section
	run grep -x '\[Install\]' "$U/tcptop-collect.service"
	assert_failure
}

@test "the exporter's command line, run as the unit runs it, serves its FIFO's stream, and a restarted collector's as the next section" {
	local port cmd
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir "$T/run"
	mkdir "$T/run/tcptop"
	# the unit's ExecStartPre and ExecStart, %t being $T/run, its variables from the environment
	# as systemd gives them, on a free port
	mkfifo -m 0600 "$T/run/tcptop/raw.fifo"
	cmd=$(prop tcptop-exporter.service ExecStart | sed "s|%t|$T/run|g; s|\\$\\$|\$|g; s|^/bin/sh -c '||; s|'\$||")
	INTERVAL=1 PROM_ARGS="--listen 127.0.0.1:$port" bash -c "$cmd" 2>"$T/err" 3>&- &
	PIDS+=($!)
	# the collector's side: a raw stream written into the FIFO
	cat >"$T/raw.txt" <<'S'
header real=1700000000 mono=0 interval=1 host="svc"
open t=0.1 flow=1 proto=tcp src=10.0.0.1:40000 dst=10.0.0.2:443 pid=9 comm=curl in=0 out=0
tick t=1
close t=1.5 flow=1 in=4242 out=17
tick t=2
end t=2.1
S
	timeout 10 "$GEN" -o "$T/run/tcptop/raw.fifo" "$T/raw.txt"
	local m='tcptop_network_io_bytes_total{host="svc",protocol="tcp",process="curl",remote_addr="10.0.0.2",remote_port="443",direction="receive"}'
	serves "$port" "$m 4242"
	# a collector restarted: a new stream into the same FIFO, read (the exporter holds the FIFO
	# open: the first writer's close was not the end of its input) and added to what was counted
	sed 's/in=4242/in=1000/' "$T/raw.txt" >"$T/raw2.txt"
	run -0 timeout 10 "$GEN" -o "$T/run/tcptop/raw.fifo" "$T/raw2.txt"
	serves "$port" "$m 5242"
}
