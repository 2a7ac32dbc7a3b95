#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Packages: make dist is reproducible; make deb gives a lintian-clean .deb that installs, works,
# coexists with libbpf-tools' /usr/sbin/tcptop and purges without a trace; make rpm gives an
# rpmlint-clean .rpm with the programs and man pages. The builds run once, in setup_file.

load test_helper/common

: "${TCPTOP_SRC:=$BATS_TEST_DIRNAME/..}"
TOOLS=(tcptop tcptop-collect tcptop-agg tcptop-view tcptop-csv)
# What root's and sudo's PATH look like on Debian (secure_path): sbin before bin.
ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

version() {
	sed -n 's/^VERSION := //p' "$TCPTOP_SRC/Makefile"
}

# make TARGET in the source tree, without the calling make's flags.
pkg_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make -C "$TCPTOP_SRC" --no-print-directory OUTPUT="$OUTPUT" "$@"
}

in_git() {
	git -C "$TCPTOP_SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1
}

setup_file() {
	: "${TCPTOP_SRC:=$BATS_TEST_DIRNAME/..}"
	[ -x "$OUTPUT/tcptop" ] && in_git || return 0
	local st=0 sha
	# both packages from one commit, whatever others commit meanwhile
	sha=$(git -C "$TCPTOP_SRC" rev-parse HEAD)
	echo "$sha" >"$BATS_FILE_TMPDIR/sha"
	pkg_make DIST_REF="$sha" deb >"$BATS_FILE_TMPDIR/deb.log" 2>&1 || st=$?
	echo "$st" >"$BATS_FILE_TMPDIR/deb.status"
	st=0
	pkg_make DIST_REF="$sha" rpm >"$BATS_FILE_TMPDIR/rpm.log" 2>&1 || st=$?
	echo "$st" >"$BATS_FILE_TMPDIR/rpm.status"
}

teardown_file() {
	# Leave no package of ours behind, whatever failed.
	if [ "$(id -u)" -eq 0 ] && [ -f "$BATS_FILE_TMPDIR/installed-by-test" ]; then
		dpkg --purge tcptop tcptop-test-sbin-standin >/dev/null 2>&1 || true
	fi
}

need_git() {
	in_git || skip "not a git checkout: make dist packs the files git tracks"
}

need_wrapper() {
	need_git
	[ -x "$OUTPUT/tcptop" ] || fail "the wrapper is not built ($OUTPUT/tcptop): make test builds it"
}

need_deb() {
	need_wrapper
	[ "$(cat "$BATS_FILE_TMPDIR/deb.status")" = 0 ] ||
		fail "make deb failed ($OUTPUT/pkg/deb/build.log): $(grep -iE 'error|cannot|not found' \
			"$BATS_FILE_TMPDIR/deb.log" "$OUTPUT/pkg/deb/build.log" 2>/dev/null | head -n 8)"
	DEB=$(ls "$OUTPUT"/pkg/tcptop_"$(version)"-*_*.deb)
	[ -f "$DEB" ] || fail "no .deb in $OUTPUT/pkg"
}

need_rpm() {
	need_wrapper
	[ "$(cat "$BATS_FILE_TMPDIR/rpm.status")" = 0 ] ||
		fail "make rpm failed ($OUTPUT/pkg/rpm/build.log): $(grep -iE 'error|cannot|not found' \
			"$BATS_FILE_TMPDIR/rpm.log" "$OUTPUT/pkg/rpm/build.log" 2>/dev/null | head -n 8)"
	RPM=$(ls "$OUTPUT"/pkg/tcptop-"$(version)"-*.rpm)
	[ -f "$RPM" ] || fail "no .rpm in $OUTPUT/pkg"
}

# The tools whose build.mk is in the commit the packages were built from: each package must
# hold them. (A tool still uncommitted in this work tree builds here but is not packaged.)
packaged_tools() {
	local t sha
	sha=$(cat "$BATS_FILE_TMPDIR/sha")
	for t in "${TOOLS[@]}"; do
		git -C "$TCPTOP_SRC" cat-file -e "$sha:$t/build.mk" 2>/dev/null && echo "$t"
	done
}

built_tools() {
	local t
	for t in "${TOOLS[@]}"; do
		[ -x "$OUTPUT/$t" ] && echo "$t"
	done
}

need_root_dpkg() {
	skip_unless_root
	if dpkg-query -W -f='${Status}' tcptop 2>/dev/null | grep -q 'ok installed' &&
		[ ! -f "$BATS_FILE_TMPDIR/installed-by-test" ]; then
		skip "a tcptop package is already installed here: not replacing it"
	fi
	if dpkg-divert --list /usr/sbin/tcptop | grep -qv 'by tcptop$'; then
		skip "/usr/sbin/tcptop is diverted by another package"
	fi
	touch "$BATS_FILE_TMPDIR/installed-by-test"
}

@test "make dist gives tcptop-VERSION.tar.gz, byte-identical when made twice" {
	need_git
	local sha tarball="$OUTPUT/dist/tcptop-$(version).tar.gz"
	# one commit for both runs: others may commit meanwhile
	sha=$(git -C "$TCPTOP_SRC" rev-parse HEAD)
	run -0 pkg_make DIST_REF="$sha" dist
	[ -f "$tarball" ] || fail "no $tarball"
	cp "$tarball" "$BATS_TEST_TMPDIR/first.tar.gz"
	sleep 1 # a time stamp that leaked in would now differ
	run -0 pkg_make DIST_REF="$sha" dist
	cmp "$BATS_TEST_TMPDIR/first.tar.gz" "$tarball"
}

@test "the dist tarball: one top directory, sorted names, owner 0, one mtime, the commit's files" {
	need_git
	local sha v tarball="$OUTPUT/dist/tcptop-$(version).tar.gz"
	v=$(version)
	sha=$(git -C "$TCPTOP_SRC" rev-parse HEAD)
	run -0 pkg_make DIST_REF="$sha" dist
	run -0 tar -tzf "$tarball"
	local names=$output
	! grep -v "^tcptop-$v/" <<<"$names" || fail "names outside tcptop-$v/"
	[ "$names" = "$(LC_ALL=C sort <<<"$names")" ] ||
		fail "names are not sorted: $(diff <(echo "$names") <(LC_ALL=C sort <<<"$names"))"
	assert_line "tcptop-$v/Makefile"
	assert_line "tcptop-$v/packaging/debian/control"
	assert_line "tcptop-$v/packaging/rpm/tcptop.spec"
	assert_line "tcptop-$v/man/tcptop.1"
	refute_line --partial ".output/"
	diff <(grep -v '/$' <<<"$names" | sed "s,^tcptop-$v/,,") \
		<(git -C "$TCPTOP_SRC" ls-tree -r --name-only "$sha") ||
		fail "the tarball does not hold exactly the files of commit $sha"
	run -0 tar -tvzf "$tarball" --numeric-owner
	refute_line --regexp '^[^ ]+ [1-9][0-9]*/|^[^ ]+ 0/[1-9]'
	refute_line --regexp '^.{4}w|^.{7}w'
	[ "$(awk '{ print $4, $5 }' <<<"$output" | sort -u | wc -l)" -eq 1 ] ||
		fail "more than one mtime in the tarball"
	# gzip -n: no file name and no time stamp in the gzip header
	[ "$(od -A n -t u4 -j 4 -N 4 "$tarball" | tr -d ' ')" = 0 ]
}

@test "debian/changelog and the RPM spec carry the Makefile's VERSION, and a mismatch is refused" {
	run -0 pkg_make pkg-version-check
	run -2 pkg_make VERSION=9.9.9 pkg-version-check
	assert_output --partial "packaging/debian/changelog says $(version)-1"
}

@test "COPYING is the full GPL-2.0 text; the RPM and Debian licence fields agree with the SPDX lines" {
	run -0 head -2 "$TCPTOP_SRC/COPYING"
	assert_output --partial "GNU GENERAL PUBLIC LICENSE"
	assert_output --partial "Version 2, June 1991"
	run -0 grep -c "END OF TERMS AND CONDITIONS" "$TCPTOP_SRC/COPYING"
	if [ -r /usr/share/common-licenses/GPL-2 ]; then
		cmp "$TCPTOP_SRC/COPYING" /usr/share/common-licenses/GPL-2
	fi
	run -0 grep -E '^(License|%license)' "$TCPTOP_SRC/packaging/rpm/tcptop.spec"
	assert_line 'License:        GPL-2.0-or-later'
	assert_line '%license COPYING'
	run -0 grep '^License:' "$TCPTOP_SRC/packaging/debian/copyright"
	assert_line 'License: GPL-2.0+'
	run -0 grep -c 'common-licenses/GPL-2"' "$TCPTOP_SRC/packaging/debian/copyright"
	# every C source says the same
	run -0 bash -c "cd '$TCPTOP_SRC' && git ls-files '*.c' '*.h' | xargs grep -L 'SPDX-License-Identifier: GPL-2.0-or-later' | grep -v '^bpf/vmlinux' || true"
	assert_output ""
}

@test "debian/control Build-Depends name every package of the Makefile's DEB_BUILD" {
	local want have p missing=
	# make and gcc come with build-essential, which Build-Depends never lists
	want=$(make -C "$TCPTOP_SRC" --no-print-directory -p -n 2>/dev/null |
		sed -n 's/^DEB_BUILD := //p' | tr ' ' '\n' | grep -vxE 'make|gcc|' | sort -u)
	[ -n "$want" ] || fail "no DEB_BUILD in the Makefile"
	have=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$TCPTOP_SRC/packaging/debian/control" |
		sed 's/^Build-Depends://' | tr ',' '\n' | sed 's/(.*//; s/^ *//; s/ *$//' | grep .)
	for p in $want; do
		grep -qx "$p" <<<"$have" || missing+=" $p"
	done
	[ -z "$missing" ] || fail "Build-Depends lacks:$missing"
}

@test "make install puts programs, pages and completion under DESTDIR; make uninstall removes them" {
	need_wrapper
	local d="$BATS_TEST_TMPDIR/root" t
	run -0 pkg_make DESTDIR="$d" PREFIX=/usr install
	for t in $(built_tools); do
		[ -x "$d/usr/bin/$t" ] || fail "$t not installed"
	done
	[ -f "$d/usr/share/man/man1/tcptop.1" ]
	[ -f "$d/usr/share/man/man5/tcptop-stream.5" ]
	[ -f "$d/usr/share/bash-completion/completions/tcptop" ]
	run -0 pkg_make DESTDIR="$d" PREFIX=/usr uninstall
	run -0 find "$d" -type f
	assert_output ''
}

@test "make deb builds a .deb with the programs, compressed man pages, README and copyright" {
	need_deb
	run -0 dpkg-deb -c "$DEB"
	local t
	for t in $(packaged_tools); do
		assert_line --regexp "^-rwxr-xr-x root/root .* \./usr/bin/$t$"
		! git -C "$TCPTOP_SRC" cat-file -e "$(cat "$BATS_FILE_TMPDIR/sha"):man/$t.1" ||
			assert_line --regexp " \./usr/share/man/man1/$t\.1\.gz$"
	done
	assert_line --regexp ' \./usr/share/man/man1/tcptop\.1\.gz$'
	assert_line --regexp ' \./usr/share/man/man5/tcptop-stream\.5\.gz$'
	assert_line --regexp ' \./usr/share/doc/tcptop/copyright$'
	assert_line --regexp ' \./usr/share/doc/tcptop/README\.Debian$'
	assert_line --regexp ' \./usr/share/bash-completion/completions/tcptop$'
	refute_line --regexp ' \./usr/sbin/'
	refute_line --regexp ' \./usr/local/'
}

@test "every tool of the pipeline is built and packaged" {
	need_deb
	local t missing=
	for t in "${TOOLS[@]}"; do
		grep -qx "$t" <<<"$(packaged_tools)" || missing+=" $t"
	done
	[ -z "$missing" ] || fail "built but not packaged (no build.mk in HEAD, or not in the package):$missing"
	run -0 dpkg-deb -c "$DEB"
	for t in "${TOOLS[@]}"; do
		assert_line --regexp " \./usr/bin/$t$"
		assert_line --regexp " \./usr/share/man/man1/$t\.1\.gz$"
	done
}

@test "the .deb's Depends are computed (shared libraries), with no kernel version dependency" {
	need_deb
	run -0 dpkg-deb -f "$DEB" Depends
	assert_output --partial 'libc6'
	refute_output --partial 'linux-image'
	refute_output --partial '${'
	run -0 dpkg-deb -f "$DEB" Version Architecture
	assert_line "Version: $(version)-1"
}

@test "lintian reports no error and no warning on the .deb" {
	need_deb
	local changes
	changes=$(ls "$OUTPUT"/pkg/tcptop_"$(version)"-*.changes)
	run lintian --fail-on error,warning "$changes"
	[ "$status" -eq 0 ] || fail "lintian: $output"
	refute_output --regexp '^[EW]: '
}

@test "dpkg -i; tcptop --version and man -w work; dpkg --purge leaves nothing behind" {
	need_deb
	need_root_dpkg
	run -0 dpkg-deb -c "$DEB"
	local files
	files=$(awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' <<<"$output")
	run -0 dpkg -i "$DEB"
	run -0 env PATH="$ROOT_PATH" tcptop --version
	assert_output "tcptop $(version)"
	run -0 man -w tcptop
	assert_output /usr/share/man/man1/tcptop.1.gz
	run -0 man -w 5 tcptop-stream
	assert_output /usr/share/man/man5/tcptop-stream.5.gz
	run -0 dpkg-divert --list /usr/sbin/tcptop
	assert_output --partial 'by tcptop'
	run -0 dpkg --purge tcptop
	local f left=
	for f in $files; do
		[ ! -e "$f" ] || left+=" $f"
	done
	[ -z "$left" ] || fail "left behind after purge:$left"
	[ ! -e /usr/share/doc/tcptop ] || fail "/usr/share/doc/tcptop left behind"
	run -0 dpkg-divert --list /usr/sbin/tcptop
	assert_output ''
	run -1 dpkg-query -W -f='${Status}' tcptop
	refute_output --partial installed
}

# A stand-in for libbpf-tools: a package owning /usr/sbin/tcptop, as libbpf-tools does.
make_standin() {
	local d="$BATS_TEST_TMPDIR/standin"
	mkdir -p "$d/DEBIAN" "$d/usr/sbin"
	printf '#!/bin/sh\necho "libbpf-tools tcptop stand-in"\n' >"$d/usr/sbin/tcptop"
	chmod 0755 "$d/usr/sbin/tcptop"
	cat >"$d/DEBIAN/control" <<-EOF
		Package: tcptop-test-sbin-standin
		Version: 1.0
		Architecture: all
		Maintainer: tcptop tests <tcptop@example.org>
		Description: test stand-in owning /usr/sbin/tcptop like libbpf-tools
	EOF
	dpkg-deb --root-owner-group -b "$d" "$BATS_TEST_TMPDIR/standin.deb" >/dev/null
	echo "$BATS_TEST_TMPDIR/standin.deb"
}

@test "with libbpf-tools' /usr/sbin/tcptop present, root's PATH runs this tcptop; removal restores it" {
	need_deb
	need_root_dpkg
	dpkg-query -W -f='${Status}' libbpf-tools 2>/dev/null | grep -q 'ok installed' &&
		skip "the real libbpf-tools is installed: not replacing its file with a stand-in"
	local standin
	standin=$(make_standin)

	# libbpf-tools first, then tcptop
	run -0 dpkg -i "$standin"
	run -0 dpkg -i "$DEB"
	[ ! -e /usr/sbin/tcptop ] || fail "/usr/sbin/tcptop still there"
	run -0 /usr/sbin/tcptop.libbpf-tools
	assert_output "libbpf-tools tcptop stand-in"
	run -0 env PATH="$ROOT_PATH" tcptop --version
	assert_output "tcptop $(version)"
	run -0 dpkg --purge tcptop
	run -0 env PATH="$ROOT_PATH" tcptop
	assert_output "libbpf-tools tcptop stand-in"
	[ ! -e /usr/sbin/tcptop.libbpf-tools ] || fail "diverted copy left behind"

	# tcptop first, then libbpf-tools
	run -0 dpkg --purge tcptop-test-sbin-standin
	run -0 dpkg -i "$DEB"
	run -0 dpkg -i "$standin"
	run -0 env PATH="$ROOT_PATH" tcptop --version
	assert_output "tcptop $(version)"
	run -0 /usr/sbin/tcptop.libbpf-tools
	assert_output "libbpf-tools tcptop stand-in"
	run -0 dpkg --purge tcptop
	run -0 /usr/sbin/tcptop
	assert_output "libbpf-tools tcptop stand-in"
	run -0 dpkg --purge tcptop-test-sbin-standin
	[ ! -e /usr/sbin/tcptop ] && [ ! -e /usr/sbin/tcptop.libbpf-tools ] ||
		fail "files left in /usr/sbin"
	run -0 dpkg-divert --list /usr/sbin/tcptop
	assert_output ''
}

@test "make rpm builds an .rpm whose file list has the programs and man pages under /usr/share/man" {
	need_rpm
	run -0 rpm -qlp "$RPM"
	local t
	for t in $(packaged_tools); do
		assert_line "/usr/bin/$t"
		! git -C "$TCPTOP_SRC" cat-file -e "$(cat "$BATS_FILE_TMPDIR/sha"):man/$t.1" ||
			assert_line "/usr/share/man/man1/$t.1.gz"
	done
	assert_line /usr/share/man/man1/tcptop.1.gz
	assert_line /usr/share/man/man5/tcptop-stream.5.gz
	assert_line /usr/share/bash-completion/completions/tcptop
	# %license: the full text beside the package's docs (tcptop-VERSION/ with Debian's rpm,
	# which lacks Fedora's %_docdir_fmt)
	assert_line --regexp '^/usr/share/licenses/tcptop(-[0-9.]+)?/COPYING$'
	run -0 rpm -qp --queryformat '%{VERSION}\n' "$RPM"
	assert_output "$(version)"
}

@test "rpmlint reports no error and no warning on the .rpm and the spec (packaging/rpm/rpmlint.toml)" {
	need_rpm
	run rpmlint -c "$TCPTOP_SRC/packaging/rpm/rpmlint.toml" "$RPM" \
		"$TCPTOP_SRC/packaging/rpm/tcptop.spec"
	[ "$status" -eq 0 ] || fail "rpmlint: $output"
	assert_output --partial '0 errors, 0 warnings'
}

@test "every built tool's --version prints its name and the Makefile's VERSION" {
	local t n=0
	for t in $(built_tools); do
		run -0 "$OUTPUT/$t" --version
		assert_output "$t $(version)"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || fail "no tool is built ($OUTPUT): make test builds them"
}

@test "tcptop-agg writes the Makefile's VERSION into its stream header" {
	[ -x "$OUTPUT/tcptop-agg" ] || fail "tcptop-agg is not built ($OUTPUT)"
	run -0 bash -c 'printf "header kind=raw\ntick t=1\nend t=1\n" | "$1" |
		"$2" | "$3"' bash "$GEN" "$OUTPUT/tcptop-agg" "$OUTPUT/tcptop-dump"
	assert_line --regexp "^header kind=snapshot .*version=\"?$(version)\"?( |$)"
}
