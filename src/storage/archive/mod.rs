//! The archive tier: closed binlog files copied to an object store
//! (`--archive-url`), verified, and then, past `--archive-keep-local`,
//! removed from local disk, while every reader still sees one sequence.
//!
//! * [`record`]: `binlogserver.archive`, the files verified in the store.
//! * [`uploader`]: the `archive` thread that uploads closed files, checks
//!   them and records them, then trims local copies ([`trim`]).
//! * [`Archive`]: what the rest of storage asks of the tier: which files
//!   are archived, a reader of an archived file, forgetting purged files.
//! * [`ObjectStore`]: the store as storage needs it; [`s3`] implements it
//!   with the S3 client of [`crate::objstore`].
//!
//! The writer never waits for the archive: the uploader reads closed files
//! (complete and fsync'd before the index names a newer one) on its own
//! thread, and a slow or absent store only lengthens its queue
//! ([`ArchiveStats`], shown in `SHOW STATUS` and the metrics).
//!
//! A data directory has at most one archive. [`attach`] registers it under
//! the directory's path, so that the readers, which are given that path
//! ([`crate::storage::reader`]), find archived files without each caller
//! carrying the archive along.

pub mod record;
pub mod s3;

pub mod trim;
pub mod uploader;

#[cfg(test)]
pub(crate) mod dir_store;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use log::{info, warn};

use self::record::{Entry, Record};
use super::fs::BinlogStore;
use super::StorageError;
use crate::binlog::BinlogFileName;

/// Where closed binlogs are archived (`--archive-*`).
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// The bucket, prefix, endpoint and keys.
    pub s3: crate::objstore::S3Config,
    /// `--archive-keep-local`: bytes of local files to keep; `None` keeps all.
    pub keep_local: Option<u64>,
}

/// A readable, seekable archived object.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Why an object store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    /// The object is not there.
    pub not_found: bool,
    /// What failed, naming the operation, the object and the store.
    pub message: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// The object store as the archive uses it; keys are binlog file names.
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Where the objects are (`s3://BUCKET/PREFIX`), as the record names it.
    fn location(&self) -> String;
    /// Stores `src` as `key` (multipart when large; an incomplete upload is
    /// aborted on failure) with the SHA-256 as metadata; returns its size.
    fn upload(&self, key: &str, src: &mut dyn Read, sha256: &str) -> Result<u64, StoreError>;
    /// The size of `key`, `None` if absent.
    fn size(&self, key: &str) -> Result<Option<u64>, StoreError>;
    /// A reader of `key`, which holds `size` bytes.
    fn open(&self, key: &str, size: u64) -> Result<Box<dyn ReadSeek>, StoreError>;
    /// Removes `key` (absent is fine).
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Aborts every incomplete multipart upload (a crash's leftovers);
    /// returns how many.
    fn abort_incomplete(&self) -> Result<usize, StoreError>;
}

/// The upload queue and its history, for `SHOW STATUS` and the metrics.
#[derive(Debug, Default)]
pub struct ArchiveStats {
    /// Closed files not yet verified in the store.
    pub queue_files: AtomicU64,
    /// Their bytes.
    pub queue_bytes: AtomicU64,
    /// Files uploaded and verified since start.
    pub uploaded_files: AtomicU64,
    /// Their bytes.
    pub uploaded_bytes: AtomicU64,
    /// Failed uploads, checks, reads and deletions since start.
    pub errors: AtomicU64,
    /// Local copies removed after their archived copy was verified.
    pub trimmed_files: AtomicU64,
    /// Archived files opened for reading from the store.
    pub reads: AtomicU64,
}

impl ArchiveStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The archive of one data directory.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    fs: Arc<dyn BinlogStore>,
    store: Arc<dyn ObjectStore>,
    record: Mutex<Record>,
    /// Queue and counters.
    pub stats: ArchiveStats,
}

impl Archive {
    /// The archive of `dir` in `store`: reads the record, which must name
    /// the same store (a changed `--archive-url` would read files from the
    /// wrong place).
    ///
    /// # Errors
    /// An unreadable record, or one that names another store.
    pub fn open(
        dir: &Path,
        fs: Arc<dyn BinlogStore>,
        store: Arc<dyn ObjectStore>,
    ) -> Result<Archive, StorageError> {
        let location = store.location();
        let record = match record::load(dir)? {
            Some(r) if r.store != location => {
                return Err(StorageError::Layout {
                    path: record::path_in(dir),
                    reason: format!(
                        "records {} file(s) archived in {}, but --archive-url names {location}: \
                         use the archive the files are in",
                        r.entries.len(),
                        r.store
                    ),
                })
            }
            Some(r) => r,
            None => Record { store: location, ..Record::default() },
        };
        let archive = Archive {
            dir: dir.to_owned(),
            fs,
            store,
            record: Mutex::new(record),
            stats: ArchiveStats::default(),
        };
        Ok(archive)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the objects are.
    pub fn location(&self) -> String {
        self.store.location()
    }

    pub(crate) fn store(&self) -> &dyn ObjectStore {
        &*self.store
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of `name`, if it is archived.
    pub fn entry(&self, name: &BinlogFileName) -> Option<Entry> {
        self.lock().get(name).cloned()
    }

    /// Every archived file, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// Records `entry` as verified, durably, before anything relies on it.
    pub(crate) fn record_verified(&self, entry: Entry) -> Result<(), StorageError> {
        let mut record = self.lock();
        let mut next = record.clone();
        next.insert(entry);
        record::save(&*self.fs, &self.dir, &next)?;
        *record = next;
        Ok(())
    }

    /// A reader of archived `name` at offset 0.
    ///
    /// # Errors
    /// [`StorageError::Archive`] naming the file and the store's failure
    /// (the object missing, the store unreachable).
    pub fn open_file(&self, name: &BinlogFileName) -> Result<Box<dyn ReadSeek>, StorageError> {
        let entry = self.entry(name).ok_or_else(|| StorageError::Archive {
            file: name.to_string(),
            reason: format!("not archived in {}", self.location()),
        })?;
        ArchiveStats::add(&self.stats.reads, 1);
        self.store.open(name.as_str(), entry.size).map_err(|e| {
            ArchiveStats::add(&self.stats.errors, 1);
            warn!("cannot read archived binlog file={name} error=\"{e}\"");
            StorageError::Archive { file: name.to_string(), reason: e.message }
        })
    }

    /// After a purge committed (the index no longer names `purged`): moves
    /// their entries to the record's deletions, then deletes the objects
    /// ([`Archive::delete_pending`]).
    pub fn forget(&self, purged: &[BinlogFileName]) -> Result<(), StorageError> {
        {
            let mut record = self.lock();
            let mut next = record.clone();
            if next.purge(purged).is_empty() {
                return Ok(());
            }
            record::save(&*self.fs, &self.dir, &next)?;
            *record = next;
        }
        self.delete_pending()
    }

    /// Deletes the objects of purged files; each deletion that succeeded
    /// leaves the record. A failure is logged and counted; the uploader
    /// tries again later.
    pub fn delete_pending(&self) -> Result<(), StorageError> {
        let pending = self.lock().deleting.clone();
        if pending.is_empty() {
            return Ok(());
        }
        let mut deleted = Vec::new();
        for name in pending {
            match self.store.delete(name.as_str()) {
                Ok(()) => {
                    info!("deleted archived binlog file={name} archive={}", self.location());
                    deleted.push(name);
                }
                Err(err) => {
                    ArchiveStats::add(&self.stats.errors, 1);
                    warn!("cannot delete archived binlog file={name} error=\"{err}\"");
                    break;
                }
            }
        }
        let mut record = self.lock();
        let mut next = record.clone();
        next.deleting.retain(|n| !deleted.contains(n));
        record::save(&*self.fs, &self.dir, &next)?;
        *record = next;
        Ok(())
    }
}

/// The archives attached to data directories.
static ATTACHED: Mutex<Vec<(PathBuf, Arc<Archive>)>> = Mutex::new(Vec::new());

fn attached() -> MutexGuard<'static, Vec<(PathBuf, Arc<Archive>)>> {
    ATTACHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps an archive attached to its directory; detaches it when dropped.
#[derive(Debug)]
pub struct Attached(Arc<Archive>);

impl Drop for Attached {
    fn drop(&mut self) {
        attached().retain(|(_, a)| !Arc::ptr_eq(a, &self.0));
    }
}

/// Makes `archive` the archive of its data directory for the readers.
pub fn attach(archive: &Arc<Archive>) -> Attached {
    let mut all = attached();
    all.retain(|(dir, _)| dir != archive.dir());
    all.push((archive.dir().to_owned(), Arc::clone(archive)));
    Attached(Arc::clone(archive))
}

/// The archived files of `dir`: the attached archive's, else (running
/// without `--archive-url`) those its record names.
pub fn entries_of(dir: &Path) -> Result<Vec<Entry>, StorageError> {
    match of(dir) {
        Some(a) => Ok(a.entries()),
        None => record::archived_files(dir),
    }
}

/// The archive attached to `dir`, if any.
pub fn of(dir: &Path) -> Option<Arc<Archive>> {
    attached().iter().find(|(d, _)| d == dir).map(|(_, a)| Arc::clone(a))
}
