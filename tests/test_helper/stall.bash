# SPDX-License-Identifier: GPL-2.0-or-later
# Stalled inputs and stop times: a FIFO nobody writes to, and a timed signal.

# silent_writer FIFO: hold FIFO open for writing without writing (sets $writer to its pid);
# the caller kills it. The FIFO is opened by the writer only: a reader may come first.
silent_writer() {
	sleep 60 >"$1" 3>&- &
	writer=$!
}

# signal_and_wait PID SIG [TARGET]: send SIG to TARGET (default PID; -PGID: a process group, as
# Ctrl-C does), wait for PID; a watchdog kills PID after 5 s so that a hang fails the test instead
# of the suite. Sets $st (exit status) and $ms (milliseconds it took).
signal_and_wait() {
	local pid=$1 sig=$2 target=${3:-$1} t0 wd
	(sleep 5 && kill -9 "$pid" 2>/dev/null) 3>&- &
	wd=$!
	t0=$(date +%s%N)
	kill -"$sig" -- "$target"
	st=0
	wait "$pid" || st=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	kill "$wd" 2>/dev/null || true
	wait "$wd" 2>/dev/null || true
}

# started PID: wait (bounded) until PID sleeps in a wait for input, so that the signal comes
# during the wait, not before it.
started() {
	for _ in $(seq 200); do
		case $(cat "/proc/$1/wchan" 2>/dev/null) in
		*poll* | *pipe_read* | *pipe_wait* | *fifo_open* | *wait_for_partner* | *nanosleep*)
			return 0 ;;
		esac
		sleep 0.01
	done
	return 1
}
