//! How the real binary stops: a retention purge that fails stops the
//! process with its message and a non-zero status instead of leaving it
//! running without retention.
//!
//! Needs `mariadbd`; without it the tests fail and say what to install.

use crate::common::{tail, wait_caught_up, Binlogserver, MariaDb, PrimaryOpts, TestDir};
use std::fs;
use std::time::Duration;

#[test]
fn a_failed_retention_purge_stops_the_process_with_its_message() {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    let data = TestDir::new("retention-fails");
    let bls = Binlogserver::follow(&primary, data.path(), &["--max-total-size", "1"]);
    primary.sql("CREATE DATABASE before_the_trap");
    wait_caught_up(&primary, data.path(), Duration::from_secs(30));
    bls.assert_running();
    // The purge writes its log of names to `mysql-bin.~rec~.tmp` first; a
    // directory there makes that write fail (as root, permissions would not).
    let trap = data.join("mysql-bin.~rec~.tmp");
    fs::create_dir(&trap).unwrap();
    fs::write(trap.join("keep"), b"x").unwrap();
    // The rotation wakes the retention thread, which must purge the old file.
    primary.sql("FLUSH BINARY LOGS");
    let status = bls.wait_exit(Duration::from_secs(30));
    let log = bls.log();
    assert_eq!(status.code(), Some(1), "exit status {status}:\n{}", tail(&log, 40));
    assert!(
        log.lines().any(|l| l.contains(" ERROR ")
            && l.contains("retention stopped")
            && l.contains(trap.to_str().unwrap())
            && l.contains("Is a directory")),
        "no ERROR line names the retention failure, the file and the cause:\n{}",
        tail(&log, 40)
    );
}
