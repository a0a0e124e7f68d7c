//! Shared harness for the end-to-end tests: self-removing temporary
//! directories, polling with a deadline (never `sleep` for a condition),
//! real `mariadbd` primaries, the `binlogserver` process, the usual
//! primary -> binlogserver -> replica set-up ([`Topology`]), binlog file
//! comparison, workload generators, load clients that record every commit
//! that returned, and the steps of a failover (promoting a replica).
//!
//! Everything here uses std only. Processes are killed when their handle is
//! dropped; directories are removed on drop unless `BLS_KEEP_TEST_DIRS` is
//! set. When `mariadbd` or its tools are missing the harness panics with the
//! install command; a test never passes without the real server.

mod acked;
mod binlogs;
mod binlogserver;
mod certs;
mod failover;
mod faults;
mod garage;
mod in_process;
mod mariadb;
mod python;
pub(crate) mod raw_client;
mod relay;
mod replica;
mod serving;
mod stream;
mod switch_sql;
mod topology;
mod workload;

pub(crate) use acked::{
    assert_acked_present, assert_acked_rows, assert_continuous, complete_gtids,
    create_torture_schema, side_statement, AckLog, Acked, AckedLoad, Rng,
};
pub(crate) use binlogs::{
    assert_dir_unchanged, assert_index_matches, assert_same_binlog_set, assert_same_binlogs,
    assert_same_binlogs_after_crashes, binlog_events, compare_binlogs, compare_server_file,
    largest_event, local_binlog_files, snapshot_dir, wait_binlog_checkpointed, wait_caught_up,
    DirSnapshot,
};
pub(crate) use binlogserver::{
    upstream_args, wait_semi_sync_client, Binlogserver, BINLOGSERVER_ID,
};
pub(crate) use certs::Certs;
pub(crate) use failover::{
    assert_continued, assert_continued_after_crash, assert_prefix_of_dead_primary,
    assert_verify_clean, bls_gtid_binlog_pos, bls_slave_status, detach_and_flush_above,
    fall_behind, flush_until_above, last_local_file, promotable_replica, promote, repoint,
    wait_files_from, wait_replica_has_bls,
};
pub(crate) use faults::{assert_gtids_contiguous, count_in_log, DUMP_REQUEST, LINK_LOST};
pub(crate) use garage::Garage;
pub(crate) use in_process::{admin, change_to, InProcess};
pub(crate) use mariadb::{gtid_seq_of, MariaDb, PrimaryOpts, DATADIR};
pub(crate) use mariadb::{REPL_PASSWORD, REPL_USER};
pub(crate) use python::{read_events, try_read_events, venv_python, ReadOpts};
pub(crate) use relay::{Relay, RelayDir};
pub(crate) use replica::{
    assert_replicating, assert_same_tables, describe_slave_status, run_vertical, vertical_rows,
    wait_replica_caught_up, wait_replica_caught_up_checking, ReplicaOpts, UseGtid,
};
pub(crate) use serving::{
    bls_admin_sql, bls_client, bls_log_excerpt, bls_repl_client, bls_sql, client_output,
    follow_and_serve, follow_and_serve_at, listen_addr, mariadb_binlog_raw, serve_dir,
    start_on_free_port, ADMIN_ARGS, ADMIN_PASSWORD, ADMIN_USER, FOLLOW_ARGS,
};
pub(crate) use stream::{
    assert_received, compare_stream, expected_events, stored_file, Gtid, GtidState, Start,
    ANNOTATE_ROWS_TYPE, MARIA_GTID_TYPE, MYSQL_GTID_TYPE,
};
pub(crate) use switch_sql::{
    admin_err, admin_ok, change_master_to, stored_transactions, wait_same_files, wait_semi_sync_on,
};
pub(crate) use topology::Topology;
pub(crate) use workload::{big_row, mixed_workload, wait_acked, Load};

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What to install when the MariaDB tools are missing.
pub(crate) const INSTALL_HINT: &str =
    "apt-get install mariadb-server mariadb-client (as root: apt-get update && \
     DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server mariadb-client)";

/// Set this environment variable to keep every test directory for inspection.
pub(crate) const KEEP_DIRS_ENV: &str = "BLS_KEEP_TEST_DIRS";

/// A uniquely named directory under `std::env::temp_dir()`, removed with all
/// its contents on drop unless `BLS_KEEP_TEST_DIRS` is set.
#[derive(Debug)]
pub(crate) struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates `<tmp>/bls-<label>-<pid>-<n>-<nanos>`.
    pub(crate) fn new(label: &str) -> TestDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos =
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
            let name = format!("bls-{label}-{}-{n}-{nanos:09}", std::process::id());
            let path = env::temp_dir().join(name);
            match fs::create_dir(&path) {
                Ok(()) => return TestDir { path },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create test directory {}: {e}", path.display()),
            }
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub(crate) fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// The directory as `&str` (for command lines).
    pub(crate) fn path_str(&self) -> &str {
        self.path.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if env::var_os(KEEP_DIRS_ENV).is_some() {
            eprintln!("{KEEP_DIRS_ENV} is set: keeping {}", self.path.display());
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("warning: cannot remove {}: {e}", self.path.display());
        }
    }
}

/// Polls `cond` until it returns true; panics with `what` after `deadline`.
#[track_caller]
pub(crate) fn wait_until(deadline: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    poll(deadline, what, || if cond() { Ok(()) } else { Err(String::new()) });
}

/// Polls `check` until it returns `Ok`; on timeout panics with `what` and the
/// last error `check` returned, so the failure says what was still wrong.
#[track_caller]
pub(crate) fn wait_until_ok(
    deadline: Duration,
    what: &str,
    check: impl FnMut() -> Result<(), String>,
) {
    poll(deadline, what, check);
}

/// Polls `f` until it returns `Some(value)`, and returns the value; panics
/// with `what` after `deadline`.
#[track_caller]
pub(crate) fn wait_for<T>(deadline: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    poll(deadline, what, || f().ok_or_else(String::new))
}

/// Like [`wait_for`] but returns `None` on timeout instead of panicking.
pub(crate) fn try_wait_for<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    poll_result(deadline, || f().ok_or_else(String::new)).ok()
}

/// The panicking form of [`poll_result`].
#[track_caller]
fn poll<T>(deadline: Duration, what: &str, f: impl FnMut() -> Result<T, String>) -> T {
    match poll_result(deadline, f) {
        Ok(v) => v,
        Err(last) if last.is_empty() => panic!("timed out after {deadline:?} waiting for {what}"),
        Err(last) => panic!("timed out after {deadline:?} waiting for {what}: {last}"),
    }
}

/// The one polling loop: calls `f` until it returns `Ok`, pausing 5 ms at
/// first and up to 100 ms between calls; after `deadline` returns the last
/// error.
fn poll_result<T>(
    deadline: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let last = match f() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let elapsed = start.elapsed();
        if elapsed >= deadline {
            return Err(last);
        }
        thread::sleep(pause.min(deadline - elapsed));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Finds an executable by name on `PATH` and in the sbin directories (where
/// Debian puts `mariadbd`); panics with the install command if it is missing.
#[track_caller]
pub(crate) fn tool(name: &str) -> PathBuf {
    let path = env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/sbin", "/usr/local/bin"];
    let found = env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    match found {
        Some(p) => p,
        None => panic!(
            "`{name}` was not found on PATH or in /usr/sbin: the end-to-end tests need a real \
             MariaDB server and client. Install them with: {INSTALL_HINT}"
        ),
    }
}

/// True when the test process runs as root (mariadbd then needs `--user=root`).
pub(crate) fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read it, close it.
/// Callers must retry their start if the port was taken in between.
pub(crate) fn free_port() -> u16 {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0 to pick a port");
    listener.local_addr().expect("local_addr of a bound listener").port()
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of the file at `path`, or a note that it cannot be read.
pub(crate) fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), n),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// A child process that is SIGKILLed and reaped on drop (for helper tools
/// such as `mariadb-binlog`).
#[derive(Debug)]
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
