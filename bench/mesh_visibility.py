#!/usr/bin/env python3
"""Write visibility on loopback: time from a write acknowledged by node A to the value being
readable on node B, while a background writer keeps node C moderately busy (~2000 writes/s).

Usage: mesh_visibility.py [--redis] HOST:PORT_A HOST:PORT_B HOST:PORT_C SAMPLES
Prints "median X ms, p99 Y ms" (--json: {"median": X, "p99": Y}).

meshkv (default): GET /set on A, then GET /get on B. --redis: the same measurement against a
Redis primary A and its replica B (SET on A, GET on B; C is the primary again), the reference
the issue names. Both are polled on one keep-alive connection as fast as they answer, with
clients equally thin (raw sockets, ~20 us a round trip on loopback), so a figure includes up to
one poll round trip of measurement error, the same for both."""
import json
import multiprocessing
import socket
import sys
import time


def hp(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


class Http:
    """A thin HTTP/1.1 keep-alive client on a raw socket (http.client spends ~0.1 ms per answer
    in Python, five times a RESP round trip, which would be measured as replication delay)."""

    def __init__(self, addr):
        self.host = addr
        self.sock = socket.create_connection(hp(addr), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _request(self, target):
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        self.buf += chunk

    def set(self, k, v):
        status, body = self._request(f"/set?k={k}&v={v}")
        if status != 200:
            raise RuntimeError(f"/set answered {status} {body!r}")

    def get(self, k):  # the value, or None
        status, body = self._request(f"/get?k={k}")
        return json.loads(body) if status == 200 else None


class Resp:
    """Just enough RESP for SET and GET of short ASCII strings."""

    def __init__(self, addr):
        self.sock = socket.create_connection(hp(addr), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _cmd(self, *args):
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line[1:].decode()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def set(self, k, v):
        self._cmd("SET", k, v)

    def get(self, k):
        return self._cmd("GET", k)


def background(kind, addr, stop):  # a separate process: no GIL shared with the measuring loop
    c = kind(addr)
    i = 0
    while not stop.is_set():
        t = time.perf_counter()
        c.set(f"bg{i % 5000}", f"background-{i}")
        i += 1
        rest = 0.0005 - (time.perf_counter() - t)  # pacing of the load, ~2000/s
        if rest > 0:
            time.sleep(rest)


def main():
    args = sys.argv[1:]
    kind = Http
    as_json = False
    if "--redis" in args:
        args.remove("--redis")
        kind = Resp
    if "--json" in args:
        args.remove("--json")
        as_json = True
    a, b, c, samples = args[0], args[1], args[2], int(args[3])
    stop = multiprocessing.Event()
    bg = multiprocessing.Process(target=background, args=(kind, c, stop), daemon=True)
    bg.start()
    ca, cb = kind(a), kind(b)
    out = []
    for i in range(samples):
        key, value = f"vis{i % 100}", f"v{i}"
        ca.set(key, value)
        t0 = time.perf_counter()
        deadline = t0 + 5
        while cb.get(key) != value:
            if time.perf_counter() > deadline:
                print("value never became visible", file=sys.stderr)
                sys.exit(1)
        out.append((time.perf_counter() - t0) * 1000)
    stop.set()
    bg.join()
    out.sort()
    med = out[len(out) // 2]
    p99 = out[min(len(out) - 1, int(len(out) * 0.99))]
    if as_json:
        print(json.dumps({"median": round(med, 3), "p99": round(p99, 3)}))
    else:
        print(f"median {med:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
