#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A DNS server for tests, on loopback: answers PTR queries from a table, or never answers.

dns-server.py PORTFILE [--silent] [--bind ADDR:PORT] [ADDR=NAME ...]
Binds 127.0.0.1 on a free UDP port (--bind: ADDR:PORT, e.g. 127.0.53.53:53 as root) and writes
the port to PORTFILE. Each PTR question for ADDR
gets NAME with a TTL of 300 s; any other gets NXDOMAIN. NAME is sent byte for byte, split into
labels at its dots (so a hostile name may hold any byte but NUL and the dot, invalid UTF-8
included). --silent reads the queries and never answers (a resolver that hangs). Every question
is appended to PORTFILE.log.
"""
import ipaddress
import socket
import struct
import sys


def qname(msg, off):
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += n + 1
    return '.'.join(labels), off + 1


def ptr_addr(name):
    if name.endswith('.in-addr.arpa'):
        return '.'.join(reversed(name[:-len('.in-addr.arpa')].split('.')))
    if name.endswith('.ip6.arpa'):
        nib = ''.join(reversed(name[:-len('.ip6.arpa')].split('.')))
        return str(ipaddress.IPv6Address(int(nib, 16)))
    return None


def encode(name):
    # the bytes of the command line as given (undecodable ones came in as surrogates)
    raw = name.encode('utf-8', 'surrogateescape')
    return b''.join(bytes([len(p)]) + p for p in raw.split(b'.')) + b'\0'


def main():
    portfile = sys.argv[1]
    args = sys.argv[2:]
    silent = '--silent' in args
    bind = ('127.0.0.1', 0)
    if '--bind' in args:
        addr, port = args.pop(args.index('--bind') + 1).rsplit(':', 1)
        bind = (addr, int(port))
    table = dict(a.split('=', 1) for a in args if '=' in a)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(bind)
    with open(portfile + '.tmp', 'w') as f:
        f.write('%d\n' % s.getsockname()[1])
    import os
    os.rename(portfile + '.tmp', portfile)
    while True:
        msg, peer = s.recvfrom(1500)
        name, end = qname(msg, 12)
        with open(portfile + '.log', 'a') as f:
            f.write(name + '\n')
        if silent:
            continue
        addr = ptr_addr(name)
        host = table.get(addr)
        question = msg[12:end + 4]
        flags = 0x8180 if host else 0x8183
        reply = msg[:2] + struct.pack('>HHHHH', flags, 1, 1 if host else 0, 0, 0) + question
        if host:
            rdata = encode(host)
            reply += b'\xc0\x0c' + struct.pack('>HHIH', 12, 1, 300, len(rdata)) + rdata
        s.sendto(reply, peer)


if __name__ == '__main__':
    main()
