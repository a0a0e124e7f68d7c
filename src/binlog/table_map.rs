//! TABLE_MAP events and the table id of rows events.
//!
//! A TABLE_MAP (19) maps a numeric table id to `db.table` for the rows
//! events (WRITE/UPDATE/DELETE_ROWS, v1, v2, MariaDB compressed) that
//! follow it in the same group. Only the id and the names are decoded; the
//! column metadata is left alone. Layout (docs/protocol.md §8.10, MariaDB KB
//! "Table_map_log_event"): post-header `table_id` (6 bytes, 4 when the FD
//! lists a 6-byte post-header), `flags` (2); body `u8 db_len, db, NUL, u8
//! table_len, table, NUL, ...`. Rows events start with the same table id.
//! No I/O.

use crate::binlog::checksum::event_payload;
use crate::binlog::event_type::EventType;
use crate::binlog::format_description::FormatDescription;
use crate::binlog::header::EventHeader;
use crate::protocol::{DecodeError, Reader};

/// A decoded TABLE_MAP event (names only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMap {
    /// The table id the rows events refer to.
    pub table_id: u64,
    /// Database (schema) name, as stored (not validated as UTF-8).
    pub db: Vec<u8>,
    /// Table name, as stored.
    pub table: Vec<u8>,
}

impl TableMap {
    /// Decodes a whole TABLE_MAP event under `fd` (post-header length, CRC).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Invalid`] for another event type or a missing NUL,
    /// [`DecodeError::Truncated`] when a name runs past the event.
    pub fn decode_event(event: &[u8], fd: &FormatDescription) -> Result<Self, DecodeError> {
        EventHeader::parse_exact(event, EventType::TABLE_MAP)?;
        let mut r = Reader::new(event_payload(event, fd.checksum_alg)?);
        let table_id = read_table_id(&mut r, fd, EventType::TABLE_MAP)?;
        r.skip(2, "TableMap.flags")?;
        let db = name(&mut r, "TableMap.db")?;
        let table = name(&mut r, "TableMap.table")?;
        Ok(TableMap { table_id, db, table })
    }

    /// `db.table`, lossily decoded as UTF-8.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", String::from_utf8_lossy(&self.db), String::from_utf8_lossy(&self.table))
    }
}

/// The table id of a whole rows event (any type for which
/// [`EventType::is_rows`] holds).
///
/// # Errors
///
/// [`DecodeError::Invalid`] when the event is not a rows event,
/// [`DecodeError::Truncated`] when it is too short.
pub fn rows_table_id(event: &[u8], fd: &FormatDescription) -> Result<u64, DecodeError> {
    let header = EventHeader::parse(event)?;
    if !header.event_type.is_rows() {
        return Err(DecodeError::Invalid {
            what: "rows event type",
            value: header.event_type.0.into(),
        });
    }
    let mut r = Reader::new(event_payload(event, fd.checksum_alg)?);
    read_table_id(&mut r, fd, header.event_type)
}

/// Reads the 6-byte (or 4-byte, for a 6-byte post-header) table id.
fn read_table_id(
    r: &mut Reader<'_>,
    fd: &FormatDescription,
    t: EventType,
) -> Result<u64, DecodeError> {
    if fd.post_header_len(t) == Some(6) {
        r.u32_le("table_id").map(u64::from)
    } else {
        r.u48_le("table_id")
    }
}

/// `u8 len, bytes, NUL`.
fn name(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u8>, DecodeError> {
    let len = r.u8(what)?;
    let bytes = r.bytes(usize::from(len), what)?.to_vec();
    let nul = r.u8(what)?;
    if nul != 0 {
        return Err(DecodeError::Invalid { what, value: nul.into() });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::checksum::ChecksumAlg;

    fn fd() -> FormatDescription {
        let mut post_header_lens = vec![0u8; 40];
        post_header_lens[18] = 8; // TABLE_MAP
        post_header_lens[29] = 10; // WRITE_ROWS v2
        FormatDescription {
            binlog_version: 4,
            server_version: "8.0.36".into(),
            create_timestamp: 0,
            header_len: 19,
            post_header_lens,
            checksum_alg: ChecksumAlg::OFF,
        }
    }

    fn event(t: EventType, body: &[u8]) -> Vec<u8> {
        let header = EventHeader {
            timestamp: 0,
            event_type: t,
            server_id: 1,
            event_len: u32::try_from(19 + body.len()).unwrap(),
            log_pos: 0,
            flags: 0,
        };
        let mut out = Vec::new();
        header.encode(&mut out);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn decodes_names_and_id() {
        let mut body = vec![0x2a, 0x01, 0, 0, 0, 0, 0x01, 0x00];
        body.extend_from_slice(b"\x04test\x00\x02t1\x00\x01\x03");
        let tm = TableMap::decode_event(&event(EventType::TABLE_MAP, &body), &fd()).unwrap();
        assert_eq!(tm.table_id, 0x012a);
        assert_eq!(tm.qualified_name(), "test.t1");
        let rows = event(EventType::WRITE_ROWS, &[0x2a, 0x01, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
        assert_eq!(rows_table_id(&rows, &fd()).unwrap(), 0x012a);
    }

    #[test]
    fn rejects_truncated_and_missing_nul() {
        let body = [0x2a, 0, 0, 0, 0, 0, 0, 0, 9, b'x'];
        assert!(matches!(
            TableMap::decode_event(&event(EventType::TABLE_MAP, &body), &fd()),
            Err(DecodeError::Truncated { .. })
        ));
        let body = [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, b'x', 1];
        assert!(TableMap::decode_event(&event(EventType::TABLE_MAP, &body), &fd()).is_err());
        assert!(rows_table_id(&event(EventType::QUERY, &[0; 8]), &fd()).is_err());
    }
}
