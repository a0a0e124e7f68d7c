//! Benchmark of startup recovery on a large last file (run by
//! `etc/bench-recovery.sh`; ignored in `cargo test`, and it asserts no
//! timing, only that recovery walked the whole file).
//!
//! The file is a valid MariaDB binlog built with the codec from a real
//! transaction of the fixture set (GTID, ANNOTATE_ROWS, TABLE_MAP,
//! WRITE_ROWS, XID), repeated with each event's `log_pos` and CRC-32
//! rewritten for its new place. Two shapes: `small` (the transaction as it
//! is, 74-byte events on average, the worst case per byte) and `large` (its
//! ANNOTATE_ROWS event padded to 1 MiB). Environment:
//! `BLS_BENCH_RECOVERY_BYTES` (default 1 GiB), `BLS_BENCH_RECOVERY_SHAPE`
//! (`small`, `large`; default both), `BLS_BENCH_RECOVERY_DIR` (where the
//! file goes; default the temp dir), `BLS_BENCH_RECOVERY_RUNS` (warm runs,
//! default 3). A cold run follows the warm ones when
//! `/proc/sys/vm/drop_caches` is writable.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use crate::common::TestDir;
use binlogserver::binlog::{crc32, walk};
use binlogserver::storage::datadir::DataDir;
use binlogserver::storage::recovery::recover;

const FIXTURE: &str = "tests/fixtures/binlogs/mysql_common/mariadb-bin.000001";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Rewrites `log_pos` and the CRC of `event` for its new end `end`.
fn place(event: &mut [u8], end: u64) {
    let pos = u32::try_from(end).expect("a binlog file stays below 4 GiB");
    event[13..17].copy_from_slice(&pos.to_le_bytes());
    let body = event.len() - 4;
    let crc = crc32(&event[..body]);
    event[body..].copy_from_slice(&crc.to_le_bytes());
}

/// Writes `<dir>/mysql-bin.000001` of at least `size` bytes; returns its size
/// and its number of events.
fn build(dir: &Path, size: u64, large: bool) -> (u64, u64) {
    let fixture =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("read the fixture");
    let events: Vec<(u8, Vec<u8>)> =
        walk(&fixture).map(|e| (e.header.event_type.0, e.bytes.to_vec())).collect();
    // Magic, FD, GTID_LIST, BINLOG_CHECKPOINT as they are; then transactions
    // made of the first GTID..XID group.
    let head: Vec<Vec<u8>> = events.iter().take(3).map(|e| e.1.clone()).collect();
    let mut trx: Vec<Vec<u8>> = events.iter().skip(3).take(5).map(|e| e.1.clone()).collect();
    let kinds: Vec<u8> = events.iter().skip(3).take(5).map(|e| e.0).collect();
    assert_eq!(kinds, [162, 160, 19, 23, 16], "the fixture's first transaction");
    if large {
        // ANNOTATE_ROWS' body is the statement text: pad it to 1 MiB.
        let annotate = &mut trx[1];
        let crc_at = annotate.len() - 4;
        annotate.splice(crc_at..crc_at, std::iter::repeat_n(b' ', (1 << 20) - annotate.len()));
        let len = u32::try_from(annotate.len()).unwrap();
        annotate[9..13].copy_from_slice(&len.to_le_bytes());
    }
    let path = dir.join("mysql-bin.000001");
    let mut out =
        BufWriter::with_capacity(8 << 20, fs::File::create(&path).expect("create the file"));
    let emit_raw = |out: &mut BufWriter<fs::File>, bytes: &[u8]| out.write_all(bytes).unwrap();
    let mut count = 0u64;
    let mut end = 4u64;
    emit_raw(&mut out, &fixture[..4]);
    // The head keeps its offsets, so it is copied unchanged (the FD's CRC
    // is computed with its in-use flag clear and must not be redone).
    let head_len: usize = head.iter().map(Vec::len).sum();
    emit_raw(&mut out, &fixture[4..4 + head_len]);
    end += head_len as u64;
    count += head.len() as u64;
    let mut emit = |e: &[u8], end: &mut u64| {
        let mut e = e.to_vec();
        *end += e.len() as u64;
        place(&mut e, *end);
        out.write_all(&e).unwrap();
        count += 1;
    };
    while end < size {
        for e in &trx {
            emit(e, &mut end);
        }
    }
    out.into_inner().expect("flush").sync_all().expect("sync");
    fs::write(dir.join("mysql-bin.index"), "./mysql-bin.000001\n").expect("write the index");
    (end, count)
}

fn drop_caches() -> bool {
    std::process::Command::new("sync").status().is_ok_and(|s| s.success())
        && fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

fn time_recovery(dir: &Path, size: u64) -> f64 {
    let started = Instant::now();
    let datadir = DataDir::open(dir).expect("open the data dir");
    let recovered = recover(&datadir).expect("recover");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let tail = recovered.tail.expect("a last file");
    assert_eq!(tail.len, size, "recovery must keep the whole valid file");
    ms
}

#[test]
#[ignore = "benchmark: run by etc/bench-recovery.sh"]
fn bench_recovery_of_a_large_last_file() {
    let size: u64 =
        env_or("BLS_BENCH_RECOVERY_BYTES", "1073741824").parse().expect("BLS_BENCH_RECOVERY_BYTES");
    let runs: usize =
        env_or("BLS_BENCH_RECOVERY_RUNS", "3").parse().expect("BLS_BENCH_RECOVERY_RUNS");
    let shapes = env_or("BLS_BENCH_RECOVERY_SHAPE", "small,large");
    let base = std::env::var_os("BLS_BENCH_RECOVERY_DIR");
    for shape in shapes.split(',') {
        let large = match shape {
            "small" => false,
            "large" => true,
            other => panic!("unknown shape {other:?}"),
        };
        let tmp = TestDir::new("bench-recovery");
        let dir = match &base {
            Some(b) => {
                let d = Path::new(b).join(format!("bench-recovery-{shape}"));
                let _ = fs::remove_dir_all(&d);
                fs::create_dir_all(&d).unwrap();
                d
            }
            None => tmp.path().to_owned(),
        };
        let (bytes, events) = build(&dir, size, large);
        let warm: Vec<f64> = (0..runs).map(|_| time_recovery(&dir, bytes)).collect();
        let best = warm.iter().copied().fold(f64::INFINITY, f64::min);
        let cold = drop_caches().then(|| time_recovery(&dir, bytes));
        println!(
            "recovery bench: shape={shape} bytes={bytes} events={events} avg_event={} warm_ms={} \
             best_warm_ms={best:.0} warm_gb_s={:.2} cold_ms={}",
            bytes / events,
            warm.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join("/"),
            bytes as f64 / best / 1e6,
            cold.map_or("n/a (drop_caches not writable)".to_owned(), |c| format!("{c:.0}")),
        );
        if base.is_some() {
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}
