#!/usr/bin/env python3
"""Loads N records (64-byte keys, 256-byte values) into a node as fast as wrk can, then waits
until /status counts them. Usage: mesh_load.py HOST:PORT N."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

LUA = """
local n = 0
local nextId = 0
local total = %d
local threads = %d
-- setup() runs in the main Lua state and sets the global `tid` of each thread's own state.
function setup(thread) thread:set("tid", nextId); nextId = nextId + 1 end
function init(args) n = math.floor((tonumber(args[1]) or 0) / threads) end
function request()
  local i = (n * threads + tid) %% total
  n = n + 1
  return wrk.format("GET", "/set?k=" .. string.format("k%%063d", i) .. "&v=" .. string.rep("v", 246) .. string.format("%%010d", i))
end
"""


def count(port):
    with urllib.request.urlopen(f"http://{port}/status", timeout=10) as r:
        return json.load(r)["availableRecords"]


def main():
    port, total = sys.argv[1], int(sys.argv[2])
    threads = 2
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % (total, threads))
        script = f.name
    try:
        deadline = time.time() + 600
        while count(port) < total and time.time() < deadline:
            # Keys are written in order (interleaved by thread); a rerun starts about where the
            # store's count says the previous one stopped.
            have = count(port)
            secs = max(2, min(60, (total - have) // 20000 + 2))
            start = max(0, have - 1000)
            subprocess.run(["wrk", f"-t{threads}", "-c32", f"-d{secs}s", "-s", script,
                            f"http://{port}", "--", str(start)], check=True,
                           stdout=subprocess.DEVNULL)
        print(f"loaded {count(port)} records", file=sys.stderr)
    finally:
        os.unlink(script)


if __name__ == "__main__":
    main()
