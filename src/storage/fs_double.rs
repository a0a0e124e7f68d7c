//! A test double for [`BinlogStore`] that knows which bytes are durable.
//!
//! Writes go through to real files (so the real `BinlogReader` and
//! recovery read them), but fsyncs are only recorded: the double keeps, per
//! file, how many bytes were written and how many were written and then
//! fsync'd, and whether its directory entry was fsync'd. A crash image
//! (what a power cut would leave) is made from exactly the durable part.
//!
//! It injects one fault per run: "no space left" after a number of bytes
//! (a short write when it falls inside one call) or an EIO on the n-th
//! fsync. Before every call it checks the published watermark against the
//! durable lengths, so a watermark published ahead of its fsync is caught
//! at the writer's very next step, and it records every call made after
//! the fault fired (the writer must stop).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ack_queue::AckRequest;
use super::fs::{BinlogFile, BinlogStore};
use super::watermark::{DurablePosition, Watermark};

const ENOSPC: i32 = 28;
const EIO: i32 = 5;

/// The fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Everything works.
    None,
    /// Writes fail with ENOSPC once this many bytes were written in total.
    NoSpaceAfter(u64),
    /// The n-th fsync (file or directory, counting from 1) fails with EIO.
    SyncFailsAt(usize),
}

/// What the double knows about one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FileState {
    /// Bytes written.
    pub(crate) written: u64,
    /// Bytes written and fsync'd.
    pub(crate) durable: u64,
    /// The directory entry was fsync'd after the file was created or renamed.
    pub(crate) entry_durable: bool,
}

#[derive(Debug)]
struct State {
    files: BTreeMap<PathBuf, FileState>,
    written_total: u64,
    syncs: usize,
    fault: Fault,
    /// The watermark when the fault fired.
    fired: Option<Option<DurablePosition>>,
    violations: Vec<String>,
}

/// The double; clones share their state.
#[derive(Debug, Clone)]
pub(crate) struct TrackingStore {
    dir: PathBuf,
    watermark: Watermark,
    state: Arc<Mutex<State>>,
}

impl TrackingStore {
    /// A double for the data directory `dir`, checking `watermark`.
    pub(crate) fn new(dir: &Path, watermark: Watermark, fault: Fault) -> Self {
        let state = State {
            files: BTreeMap::new(),
            written_total: 0,
            syncs: 0,
            fault,
            fired: None,
            violations: Vec::new(),
        };
        TrackingStore { dir: dir.to_owned(), watermark, state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Checks the watermark and notes a writing call after the fault.
    fn enter(&self, op: &str, path: &Path, writes: bool) -> MutexGuard<'_, State> {
        let mut s = self.lock();
        if writes && s.fired.is_some() {
            s.violations.push(format!("{op} {} after the injected fault", path.display()));
        }
        self.check_watermark_locked(&mut s, op);
        s
    }

    fn check_watermark_locked(&self, s: &mut State, when: &str) {
        let Some(wm) = self.watermark.get() else { return };
        let path = self.dir.join(wm.file.as_str());
        let f = s.files.get(&path).copied().unwrap_or_default();
        if !f.entry_durable || wm.offset > f.durable {
            s.violations.push(format!(
                "before {when}: watermark {}:{} but the file has {} durable bytes \
                 (entry durable: {})",
                wm.file, wm.offset, f.durable, f.entry_durable
            ));
        }
        if let Some(at_fault) = &s.fired {
            if at_fault.as_ref() != Some(&wm) {
                s.violations.push(format!(
                    "before {when}: watermark moved to {}:{} after the fault",
                    wm.file, wm.offset
                ));
            }
        }
    }

    /// Checks the watermark now (e.g. after the writer ended).
    pub(crate) fn check_watermark(&self, when: &str) {
        let mut s = self.lock();
        self.check_watermark_locked(&mut s, when);
    }

    /// Checks an ACK the ACK sender is about to send: its bytes are
    /// durable, and after the fault it is one the watermark covered
    /// before the fault (the ACK sender may lag the writer).
    pub(crate) fn check_ack(&self, ack: &AckRequest) {
        let mut s = self.lock();
        let path = self.dir.join(ack.file.as_str());
        let f = s.files.get(&path).copied().unwrap_or_default();
        if let Some(at_fault) = s.fired.clone() {
            if !at_fault.as_ref().is_some_and(|wm| ack.is_covered_by(wm)) {
                s.violations.push(format!(
                    "ack {}:{} past the watermark {at_fault:?} of the injected fault",
                    ack.file, ack.position
                ));
            }
        }
        if !f.entry_durable || ack.position > f.durable {
            s.violations.push(format!(
                "ack {}:{} but the file has {} durable bytes (entry durable: {})",
                ack.file, ack.position, f.durable, f.entry_durable
            ));
        }
        self.check_watermark_locked(&mut s, "an ack");
    }

    /// The state of `path`.
    pub(crate) fn file(&self, path: &Path) -> FileState {
        self.lock().files.get(path).copied().unwrap_or_default()
    }

    /// Every file the double knows.
    pub(crate) fn files(&self) -> BTreeMap<PathBuf, FileState> {
        self.lock().files.clone()
    }

    /// Whether the fault fired.
    pub(crate) fn fired(&self) -> bool {
        self.lock().fired.is_some()
    }

    /// What went wrong so far.
    pub(crate) fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    fn fire(&self, s: &mut State) {
        if s.fired.is_none() {
            s.fired = Some(self.watermark.get());
        }
    }

    /// Appends `bytes` to `file` at `path`, short if the disk "fills".
    fn write(&self, s: &mut State, path: &Path, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        let allowed = match s.fault {
            Fault::NoSpaceAfter(limit) => limit.saturating_sub(s.written_total),
            _ => u64::MAX,
        };
        let n = usize::try_from(allowed).unwrap_or(usize::MAX).min(bytes.len());
        file.write_all(&bytes[..n])?;
        s.written_total += n as u64;
        s.files.entry(path.to_owned()).or_default().written += n as u64;
        if n < bytes.len() {
            self.fire(s);
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        Ok(())
    }

    fn sync(&self, s: &mut State) -> io::Result<()> {
        s.syncs += 1;
        if s.fault == Fault::SyncFailsAt(s.syncs) {
            self.fire(s);
            return Err(io::Error::from_raw_os_error(EIO));
        }
        Ok(())
    }
}

/// A file of the double.
#[derive(Debug)]
pub(crate) struct TrackedFile {
    store: TrackingStore,
    path: PathBuf,
    file: File,
}

impl BinlogFile for TrackedFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let store = self.store.clone();
        let mut s = store.enter("write", &self.path, true);
        store.write(&mut s, &self.path, &mut self.file, bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut s = self.store.enter("fdatasync", &self.path, true);
        self.store.sync(&mut s)?;
        let f = s.files.entry(self.path.clone()).or_default();
        f.durable = f.written;
        Ok(())
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

impl BinlogStore for TrackingStore {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn BinlogFile>> {
        let mut s = self.enter("create", path, true);
        let file = OpenOptions::new().create_new(true).append(true).open(path)?;
        s.files.insert(path.to_owned(), FileState::default());
        Ok(Box::new(TrackedFile { store: self.clone(), path: path.to_owned(), file }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn BinlogFile>> {
        let mut s = self.enter("open", path, true);
        let file = OpenOptions::new().append(true).open(path)?;
        // A file the double has not seen was made durable before it started.
        let len = file.metadata()?.len();
        s.files.entry(path.to_owned()).or_insert(FileState {
            written: len,
            durable: len,
            entry_durable: true,
        });
        Ok(Box::new(TrackedFile { store: self.clone(), path: path.to_owned(), file }))
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.enter("write", path, true);
        let mut file = File::create(path)?;
        s.files.insert(path.to_owned(), FileState::default());
        self.write(&mut s, path, &mut file, bytes)?;
        self.sync(&mut s)?;
        let f = s.files.entry(path.to_owned()).or_default();
        f.durable = f.written;
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.enter("rename", to, true);
        fs::rename(from, to)?;
        let mut f = s.files.remove(from).unwrap_or_default();
        f.entry_durable = false;
        s.files.insert(to.to_owned(), f);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        // Cleaning up after a failure is allowed.
        let mut s = self.enter("remove", path, false);
        fs::remove_file(path)?;
        s.files.remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.enter("fsync directory", dir, false);
        self.sync(&mut s)?;
        for (path, f) in s.files.iter_mut() {
            if path.parent() == Some(dir) {
                f.entry_durable = true;
            }
        }
        Ok(())
    }
}
