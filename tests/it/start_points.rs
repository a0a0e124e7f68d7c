//! Where an empty data directory starts: `--start-file` and `--start-gtid`
//! against a real MariaDB primary. Files are always stored whole, so the
//! first stored file is the named one, or the one holding the first
//! transaction after the GTID position, from its first byte.

use std::time::Duration;

use crate::common::{
    assert_same_binlogs, local_binlog_files, mixed_workload, wait_caught_up, wait_until,
    Binlogserver, MariaDb, PrimaryOpts, TestDir,
};

const CATCH_UP: Duration = Duration::from_secs(30);

/// A primary with four binlog files, each holding some transactions.
fn primary_with_four_files() -> MariaDb {
    let primary = MariaDb::primary(PrimaryOpts::default());
    for _ in 0..3 {
        mixed_workload(&primary, 5);
        primary.sql("FLUSH BINARY LOGS");
    }
    mixed_workload(&primary, 5);
    primary
}

fn names(primary: &MariaDb) -> Vec<String> {
    primary.binlog_files().into_iter().map(|(n, _)| n).collect()
}

/// Once binlogserver holds `from` onwards, purges the primary's older files
/// so that `SHOW BINARY LOGS` lists exactly what must be stored here.
fn assert_stored_from(primary: &MariaDb, data: &TestDir, from: &str) {
    let all = names(primary);
    let expect: Vec<String> = all.iter().skip_while(|n| n.as_str() != from).cloned().collect();
    assert!(!expect.is_empty(), "{from} not on the primary: {all:?}");
    wait_until(CATCH_UP, "binlogserver to store the expected files", || {
        local_binlog_files(data.path()) == expect
    });
    primary.sql(&format!("PURGE BINARY LOGS TO '{from}'"));
    wait_caught_up(primary, data.path(), CATCH_UP);
    assert_same_binlogs(primary, data.path());
    assert_eq!(local_binlog_files(data.path()), expect);
}

#[test]
fn starts_with_the_named_file() {
    let primary = primary_with_four_files();
    let third = names(&primary)[2].clone();
    let data = TestDir::new("start-file");
    let bls = Binlogserver::follow(&primary, data.path(), &["--start-file", &third]);
    assert_stored_from(&primary, &data, &third);
    // It keeps following from there.
    mixed_workload(&primary, 3);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlogs(&primary, data.path());
    bls.assert_running();
}

#[test]
fn starts_with_the_file_holding_the_first_transaction_after_a_gtid() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    mixed_workload(&primary, 5);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&primary, 5);
    // Everything up to here counts as already replicated.
    let applied = primary.gtid_binlog_pos();
    primary.sql("FLUSH BINARY LOGS");
    let expected_first = primary.master_status().0;
    mixed_workload(&primary, 5);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&primary, 5);
    let data = TestDir::new("start-gtid");
    let bls = Binlogserver::follow(&primary, data.path(), &["--start-gtid", &applied]);
    assert_stored_from(&primary, &data, &expected_first);
    assert!(bls.log().contains(&format!("starts in file={expected_first}")), "{}", bls.log());
    bls.assert_running();
}

#[test]
fn stops_with_a_clear_error_for_a_gtid_the_primary_never_had() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    mixed_workload(&primary, 3);
    let data = TestDir::new("start-gtid-unknown");
    let bls = Binlogserver::follow(&primary, data.path(), &["--start-gtid", "0-1-999999"]);
    let status = bls.wait_exit(Duration::from_secs(20));
    assert!(!status.success(), "exit status {status}");
    let log = bls.log();
    assert!(log.contains("1236"), "{log}");
    assert!(
        local_binlog_files(data.path()).is_empty(),
        "stored files although the start was refused"
    );
}
