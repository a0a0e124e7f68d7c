#!/usr/bin/env python3
"""A bare binlog dump over PyMySQL: COM_BINLOG_DUMP (non-blocking) from a
file and position, after setting exactly the session variables given with
--set (nothing else: no @mariadb_slave_capability unless asked). Prints one
line per event received: its bytes in hex; then "eof".

Used by tests/it/serve_like_the_primary.rs to compare, byte for byte, what
binlogserver and a real primary send to the same request. Exit status 2 and
an "error: ..." line on failure.
"""

import argparse
import struct
import sys

import pymysql

COM_BINLOG_DUMP = 0x12


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="")
    ap.add_argument("--file", required=True)
    ap.add_argument("--pos", type=int, default=4)
    ap.add_argument("--server-id", type=int, default=4343)
    ap.add_argument("--flags", type=int, default=1, help="dump flags; 1 = non-blocking")
    ap.add_argument("--set", action="append", default=[], help="a SET statement's body, e.g. @x=1")
    args = ap.parse_args()
    try:
        conn = pymysql.connect(host="127.0.0.1", port=args.port, user=args.user,
                               password=args.password, read_timeout=60, connect_timeout=10)
        with conn.cursor() as cur:
            for s in args.set:
                cur.execute("SET " + s)
        payload = struct.pack("<IHI", args.pos, args.flags, args.server_id) + args.file.encode()
        conn._execute_command(COM_BINLOG_DUMP, payload)
        while True:
            pkt = conn._read_packet()
            data = pkt.get_all_data()
            if data[:1] == b"\xfe" and len(data) < 9:
                print("eof", flush=True)
                return 0
            if data[:1] != b"\x00":
                print("error: unexpected packet " + data[:64].hex(), flush=True)
                return 2
            print(data[1:].hex(), flush=True)
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails
        print(f"error: {type(e).__name__}: {e}", flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
