//! `Rotate`: ROTATE_EVENT (type 4), which names the next binlog file.
//!
//! A server writes it as the last event of a file on rotation; a primary's
//! dump thread also sends a *fake* one (timestamp 0, `log_pos` 0,
//! `LOG_EVENT_ARTIFICIAL_F`) before every file it starts to read, whose CRC
//! follows the checksum algorithm negotiated at connect
//! (docs/protocol.md §6.3, §8.7). Layout:
//!
//! ```text
//! header     19 bytes, type 4
//! u64        position   start offset in the next file (4 on rotation)
//! bytes      next_file  file name without directory, no NUL
//! [u32       CRC-32]
//! ```
//!
//! No I/O here.

use crate::binlog::checksum::{crc32, event_payload, ChecksumAlg};
use crate::binlog::event_type::EventType;
use crate::binlog::header::EventHeader;
use crate::protocol::writer::{put_u32, put_u64};
use crate::protocol::{DecodeError, Reader};

/// A decoded ROTATE_EVENT.
///
/// See the [MariaDB KB page](https://mariadb.com/kb/en/rotate_event/).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rotate {
    /// Offset in `next_file` where reading continues (4 for a real rotation).
    pub position: u64,
    /// Name of the next binlog file, without directory, as sent (not validated).
    pub next_file: Vec<u8>,
}

impl Rotate {
    /// Length of the ROTATE post-header (`ROTATE_HEADER_LEN`).
    pub const POST_HEADER_LEN: usize = 8;

    /// Decodes a whole ROTATE event; `alg` says whether it ends with a CRC
    /// (which is stripped, not verified).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`]/[`DecodeError::Trailing`] when `event` is
    /// not exactly `event_len` bytes or too short, [`DecodeError::Invalid`]
    /// for another event type.
    pub fn decode_event(event: &[u8], alg: ChecksumAlg) -> Result<Self, DecodeError> {
        EventHeader::parse_exact(event, EventType::ROTATE)?;
        let mut r = Reader::new(event_payload(event, alg)?);
        let position = r.u64_le("Rotate.position")?;
        let next_file = r.rest().to_vec();
        Ok(Self { position, next_file })
    }

    /// Builds a whole ROTATE event: header (with the given fields and the
    /// computed `event_len`), body, and a CRC-32 if `alg` has one.
    ///
    /// A fake ROTATE for a dump uses `timestamp = 0`, `log_pos = 0` and
    /// `flags = LOG_EVENT_ARTIFICIAL_F`.
    pub fn encode_event(
        &self,
        timestamp: u32,
        server_id: u32,
        log_pos: u32,
        flags: u16,
        alg: ChecksumAlg,
    ) -> Vec<u8> {
        let len = EventHeader::LEN + Self::POST_HEADER_LEN + self.next_file.len() + alg.crc_len();
        let header = EventHeader {
            timestamp,
            event_type: EventType::ROTATE,
            server_id,
            // A file name longer than 4 GiB cannot come from a decoded event
            // or a validated `BinlogFileName`; saturate rather than wrap.
            event_len: u32::try_from(len).unwrap_or(u32::MAX),
            log_pos,
            flags,
        };
        let mut out = Vec::with_capacity(len);
        header.encode(&mut out);
        put_u64(&mut out, self.position);
        out.extend_from_slice(&self.next_file);
        if alg.has_crc() {
            // Not a FORMAT_DESCRIPTION, so the CRC covers the bytes as they are.
            let crc = crc32(&out);
            put_u32(&mut out, crc);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::checksum::verify_event;
    use crate::binlog::header::LOG_EVENT_ARTIFICIAL_F;

    fn sample() -> Rotate {
        Rotate { position: 4, next_file: b"mysql-bin.000002".to_vec() }
    }

    #[test]
    fn round_trips_with_and_without_crc() {
        for alg in [ChecksumAlg::CRC32, ChecksumAlg::OFF] {
            let event = sample().encode_event(0x5a00_0000, 1, 27984, 0, alg);
            assert_eq!(event.len(), 19 + 8 + 16 + alg.crc_len());
            verify_event(&event, alg).unwrap();
            assert_eq!(Rotate::decode_event(&event, alg).unwrap(), sample());
            let header = EventHeader::parse(&event).unwrap();
            assert_eq!(header.event_len as usize, event.len());
            assert_eq!(header.log_pos, 27984);
        }
    }

    #[test]
    fn builds_a_fake_rotate() {
        let event = sample().encode_event(0, 7, 0, LOG_EVENT_ARTIFICIAL_F, ChecksumAlg::CRC32);
        let header = EventHeader::parse(&event).unwrap();
        assert!(header.is_artificial());
        assert_eq!((header.timestamp, header.server_id, header.log_pos), (0, 7, 0));
        verify_event(&event, ChecksumAlg::CRC32).unwrap();
    }

    #[test]
    fn rejects_every_truncation() {
        let event = sample().encode_event(1, 1, 0, 0, ChecksumAlg::CRC32);
        for cut in 0..event.len() {
            let err = Rotate::decode_event(&event[..cut], ChecksumAlg::CRC32).unwrap_err();
            assert!(matches!(err, DecodeError::Truncated { .. }), "{cut}: {err:?}");
        }
    }

    #[test]
    fn rejects_trailing_bytes_and_other_types() {
        let mut event = sample().encode_event(1, 1, 0, 0, ChecksumAlg::OFF);
        event.push(b'x');
        assert!(matches!(
            Rotate::decode_event(&event, ChecksumAlg::OFF),
            Err(DecodeError::Trailing { .. })
        ));
        event.pop();
        event[4] = EventType::STOP.0;
        assert!(matches!(
            Rotate::decode_event(&event, ChecksumAlg::OFF),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn too_short_for_the_crc_is_truncated() {
        // A ROTATE with event_len 23 cannot hold position + CRC.
        let mut event = Vec::new();
        EventHeader {
            timestamp: 0,
            event_type: EventType::ROTATE,
            server_id: 1,
            event_len: 23,
            log_pos: 0,
            flags: 0,
        }
        .encode(&mut event);
        event.extend_from_slice(&[0; 4]);
        assert!(matches!(
            Rotate::decode_event(&event, ChecksumAlg::CRC32),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
