//! MariaDB GTID positioning against binlogserver, checked against what the
//! real primary says to the same request: a replica in GTID strict mode
//! whose position is a hole in the binlog is refused (error 1951's text), a
//! non-strict one starts after the hole, and a position from a server id the
//! binlog never had is refused as diverged (error 1955's text).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{
    describe_slave_status, follow_and_serve, wait_caught_up, wait_semi_sync_client, wait_until,
    MariaDb, PrimaryOpts, ReplicaOpts, TestDir, UseGtid, REPL_PASSWORD, REPL_USER,
};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// Points `replica` at `port` from `position` and waits for its IO thread
/// to stop with an error; returns the error text.
fn refused(replica: &MariaDb, port: u16, position: &str) -> String {
    replica.sql("STOP SLAVE");
    replica.sql(&format!("SET GLOBAL gtid_slave_pos='{position}'"));
    replica.change_master("127.0.0.1", port, REPL_USER, REPL_PASSWORD, UseGtid::SlavePos);
    replica.change_master_options("MASTER_CONNECT_RETRY=1");
    replica.start_slave();
    let mut last = String::new();
    wait_until(DEADLINE, "the replica's IO thread to stop with an error", || {
        let st = replica.slave_status();
        last = describe_slave_status(&st);
        st["Slave_IO_Running"] == "No" && !st["Last_IO_Error"].is_empty()
    });
    let error = replica.slave_status()["Last_IO_Error"].clone();
    eprintln!("position {position} on port {port}: {error}");
    assert!(!error.is_empty(), "{last}");
    error
}

#[test]
fn gtid_positions_are_checked_like_the_primary_does() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    let data = TestDir::new("bls-data");
    let (bls, port) = follow_and_serve(&primary, data.path(), &[]);
    wait_semi_sync_client(&primary, &bls);
    primary.sql_script(
        "CREATE DATABASE holes;\n\
         CREATE TABLE holes.t (id INT PRIMARY KEY) ENGINE=InnoDB;\n\
         INSERT INTO holes.t VALUES (1);\n",
    );
    let before = primary.gtid_seq();
    // Jump the sequence: before+1 .. before+4 never exist.
    primary.sql_script(&format!("SET SESSION gtid_seq_no={};\nINSERT INTO holes.t VALUES (2);\n", before + 5));
    assert_eq!(primary.gtid_seq(), before + 5);
    wait_caught_up(&primary, data.path(), DEADLINE);
    let hole = format!("0-1-{}", before + 2);

    // Strict mode (the harness's replicas run with --gtid-strict-mode=1).
    let strict = MariaDb::replica(ReplicaOpts::default());
    let from_primary = refused(&strict, primary.port(), &hole);
    let from_bls = refused(&strict, port, &hole);
    for error in [&from_primary, &from_bls] {
        assert!(error.contains(&format!("missing the GTID {hole} requested by the slave (even though both a prior and a subsequent"),), "{error}");
    }
    // A server id this binlog never had: diverged, from both.
    let from_primary = refused(&strict, primary.port(), "0-77-3");
    let from_bls = refused(&strict, port, "0-77-3");
    for error in [&from_primary, &from_bls] {
        assert!(error.contains("0-77-3") && error.contains("diverged"), "{error}");
    }

    // Not strict: the replica starts after the hole and gets row 2 only.
    let lax = MariaDb::replica(ReplicaOpts { extra_args: vec!["--gtid-strict-mode=0".into()], ..ReplicaOpts::default() });
    lax.sql_script(
        "SET SESSION sql_log_bin=0;\n\
         CREATE DATABASE holes;\n\
         CREATE TABLE holes.t (id INT PRIMARY KEY) ENGINE=InnoDB;\n",
    );
    lax.sql(&format!("SET GLOBAL gtid_slave_pos='{hole}'"));
    lax.change_master("127.0.0.1", port, REPL_USER, REPL_PASSWORD, UseGtid::SlavePos);
    lax.start_slave();
    let want = format!("0-1-{}", before + 5);
    wait_until(DEADLINE, "the non-strict replica to apply the GTID after the hole", || {
        lax.sql("SELECT @@gtid_slave_pos") == want
    });
    assert_eq!(lax.sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM holes.t"), "2");
    let st = lax.slave_status();
    assert_eq!(st["Slave_IO_Running"], "Yes", "{}", describe_slave_status(&st));
    bls.assert_running();
}
