#!/usr/bin/env python3
"""meshkv on Docker Swarm, end to end (scripts/e2e.sh runs it after the compose e2e).

Deploys docker-stack.yaml as its own stack on the local engine's swarm (a single-node swarm is
created when none is active, and left again), with the images `make images` built, the
balancer published on a free port. Scenarios, in order on that stack: the integration suite
through the published port; scale 3 -> 6 -> 2 under meshkv-stress load (a client that never
resends) with 0 errors and every acknowledged write on every remaining node; discovery latency
(task healthy -> first routed connection; task stopping -> no new connection); a rolling update
(`docker service update --force`) under load with 0 errors; `docker kill` of a task's container
(replaced, caught up, routed once healthy); last, auto-scaling 2..3 (--only autoscale alone): the
stack grown by load and shrunk when idle through the balancer's replicas updates. The nodes'
overlay addresses are not reachable from the host, so per-node reads go through a probe: a
throw-away meshkv-lb container in static mode on the attachable overlay, published on 127.0.0.1. The newcomer's trap: `docker stack rm`
returns before the containers are gone; teardown waits for them, then the network, the
volumes and the swarm (scripts/swarm.sh), whatever happened. Standard library only.
"""

import argparse
import calendar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import (ROOT, Failure, Load, Terminated, http_get, log, new_prefix, run,  # noqa: E402
                 summary, wait_for)

SWARM_SH = os.path.join(ROOT, "scripts", "swarm.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SwarmStack:
    """One stack: its services, their tasks' containers, and probes onto the overlay."""

    def __init__(self, name, stress_bin, tag):
        self.name = name
        self.stress_bin = stress_bin
        self.tag = tag
        self.db = f"{name}_database"
        self.network = f"{name}_mesh"
        self.port = free_port()
        self.probes = {}  # node ip -> (container, host port)
        self.volumes = set()
        self.watchers = []  # `docker events` streams that note the tasks' volumes
        self.threads = []
        self.env = dict(os.environ, MESHKV_PUBLISH=str(self.port), MESHKV_TAG=tag, MEMORY="1",
                        LOG_LEVEL=os.environ.get("LOG_LEVEL", "info"))

    def watch_volumes(self):
        """Notes every volume mounted into a container of the stack, as it happens: a task's
        container that Swarm removes (task history) can leave its anonymous volume behind, and
        the daemon's event buffer is too short to ask afterwards."""
        ours, mounts = set(), []

        def follow(cmd, sink):
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.watchers.append(proc)
            for line in proc.stdout:
                try:
                    sink(json.loads(line))
                except (ValueError, KeyError):
                    pass

        lock = threading.Lock()

        def note(container=None, mount=None):  # the two streams arrive in any order
            with lock:
                if container:
                    ours.add(container)
                if mount:
                    mounts.append(mount)
                self.volumes.update(v for c, v in mounts if c in ours)

        base = ["docker", "events", "--format", "{{json .}}"]
        streams = [
            (base + ["--filter", "type=container", "--filter", "event=create", "--filter",
                     f"label=com.docker.stack.namespace={self.name}"],
             lambda ev: note(container=ev["Actor"]["ID"])),
            (base + ["--filter", "type=volume", "--filter", "event=mount"],
             lambda ev: note(mount=(ev["Actor"]["Attributes"].get("container", ""), ev["Actor"]["ID"]))),
        ]
        for cmd, sink in streams:
            t = threading.Thread(target=follow, daemon=True, args=(cmd, sink))
            t.start()
            self.threads.append(t)

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def deploy(self):
        run(["docker", "stack", "deploy", "--resolve-image", "never", "-c",
             os.path.join(ROOT, "docker-stack.yaml"), self.name], env=self.env, timeout=120)

    def scale(self, n):
        run(["docker", "service", "scale", "-d", f"{self.db}={n}"], timeout=60)

    def containers(self):
        """{container id: (hostname, ip on the overlay)} of the running, healthy db tasks."""
        ids = run(["docker", "ps", "-q", "--no-trunc", "--filter",
                   f"label=com.docker.swarm.service.name={self.db}",
                   "--filter", "health=healthy"], timeout=30).stdout.split()
        out = {}
        if not ids:
            return out
        for info in json.loads(run(["docker", "inspect"] + ids, timeout=30, check=False).stdout or "[]"):
            net = (info["NetworkSettings"]["Networks"] or {}).get(self.network) or {}
            for m in info.get("Mounts", []):
                if m.get("Type") == "volume":
                    self.volumes.add(m["Name"])
            if info["State"]["Running"] and net.get("IPAddress"):
                out[info["Id"]] = (info["Config"]["Hostname"], net["IPAddress"])
        return out

    def routed(self, attempts):
        seen = set()
        for _ in range(attempts):
            try:
                status, body = http_get("127.0.0.1", "/status", port=self.port, timeout=2)
                if status == 200:
                    seen.add(json.loads(body)["hostname"])
            except (OSError, ValueError, KeyError):
                pass
        return seen

    def ensure(self, n, timeout=120):
        """n healthy tasks, all in one mesh, all routed by the balancer; returns containers()."""
        replicas = run(["docker", "service", "inspect", self.db, "--format",
                        "{{.Spec.Mode.Replicated.Replicas}}"], timeout=30).stdout.strip()
        if replicas != str(n):
            self.scale(n)
        running = {}

        def ready():
            nonlocal running
            running = self.containers()
            return len(running) == n and self.tasks_running() == n

        wait_for(ready, timeout, f"{n} healthy tasks of {self.db}", interval=0.5)
        want = {h for h, _ in running.values()}
        seen = set()

        def all_routed():
            seen.update(self.routed(3 * n))
            return want <= seen

        wait_for(all_routed, 30, f"the balancer to route to all {n} tasks ({sorted(want)})")
        wait_for(lambda: all(self.alive_members(ip) == n for _, ip in running.values()), 60,
                 f"all {n} nodes to form one mesh", interval=0.5)
        return running

    def container_name(self, cid):
        return run(["docker", "inspect", "--format", "{{.Name}}", cid], timeout=30,
                   check=False).stdout.strip().lstrip("/")

    def balancer_log_time(self, name, word):
        """When the balancer logged `backend <task container name> <word>` (epoch seconds)."""
        proxy = run(["docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.name}_proxy"],
                    timeout=30).stdout.split()
        if not name or not proxy:
            raise Failure(f"no task name ({name!r}) or no balancer container")
        logs = run(["docker", "logs", proxy[0]], timeout=30)
        for line in (logs.stdout + logs.stderr).splitlines():
            if f"backend {name} {word}" in line:
                stamp = line.split()[0]  # 2026-12-04T23:42:57.517, UTC
                return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) \
                    + float("0" + stamp[19:])
        raise Failure(f"the balancer never logged {name} as {word}")

    def tasks_running(self):
        p = run(["docker", "service", "ps", self.db, "--filter", "desired-state=running",
                 "--format", "{{.CurrentState}}"], timeout=30)
        return sum(1 for line in p.stdout.splitlines() if line.startswith("Running"))

    # ---- probes: a static meshkv-lb per node, on the overlay, published on 127.0.0.1 ---------
    def probe(self, ip, port=80):
        if (ip, port) not in self.probes:
            name = f"{self.name}-probe-{ip.replace('.', '-')}-{port}"
            run(["docker", "run", "-d", "--rm", "--name", name, "--network", self.network,
                 "--label", f"meshkv.swarm-e2e={self.name}", "-p", "127.0.0.1::80",
                 "-e", f"BACKENDS={ip}:{port}", "-e", "LOG_LEVEL=warn", f"meshkv/lb:{self.tag}"],
                timeout=60)
            host_port = run(["docker", "port", name, "80/tcp"], timeout=30).stdout.split(":")[-1].strip()
            self.probes[(ip, port)] = (name, int(host_port))
        return self.probes[(ip, port)][1]

    def balancer_ip(self, autoscaling):
        """The balancer task's overlay address once it is the only one running and auto-scaling
        is on (or off) in its environment: after a redeploy the old balancer runs on a while
        (stop-first), and two deploys in a row can overlap."""
        ids = run(["docker", "ps", "-q", "--filter",
                   f"label=com.docker.swarm.service.name={self.name}_proxy"], timeout=30).stdout.split()
        infos = json.loads(run(["docker", "inspect"] + ids, timeout=30, check=False).stdout or "[]") if ids else []
        running = [i for i in infos if i["State"]["Running"]]
        if len(running) != 1:
            return None
        net = (running[0]["NetworkSettings"]["Networks"] or {}).get(self.network) or {}
        on = f"AUTOSCALE_MAX={AUTOSCALE['AUTOSCALE_MAX']}" in running[0]["Config"]["Env"]
        return net.get("IPAddress") if on == autoscaling else None

    def balancer_status(self, ip):
        """The balancer's admin /status (port 8081, on the overlay only), through a probe."""
        status, body = http_get("127.0.0.1", "/status", port=self.probe(ip, 8081), timeout=3)
        if status != 200:
            raise ValueError(f"/status answered {status}")
        return json.loads(body)

    def node_get(self, ip, path, timeout=10):
        return http_get("127.0.0.1", path, port=self.probe(ip), timeout=timeout)

    def alive_members(self, ip):
        status, body = self.node_get(ip, "/status", timeout=2)
        members = json.loads(body).get("members", []) if status == 200 else []
        return sum(1 for m in members if m.get("state") == "alive")

    def missing(self, nodes, prefix, acked):
        gaps = {}
        for host, ip in nodes:
            status, body = self.node_get(ip, "/getAll?prefix=" + prefix)
            data = json.loads(body) if status == 200 else {}
            have = data if isinstance(data, dict) else {i["k"]: i["v"] for i in data}
            bad = sum(1 for k, v in acked.items() if have.get(k) != v)
            if bad:
                gaps[host] = bad
        return gaps

    def converged(self, nodes, prefix, acked, timeout=30):
        last = {}

        def done():
            nonlocal last
            last = self.missing(nodes, prefix, acked)
            return not last

        try:
            wait_for(done, timeout, "every node to hold every acknowledged write", interval=0.5)
        except Failure as e:
            raise Failure(f"{e}; missing per node: {last} of {len(acked)}")

    def stress(self, amount, clusters, workers, prefix, extra=()):
        return Load(self.stress_bin, self.url(), amount, clusters, workers, prefix, extra, True)

    def teardown(self):
        self.containers()  # note the volumes of the tasks still there
        for name, _ in self.probes.values():
            run(["docker", "rm", "-f", name], timeout=60, check=False)
        left = run(["docker", "ps", "-aq", "--filter", f"label=meshkv.swarm-e2e={self.name}"],
                   timeout=30, check=False).stdout.split()
        if left:
            run(["docker", "rm", "-f"] + left, timeout=60, check=False)
        run([SWARM_SH, "wait-gone", self.name], timeout=180, check=False)
        for proc in self.watchers:
            proc.kill()
            proc.wait()
        for t in self.threads:
            t.join(timeout=10)
        left = [v for v in sorted(self.volumes)
                if run(["docker", "volume", "rm", v], timeout=30, check=False).returncode == 0]
        log(f"removed the stack; {len(left)} of its {len(self.volumes)} task volumes were still there")


class Continuous:
    """Load that can end at any moment without cutting a request: meshkv-stress runs of `chunk`
    writes back to back (each ends when its amount is done; stopping a run early would abort
    the requests in flight and count them as errors), until finish(). Sums reports and acks."""

    def __init__(self, stack, prefix, chunk=4000):
        self.stack, self.prefix, self.chunk = stack, prefix, chunk
        self.acked, self.runs, self.failure = {}, [], None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        i = 0
        while not self.stopping.is_set():
            load = Load(self.stack.stress_bin, self.stack.url(), self.chunk, 2, 10,
                        f"{self.prefix}{i}.", [], True)
            try:
                result, acked = load.finish(timeout=120)
            except Failure as e:
                self.failure = e
                return
            self.runs.append(result)
            self.acked.update(acked)
            i += 1

    def wait_runs(self, n, timeout=90):
        want = len(self.runs) + n
        wait_for(lambda: len(self.runs) >= want or self.failure, timeout, f"{n} more stress runs")

    def finish(self):
        self.stopping.set()
        self.thread.join(timeout=150)
        if self.failure:
            raise self.failure
        total = {"succeeded": 0, "errors": 0, "errorsByKind": {}, "staleRetries": 0}
        seconds = 0.0
        for r in self.runs:
            for k in ("succeeded", "errors", "staleRetries"):
                total[k] += r[k]
            for kind, n in r["errorsByKind"].items():
                total["errorsByKind"][kind] = total["errorsByKind"].get(kind, 0) + n
            seconds += r["seconds"]
        total["requestsPerSecond"] = (total["succeeded"] + total["errors"]) / seconds if seconds else 0
        total["runs"] = len(self.runs)
        return total, self.acked


def events_since(since, service, actions):
    """[(time, container id, action)] of the service's container events since `since`."""
    p = run(["docker", "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
             "--filter", "type=container", "--filter", f"label=com.docker.swarm.service.name={service}",
             "--format", "{{json .}}"], timeout=30)
    out = []
    for line in p.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        action = ev.get("Action", ev.get("status", ""))
        if any(action.startswith(a) for a in actions):
            out.append((ev["timeNano"] / 1e9, ev["Actor"]["ID"], action))
    return out


# ---- scenarios -----------------------------------------------------------------------------

def scenario_integration(stack, args):
    """The integration suite (meshkv-tests) through the published port, against 3 tasks."""
    stack.ensure(3)
    p = run([args.tests, "--service-url", stack.url()], timeout=240, check=False)
    lines = (p.stdout + p.stderr).strip().splitlines()
    if p.returncode != 0:
        raise Failure(f"meshkv-tests exited {p.returncode}:\n" + "\n".join(lines[-6:]))
    return next((x for x in reversed(lines) if "PASSED" in x or "tests ran" in x), "passed")


def scenario_discovery(stack, args):
    """Scale 3 -> 4 -> 3 without load, measuring how the balancer follows: a new task's first
    routed connection after its container turned healthy, and the last new connection routed
    to a stopped task after `docker service scale` and after its container's stop signal
    (negative: taken out before; Swarm unpublishes a task a few seconds before stopping it)."""
    before = stack.ensure(3)
    since = time.time()
    stack.scale(4)
    routed_at, deadline = {}, time.monotonic() + 90
    while not routed_at and time.monotonic() < deadline:
        new = {h: c for c, (h, _) in stack.containers().items() if c not in before}
        for host in stack.routed(4):
            if host in new:
                routed_at[new[host]] = time.time()
        time.sleep(0.005)
    if not routed_at:
        raise Failure("the balancer never routed to the new task")
    cid, at = next(iter(routed_at.items()))
    healthy = [t for t, c, a in events_since(since, stack.db, ["health_status: healthy"]) if c == cid]
    if not healthy:
        raise Failure("no health_status: healthy event for the new task")
    up_delay = at - healthy[0]
    nodes = stack.ensure(4)
    names = {c: stack.container_name(c) for c in nodes}
    since = time.time()
    stack.scale(3)
    seen_last = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for host in stack.routed(4):
            seen_last[host] = time.time()
        if len(stack.containers()) == 3 and time.time() - since > 3:
            break
        time.sleep(0.005)
    gone = [c for c in nodes if c not in stack.containers()]
    kills = [t for t, c, a in events_since(since, stack.db, ["kill"]) if c in gone]
    if not gone or not kills:
        raise Failure(f"no stopped task or no kill event seen ({len(gone)} gone)")
    host = nodes[gone[0]][0]
    last = seen_last.get(host, since)
    down_delay = last - kills[0]
    drained = stack.balancer_log_time(names[gone[0]], "draining") - since
    result = {"healthy_to_routed_s": round(up_delay, 3), "stop_to_last_routed_s": round(down_delay, 3),
              "scale_to_drained_s": round(drained, 3), "scale_to_stop_s": round(kills[0] - since, 3)}
    if args.figures:
        with open(args.figures, "a") as f:
            f.write(json.dumps({"discovery": result}) + "\n")
    if up_delay > 1.0:
        raise Failure(f"routed {up_delay:.2f}s after healthy (goal <= 1 s)")
    if down_delay > 0.1:
        raise Failure(f"a new connection reached the task {down_delay:.3f}s after its stop signal")
    return (f"healthy -> routed {up_delay * 1000:.0f} ms; `service scale` -> drained by the balancer "
            f"{drained * 1000:.0f} ms; stop signal -> last routed {down_delay * 1000:.0f} ms")


def scenario_scale(stack, args):
    """Scale 3 -> 6 -> 2 under load: 0 errors (no resend), every acked write on every node left."""
    stack.ensure(3)
    prefix = new_prefix("swarmscale")
    load = Continuous(stack, prefix)
    try:
        load.wait_runs(1)
        stack.scale(6)
        stack.ensure(6)
        load.wait_runs(1)
        stack.scale(2)
        wait_for(lambda: len(stack.containers()) == 2 and stack.tasks_running() == 2, 90,
                 "2 tasks left", interval=0.5)
        load.wait_runs(1)
    finally:
        result, acked = load.finish()
    if result["errors"]:
        raise Failure(f"scaling 3 -> 6 -> 2 under load gave client errors: {summary(result)}")
    left = list(stack.containers().values())
    stack.converged(left, prefix, acked)
    if args.figures:
        with open(args.figures, "a") as f:
            f.write(json.dumps({"scale": result}) + "\n")
    return f"{summary(result)}; {len(acked)} acknowledged writes on both nodes left"


def scenario_rolling(stack, args):
    """`docker service update --force` (one task at a time, start-first) under load: 0 errors."""
    before = stack.ensure(3)
    prefix = new_prefix("swarmroll")
    load = Continuous(stack, prefix)
    try:
        load.wait_runs(1)
        run(["docker", "service", "update", "--force", "-d", stack.db], timeout=60)

        def updated():
            state = run(["docker", "service", "inspect", stack.db, "--format",
                         "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"], timeout=30).stdout.strip()
            if state in ("paused", "rollback_completed", "rollback_paused"):
                raise Failure(f"the rolling update ended {state}")
            return state == "completed"

        wait_for(updated, 150, "the rolling update to complete", interval=0.5)
        load.wait_runs(1)
    finally:
        result, acked = load.finish()
    if result["errors"]:
        raise Failure(f"the rolling update under load gave client errors: {summary(result)}")
    after = stack.ensure(3)
    if set(after) & set(before):
        raise Failure("some tasks were not replaced by the update")
    stack.converged(list(after.values()), prefix, acked)
    return f"3 tasks replaced; {summary(result)}; {len(acked)} writes on every new node"


def scenario_kill(stack, args):
    """`docker kill` a task's container: Swarm replaces it, the new node catches up, routed."""
    before = stack.ensure(3)
    prefix = new_prefix("swarmkill")
    result, acked = stack.stress(3000, 2, 10, prefix).finish()
    if result["errors"]:
        raise Failure(f"writes before the kill failed: {summary(result)}")
    victim = next(iter(before))
    run(["docker", "kill", victim], timeout=60)
    after = stack.ensure(3)
    new = [c for c in after if c not in before]
    if len(new) != 1:
        raise Failure(f"expected one replacement task, found {len(new)}")
    stack.converged([after[new[0]]], prefix, acked)
    return f"replaced by {after[new[0]][0]}, which holds all {len(acked)} writes and is routed"


# Short windows, thresholds a stress run on a small busy machine crosses (as autoscale_e2e.py's).
AUTOSCALE = {
    "AUTOSCALE_MIN": "2", "AUTOSCALE_MAX": "3", "AUTOSCALE_UP_CPU": "20",
    "AUTOSCALE_UP_CONNECTIONS": "24", "AUTOSCALE_DOWN_CPU": "5", "AUTOSCALE_WINDOW_MS": "4000",
    "AUTOSCALE_UP_COOLDOWN_MS": "4000", "AUTOSCALE_DOWN_COOLDOWN_MS": "6000",
    "AUTOSCALE_INTERVAL_MS": "1000",
}


def scenario_autoscale(stack, args):
    """The stack redeployed with auto-scaling 2..3 and short windows (MESHKV_DB_REPLICAS=2): load
    (meshkv-stress, 64 connections, no resends) makes the balancer update the service to 3
    replicas and route the new task; idle makes it update back to 2, drain the task Swarm picked
    and see it stop. 0 client errors, never above 3, every acknowledged write on the 2 left."""
    stack.env.update(AUTOSCALE, MESHKV_DB_REPLICAS="2")
    try:
        return autoscale_run(stack, args)
    finally:
        for k in AUTOSCALE:
            stack.env.pop(k, None)
        stack.env.pop("MESHKV_DB_REPLICAS", None)
        stack.deploy()  # back to the stack as the other scenarios know it (3 nodes, no scaling)
        wait_for(lambda: stack.balancer_ip(False), 90, "the balancer redeployed without auto-scaling",
                 interval=0.5)


def autoscale_run(stack, args):
    stack.deploy()
    ip = None

    def balancer_up():
        nonlocal ip
        ip = stack.balancer_ip(True)
        return ip is not None
    wait_for(balancer_up, 90, "the balancer redeployed with auto-scaling", interval=0.5)

    def view():
        try:
            st = stack.balancer_status(ip)
        except (OSError, ValueError):
            return None
        return st if "autoscale" in st else None

    def routed(st):
        return sum(1 for b in st["backends"] if b["usable"])

    def settled_at_2():
        st = view()
        return st is not None and routed(st) == 2 and stack.tasks_running() == 2
    wait_for(settled_at_2, 120, "2 routed tasks (AUTOSCALE_MIN) after the redeploy", interval=0.5)
    replicas = lambda: int(run(["docker", "service", "inspect", stack.db, "--format",
                                "{{.Spec.Mode.Replicated.Replicas}}"], timeout=30).stdout.strip())
    prefix = new_prefix("swarmauto")
    log("load: meshkv-stress rounds of 100,000 through the balancer, 64 connections, no resends")
    t0 = time.monotonic()
    t_up, rounds, acked, peak = None, [], {}, 2
    while True:
        load = stack.stress(100_000, 8, 8, f"{prefix}{len(rounds)}.")
        try:
            while load.proc.poll() is None:
                st = view()
                if st is not None:
                    peak = max(peak, routed(st), st["autoscale"]["running"])
                    if t_up is None and routed(st) >= 3:
                        t_up = time.monotonic() - t0
                        log(f"a third task is routed {t_up:.1f}s after the load started")
                time.sleep(0.25)
            result, round_acked = load.finish(timeout=150)
        except BaseException:
            load.kill()
            raise
        rounds.append(result)
        acked.update(round_acked)
        log(f"round {len(rounds)}: {summary(result)}")
        if t_up is not None and len(rounds) >= 2:
            break
        if t_up is None and time.monotonic() - t0 > 150:
            raise Failure("150 s of load and no third task routed")
    errors = sum(r["errors"] for r in rounds)
    if errors:
        raise Failure(f"the client saw {errors} errors while the service grew")
    t1 = time.monotonic()
    t_drained = None

    def shrunk():
        nonlocal t_drained
        st = view()
        if st is None:
            return False
        if t_drained is None and routed(st) == 2:
            t_drained = time.monotonic() - t1
        # The picked task's container runs on for seconds after Swarm wants it gone (SIGTERM,
        # the node's drain and leave): done once only 2 containers are left.
        return (t_drained is not None and stack.tasks_running() == 2 and replicas() == 2
                and len(stack.containers()) == 2)
    wait_for(shrunk, 180, "the service to shrink back to 2 once idle", interval=0.25)
    t_down = time.monotonic() - t1
    st = view() or {}
    auto = st.get("autoscale", {})
    if auto.get("failures") or auto.get("scaleUps", 0) < 1 or auto.get("scaleDowns", 0) < 1:
        raise Failure(f"autoscale counters: {auto}")
    if peak > 3:
        raise Failure(f"the service grew to {peak}, above AUTOSCALE_MAX=3")
    decisions = [f"{d['action']} {d['container']}: {d['result']}" for d in auto.get("decisions", [])]
    # Read back in parts of ~10,000 keys (<prefix><round>.<first digit>): one getAll of all
    # 200,000 is a response of megabytes through the probe.
    parts = {}
    for k, v in acked.items():
        parts.setdefault(k[:k.rindex(".") + 2], {})[k] = v
    left = list(stack.containers().values())
    for part in sorted(parts):
        stack.converged(left, part, parts[part], timeout=60)
    figures = {"load_to_routed_s": round(t_up, 1), "idle_to_drained_s": round(t_drained, 1),
               "load": os.getloadavg()[0],
               "idle_to_stopped_s": round(t_down, 1), "peak": peak, "ups": auto["scaleUps"],
               "downs": auto["scaleDowns"], "requests": sum(r["succeeded"] for r in rounds),
               "errors": errors, "acked": len(acked), "decisions": decisions,
               "rps": round(sum(r["requestsPerSecond"] for r in rounds) / len(rounds))}
    if args.figures:
        with open(args.figures, "a") as f:
            f.write(json.dumps({"autoscale": figures}) + "\n")
    return (f"load -> third task routed {t_up:.1f}s; idle -> drained {t_drained:.1f}s, "
            f"-> 2 tasks {t_down:.1f}s; peak {peak}; {figures['requests']} requests, 0 errors; "
            f"{len(acked)} writes on both tasks left; {'; '.join(decisions)}")


def scenario_stress(stack, args):
    """Figures only (scripts/swarm-bench.sh): meshkv-stress through the published port."""
    stack.ensure(3)
    n = int(os.environ.get("STRESS_N", "50000"))
    load = Load(stack.stress_bin, stack.url(), n, 10, 10, new_prefix("swarmbench"),
                ["--timeout-ms", "10000"], False)
    result, _ = load.finish(timeout=300)
    if args.figures:
        with open(args.figures, "a") as f:
            f.write(json.dumps({"stress": result}) + "\n")
    return summary(result)


SCENARIOS = [("integration", scenario_integration), ("discovery", scenario_discovery),
             ("scale", scenario_scale), ("rolling", scenario_rolling), ("kill", scenario_kill),
             ("autoscale", scenario_autoscale)]  # last: it redeploys the stack twice
BENCH = [("stress", scenario_stress)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bin_dir = os.path.join(ROOT, "build", "bin")
    ap.add_argument("--stack", default=f"mkvswarm{os.getpid()}")
    ap.add_argument("--stress", default=os.path.join(bin_dir, "meshkv-stress"))
    ap.add_argument("--tests", default=os.path.join(bin_dir, "meshkv-tests"))
    ap.add_argument("--tag", default=os.environ.get("MESHKV_TAG", "local"))
    ap.add_argument("--only", default="")
    ap.add_argument("--figures", default="", help="append measured figures (JSON lines) here")
    ap.add_argument("--rounds", type=int, default=1, help="run the chosen scenarios this often")
    args = ap.parse_args()

    def on_signal(signum, frame):
        raise Terminated(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    wanted = [n for n in args.only.split(",") if n] or [n for n, _ in SCENARIOS]
    unknown = set(wanted) - {n for n, _ in SCENARIOS + BENCH}
    if unknown:
        print(f"swarm e2e: unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    passed, failed = [], []
    stack = SwarmStack(args.stack, args.stress, args.tag)
    started = time.monotonic()
    try:
        run([SWARM_SH, "init"], timeout=60, capture=False)
        log(f"deploying stack {stack.name} on port {stack.port}")
        stack.watch_volumes()
        stack.deploy()
        for name, fn in [sc for _ in range(args.rounds) for sc in SCENARIOS + BENCH]:
            if name not in wanted:
                continue
            t0 = time.monotonic()
            log(f"RUN  swarm-{name}")
            try:
                detail = fn(stack, args)
                passed.append(name)
                log(f"PASS swarm-{name} ({time.monotonic() - t0:.1f}s): {detail}")
            except Failure as e:
                failed.append(name)
                log(f"FAIL swarm-{name} ({time.monotonic() - t0:.1f}s): {e}")
    except Terminated as e:
        log(f"stopped by {e}; tearing down")
        failed.append("terminated")
    except Failure as e:
        log(f"FAIL setup: {e}")
        failed.append("setup")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        log(f"tearing down {stack.name}")
        stack.teardown()
        run([SWARM_SH, "release"], timeout=120, check=False, capture=False)
    log(f"swarm e2e took {time.monotonic() - started:.0f}s")
    if failed:
        print(f"swarm e2e: failed: {', '.join(failed)}")
    print(f"{len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
