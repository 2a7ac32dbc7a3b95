#!/usr/bin/env bats
# The build's contract: install and uninstall honour PREFIX and DESTDIR, deps without apt,
# formatting, versions.

load test_helper/common

@test "make install honours DESTDIR and PREFIX; uninstall removes every file" {
	dest=$BATS_TEST_TMPDIR/root
	run -0 make -C "$TCPTOP_SRC" -s install DESTDIR="$dest" PREFIX=/usr OUTPUT="$OUTPUT"
	for t in tcptop tcptop-collect tcptop-agg tcptop-view tcptop-csv; do
		[ -x "$dest/usr/bin/$t" ] || fail "$t not installed in usr/bin"
	done
	for p in "$TCPTOP_SRC"/man/*.1; do
		[ -f "$dest/usr/share/man/man1/${p##*/}" ] || fail "${p##*/} not installed"
	done
	[ -f "$dest/usr/share/man/man5/tcptop-stream.5" ]
	run -0 make -C "$TCPTOP_SRC" -s uninstall DESTDIR="$dest" PREFIX=/usr OUTPUT="$OUTPUT"
	run -0 find "$dest" -type f
	assert_output ""
}

@test "make deps without apt-get prints the missing packages and stops" {
	fake=$BATS_TEST_TMPDIR/bin
	mkdir -p "$fake"
	for t in sh dpkg-query grep id echo; do ln -s "$(command -v $t)" "$fake/$t"; done
	run env PATH="$fake" "$(command -v make)" -C "$TCPTOP_SRC" -s deps \
		DEB_DEPS="tcptop-no-such-package-a tcptop-no-such-package-b"
	[ "$status" -ne 0 ]
	assert_output --partial "no apt-get here"
	assert_output --partial "tcptop-no-such-package-a tcptop-no-such-package-b"
}

@test "make deps does nothing when everything is installed" {
	run -0 make -C "$TCPTOP_SRC" -s deps DEB_DEPS="make"
	assert_output ""
}

@test "sources are formatted (make format-check)" {
	# make deps installs it (DEB_TEST): a missing formatter is a failure, never a skip
	command -v clang-format >/dev/null || fail "clang-format not installed (make deps installs it)"
	run -0 make -C "$TCPTOP_SRC" -s format-check
}

@test "make deps installs the formatter that format-check needs" {
	run -0 make -C "$TCPTOP_SRC" -s -p -n deps
	assert_line --regexp '^DEB_TEST := .*\bclang-format\b'
}

@test "every tool prints the one version" {
	version=$(sed -n 's/^VERSION := //p' "$TCPTOP_SRC/Makefile")
	for t in tcptop tcptop-collect tcptop-agg tcptop-view tcptop-csv; do
		run -0 "$OUTPUT/$t" --version
		assert_output "$t $version"
	done
}
