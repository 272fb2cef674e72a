"""The chaos test's history checker: one pass over the recorded operations, in linear time.

A key's final state (the same on every node after healing, or that is a violation too) must be
the effect of a write that could have been the last one:
  - a write is a candidate if it was answered 200 ("ok") or may have happened ("unknown": a
    timeout, a 504 REPLICATION_TIMEOUT; its effect may land at any time up to the end, so it
    is never ruled out by a later write);
  - an ok candidate is ruled out ("superseded") when another write of the same key was
    answered 200 and STARTED after the candidate's answer arrived (real-time order; an
    unknown candidate's answer never arrived);
  - the final value must be the value of a set that is not ruled out; an absent key needs an
    rm that is not ruled out, or no write of the key ever answered 200 (the initial state).
So an acknowledged write that vanished, a deleted key that came back and a value never written
are all reported. Reads during the run may be stale (the mesh is eventually consistent), so a
read is only checked to return a value some set of that key had sent before the read ended.
Every rule needs only a few numbers per key ("some ok write of the key started after t" is
"the latest start of an ok write is after t"), so the history is read once, record by record,
and a 2.5M-operation run (480 MB) is checked from its file without holding it (checker_bench.py).
The thing to get right: "later" means started after the answer; overlapping writes may land in
either order. An operation's start is never after its end (both are read from one clock).
"""
import itertools
import json
import os
import sys


class _Key:
    """What the rules need to know about one key's writes, gathered in one pass."""

    __slots__ = ("latest_ok_start", "last_ok", "sources", "unknown_rm", "latest_ok_rm_end")

    def __init__(self):
        self.latest_ok_start = None  # the latest start of a write of the key answered 200
        self.last_ok = None  # the ok write that was answered last (for the report)
        self.sources = []  # ok or unknown sets of the key's final value, as (op id, end, outcome)
        self.unknown_rm = False  # an rm that may have landed at any time
        self.latest_ok_rm_end = None  # the latest answer of an rm answered 200

    def superseded(self, outcome, end):
        """True when some ok write of the key started after a write answered at `end`."""
        return outcome == "ok" and self.latest_ok_start is not None and self.latest_ok_start > end


class HistoryChecker:
    """Feed it every operation (add), in any order; then lost(), and the violations (finish)."""

    def __init__(self, final):
        self.final = final  # {key: value} of the store at the end
        self.keys = {}  # key -> _Key, for every key any operation touched
        self.sent = {}  # (key, value) -> the earliest start of a set that sent it (not failed)
        self.unsent_reads = []  # (op id, key, value, end) of reads not yet matched to a set,
        # in the order they were added (the history's)

    def add(self, o):
        key, kind, outcome = o["key"], o["kind"], o["outcome"]
        k = self.keys.get(key)
        if k is None:
            k = self.keys[key] = _Key()
        if kind == "get":
            if outcome == "ok" and o["value"] is not None and not self._was_sent(key, o["value"],
                                                                                  o["end"]):
                self.unsent_reads.append((o["id"], key, o["value"], o["end"]))
            return
        if kind not in ("set", "rm"):
            return
        if kind == "set" and outcome != "fail":
            prev = self.sent.get((key, o["value"]))
            if prev is None or o["start"] < prev:
                self.sent[(key, o["value"])] = o["start"]
        if outcome not in ("ok", "unknown"):
            return
        if kind == "set" and key in self.final and o["value"] == self.final[key]:
            k.sources.append((o["id"], o["end"], outcome))
        if outcome == "ok":
            if k.latest_ok_start is None or o["start"] > k.latest_ok_start:
                k.latest_ok_start = o["start"]
            if k.last_ok is None or o["end"] > k.last_ok[0]:
                k.last_ok = (o["end"], o["id"], kind, o["value"])
            if kind == "rm" and (k.latest_ok_rm_end is None or o["end"] > k.latest_ok_rm_end):
                k.latest_ok_rm_end = o["end"]
        elif kind == "rm":
            k.unknown_rm = True

    def _was_sent(self, key, value, end):
        try:
            start = self.sent.get((key, value))
        except TypeError:  # a read answered with a JSON object or list: no set sent that
            return False
        return start is not None and start <= end

    def lost(self):
        """{key: answer time of its final value's first write} for every key whose final value
        came only from writes ruled out: an acknowledged write after them was lost."""
        out = {}
        for key, k in self.keys.items():
            if (self.final.get(key) is not None and k.sources
                    and all(k.superseded(outcome, end) for _, end, outcome in k.sources)):
                out[key] = k.sources[0][1]
        return out

    def finish(self, later):
        """Every violation; `later` maps each lost() key to the first write acknowledged after
        its final value's write (first_acknowledged_after), for the report."""
        out = []
        for key in sorted(self.keys):
            out += self._check_key(key, self.keys[key], self.final.get(key), later)
        for key in sorted(set(self.final) - set(self.keys)):
            out.append(f"{key}: present at the end ({self.final[key]!r}) but never written")
        for oid, key, value, end in self.unsent_reads:
            if not self._was_sent(key, value, end):
                out.append(f"{key}: read {value!r} (op {oid}) that no write had sent")
        return out

    def _check_key(self, key, k, final, later):
        if final is not None:
            if not k.sources:
                return [f"{key}: final value {final!r} was never written (or its write failed)"]
            if all(k.superseded(outcome, end) for _, end, outcome in k.sources):
                o = later.get(key)
                after = f"op {o['id']} ({o['kind']} {o['value']!r})" if o else "a write"
                return [f"{key}: final value {final!r} (op {k.sources[0][0]}) came back although "
                        f"{after} was acknowledged after it; the last acknowledged write was lost"]
            return []
        if k.latest_ok_start is None:
            return []  # nothing acknowledged: absent is the initial state
        if k.unknown_rm or (k.latest_ok_rm_end is not None
                            and not k.superseded("ok", k.latest_ok_rm_end)):
            return []
        _, oid, kind, value = k.last_ok
        return [f"{key}: absent at the end although op {oid} ({kind} {value!r}) was "
                f"acknowledged and no delete could have followed it"]


def first_acknowledged_after(ops, lost):
    """{key: the first write of key answered 200 that started after lost[key]}: a second pass
    over the history, made only when a write was lost (lost is not empty)."""
    later = {}
    for o in ops:
        end = lost.get(o["key"])
        if (end is not None and o["kind"] in ("set", "rm") and o["outcome"] == "ok"
                and o["start"] > end):
            best = later.get(o["key"])
            if best is None or o["start"] < best["start"]:
                later[o["key"]] = o
    return later


def check_history(ops, final):
    """Every violation of a run: ops is an iterable of operations (a list, or a HistoryFile)
    that can be read twice; `final` maps each key present at the end to its value."""
    checker = HistoryChecker(final)
    for o in ops:
        checker.add(o)
    lost = checker.lost()
    return checker.finish(first_acknowledged_after(ops, lost) if lost else {})


class HistoryFile:
    """The operations of a history.jsonl (one JSON object a line), read anew on each pass.
    Lines are decoded a few thousand at a time, as one JSON array: half the time of a
    json.loads per line, which is most of the cost of a check."""

    BATCH = 4096

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path, encoding="utf-8") as f:
            while True:
                lines = list(itertools.islice(f, self.BATCH))
                if not lines:
                    return
                yield from json.loads("[" + ",".join(lines) + "]")


def check_file(path, final):
    """check_history over a history.jsonl, streamed."""
    return check_history(HistoryFile(path), final)


def check_identical(snapshots):
    """Violations when the nodes' final stores differ: snapshots maps node id -> {key: value}."""
    out = []
    items = sorted(snapshots.items())
    if not items:
        return out
    ref_id, ref = items[0]
    for nid, snap in items[1:]:
        if snap == ref:
            continue
        diff = sorted(k for k in set(ref) | set(snap) if ref.get(k) != snap.get(k))
        out.append(f"{nid} differs from {ref_id} on {len(diff)} keys, e.g. "
                   + ", ".join(f"{k}: {ref.get(k)!r} vs {snap.get(k)!r}" for k in diff[:3]))
    return out


def main(argv):
    """Check a kept run directory again: checker.py RUN_DIR (its history.jsonl and final.json)."""
    if len(argv) != 2:
        print("usage: checker.py RUN_DIR (a kept chaos run: history.jsonl, final.json)")
        return 2
    with open(os.path.join(argv[1], "final.json"), encoding="utf-8") as f:
        snapshots = {nid: snap for nid, snap in json.load(f).items() if snap is not None}
    violations = check_identical(snapshots)
    violations += check_file(os.path.join(argv[1], "history.jsonl"),
                             next(iter(snapshots.values()), {}))
    for v in violations:
        print(v)
    print(f"{len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
