#!/usr/bin/env python3
"""Clients for bench/watch_bench.sh.

latency WRITER WATCHER N: opens an SSE watch on WATCHER (prefix lat:), then N times, one at a
  time: send /set?k=lat:<i> to WRITER on a keep-alive connection and time until the event for
  lat:<i> reaches the watch. Prints p50 p99 max of that latency and the p50 of the /set round
  trip alone and its p99, in ms (the round trip's tail shows what the machine's scheduling
  adds to any request, watched or not).
hold ADDR N PREFIX: opens N idle watches on ADDR (prefix PREFIX), prints "ready" once every
  response head arrived, then holds them until killed.
"""
import http.client
import resource
import socket
import sys
import time


def open_watch(addr, prefix):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.sendall(f"GET /watch?prefix={prefix} HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"watch on {addr} closed: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"watch refused: {head[:200]!r}")
    return s, head.split(b"\r\n\r\n", 1)[1]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency(writer, watcher, n):
    w, buf = open_watch(watcher, "lat:")
    host, port = writer.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port))
    lat, rtt = [], []
    for i in range(n):
        needle = f'"key":"lat:{i}"'.encode()
        t0 = time.perf_counter()
        c.request("GET", f"/set?k=lat:{i}&v={i}")
        r = c.getresponse()
        r.read()
        t1 = time.perf_counter()
        while needle not in buf:
            buf += w.recv(65536)
        t2 = time.perf_counter()
        buf = buf[buf.index(needle) + len(needle):]
        lat.append((t2 - t0) * 1000)
        rtt.append((t1 - t0) * 1000)
    print(f"{pct(lat, 50):.3f} {pct(lat, 99):.3f} {max(lat):.3f} {pct(rtt, 50):.3f} {pct(rtt, 99):.3f}")


def hold(addr, n, prefix):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
    socks = [open_watch(addr, prefix)[0] for _ in range(n)]
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    del socks


if __name__ == "__main__":
    if sys.argv[1] == "latency":
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        hold(sys.argv[2], int(sys.argv[3]), sys.argv[4])
