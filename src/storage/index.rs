//! [`BinlogIndex`]: the list of stored binlog files and the index file
//! `<basename>.index`, the one owner of both.
//!
//! # Why one lock, not messages to the writer
//!
//! Two parties change the list: the writer appends a file at rotation, a
//! purge removes files from the front. Both rewrite the index from the
//! in-memory list, so each must see the other's change or it would write
//! an index that resurrects purged files or forgets a new one. Sending
//! purges to the writer as a message would serialize them too, but there
//! is no writer when serving a directory without a primary, and a purge
//! would wait behind queued appends. Instead the list lives here, behind
//! one mutex held only for the in-memory change and the atomic index
//! rewrite (two fsyncs); unlinking the files happens after it is released,
//! so a rotation never waits for a purge's deletions.
//!
//! # Crash-safe purge
//!
//! As MySQL's purge index file, a purge first writes the names it will
//! remove to `<basename>.~rec~` (atomically), then rewrites the index
//! without them (the commit point), then unlinks the files and finally the
//! `~rec~` file. At startup [`finish_interrupted_purge`] completes it: a
//! file named in `~rec~` is removed only if the index no longer names it
//! (the purge committed); if the index still names it the purge never
//! happened and the file stays. So a crash at any point neither loses a
//! file the index names nor leaves the index naming a missing file, and
//! purged files are not resurrected by the directory reconciliation in
//! [`super::datadir`] (which still adds back files missing from the index
//! without a `~rec~`: an interrupted rotation, or files an operator restored).

use std::collections::HashSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use log::{info, warn};

use super::datadir::{replace_file, sync_dir, write_index};
use super::fs::{BinlogStore, StdStore};
use super::StorageError;
use crate::binlog::BinlogFileName;

/// Suffix of the purge log (MySQL's purge index file).
pub const PURGE_LOG_SUFFIX: &str = ".~rec~";

#[derive(Debug)]
struct State {
    files: Vec<BinlogFileName>,
    failed: bool,
}

/// The stored files and their index; cheap to clone, shared by the writer and purges.
#[derive(Clone)]
pub struct BinlogIndex {
    dir: Arc<PathBuf>,
    store: Arc<dyn BinlogStore>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for BinlogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogIndex")
            .field("dir", &self.dir)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl BinlogIndex {
    /// The index of `dir`, which holds `files` (oldest first, from recovery).
    pub fn new(dir: &Path, files: Vec<BinlogFileName>) -> Self {
        Self::with_store(dir, Arc::new(StdStore), files)
    }

    /// As [`BinlogIndex::new`], with every change going through `store`
    /// (the data directory's: [`super::datadir::DataDir::store`]).
    pub fn with_store(dir: &Path, store: Arc<dyn BinlogStore>, files: Vec<BinlogFileName>) -> Self {
        BinlogIndex {
            dir: Arc::new(dir.to_owned()),
            store,
            state: Arc::new(Mutex::new(State { files, failed: false })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files, oldest first.
    pub fn files(&self) -> Vec<BinlogFileName> {
        self.lock().files.clone()
    }

    /// Appends a new file (already created and durable) and rewrites the index.
    pub fn add(&self, file: BinlogFileName) -> Result<(), StorageError> {
        let mut state = self.lock();
        if state.failed {
            return Err(StorageError::Poisoned);
        }
        state.files.push(file);
        let result = write_index(&*self.store, &self.dir, &state.files);
        state.failed = result.is_err();
        result
    }

    /// Removes `purge`, which must be the first files of the index: logs
    /// the names to `~rec~`, rewrites the index without them (the commit),
    /// then unlinks them and the `~rec~` file. Callers serialize purges.
    pub fn purge(&self, purge: &[BinlogFileName]) -> Result<(), StorageError> {
        let Some(first) = purge.first() else { return Ok(()) };
        if self.lock().failed {
            return Err(StorageError::Poisoned);
        }
        let log_name = format!("{}{PURGE_LOG_SUFFIX}", first.basename());
        replace_file(&*self.store, &self.dir, &log_name, &listing(purge))?;
        {
            let mut state = self.lock();
            if state.failed {
                return Err(StorageError::Poisoned);
            }
            if !state.files.starts_with(purge) || state.files.len() <= purge.len() {
                return Err(StorageError::Layout {
                    path: self.dir.to_path_buf(),
                    reason: format!("purge of {} is not a prefix of the index", first.as_str()),
                });
            }
            let kept = state.files.split_off(purge.len());
            // Any failure from here on leaves the index on disk uncertain:
            // stop changing it (the writer stops at its next rotation).
            state.failed = true;
            write_index(&*self.store, &self.dir, &kept)?;
            state.files = kept;
            state.failed = false;
        }
        for f in purge {
            let path = self.dir.join(f.as_str());
            match self.store.remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("remove", path)(e)),
            }
        }
        sync_dir(&*self.store, &self.dir)?;
        let log_path = self.dir.join(&log_name);
        self.store.remove_file(&log_path).map_err(StorageError::io("remove", &log_path))?;
        sync_dir(&*self.store, &self.dir)
    }
}

fn listing(files: &[BinlogFileName]) -> String {
    files.iter().map(|f| format!("./{}\n", f.as_str())).collect()
}

fn names_in(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|l| l.trim().trim_start_matches("./")).filter(|l| !l.is_empty())
}

/// The file a line of an index names: its last path component, so that
/// `./mysql-bin.000001` (ours) and `/var/lib/mysql/mysql-bin.000001` (a
/// primary with an absolute `log_bin`) both name `mysql-bin.000001`.
pub fn index_line_name(line: &str) -> &str {
    let line = line.trim();
    line.rsplit('/').next().unwrap_or(line)
}

/// Completes a purge a crash interrupted (see the module doc): removes the
/// files a `~rec~` file names that the index no longer names, then the `~rec~`.
pub fn finish_interrupted_purge(dir: &Path) -> Result<(), StorageError> {
    for entry in fs::read_dir(dir).map_err(StorageError::io("read directory", dir))? {
        let entry = entry.map_err(StorageError::io("read directory", dir))?;
        let name = entry.file_name();
        let Some(basename) = name.to_str().and_then(|n| n.strip_suffix(PURGE_LOG_SUFFIX)) else {
            continue;
        };
        let log_path = entry.path();
        let log = fs::read_to_string(&log_path).map_err(StorageError::io("read", &log_path))?;
        let index_path = dir.join(format!("{basename}.index"));
        let index = match fs::read_to_string(&index_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(StorageError::io("read", &index_path)(e)),
        };
        let Some(index) = index else {
            warn!(
                "purge log without an index, keeping every file purge_log={}",
                log_path.display()
            );
            fs::remove_file(&log_path).map_err(StorageError::io("remove", &log_path))?;
            continue;
        };
        // The index may name files by absolute path; the purge log is ours.
        let named: HashSet<&str> = index.lines().map(index_line_name).collect();
        let mut removed = Vec::new();
        for file in names_in(&log) {
            // Only names that are binlog names: never a path.
            if named.contains(file) || BinlogFileName::new(file).is_err() {
                continue;
            }
            match fs::remove_file(dir.join(file)) {
                Ok(()) => removed.push(file),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("remove", dir.join(file))(e)),
            }
        }
        sync_dir(&StdStore, dir)?;
        // Archived copies of purged files: their objects are deleted next.
        let purged: Vec<BinlogFileName> = names_in(&log)
            .filter(|f| !named.contains(f))
            .filter_map(|f| BinlogFileName::new(f).ok())
            .collect();
        super::archive::record::purged(&StdStore, dir, &purged)?;
        fs::remove_file(&log_path).map_err(StorageError::io("remove", &log_path))?;
        sync_dir(&StdStore, dir)?;
        info!(
            "finished an interrupted purge purge_log={} removed={}",
            log_path.display(),
            removed.join(",")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u64) -> BinlogFileName {
        BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn dir_with(label: &str, n: u64) -> Dir {
        let d = std::env::temp_dir().join(format!("bls-index-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for i in 1..=n {
            fs::write(d.join(name(i).as_str()), b"\xfebin").unwrap();
        }
        let files: Vec<_> = (1..=n).map(name).collect();
        write_index(&StdStore, &d, &files).unwrap();
        Dir(d)
    }

    fn index_text(d: &Path) -> String {
        fs::read_to_string(d.join("mysql-bin.index")).unwrap()
    }

    #[test]
    fn purge_rewrites_the_index_then_removes_the_files() {
        let d = dir_with("purge", 4);
        let index = BinlogIndex::new(&d.0, (1..=4).map(name).collect());
        index.purge(&[name(1), name(2)]).unwrap();
        assert_eq!(index_text(&d.0), "./mysql-bin.000003\n./mysql-bin.000004\n");
        assert!(!d.0.join("mysql-bin.000001").exists() && !d.0.join("mysql-bin.000002").exists());
        assert!(d.0.join("mysql-bin.000003").exists());
        assert!(!d.0.join("mysql-bin.~rec~").exists());
        // A rotation afterwards does not bring them back.
        fs::write(d.0.join(name(5).as_str()), b"\xfebin").unwrap();
        index.add(name(5)).unwrap();
        assert_eq!(index.files(), (3..=5).map(name).collect::<Vec<_>>());
        assert_eq!(index_text(&d.0).lines().count(), 3);
    }

    #[test]
    fn rotations_and_purges_at_once_keep_index_and_directory_equal() {
        let d = dir_with("race", 5);
        let index = BinlogIndex::new(&d.0, (1..=5).map(name).collect());
        let purges = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Rotates until both sides have done plenty, so they overlap.
        let writer = {
            let (index, dir, purges) = (index.clone(), d.0.clone(), Arc::clone(&purges));
            std::thread::spawn(move || {
                let mut i = 6;
                while i <= 40 || purges.load(std::sync::atomic::Ordering::Relaxed) < 10 {
                    fs::write(dir.join(name(i).as_str()), b"\xfebin").unwrap();
                    index.add(name(i)).unwrap();
                    i += 1;
                }
                i - 1
            })
        };
        while !writer.is_finished() {
            let files = index.files();
            if files.len() > 2 {
                index.purge(&files[..2]).unwrap();
                purges.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let last = writer.join().unwrap();
        let listed: Vec<String> =
            index_text(&d.0).lines().map(|l| l.trim_start_matches("./").to_owned()).collect();
        let mut on_disk: Vec<String> = fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| BinlogFileName::new(n).is_ok())
            .collect();
        on_disk.sort();
        assert_eq!(listed, on_disk);
        assert_eq!(listed.last(), Some(&name(last).as_str().to_owned()));
        assert_eq!(index.files().len(), listed.len());
    }

    #[test]
    fn purge_refuses_what_is_not_a_prefix_or_everything() {
        let d = dir_with("prefix", 3);
        let index = BinlogIndex::new(&d.0, (1..=3).map(name).collect());
        assert!(index.purge(&[name(2)]).is_err());
        assert!(index.purge(&[name(1), name(2), name(3)]).is_err());
        assert_eq!(index.files().len(), 3);
        assert!(d.0.join("mysql-bin.000001").exists());
    }

    #[test]
    fn a_crash_before_the_index_rewrite_keeps_every_file() {
        let d = dir_with("before", 3);
        fs::write(d.0.join("mysql-bin.~rec~"), "./mysql-bin.000001\n./mysql-bin.000002\n").unwrap();
        finish_interrupted_purge(&d.0).unwrap();
        assert!(d.0.join("mysql-bin.000001").exists() && d.0.join("mysql-bin.000002").exists());
        assert!(!d.0.join("mysql-bin.~rec~").exists());
        assert_eq!(index_text(&d.0).lines().count(), 3);
    }

    /// The index of a directory copied from a primary with an absolute
    /// `log_bin` names its files by path; they are still named.
    #[test]
    fn a_crash_before_the_rewrite_of_an_absolute_index_keeps_every_file() {
        let d = dir_with("absolute", 3);
        let abs: String =
            (1..=3).map(|i| format!("/var/lib/mysql/{}\n", name(i).as_str())).collect();
        fs::write(d.0.join("mysql-bin.index"), abs).unwrap();
        fs::write(d.0.join("mysql-bin.~rec~"), "./mysql-bin.000001\n").unwrap();
        finish_interrupted_purge(&d.0).unwrap();
        assert!(d.0.join("mysql-bin.000001").exists(), "the index still names it");
        assert!(!d.0.join("mysql-bin.~rec~").exists());
    }

    #[test]
    fn index_lines_name_files_by_their_last_component() {
        for line in ["./mysql-bin.000007", "mysql-bin.000007", "/data/log/mysql-bin.000007 "] {
            assert_eq!(index_line_name(line), "mysql-bin.000007", "{line:?}");
        }
    }

    #[test]
    fn a_crash_after_the_index_rewrite_finishes_the_purge() {
        let d = dir_with("after", 3);
        write_index(&StdStore, &d.0, &[name(2), name(3)]).unwrap();
        fs::write(d.0.join("mysql-bin.~rec~"), "./mysql-bin.000001\n./mysql-bin.000002\n").unwrap();
        finish_interrupted_purge(&d.0).unwrap();
        assert!(!d.0.join("mysql-bin.000001").exists());
        assert!(d.0.join("mysql-bin.000002").exists(), "the index still names it");
        assert!(!d.0.join("mysql-bin.~rec~").exists());
    }

    #[test]
    fn without_a_purge_log_nothing_is_removed() {
        let d = dir_with("none", 2);
        finish_interrupted_purge(&d.0).unwrap();
        assert!(d.0.join("mysql-bin.000001").exists() && d.0.join("mysql-bin.000002").exists());
    }
}
