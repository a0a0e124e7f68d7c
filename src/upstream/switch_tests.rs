//! The head of a new primary's file as a dump sends it, event by event:
//! real MariaDB and MySQL fixture events, and the cases that refuse.

use super::*;
use crate::binlog::gtid::GtidTriple;
use crate::binlog::scan::walk;
use crate::binlog::{Rotate, LOG_EVENT_ARTIFICIAL_F};

const MARIADB: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");
/// 5.7.40: PREVIOUS_GTIDS `58cf6502-…:1-52`, then GTIDs :53-62.
const MYSQL: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/apecloud_connector_rust/mysql-bin.000080");

fn name(s: &str) -> BinlogFileName {
    BinlogFileName::new(s).unwrap()
}

fn fake_rotate(file: &str, position: u64) -> Vec<u8> {
    Rotate { position, next_file: file.as_bytes().to_vec() }.encode_event(
        0,
        1,
        0,
        LOG_EVENT_ARTIFICIAL_F,
        ChecksumAlg::CRC32,
    )
}

fn events(image: &[u8]) -> Vec<Vec<u8>> {
    walk(image).map(|e| e.bytes.to_vec()).collect()
}

/// Feeds the fake ROTATE for `file` and `image`'s events until a result.
fn read_head(file: &str, image: &[u8]) -> Result<Option<GtidState>, UpstreamError> {
    let mut head = HeadReader::new(name(file), ChecksumAlg::CRC32);
    assert_eq!(head.on_event(&fake_rotate(file, 4))?, None);
    for event in events(image) {
        if let Some(state) = head.on_event(&event)? {
            return Ok(Some(state));
        }
    }
    Ok(None)
}

fn gtid_list(gtids: &[GtidTriple]) -> Vec<u8> {
    MariaGtidList { gtids: gtids.to_vec(), flags: 0 }.encode_event(
        1_700_000_000,
        2,
        300,
        0,
        ChecksumAlg::CRC32,
    )
}

#[test]
fn reads_the_gtid_list_of_a_mariadb_file_as_the_last_gtid_per_domain() {
    let state = read_head("mariadb-bin.000001", MARIADB).unwrap();
    assert_eq!(state, Some(GtidState::Mariadb(GtidPos::new())), "the fixture's list is empty");
    // A promoted replica's list: its own older pair of domain 0 first.
    let fd = events(MARIADB).remove(0);
    let mut head = HeadReader::new(name("mariadb-bin.000002"), ChecksumAlg::CRC32);
    head.on_event(&fake_rotate("mariadb-bin.000002", 4)).unwrap();
    head.on_event(&fd).unwrap();
    let list = [
        GtidTriple { domain_id: 0, server_id: 2, seq_no: 40 },
        GtidTriple { domain_id: 0, server_id: 1, seq_no: 105 },
        GtidTriple { domain_id: 1, server_id: 7, seq_no: 3 },
    ];
    let state = head.on_event(&gtid_list(&list)).unwrap();
    assert_eq!(state, Some(GtidState::Mariadb("0-1-105,1-7-3".parse().unwrap())));
}

#[test]
fn reads_the_previous_gtids_of_a_mysql_file() {
    let state = read_head("mysql-bin.000080", MYSQL).unwrap();
    let want = GtidSet::parse("58cf6502-63db-11ed-8079-0242ac110002:1-52").unwrap();
    assert_eq!(state, Some(GtidState::Mysql(want)));
}

#[test]
fn refuses_another_file_a_transaction_first_and_a_corrupt_list() {
    let mut head = HeadReader::new(name("mysql-bin.000124"), ChecksumAlg::CRC32);
    let err = head.on_event(&fake_rotate("mysql-bin.000125", 4)).unwrap_err();
    assert!(matches!(err, UpstreamError::SwitchRefused(_)), "{err}");
    assert!(err.to_string().contains("sends mysql-bin.000125 at 4"), "{err}");

    // The MariaDB fixture without its GTID_LIST: a GTID comes first.
    let mut evs = events(MARIADB);
    evs.remove(1);
    let mut head = HeadReader::new(name("mariadb-bin.000001"), ChecksumAlg::CRC32);
    head.on_event(&fake_rotate("mariadb-bin.000001", 4)).unwrap();
    let err = evs.iter().find_map(|e| head.on_event(e).err()).unwrap();
    assert!(err.to_string().contains("before a GTID_LIST or PREVIOUS_GTIDS"), "{err}");

    // A GTID_LIST whose CRC does not match.
    let mut head = HeadReader::new(name("mariadb-bin.000001"), ChecksumAlg::CRC32);
    head.on_event(&fake_rotate("mariadb-bin.000001", 4)).unwrap();
    head.on_event(&events(MARIADB)[0]).unwrap();
    let mut bad = gtid_list(&[GtidTriple { domain_id: 0, server_id: 1, seq_no: 5 }]);
    bad[20] ^= 1;
    assert!(matches!(head.on_event(&bad), Err(UpstreamError::Decode(_))));

    // Events before a format description.
    let mut head = HeadReader::new(name("mariadb-bin.000001"), ChecksumAlg::CRC32);
    assert!(head.on_event(&gtid_list(&[])).is_err());
}

#[test]
fn a_primary_that_has_no_such_file_is_a_refusal_with_the_fix() {
    let head = HeadReader::new(name("mysql-bin.000124"), ChecksumAlg::CRC32);
    let err = head.refused_by(ErrPacket::new(
        1236,
        b"HY000",
        "Could not find first log file name in binary log index file",
    ));
    assert!(matches!(err, UpstreamError::SwitchRefused(_)));
    assert!(err.to_string().contains("FLUSH BINARY LOGS on it until mysql-bin.000124"), "{err}");
    let other = head.refused_by(ErrPacket::new(1045, b"28000", "Access denied"));
    assert!(matches!(other, UpstreamError::MissingPrivilege { .. }), "{other:?}");
}

#[test]
fn the_state_at_our_end_comes_from_the_last_file_or_the_one_before_an_empty_one() {
    let dir = std::env::temp_dir().join(format!("bls-switch-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mysql-bin.000080"), MYSQL).unwrap();
    let executed = |end| match end_state(&dir, &name("mysql-bin.000080"), end).unwrap() {
        Some(GtidState::Mysql(set)) => set.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(executed(MYSQL.len() as u64), "58cf6502-63db-11ed-8079-0242ac110002:1-62");
    assert_eq!(executed(194), "58cf6502-63db-11ed-8079-0242ac110002:1-52");
    // A last file a crash left with just its magic.
    std::fs::write(dir.join("mysql-bin.000081"), crate::binlog::BINLOG_MAGIC).unwrap();
    let state = end_state(&dir, &name("mysql-bin.000081"), 4).unwrap();
    assert!(
        matches!(&state, Some(GtidState::Mysql(s)) if s.to_string().ends_with(":1-62")),
        "{state:?}"
    );
    std::fs::write(dir.join("mariadb-bin.000001"), MARIADB).unwrap();
    let state = end_state(&dir, &name("mariadb-bin.000001"), MARIADB.len() as u64).unwrap();
    assert!(matches!(state, Some(GtidState::Mariadb(_))), "{state:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
