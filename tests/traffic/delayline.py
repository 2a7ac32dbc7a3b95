#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A delay line between two TUN devices, for tests that need a path with a round-trip time:
netem is not available here, and a qdisc that only shapes (tbf, htb) delays a flow by its own
queue, which TCP small queues keep in the sender's socket instead.

  delayline.py [--until-eof] NAME_A NAME_B DELAY_MS

creates the TUN devices NAME_A and NAME_B in its own network namespace, prints "ready", and
from then on copies every IP packet read from one to the other DELAY_MS milliseconds later
(each way: the round trip takes twice that), in order, never dropping one while fewer than
4096 wait. The caller moves the devices where it wants them (ip link set NAME netns NS: the
line keeps working) and gives them addresses and routes. It runs until SIGTERM or SIGINT (or
with --until-eof, until standard input ends), then prints "copied N M" (packets each way) and
"queue_full N". The devices go with it.
"""
import fcntl
import heapq
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
QUEUE_MAX = 4096


def tun(name):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    args = sys.argv[1:]
    until_eof = args[:1] == ['--until-eof']
    if until_eof:
        args = args[1:]
    if len(args) != 3:
        sys.exit('usage: delayline.py [--until-eof] NAME_A NAME_B DELAY_MS')
    a, b = tun(args[0]), tun(args[1])
    delay = float(args[2]) / 1000
    peer = {a: b, b: a}
    copied = {a: 0, b: 0}
    full = 0
    queue = []  # (due, seq, fd to write, packet): seq keeps the order of equal times
    seq = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print('ready', flush=True)
    watch = [a, b] + ([sys.stdin.fileno()] if until_eof else [])
    while not stop:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(queue)
            try:
                os.write(fd, pkt)
            except OSError:
                pass  # the device is down or being moved: the packet is lost, as on a wire
        timeout = max(0.0, queue[0][0] - now) if queue else None
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
        except InterruptedError:
            continue
        for fd in ready:
            if fd == sys.stdin.fileno():
                if not os.read(fd, 4096):
                    stop.append(1)
                continue
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if len(queue) >= QUEUE_MAX:
                    full += 1
                    continue
                seq += 1
                copied[fd] += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, peer[fd], pkt))
    print('copied', copied[a], copied[b], flush=True)
    print('queue_full', full, flush=True)


if __name__ == '__main__':
    main()
