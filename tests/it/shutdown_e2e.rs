//! How the real binary stops: SIGTERM during semi-sync load drains (the
//! writer fsyncs what it received, the ACKs it covers go out) and exits 0
//! with one log line, leaving files that are a prefix of the primary's
//! from which a restart resumes to identical files; SIGINT stops a server
//! with connected clients at once; a retention purge that fails stops the
//! process with its message and a non-zero status instead of leaving it
//! running without retention.
//!
//! Needs `mariadbd`; without it the tests fail and say what to install.

use crate::common::raw_client::{fixture_dir, serve_fixture, RawConn};
use crate::common::{
    assert_same_binlogs, local_binlog_files, tail, wait_acked, wait_caught_up,
    wait_semi_sync_client, Binlogserver, Load, MariaDb, PrimaryOpts, TestDir, FOLLOW_ARGS,
};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Sends `signal` (`TERM`, `INT`) to `bls`.
fn signal(bls: &Binlogserver, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), bls.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Every stored file equals the primary's, but the last, which is a prefix
/// of it (but for the in-use bit of its format description's flags, offset
/// 21, which the primary clears in what it sends of a file it still writes).
#[track_caller]
fn assert_prefix_of_primary(primary: &MariaDb, dir: &Path) {
    let files = local_binlog_files(dir);
    assert!(!files.is_empty(), "nothing stored");
    for (i, f) in files.iter().enumerate() {
        let mut ours = fs::read(dir.join(f)).unwrap();
        let mut theirs = fs::read(primary.binlog_path(f)).unwrap();
        if i + 1 == files.len() {
            for bytes in [&mut ours, &mut theirs] {
                if let Some(flags) = bytes.get_mut(21) {
                    *flags &= !0x01;
                }
            }
            assert!(
                theirs.starts_with(&ours),
                "{f}: our {} bytes are not a prefix of the primary's {}",
                ours.len(),
                theirs.len()
            );
        } else {
            assert!(ours == theirs, "{f} differs from the primary's");
        }
    }
}

#[test]
fn sigterm_during_semi_sync_load_drains_exits_zero_and_a_restart_resumes() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    let data = TestDir::new("sigterm-data");
    let bls =
        Binlogserver::follow(&primary, data.path(), &["--semi-sync", "on", "--heartbeat", "1"]);
    wait_semi_sync_client(&primary, &bls);
    let load = Load::start(&primary, 4);
    wait_acked(&load, 200);
    assert_eq!(primary.status_var("Rpl_semi_sync_master_status"), "ON", "semi-sync under load");
    signal(&bls, "TERM");
    let status = bls.wait_exit(Duration::from_secs(20));
    let committed = load.stop();
    let log = bls.log();
    assert!(status.success(), "exit status {status} after SIGTERM:\n{}", tail(&log, 40));
    let said = log.lines().filter(|l| l.contains("received SIGTERM, shutting down")).count();
    assert_eq!(said, 1, "one line says why it stops:\n{}", tail(&log, 40));
    assert!(
        !log.lines().any(|l| l.contains(" ERROR ") || l.contains("panicked")),
        "a clean stop logs no error:\n{}",
        tail(&log, 40)
    );
    eprintln!("{committed} commits; stopped cleanly");
    assert_prefix_of_primary(&primary, data.path());

    // A restart resumes from the stored files and catches up to identical ones.
    let again = Binlogserver::follow(&primary, data.path(), &FOLLOW_ARGS);
    wait_semi_sync_client(&primary, &again);
    primary.sql("CREATE DATABASE after_sigterm");
    wait_caught_up(&primary, data.path(), Duration::from_secs(60));
    assert_same_binlogs(&primary, data.path());
}

#[test]
fn sigterm_stops_an_idle_follower_at_once_whatever_its_heartbeat_period() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    let data = TestDir::new("sigterm-idle");
    // Nothing arrives for 30 s: only the waker ends the dump thread's read.
    let bls =
        Binlogserver::follow(&primary, data.path(), &["--semi-sync", "on", "--heartbeat", "30"]);
    wait_semi_sync_client(&primary, &bls);
    primary.sql("CREATE DATABASE before_sigterm");
    wait_caught_up(&primary, data.path(), Duration::from_secs(30));
    let started = Instant::now();
    signal(&bls, "TERM");
    let status = bls.wait_exit(Duration::from_secs(20));
    let took = started.elapsed();
    assert!(status.success(), "exit status {status}:\n{}", tail(&bls.log(), 40));
    assert!(took < Duration::from_secs(10), "took {took:?} to stop");
    assert_prefix_of_primary(&primary, data.path());
}

#[test]
fn sigint_stops_a_server_with_connected_clients_at_once_and_exits_zero() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    // Two clients that never send anything: their threads block in a read.
    let mut idle = RawConn::connect(port);
    idle.greeting();
    let mut other = RawConn::connect(port);
    other.greeting();
    signal(&bls, "INT");
    let status = bls.wait_exit(Duration::from_secs(10));
    let log = bls.log();
    assert!(status.success(), "exit status {status} after SIGINT:\n{}", tail(&log, 40));
    assert!(log.contains("received SIGINT, shutting down"), "{}", tail(&log, 40));
    // Their sessions were ended (and joined) before the process exited.
    assert!(idle.until_closed(Duration::from_secs(5)).is_empty());
    assert!(other.until_closed(Duration::from_secs(5)).is_empty());
}

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
