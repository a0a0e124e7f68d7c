//! The writer thread: appends events, fsyncs in groups and publishes the
//! durable end.
//!
//! Group fsync: the loop blocks for one message, drains what else is
//! queued (up to [`SYNC_BYTES`]), writes it all, calls `fdatasync` once and
//! publishes the new durable end ([`Watermark`]). While one fsync runs, the
//! dump thread keeps queueing, so the next fsync covers every transaction
//! that arrived meanwhile: a quiet stream is durable one fsync after it
//! arrives, a busy one in batches as large as an fsync lets build up.
//!
//! The writer never touches a socket. Semi-sync ACKs leave from the ACK
//! thread, which waits on the published durable end
//! ([`super::ack_queue::AckQueue`]); a primary that stops reading them
//! cannot hold up an fsync or a publish.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use log::debug;

use super::budget::ByteBudget;
use super::datadir::DataDir;
use super::fs::BinlogFile;
use super::index::BinlogIndex;
use super::watermark::{DurablePosition, Watermark};
use super::StorageError;
use crate::binlog::BinlogFileName;
use crate::status::Counters;

/// Unsynced bytes after which the writer stops draining the queue and
/// fsyncs (bounds the bytes one fsync waits for while catching up).
pub const SYNC_BYTES: u64 = 8 << 20;

/// What the dump thread sends to the writer.
pub enum WriterMsg {
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
    },
}

impl std::fmt::Debug for WriterMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriterMsg::Open { file, create } => {
                write!(f, "Open {{ file: {file}, create: {create} }}")
            }
            WriterMsg::Append { bytes, skip, end } => {
                write!(f, "Append {{ len: {}, end: {end} }}", bytes.len() - skip.min(&bytes.len()))
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
    rx: Receiver<WriterMsg>,
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
        Writer { dir, index, current: None, synced: 0, rx, watermark, budget, counters }
    }

    /// Runs until every sender is dropped; returns the first storage error.
    pub fn run(mut self) -> Result<(), StorageError> {
        while let Ok(first) = self.rx.recv() {
            self.handle(first)?;
            // Take everything that queued up (e.g. during the last fsync) so
            // that one fsync covers all of it.
            while self.unsynced() < SYNC_BYTES {
                match self.rx.try_recv() {
                    Ok(m) => self.handle(m)?,
                    Err(_) => break,
                }
            }
            self.sync()?;
        }
        self.sync()
    }

    fn unsynced(&self) -> u64 {
        self.current.as_ref().map_or(0, |(_, _, len)| len - self.synced)
    }

    fn handle(&mut self, msg: WriterMsg) -> Result<(), StorageError> {
        match msg {
            WriterMsg::Open { file, create } => self.open(file, create),
            WriterMsg::Append { bytes, skip, end } => {
                let result = self.append(bytes.get(skip..).unwrap_or_default(), end);
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

    fn append(&mut self, bytes: &[u8], end: u64) -> Result<(), StorageError> {
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
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let Some((name, file, len)) = self.current.as_mut() else { return Ok(()) };
        if *len == self.synced {
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
        Ok(())
    }
}
