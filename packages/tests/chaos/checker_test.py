#!/usr/bin/env python3
"""Unit tests of the chaos test's history checker (checker.py), on hand-made histories: each
kind of violation it must report, and the orders it must accept; the same verdicts from a
history file as from a list, and a check whose cost grows linearly with the history.
Run by ctest as chaos_checker.
"""
import json
import os
import random
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checker  # noqa: E402
from checker import check_file, check_history, check_identical  # noqa: E402
from checker_bench import synthetic_history  # noqa: E402


def op(kind, start, end, outcome="ok", value=None, key="k"):
    return {"id": int(start * 10), "kind": kind, "key": key, "value": value, "start": start,
            "end": end, "outcome": outcome}


def reference_verdicts(ops, final):
    """The rules of checker.py written the obvious (quadratic) way, as the first checker did:
    the keys with a violation, for comparison with the one-pass checker on random histories."""
    bad = set()
    writes = [o for o in ops if o["kind"] in ("set", "rm") and o["outcome"] in ("ok", "unknown")]

    def superseded(w):
        return w["outcome"] == "ok" and any(
            o["outcome"] == "ok" and o["start"] > w["end"] and o["key"] == w["key"]
            for o in writes if o is not w)
    for key in {o["key"] for o in ops} | set(final):
        kw = [o for o in writes if o["key"] == key]
        if key not in {o["key"] for o in ops}:
            bad.add(key)
        elif final.get(key) is not None:
            source = [o for o in kw if o["kind"] == "set" and o["value"] == final[key]]
            if not source or all(superseded(o) for o in source):
                bad.add(key)
        elif any(o["outcome"] == "ok" for o in kw) and not any(
                o["kind"] == "rm" and not superseded(o) for o in kw):
            bad.add(key)
    for o in ops:
        if o["kind"] == "get" and o["outcome"] == "ok" and o["value"] is not None and not any(
                s["kind"] == "set" and s["outcome"] != "fail" and s["key"] == o["key"]
                and s["value"] == o["value"] and s["start"] <= o["end"] for s in ops):
            bad.add(o["key"])
    return bad


class CheckerTest(unittest.TestCase):
    def test_the_last_acknowledged_write_wins(self):
        h = [op("set", 0, 1, value="a"), op("set", 2, 3, value="b")]
        self.assertEqual(check_history(h, {"k": "b"}), [])
        self.assertEqual(len(check_history(h, {"k": "a"})), 1, "a lost write must be reported")
        self.assertEqual(len(check_history(h, {})), 1, "a vanished key must be reported")

    def test_a_deleted_key_must_not_come_back(self):
        h = [op("set", 0, 1, value="a"), op("rm", 2, 3)]
        self.assertEqual(check_history(h, {}), [])
        self.assertIn("came back", check_history(h, {"k": "a"})[0])

    def test_overlapping_writes_may_land_in_either_order(self):
        h = [op("set", 0, 2, value="a"), op("set", 1, 3, value="b")]
        self.assertEqual(check_history(h, {"k": "a"}), [])
        self.assertEqual(check_history(h, {"k": "b"}), [])

    def test_an_indeterminate_write_may_land_any_time_or_never(self):
        h = [op("set", 0, 1, value="a"), op("rm", 2, 3, outcome="unknown"),
             op("set", 4, 5, outcome="unknown", value="c")]
        self.assertEqual(check_history(h, {"k": "a"}), [])
        self.assertEqual(check_history(h, {}), [])
        self.assertEqual(check_history(h, {"k": "c"}), [])

    def test_a_failed_write_is_never_the_source(self):
        h = [op("set", 0, 1, value="a"), op("set", 2, 3, outcome="fail", value="b")]
        self.assertEqual(len(check_history(h, {"k": "b"})), 1)
        self.assertEqual(len(check_history(h, {"k": "zzz"})), 1)

    def test_a_key_nobody_wrote_is_reported(self):
        self.assertEqual(len(check_history([], {"ghost": "x"})), 1)

    def test_reads_return_only_values_that_were_sent(self):
        h = [op("set", 0, 1, value="a"), op("get", 2, 3, value="a"), op("get", 4, 5, value="q")]
        self.assertEqual(len(check_history(h, {"k": "a"})), 1)

    def test_a_lost_write_names_the_write_acknowledged_after_it(self):
        h = [op("set", 0, 1, value="a"), op("set", 2, 3, value="b"), op("rm", 4, 5)]
        v = check_history(h, {"k": "a"})
        self.assertEqual(len(v), 1)
        self.assertIn("op 20 (set 'b')", v[0])

    def test_a_delete_followed_by_an_acknowledged_set_does_not_excuse_an_absent_key(self):
        h = [op("rm", 0, 1), op("set", 2, 3, value="a")]
        self.assertIn("absent at the end", check_history(h, {})[0])
        h.append(op("rm", 4, 5, outcome="unknown"))
        self.assertEqual(check_history(h, {}), [])

    def test_a_read_of_a_value_only_a_failed_or_later_set_sent_is_reported(self):
        h = [op("set", 0, 1, outcome="fail", value="a"), op("get", 2, 3, value="a"),
             op("get", 4, 5, value="b"), op("set", 6, 7, value="b")]
        self.assertEqual(len(check_history(h, {"k": "b"})), 2)

    def test_a_read_may_come_before_the_set_that_sent_it_in_the_history(self):
        # The history is in the order the answers arrived: a read answered while the set of
        # its value was still waiting for its own answer is recorded first.
        h = [op("get", 2, 3, value="a"), op("set", 1, 4, value="a")]
        self.assertEqual(check_history(h, {"k": "a"}), [])

    def test_a_read_answered_with_json_that_is_not_a_string_is_reported(self):
        h = [op("set", 0, 1, value="a"), op("get", 2, 3, value={"v": "a"})]
        self.assertEqual(len(check_history(h, {"k": "a"})), 1)

    def test_random_histories_get_the_verdicts_of_the_quadratic_rules(self):
        rng = random.Random(15)
        for trial in range(3000):
            ops, values = [], ["a", "b", "c", "d"]
            for i in range(rng.randrange(1, 9)):
                start = rng.randrange(20)
                o = op(rng.choice(("set", "set", "rm", "get")), start, start + rng.randrange(6),
                       rng.choice(("ok", "ok", "unknown", "fail", "noop")), rng.choice(values),
                       rng.choice(("k", "j")))
                o["id"] = i
                if o["kind"] == "rm":
                    o["value"] = None
                ops.append(o)
            final = {k: rng.choice(values) for k in ("k", "j", "x") if rng.random() < 0.5}
            got = {v.split(":")[0] for v in check_history(ops, final)}
            self.assertEqual(got, reference_verdicts(ops, final), (trial, ops, final))

    def test_a_history_file_gives_the_verdicts_of_the_list(self):
        ops, final = synthetic_history(3000, seed=7)
        keys = sorted(k for k in final if "-all" not in k)
        first = next(o for o in ops if o["key"] == keys[0] and o["kind"] == "set"
                     and o["outcome"] == "ok")
        final[keys[0]] = first["value"]  # an early value back: the later writes were lost
        del final[keys[1]]  # an acknowledged last set vanished
        final["ghost"] = "x"
        next(o for o in ops if o["kind"] == "get" and o["outcome"] == "ok")["value"] = "nope"
        expected = check_history(ops, final)
        for kind in ("came back", "absent at the end", "never written", "no write had sent"):
            self.assertEqual(sum(kind in v for v in expected), 1, f"{kind}: {expected}")
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for o in ops:
                f.write(json.dumps(o) + "\n")
        old = checker.HistoryFile.BATCH
        try:
            checker.HistoryFile.BATCH = 7  # many batches, one cut short at the end
            self.assertEqual(check_file(f.name, final), expected)
        finally:
            checker.HistoryFile.BATCH = old
            os.unlink(f.name)

    def test_a_valid_synthetic_run_passes_and_the_check_is_linear(self):
        def cpu_seconds(n):
            ops, final = synthetic_history(n, seed=3)
            t = time.process_time()
            self.assertEqual(check_history(ops, final), [])
            return time.process_time() - t
        small, large = cpu_seconds(10_000), cpu_seconds(80_000)
        # 8 times the operations: a linear check takes about 8 times as long, the former
        # quadratic one (each read compared with every set of its key) took about 64 times.
        self.assertLess(large, 24 * max(small, 0.01), f"10k ops {small:.2f} s, 80k {large:.2f} s")

    def test_nodes_must_end_identical(self):
        self.assertEqual(check_identical({"n1": {"k": "a"}, "n2": {"k": "a"}}), [])
        self.assertEqual(len(check_identical({"n1": {"k": "a"}, "n2": {}})), 1)


if __name__ == "__main__":
    unittest.main()
