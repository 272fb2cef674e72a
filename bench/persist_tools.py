#!/usr/bin/env python3
"""Helpers of bench/persistence.sh that a shell does badly (timing to the millisecond, RESP).

  ready (--http PORT | --resp PORT) -- CMD...   starts CMD, polls every 2 ms until it is ready
      (meshkv: GET /healthcheck answers 200; Redis: PING answers +PONG, not -LOADING), prints
      the seconds from exec to ready and the CPU seconds (user + system, every thread) CMD used
      until then ("<wall> <cpu>": the second does not grow with the machine's load), then stops
      CMD (SIGTERM) and waits for it. CMD must exec the server in its own process (env, taskset).
  resp-fill --prefix P --count N [--value-bytes 256] [--ttl S]   writes RESP SET commands (with
      EX S when --ttl is given) for exactly the
      records bench/load.py sends to meshkv (key P<i>, value "value:<i>" padded with 'x'), for
      `redis-cli --pipe`.
  compact --port P --prefix P --count N --value-bytes V   brings a meshkv-node's files to just
      under its compaction threshold by rewriting records (same values, so the live data does not
      change), then, when told on stdin ("go"), writes the last few and watches /status: prints
      "<unix us when compacting was seen> <unix us when the snapshot was committed>".
  window LATFILE START_US END_US   p99 (ms) of the kvload latencies whose request started inside
      [START, END] and of those that started before START: "inside_p99 inside_n before_p99 before_n".
Only 127.0.0.1 is ever a target. Standard library only.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time


def http_get(port, path, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def is_ready(kind, port):
    try:
        if kind == "http":
            return http_get(port, "/healthcheck", 1.0)[0] == 200
        s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
        try:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
        finally:
            s.close()
    except (OSError, ValueError):
        return False


def cmd_ready(argv):
    kind, port = argv[0].lstrip("-"), int(argv[1])
    cmd = argv[argv.index("--") + 1:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = t0 + 120
        while not is_ready(kind, port):
            if p.poll() is not None or time.monotonic() > deadline:
                print(f"not ready (exit {p.poll()})", file=sys.stderr)
                return 1
            time.sleep(0.002)
        wall = time.monotonic() - t0
        with open(f"/proc/{p.pid}/stat") as f:  # utime, stime: fields 14, 15 after "(comm)"
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        print(f"{wall:.3f} {cpu:.2f}")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return 0


def value_for(i, size):  # bench/load.py's values
    head = f"value:{i}"
    return head + "x" * (size - len(head))


def opts(argv):
    return {argv[i].lstrip("-"): argv[i + 1] for i in range(0, len(argv) - 1, 2)}


def cmd_resp_fill(argv):
    o = opts(argv)
    prefix, n, size = o["prefix"], int(o["count"]), int(o.get("value-bytes", 256))
    ttl = o.get("ttl", "").encode()  # SET .. EX ttl when given (bench/ttl.sh)
    out = sys.stdout.buffer
    buf = []
    for i in range(n):
        k = f"{prefix}{i}".encode()
        v = value_for(i, size).encode()
        if ttl:
            buf.append(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$%d\r\n%s\r\n"
                       % (len(k), k, len(v), v, len(ttl), ttl))
        else:
            buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        if len(buf) == 10000:
            out.write(b"".join(buf))
            buf = []
    out.write(b"".join(buf))
    return 0


def status(port):
    code, body = http_get(port, "/status", 5.0)
    if code != 200:
        raise RuntimeError(f"/status answered {code}")
    return json.loads(body)


def rewrite(port, prefix, lo, n, size):
    """Rewrites records [lo, lo+n) with their own values: n log records, no new live data."""
    if n <= 0:
        return
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    i, end = lo, lo + n
    while i < end:
        j = min(end, i + 256)
        s.sendall(b"".join(f"GET /set?k={prefix}{k}&v={value_for(k, size)} HTTP/1.1\r\nHost: x\r\n\r\n"
                           .encode() for k in range(i, j)))
        got, pending = 0, b""
        while got < j - i:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("the node closed the connection")
            pending += chunk
            got = pending.count(b"HTTP/1.1 200")
            if b"HTTP/1.1 5" in pending or b"HTTP/1.1 4" in pending:
                raise RuntimeError("a /set was refused")
        i = j
    s.close()


def cmd_compact(argv):
    o = opts(argv)
    port, prefix = int(o["port"]), o["prefix"]
    count, size = int(o["count"]), int(o["value-bytes"])
    st = status(port)
    done = st["persistence"]["compactions"]
    rec = 29 + len(st.get("hostname", "")) + len(prefix) + len(str(count)) + size  # approx.
    cursor = 0
    # Approach the threshold (files > 1.5 x storeBytes) from below, in shrinking steps.
    while True:
        st = status(port)
        p = st["persistence"]
        if p["compacting"] or p["compactions"] != done:
            print("compaction started before the trigger", file=sys.stderr)
            return 1
        gap = 1.5 * st["memory"]["storeBytes"] - (p["logBytes"] + p["snapshotBytes"])
        step = int(gap / rec) - 500
        if step <= 0:
            break
        step = max(step // 2, 1) if step > 2000 else step
        n = min(step, count - cursor % count)
        rewrite(port, prefix, cursor % count, n, size)
        cursor += n
    print("armed", flush=True)
    sys.stdin.readline()  # "go"
    rewrite(port, prefix, cursor % count, 2000, size)
    start = end = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        p = status(port)["persistence"]
        now = int(time.time() * 1e6)
        if start is None and (p["compacting"] or p["compactions"] != done):
            start = now
        if p["compactions"] != done and not p["compacting"]:
            end = now
            break
        time.sleep(0.01)
    if start is None or end is None:
        print("no compaction seen", file=sys.stderr)
        return 1
    print(f"{start} {end}", flush=True)
    return 0


def p99(xs):
    xs = sorted(xs)
    return xs[int(len(xs) * 0.99)] / 1000.0 if xs else float("nan")


def cmd_window(argv):
    path, lo, hi = argv[0], int(argv[1]), int(argv[2])
    inside, before = [], []
    with open(path) as f:
        for line in f:
            t, lat = line.split()
            t, lat = int(t), int(lat)
            if lo <= t <= hi:
                inside.append(lat)
            elif t < lo:
                before.append(lat)
    print(f"{p99(inside):.2f} {len(inside)} {p99(before):.2f} {len(before)}")
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmds = {"ready": cmd_ready, "resp-fill": cmd_resp_fill, "compact": cmd_compact,
            "window": cmd_window}
    fn = cmds.get(sys.argv[1])
    if not fn:
        print(__doc__, file=sys.stderr)
        return 2
    return fn(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
