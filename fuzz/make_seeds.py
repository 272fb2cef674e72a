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

# ---- rest_path: max key length, max value length, then a /kv path ----
for name, path in [("root", "/kv"), ("root_slash", "/kv/"), ("collection", "/kv/users"),
                   ("key", "/kv/users/ada"), ("post", "/kv/users/ada/a%20value%2Fslash+plus"),
                   ("default", "/kv/_/k"), ("bad_escape", "/kv/c/%zz"), ("not_utf8", "/kv/c/%FF"),
                   ("empty", "/kv//k"), ("too_many", "/kv/a/b/c/d"),
                   ("astral", "/kv/%F0%9F%98%80/%E2%82%AC"), ("long", "/kv/" + "x" * 65)]:
    write("rest_path", name, bytes([64, 255]) + path.encode())


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


# The second level (same target): mode 2|3 a summary, 4|5 an answer (odd = sealed).
def summary(segments, hashes):
    bitmap = bytearray(4096 // 8)
    for i in segments:
        bitmap[i // 8] |= 1 << (i % 8)
    return (b"MKS1" + bytes(bitmap) + struct.pack("<I", len(hashes)) +
            b"".join(struct.pack("<Q", h) for h in hashes))


def answer(truncated, wanted, frame_bytes):
    return (b"MKA1" + bytes([truncated]) + struct.pack("<I", len(wanted)) +
            b"".join(struct.pack("<Q", h) for h in wanted) + frame_bytes)


write("digest", "summary_empty", b"\x02" + summary([], []))
write("digest", "summary_some", b"\x02" + summary([0, 9, 4095], [1, 5, 2**63, 2**64 - 1]))
write("digest", "summary_sealed", b"\x03" + summary([3], [7, 8])[:600])
write("digest", "answer_empty", b"\x04" + answer(0, [], b""))
write("digest", "answer_some", b"\x04" + answer(1, [2, 3, 99], frame(3, 0, b"", [record(1, 9, b"n1", b"k", b"v")])))
write("digest", "answer_sealed", b"\x05" + answer(0, [4, 5], b"MKV1")[:20])


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


# ---- log_record / recovery: records of persistence/record.h, in the targets' sealed mode (the
# target computes each checksum; lengths that add up pass through unchanged) ----
def plog(kind, hlc, origin, key, value):
    body = struct.pack("<BQHHI", kind, hlc, len(origin), len(key), len(value)) + origin + key + value
    return struct.pack("<IQ", len(body), 0) + body


HLC = 1764806400000 << 16
puts = b"".join(plog(0, HLC + i, b"node-a", b"key%d" % i, b"value %d" % i) for i in range(3))
log = puts + plog(1, HLC + 10, b"node-b", b"key1", b"") + plog(2, HLC + 11, b"node-a", b"", b"")
write("log_record", "records", b"\x01" + log)
write("log_record", "reset", b"\x03" + puts + plog(3, HLC + 20, b"node-a", b"", b"") + puts[:40])
write("log_record", "torn_header", b"\x05" + log + b"\x30\x00\x00")
write("log_record", "zero_tail", b"\x07" + log + b"\x00" * 64)
write("log_record", "damaged_middle", b"\x09" + puts + plog(9, HLC, b"n", b"k", b"v") + puts)
write("log_record", "raw", b"\x00" + log)


def pfile(header, content):
    return bytes([header]) + struct.pack("<H", len(content)) + content


# header: bit 0 snapshot, bit 1 sealed, bits 2-3 generation, bit 4 *.tmp
write("recovery", "log_only", bytes([1]) + pfile(0b0010, log))
write("recovery", "snapshot_and_logs",
      bytes([3]) + pfile(0b0111, puts) + pfile(0b0110, log) + pfile(0b1010, log + b"\x10\x00"))
write("recovery", "torn_log", bytes([2]) + pfile(0b0110, puts) + pfile(0b1010, log + b"\x00" * 9))
write("recovery", "damaged_log",
      bytes([1]) + pfile(0b0010, puts + plog(7, HLC, b"n", b"k", b"v") + puts))
write("recovery", "damaged_snapshot", bytes([1]) + pfile(0b0011, puts + b"\x01\x02\x03"))
write("recovery", "leftover_tmp", bytes([2]) + pfile(0b10111, puts) + pfile(0b0010, log))


# ---- record_rules: max key length, max value length, kind, hlc (8), key length, origin length,
# then key, origin, value ----
def rule(maxk, maxv, kind, hlc, key, origin, value):
    return bytes([maxk, maxv, kind]) + struct.pack("<Q", hlc) + bytes([len(key), len(origin)]) \
        + key + origin + value


write("record_rules", "put", rule(64, 255, 0, HLC, b"key", b"node-1", b"value"))
write("record_rules", "utf8", rule(3, 2, 0, HLC, "c\u00e9\U0001f600".encode(), b"n", "\u00e9t".encode()))
write("record_rules", "overlong", rule(8, 8, 0, HLC, b"\xc0\xaf", b"n", b"\xed\xa0\x80"))
write("record_rules", "delete_with_value", rule(8, 8, 1, HLC, b"k", b"n", b"v"))
write("record_rules", "clear", rule(8, 8, 2, HLC, b"", b"node", b""))
write("record_rules", "bad_origin", rule(8, 8, 0, 0, b"k", b"a\x7fb", b""))

# ---- node_config: one argv word per line, "$NAME=value" for environment variables ----
write("node_config", "mesh", "$HOSTNAME=node1\n$MESH_NETWORK_URL=http://lb:8080\n$PORT=0\n"
      "$ADVERTISE_URL=http://node1:0\n$MESH_SECRET=s\n--probe-interval-ms\n200\n")
write("node_config", "persistence", "--data-dir\n/tmp/x\n$FSYNC=always\n--compact-min-bytes=4096\n"
      "--repair\n")
write("node_config", "memory", "$MEMORY=1\n$MAX_KEY_LENGTH=16383\n$MAX_VALUE_LENGTH=0\n")
write("node_config", "bad_hostname", "$HOSTNAME=a\x01b\n")
write("node_config", "ranges", "--max-batch-bytes\n4096\n$REPLICATION_WINDOW_BYTES=1048576\n"
      "$DRAIN_TIMEOUT_MS=1501\n--log-level=trace\n")
write("node_config", "help", "--help\n")

# ---- swarm_tasks: a network choice byte (0 "", 1 "mesh", 2 "meshkv_mesh", 3 "ingress"), then
# a GET /tasks answer ----
def task(tid, slot, state, desired, nets):
    atts = ",".join(
        '{"Network":{"Spec":{"Name":"%s"%s}},"Addresses":["%s"]}'
        % (n, ',"Ingress":true' if n == "ingress" else "", a) for n, a in nets)
    return ('{"ID":"%s","Slot":%d,"DesiredState":"%s","Status":{"State":"%s",'
            '"ContainerStatus":{"ContainerID":"%s"}},"NetworksAttachments":[%s]}'
            % (tid, slot, desired, state, "c" * 64, atts))


write("swarm_tasks", "running", b"\x01" + ("[%s,%s]" % (
    task("t1", 1, "running", "running", [("ingress", "10.255.0.5/16"), ("meshkv_mesh", "10.0.1.5/24")]),
    task("t2", 2, "starting", "running", [("meshkv_mesh", "10.0.1.6/24")]))).encode())
write("swarm_tasks", "stopping", b"\x00" + ("[%s]" % task(
    "t3", 3, "running", "shutdown", [("meshkv_mesh", "fd00::7/64")])).encode())
write("swarm_tasks", "global_mode", b"\x02" + b'[{"ID":"g1","NodeID":"n1","DesiredState":"running",'
      b'"Status":{"State":"running"},"NetworksAttachments":[]}]')
write("swarm_tasks", "not_an_array", b"\x00" + b'{"message":"This node is not a swarm manager."}')
