//! Continuing binlogserver's files with a promoted primary from the
//! command line (issue 10 items 2 and 4): a restart with `--start-file`
//! naming the promoted replica's next file, checked against the GTID state
//! at the end of the stored files before a byte is stored. Accepted, the
//! files equal the old primary's before that file and the new primary's
//! from it on; refused (one GTID short, one GTID extra, a file number not
//! above ours), binlogserver exits with the reason and the data directory
//! is unchanged. `--start-gtid` on a directory that holds binlogs is
//! refused, never silently ignored.

use std::fs;
use std::time::Duration;

use crate::common::{
    assert_continued, assert_dir_unchanged, detach_and_flush_above, follow_and_serve,
    last_local_file, mixed_workload, promotable_replica, serve_dir, snapshot_dir, wait_files_from,
    wait_replica_caught_up, wait_semi_sync_client, Binlogserver, MariaDb, PrimaryOpts, TestDir,
    Topology, UseGtid, FOLLOW_ARGS, REPL_PASSWORD, REPL_USER,
};

const CATCH_UP: Duration = Duration::from_secs(60);
const EXIT: Duration = Duration::from_secs(30);

/// binlogserver following 127.0.0.1:`port` into `data` with `extra`.
fn follow(port: u16, data: &TestDir, extra: &[&str]) -> Binlogserver {
    Binlogserver::follow_port(port, data.path(), &[&FOLLOW_ARGS[..], extra].concat())
}

#[test]
fn a_restart_with_start_file_continues_with_the_promoted_replica() {
    let mut t = Topology::start(PrimaryOpts::default(), &[]);
    let db2 = promotable_replica(t.port);
    mixed_workload(&t.primary, 20);
    t.primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&t.primary, 10);
    t.wait_caught_up(CATCH_UP);
    wait_replica_caught_up(&t.primary, &db2, CATCH_UP);
    // The primary dies; binlogserver holds everything it acknowledged.
    t.bls.kill9();
    t.primary.stop();
    let ours = last_local_file(t.data.path());
    let switch = detach_and_flush_above(&db2, &ours);
    let bls = follow(db2.port(), &t.data, &["--start-file", &switch]);
    mixed_workload(&db2, 10);
    db2.sql("FLUSH BINARY LOGS");
    mixed_workload(&db2, 5);
    wait_files_from(&db2, &switch, t.data.path(), CATCH_UP);
    bls.assert_running();
    assert_continued(&t.primary, &db2, &switch, t.data.path());
    let log = bls.log();
    assert!(
        log.lines().any(|l| l.contains("switch checked") && l.contains(&switch)),
        "no `switch checked` line for {switch}:\n{log}"
    );
    // A restart with the same command line resumes in the new files.
    bls.kill9();
    let again = follow(db2.port(), &t.data, &["--start-file", &switch]);
    mixed_workload(&db2, 3);
    wait_files_from(&db2, &switch, t.data.path(), CATCH_UP);
    again.assert_running();
    assert!(again.log().contains("is already stored here"), "{}", again.log());
    assert_continued(&t.primary, &db2, &switch, t.data.path());
    // The old primary's last file ends without a ROTATE: verify accepts it.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_binlogserver"))
        .args(["verify", t.data.path_str()])
        .output()
        .expect("run binlogserver verify");
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify after the switch:\n{report}");
}

/// Starts binlogserver with `--start-file file` on `data` following `db2`,
/// waits for its failed exit, and checks the reason and the directory.
fn assert_refused(db2: &MariaDb, data: &TestDir, file: &str, needles: &[&str]) {
    let before = snapshot_dir(data.path());
    let bls = follow(db2.port(), data, &["--start-file", file]);
    bls.assert_failed_exit(EXIT, &format!("--start-file {file} cannot continue the files"));
    bls.assert_error_logged(needles);
    assert_dir_unchanged(&before, data.path());
}

#[test]
fn each_refusal_leaves_the_data_directory_unchanged() {
    // binlogserver starts at the primary's third file, so a lower file of
    // the promoted replica is one it does not hold.
    let mut db1 = MariaDb::primary(PrimaryOpts::default());
    db1.sql("FLUSH BINARY LOGS; FLUSH BINARY LOGS");
    let (third, _) = db1.master_status();
    let data = TestDir::new("refusals");
    let (bls, port) = follow_and_serve(&db1, data.path(), &["--start-file", &third]);
    wait_semi_sync_client(&db1, &bls);
    let db2 = promotable_replica(port);
    mixed_workload(&db1, 12);
    wait_replica_caught_up(&db1, &db2, CATCH_UP);
    // db2 misses the last transaction binlogserver acknowledged.
    db2.stop_slave();
    db1.sql("CREATE DATABASE last_one");
    wait_files_from(&db1, &third, data.path(), CATCH_UP);
    let last_gtid = db1.gtid_binlog_pos();
    bls.kill9();
    db1.stop();
    let ours = last_local_file(data.path());
    let next = detach_and_flush_above(&db2, &ours);

    let (lower, _) = db2.binlog_files().into_iter().find(|(n, _)| *n < third).unwrap();
    assert_refused(
        &db2,
        &data,
        &lower,
        &["is not above binlogserver's last file", "FLUSH BINARY LOGS"],
    );
    assert_refused(
        &db2,
        &data,
        &next,
        &["the new primary lacks transactions binlogserver holds", &last_gtid],
    );

    // db2 catches up from binlogserver (serving only), as a failover does
    // first, then writes one transaction of its own before the new file.
    let (server, serve_port) = serve_dir(data.path(), REPL_USER, REPL_PASSWORD, &[]);
    db2.sql("RESET SLAVE ALL");
    db2.replicate_from(serve_port, UseGtid::SlavePos);
    crate::common::wait_until(CATCH_UP, "db2 to catch up from binlogserver", || {
        db2.sql("SELECT @@GLOBAL.gtid_slave_pos") == last_gtid
    });
    drop(server);
    db2.sql("STOP SLAVE; RESET SLAVE ALL; CREATE DATABASE written_by_db2");
    let extra_gtid = db2.gtid_binlog_pos();
    let next = detach_and_flush_above(&db2, &next);
    assert_refused(
        &db2,
        &data,
        &next,
        &["the new primary holds transactions binlogserver does not", &extra_gtid],
    );
}

#[test]
fn start_gtid_on_a_directory_with_binlogs_is_refused() {
    let data = TestDir::new("start-gtid-stored");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/binlogs/mysql_common/mariadb-bin.000001"
    );
    fs::copy(fixture, data.join("mariadb-bin.000001")).unwrap();
    fs::write(data.join("mariadb-bin.index"), "./mariadb-bin.000001\n").unwrap();
    fs::write(data.join("binlogserver.lock"), "").unwrap();
    let before = snapshot_dir(data.path());
    // Nothing listens there: the refusal comes before any connection.
    let port = crate::common::free_port();
    let bls = follow(port, &data, &["--start-gtid", "0-1-1"]);
    bls.assert_failed_exit(EXIT, "--start-gtid is given for a directory holding binlogs");
    let log = bls.log();
    assert!(
        log.contains("--start-gtid: only chooses where an empty data directory starts"),
        "{log}"
    );
    assert!(log.contains("holds binlogs up to mariadb-bin.000001"), "{log}");
    assert_dir_unchanged(&before, data.path());
}
