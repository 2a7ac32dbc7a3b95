# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by every bats file: assertions, paths, and skips that say why.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${OUTPUT:=$BATS_TEST_DIRNAME/../.output}"
export PATH="$OUTPUT:$PATH"
GEN="$OUTPUT/tcptop-gen"

skip_unless_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (live eBPF)"
}

# BPF is usable when we are root and the kernel has BTF.
skip_unless_bpf() {
	skip_unless_root
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
}

# A user without privilege, for the "exit 77" and privilege-drop tests.
unpriv_user() {
	if id nobody >/dev/null 2>&1; then echo nobody; else echo 65534; fi
}

# as_unpriv CMD...: run CMD as nobody (numeric ids: Debian's group is nogroup), no capabilities.
as_unpriv() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"
}

# gen SCRIPT-TEXT [GEN-OPTIONS] > stream: the generator reading its script from stdin.
gen() {
	"$GEN" "$@"
}

# Tests that become nobody with setpriv (as_unpriv): only root may switch users.
skip_unless_setpriv() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: setpriv cannot become nobody (uid 65534) otherwise"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
}

# shared_dir MODE: a fresh folder under /tmp whose path every user can reach (the test's own
# folder is 0700: nobody could not enter it whatever the mode below it); prints its path.
shared_dir() {
	local d
	d=$(mktemp -d /tmp/tcptop-test.XXXXXX) && chmod "$1" "$d" && echo "$d"
}
