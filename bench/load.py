#!/usr/bin/env python3
"""Preloads a meshkv node with exactly COUNT records over HTTP, as fast as the node takes them.

Key i is PREFIX + str(i) for i in [START, START+COUNT); its value is "value:<i>" padded with 'x'
to exactly VALUE_BYTES bytes (the same length as Redis' DEBUG POPULATE values). Each of CONNS
worker processes owns one keep-alive connection and a disjoint slice of the range, and pipelines
WINDOW requests at a time; every response must be a 200, otherwise it exits 1. Used by
bench/run.sh (100,000 x 100 B before /get, 1,000,000 x 256 B for the memory figure).
With --collection C every /set goes to collection C (c=C, docs/collections.md); with --ttl S
every record expires S seconds after its write (ttl=S).
Usage: load.py HOST:PORT --prefix P --count N [--start 0] [--value-bytes 256] [--conns 2]
               [--collection C] [--ttl S]
"""
import argparse
import multiprocessing
import socket
import sys
import time


def value_for(i, size):
    head = f"value:{i}"
    return head + "x" * (size - len(head))


def load_slice(host, port, prefix, lo, hi, size, window, collection="", ttl=0):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    coll = (f"&c={collection}" if collection else "") + (f"&ttl={ttl}" if ttl else "")
    tail = f"{coll} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    pending = b""  # bytes received but not yet counted (a response may be split)
    i = lo
    while i < hi:
        j = min(hi, i + window)
        s.sendall(b"".join(
            f"GET /set?k={prefix}{n}&v={value_for(n, size)}".encode() + tail for n in range(i, j)))
        want, got = j - i, 0
        while got < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed by the node")
            pending += chunk
            # Responses are small and bodiless apart from {"success":true}: count status lines.
            while True:
                k = pending.find(b"HTTP/1.1 ")
                if k < 0:
                    pending = pending[-8:]
                    break
                if len(pending) < k + 12:
                    pending = pending[k:]
                    break
                if pending[k + 9:k + 12] != b"200":
                    raise RuntimeError(f"status {pending[k + 9:k + 12].decode()} for a /set")
                got += 1
                pending = pending[k + 12:]
        i = j
    s.close()


def worker(args):
    try:
        load_slice(*args)
        return None
    except Exception as e:  # reported by the parent
        return str(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--value-bytes", type=int, default=256)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--collection", default="")
    ap.add_argument("--ttl", type=int, default=0)
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    step = (a.count + a.conns - 1) // a.conns
    slices = []
    for c in range(a.conns):
        lo = a.start + c * step
        hi = min(a.start + a.count, lo + step)
        if lo < hi:
            slices.append((host, int(port), a.prefix, lo, hi, a.value_bytes, a.window,
                           a.collection, a.ttl))
    t0 = time.time()
    with multiprocessing.Pool(len(slices)) as pool:
        errors = [e for e in pool.map(worker, slices) if e]
    dt = time.time() - t0
    if errors:
        print(f"load.py: {errors[0]}", file=sys.stderr)
        sys.exit(1)
    print(f"load.py: {a.count} records in {dt:.1f} s ({a.count / dt:.0f}/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
