// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of lib/stop.c: a stop request that is pending while the signals are blocked counts
 * at the end of the input (stop_signal_now), not only inside a wait. */
#include <signal.h>
#include <unistd.h>

#include "stop.h"
#include "tap.h"

int main(void)
{
	ok(stop_init() == 0, "stop_init blocks SIGINT and SIGTERM and catches them");
	ok(stop_signal() == 0 && stop_signal_now() == 0, "no request yet");
	kill(getpid(), SIGTERM);
	/* blocked outside the waits: pending, not seen yet */
	ok(stop_signal() == 0, "a SIGTERM sent while blocked is pending: stop_signal() is 0");
	ok(stop_signal_now() == SIGTERM, "stop_signal_now() lets it in: SIGTERM");
	ok(stop_signal() == SIGTERM, "... and it stays");
	kill(getpid(), SIGINT);
	ok(stop_signal_now() == SIGTERM,
	   "a later SIGINT changes nothing: the first request counts");
	return done_testing();
}
