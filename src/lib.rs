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
//! * `upstream-dump` ([`upstream::dump::DumpThread`]) reads the primary's
//!   binlog stream, checks every event (CRC, position chain) and hands
//!   batches of whole events to the writer over a bounded channel.
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
//!   threads joined.
//! * `metrics` (with `--metrics`) answers Prometheus scrapes, one at a time
//!   ([`metrics::http`]), on the same accept loop.
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
//! `client-*` and `semi-sync-ack` threads are joined by the thread that
//! started them, and a panic in one goes on in it. (Release builds abort on
//! a panic, after `main`'s panic hook has logged the thread and message.)
//! Shutdown itself is by closing: the dump thread stops reading and drops
//! its sender; the writer drains, fsyncs and exits; the ACK sender sends
//! what that fsync covers. The durability contract and the crash cases are
//! in [`storage`].

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
use log::info;

pub use config::Config;
pub use error::{Error, Result};

use metrics::http::{Exporter, Source};
use server::listener::Listener;
use server::registry::Registry;
use server::Shared;
use shutdown::Shutdown;
use status::{Counters, UpstreamStatus};
use storage::budget::ByteBudget;
use storage::datadir::DataDir;
use storage::index::BinlogIndex;
use storage::purge::{Purger, Readers};
use storage::retention::Retention;
use storage::watermark::{DurablePosition, Watermark};
use storage::writer::Writer;
use supervise::Supervisor;
use upstream::dump::{DumpThread, ToWriter};
use upstream::stream::StreamState;

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
    let dir = DataDir::open(&config.data_dir)?;
    // Following a primary repairs a torn tail; serving an archive changes nothing.
    let recovered = storage::recovery::recover_with(&dir, config.upstream.is_some())?;
    let watermark = Watermark::new();
    if let Some(tail) = &recovered.tail {
        watermark.publish(DurablePosition { file: tail.file.clone(), offset: tail.len });
    }
    let status = config.upstream.as_ref().map(|u| {
        let mut status = UpstreamStatus {
            host: u.host.clone(),
            port: u.port,
            user: u.user.clone(),
            heartbeat_period: u.heartbeat,
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
    let started = start(&config, &parts, purger, (dir, index, recovered), &mut threads);
    if let Err(e) = started {
        // Stop what did start; the reason it could not all start comes first.
        parts.shutdown.trigger();
        let _ = threads.wait();
        return Err(e);
    }
    threads.wait()
}

/// Starts every thread the configuration asks for.
fn start(
    config: &Config,
    parts: &Parts,
    purger: Arc<Purger>,
    (dir, index, recovered): (DataDir, BinlogIndex, storage::recovery::Recovered),
    threads: &mut Supervisor,
) -> Result<()> {
    start_exporter(config, parts, threads)?;
    start_listener(config, parts, &purger, threads)?;
    if !config.retention.is_empty() {
        let retention = Retention {
            purger,
            policy: config.retention,
            watermark: parts.watermark.clone(),
            shutdown: parts.shutdown.clone(),
        };
        threads.spawn("retention", move || Ok(retention.run()?))?;
    }
    match &config.upstream {
        Some(upstream) => follow(upstream.clone(), dir, index, recovered, parts, threads),
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
        // The replication controller comes with the upstream side's switch.
        control: None,
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

/// The `binlog-writer` and `upstream-dump` threads.
fn follow(
    upstream: upstream::UpstreamConfig,
    dir: DataDir,
    index: BinlogIndex,
    recovered: storage::recovery::Recovered,
    parts: &Parts,
    threads: &mut Supervisor,
) -> Result<()> {
    info!(
        "starting server_id={} primary={}:{} data_dir={} semi_sync={:?}",
        upstream.server_id,
        upstream.host,
        upstream.port,
        dir.path().display(),
        upstream.semi_sync
    );
    let state = StreamState::resume(recovered.tail.as_ref());
    let (writer_tx, writer_rx) = bounded(WRITER_QUEUE);
    let budget = ByteBudget::new(WRITER_BYTES);
    let writer = Writer::new(
        dir,
        index,
        writer_rx,
        parts.watermark.clone(),
        budget.clone(),
        Arc::clone(&parts.counters),
    );
    let writer_budget = budget.clone();
    threads.spawn("binlog-writer", move || {
        let result = writer.run();
        // The dump thread stops waiting for room in the queue.
        writer_budget.close();
        Ok(result?)
    })?;
    let status = parts.status.clone().unwrap_or_default();
    let to_writer = ToWriter { tx: writer_tx, budget, durable: parts.watermark.clone() };
    let dump = DumpThread::new(
        upstream,
        state,
        to_writer,
        parts.shutdown.clone(),
        status,
        Arc::clone(&parts.counters),
    );
    let waker = dump.waker();
    threads.on_shutdown(move || waker.wake());
    // When it ends it drops the writer's sender: the writer drains, fsyncs and ends.
    threads.spawn("upstream-dump", move || Ok(dump.run()?))
}
