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
//! printed at the end. The load clients and the lossless proof are shared
//! with the primary's crash torture (tests/it/failover_crash.rs) in
//! tests/it/common/acked.rs.

use std::fs;
use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    assert_acked_present, assert_continuous, assert_index_matches, assert_same_binlog_set,
    assert_same_binlogs, complete_gtids, create_torture_schema, local_binlog_files, side_statement,
    wait_binlog_checkpointed, wait_caught_up, wait_semi_sync_client, wait_until, AckLog, AckedLoad,
    Binlogserver, MariaDb, PrimaryOpts, Rng, TestDir,
};
use binlogserver::storage::datadir::DataDir;
use binlogserver::storage::recovery::{recover_with, walk_file};

const CATCH_UP: Duration = Duration::from_secs(60);
const CONNECT: Duration = Duration::from_secs(20);
const CLIENTS: usize = 4;
/// The large row: one ROWS event of about 6 MiB.
const BIG_ROW: usize = 6 << 20;

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
        let (seqs, walked) = complete_gtids(name, &bytes[..end as usize]);
        assert_eq!(walked, end.max(4), "{name}: not every stored event walks up to {end}");
        out.push((name.clone(), seqs));
    }
    (out, tail_len)
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
        let load = AckedLoad::start(self.primary, 100 * (n + 1), CLIENTS, &self.acked);
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
            s.join().expect("side thread").expect("side statement");
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
    let (rng, seed) = Rng::from_env("BLS_TORTURE_SEED");
    eprintln!("crash torture: {cycles} cycles, BLS_TORTURE_SEED={seed}");
    let begin = Instant::now();
    let primary =
        MariaDb::primary(PrimaryOpts { semi_sync_timeout_ms: 5_000, ..PrimaryOpts::default() });
    let data = TestDir::new("torture-data");
    let mut t = Torture {
        primary: &primary,
        data: &data,
        acked: Arc::new(Mutex::new(Vec::new())),
        rng,
        stats: Stats::default(),
        killed: Vec::new(),
    };
    let mut bls = t.start_bls();
    wait_semi_sync_client(&primary, &bls);
    create_torture_schema(&primary);
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
