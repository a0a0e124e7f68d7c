"""Helpers of etc/bench-serve.sh: `python3 etc/bench/serve.py COMMAND ARGS...`.

port [AVOID...]          a free TCP port on 127.0.0.1 (20000-32000)
fsync DIR COUNT          p50/p90 of (append 4 KiB + fdatasync) in DIR
median V...              median of numbers
stats FILE...            bytes/events of binlog files (by their event headers)
readers N PORT FIRST OUTBASE NAMES LABEL [OPTION...]
                         N concurrent `mariadb-binlog --read-from-remote-server
                         --raw --to-last-log [OPTION...]` from PORT (options such
                         as --skip-ssl, --ssl-ca=FILE), outputs to /dev/null
rss PID [SAMPLES]        median VmRSS (kB) and Threads of PID
latency ...              commit -> visible on two replicas (see `latency`)
monitor DATADIR LOG EXPECT TIMEOUT PIDFILE CMD...
                         runs binlogserver (CMD) until it caught up (common.py)
compare REF GOT NAME...  byte comparison of copied binlog files (common.py)
render RESULTS           the markdown summary

No third-party module: the MySQL client used by `latency` is a small
implementation of the text protocol (mysql_native_password, COM_QUERY).
What replica.py does too lives in common.py.
"""
import hashlib, os, queue, resource, socket, statistics, struct, sys, threading, time

from common import (Results, cell, compare, free_port, fsync_lat, main, monitor, notes, pct,
                    print_median, ratio, summary_head, terminate_on_signal, verdict, walk)


def stats(paths):
    tb = te = 0
    for path in paths:
        size, events, _ = walk(path)
        tb += size
        te += events
    print(f"bytes={tb}\nevents={te}\navg_event={tb / te if te else 0:.1f}")


# ---------------------------------------------------------------- concurrent readers
def readers(n, port, first, outbase, names, label, options):
    """Starts n mariadb-binlog readers at once; each writes into its own
    directory prefix whose entries (one per binlog file name) are symlinks to
    /dev/null, so nothing is stored. Prints wall time of the slowest, spread,
    failures, the readers' CPU time, and whether the sinks stayed symlinks."""
    names = names.split(",")
    dirs, errs = [], []
    for i in range(n):
        d = os.path.join(outbase, f"{label}-{i}")
        os.makedirs(d)
        for name in names:
            os.symlink("/dev/null", os.path.join(d, name))
        dirs.append(d)
        errs.append(os.path.join(outbase, f"{label}-{i}.err"))
    children = {}
    terminate_on_signal(lambda: list(children))
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for i in range(n):
        argv = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", "--raw", "--to-last-log",
                f"--result-file={dirs[i]}/", "-h", "127.0.0.1", "-P", str(port), "-u", "repl", "-preplpass",
                *options, first]
        fa = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
              (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
              (os.POSIX_SPAWN_OPEN, 2, errs[i], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
        children[os.posix_spawnp(argv[0], argv, os.environ, file_actions=fa)] = i
    t_spawned = time.perf_counter() - t0
    ends, codes = {}, {}
    while len(ends) < n:
        pid, status = os.wait()
        t = time.perf_counter() - t0
        if pid in children:
            i = children.pop(pid)
            ends[i] = t
            codes[i] = os.waitstatus_to_exitcode(status)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    times = sorted(ends.values())
    failed = [i for i in range(n) if codes[i] != 0]
    # the sinks: every entry must still be a symlink to /dev/null, and no other file may exist
    stray = []
    for d in dirs:
        for entry in sorted(os.listdir(d)):
            p = os.path.join(d, entry)
            if not os.path.islink(p):
                stray.append(f"{entry} ({os.path.getsize(p)} bytes)")
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(f"wall_s={times[-1]:.3f}")
    print(f"first_s={times[0]:.3f}")
    print(f"median_s={statistics.median(times):.3f}")
    print(f"spawn_s={t_spawned:.3f}")
    print(f"failed={len(failed)}")
    print(f"client_cpu_s={cpu:.2f}")
    print(f"stray={len(stray)}")
    if stray:
        print("stray_detail=" + "; ".join(sorted(set(stray))[:5]))
    if failed:
        with open(errs[failed[0]], "rb") as f:
            msg = f.read().decode("utf-8", "replace").strip().replace("\n", " | ")[:300]
        print(f"fail_detail=reader {failed[0]} exit {codes[failed[0]]}: {msg}")


def rss(pid, samples):
    vals, thr = [], []
    for k in range(samples):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    vals.append(int(line.split()[1]))
                elif line.startswith("Threads:"):
                    thr.append(int(line.split()[1]))
        if k + 1 < samples:
            time.sleep(0.2)
    print(f"rss_kb={int(statistics.median(vals))}")
    print(f"rss_min_kb={min(vals)}")
    print(f"rss_max_kb={max(vals)}")
    print(f"threads={int(statistics.median(thr))}")


# ---------------------------------------------------------------- a minimal MySQL client
class SqlError(Exception):
    pass


class Conn:
    """Text-protocol client: mysql_native_password login, COM_QUERY, rows as str."""

    CAPS = 0x1 | 0x4 | 0x200 | 0x2000 | 0x8000 | 0x80000  # LONG_PASSWORD LONG_FLAG PROTOCOL_41 TRANSACTIONS SECURE_CONNECTION PLUGIN_AUTH

    def __init__(self, port, user, password, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rf = self.sock.makefile("rb")
        self.seq = 0
        pkt = self.read()
        if pkt[0] == 0xFF:
            raise SqlError(self.err(pkt))
        p = pkt.index(b"\0", 1) + 1 + 4
        salt = pkt[p:p + 8]
        p += 8 + 1 + 2 + 1 + 2 + 2
        auth_len = pkt[p]
        p += 1 + 10
        n2 = max(13, auth_len - 8)
        salt += pkt[p:p + n2].rstrip(b"\0")
        pw = password.encode()
        auth = self.native(pw, salt[:20])
        self.write(struct.pack("<IIB23x", self.CAPS, 1 << 24, 33) + user.encode() + b"\0"
                   + bytes([len(auth)]) + auth + b"mysql_native_password\0")
        pkt = self.read()
        if pkt[0] == 0xFE:  # auth switch
            e = pkt.index(b"\0", 1)
            plugin, data = pkt[1:e], pkt[e + 1:].rstrip(b"\0")
            if plugin != b"mysql_native_password":
                raise SqlError(f"unsupported auth plugin {plugin!r}")
            self.write(self.native(pw, data[:20]))
            pkt = self.read()
        if pkt[0] == 0xFF:
            raise SqlError(self.err(pkt))
        if pkt[0] != 0x00:
            raise SqlError(f"unexpected login reply {pkt[:1].hex()}")

    @staticmethod
    def native(pw, scramble):
        if not pw:
            return b""
        h1 = hashlib.sha1(pw).digest()
        h3 = hashlib.sha1(scramble + hashlib.sha1(h1).digest()).digest()
        return bytes(a ^ b for a, b in zip(h1, h3))

    @staticmethod
    def err(pkt):
        code = struct.unpack_from("<H", pkt, 1)[0]
        msg = pkt[9:] if pkt[3:4] == b"#" else pkt[3:]
        return f"ERROR {code}: {msg.decode('utf-8', 'replace')}"

    def read(self):
        h = self.rf.read(4)
        if len(h) < 4:
            raise SqlError("connection closed")
        n = h[0] | h[1] << 8 | h[2] << 16
        self.seq = (h[3] + 1) & 0xFF
        body = self.rf.read(n)
        if len(body) < n:
            raise SqlError("connection closed")
        return body

    def write(self, body):
        self.sock.sendall(struct.pack("<I", len(body))[:3] + bytes([self.seq]) + body)
        self.seq = (self.seq + 1) & 0xFF

    @staticmethod
    def lenenc(b, p):
        c = b[p]
        if c < 0xFB:
            return c, p + 1
        if c == 0xFB:
            return None, p + 1
        if c == 0xFC:
            return struct.unpack_from("<H", b, p + 1)[0], p + 3
        if c == 0xFD:
            return int.from_bytes(b[p + 1:p + 4], "little"), p + 4
        return struct.unpack_from("<Q", b, p + 1)[0], p + 9

    def query(self, sql):
        self.seq = 0
        self.write(b"\x03" + sql.encode())
        pkt = self.read()
        if pkt[0] == 0x00:
            return []
        if pkt[0] == 0xFF:
            raise SqlError(f"{self.err(pkt)} ({sql[:80]})")
        ncols, _ = self.lenenc(pkt, 0)
        for _ in range(ncols):
            self.read()
        pkt = self.read()  # EOF after the column definitions
        rows = []
        while True:
            pkt = self.read()
            if pkt[0] == 0xFE and len(pkt) < 9:
                return rows
            if pkt[0] == 0xFF:
                raise SqlError(f"{self.err(pkt)} ({sql[:80]})")
            row, p = [], 0
            for _ in range(ncols):
                ln, p = self.lenenc(pkt, p)
                if ln is None:
                    row.append(None)
                else:
                    row.append(pkt[p:p + ln].decode("utf-8", "replace"))
                    p += ln
            rows.append(row)

    def value(self, sql):
        return self.query(sql)[0][0]


def latency(pport, dport, bport, count, warmup, first_id, gap_ms):
    """One commit at a time on the primary (autocommit INSERT of one row).
    Before each, both replicas get `SELECT MASTER_GTID_WAIT(<its GTID>, 30)`
    from their own thread (sent 5 ms ahead, so that the wait is in place);
    the latency of a replica is the time from the INSERT's OK until its wait
    returns (it returns when the replica's SQL thread committed the GTID,
    in the same transaction as the row), all on one monotonic clock. After
    each measurement the row is looked up on both replicas (not timed)."""
    prim = Conn(pport, "bench", "benchpass")
    names = ("direct", "bls")
    conns = {"direct": Conn(dport, "bench", "benchpass"), "bls": Conn(bport, "bench", "benchpass")}
    inq = {k: queue.Queue() for k in names}
    outq = {k: queue.Queue() for k in names}

    def worker(k):
        c = conns[k]
        while True:
            g = inq[k].get()
            if g is None:
                return
            try:
                r = c.query(f"SELECT MASTER_GTID_WAIT('{g}', 30)")
                outq[k].put((time.perf_counter(), r[0][0]))
            except Exception as e:  # reported by the main thread
                outq[k].put((time.perf_counter(), f"error: {e}"))

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in names]
    for t in threads:
        t.start()

    def next_seq():
        pos = prim.value("SELECT @@gtid_binlog_pos")
        for part in pos.split(","):
            d, s, n = part.strip().split("-")
            if d == "0":
                return int(n) + 1
        return 1

    seq = next_seq()
    commit, lat = [], {k: [] for k in names}
    invisible = {k: 0 for k in names}
    failures, mismatch = [], 0
    for i in range(warmup + count):
        g = f"0-1-{seq}"
        for k in names:
            inq[k].put(g)
        time.sleep(0.005)
        rid = first_id + i
        t0 = time.perf_counter()
        prim.query(f"INSERT INTO lat.t VALUES ({rid}, NOW(6))")
        t1 = time.perf_counter()
        got = {}
        for k in names:
            try:
                got[k] = outq[k].get(timeout=60)
            except queue.Empty:
                sys.exit(f"replica {k}: MASTER_GTID_WAIT('{g}') did not return within 60 s")
        last = prim.value("SELECT @@last_gtid")
        if last != g:
            mismatch += 1
            seq = int(last.split("-")[2])
        seq += 1
        bad = [f"{k}: {got[k][1]}" for k in names if got[k][1] != "0"]
        for k in names:
            if conns[k].value(f"SELECT COUNT(*) FROM lat.t WHERE id = {rid}") != "1":
                invisible[k] += 1
        if bad:
            failures.append(f"{g}: " + ", ".join(bad))
        elif i >= warmup and last == g:
            commit.append(t1 - t0)
            for k in names:
                lat[k].append(got[k][0] - t1)
        time.sleep(gap_ms / 1000)
    for k in names:
        inq[k].put(None)
    n = len(commit)
    print(f"samples={n}")
    print(f"warmup={warmup}")
    print(f"failures={len(failures)}")
    if failures:
        print("failure_detail=" + "; ".join(failures[:3]))
    print(f"gtid_mismatch={mismatch}")
    for k in names:
        print(f"invisible_{k}={invisible[k]}")
    if n == 0:
        return
    diffs = sorted(b - a for a, b in zip(lat["direct"], lat["bls"]))
    commit.sort()
    for k in names:
        v = sorted(lat[k])
        print(f"{k}_p50_ms={statistics.median(v) * 1e3:.3f}")
        print(f"{k}_p90_ms={pct(v, 0.9) * 1e3:.3f}")
        print(f"{k}_p99_ms={pct(v, 0.99) * 1e3:.3f}")
        print(f"{k}_min_ms={v[0] * 1e3:.3f}")
        print(f"{k}_max_ms={v[-1] * 1e3:.3f}")
    print(f"pair_p50_ms={statistics.median(diffs) * 1e3:.3f}")
    print(f"pair_p90_ms={pct(diffs, 0.9) * 1e3:.3f}")
    print(f"commit_p50_ms={statistics.median(commit) * 1e3:.3f}")
    print(f"commit_p90_ms={pct(commit, 0.9) * 1e3:.3f}")


# ---------------------------------------------------------------- summary
def tls_rows(res):
    """Rows 4a/4b/4b' of the summary: TLS against plain TCP (etc/bench/serve-tls.sh)."""
    g, num, f = res.get, res.num, cell
    by = num("tls_bytes")
    if by is None:
        return []
    L = []
    tp, tt = num("tls_cu_plain_s"), num("tls_cu_tls_s")
    mp, mt = ratio(by / 1e6, tp), ratio(by / 1e6, tt)
    q = ratio(mt, mp)
    same = g("tls_cu_tls_identical") == "yes" and g("tls_cu_plain_identical") == "yes"
    ok = None if q is None else q >= 0.8 and same
    L.append(f"| 4a | catch-up from an empty dir, {g('tls_files')} file(s), {by / 1e6:.1f} MB "
             f"({g('tls_events')} events): binlogserver `--ssl-mode VERIFY_CA --ssl-ca CA` vs "
             f"`--ssl-mode DISABLED`, start until its files have the primary's sizes; "
             f"median of {g('tls_repeat')} (runs {g('tls_cu_tls_runs')} s vs {g('tls_cu_plain_runs')} s); "
             f"binlogserver CPU {g('tls_cu_tls_cpu')} s vs {g('tls_cu_plain_cpu')} s, primary CPU "
             f"{g('tls_cu_tls_pcpu')} s vs {g('tls_cu_plain_pcpu')} s; copies == primary's: TLS "
             f"{g('tls_cu_tls_identical')}, plain {g('tls_cu_plain_identical')} "
             f"| {f(mt, '{:.0f} MB/s')} (TLS) | {f(mp, '{:.0f} MB/s')} (plain) | {f(q)} | ≥ 0.80 "
             f"| {verdict(ok)} |")
    for n in g("readers").split():
        mb = {}
        for k in ("bls_tls", "bls_plain", "pri_tls", "pri_plain"):
            w = num(f"tls_rd_{k}_{n}_wall")
            mb[k] = None if w is None else int(n) * by / 1e6 / w
        if mb["bls_tls"] is None and mb["bls_plain"] is None:
            continue
        q, qp = ratio(mb["bls_tls"], mb["bls_plain"]), ratio(mb["pri_tls"], mb["pri_plain"])
        fails = {k: int(num(f"tls_rd_{k}_{n}_failed") or 0) for k in mb}
        ok = None if q is None else q >= 0.8 and fails["bls_tls"] + fails["bls_plain"] == 0
        for who, name in (("bls", "binlogserver"), ("pri", "the primary (reference)")):
            t, p = f"tls_rd_{who}_tls_{n}", f"tls_rd_{who}_plain_{n}"
            desc = (f"serving, N={n} concurrent readers from {name}, `--ssl --ssl-ca CA "
                    f"--ssl-verify-server-cert` vs `--skip-ssl`: slowest reader {f(num(t + '_wall'))} s "
                    f"vs {f(num(p + '_wall'))} s (runs {g(t + '_runs')} vs {g(p + '_runs')}); server CPU "
                    f"{g(t + '_srv_cpu')} s vs {g(p + '_srv_cpu')} s, readers' CPU {g(t + '_cli_cpu')} s "
                    f"vs {g(p + '_cli_cpu')} s; failed readers {fails[who + '_tls']} vs {fails[who + '_plain']}")
            if who == "bls":
                L.append(f"| 4b | {desc} | {f(mb['bls_tls'], '{:.0f} MB/s')} (TLS) "
                         f"| {f(mb['bls_plain'], '{:.0f} MB/s')} (plain) | {f(q)} | ≥ 0.80 | {verdict(ok)} |")
            elif mb["pri_tls"] is not None:
                L.append(f"| 4b″ | {desc} | {f(mb['pri_tls'], '{:.0f} MB/s')} (TLS) "
                         f"| {f(mb['pri_plain'], '{:.0f} MB/s')} (plain) | {f(qp)} | – | reference |")
    if g("tls_verify"):
        L.append(f"| 4b' | one TLS reader's output == one plain reader's (bytes): {g('tls_verify_detail')} "
                 f"| {g('tls_verify')} | – | – | identical | {verdict(g('tls_verify') == 'yes')} |")
    return L


def render(resfile):
    res = Results(resfile)
    g, num, f = res.get, res.num, cell
    L = summary_head(res, "serving", "primary, binlogserver, replicas")
    L.append(f"- versions: {g('v_bls')} ({g('v_git')}); {g('v_rustc')}; {g('v_mariadbd')}; {g('v_mariadb_binlog')}")
    L.append(f"- primary: one throwaway mariadbd for the whole run ({g('primary_opts')}), started with: {g('primary_phases')}")
    L.append(f"- binlogserver: {g('bls_cmd')}")
    if g("bls_restarts"):
        L.append(f"- {g('bls_restarts')}")
    if g("read_bytes"):
        L.append(f"- read test: {g('read_files')} binlog file(s), {num('read_bytes') / 1e6:.1f} MB, {g('read_events')} events "
                 f"(avg {num('read_avg_event'):.0f} B), written with {g('gen_engine')} tables; every reader reads all of it "
                 f"(`mariadb-binlog --read-from-remote-server --raw --to-last-log`, from the first file)")
        L.append(f"- reader output: {g('out_sink')}")
        L.append(f"- page cache: {g('cache_mode')}")
        L.append(f"- aggregate MB/s = N × {num('read_bytes') / 1e6:.1f} MB / wall time of the slowest reader (MB = 10^6 bytes); "
                 f"{g('read_repeat')} run(s) per server and N, median; order {g('read_order')}")
    if g("tls_bytes"):
        L.append(f"- TLS (part 4): certificates made with openssl (EC P-256 CA and server certificate for 127.0.0.1); "
                 f"the primary and binlogserver's listener offer TLS for the whole run, parts 1-3 use plain TCP; "
                 f"{g('tls_repeat')} round(s), alternating which mode goes first (odd rounds plain first), medians; "
                 f"page cache warm before every run; every TLS run checked to use TLS and every plain run not "
                 f"(the primary's Ssl_accepts; binlogserver's log: {g('tls_session') or '?'})")
    L.append("")
    L.append("| # | figure | binlogserver | primary / direct (reference) | ratio / value | target | result |")
    L.append("|---|---|---|---|---|---|---|")
    by = num("read_bytes")
    for n in g("readers").split():
        wb, wp = num(f"rd_bls_{n}_wall"), num(f"rd_pri_{n}_wall")
        if wb is None and wp is None:
            continue
        mb = None if wb is None else int(n) * by / 1e6 / wb
        mp = None if wp is None else int(n) * by / 1e6 / wp
        q = ratio(mb, mp)
        ok = None if q is None else q >= 1.5
        fails = (num(f"rd_bls_{n}_failed") or 0) + (num(f"rd_pri_{n}_failed") or 0)
        if fails:
            ok = False
        desc = (f"aggregate read throughput, N={n} concurrent readers: slowest reader {f(wb, '{:.2f}')} s vs {f(wp, '{:.2f}')} s "
                f"(runs {g(f'rd_bls_{n}_runs')} vs {g(f'rd_pri_{n}_runs')}; first/median reader done at {g(f'rd_bls_{n}_spread')} vs {g(f'rd_pri_{n}_spread')} s); "
                f"server CPU {g(f'rd_bls_{n}_srv_cpu')} s vs {g(f'rd_pri_{n}_srv_cpu')} s, readers' CPU {g(f'rd_bls_{n}_cli_cpu')} s vs {g(f'rd_pri_{n}_cli_cpu')} s; "
                f"failed readers {int(num(f'rd_bls_{n}_failed') or 0)} vs {int(num(f'rd_pri_{n}_failed') or 0)}")
        L.append(f"| 1 | {desc} | {f(mb, '{:.0f} MB/s')} | {f(mp, '{:.0f} MB/s')} (primary) | {f(q)} | ≥ 1.50 | {verdict(ok)} |")
    if g("verify"):
        L.append(f"| 1' | one reader's output from binlogserver == from the primary (bytes): {g('verify_detail')} | {g('verify')} | – | – | identical | {verdict(g('verify') == 'yes')} |")
    if g("mem_bls_base_kb"):
        n = num("mem_idle")
        b0, b1 = num("mem_bls_base_kb"), num("mem_bls_with_kb")
        per = (b1 - b0) / n / 1024
        p0, p1 = num("mem_pri_base_kb"), num("mem_pri_with_kb")
        pper = None if p0 is None or p1 is None else (p1 - p0) / n / 1024
        L.append(f"| 2 | memory per idle connection: VmRSS with {int(n)} `--stop-never` readers at the live end − VmRSS with none, / {int(n)} "
                 f"(binlogserver {b0 / 1024:.1f} → {b1 / 1024:.1f} MiB, {f(num('mem_bls_after_kb'), '{:.0f}')} kB after they left; "
                 f"primary {f(None if p0 is None else p0 / 1024, '{:.1f}')} → {f(None if p1 is None else p1 / 1024, '{:.1f}')} MiB) "
                 f"| {per * 1024:.0f} kB | {f(None if pper is None else pper * 1024, '{:.0f} kB')} (mariadbd) | {per:.3f} MiB | < 1 MiB | {verdict(per < 1)} |")
        L.append(f"| 2' | threads: none → with {int(n)} readers → 1 s after the readers were stopped (SIGTERM) → 1 s after the next write on the primary | "
                 f"{g('mem_bls_thr_base')} → {g('mem_bls_thr_with')} → {g('mem_bls_thr_after')} → {g('mem_bls_thr_nudged') or '–'} | "
                 f"{g('mem_pri_thr_base') or '–'} → {g('mem_pri_thr_with') or '–'} → {g('mem_pri_thr_after') or '–'} → {g('mem_pri_thr_nudged') or '–'} (mariadbd) | – | – | – |")
    fs50, fs90 = num("fsync_p50_us"), num("fsync_p90_us")
    for v, title in (("off", "primary semi-sync OFF"), ("on", "primary semi-sync ON (AFTER_SYNC), binlogserver acknowledging")):
        if not g(f"lat_{v}_samples"):
            continue
        pre = f"lat_{v}_"
        n = g(pre + "samples")
        extra = (f"{n} commits (+{g(pre + 'warmup')} warm-up), commit p50 {g(pre + 'commit_p50_ms')} ms; "
                 f"MASTER_GTID_WAIT failures {g(pre + 'failures')}, row not visible after the wait: direct {g(pre + 'invisible_direct')}, "
                 f"binlogserver {g(pre + 'invisible_bls')}")
        if v == "on":
            extra += f"; semi-sync yes_tx +{g('lat_on_yes')}, no_tx +{g('lat_on_no')}"
        for q, fsq, name in (("p50", fs50, "p50"), ("p90", fs90, "p90")):
            b, d = num(f"{pre}bls_{q}_ms"), num(f"{pre}direct_{q}_ms")
            diff = None if b is None or d is None else b - d
            budget = None if fsq is None else fsq / 1000 + 1
            ok = None if diff is None or budget is None else diff <= budget
            if v == "on":
                ok_s = "reference"
                tgt = "–"
            else:
                ok_s = verdict(ok)
                tgt = f"≤ fdatasync {name} {f(fsq, '{:.0f} µs')} + 1 ms = {f(budget, '{:.2f} ms')}"
            L.append(f"| 3{'' if v == 'off' else '′'} | replica latency {name}, {title}: commit OK on the primary → row applied on a MariaDB replica "
                     f"through binlogserver vs attached to the primary ({extra if q == 'p50' else 'paired difference per commit ' + name + ' ' + g(pre + 'pair_' + q + '_ms') + ' ms'}) "
                     f"| {f(b, '{:.3f} ms')} | {f(d, '{:.3f} ms')} (direct) | {f(diff, '{:+.3f} ms')} | {tgt} | {ok_s} |")
    L.extend(tls_rows(res))
    if g("fsync_runs"):
        L.append("")
        L.append(f"fdatasync on the temp dir's disk (1000 × append 4 KiB + fdatasync, median of probes): p50 {f(fs50, '{:.0f} µs')}, p90 {f(fs90, '{:.0f} µs')} (runs: {g('fsync_runs')})")
    L.extend(notes(res))
    print("\n".join(L))


if __name__ == "__main__":
    main({
        "port": lambda a: print(free_port(a)),
        "fsync": lambda a: fsync_lat(a[0], int(a[1])),
        "median": print_median,
        "stats": stats,
        "readers": lambda a: readers(int(a[0]), int(a[1]), a[2], a[3], a[4], a[5], a[6:]),
        "rss": lambda a: rss(int(a[0]), int(a[1]) if len(a) > 1 else 5),
        "latency": lambda a: latency(int(a[0]), int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]),
                                     float(a[6])),
        "monitor": lambda a: monitor(a[0], a[1], a[2], float(a[3]), a[4], a[5:]),
        "compare": lambda a: compare(a[0], a[1], a[2:]),
        "render": lambda a: render(a[0]),
    })
