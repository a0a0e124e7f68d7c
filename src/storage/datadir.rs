//! The data directory: its lock, the binlog files in it, and the index file.
//!
//! The files themselves are the truth: the index `<basename>.index` is
//! derived from the directory listing and rewritten atomically when they
//! disagree (a crash between creating a file and rewriting the index). A
//! line names a file by its last path component, so an index a primary
//! wrote with an absolute `log_bin` (`/var/lib/mysql/mysql-bin.000001`)
//! fits the copied files; a line naming a file that is not here is refused.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::fs::{BinlogFile, BinlogStore, StdStore};
use super::index::index_line_name;
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
        lock_exclusively(&lock).map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => StorageError::Layout {
                path: path.to_owned(),
                reason: "another binlogserver is using this data directory".into(),
            },
            std::fs::TryLockError::Error(e) => StorageError::io("lock", lock_path)(e),
        })?;
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
    /// An entry named like a binlog that is not one (a symbolic link, a
    /// file without the magic...) is an error naming it ([`super::listing::strict`]).
    pub fn binlog_files(&self) -> Result<Vec<BinlogFileName>, StorageError> {
        let files = super::listing::strict(&self.path)?;
        if let Some(first) = files.first() {
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
        let text = match fs::read_to_string(&index) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(StorageError::io("read", &index)(e)),
        };
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let mut rewrite = lines.len() != files.len();
        for line in &lines {
            let name = index_line_name(line);
            if !files.iter().any(|f| f.as_str() == name) {
                return Err(StorageError::Layout {
                    path: index,
                    reason: format!(
                        "lists {line}, which is not in the data directory; restore the file or \
                         remove its line"
                    ),
                });
            }
            // A primary with an absolute log_bin writes absolute paths.
            rewrite |= *line != name && line.strip_prefix("./") != Some(name);
        }
        if rewrite {
            warn!(
                "index does not list every binlog file by its name, rewriting it index={} files={}",
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

/// How long a held lock is waited for before it counts as another process's.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Takes the data directory's lock, waiting up to [`LOCK_WAIT`] for a
/// holder that is going away: a binlogserver that is still exiting, or a
/// process forked from the holder that inherited its descriptor until its
/// `exec` (the test harness forks while it holds a data directory).
fn lock_exclusively(lock: &File) -> Result<(), std::fs::TryLockError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match lock.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A directory with two binlog files and `index` as `mysql-bin.index`.
    fn dir_with_index(label: &str, index: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("bls-datadir-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for n in ["mysql-bin.000001", "mysql-bin.000002"] {
            fs::write(d.join(n), b"\xfebin").unwrap();
        }
        fs::write(d.join("mysql-bin.index"), index).unwrap();
        Dir(d)
    }

    #[test]
    fn an_index_of_absolute_paths_is_accepted_and_rewritten_with_names() {
        let d = dir_with_index(
            "absolute",
            "/var/lib/mysql/mysql-bin.000001\n/var/lib/mysql/mysql-bin.000002\n",
        );
        let files = DataDir::open(&d.0).unwrap().binlog_files().unwrap();
        assert_eq!(files.len(), 2);
        let index = fs::read_to_string(d.0.join("mysql-bin.index")).unwrap();
        assert_eq!(index, "./mysql-bin.000001\n./mysql-bin.000002\n");
    }

    /// Recovery of a followed directory goes through here: a link the
    /// index names stops it, naming the link, and changes nothing.
    #[test]
    fn a_symlink_named_like_a_binlog_is_refused_by_name() {
        let d = dir_with_index(
            "symlink",
            "./mysql-bin.000001\n./mysql-bin.000002\n./mysql-bin.000003\n",
        );
        std::os::unix::fs::symlink("/etc/passwd", d.0.join("mysql-bin.000003")).unwrap();
        let err = DataDir::open(&d.0).unwrap().binlog_files().unwrap_err().to_string();
        assert!(err.contains("mysql-bin.000003 is a symbolic link"), "{err}");
        let index = fs::read_to_string(d.0.join("mysql-bin.index")).unwrap();
        assert_eq!(index.lines().count(), 3, "the index is left as it was");
    }

    #[test]
    fn an_index_line_naming_a_file_that_is_not_here_is_refused_by_its_line() {
        let d = dir_with_index(
            "elsewhere",
            "./mysql-bin.000001\n./mysql-bin.000002\n/elsewhere/mysql-bin.000003\n",
        );
        let err = DataDir::open(&d.0).unwrap().binlog_files().unwrap_err().to_string();
        assert!(err.contains("lists /elsewhere/mysql-bin.000003, which is not in"), "{err}");
    }
}
