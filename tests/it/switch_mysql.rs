//! The MySQL flavour of the checked switch (PREVIOUS_GTIDS against the
//! executed GTID set at the end of our files), without a live MySQL: a
//! binlogserver serving a real MySQL 5.7 binlog plus a next file built with
//! a chosen PREVIOUS_GTIDS plays the promoted primary, and a second
//! binlogserver holding the same MySQL file is started with `--start-file`
//! naming the next file. The fixture's executed set ends at
//! `58cf6502-…:1-62`: a next file starting with exactly that set is
//! continued with, byte for byte; one lacking `:62` or holding `:63` is
//! refused, naming the GTIDs, and nothing is written.

use std::fs;
use std::path::Path;
use std::time::Duration;

use binlogserver::binlog::checksum::compute_event_crc;
use binlogserver::binlog::gtid_set::GtidSet;
use binlogserver::binlog::{EventHeader, EventType};

use crate::common::{
    assert_dir_unchanged, serve_dir, snapshot_dir, wait_until_ok, Binlogserver, TestDir,
    FOLLOW_ARGS, REPL_PASSWORD, REPL_USER,
};

/// 5.7.40, CRC32: PREVIOUS_GTIDS `58cf6502-…:1-52`, GTIDs :53-62, ends
/// with an XID (no ROTATE: as the last file of a primary that died).
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/binlogs/apecloud_connector_rust/mysql-bin.000080"
);
const UUID: &str = "58cf6502-63db-11ed-8079-0242ac110002";
const OURS: &str = "mysql-bin.000080";
const NEXT: &str = "mysql-bin.000081";

/// A next file as a MySQL primary starts one: the magic, the fixture's
/// format description, a PREVIOUS_GTIDS of `set`.
fn next_file(set: &str) -> Vec<u8> {
    let fixture = fs::read(FIXTURE).unwrap();
    let fd_len = EventHeader::parse(&fixture[4..]).unwrap().event_len as usize;
    let mut file = fixture[..4 + fd_len].to_vec();
    let mut body = Vec::new();
    GtidSet::parse(set).unwrap().encode(&mut body);
    let len = 19 + body.len() + 4;
    let header = EventHeader {
        timestamp: 1_700_000_000,
        event_type: EventType::PREVIOUS_GTIDS,
        server_id: 2,
        event_len: u32::try_from(len).unwrap(),
        log_pos: u32::try_from(file.len() + len).unwrap(),
        flags: 0,
    };
    let mut event = Vec::new();
    header.encode(&mut event);
    event.extend_from_slice(&body);
    event.extend_from_slice(&[0; 4]);
    let crc = compute_event_crc(&event).unwrap();
    let n = event.len();
    event[n - 4..].copy_from_slice(&crc.to_le_bytes());
    file.extend_from_slice(&event);
    file
}

/// A data directory holding `files` (name, bytes) and their index.
fn dir_with(label: &str, files: &[(&str, Vec<u8>)]) -> TestDir {
    let dir = TestDir::new(label);
    let mut index = String::new();
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes).unwrap();
        index.push_str(&format!("./{name}\n"));
    }
    fs::write(dir.join("mysql-bin.index"), index).unwrap();
    fs::write(dir.join("binlogserver.lock"), "").unwrap();
    dir
}

/// binlogserver holding the fixture, started to continue with the next
/// file of the binlogserver serving `theirs` on `port`.
fn switch_to(port: u16, ours: &TestDir) -> Binlogserver {
    let args = [&FOLLOW_ARGS[..], &["--start-file", NEXT]].concat();
    Binlogserver::follow_port_as(port, ours.path(), "1002", &args)
}

/// The file `name` in `ours` equals the one in `theirs` (the format
/// description's in-use flag aside: the stream clears it).
fn same_file(ours: &Path, theirs: &Path, name: &str) -> Result<(), String> {
    let a = fs::read(ours.join(name)).map_err(|e| format!("{name} here: {e}"))?;
    let b = fs::read(theirs.join(name)).map_err(|e| format!("{name} there: {e}"))?;
    let differs = a.len() != b.len()
        || a.iter().zip(&b).enumerate().any(|(i, (x, y))| x != y && !(i == 21 && (x ^ y) == 1));
    if differs {
        Err(format!("{name}: {} bytes here, {} there, or other bytes", a.len(), b.len()))
    } else {
        Ok(())
    }
}

#[test]
fn a_next_file_whose_previous_gtids_equal_our_executed_set_is_continued() {
    let fixture = fs::read(FIXTURE).unwrap();
    let theirs = dir_with(
        "mysql-new-primary",
        &[(OURS, fixture.clone()), (NEXT, next_file(&format!("{UUID}:1-62")))],
    );
    let (_server, port) = serve_dir(theirs.path(), REPL_USER, REPL_PASSWORD, &["--server-id", "2"]);
    let ours = dir_with("mysql-ours", &[(OURS, fixture)]);
    let bls = switch_to(port, &ours);
    wait_until_ok(Duration::from_secs(30), "the next file stored", || {
        bls.assert_running();
        same_file(ours.path(), theirs.path(), NEXT)
    });
    same_file(ours.path(), theirs.path(), OURS).unwrap();
    let index = fs::read_to_string(ours.join("mysql-bin.index")).unwrap();
    assert_eq!(index, format!("./{OURS}\n./{NEXT}\n"));
    let log = bls.log();
    assert!(
        log.lines().any(|l| l.contains("switch checked") && l.contains(&format!("{UUID}:1-62"))),
        "{log}"
    );
}

#[test]
fn a_next_file_lacking_or_holding_one_more_gtid_is_refused() {
    let fixture = fs::read(FIXTURE).unwrap();
    for (set, needles) in [
        (
            format!("{UUID}:1-61"),
            ["the new primary lacks transactions binlogserver holds", &format!("{UUID}:62")],
        ),
        (
            format!("{UUID}:1-63"),
            ["the new primary holds transactions binlogserver does not", &format!("{UUID}:63")],
        ),
    ] {
        let theirs =
            dir_with("mysql-new-primary", &[(OURS, fixture.clone()), (NEXT, next_file(&set))]);
        let (_server, port) =
            serve_dir(theirs.path(), REPL_USER, REPL_PASSWORD, &["--server-id", "2"]);
        let ours = dir_with("mysql-ours", &[(OURS, fixture.clone())]);
        let before = snapshot_dir(ours.path());
        let bls = switch_to(port, &ours);
        bls.assert_failed_exit(Duration::from_secs(30), &format!("the next file starts at {set}"));
        bls.assert_error_logged(&needles);
        assert_dir_unchanged(&before, ours.path());
    }
}
