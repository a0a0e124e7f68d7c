//! Generic responses: OK, ERR, EOF, and text result set rows.
//!
//! docs/protocol.md §2.1 to §2.4; MySQL `sql/protocol_classic.cc`.

use std::fmt;

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::{put_lenenc_int, put_u16};

/// `0x00 | lenenc affected_rows | lenenc last_insert_id | u16 status | u16 warnings | info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OkPacket {
    /// Rows changed.
    pub affected_rows: u64,
    /// Last insert id.
    pub last_insert_id: u64,
    /// Server status flags.
    pub status_flags: u16,
    /// Warning count.
    pub warnings: u16,
}

impl OkPacket {
    /// Decodes an OK (header 0x00, or 0xFE when it replaces an EOF).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8("OkPacket.header")?;
        if tag != 0x00 && tag != 0xfe {
            return Err(DecodeError::Invalid { what: "OkPacket.header", value: u64::from(tag) });
        }
        let affected_rows = r.lenenc_int("OkPacket.affected_rows")?;
        let last_insert_id = r.lenenc_int("OkPacket.last_insert_id")?;
        let status_flags = r.u16_le("OkPacket.status_flags")?;
        let warnings = r.u16_le("OkPacket.warnings")?;
        r.rest();
        Ok(OkPacket { affected_rows, last_insert_id, status_flags, warnings })
    }

    /// Encodes with header byte `tag` (0x00, or 0xFE to end a result set).
    pub fn encode(&self, tag: u8, out: &mut Vec<u8>) {
        out.push(tag);
        put_lenenc_int(out, self.affected_rows);
        put_lenenc_int(out, self.last_insert_id);
        put_u16(out, self.status_flags);
        put_u16(out, self.warnings);
    }
}

/// `0xFF | u16 error_code | '#' sql_state(5) | message`.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrPacket {
    /// MySQL error number, e.g. 1236.
    pub code: u16,
    /// Five-character SQLSTATE.
    pub sql_state: [u8; 5],
    /// Human-readable message.
    pub message: String,
}

impl ErrPacket {
    /// A new error packet.
    pub fn new(code: u16, sql_state: &[u8; 5], message: impl Into<String>) -> Self {
        ErrPacket { code, sql_state: *sql_state, message: message.into() }
    }

    /// Decodes an ERR packet (header byte included).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8("ErrPacket.header")?;
        if tag != 0xff {
            return Err(DecodeError::Invalid { what: "ErrPacket.header", value: u64::from(tag) });
        }
        let code = r.u16_le("ErrPacket.error_code")?;
        let mut sql_state = *b"HY000";
        if r.peek_u8() == Some(b'#') {
            r.skip(1, "ErrPacket.sql_state_marker")?;
            let state = r.bytes(5, "ErrPacket.sql_state")?;
            sql_state.copy_from_slice(state);
        }
        let message = String::from_utf8_lossy(r.rest()).into_owned();
        Ok(ErrPacket { code, sql_state, message })
    }

    /// Encodes the packet.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(0xff);
        put_u16(out, self.code);
        out.push(b'#');
        out.extend_from_slice(&self.sql_state);
        out.extend_from_slice(self.message.as_bytes());
    }
}

impl fmt::Debug for ErrPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = String::from_utf8_lossy(&self.sql_state);
        write!(f, "error {} ({state}): {}", self.code, self.message)
    }
}

/// True for an EOF packet, or an OK packet standing in for one (`0xFE`, shorter than 9 bytes).
pub fn is_eof(payload: &[u8]) -> bool {
    payload.first() == Some(&0xfe) && payload.len() < 9
}

/// True for an ERR packet.
pub fn is_err(payload: &[u8]) -> bool {
    payload.first() == Some(&0xff)
}

/// True for an OK packet.
pub fn is_ok(payload: &[u8]) -> bool {
    payload.first() == Some(&0x00)
}

/// Decodes one text-protocol row of `columns` values (`None` = SQL NULL).
pub fn decode_text_row(
    payload: &[u8],
    columns: usize,
) -> Result<Vec<Option<Vec<u8>>>, DecodeError> {
    let mut r = Reader::new(payload);
    let mut row = Vec::with_capacity(columns.min(64));
    for _ in 0..columns {
        row.push(r.lenenc_bytes_or_null("TextRow.value")?.map(<[u8]>::to_vec));
    }
    r.finish("TextRow")?;
    Ok(row)
}

/// Decodes the column-count packet that opens a result set.
pub fn decode_column_count(payload: &[u8]) -> Result<u64, DecodeError> {
    let mut r = Reader::new(payload);
    let n = r.lenenc_int("ResultSet.column_count")?;
    r.finish("ResultSet.column_count")?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_packet_round_trips_and_rejects_truncation() {
        let err = ErrPacket::new(
            1236,
            b"HY000",
            "Could not find first log file name in binary log index file",
        );
        let mut out = Vec::new();
        err.encode(&mut out);
        assert_eq!(ErrPacket::decode(&mut Reader::new(&out)).unwrap(), err);
        for cut in 0..9 {
            assert!(
                ErrPacket::decode(&mut Reader::new(&out[..cut])).is_err() || cut >= 3,
                "cut {cut}"
            );
        }
        for cut in 0..3 {
            assert!(ErrPacket::decode(&mut Reader::new(&out[..cut])).is_err());
        }
        assert!(err.to_string().contains("1236"));
    }

    #[test]
    fn ok_packet_round_trips_and_rejects_truncation() {
        let ok = OkPacket { affected_rows: 300, last_insert_id: 7, status_flags: 2, warnings: 1 };
        let mut out = Vec::new();
        ok.encode(0, &mut out);
        assert_eq!(OkPacket::decode(&mut Reader::new(&out)).unwrap(), ok);
        for cut in 0..out.len() {
            assert!(OkPacket::decode(&mut Reader::new(&out[..cut])).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn recognises_eof_only_when_short() {
        assert!(is_eof(&[0xfe, 0, 0, 2, 0]));
        assert!(!is_eof(&[0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert!(!is_eof(&[]));
    }

    #[test]
    fn decodes_text_rows_with_null() {
        let row = decode_text_row(&[3, b'a', b'b', b'c', 0xfb], 2).unwrap();
        assert_eq!(row, vec![Some(b"abc".to_vec()), None]);
        assert!(decode_text_row(&[3, b'a'], 1).is_err());
        assert!(decode_text_row(&[1, b'a', 1], 1).is_err());
    }
}
