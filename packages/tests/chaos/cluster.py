"""The chaos test's cluster: N meshkv-node processes and one meshkv-lb, on loopback.

Node i binds its own address 127.0.0.(60+i) (also its id, HOSTNAME) on a port chosen once and
kept across restarts, because the balancer runs in static mode with a fixed BACKENDS list.
Each node has its own DATA_DIR in the run's temporary directory (persistence on, FSYNC=always,
so every acknowledged write must survive kill -9), MESH_SECRET set, and advertises its
MeshProxy (meshproxy.py) so peer traffic can be cut. Nodes join through the balancer, as
`make run` does. Each process is a Proc (proc.py: its lives, its log, its unexpected exits);
`close()` kills whatever is left.
The thing to get right: the node's port never changes, or the balancer loses it.
"""
import json
import os
import socket
import time
import urllib.error
import urllib.request

from meshproxy import CutSet, MeshProxy
from proc import Proc

SECRET = "chaos-test-secret"
MESH_SETTINGS = {
    "PROBE_INTERVAL_MS": "200",
    "PROBE_TIMEOUT_MS": "150",
    "SUSPICION_TIMEOUT_MS": "1000",
    "ANTI_ENTROPY_INTERVAL_MS": "500",
    "JOIN_RETRY_MS": "50",
    "REPLICATION_TIMEOUT_MS": "2000",
}


def free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    """(status, body); status 0 on a transport error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return 0, ""


def get_status(base_url, timeout=2.0):
    """A node's /status as a dict, or None (not answering, not 200, not JSON)."""
    code, body = http_get(base_url + "/status", timeout)
    if code != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def wait_for(cond, timeout):
    """Polls cond() until it holds or timeout seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(0.05)  # polling interval of an external condition


def all_see_each_other(nodes):
    """Every node ready and seeing all of them (itself included) alive."""
    for n in nodes:
        s = n.status()
        if not s or not s.get("ready"):
            return False
        alive = [m for m in s.get("members", []) if m.get("state") == "alive"]
        if len(alive) != len(nodes):
            return False
    return True


class Node:
    def __init__(self, index, bin_dir, run_dir, cuts):
        self.index = index
        self.id = f"127.0.0.{60 + index}"
        self.port = free_port(self.id)
        self.data_dir = os.path.join(run_dir, f"node{index}")
        self.proxy = MeshProxy(self.id, self.id, self.port, cuts)
        self.bin = os.path.join(bin_dir, "meshkv-node")
        self.log_path = os.path.join(run_dir, f"node{index}.log")
        self.proc = None

    def url(self):
        return f"http://{self.id}:{self.port}"

    def start(self, join_url):
        env = dict(os.environ)
        for k in ("MEMORY", "MESH_NETWORK_URL", "ADVERTISE_URL"):
            env.pop(k, None)
        env.update(MESH_SETTINGS)
        env.update({
            "PORT": str(self.port), "BIND_ADDRESS": self.id, "HOSTNAME": self.id,
            "ADVERTISE_URL": self.proxy.url(), "DATA_DIR": self.data_dir, "FSYNC": "always",
            "MESH_SECRET": SECRET, "LOG_LEVEL": env.get("LOG_LEVEL", "info"),
        })
        if join_url:
            env["MESH_NETWORK_URL"] = join_url
        if self.proc is None:
            self.proc = Proc(self.id, [self.bin], env, self.log_path)
        self.proc.env = env
        self.proc.start()

    def log_bytes(self):
        """Size of the newest log.<gen> in DATA_DIR (the one being written; fixed-width gens)."""
        logs = sorted(f for f in os.listdir(self.data_dir)
                      if f.startswith("log.") and not f.endswith(".tmp"))
        return os.path.getsize(os.path.join(self.data_dir, logs[-1])) if logs else 0

    def status(self, timeout=2.0):
        return get_status(self.url(), timeout)

    def ready(self):
        s = self.status()
        return bool(s and s.get("ready"))


class Balancer:
    host = "127.0.0.1"

    def __init__(self, bin_dir, run_dir, nodes):
        self.port = free_port("127.0.0.1")
        self.bin = os.path.join(bin_dir, "meshkv-lb")
        self.log_path = os.path.join(run_dir, "lb.log")
        self.backends = ",".join(f"{n.id}:{n.port}" for n in nodes)
        self.proc = None

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        env = dict(os.environ)
        env.update({"SERVICE_PORT": str(self.port), "BIND_ADDRESS": "127.0.0.1",
                    "BACKENDS": self.backends, "CHECK_INTERVAL_MS": "200",
                    "CONNECT_TIMEOUT_MS": "300", "PASSIVE_DOWN_MS": "1000"})
        if self.proc is None:
            self.proc = Proc("lb", [self.bin], env, self.log_path)
        self.proc.start()
        return wait_for(self._listening, 10)

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


class Cluster:
    def __init__(self, bin_dir, run_dir, size):
        self.run_dir = run_dir
        self.cuts = CutSet()
        self.nodes = [Node(i, bin_dir, run_dir, self.cuts) for i in range(size)]
        self.lb = Balancer(bin_dir, run_dir, self.nodes)

    def start(self):
        """The first node starts a cluster, the others join through the balancer."""
        if not self.lb.start():
            raise RuntimeError(f"meshkv-lb did not listen, see {self.lb.log_path}")
        self.nodes[0].start(None)
        if not wait_for(self.nodes[0].ready, 30):
            raise RuntimeError(f"node 0 not ready, see {self.nodes[0].log_path}")
        for n in self.nodes[1:]:
            n.start(self.lb.url())
        for n in self.nodes:
            if not wait_for(n.ready, 60):
                raise RuntimeError(f"{n.id} not ready, see {n.log_path}")
        if not wait_for(self.converged_membership, 60):
            raise RuntimeError("the nodes did not all see each other as alive")

    def restart_node(self, node):
        node.proc.kill9()
        node.start(self.lb.url())

    def inject(self, kind, node):
        """Starts a fault of the nemesis (nemesis.py): node is None for lb and crash."""
        if kind == "lb":
            self.lb.proc.kill9()
        elif kind == "crash":
            for n in self.nodes:
                n.proc.kill9()
        elif kind == "kill":
            node.proc.kill9()
        elif kind == "pause":
            node.proc.pause()
        elif kind == "cut":
            self.cuts.cut(node.id)
        elif kind == "disk":
            node.proc.limit_file_size(node.log_bytes())

    def undo(self, kind, node):
        """Ends a fault that inject() started."""
        if kind == "lb":
            self.lb.start()
        elif kind == "crash":
            for n in self.nodes:
                n.start(self.lb.url())
        elif kind == "kill":
            node.start(self.lb.url())
        elif kind == "pause":
            node.proc.resume()
        elif kind == "cut":
            self.cuts.heal(node.id)
            for n in self.nodes:
                n.proxy.heal()
        elif kind == "disk":
            node.proc.limit_file_size(None)

    def converged_membership(self):
        return all_see_each_other(self.nodes)

    def unexpected_exits(self):
        """["<name> exited ..."] for every process life that ended on its own since the last
        call."""
        out = []
        for p in [n.proc for n in self.nodes] + [self.lb.proc]:
            p.note_unexpected_exit()
            out += [f"{p.name} exited on its own with status {rc}, see {p.log_path}"
                    for rc in p.unexpected]
            p.unexpected = []  # reported once
        return out

    def heal_all(self):
        """Undoes every fault: continue paused nodes, heal cuts, start dead processes."""
        for n in self.nodes:
            if n.proc.paused:
                n.proc.resume()
            n.proc.limit_file_size(None)
        self.cuts.heal()
        for n in self.nodes:
            n.proxy.heal()
        if not self.lb.proc.running():
            self.lb.start()
        for n in self.nodes:
            if not n.proc.running():
                n.start(self.lb.url())

    def close(self):
        for p in [n.proc for n in self.nodes] + [self.lb.proc]:
            if p is not None and p.running():
                if p.paused:
                    p.resume()
                p.kill9()
        for n in self.nodes:
            n.proxy.close()
