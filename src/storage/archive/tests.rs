//! The archive's logic against [`DirStore`], a directory standing in for
//! the object store: what is uploaded, recorded, trimmed, listed, read
//! back and purged, and what a failing or damaging store changes.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::dir_store::DirStore;
use super::uploader::Uploader;
use super::*;
use crate::binlog::BinlogFileName;
use crate::shutdown::Shutdown;
use crate::storage::fs::StdStore;
use crate::storage::index::BinlogIndex;
use crate::storage::purge::{Purger, Reason};
use crate::storage::reader::{file_size, list_files, BinlogReader};
use crate::storage::selection::Criterion;

const FIXTURE: &[u8] = include_bytes!(
    "../../../tests/fixtures/binlogs/mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005"
);

fn name(n: u32) -> BinlogFileName {
    BinlogFileName::new(format!("mariadb-repl-bin.{n:06}")).unwrap()
}

struct Setup {
    root: PathBuf,
    dir: PathBuf,
    store: Arc<DirStore>,
    archive: Arc<Archive>,
    index: BinlogIndex,
    _attached: Attached,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A data directory with `n` copies of the fixture (the last one active).
fn setup(label: &str, n: u32) -> Setup {
    let _ = env_logger::builder().is_test(true).try_init();
    let root = std::env::temp_dir().join(format!("bls-archive-{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dir = root.join("data");
    fs::create_dir_all(&dir).unwrap();
    for i in 1..=n {
        fs::write(dir.join(name(i).as_str()), FIXTURE).unwrap();
    }
    let index = BinlogIndex::new(&dir, (1..=n).map(name).collect());
    let store = Arc::new(DirStore::new(root.join("store")));
    let archive = Arc::new(Archive::open(&dir, Arc::new(StdStore), store.clone()).unwrap());
    let attached = attach(&archive);
    Setup { root, dir, store, archive, index, _attached: attached }
}

/// Runs the uploader until `done` holds (or 10 s), then stops it.
fn run_uploader(s: &Setup, keep_local: Option<u64>, done: impl Fn() -> bool) {
    let shutdown = Shutdown::new();
    let uploader = Uploader {
        archive: Arc::clone(&s.archive),
        fs: Arc::new(StdStore),
        index: s.index.clone(),
        keep_local,
        shutdown: shutdown.clone(),
    };
    let t = std::thread::spawn(move || uploader.run());
    let start = std::time::Instant::now();
    while !done() && start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    shutdown.trigger();
    t.join().unwrap().unwrap();
}

fn events(dir: &std::path::Path, f: &BinlogFileName) -> Vec<Vec<u8>> {
    let mut r = BinlogReader::open(dir, f, 4).unwrap();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while r.next_event(FIXTURE.len() as u64, &mut buf).unwrap() {
        out.push(buf.clone());
    }
    out
}

#[test]
fn closed_files_are_archived_trimmed_and_still_listed_and_read() {
    let s = setup("flow", 3);
    let local_events = events(&s.dir, &name(1));
    let one = FIXTURE.len() as u64;
    run_uploader(&s, Some(one), || s.archive.stats.trimmed_files.load(Ordering::SeqCst) >= 2);
    // Closed files 1 and 2 were uploaded byte for byte; 3 is active.
    assert_eq!(fs::read(s.store.root.join(name(1).as_str())).unwrap(), FIXTURE);
    assert_eq!(fs::read(s.store.root.join(name(2).as_str())).unwrap(), FIXTURE);
    assert!(!s.store.root.join(name(3).as_str()).exists());
    let record = record::load(&s.dir).unwrap().unwrap();
    assert_eq!(
        record.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
        [name(1), name(2)]
    );
    assert_eq!(record.entries[0].size, one);
    // Keeping one file's worth: only the active file stays local.
    assert!(!s.dir.join(name(1).as_str()).exists());
    assert!(!s.dir.join(name(2).as_str()).exists());
    assert!(s.dir.join(name(3).as_str()).exists());
    assert_eq!(list_files(&s.dir).unwrap(), [name(1), name(2), name(3)]);
    assert_eq!(file_size(&s.dir, &name(1)).unwrap(), one);
    // Read from the archive: the same events, CRCs checked.
    assert_eq!(events(&s.dir, &name(1)), local_events);
    assert!(s.archive.stats.reads.load(Ordering::SeqCst) >= 1);
}

#[test]
fn a_store_that_is_down_archives_nothing_and_trims_nothing_until_it_is_back() {
    let s = setup("down", 3);
    s.store.down.store(true, Ordering::SeqCst);
    run_uploader(&s, Some(0), || s.archive.stats.errors.load(Ordering::SeqCst) >= 1);
    assert_eq!(s.archive.stats.queue_files.load(Ordering::SeqCst), 2);
    assert_eq!(s.archive.stats.queue_bytes.load(Ordering::SeqCst), 2 * FIXTURE.len() as u64);
    assert!(s.archive.entries().is_empty());
    assert!(s.dir.join(name(1).as_str()).exists(), "never removed unverified");
    s.store.down.store(false, Ordering::SeqCst);
    run_uploader(&s, Some(0), || s.archive.stats.trimmed_files.load(Ordering::SeqCst) >= 2);
    assert_eq!(s.archive.stats.queue_files.load(Ordering::SeqCst), 0);
    assert!(!s.dir.join(name(1).as_str()).exists());
}

#[test]
fn a_copy_that_reads_back_differently_is_not_recorded_nor_trimmed() {
    let s = setup("damage", 2);
    s.store.damage.store(true, Ordering::SeqCst);
    run_uploader(&s, Some(0), || s.store.uploads.load(Ordering::SeqCst) >= 2);
    assert!(s.archive.entries().is_empty());
    assert!(s.dir.join(name(1).as_str()).exists());
}

#[test]
fn a_damaged_archived_object_is_an_error_not_served() {
    let s = setup("crc", 2);
    run_uploader(&s, Some(0), || s.archive.stats.trimmed_files.load(Ordering::SeqCst) >= 1);
    s.store.damage.store(true, Ordering::SeqCst);
    let mut r = BinlogReader::open(&s.dir, &name(1), 4).unwrap();
    let mut buf = Vec::new();
    let err = loop {
        match r.next_event(FIXTURE.len() as u64, &mut buf) {
            Ok(true) => {}
            Ok(false) => panic!("read a damaged object to its end"),
            Err(e) => break e,
        }
    };
    let text = err.to_string();
    assert!(text.contains("archived copy is not a valid binlog"), "{text}");
    assert!(s.archive.stats.errors.load(Ordering::SeqCst) >= 1);
}

#[test]
fn a_purge_deletes_archived_objects_and_retries_while_the_store_is_down() {
    let s = setup("purge", 4);
    run_uploader(&s, Some(0), || s.archive.stats.trimmed_files.load(Ordering::SeqCst) >= 3);
    let purger = Purger::new(s.index.clone(), None);
    s.store.down.store(true, Ordering::SeqCst);
    let r = purger.purge(&Criterion::To(name(2)), Reason::Statement { client: 1 }).unwrap();
    assert_eq!(r.selection.purge, [name(1)]);
    assert_eq!(list_files(&s.dir).unwrap(), [name(2), name(3), name(4)]);
    assert!(s.store.root.join(name(1).as_str()).exists(), "the store was down");
    assert_eq!(record::load(&s.dir).unwrap().unwrap().deleting, [name(1)]);
    s.store.down.store(false, Ordering::SeqCst);
    s.archive.delete_pending().unwrap();
    assert!(!s.store.root.join(name(1).as_str()).exists());
    assert!(record::load(&s.dir).unwrap().unwrap().deleting.is_empty());
    // The purge of an archived-only file goes through the index like any other.
    purger.purge(&Criterion::To(name(3)), Reason::Statement { client: 1 }).unwrap();
    assert!(!s.store.root.join(name(2).as_str()).exists());
    assert_eq!(list_files(&s.dir).unwrap(), [name(3), name(4)]);
}

#[test]
fn another_archive_url_is_refused() {
    let s = setup("other", 2);
    run_uploader(&s, None, || !s.archive.entries().is_empty());
    let other = Arc::new(DirStore::new(s.root.join("elsewhere")));
    let err = Archive::open(&s.dir, Arc::new(StdStore), other).unwrap_err().to_string();
    assert!(err.contains("binlogserver.archive") && err.contains("elsewhere"), "{err}");
}
