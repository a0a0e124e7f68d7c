//! Events rewritten for MariaDB clients of a lower `@mariadb_slave_capability`,
//! as a MariaDB primary rewrites them (`Query_log_event::dummy_event`,
//! `Query_log_event::begin_event`, `Gtid_log_event::make_compatible_event`).
//!
//! A rewritten event keeps its length, timestamp, server id and `log_pos`,
//! so the client's positions stay right: only its type, flags, body and
//! CRC-32 change. Pure functions over one event's bytes.

use super::checksum::ChecksumAlg;
use super::event_type::EventType;
use super::header::EventHeader;
use crate::protocol::DecodeError;

/// `@mariadb_slave_capability`: understands ANNOTATE_ROWS (MariaDB 5.3).
pub const CAPABILITY_ANNOTATE: u8 = 1;
/// Tolerates events left out of the stream (MariaDB 5.5).
pub const CAPABILITY_TOLERATE_HOLES: u8 = 2;
/// Understands BINLOG_CHECKPOINT (MariaDB 10.0).
pub const CAPABILITY_BINLOG_CHECKPOINT: u8 = 3;
/// Understands GTID events (MariaDB 10.0.1).
pub const CAPABILITY_GTID: u8 = 4;

const TYPE_OFFSET: usize = 4;
const FLAGS_OFFSET: usize = 17;
const LOG_EVENT_THREAD_SPECIFIC_F: u16 = 0x4;
const LOG_EVENT_SUPPRESS_USE_F: u16 = 0x8;
/// QUERY post-header: thread id 4, exec time 4, db len 1, error code 2, status vars len 2.
const QUERY_HEADER_LEN: usize = 13;
const MIN_USER_VAR_EVENT_LEN: usize = EventHeader::LEN + 4 + 1 + 1;
const MIN_QUERY_EVENT_LEN: usize = EventHeader::LEN + QUERY_HEADER_LEN + 1 + 1;
/// MariaDB GTID post-header: seq_no 8, domain id 4, flags2 1, padding.
const GTID_HEADER_LEN: usize = 19;
const FL_STANDALONE: u8 = 1;
const Q_TIME_ZONE_CODE: u8 = 5;

/// The event without its CRC, checked to be at least `min` bytes.
fn data(
    event: &[u8],
    alg: ChecksumAlg,
    min: usize,
    what: &'static str,
) -> Result<Vec<u8>, DecodeError> {
    let len = event.len().checked_sub(alg.crc_len()).filter(|&n| n >= min);
    let len =
        len.ok_or(DecodeError::Truncated { what, need: min + alg.crc_len(), have: event.len() })?;
    Ok(event.get(..len).unwrap_or_default().to_vec())
}

fn finish(mut p: Vec<u8>, new_type: EventType, alg: ChecksumAlg) -> Vec<u8> {
    if let Some(t) = p.get_mut(TYPE_OFFSET) {
        *t = new_type.0;
    }
    if let Some(f) = p.get_mut(FLAGS_OFFSET..FLAGS_OFFSET + 2) {
        let old =
            u16::from_le_bytes([f.first().copied().unwrap_or(0), f.get(1).copied().unwrap_or(0)]);
        let flags = (old & !LOG_EVENT_THREAD_SPECIFIC_F) | LOG_EVENT_SUPPRESS_USE_F;
        f.copy_from_slice(&flags.to_le_bytes());
    }
    if alg.has_crc() {
        let crc = super::crc32(&p);
        p.extend_from_slice(&crc.to_le_bytes());
    }
    p
}

/// A query event post-header with no thread, db or error, and `status` as its status variables.
fn query_post_header(status: &[u8]) -> Vec<u8> {
    let mut q = vec![0u8; QUERY_HEADER_LEN];
    let status_len = u16::try_from(status.len()).unwrap_or(0).to_le_bytes();
    q.splice(11..13, status_len);
    q.extend_from_slice(status);
    q.push(0); // empty db name's terminator
    q
}

/// The same-sized no-op a client that cannot skip events gets instead: a
/// QUERY holding a comment, or a NULL user variable when that does not fit.
pub fn dummy_event(event: &[u8], alg: ChecksumAlg) -> Result<Vec<u8>, DecodeError> {
    let mut p = data(event, alg, MIN_USER_VAR_EVENT_LEN, "event to replace with a dummy")?;
    let data_len = p.len();
    let old_type = p.get(TYPE_OFFSET).copied().unwrap_or(0);
    p.truncate(EventHeader::LEN);
    if data_len < MIN_QUERY_EVENT_LEN {
        let name_len = data_len - (MIN_USER_VAR_EVENT_LEN - 1);
        p.extend_from_slice(&u32::try_from(name_len).unwrap_or(0).to_le_bytes());
        p.extend_from_slice(b"!dummyvar".get(..name_len).unwrap_or(b"!dummyvar"));
        p.push(1); // NULL
        return Ok(finish(p, EventType::USER_VAR, alg));
    }
    p.extend_from_slice(&query_post_header(&[]));
    let message =
        format!("# Dummy event replacing event type {old_type} that slave cannot handle.");
    let comment_len = data_len - (MIN_QUERY_EVENT_LEN - 1);
    let mut comment = message.into_bytes();
    comment.resize(comment_len, b' ');
    p.extend_from_slice(&comment);
    Ok(finish(p, EventType::QUERY, alg))
}

/// A MariaDB GTID event as a `BEGIN` query of the same size.
pub fn begin_event(event: &[u8], alg: ChecksumAlg) -> Result<Vec<u8>, DecodeError> {
    let mut p = data(event, alg, EventHeader::LEN + GTID_HEADER_LEN, "GTID event")?;
    let status: &[u8] = match p.len() - EventHeader::LEN {
        GTID_HEADER_LEN => &[],
        // With a commit id: an empty time zone takes up the two extra bytes.
        n if n == GTID_HEADER_LEN + 2 => &[Q_TIME_ZONE_CODE, 0],
        n => {
            return Err(DecodeError::Invalid {
                what: "GTID event length for a BEGIN replacement",
                value: n as u64,
            })
        }
    };
    p.truncate(EventHeader::LEN);
    p.extend_from_slice(&query_post_header(status));
    p.extend_from_slice(b"BEGIN");
    Ok(finish(p, EventType::QUERY, alg))
}

/// What a client below [`CAPABILITY_GTID`] gets for a MariaDB GTID event:
/// `BEGIN` for a transaction; for a standalone event nothing, or a dummy
/// when the client cannot tolerate holes.
pub fn gtid_for_old_client(
    event: &[u8],
    capability: u8,
    alg: ChecksumAlg,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let flags2 = event.get(EventHeader::LEN + 12).copied();
    let flags2 = flags2.ok_or(DecodeError::Truncated {
        what: "GTID event",
        need: EventHeader::LEN + 13,
        have: event.len(),
    })?;
    if flags2 & FL_STANDALONE == 0 {
        return begin_event(event, alg).map(Some);
    }
    if capability < CAPABILITY_TOLERATE_HOLES {
        return dummy_event(event, alg).map(Some);
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::binlog::verify_event;

    fn event(event_type: EventType, body: &[u8], flags: u16, alg: ChecksumAlg) -> Vec<u8> {
        let len = EventHeader::LEN + body.len() + alg.crc_len();
        let header = EventHeader {
            timestamp: 7,
            event_type,
            server_id: 1,
            event_len: len as u32,
            log_pos: 900,
            flags,
        };
        let mut out = Vec::new();
        header.encode(&mut out);
        out.extend_from_slice(body);
        if alg.has_crc() {
            let crc = crate::binlog::crc32(&out);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        out
    }

    #[test]
    fn a_dummy_keeps_size_position_and_a_valid_crc() {
        for alg in [ChecksumAlg::OFF, ChecksumAlg::CRC32] {
            let annotate = event(
                EventType::ANNOTATE_ROWS,
                "INSERT INTO t VALUES (1), (2), (3)".repeat(3).as_bytes(),
                0x4,
                alg,
            );
            let dummy = dummy_event(&annotate, alg).unwrap();
            assert_eq!(dummy.len(), annotate.len());
            let h = EventHeader::parse(&dummy).unwrap();
            assert_eq!(
                (h.event_type, h.log_pos, h.timestamp, h.flags),
                (EventType::QUERY, 900, 7, 0x8)
            );
            if alg.has_crc() {
                verify_event(&dummy, alg).unwrap();
            }
            let text =
                String::from_utf8_lossy(&dummy[EventHeader::LEN + 14..dummy.len() - alg.crc_len()])
                    .to_string();
            assert!(
                text.starts_with(
                    "# Dummy event replacing event type 160 that slave cannot handle.  "
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn a_short_event_becomes_a_null_user_variable_and_a_tiny_one_is_refused() {
        let short = event(
            EventType::BINLOG_CHECKPOINT,
            &[1, 0, 0, 0, b'x', b'y', b'z', 0],
            0,
            ChecksumAlg::OFF,
        );
        let dummy = dummy_event(&short, ChecksumAlg::OFF).unwrap();
        assert_eq!(dummy.len(), short.len());
        assert_eq!(EventHeader::parse(&dummy).unwrap().event_type, EventType::USER_VAR);
        assert_eq!(&dummy[EventHeader::LEN..], &[3, 0, 0, 0, b'!', b'd', b'u', 1]);
        assert!(dummy_event(
            &event(EventType::BINLOG_CHECKPOINT, &[1, 2], 0, ChecksumAlg::OFF),
            ChecksumAlg::OFF
        )
        .is_err());
    }

    #[test]
    fn a_gtid_becomes_begin_of_the_same_size() {
        for (extra, alg) in [(0usize, ChecksumAlg::CRC32), (2, ChecksumAlg::OFF)] {
            let mut body = vec![0u8; GTID_HEADER_LEN + extra];
            body[0] = 42;
            let gtid = event(EventType::MARIADB_GTID, &body, 0, alg);
            let begin = gtid_for_old_client(&gtid, 0, alg).unwrap().unwrap();
            assert_eq!(begin.len(), gtid.len());
            assert_eq!(EventHeader::parse(&begin).unwrap().event_type, EventType::QUERY);
            assert_eq!(
                &begin[begin.len() - alg.crc_len() - 5..begin.len() - alg.crc_len()],
                b"BEGIN"
            );
            if alg.has_crc() {
                verify_event(&begin, alg).unwrap();
            }
        }
        let odd = event(EventType::MARIADB_GTID, &[0u8; GTID_HEADER_LEN + 8], 0, ChecksumAlg::OFF);
        assert!(begin_event(&odd, ChecksumAlg::OFF).is_err());
    }

    #[test]
    fn a_standalone_gtid_is_left_out_or_a_dummy() {
        let mut body = vec![0u8; GTID_HEADER_LEN];
        body[12] = FL_STANDALONE;
        let gtid = event(EventType::MARIADB_GTID, &body, 0, ChecksumAlg::OFF);
        assert_eq!(
            gtid_for_old_client(&gtid, CAPABILITY_BINLOG_CHECKPOINT, ChecksumAlg::OFF).unwrap(),
            None
        );
        let dummy = gtid_for_old_client(&gtid, 0, ChecksumAlg::OFF).unwrap().unwrap();
        assert_eq!(EventHeader::parse(&dummy).unwrap().event_type, EventType::QUERY);
    }
}
