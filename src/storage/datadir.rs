//! The data directory: its lock, the binlog files in it, and the index file.
//!
//! The files themselves are the truth: the index `<basename>.index` is
//! derived from the directory listing and rewritten atomically when they
//! disagree (a crash between creating a file and rewriting the index).

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use log::{info, warn};

use super::fs::{BinlogFile, BinlogStore, StdStore};
use super::StorageError;
use crate::binlog::BinlogFileName;

/// Name of the lock file that keeps a second binlogserver out.
pub const LOCK_FILE: &str = "binlogserver.lock";

/// An opened, locked data directory.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    store: Arc<dyn BinlogStore>,
    _lock: File,
}

impl DataDir {
    /// Opens and locks `path`, which must exist and be writable.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_with(path, Arc::new(StdStore))
    }

    /// As [`DataDir::open`], with the writer's file access going through `store`.
    pub fn open_with(path: &Path, store: Arc<dyn BinlogStore>) -> Result<Self, StorageError> {
        let meta = fs::metadata(path).map_err(|e| StorageError::Layout {
            path: path.to_owned(),
            reason: match e.kind() {
                ErrorKind::NotFound => format!(
                    "data directory does not exist ({e}); create it or pass another --data-dir"
                ),
                _ => format!("cannot access data directory: {e}"),
            },
        })?;
        if !meta.is_dir() {
            return Err(StorageError::Layout {
                path: path.to_owned(),
                reason: "not a directory".into(),
            });
        }
        let lock_path = path.join(LOCK_FILE);
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(
                |e| StorageError::Layout {
                    path: path.to_owned(),
                    reason: format!("data directory is not writable ({e})"),
                },
            )?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StorageError::Layout {
                    path: path.to_owned(),
                    reason: "another binlogserver is using this data directory".into(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StorageError::io("lock", lock_path)(e))
            }
        }
        Ok(DataDir { path: path.to_owned(), store, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Full path of a binlog file.
    pub fn file_path(&self, name: &BinlogFileName) -> PathBuf {
        self.path.join(name.as_str())
    }

    /// Path of the index file for `basename`.
    pub fn index_path(&self, basename: &str) -> PathBuf {
        self.path.join(format!("{basename}.index"))
    }

    /// The binlog files present, oldest first, reconciled with the index.
    pub fn binlog_files(&self) -> Result<Vec<BinlogFileName>, StorageError> {
        let mut files = Vec::new();
        let entries =
            fs::read_dir(&self.path).map_err(StorageError::io("read directory", &self.path))?;
        for entry in entries {
            let entry = entry.map_err(StorageError::io("read directory", &self.path))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(file) = BinlogFileName::new(name) else { continue };
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                files.push(file);
            }
        }
        files.sort_by_key(BinlogFileName::sequence);
        if let Some(first) = files.first() {
            if let Some(other) = files.iter().find(|f| f.basename() != first.basename()) {
                return Err(StorageError::Layout {
                    path: self.path.clone(),
                    reason: format!(
                        "holds binlogs of two servers ({} and {}); one data directory per primary",
                        first.as_str(),
                        other.as_str()
                    ),
                });
            }
            self.reconcile_index(&files, first.basename())?;
        }
        Ok(files)
    }

    fn reconcile_index(
        &self,
        files: &[BinlogFileName],
        basename: &str,
    ) -> Result<(), StorageError> {
        let index = self.index_path(basename);
        let listed = match fs::read_to_string(&index) {
            Ok(text) => {
                text.lines().map(|l| l.trim_start_matches("./").to_owned()).collect::<Vec<_>>()
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StorageError::io("read", &index)(e)),
        };
        if let Some(missing) =
            listed.iter().find(|l| !files.iter().any(|f| f.as_str() == l.as_str()))
        {
            return Err(StorageError::Layout {
                path: index,
                reason: format!(
                    "lists {missing}, which is missing; restore the file or remove its line"
                ),
            });
        }
        if listed.len() != files.len() {
            warn!(
                "index does not list every binlog file, rewriting it index={} files={}",
                index.display(),
                files.len()
            );
            self.write_index(files)?;
        }
        Ok(())
    }

    /// Rewrites the index atomically: temp file, fsync, rename, directory fsync.
    pub fn write_index(&self, files: &[BinlogFileName]) -> Result<(), StorageError> {
        write_index(&*self.store, &self.path, files)
    }

    /// Fsyncs the directory, making creations and renames in it durable.
    pub fn sync_dir(&self) -> Result<(), StorageError> {
        self.store.sync_dir(&self.path).map_err(StorageError::io("fsync directory", &self.path))
    }

    /// Creates a new binlog file holding just the magic, durable with its
    /// directory entry. On failure the new file is removed again (best
    /// effort: recovery copes with a file that holds less than the magic).
    pub fn create_binlog(
        &self,
        name: &BinlogFileName,
    ) -> Result<Box<dyn BinlogFile>, StorageError> {
        let path = self.file_path(name);
        let mut f = self.store.create_new(&path).map_err(StorageError::io("create", &path))?;
        let made = f
            .write_all(&crate::binlog::BINLOG_MAGIC)
            .map_err(StorageError::io("write", &path))
            .and_then(|()| f.sync_all().map_err(StorageError::io("fsync", &path)))
            .and_then(|()| self.sync_dir());
        if let Err(e) = made {
            drop(f);
            if self.store.remove_file(&path).is_ok() {
                let _ = self.store.sync_dir(&self.path);
            }
            return Err(e);
        }
        info!("new binlog file file={}", name);
        Ok(f)
    }

    /// The file access every change to the directory goes through.
    pub fn store(&self) -> Arc<dyn BinlogStore> {
        Arc::clone(&self.store)
    }

    /// Opens an existing binlog for appending.
    pub fn open_binlog(&self, name: &BinlogFileName) -> Result<Box<dyn BinlogFile>, StorageError> {
        let path = self.file_path(name);
        self.store.open_append(&path).map_err(StorageError::io("open", &path))
    }
}

/// Writes `<basename>.index` in `dir` listing `files` atomically: temp
/// file, fsync, rename, directory fsync. Nothing to do for no files.
pub fn write_index(
    store: &dyn BinlogStore,
    dir: &Path,
    files: &[BinlogFileName],
) -> Result<(), StorageError> {
    let Some(first) = files.first() else { return Ok(()) };
    let mut text = String::with_capacity(files.len() * 24);
    for f in files {
        text.push_str("./");
        text.push_str(f.as_str());
        text.push('\n');
    }
    replace_file(store, dir, &format!("{}.index", first.basename()), &text)
}

/// Replaces `dir/name` with `text` atomically (temp file, fsync, rename,
/// directory fsync); a failed write removes its partial temp file.
pub fn replace_file(
    store: &dyn BinlogStore,
    dir: &Path,
    name: &str,
    text: &str,
) -> Result<(), StorageError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    if let Err(e) = store.write_synced(&tmp, text.as_bytes()) {
        // A full disk leaves a partial temp file: not worth keeping.
        let _ = store.remove_file(&tmp);
        return Err(StorageError::io("write", &tmp)(e));
    }
    store.rename(&tmp, &path).map_err(StorageError::io("rename", &path))?;
    sync_dir(store, dir)
}

/// Fsyncs `dir`, making creations, renames and removals in it durable.
pub fn sync_dir(store: &dyn BinlogStore, dir: &Path) -> Result<(), StorageError> {
    store.sync_dir(dir).map_err(StorageError::io("fsync directory", dir))
}
