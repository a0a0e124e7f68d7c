//! Unit tests of the per-file checks of `verify`, on fixtures and on files
//! built from them.

use super::*;
use crate::binlog::checksum::compute_event_crc;
use crate::binlog::EventHeader;

const MARIADB: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");
/// MySQL 8.0.26: PREVIOUS_GTIDS [], five GTIDs of one uuid, ends with STOP.
const MYSQL: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/mysql_common/binlog-invisible-columns.000001");

fn name(n: &str) -> BinlogFileName {
    BinlogFileName::new(n).unwrap()
}

/// A second MySQL file: the magic, the fixture's FD, a PREVIOUS_GTIDS of `set`.
fn mysql_next_file(set: &GtidSet) -> Vec<u8> {
    let fd_len = EventHeader::parse(&MYSQL[4..]).unwrap().event_len as usize;
    let mut file = MYSQL[..4 + fd_len].to_vec();
    let mut body = Vec::new();
    set.encode(&mut body);
    let len = 19 + body.len() + 4;
    let end = file.len() + len;
    let header = EventHeader {
        timestamp: 1,
        event_type: EventType::PREVIOUS_GTIDS,
        server_id: 1,
        event_len: u32::try_from(len).unwrap(),
        log_pos: u32::try_from(end).unwrap(),
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

#[test]
fn mysql_previous_gtids_must_continue_the_previous_file() {
    let next = name("binlog.000002");
    let good = GtidSet::parse("97c7af02-4c50-11ec-acd8-681842034964:1-5").unwrap();
    let bad = GtidSet::parse("97c7af02-4c50-11ec-acd8-681842034964:1-4").unwrap();
    for (set, ok) in [(good, true), (bad, false)] {
        let mut chain = Chain::default();
        let first = check_file(
            MYSQL,
            Place { next: Some(&next), next_after_start: false, growing: false },
            &mut chain,
        );
        assert!(first.problems.is_empty(), "{:?}", first.problems);
        assert_eq!(first.events, 22);
        let second = check_file(
            &mysql_next_file(&set),
            Place { next: None, next_after_start: false, growing: false },
            &mut chain,
        );
        assert_eq!(second.problems.is_empty(), ok, "{:?}", second.problems);
        if !ok {
            assert_eq!(second.problems[0].0, 4 + 121, "the PREVIOUS_GTIDS follows the FD");
            assert!(second.problems[0].1.contains("PREVIOUS_GTIDS"), "{:?}", second.problems);
        }
    }
}

#[test]
fn mariadb_seq_no_must_rise_within_a_domain() {
    let mut chain = Chain::default();
    let clean = check_file(
        MARIADB,
        Place { next: None, next_after_start: false, growing: false },
        &mut chain,
    );
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    assert_eq!(clean.gtids, Some(("0-1-1".into(), "0-1-2".into())));
    // Make the second GTID (at 702) repeat seq_no 1, with a valid CRC.
    let mut bytes = MARIADB.to_vec();
    let (off, len) = (702, 42);
    bytes[off + 19..off + 27].copy_from_slice(&1u64.to_le_bytes());
    let crc = compute_event_crc(&bytes[off..off + len]).unwrap();
    bytes[off + len - 4..off + len].copy_from_slice(&crc.to_le_bytes());
    let mut chain = Chain::default();
    let check = check_file(
        &bytes,
        Place { next: None, next_after_start: false, growing: false },
        &mut chain,
    );
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    assert_eq!(check.problems[0].0, 702);
    assert!(
        check.problems[0].1.contains("GTID 0-1-1 does not follow 0-1-1"),
        "{:?}",
        check.problems
    );
}

#[test]
fn file_ends_and_live_tails() {
    // Not the last file, but no ROTATE at the end.
    let mut chain = Chain::default();
    let next = name("mariadb-bin.000002");
    let check = check_file(
        MARIADB,
        Place { next: Some(&next), next_after_start: false, growing: false },
        &mut chain,
    );
    assert_eq!(check.problems.len(), 1);
    assert!(
        check.problems[0].1.contains("not a ROTATE to the next file mariadb-bin.000002"),
        "{:?}",
        check.problems
    );
    // The same when the next file begins after a server start: a note only.
    let check = check_file(
        MARIADB,
        Place { next: Some(&next), next_after_start: true, growing: false },
        &mut Chain::default(),
    );
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert!(check.note.unwrap().contains("ends without a ROTATE"));
    // A torn tail: a problem, unless the last file is still growing.
    let torn = &MARIADB[..MARIADB.len() - 5];
    let check = check_file(
        torn,
        Place { next: None, next_after_start: false, growing: false },
        &mut Chain::default(),
    );
    assert_eq!(check.problems.len(), 1);
    assert!(check.problems[0].1.starts_with("truncated"), "{:?}", check.problems);
    let check = check_file(
        torn,
        Place { next: None, next_after_start: false, growing: true },
        &mut Chain::default(),
    );
    assert!(check.problems.is_empty());
    assert!(check.note.unwrap().starts_with("live file"));
    // Not a binlog at all.
    let check = check_file(
        b"hello world",
        Place { next: None, next_after_start: false, growing: false },
        &mut Chain::default(),
    );
    assert_eq!(check.problems[0].0, 0);
}
