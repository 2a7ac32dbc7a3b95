#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Man pages: both linters clean on every page in man/, and each tool's --help lists the same long
# options as its page's OPTIONS section (and the bash completion the same as tcptop --help).

load test_helper/common

: "${TCPTOP_SRC:=$BATS_TEST_DIRNAME/..}"
MANDIR="$TCPTOP_SRC/man"

# The long options a text mentions, one per line, sorted and unique.
long_options() {
	grep -oE -- '(^|[^[:alnum:]-])--[a-z][a-z0-9-]*' | sed 's/^[^-]*//' | sort -u
}

# The OPTIONS section of a page, rendered as plain text.
man_options_section() {
	MANWIDTH=200 mandoc -Tascii "$1" | col -bx |
		awk '/^OPTIONS/ { on = 1; next } /^[A-Z][A-Z ]*$/ { on = 0 } on'
}

# compare_options TOOL: --help of $OUTPUT/TOOL against man/TOOL.1.
compare_options() {
	local tool=$1 page="$MANDIR/$1.1"
	# make test builds every tool and every tool has a page: a missing one fails
	[ -x "$OUTPUT/$tool" ] || fail "$tool is not built ($OUTPUT/$tool missing)"
	[ -f "$page" ] || fail "man/$tool.1 is missing"
	run -0 "$OUTPUT/$tool" --help
	local help_opts man_opts
	# (the exit statuses' lines, from lib/contract.c, may name another tool's option)
	help_opts=$(sed '/^Exit status/,$d' <<<"$output" | long_options)
	man_opts=$(man_options_section "$page" | long_options)
	[ -n "$help_opts" ] || fail "$tool --help lists no long option"
	run diff <(echo "$help_opts") <(echo "$man_opts")
	[ "$status" -eq 0 ] ||
		fail "$tool: --help (<) and man/$tool.1 OPTIONS (>) list different options:
$output"
}

@test "every tool and the stream format have their page in man/" {
	local page missing=
	for page in tcptop.1 tcptop-collect.1 tcptop-agg.1 tcptop-view.1 tcptop-csv.1 \
		tcptop-stream.5; do
		[ -f "$MANDIR/$page" ] || missing+=" $page"
	done
	[ -z "$missing" ] || fail "missing in man/:$missing"
}

@test "mandoc -Tlint reports nothing on any page in man/" {
	local page out all=
	shopt -s nullglob
	local pages=("$MANDIR"/*.[1-9])
	[ ${#pages[@]} -ge 2 ] || fail "expected man pages in $MANDIR"
	for page in "${pages[@]}"; do
		# Every message counts, style included: no warning here is judged spurious.
		out=$(mandoc -Tlint "$page" 2>&1) || true
		[ -z "$out" ] || all+="$out"$'\n'
	done
	[ -z "$all" ] || fail "$all"
}

@test "groff -man -ww -z reports nothing on any page in man/" {
	local page out all=
	shopt -s nullglob
	for page in "$MANDIR"/*.[1-9]; do
		out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1) || true
		[ -z "$out" ] || all+="${page##*/}: $out"$'\n'
	done
	[ -z "$all" ] || fail "$all"
}

@test "the linters do report a broken page (the checks above can fail)" {
	printf '.TH BROKEN 1\n.SH NAME\nbroken \\- x\n.SH DESCRIPTION\n.BOGUS\n.B\n' \
		>"$BATS_TEST_TMPDIR/broken.1"
	run mandoc -Tlint "$BATS_TEST_TMPDIR/broken.1"
	assert_output --partial 'BOGUS'
	run groff -man -ww -z "$BATS_TEST_TMPDIR/broken.1"
	assert_output --partial 'BOGUS'
}

@test "a page that names a tcptop version in its .TH names the Makefile's VERSION" {
	local version page bad= n=0
	version=$(sed -n 's/^VERSION := //p' "$TCPTOP_SRC/Makefile")
	[ -n "$version" ] || fail "no VERSION in the Makefile"
	for page in "$MANDIR"/*.[1-9]; do
		grep -qE '^\.TH .*"tcptop [0-9]' "$page" || continue
		n=$((n + 1))
		grep -q "^\.TH .*\"tcptop $version\"" "$page" ||
			bad+=" ${page##*/}:$(grep -m1 '^\.TH' "$page")"
	done
	[ "$n" -ge 2 ] || fail "tcptop(1) and tcptop-stream(5) should name the version"
	[ -z "$bad" ] || fail "stale version (VERSION is $version):$bad"
}

@test "tcptop-stream(5) gives the record type numbers and minimum body sizes of lib/stream.h and lib/stream.c" {
	# The page is normative; lib/stream.h and lib/stream.c implement it. Compare the numbers.
	local text
	text=$(MANWIDTH=200 mandoc -Tascii "$MANDIR/tcptop-stream.5" | col -bx)
	local name num n=0
	while read -r name num; do
		[ "$name" = REC_HEADER ] && continue
		n=$((n + 1))
		num=$(printf '0x%04x' "$num")
		grep -qE "^ *$num +${name#REC_} " <<<"$text" ||
			fail "record $name ($num) missing from the RECORD TYPES table"
	done < <(grep -oE '^\s*REC_[A-Z_]+ = 0x[0-9A-Fa-f]+' "$TCPTOP_SRC/lib/stream.h" |
		sed 's/=//')
	[ "$n" -ge 12 ] || fail "found only $n record types in lib/stream.h"
	# the record kinds' table of lib/stream.c (tcptop-contract prints it): name and body_min
	local size checked=0 type body
	while read -r _ type name _ body; do
		size=$(grep -E "^ *$type +$name " <<<"$text" | awk '{ print $4 }')
		[ "${size%%+*}" = "$body" ] ||
			fail "$name: rec_kinds[] says $body, the page says '$size'"
		checked=$((checked + 1))
	done < <(tcptop-contract | awk '$1 == "record"')
	[ "$checked" -ge 12 ] || fail "compared only $checked body sizes with lib/stream.c"
	grep -q 'STREAM_RECORD_MAX 65536' "$TCPTOP_SRC/lib/stream.h"
	grep -q 'cap of 65536 bytes' <<<"$text"
	grep -q 'REC_HEADER	 0x0A0D0D0Au' "$TCPTOP_SRC/lib/stream.h"
	grep -q 'type = 0x0A0D0D0A' <<<"$text"
}

@test "tcptop --help and tcptop(1) list the same long options" {
	compare_options tcptop
}

@test "tcptop-collect --help and tcptop-collect(1) list the same long options" {
	compare_options tcptop-collect
}

@test "tcptop-agg --help and tcptop-agg(1) list the same long options" {
	compare_options tcptop-agg
}

@test "tcptop-view --help and tcptop-view(1) list the same long options" {
	compare_options tcptop-view
}

@test "tcptop-csv --help and tcptop-csv(1) list the same long options" {
	compare_options tcptop-csv
}

@test "tcptop-prom --help and tcptop-prom(1) list the same long options" {
	compare_options tcptop-prom
}

@test "bash completion offers exactly the options of tcptop --help" {
	[ -x "$OUTPUT/tcptop" ] || fail "tcptop is not built ($OUTPUT/tcptop missing)"
	[ -r /usr/share/bash-completion/bash_completion ] ||
		fail "bash-completion is not installed (make deps installs it)"
	run -0 "$OUTPUT/tcptop" --help
	local help_opts
	help_opts=$(long_options <<<"$output")
	run -0 bash -c 'source /usr/share/bash-completion/bash_completion
		source "$1/packaging/bash-completion/tcptop"
		COMP_LINE="tcptop --"; COMP_POINT=${#COMP_LINE}
		COMP_WORDS=(tcptop --); COMP_CWORD=1
		_tcptop; printf "%s\n" "${COMPREPLY[@]}"' bash "$TCPTOP_SRC"
	local comp_opts
	comp_opts=$(long_options <<<"$output")
	run diff <(echo "$help_opts") <(echo "$comp_opts")
	[ "$status" -eq 0 ] || fail "tcptop --help (<) and the completion (>) differ:
$output"
}

@test "tcptop(1) OUTPUT describes every column tcptop-csv writes, and no other" {
	[ -x "$OUTPUT/tcptop-csv" ] || fail "tcptop-csv is not built ($OUTPUT/tcptop-csv missing)"
	# with --resolve, for its column too (a loopback port nobody serves: no name, 0.2 s)
	run -0 bash -c 'printf "%s\n" "header kind=snapshot" "snap seq=1 time=1700000000" \
		"row flow=1 proto=tcp src=10.0.0.1:1 dst=10.0.0.2:2 pid=5 comm=x" snapend end |
		"$1" | "$2" --resolve --dns-server 127.0.0.1:9 | head -n 1' bash "$GEN" \
		"$OUTPUT/tcptop-csv"
	local columns page_cols
	columns=$(tr ',' '\n' <<<"$output")
	[ "$(grep -c . <<<"$columns")" -ge 16 ] || fail "tcptop-csv wrote too few columns: $output"
	# the page's column tags: the words of the .TP tag lines in OUTPUT (grouped, so unordered)
	page_cols=$(sed -n '/^\.SH OUTPUT/,/^\.SH /p' "$MANDIR/tcptop.1" |
		awk '/^\.TP/ { getline; print }' | grep -oE '[a-z][a-z0-9]*(_[a-z0-9]+)*' |
		grep -vxE 'B|BR' | sort)
	run diff <(sort <<<"$columns") <(echo "$page_cols")
	[ "$status" -eq 0 ] || fail "tcptop-csv's header (<) and tcptop(1) OUTPUT (>) differ:
$output"
}
