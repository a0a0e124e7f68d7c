//! binlogserver: a MySQL/MariaDB binlog server.
//!
//! # Layout
//!
//! * [`protocol`] and [`binlog`] are the codec: byte slices in, typed values
//!   out, no I/O.
//! * [`net`] moves packets over sockets; [`storage`] is the only code that
//!   writes binlog files.
//! * [`upstream`] follows the primary as a replica; [`server`] serves the
//!   stored binlogs to replicas, binlog clients and operators.
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
//!
//! * `listener` accepts downstream connections; each runs in its own
//!   `client-<addr>` thread and reads files up to the published durable end.
//! * `metrics` (with `--metrics`) answers Prometheus scrapes, one at a time
//!   ([`metrics::http`]).
//! * `retention` (with `--expire-logs-days`/`--max-total-size`) purges old
//!   files through [`storage::purge::Purger`], as `PURGE BINARY LOGS` does.
//!
//! Shutdown is by closing: when the dump thread ends it drops its sender;
//! the writer drains, fsyncs and exits. The durability contract and the
//! crash cases are in [`storage`].

pub mod accounts;
pub mod binlog;
pub mod cli;
pub mod cnf;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod help;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod status;
pub mod storage;
pub mod tools;
pub mod upstream;

use std::sync::{Arc, Mutex};
use std::thread;

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
use storage::retention::spawn_retention;
use storage::watermark::{DurablePosition, Watermark};
use storage::writer::Writer;
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

/// Runs binlogserver until a fatal error (or `shutdown`).
pub fn run(config: Config, shutdown: Shutdown) -> Result<()> {
    let dir = DataDir::open(&config.data_dir)?;
    // Following a primary repairs a torn tail; serving an archive changes nothing.
    let recovered = storage::recovery::recover_with(&dir, config.upstream.is_some())?;
    let watermark = Watermark::new();
    if let Some(tail) = &recovered.tail {
        watermark.publish(DurablePosition { file: tail.file.clone(), offset: tail.len });
    }
    let status = config.upstream.as_ref().map(|u| {
        Arc::new(Mutex::new(UpstreamStatus {
            host: u.host.clone(),
            port: u.port,
            user: u.user.clone(),
            ..Default::default()
        }))
    });
    let parts =
        Parts { watermark, registry: Arc::default(), status, counters: Arc::default(), shutdown };
    // One owner of the file list and the index, shared by the writer and purges.
    let index = BinlogIndex::with_store(dir.path(), dir.store(), recovered.files.clone());
    let readers = config.server.is_some().then(|| Arc::clone(&parts.registry) as Arc<dyn Readers>);
    let purger = Arc::new(Purger::new(index.clone(), readers));
    let mut threads = Vec::new();
    threads.extend(start_exporter(&config, &parts)?);
    threads.extend(start_listener(&config, &parts, &purger)?);
    if !config.retention.is_empty() {
        let spawned = spawn_retention(
            purger,
            config.retention,
            parts.watermark.clone(),
            parts.shutdown.clone(),
        );
        threads.push(spawned.map_err(|_| Error::Thread("retention"))?);
    }
    let result = match config.upstream {
        Some(upstream) => follow(upstream, dir, index, recovered, &parts),
        None => {
            info!("serving data_dir={} without a primary", config.data_dir.display());
            while !parts.shutdown.wait(std::time::Duration::from_secs(3600)) {}
            Ok(())
        }
    };
    parts.shutdown.trigger();
    for h in threads {
        let _ = h.join();
    }
    result
}

/// The `metrics` thread, with `--metrics`.
fn start_exporter(config: &Config, parts: &Parts) -> Result<Option<thread::JoinHandle<()>>> {
    let Some(addr) = config.metrics else { return Ok(None) };
    let exporter =
        Exporter::bind(addr, parts.source(config), parts.shutdown.clone()).map_err(|e| {
            Error::Config {
                flag: "--metrics".into(),
                reason: format!("cannot listen on {addr}: {e}"),
            }
        })?;
    let handle = thread::Builder::new().name("metrics".into()).spawn(move || exporter.run());
    Ok(Some(handle.map_err(|_| Error::Thread("metrics"))?))
}

/// The `listener` thread, unless `--listen off`.
fn start_listener(
    config: &Config,
    parts: &Parts,
    purger: &Arc<Purger>,
) -> Result<Option<thread::JoinHandle<()>>> {
    let Some(server) = &config.server else { return Ok(None) };
    let shared = Arc::new(Shared {
        dir: config.data_dir.clone(),
        watermark: parts.watermark.clone(),
        registry: Arc::clone(&parts.registry),
        purger: Arc::clone(purger),
        retention: config.retention,
        config: server.clone(),
        upstream: parts.status.clone(),
        shutdown: parts.shutdown.clone(),
        status_rows: Some(Arc::new(parts.source(config))),
    });
    let listener = Listener::bind(shared).map_err(|e| Error::Config {
        flag: "--listen".into(),
        reason: format!("cannot listen on {}: {e}", server.listen),
    })?;
    let handle = thread::Builder::new().name("listener".into()).spawn(move || listener.run());
    Ok(Some(handle.map_err(|_| Error::Thread("listener"))?))
}

fn follow(
    upstream: upstream::UpstreamConfig,
    dir: DataDir,
    index: BinlogIndex,
    recovered: storage::recovery::Recovered,
    parts: &Parts,
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
    let writer = thread::Builder::new()
        .name("binlog-writer".into())
        .spawn(move || {
            let result = writer.run();
            writer_budget.close();
            result
        })
        .map_err(|_| Error::Thread("binlog-writer"))?;
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
    let dump = thread::Builder::new()
        .name("upstream-dump".into())
        .spawn(move || dump.run())
        .map_err(|_| Error::Thread("upstream-dump"))?;
    let dump_result = dump.join().map_err(|_| Error::Thread("upstream-dump"))?;
    let writer_result = writer.join().map_err(|_| Error::Thread("binlog-writer"))?;
    // A storage failure is the root cause when both failed.
    writer_result?;
    dump_result?;
    Ok(())
}
