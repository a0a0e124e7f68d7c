//! Commits that returned, and the proof that binlogs hold them: load
//! clients that record the GTID of every commit a client saw return
//! (`SELECT @@last_gtid` in the same session, right after the COMMIT), the
//! GTIDs of the complete transactions of a binlog file, and the check that
//! every recorded commit is among them.
//!
//! Shared by the crash tortures: binlogserver killed
//! (tests/it/crash_torture.rs) and the primary killed
//! (tests/it/failover_crash.rs). Both seed an [`Rng`] from the environment
//! and print the seed, so that a failing run can be replayed.

use super::mariadb::{gtid_seq_of, MariaDb};
use binlogserver::binlog::{walk, EventType, MariaGtid};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

/// A tiny deterministic PRNG (xorshift64*), so a failing run can be replayed.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from the environment variable `var` when it holds a number,
    /// from the clock otherwise; returns the generator and its seed.
    pub(crate) fn from_env(var: &str) -> (Rng, u64) {
        let seed = std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
                | 1
        });
        (Rng(seed), seed)
    }

    /// The next pseudo-random number.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One commit a client saw return OK.
#[derive(Debug, Clone)]
pub(crate) struct Acked {
    /// The client's id (0 and 1 for side statements).
    pub(crate) client: usize,
    /// The client's own sequence number: the row `(client, seq)` it
    /// inserted into `torture.t` (0 for side statements).
    pub(crate) seq: u64,
    /// `@@last_gtid` right after the commit, e.g. `0-1-42`.
    pub(crate) gtid: String,
}

/// Returned commits of every client, in the order they were seen.
pub(crate) type AckLog = Arc<Mutex<Vec<Acked>>>;

/// The load's tables: `torture.t` (one row per load commit, keyed by
/// client and sequence) and `torture.big` (for large rows).
pub(crate) fn create_torture_schema(primary: &MariaDb) {
    primary.sql(
        "CREATE DATABASE torture; \
         CREATE TABLE torture.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, client INT NOT NULL, \
         seq BIGINT NOT NULL, pad TEXT, UNIQUE KEY (client, seq)) ENGINE=InnoDB; \
         CREATE TABLE torture.big (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB",
    );
}

/// How a load client ended.
enum ClientEnd {
    /// Stopped when asked, after its last commit returned.
    Stopped,
    /// Its server went away: the `mariadb` process exited or stopped
    /// reading. Expected when the primary is killed, a failure otherwise.
    Lost(String),
}

/// Long-lived `mariadb` processes on the primary, fed one small transaction
/// at a time on stdin (into `torture.t`, see [`create_torture_schema`]);
/// after each commit the same session prints `@@last_gtid`, which goes to
/// the [`AckLog`].
pub(crate) struct AckedLoad {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<Result<ClientEnd, String>>>,
}

impl AckedLoad {
    /// Starts `clients` clients with ids `first_id`, `first_id + 1`, ...
    /// (distinct over a test: the ids key the rows).
    pub(crate) fn start(
        primary: &MariaDb,
        first_id: usize,
        clients: usize,
        acked: &AckLog,
    ) -> AckedLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        // Every commit must be the primary's own: domain 0, its server id.
        let prefix: Arc<str> = format!("0-{}-", primary.sql("SELECT @@server_id").trim()).into();
        let threads = (first_id..first_id + clients)
            .map(|id| {
                let child = primary.piped_client();
                let (stop, count, acked) = (stop.clone(), count.clone(), acked.clone());
                let prefix = Arc::clone(&prefix);
                thread::Builder::new()
                    .name(format!("acked-load-{id}"))
                    .spawn(move || run_client(id, child, &prefix, (&stop, &count), &acked))
                    .expect("spawn a load thread")
            })
            .collect();
        AckedLoad { stop, count, threads }
    }

    /// Commits returned so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Stops after the current commits (which wait for an ACK) and joins.
    ///
    /// # Panics
    /// If a client failed or lost its server.
    pub(crate) fn stop(mut self) {
        for end in self.join() {
            if let ClientEnd::Lost(e) = end {
                panic!("load client lost its server: {e}");
            }
        }
    }

    /// Joins the clients of a primary that was killed; returns how many
    /// lost their connection (the others were between statements).
    ///
    /// # Panics
    /// If a client failed otherwise (e.g. a wrong answer).
    pub(crate) fn stop_after_crash(mut self) -> usize {
        self.join().iter().filter(|end| matches!(end, ClientEnd::Lost(_))).count()
    }

    fn join(&mut self) -> Vec<ClientEnd> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .drain(..)
            .map(|t| t.join().expect("load thread panicked").expect("load client"))
            .collect()
    }
}

impl Drop for AckedLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One client: insert, print `seq` and `@@last_gtid`, repeat; every fourth
/// commit is a two-statement transaction.
fn run_client(
    id: usize,
    mut child: Child,
    prefix: &str,
    (stop, count): (&AtomicBool, &AtomicU64),
    acked: &AckLog,
) -> Result<ClientEnd, String> {
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    let mut seq = 0u64;
    let mut end = Ok(ClientEnd::Stopped);
    while !stop.load(Ordering::SeqCst) {
        seq += 1;
        if let Err(e) = stdin.write_all(statement(id, seq).as_bytes()).and_then(|()| stdin.flush())
        {
            end = Ok(ClientEnd::Lost(format!("client {id}: write failed at seq {seq}: {e}")));
            break;
        }
        line.clear();
        match stdout.read_line(&mut line) {
            Ok(0) => {
                end = Ok(ClientEnd::Lost(format!("client {id}: mariadb exited at seq {seq}")));
                break;
            }
            Ok(_) => match line.trim_end().split_once('\t') {
                Some((s, gtid)) if s == seq.to_string() && gtid.starts_with(prefix) => {
                    let gtid = gtid.to_owned();
                    acked.lock().expect("ack log").push(Acked { client: id, seq, gtid });
                    count.fetch_add(1, Ordering::SeqCst);
                }
                _ => {
                    end =
                        Err(format!("client {id}: expected `{seq}\\t{prefix}<seq>`, got {line:?}"));
                    break;
                }
            },
            Err(e) => {
                end = Err(format!("client {id}: read failed: {e}"));
                break;
            }
        }
    }
    drop(stdin);
    let status = child.wait().map_err(|e| format!("client {id}: wait: {e}"))?;
    match end {
        Ok(ClientEnd::Stopped) if !status.success() => {
            Ok(ClientEnd::Lost(format!("client {id}: mariadb exited with {status}")))
        }
        end => end,
    }
}

/// The statements of commit `seq` of client `id`, then the SELECT that
/// reports it.
fn statement(id: usize, seq: u64) -> String {
    let insert = format!(
        "INSERT INTO torture.t (client, seq, pad) VALUES ({id}, {seq}, REPEAT('p{seq}', {}))",
        1 + seq % 40
    );
    match seq % 4 {
        0 => format!(
            "BEGIN; {insert}; UPDATE torture.t SET pad = CONCAT(pad, 'u') WHERE client = {id} \
             AND seq = {seq}; COMMIT; SELECT {seq}, @@last_gtid;\n"
        ),
        _ => format!("{insert}; SELECT {seq}, @@last_gtid;\n"),
    }
}

/// One statement in its own session, recorded as client `id` when it is a
/// commit (it prints `@@last_gtid`); for FLUSH and the large row. The
/// thread returns the client's error when the statement failed (as it
/// does when the primary is killed under it).
pub(crate) fn side_statement(
    primary: &MariaDb,
    id: usize,
    stmt: String,
    acked: &AckLog,
) -> thread::JoinHandle<Result<(), String>> {
    let mut cmd = primary.client();
    let acked = acked.clone();
    thread::Builder::new()
        .name(format!("acked-side-{id}"))
        .spawn(move || {
            let out = cmd.arg("-e").arg(&stmt).output().expect("spawn mariadb");
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(gtid) = text.lines().last().filter(|l| l.starts_with("0-")) {
                acked.lock().expect("ack log").push(Acked {
                    client: id,
                    seq: 0,
                    gtid: gtid.to_owned(),
                });
            }
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("{stmt:.80}: {}", String::from_utf8_lossy(&out.stderr).trim()))
            }
        })
        .expect("spawn a side thread")
}

/// The domain-0 sequence numbers of the complete transactions in a binlog
/// file image (`name` for messages), and the offset where the walk of its
/// valid events ended (the image's length unless its tail is torn).
/// A transaction counts once the stream is between groups after it.
pub(crate) fn complete_gtids(name: &str, bytes: &[u8]) -> (Vec<u64>, u64) {
    let mut seqs = Vec::new();
    let mut pending = None;
    let mut walked = 4;
    for ev in walk(bytes) {
        if ev.header.event_type == EventType::MARIADB_GTID {
            let g = MariaGtid::decode_event(ev.bytes).expect("decode a GTID event");
            let t = g.triple();
            assert_eq!(t.domain_id, 0, "{name}: only domain 0 is written");
            pending = Some(t.seq_no);
        }
        if ev.at_boundary {
            seqs.extend(pending.take());
        }
        walked = ev.end();
    }
    (seqs, walked)
}

/// Domain 0 sequence numbers across all files: 1, 2, 3, ... exactly;
/// returns the last.
#[track_caller]
pub(crate) fn assert_continuous(files: &[(String, Vec<u64>)], what: &str) -> u64 {
    let mut expect = 1;
    for (name, seqs) in files {
        for &s in seqs {
            assert_eq!(s, expect, "{what}: {name} holds GTID seq {s} where {expect} was due");
            expect += 1;
        }
    }
    expect - 1
}

/// The lossless proof: every returned commit is among the stored GTIDs
/// (`files`: file name, domain-0 sequence numbers), and no two commits
/// report the same GTID.
#[track_caller]
pub(crate) fn assert_acked_present(files: &[(String, Vec<u64>)], acked: &[Acked], what: &str) {
    let stored: BTreeSet<u64> = files.iter().flat_map(|f| f.1.iter().copied()).collect();
    let mut by_gtid = BTreeMap::new();
    for a in acked {
        let seq = gtid_seq_of(&a.gtid);
        assert!(seq > 0, "bad gtid {a:?}");
        assert!(by_gtid.insert(seq, a).is_none(), "two commits report GTID {}", a.gtid);
        assert!(
            stored.contains(&seq),
            "{what}: commit {} of client {} (seq {}) returned OK but is not stored; \
             stored: {} GTIDs up to {:?}",
            a.gtid,
            a.client,
            a.seq,
            stored.len(),
            stored.last()
        );
    }
}

/// Every returned load commit's row `(client, seq)` is in `server`'s
/// `torture.t` (a replica that applied them, or a promoted one); returns
/// how many were checked.
#[track_caller]
pub(crate) fn assert_acked_rows(server: &MariaDb, acked: &[Acked], what: &str) -> usize {
    let rows: BTreeSet<(usize, u64)> = server
        .sql("SELECT client, seq FROM torture.t")
        .lines()
        .filter_map(|l| {
            let (c, s) = l.split_once('\t')?;
            Some((c.parse().ok()?, s.parse().ok()?))
        })
        .collect();
    let load: Vec<&Acked> = acked.iter().filter(|a| a.seq > 0).collect();
    let missing: Vec<&&Acked> =
        load.iter().filter(|a| !rows.contains(&(a.client, a.seq))).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} returned commits have no row on the server on port {} ({} rows); \
         the first: {:?}",
        missing.len(),
        load.len(),
        server.port(),
        rows.len(),
        missing.first()
    );
    load.len()
}
