#!/usr/bin/env python3
"""Reads a binlog stream with python-mysql-replication and prints one JSON
line per event, then one summary line.

Used by the end-to-end tests (tests/it/common/python.rs) against binlogserver
and, as a self-test of the harness, against a real MariaDB primary. Every
event the library yields is printed with its header fields; the test compares
them with the events in the stored binlog files.

Event line keys: event (the library's class name), type (type code),
log_pos, size (whole event, header and checksum included), flags,
timestamp, server_id, received (bytes actually received for it), crc_ok
(the CRC32 footer matches the bytes received; null when checksums are off),
footer (the CRC32 footer as a number, or null),
and where they apply gtid (GTID events), next_file and position (ROTATE),
gtid_list (MariaDB GTID_LIST, comma-separated).

Summary line keys: summary ("eof" when the server ended the stream with an
EOF packet as asked for by a non-blocking dump, "limit" when --max-events was
reached), events, heartbeats.

On an error the last line is {"error": "..."} and the exit status is 2.
"""

import argparse
import json
import struct
import sys
import zlib

import pymysql
import pymysqlreplication.binlogstream as binlogstream
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import NotImplementedEvent
from pymysqlreplication.packet import BinLogPacketWrapper


def all_event_classes():
    """Every class the library can decode into, plus its catch-all, so that
    no event is filtered out (the default list leaves out e.g. INTVAR)."""
    classes = set(BinLogPacketWrapper._BinLogPacketWrapper__event_map.values())
    classes.add(NotImplementedEvent)
    return list(classes)


def record(ev, checksums):
    p = ev.packet
    # The whole event as received: the packet payload after its OK byte.
    raw = p.packet.get_all_data()[1:]
    crc_ok = None
    footer = None
    if checksums and len(raw) >= 23:
        footer = struct.unpack("<I", raw[-4:])[0]
        crc_ok = zlib.crc32(raw[:-4]) == footer
    out = {
        "event": type(ev).__name__,
        "type": p.event_type,
        "log_pos": p.log_pos,
        "size": p.event_size,
        "flags": p.flags,
        "timestamp": p.timestamp,
        "server_id": p.server_id,
        "received": len(raw),
        "crc_ok": crc_ok,
        "footer": footer,
    }
    name = type(ev).__name__
    if name in ("GtidEvent", "MariadbGtidEvent"):
        out["gtid"] = str(ev.gtid)
    elif name == "RotateEvent":
        out["next_file"] = ev.next_binlog
        out["position"] = ev.position
    elif name == "MariadbGtidListEvent":
        out["gtid_list"] = ",".join(g.gtid for g in ev.gtid_list)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="")
    ap.add_argument("--server-id", type=int, default=4242)
    ap.add_argument("--mariadb", action="store_true", help="is_mariadb=True")
    ap.add_argument(
        "--annotate",
        action="store_true",
        help="MariaDB: ask for ANNOTATE_ROWS events (dump flag 0x02)",
    )
    ap.add_argument("--log-file")
    ap.add_argument("--log-pos", type=int)
    ap.add_argument("--gtid", help="auto_position: a GTID set (MySQL) or position (MariaDB)")
    ap.add_argument("--blocking", action="store_true", help="blocking dump (no EOF at the end)")
    ap.add_argument("--max-events", type=int, help="stop after this many events")
    ap.add_argument("--heartbeat", type=float, help="slave_heartbeat in seconds")
    ap.add_argument("--read-timeout", type=float, default=60.0)
    args = ap.parse_args()

    # A lost connection must fail the read: by default the library reconnects
    # silently (and, for MariaDB, restarts from the first binlog).
    binlogstream.MYSQL_EXPECTED_ERROR_CODES = []

    settings = {
        "host": args.host,
        "port": args.port,
        "user": args.user,
        "passwd": args.password,
        "read_timeout": args.read_timeout,
        "connect_timeout": 10,
    }
    kwargs = dict(
        connection_settings=settings,
        server_id=args.server_id,
        blocking=args.blocking,
        only_events=all_event_classes(),
        filter_non_implemented_events=False,
        is_mariadb=args.mariadb,
        annotate_rows_event=args.annotate,
        # Checked here instead (record()): the library's own check rewinds
        # the packet and breaks its GTID_LIST decoding.
        verify_checksum=False,
        enable_logging=False,
    )
    if args.gtid is not None:
        kwargs["auto_position"] = args.gtid
    if args.log_file is not None:
        kwargs["log_file"] = args.log_file
        kwargs["log_pos"] = args.log_pos if args.log_pos is not None else 4
        kwargs["resume_stream"] = True
    if args.heartbeat is not None:
        kwargs["slave_heartbeat"] = args.heartbeat

    count = 0
    heartbeats = 0
    reason = "eof"
    stream = BinLogStreamReader(**kwargs)
    try:
        for ev in stream:
            rec = record(ev, stream._BinLogStreamReader__use_checksum)
            if rec["event"] == "HeartbeatLogEvent":
                heartbeats += 1
            count += 1
            print(json.dumps(rec), flush=True)
            if args.max_events is not None and count >= args.max_events:
                reason = "limit"
                break
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails
        print(json.dumps({"error": f"{type(e).__name__}: {e}", "events": count}), flush=True)
        return 2
    finally:
        stream.close()
    print(json.dumps({"summary": reason, "events": count, "heartbeats": heartbeats}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
