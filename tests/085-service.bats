#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The systemd units of the packages: as `make install` writes them, systemd-analyze verify is
# clean; the exporter holds no privilege and the collector only its capabilities; the exporter's
# command line, run as the unit runs it, serves a stream written into its FIFO.
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

@test "the collector keeps only the capabilities it needs, no ambient ones" {
	[ "$(prop tcptop-collect.service CapabilityBoundingSet)" = \
		"CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_RESOURCE CAP_SETUID CAP_SETGID" ]
	[ "$(prop tcptop-collect.service AmbientCapabilities)" = "" ]
	[ "$(prop tcptop-collect.service NoNewPrivileges)" = yes ]
	[ "$(prop tcptop-collect.service ProtectSystem)" = strict ]
	# it writes into the exporter's FIFO, opened by systemd
	[ "$(prop tcptop-collect.service StandardOutput)" = 'file:%t/tcptop/raw.fifo' ]
	[ "$(prop tcptop-collect.service PartOf)" = tcptop-exporter.service ]
}

@test "neither unit is enabled by the packages" {
	grep -q 'dh_installsystemd --no-enable --no-start' "$TCPTOP_SRC/packaging/debian/rules"
	run grep -E '%systemd_post|systemctl (enable|start)' "$TCPTOP_SRC/packaging/rpm/tcptop.spec"
	assert_failure
	# the collector cannot be enabled alone: it has no [Install] section
	run grep -x '\[Install\]' "$U/tcptop-collect.service"
	assert_failure
}

@test "the exporter's command line, run as the unit runs it, serves what its FIFO receives" {
	local port cmd
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir "$T/run"
	mkdir "$T/run/tcptop"
	# the unit's ExecStartPre and ExecStart, %t being $T/run and the port a free one
	mkfifo -m 0600 "$T/run/tcptop/raw.fifo"
	cmd=$(prop tcptop-exporter.service ExecStart | sed "s|%t|$T/run|g; s|9687|$port|; s|^/bin/sh -c '||; s|'\$||")
	bash -c "$cmd" 2>"$T/err" 3>&- &
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
	"$GEN" -o "$T/run/tcptop/raw.fifo" "$T/raw.txt"
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$port/metrics" -o "$T/m.prom" 2>/dev/null &&
			grep -q 'state="ended"' "$T/m.prom" && break
		sleep 0.1
	done
	run -0 grep -F 'tcptop_network_io_bytes_total{host="svc",protocol="tcp",process="curl",remote_addr="10.0.0.2",remote_port="443",direction="receive"} 4242' "$T/m.prom"
}
