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
(OUTPUT) are run in turn, alternating, --rounds times. Each run settles --settle seconds, then
every process of the pipeline is sampled over --seconds: CPU from /proc/PID/task/*/schedstat
(all threads), plus, for the collector, the run time of its BPF programs attached to hooks
(kernel BPF statistics; its iterators run inside its own system calls and are in its schedstat
already), and RSS at the end. For the table, the time from a key (j: the selection moves) to the
pane's change is measured --keys times, in tmux.

Prints progress on stderr and the table on stdout:
  size  build  config  collector ms/s  agg ms/s  reader ms/s  total %core  memory MiB  notes

Usage: scale.py OUTPUT [--base OUTPUT] [--sizes N,N] [--configs a,b] [--seconds S]
       [--settle S] [--rounds R] [--keys K] [--interval S]
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
    p.add_argument('--seconds', type=float, default=30)
    p.add_argument('--settle', type=float, default=25)
    p.add_argument('--rounds', type=int, default=1)
    p.add_argument('--keys', type=int, default=10)
    p.add_argument('--interval', type=float, default=1)
    return p.parse_args()


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


def rss(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
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


def hook_ns(pid):
    """Run time of pid's BPF programs that are not iterators nor run by it (hooks)."""
    total = 0
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return 0
    progs = {}
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) != 'anon_inode:bpf-prog':
                continue
            info = {}
            with open('/proc/%d/fdinfo/%s' % (pid, fd)) as f:
                for line in f:
                    k, _, v = line.partition(':')
                    info[k] = v.strip()
            progs[int(info['prog_id'])] = int(info.get('run_time_ns', 0))
        except (OSError, KeyError, ValueError):
            continue
    if not progs:
        return 0
    names = {p['id']: p.get('name', '') for p in
             json.loads(subprocess.check_output(['bpftool', '-j', 'prog', 'show']))}
    for i, ns in progs.items():
        n = names.get(i, '')
        if not (n.startswith('it__') or n.startswith('rf__')):
            total += ns
    return total


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


def measure(build, label, config, tmp, n):
    log('%s %s %s: starting' % (n, label, config))
    r = Run(build, config, tmp)
    try:
        time.sleep(A.settle)
        if not r.alive():
            err = r.p.communicate()[1].decode().strip().splitlines() if r.p else []
            return dict(error=err[-1] if err else 'exited %s' % r.p.returncode)
        pids = r.pids()
        if 'tcptop-collect' not in pids:
            return dict(error='no collector running after %g s' % A.settle)
        c0 = {k: cpu_ns(p) for k, p in pids.items()}
        h0 = hook_ns(pids['tcptop-collect'])
        size0 = os.path.getsize(r.csv) if config.startswith('log') and \
            os.path.exists(r.csv) else 0
        t0 = time.monotonic()
        time.sleep(A.seconds)
        c1 = {k: cpu_ns(p) for k, p in pids.items()}
        h1 = hook_ns(pids['tcptop-collect'])
        wall = time.monotonic() - t0
        size1 = os.path.getsize(r.csv) if config.startswith('log') and \
            os.path.exists(r.csv) else 0
        res = dict(ms={}, mem={})
        for k in pids:
            res['ms'][k] = (c1[k] - c0.get(k, c1[k])) / 1e6 / wall
            res['mem'][k] = rss(pids[k]) / 2**20
        res['ms']['tcptop-collect'] += (h1 - h0) / 1e6 / wall
        res['csv_mb_min'] = (size1 - size0) / 2**20 / wall * 60 if config.startswith('log') \
            else None
        if config == 'table' and A.keys:
            lat = r.key_latency(A.keys)
            res['keys'] = (statistics.median(lat), max(lat))
        return res
    finally:
        r.stop()
        log('%s %s %s: stopped' % (n, label, config))


def has_option(build, opt):
    h = subprocess.run([os.path.join(build, 'tcptop'), '--help'], capture_output=True,
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
    print('bench-scale: %s, interval %g s, %g s sampled after %g s, %d round(s)' % (
        time.strftime('%Y-%m-%d %H:%M'), A.interval, A.seconds, A.settle, A.rounds))
    print('%-9s %-5s %-12s %10s %9s %12s %8s %11s  %s' % (
        'size', 'build', 'config', 'collect', 'agg', 'reader', 'total', 'memory', 'notes'))
    print('%-9s %-5s %-12s %10s %9s %12s %8s %11s' % ('', '', '', 'ms/s', 'ms/s', 'ms/s',
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
        if r.get('csv_mb_min') is not None:
            notes.append('%.1f MiB of CSV a minute' % r['csv_mb_min'])
        if r.get('keys'):
            notes.append('key %.0f ms median, %.0f max' % (1e3 * r['keys'][0],
                                                           1e3 * r['keys'][1]))
        notes.append('memory ' + ', '.join('%s %.0f' % (k[7:], v) for k, v in mem.items()))
        print('%-9d %-5s %-12s %10.1f %9s %12s %7.2f%% %11.0f  %s' % (
            n, label, config, ms.get('tcptop-collect', 0),
            '%.1f' % ms['tcptop-agg'] if 'tcptop-agg' in ms else '-', rd, total / 10,
            sum(mem.values()), '; '.join(notes)))


if __name__ == '__main__':
    main()
