#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench-collect: the collector's cost on loopback TCP, as ratios measured in one run.

  pingpong  1-byte round trips/s, with and without the collector, alternating pairs
  bulk      one-way MB/s, the same way
  cost      CPU time of the monitoring (BPF run time from kernel.bpf_stats_enabled plus the
            collector's own CPU) over the CPU time of the work it monitors
  per-prog  average ns per run of each BPF program
  churn     short TCP connections at a fixed rate: lost events, the collector's CPU share,
            stream bytes per connection

Usage: bench-collect.py OUTPUT [PAIRS] [SECONDS] [CHURN_RATE] [CHURN_SECONDS]"""
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

OUT = sys.argv[1]
PAIRS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
SECS = float(sys.argv[3]) if len(sys.argv) > 3 else 2
CHURN_RATE = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
CHURN_SECS = float(sys.argv[5]) if len(sys.argv) > 5 else 30
TRAFFIC = os.path.join(OUT, 'tcptop-traffic')
COLLECT = os.path.join(OUT, 'tcptop-collect')
DUMP = os.path.join(OUT, 'tcptop-dump')
TMP = tempfile.mkdtemp(prefix='tcptop-bench.')


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_work(mode, *args):
    """Runs tcptop-traffic; returns (its figure, CPU seconds of it and its child)."""
    before = children_cpu()
    out = subprocess.run([TRAFFIC, mode, *map(str, args)], check=True, capture_output=True,
                         text=True).stdout.split()
    return int(out[-1]), children_cpu() - before


def proc_cpu(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


PREFIXES = ('tp__', 'fe__', 'kp__', 'cg__', 'it__')


def max_prog_id():
    return max([p['id'] for p in json.loads(subprocess.check_output(
        ['bpftool', '-j', 'prog', 'show']))] + [0])


def bpf_stats(min_id):
    """{program name: (run_time_ns, run_cnt)} for the collector's programs: this bpftool
    lists no owner pids, so they are ours by name and by an id above min_id."""
    progs = json.loads(subprocess.check_output(['bpftool', '-j', 'prog', 'show']))
    res = {}
    for p in progs:
        if p['id'] > min_id and p.get('name', '').startswith(PREFIXES):
            res[p['name']] = (p.get('run_time_ns', 0), p.get('run_cnt', 0))
    return res


class Collector:
    def __init__(self, path, *args):
        self.path = path
        self.p = subprocess.Popen([COLLECT, '-o', path, *args], stderr=subprocess.PIPE)
        for _ in range(100):  # until the bootstrap is done and the first period written
            if os.path.exists(path) and os.path.getsize(path) > 600:
                break
            time.sleep(0.05)

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        err = self.p.communicate(timeout=30)[1]
        if self.p.returncode != 0:
            sys.exit('collector failed (%d): %s' % (self.p.returncode, err.decode()))


def fmt(xs):
    return '%.0f (%.0f-%.0f)' % (statistics.median(xs), min(xs), max(xs))


def pairs(mode, unit, scale):
    base, mon, costs, work_cpu = [], [], [], []
    prog = {}
    for i in range(PAIRS):
        n, cpu = run_work(mode, SECS)
        base.append(n / SECS / scale)
        work_cpu.append(cpu)
        min_id = max_prog_id()
        c = Collector(os.path.join(TMP, '%s-%d.tcpt' % (mode, i)))
        s0, c0 = bpf_stats(min_id), proc_cpu(c.p.pid)
        n, cpu = run_work(mode, SECS)
        s1, c1 = bpf_stats(min_id), proc_cpu(c.p.pid)
        c.stop()
        mon.append(n / SECS / scale)
        bpf_ns = 0
        for name, (t, k) in s1.items():
            t0, k0 = s0.get(name, (0, 0))
            bpf_ns += t - t0
            pt, pk = prog.get(name, (0, 0))
            prog[name] = (pt + t - t0, pk + k - k0)
        # BPF runs inside the work's system time: take it out of the denominator
        costs.append(100 * (bpf_ns / 1e9 + (c1 - c0)) / max(cpu - bpf_ns / 1e9, 1e-9))
    ratio = statistics.median(mon) / statistics.median(base)
    print('%-9s without: %s %s   with: %s %s   ratio %.3f (%+.1f%%)' %
          (mode, fmt(base), unit, fmt(mon), unit, ratio, 100 * (ratio - 1)))
    print('%-9s monitoring CPU / work CPU: median %.2f%% (%.2f-%.2f%%)' %
          (mode, statistics.median(costs), min(costs), max(costs)))
    for name, (t, k) in sorted(prog.items()):
        if k:
            print('%-9s   %-14s %10d runs  %6.0f ns/run' % (mode, name, k, t / k))


def churn():
    path = os.path.join(TMP, 'churn.tcpt')
    c = Collector(path)
    c0 = proc_cpu(c.p.pid)
    t0 = time.monotonic()
    n, _ = run_work('churn', CHURN_RATE, CHURN_SECS)
    wall = time.monotonic() - t0
    c1 = proc_cpu(c.p.pid)
    c.stop()
    dump = subprocess.run([DUMP, path], check=True, capture_output=True, text=True).stdout
    flows = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), 'flows.py')],
                           input=dump, check=True, capture_output=True, text=True).stdout
    lines = flows.splitlines()
    loss = [l for l in lines if l.startswith('loss ')][-1]
    closes = sum(1 for l in lines if 'comm=tcptop-traffic' in l and 'end=closed' in l)
    size = os.path.getsize(path)
    print('churn     %d connections in %.1f s (%.0f/s): %d sockets seen closed with totals '
          '(expected %d)' % (n, wall, n / wall, closes, 2 * n))
    print('churn     %s' % loss)
    print('churn     collector CPU %.1f%% of one core, %.0f stream bytes per connection' %
          (100 * (c1 - c0) / wall, size / max(n, 1)))


def main():
    if os.geteuid() != 0:
        print('bench-collect: needs root (live eBPF); skipped')
        return
    with open('/proc/sys/kernel/bpf_stats_enabled') as f:
        stats_was = f.read().strip()
    with open('/proc/sys/kernel/bpf_stats_enabled', 'w') as f:
        f.write('1')
    try:
        print('bench-collect: %d alternating pairs of %.0f s, kernel %s, %d CPUs' %
              (PAIRS, SECS, os.uname().release, os.cpu_count()))
        pairs('pingpong', 'round trips/s', 1)
        pairs('bulk', 'MB/s', 1e6)
        churn()
    finally:
        with open('/proc/sys/kernel/bpf_stats_enabled', 'w') as f:
            f.write(stats_was)
        subprocess.run(['rm', '-rf', TMP])


main()
