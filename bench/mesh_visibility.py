#!/usr/bin/env python3
"""Write visibility on loopback: time from a /set acknowledged by node A to the value being
readable on node B, while a background writer keeps node C moderately busy (~2000 writes/s).
Usage: mesh_visibility.py HOST:PORT_A HOST:PORT_B HOST:PORT_C SAMPLES. Prints "median X ms, p99 Y ms".
Polls B on one keep-alive connection as fast as it answers (~0.1 ms per poll on loopback), so
the figure includes up to one poll round trip of measurement error."""
import http.client


def hp(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)

import multiprocessing
import sys
import time


def main():
    a, b, c, samples = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    stop = multiprocessing.Event()

    def background():  # a separate process: no GIL shared with the measuring loop
        conn = http.client.HTTPConnection(*hp(c), timeout=5)
        i = 0
        while not stop.is_set():
            t = time.perf_counter()
            conn.request("GET", f"/set?k=bg{i % 5000}&v=background-{i}")
            conn.getresponse().read()
            i += 1
            rest = 0.0005 - (time.perf_counter() - t)  # pacing of the load, ~2000/s
            if rest > 0:
                time.sleep(rest)

    bg = multiprocessing.Process(target=background, daemon=True)
    bg.start()
    ca = http.client.HTTPConnection(*hp(a), timeout=5)
    cb = http.client.HTTPConnection(*hp(b), timeout=5)
    out = []
    for i in range(samples):
        value = f"v{i}"
        ca.request("GET", f"/set?k=vis{i % 100}&v={value}")
        r = ca.getresponse()
        r.read()
        t0 = time.perf_counter()
        want = f'"{value}"'.encode()
        deadline = t0 + 5
        while True:
            cb.request("GET", f"/get?k=vis{i % 100}")
            body = cb.getresponse().read()
            if body == want:
                break
            if time.perf_counter() > deadline:
                print("value never became visible", file=sys.stderr)
                sys.exit(1)
        out.append((time.perf_counter() - t0) * 1000)
    stop.set()
    bg.join()
    out.sort()
    med = out[len(out) // 2]
    p99 = out[min(len(out) - 1, int(len(out) * 0.99))]
    print(f"median {med:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
