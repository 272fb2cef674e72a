#!/usr/bin/env python3
"""lb_status_page: the balancer's status page as a person sees it, in headless Chromium.

Starts two meshkv-node processes (memory mode, joined into one mesh) and meshkv-lb in front of
them plus one dead backend, sends a little traffic, then loads http://<admin>/ in Chromium with
every non-loopback host unresolvable (so the page cannot fetch anything from the internet) and
checks that the rendered DOM shows the backends /status reports (id, name, state, connection
counts) and the mesh members one node reports. Takes a screenshot (--screenshot PATH, for the
README; a phone-sized one with --phone-screenshot PATH).

Usage: status_page_test.py <bindir> [--screenshot PATH] [--phone-screenshot PATH]
Without chromium: exit 77 (ctest: skipped) with a message, except under CI (CI set): failure.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

DEADLINE_S = 30


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def wait_for(what, cond, timeout=DEADLINE_S):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


def get(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def try_get(url):
    try:
        return get(url, timeout=1)
    except OSError:
        return None


class Stack:
    """Two nodes and a balancer on loopback; stops them all on exit."""

    def __init__(self, bindir, work):
        self.bindir, self.work, self.procs = bindir, work, []

    def spawn(self, name, argv, env):
        log = open(os.path.join(self.work, name + ".log"), "w")
        full = dict(os.environ, LOG_LEVEL="info", **env)
        self.procs.append(subprocess.Popen(argv, env=full, stdout=log, stderr=subprocess.STDOUT))

    def node(self, host, join=None):
        pf = os.path.join(self.work, host + ".port")
        env = {"PORT": "0", "HOSTNAME": host, "BIND_ADDRESS": host, "MEMORY": "1",
               "PROBE_INTERVAL_MS": "200", "PROBE_TIMEOUT_MS": "150", "JOIN_RETRY_MS": "50"}
        if join:
            env["MESH_NETWORK_URL"] = join
        self.spawn(host, [os.path.join(self.bindir, "meshkv-node"), "--port-file", pf], env)
        port = int(wait_for(f"{host}'s port", lambda: os.path.exists(pf) and open(pf).read().strip()))
        wait_for(f"{host} healthy", lambda: try_get(f"http://{host}:{port}/healthcheck"))
        return f"{host}:{port}"

    def balancer(self, backends):
        pf = os.path.join(self.work, "lb.port")
        env = {"BACKENDS": ",".join(backends), "SERVICE_PORT": "0", "BIND_ADDRESS": "127.0.0.1",
               "ADMIN_PORT": "0", "ADMIN_BIND": "127.0.0.1", "CHECK_INTERVAL_MS": "200"}
        self.spawn("lb", [os.path.join(self.bindir, "meshkv-lb"), "--port-file", pf], env)
        port = int(wait_for("lb's port", lambda: os.path.exists(pf) and open(pf).read().strip()))
        log = os.path.join(self.work, "lb.log")
        m = wait_for("the admin port in lb.log",
                     lambda: re.search(r"admin on [\d.]+:(\d+)", open(log).read()))
        return port, int(m.group(1))

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


class PageDom(html.parser.HTMLParser):
    """The backend cards and mesh member rows of a rendered page."""

    def __init__(self):
        super().__init__()
        self.backends, self.members, self.body, self.scripts_src = [], [], {}, []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "script" and "src" in a:
            self.scripts_src.append(a["src"])
        if tag == "article" and "data-backend-id" in a:
            self.backends.append({"id": a["data-backend-id"], "name": a["data-name"],
                                  "state": a["data-state"]})
        if tag == "tr" and "data-member-id" in a:
            self.members.append(a["data-member-id"])
        if tag == "dd" and a.get("class") in ("open", "total") and self.backends:
            self._cell = a["class"]

    def handle_data(self, data):
        if self._cell:
            self.backends[-1][self._cell] = int(data.replace(",", ""))
            self._cell = None


def chromium_argv(chromium, url, extra):
    # Only loopback resolves: a request to anywhere else fails instead of leaving the machine.
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=7000", *extra, url]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bindir")
    ap.add_argument("--screenshot")
    ap.add_argument("--phone-screenshot")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        msg = "lb_status_page: SKIPPED: chromium is not installed (scripts/deps.sh installs it)"
        print(msg, file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") else 77)

    work = tempfile.mkdtemp(prefix="meshkv-status-page.")
    stack = Stack(args.bindir, work)
    ok = False
    try:
        a = stack.node("127.0.0.51")
        b = stack.node("127.0.0.52", join=f"http://{a}")
        wait_for("a mesh of two", lambda: len(json.loads(get(f"http://{a}/status")[1])["members"]) == 2)
        dead = "127.0.0.1:1"
        port, admin = stack.balancer([a, b, dead])
        base = f"http://127.0.0.1:{admin}"
        for i in range(20):
            get(f"http://127.0.0.1:{port}/set?k=page{i}&v=v{i}")
        wait_for("the dead backend failing its checks", lambda: any(
            not x["checkUp"] for x in json.loads(get(base + "/status")[1])["backends"]))

        wait_for("a rate point for every backend in /status's history", lambda: all(
            len(json.loads(get(base + "/status")[1])["history"]["backends"].get(x["id"], [])) >= 1
            for x in json.loads(get(base + "/status")[1])["backends"]))
        status, page = get(base + "/")
        if status != 200 or "<html" not in page:
            fail("GET / is not the page")
        external = [u for u in re.findall(r"https?://[^\s\"'<>)]+", page)
                    if not u.startswith("http://www.w3.org/2000/svg")]
        if external:
            fail(f"the page refers to files elsewhere: {external}")

        run = subprocess.run(chromium_argv(chromium, base + "/", ["--dump-dom"]),
                             capture_output=True, text=True, timeout=120)
        if run.returncode != 0 or "<body" not in run.stdout:
            fail(f"chromium --dump-dom failed ({run.returncode}): {run.stderr[-2000:]}")
        dom = PageDom()
        dom.feed(run.stdout)
        want = json.loads(get(base + "/status")[1])["backends"]
        if int(dom.body.get("data-updates", "0")) < 1:
            fail("the page never rendered /status")
        shown = sorted((x["id"], x["name"], x["state"]) for x in dom.backends)
        expected = sorted((x["id"], x["name"], x["state"]) for x in want)
        if shown != expected:
            fail(f"the page shows {shown}, /status says {expected}")
        for x in dom.backends:
            w = next(y for y in want if y["id"] == x["id"])
            if x.get("total") != w["totalConnections"] or x.get("open") != w["openConnections"]:
                fail(f"{x['name']}: page {x.get('open')}/{x.get('total')} connections, "
                     f"/status {w['openConnections']}/{w['totalConnections']}")
        if sum(x["totalConnections"] for x in want) < 20:
            fail("the traffic sent through the balancer is not counted in /status")
        node = json.loads(get(base + "/node-status")[1])
        members = sorted(m["id"] for m in node["status"]["members"])
        if sorted(dom.members) != members or len(members) != 2:
            fail(f"the page shows members {sorted(dom.members)}, the node reports {members}")
        for path, size in ((args.screenshot, "1100,1250"), (args.phone_screenshot, "390,1500")):
            if path:
                shot = subprocess.run(chromium_argv(chromium, base + "/", [
                    f"--screenshot={os.path.abspath(path)}", f"--window-size={size}",
                    "--hide-scrollbars"]), capture_output=True, text=True, timeout=120)
                if shot.returncode != 0 or not os.path.exists(path):
                    fail(f"screenshot failed: {shot.stderr[-2000:]}")
        shot = os.path.join(work, "page.png")
        subprocess.run(chromium_argv(chromium, base + "/", [f"--screenshot={shot}",
                                                            "--window-size=1100,1250"]),
                       capture_output=True, timeout=120)
        if not os.path.exists(shot) or os.path.getsize(shot) < 10000:
            fail("no screenshot of the page")
        print(f"lb_status_page: OK: {len(dom.backends)} backends and {len(members)} members "
              f"shown as /status reports them")
        ok = True
    finally:
        stack.stop()
        if ok or not os.environ.get("KEEP_WORK"):
            if not ok:
                for f in sorted(os.listdir(work)):
                    if f.endswith(".log"):
                        print(f"--- {f}", file=sys.stderr)
                        print(open(os.path.join(work, f)).read()[-3000:], file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
