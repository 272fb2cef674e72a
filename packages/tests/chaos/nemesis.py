"""The chaos test's nemesis: a fault schedule drawn from the seed, then played against the cluster.

`schedule(seed, duration, nodes)` is a pure function: the same seed, duration and node count
give the same list of faults (time, kind, target, length), printed at the start of a run, so a
failing run is replayed with its seed. Kinds:
  kill    SIGKILL a node, restart it on the same DATA_DIR and port after `length` seconds
  pause   SIGSTOP a node for `length` seconds, then SIGCONT (a long GC-like pause)
  cut     black-hole all mesh traffic to and from a node for `length` seconds (meshproxy.py);
          clients still reach it through the balancer
  disk    a full disk: the node's RLIMIT_FSIZE is set to its log's size for `length` seconds,
          so every write() fails (EFBIG, SIGXFSZ being ignored) as on ENOSPC; then unlimited
  lb      SIGKILL the balancer, start it again on the same port after `length` seconds
  crash   SIGKILL every node at once, restart them all after `length` seconds (what the nodes
          acknowledged must come back from their disks alone: no peer holds a copy)
At most (nodes-1)//2 nodes are faulted at once, so a majority stays up; the balancer fault may
overlap node faults. The player runs on its own thread and records when each node was last
killed or paused, which the w=all check reads (`disturbed`); the cluster does the harm
(`cluster.inject(kind, node)`, `cluster.undo(kind, node)`): processes (cluster.py) or
containers (packages/tests/e2e/chaos_containers.py). The thing to get right: the
timing of a replay is only as exact as the machine; the SCHEDULE is what a seed reproduces.
"""
import heapq
import random
import threading
import time

KINDS = ("kill", "pause", "cut", "disk", "lb", "crash")
WEIGHTS = (6, 4, 6, 3, 2, 1)


def schedule(seed, duration, nodes, kinds=KINDS):
    """The faults of a run: (time, kind, target node index or -1, length), sorted by time.
    `kinds` narrows the kinds drawn (a container cluster has no disk fault); with every kind,
    a seed gives the schedule it always gave."""
    weights = [w for k, w in zip(KINDS, WEIGHTS) if k in kinds]
    kinds = [k for k in KINDS if k in kinds]
    rng = random.Random(f"{seed}/nemesis")
    faults = []
    busy = {}  # node index -> busy until
    lb_busy = 0.0
    t = 2.0
    max_down = max(1, (nodes - 1) // 2)
    while True:
        t += rng.uniform(0.3, 2.5)
        kind = rng.choices(kinds, weights)[0]
        if kind == "kill":
            length = rng.uniform(0.2, 3.0)
        elif kind == "pause":
            length = rng.uniform(0.3, 4.0)
        elif kind in ("cut", "disk"):
            length = rng.uniform(0.5, 6.0)
        else:
            length = rng.uniform(0.0, 1.0)
        if t + length > duration - 1:
            break
        active = sum(1 for until in busy.values() if until > t)
        if kind == "crash":
            if active:
                continue
            for i in range(nodes):
                busy[i] = t + length + 3.0  # every node restarts and catches up
            faults.append((round(t, 3), kind, -1, round(length, 3)))
            continue
        if kind == "lb":
            if t < lb_busy:
                continue
            lb_busy = t + length + 0.5
            faults.append((round(t, 3), kind, -1, round(length, 3)))
            continue
        free = [i for i in range(nodes) if busy.get(i, 0) <= t]
        if not free or active >= max_down:
            continue
        target = rng.choice(free)
        busy[target] = t + length + 1.0  # a second to recover before the next fault on it
        faults.append((round(t, 3), kind, target, round(length, 3)))
    return faults


class Nemesis(threading.Thread):
    def __init__(self, cluster, faults, log):
        super().__init__(daemon=True, name="nemesis")
        self.cluster = cluster
        self.faults = faults
        self.log = log
        self.stop = threading.Event()
        self.counts = {k: 0 for k in KINDS}
        self._lock = threading.Lock()
        self._last_disturbed = {}  # node id -> monotonic time of its last kill/pause start
        self._down = set()  # node ids killed or paused right now

    def disturbed(self, node, since):
        """True when `node` was killed or paused after `since`, or is down or paused now."""
        with self._lock:
            return node.id in self._down or self._last_disturbed.get(node.id, -1) >= since

    def _mark(self, node, down):
        with self._lock:
            self._last_disturbed[node.id] = time.monotonic()
            (self._down.add if down else self._down.discard)(node.id)

    def run(self):
        t0 = time.monotonic()
        queue = [(f[0], i, ("start", f)) for i, f in enumerate(self.faults)]
        heapq.heapify(queue)
        seq = len(queue)
        while queue and not self.stop.is_set():
            at, _, (what, fault) = queue[0]
            delay = t0 + at - time.monotonic()
            if delay > 0:
                self.stop.wait(min(delay, 0.2))  # wake up to check stop
                continue
            heapq.heappop(queue)
            if what == "start":
                self._start(fault)
                seq += 1
                heapq.heappush(queue, (at + fault[3], seq, ("end", fault)))
            else:
                self._end(fault)
        # Ends still pending are undone by Cluster.heal_all(); the nemesis only stops here.

    def _victims(self, kind, target):
        if kind == "lb":
            return []
        return list(self.cluster.nodes) if kind == "crash" else [self.cluster.nodes[target]]

    def _start(self, fault):
        at, kind, target, length = fault
        self.counts[kind] += 1
        self.log(f"nemesis t={at:7.2f} {kind:5} "
                 f"{kind if target < 0 else self.cluster.nodes[target].id} for {length:.2f}s")
        victims = self._victims(kind, target)
        if kind in ("kill", "pause", "crash"):
            for node in victims:
                self._mark(node, True)
        self.cluster.inject(kind, victims[0] if len(victims) == 1 else None)

    def _end(self, fault):
        _, kind, target, _ = fault
        victims = self._victims(kind, target)
        self.cluster.undo(kind, victims[0] if len(victims) == 1 else None)
        if kind in ("kill", "pause", "crash"):
            for node in victims:
                self._mark(node, False)
