#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Slow clients against tcptop-prom while a scraper measures it (tests/100-prom.bats).

usage: abuse.py PORT PID SECONDS [--kinds idle=N,slowloris=N,trickle=N] [--addrs A,B,...]

Holds slow connections (default 16 idle, 16 slowloris, 32 trickle) from the given source
addresses (default 127.0.0.2 to 127.0.0.5, round robin), reopened as soon as the server closes
them:
  idle       connects and sends nothing;
  slowloris  sends a request line and then one header byte every 2 s, never ending it;
  trickle    asks for /metrics with a 4 KiB receive buffer, then reads 256 bytes a second
             (it holds its exposition as long as it is let).
Meanwhile it scrapes /metrics from 127.0.0.1 every 0.5 s (each scrape: connect, GET, read to
the end, time it; 5 s at most) and samples the exporter's VmRSS and VmData (PID) twice a
second. Prints one JSON object: the scrapes (latencies, failures, the io_bytes of the process
"ticker" seen by each), the memory samples, how many slow connections were open, and how long
each slow connection the server closed had lived, by kind.
"""
import json
import re
import selectors
import socket
import sys
import threading
import time

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
args = sys.argv[4:]
kinds = {"idle": 16, "slowloris": 16, "trickle": 32}
addrs = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
while args:
    a = args.pop(0)
    if a == "--kinds":
        kinds = {k: int(n) for k, _, n in (kv.partition("=") for kv in args.pop(0).split(","))}
    elif a == "--addrs":
        addrs = args.pop(0).split(",")
    else:
        sys.exit("abuse.py: unknown argument " + a)

KINDS = [k for k, n in kinds.items() for _ in range(n)]
TICKER = re.compile(rb'^tcptop_network_io_bytes_total\{[^}]*process="ticker"[^}]*direction="receive"\} (\d+)$', re.M)
stop = threading.Event()
report = {"scrapes": [], "failures": [], "memory": [], "slow_open": [], "slow_opened": 0,
          "slow_closed_by_server": 0, "lifetimes": {k: [] for k in kinds}}


class Slow:
    def __init__(self, i):
        self.kind = KINDS[i]
        self.addr = addrs[i % len(addrs)]
        self.sock = None
        self.next = 0.0
        self.opened = 0.0
        self.left = b""

    def open(self, sel):
        s = socket.socket()
        if self.kind == "trickle":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((self.addr, 0))
        s.setblocking(False)
        try:
            s.connect((("127.0.0.1", port)))
        except BlockingIOError:
            pass
        self.sock = s
        self.opened = time.monotonic()
        report["slow_opened"] += 1
        # slowloris: a request never ended; trickle: a whole one
        start = {"slowloris": b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
                 "trickle": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"}.get(self.kind)
        if start:
            s.setblocking(True)
            try:
                s.send(start)
            except OSError:
                pass
            s.setblocking(False)
        if self.kind == "slowloris":
            self.left = b"X-Slow: " + b"a" * 100000
        sel.register(s, selectors.EVENT_READ, self)
        self.next = time.monotonic() + (2 if self.kind == "slowloris" else 1)

    def close(self, sel):
        sel.unregister(self.sock)
        self.sock.close()
        self.sock = None

    def closed_by_server(self, sel):
        report["slow_closed_by_server"] += 1
        report["lifetimes"][self.kind].append(round(time.monotonic() - self.opened, 2))
        self.close(sel)

    def tick(self, sel, now):
        """The kind's slow step: a header byte, or 256 bytes read."""
        if now < self.next or not self.sock:
            return
        try:
            if self.kind == "slowloris" and self.left:
                self.sock.send(self.left[:1])
                self.left = self.left[1:]
                self.next = now + 2
            elif self.kind == "trickle":
                if self.sock.recv(256) == b"":
                    raise ConnectionResetError
                self.next = now + 1
        except BlockingIOError:
            self.next = now + 1
        except OSError:
            self.closed_by_server(sel)


def attack():
    sel = selectors.DefaultSelector()
    slow = [Slow(i) for i in range(len(KINDS))]
    for c in slow:
        c.open(sel)
    last = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if now - last >= 0.5:  # how many are open (not closed by the server) now
            report["slow_open"].append({"t": round(now - start, 3),
                                        "open": sum(c.sock is not None for c in slow)})
            last = now
        for key, _ in sel.select(timeout=0.1):
            c = key.data
            if c.kind == "trickle":
                continue  # it reads at its own pace, in tick()
            try:
                if c.sock.recv(4096) == b"":  # the server closed it
                    raise ConnectionResetError
            except BlockingIOError:
                pass
            except OSError:
                c.closed_by_server(sel)
        now = time.monotonic()
        for c in slow:
            c.tick(sel, now)
            if not c.sock:
                c.open(sel)
    for c in slow:
        if c.sock:
            c.close(sel)


def scrape_once():
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = bytearray(64 << 20)
        view, n = memoryview(data), 0
        while True:
            k = s.recv_into(view[n:n + (1 << 20)])
            if not k:
                break
            n += k
            if time.monotonic() - t0 > 5:
                raise TimeoutError("5 s")
        del view
        data = data[:n]
    finally:
        s.close()
    dt = time.monotonic() - t0
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode() if head else "none"
    m = re.search(rb"Content-Length: (\d+)", head)
    if status != "200" or not m or int(m.group(1)) != len(body):
        raise ValueError("status %s, %d bytes of %s" % (status, len(body), m and m.group(1).decode()))
    t = TICKER.search(body)
    return dt, len(body), int(t.group(1)) if t else None


def scrape():
    while not stop.is_set():
        t = time.monotonic()
        try:
            dt, n, ticker = scrape_once()
            report["scrapes"].append({"t": round(t - start, 3), "s": round(dt, 4), "bytes": n,
                                      "ticker": ticker})
        except Exception as e:  # a refused, cut or short answer is what the test is about
            report["failures"].append({"t": round(t - start, 3), "error": repr(e)})
        time.sleep(0.5)


def sample():
    while not stop.is_set():
        m = {}
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmData"):
                        m[k] = int(v.split()[0])
        except OSError:
            m["gone"] = True
        m["t"] = round(time.monotonic() - start, 3)
        report["memory"].append(m)
        time.sleep(0.5)


start = time.monotonic()
threads = [threading.Thread(target=f) for f in (attack, scrape, sample)]
for th in threads:
    th.start()
time.sleep(seconds)
stop.set()
for th in threads:
    th.join()
json.dump(report, sys.stdout)
