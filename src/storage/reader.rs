//! `BinlogReader`: reads stored binlog files event by event for downstream
//! sessions, never past the durable end.
//!
//! Each session has its own reader with its own file handle; the writer is
//! never blocked by readers, and readers see only bytes the writer has
//! fsync'd (the limit passed to [`BinlogReader::next_event`]). A reader
//! opens only a regular file starting with the binlog magic, never through
//! a symbolic link ([`super::listing::open_binlog`]).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::StorageError;
use crate::binlog::scan::MAX_EVENT_LEN;
use crate::binlog::{BinlogFileName, EventHeader};
use crate::protocol::DecodeError;

/// Sequential reader of one stored binlog file.
#[derive(Debug)]
pub struct BinlogReader {
    path: PathBuf,
    file: BinlogFileName,
    src: BufReader<File>,
    pos: u64,
}

impl BinlogReader {
    /// Opens `file` in `dir` positioned at `pos` (an event boundary).
    pub fn open(dir: &Path, file: &BinlogFileName, pos: u64) -> Result<Self, StorageError> {
        let path = dir.join(file.as_str());
        let mut f = super::listing::open_binlog(&path)?;
        f.seek(SeekFrom::Start(pos)).map_err(StorageError::io("seek", &path))?;
        Ok(BinlogReader {
            path,
            file: file.clone(),
            src: BufReader::with_capacity(64 << 10, f),
            pos,
        })
    }

    /// The file.
    pub fn file(&self) -> &BinlogFileName {
        &self.file
    }

    /// Offset of the next event.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads the next event into `buf` if it ends at or before `limit`;
    /// `Ok(false)` when the reader is at `limit`.
    pub fn next_event(&mut self, limit: u64, buf: &mut Vec<u8>) -> Result<bool, StorageError> {
        if self.pos + EventHeader::LEN as u64 > limit {
            return Ok(false);
        }
        buf.clear();
        buf.resize(EventHeader::LEN, 0);
        self.src.read_exact(buf).map_err(StorageError::io("read", &self.path))?;
        let header = EventHeader::parse(buf).map_err(|cause| self.corrupt(cause))?;
        let len = u64::from(header.event_len);
        if len > u64::from(MAX_EVENT_LEN) {
            return Err(self.corrupt(DecodeError::TooLarge {
                what: "event_len",
                len,
                max: u64::from(MAX_EVENT_LEN),
            }));
        }
        if self.pos + len > limit {
            return Err(self.corrupt(DecodeError::Truncated {
                what: "event beyond the durable end",
                need: usize::try_from(len).unwrap_or(usize::MAX),
                have: usize::try_from(limit - self.pos).unwrap_or(usize::MAX),
            }));
        }
        // `take` + `read_to_end` fills the buffer without zeroing it first.
        let body_len = len - EventHeader::LEN as u64;
        buf.reserve(usize::try_from(body_len).unwrap_or(usize::MAX));
        let got = (&mut self.src)
            .take(body_len)
            .read_to_end(buf)
            .map_err(StorageError::io("read", &self.path))?;
        if got as u64 != body_len {
            return Err(self.corrupt(DecodeError::Truncated {
                what: "event",
                need: usize::try_from(len).unwrap_or(usize::MAX),
                have: EventHeader::LEN + got,
            }));
        }
        self.pos += len;
        Ok(true)
    }

    fn corrupt(&self, cause: DecodeError) -> StorageError {
        StorageError::Corrupt { path: self.path.clone(), offset: self.pos, cause }
    }
}

/// The binlog files in `dir`, oldest first (read-only: no index repair);
/// entries that are not binlogs are left out with a warning
/// ([`super::listing::lenient`]).
pub fn list_files(dir: &Path) -> Result<Vec<BinlogFileName>, StorageError> {
    super::listing::lenient(dir)
}

/// Size of a stored file (a regular file: a symbolic link is refused).
pub fn file_size(dir: &Path, file: &BinlogFileName) -> Result<u64, StorageError> {
    super::listing::regular_size(&dir.join(file.as_str()))
}
