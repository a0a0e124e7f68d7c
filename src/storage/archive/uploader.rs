//! The `archive` thread: uploads each closed binlog file, checks the copy,
//! records it, and trims local copies past `--archive-keep-local`.
//!
//! A file is closed once the index names a newer one (the writer fsyncs a
//! file's last event before it creates the next). Oldest first, each file:
//!
//! 1. its SHA-256 is computed from the local copy;
//! 2. it is uploaded ([`ObjectStore::upload`]: multipart when large, one
//!    part in memory; an interrupted upload is aborted);
//! 3. the object's size is checked, and the object read back whole and its
//!    SHA-256 compared: only then is the copy verified;
//! 4. it is added to the record ([`super::record`], fsync'd);
//! 5. local copies are trimmed ([`super::trim`]).
//!
//! A store error is retried with a growing pause (1 s up to 30 s), logged
//! once per kind of failure (and again when it clears); the queue of files
//! waiting only grows meanwhile, visible in [`super::ArchiveStats`] and
//! logged when it passes [`QUEUE_WARN_FILES`]. Only a local storage error
//! (the record cannot be written, a local copy cannot be removed) ends the
//! thread, and with it the process, as for the writer.
//!
//! At start, incomplete multipart uploads under the prefix (a crash's) are
//! aborted, and deletions of purged files a crash or an absent store left
//! are carried out.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};
use sha2::{Digest, Sha256};

use super::record::Entry;
use super::{Archive, ArchiveStats, StoreError};
use crate::binlog::{BinlogFileName, EventHeader};
use crate::shutdown::Shutdown;
use crate::storage::fs::BinlogStore;
use crate::storage::index::BinlogIndex;
use crate::storage::listing::open_binlog;
use crate::storage::StorageError;

/// Files waiting past which the queue is logged as a warning.
pub const QUEUE_WARN_FILES: u64 = 4;
/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why one file was not archived.
#[derive(Debug)]
enum Failure {
    /// The store (or the copy in it): retried.
    Store(String),
    /// Local storage: fatal.
    Local(StorageError),
    /// Shutdown during the upload.
    Stopped,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e.message)
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Failure::Local(e)
    }
}

/// The `archive` thread's state.
#[derive(Debug)]
pub struct Uploader {
    /// The archive of the data directory.
    pub archive: Arc<Archive>,
    /// The data directory's file system (for trimming).
    pub fs: Arc<dyn BinlogStore>,
    /// The stored files.
    pub index: BinlogIndex,
    /// `--archive-keep-local`: bytes of local files to keep; `None` keeps all.
    pub keep_local: Option<u64>,
    /// Ends the thread.
    pub shutdown: Shutdown,
}

impl Uploader {
    /// Runs until shutdown.
    ///
    /// # Errors
    /// A local storage error (see the module doc).
    pub fn run(self) -> Result<(), StorageError> {
        info!(
            "archive started archive={} keep_local={:?}",
            self.archive.location(),
            self.keep_local
        );
        let mut cleaned = false;
        let mut backoff = Duration::from_secs(1);
        let mut failing: Option<String> = None;
        let mut queue_warned = false;
        while !self.shutdown.is_set() {
            if !cleaned {
                cleaned = self.clean_up();
            }
            self.archive.delete_pending()?;
            let pending = self.pending();
            self.publish_queue(&pending, &mut queue_warned);
            let Some((next, _)) = pending.first() else {
                self.trim()?;
                if self.shutdown.wait(Duration::from_secs(1)) {
                    break;
                }
                continue;
            };
            match self.archive_file(next) {
                Ok(()) => {
                    if let Some(was) = failing.take() {
                        info!(
                            "archive works again archive={} was=\"{was}\"",
                            self.archive.location()
                        );
                    }
                    backoff = Duration::from_secs(1);
                    self.trim()?;
                }
                Err(Failure::Stopped) => break,
                Err(Failure::Local(e)) => return Err(e),
                Err(Failure::Store(why)) => {
                    ArchiveStats::add(&self.archive.stats.errors, 1);
                    if failing.as_deref() != Some(why.as_str()) {
                        warn!(
                            "cannot archive binlog, retrying file={next} retry_secs={} \
                             error=\"{why}\"",
                            backoff.as_secs()
                        );
                        failing = Some(why);
                    }
                    if self.shutdown.wait(backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        info!("archive stopped archive={}", self.archive.location());
        Ok(())
    }

    /// Aborts a crash's incomplete uploads; false when the store is away.
    fn clean_up(&self) -> bool {
        match self.archive.store().abort_incomplete() {
            Ok(0) => true,
            Ok(n) => {
                info!("aborted incomplete uploads count={n} archive={}", self.archive.location());
                true
            }
            Err(e) => {
                warn!("cannot list incomplete uploads, later again error=\"{e}\"");
                false
            }
        }
    }

    /// Closed files not verified in the archive, oldest first, with sizes.
    fn pending(&self) -> Vec<(BinlogFileName, u64)> {
        let files = self.index.files();
        let closed = files.split_last().map_or(&[][..], |(_, closed)| closed);
        let dir = self.archive.dir();
        closed
            .iter()
            .filter(|f| self.archive.entry(f).is_none())
            .map(|f| {
                let size = crate::storage::listing::regular_size(&dir.join(f.as_str()));
                (f.clone(), size.unwrap_or(0))
            })
            .collect()
    }

    fn publish_queue(&self, pending: &[(BinlogFileName, u64)], warned: &mut bool) {
        let stats = &self.archive.stats;
        let bytes: u64 = pending.iter().map(|(_, n)| n).sum();
        let files = pending.len() as u64;
        stats.queue_files.store(files, std::sync::atomic::Ordering::Relaxed);
        stats.queue_bytes.store(bytes, std::sync::atomic::Ordering::Relaxed);
        if files > QUEUE_WARN_FILES && !*warned {
            warn!(
                "archive queue is growing files={files} bytes={bytes} archive={}",
                self.archive.location()
            );
            *warned = true;
        } else if files <= 1 && *warned {
            info!("archive queue drained files={files} bytes={bytes}");
            *warned = false;
        }
    }

    fn trim(&self) -> Result<(), StorageError> {
        if let Some(keep) = self.keep_local {
            super::trim::trim(&self.archive, &*self.fs, &self.index.files(), keep)?;
        }
        Ok(())
    }

    /// Uploads, checks and records one closed file (the module doc's steps).
    fn archive_file(&self, name: &BinlogFileName) -> Result<(), Failure> {
        let started = Instant::now();
        let path = self.archive.dir().join(name.as_str());
        let mut file = open_binlog(&path)?;
        // open_binlog has read the magic.
        file.seek(SeekFrom::Start(0)).map_err(StorageError::io("seek", &path))?;
        let (size, sha256, first_event) =
            digest(&mut file).map_err(|e| StorageError::io("read", &path)(e))?;
        file.seek(SeekFrom::Start(0)).map_err(StorageError::io("seek", &path))?;
        let store = self.archive.store();
        let mut src = Stoppable { inner: file, shutdown: &self.shutdown };
        let sent = match store.upload(name.as_str(), &mut src, &sha256) {
            Err(_) if self.shutdown.is_set() => return Err(Failure::Stopped),
            other => other?,
        };
        let stored = store.size(name.as_str())?;
        if sent != size || stored != Some(size) {
            return Err(Failure::Store(format!(
                "{name}: archived copy has {stored:?} bytes (sent {sent}), local file {size}"
            )));
        }
        let mut back = store.open(name.as_str(), size)?;
        let (read, back_sha, _) = digest(&mut back)
            .map_err(|e| Failure::Store(format!("{name}: reading the archived copy back: {e}")))?;
        if read != size || back_sha != sha256 {
            return Err(Failure::Store(format!(
                "{name}: archived copy differs (read back {read} bytes, sha256 {back_sha}; \
                 local sha256 {sha256})"
            )));
        }
        let entry = Entry { name: name.clone(), size, sha256, first_event };
        self.archive.record_verified(entry)?;
        let stats = &self.archive.stats;
        ArchiveStats::add(&stats.uploaded_files, 1);
        ArchiveStats::add(&stats.uploaded_bytes, size);
        let secs = started.elapsed().as_secs_f64();
        info!(
            "archived binlog file={name} bytes={size} ms={} mb_per_s={:.1} archive={}",
            started.elapsed().as_millis(),
            size as f64 / 1e6 / secs.max(1e-6),
            self.archive.location()
        );
        Ok(())
    }
}

/// Size, SHA-256 (lowercase hex) and first event timestamp of what `src` reads.
fn digest(src: &mut dyn Read) -> io::Result<(u64, String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    let mut head = Vec::new();
    loop {
        let n = src.read(&mut buf)?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else { break };
        if head.len() < 4 + EventHeader::LEN {
            head.extend(chunk.iter().take(4 + EventHeader::LEN - head.len()));
        }
        h.update(chunk);
        size += n as u64;
    }
    let first_event = head
        .get(4..)
        .and_then(|b| EventHeader::parse(b).ok())
        .map_or(0, |hd| u64::from(hd.timestamp));
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, hex, first_event))
}

/// A reader that fails once shutdown is asked for, so that an upload in
/// progress is aborted instead of holding up the stop.
struct Stoppable<'a, R> {
    inner: R,
    shutdown: &'a Shutdown,
}

impl<R: Read> Read for Stoppable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.shutdown.is_set() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "binlogserver is stopping"));
        }
        self.inner.read(buf)
    }
}
