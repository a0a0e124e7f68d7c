//! Torn tails: the last binlog file is cut at every byte offset inside its
//! last transactions (and the cut is sometimes followed by garbage, as a
//! filesystem may leave after a power loss); binlogserver must repair the
//! copy at start and resume against the real primary to files identical to
//! the primary's.
//!
//! The last file ends with one transaction holding a large ROWS event
//! (cut at a stride inside it, at every offset near its event borders) and
//! then three small ones, together covering GTID, ANNOTATE_ROWS,
//! TABLE_MAP, WRITE/UPDATE_ROWS, XID and a standalone DDL QUERY; those
//! three are cut at every byte offset. Several binlogservers (different
//! server ids, `--listen off`) run in parallel on separate copies.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    assert_same_binlogs, local_binlog_files, wait_binlog_checkpointed, wait_caught_up,
    Binlogserver, MariaDb, PrimaryOpts, TestDir,
};
use binlogserver::binlog::walk;

const CATCH_UP: Duration = Duration::from_secs(60);
const WORKERS: usize = 4;
/// The large row of the fourth-last transaction.
const BIG_ROW: usize = 100_000;
/// Stride of the cuts inside the large transaction (a prime).
const BIG_STRIDE: u64 = 997;

/// What is written after the cut.
#[derive(Debug, Clone, Copy)]
enum Garbage {
    None,
    /// A block of zeros: the file's size was extended, its data not written.
    Zeros,
    /// Bytes that were never this file's (pseudo-random).
    Random,
}

#[derive(Debug, Clone, Copy)]
struct Cut {
    offset: u64,
    garbage: Garbage,
}

fn garbage_bytes(kind: Garbage, seed: u64) -> Vec<u8> {
    match kind {
        Garbage::None => Vec::new(),
        Garbage::Zeros => vec![0; 4096],
        Garbage::Random => {
            let mut x = seed | 1;
            (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
    }
}

/// The cuts: every offset of the last three transactions, a stride through
/// the large one before them plus 24 bytes around each of its events'
/// borders; every fifth cut gets zeros after it, every seventh random bytes.
fn cuts(last_file: &[u8]) -> (Vec<Cut>, Vec<u64>) {
    let mut bounds: Vec<u64> = walk(last_file).filter(|e| e.at_boundary).map(|e| e.end()).collect();
    bounds.insert(0, 4);
    assert!(bounds.len() >= 6, "the last file has too few transactions: {bounds:?}");
    assert_eq!(
        *bounds.last().unwrap(),
        last_file.len() as u64,
        "the last file ends at a transaction"
    );
    let n = bounds.len();
    let (big_start, small_start, end) = (bounds[n - 5], bounds[n - 4], bounds[n - 1]);
    let mut offsets: Vec<u64> = (small_start..end).collect();
    offsets.extend((big_start..small_start).step_by(BIG_STRIDE as usize));
    for e in walk(last_file).filter(|e| e.offset >= big_start && e.end() <= small_start) {
        offsets.extend(e.offset..(e.offset + 24).min(small_start));
        offsets.extend(e.end().saturating_sub(24).max(e.offset)..e.end());
    }
    offsets.sort_unstable();
    offsets.dedup();
    let cuts = offsets
        .into_iter()
        .enumerate()
        .map(|(i, offset)| {
            let garbage = match i {
                i if i % 7 == 3 => Garbage::Random,
                i if i % 5 == 1 => Garbage::Zeros,
                _ => Garbage::None,
            };
            Cut { offset, garbage }
        })
        .collect();
    (cuts, bounds)
}

/// Copies the binlog files and the index of `from` into `to` (emptied first).
fn copy_data_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(to).expect("read the copy") {
        let p = entry.expect("entry").path();
        if p.is_file() {
            fs::remove_file(&p).expect("empty the copy");
        }
    }
    for entry in fs::read_dir(from).expect("read the data dir") {
        let p = entry.expect("entry").path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("mysql-bin.") {
            fs::copy(&p, to.join(&name)).expect("copy a binlog");
        }
    }
}

fn follow(primary: &MariaDb, dir: &Path, server_id: usize) -> Binlogserver {
    Binlogserver::follow_port_as(
        primary.port(),
        dir,
        &server_id.to_string(),
        &["--semi-sync", "off", "--heartbeat", "1", "--listen", "off"],
    )
}

/// Cuts the copy in `dir` per `cut`, starts binlogserver on it and checks
/// that it repairs the tail and resumes to files identical to the primary's.
fn try_cut(
    primary: &MariaDb,
    source: &Path,
    dir: &Path,
    last: &str,
    bounds: &[u64],
    cut: Cut,
    server_id: usize,
) {
    copy_data_dir(source, dir);
    let path = dir.join(last);
    let mut f = fs::OpenOptions::new().write(true).open(&path).expect("open the last file");
    f.set_len(cut.offset).expect("truncate");
    let junk = garbage_bytes(cut.garbage, cut.offset);
    f.write_all_at_end(&junk);
    drop(f);
    let bls = follow(primary, dir, server_id);
    wait_caught_up(primary, dir, CATCH_UP);
    bls.assert_running();
    assert_same_binlogs(primary, dir);
    let log = bls.log();
    let at_boundary = bounds.contains(&cut.offset) && junk.is_empty();
    assert_eq!(
        !at_boundary,
        log.contains("cutting incomplete tail"),
        "cut {cut:?}: a repair must be logged exactly when the tail is not a whole transaction"
    );
    bls.kill9();
}

/// Tells the other workers to stop when this one panics.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

trait WriteAtEnd {
    fn write_all_at_end(&mut self, bytes: &[u8]);
}

impl WriteAtEnd for fs::File {
    fn write_all_at_end(&mut self, bytes: &[u8]) {
        use std::io::{Seek, SeekFrom};
        self.seek(SeekFrom::End(0)).expect("seek to the end");
        self.write_all(bytes).expect("write garbage");
        self.sync_all().expect("sync the cut copy");
    }
}

#[test]
fn repairs_a_tail_cut_at_every_offset_of_the_last_transactions() {
    let begin = Instant::now();
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    primary.sql_script(
        "CREATE DATABASE tt;\n\
         CREATE TABLE tt.t (id INT AUTO_INCREMENT PRIMARY KEY, k INT, v VARCHAR(64)) \
             ENGINE=InnoDB;\n\
         CREATE TABLE tt.big (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB;\n\
         INSERT INTO tt.t (k, v) VALUES (1, 'one'), (2, 'two');\n\
         FLUSH BINARY LOGS;\n\
         INSERT INTO tt.t (k, v) VALUES (3, 'three');\n",
    );
    // The last four transactions of the last file.
    primary.sql_script(&format!(
        "INSERT INTO tt.big (b) VALUES (REPEAT('b', {BIG_ROW}));\n\
         BEGIN; INSERT INTO tt.t (k, v) VALUES (4, 'four'); \
             UPDATE tt.t SET v = 'uno' WHERE k = 1; COMMIT;\n\
         ALTER TABLE tt.t ADD COLUMN w INT DEFAULT 7;\n\
         UPDATE tt.t SET k = k + 10 WHERE k = 2;\n"
    ));
    wait_binlog_checkpointed(&primary, CATCH_UP);
    let data = TestDir::new("torn-source");
    let bls = follow(&primary, data.path(), 1001);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlogs(&primary, data.path());
    bls.kill9();

    let files = local_binlog_files(data.path());
    let last = files.last().expect("binlog files").clone();
    let last_bytes = fs::read(data.join(&last)).expect("read the last file");
    let types: Vec<u8> = walk(&last_bytes).map(|e| e.header.event_type.0).collect();
    for (code, name) in [
        (162, "GTID"),
        (160, "ANNOTATE_ROWS"),
        (19, "TABLE_MAP"),
        (23, "WRITE_ROWS"),
        (24, "UPDATE_ROWS"),
        (16, "XID"),
        (2, "QUERY"),
    ] {
        assert!(types.contains(&code), "the last file lacks a {name} event: {types:?}");
    }
    let (cuts, bounds) = cuts(&last_bytes);
    let zeros = cuts.iter().filter(|c| matches!(c.garbage, Garbage::Zeros)).count();
    let random = cuts.iter().filter(|c| matches!(c.garbage, Garbage::Random)).count();
    eprintln!(
        "{last}: {} bytes, {} cuts from offset {} ({zeros} followed by zeros, {random} by random \
         bytes)",
        last_bytes.len(),
        cuts.len(),
        cuts.first().map_or(0, |c| c.offset)
    );

    let next = AtomicUsize::new(0);
    let done = Mutex::new(0usize);
    let failed = AtomicBool::new(false);
    thread::scope(|s| {
        for w in 0..WORKERS {
            let (primary, data, cuts, bounds, last, next, done) =
                (&primary, &data, &cuts, &bounds, &last, &next, &done);
            let failed = &failed;
            s.spawn(move || {
                let _stop_others = StopOnPanic(failed);
                let dir = TestDir::new("torn-copy");
                while !failed.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&cut) = cuts.get(i) else { break };
                    try_cut(primary, data.path(), dir.path(), last, bounds, cut, 2001 + w);
                    *done.lock().unwrap() += 1;
                }
            });
        }
    });
    let done = *done.lock().unwrap();
    assert_eq!(done, cuts.len(), "every cut was tried");
    eprintln!(
        "torn tails: {done} cuts repaired and resumed in {:.1} s",
        begin.elapsed().as_secs_f64()
    );
}
