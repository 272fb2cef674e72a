#!/usr/bin/env python3
# Writes the hand-made seed corpora under fuzz/corpus/<target>/ (committed; rerun after changing
# a target's input format). Each seed is a real input in the target's format: the leading
# control bytes (split points, mode) documented at the top of each fuzz/<target>_fuzz.cc, then
# the bytes a client, a peer, Docker or an operator would send. Wire frames and digests use the
# targets' "sealed" mode, which computes the checksum with the project's own xxh3 call.
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def cuts(*points):
    return bytes([len(points)] + list(points))


# ---- http_request: split points, then one connection's bytes ----
get = "GET /get?k=a%20b HTTP/1.1\r\nHost: node\r\n\r\n"
put = "PUT /set?k=key&v=value HTTP/1.1\r\nHost: node\r\nContent-Length: 0\r\n\r\n"
write("http_request", "get", cuts() + get.encode())
write("http_request", "pipelined", cuts(20, 100, 200) + (get + put + get).encode())
write("http_request", "post_body",
      cuts(64) + b"POST /big/set?k=a HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world")
write("http_request", "chunked",
      cuts(50, 90) + b"POST /set?k=c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
write("http_request", "http10", cuts(8) + b"GET /status HTTP/1.0\r\n\r\n")
write("http_request", "expect",
      cuts(40) + b"PUT /set?k=e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
write("http_request", "refused",
      cuts() + b"POST /refuse HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
write("http_request", "absolute_form",
      cuts(30) + b"GET http://node:4000/get?k=x#frag HTTP/1.1\r\nConnection: close\r\n\r\n")

# ---- query_decode: max key length, max value length, then a query string ----
for name, q in [("kv", "k=key&v=value"), ("plus", "k=a+b&v=%E2%82%AC"),
                ("list", "prefix=us%C3%A9r&limit=10&cursor=abc"), ("dup", "k=a&k=b"),
                ("bad_escape", "k=%zz"), ("surrogate", "k=%ED%A0%80"),
                ("astral", "k=%F0%9F%98%80&w=quorum"), ("url", "http://[::1]:8080/path")]:
    write("query_decode", name, bytes([64, 255]) + q.encode())


# ---- wire_frame: mode byte (top bit = sealed, low bits = type), then header + payload ----
def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def record(kind, hlc, origin, key, value):
    return (bytes([kind]) + struct.pack("<Q", hlc) + varint(len(origin)) + origin +
            varint(len(key)) + key + varint(len(value)) + value)


def frame(ftype, seq, extra, records):
    payload = varint(len(extra)) + extra + b"".join(records)
    header = b"MKV1" + bytes([1, ftype, 0, 0]) + struct.pack("<QII", seq, len(records),
                                                             len(payload))
    return bytes([0x80 | (ftype - 1)]) + header + payload


write("wire_frame", "batch", frame(1, 7, b"", [record(0, 1 << 40, b"n1", b"k", b"v"),
                                               record(1, (1 << 40) + 1, b"n2", b"gone", b"")]))
write("wire_frame", "snapshot", frame(2, 0, b"cursor", [record(0, 5, b"n1", b"a" * 70, b"b" * 300)]))
write("wire_frame", "records", frame(3, 0, b"", [record(2, 9, b"n3", b"", b"")]))
write("wire_frame", "empty", frame(1, 1, b"", []))
write("wire_frame", "unsealed", b"\x00" + frame(1, 1, b"", [])[1:])


# ---- digest: mode byte (odd = sealed), then "MKD1" clearHlc origin root bitmap segments ----
def digest(clear_hlc, origin, root, segments):
    bitmap = bytearray(4096 // 8)
    body = b""
    for i, v in sorted(segments.items()):
        bitmap[i // 8] |= 1 << (i % 8)
        body += struct.pack("<Q", v)
    return (b"MKD1" + struct.pack("<Q", clear_hlc) + bytes([len(origin)]) + origin +
            struct.pack("<Q", root) + bytes(bitmap) + body)


write("digest", "empty", b"\x00" + digest(0, b"", 0, {}))
write("digest", "some", b"\x00" + digest(12, b"n1", 99, {0: 1, 7: 2, 4095: 3}))
write("digest", "sealed", b"\x01" + digest(0, b"node-a", 5, {100: 5})[:40])


# ---- docker_events: split points, then the /events body ----
def event(action, cid, attrs, t=1700000000):
    a = ",".join('"%s":"%s"' % kv for kv in attrs.items())
    return ('{"status":"%s","id":"%s","from":"img","Type":"container","Action":"%s",'
            '"Actor":{"ID":"%s","Attributes":{%s}},"scope":"local","time":%d,'
            '"timeNano":%d}\n' % (action, cid, action, cid, a, t, t * 10**9))


labels = {"com.docker.compose.service": "db", "com.docker.compose.project": "meshkv",
          "name": "meshkv-db-1"}
write("docker_events", "start", cuts(33, 200) + event("start", "c" * 64, labels).encode())
write("docker_events", "health",
      cuts(10) + (event("health_status: healthy", "d" * 64, labels) +
                  event("die", "d" * 64, dict(labels, exitCode="0"))).encode())
write("docker_events", "junk_then_event", cuts(5) + ("oops\n" + event("kill", "e" * 12,
                                                                        {"signal": "15"})).encode())
write("docker_events", "old_shape", cuts() + b'{"status":"stop","id":"abc","time":1}\n')
write("docker_events", "versions", cuts() + b"1.41\n1.45\n")

# ---- lb_config: one argv word per line, "$NAME=value" for environment variables ----
write("lb_config", "static", "--backends\n127.0.0.1:4001, [::1]:4002\n--service-port\n0\n")
write("lb_config", "docker_env", "$GROUP_NAME=db\n$GROUP_PORT=4000\n$BALANCE=leastconn\n")
write("lb_config", "both_modes", "$GROUP_NAME=db\n--backends=127.0.0.1:1\n")
write("lb_config", "ranges", "$BACKENDS=10.0.0.1:80\n--buffer-size\n4096\n--check-rise=100\n"
      "$ADMIN_PORT=9000\n$ADMIN_BIND=::1\n--log-level\ndebug\n")
write("lb_config", "empty_value", "$BACKENDS=\n")
write("lb_config", "help", "--help\n")
