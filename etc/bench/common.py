"""What the Python helpers of etc/bench-replica.sh (replica.py) and
etc/bench-serve.sh (serve.py) share; the shell side is etc/bench/common.sh.

free_port(avoid)        a free TCP port on 127.0.0.1 (20000-32000)
pct(sorted, q)          the q-th percentile (index int(n*q))
fsync_lat(dir, count)   p50/p90/mean of (append 4 KiB + fdatasync), key=value lines
print_median(values)    the median, three decimals
walk(path)              (bytes, events, {type: count}) of a binlog file
compare(ref, got, names)
                        byte comparison of copied binlog files (identical=, detail=)
monitor(dir, log, expect, timeout, pidfile, cmd)
                        runs binlogserver (cmd) until it caught up; times, peak RSS
terminate_on_signal(f)  SIGTERM/SIGINT: SIGTERM the pids f() names, then exit
Results(path)           the key<TAB>value results file the shell writes (`res`)
cell, ratio, verdict    the summary's cells
summary_head, notes     the summary's first and last lines
main(commands)          `python3 SCRIPT COMMAND ARGS...` dispatch

Standard library only.
"""
import mmap, os, random, signal, socket, statistics, struct, subprocess, sys, time


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


def compare(ref_dir, got_dir, names):
    """Byte comparison of copies; a difference inside the first event (the
    format description, whose in-use flag the primary clears when sending
    an open file) is reported as such."""
    out = []
    for name in names:
        a, b = os.path.join(ref_dir, name), os.path.join(got_dir, name)
        if not os.path.exists(b):
            out.append(f"{name}: missing")
            continue
        sa, sb = os.path.getsize(a), os.path.getsize(b)
        diffs, first, fde_end = 0, None, None
        with open(a, "rb") as fa, open(b, "rb") as fb:
            head = fa.read(23)
            fde_end = 4 + struct.unpack_from("<I", head, 13)[0] if len(head) == 23 else 0
            fa.seek(0)
            off = 0
            while True:
                ca, cb = fa.read(1 << 20), fb.read(1 << 20)
                if not ca and not cb:
                    break
                if ca != cb:
                    for i in range(min(len(ca), len(cb))):
                        if ca[i] != cb[i]:
                            diffs += 1
                            if first is None:
                                first = off + i
                            last = off + i
                off += max(len(ca), len(cb))
        if sa != sb:
            out.append(f"{name}: size {sb} != {sa}")
        elif diffs == 0:
            out.append(f"{name}: identical")
        elif diffs == 1 and first == 21 and flag_only(a, b):
            out.append(f"{name}: identical except LOG_EVENT_BINLOG_IN_USE_F, which the primary clears when it sends its open file")
        elif last < fde_end:
            out.append(f"{name}: {diffs} bytes differ, all inside the format description event (offsets {first}-{last})")
        else:
            out.append(f"{name}: {diffs} bytes differ, first at offset {first}")
    ok = all(s.endswith("identical") or "identical except" in s for s in out)
    print(f"identical={'yes' if ok else 'no'}")
    print("detail=" + "; ".join(out))


def flag_only(a, b):
    """True when byte 21 (low byte of the format description's flags) differs
    by the in-use flag (0x01) alone."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(21)
        fb.seek(21)
        x, y = fa.read(1)[0], fb.read(1)[0]
    return x ^ y == 0x01


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_s(pid):
    """user + system CPU seconds of a live process (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def monitor(datadir, logpath, expect, timeout, pidfile, cmd):
    """Starts binlogserver (cmd), polls every 50 ms until its files have the
    primary's sizes and it logged 'caught up with the primary'; records peak
    RSS and its CPU time until then; stops it with SIGTERM. Prints key=value
    lines."""
    want = [(n, int(s)) for n, s in (x.split(":") for x in expect.split(","))]
    logf = open(logpath, "ab")
    child = None
    terminate_on_signal(lambda: [child.pid] if child and child.poll() is None else [])
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
    with open(pidfile, "w") as f:
        f.write(str(child.pid))
    t_equal = t_line = None
    hwm = 0
    seen, logpos = b"", 0
    reason = "timeout"
    while True:
        now = time.monotonic() - t0
        hwm = max(hwm, vm_hwm(child.pid))
        if t_equal is None:
            ok = True
            for n, s in want:
                try:
                    if os.path.getsize(os.path.join(datadir, n)) != s:
                        ok = False
                        break
                except OSError:
                    ok = False
                    break
            if ok:
                t_equal = now
        if t_line is None:
            with open(logpath, "rb") as f:
                f.seek(logpos)
                chunk = f.read()
            logpos += len(chunk)
            seen = (seen + chunk)[-4096:]
            if b"caught up with the primary" in seen:
                t_line = now
        if t_equal is not None and t_line is not None:
            reason = "done"
            break
        if t_equal is not None and now - t_equal > 10:
            reason = "no 'caught up' line within 10 s of the sizes matching"
            break
        if child.poll() is not None:
            reason = f"binlogserver exited with status {child.returncode}"
            break
        if now > timeout:
            break
        time.sleep(0.05)
    hwm = max(hwm, vm_hwm(child.pid))
    cpu = proc_cpu_s(child.pid)
    t_stop = time.monotonic()
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    print(f"reason={reason}")
    print(f"t_equal={'' if t_equal is None else f'{t_equal:.3f}'}")
    print(f"t_line={'' if t_line is None else f'{t_line:.3f}'}")
    print(f"hwm_kb={hwm}")
    print(f"cpu_s={cpu:.2f}")
    print(f"stop_s={time.monotonic() - t_stop:.3f}")
    print(f"exit={child.returncode}")


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
