#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench-collect: what monitoring costs, measured in one run against reference monitors.

Monitors (each loaded only for its own runs):
  floor      tests/bench/floor.bpf.c fl__*: read the socket's protocol on the sock_send_length
             and sock_recv_length tracepoints, return at once for TCP
  storage    sa__*: per-socket counters in sk_storage on the same two tracepoints
  walk       it__walk: a do-nothing iter/tcp over every socket once per period (idle floor)
  collector  tcptop-collect --interval INTERVAL

Parts (--only tcp,idle,million,churn,udp; all by default):
  tcp      1-byte ping-pong and bulk TCP over 127.0.0.1: PAIRS rounds; in each, every monitor
           runs once monitored and once unmonitored (order alternating by round). Reported:
           throughput ratio (median of the pairs' ratios), monitoring CPU / work CPU, BPF ns per
           TCP send and recv call (run_time_ns / run_cnt of the programs on the two tracepoints)
  idle     IDLE established loopback connections held open; walk and collector sampled for
           IDLE_SECONDS: their CPU as % of one core; the collector's report checked for them all
  million  the same with MILLION connections when memory and file limits allow, else why not
  churn    CHURN_RATE connections/s for CHURN_SECONDS under the collector: LOSS records, every
           socket of the churn port opened and closed in the stream, collector CPU
  udp      UDP_RATE datagrams/s of 100 bytes from one unconnected socket to UDP_PEERS peers for
           UDP_SECONDS: the collector's counts per peer against both ends' own counts; cost

Cost method. Programs on tracepoints and cgroup hooks run inside the work's system calls: their
BPF run time (kernel BPF stats) is monitoring cost and is taken out of the work's CPU time.
Iterators run inside the monitor's own read(): their time is already in the monitor's CPU time
and is shown as a part of it, never added twice.
  monitoring CPU / work CPU = (hook BPF time + monitor process CPU) / (work CPU - hook BPF time)
A monitor's programs are found through its process's descriptors (/proc/PID/fdinfo of its
bpf-prog and bpf_link descriptors), so other BPF users on the machine are never counted.

Usage: bench-collect.py OUTPUT [PAIRS [SECONDS [CHURN_RATE [CHURN_SECONDS]]]] [--option V]...
(see --help). Prints progress on stderr, the table on stdout; writes nothing else."""
import argparse
import ctypes
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    p = argparse.ArgumentParser(prog='bench-collect.py', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('output')
    p.add_argument('legacy', nargs='*', type=float,
                   help='PAIRS SECONDS CHURN_RATE CHURN_SECONDS (as before)')
    p.add_argument('--pairs', type=int, default=10, help='alternating pairs per monitor (10)')
    p.add_argument('--seconds', type=float, default=1.5, help='length of a tcp run (1.5)')
    p.add_argument('--only', default='tcp,idle,million,churn,udp', help='parts to run (tcp,idle,million,churn,udp)')
    p.add_argument('--monitors', default='floor,storage,collector',
                   help='monitors of the tcp part (floor,storage,collector)')
    p.add_argument('--interval', type=float, default=1, help="collector's sample period (1)")
    p.add_argument('--idle', type=int, default=100000, help='idle connections (100000)')
    p.add_argument('--idle-seconds', type=float, default=10,
                   help='idle sampling time (10; half of it for the million)')
    p.add_argument('--million', type=int, default=1000000,
                   help='connections of the large idle set (1000000; 0 skips)')
    p.add_argument('--churn-rate', type=int, default=10000, help='connections/s (10000)')
    p.add_argument('--churn-seconds', type=float, default=30, help='(30)')
    p.add_argument('--udp-rate', type=int, default=200000, help='datagrams/s (200000)')
    p.add_argument('--udp-peers', type=int, default=1000, help='(1000)')
    p.add_argument('--udp-seconds', type=float, default=10, help='(10)')
    a = p.parse_args()
    for name, v in zip(('pairs', 'seconds', 'churn_rate', 'churn_seconds'), a.legacy):
        setattr(a, name, type(getattr(a, name))(v))
    a.only = set(a.only.split(','))
    a.monitors = [m for m in a.monitors.split(',') if m]
    return a


A = parse_args()
OUT = A.output
TRAFFIC = os.path.join(OUT, 'tcptop-traffic')
COLLECT = os.path.join(OUT, 'tcptop-collect')
DUMP = os.path.join(OUT, 'tcptop-dump')
FLOOR = os.path.join(OUT, 'tests', 'bench-floor')
TMP = tempfile.mkdtemp(prefix='tcptop-bench.')
TABLE = []  # (part, monitor, what, value, target, verdict)


T0 = time.monotonic()


def log(msg):
    print('bench-collect: %4.0fs %s' % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def row(part, monitor, what, value, target='', verdict=''):
    TABLE.append((part, monitor, what, value, target, verdict))
    log('%s %s: %s = %s %s %s' % (part, monitor, what, value, target, verdict))


def verdict(ok):
    return 'met' if ok else 'NOT MET'


# ---- BPF statistics ----

def enable_bpf_stats():
    """BPF_ENABLE_STATS: run-time statistics on while the returned descriptor is open (the
    kernel drops it with the process, whatever happens); the sysctl when that fails."""
    class Attr(ctypes.Structure):
        _fields_ = [('type', ctypes.c_uint32), ('pad', ctypes.c_uint8 * 124)]
    libc = ctypes.CDLL(None, use_errno=True)
    attr = Attr()
    fd = libc.syscall(321, 32, ctypes.byref(attr), ctypes.sizeof(attr))  # bpf(BPF_ENABLE_STATS)
    if fd >= 0:
        return fd, None
    path = '/proc/sys/kernel/bpf_stats_enabled'
    with open(path) as f:
        was = f.read().strip()
    with open(path, 'w') as f:
        f.write('1')
    return None, was


def fdinfo(pid, fd):
    res = {}
    try:
        with open('/proc/%d/fdinfo/%s' % (pid, fd)) as f:
            for line in f:
                k, _, v = line.partition(':')
                res[k] = v.strip()
    except OSError:
        pass
    return res


NAMES = {}


def prog_names(ids):
    missing = [i for i in ids if i not in NAMES]
    if missing:
        import json
        for p in json.loads(subprocess.check_output(['bpftool', '-j', 'prog', 'show'])):
            NAMES[p['id']] = p.get('name', '?')
    return {i: NAMES.get(i, '?') for i in ids}


class Progs:
    """A snapshot of a process's BPF programs: {id: [name, kind, run_ns, run_cnt, tp]}, kind
    'iter' (runs in the monitor's reads) or 'hook'; tp the tracepoint's name if any. Plus the
    memlock of its maps, in bytes."""

    def __init__(self, pid):
        self.p, self.maps = {}, {}
        links = []
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            fds = []
        for fd in fds:
            try:
                what = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            except OSError:
                continue
            if what == 'anon_inode:bpf-prog':
                i = fdinfo(pid, fd)
                if 'prog_id' in i:
                    self.p[int(i['prog_id'])] = [None, 'hook', int(i.get('run_time_ns', 0)),
                                                 int(i.get('run_cnt', 0)), None]
            elif what == 'anon_inode:bpf_link':
                links.append(fdinfo(pid, fd))
            elif what == 'anon_inode:bpf-map':
                i = fdinfo(pid, fd)
                if 'map_id' in i:
                    self.maps[int(i['map_id'])] = int(i.get('memlock', 0))
        names = prog_names(self.p)
        for i, v in self.p.items():
            v[0] = names[i]
            if v[0].startswith('it') or v[0].startswith('rf'):
                v[1] = 'iter'  # runs in the monitor's own calls: inside its CPU time
        for link in links:
            v = self.p.get(int(link.get('prog_id', -1)))
            if v is None:
                continue
            if link.get('link_type') == 'iter':
                v[1] = 'iter'
            if link.get('tp_name'):
                v[4] = link['tp_name']

    def memlock(self):
        return sum(self.maps.values())

    def delta(self, before):
        """{id: [name, kind, ns, runs, tp]} of what ran between before and self."""
        res = {}
        for i, (name, kind, ns, cnt, tp) in self.p.items():
            b = before.p.get(i, [name, kind, 0, 0, tp])
            res[i] = [name, kind, ns - b[2], cnt - b[3], tp or b[4]]
        return res


def hook_ns(d):
    return sum(v[2] for v in d.values() if v[1] == 'hook')


def iter_ns(d):
    return sum(v[2] for v in d.values() if v[1] == 'iter')


def per_call(d, tp):
    """BPF ns per call of tracepoint tp: all programs on it, over its calls."""
    on = [v for v in d.values() if v[4] == tp]
    calls = max([v[3] for v in on] + [0])
    return sum(v[2] for v in on) / calls if calls else None


def add_progs(acc, d):
    for name, kind, ns, cnt, tp in d.values():
        a = acc.setdefault(name, [0, 0, tp])
        a[0] += ns
        a[1] += cnt


# ---- processes ----

def proc_cpu(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def proc_rss(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def meminfo(key):
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    return 0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Unavailable(Exception):
    pass


class Monitor:
    """One running monitor: the floor loader in one of its modes, or the collector."""

    def __init__(self, kind, path=None):
        self.kind, self.path = kind, path
        if kind == 'collector':
            if os.path.exists(path):
                os.unlink(path)  # else a stream left over would look like this one's
            self.p = subprocess.Popen([COLLECT, '-o', path, '--interval', str(A.interval)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(400):  # the stream's header and first records are out
                if self.p.poll() is not None:
                    lines = self.p.communicate()[1].decode().strip().splitlines()
                    raise Unavailable(lines[-1] if lines else 'exit %d' % self.p.returncode)
                if os.path.exists(path) and os.path.getsize(path) > 600:
                    break
                time.sleep(0.05)
            else:
                self.stop()
                raise Unavailable('no stream after 20 s')
        else:
            mode = {'floor': ['floor'], 'storage': ['storage'],
                    'walk': ['iter', str(A.interval)]}[kind]
            self.p = subprocess.Popen([FLOOR, *mode], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            if self.p.stdout.readline().strip() != 'ready':
                raise Unavailable(self.p.communicate()[1].strip() or 'exit %s' % self.p.poll())
        self.pid = self.p.pid

    def settle(self, cap=60):
        """Waits until the start-up is over, at most cap seconds (returns False then): none
        for the tracepoint monitors, a period for the walk; for the collector, two periods in a row in each of which its
        iterators ran and it used about the same CPU (within a third). A bootstrap of many
        sockets, its iterators first, then writing their records with no iterator running, is
        never taken for the steady state."""
        if self.kind == 'walk':
            time.sleep(A.interval)
        if self.kind != 'collector':
            return True
        end = time.monotonic() + cap
        prev = None
        while time.monotonic() < end:
            p0, c0 = Progs(self.pid), proc_cpu(self.pid)
            time.sleep(A.interval)
            p1, c1 = Progs(self.pid), proc_cpu(self.pid)
            d = p1.delta(p0)
            ran = any(v[3] for v in d.values() if v[1] == 'iter')
            cpu = c1 - c0
            if ran and prev is not None and abs(cpu - prev) <= max(cpu, prev) / 3 + 0.02:
                return True
            prev = cpu if ran else None
        return False

    def snap(self):
        return Progs(self.pid), proc_cpu(self.pid), time.monotonic()

    def stop(self, timeout=120):
        """SIGINT, then SIGKILL after timeout seconds; returns the seconds it took to exit.
        Raises Unavailable if it did not exit by itself with status 0."""
        t0 = time.monotonic()
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            err = self.p.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            self.p.kill()
            err = self.p.communicate()[1]
            raise Unavailable('%s still running %d s after SIGINT: killed' % (
                self.kind, timeout))
        if self.p.returncode != 0:
            raise Unavailable('%s exited %d: %s' % (self.kind, self.p.returncode,
                                                    (err or '').strip() if isinstance(err, str)
                                                    else err.decode().strip()))
        return time.monotonic() - t0


AVAILABLE = {}


def available(kind):
    """Whether the monitor loads here; the reason is reported once."""
    if kind not in AVAILABLE:
        path = os.path.join(TMP, 'probe.tcpt')
        try:
            Monitor(kind, path).stop()
            AVAILABLE[kind] = None
        except Unavailable as e:
            AVAILABLE[kind] = str(e)
            row('all', kind, 'not measured', AVAILABLE[kind][:120])
        if os.path.exists(path):
            os.unlink(path)
    return AVAILABLE[kind] is None


def run_work(argv):
    """Runs tcptop-traffic; returns (its stdout lines, CPU seconds of it and its children,
    wall seconds)."""
    before, t0 = children_cpu(), time.monotonic()
    out = subprocess.run([TRAFFIC, *map(str, argv)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    return out, children_cpu() - before, time.monotonic() - t0


def monitored(kind, argv, keep=False):
    """Runs the work under a fresh monitor. Returns a dict: out, work (CPU s), wall, mon (its
    CPU s), progs (delta), cost (% of the work's CPU), path of the stream if kept."""
    path = os.path.join(TMP, 'run.tcpt')
    m = Monitor(kind, path)
    m.settle()
    s0 = m.snap()
    out, work, wall = run_work(argv)
    s1 = m.snap()
    m.stop()
    d = s1[0].delta(s0[0])
    hook = hook_ns(d) / 1e9
    res = dict(out=out, work=work, wall=wall, mon=s1[1] - s0[1], progs=d, hook=hook,
               cost=100 * (hook + s1[1] - s0[1]) / max(work - hook, 1e-9), path=path)
    if not keep and os.path.exists(path):
        os.unlink(path)
    return res


# ---- the collector's stream ----

WORD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


FIELDS = ('src', 'dst', 'in', 'out', 'pin', 'pout')
OPEN = re.compile(r'flow=(\d+) .*?proto=(\w+) src=(\S+) dst=(\S+)')


def stream_flows(path, keep, detail=False):
    """Reads the stream through tcptop-dump. Returns ({flow: closed} of the flows whose open
    record keep(fields) accepts, or with detail {flow: {src, dst, in, out, pin, pout, closed}}
    with the last counters; the last loss record's fields or None; number of open records).
    Small values: a million connections' stream must fit beside them."""
    flows, loss, opens = {}, None, 0
    p = subprocess.Popen([DUMP, path], stdout=subprocess.PIPE, text=True, bufsize=1 << 20)
    for line in p.stdout:
        kind, _, rest = line.partition(' ')
        if kind == 'sample' and not detail:
            continue
        if kind == 'open':
            opens += 1
            m = OPEN.search(rest)
            kv = dict(flow=m.group(1), proto=m.group(2), src=m.group(3), dst=m.group(4)) \
                if m and not detail else \
                dict((m.group(1), m.group(2)) for m in WORD.finditer(rest))
            if keep(kv):
                if detail:
                    flows[kv['flow']] = dict({k: kv.get(k, '0') for k in FIELDS},
                                             closed=False)
                else:
                    flows[kv['flow']] = False
        elif kind in ('sample', 'close'):
            m = re.search(r'flow=(\d+)', rest)
            flow = m.group(1) if m else None
            if flow not in flows:
                continue
            if detail:
                f = flows[flow]
                for k, v in WORD.findall(rest):
                    if k in FIELDS:
                        f[k] = v
                if kind == 'close':
                    f['closed'] = True
            elif kind == 'close':
                flows[flow] = True
        elif kind == 'loss':
            loss = dict((k, v) for k, v in WORD.findall(rest) if k != 't')
    if p.wait() != 0:
        log('tcptop-dump %s: status %d' % (path, p.returncode))
    return flows, loss, opens


def port_of(ep):
    return int(ep.rsplit(':', 1)[1])


def addr_of(ep):
    return ep.rsplit(':', 1)[0].strip('[]')


def loss_text(loss):
    if loss is None:
        return 'no LOSS record', True
    return ' '.join('%s=%s' % kv for kv in loss.items()), all(v == '0' for v in loss.values())


# ---- parts ----

def fmt_range(xs, f='%.2f', unit=''):
    return (f + unit + ' (' + f + '-' + f + ')') % (statistics.median(xs), min(xs), max(xs))


def part_tcp(mode, unit, scale):
    monitors = [m for m in A.monitors if available(m)]
    res = {m: dict(ratio=[], base=[], mon=[], cost=[], send=[], recv=[], progs={})
           for m in monitors}
    argv = (mode, A.seconds)
    log('%s: %d rounds of %s, %g s each' % (mode, A.pairs, '/'.join(monitors), A.seconds))
    for i in range(A.pairs):
        for m in monitors:
            r = res[m]
            for with_monitor in ((False, True) if i % 2 == 0 else (True, False)):
                if with_monitor:
                    x = monitored(m, argv)
                    mon = int(x['out'][-1].split()[-1]) / A.seconds / scale
                    r['cost'].append(x['cost'])
                    r['send'].append(per_call(x['progs'], 'sock_send_length'))
                    r['recv'].append(per_call(x['progs'], 'sock_recv_length'))
                    add_progs(r['progs'], x['progs'])
                else:
                    out, _, _ = run_work(argv)
                    base = int(out[-1].split()[-1]) / A.seconds / scale
            r['base'].append(base)
            r['mon'].append(mon)
            r['ratio'].append(mon / base)
    floor = res.get('floor')
    for m in monitors:
        r = res[m]
        row(mode, m, 'throughput monitored / unmonitored', '%s  (%.0f / %.0f %s)' % (
            fmt_range(r['ratio'], '%.3f'), statistics.median(r['mon']),
            statistics.median(r['base']), unit),
            *(('>= 0.99', verdict(statistics.median(r['ratio']) >= 0.99))
              if mode == 'bulk' and m == 'collector' else ()))
        cost = statistics.median(r['cost'])
        if m != 'floor' and floor:
            fc = statistics.median(floor['cost'])
            row(mode, m, 'monitoring CPU / work CPU', '%s  = %.2f x floor' % (
                fmt_range(r['cost'], unit='%%'), cost / fc if fc else float('inf')),
                *(('<= 1.25 x floor', verdict(cost <= 1.25 * fc)) if m == 'collector' else ()))
        else:
            row(mode, m, 'monitoring CPU / work CPU', fmt_range(r['cost'], unit='%%'))
        for tp, key in (('sock_send_length', 'send'), ('sock_recv_length', 'recv')):
            xs = [x for x in r[key] if x is not None]
            if not xs:
                row(mode, m, 'BPF ns per %s call' % key, 'no program on %s' % tp,
                    *(('<= floor + 10', verdict(True)) if m == 'collector' else ()))
                continue
            v = statistics.median(xs)
            fxs = [x for x in floor[key] if x is not None] if floor else []
            if m != 'floor' and fxs:
                fv = statistics.median(fxs)
                row(mode, m, 'BPF ns per %s call' % key, '%.0f  (floor %.0f, %+.0f)' % (
                    v, fv, v - fv), *(('<= floor + 10', verdict(v <= fv + 10))
                                      if m == 'collector' else ()))
            else:
                row(mode, m, 'BPF ns per %s call' % key, '%.0f' % v)
    return res


def walks(pid):
    """Elements the collector's iter/tcp program visited so far."""
    return sum(v[3] for v in Progs(pid).p.values() if v[0] == 'it__tcp')


def walk_ended(pid, cap):
    """Waits until a walk of iter/tcp has run and ended (its count rose, then held 0.3 s);
    returns the time it ended, or None after cap seconds."""
    end, n, rose = time.monotonic() + cap, walks(pid), False
    while time.monotonic() < end:
        time.sleep(0.3)
        m = walks(pid)
        if m != n:
            n, rose = m, True
        elif rose:
            return time.monotonic()
    return None


def cycles(m, least, cap):
    """For the collector, whose walk of every connection may run seldom (activation): a
    window of whole walk cycles, from the end of one walk to the end of another, at least
    least seconds long and two walks; returns (snapshot before, walks in it), or None."""
    if walk_ended(m.pid, cap) is None:
        return None, 0
    s0, k = m.snap(), 0
    while True:
        t = walk_ended(m.pid, cap)
        if t is None:
            return None, k
        k += 1
        if k >= 2 and t - s0[2] >= least:
            return s0, k


def idle_set(n, label, monitors):
    """n idle connections held by tcptop-traffic idle; the monitors sampled over them."""
    mem0 = meminfo('MemAvailable')
    t0 = time.monotonic()
    holder = subprocess.Popen([TRAFFIC, 'idle', str(n)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = holder.stdout.readline().split()
    if line[:1] != ['ready']:
        holder.stdin.close()
        err = holder.communicate()[1].strip()
        row(label, '-', 'idle connections', 'could not be made: ' + err[-150:])
        return None
    setup = time.monotonic() - t0
    per_conn = max(mem0 - meminfo('MemAvailable'), 0) / n
    row(label, '-', 'setup', '%d connections in %.1f s, kernel memory %.1f KiB each '
        '(MemAvailable)' % (n, setup, per_conn / 1024))
    walk_cpu = None
    try:
        for kind in monitors:
            if not available(kind):
                continue
            path = os.path.join(TMP, 'idle.tcpt')
            mem1 = meminfo('MemAvailable')
            log('%s: %s starting' % (label, kind))
            m = Monitor(kind, path)
            t1 = time.monotonic()
            settled = m.settle(cap=120)
            start = time.monotonic() - t1
            least = A.idle_seconds if n <= A.idle else A.idle_seconds / 2
            nwalks = None
            if kind == 'collector':
                s0, nwalks = cycles(m, least, cap=150)
                if s0 is None:
                    row(label, kind, 'walks', 'fewer than two ended in %d s' % 150)
                    s0 = m.snap()
            else:
                s0 = m.snap()
                time.sleep(least)
            s1 = m.snap()
            rss, maps, mem2 = proc_rss(m.pid), s1[0].memlock(), meminfo('MemAvailable')
            log('%s: %s stopping' % (label, kind))
            try:
                stopped = '%.1f s' % m.stop(timeout=120)
            except Unavailable as e:
                stopped = str(e)
            d, wall = s1[0].delta(s0[0]), s1[2] - s0[2]
            it = [v for v in d.values() if v[1] == 'iter']
            runs = sum(v[3] for v in it)
            cpu = 100 * (s1[1] - s0[1]) / wall
            hooks = 100 * hook_ns(d) / 1e9 / wall
            detail = 'iterators %.2f%% inside it, %.0f ns per element visited' % (
                100 * iter_ns(d) / 1e9 / wall, iter_ns(d) / runs if runs else 0)
            if hooks >= 0.005:
                detail += '; hooks %.2f%%' % hooks
            if kind == 'collector':
                if walk_cpu:
                    detail += '; %.2f x walk' % ((cpu + hooks) / walk_cpu)
                if nwalks:
                    detail += '; %.0f s, %d walks of every connection in it' % (wall, nwalks)
                row(label, kind, 'CPU %% of one core, interval %g s' % A.interval,
                    '%.2f%%  (%s)' % (cpu + hooks, detail), '<= 2%' if n <= 100000 else '',
                    verdict(cpu + hooks <= 2) if n <= 100000 else '')
                row(label, kind, 'start-up (bootstrap until steady)', '%.1f s%s' % (
                    start, '' if settled else ': NOT steady yet, measured anyway'))
                row(label, kind, 'exit after SIGINT', stopped)
                row(label, kind, 'memory', 'RSS %.1f MiB, BPF maps memlock %.1f MiB, '
                    'MemAvailable %+.1f MiB while it ran (%+.0f bytes per connection; '
                    'moves with the whole machine)' % (
                        rss / 2**20, maps / 2**20, (mem2 - mem1) / 2**20, (mem2 - mem1) / n))
                log('%s: reading the stream (%.0f MiB)' % (label, os.path.getsize(path) / 2**20))
                first = '127.0.0.'
                seen, loss, _ = stream_flows(path, lambda kv: kv.get('proto') == 'tcp' and any(
                    addr_of(kv.get(e, ':0')).startswith(first) and
                    100 <= int(addr_of(kv[e]).rsplit('.', 1)[1]) < 200
                    for e in ('src', 'dst')) and port_of(kv.get('dst', ':0')) != 0)
                row(label, kind, 'sockets of the idle set reported', '%d of %d' % (
                    len(seen), 2 * n), '= %d' % (2 * n), verdict(len(seen) >= 2 * n))
                text, zero = loss_text(loss)
                row(label, kind, 'loss', text, '0', verdict(zero))
            else:
                walk_cpu = cpu + hooks
                row(label, kind, 'CPU %% of one core, interval %g s' % A.interval,
                    '%.2f%%  (%s)' % (cpu + hooks, detail))
            if os.path.exists(path):
                os.unlink(path)
    finally:
        log('%s: closing the connections' % label)
        holder.stdin.close()
        holder.wait()
    return per_conn


def part_million(per_conn):
    n = A.million
    avail = meminfo('MemAvailable')
    # MemAvailable moves with everything else on the machine: never trust less than 8 KiB a
    # connection (two tcp_socks, socket inodes, files and dentries on 6.18)
    per_conn = max(per_conn or 0, 8192)
    need = per_conn * n * 1.3 + 2**31
    with open('/proc/sys/fs/file-nr') as f:
        used, _, fmax = map(int, f.read().split())
    why = []
    if need > avail:
        why.append('needs about %.1f GiB (%.1f KiB per connection, +30%%, +2 GiB), '
                   'MemAvailable %.1f GiB' % (need / 2**30, per_conn / 1024, avail / 2**30))
    if used + 2 * n + 10000 > fmax:
        why.append('needs %d open files, fs.file-max %d with %d in use' % (2 * n, fmax, used))
    if why:
        row('million', '-', 'not run', '; '.join(why))
        return
    idle_set(n, 'million', ['walk', 'collector'])


def part_churn():
    if not available('collector'):
        return
    x = monitored('collector', ('churn', A.churn_rate, A.churn_seconds), keep=True)
    port = int(x['out'][0].split()[1])
    n = int(x['out'][-1].split()[-1])
    log('churn: reading the stream (%.0f MiB)' % (os.path.getsize(x['path']) / 2**20))
    flows, loss, _ = stream_flows(x['path'], lambda kv: kv.get('proto') == 'tcp' and (
        port_of(kv.get('src', ':0')) == port) != (port_of(kv.get('dst', ':0')) == port))
    size = os.path.getsize(x['path'])
    os.unlink(x['path'])
    closed = sum(1 for f in flows.values() if f)
    row('churn', 'collector', 'connections made', '%d in %.1f s (%.0f/s)' % (
        n, x['wall'], n / x['wall']))
    row('churn', 'collector', 'sockets of the churn port opened / closed in the stream',
        '%d / %d' % (len(flows), closed), '= %d' % (2 * n),
        verdict(len(flows) == 2 * n and closed == 2 * n))
    text, zero = loss_text(loss)
    row('churn', 'collector', 'loss', text, '0', verdict(zero))
    cpu = 100 * x['mon'] / x['wall']
    row('churn', 'collector', 'collector process CPU % of one core', '%.2f%%  (and hooks in '
        'the work %.2f%%; %.0f stream bytes per connection)' % (
            cpu, 100 * x['hook'] / x['wall'], size / max(n, 1)), '<= 2%', verdict(cpu <= 2))
    for name, kind, ns, cnt, tp in sorted(x['progs'].values()):
        if cnt and kind == 'hook':
            row('churn', 'collector', 'BPF ns per run of %s' % name, '%.0f  (%d runs)' % (
                ns / cnt, cnt))


def part_udp():
    argv = ('udpfan', A.udp_rate, A.udp_peers, A.udp_seconds, 100)
    for kind in ('floor', 'collector'):
        if not available(kind):
            continue
        out, base_cpu, _ = run_work(argv)
        x = monitored(kind, argv, keep=kind == 'collector')
        sent = int(x['out'][-1].split()[-1])
        row('udp', kind, 'monitoring CPU / work CPU', '%.2f%%  (%d datagrams in %.1f s, '
            '%.0f/s; work CPU %.2f s, unmonitored %.2f s)' % (
                x['cost'], sent, x['wall'], sent / x['wall'], x['work'], base_cpu))
        for tp in ('sock_send_length', 'sock_recv_length'):
            v = per_call(x['progs'], tp)
            if v is not None:
                row('udp', kind, 'BPF ns per %s call' % tp[5:9], '%.0f' % v)
        others = sorted((v[0], v[2] / v[3]) for v in x['progs'].values()
                        if v[3] and not v[4] and v[1] == 'hook')
        for name, ns in others:
            row('udp', kind, 'BPF ns per run of %s' % name, '%.0f' % ns)
        if kind != 'collector':
            continue
        peers = {}
        for line in x['out']:
            w = line.split()
            if w[0] == 'udpfan':
                kv = dict(f.split('=') for f in w[3:])
                peers[(w[1], w[2])] = kv
        sender = next(iter(peers))[0] if peers else '?:0'
        sport = port_of(sender)
        pports = {port_of(p) for _, p in peers}
        flows, loss, _ = stream_flows(x['path'], lambda kv: kv.get('proto') == 'udp' and (
            port_of(kv.get('src', ':0')) == sport and port_of(kv.get('dst', ':0')) in pports or
            port_of(kv.get('src', ':0')) in pports and port_of(kv.get('dst', ':0')) == sport),
            detail=True)
        os.unlink(x['path'])
        out_of, in_of = {}, {}
        for f in flows.values():  # a flow may be reported in several pieces (expiry)
            if port_of(f['src']) == sport:
                o = out_of.setdefault(port_of(f['dst']), [0, 0])
                o[0] += int(f.get('pout', 0))
                o[1] += int(f.get('out', 0))
            else:
                o = in_of.setdefault(port_of(f['src']), [0, 0])
                o[0] += int(f.get('pin', 0))
                o[1] += int(f.get('in', 0))
        ok_out = ok_in = dropped = 0
        for (_, p), kv in peers.items():
            pp = port_of(p)
            ok_out += out_of.get(pp) == [int(kv['sent']), int(kv['bytes'])]
            ok_in += in_of.get(pp) == [int(kv['received']), int(kv['rbytes'])]
            dropped += int(kv['sent']) - int(kv['received'])
        row('udp', kind, 'peers exact, sent datagrams and bytes', '%d of %d' % (
            ok_out, len(peers)), '= %d' % len(peers), verdict(ok_out == len(peers)))
        row('udp', kind, 'peers exact, received datagrams and bytes', '%d of %d  (%d '
            'datagrams dropped by full receive buffers)' % (ok_in, len(peers), dropped),
            '= %d' % len(peers), verdict(ok_in == len(peers)))
        text, zero = loss_text(loss)
        row('udp', kind, 'loss', text, '0', verdict(zero))
        row('udp', kind, 'collector CPU % of one core', '%.2f%%' % (
            100 * x['mon'] / x['wall']))


def part(fn, *args):
    """Runs one part; a monitor or the work failing ends that part only, said in the table."""
    try:
        return fn(*args)
    except (Unavailable, subprocess.CalledProcessError, OSError, ValueError, IndexError) as e:
        what = e.stderr.strip()[-200:] if getattr(e, 'stderr', None) else str(e)
        row(fn.__name__.replace('part_', ''), '-', 'failed', what)
        return None


def print_table(progs):
    print()
    head = ('part', 'monitor', 'what', 'value', 'target', 'verdict')
    w = [max(len(str(r[i])) for r in TABLE + [head]) for i in range(3)]
    fmt = '%%-%ds  %%-%ds  %%-%ds  %%s' % tuple(w)
    print(fmt % head[:4] + '  [target: verdict]')
    for r in TABLE:
        tail = '  [%s: %s]' % (r[4], r[5]) if r[4] else ''
        print(fmt % r[:4] + tail)
    if progs:
        print('\nper program, all monitored runs of the tcp part (ns per run):')
        for mode, res in progs:
            for m, r in (res or {}).items():
                for name, (ns, cnt, tp) in sorted(r['progs'].items()):
                    if cnt:
                        print('  %-9s %-10s %-18s %-18s %12d runs %7.0f ns' % (
                            mode, m, name, tp or '', cnt, ns / cnt))


def main():
    if os.geteuid() != 0:
        print('bench-collect: needs root (live eBPF); skipped')
        return
    fd, was = enable_bpf_stats()
    started = time.monotonic()
    progs = []
    try:
        print('bench-collect: kernel %s, %d CPUs, %d alternating pairs of %g s, collector '
              'interval %g s' % (os.uname().release, os.cpu_count(), A.pairs, A.seconds,
                                 A.interval))
        for kind in set(A.monitors) | {'walk', 'collector'}:
            available(kind)  # once, before any connection is made
        if 'tcp' in A.only:
            progs.append(('pingpong', part(part_tcp, 'pingpong', 'round trips/s', 1)))
            progs.append(('bulk', part(part_tcp, 'bulk', 'MB/s', 1e6)))
        per_conn = None
        if 'idle' in A.only:
            per_conn = part(idle_set, A.idle, 'idle', ['walk', 'collector'])
        if 'million' in A.only and A.million:
            part(part_million, per_conn)
        if 'churn' in A.only:
            part(part_churn)
        if 'udp' in A.only:
            part(part_udp)
    finally:
        if fd is not None:
            os.close(fd)
        else:
            with open('/proc/sys/kernel/bpf_stats_enabled', 'w') as f:
                f.write(was)
        subprocess.run(['rm', '-rf', TMP])
    print_table(progs)
    print('\n(%.0f s in all; ratios and CPU shares from one run on a quiet machine only)' % (
        time.monotonic() - started))


main()
