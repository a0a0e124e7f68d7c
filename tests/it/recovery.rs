//! Recovery cuts a torn last file back to its last complete transaction.
//!
//! Real binlogs from the fixture set are cut at every byte offset: the
//! streaming walk used at start-up must agree with the pure `scan`, and a
//! real `recover` on a data directory must truncate the file to the end of
//! the last complete transaction before the cut.

use std::fs;
use std::io::Cursor;
use std::path::Path;

use crate::common::TestDir;
use binlogserver::binlog::scan::{scan, walk};
use binlogserver::storage::datadir::DataDir;
use binlogserver::storage::recovery::{recover, walk_file};

const FIXTURES: &[&str] = &[
    "mysql_common/mariadb-bin.000001",
    "mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005",
    "mariadb_operator_poc/domain_id_1/mariadb-repl-bin.000002",
    "shyiko_connector_java/mysql-bin.checksum-crc32",
    "shyiko_connector_java/mysql-bin.checksum-none",
    "apecloud_connector_rust/mysql-bin.000057",
    "mysql_common/binlog_transaction_with_GTID_TAG.000001",
];

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/binlogs").join(rel);
    fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Offsets after which the full file is at a transaction boundary.
fn boundaries(bytes: &[u8]) -> Vec<u64> {
    let mut out = vec![4];
    out.extend(walk(bytes).filter(|e| e.at_boundary).map(|e| e.end()));
    out
}

fn expected_end(bounds: &[u64], cut: u64) -> u64 {
    if cut < 4 {
        return 0;
    }
    bounds.iter().copied().filter(|&b| b <= cut).max().unwrap_or(4)
}

#[test]
fn startup_walk_agrees_with_scan_at_every_cut() {
    for rel in FIXTURES {
        let bytes = fixture(rel);
        let bounds = boundaries(&bytes);
        assert!(bounds.len() > 2, "{rel}: no transactions found");
        assert_eq!(*bounds.last().unwrap(), bytes.len() as u64, "{rel} ends at a boundary");
        // Every offset of small files; of larger ones every offset of the
        // last 2000 bytes and a prime stride before (the walk is O(n) per cut).
        let tail_start = if bytes.len() <= 8192 { 0 } else { bytes.len() - 2000 };
        let cuts = (0..tail_start).step_by(37).chain(tail_start..=bytes.len());
        for cut in cuts {
            let w = walk_file(Cursor::new(&bytes[..cut])).unwrap();
            let r = &w.report;
            assert_eq!(r.last_trx_end, expected_end(&bounds, cut as u64), "{rel} cut at {cut}");
            let torn = !bounds.contains(&(cut as u64));
            assert_eq!(r.stop.is_some() || r.last_trx_end < cut as u64, torn, "{rel} cut at {cut}");
            assert_eq!(*r, scan(&bytes[..cut]), "{rel} cut at {cut}: walk and scan disagree");
        }
    }
}

#[test]
fn startup_walk_stops_at_a_corrupt_event() {
    let bytes = fixture("mysql_common/mariadb-bin.000001");
    let bounds = boundaries(&bytes);
    // Flip one byte inside each event after the format description: the CRC
    // catches it and recovery keeps only what precedes that event's group.
    for event in walk(&bytes).skip(1) {
        let mut bad = bytes.clone();
        let at = (event.offset + 10) as usize;
        bad[at] ^= 0x40;
        let w = walk_file(Cursor::new(&bad)).unwrap();
        assert!(w.report.stop.is_some(), "flip at {at} went unnoticed");
        assert_eq!(w.report.last_trx_end, expected_end(&bounds, event.offset), "flip at {at}");
    }
}

#[test]
fn recover_truncates_a_torn_file_to_its_last_transaction() {
    let dir = TestDir::new("recovery");
    for rel in ["mysql_common/mariadb-bin.000001", "shyiko_connector_java/mysql-bin.checksum-crc32"]
    {
        let bytes = fixture(rel);
        let bounds = boundaries(&bytes);
        // Every offset in the last 600 bytes, a stride through the rest.
        let tail_start = bytes.len().saturating_sub(600);
        let cuts = (0..tail_start).step_by(211).chain(tail_start..=bytes.len());
        for cut in cuts {
            let path = dir.join("mysql-bin.000001");
            fs::write(&path, &bytes[..cut]).unwrap();
            fs::write(dir.join("mysql-bin.index"), "./mysql-bin.000001\n").unwrap();
            let data = DataDir::open(dir.path()).unwrap();
            let rec = recover(&data).unwrap();
            let tail = rec.tail.unwrap();
            let want = expected_end(&bounds, cut as u64).max(4);
            assert_eq!(tail.len, want, "{rel} cut at {cut}");
            assert_eq!(fs::metadata(&path).unwrap().len(), want, "{rel} cut at {cut}: file length");
            let on_disk = fs::read(&path).unwrap();
            assert_eq!(
                &on_disk[..],
                &bytes[..want as usize],
                "{rel} cut at {cut}: kept bytes changed"
            );
            assert_eq!(tail.fd.is_some(), want > 4, "{rel} cut at {cut}");
        }
    }
}

#[test]
fn recover_adds_a_file_missing_from_the_index() {
    let dir = TestDir::new("recovery-index");
    let bytes = fixture("mysql_common/mariadb-bin.000001");
    fs::write(dir.join("mariadb-bin.000001"), &bytes).unwrap();
    fs::write(dir.join("mariadb-bin.000002"), &bytes[..4]).unwrap();
    fs::write(dir.join("mariadb-bin.index"), "./mariadb-bin.000001\n").unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let rec = recover(&data).unwrap();
    assert_eq!(rec.files.len(), 2);
    assert_eq!(rec.tail.unwrap().len, 4);
    assert_eq!(
        fs::read_to_string(dir.join("mariadb-bin.index")).unwrap(),
        "./mariadb-bin.000001\n./mariadb-bin.000002\n"
    );
}

#[test]
fn refuses_an_index_naming_a_missing_file_and_a_second_process() {
    let dir = TestDir::new("recovery-refuse");
    fs::write(dir.join("mysql-bin.000002"), b"\xfebin").unwrap();
    fs::write(dir.join("mysql-bin.index"), "./mysql-bin.000001\n./mysql-bin.000002\n").unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let err = recover(&data).unwrap_err().to_string();
    assert!(err.contains("mysql-bin.000001") && err.contains("not in the data directory"), "{err}");
    let second = DataDir::open(dir.path()).unwrap_err().to_string();
    assert!(second.contains("another binlogserver"), "{second}");
    drop(data);
    let missing = DataDir::open(&dir.join("nope")).unwrap_err().to_string();
    assert!(missing.contains("does not exist"), "{missing}");
}
