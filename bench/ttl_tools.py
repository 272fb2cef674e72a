#!/usr/bin/env python3
"""Helpers of bench/ttl.sh (issue 13, expiring keys). Standard library only; 127.0.0.1 only.

  watch --pid PID --base-rss KB --keep N --deadline UNIX_S (--http PORT | --redis PORT)
      polls every 0.2 s until the server counts only the N keys without expiry and its VmRSS is
      within 10 % of BASE_RSS (the "empty" figure), or until the deadline. Prints one line:
      "<unix us when the count reached N> <unix us when RSS came back> <rss kB at the end>
       <peak rss kB seen> <store bytes at the end>" (-1 for a moment never reached).
      meshkv's count is /status availableRecords (expired records are never counted) and its
      store bytes memory.storeBytes; Redis's are INFO keyspace keys= and used_memory.
"""
import argparse
import json
import socket
import sys
import time
import urllib.request


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def meshkv_state(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        s = json.load(r)
    return int(s["availableRecords"]), int(s["memory"]["storeBytes"])


def redis_info(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"*1\r\n$4\r\nINFO\r\n")
    data = b""
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        data += chunk
        head, _, rest = data.partition(b"\r\n")
        if head.startswith(b"$") and len(rest) >= int(head[1:]):
            break
    s.close()
    keys, used = 0, 0
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("db0:"):
            fields = dict(kv.split("=") for kv in line[4:].split(","))
            keys = int(fields["keys"])
        elif line.startswith("used_memory:"):
            used = int(line.split(":")[1])
    return keys, used


def cmd_watch(a):
    state = (lambda: meshkv_state(a.http)) if a.http else (lambda: redis_info(a.redis))
    counted, reclaimed, peak, store = -1, -1, 0, -1
    while time.time() < a.deadline:
        keys, store = state()
        rss = rss_kb(a.pid)
        peak = max(peak, rss)
        now_us = int(time.time() * 1e6)
        if counted < 0 and keys <= a.keep:
            counted = now_us
        if counted >= 0 and reclaimed < 0 and rss <= a.base_rss * 1.10:
            reclaimed = now_us
        if counted >= 0 and reclaimed >= 0:
            break
        time.sleep(0.2)
    print(counted, reclaimed, rss_kb(a.pid), peak, store)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--base-rss", type=int, required=True)
    w.add_argument("--keep", type=int, required=True)
    w.add_argument("--deadline", type=float, required=True)
    g = w.add_mutually_exclusive_group(required=True)
    g.add_argument("--http", type=int)
    g.add_argument("--redis", type=int)
    a = p.parse_args()
    return cmd_watch(a)


if __name__ == "__main__":
    sys.exit(main())
