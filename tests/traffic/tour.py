#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Known traffic between two processes for the live tour (tests/055-live-tour.bats): a server
in a container (another network namespace, a docker-like cgroup) and a client in a service (a
systemd-like cgroup), with exact bytes and datagrams. Each names itself (prctl PR_SET_NAME).

tour.py server ADDR4 ADDR6 PORT READYFILE    the container: listens on ADDR4 and ADDR6 at
                                             PORT (IPv4 TCP), PORT+1 (IPv6 TCP), PORT+2
                                             (short TCP connections) and PORT+3 (UDP, one
                                             unconnected socket); serves exactly what the
                                             client does below, then closes all and exits
tour.py client ADDR4 ADDR6 PORT              the service: one TCP connection over IPv4
                                             (TCP4_OUT bytes out, TCP4_IN back), one over
                                             IPv6 (TCP6_OUT, TCP6_IN), SHORT connections of
                                             SHORT_OUT and SHORT_IN bytes one by one, UDP
                                             datagrams from a connected socket (DGRAMS of
                                             DGRAM_OUT, each answered with DGRAM_IN) and a
                                             connect refused at PORT+4 (nothing listens)

Every number is below, and the client prints one line per thing it did, with its local port:
  tcp4 LPORT OUT IN | tcp6 LPORT OUT IN | short LPORT OUT IN | udp LPORT DGRAMS OUT IN |
  refused ERRNO
"""
import ctypes
import errno
import os
import select
import socket
import sys

TCP4_OUT, TCP4_IN = 100003, 200009
TCP6_OUT, TCP6_IN = 300007, 50021
SHORT, SHORT_OUT, SHORT_IN = 20, 1001, 2003
DGRAMS, DGRAM_OUT, DGRAM_IN = 7, 1201, 601
CHUNKS = (1, 7, 1021, 4093, 65521, 13, 32749, 509)


def name(comm):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, comm.encode(), 0, 0, 0) != 0:  # PR_SET_NAME
        raise OSError(ctypes.get_errno(), 'prctl')


def send_exact(s, n):
    i = 0
    while n:
        k = min(n, CHUNKS[i % len(CHUNKS)])
        s.sendall(b'x' * k)
        n -= k
        i += 1


def recv_all(s):
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            return got
        got += len(b)


def serve_one(lsock, reply):
    c, _ = lsock.accept()
    got = recv_all(c)
    send_exact(c, reply)
    c.close()
    return got


def server(addr4, addr6, port, ready):
    name('tour-server')
    l4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (l4, l6, ls):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l4.bind((addr4, port))
    l6.bind((addr6, port + 1))
    ls.bind((addr4, port + 2))
    u.bind((addr4, port + 3))
    for s in (l4, l6, ls):
        s.listen(64)
    with open(ready + '.tmp', 'w') as f:
        f.write('ready\n')
    os.rename(ready + '.tmp', ready)
    todo = {l4: 1, l6: 1, ls: SHORT, u: DGRAMS}
    got = {}
    while any(todo.values()):
        r, _, _ = select.select([s for s, n in todo.items() if n], [], [], 20)
        if not r:
            sys.exit('tour.py server: nothing came for 20 s')
        for s in r:
            todo[s] -= 1
            if s is u:
                b, peer = u.recvfrom(65536)
                got[s] = got.get(s, 0) + len(b)
                u.sendto(b'y' * DGRAM_IN, peer)
            else:
                reply = {l4: TCP4_IN, l6: TCP6_IN, ls: SHORT_IN}[s]
                got[s] = got.get(s, 0) + serve_one(s, reply)
    for s in todo:
        s.close()
    print('served tcp4 %d tcp6 %d short %d udp %d' % (got[l4], got[l6], got[ls], got[u]))


def tcp(family, addr, port, out):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect((addr, port))
    lport = s.getsockname()[1]
    send_exact(s, out)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s)
    s.close()
    return lport, got


def client(addr4, addr6, port):
    name('tour-client')
    lport, got = tcp(socket.AF_INET, addr4, port, TCP4_OUT)
    print('tcp4 %d %d %d' % (lport, TCP4_OUT, got))
    lport, got = tcp(socket.AF_INET6, addr6, port + 1, TCP6_OUT)
    print('tcp6 %d %d %d' % (lport, TCP6_OUT, got))
    for _ in range(SHORT):
        lport, got = tcp(socket.AF_INET, addr4, port + 2, SHORT_OUT)
        print('short %d %d %d' % (lport, SHORT_OUT, got))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((addr4, port + 3))
    got = 0
    for _ in range(DGRAMS):
        u.send(b'x' * DGRAM_OUT)
        got += len(u.recv(65536))
    print('udp %d %d %d %d' % (u.getsockname()[1], DGRAMS, DGRAMS * DGRAM_OUT, got))
    u.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect((addr4, port + 4))
        sys.exit('tour.py client: a connect to port %d was not refused' % (port + 4))
    except ConnectionRefusedError as e:
        print('refused %s' % errno.errorcode[e.errno])
    s.close()


def main():
    socket.setdefaulttimeout(20)  # a peer that stalls fails the tour, never hangs it
    if sys.argv[1:2] == ['server'] and len(sys.argv) == 6:
        server(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1:2] == ['client'] and len(sys.argv) == 5:
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
    sys.stdout.flush()


main()
