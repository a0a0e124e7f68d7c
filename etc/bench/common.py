"""What the Python helpers of etc/bench-replica.sh (replica.py) and
etc/bench-serve.sh (serve.py) share; the shell side is etc/bench/common.sh.

free_port(avoid)        a free TCP port on 127.0.0.1 (20000-32000)
pct(sorted, q)          the q-th percentile (index int(n*q))
fsync_lat(dir, count)   p50/p90/mean of (append 4 KiB + fdatasync), key=value lines
print_median(values)    the median, three decimals
walk(path)              (bytes, events, {type: count}) of a binlog file
terminate_on_signal(f)  SIGTERM/SIGINT: SIGTERM the pids f() names, then exit
Results(path)           the key<TAB>value results file the shell writes (`res`)
cell, ratio, verdict    the summary's cells
summary_head, notes     the summary's first and last lines
main(commands)          `python3 SCRIPT COMMAND ARGS...` dispatch

Standard library only.
"""
import mmap, os, random, signal, socket, statistics, struct, sys, time


def free_port(avoid):
    for _ in range(500):
        p = random.randint(20000, 32000)
        if str(p) in avoid:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            s.close()
    sys.exit("no free port below 32768")


def pct(sorted_values, q):
    """The q-th percentile of sorted values (index int(n*q))."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def fsync_lat(directory, count):
    path = os.path.join(directory, "fdatasync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    buf = os.urandom(4096)
    lat = []
    try:
        for _ in range(count):
            t = time.perf_counter()
            os.write(fd, buf)
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    print(f"p50_us={statistics.median(lat) * 1e6:.1f}")
    print(f"p90_us={pct(lat, 0.9) * 1e6:.1f}")
    print(f"mean_us={statistics.mean(lat) * 1e6:.1f}")


def print_median(values):
    print(f"{statistics.median([float(v) for v in values]):.3f}")


def walk(path):
    """(bytes, events, types{}) of one binlog file, by its event headers."""
    n, types = 0, {}
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size == 0:
            return 0, 0, types
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            if m[:4] != b"\xfebin":
                sys.exit(f"{path}: no binlog magic")
            pos = 4
            while pos + 19 <= size:
                t = m[pos + 4]
                ln = struct.unpack_from("<I", m, pos + 9)[0]
                if ln < 19:
                    sys.exit(f"{path}: bad event length {ln} at {pos}")
                n += 1
                types[t] = types.get(t, 0) + 1
                pos += ln
            if pos != size:
                print(f"warning: {path}: {size - pos} trailing bytes", file=sys.stderr)
        finally:
            m.close()
    return size, n, types


def terminate_on_signal(pids):
    """On SIGTERM or SIGINT: SIGTERM every process `pids()` names, then exit
    with 128 + the signal (so the shell's cleanup never leaves them behind)."""

    def on_signal(signum, frame):
        for pid in pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


class Results:
    """The results file: one `key<TAB>value` line per figure (common.sh `res`)."""

    def __init__(self, path):
        self.r = {}
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                self.r[k] = v

    def get(self, k):
        return self.r.get(k, "")

    def num(self, k):
        try:
            return float(self.r[k])
        except (KeyError, ValueError):
            return None

    def notes(self):
        return [v for k, v in sorted(self.r.items()) if k.startswith("note")]


def cell(x, spec="{:.2f}"):
    return "–" if x is None else spec.format(x)


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "–" if ok is None else ("PASS" if ok else "**FAIL**")


def summary_head(res, title, disk_holds):
    """Title, command line, machine and disk (record_machine's keys)."""
    g = res.get
    return [
        f"# binlogserver {title} benchmark ({g('date')})",
        "",
        f"- command: `{g('cmdline')}`",
        f"- machine: {g('nproc')} CPUs ({g('cpu')}), {g('mem')} RAM; kernel {g('kernel')}",
        f"- disk of the temp dir ({disk_holds}): {g('disk')}",
    ]


def notes(res):
    """The notes after the table (every `note*` key, in key order)."""
    lines = [""]
    if res.notes():
        lines.append("Notes:")
        lines.extend(f"- {n}" for n in res.notes())
        lines.append("")
    return lines


def main(commands):
    """Runs `commands[argv[1]](argv[2:])`."""
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd not in commands:
        sys.exit(f"unknown helper {cmd}")
    commands[cmd](args)
