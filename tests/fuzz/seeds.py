#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Seeds come from real bytes: the binlog fixtures (tests/fixtures/binlogs),
split into single events for event_header and taken whole (and torn) for
tail_scan; and the client conversations of the MariaDB 10.11 wire captures
(/work/shared/captures/mariadb-10.11/*.wire.log, the statements and
commands real replicas and binlog clients sent), rebuilt into the packets
the clients put on the wire. Deterministic; run again to refresh.

Usage: tests/fuzz/seeds.py [CAPTURES_DIR]
"""

import hashlib
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "binlogs")
CAPTURES = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/captures/mariadb-10.11"
CORPUS = os.path.join(HERE, "corpus")

# CapabilityFlags bits (protocol::flags).
LONG_PASSWORD, CONNECT_WITH_DB, PROTOCOL_41 = 0x1, 0x8, 0x200
SECURE_CONNECTION, PLUGIN_AUTH, CONNECT_ATTRS, LENENC_DATA = 0x8000, 0x80000, 0x100000, 0x200000


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def lenenc(b):
    n = len(b)
    if n < 251:
        return bytes([n]) + b
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n) + b
    return b"\xfd" + struct.pack("<I", n)[:3] + b


def packets(payload, seq):
    out = b""
    while True:
        chunk, payload = payload[:0xFFFFFF], payload[0xFFFFFF:]
        out += struct.pack("<I", len(chunk))[:3] + bytes([seq & 0xFF]) + chunk
        seq += 1
        if len(chunk) < 0xFFFFFF:
            return out


def handshake_response(user, auth, db, plugin, attrs, lenenc_data=True):
    caps = PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | CONNECT_ATTRS
    caps |= LENENC_DATA if lenenc_data else 0
    caps |= CONNECT_WITH_DB if db is not None else 0
    out = struct.pack("<IIB", caps, 1 << 20, 45) + b"\0" * 23 + user + b"\0"
    out += lenenc(auth) if lenenc_data else bytes([len(auth)]) + auth
    if db is not None:
        out += db + b"\0"
    out += plugin + b"\0"
    kv = b"".join(lenenc(k) + lenenc(v) for k, v in attrs)
    return out + lenenc(kv)


def events(image):
    pos, out = 4, []
    while pos + 19 <= len(image):
        (length,) = struct.unpack_from("<I", image, pos + 9)
        if length < 19 or pos + length > len(image):
            break
        out.append(image[pos : pos + length])
        pos += length
    return out


def binlog_seeds():
    for root, _dirs, files in sorted(os.walk(FIXTURES)):
        for name in sorted(files):
            if name.endswith(".md"):
                continue
            image = open(os.path.join(root, name), "rb").read()
            put("tail_scan", image[:65536])
            put("tail_scan", image[: len(image) * 2 // 3])
            for ev in events(image):
                put("event_header", ev[:4096])


def capture_seeds():
    queries, commands = set(), []
    for name in sorted(os.listdir(CAPTURES)) if os.path.isdir(CAPTURES) else []:
        if not name.endswith(".wire.log"):
            continue
        for line in open(os.path.join(CAPTURES, name), errors="replace"):
            m = re.search(r"C->S COM_QUERY (.*)$", line)
            if m:
                queries.add(m.group(1).strip())
            m = re.search(r"C->S COM_BINLOG_DUMP pos=(\d+) flags=0x([0-9a-f]+).* server_id=(\d+) file=(\S*)", line)
            if m:
                pos, flags, sid, f = int(m.group(1)), int(m.group(2), 16), int(m.group(3)), m.group(4).strip("'")
                commands.append(b"\x12" + struct.pack("<IHI", pos, flags, sid) + f.encode())
            m = re.search(r"C->S COM_REGISTER_SLAVE server_id=(\d+)", line)
            if m:
                sid = int(m.group(1))
                commands.append(b"\x15" + struct.pack("<I", sid) + b"\0\0\0" + struct.pack("<HII", 0, 0, 0))
            m = re.search(r"magic=0xef log_pos=(\d+) file=(\S+)", line)
            if m:
                commands.append(b"\xef" + struct.pack("<Q", int(m.group(1))) + m.group(2).encode())
    return sorted(queries), commands


def main():
    binlog_seeds()
    queries, commands = capture_seeds()
    queries += ["SELECT @@gtid_binlog_pos, @@server_id", "SHOW BINARY LOGS", "SHOW MASTER STATUS",
                "SHOW SLAVE HOSTS", "SHOW SLAVE STATUS", "KILL 7", "USE db", "SELECT BINLOG_GTID_POS('mysql-bin.000001', 4)",
                "SET @a='x'\0SELECT @a, @@version, UNIX_TIMESTAMP()", "SHOW REPLICAS", "SHOW BINARY LOG STATUS"]
    gtid = b"\x01\x00\x00\x00\x00\x00\x00\x00" + bytes(range(16)) + struct.pack("<QQQ", 1, 1, 6)
    commands.append(b"\x1e" + struct.pack("<HII", 4, 7, 0) + struct.pack("<QI", 4, len(gtid)) + gtid)
    commands.append(b"\x00" + b"0-1-5,1-2-7")
    commands.append(b"\x00" + b"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7")
    for q in queries:
        put("query", q.encode())
        put("packet_assembler", b"\x00" + packets(b"\x03" + q.encode(), 0))
    for c in commands:
        put("commands", c)
        put("packet_assembler", b"\x00" + packets(c, 0))
    attrs = [(b"_os", b"Linux"), (b"_client_name", b"libmariadb"), (b"_pid", b"8736"),
             (b"_client_version", b"3.3.20"), (b"program_name", b"mysqlbinlog")]
    for resp in [
        handshake_response(b"repl", bytes(range(1, 21)), None, b"mysql_native_password", attrs),
        handshake_response(b"repl", bytes(range(1, 21)), b"information_schema", b"mysql_native_password", []),
        handshake_response(b"root", bytes(range(32)), None, b"caching_sha2_password", attrs, lenenc_data=False),
        handshake_response(b"", b"", None, b"mysql_clear_password", []),
    ]:
        put("handshake", resp)
        put("packet_assembler", b"\x01" + packets(resp, 1))
    # A continuation: a payload of exactly one full chunk plus an empty one is
    # too big for a seed; a short two-packet exchange stands in for it.
    put("packet_assembler", b"\x00" + packets(b"\x0e", 0) + packets(b"\x01", 1))


if __name__ == "__main__":
    main()
