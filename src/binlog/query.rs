//! The statement text of a QUERY_EVENT (type 2), to recognise `BEGIN`,
//! `COMMIT`, `ROLLBACK` and `XA …` at transaction boundaries.
//!
//! Layout (MySQL `statement_events.h` `Query_event`, MariaDB
//! `Query_log_event`; docs/protocol.md §8.8):
//!
//! ```text
//! header            19 bytes, type 2
//! post-header       FD's post_header_len[QUERY] bytes (13 in v4):
//!   u32 thread_id, u32 exec_time, u8 db_len, u16 error_code, u16 status_vars_len
//! status_vars       status_vars_len bytes (not decoded)
//! db                db_len bytes, then a NUL
//! query text        up to the CRC
//! [u32 CRC-32]
//! ```
//!
//! Only the lengths needed to reach the text are read. No I/O here.

use crate::binlog::checksum::event_payload;
use crate::binlog::event_type::EventType;
use crate::binlog::format_description::FormatDescription;
use crate::binlog::header::EventHeader;
use crate::protocol::{DecodeError, Reader};

/// QUERY post-header length in binlog v4 (`QUERY_HEADER_LEN`).
const QUERY_HEADER_LEN: usize = 13;
/// QUERY post-header length without `status_vars_len` (`QUERY_HEADER_MINIMAL_LEN`).
const QUERY_HEADER_MINIMAL_LEN: usize = 11;

/// The statement text of a whole QUERY event, without the CRC.
///
/// The post-header length comes from `fd` (13 when it does not list QUERY),
/// and the CRC is stripped when `fd.checksum_alg` has one.
///
/// # Errors
///
/// [`DecodeError::Truncated`]/[`DecodeError::Trailing`] when `event` is not
/// exactly `event_len` bytes or a length field points past its end;
/// [`DecodeError::Invalid`] for another event type, a post-header shorter
/// than 11 bytes, or a missing NUL after the database name.
pub fn query_text<'a>(event: &'a [u8], fd: &FormatDescription) -> Result<&'a [u8], DecodeError> {
    EventHeader::parse_exact(event, EventType::QUERY)?;
    let listed = fd.post_header_len(EventType::QUERY);
    let post_header_len = listed.map_or(QUERY_HEADER_LEN, usize::from);
    if post_header_len < QUERY_HEADER_MINIMAL_LEN {
        let value = listed.map_or(0, u64::from);
        return Err(DecodeError::Invalid {
            what: "FormatDescription.post_header_len[QUERY]",
            value,
        });
    }
    let mut r = Reader::new(event_payload(event, fd.checksum_alg)?);
    let mut post = r.sub(post_header_len, "Query.post_header")?;
    post.skip(4, "Query.thread_id")?;
    post.skip(4, "Query.exec_time")?;
    let db_len = post.u8("Query.db_len")?;
    post.skip(2, "Query.error_code")?;
    let status_vars_len =
        if post_header_len >= QUERY_HEADER_LEN { post.u16_le("Query.status_vars_len")? } else { 0 };
    r.skip(usize::from(status_vars_len), "Query.status_vars")?;
    r.skip(usize::from(db_len), "Query.db")?;
    let nul = r.u8("Query.db_nul")?;
    if nul != 0 {
        return Err(DecodeError::Invalid { what: "Query.db_nul", value: nul.into() });
    }
    Ok(r.rest())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::binlog::checksum::{crc32, ChecksumAlg};

    pub(crate) fn fd(alg: ChecksumAlg) -> FormatDescription {
        let mut post_header_lens = vec![0; 41];
        post_header_lens[1] = 13;
        post_header_lens[14] = 98;
        FormatDescription {
            binlog_version: 4,
            server_version: "8.0.28".into(),
            create_timestamp: 0,
            header_len: 19,
            post_header_lens,
            checksum_alg: alg,
        }
    }

    /// A QUERY event with 3 bytes of status vars, db `test`, and `text`.
    pub(crate) fn query_event(text: &[u8], alg: ChecksumAlg) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&7u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.push(4);
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&3u16.to_le_bytes());
        body.extend_from_slice(&[0x03, 0x01, 0x00]);
        body.extend_from_slice(b"test\0");
        body.extend_from_slice(text);
        let len = 19 + body.len() + alg.crc_len();
        let header = EventHeader {
            timestamp: 1,
            event_type: EventType::QUERY,
            server_id: 1,
            event_len: u32::try_from(len).unwrap(),
            log_pos: 0,
            flags: 0,
        };
        let mut event = Vec::new();
        header.encode(&mut event);
        event.extend_from_slice(&body);
        if alg.has_crc() {
            let crc = crc32(&event);
            event.extend_from_slice(&crc.to_le_bytes());
        }
        event
    }

    #[test]
    fn extracts_the_text_with_and_without_crc() {
        for alg in [ChecksumAlg::CRC32, ChecksumAlg::OFF] {
            let event = query_event(b"BEGIN", alg);
            assert_eq!(query_text(&event, &fd(alg)).unwrap(), b"BEGIN");
        }
    }

    #[test]
    fn rejects_every_truncation() {
        let event = query_event(b"COMMIT", ChecksumAlg::CRC32);
        for cut in 0..event.len() {
            assert!(query_text(&event[..cut], &fd(ChecksumAlg::CRC32)).is_err(), "{cut}");
        }
    }

    #[test]
    fn rejects_a_missing_db_nul_and_short_post_headers() {
        let mut event = query_event(b"COMMIT", ChecksumAlg::OFF);
        event[19 + 13 + 3 + 4] = b'x';
        assert_eq!(
            query_text(&event, &fd(ChecksumAlg::OFF)),
            Err(DecodeError::Invalid { what: "Query.db_nul", value: 120 })
        );
        let mut short = fd(ChecksumAlg::OFF);
        short.post_header_lens[1] = 10;
        let event = query_event(b"COMMIT", ChecksumAlg::OFF);
        assert!(matches!(query_text(&event, &short), Err(DecodeError::Invalid { .. })));
    }

    #[test]
    fn rejects_status_vars_longer_than_the_event() {
        let mut event = query_event(b"", ChecksumAlg::OFF);
        event[19 + 11] = 0xff;
        assert!(matches!(
            query_text(&event, &fd(ChecksumAlg::OFF)),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
