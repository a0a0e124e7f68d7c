//! Unit tests of `boundary.rs`: event sequences of both flavours.

use super::*;
use crate::binlog::checksum::{crc32, ChecksumAlg};
use crate::binlog::query::tests::{fd, query_event};

const ALG: ChecksumAlg = ChecksumAlg::CRC32;

/// A whole event of type `t` with `body` and a CRC.
fn event(t: EventType, body: &[u8]) -> Vec<u8> {
    let header = EventHeader {
        timestamp: 1,
        event_type: t,
        server_id: 10,
        event_len: u32::try_from(19 + body.len() + 4).unwrap(),
        log_pos: 0,
        flags: 0,
    };
    let mut out = Vec::new();
    header.encode(&mut out);
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn maria_gtid(seq_no: u64, flags2: u8) -> Vec<u8> {
    let mut body = seq_no.to_le_bytes().to_vec();
    body.extend_from_slice(&0u32.to_le_bytes());
    body.push(flags2);
    body.resize(19, 0);
    event(EventType::MARIADB_GTID, &body)
}

fn q(text: &str) -> Vec<u8> {
    query_event(text.as_bytes(), ALG)
}

fn of(t: EventType) -> Vec<u8> {
    event(t, &[0; 8])
}

/// Feeds `events` to a fresh parser; returns `feed`'s answers.
fn run(events: &[Vec<u8>]) -> Vec<bool> {
    let fd = fd(ALG);
    let mut b = TrxBoundary::new();
    events.iter().map(|e| b.feed(e, &fd).unwrap()).collect()
}

#[test]
fn mysql_row_transaction_ends_at_xid() {
    let events = [
        of(EventType::GTID),
        q("BEGIN"),
        of(EventType::TABLE_MAP),
        of(EventType::WRITE_ROWS),
        of(EventType::XID),
    ];
    assert_eq!(run(&events), [false, false, false, false, true]);
}

#[test]
fn mysql_ddl_after_gtid_is_a_whole_group() {
    assert_eq!(run(&[of(EventType::GTID), q("CREATE TABLE t (a INT)")]), [false, true]);
    assert_eq!(run(&[of(EventType::GTID_TAGGED), q("DROP TABLE t")]), [false, true]);
    assert_eq!(
        run(&[of(EventType::ANONYMOUS_GTID), of(EventType::TRANSACTION_PAYLOAD)]),
        [false, true]
    );
}

#[test]
fn mysql_xa_transactions() {
    let prepare = [
        of(EventType::GTID),
        q("XA START X'01',X'',1"),
        q("INSERT INTO t VALUES (1)"),
        q("XA END X'01',X'',1"),
        of(EventType::XA_PREPARE),
    ];
    assert_eq!(run(&prepare), [false, false, false, false, true]);
    assert_eq!(run(&[of(EventType::GTID), q("XA COMMIT X'01',X'',1")]), [false, true]);
    assert_eq!(run(&[of(EventType::GTID), q("XA ROLLBACK X'01',X'',1")]), [false, true]);
}

#[test]
fn rollback_to_savepoint_stays_inside() {
    let events = [
        of(EventType::GTID),
        q("BEGIN"),
        q("SAVEPOINT a"),
        q("ROLLBACK TO a"),
        q("ROLLBACK TO SAVEPOINT a"),
        q("COMMIT"),
    ];
    assert_eq!(run(&events), [false, false, false, false, false, true]);
    assert_eq!(run(&[q("BEGIN"), q("ROLLBACK")]), [false, true]);
}

#[test]
fn pre_gtid_binlogs_use_begin_and_single_statements() {
    assert_eq!(
        run(&[q("BEGIN"), q("INSERT INTO t VALUES (1)"), q("COMMIT")]),
        [false, false, true]
    );
    assert_eq!(run(&[q("CREATE TABLE t (a INT)")]), [true]);
    let with_intvar = [
        of(EventType::INTVAR),
        of(EventType::RAND),
        of(EventType::USER_VAR),
        q("INSERT INTO t VALUES (NULL)"),
    ];
    assert_eq!(run(&with_intvar), [false, false, false, true]);
}

#[test]
fn mariadb_standalone_group_ends_after_its_statement() {
    assert_eq!(run(&[maria_gtid(1, 0x29), q("GRANT ALL ON *.* TO x")]), [false, true]);
    assert_eq!(
        run(&[maria_gtid(1, 0x01), of(EventType::INTVAR), q("INSERT INTO m VALUES (NULL)")]),
        [false, false, true]
    );
    let rows = [
        maria_gtid(1, 0x01),
        of(EventType::ANNOTATE_ROWS),
        of(EventType::TABLE_MAP),
        of(EventType::WRITE_ROWS_V1),
    ];
    assert_eq!(run(&rows), [false, false, false, true]);
    assert_eq!(run(&[maria_gtid(1, 0x01), of(EventType::XID)]), [false, true]);
}

#[test]
fn mariadb_transactional_group_ends_at_xid_or_commit() {
    let statements =
        [maria_gtid(7, 0x0c), q("UPDATE t SET k=k+1"), q("DELETE FROM t"), of(EventType::XID)];
    assert_eq!(run(&statements), [false, false, false, true]);
    let myisam = [
        maria_gtid(7, 0x00),
        of(EventType::ANNOTATE_ROWS),
        of(EventType::TABLE_MAP),
        of(EventType::WRITE_ROWS_V1),
        q("COMMIT"),
    ];
    assert_eq!(run(&myisam), [false, false, false, false, true]);
    assert_eq!(
        run(&[
            maria_gtid(7, 0x40),
            q("INSERT INTO t VALUES (1)"),
            q("XA END 'x'"),
            of(EventType::XA_PREPARE)
        ]),
        [false, false, false, true]
    );
    assert_eq!(run(&[maria_gtid(8, 0x80), q("XA COMMIT 'x'")]), [false, true]);
}

#[test]
fn incident_ends_any_group() {
    assert_eq!(
        run(&[maria_gtid(7, 0x0c), q("UPDATE t SET k=k+1"), of(EventType::INCIDENT)]),
        [false, false, true]
    );
    assert_eq!(
        run(&[of(EventType::GTID), q("BEGIN"), of(EventType::INCIDENT)]),
        [false, false, true]
    );
}

#[test]
fn control_and_unknown_events_do_not_change_the_state() {
    let ignored = [
        EventType::FORMAT_DESCRIPTION,
        EventType::ROTATE,
        EventType::STOP,
        EventType::HEARTBEAT,
        EventType::HEARTBEAT_V2,
        EventType::PREVIOUS_GTIDS,
        EventType::GTID_LIST,
        EventType::BINLOG_CHECKPOINT,
        EventType::START_ENCRYPTION,
        EventType::TRANSACTION_CONTEXT,
        EventType(200),
    ];
    let fd = fd(ALG);
    for t in ignored {
        let mut b = TrxBoundary::new();
        assert!(b.feed(&of(t), &fd).unwrap(), "{t}");
        b.feed(&maria_gtid(1, 0x01), &fd).unwrap();
        assert!(!b.feed(&of(t), &fd).unwrap(), "{t}");
        assert!(b.in_group());
        b.feed(&q("CREATE TABLE t (a INT)"), &fd).unwrap();
        b.feed(&of(EventType::GTID), &fd).unwrap();
        assert!(!b.feed(&of(t), &fd).unwrap(), "{t}");
        assert!(b.feed(&q("CREATE TABLE t (a INT)"), &fd).unwrap());
    }
}

#[test]
fn counts_completed_groups() {
    let fd = fd(ALG);
    let mut b = TrxBoundary::default();
    let events = [
        of(EventType::FORMAT_DESCRIPTION),
        maria_gtid(1, 0x0c),
        q("UPDATE t SET k=k+1"),
        of(EventType::XID),
        of(EventType::BINLOG_CHECKPOINT),
        maria_gtid(2, 0x29),
        q("CREATE TABLE t (a INT)"),
        of(EventType::ROTATE),
    ];
    for e in &events {
        b.feed(e, &fd).unwrap();
    }
    assert_eq!(b.completed(), 2);
    assert!(!b.in_group());
}

#[test]
fn undecodable_events_are_errors_and_leave_the_state_alone() {
    let fd = fd(ALG);
    let mut b = TrxBoundary::new();
    b.feed(&maria_gtid(1, 0x0c), &fd).unwrap();
    let query = q("COMMIT");
    for cut in 0..query.len() {
        assert!(b.feed(&query[..cut], &fd).is_err(), "{cut}");
        assert!(b.in_group());
    }
    let gtid = maria_gtid(2, 0x01);
    for cut in 0..gtid.len() {
        assert!(b.feed(&gtid[..cut], &fd).is_err(), "{cut}");
    }
    assert!(b.feed(&query, &fd).unwrap());
}
