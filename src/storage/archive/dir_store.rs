//! A test double of [`ObjectStore`]: objects as files in a directory, with
//! switches to make the store fail or damage what it returns, for the
//! unit tests of the archive's logic. The archive's integration tests use
//! a real S3 server (Garage) instead.

use std::fs;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{ObjectStore, ReadSeek, StoreError};

/// Objects as files under `root`.
#[derive(Debug)]
pub(crate) struct DirStore {
    pub(crate) root: PathBuf,
    /// Every call fails while set.
    pub(crate) down: AtomicBool,
    /// Reads return the object with its last byte changed while set.
    pub(crate) damage: AtomicBool,
    /// Uploads so far.
    pub(crate) uploads: AtomicUsize,
}

impl DirStore {
    pub(crate) fn new(root: PathBuf) -> DirStore {
        fs::create_dir_all(&root).unwrap();
        DirStore {
            root,
            down: AtomicBool::new(false),
            damage: AtomicBool::new(false),
            uploads: AtomicUsize::new(0),
        }
    }

    fn check(&self, op: &str, key: &str) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError { not_found: false, message: format!("{op} {key}: down") });
        }
        Ok(())
    }
}

impl ObjectStore for DirStore {
    fn location(&self) -> String {
        format!("dir://{}/", self.root.display())
    }

    fn upload(&self, key: &str, src: &mut dyn Read, _sha256: &str) -> Result<u64, StoreError> {
        self.check("upload", key)?;
        let mut bytes = Vec::new();
        src.read_to_end(&mut bytes)
            .map_err(|e| StoreError { not_found: false, message: e.to_string() })?;
        fs::write(self.root.join(key), &bytes).unwrap();
        self.uploads.fetch_add(1, Ordering::SeqCst);
        Ok(bytes.len() as u64)
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.check("head", key)?;
        Ok(fs::metadata(self.root.join(key)).ok().map(|m| m.len()))
    }

    fn open(&self, key: &str, _size: u64) -> Result<Box<dyn ReadSeek>, StoreError> {
        self.check("get", key)?;
        let mut bytes = fs::read(self.root.join(key))
            .map_err(|e| StoreError { not_found: true, message: format!("get {key}: {e}") })?;
        if self.damage.load(Ordering::SeqCst) {
            if let Some(b) = bytes.last_mut() {
                *b ^= 0xff;
            }
        }
        Ok(Box::new(Cursor::new(bytes)))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check("delete", key)?;
        let _ = fs::remove_file(self.root.join(key));
        Ok(())
    }

    fn abort_incomplete(&self) -> Result<usize, StoreError> {
        self.check("list uploads", "")?;
        Ok(0)
    }
}
