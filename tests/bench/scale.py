#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench-scale: the whole pipeline's cost on a big server, two builds side by side.

For each size (--sizes, default 100,000 and 1,000,000 idle loopback connections, held by
`tcptop-traffic idle N` over as many processes as the descriptor limit needs), and for each
configuration (--configs):
  collect      tcptop-collect -o /dev/null
  table        tcptop, the live table, in a tmux pane of 200x50
  log          tcptop --log FILE
  log-changes  tcptop --log FILE --log-changes (where the build has it)
the base build (--base OUTPUT: today's code, built from an older commit) and the new one
(OUTPUT) are run in turn, alternating, --rounds times. Each run settles until its collector's
first walk has visited every connection (the iterator's runs, from the kernel's BPF statistics)
and --settle seconds more (at most --settle-max in all), so that the start-up's 2N OPENs are
behind it. Then every process of the pipeline is sampled each interval over --seconds (default
60 intervals: one cycle of tcptop-agg's full snapshot, --full-every 60, and at least one of the
collector's walks), so that each stage's figure includes its periodic costs: CPU from
/proc/PID/task/*/schedstat (all threads), plus, for the collector, the run time of its BPF
programs attached to hooks (kernel BPF statistics; its iterators run inside its own system
calls and are in its schedstat already), and RSS at the end. For the table, the time from a key
(j: the selection moves) to the pane's change is measured --keys times, in tmux.

What each window held is measured, not assumed: `walk` is the sockets the collector's iter/tcp
visited in it over the 2N of the idle set (1.00: a whole walk's worth; a paced walk spreads one
over about its gap); `full` is the full snapshots tcptop-agg wrote in it (seconds where it wrote
ten times its median and more, from /proc/PID/io; `all` for an agg without --full-every, which
writes every row every interval). The notes give the collector's least and most CPU over 10 s
of the window and every stage's peak memory (VmHWM).

Prints progress on stderr and the table on stdout:
  size  build  config  collector ms/s  agg ms/s  reader ms/s  total %core  memory MiB  walk
  full  notes

Usage: scale.py OUTPUT [--base OUTPUT] [--sizes N,N] [--configs a,b] [--seconds S]
       [--settle S] [--settle-max S] [--rounds R] [--keys K] [--interval S]
Root only (live capture). Writes only into a temporary folder it removes."""
import argparse
import ctypes
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

T0 = time.monotonic()


def log(msg):
    print('bench-scale: %5.0fs %s' % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('output', help='the new build (OUTPUT of make)')
    p.add_argument('--base', help="today's build to compare with (an OUTPUT folder)")
    p.add_argument('--sizes', default='100000,1000000')
    p.add_argument('--configs', default='collect,table,log,log-changes')
    p.add_argument('--seconds', type=float,
                   help='the sampled window (default 60 intervals)')
    p.add_argument('--settle', type=float, default=3,
                   help='seconds after the first walk before the window')
    p.add_argument('--settle-max', type=float, default=150,
                   help='the longest wait for the first walk')
    p.add_argument('--rounds', type=int, default=1)
    p.add_argument('--keys', type=int, default=10)
    p.add_argument('--interval', type=float, default=1)
    a = p.parse_args()
    if a.seconds is None:
        a.seconds = 60 * a.interval
    return a


# ---- processes ----

def children(pid):
    """Every descendant of pid (a walk of /proc)."""
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return '?'


def cpu_ns(pid):
    """On-CPU time of every thread of pid, ns."""
    total = 0
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return 0
    for t in tids:
        try:
            with open('/proc/%d/task/%s/schedstat' % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss(pid, field='VmRSS'):
    """A memory figure of /proc/PID/status (VmRSS, VmHWM: the peak), bytes."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def enable_bpf_stats():
    """BPF_ENABLE_STATS for as long as this process lives."""
    class Attr(ctypes.Structure):
        _fields_ = [('type', ctypes.c_uint32), ('pad', ctypes.c_uint8 * 124)]
    libc = ctypes.CDLL(None, use_errno=True)
    attr = Attr()
    fd = libc.syscall(321, 32, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        with open('/proc/sys/kernel/bpf_stats_enabled', 'w') as f:
            f.write('1')
    return fd


class Progs:
    """The BPF programs a process holds, by name, and their kernel statistics."""

    def __init__(self, pid):
        self.pid, self.names = pid, None

    def stats(self):
        """{prog_id: (run_time_ns, run_cnt)} of the programs pid holds."""
        res = {}
        try:
            fds = os.listdir('/proc/%d/fd' % self.pid)
        except OSError:
            return res
        for fd in fds:
            try:
                if os.readlink('/proc/%d/fd/%s' % (self.pid, fd)) != 'anon_inode:bpf-prog':
                    continue
                info = {}
                with open('/proc/%d/fdinfo/%s' % (self.pid, fd)) as f:
                    for line in f:
                        k, _, v = line.partition(':')
                        info[k] = v.strip()
                res[int(info['prog_id'])] = (int(info.get('run_time_ns', 0)),
                                             int(info.get('run_cnt', 0)))
            except (OSError, KeyError, ValueError):
                continue
        if res and (self.names is None or not set(res) <= set(self.names)):
            self.names = {p['id']: p.get('name', '') for p in
                          json.loads(subprocess.check_output(['bpftool', '-j', 'prog', 'show']))}
        return res

    def sample(self):
        """(run time of the hooks: the programs neither iterators nor run by the process, ns;
        iter/tcp's runs: the sockets its walks visited)."""
        hooks = walked = 0
        for i, (ns, cnt) in self.stats().items():
            n = self.names.get(i, '')
            if n == 'it__tcp':
                walked += cnt
            elif not (n.startswith('it__') or n.startswith('rf__')):
                hooks += ns
        return hooks, walked


def io_wchar(pid):
    try:
        with open('/proc/%d/io' % pid) as f:
            for line in f:
                if line.startswith('wchar:'):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def full_snapshots(wrote):
    """Full snapshots among an agg's bytes written each interval: the runs of intervals where it
    wrote ten times its median and more (a delta carries the few rows that moved)."""
    if not wrote:
        return 0
    med = statistics.median(wrote)
    big = [b > 10 * med + 65536 for b in wrote]
    return sum(1 for i, b in enumerate(big) if b and (i == 0 or not big[i - 1]))


# ---- one run ----

STAGES = ('tcptop-collect', 'tcptop-agg', 'tcptop-view', 'tcptop-csv')


class Run:
    """One configuration of one build, started; stop() ends it."""

    def __init__(self, build, config, tmp):
        self.build, self.config, self.tmp = build, config, tmp
        self.session = None
        env = dict(os.environ, PATH=build + ':' + os.environ['PATH'])
        iv = str(A.interval)
        if config == 'collect':
            self.p = subprocess.Popen([os.path.join(build, 'tcptop-collect'), '-o', '/dev/null',
                                       '--interval', iv], stdin=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=env)
            self.root = self.p.pid
        elif config == 'table':
            self.session = 'tcptop-bench-scale-%d' % os.getpid()
            subprocess.run(['tmux', 'kill-session', '-t', self.session],
                           stderr=subprocess.DEVNULL)
            subprocess.run(['tmux', 'new-session', '-d', '-s', self.session, '-x', '200',
                            '-y', '50', 'env', 'PATH=' + env['PATH'],
                            os.path.join(build, 'tcptop'), '--interval', iv], check=True)
            self.root = int(subprocess.check_output(
                ['tmux', 'display', '-p', '-t', self.session, '#{pane_pid}']).decode())
            self.p = None
        else:
            self.csv = os.path.join(tmp, 'log.csv')
            args = [os.path.join(build, 'tcptop'), '--interval', iv, '--log', self.csv]
            if config == 'log-changes':
                args.append('--log-changes')
            self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      env=env)
            self.root = self.p.pid

    def pids(self):
        """{stage name: pid} of the running pipeline."""
        res = {}
        for pid in [self.root] + children(self.root):
            c = comm(pid)
            if c in STAGES:
                res[c] = pid
        return res

    def alive(self):
        return self.p is None or self.p.poll() is None

    def stop(self):
        if self.session:
            subprocess.run(['tmux', 'send-keys', '-t', self.session, 'q'])
            for _ in range(200):
                if not self.pids():
                    break
                time.sleep(0.1)
            subprocess.run(['tmux', 'kill-session', '-t', self.session],
                           stderr=subprocess.DEVNULL)
            return
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=180)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def pane(self):
        return subprocess.check_output(['tmux', 'capture-pane', '-e', '-p', '-t',
                                        self.session])

    def key_latency(self, n):
        """Seconds from each of n keys (j, then k, alternating) to the pane's change."""
        res = []
        for i in range(n):
            before = self.pane()
            t = time.monotonic()
            subprocess.run(['tmux', 'send-keys', '-t', self.session, 'jk'[i % 2]])
            while time.monotonic() - t < 5:
                if self.pane() != before:
                    break
                time.sleep(0.002)
            res.append(time.monotonic() - t)
            time.sleep(0.3)
        return res


def settle(r, n):
    """Waits until the collector's first walk has visited every socket of the idle set, then
    --settle seconds; at most --settle-max in all. Returns (pids, Progs of the collector, the
    seconds it took, whether the walk was seen whole) or an error string."""
    t = time.monotonic()
    pids, progs, walked = {}, None, False
    while time.monotonic() - t < A.settle_max:
        time.sleep(A.interval)
        if not r.alive():
            err = r.p.communicate()[1].decode().strip().splitlines() if r.p else []
            return err[-1] if err else 'exited %s' % r.p.returncode
        pids = r.pids()
        if 'tcptop-collect' not in pids:
            continue
        if progs is None or progs.pid != pids['tcptop-collect']:
            progs = Progs(pids['tcptop-collect'])
        if progs.sample()[1] >= 2 * n:
            walked = True
            break
    if 'tcptop-collect' not in pids:
        return 'no collector running after %g s' % A.settle_max
    time.sleep(A.settle)
    return r.pids(), progs, time.monotonic() - t, walked


def measure(build, label, config, tmp, n):
    log('%s %s %s: starting' % (n, label, config))
    r = Run(build, config, tmp)
    try:
        st = settle(r, n)
        if isinstance(st, str):
            return dict(error=st)
        pids, progs, settled, walked = st
        agg = pids.get('tcptop-agg')
        log('%s %s %s: settled in %.0f s%s; sampling %g s' % (
            n, label, config, settled, '' if walked else ' (the first walk not seen whole)',
            A.seconds))
        csv_size = (lambda: os.path.getsize(r.csv) if os.path.exists(r.csv) else 0) \
            if config.startswith('log') else (lambda: 0)
        # one sample an interval: every stage's CPU, the collector's hooks and walk, agg's writes
        samples = []
        t0 = time.monotonic()
        while True:
            hooks, walk = progs.sample()
            samples.append(dict(t=time.monotonic(), cpu={k: cpu_ns(p) for k, p in pids.items()},
                                hooks=hooks, walk=walk, wchar=io_wchar(agg) if agg else 0,
                                csv=csv_size()))
            if samples[-1]['t'] - t0 >= A.seconds - A.interval / 2:
                break
            time.sleep(max(0, t0 + len(samples) * A.interval - time.monotonic()))
        first, last = samples[0], samples[-1]
        wall = last['t'] - first['t']
        res = dict(ms={}, mem={})
        for k in pids:
            res['ms'][k] = (last['cpu'][k] - first['cpu'][k]) / 1e6 / wall
            res['mem'][k] = rss(pids[k]) / 2**20
        res['ms']['tcptop-collect'] += (last['hooks'] - first['hooks']) / 1e6 / wall
        res['wall'] = wall
        res['settled'] = walked
        res['walk'] = (last['walk'] - first['walk']) / (2 * n)
        res['full'] = (full_snapshots([b['wchar'] - a['wchar'] for a, b in
                                       zip(samples, samples[1:])])
                       if agg and has_option(build, '--full-every', 'tcptop-agg')
                       else 'all' if agg else '-')
        # the collector's CPU over each 10 s of the window (hooks included): least and most
        per10 = []
        step = max(1, int(round(10 / A.interval)))
        for a, b in zip(samples[::step], samples[step::step]):
            per10.append((b['cpu']['tcptop-collect'] - a['cpu']['tcptop-collect'] +
                          b['hooks'] - a['hooks']) / 1e6 / (b['t'] - a['t']))
        res['per10'] = (min(per10), max(per10)) if per10 else None
        res['hwm'] = {k: rss(p, 'VmHWM') / 2**20 for k, p in pids.items()}
        res['csv_mb_min'] = (last['csv'] - first['csv']) / 2**20 / wall * 60 \
            if config.startswith('log') else None
        if config == 'table' and A.keys:
            lat = r.key_latency(A.keys)
            res['keys'] = (statistics.median(lat), max(lat))
        return res
    finally:
        r.stop()
        log('%s %s %s: stopped' % (n, label, config))


def has_option(build, opt, tool='tcptop'):
    h = subprocess.run([os.path.join(build, tool), '--help'], capture_output=True,
                       text=True).stdout
    return opt in h


def main():
    global A
    A = parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-scale: needs root (live capture)')
    for tool in ('tmux', 'bpftool'):
        if not shutil.which(tool):
            sys.exit('bench-scale: needs %s' % tool)
    builds = [('new', os.path.abspath(A.output))]
    if A.base:
        builds.insert(0, ('base', os.path.abspath(A.base)))
    traffic = os.path.join(os.path.abspath(A.output), 'tcptop-traffic')
    stats_fd = enable_bpf_stats()
    tmp = tempfile.mkdtemp(prefix='tcptop-bench-scale.')
    rows = []
    try:
        for n in [int(x) for x in A.sizes.split(',') if x]:
            log('%d: opening the connections' % n)
            t = time.monotonic()
            holder = subprocess.Popen([traffic, 'idle', str(n)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = holder.stdout.readline().split()
            if line[:1] != ['ready']:
                holder.stdin.close()
                rows.append((n, '-', '-', dict(error='connections: ' +
                                                holder.communicate()[1].strip()[-150:])))
                continue
            log('%d: %d connections in %.0f s' % (n, n, time.monotonic() - t))
            try:
                for rnd in range(A.rounds):
                    order = builds if rnd % 2 == 0 else builds[::-1]
                    for config in A.configs.split(','):
                        for label, build in order:
                            if config == 'log-changes' and not has_option(build,
                                                                          '--log-changes'):
                                continue
                            rows.append((n, label, config, measure(build, label, config, tmp,
                                                                   n)))
            finally:
                holder.stdin.close()
                holder.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if stats_fd >= 0:
            os.close(stats_fd)
    print_table(rows)


def print_table(rows):
    print('bench-scale: %s, interval %g s, %g s sampled from %g s after the first walk, '
          '%d round(s), %.0f s in all' % (
              time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), A.interval, A.seconds,
              A.settle, A.rounds, time.monotonic() - T0))
    print('%-9s %-5s %-12s %10s %9s %12s %8s %7s %5s %4s  %s' % (
        'size', 'build', 'config', 'collect', 'agg', 'reader', 'total', 'memory', 'walk',
        'full', 'notes'))
    print('%-9s %-5s %-12s %10s %9s %12s %8s %7s' % ('', '', '', 'ms/s', 'ms/s', 'ms/s',
                                                    '% core', 'MiB'))
    for n, label, config, r in rows:
        if 'error' in r:
            print('%-9d %-5s %-12s %s' % (n, label, config, r['error']))
            continue
        ms, mem = r['ms'], r['mem']
        reader = [k for k in ('tcptop-view', 'tcptop-csv') if k in ms]
        rd = '%s %.1f' % (reader[0][7:], ms[reader[0]]) if reader else '-'
        total = sum(ms.values())
        notes = []
        if not r.get('settled'):
            notes.append('the first walk not done in %g s: in the window' % A.settle_max)
        if r.get('csv_mb_min') is not None:
            notes.append('%.1f MiB of CSV a minute' % r['csv_mb_min'])
        if r.get('keys'):
            notes.append('key %.0f ms median, %.0f max' % (1e3 * r['keys'][0],
                                                           1e3 * r['keys'][1]))
        if r.get('per10'):
            notes.append('collect %.1f-%.1f ms/s by 10 s' % r['per10'])
        notes.append('memory ' + ', '.join('%s %.0f' % (k[7:], v) for k, v in mem.items()) +
                     ' (peak ' + ', '.join('%s %.0f' % (k[7:], v)
                                          for k, v in r['hwm'].items()) + ')')
        print('%-9d %-5s %-12s %10.1f %9s %12s %7.2f%% %7.0f %5.2f %4s  %s' % (
            n, label, config, ms.get('tcptop-collect', 0),
            '%.1f' % ms['tcptop-agg'] if 'tcptop-agg' in ms else '-', rd, total / 10,
            sum(mem.values()), r['walk'], r['full'], '; '.join(notes)))
    print("walk: the sockets the collector's walks visited in the window over the 2N of the "
          "idle set; full: tcptop-agg's full snapshots in it (all: every interval's is)")


if __name__ == '__main__':
    main()
