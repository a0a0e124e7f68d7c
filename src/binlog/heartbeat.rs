//! `Heartbeat`: HEARTBEAT_LOG_EVENT (type 27) and MySQL 8.0.28's
//! HEARTBEAT_LOG_EVENT_V2 (type 41), which a primary's dump thread sends
//! when it has had nothing to send for `@master_heartbeat_period`. Wire
//! only: never written to a binlog file (docs/protocol.md §6.6). Layouts:
//!
//! ```text
//! v1 (27)  header   19 bytes, timestamp 0, log_pos = the sender's position
//!          bytes    log_ident: the current file name, no NUL
//!          [u32     CRC-32]
//! v2 (41)  header   19 bytes, as v1
//!          u8 1, lenenc bytes   the file name (OTW_HB_LOG_FILENAME_FIELD)
//!          u8 2, lenenc bytes   a lenenc int: the position (OTW_HB_LOG_POSITION_FIELD)
//!          u8 0                 end mark (OTW_HB_HEADER_END_MARK)
//!          [u32     CRC-32]
//! ```
//!
//! v2 exists because v1's position is the 32-bit `log_pos`; MySQL clients
//! ask for it with flag 0x02 of `COM_BINLOG_DUMP`. MariaDB sends only v1
//! (`sql_repl.cc` `send_heartbeat_event`, MySQL `Heartbeat_event_v2`). No
//! I/O here.

use crate::binlog::checksum::{crc32, event_payload, ChecksumAlg};
use crate::binlog::event_type::EventType;
use crate::binlog::header::EventHeader;
use crate::protocol::writer::{put_lenenc_bytes, put_lenenc_int, put_u32};
use crate::protocol::{DecodeError, Reader};

/// v2 field type: the file name.
const FIELD_FILE: u8 = 1;
/// v2 field type: the position, a lenenc int inside a lenenc string.
const FIELD_POSITION: u8 = 2;
/// v2 end of fields.
const FIELD_END: u8 = 0;

/// A heartbeat: where the sender is in its binlog.
///
/// See the [MariaDB KB page](https://mariadb.com/kb/en/heartbeat_log_event/).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// The binlog file the sender reads, as sent (not validated).
    pub file: Vec<u8>,
    /// Its position in that file (v1 carries only the low 32 bits: a
    /// position past 4 GiB is sent as 0, the "unknown" value).
    pub position: u64,
    /// HEARTBEAT_LOG_EVENT_V2 (type 41) rather than type 27.
    pub v2: bool,
}

impl Heartbeat {
    /// Builds the whole event: header (timestamp 0, `log_pos` the position,
    /// flags 0), body, and a CRC-32 if `alg` has one.
    pub fn encode_event(&self, server_id: u32, alg: ChecksumAlg) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.file.len() + 16);
        let event_type = if self.v2 {
            body.push(FIELD_FILE);
            put_lenenc_bytes(&mut body, &self.file);
            let mut position = Vec::with_capacity(9);
            put_lenenc_int(&mut position, self.position);
            body.push(FIELD_POSITION);
            put_lenenc_bytes(&mut body, &position);
            body.push(FIELD_END);
            EventType::HEARTBEAT_V2
        } else {
            body.extend_from_slice(&self.file);
            EventType::HEARTBEAT
        };
        let len = EventHeader::LEN + body.len() + alg.crc_len();
        let header = EventHeader {
            timestamp: 0,
            event_type,
            server_id,
            // A file name near 4 GiB cannot come from a validated name.
            event_len: u32::try_from(len).unwrap_or(u32::MAX),
            log_pos: u32::try_from(self.position).unwrap_or(0),
            flags: 0,
        };
        let mut out = Vec::with_capacity(len);
        header.encode(&mut out);
        out.extend_from_slice(&body);
        if alg.has_crc() {
            // Not a FORMAT_DESCRIPTION, so the CRC covers the bytes as they are.
            let crc = crc32(&out);
            put_u32(&mut out, crc);
        }
        out
    }

    /// Decodes a whole heartbeat event of either type; `alg` says whether it
    /// ends with a CRC (stripped, not verified).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`]/[`DecodeError::Trailing`] when `event` is
    /// not exactly `event_len` bytes or a v2 field is cut short,
    /// [`DecodeError::Invalid`] for another event type or an unknown v2
    /// field.
    pub fn decode_event(event: &[u8], alg: ChecksumAlg) -> Result<Self, DecodeError> {
        let header = EventHeader::parse(event)?;
        let v2 = header.event_type == EventType::HEARTBEAT_V2;
        let expected = if v2 { EventType::HEARTBEAT_V2 } else { EventType::HEARTBEAT };
        EventHeader::parse_exact(event, expected)?;
        let mut r = Reader::new(event_payload(event, alg)?);
        if !v2 {
            let file = r.rest().to_vec();
            return Ok(Self { file, position: header.log_pos.into(), v2 });
        }
        let (mut file, mut position) = (Vec::new(), 0);
        loop {
            match r.u8("Heartbeat.field_type")? {
                FIELD_END => break,
                FIELD_FILE => file = r.lenenc_bytes("Heartbeat.log_filename")?.to_vec(),
                FIELD_POSITION => {
                    let mut value = Reader::new(r.lenenc_bytes("Heartbeat.log_position")?);
                    position = value.lenenc_int("Heartbeat.log_position")?;
                    value.finish("Heartbeat.log_position")?;
                }
                other => {
                    return Err(DecodeError::Invalid {
                        what: "Heartbeat.field_type",
                        value: other.into(),
                    })
                }
            }
        }
        r.finish("Heartbeat")?;
        Ok(Self { file, position, v2 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::checksum::verify_event;

    fn sample(v2: bool) -> Heartbeat {
        Heartbeat { file: b"mysql-bin.000006".to_vec(), position: 2287, v2 }
    }

    #[test]
    fn encodes_what_mariadb_10_11_sends() {
        // captures/mariadb-10.11/replica_heartbeat.wire.log: "HEARTBEAT ts=0
        // server_id=23100 size=39 log_pos=2287 flags=0x0000 file=mysql-bin.000006".
        let event = sample(false).encode_event(23100, ChecksumAlg::CRC32);
        let header = EventHeader::parse(&event).unwrap();
        assert_eq!(header.event_type, EventType::HEARTBEAT);
        assert_eq!((header.timestamp, header.server_id, header.flags), (0, 23100, 0));
        assert_eq!((header.event_len, header.log_pos), (39, 2287));
        assert_eq!(&event[19..35], b"mysql-bin.000006");
        verify_event(&event, ChecksumAlg::CRC32).unwrap();
    }

    #[test]
    fn encodes_v2_fields_in_mysql_order() {
        let event = sample(true).encode_event(1, ChecksumAlg::OFF);
        let mut body = vec![1, 16];
        body.extend_from_slice(b"mysql-bin.000006");
        body.extend_from_slice(&[2, 3, 0xfc, 0xef, 0x08, 0]);
        assert_eq!(&event[19..], &body[..]);
        assert_eq!(EventHeader::parse(&event).unwrap().event_type, EventType::HEARTBEAT_V2);
    }

    #[test]
    fn round_trips_both_types_with_and_without_crc() {
        for v2 in [false, true] {
            for alg in [ChecksumAlg::CRC32, ChecksumAlg::OFF] {
                let event = sample(v2).encode_event(7, alg);
                assert_eq!(EventHeader::parse(&event).unwrap().event_len as usize, event.len());
                assert_eq!(Heartbeat::decode_event(&event, alg).unwrap(), sample(v2));
            }
        }
        // v2 carries a position past 4 GiB; v1's log_pos then says 0.
        let far = Heartbeat { position: 5 << 30, ..sample(true) };
        let event = far.encode_event(7, ChecksumAlg::CRC32);
        assert_eq!(EventHeader::parse(&event).unwrap().log_pos, 0);
        assert_eq!(Heartbeat::decode_event(&event, ChecksumAlg::CRC32).unwrap(), far);
    }

    #[test]
    fn rejects_every_truncation() {
        for v2 in [false, true] {
            let event = sample(v2).encode_event(1, ChecksumAlg::CRC32);
            for cut in 0..event.len() {
                let err = Heartbeat::decode_event(&event[..cut], ChecksumAlg::CRC32).unwrap_err();
                assert!(matches!(err, DecodeError::Truncated { .. }), "{v2} {cut}: {err:?}");
            }
        }
    }

    #[test]
    fn rejects_trailing_bytes_other_types_and_unknown_fields() {
        let mut event = sample(true).encode_event(1, ChecksumAlg::OFF);
        let end = event.len() - 1;
        event[end] = 9; // an unknown field where the end mark was
        let err = Heartbeat::decode_event(&event, ChecksumAlg::OFF).unwrap_err();
        assert_eq!(err, DecodeError::Invalid { what: "Heartbeat.field_type", value: 9 });
        let mut event = sample(false).encode_event(1, ChecksumAlg::OFF);
        event.push(0);
        let err = Heartbeat::decode_event(&event, ChecksumAlg::OFF).unwrap_err();
        assert!(matches!(err, DecodeError::Trailing { .. }), "{err:?}");
        event.pop();
        event[4] = EventType::ROTATE.0;
        let err = Heartbeat::decode_event(&event, ChecksumAlg::OFF).unwrap_err();
        assert!(matches!(err, DecodeError::Invalid { .. }), "{err:?}");
    }
}
