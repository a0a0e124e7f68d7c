//! Helpers of the failover tests: a MariaDB replica that can be promoted
//! (its binlog named like the primary's, with the replicated transactions
//! in it), its promotion with `FLUSH BINARY LOGS` until its numbering is
//! above binlogserver's, and comparisons of binlogserver's files with the
//! old primary's before the switch and the new one's after it.

use super::binlogs::{compare_server_file, local_binlog_files};
use super::mariadb::{MariaDb, REPL_PASSWORD, REPL_USER};
use super::replica::{ReplicaOpts, UseGtid};
use super::wait_until_ok;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A replica of 127.0.0.1:`port` by GTID that could become the primary:
/// `--log-bin=mysql-bin` (the primary's basename) and
/// `--log-slave-updates=ON`, so that its binlog keeps the original GTIDs.
pub(crate) fn promotable_replica(port: u16) -> MariaDb {
    let opts = ReplicaOpts {
        log_bin: true,
        extra_args: vec!["--log-bin=mysql-bin".into(), "--log-slave-updates=ON".into()],
        ..ReplicaOpts::default()
    };
    let db = MariaDb::replica(opts);
    // The replication account a primary has (not binlogged, as on the primary).
    db.sql(&format!(
        "SET SESSION sql_log_bin = 0; \
         CREATE USER {REPL_USER}@'%' IDENTIFIED BY '{REPL_PASSWORD}'; \
         GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR \
         ON *.* TO {REPL_USER}@'%'"
    ));
    db.replicate_from(port, UseGtid::SlavePos);
    db
}

/// The sequence number of a binlog file name.
pub(crate) fn file_number(name: &str) -> u64 {
    name.rsplit_once('.').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

/// Promotes `db`: `STOP SLAVE; RESET SLAVE ALL`, then `FLUSH BINARY LOGS`
/// until its current file is numbered above `above`; returns that file.
pub(crate) fn promote(db: &MariaDb, above: &str) -> String {
    db.sql("STOP SLAVE; RESET SLAVE ALL");
    flush_above(db, above)
}

/// `FLUSH BINARY LOGS` on `db` until its current file is numbered above
/// `above`; returns that file.
pub(crate) fn flush_above(db: &MariaDb, above: &str) -> String {
    loop {
        let (current, _) = db.master_status();
        if file_number(&current) > file_number(above) {
            return current;
        }
        db.sql("FLUSH BINARY LOGS");
    }
}

/// The last binlog file in `dir`.
pub(crate) fn last_local_file(dir: &Path) -> String {
    local_binlog_files(dir).pop().expect("binlogserver holds binlog files")
}

/// binlogserver's files in `dir` are `old`'s (stopped or killed) before
/// `switch` and `new`'s from `switch` on, byte for byte (in-use flags of
/// the two live files aside), and its index names them all in order.
#[track_caller]
pub(crate) fn assert_continued(old: &MariaDb, new: &MariaDb, switch: &str, dir: &Path) {
    let ours = local_binlog_files(dir);
    let (before, after): (Vec<&String>, Vec<&String>) =
        ours.iter().partition(|n| file_number(n) < file_number(switch));
    let old_last = before.last().map(|s| s.as_str());
    let mut problems = Vec::new();
    for name in &before {
        let live = Some(name.as_str()) == old_last;
        problems.extend(compare_server_file(old, name, dir, live).err());
    }
    let (new_live, _) = new.master_status();
    let new_files: Vec<String> = new
        .binlog_files()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| file_number(n) >= file_number(switch))
        .collect();
    let after: Vec<String> = after.into_iter().cloned().collect();
    if after != new_files {
        problems.push(format!("files from {switch} on: here {after:?}, new primary {new_files:?}"));
    }
    for name in &after {
        problems.extend(compare_server_file(new, name, dir, *name == new_live).err());
    }
    let index = fs::read_to_string(dir.join("mysql-bin.index")).unwrap_or_default();
    let listed: Vec<&str> = index.lines().map(|l| l.trim_start_matches("./")).collect();
    if listed != ours.iter().map(String::as_str).collect::<Vec<_>>() {
        problems.push(format!("the index lists {listed:?}, the directory holds {ours:?}"));
    }
    assert!(problems.is_empty(), "binlogserver's files after the switch:\n{}", problems.join("\n"));
}

/// Waits until `dir` holds `server`'s files from `first` on, each as long
/// as the server's (its live file up to `SHOW MASTER STATUS`).
#[track_caller]
pub(crate) fn wait_files_from(server: &MariaDb, first: &str, dir: &Path, timeout: Duration) {
    wait_until_ok(timeout, &format!("binlogserver to hold the files from {first} on"), || {
        let (live, live_pos) = server.master_status();
        for (name, size) in server.binlog_files() {
            if file_number(&name) < file_number(first) {
                continue;
            }
            let want = if name == live { live_pos } else { size };
            let have = fs::metadata(dir.join(&name)).map(|m| m.len()).ok();
            if have != Some(want) {
                return Err(format!("{name}: {have:?} bytes here, {want} on the server"));
            }
        }
        Ok(())
    });
}
