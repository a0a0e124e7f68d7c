//! A misbehaving primary: restarted (a new binlog file), purging files we
//! have not fetched yet while we follow, replaced by another server behind
//! the same address, `binlog_checksum=NONE`, statement and mixed binlog
//! formats under semi-sync, and semi-sync switched off and on at run time.
//!
//! What is already covered elsewhere is not repeated: cut dump connections,
//! RESET MASTER and purge at start (tests/replica_e2e.rs), start points and
//! unknown GTIDs (tests/start_points.rs).

use crate::common::{
    assert_dir_unchanged, assert_gtids_contiguous, assert_same_binlog_set, assert_same_binlogs,
    binlog_events, count_in_log, mixed_workload, snapshot_dir, tail, wait_semi_sync_client,
    wait_until, Binlogserver, MariaDb, PrimaryOpts, Topology, LINK_LOST,
};
use std::fs;
use std::time::Duration;

/// Upper bound for binlogserver to catch up after writes stop.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Upper bound for binlogserver to give up on a primary it must refuse.
const REFUSE: Duration = Duration::from_secs(30);
/// The QUERY_EVENT type code.
const QUERY_EVENT: u8 = 2;

/// The primary's semi-sync counters: (yes_tx, no_tx).
fn semi_sync_tx(primary: &MariaDb) -> (u64, u64) {
    (
        primary.status_u64("Rpl_semi_sync_master_yes_tx"),
        primary.status_u64("Rpl_semi_sync_master_no_tx"),
    )
}

/// Runs `write` (which returns the number of transactions it committed)
/// and asserts that the primary counted exactly that many as acknowledged
/// by semi-sync and none as unacknowledged.
fn assert_all_acked(primary: &MariaDb, what: &str, write: impl FnOnce() -> u64) {
    let (yes, no) = semi_sync_tx(primary);
    let commits = write();
    assert!(commits > 0, "{what}: nothing committed");
    let (yes_after, no_after) = semi_sync_tx(primary);
    assert_eq!(
        (yes_after - yes, no_after - no),
        (commits, 0),
        "{what}: Rpl_semi_sync_master_yes_tx / no_tx grew by ({}, {}) over {commits} commits \
         (semi-sync status {})",
        yes_after - yes,
        no_after - no,
        primary.status_var("Rpl_semi_sync_master_status")
    );
}

#[test]
fn follows_a_restarted_primary_into_its_new_file() {
    let mut t = Topology::start(PrimaryOpts::default(), &[]);
    mixed_workload(&t.primary, 30);
    t.wait_caught_up(CATCH_UP);

    t.primary.shutdown();
    wait_until(REFUSE, "binlogserver to notice the primary went away", || {
        t.bls.assert_running();
        count_in_log(&t.bls, LINK_LOST) > 0
    });
    t.primary.restart();
    let primary = &t.primary;
    let files: Vec<String> = primary.binlog_files().into_iter().map(|f| f.0).collect();
    assert_eq!(files, ["mysql-bin.000001", "mysql-bin.000002"], "setup: a new file after restart");

    wait_semi_sync_client(primary, &t.bls);
    assert_all_acked(primary, "after the restart", || mixed_workload(primary, 20));
    t.wait_caught_up(CATCH_UP);
    t.assert_same_files();
    assert_gtids_contiguous(primary, t.data.path());
    t.bls.assert_running();
}

/// The reconnect delays binlogserver logged (`reconnecting in N ms`).
fn backoff_delays(bls: &Binlogserver) -> Vec<u64> {
    bls.log()
        .lines()
        .filter_map(|l| l.split_once("reconnecting in ")?.1.split_once(" ms"))
        .filter_map(|(n, _)| n.parse().ok())
        .collect()
}

#[test]
fn stops_once_when_the_primary_purged_what_it_has_not_fetched_yet() {
    let t = Topology::through_relay(PrimaryOpts::default(), &[]);
    let (primary, relay, bls, data) = (&t.primary, t.relay(), &t.bls, &t.data);
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 20);
    t.wait_caught_up(CATCH_UP);

    // The link breaks and stays broken while the primary moves on.
    relay.refuse(true);
    assert_eq!(relay.reset_now(), 1, "one link to the primary");
    wait_until(REFUSE, "binlogserver to retry a few times", || {
        bls.assert_running();
        relay.refused() >= 3
    });
    let before = snapshot_dir(data.path());
    for _ in 0..2 {
        primary.sql("FLUSH BINARY LOGS");
        mixed_workload(primary, 10);
    }
    primary.sql("FLUSH BINARY LOGS");
    primary.sql("PURGE BINARY LOGS TO 'mysql-bin.000004'");
    wait_until(REFUSE, "binlogserver to back off further", || {
        bls.assert_running();
        relay.refused() >= 5
    });
    // Bounded backoff while the primary is unreachable: each delay at
    // least the one before, doubling from 100 ms.
    let delays = backoff_delays(bls);
    assert!(
        delays.len() >= 5
            && delays.windows(2).all(|w| w[1] >= w[0])
            && delays.iter().any(|&d| d >= 800),
        "reconnect delays while refused: {delays:?}"
    );

    let accepted = relay.accepted();
    relay.refuse(false);
    bls.assert_failed_exit(REFUSE, "binlogs it still needs were purged while it was away");
    bls.assert_error_logged(&["cannot follow the primary", "purged", "error 1236"]);
    // One connection hears 1236 and binlogserver stops: no retry storm (a
    // connection attempt may have been on its way when refusing ended).
    assert!(
        relay.accepted() <= accepted + 2,
        "binlogserver connected {} times after the purge was visible",
        relay.accepted() - accepted
    );
    assert_dir_unchanged(&before, data.path());
}

#[test]
fn refuses_a_different_server_behind_the_same_address() {
    let t = Topology::through_relay(PrimaryOpts::default(), &[]);
    let (relay, bls, data) = (t.relay(), &t.bls, &t.data);
    mixed_workload(&t.primary, 30);
    t.wait_caught_up(CATCH_UP);
    let ours = t.primary.master_status();

    // Another server with another history that reaches further into the
    // same file name, with the same server id (1) as the first.
    let other = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    mixed_workload(&other, 40);
    mixed_workload(&other, 40);
    let theirs = other.master_status();
    assert!(
        theirs.0 == ours.0 && theirs.1 > ours.1,
        "setup: the other server must pass {ours:?}, is at {theirs:?}"
    );
    let before = snapshot_dir(data.path());
    let accepted = relay.accepted();
    relay.set_target(other.port());
    assert_eq!(relay.reset_now(), 1, "one link to the primary");

    bls.assert_failed_exit(REFUSE, "another server answers at the primary's address");
    // Which check trips depends on where our position falls in the other
    // server's file: on an event boundary, the re-sent last event differs
    // from ours; inside an event, the server itself refuses the dump.
    let log = bls.log();
    let refused = log.lines().any(|l| {
        l.contains(" ERROR ")
            && l.contains("cannot follow the primary")
            && (l.contains("do not match the stored ones") || l.contains("refused the binlog dump"))
    });
    assert!(
        refused,
        "no ERROR line says the other server's history was refused:\n{}",
        tail(&log, 40)
    );
    assert!(
        relay.accepted() <= accepted + 2,
        "binlogserver connected {} times to the other server",
        relay.accepted() - accepted
    );
    assert_dir_unchanged(&before, data.path());
}

#[test]
fn follows_a_primary_without_binlog_checksums() {
    let opts = PrimaryOpts {
        extra_args: vec!["--binlog-checksum=NONE".to_owned()],
        ..PrimaryOpts::default()
    };
    let t = Topology::start(opts, &[]);
    let primary = &t.primary;
    assert_eq!(primary.sql("SELECT @@GLOBAL.binlog_checksum"), "NONE");
    assert_all_acked(primary, "binlog_checksum=NONE", || mixed_workload(primary, 40));
    primary.sql("FLUSH BINARY LOGS");
    assert_all_acked(primary, "binlog_checksum=NONE, second file", || mixed_workload(primary, 10));
    t.wait_caught_up(CATCH_UP);
    assert_same_binlogs(primary, t.data.path());
    assert_same_binlog_set(primary, t.data.path());
    assert_gtids_contiguous(primary, t.data.path());
    t.bls.assert_running();
}

/// Autocommit statements on an InnoDB and a MyISAM table (whose statement
/// binlogging ends with a `COMMIT` query event rather than an XID event),
/// and explicit transactions, after creating both tables. Returns the
/// transactions committed.
fn statement_workload(primary: &MariaDb, db: &str) -> u64 {
    let before = primary.gtid_seq();
    primary.sql(&format!(
        "CREATE DATABASE {db}; \
         CREATE TABLE {db}.i (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB; \
         CREATE TABLE {db}.m (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=MyISAM"
    ));
    let mut script = String::new();
    for k in 1..=15 {
        script.push_str(&format!(
            "INSERT INTO {db}.i VALUES ({k}, 'i{k}');\n\
             INSERT INTO {db}.m VALUES ({k}, 'm{k}');\n\
             UPDATE {db}.m SET v = CONCAT(v, '+') WHERE id <= {k};\n\
             BEGIN; UPDATE {db}.i SET v = CONCAT(v, '+') WHERE id = {k}; \
             INSERT INTO {db}.i VALUES ({k} + 1000, 'x'); COMMIT;\n"
        ));
    }
    primary.sql_script(&script);
    primary.gtid_seq() - before
}

/// QUERY events whose statement is `COMMIT`, in all stored files.
fn commit_query_events(dir: &std::path::Path) -> usize {
    crate::common::local_binlog_files(dir)
        .iter()
        .map(|f| {
            let bytes = fs::read(dir.join(f)).expect("read a stored binlog");
            binlog_events(&bytes)
                .iter()
                .filter(|e| e.type_code == QUERY_EVENT)
                .filter(|e| {
                    let ev = &bytes[e.offset..e.offset + e.size as usize];
                    ev.windows(6).any(|w| w == b"COMMIT")
                })
                .count()
        })
        .sum()
}

#[test]
fn acknowledges_statement_and_mixed_binlog_formats() {
    let opts = PrimaryOpts { binlog_format: "STATEMENT".to_owned(), ..PrimaryOpts::default() };
    let t = Topology::start(opts, &[]);
    let primary = &t.primary;
    assert_all_acked(primary, "binlog_format=STATEMENT", || statement_workload(primary, "st"));
    primary.sql("SET GLOBAL binlog_format = 'MIXED'");
    // UUID() is unsafe for statement logging: MIXED logs those rows.
    assert_all_acked(primary, "binlog_format=MIXED", || {
        let n = statement_workload(primary, "mx");
        let before = primary.gtid_seq();
        primary
            .sql("INSERT INTO mx.i VALUES (5000, UUID()); INSERT INTO mx.m VALUES (5000, UUID())");
        n + primary.gtid_seq() - before
    });
    t.wait_caught_up(CATCH_UP);
    assert!(
        commit_query_events(t.data.path()) >= 30,
        "expected COMMIT query events from the MyISAM statements"
    );
    assert_same_binlogs(primary, t.data.path());
    assert_gtids_contiguous(primary, t.data.path());
    t.bls.assert_running();
}

#[test]
fn keeps_following_while_semi_sync_is_switched_off_and_on() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let primary = &t.primary;
    assert_all_acked(primary, "semi-sync on", || mixed_workload(primary, 10));

    primary.sql("SET GLOBAL rpl_semi_sync_master_enabled = OFF");
    let (yes, _) = semi_sync_tx(primary);
    mixed_workload(primary, 20);
    t.wait_caught_up(CATCH_UP);
    assert_eq!(semi_sync_tx(primary).0, yes, "no semi-sync while it is off");
    t.bls.assert_running();

    primary.sql("SET GLOBAL rpl_semi_sync_master_enabled = ON");
    wait_semi_sync_client(primary, &t.bls);
    assert_all_acked(primary, "semi-sync on again", || mixed_workload(primary, 20));
    t.wait_caught_up(CATCH_UP);
    assert_same_binlogs(primary, t.data.path());
    assert_gtids_contiguous(primary, t.data.path());
    t.bls.assert_running();
}
