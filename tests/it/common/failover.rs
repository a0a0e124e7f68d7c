//! The steps of a failover as a DBA takes them, for the failover tests.
//!
//! After the primary dies: binlogserver's copy of the dead primary's
//! binlogs (a byte prefix of them; the primary may hold a few transactions
//! more, written and never acknowledged), binlogserver's own view over its
//! SQL port (`SHOW SLAVE STATUS`, `@@gtid_binlog_pos`), `binlogserver
//! verify`. Then the replicas: one levelled with binlogserver (its
//! `@@gtid_slave_pos` equals binlogserver's `@@gtid_binlog_pos`), a replica
//! of the old primary that fell behind and is repointed at binlogserver,
//! and the promotion of a replica (STOP SLAVE; RESET SLAVE ALL; read_only
//! off; semi-sync master on, AFTER_SYNC) whose binlog numbering is then
//! pushed past binlogserver's with FLUSH BINARY LOGS.

use super::binlogs::{compare_file, compare_server_file, local_binlog_files, read_index};
use super::mariadb::{MariaDb, PrimaryOpts};
use super::replica::{run_vertical, vertical_rows, wait_replica_at, ReplicaOpts, UseGtid};
use super::serving::{bls_repl_client, bls_sql};
use super::{complete_gtids, tail, wait_until_ok};
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

impl ReplicaOpts {
    /// A replica that can be promoted: a binlog named like the primary's
    /// (`mysql-bin`, so that its files continue binlogserver's numbering),
    /// `log_slave_updates` (it keeps the replicated GTIDs, so its GTID state
    /// is binlogserver's) and `sync_binlog=1` like the primary.
    pub(crate) fn promotable() -> ReplicaOpts {
        ReplicaOpts {
            log_bin: true,
            extra_args: ["--log-bin=mysql-bin", "--log-slave-updates=ON", "--sync-binlog=1"]
                .map(str::to_owned)
                .to_vec(),
            ..ReplicaOpts::default()
        }
    }
}

/// Promotes `replica` (started with [`ReplicaOpts::promotable`] and
/// levelled with binlogserver) as a DBA does: `STOP SLAVE; RESET SLAVE
/// ALL; SET GLOBAL read_only = 0`, semi-sync master on with wait point
/// AFTER_SYNC, and the replication account. The semi-sync timeout is the
/// harness's short one, as for a new primary: binlogserver is not its
/// semi-sync client yet (raise it once it is). Returns the server as a
/// primary, and a [`MariaDb::restart`] keeps it one.
///
/// # Panics
/// If the replica cannot be promoted (no binlog named `mysql-bin`, or no
/// `log_slave_updates`), or a statement fails.
pub(crate) fn promote(mut replica: MariaDb) -> MariaDb {
    let flags = replica.sql("SELECT @@log_bin, @@log_slave_updates, @@log_bin_basename");
    let cols: Vec<&str> = flags.split('\t').collect();
    assert!(
        matches!(cols.as_slice(), ["1", "1", base] if base.ends_with("/mysql-bin")),
        "only a replica started with ReplicaOpts::promotable() can be promoted: log_bin, \
         log_slave_updates, log_bin_basename = {flags:?}"
    );
    let timeout = PrimaryOpts::default().semi_sync_timeout_ms;
    replica.sql(&format!(
        "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0; \
         SET GLOBAL rpl_semi_sync_slave_enabled = OFF; \
         SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC; \
         SET GLOBAL rpl_semi_sync_master_timeout = {timeout}; \
         SET GLOBAL rpl_semi_sync_master_enabled = ON"
    ));
    replica.create_repl_user();
    let timeout = format!("--rpl-semi-sync-master-timeout={timeout}");
    replica.add_role_args(&[
        "--read-only=0",
        "--rpl-semi-sync-slave-enabled=OFF",
        "--rpl-semi-sync-master-enabled=ON",
        "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
        &timeout,
    ]);
    eprintln!("promoted the replica on 127.0.0.1:{} to primary", replica.port());
    replica
}

/// `mysql-bin.000042` → (`mysql-bin`, 42).
fn split_binlog_name(name: &str) -> (&str, u64) {
    name.rsplit_once('.')
        .and_then(|(base, n)| Some((base, n.parse().ok()?)))
        .unwrap_or_else(|| panic!("{name:?} is not a binlog file name"))
}

/// `FLUSH BINARY LOGS` on `primary` until its current file's number is
/// above `file`'s (same basename); returns the current file.
///
/// # Panics
/// If the basenames differ (no number of flushes fixes that).
pub(crate) fn flush_until_above(primary: &MariaDb, file: &str) -> String {
    let (base, above) = split_binlog_name(file);
    loop {
        let (current, _) = primary.master_status();
        let (theirs, n) = split_binlog_name(&current);
        assert_eq!(theirs, base, "the primary's binlog is {current}, binlogserver's {file}");
        if n > above {
            return current;
        }
        primary.sql("FLUSH BINARY LOGS");
    }
}

/// binlogserver's `@@GLOBAL.gtid_binlog_pos` through its SQL port.
pub(crate) fn bls_gtid_binlog_pos(port: u16) -> String {
    bls_sql(port, "SELECT @@GLOBAL.gtid_binlog_pos")
        .unwrap_or_else(|e| panic!("@@gtid_binlog_pos from binlogserver on port {port}: {e}"))
}

/// binlogserver's `SHOW SLAVE STATUS` through its SQL port, column name ->
/// value (empty when it follows no primary).
pub(crate) fn bls_slave_status(port: u16) -> HashMap<String, String> {
    let text = run_vertical(bls_repl_client(port), "SHOW SLAVE STATUS")
        .unwrap_or_else(|e| panic!("SHOW SLAVE STATUS on binlogserver (port {port}): {e}"));
    vertical_rows(&text).into_iter().next().unwrap_or_default()
}

/// Polls until `replica` holds everything binlogserver on `port` holds:
/// its `@@gtid_slave_pos` equals binlogserver's `@@gtid_binlog_pos`, both
/// replication threads running (the step before a promotion).
#[track_caller]
pub(crate) fn wait_replica_has_bls(port: u16, replica: &MariaDb, timeout: Duration) {
    wait_replica_at(replica, timeout, "binlogserver's gtid_binlog_pos", &mut || {
        bls_gtid_binlog_pos(port)
    });
}

/// Makes a replica of the primary fall behind: its IO thread stops (what
/// it has received is still applied); [`repoint`] it later.
pub(crate) fn fall_behind(replica: &MariaDb) {
    replica.sql("STOP SLAVE IO_THREAD");
}

/// Points `replica` at binlogserver on `port` by GTID (`slave_pos`) and
/// starts it: the move of a replica of a dead primary.
pub(crate) fn repoint(replica: &MariaDb, port: u16) {
    replica.stop_slave();
    replica.replicate_from(port, UseGtid::SlavePos);
}

/// binlogserver's copy of a dead primary's binlogs.
#[derive(Debug)]
pub(crate) struct DeadPrimaryCopy {
    /// binlogserver's files and the domain-0 sequence numbers of the
    /// complete transactions each holds.
    pub(crate) stored: Vec<(String, Vec<u64>)>,
    /// The complete transactions of the primary's files past
    /// binlogserver's: written, never acknowledged.
    pub(crate) unacked: Vec<u64>,
}

/// binlogserver's files in `dir` are a byte prefix of the dead `primary`'s
/// binlogs: the first of its files by name, each identical to the
/// primary's but the last, which is a prefix of the primary's file (the
/// in-use flag of a crashed file aside, which the stream clears). Returns
/// what binlogserver holds and what the primary wrote beyond it.
///
/// # Panics
/// On any difference, naming the file and offset.
#[track_caller]
pub(crate) fn assert_prefix_of_dead_primary(primary: &MariaDb, dir: &Path) -> DeadPrimaryCopy {
    dead_primary_prefix(primary, dir, local_binlog_files(dir))
}

/// [`assert_prefix_of_dead_primary`] of `ours`, the first of binlogserver's
/// files in `dir` (those it took from the dead primary).
#[track_caller]
fn dead_primary_prefix(primary: &MariaDb, dir: &Path, ours: Vec<String>) -> DeadPrimaryCopy {
    let theirs = read_index(&primary.binlog_path("mysql-bin.index"));
    assert!(
        !ours.is_empty() && theirs.starts_with(&ours),
        "binlogserver's files {ours:?} are not the first of the primary's {theirs:?}"
    );
    let mut stored = Vec::new();
    let mut problems = Vec::new();
    for (i, name) in ours.iter().enumerate() {
        let p = fs::read(primary.binlog_path(name)).expect("read the primary's binlog");
        let o = fs::read(dir.join(name)).expect("read binlogserver's binlog");
        let p = if i + 1 == ours.len() { &p[..o.len().min(p.len())] } else { &p[..] };
        if let Err(e) = compare_file(name, p, &o, true) {
            problems.push(e);
        }
        stored.push((name.clone(), complete_gtids(name, &o).0));
    }
    assert!(
        problems.is_empty(),
        "binlogserver's files in {} are not a prefix of the dead primary's:\n{}",
        dir.display(),
        problems.join("\n")
    );
    let primary_seqs: Vec<u64> = theirs
        .iter()
        .flat_map(|name| {
            let bytes = fs::read(primary.binlog_path(name)).expect("read the primary's binlog");
            complete_gtids(name, &bytes).0
        })
        .collect();
    let ours_seqs: Vec<u64> = stored.iter().flat_map(|f| f.1.iter().copied()).collect();
    assert!(
        primary_seqs.starts_with(&ours_seqs),
        "binlogserver's transactions are not the first of the primary's"
    );
    DeadPrimaryCopy { stored, unacked: primary_seqs[ours_seqs.len()..].to_vec() }
}

/// Runs `binlogserver verify DIR` and asserts that it is clean; returns its
/// output.
#[track_caller]
pub(crate) fn assert_verify_clean(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_binlogserver"))
        .arg("verify")
        .arg(dir)
        .output()
        .expect("run binlogserver verify");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains(", 0 problems"),
        "binlogserver verify {} exited with {}:\n{}\nstderr:\n{}",
        dir.display(),
        out.status,
        tail(&text, 40),
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A replica of binlogserver (or any server) on 127.0.0.1:`port` by GTID
/// that can become the primary ([`ReplicaOpts::promotable`]), with the
/// replication account a primary has.
pub(crate) fn promotable_replica(port: u16) -> MariaDb {
    let db = MariaDb::replica(ReplicaOpts::promotable());
    db.create_repl_user();
    db.replicate_from(port, UseGtid::SlavePos);
    db
}

/// Detaches `db` from its primary (`STOP SLAVE; RESET SLAVE ALL`) and
/// flushes its binary logs until its current file is numbered above
/// `above`; returns that file. The lighter step of the switch tests, which
/// may make `db` a replica again afterwards; [`promote`] is the DBA's whole
/// promotion.
pub(crate) fn detach_and_flush_above(db: &MariaDb, above: &str) -> String {
    db.sql("STOP SLAVE; RESET SLAVE ALL");
    flush_until_above(db, above)
}

/// The sequence number of a binlog file name.
pub(crate) fn file_number(name: &str) -> u64 {
    name.rsplit_once('.').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
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
    let (before, _) = split_at_switch(dir, switch);
    let old_last = before.last().map(|s| s.as_str());
    let mut problems = Vec::new();
    for name in &before {
        let live = Some(name.as_str()) == old_last;
        problems.extend(compare_server_file(old, name, dir, live).err());
    }
    problems.extend(new_part_problems(new, switch, dir));
    assert!(problems.is_empty(), "binlogserver's files after the switch:\n{}", problems.join("\n"));
}

/// [`assert_continued`] where the old primary was killed: binlogserver's
/// files before `switch` are a byte prefix of the dead primary's binlogs
/// (as [`assert_prefix_of_dead_primary`] checks them: its last file may
/// hold transactions never acknowledged), `new`'s from `switch` on. Returns
/// what binlogserver holds of the dead primary and what it never got.
#[track_caller]
pub(crate) fn assert_continued_after_crash(
    old: &MariaDb,
    new: &MariaDb,
    switch: &str,
    dir: &Path,
) -> DeadPrimaryCopy {
    let (before, _) = split_at_switch(dir, switch);
    let copy = dead_primary_prefix(old, dir, before);
    let problems = new_part_problems(new, switch, dir);
    assert!(problems.is_empty(), "binlogserver's files after the switch:\n{}", problems.join("\n"));
    copy
}

/// binlogserver's files in `dir`: those before `switch`, those from it on.
fn split_at_switch(dir: &Path, switch: &str) -> (Vec<String>, Vec<String>) {
    local_binlog_files(dir).into_iter().partition(|n| file_number(n) < file_number(switch))
}

/// What differs between binlogserver's files from `switch` on and `new`'s,
/// and between its index and its files.
fn new_part_problems(new: &MariaDb, switch: &str, dir: &Path) -> Vec<String> {
    let ours = local_binlog_files(dir);
    let (_, after) = split_at_switch(dir, switch);
    let mut problems = Vec::new();
    let (new_live, _) = new.master_status();
    let new_files: Vec<String> = new
        .binlog_files()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| file_number(n) >= file_number(switch))
        .collect();
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
    problems
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
