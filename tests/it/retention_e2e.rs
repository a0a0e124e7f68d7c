//! End-to-end tests of retention against a real MariaDB 10.11 primary:
//! `PURGE BINARY LOGS` over the SQL port, a `mariadb-binlog --stop-never`
//! reader that keeps its file from being purged, `--max-total-size` after
//! rotations and `--binlog-expire-logs-seconds` at start. After every purge
//! the index, the directory and `SHOW BINARY LOGS` agree, and every file
//! left is byte-identical to the primary's.
//!
//! If `mariadbd` is missing the tests fail and say what to install. Set
//! `BLS_KEEP_TEST_DIRS=1` to keep the directories.

use crate::common::{
    big_row, bls_admin_sql, bls_log_excerpt, bls_sql, follow_and_serve, local_binlog_files,
    mariadb_binlog_raw, mixed_workload, wait_until, wait_until_ok, Binlogserver, KillOnDrop,
    MariaDb, PrimaryOpts, TestDir, Topology, ADMIN_ARGS,
};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Upper bound for binlogserver to catch up, or for a purge to happen.
const CATCH_UP: Duration = Duration::from_secs(30);

/// Waits until binlogserver stores the primary's live file up to its end.
fn wait_live_end(primary: &MariaDb, bls: &Binlogserver, dir: &Path) {
    wait_until_ok(CATCH_UP, "binlogserver to reach the primary's end", || {
        bls.assert_running();
        let (live, pos) = primary.master_status();
        match fs::metadata(dir.join(&live)).map(|m| m.len()) {
            Ok(len) if len == pos => Ok(()),
            other => Err(format!("{live}: have {other:?}, primary at {pos}")),
        }
    });
}

/// The index, the directory and `SHOW BINARY LOGS` name the same files,
/// and each closed one equals the primary's byte for byte.
#[track_caller]
fn assert_consistent(primary: &MariaDb, dir: &Path, port: u16) -> Vec<String> {
    let files = local_binlog_files(dir);
    assert_eq!(read_index(&dir.join("mysql-bin.index")), files, "index vs directory");
    let shown: Vec<String> = bls_sql(port, "SHOW BINARY LOGS")
        .expect("SHOW BINARY LOGS")
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(shown, files, "SHOW BINARY LOGS vs directory");
    assert!(!dir.join("mysql-bin.~rec~").exists(), "a purge log was left behind");
    for f in &files[..files.len() - 1] {
        let ours = fs::read(dir.join(f)).unwrap();
        assert!(
            ours == fs::read(primary.binlog_path(f)).unwrap(),
            "{f} differs from the primary's"
        );
    }
    files
}

/// The file names `index` lists.
fn read_index(index: &Path) -> Vec<String> {
    let text =
        fs::read_to_string(index).unwrap_or_else(|e| panic!("read {}: {e}", index.display()));
    text.lines()
        .map(|l| l.trim().trim_start_matches("./").to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

fn names(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("mysql-bin.{i:06}")).collect()
}

/// `mariadb-binlog --raw --stop-never` from `first`, writing into `out`.
fn raw_reader(port: u16, out: &Path, first: &str) -> KillOnDrop {
    let child = mariadb_binlog_raw(port, out, first, "--stop-never")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mariadb-binlog");
    KillOnDrop(child)
}

#[test]
fn purge_statements_spare_files_being_read_and_keep_the_index_in_step() {
    let t = Topology::start(PrimaryOpts::default(), &ADMIN_ARGS);
    let (primary, bls, port, data) = (&t.primary, &t.bls, t.port, &t.data);
    // Six files; file 2 far larger than what socket buffers hold.
    mixed_workload(primary, 10);
    primary.sql("FLUSH BINARY LOGS");
    big_row(primary, 20 << 20);
    big_row(primary, 20 << 20);
    for _ in 0..4 {
        primary.sql("FLUSH BINARY LOGS");
        mixed_workload(primary, 5);
    }
    wait_live_end(primary, bls, data.path());
    assert_eq!(assert_consistent(primary, data.path(), port), names(1..=6));

    // A reader of file 2 whose output is a FIFO nobody opens: it blocks
    // there, so binlogserver's dump of file 2 stops once the socket is full.
    let out = TestDir::new("reader");
    let fifo = out.join("mysql-bin.000002");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    let mut reader = raw_reader(port, out.path(), "mysql-bin.000002");
    wait_until(CATCH_UP, "the reader's dump to start", || {
        bls.log().contains("binlog dump started")
    });

    // PURGE is an admin statement.
    let purge = |stmt: &str| bls_admin_sql(port, &format!("{stmt}; SHOW WARNINGS"));
    let err = purge("PURGE BINARY LOGS TO 'mysql-bin.000042'").unwrap_err();
    assert!(err.contains("1373") && err.contains("Target log not found in binlog index"), "{err}");
    let warnings = purge("PURGE BINARY LOGS TO 'mysql-bin.000005'").expect("PURGE TO");
    assert!(
        warnings.contains("1867")
            && warnings.contains("mysql-bin.000002")
            && warnings.contains("purged only 1 out of 4"),
        "expected a warning about the file in use, got {warnings:?}"
    );
    assert_eq!(assert_consistent(primary, data.path(), port), names(2..=6));
    assert!(reader.0.try_wait().unwrap().is_none(), "the reader must still be connected");

    // Once the reader is gone its file may go.
    reader.0.kill().unwrap();
    reader.0.wait().unwrap();
    wait_until_ok(CATCH_UP, "the purge to go through after the reader left", || {
        let w = purge("PURGE MASTER LOGS TO 'mysql-bin.000005'").map_err(|e| e.to_string())?;
        if w.is_empty() {
            Ok(())
        } else {
            Err(w)
        }
    });
    assert_eq!(assert_consistent(primary, data.path(), port), names(5..=6));
    assert!(
        bls.log().contains("purged binlogs reason=purge-statement"),
        "{}",
        bls_log_excerpt(bls, 20)
    );

    // BEFORE: nothing closed before 2000; everything but the active file before 2099.
    assert_eq!(purge("PURGE BINARY LOGS BEFORE '2000-01-01 00:00:00'").unwrap(), "");
    assert_eq!(local_binlog_files(data.path()), names(5..=6));
    purge("PURGE BINARY LOGS BEFORE '2099-01-01'").unwrap();
    assert_eq!(assert_consistent(primary, data.path(), port), names(6..=6));

    // Still following and serving after the purges.
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 5);
    wait_live_end(primary, bls, data.path());
    assert_eq!(assert_consistent(primary, data.path(), port), names(6..=7));
}

fn total_size(dir: &Path) -> u64 {
    local_binlog_files(dir).iter().map(|f| fs::metadata(dir.join(f)).map_or(0, |m| m.len())).sum()
}

#[test]
fn max_total_size_after_rotations_and_expiry_at_start() {
    const LIMIT: u64 = 64 << 10;
    let t = Topology::start(PrimaryOpts::default(), &["--max-total-size", "64K"]);
    let (primary, data, bls, port) = (&t.primary, &t.data, &t.bls, t.port);
    assert_eq!(bls_sql(port, "SELECT @@max_binlog_total_size").unwrap(), "65536");
    for round in 0..6 {
        mixed_workload(primary, 40);
        primary.sql("FLUSH BINARY LOGS");
        wait_live_end(primary, bls, data.path());
        // The purge ends with the removal of its `~rec~` log, after the files.
        wait_until(CATCH_UP, &format!("the total to fit the limit after rotation {round}"), || {
            bls.assert_running();
            total_size(data.path()) <= LIMIT && !data.join("mysql-bin.~rec~").exists()
        });
    }
    let files = assert_consistent(primary, data.path(), port);
    assert!(files[0] != "mysql-bin.000001", "nothing was purged: {files:?}");
    // The log line follows the unlinks.
    wait_until(CATCH_UP, "the max-total-size purge in the log", || {
        bls.log().contains("purged binlogs reason=max-total-size")
    });
    let first: u32 = files[0].rsplit_once('.').unwrap().1.parse().unwrap();
    assert_eq!(
        files,
        names(first..=first + u32::try_from(files.len()).unwrap() - 1),
        "files left must be contiguous"
    );
    bls.kill9();

    // Restarted with an expiry, it purges what closed long enough ago at start.
    let closed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    wait_until(Duration::from_secs(5), "two seconds to pass", || {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() >= closed + 3
    });
    let (bls, port) =
        follow_and_serve(primary, data.path(), &["--binlog-expire-logs-seconds", "2"]);
    let live = primary.master_status().0;
    wait_until(CATCH_UP, "expired files to be purged at start", || {
        bls.assert_running();
        local_binlog_files(data.path()) == vec![live.clone()]
    });
    assert_eq!(bls_sql(port, "SELECT @@binlog_expire_logs_seconds").unwrap(), "2");
    wait_until(CATCH_UP, "the expiry purge in the log", || {
        bls.log().contains("purged binlogs reason=expire-logs-days")
    });
    wait_live_end(primary, &bls, data.path());
    assert_eq!(assert_consistent(primary, data.path(), port), vec![live]);
}
