#!/usr/bin/env python3
"""meshkv's chaos test (issue 15): a seeded nemesis against a cluster under a checked workload.

Starts NODES meshkv-node processes (own DATA_DIR each, FSYNC=always, MESH_SECRET) behind one
meshkv-lb (static BACKENDS), runs CLIENTS client threads (workload.py) for DURATION seconds
while the nemesis (nemesis.py) plays the fault schedule drawn from SEED, then heals every
fault, waits until the nodes agree, and checks the history (checker.py): no acknowledged write
lost, no deleted key back, every node identical, w=all values on every counted peer.
Exit status 0 when no violation was found, 1 with the violations and the seed, 2 when the
cluster could not be set up or did not converge. docs/chaos.md is the reference.
Usage: chaos.py --bin-dir build/bin [--duration 120] [--seed N] [--nodes 3] [--clients 4]
The thing to get right: a failing run must print everything needed to replay it (the seed,
the schedule, the run directory with every process's log and the history).
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from checker import check_file, check_identical  # noqa: E402
from cluster import Cluster, http_get, wait_for  # noqa: E402
from nemesis import Nemesis, schedule  # noqa: E402
from workload import Client, History  # noqa: E402


def log(msg):
    print(f"[chaos] {msg}", flush=True)


def store_of(node):
    """{key: value} of one node's /getAll, or None when it does not answer."""
    code, body = http_get(node.url() + "/getAll", 30)
    if code != 200:
        return None
    try:
        return {e["k"]: e["v"] for e in json.loads(body)}
    except (ValueError, KeyError, TypeError):
        return None


def agreed(cluster):
    """All nodes ready, seeing each other alive, with one digest."""
    if not cluster.converged_membership():
        return False
    digests = {(n.status() or {}).get("mesh", {}).get("digest") for n in cluster.nodes}
    return len(digests) == 1 and None not in digests


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 120)))
    seed_env = os.environ.get("SEED", "")
    ap.add_argument("--seed", type=int, default=int(seed_env) if seed_env else None)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the run directory on success")
    ap.add_argument("--print-schedule", action="store_true", help="print the schedule and exit")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    faults = schedule(seed, args.duration, args.nodes)
    log(f"seed {seed}: {args.nodes} nodes, {args.clients} clients, {args.duration:.0f} s, "
        f"{len(faults)} faults (replay: SEED={seed} DURATION={args.duration:g})")
    if args.print_schedule:
        for f in faults:
            print(f)
        return 0
    run_dir = tempfile.mkdtemp(prefix="meshkv-chaos-")
    log(f"logs and history in {run_dir}")
    cluster = Cluster(args.bin_dir, run_dir, args.nodes)
    with open(os.path.join(run_dir, "schedule.txt"), "w") as f:
        f.write(f"seed {seed}\n" + "".join(f"{x}\n" for x in faults))
    nemesis_log = open(os.path.join(run_dir, "nemesis.log"), "w")
    try:
        rc = run(args, seed, faults, cluster, run_dir, nemesis_log)
    finally:
        cluster.close()
        nemesis_log.close()
    if rc == 0 and not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    elif rc != 0:
        log(f"FAILED with seed {seed}; run directory kept: {run_dir}")
    return rc


def run(args, seed, faults, cluster, run_dir, nemesis_log):
    try:
        cluster.start()
    except RuntimeError as e:
        log(f"setup failed: {e}")
        return 2
    log("cluster ready: " + ", ".join(f"{n.id}:{n.port}" for n in cluster.nodes)
        + f" behind {cluster.lb.host}:{cluster.lb.port}")

    def nlog(msg):
        nemesis_log.write(f"{time.monotonic():.3f} {msg}\n")
        nemesis_log.flush()

    history = History(os.path.join(run_dir, "history.jsonl"))
    stop = threading.Event()
    nemesis = Nemesis(cluster, faults, nlog)
    clients = [Client(i, seed, cluster.lb, cluster.nodes, history, nemesis, stop)
               for i in range(args.clients)]
    started = time.monotonic()
    nemesis.start()
    for c in clients:
        c.start()
    while time.monotonic() - started < args.duration:
        time.sleep(min(10, max(0.1, args.duration - (time.monotonic() - started))))
        log(f"t={time.monotonic() - started:5.0f}s ops={history.count} "
            f"faults={sum(nemesis.counts.values())}")
    stop.set()
    nemesis.stop.set()
    for c in clients:
        c.join(timeout=30)
    nemesis.join(timeout=30)
    history.close()
    log("workload stopped; healing every fault")
    crashes = cluster.unexpected_exits()
    cluster.heal_all()
    if not wait_for(lambda: agreed(cluster), 120):
        for n in cluster.nodes:
            s = n.status()
            log(f"{n.id}: " + (json.dumps({"ready": s.get("ready"), "mesh": {
                k: s["mesh"].get(k) for k in ("phase", "digest")}, "members": [
                (m["id"], m["state"]) for m in s.get("members", [])]}) if s else "no answer"))
        for c in crashes + cluster.unexpected_exits():
            log(c)
        log(f"the nodes did not converge within 120 s after healing (seed {seed})")
        return 2
    converged_after = time.monotonic() - started - args.duration
    snapshots = {n.id: store_of(n) for n in cluster.nodes}
    with open(os.path.join(run_dir, "final.json"), "w") as f:
        json.dump(snapshots, f)
    violations = crashes + cluster.unexpected_exits()
    for nid, snap in snapshots.items():
        if snap is None:
            violations.append(f"{nid}: /getAll did not answer after healing")
    snapshots = {k: v for k, v in snapshots.items() if v is not None}
    violations += check_identical(snapshots)
    final = next(iter(snapshots.values()), {})
    log(f"checking {history.count} operations against {len(final)} keys")
    checked = time.monotonic()
    violations += check_file(os.path.join(run_dir, "history.jsonl"), final)
    log(f"history checked in {time.monotonic() - checked:.1f} s")
    violations += [f"w=all {v['key']}={v['value']!r} answered 200 by {v['answered_by']} but "
                   f"{v['missing_on']} answered {v['peer_answer']}" for v in history.wall_violations]
    report(history, nemesis, converged_after, violations)
    if violations:
        log(f"{len(violations)} VIOLATIONS (seed {seed}):")
        for v in violations[:50]:
            log("  " + v)
        return 1
    log(f"OK: 0 violations (seed {seed})")
    return 0


def report(history, nemesis, converged_after, violations):
    by = history.tally
    log("faults: " + ", ".join(f"{k} {v}" for k, v in nemesis.counts.items()))
    log("operations: " + ", ".join(f"{k[0]} {k[1]} {v}" for k, v in sorted(by.items())))
    log(f"w=all peer checks: {history.wall_checked} checked, {history.wall_skipped} skipped "
        f"(peer killed, paused or unreachable); converged {converged_after:.1f} s after the "
        f"workload stopped")


if __name__ == "__main__":
    sys.exit(main())
