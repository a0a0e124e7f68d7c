//! Unit tests of `scan.rs`, over real binlog files from `tests/fixtures`.

use super::*;
use crate::binlog::checksum::{compute_event_crc, ChecksumAlg};

/// MariaDB 10.5.15, CRC, 13 events, two GTID groups ending with XID.
const MARIADB_10_5: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");
/// MySQL 8.0.32, CRC: FD, PREVIOUS_GTIDS, ANONYMOUS_GTID, TRANSACTION_PAYLOAD, ROTATE.
const MYSQL_8_0_32: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/mysql_common/transaction_compression.000001");
/// MySQL 5.7.20 without CRC, ends with STOP.
const MYSQL_5_7_NONE: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/shyiko_connector_java/mysql-bin.checksum-none");

fn assert_invariants(buf: &[u8], report: &ScanReport) {
    assert!(report.last_trx_end <= report.events_end, "{report:?}");
    assert!(report.events_end <= buf.len() as u64, "{report:?}");
    if report.stop.is_none() {
        assert_eq!(report.events_end, buf.len() as u64, "{report:?}");
    }
}

/// Rewrites the CRC of the event at `offset` (CRC files only).
fn fix_crc(buf: &mut [u8], offset: usize) {
    let len = EventHeader::parse(&buf[offset..]).unwrap().event_len as usize;
    let event = &mut buf[offset..offset + len];
    let crc = compute_event_crc(event).unwrap();
    event[len - 4..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn scans_whole_fixtures_to_the_end() {
    for (buf, events, alg) in [
        (MARIADB_10_5, 13, ChecksumAlg::CRC32),
        (MYSQL_8_0_32, 5, ChecksumAlg::CRC32),
        (MYSQL_5_7_NONE, 191, ChecksumAlg::OFF),
    ] {
        let report = scan(buf);
        assert_eq!(report.stop, None);
        assert_eq!(report.events, events);
        assert_eq!(report.events_end, buf.len() as u64);
        assert_eq!(report.last_trx_end, buf.len() as u64);
        assert_eq!(report.fd.unwrap().checksum_alg, alg);
    }
}

#[test]
fn walk_yields_events_back_to_back() {
    let mut next = 4;
    let mut boundaries = Vec::new();
    let mut w = walk(MARIADB_10_5);
    for event in w.by_ref() {
        assert_eq!(event.offset, next);
        assert_eq!(event.bytes.len() as u64, u64::from(event.header.event_len));
        next = event.end();
        if event.at_boundary {
            boundaries.push(event.end());
        }
    }
    assert_eq!(next, MARIADB_10_5.len() as u64);
    // FD, GTID_LIST, BINLOG_CHECKPOINT, then the two XIDs.
    assert_eq!(boundaries, [256, 285, 330, 702, 1074]);
    assert_eq!(w.report().events, 13);
}

#[test]
fn every_prefix_stops_at_the_last_whole_group() {
    let full: Vec<u64> = walk(MARIADB_10_5).filter(|e| e.at_boundary).map(|e| e.end()).collect();
    for cut in 0..=MARIADB_10_5.len() {
        let buf = &MARIADB_10_5[..cut];
        let report = scan(buf);
        assert_invariants(buf, &report);
        let expected = full
            .iter()
            .copied()
            .filter(|&b| b <= cut as u64)
            .max()
            .unwrap_or(if cut >= 4 { 4 } else { 0 });
        assert_eq!(report.last_trx_end, expected, "cut {cut}");
        if cut < 4 {
            assert_eq!(report.stop, Some(ScanStop::Torn { offset: 0, need: 4 }));
        } else if report.stop.is_some() {
            assert!(
                matches!(
                    report.stop,
                    Some(ScanStop::Torn { offset, .. }) if offset == report.events_end
                ),
                "{cut}"
            );
        }
    }
}

#[test]
fn never_panics_on_mutated_files() {
    for base in [MARIADB_10_5, MYSQL_8_0_32, MYSQL_5_7_NONE] {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for pos in 0..base.len().min(1200) {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut buf = base.to_vec();
                buf[pos] ^= mask;
                assert_invariants(&buf, &scan(&buf));
            }
            // A few random bytes at once, and a random cut.
            let mut buf = base.to_vec();
            for _ in 0..4 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let at = (seed >> 33) as usize % buf.len();
                buf[at] = (seed >> 13).to_le_bytes()[0];
            }
            buf.truncate((seed >> 40) as usize % (buf.len() + 1));
            assert_invariants(&buf, &scan(&buf));
        }
    }
}

#[test]
fn reports_bad_magic() {
    assert_eq!(scan(b"").stop, Some(ScanStop::Torn { offset: 0, need: 4 }));
    assert_eq!(scan(b"\xfeb").stop, Some(ScanStop::Torn { offset: 0, need: 4 }));
    let report = scan(b"\xfdbin\0\0\0\0");
    assert_eq!(report.stop, Some(ScanStop::BadMagic));
    assert_eq!((report.events_end, report.last_trx_end), (0, 0));
    assert_eq!(scan(b"x").stop, Some(ScanStop::BadMagic));
    let only_magic = scan(b"\xfebin");
    assert_eq!((only_magic.stop, only_magic.events_end, only_magic.last_trx_end), (None, 4, 4));
}

#[test]
fn first_event_must_be_a_format_description() {
    let mut buf = MARIADB_10_5[..4].to_vec();
    buf.extend_from_slice(&MARIADB_10_5[256..285]); // GTID_LIST
    let report = scan(&buf);
    assert!(matches!(
        report.stop,
        Some(ScanStop::Corrupt { offset: 4, cause: DecodeError::Invalid { value: 163, .. } })
    ));
    assert_eq!(report.last_trx_end, 4);
}

#[test]
fn stops_at_a_crc_mismatch() {
    let mut buf = MARIADB_10_5.to_vec();
    buf[400] ^= 0x20; // inside the ANNOTATE_ROWS at 372
    let report = scan(&buf);
    assert!(matches!(
        report.stop,
        Some(ScanStop::Corrupt { offset: 372, cause: DecodeError::Checksum { .. } })
    ));
    assert_eq!((report.events_end, report.last_trx_end), (372, 330));
}

#[test]
fn fd_crc_ignores_in_use_but_checks_the_rest() {
    let mut buf = MARIADB_10_5.to_vec();
    buf[4 + 17] &= !1;
    assert_eq!(scan(&buf).stop, None);
    buf[4 + 30] ^= 1;
    assert!(matches!(
        scan(&buf).stop,
        Some(ScanStop::Corrupt { offset: 4, cause: DecodeError::Checksum { .. } })
    ));
}

#[test]
fn checks_log_pos_but_accepts_zero() {
    let mut buf = MARIADB_10_5.to_vec();
    buf[476 + 13..476 + 17].copy_from_slice(&0u32.to_le_bytes()); // TABLE_MAP at 476
    fix_crc(&mut buf, 476);
    assert_eq!(scan(&buf).stop, None);
    buf[476 + 13] = 1;
    fix_crc(&mut buf, 476);
    let report = scan(&buf);
    assert!(matches!(
        report.stop,
        Some(ScanStop::Corrupt {
            offset: 476,
            cause: DecodeError::Invalid { what: "EventHeader.log_pos", value: 1 }
        })
    ));
}

#[test]
fn rejects_impossible_event_lengths() {
    let mut buf = MARIADB_10_5.to_vec();
    buf[256 + 9..256 + 13].copy_from_slice(&(MAX_EVENT_LEN + 1).to_le_bytes());
    assert!(matches!(
        scan(&buf).stop,
        Some(ScanStop::Corrupt { offset: 256, cause: DecodeError::TooLarge { .. } })
    ));
    buf[256 + 9..256 + 13].copy_from_slice(&18u32.to_le_bytes());
    assert!(matches!(
        scan(&buf).stop,
        Some(ScanStop::Corrupt { offset: 256, cause: DecodeError::Invalid { value: 18, .. } })
    ));
}

#[test]
fn torn_event_reports_its_length() {
    let report = scan(&MARIADB_10_5[..700]);
    assert_eq!(report.stop, Some(ScanStop::Torn { offset: 671, need: 31 }));
    assert_eq!((report.events_end, report.last_trx_end), (671, 330));
    let report = scan(&MARIADB_10_5[..691]);
    assert_eq!(report.stop, Some(ScanStop::Torn { offset: 671, need: 31 }));
    let report = scan(&MARIADB_10_5[..675]);
    assert_eq!(report.stop, Some(ScanStop::Torn { offset: 671, need: 19 }));
}

/// Feeds `buf` to a [`Scanner`] as a chunked reader does: the window grows
/// by `grow(i)` bytes each time the scanner asks for more, and the bytes
/// before the scanner's position are dropped.
fn step_in_windows(buf: &[u8], mut grow: impl FnMut(usize) -> usize) -> (Vec<u64>, ScanReport) {
    let mut scanner = Scanner::new();
    let mut held = 0; // bytes of `buf` handed out so far
    let mut offsets = Vec::new();
    for i in 0.. {
        let pos = usize::try_from(scanner.position()).unwrap();
        match scanner.step(&buf[pos..held.max(pos)], held == buf.len()) {
            Step::Event(event) => {
                assert_eq!(event.offset, pos.max(4) as u64);
                assert_eq!(scanner.position(), event.end());
                offsets.push(event.offset);
            }
            Step::NeedMore(n) => {
                let now = usize::try_from(scanner.position()).unwrap();
                assert!(held.saturating_sub(now) < n, "asked for {n} bytes it has");
                held = (held + grow(i)).min(buf.len());
            }
            Step::End | Step::Stop(_) => break,
        }
    }
    (offsets, scanner.into_report())
}

#[test]
fn the_stepper_fed_in_windows_agrees_with_the_whole_walk() {
    for base in [MARIADB_10_5, MYSQL_8_0_32, MYSQL_5_7_NONE] {
        let mut flipped = base.to_vec();
        flipped[base.len() / 2] ^= 0x10;
        for buf in [base, &base[..base.len() * 2 / 3], &flipped[..], &base[..3]] {
            let whole: Vec<u64> = walk(buf).map(|e| e.offset).collect();
            for grow in [1, 2, 7, 19, 64, 4096] {
                let (offsets, report) = step_in_windows(buf, |_| grow);
                assert_eq!(offsets, whole, "grow {grow}");
                assert_eq!(report, scan(buf), "grow {grow}");
            }
            let (_, report) = step_in_windows(buf, |i| 1 + i * 13 % 97);
            assert_eq!(report, scan(buf));
        }
    }
}

#[test]
fn the_stepper_asks_for_the_magic_the_header_then_the_event() {
    let mut s = Scanner::new();
    assert_eq!(s.step(b"", false), Step::NeedMore(4));
    assert_eq!(s.step(b"\xfeb", false), Step::NeedMore(4));
    assert_eq!(s.step(&MARIADB_10_5[..10], false), Step::NeedMore(19));
    assert_eq!(s.position(), 4, "the magic is consumed");
    assert_eq!(s.step(&MARIADB_10_5[4..30], false), Step::NeedMore(252));
    let Step::Event(fd) = s.step(&MARIADB_10_5[4..], false) else { panic!("no FD") };
    assert_eq!((fd.offset, fd.end(), s.position()), (4, 256, 256));
    assert_eq!(s.report().fd.as_ref().map(|fd| fd.checksum_alg), Some(ChecksumAlg::CRC32));
    // At the end of the input a short piece is torn, and the stop sticks.
    let stop = ScanStop::Torn { offset: 256, need: 29 };
    assert_eq!(s.step(&MARIADB_10_5[256..280], true), Step::Stop(stop));
    assert_eq!(s.step(&MARIADB_10_5[256..], true), Step::Stop(stop));
    assert_eq!(s.report().stop, Some(stop));
    let mut s = Scanner::new();
    assert_eq!(s.step(b"\xfebin", true), Step::End);
    assert_eq!(s.step(b"", true), Step::End);
    assert_eq!((s.report().events_end, s.report().last_trx_end, s.report().stop), (4, 4, None));
}
