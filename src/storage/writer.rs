//! The writer thread: appends events, fsyncs in groups, publishes the
//! durable end and releases semi-sync ACKs.
//!
//! Semi-sync ACKs leave from here, right after the fsync that covers them,
//! through a sink the dump thread installs per connection: the dump thread
//! is blocked reading the primary and could not send them sooner, and a
//! separate ACK thread would cost one more wake-up per ACK.
//!
//! Group fsync: the loop blocks for one message, drains what else is
//! queued, writes it all, and calls `fdatasync` once when an ACK is waiting,
//! when enough bytes are unsynced, or when the stream goes quiet for
//! [`SYNC_DELAY`]. While one fsync runs, the dump thread keeps queueing, so
//! one fsync covers every transaction that arrived meanwhile.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::debug;

use super::budget::ByteBudget;
use super::datadir::DataDir;
use super::fs::BinlogFile;
use super::index::BinlogIndex;
use super::watermark::{DurablePosition, Watermark};
use super::StorageError;
use crate::binlog::BinlogFileName;
use crate::status::Counters;

/// Unsynced bytes after which the writer fsyncs even without an ACK waiting.
pub const SYNC_BYTES: u64 = 8 << 20;
/// How long the writer waits for more data before syncing a quiet stream:
/// long against the gaps between batches while catching up, short against
/// what a downstream replica waits for (it only sees fsync'd bytes).
pub const SYNC_DELAY: Duration = Duration::from_micros(250);

/// A semi-sync acknowledgement to send once its position is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRequest {
    /// The upstream connection the request belongs to (ACKs of an older connection are dropped).
    pub connection: u64,
    /// The primary's file name.
    pub file: BinlogFileName,
    /// End position of the flagged event.
    pub position: u64,
    /// When the flagged event arrived in the dump thread (for the ACK latency).
    pub arrived: Instant,
}

/// Sends one semi-sync ACK to the primary (built by the upstream layer over
/// the dump connection's write half); an error drops the sink.
pub type AckSink = Box<dyn FnMut(&AckRequest) -> std::io::Result<()> + Send>;

/// What the dump thread sends to the writer.
pub enum WriterMsg {
    /// ACKs of `connection` go to `sink` from now on (`None`: the connection ended).
    AckSink {
        /// The upstream connection.
        connection: u64,
        /// Where its ACKs go.
        sink: Option<AckSink>,
    },
    /// Make `file` the file being written; `create` when it is new.
    Open {
        /// The file.
        file: BinlogFileName,
        /// Create it (with the magic) rather than reopen it.
        create: bool,
    },
    /// Whole events, in order, to append to the current file.
    Append {
        /// The buffer holding the event bytes.
        bytes: Vec<u8>,
        /// Where the event bytes start in `bytes` (a moved packet buffer
        /// still holds the packet's status byte and semi-sync header).
        skip: usize,
        /// File offset after these bytes (checked against the file length).
        end: u64,
        /// An ACK to release once `end` is durable.
        ack: Option<AckRequest>,
    },
}

impl std::fmt::Debug for WriterMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriterMsg::AckSink { connection, sink } => {
                write!(f, "AckSink {{ connection: {connection}, sink: {} }}", sink.is_some())
            }
            WriterMsg::Open { file, create } => {
                write!(f, "Open {{ file: {file}, create: {create} }}")
            }
            WriterMsg::Append { bytes, end, ack, .. } => {
                write!(f, "Append {{ len: {}, end: {end}, ack: {ack:?} }}", bytes.len())
            }
        }
    }
}

/// The writer thread's state.
pub struct Writer {
    dir: DataDir,
    index: BinlogIndex,
    current: Option<(BinlogFileName, Box<dyn BinlogFile>, u64)>,
    synced: u64,
    pending_acks: Vec<AckRequest>,
    rx: Receiver<WriterMsg>,
    ack_sink: Option<(u64, AckSink)>,
    watermark: Watermark,
    budget: ByteBudget,
    counters: Arc<Counters>,
}

impl Writer {
    /// A writer over `dir`, whose files `index` lists (shared with purges).
    pub fn new(
        dir: DataDir,
        index: BinlogIndex,
        rx: Receiver<WriterMsg>,
        watermark: Watermark,
        budget: ByteBudget,
        counters: Arc<Counters>,
    ) -> Self {
        Writer {
            dir,
            index,
            current: None,
            synced: 0,
            pending_acks: Vec::new(),
            rx,
            ack_sink: None,
            watermark,
            budget,
            counters,
        }
    }

    /// Runs until every sender is dropped; returns the first storage error.
    pub fn run(mut self) -> Result<(), StorageError> {
        loop {
            let dirty = self.unsynced() > 0;
            let first = if dirty {
                match self.rx.recv_timeout(SYNC_DELAY) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match self.rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                }
            };
            let Some(first) = first else {
                self.sync()?;
                continue;
            };
            self.handle(first)?;
            // Take everything that queued up (e.g. during the last fsync) so
            // that one fsync covers all of it.
            while self.unsynced() < SYNC_BYTES {
                match self.rx.try_recv() {
                    Ok(m) => self.handle(m)?,
                    Err(_) => break,
                }
            }
            if !self.pending_acks.is_empty() || self.unsynced() >= SYNC_BYTES {
                self.sync()?;
            }
        }
        self.sync()
    }

    fn unsynced(&self) -> u64 {
        self.current.as_ref().map_or(0, |(_, _, len)| len - self.synced)
    }

    fn handle(&mut self, msg: WriterMsg) -> Result<(), StorageError> {
        match msg {
            WriterMsg::AckSink { connection, sink } => {
                self.ack_sink = sink.map(|s| (connection, s));
                Ok(())
            }
            WriterMsg::Open { file, create } => self.open(file, create),
            WriterMsg::Append { bytes, skip, end, ack } => {
                let result = self.append(bytes.get(skip..).unwrap_or_default(), end, ack);
                self.budget.release(bytes.len() as u64);
                result
            }
        }
    }

    fn open(&mut self, file: BinlogFileName, create: bool) -> Result<(), StorageError> {
        self.sync()?;
        let handle =
            if create { self.dir.create_binlog(&file)? } else { self.dir.open_binlog(&file)? };
        let path = self.dir.file_path(&file);
        let len = handle.size().map_err(StorageError::io("stat", &path))?;
        if create {
            self.index.add(file.clone())?;
        }
        self.synced = len;
        self.watermark.publish(DurablePosition { file: file.clone(), offset: len });
        self.current = Some((file, handle, len));
        Ok(())
    }

    fn append(
        &mut self,
        bytes: &[u8],
        end: u64,
        ack: Option<AckRequest>,
    ) -> Result<(), StorageError> {
        let Some((name, file, len)) = self.current.as_mut() else {
            return Err(StorageError::Layout {
                path: self.dir.path().to_owned(),
                reason: "append before any file was opened".into(),
            });
        };
        if *len + bytes.len() as u64 != end {
            return Err(StorageError::Layout {
                path: self.dir.file_path(name),
                reason: format!("append of {} bytes at {} does not end at {end}", bytes.len(), len),
            });
        }
        file.write_all(bytes).map_err(StorageError::io("append to", self.dir.file_path(name)))?;
        *len = end;
        self.pending_acks.extend(ack);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let Some((name, file, len)) = self.current.as_mut() else { return Ok(()) };
        if *len == self.synced && self.pending_acks.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        file.sync_data().map_err(StorageError::io("fsync", self.dir.file_path(name)))?;
        let took = started.elapsed();
        self.counters.fsync.observe(took);
        debug!("fsync file={} bytes={} took_us={}", name, *len - self.synced, took.as_micros());
        let (name, len) = (name.clone(), *len);
        self.synced = len;
        self.watermark.publish(DurablePosition { file: name, offset: len });
        self.release_acks();
        Ok(())
    }

    /// Sends the ACK for the newest position the last fsync covered: the
    /// primary releases every transaction waiting at or before it. ACKs of
    /// an older connection are dropped (that primary no longer waits).
    fn release_acks(&mut self) {
        let Some((connection, sink)) = self.ack_sink.as_mut() else {
            self.pending_acks.clear();
            return;
        };
        let newest = self.pending_acks.drain(..).rev().find(|a| a.connection == *connection);
        if let Some(ack) = newest {
            match sink(&ack) {
                Ok(()) => {
                    self.counters.acks_sent.fetch_add(1, Ordering::Relaxed);
                    self.counters.ack_latency.observe(ack.arrived.elapsed());
                }
                Err(e) => {
                    debug!("semi-sync ack not sent, connection closing: {e}");
                    self.ack_sink = None;
                }
            }
        }
    }
}
