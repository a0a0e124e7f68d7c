//! binlogserver: a MySQL/MariaDB binlog server.
//!
//! # Layout
//!
//! * [`protocol`] and [`binlog`] are the codec: byte slices in, typed values
//!   out, no I/O.
//! * [`net`] moves packets over sockets; [`storage`] is the only code that
//!   writes binlog files.
//! * [`status`] holds what the two sides and the writer share: the
//!   counters the hot paths bump, the upstream status, the replica UUID.
//! * [`upstream`] follows the primary as a replica; [`server`] serves the
//!   stored binlogs to replicas, binlog clients and operators. Neither
//!   imports the other.
//! * [`metrics`] (the exporter: `/metrics` and the `SHOW STATUS` rows) sits
//!   above both and only reads; [`tools`] are the `events`, `verify` and
//!   `proxy` subcommands.
//!
//! Imports only run down these layers (codec and [`hexdump`] at the
//! bottom, then `net`/`status`, `storage`, `upstream`|`server`,
//! `metrics`/`tools`, and this file with the configuration on top);
//! `tests/it/layering.rs` checks every `crate::` path.
//!
//! # Threads
//!
//! * `replication` ([`upstream::replication::Replication`]) owns following
//!   the primary: it starts and stops the dump thread (`START`/`STOP
//!   SLAVE`), changes and stores the upstream (`CHANGE MASTER`, `RESET
//!   SLAVE`: [`storage::upstream_file`]) on requests from the SQL port
//!   ([`status::control::ReplicationControl`]), and holds the writer's
//!   sender for its whole life. Which upstream it follows at start is
//!   decided once ([`upstream::plan`]): the stored one wins over `-h`.
//! * `upstream-dump` ([`upstream::dump::DumpThread`], started and joined by
//!   `replication`) reads the primary's binlog stream, checks every event
//!   (CRC, position chain) and hands batches of whole events to the writer
//!   over a bounded channel; a switch to a promoted primary is checked
//!   first ([`upstream::switch`]). Resuming under semi-sync, its
//!   `upstream-list` thread lists the primary's binlogs on a second
//!   connection once the dump runs (for the catch-up progress).
//! * `binlog-writer` ([`storage::writer::Writer`]) appends, fsyncs in groups
//!   and publishes the durable end ([`storage::watermark::Watermark`]). It
//!   never touches a socket.
//! * `semi-sync-ack` ([`upstream::ack::AckThread`], one per semi-sync
//!   connection) owns the dump connection's write half and sends the ACK of
//!   the newest flagged position the published durable end covers
//!   ([`storage::ack_queue::AckQueue`]).
//! * `listener` accepts downstream connections ([`net::accept::Acceptor`]);
//!   each runs in its own `client-<addr>` thread and reads files up to the
//!   published durable end. At shutdown their sockets are shut down and the
//!   threads joined. Its `login-log` thread writes the summary lines of
//!   failed and refused logins ([`server::admission`]) once a second.
//! * `metrics` (with `--metrics`) answers Prometheus scrapes on the same
//!   accept loop, each connection in its own short-lived `metrics-<addr>`
//!   thread, a few at once and each within a deadline ([`metrics::http`]).
//! * `retention` (with `--expire-logs-days`/`--max-total-size`) purges old
//!   files through [`storage::purge::Purger`], as `PURGE BINARY LOGS` does.
//! * `signals` (started by `main`) turns SIGTERM and SIGINT into a clean stop.
//!
//! # Shutdown and supervision
//!
//! Every thread is named and returns a `Result`. `run` supervises the
//! top-level ones ([`supervise`]): the first to end, whatever the reason,
//! triggers [`shutdown::Shutdown`], every thread is joined, and the first
//! failure becomes the process's error (logged once, non-zero exit). The
//! `client-*`, `upstream-dump` and `semi-sync-ack` threads are joined by
//! the thread that started them, and a panic in one goes on in it.
//! (Release builds abort on a panic, after `main`'s panic hook has logged
//! the thread and message.) Shutdown itself is by closing: the dump thread
//! stops reading and drops its sender, the replication thread joins it and
//! drops the last one; the writer drains, fsyncs and exits; the ACK sender
//! sends what that fsync covers. `STOP SLAVE` stops only the dump thread:
//! the writer, the listener and serving go on. The durability contract and
//! the crash cases are in [`storage`].

pub mod accounts;
pub mod binlog;
pub mod cli;
pub mod cnf;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod help;
pub mod hexdump;
pub mod metrics;
pub mod net;
pub mod objstore;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod signals;
pub mod status;
pub mod storage;
pub mod supervise;
pub mod tools;
pub mod upstream;

use std::sync::{Arc, Mutex};

use crossbeam_channel::bounded;
use log::{info, warn};

pub use config::Config;
pub use error::{Error, Result};

use metrics::http::{Exporter, Source};
use objstore::S3Client;
use server::listener::Listener;
use server::registry::Registry;
use server::Shared;
use shutdown::Shutdown;
use status::control::ReplicationControl;
use status::{Counters, UpstreamStatus};
use storage::archive::s3::S3Store;
use storage::archive::uploader::Uploader;
use storage::archive::{Archive, Attached};
use storage::budget::ByteBudget;
use storage::datadir::DataDir;
use storage::index::BinlogIndex;
use storage::purge::{Purger, Readers};
use storage::recovery::Recovered;
use storage::retention::Retention;
use storage::watermark::{DurablePosition, Watermark};
use storage::writer::Writer;
use supervise::Supervisor;
use upstream::control::ServeOnlyControl;
use upstream::dump::ToWriter;
use upstream::plan::Plan;
use upstream::replication::{self as repl, Replication};
use upstream::stream::StreamState;
use upstream::UpstreamError;

/// Messages the dump thread may queue ahead of the writer.
const WRITER_QUEUE: usize = 16;
/// Bytes the dump thread may queue ahead of the writer.
const WRITER_BYTES: u64 = 4 << 20;

/// What `run` shares between the threads it starts.
struct Parts {
    watermark: Watermark,
    registry: Arc<Registry>,
    status: Option<Arc<Mutex<UpstreamStatus>>>,
    counters: Arc<Counters>,
    shutdown: Shutdown,
}

impl Parts {
    /// What the exporter reads (for `/metrics` and `SHOW STATUS`).
    fn source(&self, config: &Config) -> Source {
        Source {
            counters: Arc::clone(&self.counters),
            upstream: self.status.clone(),
            dir: config.data_dir.clone(),
            watermark: self.watermark.clone(),
            registry: config.server.is_some().then(|| Arc::clone(&self.registry)),
        }
    }
}

/// Runs binlogserver until a fatal error (or `shutdown`). Every thread is
/// supervised ([`supervise`]): the first to end stops the others, and the
/// first failure is returned once all are joined.
pub fn run(config: Config, shutdown: Shutdown) -> Result<()> {
    start(config, shutdown)?.wait()
}

/// A started binlogserver: its supervised threads, and what the SQL port
/// is given (for tests that drive it in-process).
#[derive(Debug)]
pub struct Running {
    threads: Supervisor,
    /// `START`/`STOP SLAVE`, `CHANGE MASTER`, `RESET SLAVE`.
    pub control: Arc<dyn ReplicationControl>,
    /// The upstream status (`SHOW SLAVE STATUS`), when following.
    pub upstream: Option<Arc<Mutex<UpstreamStatus>>>,
    /// The archive tier, attached to the data directory while running.
    _archive: Option<Attached>,
}

impl Running {
    /// Waits until shutdown (or a fatal error) and joins every thread.
    ///
    /// # Errors
    /// The first failure, as [`run`] returns it.
    pub fn wait(self) -> Result<()> {
        self.threads.wait()
    }
}

/// Starts binlogserver's threads ([`run`] without the wait).
///
/// # Errors
/// What stops it from starting (the data directory, a refused switch, a
/// port in use...), once what did start is stopped again.
pub fn start(config: Config, shutdown: Shutdown) -> Result<Running> {
    let dir = DataDir::open(&config.data_dir)?;
    let archive = open_archive(&config, &dir)?;
    let plan = follow_plan(&config, &dir)?;
    // Following a primary repairs a torn tail; serving an archive changes nothing.
    let recovered = storage::recovery::recover_with(&dir, plan.is_some())?;
    let watermark = Watermark::new();
    if let Some(tail) = &recovered.tail {
        watermark.publish(DurablePosition { file: tail.file.clone(), offset: tail.len });
    }
    let status = plan.as_ref().map(|p| {
        let mut status = UpstreamStatus {
            host: p.cfg.host.clone(),
            port: p.cfg.port,
            user: p.cfg.user.clone(),
            heartbeat_period: p.cfg.heartbeat,
            ..Default::default()
        };
        // The dump thread connects first thing.
        status.set_io(status::IoState::Connecting, std::time::Instant::now());
        Arc::new(Mutex::new(status))
    });
    let parts =
        Parts { watermark, registry: Arc::default(), status, counters: Arc::default(), shutdown };
    // One owner of the file list and the index, shared by the writer and purges.
    let index = BinlogIndex::with_store(dir.path(), dir.store(), recovered.files.clone());
    let readers = config.server.is_some().then(|| Arc::clone(&parts.registry) as Arc<dyn Readers>);
    let purger = Arc::new(Purger::new(index.clone(), readers));
    let mut threads = Supervisor::new(parts.shutdown.clone());
    let archive_index = index.clone();
    let following = plan.map(|plan| Following::new(plan, &config, dir, index, recovered, &parts));
    let control: Arc<dyn ReplicationControl> = match &following {
        Some(f) => Arc::new(f.replication.handle()),
        None => Arc::new(ServeOnlyControl { dir: config.data_dir.clone() }),
    };
    let mut started = start_threads(&config, &parts, purger, (following, &control), &mut threads);
    if let (Ok(()), Some((archive, _))) = (&started, &archive) {
        started = start_archive(&config, archive, archive_index, &parts, &mut threads);
    }
    if let Err(e) = started {
        // Stop what did start; the reason it could not all start comes first.
        parts.shutdown.trigger();
        let _ = threads.wait();
        return Err(e);
    }
    Ok(Running { threads, control, upstream: parts.status, _archive: archive.map(|(_, a)| a) })
}

/// The archive of `--archive-url`, attached to the data directory before
/// anything reads its files.
fn open_archive(config: &Config, dir: &DataDir) -> Result<Option<(Arc<Archive>, Attached)>> {
    let Some(cfg) = &config.archive else { return Ok(None) };
    let client = S3Client::new(cfg.s3.clone())
        .map_err(|e| Error::Config { flag: "--archive-url".into(), reason: e.to_string() })?;
    let store = Arc::new(S3Store::new(client));
    let archive = Arc::new(Archive::open(dir.path(), dir.store(), store)?);
    let attached = storage::archive::attach(&archive);
    Ok(Some((archive, attached)))
}

/// The `archive` thread, with `--archive-url`.
fn start_archive(
    config: &Config,
    archive: &Arc<Archive>,
    index: BinlogIndex,
    parts: &Parts,
    threads: &mut Supervisor,
) -> Result<()> {
    let uploader = Uploader {
        archive: Arc::clone(archive),
        fs: Arc::new(storage::fs::StdStore),
        index,
        keep_local: config.archive.as_ref().and_then(|a| a.keep_local),
        shutdown: parts.shutdown.clone(),
    };
    threads.spawn("archive", move || Ok(uploader.run()?))
}

/// What to follow ([`upstream::plan`]), logging its warnings; a switch
/// asked for with `--start-file` is checked before anything on disk
/// changes, and a refusal ends the start.
fn follow_plan(config: &Config, dir: &DataDir) -> Result<Option<Plan>> {
    let stored = storage::upstream_file::load(dir.path())?;
    let files = storage::reader::list_files(dir.path())?;
    let plan =
        upstream::plan::plan(config.upstream.as_ref(), &config.follow, stored.as_ref(), &files)
            .map_err(|r| Error::Config { flag: r.flag.into(), reason: r.reason })?;
    let Some(mut plan) = plan else { return Ok(None) };
    for w in &plan.warnings {
        warn!("{w}");
    }
    stored_public_key(&mut plan, dir)?;
    if let (Some(file), true) = (&plan.switch, plan.switch_from_command_line) {
        // Where the stored files end, without repairing anything yet.
        let tail = storage::recovery::recover_with(dir, false)?.tail;
        if let Some(tail) = tail {
            match upstream::switch::check_switch(
                &plan.cfg,
                dir.path(),
                (&tail.file, tail.len),
                file,
            ) {
                Ok(()) => {}
                Err(e @ (UpstreamError::SwitchRefused(_) | UpstreamError::Storage(_))) => {
                    return Err(e.into())
                }
                // The dump checks again before it stores anything.
                Err(e) => warn!(
                    "cannot check --start-file {file} now, following checks it first: {}",
                    error::chain(&e)
                ),
            }
        }
    }
    Ok(Some(plan))
}

/// Reads the key file `MASTER_PUBLIC_KEY_PATH` stored into the plan; a
/// file gone or changed since is a start error naming both files.
fn stored_public_key(plan: &mut Plan, dir: &DataDir) -> Result<()> {
    let Some(path) = plan.public_key_path.as_deref() else { return Ok(()) };
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    let key = upstream::read_server_public_key(path).map_err(|why| Error::Config {
        flag: storage::upstream_file::path_in(dir.path()).display().to_string(),
        reason: format!(
            "public_key_path (set by CHANGE MASTER TO MASTER_PUBLIC_KEY_PATH): {why}; restore the \
             key file, or remove the public_key_path line to use the command line's key"
        ),
    })?;
    plan.cfg.server_public_key = Some(key);
    Ok(())
}

/// Starts every thread the configuration asks for.
fn start_threads(
    config: &Config,
    parts: &Parts,
    purger: Arc<Purger>,
    (following, control): (Option<Following>, &Arc<dyn ReplicationControl>),
    threads: &mut Supervisor,
) -> Result<()> {
    start_exporter(config, parts, threads)?;
    start_listener(config, parts, &purger, Arc::clone(control), threads)?;
    if !config.retention.is_empty() {
        let retention = Retention {
            purger,
            policy: config.retention,
            watermark: parts.watermark.clone(),
            shutdown: parts.shutdown.clone(),
        };
        threads.spawn("retention", move || Ok(retention.run()?))?;
    }
    match following {
        Some(following) => following.spawn(threads),
        None => {
            info!("serving data_dir={} without a primary", config.data_dir.display());
            Ok(())
        }
    }
}

/// The `metrics` thread, with `--metrics`.
fn start_exporter(config: &Config, parts: &Parts, threads: &mut Supervisor) -> Result<()> {
    let Some(addr) = config.metrics else { return Ok(()) };
    let exporter =
        Exporter::bind(addr, parts.source(config), parts.shutdown.clone()).map_err(|e| {
            Error::Config {
                flag: "--metrics".into(),
                reason: format!("cannot listen on {addr}: {e}"),
            }
        })?;
    threads.spawn("metrics", move || exporter.run().map_err(|_| Error::Thread("metrics-wake")))
}

/// The `listener` thread, unless `--listen off`.
fn start_listener(
    config: &Config,
    parts: &Parts,
    purger: &Arc<Purger>,
    control: Arc<dyn ReplicationControl>,
    threads: &mut Supervisor,
) -> Result<()> {
    let Some(server) = &config.server else { return Ok(()) };
    let shared = Arc::new(Shared {
        dir: config.data_dir.clone(),
        watermark: parts.watermark.clone(),
        registry: Arc::clone(&parts.registry),
        purger: Arc::clone(purger),
        retention: config.retention,
        config: server.clone(),
        upstream: parts.status.clone(),
        control,
        counters: Arc::clone(&parts.counters),
        shutdown: parts.shutdown.clone(),
        status_rows: Some(Arc::new(parts.source(config))),
    });
    let listener = Listener::bind(shared).map_err(|e| Error::Config {
        flag: "--listen".into(),
        reason: format!("cannot listen on {}: {e}", server.listen),
    })?;
    threads.spawn("listener", move || listener.run().map_err(|_| Error::Thread("listener-wake")))
}

/// The `binlog-writer` and `replication` threads, built before the
/// listener (which gets the replication thread's handle) and started after.
struct Following {
    writer: Writer,
    budget: ByteBudget,
    replication: Replication,
}

impl Following {
    fn new(
        plan: Plan,
        config: &Config,
        dir: DataDir,
        index: BinlogIndex,
        recovered: Recovered,
        parts: &Parts,
    ) -> Following {
        info!(
            "starting server_id={} primary={}:{} data_dir={} semi_sync={:?}",
            plan.cfg.server_id,
            plan.cfg.host,
            plan.cfg.port,
            dir.path().display(),
            plan.cfg.semi_sync
        );
        let mut state = StreamState::resume(recovered.tail.as_ref());
        if let Some(file) = &plan.switch {
            state.switch_to(file.clone());
        }
        let (writer_tx, writer_rx) = bounded(WRITER_QUEUE);
        let budget = ByteBudget::new(WRITER_BYTES);
        let to_writer = ToWriter {
            tx: writer_tx,
            budget: budget.clone(),
            durable: parts.watermark.clone(),
            dir: dir.path().to_owned(),
        };
        let writer = Writer::new(
            dir,
            index,
            writer_rx,
            parts.watermark.clone(),
            budget.clone(),
            Arc::clone(&parts.counters),
        );
        let shared = repl::Shared {
            writer: to_writer,
            shutdown: parts.shutdown.clone(),
            status: parts.status.clone().unwrap_or_default(),
            counters: Arc::clone(&parts.counters),
        };
        let replication = Replication::new(plan, config.follow.clone(), state, shared);
        Following { writer, budget, replication }
    }

    fn spawn(self, threads: &mut Supervisor) -> Result<()> {
        let Following { writer, budget, replication } = self;
        threads.spawn("binlog-writer", move || {
            let result = writer.run();
            // The dump thread stops waiting for room in the queue.
            budget.close();
            Ok(result?)
        })?;
        let waker = replication.waker();
        threads.on_shutdown(move || waker.wake());
        // When it ends it drops the writer's sender: the writer drains, fsyncs and ends.
        threads.spawn("replication", move || Ok(replication.run()?))
    }
}
