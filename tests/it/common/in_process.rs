//! binlogserver run in the test process through the library
//! (`binlogserver::start`), so that a test can drive its replication
//! controls (`START`/`STOP SLAVE`, `CHANGE MASTER`, `RESET SLAVE`) directly
//! and read its upstream status, without the SQL statements that the
//! server side parses. Stopped (shutdown, then every thread joined) on drop.

use super::binlogserver::upstream_args;
use super::serving::{listen_addr, FOLLOW_ARGS};
use super::{free_port, wait_until_ok};
use binlogserver::cli::{self, CliOutcome};
use binlogserver::shutdown::Shutdown;
use binlogserver::status::control::{ChangeMaster, ReplicationControl, Requester};
use binlogserver::status::{IoState, UpstreamStatus};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A binlogserver running in this process.
pub(crate) struct InProcess {
    /// Its replication controls, as the SQL port has them.
    pub(crate) control: Arc<dyn ReplicationControl>,
    /// Its upstream status (`SHOW SLAVE STATUS`).
    pub(crate) status: Arc<Mutex<UpstreamStatus>>,
    /// The port it serves on.
    pub(crate) port: u16,
    shutdown: Shutdown,
    thread: Option<JoinHandle<binlogserver::Result<()>>>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess").field("port", &self.port).finish_non_exhaustive()
    }
}

/// Who the tests' control requests come from.
pub(crate) fn admin() -> Requester {
    Requester { user: "admin".into(), host: "127.0.0.1".into(), connection_id: 1 }
}

impl InProcess {
    /// Follows 127.0.0.1:`port` into `data` as `server_id` with
    /// [`FOLLOW_ARGS`] and `extra`, serving on a free port.
    ///
    /// # Panics
    /// If it cannot start.
    pub(crate) fn follow(port: u16, data: &Path, server_id: &str, extra: &[&str]) -> InProcess {
        let mut args = upstream_args(port, data, server_id);
        args.extend(FOLLOW_ARGS.iter().chain(extra).map(|s| (*s).to_owned()));
        InProcess::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("in-process binlogserver did not start: {e}"))
    }

    /// Starts with the command line `args` (plus `--listen` on a free
    /// port); the error of a start that fails.
    pub(crate) fn start(args: &[&str]) -> Result<InProcess, String> {
        for _attempt in 0..5 {
            let port = free_port();
            let addr = listen_addr(port);
            let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
            all.extend(["--listen".to_owned(), addr]);
            let config = match cli::parse(&all, |_| None) {
                Ok(CliOutcome::Run(config, _, _)) => config,
                other => panic!("bad test command line {all:?}: {other:?}"),
            };
            let shutdown = Shutdown::new();
            match binlogserver::start(*config, shutdown.clone()) {
                Ok(running) => {
                    let control = Arc::clone(&running.control);
                    let status = running.upstream.clone().unwrap_or_default();
                    let thread = thread::Builder::new()
                        .name("in-process-bls".into())
                        .spawn(move || running.wait())
                        .expect("spawn the in-process binlogserver's waiter");
                    return Ok(InProcess { control, status, port, shutdown, thread: Some(thread) });
                }
                Err(e) if e.to_string().contains("cannot listen") => continue,
                Err(e) => return Err(binlogserver::error::chain(&e)),
            }
        }
        panic!("in-process binlogserver could not bind a free port in 5 attempts");
    }

    /// The upstream status now.
    pub(crate) fn status(&self) -> UpstreamStatus {
        self.status.lock().expect("status lock").clone()
    }

    /// Waits until `Slave_IO_Running` is `io`.
    #[track_caller]
    pub(crate) fn wait_io(&self, io: IoState, timeout: Duration) {
        wait_until_ok(timeout, &format!("Slave_IO_Running {}", io.as_str()), || {
            self.assert_running();
            let s = self.status();
            if s.io == io {
                Ok(())
            } else {
                Err(format!("{s:?}"))
            }
        });
    }

    /// Panics if it stopped.
    pub(crate) fn assert_running(&self) {
        assert!(
            !self.thread.as_ref().is_some_and(JoinHandle::is_finished),
            "the in-process binlogserver stopped; status: {:?}",
            self.status()
        );
    }

    /// `START SLAVE`, which must succeed.
    #[track_caller]
    pub(crate) fn start_slave(&self) {
        let r = self.control.start_slave(&admin());
        assert_eq!(r, Ok(false), "START SLAVE");
    }

    /// `STOP SLAVE`, which must succeed.
    #[track_caller]
    pub(crate) fn stop_slave(&self) {
        let r = self.control.stop_slave(&admin());
        assert_eq!(r, Ok(false), "STOP SLAVE");
    }

    /// `CHANGE MASTER TO` 127.0.0.1:`port` as the replication account,
    /// with `file` as `MASTER_LOG_FILE` (at 4) if given; must succeed.
    #[track_caller]
    pub(crate) fn change_master(&self, port: u16, file: Option<&str>) {
        let change = change_to(port, file);
        let r = self.control.change_master(&change, &admin());
        assert_eq!(r, Ok(()), "CHANGE MASTER TO {change:?}");
    }

    /// Shuts it down and returns how it ended.
    pub(crate) fn stop(mut self) -> binlogserver::Result<()> {
        self.shutdown.trigger();
        self.thread.take().expect("running").join().expect("the waiter does not panic")
    }
}

/// `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=port,
/// MASTER_USER/PASSWORD` of the replication account, and `MASTER_LOG_FILE=
/// file, MASTER_LOG_POS=4` if given.
pub(crate) fn change_to(port: u16, file: Option<&str>) -> ChangeMaster {
    ChangeMaster {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        user: Some(super::REPL_USER.into()),
        password: Some(super::REPL_PASSWORD.into()),
        log_file: file.map(str::to_owned),
        log_pos: file.map(|_| 4),
        ..ChangeMaster::default()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
