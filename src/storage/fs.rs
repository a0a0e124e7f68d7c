//! `BinlogStore`: the file system calls the writer and the data directory
//! make, behind one small trait.
//!
//! The real implementation, [`StdStore`], is a thin wrapper over `std::fs`.
//! Tests put a double behind the same trait that tracks which bytes are
//! durable (written and fsync'd) and which are merely written, and injects
//! faults (a full disk, a failed fsync, a short write), so that "no ACK and
//! no byte sent downstream past the durable end" can be checked at every
//! step instead of hoped for.
//!
//! Only the writing side goes through here: readers and recovery open
//! files themselves and never change what the writer relies on.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// One binlog file open for appending.
pub trait BinlogFile: Send + Debug {
    /// Appends all of `bytes` (an error may leave a prefix written).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// `fdatasync`: the appended bytes survive a crash once this returns.
    fn sync_data(&mut self) -> io::Result<()>;
    /// `fsync`: data and metadata.
    fn sync_all(&mut self) -> io::Result<()>;
    /// The file's length on disk.
    fn size(&self) -> io::Result<u64>;
}

/// The file system calls of the writer side of a data directory.
pub trait BinlogStore: Send + Sync + Debug {
    /// Creates `path`, which must not exist, for appending.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn BinlogFile>>;
    /// Opens the existing `path` for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn BinlogFile>>;
    /// Creates or truncates `path`, writes `bytes` and fsyncs it.
    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Renames `from` over `to` (atomic within one directory).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Fsyncs the directory `dir`: creations, renames and removals in it
    /// survive a crash once this returns.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdStore;

/// A `std::fs::File` opened for appending.
#[derive(Debug)]
pub struct StdFile(File);

impl BinlogFile for StdFile {
    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    #[inline]
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.0.sync_all()
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl BinlogStore for StdStore {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn BinlogFile>> {
        let f = OpenOptions::new().create_new(true).append(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn BinlogFile>> {
        Ok(Box::new(StdFile(OpenOptions::new().append(true).open(path)?)))
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
