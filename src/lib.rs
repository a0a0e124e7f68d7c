//! binlogserver: a MySQL/MariaDB binlog server.
//!
//! # Layout
//!
//! * [`protocol`] and [`binlog`] are the codec: byte slices in, typed values
//!   out, no I/O.
//! * [`net`] moves packets over sockets; [`storage`] is the only code that
//!   writes binlog files.
//! * [`upstream`] follows the primary as a replica.
//!
//! # Threads
//!
//! * `upstream-dump` ([`upstream::dump::DumpThread`]) reads the primary's
//!   binlog stream, checks every event (CRC, position chain) and hands
//!   batches of whole events to the writer over a bounded channel.
//! * `binlog-writer` ([`storage::writer::Writer`]) appends, fsyncs in groups,
//!   publishes the durable end and queues semi-sync ACKs for what is durable.
//! * `upstream-ack` ([`upstream::ack::AckSender`]), one per semi-sync
//!   connection, sends those ACKs on the dump connection.
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
pub mod shutdown;
pub mod storage;
pub mod upstream;

use std::thread;

use crossbeam_channel::bounded;
use log::info;

pub use config::Config;
pub use error::{Error, Result};

use shutdown::Shutdown;
use storage::budget::ByteBudget;
use storage::datadir::DataDir;
use storage::watermark::Watermark;
use storage::writer::Writer;
use upstream::dump::DumpThread;
use upstream::stream::StreamState;

/// Messages the dump thread may queue ahead of the writer.
const WRITER_QUEUE: usize = 16;
/// Durable ACK requests waiting for the ACK sender.
const ACK_QUEUE: usize = 4096;
/// Bytes the dump thread may queue ahead of the writer.
const WRITER_BYTES: u64 = 4 << 20;

/// Runs binlogserver until a fatal error (or `shutdown`).
pub fn run(config: Config, shutdown: Shutdown) -> Result<()> {
    let dir = DataDir::open(&config.data_dir)?;
    let recovered = storage::recovery::recover(&dir)?;
    info!(
        "starting server_id={} primary={}:{} data_dir={} semi_sync={:?}",
        config.upstream.server_id,
        config.upstream.host,
        config.upstream.port,
        config.data_dir.display(),
        config.upstream.semi_sync
    );
    let state = StreamState::resume(recovered.tail.as_ref());
    let (writer_tx, writer_rx) = bounded(WRITER_QUEUE);
    let (ack_tx, ack_rx) = bounded(ACK_QUEUE);
    let watermark = Watermark::new();
    let budget = ByteBudget::new(WRITER_BYTES);
    let writer = Writer::new(dir, recovered.files, writer_rx, ack_tx, watermark, budget.clone());
    let writer_budget = budget.clone();
    let writer = thread::Builder::new()
        .name("binlog-writer".into())
        .spawn(move || {
            let result = writer.run();
            writer_budget.close();
            result
        })
        .map_err(|_| Error::Thread("binlog-writer"))?;
    let dump = DumpThread::new(config.upstream, state, writer_tx, budget, ack_rx, shutdown);
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
