#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""One TCP connection held back by a known cause, for the LIMIT tests (tests/056-limit.bats),
over the path tests/traffic/limitnet makes.

  limits.py recv PORT [--scenario NAME] [--rcvbuf N] [--read N] [--read-gap S] [--slow-for S]
      listens on PORT (0: any), prints "listening PORT", accepts one connection and reads it
      until its end, N bytes a read (default 65536), sleeping S seconds between reads during
      the first --slow-for seconds (default: all along); prints "received BYTES". Its process
      is named "lim-recv".
  limits.py send HOST PORT [--scenario NAME] [--cc NAME] [--sndbuf N] [--write N] [--gap S]
                [--seconds S]
      connects, prints "conn SRC DST" (the sender's own address and port, then the peer's),
      writes N bytes a call (default 65536) for S seconds (default 3), sleeping S seconds
      between writes when --gap is given; prints "sent BYTES", waits until the peer has
      acknowledged every byte, prints "idle", then holds the connection open (its counters
      and clocks still) until SIGUSR1, closes it and prints "closed" (or until SIGTERM).
      Named "lim-send".

  limits.py ss
      reads `ss -tni` output of one connection and prints its figures on one line, as
      name=value (several readings, each after a line "@ T": one line each, first t_ms=T):
      busy_ms rwnd_ms sndbuf_ms (0 where ss leaves them out) cwnd ssthresh ("none"
      where ss leaves it out) retrans (total) retrans_out lost_out sacked unacked notsent
      bytes_retrans reordering rtt_us rttvar_us minrtt_us delivery_rate (bytes/s).

  limits.py same SS DUMP
      compares the figures of one connection as ss gives them (SS: a line of "limits.py ss")
      with tcptop's (DUMP: the tcptop-dump line of a CONN_SAMPLE, CONN_CLOSE or SNAP_ROW
      carrying them, or a CSV row as "name=value" words): prints each that differs and exits
      1, or prints "same N" (the number compared)

  limits.py rows CSV SRC
      the rows of the connection from SRC (address:port) in tcptop-csv --figures output, one
      a line: "EPOCH_MS LIMIT PCT busy_ms rwnd_limited_ms sndbuf_limited_ms"
  limits.py near SS CSV SRC SLACK_MS
      for each reading of SS (lines of "limits.py ss" with t_ms the wall clock in ms), the
      CSV row of SRC nearest in time: prints each clock (busy, rwnd, sndbuf) that differs by
      more than SLACK_MS and exits 1, or prints "near N" (readings compared)

--scenario sets the other options' defaults to make one cause hold the sender back on that
path (a 100 ms round trip, a 100 Mbit/s queue at the sender), each measured here with ss -ti:
  rwnd    the receiver reads 4 KiB every 50 ms through a 16 KiB SO_RCVBUF (for --slow-for,
          the sender's --seconds, then at full speed): rwnd_limited 96-98% of busy
  sndbuf  the sender's SO_SNDBUF is 64 KiB (the kernel doubles it), the reader fast:
          sndbuf_limited 81-84% of the time (the queue at the sender lets TCP small queues
          defer the last sends of a full buffer, which is where the kernel starts that clock)
  app     2000 bytes every 0.5 s: busy about 20% of the time
  cwnd    plain bulk; the loss comes from limitnet's nftables rule: busy all along, with
          retransmissions
The congestion control is cubic in each (bbr paces, which the kernel counts as busy).
"""
import argparse
import ctypes
import fcntl
import re
import os
import signal
import socket
import struct
import sys
import termios
import time

PR_SET_NAME = 15
SIOCOUTQ = termios.TIOCOUTQ  # bytes not yet acknowledged (unsent included)


def name_process(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()), 0, 0, 0)


def say(*words):
    print(*words, flush=True)


def addr(sa):
    host, port = sa[0], sa[1]
    return ('[%s]:%d' if ':' in host else '%s:%d') % (host, port)


# Per scenario: the receiver's and the sender's defaults.
SCENARIOS = {
    'rwnd': ({'rcvbuf': 16384, 'read': 4096, 'read_gap': 0.05}, {'cc': 'cubic'}),
    'sndbuf': ({}, {'cc': 'cubic', 'sndbuf': 65536}),
    'app': ({}, {'cc': 'cubic', 'write': 2000, 'gap': 0.5}),
    'cwnd': ({}, {'cc': 'cubic'}),
}


def recv(a):
    name_process('lim-recv')
    family = socket.AF_INET6 if ':' in a.bind else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.rcvbuf:
        # set on the listener: the window scale is chosen at the handshake
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    ls.bind((a.bind, a.port))
    ls.listen(1)
    say('listening', ls.getsockname()[1])
    c, _ = ls.accept()
    ls.close()
    start = time.monotonic()
    total = 0
    while True:
        slow = a.read_gap and (a.slow_for is None or time.monotonic() - start < a.slow_for)
        if slow:
            time.sleep(a.read_gap)
        d = c.recv(a.read)
        if not d:
            break
        total += len(d)
    say('received', total)


def unacked(s):
    return struct.unpack('i', fcntl.ioctl(s.fileno(), SIOCOUTQ, b'\0' * 4))[0]


def send(a):
    name_process('lim-send')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    family = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if a.cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, a.cc.encode())
    if a.sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, a.sndbuf)
    s.connect((a.host, a.port))
    say('conn', addr(s.getsockname()), addr(s.getpeername()))
    buf = b'x' * a.write
    sent = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        sent += s.send(buf)
        if a.gap:
            time.sleep(a.gap)
    say('sent', sent)
    while unacked(s):
        time.sleep(0.01)
    say('idle')
    signal.sigwait([signal.SIGUSR1])
    s.close()
    say('closed')


def ss_figures(text):
    """The figures of the first connection in `ss -tni` output, as the kernel's tcp_info."""
    f = dict(busy_ms=0, rwnd_ms=0, sndbuf_ms=0, cwnd=None, ssthresh='none', retrans=0,
             retrans_out=0, lost_out=0, sacked=0, unacked=0, notsent=0, bytes_retrans=0,
             reordering=3, rtt_us=None, rttvar_us=None, minrtt_us=None, delivery_rate=0)
    us = lambda ms: int(round(float(ms) * 1000))
    for w in text.split():
        k, _, v = w.partition(':')
        if k in ('busy', 'rwnd_limited', 'sndbuf_limited'):
            f[{'busy': 'busy_ms'}.get(k, k.split('_')[0] + '_ms')] = int(v.split('ms')[0])
        elif k == 'rtt' and '/' in v:
            f['rtt_us'], f['rttvar_us'] = (us(x) for x in v.split('/'))
        elif k == 'minrtt':
            f['minrtt_us'] = us(v)
        elif k == 'retrans':
            f['retrans_out'], f['retrans'] = (int(x) for x in v.split('/'))
        elif k == 'lost':
            f['lost_out'] = int(v)
        elif k in ('cwnd', 'ssthresh', 'sacked', 'unacked', 'notsent', 'bytes_retrans',
                   'reordering'):
            f[k] = int(v)
    m = re.search(r'delivery_rate (\d+)bps', text)
    if m:
        f['delivery_rate'] = int(m.group(1)) // 8
    return f


def words(line):
    return dict(w.split('=', 1) for w in line.split() if '=' in w)


# ss's name, tcptop's (tcptop-dump's) and how to read it there
SAME = [('busy_ms', 'busy'), ('rwnd_ms', 'rwnd'), ('sndbuf_ms', 'sndbuf'), ('cwnd', 'cwnd'),
        ('ssthresh', 'ssthresh'), ('retrans', 'retrans'), ('rtt_us', 'rtt'),
        ('rttvar_us', 'rttvar'), ('minrtt_us', 'minrtt'), ('bytes_retrans', 'rbytes'),
        ('reordering', 'reord'), ('notsent', 'unsent'), ('delivery_rate', 'drate')]


def same(ss_line, dump_line):
    a, b = words(ss_line), words(dump_line)
    a['in_flight'] = str(int(a['unacked']) - int(a['sacked']) - int(a['lost_out']) +
                         int(a['retrans_out']))
    bad, n = [], 0
    for x, y in SAME + [('in_flight', 'inflight')]:
        if y not in b:
            bad.append('%s: not in tcptop\'s line' % y)
            continue
        n += 1
        want, got = a[x], b[y]
        if x == 'delivery_rate':  # an IEEE single in the stream: 24 bits of mantissa
            ok = abs(float(got) - float(want)) <= float(want) / (1 << 23)
        else:
            ok = str(want) == str(got)
        if not ok:
            bad.append('%s: ss %s, tcptop %s' % (y, want, got))
    for line in bad:
        print(line)
    if not bad:
        print('same', n)
    return 1 if bad else 0


def csv_rows(path, src):
    import csv
    import datetime
    host, _, port = src.rpartition(':')
    out = []
    for r in csv.DictReader(open(path, newline='')):
        if r['local_addr'] != host.strip('[]') or r['local_port'] != port:
            continue
        t = datetime.datetime.strptime(r['timestamp'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(
            tzinfo=datetime.timezone.utc)
        out.append((int(round(t.timestamp() * 1000)), r))
    return out


def near(ss_path, csv_path, src, slack):
    rows = csv_rows(csv_path, src)
    bad, n = [], 0
    for line in open(ss_path):
        a = words(line)
        if a.get('cwnd') in (None, 'None'):
            continue
        t = int(a['t_ms'])
        ts, r = min(rows, key=lambda x: abs(x[0] - t))
        n += 1
        for x, y in (('busy_ms', 'busy_ms'), ('rwnd_ms', 'rwnd_limited_ms'),
                     ('sndbuf_ms', 'sndbuf_limited_ms')):
            if abs(int(a[x]) - int(r[y])) > slack:
                bad.append('at %d (row of %d): %s ss %s, tcptop %s' % (t, ts, y, a[x], r[y]))
    for line in bad:
        print(line)
    if not bad:
        print('near', n)
    return 1 if bad or not n else 0


def main():
    if sys.argv[1:2] == ['rows'] and len(sys.argv) == 4:
        for t, r in csv_rows(sys.argv[2], sys.argv[3]):
            print(t, r['limit'] or '-', r['limit_pct'] or '-', r['busy_ms'],
                  r['rwnd_limited_ms'], r['sndbuf_limited_ms'])
        return
    if sys.argv[1:2] == ['near'] and len(sys.argv) == 6:
        sys.exit(near(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    if sys.argv[1:2] == ['same'] and len(sys.argv) == 4:
        sys.exit(same(sys.argv[2], sys.argv[3]))
    if sys.argv[1:] == ['ss']:
        blocks = re.split(r'^@ (\d+)\n', sys.stdin.read(), flags=re.M)
        readings = [(None, blocks[0])] if len(blocks) == 1 else zip(blocks[1::2], blocks[2::2])
        for t, text in readings:
            f = ss_figures(text)
            print(' '.join(([] if t is None else ['t_ms=' + t]) +
                           ['%s=%s' % kv for kv in f.items()]))
        return
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='role', required=True)
    r = sub.add_parser('recv')
    r.add_argument('port', type=int)
    r.add_argument('--scenario', choices=SCENARIOS)
    r.add_argument('--bind', default='0.0.0.0')
    r.add_argument('--rcvbuf', type=int, default=0)
    r.add_argument('--read', type=int, default=65536)
    r.add_argument('--read-gap', type=float, default=0)
    r.add_argument('--slow-for', type=float)
    s = sub.add_parser('send')
    s.add_argument('host')
    s.add_argument('port', type=int)
    s.add_argument('--scenario', choices=SCENARIOS)
    s.add_argument('--cc')
    s.add_argument('--sndbuf', type=int, default=0)
    s.add_argument('--write', type=int, default=65536)
    s.add_argument('--gap', type=float, default=0)
    s.add_argument('--seconds', type=float, default=3)
    pre = p.parse_args()
    if pre.scenario:
        # the scenario's values are defaults: an option given wins
        (r if pre.role == 'recv' else s).set_defaults(
            **SCENARIOS[pre.scenario][0 if pre.role == 'recv' else 1])
    a = p.parse_args()
    if a.role == 'recv' and a.scenario == 'rwnd' and a.slow_for is None:
        sys.exit('limits.py: the rwnd scenario needs --slow-for (the sender\'s --seconds)')
    (recv if a.role == 'recv' else send)(a)


if __name__ == '__main__':
    main()
