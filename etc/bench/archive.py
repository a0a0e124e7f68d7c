"""The Python side of etc/bench-archive.sh: free ports, arithmetic on the
shell's timings, medians, and the markdown summary.

Standard library only; shares etc/bench/common.py.
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Results, cell, free_port, main, notes, print_median, ratio, summary_head, verdict  # noqa: E402


def div(a, b, scale):
    """a / b / scale, two decimals ('nan' when b is 0)."""
    a, b, scale = float(a), float(b), float(scale)
    print(f"{a / b / scale:.2f}" if b else "nan")


def sub(a, b):
    print(f"{float(a) - float(b):.3f}")


def summary(path):
    res = Results(path)
    g, num = res.get, res.num
    write, arch = num("write_mbs"), num("archive_mbs")
    r_arch, r_local = num("read_archived_mbs"), num("read_local_mbs")
    on, off = num("p50_on"), num("p50_off")
    keep_up = ratio(arch, write)
    lines = summary_head(res, "archive tier", "binlogserver's and the primary's files, Garage's data")
    lines += [
        f"- binlog: {g('size')} bytes of ~4 MiB row events, --max-binlog-size {g('file_size')}; "
        f"{g('garage')}",
        "",
        "| # | figure | archive | reference | ratio / difference | target |",
        "|---|---|---|---|---|---|",
        f"| 1 | upload (upload, HEAD, read back, SHA-256) vs the primary writing at full speed "
        f"into {g('engine')} tables, "
        f"{g('archive_files')} files, all archived {g('drain_after_s')} s after binlogserver started "
        f"| {cell(arch, '{:.1f}')} MB/s | {cell(write, '{:.1f}')} MB/s | {cell(keep_up, '{:.2f}')} "
        f"| ≥ 1: {verdict(None if keep_up is None else keep_up >= 1)} |",
        f"| 1' | CPU during 1 (catch-up included) | {g('cpu_upload')} | | | |",
        f"| 2 | read-back, `mariadb-binlog --raw` of every file: archived vs local "
        f"(runs: {g('runs_read')}) | {cell(r_arch, '{:.1f}')} MB/s | {cell(r_local, '{:.1f}')} MB/s "
        f"| {cell(ratio(r_arch, r_local), '{:.2f}')} | – |",
        f"| 3 | p50 commit latency, 1 client, semi-sync: archive on vs off "
        f"({g('uploads_during_latency')} uploads during the runs; {g('runs_p50')} ms) "
        f"| {cell(on, '{:.3f}')} ms | {cell(off, '{:.3f}')} ms "
        f"| {cell(None if on is None or off is None else (on - off) * 1000, '{:+.0f} µs')} | none added |",
    ]
    lines += notes(res)
    print("\n".join(lines))


if __name__ == "__main__":
    main({
        "port": lambda a: print(free_port(a)),
        "median": print_median,
        "div": lambda a: div(a[0], a[1], a[2]),
        "sub": lambda a: sub(a[0], a[1]),
        "archive_summary": lambda a: summary(a[0]),
    })
