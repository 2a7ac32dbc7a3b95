#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Fills a BPF map of a running process with junk entries until the kernel refuses one more,
so that a test can watch what the process's programs do with a full map (tests/050-collect.bats:
the owners and udp_peer maps of tcptop-collect). Root only.

    mapfill.py PID NAME

The map is found among PID's descriptors (/proc/PID/fdinfo gives its id, the kernel its name),
so that another collector's map of the same name is never touched. Keys are 8 bytes counting
down from 2^64 - 1 (no kernel address, no thread id takes them), values zero. Prints
"filled NAME: N entries (max M)" and exits 0 once an insert was refused (E2BIG), 1 otherwise.
"""
import ctypes
import errno
import os
import sys

BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_GET_FD_BY_ID = 14
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_MAP_UPDATE_BATCH = 26
NR_BPF = 321  # x86_64

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    r = libc.syscall(NR_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    return r, ctypes.get_errno() if r < 0 else 0


class FdById(ctypes.Structure):
    _fields_ = [("map_id", ctypes.c_uint32), ("next_id", ctypes.c_uint32),
                ("open_flags", ctypes.c_uint32)]


class InfoByFd(ctypes.Structure):
    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32),
                ("info", ctypes.c_uint64)]


class MapInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32),
                ("key_size", ctypes.c_uint32), ("value_size", ctypes.c_uint32),
                ("max_entries", ctypes.c_uint32), ("map_flags", ctypes.c_uint32),
                ("name", ctypes.c_char * 16), ("rest", ctypes.c_uint8 * 64)]


class Batch(ctypes.Structure):
    _fields_ = [("in_batch", ctypes.c_uint64), ("out_batch", ctypes.c_uint64),
                ("keys", ctypes.c_uint64), ("values", ctypes.c_uint64),
                ("count", ctypes.c_uint32), ("map_fd", ctypes.c_uint32),
                ("elem_flags", ctypes.c_uint64), ("flags", ctypes.c_uint64)]


class Elem(ctypes.Structure):
    _fields_ = [("map_fd", ctypes.c_uint32), ("pad", ctypes.c_uint32),
                ("key", ctypes.c_uint64), ("value", ctypes.c_uint64),
                ("flags", ctypes.c_uint64)]


def map_of(pid, name):
    """The fd (here) and info of PID's map called NAME."""
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if "map_id" not in info:
            continue
        r, e = bpf(BPF_MAP_GET_FD_BY_ID, FdById(int(info["map_id"])))
        if r < 0:
            continue
        mi = MapInfo()
        r2, _ = bpf(BPF_OBJ_GET_INFO_BY_FD,
                    InfoByFd(r, ctypes.sizeof(mi), ctypes.addressof(mi)))
        if r2 == 0 and mi.name.decode() == name:
            return r, mi
        os.close(r)
    sys.exit(f"mapfill: no map {name} among the descriptors of process {pid}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mapfill.py PID NAME")
    fd, mi = map_of(int(sys.argv[1]), sys.argv[2])
    if mi.key_size != 8:
        sys.exit(f"mapfill: {sys.argv[2]} has {mi.key_size}-byte keys, not 8")
    chunk = 65536
    done, refused, top = 0, False, (1 << 64) - 1
    values = (ctypes.c_uint8 * (mi.value_size * chunk))()
    while not refused and done <= mi.max_entries:
        keys = (ctypes.c_uint64 * chunk)(*range(top - done, top - done - chunk, -1))
        b = Batch(keys=ctypes.addressof(keys), values=ctypes.addressof(values), count=chunk,
                  map_fd=fd)
        r, e = bpf(BPF_MAP_UPDATE_BATCH, b)
        if r < 0 and e == errno.EINVAL and not done:
            # no batches (before 5.6): one by one
            for i in range(mi.max_entries + 1):
                key = ctypes.c_uint64(top - i)
                r, e = bpf(BPF_MAP_UPDATE_ELEM,
                           Elem(map_fd=fd, key=ctypes.addressof(key),
                                value=ctypes.addressof(values)))
                if r < 0:
                    refused = e == errno.E2BIG
                    break
                done += 1
            break
        done += b.count
        if r < 0:
            refused = e in (errno.E2BIG, errno.ENOMEM)
            if not refused:
                sys.exit(f"mapfill: {sys.argv[2]}: {os.strerror(e)} after {done} entries")
    print(f"filled {sys.argv[2]}: {done} entries (max {mi.max_entries})")
    return 0 if refused else 1


if __name__ == "__main__":
    sys.exit(main())
