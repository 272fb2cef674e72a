#!/usr/bin/env python3
"""meshkv end-to-end tests against the real Docker Engine (driver; scripts/e2e.sh runs it).

Starts the repository's docker-compose.yaml under a unique project name, with the images that
scripts/images.sh built, and runs the scenarios of the suite issue one after another on that
stack (each first restores 3 healthy, routed nodes). Failures are injected with the Docker CLI
(stop, kill -9, network disconnect, restart); load comes from the host's meshkv-stress aimed at
the balancer's address on the project network (only this project's containers are targets).
Whatever happens (failure, timeout, SIGTERM), the stack is torn down in `finally`. `echo` and
`chaos` (the chaos test of packages/tests/chaos against containers, chaos_containers.py) run
stacks of their own.
A newcomer's trap: scenarios never sleep to wait; they poll a condition with a deadline
(`wait_for`), and the only fixed delays are the fault-injection points inside a stress run.
Standard library only. Prints one PASS/FAIL line per scenario and "N passed, N failed".
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    """A scenario's expectation that did not hold (the message says which)."""


class Terminated(Exception):
    """SIGTERM/SIGINT (e.g. the outer timeout): stop now, still tear down."""


def log(msg):
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns a truthy value; raises Failure after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except (OSError, http.client.HTTPException, ValueError) as e:
            last_error = e
        if time.monotonic() > deadline:
            extra = f" (last error: {last_error})" if last_error else ""
            raise Failure(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def http_get(host, path, port=80, timeout=3.0):
    """One GET on a new connection; returns (status, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def compose_command():
    """`docker compose` (v2) when present, else `docker-compose` (v1)."""
    try:
        if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20).returncode == 0:
            return ["docker", "compose"]
    except (OSError, subprocess.TimeoutExpired):
        pass
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise Failure("neither `docker compose` nor `docker-compose` is installed")


def run(cmd, timeout=120, check=True, env=None, capture=True):
    try:
        p = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Failure(f"command timed out after {timeout}s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        err = (p.stderr or "").strip().splitlines()[-5:] if capture else []
        raise Failure(f"command failed ({p.returncode}): {' '.join(cmd)}: {' | '.join(err)}")
    return p


class Stack:
    """One compose project: the containers, their addresses, and the nodes' view of the data."""

    def __init__(self, project, files, stress_bin):
        self.project = project
        self.files = files
        self.stress_bin = stress_bin
        self.compose_cmd = compose_command()
        self.env = dict(os.environ)
        self.env["MESHKV_PUBLISH"] = "127.0.0.1:0"  # never clash with a stack or `make run` on 8080
        self.env["MESHKV_ADMIN_PUBLISH"] = "127.0.0.1:0"
        self.env.setdefault("AUTOSCALE_MAX", "0")  # scenarios size the group themselves
        self.env.setdefault("LOG_LEVEL", "info")
        self.network = f"{project}_default"
        self.extra_networks = []

    # ---- docker / compose ------------------------------------------------------------------
    def compose(self, *args, timeout=180, check=True):
        cmd = list(self.compose_cmd) + ["-p", self.project]
        for f in self.files:
            cmd += ["-f", f]
        return run(cmd + list(args), timeout=timeout, check=check, env=self.env)

    def containers(self, service, running=True, oneoff=False):
        """Container ids of `service`; one-off (`compose run`) containers only when asked."""
        cmd = ["docker", "ps", "-q", "--no-trunc",
               "--filter", f"label=com.docker.compose.project={self.project}",
               "--filter", f"label=com.docker.compose.service={service}",
               "--filter", f"label=com.docker.compose.oneoff={'True' if oneoff else 'False'}"]
        if not running:
            cmd.insert(2, "-a")
        return run(cmd, timeout=30).stdout.split()

    def inspect(self, cid):
        out = run(["docker", "inspect", cid], timeout=30, check=False)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)[0]

    def ip(self, cid, network=None):
        info = self.inspect(cid)
        if not info:
            return None
        nets = info["NetworkSettings"]["Networks"] or {}
        net = nets.get(network or self.network)
        return net["IPAddress"] if net and net.get("IPAddress") else None

    def health(self, cid):
        info = self.inspect(cid)
        if not info or not info["State"]["Running"]:
            return "gone"
        h = info["State"].get("Health")
        return h["Status"] if h else "none"

    def proxy(self):
        ids = self.containers("proxy")
        if len(ids) != 1:
            raise Failure(f"expected one proxy container, found {len(ids)}")
        return ids[0]

    def proxy_ip(self):
        ip = self.ip(self.proxy())
        if not ip:
            raise Failure("the proxy has no address on the project network")
        return ip

    def down(self):
        self.compose("down", "-v", "--remove-orphans", "-t", "5", timeout=120, check=False)
        # Belt and braces: anything still labelled with the project (one-off containers).
        left = run(["docker", "ps", "-aq", "--filter",
                    f"label=com.docker.compose.project={self.project}"], timeout=30, check=False)
        ids = left.stdout.split()
        if ids:
            run(["docker", "rm", "-f"] + ids, timeout=60, check=False)
        for net in self.extra_networks + [self.network]:
            run(["docker", "network", "rm", net], timeout=30, check=False)

    # ---- meshkv views ------------------------------------------------------------------------
    def hostname(self, cid):
        return cid[:12]  # Docker sets HOSTNAME to the short id; the node reports it in /status

    def routed_hostnames(self, attempts):
        """Hostnames answering /status through the balancer over `attempts` new connections."""
        seen = set()
        ip = self.proxy_ip()
        for _ in range(attempts):
            try:
                status, body = http_get(ip, "/status", timeout=2)
                if status == 200:
                    seen.add(json.loads(body)["hostname"])
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                pass
        return seen

    def records(self, ip, prefix):
        """{key: value} of the records with `prefix` on the node at ip (its /getAll)."""
        status, body = http_get(ip, "/getAll?prefix=" + prefix, timeout=10)
        if status != 200:
            raise ValueError(f"/getAll answered {status}")
        data = json.loads(body)
        if isinstance(data, dict):
            return data
        return {item["k"]: item["v"] for item in data}

    def ensure_nodes(self, n, timeout=90):
        """Brings the database service to n running, healthy containers that the balancer routes to."""
        self.compose("up", "-d", "--no-recreate", "--scale", f"database={n}", timeout=180)

        def ready():
            ids = self.containers("database")
            return ids if len(ids) == n and all(self.health(c) == "healthy" for c in ids) else None

        ids = wait_for(ready, timeout, f"{n} healthy database containers", interval=0.25)
        want = {self.hostname(c) for c in ids}
        seen = set()

        def all_routed():
            seen.update(self.routed_hostnames(3 * n))
            return want <= seen

        wait_for(all_routed, 30, f"the balancer to route to all {n} nodes ({sorted(want)})")

        # Nodes started together find nobody behind the proxy at first and each start a cluster
        # of one; they merge once they can reach each other. Scenarios start from one mesh.
        def meshed():
            for cid in ids:
                try:
                    status, body = http_get(self.ip(cid), "/status", timeout=2)
                    members = json.loads(body).get("members", []) if status == 200 else []
                except (OSError, http.client.HTTPException, ValueError):
                    return False
                if sum(1 for m in members if m.get("state") == "alive") != n:
                    return False
            return True

        wait_for(meshed, 60, f"all {n} nodes to form one mesh", interval=0.25)
        return ids

    # ---- load ----------------------------------------------------------------------------------
    def stress(self, target, amount, clusters, workers, prefix, extra=(), no_retry=False):
        """Starts meshkv-stress (sequential keys, set only) in the background; returns a Load.
        no_retry: a request lost with its keep-alive connection is an error, not resent once."""
        return Load(self.stress_bin, target, amount, clusters, workers, prefix, extra, no_retry)


class Load:
    """A running meshkv-stress with an ack log: every acknowledged write, key -> value."""

    def __init__(self, stress_bin, target, amount, clusters, workers, prefix, extra, no_retry):
        self.dir = tempfile.mkdtemp(prefix="meshkv-e2e-")
        self.ack = os.path.join(self.dir, "acks")
        self.concurrency = clusters * workers
        opts = {"--url": target, "-n": str(amount), "-c": str(clusters), "-w": str(workers),
                "--key-prefix": prefix, "--value-size": "16", "--timeout-ms": "5000",
                "--max-time": "120", "--max-errors": str(amount), "--progress": "none",
                "--ack-log": self.ack}
        extra = list(extra)
        for name, value in zip(extra[::2], extra[1::2]):  # "--flag value" pairs override
            opts[name] = value
        if os.environ.get("E2E_WRITE_CONCERN"):  # e.g. quorum: every write waits for a majority
            opts["--extra-query"] = "w=" + os.environ["E2E_WRITE_CONCERN"]
        cmd = [stress_bin, "--sequential-keys", "--json"]
        if no_retry or os.environ.get("E2E_NO_RETRY"):  # count every request lost with a connection
            cmd.append("--no-retry")
        for name, value in opts.items():
            cmd += [name, value]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def acked_count(self):
        try:
            with open(self.ack, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def wait_progress(self, n, timeout=60):
        wait_for(lambda: self.acked_count() >= n or self.proc.poll() is not None, timeout,
                 f"{n} acknowledged writes")
        if self.proc.poll() is not None and self.acked_count() < n:
            _, err = self.proc.communicate()
            raise Failure(f"the stress run ended (exit {self.proc.returncode}) before {n} writes "
                          f"were acknowledged: {err.strip()[-300:]}")

    def finish(self, timeout=150):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise Failure("meshkv-stress did not finish in time")
        try:
            result = json.loads(out)
        except ValueError:
            raise Failure(f"meshkv-stress printed no report (exit {self.proc.returncode}): {err.strip()[-300:]}")
        acked = {}
        with open(self.ack) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition(" ")
                acked[k] = v
        shutil.rmtree(self.dir, ignore_errors=True)
        return result, acked

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        shutil.rmtree(self.dir, ignore_errors=True)


def summary(result):
    return (f"{result['succeeded']} ok, {result['errors']} errors {result['errorsByKind']}, "
            f"{result['staleRetries']} resent on a stale keep-alive connection, "
            f"{result['requestsPerSecond']:.0f} req/s")


def missing_on(stack, ids, prefix, acked):
    """{node: number of acknowledged writes it lacks or holds with another value}."""
    gaps = {}
    for cid in ids:
        ip = stack.ip(cid)
        if not ip:
            gaps[stack.hostname(cid)] = len(acked)
            continue
        have = stack.records(ip, prefix)
        bad = sum(1 for k, v in acked.items() if have.get(k) != v)
        if bad:
            gaps[stack.hostname(cid)] = bad
    return gaps


def wait_converged(stack, ids, prefix, acked, timeout):
    last = {}

    def converged():
        nonlocal last
        last = missing_on(stack, ids, prefix, acked)
        return not last

    try:
        wait_for(converged, timeout, "every node to hold every acknowledged write", interval=0.5)
    except Failure as e:
        raise Failure(f"{e}; missing per node: {last} of {len(acked)}")


def new_prefix(name):
    return f"e2e-{name}-{uuid.uuid4().hex[:6]}:"


# ---- scenarios -------------------------------------------------------------------------------

def scenario_integration(stack):
    """The integration suite passes through the balancer against 3 nodes."""
    stack.ensure_nodes(3)
    p = stack.compose("run", "--rm", "tests", "meshkv-tests", timeout=240, check=False)
    tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-6:])
    if p.returncode != 0:
        raise Failure(f"`run tests meshkv-tests` exited {p.returncode}:\n{tail}")
    return tail.splitlines()[-1] if tail else ""


def scenario_scale(stack):
    """Scale 3 -> 5: new nodes hold every record before they are routed to, and are routed to
    within 1 s of being healthy; then 5 -> 2 during a stress run with no client error (and no
    request resent: the stopped nodes drain their connections)."""
    ids = stack.ensure_nodes(3)
    prefix = new_prefix("scale")
    load = stack.stress(f"http://{stack.proxy_ip()}:80", 3000, 5, 10, prefix)
    result, acked = load.finish()
    if result["errors"]:
        raise Failure(f"writes before scaling failed: {summary(result)}")
    since = time.time()
    stack.compose("up", "-d", "--no-recreate", "--scale", "database=5", timeout=180)
    new = [c for c in stack.containers("database") if c not in ids]
    if len(new) != 2:
        raise Failure(f"expected 2 new containers, found {len(new)}")
    # Route watch: new connections through the balancer until each new node answers.
    routed_at = {}
    ip = stack.proxy_ip()
    deadline = time.monotonic() + 90
    gaps_at_first_route = {}
    while len(routed_at) < len(new) and time.monotonic() < deadline:
        try:
            status, body = http_get(ip, "/status", timeout=2)
            host = json.loads(body).get("hostname") if status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            host = None
        for cid in new:
            if host == stack.hostname(cid) and cid not in routed_at:
                routed_at[cid] = time.time()
                gaps_at_first_route.update(missing_on(stack, [cid], prefix, acked))
        time.sleep(0.01)
    if len(routed_at) < len(new):
        raise Failure(f"the balancer never routed to {len(new) - len(routed_at)} of the new nodes")
    if gaps_at_first_route:
        raise Failure(f"new nodes were routed to before holding every record: {gaps_at_first_route}")
    healthy_at = health_times(stack, new, since)
    delays = {stack.hostname(c): round(routed_at[c] - healthy_at[c], 2) for c in new if c in healthy_at}
    if len(delays) < len(new):
        raise Failure(f"no health_status: healthy event seen for some new node ({delays})")
    if any(d > 1.0 for d in delays.values()):
        raise Failure(f"routed later than 1 s after healthy: {delays}")
    log(f"     3 -> 5: new nodes held all {len(acked)} records when first routed to, "
        f"{delays} s after turning healthy")
    # 5 -> 2 under load.
    prefix2 = new_prefix("scaledown")
    # A graceful stop answers every request that reached the node (the last one with
    # `Connection: close`): even a client that never resends sees no error.
    load = stack.stress(f"http://{ip}:80", 20000, 5, 10, prefix2, no_retry=True)
    try:
        load.wait_progress(2000)
        stack.compose("up", "-d", "--no-recreate", "--scale", "database=2", timeout=180)
    except BaseException:
        load.kill()
        raise
    result, acked2 = load.finish()
    if result["errors"]:
        raise Failure(f"scaling 5 -> 2 under load gave client errors: {summary(result)}")
    left = stack.containers("database")
    wait_converged(stack, left, prefix2, acked2, 20)
    return f"routed {delays} s after healthy; 5 -> 2 under load: {summary(result)}"


def health_times(stack, ids, since):
    """{container: time of its first `health_status: healthy` event after `since`}."""
    p = run(["docker", "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
             "--filter", "type=container", "--filter", "event=health_status",
             "--filter", f"label=com.docker.compose.project={stack.project}",
             "--format", "{{json .}}"], timeout=30)
    out = {}
    for line in p.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        cid = ev.get("id") or ev.get("Actor", {}).get("ID")
        if cid in ids and ev.get("status", ev.get("Action", "")).endswith("healthy") \
                and "unhealthy" not in ev.get("status", ev.get("Action", "")) and cid not in out:
            out[cid] = ev["timeNano"] / 1e9
    return out


def scenario_attach(stack):
    """`docker compose run -d database` attaches a node that catches up and serves."""
    ids = stack.ensure_nodes(3)
    prefix = new_prefix("attach")
    load = stack.stress(f"http://{stack.proxy_ip()}:80", 2000, 2, 10, prefix)
    result, acked = load.finish()
    if result["errors"]:
        raise Failure(f"writes before attaching failed: {summary(result)}")
    p = stack.compose("run", "-d", "database", timeout=120)
    name = p.stdout.strip().splitlines()[-1].strip() if p.stdout.strip() else ""
    info = stack.inspect(name) if name else None
    if not info:
        raise Failure(f"could not find the one-off container ({name!r})")
    cid = info["Id"]
    try:
        wait_for(lambda: stack.health(cid) == "healthy", 60, "the attached node to be healthy", 0.25)
        wait_converged(stack, [cid], prefix, acked, 20)
        want = stack.hostname(cid)
        wait_for(lambda: want in stack.routed_hostnames(8), 20,
                 "the balancer to route to the attached node")
        key, value = next(iter(acked.items()))
        status, body = http_get(stack.ip(cid), "/get?k=" + key)
        if status != 200 or json.loads(body) != value:
            raise Failure(f"the attached node answered {status} {body[:80]!r} for a replicated key")
    finally:
        run(["docker", "rm", "-f", cid], timeout=60, check=False)
    return f"caught up {len(acked)} records and served"


def fault_under_load(stack, name, inject, max_errors, no_retry=False):
    ids = stack.ensure_nodes(3)
    prefix = new_prefix(name)
    victim = random.choice(ids)
    load = stack.stress(f"http://{stack.proxy_ip()}:80", 30000, 10, 10, prefix, no_retry=no_retry)
    try:
        load.wait_progress(5000)
        inject(victim)
    except BaseException:
        load.kill()
        raise
    result, acked = load.finish()
    if result["errors"] > max_errors:
        raise Failure(f"{result['errors']} client errors (allowed {max_errors}): {summary(result)}")
    survivors = [c for c in ids if c != victim]
    wait_converged(stack, survivors, prefix, acked, 20)
    return f"{summary(result)}; {len(acked)} acknowledged writes on every survivor"


def scenario_sigterm(stack):
    """Stop a node (SIGTERM) during a stress run: 0 client errors, with no request resent."""
    return fault_under_load(stack, "sigterm",
                            lambda c: run(["docker", "stop", "-t", "15", c], timeout=60), 0,
                            no_retry=True)


def scenario_kill9(stack):
    """kill -9 a node during a stress run: errors only for requests in flight on it (fewer
    than the concurrency); every acknowledged write is on every surviving node."""
    return fault_under_load(stack, "kill9",
                            lambda c: run(["docker", "kill", "-s", "KILL", c], timeout=60), 99)


def scenario_partition(stack):
    """Cut a node off (docker network disconnect), write on both sides, reconnect: all nodes
    converge and no acknowledged write is lost."""
    ids = stack.ensure_nodes(3)
    victim = ids[0]
    side = f"{stack.project}_side"
    run(["docker", "network", "create", "--label", f"com.docker.compose.project={stack.project}",
         side], timeout=60)
    stack.extra_networks.append(side)
    run(["docker", "network", "connect", side, victim], timeout=60)
    run(["docker", "network", "disconnect", stack.network, victim], timeout=60)
    try:
        side_ip = wait_for(lambda: stack.ip(victim, side), 10, "the cut-off node's side address")
        prefix_a, prefix_b = new_prefix("partA"), new_prefix("partB")
        load_a = stack.stress(f"http://{stack.proxy_ip()}:80", 2000, 2, 10, prefix_a)
        load_b = stack.stress(f"http://{side_ip}:80", 500, 1, 5, prefix_b)
        res_a, acked_a = load_a.finish()
        res_b, acked_b = load_b.finish()
        if not acked_a or not acked_b:
            raise Failure(f"no writes acknowledged on one side (majority: {summary(res_a)}; "
                          f"cut-off node: {summary(res_b)})")
    finally:
        run(["docker", "network", "connect", "--alias", "database", stack.network, victim],
            timeout=60, check=False)
        run(["docker", "network", "disconnect", side, victim], timeout=60, check=False)
    wait_converged(stack, ids, prefix_a, acked_a, 45)
    wait_converged(stack, ids, prefix_b, acked_b, 45)
    return (f"majority side {len(acked_a)} writes ({res_a['errors']} errors), cut-off side "
            f"{len(acked_b)} writes ({res_b['errors']} errors); converged")


def scenario_lb_restart(stack):
    """Restart the balancer container during traffic: it rediscovers the nodes and serves."""
    ids = stack.ensure_nodes(3)
    proxy = stack.proxy()
    ip = stack.proxy_ip()
    load = stack.stress(f"http://{ip}:80", 1000000, 5, 10, new_prefix("lbrestart"),
                        extra=["--max-time", "30", "--timeout-ms", "2000"])
    try:
        load.wait_progress(2000)
        run(["docker", "restart", "-t", "5", proxy], timeout=60)
        restarted = time.monotonic()
        ip = wait_for(lambda: stack.ip(proxy), 20, "the restarted balancer's address")
        want = {stack.hostname(c) for c in ids}
        seen = set()

        def rediscovered():
            seen.update(stack.routed_hostnames(6))
            return want <= seen

        wait_for(rediscovered, 30, "the restarted balancer to route to every node")
        took = time.monotonic() - restarted
    finally:
        load.proc.send_signal(signal.SIGINT)
    during, _ = load.finish()
    after, _ = stack.stress(f"http://{ip}:80", 5000, 5, 10, new_prefix("lbafter")).finish()
    if after["errors"]:
        raise Failure(f"after the restart: {summary(after)}")
    return (f"serving every node {took:.1f}s after restart; during: {during['errors']} errors "
            f"{during['errorsByKind']}; after: {summary(after)}")


def mesh_status(stack, cid):
    """The `mesh` object of a node's /status (raises on no answer)."""
    status, body = http_get(stack.ip(cid), "/status", timeout=3)
    if status != 200:
        raise ValueError(f"/status answered {status}")
    return json.loads(body)["mesh"]


def stop_load(load):
    """Ends a stress run that is still going (SIGINT: it prints its report) and returns it."""
    if load.proc.poll() is None:
        load.proc.send_signal(signal.SIGINT)
    return load.finish()


def restart_under_load(stack, name, restart):
    """A stress run that never resends, through the balancer; once 3,000 writes are acknowledged,
    `restart()` takes the whole stack down and up. Returns (result, acked, writes acknowledged
    after the stack came back)."""
    prefix = new_prefix(name)
    load = stack.stress(f"http://{stack.proxy_ip()}:80", 1000000, 5, 10, prefix, no_retry=True,
                        extra=["--max-time", "90", "--timeout-ms", "3000"])
    try:
        load.wait_progress(3000)
        restart()
        before = load.acked_count()
        stack.ensure_nodes(3)
        # The balancer usually keeps its address; when it does, writes resume through it.
        try:
            load.wait_progress(before + 1000, timeout=20)
        except Failure:
            pass
        after = load.acked_count() - before
    except BaseException:
        load.kill()
        raise
    result, acked = stop_load(load)
    return prefix, result, acked, after


def scenario_durable_restart(stack):
    """The whole stack restarted under a stress load that never resends, first with
    `docker compose restart`, then with `stop` + `start`: every write acknowledged before, during
    or after is on every node afterwards (the nodes keep their data in their volumes)."""
    ids = stack.ensure_nodes(3)
    runs = []
    for how, restart in (
            ("restart", lambda: stack.compose("restart", "-t", "15", timeout=240)),
            ("stopstart", lambda: (stack.compose("stop", "-t", "15", timeout=240),
                                   stack.compose("start", timeout=240)))):
        prefix, result, acked, after = restart_under_load(stack, "durable-" + how, restart)
        if not acked:
            raise Failure(f"`{how}`: no write acknowledged: {summary(result)}")
        runs.append((how, prefix, result, acked, after))
    now = stack.ensure_nodes(3)
    if sorted(now) != sorted(ids):
        raise Failure(f"the database containers changed: {len(set(now) - set(ids))} new ones")
    for how, prefix, result, acked, after in runs:
        wait_converged(stack, now, prefix, acked, 60)
    return "; ".join(f"{how}: {len(acked)} acknowledged ({after} after the restart), "
                     f"{result['errors']} errors {result['errorsByKind']}, all on every node"
                     for how, prefix, result, acked, after in runs)


def scenario_durable_rejoin(stack):
    """A node stopped and started again on its volume while 1 % more records are written: it
    keeps its data and catches up by anti-entropy (no snapshot copy), moving a small part of
    the data set, and holds every acknowledged write when it is healthy again."""
    ids = stack.ensure_nodes(3)
    prefix = new_prefix("rejoin")
    value_size = 200
    result, acked = stack.stress(f"http://{stack.proxy_ip()}:80", 20000, 5, 10, prefix,
                                 extra=["--value-size", str(value_size)]).finish()
    if result["errors"]:
        raise Failure(f"writes before the stop failed: {summary(result)}")
    wait_converged(stack, ids, prefix, acked, 30)
    victim = random.choice(ids)
    others = [c for c in ids if c != victim]
    run(["docker", "stop", "-t", "15", victim], timeout=60)
    while_down = new_prefix("rejoin-delta")
    res2, acked2 = stack.stress(f"http://{stack.proxy_ip()}:80", len(acked) // 100, 2, 5, while_down,
                                extra=["--value-size", str(value_size)]).finish()
    if res2["errors"]:
        raise Failure(f"writes while the node was down failed: {summary(res2)}")
    wait_converged(stack, others, while_down, acked2, 30)
    run(["docker", "start", victim], timeout=60)
    wait_for(lambda: stack.health(victim) == "healthy", 60, "the restarted node to be healthy", 0.25)
    mesh = wait_for(lambda: mesh_status(stack, victim), 10, "the restarted node's /status")
    # Healthy means caught up: what was written while it was away is there already.
    gaps = missing_on(stack, [victim], while_down, acked2)
    gaps.update(missing_on(stack, [victim], prefix, acked))
    if gaps:
        raise Failure(f"the restarted node lacks acknowledged writes when healthy: {gaps}")
    if mesh.get("catchUpPath") != "antiEntropy" or mesh.get("snapshotRecords", 0) != 0:
        raise Failure(f"catch-up was not by delta: path {mesh.get('catchUpPath')!r}, "
                      f"{mesh.get('snapshotRecords')} snapshot records")
    # What a snapshot copy would have moved: every record the node holds (keys and values).
    held = stack.records(stack.ip(victim), "")
    data = sum(len(k) + len(v) for k, v in held.items())
    moved = mesh.get("catchUpBytes", 0)
    if not 0 < moved < data / 2:
        raise Failure(f"catch-up moved {moved} bytes for {data} bytes of data")
    return (f"{len(acked2)} records written while down, {len(held)} held; caught up by "
            f"anti-entropy in {mesh.get('catchUpRounds')} rounds, {moved} bytes moved = "
            f"{100 * moved / data:.1f} % of the {data} bytes of keys and values it holds")


def scenario_echo(stack_unused, project, images_tag):
    """The balancer in front of a non-meshkv TCP service (meshkv-echo): any TCP service works."""
    stack = Stack(project + "-echo", [os.path.join(HERE, "echo-compose.yaml")], None)
    try:
        stack.compose("up", "-d", timeout=180)
        wait_for(lambda: len(stack.containers("echo")) == 2, 30, "2 echo containers")
        ip = wait_for(lambda: stack.ip(stack.proxy()), 30, "the echo balancer's address")
        payload = bytes(random.getrandbits(8) for _ in range(65536))

        def echoes():
            for i in range(10):
                with socket.create_connection((ip, 80), timeout=5) as s:
                    s.sendall(payload)
                    got = b""
                    while len(got) < len(payload):
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    if got != payload:
                        raise ValueError(f"connection {i}: {len(got)} of {len(payload)} bytes echoed")
            return True

        wait_for(echoes, 30, "10 connections to echo 64 KiB of binary data", interval=0.2)
        return "10 connections echoed 64 KiB each through meshkv-lb"
    finally:
        stack.down()


def scenario_chaos(stack_unused, project):
    """The chaos test (packages/tests/chaos, docs/chaos.md) against containers, in a project of
    its own: 3 nodes with FSYNC=always and fast failure detection, the chaos workload and
    checker, a seeded nemesis of docker kill + start, pause/unpause, network disconnect/connect
    and balancer kill + start for E2E_CHAOS_SECONDS (75); E2E_CHAOS_SEED replays a schedule."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "chaos"))
    import chaos as chaos_driver  # noqa: E402 (packages/tests/chaos, after the path is set)
    from chaos_containers import KINDS, ContainerCluster
    from cluster import MESH_SETTINGS
    from nemesis import schedule

    seed = int(os.environ.get("E2E_CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))
    duration = float(os.environ.get("E2E_CHAOS_SECONDS", "75"))
    faults = schedule(seed, duration, 3, KINDS)
    run_dir = tempfile.mkdtemp(prefix="meshkv-e2e-chaos-")
    # The chaos settings of the process cluster, for the database service (merged by compose).
    override = os.path.join(run_dir, "chaos-compose.yaml")
    with open(override, "w") as f:
        f.write("services:\n  database:\n    environment:\n" + "".join(
            f'      {k}: "{v}"\n' for k, v in MESH_SETTINGS.items()))
    stack = Stack(project + "-chaos", [os.path.join(ROOT, "docker-compose.yaml"), override], None)
    stack.env["FSYNC"] = "always"  # every acknowledged write must survive docker kill
    log(f"chaos: seed {seed}, {duration:.0f} s, {len(faults)} faults (replay: "
        f"E2E_CHAOS_SEED={seed} E2E_CHAOS_SECONDS={duration:g}); history in {run_dir}")
    cluster = ContainerCluster(stack, 3)
    try:
        with open(os.path.join(run_dir, "nemesis.log"), "w") as nemesis_log:
            rc = chaos_driver.run(argparse.Namespace(duration=duration, clients=4), seed, faults,
                                  cluster, run_dir, nemesis_log)
    finally:
        stack.down()
    if rc != 0:
        raise Failure(f"the chaos run failed (exit {rc}, see the [chaos] lines); seed {seed}, "
                      f"run directory kept: {run_dir}")
    shutil.rmtree(run_dir, ignore_errors=True)
    return f"seed {seed}, {duration:.0f} s of faults against containers: 0 violations"


SCENARIOS = [
    ("integration", scenario_integration),
    ("scale", scenario_scale),
    ("attach", scenario_attach),
    ("sigterm", scenario_sigterm),
    ("kill9", scenario_kill9),
    ("partition", scenario_partition),
    ("lb-restart", scenario_lb_restart),
    ("durable-restart", scenario_durable_restart),
    ("durable-rejoin", scenario_durable_rejoin),
    ("echo", None),  # its own project
    ("chaos", None),  # its own project
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", default=f"meshkv-e2e-{os.getpid()}")
    ap.add_argument("--stress", default=os.path.join(ROOT, "build", "bin", "meshkv-stress"))
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    ap.add_argument("--keep", action="store_true", help="leave the stack up (debugging)")
    ap.add_argument("--staggered", action="store_true",
                    help="start one node, then scale to 3 (diagnosis: takes the all-at-once "
                         "bootstrap of `docker compose up` out of the picture)")
    args = ap.parse_args()

    def on_signal(signum, frame):
        raise Terminated(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    wanted = [n for n in args.only.split(",") if n] or [n for n, _ in SCENARIOS]
    unknown = set(wanted) - {n for n, _ in SCENARIOS}
    if unknown:
        print(f"e2e: unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    passed, failed = [], []
    stack = Stack(args.project, [os.path.join(ROOT, "docker-compose.yaml")], args.stress)
    started = time.monotonic()
    try:
        if any(n not in ("echo", "chaos") for n in wanted):
            log(f"starting project {stack.project} ({' '.join(stack.compose_cmd)})"
                + (", staggered" if args.staggered else ""))
            if args.staggered:
                stack.ensure_nodes(1)
            stack.compose("up", "-d", timeout=240)
        for name, fn in SCENARIOS:
            if name not in wanted:
                continue
            t0 = time.monotonic()
            log(f"RUN  {name}")
            try:
                if name == "echo":
                    detail = scenario_echo(stack, args.project, None)
                elif name == "chaos":
                    detail = scenario_chaos(stack, args.project)
                else:
                    detail = fn(stack)
                passed.append(name)
                log(f"PASS {name} ({time.monotonic() - t0:.1f}s): {detail}")
            except Failure as e:
                failed.append(name)
                log(f"FAIL {name} ({time.monotonic() - t0:.1f}s): {e}")
    except Terminated as e:
        log(f"stopped by {e}; tearing down")
        failed.append("terminated")
    except Failure as e:
        log(f"FAIL setup: {e}")
        failed.append("setup")
    finally:
        if not args.keep:
            log(f"tearing down {stack.project}")
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            stack.down()
    log(f"e2e took {time.monotonic() - started:.0f}s")
    if failed:
        print(f"e2e: failed: {', '.join(failed)}")
    print(f"{len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
