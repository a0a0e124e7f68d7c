//! End-to-end tests against a real MariaDB 10.11 primary: binlogserver
//! follows it as a (semi-sync) replica and must keep byte-identical binlog
//! files through rotations, large events, kill -9, cut connections and a
//! primary whose history no longer matches.
//!
//! Each test starts its own `mariadbd` on a free loopback port in a
//! temporary directory. If `mariadbd` is missing the tests fail and say what
//! to install. Set `BLS_KEEP_TEST_DIRS=1` to keep the directories.

use crate::common::{
    assert_dir_unchanged, assert_index_matches, assert_same_binlog_set, assert_same_binlogs,
    big_row, gtid_seq_of, largest_event, local_binlog_files, mixed_workload, snapshot_dir, tool,
    wait_acked, wait_caught_up, wait_semi_sync_client, wait_until, Binlogserver, KillOnDrop, Load,
    MariaDb, PrimaryOpts, TestDir, Topology, FOLLOW_ARGS,
};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound for binlogserver to catch up after writes stop.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Upper bound for binlogserver to (re)connect and register for semi-sync.
const CONNECT: Duration = Duration::from_secs(20);
/// How long binlogserver may take to give up on a primary it must refuse.
const REFUSE: Duration = Duration::from_secs(20);
/// 20 MiB: one ROWS event bigger than a 16 MiB protocol packet.
const BIG_ROW: usize = 20 << 20;
const SIXTEEN_MIB: u32 = (1 << 24) - 1;

/// Total size of the binlog files in `dir`.
fn binlog_bytes(dir: &Path) -> u64 {
    local_binlog_files(dir)
        .iter()
        .filter_map(|n| fs::metadata(dir.join(n)).ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn harness_starts_a_primary_with_semi_sync() {
    let begin = Instant::now();
    let primary = MariaDb::primary(PrimaryOpts::default());
    let first = primary.startup_time();
    let again = MariaDb::primary(PrimaryOpts::default());
    eprintln!(
        "primary start: {} ms, then {} ms (the first start in a process also runs install-db)",
        first.as_millis(),
        again.startup_time().as_millis()
    );
    drop(again);
    assert_eq!(primary.sql("SELECT @@rpl_semi_sync_master_enabled"), "1");
    assert_eq!(primary.sql("SELECT @@rpl_semi_sync_master_wait_point"), "AFTER_SYNC");
    assert_eq!(primary.sql("SELECT @@log_bin"), "1");
    assert_eq!(primary.sql("SELECT @@binlog_checksum"), "CRC32");
    assert_eq!(primary.sql("SELECT @@gtid_strict_mode"), "1");
    // The replication account works over TCP with the right grants.
    let out = Command::new(tool("mariadb"))
        .args([
            "--no-defaults",
            "-urepl",
            "-preplpass",
            "-h127.0.0.1",
            "--protocol=tcp",
            "-N",
            "-B",
        ])
        .arg(format!("-P{}", primary.port()))
        .args(["-e", "SHOW GRANTS"])
        .output()
        .expect("run mariadb as repl");
    let grants = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "repl cannot log in: {}", String::from_utf8_lossy(&out.stderr));
    for privilege in ["REPLICATION SLAVE", "BINLOG MONITOR", "SLAVE MONITOR"] {
        assert!(grants.contains(privilege), "repl lacks {privilege}: {grants}");
    }

    let before = primary.binlog_files();
    let commits = mixed_workload(&primary, 40) + big_row(&primary, BIG_ROW);
    let after = primary.binlog_files();
    let (live, pos) = primary.master_status();
    assert_eq!(after.last().map(|f| (f.0.clone(), f.1)), Some((live.clone(), pos)));
    let total = |files: &[(String, u64)]| files.iter().map(|f| f.1).sum::<u64>();
    assert!(total(&after) > total(&before) + BIG_ROW as u64, "{before:?} -> {after:?}");
    assert_eq!(primary.gtid_seq(), commits, "every transaction of the harness is counted");
    let big = largest_event(&primary.binlog_path(&live)).expect("events in the live binlog");
    assert!(big.size > SIXTEEN_MIB, "largest event is only {} bytes", big.size);
    assert_eq!(big.type_code, 23, "the big event is a WRITE_ROWS_V1 event");

    // A clean shutdown closes the live file: the in-use flag is cleared.
    let mut primary = primary;
    primary.shutdown();
    let closed = fs::read(primary.binlog_path(&live)).expect("read the closed binlog");
    assert_eq!(closed[21] & 1, 0, "in-use flag after a clean shutdown");
    eprintln!("harness self-test took {} ms", begin.elapsed().as_millis());
}

/// Checks `wait_caught_up` and `assert_same_binlogs` against a copier known
/// to be right: `mariadb-binlog --read-from-remote-server --raw --stop-never`.
#[test]
fn harness_accepts_a_mariadb_binlog_raw_copy() {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    let copy = TestDir::new("raw-copy");
    let log = fs::File::create(copy.join("mariadb-binlog.log")).expect("create log");
    let child = Command::new(tool("mariadb-binlog"))
        .args(["--no-defaults", "--read-from-remote-server", "--raw", "--stop-never"])
        .args(["--stop-never-slave-server-id=1002", "-h127.0.0.1", "-urepl", "-preplpass"])
        .arg(format!("-P{}", primary.port()))
        .arg(format!("--result-file={}/", copy.path_str()))
        .arg("mysql-bin.000001")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("spawn mariadb-binlog");
    let _copier = KillOnDrop(child);
    mixed_workload(&primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&primary, 10);
    big_row(&primary, BIG_ROW);
    wait_caught_up(&primary, copy.path(), CATCH_UP);
    assert_same_binlogs(&primary, copy.path());
    assert_same_binlog_set(&primary, copy.path());
    // The one byte the comparison forgives really differs in the live file.
    let (live, _) = primary.master_status();
    let theirs = fs::read(primary.binlog_path(&live)).expect("read the primary's live file");
    let ours = fs::read(copy.join(&live)).expect("read the copy's live file");
    assert_eq!((theirs[21] & 1, ours[21] & 1), (1, 0), "in-use flag: primary set, stream clear");

    // And the comparison notices everything else.
    let closed = "mysql-bin.000001";
    let expect_diff = |edit: &dyn Fn(&mut Vec<u8>), file: &str, needle: &str| {
        let path = copy.join(file);
        let good = fs::read(&path).expect("read the copy");
        let mut bad = good.clone();
        edit(&mut bad);
        fs::write(&path, &bad).expect("write the edited copy");
        let report = crate::common::compare_binlogs(&primary, copy.path());
        fs::write(&path, &good).expect("restore the copy");
        let report = report.expect_err("the edited copy must not compare equal");
        assert!(report.contains(needle), "report for {file} lacks {needle:?}:\n{report}");
    };
    expect_diff(&|b| b[21] ^= 1, closed, "first differing byte at offset 21");
    expect_diff(&|b| b[21] ^= 2, &live, "first differing byte at offset 21");
    let last = ours.len() - 1;
    expect_diff(&|b| b[last] ^= 0x80, &live, &format!("offset {last}"));
    expect_diff(&|b| b.truncate(last), &live, "local copy is short");
    expect_diff(&|b| b.push(0), &live, "local copy has extra bytes");
    expect_diff(&|b| b[1000] ^= 1, closed, "in event");
    fs::rename(copy.join(closed), copy.join("moved")).expect("move a file away");
    let report = crate::common::compare_binlogs(&primary, copy.path())
        .expect_err("a missing file must be noticed");
    assert!(report.contains("mysql-bin.000001: missing"), "{report}");
}

#[test]
fn follows_primary_byte_identical_with_semi_sync() {
    // A generous timeout: every commit must be acknowledged, and a slow CI
    // machine fsyncing the 20 MiB event must not count as a lost ack.
    let t = Topology::start(PrimaryOpts::default(), &[]).with_ack_timeout(Duration::from_secs(10));
    let primary = &t.primary;
    let yes_before = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    let no_before = primary.status_u64("Rpl_semi_sync_master_no_tx");

    let mut commits = mixed_workload(primary, 40);
    primary.sql("FLUSH BINARY LOGS");
    commits += mixed_workload(primary, 40);
    primary.sql("FLUSH BINARY LOGS");
    commits += mixed_workload(primary, 40);
    commits += big_row(primary, BIG_ROW);

    let yes = primary.status_u64("Rpl_semi_sync_master_yes_tx") - yes_before;
    let no = primary.status_u64("Rpl_semi_sync_master_no_tx") - no_before;
    eprintln!("semi-sync: {commits} commits, yes_tx +{yes}, no_tx +{no}");
    assert!(
        yes >= commits,
        "only {yes} of {commits} commits were acknowledged by semi-sync ({no} were not)"
    );
    assert_eq!(no, 0, "{no} commits went without a semi-sync acknowledgement");
    assert_eq!(primary.status_var("Rpl_semi_sync_master_status"), "ON");

    t.wait_caught_up(CATCH_UP);
    let (live, _) = primary.master_status();
    let big = largest_event(&primary.binlog_path(&live)).expect("events in the live binlog");
    assert!(
        big.size > SIXTEEN_MIB,
        "the test must relay an event above 16 MiB, largest is {}",
        big.size
    );
    t.assert_same_files();
    t.bls.assert_running();
}

#[test]
fn resumes_after_kill_9_during_load() {
    let mut t = Topology::start(PrimaryOpts::default(), &[]);
    let load = Load::start(&t.primary, 4);
    // Killed instances stay here so their logs are printed if the test fails.
    let mut killed = Vec::new();

    // 1. While streaming in step with the primary.
    wait_acked(&load, 300);
    t.bls.kill9();
    wait_acked(&load, 300);
    let again = t.follow_again();
    killed.push(std::mem::replace(&mut t.bls, again));

    // 2. While catching up on the backlog: as soon as it has written anything.
    let size = binlog_bytes(t.data.path());
    wait_until(CONNECT, "binlogserver to write after restart", || {
        t.bls.assert_running();
        binlog_bytes(t.data.path()) > size
    });
    t.bls.kill9();
    t.primary.sql("FLUSH BINARY LOGS");
    wait_acked(&load, 200);
    let again = t.follow_again();
    killed.push(std::mem::replace(&mut t.bls, again));

    // 3. Right after a rotation, once it is a semi-sync client again.
    wait_semi_sync_client(&t.primary, &t.bls);
    wait_acked(&load, 200);
    t.primary.sql("FLUSH BINARY LOGS");
    t.bls.kill9();
    wait_acked(&load, 100);
    let again = t.follow_again();
    killed.push(std::mem::replace(&mut t.bls, again));

    wait_semi_sync_client(&t.primary, &t.bls);
    wait_acked(&load, 300);
    let acked = load.stop();
    eprintln!(
        "load: {acked} acknowledged commits; semi-sync yes_tx {}, no_tx {}",
        t.primary.status_u64("Rpl_semi_sync_master_yes_tx"),
        t.primary.status_u64("Rpl_semi_sync_master_no_tx")
    );
    let rows: u64 = t.primary.sql("SELECT COUNT(*) FROM loadgen.t").parse().expect("count");
    assert_eq!(rows, acked, "every acknowledged commit inserted one row");

    t.wait_caught_up(Duration::from_secs(60));
    wait_until(CONNECT, "Rpl_semi_sync_master_status = ON again", || {
        t.bls.assert_running();
        t.primary.status_var("Rpl_semi_sync_master_status") == "ON"
    });
    t.assert_same_files();
    t.bls.assert_running();
}

#[test]
fn reconnects_after_connection_is_cut() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let primary = &t.primary;
    let start = primary.gtid_seq();

    thread::scope(|s| {
        let workload = s.spawn(|| mixed_workload(primary, 240));
        for k in 1..=3 {
            wait_until(Duration::from_secs(30), "workload progress", || {
                primary.gtid_seq() >= start + 50 * k
            });
            let cut = primary.kill_dump_threads();
            assert_eq!(cut.len(), 1, "exactly one dump connection to cut, found {cut:?}");
            wait_until(CONNECT, "binlogserver to reconnect with a new dump connection", || {
                t.bls.assert_running();
                let now = primary.dump_threads();
                now.len() == 1 && !cut.contains(&now[0])
            });
        }
        workload.join().expect("workload thread");
    });

    t.wait_caught_up(CATCH_UP);
    wait_semi_sync_client(primary, &t.bls);
    t.assert_same_files();
    t.bls.assert_running();
}

#[test]
fn starts_from_the_oldest_binlog_the_primary_has() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    for _ in 0..4 {
        mixed_workload(&primary, 15);
        primary.sql("FLUSH BINARY LOGS");
    }
    mixed_workload(&primary, 10);
    primary.sql("PURGE BINARY LOGS TO 'mysql-bin.000003'");
    let names: Vec<String> = primary.binlog_files().into_iter().map(|f| f.0).collect();
    assert_eq!(names, ["mysql-bin.000003", "mysql-bin.000004", "mysql-bin.000005"]);

    let data = TestDir::new("bls-data");
    let bls = Binlogserver::follow(&primary, data.path(), &FOLLOW_ARGS);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    mixed_workload(&primary, 10);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlog_set(&primary, data.path());
    assert_same_binlogs(&primary, data.path());
    assert_index_matches(&primary, data.path());
    bls.assert_running();
}

#[test]
fn refuses_when_the_primary_history_no_longer_matches() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let primary = &t.primary;
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 30);
    t.wait_caught_up(CATCH_UP);
    assert_same_binlogs(primary, t.data.path());
    t.bls.kill9();
    let before = snapshot_dir(t.data.path());

    primary.sql("RESET MASTER");
    mixed_workload(primary, 5);
    let again = t.follow_again();
    again.assert_failed_exit(REFUSE, "the primary's binlog history was reset");
    // The primary no longer has our last file; binlogserver cannot tell a
    // reset from a purge, and names both.
    again.assert_error_logged(&[
        "cannot follow the primary",
        "RESET MASTER",
        "error 1236",
        "Could not find first log file name",
    ]);
    assert_dir_unchanged(&before, t.data.path());
}

/// Beyond the brief's list: after RESET MASTER the primary writes more than
/// before, so our last file name, offset and GTID all exist again on the
/// primary, with different contents. Resuming would silently splice two
/// histories.
#[test]
fn refuses_when_the_primary_was_reset_and_wrote_past_our_position() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let primary = &t.primary;
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 10);
    t.wait_caught_up(CATCH_UP);
    let (our_file, our_pos) = primary.master_status();
    let our_gtid = primary.gtid_binlog_pos();
    t.bls.kill9();
    let before = snapshot_dir(t.data.path());

    primary.sql("RESET MASTER");
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 30);
    let (file, pos) = primary.master_status();
    assert!(
        file == our_file && pos > our_pos,
        "setup: the new history must pass {our_file}:{our_pos}, is at {file}:{pos}"
    );
    assert!(primary.gtid_seq() > gtid_seq_of(&our_gtid), "setup: new GTIDs must pass {our_gtid}");
    // The new file's FORMAT_DESCRIPTION has a later timestamp than ours (the
    // first commit after RESET MASTER waited out the semi-sync timeout).
    // Files created within the same second would have identical FDs; that
    // case is not covered here.
    let fd_time = |b: &[u8]| u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let new_file = fs::read(primary.binlog_path(&file)).expect("read the primary's file");
    assert_ne!(fd_time(&before[&our_file]), fd_time(&new_file), "setup: FD timestamps must differ");

    let again = t.follow_again();
    again.assert_failed_exit(REFUSE, "the primary's history no longer contains ours");
    again.assert_error_logged(&[
        "cannot follow the primary",
        "do not match the stored ones",
        "format description",
        "RESET MASTER",
    ]);
    assert_dir_unchanged(&before, t.data.path());
}

#[test]
fn stops_when_needed_binlog_was_purged() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let primary = &t.primary;
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 20);
    t.wait_caught_up(CATCH_UP);
    assert_same_binlogs(primary, t.data.path());
    assert_eq!(local_binlog_files(t.data.path()), ["mysql-bin.000001", "mysql-bin.000002"]);
    t.bls.kill9();
    let before = snapshot_dir(t.data.path());

    // We still need the rest of mysql-bin.000002 (its ROTATE) and 000003.
    for _ in 0..2 {
        primary.sql("FLUSH BINARY LOGS");
        mixed_workload(primary, 10);
    }
    primary.sql("FLUSH BINARY LOGS");
    primary.sql("PURGE BINARY LOGS TO 'mysql-bin.000004'");
    let names: Vec<String> = primary.binlog_files().into_iter().map(|f| f.0).collect();
    assert_eq!(names, ["mysql-bin.000004", "mysql-bin.000005"]);

    let again = t.follow_again();
    again.assert_failed_exit(REFUSE, "a binlog it needs was purged");
    again.assert_error_logged(&[
        "cannot follow the primary",
        "purged",
        "error 1236",
        "Could not find first log file name",
    ]);
    assert_dir_unchanged(&before, t.data.path());
}
