//! Storage: the only code that writes binlog files.
//!
//! # Durability contract
//!
//! * One writer thread ([`writer::Writer`]) owns the files. It appends whole
//!   events, calls `fdatasync`, and only then publishes the new durable end
//!   ([`watermark::Watermark`]). Nothing outside sees unsynced bytes.
//! * A semi-sync ACK is released only by a published durable end that
//!   covers its position ([`ack_queue::AckQueue`]); the ACK sender that
//!   waits for it is another thread, so the writer never waits on a socket.
//! * A new binlog file is created with its 4-byte magic, fsync'd, the data
//!   directory is fsync'd, and only then is the index rewritten (atomically:
//!   temp file, fsync, rename, directory fsync).
//! * The first failed write or fsync ends the writer with a
//!   [`StorageError`]; nothing is retried (a failed fsync may have dropped
//!   dirty pages). Recovery at the next start repairs the tail.
//!
//! # Crash cases
//!
//! A crash during ...: what is on disk; what recovery does.
//!
//! * **An append**: a torn last event or transaction; recovery cuts back to
//!   the last complete transaction.
//! * **An fsync**: some unsynced tail, possibly torn; as above, and nothing
//!   past the tail was ACKed.
//! * **A rotation, before the new file exists**: the old file ends with
//!   ROTATE; recovery resumes at the old file's end, and the primary
//!   re-sends the rotation.
//! * **A rotation, new file created, index not rewritten**: the file is on
//!   disk but not in the index; the directory listing wins, and the index
//!   is rewritten.
//! * **The index rewrite**: the old index or the new one (rename is
//!   atomic); as above.
//! * **A purge, before its index rewrite**: `<basename>.~rec~` names files
//!   the index still lists; recovery keeps them and removes the `~rec~`
//!   ([`index`]).
//! * **A purge, after its index rewrite**: purged files left on disk, named
//!   in `~rec~`; recovery removes them, then the `~rec~`.
//! * **A rewrite of the stored upstream** ([`upstream_file`]): the old file
//!   or the new one (rename is atomic), and perhaps a stale
//!   `binlogserver.upstream.tmp`, replaced at the next rewrite.
//!
//! A full disk or a failed fsync ends the writer the same way: nothing
//! after it is ACKed or published, the process exits, and the next start
//! treats the files like those of a crash (a torn tail, a new file holding
//! less than its magic, an index that does not name the newest file).
//!
//! Only regular files named `<basename>.NNNNNN` that start with the binlog
//! magic are binlogs ([`listing`]): a symbolic link or another entry named
//! like one stops the start with an error naming it, and while running is
//! never listed, served, scanned or purged.
//!
//! The writer and [`datadir::DataDir`] reach the file system only through
//! [`fs::BinlogStore`], so tests can put a double behind it that tracks
//! which bytes are durable and injects faults (`writer_tests.rs`).

pub mod ack_queue;
pub mod archive;
pub mod budget;
pub mod datadir;
pub mod fs;
pub mod gtid_scan;
pub mod index;
pub mod listing;
pub mod purge;
pub mod reader;
pub mod recovery;
pub mod retention;
pub mod selection;
pub mod upstream_file;
pub mod watermark;
pub mod writer;

#[cfg(test)]
mod fs_double;
#[cfg(test)]
mod writer_tests;

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::protocol::DecodeError;

/// A storage failure. Always fatal for the writer.
#[derive(Debug)]
pub enum StorageError {
    /// A file system call failed.
    Io {
        /// The operation ("fsync", "append", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Stored data is not a valid binlog where it must be.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What was wrong.
        cause: DecodeError,
    },
    /// The data directory cannot be used as it is.
    Layout {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong, for the operator.
        reason: String,
    },
    /// An earlier write or fsync failed; the writer refuses further work.
    Poisoned,
    /// An archived file cannot be read from the object store.
    Archive {
        /// The binlog file.
        file: String,
        /// Why, naming the store.
        reason: String,
    },
}

impl StorageError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.into();
        move |source| StorageError::Io { op, path, source }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { op, path, .. } => write!(f, "{op} {} failed", path.display()),
            StorageError::Corrupt { path, offset, .. } => {
                write!(f, "{} is not a valid binlog at offset {offset}", path.display())
            }
            StorageError::Layout { path, reason } => write!(f, "{}: {reason}", path.display()),
            StorageError::Poisoned => {
                write!(f, "storage stopped after an earlier write error; restart to recover")
            }
            StorageError::Archive { file, reason } => {
                write!(f, "cannot read archived binlog {file}: {reason}")
            }
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            StorageError::Corrupt { cause, .. } => Some(cause),
            _ => None,
        }
    }
}
