//! The MySQL flavour of the serving side, without a primary: real MySQL
//! 5.7 and 8.0 binlog files (`tests/fixtures/binlogs/`, provenance in its
//! README) copied into a data directory as `mysql-bin.000001`, … with a
//! `mysql-bin.index`, served by `binlogserver -d DIR --listen …` as they are
//! (point-in-time replay), and read with python-mysql-replication in MySQL
//! mode: by file and position (COM_BINLOG_DUMP) and by GTID set
//! (COM_BINLOG_DUMP_GTID), where only the transactions outside the set may
//! arrive.
//!
//! Chains of several files are used for file/position reads only: their
//! ROTATE/STOP endings fit the new names, but the GTID states of files from
//! different servers do not follow from each other, so GTID reads use a
//! single file.

use crate::common::{
    assert_received, bls_client, bls_log_excerpt, read_events, serve_dir, stored_file,
    try_read_events, Binlogserver, GtidState, ReadOpts, Start, TestDir, MYSQL_GTID_TYPE,
};
use std::fs;
use std::path::Path;

/// The account binlogserver serves the directory to.
const USER: &str = "reader";
const PASSWORD: &str = "readerpw";

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/binlogs");
/// 5.7.21, CRC32, 60 anonymous-GTID transactions, ends with a ROTATE to
/// `mysql-bin.000002`.
const MYSQL_5_7_21: &str = "shyiko_connector_java/mysql-bin.checksum-crc32";
/// 5.7.20, binlog_checksum=NONE, 40 anonymous-GTID transactions, ends with
/// STOP.
const MYSQL_5_7_20_NO_CRC: &str = "shyiko_connector_java/mysql-bin.checksum-none";
/// 5.7.40, PREVIOUS_GTIDS `58cf6502-…:1-52`, GTIDs :53-62, ends with XID.
const MYSQL_5_7_40: &str = "apecloud_connector_rust/mysql-bin.000080";
const UUID_5_7_40: &str = "58cf6502-63db-11ed-8079-0242ac110002";
/// 8.0.26, GTIDs `97c7af02-…:1-5`, ends with STOP.
const MYSQL_8_0_26: &str = "mysql_common/binlog-invisible-columns.000001";
/// 8.0.28, empty PREVIOUS_GTIDS, GTIDs `93e95066-…:1-5`, IN_USE, ends with
/// XID.
const MYSQL_8_0_28: &str = "mysql_common/mysql-enum-string-set.000001";
const UUID_8_0_28: &str = "93e95066-a2f4-11ec-9b69-9657f0ae95e2";
/// 8.0.31, PREVIOUS_GTIDS `76f3e7be-…:1-10`, GTID :11 DDL, :12 and :13
/// each a TRANSACTION_PAYLOAD (zstd).
const MYSQL_8_0_31: &str = "apecloud_connector_rust/mysql-bin.000057";
const UUID_8_0_31: &str = "76f3e7be-6720-11ed-9cad-0242ac110002";

/// A data directory holding `fixtures` as `mysql-bin.000001`, … in that
/// order, with a `mysql-bin.index` naming them.
struct FixtureDir {
    dir: TestDir,
    names: Vec<String>,
}

impl FixtureDir {
    fn new(fixtures: &[&str]) -> FixtureDir {
        let dir = TestDir::new("mysql-fixtures");
        let mut names = Vec::new();
        let mut index = String::new();
        for (i, fixture) in fixtures.iter().enumerate() {
            let name = format!("mysql-bin.{:06}", i + 1);
            let from = Path::new(FIXTURES).join(fixture);
            fs::copy(&from, dir.join(&name))
                .unwrap_or_else(|e| panic!("copy {} to {name}: {e}", from.display()));
            index.push_str(&format!("./{name}\n"));
            names.push(name);
        }
        fs::write(dir.join("mysql-bin.index"), index).expect("write mysql-bin.index");
        FixtureDir { dir, names }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The files as they were copied, for the check that serving changed
    /// nothing.
    fn assert_unchanged(&self, fixtures: &[&str]) {
        for (name, fixture) in self.names.iter().zip(fixtures) {
            let now = fs::read(self.dir.join(name)).expect("read a served file");
            let orig = fs::read(Path::new(FIXTURES).join(fixture)).expect("read a fixture");
            assert!(
                now == orig,
                "serving changed {name} (a copy of {fixture}): {} bytes, was {}",
                now.len(),
                orig.len()
            );
        }
    }
}

/// Serves `fixtures` and returns the directory, binlogserver and its port.
fn serve(fixtures: &[&str]) -> (FixtureDir, Binlogserver, u16) {
    let dir = FixtureDir::new(fixtures);
    let (bls, port) = serve_dir(dir.path(), USER, PASSWORD, &["--server-id", "77"]);
    (dir, bls, port)
}

fn mysql_read(port: u16) -> ReadOpts {
    ReadOpts { server_id: 4243, ..ReadOpts::new(port, USER, PASSWORD) }
}

/// Reads by file and position from `file`:`pos` and checks the events.
fn read_from_position(
    dir: &FixtureDir,
    bls: &Binlogserver,
    port: u16,
    file: &str,
    pos: u64,
    checksums: bool,
) {
    let read = read_events(&ReadOpts {
        log_file: Some(file.to_owned()),
        log_pos: Some(pos),
        ..mysql_read(port)
    });
    assert_received(
        &read,
        dir.path(),
        &dir.names,
        &Start::Position(file.to_owned(), pos),
        &[],
        checksums,
        &|| format!("binlogserver log, last lines:\n{}", bls_log_excerpt(bls, 40)),
    );
}

/// Reads by GTID set and checks the events, and that exactly `expected`
/// GTIDs arrived.
fn read_from_gtid_set(
    dir: &FixtureDir,
    bls: &Binlogserver,
    port: u16,
    set: &str,
    expected: &[String],
) {
    let read = read_events(&ReadOpts { gtid: Some(set.to_owned()), ..mysql_read(port) });
    assert_received(
        &read,
        dir.path(),
        &dir.names,
        &Start::Gtid(GtidState::parse(set)),
        &[],
        true,
        &|| format!("binlogserver log, last lines:\n{}", bls_log_excerpt(bls, 40)),
    );
    let got: Vec<String> = read
        .events
        .iter()
        .filter(|e| e.type_code == MYSQL_GTID_TYPE)
        .filter_map(|e| e.gtid.clone())
        .map(|g| g.to_ascii_lowercase())
        .collect();
    assert_eq!(got, expected, "GTIDs received for the set {set}");
}

/// The offset of the `n`th (0-based) GTID-like event (GTID or
/// ANONYMOUS_GTID) of `file`.
fn nth_transaction_offset(dir: &FixtureDir, file: &str, n: usize) -> u64 {
    let f = stored_file(dir.path(), file);
    let starts: Vec<u64> = f
        .events
        .iter()
        .filter(|e| matches!(e.info.type_code, 33 | 34))
        .map(|e| e.info.offset as u64)
        .collect();
    *starts.get(n).unwrap_or_else(|| panic!("{file} has only {} transactions", starts.len()))
}

fn gtids(uuid: &str, range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|n| format!("{uuid}:{n}")).collect()
}

/// SHOW BINARY LOGS on binlogserver lists the files with their sizes.
fn assert_show_binary_logs(dir: &FixtureDir, port: u16) {
    let out = bls_client(port, USER, PASSWORD)
        .arg("-e")
        .arg("SHOW BINARY LOGS")
        .output()
        .expect("run mariadb");
    assert!(
        out.status.success(),
        "SHOW BINARY LOGS failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next().unwrap_or_default().to_owned();
            let size = cols
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("bad SHOW BINARY LOGS row {l:?}"));
            (name, size)
        })
        .collect();
    let expected: Vec<(String, u64)> = dir
        .names
        .iter()
        .map(|n| {
            let len = fs::metadata(dir.dir.join(n)).expect("stat").len();
            (n.clone(), len)
        })
        .collect();
    assert_eq!(rows, expected, "SHOW BINARY LOGS of the served directory");
}

#[test]
fn mysql_5_7_chain_by_file_position() {
    // The 5.7.21 file ends with a ROTATE to mysql-bin.000002, the name the
    // second file gets here.
    let fixtures = [MYSQL_5_7_21, MYSQL_5_7_40];
    let (dir, bls, port) = serve(&fixtures);
    assert_show_binary_logs(&dir, port);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", 4, true);
    // From the middle of each file.
    let mid = nth_transaction_offset(&dir, "mysql-bin.000001", 30);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", mid, true);
    let mid = nth_transaction_offset(&dir, "mysql-bin.000002", 5);
    read_from_position(&dir, &bls, port, "mysql-bin.000002", mid, true);
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

#[test]
fn mysql_8_0_chain_by_file_position() {
    // 8.0.26 ends with STOP (a restart), then 8.0.28.
    let fixtures = [MYSQL_8_0_26, MYSQL_8_0_28];
    let (dir, bls, port) = serve(&fixtures);
    assert_show_binary_logs(&dir, port);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", 4, true);
    let third = nth_transaction_offset(&dir, "mysql-bin.000002", 2);
    read_from_position(&dir, &bls, port, "mysql-bin.000002", third, true);
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

#[test]
fn mysql_8_0_by_gtid_set() {
    let fixtures = [MYSQL_8_0_28];
    let (dir, bls, port) = serve(&fixtures);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", 4, true);
    // The client has :1-2: only :3-5 may arrive.
    let set = format!("{UUID_8_0_28}:1-2");
    read_from_gtid_set(&dir, &bls, port, &set, &gtids(UUID_8_0_28, 3..=5));
    // A set with a gap: :1 and :3 are had, :2, :4 and :5 arrive.
    let set = format!("{UUID_8_0_28}:1:3");
    let expected = [2, 4, 5].map(|n| format!("{UUID_8_0_28}:{n}")).to_vec();
    read_from_gtid_set(&dir, &bls, port, &set, &expected);
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

#[test]
fn mysql_5_7_by_gtid_set() {
    let fixtures = [MYSQL_5_7_40];
    let (dir, bls, port) = serve(&fixtures);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", 4, true);
    // The file starts after :1-52; the client has :1-57.
    let set = format!("{UUID_5_7_40}:1-57");
    read_from_gtid_set(&dir, &bls, port, &set, &gtids(UUID_5_7_40, 58..=62));
    // Exactly what the file starts after: everything in it arrives.
    let set = format!("{UUID_5_7_40}:1-52");
    read_from_gtid_set(&dir, &bls, port, &set, &gtids(UUID_5_7_40, 53..=62));
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

#[test]
fn mysql_8_0_31_transaction_payload_by_position_and_gtid_set() {
    let fixtures = [MYSQL_8_0_31];
    let (dir, bls, port) = serve(&fixtures);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", 4, true);
    let set = format!("{UUID_8_0_31}:1-12");
    read_from_gtid_set(&dir, &bls, port, &set, &gtids(UUID_8_0_31, 13..=13));
    let set = format!("{UUID_8_0_31}:1-10");
    read_from_gtid_set(&dir, &bls, port, &set, &gtids(UUID_8_0_31, 11..=13));
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

#[test]
fn mysql_5_7_without_checksums_by_file_position() {
    let fixtures = [MYSQL_5_7_20_NO_CRC];
    let (dir, bls, port) = serve(&fixtures);
    let value = bls_client(port, USER, PASSWORD)
        .arg("-e")
        .arg("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'")
        .output()
        .expect("run mariadb");
    let row = String::from_utf8_lossy(&value.stdout).trim().to_owned();
    assert_eq!(
        row.split('\t').nth(1),
        Some("NONE"),
        "BINLOG_CHECKSUM of a directory without checksums: {row:?} {}",
        String::from_utf8_lossy(&value.stderr)
    );
    read_from_position(&dir, &bls, port, "mysql-bin.000001", 4, false);
    let mid = nth_transaction_offset(&dir, "mysql-bin.000001", 20);
    read_from_position(&dir, &bls, port, "mysql-bin.000001", mid, false);
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

/// python-mysql-replication names no file in `COM_BINLOG_DUMP_GTID` with
/// three NUL bytes, which a MySQL primary reads as an empty C string: the
/// dump starts in the newest file whose PREVIOUS_GTIDS the set holds, not in
/// the first file (with the set's transactions skipped). The set holds all
/// of the 8.0.28 file and the 8.0.31 file's PREVIOUS_GTIDS, so the read
/// must open with a ROTATE to `mysql-bin.000002` (checked by
/// `assert_received`, which expects the stream from that file on).
#[test]
fn mysql_gtid_set_with_a_nul_file_name_starts_in_the_file_the_set_reaches() {
    let fixtures = [MYSQL_8_0_28, MYSQL_8_0_31];
    let (dir, bls, port) = serve(&fixtures);
    let set = format!("{UUID_8_0_28}:1-5,{UUID_8_0_31}:1-10");
    read_from_gtid_set(&dir, &bls, port, &set, &gtids(UUID_8_0_31, 11..=13));
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

/// Beyond the brief's list, what a MySQL primary does: a client whose GTID
/// set lacks transactions that are only in files the server no longer has
/// (here :1-52, before the first file) is refused with error 1236, rather
/// than silently given the rest.
#[test]
fn mysql_gtid_set_missing_purged_transactions_is_refused() {
    let fixtures = [MYSQL_5_7_40];
    let (dir, bls, port) = serve(&fixtures);
    let set = format!("{UUID_5_7_40}:1-10");
    match try_read_events(&ReadOpts { gtid: Some(set.clone()), ..mysql_read(port) }) {
        Ok(read) => panic!(
            "a client with {set} got {} events instead of an error; GTIDs: {:?}",
            read.events.len(),
            read.events.iter().filter_map(|e| e.gtid.clone()).collect::<Vec<_>>()
        ),
        Err(e) => assert!(e.contains("1236"), "expected error 1236: {e}"),
    }
    bls.assert_running();
    dir.assert_unchanged(&fixtures);
}

/// SHOW MASTER STATUS of a MySQL directory: the last file, its size and
/// (MySQL's fifth column) the executed GTID set, which is the first file's
/// PREVIOUS_GTIDS plus every GTID in the files; `@@GLOBAL.gtid_executed`
/// is the same set (what go-mysql and MySQL tooling read).
#[test]
fn mysql_show_master_status_has_the_executed_gtid_set() {
    for (fixture, set) in [
        (MYSQL_5_7_40, format!("{UUID_5_7_40}:1-62")),
        (MYSQL_8_0_28, format!("{UUID_8_0_28}:1-5")),
        (MYSQL_8_0_31, format!("{UUID_8_0_31}:1-13")),
    ] {
        let fixtures = [fixture];
        let (dir, bls, port) = serve(&fixtures);
        let size = fs::metadata(dir.dir.join("mysql-bin.000001")).expect("stat").len();
        let status =
            crate::common::run_vertical(bls_client(port, USER, PASSWORD), "SHOW MASTER STATUS")
                .unwrap_or_else(|e| panic!("SHOW MASTER STATUS failed: {e}"));
        let rows = crate::common::vertical_rows(&status);
        assert_eq!(rows.len(), 1, "SHOW MASTER STATUS for {fixture}:\n{status}");
        let get = |k: &str| rows[0].get(k).cloned().unwrap_or_default();
        assert_eq!(
            (get("File"), get("Position"), get("Executed_Gtid_Set")),
            ("mysql-bin.000001".to_owned(), size.to_string(), set.clone()),
            "SHOW MASTER STATUS for {fixture}:\n{status}\nbinlogserver log:\n{}",
            bls_log_excerpt(&bls, 20)
        );
        let out = bls_client(port, USER, PASSWORD)
            .arg("-e")
            .arg("SELECT @@GLOBAL.gtid_executed")
            .output()
            .expect("run mariadb");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            set,
            "@@GLOBAL.gtid_executed for {fixture}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bls.assert_running();
        dir.assert_unchanged(&fixtures);
    }
}
