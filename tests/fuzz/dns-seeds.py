#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the first seeds of fuzz-dns (tests/fuzz/fuzz_dns.c) into DIR: byte 0 (bit 0: IPv6),
the address asked (16 bytes), then a reply: plain answers, CNAME chains, errors, truncation,
compression, hostile names. Later campaigns add their minimised corpus beside them."""
import ipaddress
import os
import struct
import sys


def wire(name):
    return b''.join(bytes([len(l)]) + l for l in name.split(b'.') if l) + b'\0'


def qname(addr):
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        return wire('.'.join(reversed(addr.split('.'))).encode() + b'.in-addr.arpa')
    nib = a.packed.hex()[::-1]
    return wire('.'.join(nib).encode() + b'.ip6.arpa')


def rr(owner, rtype, ttl, rdata, rclass=1):
    return owner + struct.pack('>HHIH', rtype, rclass, ttl, len(rdata)) + rdata


def reply(q, answers, flags=0x8180, qd=1, rid=0x4a2f):
    return (struct.pack('>HHHHHH', rid, flags, qd, len(answers), 0, 0) + q +
            struct.pack('>HH', 12, 1) + b''.join(answers))


def seed(addr, msg):
    a = ipaddress.ip_address(addr)
    return bytes([1 if a.version == 6 else 0]) + a.packed.ljust(16, b'\0') + msg


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    v4, v6 = '192.0.2.5', '2001:db8::1'
    q4, q6 = qname(v4), qname(v6)
    ptr = b'\xc0\x0c'
    mid = wire(b'5.0-25.2.0.192.in-addr.arpa')
    seeds = {
        'plain': seed(v4, reply(q4, [rr(ptr, 12, 300, wire(b'host.example'))])),
        'ipv6': seed(v6, reply(q6, [rr(ptr, 12, 3600, wire(b'six.example.org'))])),
        'nxdomain': seed(v4, reply(q4, [], flags=0x8183)),
        'servfail': seed(v4, reply(q4, [], flags=0x8182)),
        'truncated': seed(v4, reply(q4, [rr(ptr, 12, 300, wire(b'host.example'))],
                                    flags=0x8380)),
        'query': seed(v4, reply(q4, [rr(ptr, 12, 300, wire(b'evil.example'))],
                                flags=0x0100)),
        'cname': seed(v4, reply(q4, [rr(ptr, 5, 600, mid),
                                     rr(mid, 12, 300, wire(b'host.example'))])),
        'cname-compressed': seed(v4, reply(q4, [rr(ptr, 5, 600, b'\x07delgate\xc0\x0e'),
                                                rr(b'\xc0\x2a', 12, 300,
                                                   b'\x04host\xc0\x0c')])),
        'other-owner': seed(v4, reply(q4, [rr(wire(b'evil'), 12, 300, wire(b'evil.example')),
                                           rr(ptr, 12, 300, wire(b'host.example'))])),
        'class-ch': seed(v4, reply(q4, [rr(ptr, 12, 300, wire(b'ch.example'), rclass=3)])),
        'huge-ttl': seed(v4, reply(q4, [rr(ptr, 12, 0x80000000, wire(b'host.example'))])),
        'nul-label': seed(v4, reply(q4, [rr(ptr, 12, 300, b'\x05ev\x00il\x07example\x00')])),
        'dot-label': seed(v4, reply(q4, [rr(ptr, 12, 300, b'\x0bwww.example\x03com\x00')])),
        'hostile': seed(v4, reply(q4, [rr(ptr, 12, 300,
                                          b'\x08\x1b[31mred\x03\xe2\x80\xae\x01\xff\x00')])),
        'pointer-loop': seed(v4, reply(q4, [rr(ptr, 12, 300, b'\xc0\x2a')])),
        'two-questions': seed(v4, reply(q4, [], qd=2)),
        'upper-case': seed(v4, reply(q4.upper(), [rr(ptr, 12, 300, wire(b'host.example'))])),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
