#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Folds tcptop-dump output of a raw stream into one line per flow, for the collector's tests:

  PROTO SRC DST pid=PID comm=COMM in=N out=N pin=N pout=N state=STATE end=closed|open
      begun=yes|no rtt=yes|no

plus the last loss record ("loss ringbuf=N ...") and "end" if the stream ended cleanly.
Also checks the stream's own rules and prints "error: ..." lines when one is broken: a record
naming an unknown flow, a flow opened twice while alive."""
import re
import sys

WORD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)|(\w+)')


def parse(line):
    kind, _, rest = line.partition(' ')
    kv, flags = {}, set()
    for m in WORD.finditer(rest):
        if m.group(1):
            v = m.group(2)
            kv[m.group(1)] = v[1:-1] if v.startswith('"') else v
        else:
            flags.add(m.group(3))
    return kind, kv, flags


def main():
    live, done, errors = {}, [], []
    loss, end = None, False
    for line in sys.stdin:
        kind, kv, flags = parse(line.rstrip('\n'))
        flow = kv.get('flow')
        if kind == 'open':
            if flow in live:
                errors.append('flow %s opened twice' % flow)
            live[flow] = dict(proto=kv['proto'], src=kv['src'], dst=kv['dst'],
                              pid=kv['pid'], comm=kv['comm'], state=kv['state'],
                              begun='yes' if 'begun' in flags else 'no', rtt='no',
                              end='open', **{k: kv[k] for k in ('in', 'out', 'pin', 'pout')})
            if int(kv.get('rtt', 0)):
                live[flow]['rtt'] = 'yes'
        elif kind in ('sample', 'close', 'owner', 'state'):
            f = live.get(flow)
            if f is None:
                errors.append('%s for unknown flow %s' % (kind, flow))
                continue
            for k in ('in', 'out', 'pin', 'pout'):
                if k in kv:
                    f[k] = kv[k]
            if int(kv.get('rtt', 0)):
                f['rtt'] = 'yes'
            if kind == 'owner':
                f['pid'], f['comm'] = kv['pid'], kv['comm']
            if kind == 'state':
                f['state'] = kv['new']
            if kind == 'close':
                if kv.get('state', '0') != '0':
                    f['state'] = kv['state']
                f['end'] = 'closed'
                done.append(live.pop(flow))
        elif kind == 'loss':
            loss = ' '.join('%s=%s' % (k, v) for k, v in kv.items() if k != 't')
        elif kind == 'end':
            end = True
    for f in done + list(live.values()):
        print('{proto} {src} {dst} pid={pid} comm={comm} in={in} out={out} pin={pin} '
              'pout={pout} state={state} end={end} begun={begun} rtt={rtt}'.format(**f))
    if loss is not None:
        print('loss ' + loss)
    if end:
        print('end')
    for e in errors:
        print('error: ' + e)


main()
