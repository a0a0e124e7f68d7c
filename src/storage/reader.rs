//! `BinlogReader`: reads stored binlog files event by event for downstream
//! sessions, never past the durable end.
//!
//! Each session has its own reader with its own file handle; the writer is
//! never blocked by readers, and readers see only bytes the writer has
//! fsync'd (the limit passed to [`BinlogReader::next_event`]). A reader
//! opens only a regular file starting with the binlog magic, never through
//! a symbolic link ([`super::listing::open_binlog`]).
//!
//! A file whose local copy was removed after archiving is read from the
//! object store ([`super::archive`]): ranged reads, and every event's CRC32
//! checked (when the file has checksums), so that a damaged object is an
//! error, never served as good.

use std::fmt;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use log::warn;

use super::archive::{self, ReadSeek};
use super::StorageError;
use crate::binlog::checksum::{verify_event, ChecksumAlg};
use crate::binlog::format_description::FormatDescription;
use crate::binlog::scan::MAX_EVENT_LEN;
use crate::binlog::{BinlogFileName, EventHeader};
use crate::protocol::DecodeError;

/// Sequential reader of one stored binlog file.
pub struct BinlogReader {
    path: PathBuf,
    file: BinlogFileName,
    src: BufReader<Box<dyn ReadSeek>>,
    pos: u64,
    /// Archived files: the checksum every event is checked with.
    verify: Option<ChecksumAlg>,
    /// Read from the archive.
    archived: bool,
}

impl fmt::Debug for BinlogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinlogReader")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

impl BinlogReader {
    /// Opens `file` in `dir` positioned at `pos` (an event boundary); a
    /// file only in the archive is read from the object store.
    pub fn open(dir: &Path, file: &BinlogFileName, pos: u64) -> Result<Self, StorageError> {
        let path = dir.join(file.as_str());
        let src: Box<dyn ReadSeek> = match super::listing::open_binlog(&path) {
            Ok(f) => Box::new(f),
            Err(e) if is_not_found(&e) => return Self::open_archived(dir, file, pos, e),
            Err(e) => return Err(e),
        };
        let mut reader = BinlogReader {
            path,
            file: file.clone(),
            src: BufReader::with_capacity(64 << 10, src),
            pos: 0,
            verify: None,
            archived: false,
        };
        reader.seek(pos)?;
        Ok(reader)
    }

    /// `file` from the archive: its format description first, for the
    /// checksum every event is then checked with.
    fn open_archived(
        dir: &Path,
        file: &BinlogFileName,
        pos: u64,
        local: StorageError,
    ) -> Result<Self, StorageError> {
        let src = match archive::of(dir) {
            Some(a) if a.entry(file).is_some() => a.open_file(file)?,
            Some(_) => return Err(local),
            None if archive::entries_of(dir)?.iter().any(|e| &e.name == file) => {
                return Err(StorageError::Archive {
                    file: file.to_string(),
                    reason: "archived, and binlogserver runs without --archive-url".into(),
                })
            }
            None => return Err(local),
        };
        let path = dir.join(file.as_str());
        let src = BufReader::with_capacity(256 << 10, src);
        let mut reader =
            BinlogReader { path, file: file.clone(), src, pos: 0, verify: None, archived: true };
        reader.seek(4)?;
        let mut fd = Vec::new();
        if reader.next_event(u64::MAX, &mut fd)? {
            let alg = FormatDescription::decode_event(&fd).map_err(|c| reader.corrupt(c))?;
            reader.verify = Some(alg.checksum_alg);
            verify_event(&fd, alg.checksum_alg).map_err(|c| reader.corrupt(c))?;
        }
        reader.seek(pos)?;
        Ok(reader)
    }

    fn seek(&mut self, pos: u64) -> Result<(), StorageError> {
        self.src.seek(SeekFrom::Start(pos)).map_err(StorageError::io("seek", &self.path))?;
        self.pos = pos;
        Ok(())
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
    /// `Ok(false)` when the reader is at `limit`. A failure to read an
    /// archived file is logged and counted in the archive's figures.
    pub fn next_event(&mut self, limit: u64, buf: &mut Vec<u8>) -> Result<bool, StorageError> {
        let read = self.read_event(limit, buf);
        match read {
            Err(e) if self.archived => Err(self.archive_failure(e)),
            other => other,
        }
    }

    /// An archived file's read failure: the store's words for a failed
    /// read, logged, counted.
    fn archive_failure(&self, e: StorageError) -> StorageError {
        let e = match e {
            StorageError::Io { source, .. } => {
                StorageError::Archive { file: self.file.to_string(), reason: source.to_string() }
            }
            StorageError::Corrupt { offset, cause, .. } => StorageError::Archive {
                file: self.file.to_string(),
                reason: format!(
                    "the archived copy is not a valid binlog at offset {offset}: {cause}"
                ),
            },
            other => other,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if let Some(a) = archive::of(dir) {
            archive::ArchiveStats::add(&a.stats.errors, 1);
        }
        warn!("cannot read archived binlog file={} offset={} error=\"{e}\"", self.file, self.pos);
        e
    }

    fn read_event(&mut self, limit: u64, buf: &mut Vec<u8>) -> Result<bool, StorageError> {
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
        if let Some(alg) = self.verify {
            verify_event(buf, alg).map_err(|cause| self.corrupt(cause))?;
        }
        self.pos += len;
        Ok(true)
    }

    fn corrupt(&self, cause: DecodeError) -> StorageError {
        StorageError::Corrupt { path: self.path.clone(), offset: self.pos, cause }
    }
}

fn is_not_found(e: &StorageError) -> bool {
    matches!(e, StorageError::Io { source, .. } if source.kind() == ErrorKind::NotFound)
}

/// The binlog files in `dir`, oldest first, archived ones included
/// (read-only: no index repair); entries that are not binlogs are left out
/// with a warning ([`super::listing::lenient`]).
pub fn list_files(dir: &Path) -> Result<Vec<BinlogFileName>, StorageError> {
    super::listing::lenient(dir)
}

/// Size of a stored file (a regular file: a symbolic link is refused), or
/// of its archived copy when the local one is gone.
pub fn file_size(dir: &Path, file: &BinlogFileName) -> Result<u64, StorageError> {
    match super::listing::regular_size(&dir.join(file.as_str())) {
        Err(e) if is_not_found(&e) => {
            let archived = archive::entries_of(dir)?.into_iter().find(|a| &a.name == file);
            archived.map(|a| a.size).ok_or(e)
        }
        other => other,
    }
}
