"""Helpers of etc/bench-replica.sh: `python3 etc/bench/replica.py COMMAND ARGS...`.

port [AVOID...]          a free TCP port on 127.0.0.1 (20000-32000)
fsync DIR COUNT          p50/p90 of (append 4 KiB + fdatasync) in DIR
median V...              median of numbers
stats FILE...            bytes/events/row events/event types of binlog files
compare REF GOT NAME...  byte comparison of copied binlog files
monitor DATADIR LOG EXPECT TIMEOUT PIDFILE CMD...
                         runs binlogserver (CMD) until it caught up; times, peak RSS
render RESULTS           the markdown summary

What serve.py does too (compare and monitor among it) lives in common.py
(standard library only).
"""

from common import (Results, cell, compare, free_port, fsync_lat, main, monitor, notes,
                    print_median, ratio, summary_head, verdict, walk)

def stats(paths):
    tb = te = 0
    types = {}
    for p in paths:
        b, e, t = walk(p)
        tb += b
        te += e
        for k, v in t.items():
            types[k] = types.get(k, 0) + v
    rows = sum(v for k, v in types.items() if k in (23, 24, 25, 30, 31, 32))
    print(f"bytes={tb}\nevents={te}\nrow_events={rows}")
    print(f"avg_event={tb / te if te else 0:.1f}")
    print("types=" + ",".join(f"{k}:{v}" for k, v in sorted(types.items())))

def render(resfile):
    res = Results(resfile)
    g, num, f = res.get, res.num, cell
    L = summary_head(res, "replica", "primary, replicas, outputs")
    L.append(f"- versions: {g('v_bls')} ({g('v_git')}); {g('v_rustc')}; {g('v_mariadbd')}; {g('v_mariadb_binlog')}; {g('v_sysbench')}")
    L.append(f"- primary: one throwaway mariadbd ({g('primary_opts')}), restarted per phase with: {g('primary_phases')}")
    if g("cache_mode"):
        L.append(f"- page cache during catch-up: {g('cache_mode')}")
    if g("gen_engine"):
        L.append(f"- catch-up data written with {g('gen_engine')} tables (row events are the same as InnoDB's; only the commit event differs)")
    L.append("")
    L.append("| # | figure | binlogserver | reference | ratio / value | target | result |")
    L.append("|---|---|---|---|---|---|---|")
    rss = []
    for part, label in (("a", "large row events"), ("b", "small row events")):
        if not g(f"{part}_bytes"):
            continue
        by, ev = num(f"{part}_bytes"), num(f"{part}_events")
        tb, tm = num(f"{part}_bls_s"), num(f"{part}_mb_s")
        desc = (f"catch-up, {label}: {g(part + '_files')} file(s), {by / 1e6:.1f} MB, {int(ev)} events "
                f"(avg {num(part + '_avg_event'):.0f} B); times {f(tb, '{:.2f}')} s vs {f(tm, '{:.2f}')} s")
        if part == "a":
            vb, vm = ratio(by / 1e6, tb), ratio(by / 1e6, tm)
            unit, target = "MB/s", 1.0
        else:
            vb, vm = ratio(ev, tb), ratio(ev, tm)
            unit, target = "events/s", 1.2
        q = ratio(vb, vm)
        fmt = "{:.1f} " + unit if part == "a" else "{:,.0f} " + unit
        L.append(f"| 1{part} | {desc} | {f(vb, fmt)} | {f(vm, fmt)} (mariadb-binlog) | {f(q)} | ≥ {target:.2f} | {verdict(None if q is None else q >= target)} |")
        if num(f"{part}_hwm_kb"):
            rss.append((part, num(f"{part}_hwm_kb")))
    if rss:
        peak = max(v for _, v in rss) / 1024
        detail = ", ".join(f"1{p}: {v / 1024:.1f} MiB" for p, v in rss)
        L.append(f"| 1c | peak RSS (VmHWM) during catch-up ({detail}) | {peak:.1f} MiB | – | {peak:.1f} MiB | < 32 MiB | {verdict(peak < 32)} |")
    for part in ("a", "b"):
        if g(f"{part}_identical"):
            L.append(f"| 1{part}' | binlogserver's files == primary's (bytes) | {g(part + '_identical')} | mariadb-binlog: {g(part + '_mb_identical')} | – | identical | {verdict(g(part + '_identical') == 'yes')} |")
    if g("base_tps"):
        bt, st = num("base_tps"), num("bls_tps")
        q = ratio(st, bt)
        valid = g("bls_valid") == "yes"
        res_ = verdict(None if q is None else q >= 0.85) if valid else "**INVALID** (no_tx > 0 or no yes_tx)"
        L.append(f"| 2a | TPS (median of {g('rounds')} round(s)), {g('threads')} threads, {g('sb_test')} {g('duration')} s: binlogserver semi-sync vs no replica (yes_tx +{g('bls_yes')}, no_tx +{g('bls_no')}); runs: binlogserver {g('runs_bls_tps')}, no replica {g('runs_base_tps')} | {f(st, '{:.1f}')} | {f(bt, '{:.1f}')} (no replica) | {f(q, '{:.3f}')} | ≥ 0.85 | {res_} |")
        b1, s1, fs = num("base1_p50"), num("bls1_p50"), num("fsync_p50_us")
        d = None if b1 is None or s1 is None else (s1 - b1) * 1000
        budget = None if fs is None else fs + 100
        valid1 = g("bls1_valid") == "yes"
        res1 = verdict(None if d is None or budget is None else d <= budget) if valid1 else "**INVALID** (no_tx > 0 or no yes_tx)"
        if valid1 and d is not None and d < 0:
            res1 += " (suspect: negative difference, the no-replica runs were noisier; run longer)"
        L.append(f"| 2b | p50 commit latency, 1 thread: with binlogserver {f(s1, '{:.3f}')} ms − without {f(b1, '{:.3f}')} ms (medians; runs: binlogserver {g('runs_bls1_p50')} ms, no replica {g('runs_base1_p50')} ms; TPS {g('runs_bls1_tps')} vs {g('runs_base1_tps')}) (yes_tx +{g('bls1_yes')}, no_tx +{g('bls1_no')}) | {f(d, '{:.0f} µs')} | fdatasync p50 {f(fs, '{:.0f} µs')} (median; runs {g('runs_fsync')}) | {f(d, '{:.0f} µs')} | ≤ {f(budget, '{:.0f} µs')} | {res1} |")
        if g("mdb_tps"):
            mt = num("mdb_tps")
            q2 = ratio(mt, bt)
            v2 = "reference" if g("mdb_valid") == "yes" else "**INVALID** (no_tx > 0 or no yes_tx)"
            L.append(f"| 2c | TPS, {g('threads')} threads: MariaDB 10.11 replica semi-sync vs no replica (yes_tx +{g('mdb_yes')}, no_tx +{g('mdb_no')}) | – | {f(mt, '{:.1f}')} (replica) | {f(q2, '{:.3f}')} | reference (0.68 measured before) | {v2} |")
            if g("mdb1_p50"):
                m1 = num("mdb1_p50")
                L.append(f"| 2c' | p50 commit latency, 1 thread, MariaDB replica − without (yes_tx +{g('mdb1_yes')}, no_tx +{g('mdb1_no')}) | – | {f(m1, '{:.3f}')} ms | {f(None if m1 is None or b1 is None else (m1 - b1) * 1000, '{:.0f} µs')} | reference | – |")
        if g("tls1_p50"):
            t8, t1 = num("tls_tps"), num("tls1_p50")
            vt = "measured" if g("tls_valid") == "yes" else "**INVALID** (no_tx > 0 or no yes_tx)"
            L.append(f"| 2f | TPS, {g('threads')} threads: binlogserver over TLS vs plain TCP, same run (yes_tx +{g('tls_yes')}, no_tx +{g('tls_no')}) | {f(t8, '{:.1f}')} | {f(st, '{:.1f}')} (plain) | {f(ratio(t8, st), '{:.3f}')} | – | {vt} |")
            L.append(f"| 2f' | p50 commit latency, 1 thread: binlogserver over TLS − plain TCP (runs: TLS {g('runs_tls1_p50')} ms, plain {g('runs_bls1_p50')} ms) | {f(t1, '{:.3f}')} ms | {f(s1, '{:.3f}')} ms (plain) | {f(None if t1 is None or s1 is None else (t1 - s1) * 1000, '{:.0f} µs')} | – | {vt} |")
        if g("ss_hwm_kb"):
            L.append(f"| 2d | binlogserver peak RSS during the semi-sync runs | {num('ss_hwm_kb') / 1024:.1f} MiB | – | – | – | – |")
        if g("ss_cpu_s"):
            acked = (num("bls_yes") or 0) + (num("bls1_yes") or 0)
            per = num("ss_cpu_s") * 1e6 / acked if acked else None
            mcpu, macked = num("mdb_cpu_s"), (num("mdb_yes") or 0) + (num("mdb1_yes") or 0)
            mper = mcpu * 1e6 / macked if mcpu is not None and macked else None
            L.append(f"| 2e | CPU (user+sys) during the semi-sync runs, per acknowledged tx | {num('ss_cpu_s'):.2f} s / {int(acked)} tx | MariaDB replica (receive + apply): {f(mcpu, '{:.2f} s')} / {int(macked)} tx = {f(mper, '{:.0f} µs/tx')} | {f(per, '{:.0f} µs/tx')} | – | – |")
    L.extend(notes(res))
    print("\n".join(L))


if __name__ == "__main__":
    main({
        "port": lambda a: print(free_port(a)),
        "stats": stats,
        "compare": lambda a: compare(a[0], a[1], a[2:]),
        "monitor": lambda a: monitor(a[0], a[1], a[2], float(a[3]), a[4], a[5:]),
        "fsync": lambda a: fsync_lat(a[0], int(a[1])),
        "median": print_median,
        "render": lambda a: render(a[0]),
    })
