//! Crash torture: binlogserver is killed with SIGKILL at random moments
//! while several clients commit under lossless (AFTER_SYNC) semi-sync, and
//! restarted, many times over.
//!
//! The primary's `rpl_semi_sync_master_timeout` is raised to an hour once
//! binlogserver is its semi-sync client, so the primary never falls back to
//! asynchronous replication: a COMMIT returns only after binlogserver has
//! fsync'd and acknowledged it. Hence the lossless proof, made right after
//! each kill and BEFORE the restart: the data directory as the kill left it,
//! read by recovery's own walk without repairing anything, holds the GTID of
//! every commit a client saw return (`SELECT @@last_gtid` in the same
//! session). After each restart binlogserver must catch up to files
//! identical to the primary's, and the GTIDs of domain 0 across all files
//! must run 1, 2, 3, ... with no gap and no duplicate.
//!
//! Kill moments vary by cycle: during plain load (after a random number of
//! commits plus a random sub-millisecond to millisecond delay), right around
//! a `FLUSH BINARY LOGS`, while a large (multi-MiB) row event is in flight,
//! and while binlogserver is catching up just after a restart.
//!
//! `BLS_TORTURE_CYCLES` sets the number of cycles (default 10, the CI
//! version; `etc/crash-torture.sh` runs 50 or more); `BLS_TORTURE_SEED`
//! replays a run. A summary line starting with `torture summary:` is
//! printed at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{
    assert_index_matches, assert_same_binlog_set, assert_same_binlogs, local_binlog_files,
    wait_binlog_checkpointed, wait_caught_up, wait_semi_sync_client, wait_until, Binlogserver,
    MariaDb, PrimaryOpts, TestDir,
};
use binlogserver::binlog::{walk, EventType, GtidTriple, MariaGtid};
use binlogserver::storage::datadir::DataDir;
use binlogserver::storage::recovery::{recover_with, walk_file};

const CATCH_UP: Duration = Duration::from_secs(60);
const CONNECT: Duration = Duration::from_secs(20);
const CLIENTS: usize = 4;
/// The large row: one ROWS event of about 6 MiB.
const BIG_ROW: usize = 6 << 20;

/// A tiny deterministic PRNG (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One commit a client saw return OK.
#[derive(Debug, Clone)]
struct Acked {
    client: usize,
    seq: u64,
    gtid: String,
}

/// Acknowledged commits of every client, in the order they were seen.
type AckLog = Arc<Mutex<Vec<Acked>>>;

/// `CLIENTS` long-lived `mariadb` processes fed one small transaction at a
/// time on stdin; after each COMMIT the same session prints `@@last_gtid`.
struct TortureLoad {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<Result<(), String>>>,
}

impl TortureLoad {
    fn start(primary: &MariaDb, first_id: usize, acked: &AckLog) -> TortureLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let threads = (first_id..first_id + CLIENTS)
            .map(|id| {
                let child = primary.piped_client();
                let (stop, count, acked) = (stop.clone(), count.clone(), acked.clone());
                thread::Builder::new()
                    .name(format!("torture-load-{id}"))
                    .spawn(move || run_client(id, child, &stop, &count, &acked))
                    .expect("spawn a load thread")
            })
            .collect();
        TortureLoad { stop, count, threads }
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Stops after the current commits (which wait for an ACK) and joins.
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            t.join().expect("load thread panicked").expect("load client");
        }
    }
}

impl Drop for TortureLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn run_client(
    id: usize,
    mut child: Child,
    stop: &AtomicBool,
    count: &AtomicU64,
    acked: &AckLog,
) -> Result<(), String> {
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    let mut seq = 0u64;
    let mut result = Ok(());
    while !stop.load(Ordering::SeqCst) {
        seq += 1;
        let insert = format!(
            "INSERT INTO torture.t (client, seq, pad) VALUES ({id}, {seq}, REPEAT('p{seq}', {}))",
            1 + seq % 40
        );
        let stmt = match seq % 4 {
            0 => format!(
                "BEGIN; {insert}; UPDATE torture.t SET pad = CONCAT(pad, 'u') WHERE client = {id} \
                 AND seq = {seq}; COMMIT; SELECT {seq}, @@last_gtid;\n"
            ),
            _ => format!("{insert}; SELECT {seq}, @@last_gtid;\n"),
        };
        if let Err(e) = stdin.write_all(stmt.as_bytes()).and_then(|()| stdin.flush()) {
            result = Err(format!("client {id}: write failed at seq {seq}: {e}"));
            break;
        }
        line.clear();
        match stdout.read_line(&mut line) {
            Ok(0) => {
                result = Err(format!("client {id}: mariadb exited at seq {seq}"));
                break;
            }
            Ok(_) => match line.trim_end().split_once('\t') {
                Some((s, gtid)) if s == seq.to_string() && gtid.starts_with("0-1-") => {
                    acked.lock().expect("ack log").push(Acked {
                        client: id,
                        seq,
                        gtid: gtid.to_owned(),
                    });
                    count.fetch_add(1, Ordering::SeqCst);
                }
                _ => {
                    result = Err(format!("client {id}: expected `{seq}\\t<gtid>`, got {line:?}"));
                    break;
                }
            },
            Err(e) => {
                result = Err(format!("client {id}: read failed: {e}"));
                break;
            }
        }
    }
    drop(stdin);
    let status = child.wait().map_err(|e| format!("client {id}: wait: {e}"))?;
    match result {
        Ok(()) if status.success() => Ok(()),
        Ok(()) => Err(format!("client {id}: mariadb exited with {status}")),
        Err(e) => Err(e),
    }
}

/// One statement in its own session, recorded as client `id` when it is a
/// commit (it prints `@@last_gtid`); for FLUSH and the large row.
fn side_statement(
    primary: &MariaDb,
    id: usize,
    stmt: String,
    acked: &AckLog,
) -> thread::JoinHandle<()> {
    let mut cmd = primary.client();
    let acked = acked.clone();
    thread::Builder::new()
        .name(format!("torture-side-{id}"))
        .spawn(move || {
            let out = cmd.arg("-e").arg(&stmt).output().expect("spawn mariadb");
            assert!(out.status.success(), "{stmt:.80}: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(gtid) = text.lines().last().filter(|l| l.starts_with("0-1-")) {
                acked.lock().expect("ack log").push(Acked {
                    client: id,
                    seq: 0,
                    gtid: gtid.to_owned(),
                });
            }
        })
        .expect("spawn a side thread")
}

/// The GTIDs of the complete transactions stored in `dir`, file by file,
/// as recovery sees them: every file but the last must be whole; the last
/// counts up to recovery's end (its torn tail, if any, does not count).
/// Read-only: nothing in `dir` changes. With `killed` false binlogserver
/// still runs (and holds the data dir), the files are caught up and walked
/// whole.
fn stored_gtids(dir: &Path, killed: bool) -> (Vec<(String, Vec<u64>)>, u64) {
    let files = local_binlog_files(dir);
    let last_len = files.last().and_then(|f| fs::metadata(dir.join(f)).ok()).map_or(0, |m| m.len());
    let tail_len = if killed {
        let datadir = DataDir::open(dir).expect("open the data dir after the kill");
        let recovered = recover_with(&datadir, false).expect("read-only recovery");
        let tail = recovered.tail.expect("binlog files after the kill");
        assert_eq!(Some(tail.file.as_str()), files.last().map(String::as_str));
        tail.len
    } else {
        last_len
    };
    let mut out = Vec::new();
    for (i, name) in files.iter().enumerate() {
        let bytes = fs::read(dir.join(name)).expect("read a stored binlog");
        let last = i + 1 == files.len();
        if last && killed && bytes.len() < 4 {
            // Killed between creating the new file and writing its magic:
            // recovery counts it as holding just the magic, and no events.
            assert_eq!(tail_len, 4, "{name}: a file shorter than its magic recovers to the magic");
            out.push((name.clone(), Vec::new()));
            continue;
        }
        let end = if last {
            let w = walk_file(Cursor::new(&bytes)).expect("walk the last file");
            assert_eq!(
                w.report.last_trx_end.max(4),
                tail_len,
                "{name}: walk and recovery disagree"
            );
            tail_len
        } else {
            bytes.len() as u64
        };
        let mut seqs = Vec::new();
        let mut pending = None;
        let mut walked = 4;
        for ev in walk(&bytes[..end as usize]) {
            if ev.header.event_type == EventType::MARIADB_GTID {
                let g = MariaGtid::decode_event(ev.bytes).expect("decode a stored GTID event");
                let t: GtidTriple = g.triple();
                assert_eq!(t.domain_id, 0, "{name}: only domain 0 is written");
                pending = Some(t.seq_no);
            }
            if ev.at_boundary {
                seqs.extend(pending.take());
            }
            walked = ev.end();
        }
        assert_eq!(walked, end.max(4), "{name}: not every stored event walks up to {end}");
        out.push((name.clone(), seqs));
    }
    (out, tail_len)
}

/// Domain 0 sequence numbers across all files: 1, 2, 3, ... exactly.
fn assert_continuous(files: &[(String, Vec<u64>)], what: &str) -> u64 {
    let mut expect = 1;
    for (name, seqs) in files {
        for &s in seqs {
            assert_eq!(s, expect, "{what}: {name} holds GTID 0-1-{s} where 0-1-{expect} was due");
            expect += 1;
        }
    }
    expect - 1
}

/// The lossless proof: every acknowledged commit is stored.
fn assert_acked_present(files: &[(String, Vec<u64>)], acked: &[Acked], what: &str) {
    let stored: BTreeSet<u64> = files.iter().flat_map(|f| f.1.iter().copied()).collect();
    let mut by_gtid = BTreeMap::new();
    for a in acked {
        let seq = crate::common::gtid_seq_of(&a.gtid);
        assert!(seq > 0, "bad gtid {a:?}");
        assert!(by_gtid.insert(seq, a).is_none(), "two commits report GTID {}", a.gtid);
        assert!(
            stored.contains(&seq),
            "{what}: commit {} of client {} (seq {}) returned OK but is not in the data dir; \
             stored: {} GTIDs up to {:?}",
            a.gtid,
            a.client,
            a.seq,
            stored.len(),
            stored.last()
        );
    }
}

fn recovery_ms(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("recovered data directory"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("ms=")))
        .filter_map(|v| v.parse().ok())
        .collect()
}

fn bytes_in(dir: &Path) -> u64 {
    local_binlog_files(dir)
        .iter()
        .filter_map(|n| fs::metadata(dir.join(n)).ok())
        .map(|m| m.len())
        .sum()
}

/// Statistics of one run.
#[derive(Default)]
struct Stats {
    kills: u64,
    torn_kills: u64,
    max_recovery_ms: u64,
}

struct Torture<'a> {
    primary: &'a MariaDb,
    data: &'a TestDir,
    acked: AckLog,
    rng: Rng,
    stats: Stats,
    killed: Vec<Binlogserver>,
}

impl Torture<'_> {
    fn start_bls(&self) -> Binlogserver {
        Binlogserver::follow(
            self.primary,
            self.data.path(),
            &["--semi-sync", "on", "--heartbeat", "1", "--listen", "off"],
        )
    }

    /// SIGKILL, then check the data dir as the kill left it.
    fn kill_and_check(&mut self, bls: Binlogserver, what: &str) {
        bls.kill9();
        self.stats.kills += 1;
        // Everything recorded now returned OK before this point.
        let acked = self.acked.lock().expect("ack log").clone();
        let (files, end) = stored_gtids(self.data.path(), true);
        let last = files.last().map(|f| f.0.clone()).unwrap_or_default();
        if fs::metadata(self.data.join(&last)).map(|m| m.len()).unwrap_or(0) > end {
            self.stats.torn_kills += 1;
        }
        assert_continuous(&files, what);
        assert_acked_present(&files, &acked, what);
        for ms in recovery_ms(&bls.log()) {
            self.stats.max_recovery_ms = self.stats.max_recovery_ms.max(ms);
        }
        self.killed.push(bls);
    }

    fn cycle(&mut self, n: usize, bls: Binlogserver) -> Binlogserver {
        let mode = n % 4;
        let load = TortureLoad::start(self.primary, 100 * (n + 1), &self.acked);
        let commits = 20 + self.rng.below(300);
        wait_until(CONNECT, "load progress", || {
            bls.assert_running();
            load.count() >= commits
        });
        let mut side = Vec::new();
        let what = match mode {
            1 => {
                side.push(side_statement(self.primary, 0, "FLUSH BINARY LOGS".into(), &self.acked));
                thread::sleep(Duration::from_micros(self.rng.below(30_000)));
                format!("cycle {n}: kill around FLUSH BINARY LOGS")
            }
            2 => {
                let stmt = format!(
                    "INSERT INTO torture.big (b) VALUES (REPEAT('x', {BIG_ROW})); \
                     SELECT @@last_gtid"
                );
                side.push(side_statement(self.primary, 1, stmt, &self.acked));
                thread::sleep(Duration::from_micros(self.rng.below(400_000)));
                format!("cycle {n}: kill while a {BIG_ROW}-byte row event is in flight")
            }
            _ => {
                thread::sleep(Duration::from_micros(self.rng.below(2_000)));
                format!("cycle {n}: kill during load after {commits}+ commits")
            }
        };
        self.kill_and_check(bls, &what);
        let mut bls = self.start_bls();
        if mode == 3 {
            // Again while it catches up: as soon as it has written anything.
            let size = bytes_in(self.data.path());
            wait_until(CONNECT, "binlogserver to write after restart", || {
                bls.assert_running();
                bytes_in(self.data.path()) > size
            });
            self.kill_and_check(bls, &format!("cycle {n}: kill during catch-up"));
            bls = self.start_bls();
        }
        wait_semi_sync_client(self.primary, &bls);
        load.stop();
        for s in side {
            s.join().expect("side statement");
        }
        wait_binlog_checkpointed(self.primary, CATCH_UP);
        wait_caught_up(self.primary, self.data.path(), CATCH_UP);
        assert_same_binlogs(self.primary, self.data.path());
        let (files, _) = stored_gtids(self.data.path(), false);
        let last = assert_continuous(&files, &format!("cycle {n}: after restart"));
        assert_eq!(last, self.primary.gtid_seq(), "cycle {n}: stored GTIDs end at the primary's");
        assert_acked_present(
            &files,
            &self.acked.lock().expect("ack log"),
            &format!("cycle {n}: after restart"),
        );
        bls
    }
}

#[test]
fn keeps_every_acknowledged_commit_through_kill_9_at_random_moments() {
    let cycles: usize =
        std::env::var("BLS_TORTURE_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let seed =
        std::env::var("BLS_TORTURE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
                | 1
        });
    eprintln!("crash torture: {cycles} cycles, BLS_TORTURE_SEED={seed}");
    let begin = Instant::now();
    let primary =
        MariaDb::primary(PrimaryOpts { semi_sync_timeout_ms: 5_000, ..PrimaryOpts::default() });
    let data = TestDir::new("torture-data");
    let mut t = Torture {
        primary: &primary,
        data: &data,
        acked: Arc::new(Mutex::new(Vec::new())),
        rng: Rng(seed),
        stats: Stats::default(),
        killed: Vec::new(),
    };
    let mut bls = t.start_bls();
    wait_semi_sync_client(&primary, &bls);
    primary.sql(
        "CREATE DATABASE torture; \
         CREATE TABLE torture.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, client INT NOT NULL, \
         seq BIGINT NOT NULL, pad TEXT, UNIQUE KEY (client, seq)) ENGINE=InnoDB; \
         CREATE TABLE torture.big (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB",
    );
    // From here on the primary never falls back to asynchronous commits.
    primary.sql("SET GLOBAL rpl_semi_sync_master_timeout = 3600000");
    let no_tx = primary.status_u64("Rpl_semi_sync_master_no_tx");
    for n in 0..cycles {
        bls = t.cycle(n, bls);
        eprintln!(
            "cycle {n} done: {} commits acknowledged, {} kills, {:.1} s",
            t.acked.lock().expect("ack log").len(),
            t.stats.kills,
            begin.elapsed().as_secs_f64()
        );
        // Keep the logs of the last few killed instances only.
        if t.killed.len() > 4 {
            t.killed.drain(..t.killed.len() - 4);
        }
    }
    assert_eq!(
        primary.status_u64("Rpl_semi_sync_master_no_tx"),
        no_tx,
        "a commit went without a semi-sync ACK: the lossless check would prove nothing"
    );
    assert_eq!(primary.status_var("Rpl_semi_sync_master_status"), "ON");
    primary.sql("SET GLOBAL rpl_semi_sync_master_timeout = 2000");
    assert_same_binlog_set(&primary, data.path());
    assert_index_matches(&primary, data.path());
    let acked = t.acked.lock().expect("ack log").len();
    let load_acked = t.acked.lock().expect("ack log").iter().filter(|a| a.client >= 100).count();
    let rows: usize = primary.sql("SELECT COUNT(*) FROM torture.t").parse().expect("count");
    assert_eq!(rows, load_acked, "every acknowledged load commit inserted one row");
    bls.assert_running();
    eprintln!(
        "torture summary: cycles={cycles} kills={} kills_with_torn_tail={} commits_acked={acked} \
         files={} bytes={} max_recovery_ms={} seconds={:.1} seed={seed}",
        t.stats.kills,
        t.stats.torn_kills,
        local_binlog_files(data.path()).len(),
        bytes_in(data.path()),
        t.stats.max_recovery_ms,
        begin.elapsed().as_secs_f64()
    );
}
