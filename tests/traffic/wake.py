#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Holds N idle loopback TCP connections and wakes one on request, for the collector's tests
of activation (a connection that has been quiet is read again from its first call).

  wake.py N        prints "ready N", then for each line "send I BYTES" on standard input
                   sends BYTES from the client end of connection I to its server end, reads
                   them there, and prints "sent I CLIENT SERVER TOTAL" (TOTAL: the bytes that
                   connection carried so far). Ends, closing them all, at end of input."""
import socket
import sys


def main():
    n = int(sys.argv[1])
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.bind(('127.0.0.1', 0))
    lsn.listen(n)
    pairs, totals = [], []
    for _ in range(n):
        c = socket.create_connection(lsn.getsockname())
        s, _ = lsn.accept()
        pairs.append((c, s))
        totals.append(0)
    lsn.close()
    print('ready %d' % n, flush=True)
    for line in sys.stdin:
        word = line.split()
        if len(word) != 3 or word[0] != 'send':
            print('error: %r' % line.strip(), flush=True)
            continue
        i, size = int(word[1]), int(word[2])
        c, s = pairs[i]
        c.sendall(b'x' * size)
        got = 0
        while got < size:
            got += len(s.recv(size - got))
        totals[i] += size
        print('sent %d %s:%d %s:%d %d' % (i, *c.getsockname(), *s.getsockname(), totals[i]),
              flush=True)
    for c, s in pairs:
        c.close()
        s.close()


if __name__ == '__main__':
    main()
