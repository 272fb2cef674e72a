"""The chaos test's cluster as containers: the compose stack under the nemesis (e2e.py `chaos`).

ContainerCluster has the face of the process cluster (packages/tests/chaos/cluster.py) that the
chaos driver, its nemesis and its clients use (nodes with id, url() and status(), a balancer
with host and port, start, inject/undo, heal_all, unexpected_exits), so `chaos.run` plays a
seeded schedule against the stack of an e2e.py Stack with the same workload and checker. Faults
are Docker's: kill = `docker kill` + `docker start` (the node keeps its volume), pause =
`docker pause`/`unpause`, cut = `docker network disconnect`/`connect` (clients lose the node
too), lb = `docker kill` + `docker start` of the balancer. The stack itself (and its teardown)
belongs to the caller. A docker command that fails fails the run (a fault that was not
injected would pass for one that was). The thing to get right: a container's address may
change when it starts or reconnects, so every address is read again after a fault ends.
"""
import subprocess
import threading

from cluster import all_see_each_other, get_status

KINDS = ("kill", "pause", "cut", "lb")  # no disk fault: a container's disk cannot be filled
DOCKER_TIMEOUT_S = 60


def docker(*args):
    """Runs `docker args...`; returns None, or what went wrong. Never raises."""
    try:
        p = subprocess.run(["docker"] + list(args), capture_output=True, text=True,
                           timeout=DOCKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"`docker {' '.join(args)}` timed out after {DOCKER_TIMEOUT_S} s"
    if p.returncode != 0:
        return f"`docker {' '.join(args)}` failed ({p.returncode}): {p.stderr.strip()[-200:]}"
    return None


class ContainerNode:
    """One database container: its id (= HOSTNAME, the node id) and its current address."""

    port = 80

    def __init__(self, stack, cid):
        self.stack, self.cid = stack, cid
        self.id = stack.hostname(cid)
        self.address = None
        self.refresh()

    def refresh(self):
        self.address = self.stack.ip(self.cid) or self.address

    def url(self):
        return f"http://{self.address}:{self.port}"

    def status(self, timeout=2.0):
        return get_status(self.url(), timeout)

    def running(self):
        info = self.stack.inspect(self.cid)
        return bool(info and info["State"]["Running"])


class ContainerBalancer:
    """The proxy container: the clients read host and port at each (re)connection."""

    port = 80

    def __init__(self, stack):
        self.stack = stack
        self.cid = stack.proxy()
        self.host = None
        self.refresh()

    def refresh(self):
        self.host = self.stack.ip(self.cid) or self.host


class ContainerCluster:
    def __init__(self, stack, size):
        self.stack, self.size = stack, size
        self.nodes = []
        self.lb = None
        self._lock = threading.Lock()
        self._killed, self._paused, self._cut = set(), set(), set()  # container ids
        self._lb_killed = False
        self._unexpected = []

    def start(self):
        """The stack up with `size` healthy, meshed nodes (RuntimeError when it is not)."""
        try:
            self.stack.compose("up", "-d", timeout=240)
            ids = self.stack.ensure_nodes(self.size, timeout=120)
        except Exception as e:  # e2e.Failure: this module does not import the driver
            raise RuntimeError(str(e))
        self.nodes = [ContainerNode(self.stack, cid) for cid in ids]
        self.lb = ContainerBalancer(self.stack)
        if not self.lb.host:
            raise RuntimeError("the balancer has no address on the project network")

    def converged_membership(self):
        return all_see_each_other(self.nodes)

    def inject(self, kind, node):
        """Starts a fault of the nemesis (packages/tests/chaos/nemesis.py)."""
        if kind == "lb":
            self._lb_killed = True
            self._docker("kill", "-s", "KILL", self.lb.cid)
            return
        self._note_exit(node)
        with self._lock:
            {"kill": self._killed, "pause": self._paused, "cut": self._cut}[kind].add(node.cid)
        if kind == "kill":
            self._docker("kill", "-s", "KILL", node.cid)
        elif kind == "pause":
            self._docker("pause", node.cid)
        elif kind == "cut":
            self._docker("network", "disconnect", self.stack.network, node.cid)

    def undo(self, kind, node):
        """Ends a fault that inject() started."""
        if kind == "lb":
            self._docker("start", self.lb.cid)
            self._lb_killed = False
            self.lb.refresh()
            return
        if kind == "kill":
            self._docker("start", node.cid)
        elif kind == "pause":
            self._docker("unpause", node.cid)
        elif kind == "cut":
            self._docker("network", "connect", "--alias", "database", self.stack.network, node.cid)
        with self._lock:
            {"kill": self._killed, "pause": self._paused, "cut": self._cut}[kind].discard(node.cid)
        node.refresh()

    def _docker(self, *args):
        error = docker(*args)
        if error:
            with self._lock:
                self._unexpected.append(error)

    def _note_exit(self, node):
        """A node about to be harmed that is not running, though no kill of ours is pending,
        exited on its own: a crash is a violation."""
        with self._lock:
            ours = node.cid in self._killed
        if not ours and not node.running():
            with self._lock:
                self._unexpected.append(f"{node.id} exited on its own (container {node.cid[:12]})")
            self._docker("start", node.cid)  # the run goes on; the exit is reported at the end

    def unexpected_exits(self):
        """Nodes that exited on their own, and docker commands that failed, since the last call."""
        for node in self.nodes:
            self._note_exit(node)
        with self._lock:
            out, self._unexpected = self._unexpected, []
        return out

    def heal_all(self):
        """Undoes every fault still in force: unpause, reconnect, start what was killed."""
        with self._lock:
            paused, cut, killed = set(self._paused), set(self._cut), set(self._killed)
        for node in self.nodes:
            if node.cid in paused:
                self.undo("pause", node)
            if node.cid in cut:
                self.undo("cut", node)
            if node.cid in killed:
                self.undo("kill", node)
        info = self.stack.inspect(self.lb.cid)
        if self._lb_killed or not (info and info["State"]["Running"]):
            self.undo("lb", None)

    def close(self):
        """Nothing to stop here: the caller takes the stack down."""
