"""The chaos test's clients: threads that write, read and delete keys and record every answer.

Each client thread owns its keys (c<t>-k<j>), so the operations on one key never overlap in real
time: the checker can then say which write must win (see checker.py). Values are unique per
write (<client>.<n>). Writes go through the balancer on one keep-alive connection per thread;
a transport error after the request may have left makes the operation indeterminate
("unknown"), a refused connection makes it a definite failure. Some writes use w=all, each on a
key of its own written once, sent straight to a node picked by the client's seeded random
generator, with that node's /status read before and after: every peer the node counted for
the write (in its replication set, same incarnation, before and after) must then hold the value
(read straight from it) unless the nemesis killed or paused that peer meanwhile.
The thing to get right: only what the answer proves is recorded; a timeout proves nothing.
"""
import http.client
import json
import random
import threading
import time
import urllib.parse

from cluster import http_get

KEYS_PER_CLIENT = 16
TIMEOUT_S = 4.0  # above REPLICATION_TIMEOUT_MS, so a w=all is answered before we give up


class History:
    """Every operation, appended by the client threads (thread-safe) to a history.jsonl as it
    ends: a 30-minute run records over 2M operations, too many to hold as dicts (the checker
    reads the file back, checker.HistoryFile). Only counts stay in memory."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._file = open(path, "w", encoding="utf-8")
        self.count = 0
        self.tally = {}  # ("set" | "set/all" | "rm" | "get", outcome) -> operations
        self.wall_violations = []  # w=all writes missing on a counted peer
        self.wall_checked = 0  # (write, peer) pairs checked
        self.wall_skipped = 0  # pairs the nemesis disturbed (killed/paused/unreachable)

    def add(self, op):
        kind = op["kind"] + ("/all" if op.get("w") == "all" else "")
        with self._lock:
            op["id"] = self.count
            self.count += 1
            self._file.write(json.dumps(op) + "\n")
            self.tally[(kind, op["outcome"])] = self.tally.get((kind, op["outcome"]), 0) + 1

    def close(self):
        with self._lock:
            self._file.close()

    def note_wall(self, checked=0, skipped=0, violation=None):
        with self._lock:
            self.wall_checked += checked
            self.wall_skipped += skipped
            if violation:
                self.wall_violations.append(violation)


class LbConnection:
    """One keep-alive HTTP/1.1 connection to the balancer, reopened after any error, to the
    balancer's address at that time (lb.host, lb.port: a restarted container may move)."""

    def __init__(self, lb):
        self.lb = lb
        self.conn = None

    def request(self, path):
        """(outcome, status, body): outcome is ok-to-judge "answered", "refused" or "unknown"."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.lb.host, self.lb.port, timeout=TIMEOUT_S)
            try:
                self.conn.connect()
            except OSError:
                self.close()
                self.backoff()
                return "refused", 0, ""
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            if r.status == 503:
                # The node cannot take writes now (disk, catch-up): go elsewhere, as a client
                # would. Without this the client spins on one node and fills the history with
                # 503 DISK_UNAVAILABLE, which the checker must treat as possibly applied.
                self.close()
                self.backoff()
            return "answered", r.status, body
        except (OSError, http.client.HTTPException):
            self.close()
            self.backoff()
            return "unknown", 0, ""

    @staticmethod
    def backoff():
        # A client's pause before it reconnects (not a wait for a condition): a balancer that
        # just restarted closes connections until its checks find a backend, and a client
        # retrying at once would fill the history with indeterminate writes that never left
        # the balancer, each of which the checker must then accept as possibly applied.
        time.sleep(0.1)

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def classify_write(transport, status, body, kind):
    """ok (the write took effect), fail (it did not), unknown (it may have, now or later)."""
    if transport == "refused":
        return "fail"
    if transport == "unknown":
        return "unknown"
    if status == 200:
        return "ok"
    if kind == "rm" and status == 404:
        return "noop"  # the key was absent on that node: nothing was written
    if status == 503 and "NOT_READY" in body:
        return "fail"
    if 400 <= status < 500:
        return "fail"
    return "unknown"  # 504 REPLICATION_TIMEOUT (applied), 503 DISK_UNAVAILABLE (maybe later)


class Client(threading.Thread):
    def __init__(self, index, seed, lb, nodes, history, nemesis, stop, wall_share=0.06):
        super().__init__(daemon=True, name=f"client-{index}")
        self.index = index
        self.rng = random.Random(f"{seed}/client/{index}")
        self.lb = LbConnection(lb)
        self.nodes = nodes
        self.history = history
        self.nemesis = nemesis
        self.stop = stop
        self.wall_share = wall_share
        self.n = 0

    def run(self):
        while not self.stop.is_set():
            r = self.rng.random()
            key = f"c{self.index}-k{self.rng.randrange(KEYS_PER_CLIENT)}"
            if r < self.wall_share:
                self.write_all()
            elif r < 0.50:
                self.write("set", key)
            elif r < 0.65:
                self.write("rm", key)
            else:
                self.read(key)
        self.lb.close()

    def next_value(self):
        self.n += 1
        return f"{self.index}.{self.n}"

    def write(self, kind, key):
        value = self.next_value() if kind == "set" else None
        path = f"/set?k={key}&v={value}" if kind == "set" else f"/rm?k={key}"
        start = time.monotonic()
        transport, status, body = self.lb.request(path)
        end = time.monotonic()
        self.history.add({"client": self.index, "kind": kind, "key": key, "value": value,
                          "via": "lb", "start": start, "end": end, "status": status,
                          "body": body[:200], "outcome": classify_write(transport, status, body,
                                                                        kind)})

    def read(self, key):
        start = time.monotonic()
        transport, status, body = self.lb.request(f"/get?k={key}")
        end = time.monotonic()
        value = None
        if transport == "answered" and status == 200:
            try:
                value = json.loads(body)
            except ValueError:
                value = body
        outcome = "ok" if transport == "answered" and status in (200, 404) else "unknown"
        self.history.add({"client": self.index, "kind": "get", "key": key, "value": value,
                          "via": "lb", "start": start, "end": end, "status": status,
                          "body": body[:200], "outcome": outcome})

    def write_all(self):
        node = self.nodes[self.rng.randrange(len(self.nodes))]
        value = self.next_value()
        key = f"c{self.index}-all{self.n}"
        start = time.monotonic()
        before = node.status(timeout=1.0)
        if before is None:
            return  # the node is down or paused: nothing was sent
        code, body = http_get(f"{node.url()}/set?k={key}&v={value}&w=all", TIMEOUT_S)
        end = time.monotonic()
        outcome = classify_write("answered" if code else "unknown", code, body, "set")
        self.history.add({"client": self.index, "kind": "set", "key": key, "value": value,
                          "via": node.id, "w": "all", "start": start, "end": end,
                          "status": code, "body": body[:200], "outcome": outcome})
        if outcome == "ok":
            self.check_all(node, key, value, before, start)

    def check_all(self, node, key, value, before, start):
        after = node.status(timeout=1.0)
        if after is None:
            self.history.note_wall(skipped=1)
            return
        counted = live_members(before) & live_members(after)
        for peer in self.nodes:
            if peer is node or peer.id not in {pid for pid, _ in counted}:
                continue
            if self.nemesis.disturbed(peer, start):
                self.history.note_wall(skipped=1)
                continue
            code, body = http_get(f"{peer.url()}/get?k={urllib.parse.quote(key)}", 2.0)
            if code == 0 or self.nemesis.disturbed(peer, start):
                self.history.note_wall(skipped=1)
            elif code == 200 and json.loads(body) == value:
                self.history.note_wall(checked=1)
            else:
                self.history.note_wall(checked=1, violation={
                    "key": key, "value": value, "answered_by": node.id, "missing_on": peer.id,
                    "peer_answer": [code, body[:200]], "at": time.monotonic()})


def live_members(status):
    """{(id, incarnation)} of the live (alive or suspect) admitted members in a /status answer:
    whom w=all must wait for ("every live member at the time of the write", docs/mesh.md)."""
    return {(m["id"], m.get("incarnation")) for m in status.get("members", [])
            if not m.get("self") and m.get("admitted") and m.get("state") in ("alive", "suspect")}
