//! The `binlogserver` binary under test, as a child process with its output
//! in a log file. Killed on drop; on a failing test its log is printed.

use super::mariadb::{MariaDb, REPL_PASSWORD, REPL_USER};
use super::{tail, try_wait_for, TestDir};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// The server id the tests give binlogserver (the primary is 1).
pub(crate) const BINLOGSERVER_ID: &str = "1001";

/// A running (or exited) `binlogserver` process.
#[derive(Debug)]
pub(crate) struct Binlogserver {
    child: Mutex<Child>,
    exit: Mutex<Option<ExitStatus>>,
    args: Vec<String>,
    log_path: PathBuf,
    // Dropped last, after the process is killed.
    _logdir: TestDir,
}

impl Binlogserver {
    /// Spawns the binary with `args`; stdout and stderr go to a log file,
    /// with `RUST_LOG=binlogserver=debug`.
    pub(crate) fn start(args: &[&str]) -> Binlogserver {
        Binlogserver::start_with_env(args, &[])
    }

    /// [`Binlogserver::start`] with extra environment variables (which may
    /// override `RUST_LOG`).
    pub(crate) fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Binlogserver {
        let logdir = TestDir::new("binlogserver-log");
        let log_path = logdir.join("binlogserver.log");
        let log = fs::File::create(&log_path).expect("create the binlogserver log");
        let log2 = log.try_clone().expect("clone the log handle");
        let exe = env!("CARGO_BIN_EXE_binlogserver");
        let child = Command::new(exe)
            .args(args)
            .env("RUST_LOG", "binlogserver=debug")
            .env("RUST_BACKTRACE", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {exe}: {e}"));
        eprintln!("started binlogserver pid {} with {}", child.id(), args.join(" "));
        Binlogserver {
            child: Mutex::new(child),
            exit: Mutex::new(None),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            log_path,
            _logdir: logdir,
        }
    }

    /// Starts binlogserver as a replica of `primary` writing into `datadir`:
    /// `-h 127.0.0.1 -P <port> -u repl -p replpass -d <datadir> --server-id
    /// 1001`, then `extra` (e.g. `--semi-sync auto --heartbeat 1`).
    pub(crate) fn follow(primary: &MariaDb, datadir: &Path, extra: &[&str]) -> Binlogserver {
        Binlogserver::follow_port(primary.port(), datadir, extra)
    }

    /// [`Binlogserver::follow`] of whatever answers on 127.0.0.1:`port`
    /// (a primary, or a relay in front of one).
    pub(crate) fn follow_port(port: u16, datadir: &Path, extra: &[&str]) -> Binlogserver {
        Binlogserver::follow_port_as(port, datadir, BINLOGSERVER_ID, extra)
    }

    /// [`Binlogserver::follow_port`] with another `--server-id` (several
    /// instances following one primary at once need distinct ones).
    pub(crate) fn follow_port_as(
        port: u16,
        datadir: &Path,
        server_id: &str,
        extra: &[&str],
    ) -> Binlogserver {
        let mut args = upstream_args(port, datadir, server_id);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        // Listening is on by default; tests that do not serve let the kernel
        // pick the port so that parallel tests never collide.
        if !extra.contains(&"--listen") {
            args.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Binlogserver::start(&args)
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.lock().expect("child lock").id()
    }

    /// Everything it printed so far.
    pub(crate) fn log(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// Its exit status, if it has exited.
    pub(crate) fn try_exit_status(&self) -> Option<ExitStatus> {
        if let Some(status) = *self.exit.lock().expect("exit lock") {
            return Some(status);
        }
        let status =
            self.child.lock().expect("child lock").try_wait().expect("try_wait on binlogserver");
        if let Some(status) = status {
            self.exit.lock().expect("exit lock").get_or_insert(status);
        }
        status
    }

    /// True while the process has not exited.
    pub(crate) fn is_running(&self) -> bool {
        self.try_exit_status().is_none()
    }

    /// Panics with the log tail if the process has exited: for use inside
    /// polling conditions, so an early exit fails fast and says why.
    pub(crate) fn assert_running(&self) {
        if let Some(status) = self.try_exit_status() {
            panic!(
                "binlogserver exited unexpectedly with {status}; last log lines:\n{}",
                tail(&self.log(), 60)
            );
        }
    }

    /// SIGKILL, then reap the process.
    pub(crate) fn kill9(&self) {
        let status = {
            let mut child = self.child.lock().expect("child lock");
            // Fails only if it already exited, which is fine.
            let _ = child.kill();
            child.wait().expect("wait for binlogserver after SIGKILL")
        };
        self.exit.lock().expect("exit lock").get_or_insert(status);
    }

    /// Waits up to `timeout` for the process to exit on its own.
    ///
    /// # Panics
    /// On timeout, with the log tail.
    pub(crate) fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        match try_wait_for(timeout, || self.try_exit_status()) {
            Some(status) => status,
            None => panic!(
                "binlogserver still running {timeout:?} later (expected it to exit); last log \
                 lines:\n{}",
                tail(&self.log(), 60)
            ),
        }
    }
}

impl Binlogserver {
    /// Waits up to `timeout` for the process to exit, and asserts that it
    /// failed: binlogserver must refuse when `what`.
    #[track_caller]
    pub(crate) fn assert_failed_exit(&self, timeout: Duration, what: &str) {
        let status = self.wait_exit(timeout);
        assert!(
            !status.success(),
            "binlogserver must exit with a non-zero status when {what}, got {status}; log:\n{}",
            tail(&self.log(), 40)
        );
    }

    /// Asserts that one ERROR line of the log holds all of `needles`.
    #[track_caller]
    pub(crate) fn assert_error_logged(&self, needles: &[&str]) {
        let log = self.log();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
        assert!(
            errors.iter().any(|l| needles.iter().all(|n| l.contains(n))),
            "no ERROR line of binlogserver's log contains all of {needles:?}; ERROR lines:\n{}\n\
             log tail:\n{}",
            errors.join("\n"),
            tail(&log, 40)
        );
    }
}

impl Drop for Binlogserver {
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!(
                "--- binlogserver log ({}; args: {}), last 150 lines ---\n{}\n---",
                self.log_path.display(),
                self.args.join(" "),
                tail(&self.log(), 150)
            );
        }
    }
}

/// Waits (up to 20 s) until `bls` is the primary's one semi-sync client.
pub(crate) fn wait_semi_sync_client(primary: &MariaDb, bls: &Binlogserver) {
    super::wait_until(
        std::time::Duration::from_secs(20),
        "Rpl_semi_sync_master_clients = 1",
        || {
            bls.assert_running();
            primary.status_u64("Rpl_semi_sync_master_clients") == 1
        },
    );
}

/// The upstream half of binlogserver's command line: follow the primary on
/// 127.0.0.1:`port` as the replication account, into `datadir`, as
/// `server_id`.
pub(crate) fn upstream_args(port: u16, datadir: &Path, server_id: &str) -> Vec<String> {
    let dir = datadir.to_str().expect("UTF-8 datadir");
    let port = port.to_string();
    ["-h", "127.0.0.1", "-P", &port, "-u", REPL_USER, "-p", REPL_PASSWORD, "-d", dir]
        .into_iter()
        .chain(["--server-id", server_id])
        .map(str::to_owned)
        .collect()
}
