#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The packages on a booted Debian. tests/system/run-system builds, once per machine and cached
# beside the kernel matrix's kernels, a Debian root file system (mmdebstrap) and the previous
# release's .deb, takes this commit's .deb (make deb), boots the root file system under qemu with
# Debian's kernel and systemd as PID 1, and runs tests/system/guest there: the .deb installed
# with apt from a local repository beside libbpf-tools, its services enabled and checked from
# /proc, exact traffic totals from the exporter and from Debian's Prometheus, a restart of the
# collector, the journal, systemd-analyze security, `sudo tcptop --log`, the purge; then the
# previous release installed, upgraded with its services running, and purged. One test a guest
# step: a failure names the step and shows its output. `make test-system` runs this file alone.
# time limit: 1500 s

load test_helper/common

SYS="$BATS_TEST_DIRNAME/system/run-system"

system_usable() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (mmdebstrap, and the image's owners)"; return 1; }
	local t
	for t in qemu-system-x86_64:qemu-system-x86 mmdebstrap:mmdebstrap busybox:busybox-static \
		dpkg-scanpackages:dpkg-dev dpkg-buildpackage:dpkg-dev; do
		command -v "${t%%:*}" >/dev/null ||
			{ echo "${t%%:*} not installed (package ${t#*:})"; return 1; }
	done
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		{ echo "no Debian archive key (package debian-archive-keyring)"; return 1; }
	git -C "$BATS_TEST_DIRNAME" rev-parse HEAD >/dev/null 2>&1 ||
		{ echo "not a git checkout: make deb packs a commit"; return 1; }
}

# bats 1.8 cannot skip from setup_file: each test skips through need_system. Only a user
# other than root skips; a missing tool or file fails (make deps installs them).
need_system() {
	local why
	[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap, and the image's owners)"
	why=$(system_usable) || fail "$why"
}

setup_file() {
	system_usable >/dev/null || return 0
	# TCPTOP_SYSTEM_RESULTS=DIR: assert on a run kept by TCPTOP_SYSTEM_KEEP=1, no boot
	if [ -n "${TCPTOP_SYSTEM_RESULTS:-}" ]; then
		RUN=$TCPTOP_SYSTEM_RESULTS
		export RUN
		return 0
	fi
	RUN=$OUTPUT/system/run.$$
	TCPTOP_SYSTEM_TAG=system.$$
	export RUN TCPTOP_SYSTEM_TAG
	rm -rf "$RUN"
	mkdir -p "$RUN"
	local start=$SECONDS st=0
	"$SYS" -t "${TCPTOP_SYSTEM_TIMEOUT:-1200}" "$RUN" >"$RUN/run.log" 2>&1 3>&- || st=$?
	echo $st >"$RUN/run.status"
	echo $((SECONDS - start)) >"$RUN/run.secs"
}

# The qemu this file started ends here whatever happened (run-system's trap ends its own; one
# whose run-system was killed is found by the tag on its kernel command line).
teardown_file() {
	local p
	[ -n "${TCPTOP_SYSTEM_TAG:-}" ] && for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "tcptop.tag=$TCPTOP_SYSTEM_TAG " &&
			kill "${p#/proc/}" 2>/dev/null
	done
	if [ -n "${RUN:-}" ] && [ -z "${TCPTOP_SYSTEM_KEEP:-}" ] && [ -z "${TCPTOP_SYSTEM_RESULTS:-}" ]; then
		rm -rf "$RUN"
	fi
}

# the image, the packages and the VM worked: the guest wrote its status (125 is run-system's
# own failure: an image, a package or the VM)
vm_ran() {
	run -0 cat "$RUN/run.status"
	if [ "$output" = 125 ]; then
		echo "run-system failed before the guest's end:"
		tail -40 "$RUN/run.log"
		false
	fi
	[ -r "$RUN/results/steps" ]
}

# step NAME: the guest's step NAME passed; else its output, or why it never ran
step() {
	local name st secs
	need_system
	vm_ran
	read -r name st secs < <(grep "^$1 " "$RUN/results/steps")
	if [ -z "$name" ]; then
		echo "the guest never reached step $1; its progress, then the console:"
		cat "$RUN/results/progress"
		tr -d '\r' <"$RUN/console" | tail -20
		false
	fi
	case $st in
	0) ;;
	-) echo "step $1 was not run: $(grep -m1 "^$1: not run" "$RUN/results/progress")"; false ;;
	*) echo "step $1 failed (status $st after $secs s); its output:"; cat "$RUN/results/$1.out"; false ;;
	esac
}

# nonzero FILE: the "PROTOCOL DIRECTION BYTES" lines of FILE with bytes, sorted
nonzero() {
	awk '$3 != 0' "$1" | sort
}

# answered FILE: the traffic's totals in the PromQL answer kept in FILE, as the lines above
answered() {
	sed -n 's/^{direction="\([a-z]*\)", protocol="\([a-z]*\)"} => \([0-9]*\) @.*/\2 \1 \3/p' "$1" | sort
}

@test "run-system: --help is 0, a bad option, value or missing folder is 64" {
	run -0 "$SYS" --help
	assert_output --partial "usage: run-system"
	run -64 "$SYS" --bogus
	assert_output --partial "unknown option: --bogus"
	run -64 "$SYS"
	assert_output --partial "usage: run-system"
	run -64 "$SYS" -t soon "$BATS_TEST_TMPDIR/x"
	assert_output --partial "-t: not a number of seconds: soon"
}

@test "the image (mmdebstrap, cached), both .debs and the VM: the guest ran to its end" {
	need_system
	vm_ran
	# what each part took: cached parts take a second
	sed 's/^/# /' "$RUN/times" >&3
	run -0 cat "$RUN/params"
	assert_line --regexp '^NEW_VERSION=[0-9]'
	assert_line --regexp '^PREV_VERSION=[0-9.]+\\?~git[0-9]{8}\.[0-9a-f]{7}-1$'
}

@test "boot: Debian with systemd as PID 1, running, Debian's kernel, no network but loopback" {
	step boot
	run -0 cat "$RUN/results/boot.out"
	assert_line "system: running"
	assert_line "PID 1: /usr/lib/systemd/systemd (systemd)"
	assert_line "network interfaces: lo"
	assert_line --regexp '^system: Debian GNU/Linux [0-9]+'
	assert_line --regexp '^kernel: [0-9.]+-[0-9]+-amd64$'
}

@test "Prometheus (Debian's) scrapes the exporter's address" {
	step prometheus
}

@test "the system before tcptop: a snapshot for the purge" {
	step snapshot
}

@test "libbpf-tools installed first: its /usr/sbin/tcptop in place" {
	step libbpf-tools
}

@test "apt installs the .deb from a local repository, resolving its dependencies; libbpf-tools' tcptop diverted" {
	step install
	run -0 cat "$RUN/results/install.out"
	assert_line --regexp '^apt installed: .*libcsv3.* tcptop$'
	assert_line "diversion of /usr/sbin/tcptop to /usr/sbin/tcptop.libbpf-tools by tcptop"
	assert_line --regexp '^sudo tcptop --version: tcptop [0-9.]+$'
}

@test "systemctl enable --now tcptop-exporter.service: both units active, the exporter reading" {
	step enable
}

@test "from /proc: the collector is its dynamic user, attached, with no capability left; the exporter another, with none" {
	step identities
	run -0 cat "$RUN/results/identities.out"
	assert_line "collector: CapEff:	0000000000000000"
	assert_line "collector: CapAmb:	0000000000000000"
	assert_line "collector: NoNewPrivs:	1"
	assert_line --regexp '^collector: [0-9]+ BPF links$'
	assert_line --regexp '^collector uid [0-9]+ \(tcptop-collect\), exporter uid [0-9]+ \(tcptop-exporter, [0-9]+ processes\)$'
}

@test "known traffic: the exporter's totals and Prometheus's PromQL answer are its exact bytes" {
	step traffic
	# on the host too: the answer recorded holds the expected totals
	local want got
	want=$(nonzero "$RUN/results/expected-1")
	got=$(answered "$RUN/results/promql-1")
	[ "$got" = "$want" ] || { echo "expected:"; echo "$want"; echo "PromQL:"; echo "$got"; false; }
}

@test "a restart of the collector: the exporter keeps running, what was counted stays, new traffic adds, nothing twice" {
	step restart
	run -0 cat "$RUN/results/restart.out"
	assert_line --regexp '^collector: pid ([0-9]+), then [0-9]+; exporter: pid ([0-9]+), then \2$'
	local want got
	want=$(nonzero "$RUN/results/expected-2")
	got=$(answered "$RUN/results/promql-2")
	[ "$got" = "$want" ] || { echo "expected:"; echo "$want"; echo "PromQL:"; echo "$got"; false; }
}

@test "a connection open across a collector restart: its bytes before and after it, each counted once" {
	step restart-open
	sed 's/^/# /' "$RUN/results/restart-open" >&3
}

@test "journalctl -u of both units: no warning" {
	step journal
}

@test "systemd-analyze security on the booted system: both scores recorded, the exporter's at most 2.0" {
	step security
	run -0 cat "$RUN/results/security"
	assert_line --regexp '^tcptop-collect.service [0-9.]+$'
	assert_line --regexp '^tcptop-exporter.service [0-9.]+$'
	sed 's/^/# exposure: /' "$RUN/results/security" >&3
}

@test "memory and tasks of both units, against their MemoryMax and TasksMax" {
	step resources
	sed 's/^/# /' "$RUN/results/resources" >&3
}

@test "sudo tcptop --log as a user: a CSV that user owns, with the traffic's exact bytes" {
	step sudo-log
	run -0 cat "$RUN/results/sudo-log.out"
	assert_line --regexp '^status 0; tester:tester [0-7]+ /home/tester/traffic.csv'
}

@test "apt-get purge: units and diversion gone, libbpf-tools' tcptop back; with libbpf-tools purged, nothing left" {
	step purge
	run -0 cat "$RUN/results/purge.out"
	assert_line "/usr/sbin/tcptop is libbpf-tools' again"
	assert_line "nothing left: the system is as it was before tcptop was installed"
	[ ! -s "$RUN/results/leftovers-fresh" ]
}

@test "the previous release runs, then libbpf-tools installed after it has its tcptop diverted" {
	step prev-install
	run -0 cat "$RUN/results/prev-install.out"
	assert_line "diversion of /usr/sbin/tcptop to /usr/sbin/tcptop.libbpf-tools by tcptop"
}

@test "the upgrade with the services running: they restart under the new units, Prometheus keeps the old totals, the new exporter counts" {
	step upgrade
}

@test "apt-get purge after the upgrade: nothing left, libbpf-tools' tcptop back" {
	step purge-upgraded
	[ ! -s "$RUN/results/leftovers-upgraded" ]
}

# For README and the closing note: the times, the PromQL answer beside the exact totals, the
# scores, the leftovers. It fails only when the guest did not run.
@test "summary: times, PromQL answer and exact totals, security scores, leftovers" {
	need_system
	vm_ran
	{
		echo "run-system $(cat "$RUN/run.secs") s: $(tr '\n' ' ' <"$RUN/times")"
		echo "guest steps (name status seconds): $(tr '\n' ',' <"$RUN/results/steps")"
		echo "exact totals of tcptop-traffic (protocol direction bytes):"
		nonzero "$RUN/results/expected-2" 2>/dev/null | sed 's/^/  /'
		echo "PromQL answers after the restart:"
		sed 's/^/  /' "$RUN/results/promql-2" 2>/dev/null
		echo "a connection open across the restart: $(tr '\n' ' ' <"$RUN/results/restart-open" 2>/dev/null)"
		echo "exposure: $(tr '\n' ' ' <"$RUN/results/security" 2>/dev/null)"
		echo "leftovers after purge: $(cat "$RUN/results/leftovers-fresh" "$RUN/results/leftovers-upgraded" 2>/dev/null | wc -l) lines"
	} | sed 's/^/# /' >&3
}
