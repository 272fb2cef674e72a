#!/usr/bin/env python3
"""node_metrics: a node's GET /metrics read by a strict Prometheus text-format (0.0.4) parser.

Starts two meshkv-node processes (memory mode, joined), sends known requests to the first, and
parses its /metrics: every line must be a HELP, a TYPE or a sample of the family announced just
before (names and labels as the format allows, values as floats, no duplicate series); counters
end in _total; a histogram's buckets are cumulative, end with le="+Inf" equal to _count. Then it
checks the figures a person would look at: requests by route and status (the REST interface as
one "/kv" label, /collections and /watch their own), records, the
replication lag of the one peer, the mesh's counters.

Usage: metrics_test.py <bindir>
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL},?)*)\}})? (\S+)(?: (-?\d+))?$")
SUFFIXES = {"counter": [""], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels dict, value)]}}; fails on any flaw."""
    families, current = {}, None
    if not text.endswith("\n"):
        fail("the exposition does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            if not re.fullmatch(NAME, name) or name in families:
                fail(f"bad or repeated HELP: {where}")
            current = families[name] = {"help": help_, "type": None, "samples": []}
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            if current is None or families.get(name) is not current or current["type"]:
                fail(f"TYPE not right after its HELP: {where}")
            if type_ not in SUFFIXES:
                fail(f"unknown type: {where}")
            current["type"] = type_
        elif line.startswith("#") or not line:
            fail(f"unexpected line: {where}")
        else:
            m = SAMPLE.match(line)
            if not m or current is None or current["type"] is None:
                fail(f"not a sample of an announced family: {where}")
            name, labels_text, value = m.group(1), m.group(2) or "", m.group(5)
            fam = next((f for f in families if any(name == f + s for s in
                                                   SUFFIXES[families[f]["type"]])), None)
            if families.get(fam) is not current:
                fail(f"sample outside its family: {where}")
            labels = dict(re.findall(LABEL, labels_text))
            try:
                v = float(value)
            except ValueError:
                fail(f"bad value: {where}")
            key = (name, tuple(sorted(labels.items())))
            if any((s[0], tuple(sorted(s[1].items()))) == key for s in current["samples"]):
                fail(f"duplicate series: {where}")
            current["samples"].append((name, labels, v))
    for name, f in families.items():
        if f["type"] is None:
            fail(f"{name} has no TYPE")
        if f["type"] == "counter" and not name.endswith("_total"):
            fail(f"counter {name} does not end in _total")
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return families


def check_histogram(name, samples):
    series = {}
    for s, labels, v in samples:
        base = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        series.setdefault(base, {"buckets": []})
        if s.endswith("_bucket"):
            series[base]["buckets"].append((float(labels["le"]), v))
        else:
            series[base][s[len(name) + 1:]] = v
    for base, h in series.items():
        b = h["buckets"]
        if not b or b[-1][0] != math.inf or b[-1][1] != h.get("count"):
            fail(f"{name}{dict(base)}: +Inf bucket missing or not equal to _count")
        if any(b[i][0] >= b[i + 1][0] or b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            fail(f"{name}{dict(base)}: buckets not increasing and cumulative")
        if "sum" not in h:
            fail(f"{name}{dict(base)}: no _sum")


def value(families, name, **labels):
    base = re.sub(r"_(count|sum|bucket)$", "", name) if name not in families else name
    fam = families.get(base) or fail(f"no family {name}")
    hits = [v for s, l, v in fam["samples"]
            if s == name and all(l.get(k) == x for k, x in labels.items())]
    if len(hits) != 1:
        fail(f"{name}{labels}: {len(hits)} samples")
    return hits[0]


def get(url, method="GET", body=None):
    try:
        req = urllib.request.Request(url, data=body, method=method)
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, "", e.read().decode()


def wait_for(what, cond, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
            if v:
                return v
        except OSError:
            pass
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


def main():
    bindir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="meshkv-node-metrics.")
    procs = []

    def node(host, join=None):
        pf = os.path.join(work, host + ".port")
        env = dict(os.environ, PORT="0", HOSTNAME=host, BIND_ADDRESS=host, MEMORY="1",
                   LOG_LEVEL="warn", PROBE_INTERVAL_MS="200", PROBE_TIMEOUT_MS="150",
                   JOIN_RETRY_MS="50")
        if join:
            env["MESH_NETWORK_URL"] = join
        log = open(os.path.join(work, host + ".log"), "w")
        procs.append(subprocess.Popen([os.path.join(bindir, "meshkv-node"), "--port-file", pf],
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
        port = wait_for(f"{host}'s port", lambda: os.path.exists(pf) and open(pf).read().strip())
        url = f"http://{host}:{port}"
        wait_for(f"{host} healthy", lambda: get(url + "/healthcheck")[0] == 200)
        return url

    try:
        a = node("127.0.0.71")
        node("127.0.0.72", join=a)
        wait_for("a mesh of two, both ready", lambda: all(
            m.get("ready", True) and m["state"] == "alive"
            for m in json.loads(get(a + "/status")[2])["members"]) and
            len(json.loads(get(a + "/status")[2])["members"]) == 2)
        for i in range(25):
            if get(f"{a}/set?k=m{i}&v=value{i}&w=all")[0] != 200:
                fail(f"set m{i}")
        for i in range(5):
            if get(f"{a}/get?k=absent{i}")[0] != 404:
                fail("a missing key is not a 404")
        get(a + "/no/such/route")
        # The REST interface is one label whatever the path (keys never become labels), and the
        # newer public routes have their own.
        for i in range(3):
            get(f"{a}/kv/users/key{i}", "PUT", b"v")
        get(a + "/kv/users/key0")
        get(a + "/kv")
        get(a + "/kv/users?limit=10")
        get(a + "/kv/users/absent")
        get(a + "/collections")
        get(a + "/watch?c=")
        get(a + "/kvnot")
        status, ctype, text = get(a + "/metrics")
        if status != 200 or not ctype.startswith("text/plain; version=0.0.4"):
            fail(f"/metrics answered {status} {ctype}")
        f = parse(text)
        checks = [
            (value(f, "meshkv_node_requests_total", route="/set", status="200"), 25),
            (value(f, "meshkv_node_requests_total", route="/get", status="404"), 5),
            (value(f, "meshkv_node_requests_total", route="other", status="404"), 2),
            (value(f, "meshkv_node_requests_total", route="/kv", status="201"), 3),
            (value(f, "meshkv_node_requests_total", route="/kv", status="200"), 3),
            (value(f, "meshkv_node_requests_total", route="/kv", status="404"), 1),
            (value(f, "meshkv_node_request_duration_seconds_count", route="/kv"), 7),
            (value(f, "meshkv_node_requests_total", route="/collections", status="200"), 1),
            (value(f, "meshkv_node_requests_total", route="/watch", status="400"), 1),
            (value(f, "meshkv_node_request_duration_seconds_count", route="/set"), 25),
            (value(f, "meshkv_node_records"), 28),  # 25 + 3 in users
            (value(f, "meshkv_node_ready"), 1),
            (value(f, "meshkv_node_members", state="alive"), 2),
        ]
        for got, want in checks:
            if got != want:
                fail(f"expected {want}, /metrics says {got}:\n{text}")
        routes = {l["route"] for _, l, _ in f["meshkv_node_requests_total"]["samples"]}
        if any(r.startswith("/kv/") for r in routes):
            fail(f"a REST path became a route label: {sorted(routes)}")
        peers = [l["peer"] for _, l, _ in f["meshkv_node_replication_lag_seconds"]["samples"]]
        if peers != ["127.0.0.72"]:
            fail(f"replication lag is reported for {peers}, not for the one peer")
        if value(f, "meshkv_node_batches_sent_total") < 1:
            fail("25 replicated writes and no batch counted")
        for name in ("meshkv_node_antientropy_rounds_total", "meshkv_node_catchup_bytes_total",
                     "meshkv_node_response_bytes_total", "meshkv_node_store_bytes"):
            value(f, name)
        print(f"node_metrics: OK: {len(f)} families parsed strictly")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
