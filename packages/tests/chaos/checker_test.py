#!/usr/bin/env python3
"""Unit tests of the chaos test's history checker (checker.py), on hand-made histories: each
kind of violation it must report, and the orders it must accept. Run by ctest as chaos_checker.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from checker import check_history, check_identical  # noqa: E402


def op(kind, start, end, outcome="ok", value=None, key="k"):
    return {"id": int(start * 10), "kind": kind, "key": key, "value": value, "start": start,
            "end": end, "outcome": outcome}


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

    def test_nodes_must_end_identical(self):
        self.assertEqual(check_identical({"n1": {"k": "a"}, "n2": {"k": "a"}}), [])
        self.assertEqual(len(check_identical({"n1": {"k": "a"}, "n2": {}})), 1)


if __name__ == "__main__":
    unittest.main()
