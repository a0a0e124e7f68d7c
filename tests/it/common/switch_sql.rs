//! A failover's statements on binlogserver's SQL port, as a DBA types them
//! with the `mariadb` client as the admin account ([`super::ADMIN_ARGS`]):
//! `STOP SLAVE`, `CHANGE MASTER TO` a promoted primary (with its new
//! file) or to another binlogserver (without one, to level from it),
//! `START SLAVE`; the new primary's semi-sync coming ON; and comparing the
//! data directories of two binlogservers that must hold the same files.

use super::acked::complete_gtids;
use super::binlogs::{compare_file, local_binlog_files};
use super::mariadb::{MariaDb, REPL_PASSWORD, REPL_USER};
use super::serving::bls_admin_sql;
use super::wait_until_ok;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// `CHANGE MASTER TO` the server on 127.0.0.1:`port` as the replication
/// account: with `file`, the checked switch to that file of a promoted
/// primary (`MASTER_LOG_FILE='<file>', MASTER_LOG_POS=4`); without, a
/// resume where our files end on a server that holds the same files.
pub(crate) fn change_master_to(port: u16, file: Option<&str>) -> String {
    let mut stmt = format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, \
         MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}'"
    );
    if let Some(file) = file {
        stmt.push_str(&format!(", MASTER_LOG_FILE='{file}', MASTER_LOG_POS=4"));
    }
    stmt
}

/// Runs `stmt` on binlogserver on `port` as the admin; its output.
///
/// # Panics
/// If the statement fails, with the client's error.
#[track_caller]
pub(crate) fn admin_ok(port: u16, stmt: &str) -> String {
    bls_admin_sql(port, stmt)
        .unwrap_or_else(|e| panic!("{stmt} as the admin of binlogserver on port {port}: {e}"))
}

/// Runs `stmt` on binlogserver on `port` as the admin and returns the
/// client's error, which must hold `ERROR <code>`.
///
/// # Panics
/// If the statement succeeds or fails with another code.
#[track_caller]
pub(crate) fn admin_err(port: u16, stmt: &str, code: u16) -> String {
    match bls_admin_sql(port, stmt) {
        Ok(out) => panic!("{stmt} on binlogserver (port {port}) succeeded: {out:?}"),
        Err(e) if e.contains(&format!("ERROR {code} ")) => e,
        Err(e) => panic!("{stmt} on binlogserver (port {port}): want ERROR {code}, got {e}"),
    }
}

/// Waits until `primary`'s semi-sync master has `clients` semi-sync
/// replicas and its status is ON; returns how long that took.
#[track_caller]
pub(crate) fn wait_semi_sync_on(primary: &MariaDb, clients: u64, timeout: Duration) -> Duration {
    let begin = Instant::now();
    let want = format!("Rpl_semi_sync_master_clients\t{clients}\nRpl_semi_sync_master_status\tON");
    wait_until_ok(timeout, "the new primary's semi-sync to come ON", || {
        let got = primary.sql(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_clients', \
             'Rpl_semi_sync_master_status')",
        );
        if got == want {
            Ok(())
        } else {
            Err(got.replace('\n', ", "))
        }
    });
    begin.elapsed()
}

/// The domain-0 sequence numbers of the complete transactions of each of
/// binlogserver's files in `dir`.
pub(crate) fn stored_transactions(dir: &Path) -> Vec<(String, Vec<u64>)> {
    local_binlog_files(dir)
        .into_iter()
        .map(|name| {
            let bytes = fs::read(dir.join(&name)).expect("read binlogserver's binlog");
            let seqs = complete_gtids(&name, &bytes).0;
            (name, seqs)
        })
        .collect()
}

/// What differs between the binlog files (and indexes) of two data
/// directories.
fn dir_differences(a: &Path, b: &Path) -> Vec<String> {
    let (ours, theirs) = (local_binlog_files(a), local_binlog_files(b));
    if ours != theirs {
        return vec![format!("files: {ours:?} and {theirs:?}")];
    }
    let mut problems: Vec<String> = ours
        .iter()
        .filter_map(|name| {
            let x = fs::read(a.join(name)).unwrap_or_default();
            let y = fs::read(b.join(name)).unwrap_or_default();
            compare_file(name, &x, &y, false).err()
        })
        .collect();
    let index = |d: &Path| fs::read(d.join("mysql-bin.index")).unwrap_or_default();
    if index(a) != index(b) {
        problems.push("the indexes differ".to_owned());
    }
    problems
}

/// Waits until the data directories `a` and `b` hold the same binlog files,
/// byte for byte, and the same index; returns how long that took.
#[track_caller]
pub(crate) fn wait_same_files(a: &Path, b: &Path, timeout: Duration) -> Duration {
    let begin = Instant::now();
    wait_until_ok(timeout, "two binlogservers to hold the same files", || {
        let problems = dir_differences(a, b);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    });
    begin.elapsed()
}
