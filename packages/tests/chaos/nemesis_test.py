#!/usr/bin/env python3
"""Unit tests of the nemesis's schedule (nemesis.py): a seed replays the same faults, and the
schedule keeps its own rules (a majority up, one fault per node at a time, every fault over
before the end). Run by ctest as chaos_schedule.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nemesis import KINDS, schedule  # noqa: E402


class ScheduleTest(unittest.TestCase):
    def test_a_seed_replays_the_same_schedule(self):
        self.assertEqual(schedule(42, 120, 3), schedule(42, 120, 3))
        self.assertNotEqual(schedule(42, 120, 3), schedule(43, 120, 3))

    def test_every_kind_appears_in_a_long_run(self):
        kinds = {f[1] for f in schedule(7, 1800, 3)}
        self.assertEqual(kinds, set(KINDS))

    def test_kinds_narrows_the_faults_drawn(self):
        kinds = ("kill", "pause", "cut", "lb")
        self.assertEqual({f[1] for f in schedule(7, 1800, 3, kinds)}, set(kinds))
        self.assertEqual(schedule(7, 600, 3, kinds), schedule(7, 600, 3, kinds))

    def test_a_majority_stays_up_and_faults_end_in_time(self):
        for nodes in (3, 5):
            faults = schedule(9, 600, nodes)
            for at, kind, target, length in faults:
                self.assertLessEqual(at + length, 600)
                if target < 0:
                    continue
                overlapping = {t for a, k, t, n in faults
                               if t >= 0 and a <= at < a + n + 1.0 and k != "lb"}
                self.assertLessEqual(len(overlapping), max(1, (nodes - 1) // 2), (at, kind))


if __name__ == "__main__":
    unittest.main()
