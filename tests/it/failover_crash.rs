//! Primary crash: the primary (semi-sync with wait point AFTER_SYNC, its
//! timeout raised to an hour once binlogserver is its semi-sync client) is
//! killed with SIGKILL at a random moment while several clients commit,
//! binlogserver following it and a MariaDB replica reading from
//! binlogserver by GTID. The kill comes after a random number of commits,
//! by cycle during plain load, around a `FLUSH BINARY LOGS`, or while a
//! 6 MiB row event is in flight, each after a random delay.
//!
//! After each kill, while the primary is dead: every commit a client saw
//! return (`@@last_gtid` in the same session) is in binlogserver's files
//! and its row is in the replica; binlogserver's files are a byte prefix of
//! the dead primary's, whose last file may hold a few transactions more
//! (written and synced, never acknowledged: their clients got an error),
//! counted and reported; binlogserver keeps serving: `SHOW SLAVE STATUS`
//! over its SQL port shows the upstream as Connecting, and the replica,
//! both threads running, reaches binlogserver's `@@gtid_binlog_pos`.
//!
//! Then the old primary is restarted as it was (same datadir and options,
//! not a fresh one per cycle): its crash recovery commits the unacknowledged
//! tail, and its new binlog file begins after a server start while the old
//! one has no closing ROTATE. binlogserver reconnects, fetches the rest, is
//! its semi-sync client again, and the next cycle starts. At the end
//! binlogserver's files equal the primary's, the replica's tables equal the
//! primary's and `binlogserver verify` is clean.
//!
//! `BLS_FAILOVER_CYCLES` sets the number of kills (default 6, the CI
//! version; `etc/failover-torture.sh --cycles N` runs more) and
//! `BLS_FAILOVER_SEED` replays a run. Each cycle prints a `failover cycle`
//! line, the end a `failover summary:` line.
//!
//! The second test promotes a replica of binlogserver after the crash, as
//! the first steps of a failover: it holds every returned commit, its GTID
//! state is binlogserver's, and FLUSH BINARY LOGS moves its numbering past
//! binlogserver's last file; a replica of the old primary that had fallen
//! behind is repointed at binlogserver and catches up.

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    assert_acked_present, assert_acked_rows, assert_gtids_contiguous, assert_index_matches,
    assert_prefix_of_dead_primary, assert_same_binlog_set, assert_same_binlogs_after_crashes,
    assert_same_tables, assert_verify_clean, bls_gtid_binlog_pos, bls_slave_status,
    create_torture_schema, fall_behind, flush_until_above, gtid_seq_of, local_binlog_files,
    promote, repoint, side_statement, wait_replica_caught_up, wait_replica_has_bls,
    wait_semi_sync_client, wait_until, wait_until_ok, AckLog, Acked, AckedLoad, MariaDb,
    PrimaryOpts, ReplicaOpts, Rng, Topology, UseGtid,
};

/// The semi-sync timeout under test: the primary never gives up waiting.
const HOUR: Duration = Duration::from_secs(3600);
const CATCH_UP: Duration = Duration::from_secs(60);
const CONNECT: Duration = Duration::from_secs(20);
const CLIENTS: usize = 4;

/// The large row: one ROWS event of about 6 MiB.
const BIG_ROW: usize = 6 << 20;

/// When the kill comes, once a random number of commits have returned.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// During plain load, up to 3 ms later.
    Load,
    /// Around a `FLUSH BINARY LOGS`, up to 30 ms after it was sent.
    Flush,
    /// While a large row event is in flight, up to 400 ms after its INSERT.
    BigRow,
}

impl Moment {
    const ALL: [Moment; 3] = [Moment::Load, Moment::Flush, Moment::BigRow];

    /// The longest wait before the kill, in microseconds.
    fn max_delay_us(self) -> u64 {
        match self {
            Moment::Load => 3_000,
            Moment::Flush => 30_000,
            Moment::BigRow => 400_000,
        }
    }

    /// The statement sent (in a session of its own) just before the wait.
    fn statement(self) -> Option<String> {
        match self {
            Moment::Load => None,
            Moment::Flush => Some("FLUSH BINARY LOGS".to_owned()),
            Moment::BigRow => Some(format!(
                "INSERT INTO torture.big (b) VALUES (REPEAT('x', {BIG_ROW})); SELECT @@last_gtid"
            )),
        }
    }
}

/// The test's set-up: the primary, binlogserver, a replica of binlogserver
/// and the log of returned commits.
struct Crash {
    t: Topology,
    replica: MariaDb,
    acked: AckLog,
}

/// What one kill left.
struct Killed {
    /// Commits returned to clients before the kill (this cycle).
    returned: usize,
    /// Clients whose statement the kill cut.
    cut: usize,
    /// What the checks found while the primary was dead.
    found: Found,
}

/// The returned commits (of one cycle) found while the primary is dead.
struct Found {
    /// In binlogserver's files.
    in_bls: usize,
    /// Applied by the replica of binlogserver (within its gtid_slave_pos).
    in_replica: usize,
    /// Transactions in the dead primary's files past binlogserver's.
    unacked: usize,
}

impl Crash {
    fn start() -> Crash {
        let t = Topology::start(PrimaryOpts::default(), &[]).with_ack_timeout(HOUR);
        create_torture_schema(&t.primary);
        let replica = t.replica(ReplicaOpts::promotable(), UseGtid::SlavePos);
        Crash { t, replica, acked: AckLog::default() }
    }

    fn acked(&self) -> Vec<Acked> {
        self.acked.lock().expect("ack log").clone()
    }

    /// Load from `CLIENTS` clients (ids from `first_id`), then SIGKILL of
    /// the primary once `commits` have returned and, after `moment`'s
    /// statement, `delay` has passed.
    fn kill_under_load(
        &mut self,
        first_id: usize,
        commits: u64,
        moment: Moment,
        delay: Duration,
    ) -> Killed {
        let before = self.acked.lock().expect("ack log").len();
        let load = AckedLoad::start(&self.t.primary, first_id, CLIENTS, &self.acked);
        wait_until(CONNECT, &format!("{commits} returned commits"), || {
            self.t.bls.assert_running();
            load.count() >= commits
        });
        // Proof that the primary waited for an ACK for every commit.
        let primary = &self.t.primary;
        assert_eq!(primary.status_u64("Rpl_semi_sync_master_no_tx"), 0, "a commit went unACKed");
        assert_eq!(primary.status_var("Rpl_semi_sync_master_status"), "ON");
        let side = moment.statement().map(|stmt| side_statement(primary, 1, stmt, &self.acked));
        thread::sleep(delay);
        self.t.primary.stop();
        let cut = load.stop_after_crash();
        // The statement may have been cut too; if it returned, it is logged.
        let _ = side.map(|s| s.join().expect("side thread"));
        let returned = self.acked.lock().expect("ack log").len() - before;
        Killed { returned, cut, found: self.check_dead_primary(before) }
    }

    /// The checks while the primary is dead, of all commits returned so
    /// far; counts those from the `since`-th on.
    fn check_dead_primary(&self, since: usize) -> Found {
        let (t, acked) = (&self.t, self.acked());
        wait_until_ok(CONNECT, "binlogserver to report its upstream as Connecting", || {
            t.bls.assert_running();
            let st = bls_slave_status(t.port);
            match st.get("Slave_IO_Running").map(String::as_str) {
                Some("Connecting") => Ok(()),
                other => Err(format!("Slave_IO_Running {other:?}")),
            }
        });
        let copy = assert_prefix_of_dead_primary(&t.primary, t.data.path());
        assert_acked_present(&copy.stored, &acked, "binlogserver's files after the kill");
        wait_replica_has_bls(t.port, &self.replica, CATCH_UP);
        assert_acked_rows(&self.replica, &acked, "the replica of binlogserver after the kill");
        let last = acked.iter().map(|a| gtid_seq_of(&a.gtid)).max().unwrap_or(0);
        let replica_pos = gtid_seq_of(&self.replica.sql("SELECT @@GLOBAL.gtid_slave_pos"));
        assert!(replica_pos >= last, "replica at seq {replica_pos}, last commit at {last}");
        t.bls.assert_running();
        let stored: BTreeSet<u64> = copy.stored.iter().flat_map(|f| f.1.iter().copied()).collect();
        let cycle = acked[since..].iter().map(|a| gtid_seq_of(&a.gtid));
        Found {
            in_bls: cycle.clone().filter(|s| stored.contains(s)).count(),
            // One domain, gtid_strict_mode, applied in order: every seq up
            // to the replica's position is applied.
            in_replica: cycle.filter(|&s| s <= replica_pos).count(),
            unacked: copy.unacked.len(),
        }
    }

    /// The old primary back as it was; binlogserver its semi-sync client.
    fn restart_primary(&mut self) {
        self.t.primary.restart();
        wait_semi_sync_client(&self.t.primary, &self.t.bls);
        self.t.raise_ack_timeout(HOUR);
    }
}

#[test]
fn every_returned_commit_survives_kill_9_of_the_primary() {
    let cycles: usize =
        std::env::var("BLS_FAILOVER_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let (mut rng, seed) = Rng::from_env("BLS_FAILOVER_SEED");
    eprintln!("failover torture: {cycles} cycles, BLS_FAILOVER_SEED={seed}");
    let begin = Instant::now();
    let mut c = Crash::start();
    let (mut max_unacked, mut total_unacked, mut in_bls, mut in_replica) = (0, 0, 0, 0);
    for n in 0..cycles {
        let commits = 30 + rng.below(600);
        let moment = Moment::ALL[n % Moment::ALL.len()];
        let delay = Duration::from_micros(rng.below(moment.max_delay_us()));
        let k = c.kill_under_load(100 * (n + 1), commits, moment, delay);
        eprintln!(
            "failover cycle {n}: returned={} found_in_binlogserver={} found_in_replica={} \
             unacked_tail={} clients_cut={} kill_after={commits}+ moment={moment:?} \
             delay_us={} seconds={:.1}",
            k.returned,
            k.found.in_bls,
            k.found.in_replica,
            k.found.unacked,
            k.cut,
            delay.as_micros(),
            begin.elapsed().as_secs_f64()
        );
        max_unacked = max_unacked.max(k.found.unacked);
        total_unacked += k.found.unacked;
        in_bls += k.found.in_bls;
        in_replica += k.found.in_replica;
        c.restart_primary();
    }
    let (t, acked) = (&c.t, c.acked());
    t.wait_caught_up(CATCH_UP);
    assert_same_binlogs_after_crashes(&t.primary, t.data.path());
    assert_same_binlog_set(&t.primary, t.data.path());
    assert_index_matches(&t.primary, t.data.path());
    assert_gtids_contiguous(&t.primary, t.data.path());
    wait_replica_caught_up(&t.primary, &c.replica, CATCH_UP);
    assert_same_tables(&t.primary, &c.replica);
    assert_acked_rows(&t.primary, &acked, "the restarted primary");
    let verify = assert_verify_clean(t.data.path());
    t.bls.assert_running();
    eprintln!(
        "failover summary: cycles={cycles} commits_returned={} \
         found_in_binlogserver={in_bls} found_in_replica={in_replica} \
         max_unacked_tail={max_unacked} total_unacked_tail={total_unacked} files={} \
         seconds={:.1} seed={seed}\n{}",
        acked.len(),
        local_binlog_files(t.data.path()).len(),
        begin.elapsed().as_secs_f64(),
        verify.lines().last().unwrap_or_default()
    );
}

#[test]
fn a_replica_promoted_after_the_crash_holds_every_returned_commit() {
    let (mut rng, seed) = Rng::from_env("BLS_FAILOVER_SEED");
    eprintln!("promotion after a crash: BLS_FAILOVER_SEED={seed}");
    let mut c = Crash::start();
    // A replica of the primary itself, which stops reading from it while
    // the load runs: it lags when the primary dies.
    let lagging =
        MariaDb::replica_of(c.t.primary.port(), ReplicaOpts::default(), UseGtid::SlavePos);
    let load = AckedLoad::start(&c.t.primary, 1000, CLIENTS, &c.acked);
    wait_until(CONNECT, "100 returned commits", || load.count() >= 100);
    fall_behind(&lagging);
    load.stop();
    let delay = Duration::from_micros(rng.below(Moment::Load.max_delay_us()));
    let k = c.kill_under_load(2000, 100 + rng.below(300), Moment::Load, delay);
    eprintln!("killed the primary after {} commits, unacked tail {}", k.returned, k.found.unacked);
    let acked = c.acked();
    let last = acked.iter().map(|a| gtid_seq_of(&a.gtid)).max().unwrap_or(0);
    let lag = lagging.sql("SELECT @@GLOBAL.gtid_slave_pos");
    assert!(gtid_seq_of(&lag) < last, "the lagging replica is at {lag}, the last commit at {last}");

    let begin = Instant::now();
    repoint(&lagging, c.t.port);
    wait_replica_has_bls(c.t.port, &lagging, CATCH_UP);
    eprintln!("the lagging replica levelled from {lag} in {} ms", begin.elapsed().as_millis());
    assert_acked_rows(&lagging, &acked, "the lagging replica repointed at binlogserver");

    let bls_pos = bls_gtid_binlog_pos(c.t.port);
    let mut promoted = promote(c.replica);
    assert_eq!(
        promoted.gtid_binlog_pos(),
        bls_pos,
        "the promoted replica's GTID state is binlogserver's (what the switch will check)"
    );
    assert_acked_rows(&promoted, &acked, "the promoted replica");
    assert_same_tables(&promoted, &lagging);
    assert_promoted(&promoted);
    let ours = local_binlog_files(c.t.data.path());
    let ours = ours.last().expect("binlogserver holds files");
    let next = flush_until_above(&promoted, ours);
    let number = |f: &str| f.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
    assert_eq!(number(&next), number(ours).map(|n| n + 1), "{next} continues {ours}");
    assert_eq!(promoted.gtid_binlog_pos(), bls_pos, "FLUSH BINARY LOGS wrote no transaction");
    // A restart keeps it a primary.
    promoted.shutdown();
    promoted.restart();
    assert_promoted(&promoted);
    assert_eq!(promoted.gtid_binlog_pos(), bls_pos, "the restart wrote no transaction");
    assert_eq!(
        bls_slave_status(c.t.port).get("Slave_IO_Running").map(String::as_str),
        Some("Connecting")
    );
    c.t.bls.assert_running();
}

/// `server` is a primary as [`crate::common::promote`] leaves it: writable,
/// semi-sync master on with wait point AFTER_SYNC, no replication set up.
#[track_caller]
fn assert_promoted(server: &MariaDb) {
    assert_eq!(
        server.sql(
            "SELECT @@read_only, @@rpl_semi_sync_master_enabled, \
             @@rpl_semi_sync_master_wait_point"
        ),
        "0\t1\tAFTER_SYNC"
    );
    assert!(server.slave_status().is_empty(), "RESET SLAVE ALL left a replication set-up");
}
