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
//! * `binlog-writer` ([`storage::writer::Writer`]) appends, fsyncs in groups,
//!   publishes the durable end and sends the semi-sync ACKs that the fsync
//!   covered, on the dump connection's write half.
//!
//! * `listener` accepts downstream connections; each runs in its own
//!   `client-<addr>` thread and reads files up to the published durable end.
//!
//! Shutdown is by closing: when the dump thread ends it drops its sender;
//! the writer drains, fsyncs and exits. The durability contract and the
//! crash cases are in [`storage`].

pub mod binlog;
pub mod cli;
pub mod config;
pub mod error;
pub mod net;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod storage;
pub mod upstream;
#[doc(hidden)]
pub mod fuzzing;

use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::bounded;
use log::info;

pub use config::Config;
pub use error::{Error, Result};

use server::info::UpstreamStatus;
use server::listener::Listener;
use server::registry::Registry;
use server::Shared;
use shutdown::Shutdown;
use storage::budget::ByteBudget;
use storage::datadir::DataDir;
use storage::watermark::{DurablePosition, Watermark};
use storage::writer::Writer;
use upstream::dump::DumpThread;
use upstream::stream::StreamState;

/// Messages the dump thread may queue ahead of the writer.
const WRITER_QUEUE: usize = 16;
/// Bytes the dump thread may queue ahead of the writer.
const WRITER_BYTES: u64 = 4 << 20;

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
        Arc::new(Mutex::new(UpstreamStatus { host: u.host.clone(), port: u.port, user: u.user.clone(), ..Default::default() }))
    });
    let listener = match &config.server {
        Some(server) => {
            let shared = Arc::new(Shared {
                dir: config.data_dir.clone(),
                watermark: watermark.clone(),
                registry: Registry::default(),
                config: server.clone(),
                upstream: status.clone(),
                shutdown: shutdown.clone(),
            });
            let listener = Listener::bind(shared).map_err(|e| Error::Config {
                flag: "--listen".into(),
                reason: format!("cannot listen on {}: {e}", server.listen),
            })?;
            let handle = thread::Builder::new()
                .name("listener".into())
                .spawn(move || listener.run())
                .map_err(|_| Error::Thread("listener"))?;
            Some(handle)
        }
        None => None,
    };
    let result = match config.upstream {
        Some(upstream) => follow(upstream, dir, recovered, watermark, status, shutdown.clone()),
        None => {
            info!("serving data_dir={} without a primary", config.data_dir.display());
            while !shutdown.wait(std::time::Duration::from_secs(3600)) {}
            Ok(())
        }
    };
    shutdown.trigger();
    if let Some(h) = listener {
        let _ = h.join();
    }
    result
}

fn follow(
    upstream: upstream::UpstreamConfig,
    dir: DataDir,
    recovered: storage::recovery::Recovered,
    watermark: Watermark,
    status: Option<Arc<Mutex<UpstreamStatus>>>,
    shutdown: Shutdown,
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
    let writer = Writer::new(dir, recovered.files, writer_rx, watermark, budget.clone());
    let writer_budget = budget.clone();
    let writer = thread::Builder::new()
        .name("binlog-writer".into())
        .spawn(move || {
            let result = writer.run();
            writer_budget.close();
            result
        })
        .map_err(|_| Error::Thread("binlog-writer"))?;
    let status = status.unwrap_or_default();
    let dump = DumpThread::new(upstream, state, writer_tx, budget, shutdown, status);
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
