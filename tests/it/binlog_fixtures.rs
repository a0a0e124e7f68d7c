//! Golden tests of `binlogserver::binlog` over the real binlog files in
//! `tests/fixtures/binlogs/` (provenance in its README.md).
//!
//! Every fixture must scan clean to its end, with every CRC and `log_pos`
//! valid, and end at a transaction boundary; the per-file facts the README
//! states are checked against the bytes; cutting a file anywhere must leave
//! a scan that stops at the last whole transaction.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use binlogserver::binlog::*;

/// What the README says about one file (checked against the bytes).
struct Expected {
    /// Path under `tests/fixtures/binlogs/`.
    path: &'static str,
    /// Server version in the FD.
    server_version: &'static str,
    /// CRC32 or OFF.
    alg: ChecksumAlg,
    /// Number of event types in the FD's post-header array.
    types: usize,
    /// Event groups (transactions, DDL) in the file.
    groups: u64,
    /// Type of the last event.
    last: EventType,
}

const EXPECTED: &[Expected] = &[
    Expected {
        path: "shyiko_connector_java/mysql-bin.checksum-none",
        server_version: "5.7.20-log",
        alg: ChecksumAlg::OFF,
        types: 38,
        groups: 40,
        last: EventType::STOP,
    },
    Expected {
        path: "shyiko_connector_java/mysql-bin.checksum-crc32",
        server_version: "5.7.21-log",
        alg: ChecksumAlg::CRC32,
        types: 38,
        groups: 60,
        last: EventType::ROTATE,
    },
    Expected {
        path: "apecloud_connector_rust/mysql-bin.000080",
        server_version: "5.7.40-log",
        alg: ChecksumAlg::CRC32,
        types: 38,
        groups: 10,
        last: EventType::XID,
    },
    Expected {
        path: "mysql_common/binlog-invisible-columns.000001",
        server_version: "8.0.26",
        alg: ChecksumAlg::CRC32,
        types: 40,
        groups: 5,
        last: EventType::STOP,
    },
    Expected {
        path: "mysql_common/mysql-enum-string-set.000001",
        server_version: "8.0.28",
        alg: ChecksumAlg::CRC32,
        types: 41,
        groups: 5,
        last: EventType::XID,
    },
    Expected {
        path: "apecloud_connector_rust/mysql-bin.000057",
        server_version: "8.0.31",
        alg: ChecksumAlg::CRC32,
        types: 41,
        groups: 3,
        last: EventType::TRANSACTION_PAYLOAD,
    },
    Expected {
        path: "mysql_common/transaction_compression.000001",
        server_version: "8.0.32",
        alg: ChecksumAlg::CRC32,
        types: 41,
        groups: 1,
        last: EventType::ROTATE,
    },
    Expected {
        path: "mysql_common/binlog_transaction_with_GTID_TAG.000001",
        server_version: "9.6.0",
        alg: ChecksumAlg::CRC32,
        types: 42,
        groups: 1,
        last: EventType::ROTATE,
    },
    Expected {
        path: "mysql_common/mariadb-bin.000001",
        server_version: "10.5.15-MariaDB-1:10.5.15+maria~focal-log",
        alg: ChecksumAlg::CRC32,
        types: 171,
        groups: 2,
        last: EventType::XID,
    },
    Expected {
        path: "mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005",
        server_version: "11.8.5-MariaDB-ubu2404-log",
        alg: ChecksumAlg::CRC32,
        types: 171,
        groups: 87,
        last: EventType::ROTATE,
    },
    Expected {
        path: "mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000009",
        server_version: "11.8.5-MariaDB-ubu2404-log",
        alg: ChecksumAlg::CRC32,
        types: 171,
        groups: 3,
        last: EventType::STOP,
    },
    Expected {
        path: "mariadb_operator_poc/domain_id_1/mariadb-repl-bin.000002",
        server_version: "11.8.5-MariaDB-ubu2404-log",
        alg: ChecksumAlg::CRC32,
        types: 171,
        groups: 12,
        last: EventType::ROTATE,
    },
];

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/binlogs")
}

/// Every binlog file under the fixture root (not the README), relative, sorted.
fn list_fixtures() -> Vec<String> {
    fn visit(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, root, out);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = fixture_root();
    let mut out = Vec::new();
    visit(&root, &root, &mut out);
    out.sort();
    out
}

fn read(path: &str) -> Vec<u8> {
    fs::read(fixture_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The events of a clean file, with the FD.
fn walk_clean(buf: &[u8]) -> (Vec<ScannedEvent<'_>>, FormatDescription) {
    let mut w = walk(buf);
    let events: Vec<_> = w.by_ref().collect();
    assert_eq!(w.report().stop, None);
    (events, w.report().fd.clone().unwrap())
}

fn of_type<'a>(events: &[ScannedEvent<'a>], t: EventType) -> Vec<ScannedEvent<'a>> {
    events.iter().filter(|e| e.header.event_type == t).copied().collect()
}

fn mysql_gtids(events: &[ScannedEvent<'_>]) -> Vec<String> {
    of_type(events, EventType::GTID)
        .iter()
        .map(|e| MysqlGtid::decode_event(e.bytes).unwrap().to_string())
        .collect()
}

fn maria_gtids(events: &[ScannedEvent<'_>]) -> Vec<MariaGtid> {
    of_type(events, EventType::MARIADB_GTID)
        .iter()
        .map(|e| MariaGtid::decode_event(e.bytes).unwrap())
        .collect()
}

fn only_gtid_list(events: &[ScannedEvent<'_>], alg: ChecksumAlg) -> MariaGtidList {
    let lists = of_type(events, EventType::GTID_LIST);
    assert_eq!(lists.len(), 1);
    MariaGtidList::decode_event(lists[0].bytes, alg).unwrap()
}

fn last_rotate(events: &[ScannedEvent<'_>], alg: ChecksumAlg) -> Rotate {
    let last = events.last().unwrap();
    assert_eq!(last.header.event_type, EventType::ROTATE);
    Rotate::decode_event(last.bytes, alg).unwrap()
}

#[test]
fn every_fixture_scans_clean_to_a_transaction_boundary() {
    let found = list_fixtures();
    assert!(found.len() >= 12, "only {} fixture files: {found:?}", found.len());
    let listed: Vec<&str> = EXPECTED.iter().map(|e| e.path).collect();
    for path in &found {
        assert!(listed.contains(&path.as_str()), "{path} has no entry in EXPECTED");
    }
    for exp in EXPECTED {
        let buf = read(exp.path);
        let report = scan(&buf);
        let len = buf.len() as u64;
        assert_eq!(report.stop, None, "{}", exp.path);
        assert_eq!((report.events_end, report.last_trx_end), (len, len), "{}", exp.path);
        assert!(report.events > 0, "{}", exp.path);
        let fd = report.fd.clone().unwrap();
        assert_eq!(fd.server_version, exp.server_version, "{}", exp.path);
        assert_eq!(fd.checksum_alg, exp.alg, "{}", exp.path);
        assert_eq!(fd.post_header_lens.len(), exp.types, "{}", exp.path);
        assert_eq!(fd.is_mariadb(), exp.server_version.contains("MariaDB"), "{}", exp.path);

        let (events, _) = walk_clean(&buf);
        assert_eq!(events.len() as u64, report.events, "{}", exp.path);
        assert_eq!(events.last().unwrap().header.event_type, exp.last, "{}", exp.path);
        let mut boundary = TrxBoundary::new();
        let mut gtid_events = 0;
        for e in &events {
            verify_event(e.bytes, fd.checksum_alg).unwrap();
            assert!(
                e.header.log_pos == 0 || u64::from(e.header.log_pos) == e.end(),
                "{} @{}",
                exp.path,
                e.offset
            );
            assert_eq!(boundary.feed(e.bytes, &fd).unwrap(), e.at_boundary);
            let t = e.header.event_type;
            if [
                EventType::GTID,
                EventType::ANONYMOUS_GTID,
                EventType::GTID_TAGGED,
                EventType::MARIADB_GTID,
            ]
            .contains(&t)
            {
                gtid_events += 1;
            }
        }
        // Every group of these files starts with a GTID event of some kind.
        assert_eq!(boundary.completed(), exp.groups, "{}", exp.path);
        assert_eq!(gtid_events, exp.groups, "{}", exp.path);
    }
}

#[test]
fn mariadb_11_8_file_has_log_pos_0_inside_transactions_and_scans_clean() {
    let buf = read("mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005");
    let (events, fd) = walk_clean(&buf);
    assert_eq!(fd.create_timestamp, 0);
    let queries = of_type(&events, EventType::QUERY);
    assert_eq!(queries.len(), 348);
    assert!(queries.iter().all(|q| q.header.log_pos == 0 && !q.at_boundary));
    // GTIDs and XIDs keep their real end offsets.
    for e in
        of_type(&events, EventType::MARIADB_GTID).iter().chain(&of_type(&events, EventType::XID))
    {
        assert_eq!(u64::from(e.header.log_pos), e.end());
    }
    let list = only_gtid_list(&events, fd.checksum_alg);
    assert_eq!(list.gtids.iter().map(ToString::to_string).collect::<Vec<_>>(), ["0-10-262580"]);
    let gtids = maria_gtids(&events);
    assert_eq!(gtids.len(), 87);
    assert_eq!(gtids[0].to_string(), "0-10-262581");
    assert_eq!(gtids[0].flags2, 0x0c);
    assert!(gtids.iter().all(|g| !g.is_standalone()));
    assert!(gtids.windows(2).all(|w| w[1].seq_no == w[0].seq_no + 1));
    assert_eq!(gtids[86].to_string(), "0-10-262667");
    let checkpoints: Vec<u64> =
        of_type(&events, EventType::BINLOG_CHECKPOINT).iter().map(|e| e.offset).collect();
    assert_eq!(checkpoints, [299, 1196]);
    let rotate = last_rotate(&events, fd.checksum_alg);
    assert_eq!(
        (rotate.position, rotate.next_file.as_slice()),
        (4, b"mariadb-repl-bin.000006".as_slice())
    );
    let this = BinlogFileName::new("mariadb-repl-bin.000005").unwrap();
    assert_eq!(this.next(), Some(BinlogFileName::new(&rotate.next_file).unwrap()));
}

#[test]
fn mariadb_11_8_standalone_ddl_files() {
    let buf = read("mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000009");
    let (events, fd) = walk_clean(&buf);
    assert_ne!(fd.create_timestamp, 0, "first file after start-up");
    let list = only_gtid_list(&events, fd.checksum_alg);
    assert_eq!(list.gtids, ["0-10-292193".parse::<GtidTriple>().unwrap()]);
    let gtids = maria_gtids(&events);
    assert_eq!(
        gtids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["0-10-292194", "0-10-292195", "0-10-292196"]
    );
    assert!(gtids.iter().all(|g| g.flags2 == 0x29 && g.is_standalone()));

    let buf = read("mariadb_operator_poc/domain_id_1/mariadb-repl-bin.000002");
    let (events, fd) = walk_clean(&buf);
    assert!(only_gtid_list(&events, fd.checksum_alg).gtids.is_empty());
    let gtids = maria_gtids(&events);
    let expected: Vec<String> = (1..=12).map(|n| format!("1-10-{n}")).collect();
    assert_eq!(gtids.iter().map(ToString::to_string).collect::<Vec<_>>(), expected);
    assert!(gtids.iter().all(MariaGtid::is_standalone));
    assert_eq!(last_rotate(&events, fd.checksum_alg).next_file, b"mariadb-repl-bin.000003");
}

#[test]
fn mariadb_10_5_file_is_in_use_and_has_two_row_transactions() {
    let buf = read("mysql_common/mariadb-bin.000001");
    let (events, fd) = walk_clean(&buf);
    assert!(events[0].header.is_in_use());
    assert!(only_gtid_list(&events, fd.checksum_alg).gtids.is_empty());
    let gtids = maria_gtids(&events);
    assert_eq!(
        gtids.iter().map(|g| (g.to_string(), g.flags2)).collect::<Vec<_>>(),
        [("0-1-1".into(), 0x0c), ("0-1-2".into(), 0x0c)]
    );
    assert_eq!(of_type(&events, EventType::ANNOTATE_ROWS).len(), 2);
    assert_eq!(of_type(&events, EventType::WRITE_ROWS_V1).len(), 2);
}

#[test]
fn mysql_8_0_files_list_their_gtids() {
    let buf = read("mysql_common/mysql-enum-string-set.000001");
    let (events, _) = walk_clean(&buf);
    assert!(events[0].header.is_in_use());
    let expected: Vec<String> =
        (1..=5).map(|n| format!("93e95066-a2f4-11ec-9b69-9657f0ae95e2:{n}")).collect();
    assert_eq!(mysql_gtids(&events), expected);
    // An empty PREVIOUS_GTIDS: 8 zero bytes + CRC.
    assert_eq!(of_type(&events, EventType::PREVIOUS_GTIDS)[0].bytes.len(), 19 + 8 + 4);

    let buf = read("mysql_common/binlog-invisible-columns.000001");
    let gtids = mysql_gtids(&walk_clean(&buf).0);
    assert_eq!(gtids.len(), 5);
    assert!(gtids
        .iter()
        .enumerate()
        .all(|(i, g)| g.starts_with("97c7af02-") && g.ends_with(&format!(":{}", i + 1))));

    let buf = read("apecloud_connector_rust/mysql-bin.000057");
    let (events, _) = walk_clean(&buf);
    let expected: Vec<String> =
        (11..=13).map(|n| format!("76f3e7be-6720-11ed-9cad-0242ac110002:{n}")).collect();
    assert_eq!(mysql_gtids(&events), expected);
    assert_eq!(of_type(&events, EventType::TRANSACTION_PAYLOAD).len(), 2);
}

#[test]
fn mysql_5_7_files_checksums_and_rotate() {
    let buf = read("shyiko_connector_java/mysql-bin.checksum-none");
    let (events, fd) = walk_clean(&buf);
    assert_eq!(fd.checksum_alg, ChecksumAlg::OFF);
    // The FD still carries a valid CRC (docs/protocol.md §8.4); the others have none.
    verify_event(events[0].bytes, ChecksumAlg::CRC32).unwrap();
    assert_eq!(of_type(&events, EventType::ANONYMOUS_GTID).len(), 40);

    let buf = read("shyiko_connector_java/mysql-bin.checksum-crc32");
    let (events, fd) = walk_clean(&buf);
    assert_eq!(of_type(&events, EventType::ANONYMOUS_GTID).len(), 60);
    let rotate = last_rotate(&events, fd.checksum_alg);
    assert_eq!((rotate.position, rotate.next_file.as_slice()), (4, b"mysql-bin.000002".as_slice()));

    let buf = read("apecloud_connector_rust/mysql-bin.000080");
    let (events, fd) = walk_clean(&buf);
    assert_eq!(fd.create_timestamp, 0);
    let expected: Vec<String> =
        (53..=62).map(|n| format!("58cf6502-63db-11ed-8079-0242ac110002:{n}")).collect();
    assert_eq!(mysql_gtids(&events), expected);
    assert!(of_type(&events, EventType::GTID).iter().all(|e| e.bytes.len() == 65));
}

#[test]
fn mysql_compressed_and_tagged_files() {
    let buf = read("mysql_common/transaction_compression.000001");
    let (events, fd) = walk_clean(&buf);
    assert_eq!(fd.create_timestamp, 0);
    let types: Vec<EventType> = events.iter().map(|e| e.header.event_type).collect();
    assert_eq!(
        types,
        [
            EventType::FORMAT_DESCRIPTION,
            EventType::PREVIOUS_GTIDS,
            EventType::ANONYMOUS_GTID,
            EventType::TRANSACTION_PAYLOAD,
            EventType::ROTATE
        ]
    );
    assert_eq!(events[3].offset, 274);
    assert!(MysqlGtid::decode_event(events[2].bytes).unwrap().is_anonymous());
    assert_eq!(last_rotate(&events, fd.checksum_alg).next_file, b"binlog.000043");

    let buf = read("mysql_common/binlog_transaction_with_GTID_TAG.000001");
    let (events, fd) = walk_clean(&buf);
    assert_eq!(of_type(&events, EventType::GTID_TAGGED).len(), 1);
    assert_eq!(last_rotate(&events, fd.checksum_alg).next_file, b"binlog.000005");
}

#[test]
fn real_rotate_and_gtid_list_events_re_encode_byte_for_byte() {
    for exp in EXPECTED {
        let buf = read(exp.path);
        let (events, fd) = walk_clean(&buf);
        for e in &events {
            let h = e.header;
            let again = match h.event_type {
                EventType::ROTATE => Rotate::decode_event(e.bytes, fd.checksum_alg)
                    .unwrap()
                    .encode_event(h.timestamp, h.server_id, h.log_pos, h.flags, fd.checksum_alg),
                EventType::GTID_LIST => MariaGtidList::decode_event(e.bytes, fd.checksum_alg)
                    .unwrap()
                    .encode_event(h.timestamp, h.server_id, h.log_pos, h.flags, fd.checksum_alg),
                _ => continue,
            };
            assert_eq!(again, e.bytes, "{} @{}", exp.path, e.offset);
        }
    }
}

#[test]
fn a_resent_fd_has_the_same_origin() {
    let buf = read("mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000009");
    let stored = walk_clean(&buf).0[0].bytes.to_vec();
    // What a primary sends when a replica resumes mid-file.
    let mut resent = stored.clone();
    resent[13..17].fill(0);
    resent[17] &= !1;
    resent[19 + 52..19 + 56].fill(0);
    let n = resent.len();
    let crc = crc32(&resent[..n - 4]);
    resent[n - 4..].copy_from_slice(&crc.to_le_bytes());
    verify_event(&resent, ChecksumAlg::CRC32).unwrap();
    assert!(FormatDescription::same_origin(&stored, &resent));
    let other = read("mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005");
    assert!(!FormatDescription::same_origin(&stored, walk_clean(&other).0[0].bytes));
}

/// Cuts `buf` at `cuts` and checks each scan against the full one.
fn check_cuts(path: &str, buf: &[u8], cuts: impl Iterator<Item = usize>) {
    let (events, _) = walk_clean(buf);
    let boundaries: Vec<u64> = std::iter::once(4)
        .chain(events.iter().filter(|e| e.at_boundary).map(|e| e.end()))
        .collect();
    let ends: Vec<u64> = std::iter::once(4).chain(events.iter().map(|e| e.end())).collect();
    let mut seen = BTreeMap::new();
    for cut in cuts {
        let report = scan(&buf[..cut]);
        let cut = cut as u64;
        if cut < 4 {
            assert_eq!((report.events_end, report.last_trx_end), (0, 0), "{path} cut {cut}");
            continue;
        }
        let events_end = ends.iter().copied().filter(|&e| e <= cut).max().unwrap();
        let last_trx_end = boundaries.iter().copied().filter(|&b| b <= events_end).max().unwrap();
        assert_eq!(report.events_end, events_end, "{path} cut {cut}");
        assert_eq!(report.last_trx_end, last_trx_end, "{path} cut {cut}");
        assert!(report.last_trx_end <= cut);
        assert_eq!(report.stop.is_none(), events_end == cut, "{path} cut {cut}: {:?}", report.stop);
        if let Some(stop) = report.stop {
            assert!(
                matches!(stop, ScanStop::Torn { offset, .. } if offset == events_end),
                "{path} cut {cut}: {stop:?}"
            );
        }
        *seen.entry(last_trx_end).or_insert(0u32) += 1;
    }
    assert!(seen.len() > 1, "{path}: the cuts must cross group boundaries");
}

#[test]
fn torn_tails_cut_back_to_the_last_whole_transaction() {
    // Every cut of one MariaDB and one MySQL file.
    for path in [
        "mariadb_operator_poc/domain_id_1/mariadb-repl-bin.000002",
        "mysql_common/mysql-enum-string-set.000001",
    ] {
        let buf = read(path);
        check_cuts(path, &buf, 0..=buf.len());
    }
    // The 74 KB MariaDB 11.8 file (log_pos 0 inside transactions): cuts
    // around every event boundary and inside every event.
    let path = "mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005";
    let buf = read(path);
    let (events, _) = walk_clean(&buf);
    let mut cuts: Vec<usize> = (0..8).collect();
    for e in &events {
        let (start, len) = (usize::try_from(e.offset).unwrap(), e.bytes.len());
        cuts.extend([
            start + 1,
            start + 18,
            start + 19,
            start + len / 2,
            start + len - 1,
            start + len,
        ]);
    }
    cuts.retain(|&c| c <= buf.len());
    check_cuts(path, &buf, cuts.into_iter());
}
