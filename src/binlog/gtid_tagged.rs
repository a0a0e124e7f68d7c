//! MySQL 8.4+ GTID_TAGGED events (42): `uuid:tag:gno`.
//!
//! The body is MySQL's `mysql::serialization` encoding (libs/mysql/
//! serialization): a message header of three unsigned varints (format
//! version, serializable size, last non-ignorable field id), then fields as
//! `varint field_id, value`. The fields read here come first: 0
//! `gtid_flags` (u8), 1 the source uuid (16 unsigned varints, one per
//! byte), 2 `gno` (signed varint, zigzag), 3 the tag (varint length, bytes).
//! The rest (logical clock, commit timestamps, ...) is not decoded.
//!
//! Varints (`Archive_binary`): the number of trailing one bits of the first
//! byte, plus one, is the number of bytes (9 when the first byte is 0xff);
//! the value is the little-endian bytes shifted right by that number (the
//! 8 bytes after the first, for 9). No I/O here.

use std::fmt;

use crate::binlog::checksum::{event_payload, ChecksumAlg};
use crate::binlog::event_type::EventType;
use crate::binlog::header::EventHeader;
use crate::protocol::{DecodeError, Reader};

/// The GTID of a GTID_TAGGED event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlTaggedGtid {
    /// The source's `server_uuid`.
    pub sid: [u8; 16],
    /// The tag (empty for an untagged GTID written in the tagged format).
    pub tag: String,
    /// Transaction number.
    pub gno: u64,
}

impl MysqlTaggedGtid {
    /// Decodes a whole GTID_TAGGED event; `alg` says whether it ends with a CRC.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Invalid`] for another type, a field out of order or a
    /// value out of range; [`DecodeError::Truncated`] when the body ends early.
    pub fn decode_event(event: &[u8], alg: ChecksumAlg) -> Result<Self, DecodeError> {
        EventHeader::parse_exact(event, EventType::GTID_TAGGED)?;
        let mut r = Reader::new(event_payload(event, alg)?);
        for what in ["GtidTagged.version", "GtidTagged.size", "GtidTagged.last_field"] {
            varint(&mut r, what)?;
        }
        let mut sid = [0u8; 16];
        let (mut gno, mut tag) = (None, None);
        let mut last_id = None;
        while gno.is_none() || tag.is_none() {
            let id = varint(&mut r, "GtidTagged.field_id")?;
            if last_id.is_some_and(|l| id <= l) {
                return Err(DecodeError::Invalid { what: "GtidTagged.field_id", value: id });
            }
            last_id = Some(id);
            match id {
                0 => drop(varint(&mut r, "GtidTagged.gtid_flags")?),
                1 => {
                    for b in &mut sid {
                        *b = byte(varint(&mut r, "GtidTagged.uuid")?)?;
                    }
                }
                2 => gno = Some(zigzag(varint(&mut r, "GtidTagged.gno")?)),
                3 => {
                    let len = usize::try_from(varint(&mut r, "GtidTagged.tag_length")?)
                        .unwrap_or(usize::MAX);
                    tag =
                        Some(String::from_utf8_lossy(r.bytes(len, "GtidTagged.tag")?).into_owned());
                }
                _ => return Err(DecodeError::Invalid { what: "GtidTagged.field_id", value: id }),
            }
        }
        let gno = gno.and_then(|g| u64::try_from(g).ok()).filter(|&g| g > 0);
        let gno = gno.ok_or(DecodeError::Invalid { what: "GtidTagged.gno", value: 0 })?;
        Ok(MysqlTaggedGtid { sid, tag: tag.unwrap_or_default(), gno })
    }
}

impl fmt::Display for MysqlTaggedGtid {
    /// `uuid:tag:gno`, or `uuid:gno` without a tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::binlog::gtid_set::format_uuid(&self.sid))?;
        if !self.tag.is_empty() {
            write!(f, ":{}", self.tag)?;
        }
        write!(f, ":{}", self.gno)
    }
}

/// One unsigned varint.
fn varint(r: &mut Reader<'_>, what: &'static str) -> Result<u64, DecodeError> {
    let first = r.peek_u8().ok_or(DecodeError::Truncated { what, need: 1, have: 0 })?;
    let len = first.trailing_ones() as usize + 1;
    let bytes = r.bytes(len, what)?;
    if len == 9 {
        let rest = bytes.get(1..).unwrap_or_default();
        return Ok(rest.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b)));
    }
    let raw = bytes.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b));
    Ok(raw >> len)
}

/// A signed varint's zigzag value.
fn zigzag(v: u64) -> i64 {
    let half = i64::try_from(v >> 1).unwrap_or(i64::MAX);
    if v & 1 == 0 {
        half
    } else {
        -half - 1
    }
}

fn byte(v: u64) -> Result<u8, DecodeError> {
    u8::try_from(v).map_err(|_| DecodeError::Invalid { what: "GtidTagged.uuid", value: v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::walk;

    const TAGGED: &[u8] = include_bytes!(
        "../../tests/fixtures/binlogs/mysql_common/binlog_transaction_with_GTID_TAG.000001"
    );

    #[test]
    fn decodes_the_mysql_9_6_fixture() {
        let ev = walk(TAGGED).find(|e| e.header.event_type == EventType::GTID_TAGGED).unwrap();
        let g = MysqlTaggedGtid::decode_event(ev.bytes, ChecksumAlg::CRC32).unwrap();
        assert_eq!(g.to_string(), "55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3");
    }

    #[test]
    fn varints_of_every_width() {
        let mut r = Reader::new(&[0x02, 0x25, 0x02, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(varint(&mut r, "t").unwrap(), 1);
        assert_eq!(varint(&mut r, "t").unwrap(), 0x89);
        assert_eq!(varint(&mut r, "t").unwrap(), 0x0807_0605_0403_0201);
        assert!(varint(&mut r, "t").is_err());
        assert_eq!(zigzag(6), 3);
        assert_eq!(zigzag(5), -3);
        let mut short = TAGGED.to_vec();
        short.truncate(300);
        assert!(MysqlTaggedGtid::decode_event(&short, ChecksumAlg::OFF).is_err());
    }
}
