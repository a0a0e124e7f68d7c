//! The `replication` thread: the one owner of following a primary. It
//! starts and stops the `upstream-dump` thread ([`super::dump::DumpThread`])
//! for `START`/`STOP SLAVE`, changes the upstream for `CHANGE MASTER` and
//! `RESET SLAVE` (only while stopped), and stores every change in the data
//! directory ([`crate::storage::upstream_file`]) before it answers.
//!
//! * Requests come over a bounded channel, each with a reply channel
//!   ([`super::control::ControlHandle`]), and are carried out one at a time.
//! * Each dump has its own stop flag and [`DumpWaker`]; stopping one sets
//!   the flag, wakes its read and joins it, and the [`StreamState`] comes
//!   back ([`DumpThread::follow`]), so the next dump resumes where the
//!   stored files end (including what the writer still has queued).
//! * The writer's sender stays here: the writer ends only when this thread
//!   ends, at shutdown (supervised, like the writer and the listener).
//! * A dump that ends on a fatal error (a history that does not match, a
//!   purged file, a refused switch...) ends the process with its error, as
//!   it always did, when the upstream came from the command line. When it
//!   was set over SQL (the stored upstream), following stops instead with
//!   `Slave_IO_Running: No` and the error in `Last_IO_Error`, as MariaDB's
//!   IO thread does, and serving goes on: the operator who set it is the
//!   one who can fix it, over SQL, which an exiting process would not let
//!   them do (and a restart would fail again the same way).

use std::panic::resume_unwind;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, select, Receiver, Sender};
use log::{debug, error, info, warn};

use super::control::{ControlHandle, Request, QUEUE};
use super::dump::{DumpThread, DumpWaker, ToWriter};
use super::plan::Plan;
use super::stream::StreamState;
use super::switch::check_switch;
use super::{UpstreamConfig, UpstreamError};
use crate::net::tls::SslMode;
use crate::net::NetError;
use crate::shutdown::Shutdown;
use crate::status::control::{ControlError, Requester};
use crate::status::{Counters, IoState, UpstreamStatus};
use crate::storage::upstream_file::{self, RunState, StoredUpstream};

mod requests;

/// How often the thread looks after a running dump (a switch begun, a
/// dump thread that panicked).
const TICK: Duration = Duration::from_secs(1);

/// What a dump thread hands back when it ends.
type DumpEnd = (StreamState, Result<(), UpstreamError>);

/// The running dump thread.
#[derive(Debug)]
struct RunningDump {
    handle: JoinHandle<()>,
    stop: Shutdown,
    waker: DumpWaker,
}

/// The stop flag and waker of the running dump, for the shutdown waker.
type Current = Arc<Mutex<Option<(Shutdown, DumpWaker)>>>;

/// The upstream as it is now (what the stored file holds).
#[derive(Debug, Clone)]
struct Settings {
    cfg: UpstreamConfig,
    run: RunState,
    heartbeat_period: Option<Duration>,
    connect_retry: Option<Duration>,
    /// `MASTER_SSL*` as set over SQL (then in `cfg.ssl` too).
    ssl: Option<crate::net::tls::SslSettings>,
    /// `MASTER_PUBLIC_KEY_PATH` as set over SQL, empty: none (the key
    /// itself in `cfg.server_public_key`).
    public_key_path: Option<std::path::PathBuf>,
    /// `GET_MASTER_PUBLIC_KEY` as set over SQL (then in `cfg` too).
    get_public_key: Option<bool>,
    switch: Option<crate::binlog::BinlogFileName>,
}

/// What the thread shares with the rest of the process.
#[derive(Debug)]
pub struct Shared {
    /// The writer's side (its sender is kept for the thread's life).
    pub writer: ToWriter,
    /// The process's stop flag.
    pub shutdown: Shutdown,
    /// The status `SHOW SLAVE STATUS` shows.
    pub status: Arc<Mutex<UpstreamStatus>>,
    /// Counters of the dump.
    pub counters: Arc<Counters>,
}

/// The `replication` thread's state.
#[derive(Debug)]
pub struct Replication {
    settings: Settings,
    /// The command line's settings, for `RESET SLAVE ALL`.
    base: UpstreamConfig,
    /// True once the upstream is the stored one (set over SQL).
    stored: bool,
    /// Where the stored files end; stale while a dump runs (it has its own).
    state: StreamState,
    dump: Option<RunningDump>,
    current: Current,
    shared: Shared,
    rx: Receiver<Request>,
    tx: Sender<Request>,
    done_tx: Sender<DumpEnd>,
    done_rx: Receiver<DumpEnd>,
}

/// Stops the running dump and wakes the thread at process shutdown.
#[derive(Debug, Clone)]
pub struct ReplicationWaker {
    current: Current,
    tx: Sender<Request>,
}

impl ReplicationWaker {
    /// Sets the running dump's stop flag, wakes its read, and wakes the
    /// replication thread (the process's stop flag must be set first).
    pub fn wake(&self) {
        if let Some((stop, waker)) = &*self.current.lock().unwrap_or_else(PoisonError::into_inner) {
            stop.trigger();
            waker.wake();
        }
        let _ = self.tx.try_send(Request::Wake);
    }
}

impl Replication {
    /// The thread for `plan`, resuming after `state` (the recovered tail,
    /// with the plan's switch already applied).
    pub fn new(plan: Plan, base: UpstreamConfig, state: StreamState, shared: Shared) -> Self {
        let (tx, rx) = bounded(QUEUE);
        let (done_tx, done_rx) = bounded(1);
        let settings = Settings {
            cfg: plan.cfg,
            run: plan.run,
            heartbeat_period: plan.heartbeat_period,
            connect_retry: plan.connect_retry,
            ssl: plan.ssl,
            public_key_path: plan.public_key_path,
            get_public_key: plan.get_public_key,
            switch: plan.switch,
        };
        let r = Replication {
            settings,
            base,
            stored: plan.stored,
            state,
            dump: None,
            current: Arc::default(),
            shared,
            rx,
            tx,
            done_tx,
            done_rx,
        };
        r.show_settings();
        r
    }

    /// The server's handle on this thread.
    pub fn handle(&self) -> ControlHandle {
        ControlHandle { tx: self.tx.clone() }
    }

    /// The waker to run at process shutdown.
    pub fn waker(&self) -> ReplicationWaker {
        ReplicationWaker { current: Arc::clone(&self.current), tx: self.tx.clone() }
    }

    /// Runs until process shutdown, or until a dump of a command-line
    /// upstream ends on a fatal error (returned).
    pub fn run(mut self) -> Result<(), UpstreamError> {
        if self.settings.run == RunState::Running {
            self.start_dump()?;
        } else {
            info!(
                "not following: the stored upstream is {} (START SLAVE on the SQL port to follow)",
                if self.settings.run == RunState::Reset { "reset" } else { "stopped" }
            );
        }
        while !self.shared.shutdown.is_set() {
            select! {
                recv(self.rx) -> request => {
                    if let Ok(request) = request {
                        self.handle_request(request);
                    }
                }
                recv(self.done_rx) -> end => {
                    if let Ok(end) = end {
                        self.dump_ended(end)?;
                    }
                }
                default(TICK) => self.tick(),
            }
        }
        // The writer's senders go with this thread: it drains and ends.
        self.stop_dump();
        Ok(())
    }

    /// A dump thread ended on its own: a fatal error (or shutdown).
    fn dump_ended(&mut self, (state, result): DumpEnd) -> Result<(), UpstreamError> {
        self.state = state;
        self.forget_dump();
        self.report_stopped();
        let Err(e) = result else { return Ok(()) };
        if self.shared.shutdown.is_set() {
            return Ok(());
        }
        // The writer's failure is the process's (its thread reports it).
        if !self.stored || matches!(e, UpstreamError::WriterGone) {
            return Err(e);
        }
        error!(
            "stopped following the primary on an error (Slave_IO_Running: No; fix it, then START \
             SLAVE): {}",
            chain(&e)
        );
        self.status(|s| {
            s.last_error = e.to_string();
            s.last_io_errno = e.io_errno();
        });
        Ok(())
    }

    /// Joins a dump thread that already ended; a panic goes on here.
    fn forget_dump(&mut self) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(dump) = self.dump.take() {
            if let Err(panic) = dump.handle.join() {
                resume_unwind(panic);
            }
        }
    }

    /// Housekeeping: a dump thread that died without a word, a switch begun.
    fn tick(&mut self) {
        // A finished thread sent its end before it finished, unless it panicked.
        if self.dump.as_ref().is_some_and(|d| d.handle.is_finished()) && self.done_rx.is_empty() {
            self.forget_dump();
        }
        self.forget_begun_switch();
    }

    /// Once the first bytes of the switch's file are durable, the stored
    /// switch is done with.
    fn forget_begun_switch(&mut self) {
        let Some(file) = &self.settings.switch else { return };
        let begun = self.shared.writer.durable.get().is_some_and(|p| p.file >= *file);
        if !begun {
            return;
        }
        info!("continuing with file={file}: its first bytes are stored; the switch is done");
        let mut done = self.settings.clone();
        done.switch = None;
        if !self.stored {
            // From --start-file: the command line stays the configuration.
            self.settings = done;
            return;
        }
        if let Err(e) = self.persist(done) {
            // Harmless: a stored switch to a file we hold is passed over at start.
            warn!("cannot store the finished switch: {e}");
        }
    }

    /// Starts a dump thread resuming from the current state.
    fn start_dump(&mut self) -> Result<(), UpstreamError> {
        let stop = Shutdown::new();
        let dump = DumpThread::new(
            self.settings.cfg.clone(),
            self.state.clone(),
            self.shared.writer.clone(),
            stop.clone(),
            Arc::clone(&self.shared.status),
            Arc::clone(&self.shared.counters),
        );
        let waker = dump.waker();
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((stop.clone(), waker.clone()));
        if self.shared.shutdown.is_set() {
            // The shutdown waker may have run before the slot was set.
            stop.trigger();
        }
        self.status(|s| {
            s.io = IoState::Connecting;
            s.last_error.clear();
            s.last_io_errno = 0;
        });
        info!(
            "following primary={}:{} user={} server_id={} semi_sync={:?}",
            self.settings.cfg.host,
            self.settings.cfg.port,
            self.settings.cfg.user,
            self.settings.cfg.server_id,
            self.settings.cfg.semi_sync
        );
        let done = self.done_tx.clone();
        let handle = thread::Builder::new()
            .name("upstream-dump".into())
            .spawn(move || {
                let _ = done.send(dump.follow());
            })
            .map_err(|source| {
                UpstreamError::Net(NetError::Io { op: "start the upstream-dump thread", source })
            })?;
        self.dump = Some(RunningDump { handle, stop, waker });
        Ok(())
    }

    /// Stops the running dump, if any, and takes its state back; true if
    /// one ran.
    fn stop_dump(&mut self) -> bool {
        let Some(dump) = &self.dump else { return false };
        dump.stop.trigger();
        dump.waker.wake();
        // No answer: the thread panicked (joined below, the panic goes on).
        if let Ok((state, result)) = self.done_rx.recv() {
            self.state = state;
            if let Err(e) = result {
                debug!("the dump ended while stopping: {}", chain(&e));
            }
        }
        self.forget_dump();
        self.report_stopped();
        true
    }

    fn report_stopped(&self) {
        self.status(|s| {
            s.io = IoState::No;
            s.behind_bytes = None;
            s.semi_sync = false;
            s.semi_sync_warning.clear();
        });
    }

    /// Stores `new` and makes it the settings; nothing changes on failure.
    fn persist(&mut self, new: Settings) -> Result<(), ControlError> {
        let stored = StoredUpstream {
            run: new.run,
            host: new.cfg.host.clone(),
            port: new.cfg.port,
            user: new.cfg.user.clone(),
            password: new.cfg.password.clone(),
            heartbeat_period: new.heartbeat_period,
            connect_retry: new.connect_retry,
            switch_file: new.switch.clone(),
            ssl: new.ssl.clone(),
            public_key_path: new.public_key_path.clone(),
            get_public_key: new.get_public_key,
        };
        upstream_file::store(&self.shared.writer.dir, &stored).map_err(|e| {
            ControlError::Storage(format!("cannot store the upstream: {}", chain(&e)))
        })?;
        self.settings = new;
        self.stored = true;
        self.show_settings();
        Ok(())
    }

    /// Shows the settings in the status.
    fn show_settings(&self) {
        let cfg = &self.settings.cfg;
        self.status(|s| {
            s.host.clone_from(&cfg.host);
            s.port = cfg.port;
            s.user.clone_from(&cfg.user);
            s.heartbeat_period = cfg.heartbeat;
            s.connect_retry = cfg.connect_retry;
            let path = |p: &Option<std::path::PathBuf>| {
                p.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            };
            s.ssl = crate::status::upstream::SslStatus {
                allowed: cfg.ssl.mode != SslMode::Disabled,
                ca: path(&cfg.ssl.ca),
                cert: path(&cfg.ssl.cert),
                key: path(&cfg.ssl.key),
                verify_server_cert: cfg.ssl.mode == SslMode::VerifyIdentity,
            };
            s.public_key_path = path(&self.settings.public_key_path);
            s.get_public_key = cfg.get_server_public_key;
        });
    }

    fn status(&self, update: impl FnOnce(&mut UpstreamStatus)) {
        update(&mut self.shared.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Checks a pending switch before following (`START SLAVE`): a refusal
    /// is returned; a primary that cannot be reached now is left to the
    /// dump, which checks again before each connection.
    fn check_pending_switch(&self) -> Result<(), ControlError> {
        let Some((file, (last, end))) = self.state.pending_switch() else { return Ok(()) };
        let (writer, shutdown) = (&self.shared.writer, &self.shared.shutdown);
        let give_up = || writer.budget.is_closed() || shutdown.is_set();
        if !writer.durable.wait_covers(last, end, give_up) {
            return Err(ControlError::Storage("the storage writer stopped".into()));
        }
        match check_switch(&self.settings.cfg, &self.shared.writer.dir, (last, end), file) {
            Ok(()) => Ok(()),
            Err(e @ UpstreamError::SwitchRefused(_)) => {
                Err(ControlError::SwitchRefused(e.to_string()))
            }
            Err(e @ UpstreamError::Storage(_)) => Err(ControlError::Storage(chain(&e))),
            Err(e) => {
                warn!(
                    "cannot check the switch to file={file} now, following checks it first: {}",
                    chain(&e)
                );
                Ok(())
            }
        }
    }
}

/// `requester` as the log shows it.
fn who(by: &Requester) -> String {
    format!("user={} host={} connection_id={}", by.user, by.host, by.connection_id)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
#[path = "replication_tests.rs"]
mod tests;
