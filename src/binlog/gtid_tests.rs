//! Unit tests of `gtid.rs`, with events taken from the fixture binlogs.

use super::*;
use crate::binlog::checksum::verify_event;

/// `mariadb-repl-bin.000005` @349: GTID 0-10-262581, flags2 0x0c, flags_extra 0x10, thread 170.
const MARIA_GTID: [u8; 42] = [
    0x79, 0x3c, 0x54, 0x69, 0xa2, 0x0a, 0, 0, 0, 0x2a, 0, 0, 0, 0x87, 0x01, 0, 0, 0x08, 0, 0xb5,
    0x01, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0x10, 0xaa, 0, 0, 0, 0, 0xea, 0x96, 0xcf, 0xe3,
];

/// `mariadb-repl-bin.000005` @256: GTID_LIST `0-10-262580`.
const MARIA_GTID_LIST: [u8; 43] = [
    0x79, 0x3c, 0x54, 0x69, 0xa3, 0x0a, 0, 0, 0, 0x2b, 0, 0, 0, 0x2b, 0x01, 0, 0, 0, 0, 0x01, 0, 0,
    0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0xb4, 0x01, 0x04, 0, 0, 0, 0, 0, 0xfb, 0xff, 0xd9, 0x74,
];

/// `mysql-enum-string-set.000001` @157: GTID `93e95066-a2f4-11ec-9b69-9657f0ae95e2:1`.
const MYSQL_GTID: [u8; 79] = [
    0x67, 0x2c, 0x2e, 0x62, 0x21, 0x01, 0, 0, 0, 0x4f, 0, 0, 0, 0xec, 0, 0, 0, 0, 0, 0x01, 0x93,
    0xe9, 0x50, 0x66, 0xa2, 0xf4, 0x11, 0xec, 0x9b, 0x69, 0x96, 0x57, 0xf0, 0xae, 0x95, 0xe2, 0x01,
    0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x9d, 0x65, 0x10,
    0x0d, 0x1d, 0xda, 0x05, 0xfc, 0x50, 0x01, 0x9c, 0x38, 0x01, 0, 0xd7, 0x63, 0xce, 0x55,
];

#[test]
fn decodes_a_mariadb_11_gtid_event() {
    verify_event(&MARIA_GTID, ChecksumAlg::CRC32).unwrap();
    let g = MariaGtid::decode_event(&MARIA_GTID).unwrap();
    assert_eq!(g, MariaGtid { domain_id: 0, server_id: 10, seq_no: 262_581, flags2: 0x0c });
    assert!(!g.is_standalone());
    assert_eq!(g.to_string(), "0-10-262581");
    assert_eq!("0-10-262581".parse::<MariaGtid>().unwrap().triple(), g.triple());
}

#[test]
fn rejects_every_truncation_of_a_gtid_event() {
    for cut in 0..MARIA_GTID.len() {
        assert!(MariaGtid::decode_event(&MARIA_GTID[..cut]).is_err(), "{cut}");
    }
    for cut in 0..MYSQL_GTID.len() {
        assert!(MysqlGtid::decode_event(&MYSQL_GTID[..cut]).is_err(), "{cut}");
    }
}

#[test]
fn decodes_and_round_trips_a_gtid_list() {
    let list = MariaGtidList::decode_event(&MARIA_GTID_LIST, ChecksumAlg::CRC32).unwrap();
    assert_eq!(list.flags, 0);
    assert_eq!(list.gtids, vec![GtidTriple { domain_id: 0, server_id: 10, seq_no: 262_580 }]);
    let h = EventHeader::parse(&MARIA_GTID_LIST).unwrap();
    let again = list.encode_event(h.timestamp, h.server_id, h.log_pos, h.flags, ChecksumAlg::CRC32);
    assert_eq!(again, MARIA_GTID_LIST);
}

#[test]
fn rejects_every_truncation_and_trailing_bytes_of_a_gtid_list() {
    for cut in 0..MARIA_GTID_LIST.len() {
        assert!(
            MariaGtidList::decode_event(&MARIA_GTID_LIST[..cut], ChecksumAlg::CRC32).is_err(),
            "{cut}"
        );
    }
    // Without a CRC the 4 CRC bytes are 4 bytes too many for the list.
    assert!(matches!(
        MariaGtidList::decode_event(&MARIA_GTID_LIST, ChecksumAlg::OFF),
        Err(DecodeError::Trailing { what: "MariaGtidList", extra: 4 })
    ));
}

#[test]
fn rejects_a_huge_count_before_allocating() {
    let list = MariaGtidList { gtids: vec![], flags: 0 };
    let mut event = list.encode_event(0, 1, 0, 0, ChecksumAlg::OFF);
    event[19..23].copy_from_slice(&0x0fff_ffffu32.to_le_bytes());
    assert!(matches!(
        MariaGtidList::decode_event(&event, ChecksumAlg::OFF),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn skips_sub_ids_when_flag_ign_gtids_is_set() {
    let list = MariaGtidList { gtids: vec!["1-2-3".parse().unwrap()], flags: 0 };
    let mut event = list.encode_event(0, 1, 0, 0, ChecksumAlg::OFF);
    event[22] |= MariaGtidList::FLAG_IGN_GTIDS << 4;
    event.extend_from_slice(&[9; 8]);
    event[9] += 8;
    let decoded = MariaGtidList::decode_event(&event, ChecksumAlg::OFF).unwrap();
    assert_eq!(decoded.gtids, list.gtids);
    assert_eq!(decoded.flags, MariaGtidList::FLAG_IGN_GTIDS);
}

#[test]
fn decodes_and_prints_a_mysql_gtid() {
    let g = MysqlGtid::decode_event(&MYSQL_GTID).unwrap();
    assert_eq!(g.to_string(), "93e95066-a2f4-11ec-9b69-9657f0ae95e2:1");
    assert!(!g.is_anonymous());
    let mut anonymous = MYSQL_GTID;
    anonymous[4] = EventType::ANONYMOUS_GTID.0;
    anonymous[20..44].fill(0);
    let a = MysqlGtid::decode_event(&anonymous).unwrap();
    assert!(a.is_anonymous());
    assert_eq!(a.to_string(), "00000000-0000-0000-0000-000000000000:0");
    let mut other = MYSQL_GTID;
    other[4] = EventType::GTID_TAGGED.0;
    assert!(matches!(MysqlGtid::decode_event(&other), Err(DecodeError::Invalid { value: 42, .. })));
}

#[test]
fn parses_and_prints_gtid_triples() {
    let max = "4294967295-4294967295-18446744073709551615";
    assert_eq!(max.parse::<GtidTriple>().unwrap().to_string(), max);
}

#[test]
fn rejects_bad_gtid_strings() {
    for bad in [
        "",
        "0-1",
        "0-1-2-3",
        "a-1-2",
        "0--2",
        "+0-1-2",
        "0-1-2 ",
        "4294967296-1-2",
        "0-1-18446744073709551616",
    ] {
        assert!(bad.parse::<GtidTriple>().is_err(), "{bad:?}");
    }
}

/// `mariadb-bin.000001` @256: an empty GTID_LIST, padded to a 6-byte body.
const EMPTY_GTID_LIST: [u8; 29] = [
    0x8f, 0x86, 0x60, 0x62, 0xa3, 0x01, 0, 0, 0, 0x1d, 0, 0, 0, 0x1d, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0xfe, 0xd4, 0xc2, 0x37,
];

#[test]
fn round_trips_an_empty_padded_gtid_list() {
    verify_event(&EMPTY_GTID_LIST, ChecksumAlg::CRC32).unwrap();
    let list = MariaGtidList::decode_event(&EMPTY_GTID_LIST, ChecksumAlg::CRC32).unwrap();
    assert_eq!(list, MariaGtidList::default());
    let h = EventHeader::parse(&EMPTY_GTID_LIST).unwrap();
    assert_eq!(
        list.encode_event(h.timestamp, h.server_id, h.log_pos, h.flags, ChecksumAlg::CRC32),
        EMPTY_GTID_LIST
    );
    // More than the 2 padding bytes is rejected.
    let mut longer = MariaGtidList::default().encode_event(0, 1, 0, 0, ChecksumAlg::OFF);
    longer.push(0);
    longer[9] += 1;
    assert!(matches!(
        MariaGtidList::decode_event(&longer, ChecksumAlg::OFF),
        Err(DecodeError::Trailing { extra: 3, .. })
    ));
}
