# SPDX-License-Identifier: GPL-2.0-or-later
# travel_screens PREFIX: with a tcptop-view on a recording in the caller's tmux pane (the
# caller's `screen` prints it, `tm` drives its tmux), the screen of every snapshot the view keeps,
# from the last back to the first ([ travels back), in PREFIX.0, PREFIX.1, ...; then q. Prints
# how many. For comparing the screens of two streams snapshot by snapshot.
travel_screens() {
	local i mark next
	for _ in $(seq 200); do
		screen | grep -q 'stream ended\|END OF RECORDING' && break
		sleep 0.05
	done
	for i in $(seq 0 200); do
		screen >"$1.$i"
		grep -q 'TIME TRAVEL 1/' "$1.$i" && break
		mark=$(sed -n '1s/.*  \(#[0-9]*\)  .*/\1/p' "$1.$i")
		tm send-keys '['
		for _ in $(seq 200); do
			next=$(screen | sed -n '1s/.*  \(#[0-9]*\)  .*/\1/p')
			[ "$next" != "$mark" ] && break
			sleep 0.05
		done
		[ "$next" != "$mark" ] || { echo "[ did not travel from $mark" >&2; return 1; }
	done
	tm send-keys q
	echo $((i + 1))
}
