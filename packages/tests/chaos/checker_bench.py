#!/usr/bin/env python3
"""A synthetic chaos history of N operations, to time the checker (checker.py) on a long run.

The history has the shape of a real one (workload.py): CLIENTS threads, each owning 16 keys,
44 % sets, 15 % deletes, 35 % reads of a recent value, 6 % w=all sets on keys of their own,
a few indeterminate and failed writes; the final state is the last acknowledged write of
each key, so the checker must find no violation. Used by checker_test.py (small N) and by hand:
  python3 checker_bench.py --ops 2500000 [--out history.jsonl]   # writes it, then times check_file
The thing to get right: the history must be valid, or the timing measures the reporting.
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from checker import check_file  # noqa: E402


def synthetic_history(n, seed=1, clients=4):
    """(ops, final): n operations in the order they ended, and every key's value at the end."""
    rng = random.Random(seed)
    ops, final, last_sent = [], {}, {}
    clock = [0.0] * clients
    counter = [0] * clients
    for i in range(n):
        c = rng.randrange(clients)
        start = clock[c] + rng.random() * 1e-3
        end = start + rng.random() * 5e-3
        clock[c] = end
        key = f"c{c}-k{rng.randrange(16)}"
        r = rng.random()
        outcome = rng.choices(("ok", "unknown", "fail"), (0.97, 0.01, 0.02))[0]
        op = {"id": i, "client": c, "key": key, "value": None, "via": "lb", "start": start,
              "end": end, "status": 200, "body": "", "outcome": outcome}
        if r < 0.06:
            counter[c] += 1
            op.update(kind="set", w="all", key=f"c{c}-all{counter[c]}", value=f"{c}.{counter[c]}",
                      outcome="ok")
            final[op["key"]] = op["value"]
        elif r < 0.65:
            kind = "set" if r < 0.50 else "rm"
            counter[c] += 1
            value = f"{c}.{counter[c]}" if kind == "set" else None
            if outcome == "unknown":
                outcome = "ok"  # an unknown write may land or not: keep the end state simple
            op.update(kind=kind, value=value, outcome=outcome, body="x" * rng.randrange(40))
            if outcome == "ok":
                if kind == "set":
                    final[key] = value
                    last_sent[key] = value
                else:
                    final.pop(key, None)
        else:
            answered = outcome != "fail"
            op.update(kind="get", value=last_sent.get(key) if answered and key in final else None,
                      outcome="ok" if answered else "unknown")
        ops.append(op)
    return ops, final


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=2_500_000)
    ap.add_argument("--out", help="where to write the history (default: a temporary file)")
    args = ap.parse_args()
    t0 = time.monotonic()
    ops, final = synthetic_history(args.ops)
    path = args.out or tempfile.mkstemp(prefix="chaos-history-", suffix=".jsonl")[1]
    with open(path, "w") as f:
        for op in ops:
            f.write(json.dumps(op) + "\n")
    del ops
    size = os.path.getsize(path)
    print(f"{args.ops} ops, {len(final)} keys at the end, {size / 1e6:.0f} MB in {path} "
          f"({time.monotonic() - t0:.1f} s to generate)", flush=True)
    t0, cpu0 = time.monotonic(), time.process_time()
    violations = check_file(path, final)
    print(f"checked in {time.monotonic() - t0:.1f} s ({time.process_time() - cpu0:.1f} s of CPU): "
          f"{len(violations)} violations", flush=True)
    for v in violations[:10]:
        print("  " + v)
    if not args.out:
        os.unlink(path)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
