"""The chaos test's history checker: pure functions over the recorded operations.

A key's final state (the same on every node after healing, or that is a violation too) must be
the effect of a write that could have been the last one:
  - a write is a candidate if it was answered 200 ("ok") or may have happened ("unknown": a
    timeout, a 504 REPLICATION_TIMEOUT; its effect may land at any time up to the end, so it
    is never ruled out by a later write);
  - an ok or unknown candidate is ruled out ("superseded") when another write of the same key
    was answered 200 and STARTED after the candidate's answer arrived (real-time order; an
    unknown candidate's answer never arrived);
  - the final value must be the value of a set that is not ruled out; an absent key needs an
    rm that is not ruled out, or no write of the key ever answered 200 (the initial state).
So an acknowledged write that vanished, a deleted key that came back and a value never written
are all reported. Reads during the run may be stale (the mesh is eventually consistent), so a
read is only checked to return a value some set of that key had sent before the read ended.
The thing to get right: "later" means started after the answer; overlapping writes may land in
either order.
"""


def superseded(op, ops):
    """True when some ok write of op's key started after op was answered."""
    if op["outcome"] != "ok":
        return False
    return any(o["outcome"] == "ok" and o["start"] > op["end"] for o in ops if o is not op)


def check_key(key, ops, final):
    """The violations (strings) of one key whose final state is `final` (a value or None)."""
    writes = [o for o in ops if o["kind"] in ("set", "rm") and o["outcome"] in ("ok", "unknown")]
    if final is not None:
        source = [o for o in writes if o["kind"] == "set" and o["value"] == final]
        if not source:
            return [f"{key}: final value {final!r} was never written (or its write failed)"]
        if all(superseded(o, writes) for o in source):
            later = min((o for o in writes if o["outcome"] == "ok" and o["start"] > source[0]["end"]),
                        key=lambda o: o["start"])
            return [f"{key}: final value {final!r} (op {source[0]['id']}) came back although "
                    f"op {later['id']} ({later['kind']} {later['value']!r}) was acknowledged "
                    f"after it; the last acknowledged write was lost"]
        return []
    if not any(o["outcome"] == "ok" for o in writes):
        return []  # nothing acknowledged: absent is the initial state
    if any(o["kind"] == "rm" and not superseded(o, writes) for o in writes):
        return []
    last = max((o for o in writes if o["outcome"] == "ok"), key=lambda o: o["end"])
    return [f"{key}: absent at the end although op {last['id']} ({last['kind']} "
            f"{last['value']!r}) was acknowledged and no delete could have followed it"]


def check_reads(ops):
    """Reads that returned a value no set of that key had sent before the read ended."""
    sent = {}
    for o in ops:
        if o["kind"] == "set" and o["outcome"] != "fail":
            sent.setdefault(o["key"], []).append(o)
    out = []
    for o in ops:
        if o["kind"] != "get" or o["outcome"] != "ok" or o["value"] is None:
            continue
        if not any(s["value"] == o["value"] and s["start"] <= o["end"]
                   for s in sent.get(o["key"], [])):
            out.append(f"{o['key']}: read {o['value']!r} (op {o['id']}) that no write had sent")
    return out


def check_history(ops, final):
    """Every violation of a run: `final` maps each key present at the end to its value."""
    by_key = {}
    for o in ops:
        by_key.setdefault(o["key"], []).append(o)
    out = []
    for key, kops in sorted(by_key.items()):
        out += check_key(key, kops, final.get(key))
    known = set(by_key)
    for key in sorted(set(final) - known):
        out.append(f"{key}: present at the end ({final[key]!r}) but never written")
    return out + check_reads(ops)


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
