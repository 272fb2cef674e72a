"""The nemesis's network cut: a small TCP proxy in front of each node's mesh address.

Every node advertises its proxy (ADVERTISE_URL), so all peer traffic to a node goes through
it; clients and the balancer reach the node directly. A connection's source node is read from
the X-Mesh-From header of its first request (every internal request carries it), so one flag
per node cuts that node off in both directions: its proxy black-holes everything, and every
other proxy black-holes connections that node opened. Black-holing means the bytes are read
and dropped while the connection stays open, as a pulled cable looks to the sender (timeouts,
not resets); healing closes the black-holed connections, so both sides reconnect.
Threads: one accept thread per proxy and two pump threads per connection; `cut` is a shared
set guarded by a lock. The thing to get right: a connection is judged by its SOURCE too, or a
cut node would still reach its peers through their proxies.
"""
import socket
import threading


class CutSet:
    """The node ids currently cut off, shared by every proxy of a cluster."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cut = set()
        self.generation = 0  # bumped on every heal: connections older than a heal are closed

    def cut(self, node_id):
        with self._lock:
            self._cut.add(node_id)

    def heal(self, node_id=None):
        with self._lock:
            if node_id is None:
                self._cut.clear()
            else:
                self._cut.discard(node_id)
            self.generation += 1

    def blocked(self, a, b):
        with self._lock:
            return a in self._cut or b in self._cut


class MeshProxy:
    def __init__(self, node_id, target_host, target_port, cuts, listen_host="127.0.0.1"):
        self.node_id = node_id
        self.target = (target_host, target_port)
        self.cuts = cuts
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((listen_host, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        self._conns = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{node_id}").start()

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close()

    def heal(self):
        """Closes the connections that were black-holed, so both ends reconnect."""
        with self._lock:
            conns = [c for c in self._conns if c.holed]
        for c in conns:
            c.close()

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            conn = _Conn(self, client)
            with self._lock:
                self._conns.add(conn)
            conn.start()

    def _forget(self, conn):
        with self._lock:
            self._conns.discard(conn)


class _Conn:
    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.server = None
        self.source = ""
        self.holed = False
        self._closed = False
        self._lock = threading.Lock()

    def start(self):
        threading.Thread(target=self._run, daemon=True).start()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for s in (self.client, self.server):
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy._forget(self)

    def _blocked(self):
        return self.proxy.cuts.blocked(self.source, self.proxy.node_id)

    def _run(self):
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = self.client.recv(65536)
                if not chunk:
                    self.close()
                    return
                head += chunk
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"x-mesh-from:"):
                    self.source = line.split(b":", 1)[1].strip().decode("utf-8", "replace")
                    break
            self.server = socket.create_connection(self.proxy.target, timeout=2)
            self.server.settimeout(None)
            self.server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self.close()
            return
        threading.Thread(target=self._pump, args=(self.server, self.client, b""),
                         daemon=True).start()
        self._pump(self.client, self.server, head)

    def _pump(self, src, dst, first):
        data = first
        try:
            while True:
                if data:
                    # Once holed, always dropped (a stream missing bytes is garbage) until the
                    # heal closes it.
                    if self.holed or self._blocked():
                        self.holed = True  # dropped: the sender sees silence
                    else:
                        dst.sendall(data)
                data = src.recv(65536)
                if not data:
                    break
        except OSError:
            pass
        self.close()
