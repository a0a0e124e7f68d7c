//! Binlog event checksums: the algorithm code and CRC-32 verification.
//!
//! When a file's FORMAT_DESCRIPTION says `checksum_alg = 1` (CRC32), every
//! event ends with a little-endian CRC-32 (zlib polynomial) of all the bytes
//! before it, and `event_len` counts those 4 bytes (docs/protocol.md §8.4). The
//! FORMAT_DESCRIPTION's own CRC is computed with `LOG_EVENT_BINLOG_IN_USE_F`
//! cleared, so the server can clear the flag on close by rewriting one byte
//! without touching the CRC (MySQL `binlog_event.cpp::event_checksum_test`:
//! "FD event is checksummed and therefore verified w/o the binlog-in-use
//! flag"). No I/O here.

use byteorder::{ByteOrder, LittleEndian};

use crate::binlog::event_type::EventType;
use crate::binlog::header::{EventHeader, LOG_EVENT_BINLOG_IN_USE_F};
use crate::protocol::{DecodeError, Reader};

/// Length of the trailing CRC-32.
pub const CRC_LEN: usize = 4;

/// Header offset of the type code.
const TYPE_OFFSET: usize = 4;
/// Header offset of the low byte of `flags`.
const FLAGS_OFFSET: usize = 17;

/// A binlog checksum algorithm (`enum_binlog_checksum_alg`).
///
/// The value of the FD's `checksum_alg` byte, or what a replica negotiated
/// through `@master_binlog_checksum`. Unknown codes are kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChecksumAlg(pub u8);

impl ChecksumAlg {
    /// `BINLOG_CHECKSUM_ALG_OFF`: events carry no CRC.
    pub const OFF: Self = Self(0);
    /// `BINLOG_CHECKSUM_ALG_CRC32`: events end with a CRC-32.
    pub const CRC32: Self = Self(1);
    /// `BINLOG_CHECKSUM_ALG_UNDEF`: not known (yet); no CRC is assumed.
    pub const UNDEF: Self = Self(255);

    /// True when events carry a trailing CRC-32.
    pub fn has_crc(self) -> bool {
        self == Self::CRC32
    }

    /// Number of trailing checksum bytes per event: 4 or 0.
    pub fn crc_len(self) -> usize {
        if self.has_crc() {
            CRC_LEN
        } else {
            0
        }
    }

    /// Parses a `binlog_checksum` value (`binlog_checksum_typelib`:
    /// `NONE` or `CRC32`, ASCII case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        if name.eq_ignore_ascii_case(b"CRC32") {
            Some(Self::CRC32)
        } else if name.eq_ignore_ascii_case(b"NONE") {
            Some(Self::OFF)
        } else {
            None
        }
    }

    /// The `binlog_checksum` spelling: `CRC32`, `NONE`, or `None` for others.
    pub fn as_name(self) -> Option<&'static str> {
        match self {
            Self::CRC32 => Some("CRC32"),
            Self::OFF => Some("NONE"),
            _ => None,
        }
    }
}

/// CRC-32 (zlib / ISO-HDLC polynomial) of `bytes`, as MySQL's `my_checksum`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Length of an event's payload (header excluded) without its CRC.
///
/// Saturates at 0 for lengths too short to hold a header and a CRC.
pub fn payload_len(event_len: usize, alg: ChecksumAlg) -> usize {
    event_len.saturating_sub(EventHeader::LEN).saturating_sub(alg.crc_len())
}

/// The bytes of `event` after the 19-byte header and before the CRC, if `alg` has one.
///
/// # Errors
///
/// [`DecodeError::Truncated`] when `event` cannot hold a header (and a CRC).
pub fn event_payload(event: &[u8], alg: ChecksumAlg) -> Result<&[u8], DecodeError> {
    let mut r = Reader::new(event);
    r.skip(EventHeader::LEN, "event.header")?;
    let len = r.remaining().checked_sub(alg.crc_len()).ok_or(DecodeError::Truncated {
        what: "event.crc",
        need: alg.crc_len(),
        have: r.remaining(),
    })?;
    r.bytes(len, "event.payload")
}

/// Computes the CRC-32 `event` should carry: over everything except its last
/// 4 bytes, with `LOG_EVENT_BINLOG_IN_USE_F` cleared for a FORMAT_DESCRIPTION.
///
/// # Errors
///
/// [`DecodeError::Truncated`] when `event` cannot hold a header and a CRC.
pub fn compute_event_crc(event: &[u8]) -> Result<u32, DecodeError> {
    let covered = split_crc(event)?.0;
    let is_fd = event.get(TYPE_OFFSET) == Some(&EventType::FORMAT_DESCRIPTION.0);
    match (is_fd, covered.split_at_checked(FLAGS_OFFSET)) {
        (true, Some((before, flags_and_rest))) => {
            let (flags_lo, rest) = flags_and_rest.split_first().unwrap_or((&0, &[]));
            // Only the low flags byte holds IN_USE (0x0001); hash the three
            // pieces instead of copying the whole event.
            let mask = !LOG_EVENT_BINLOG_IN_USE_F.to_le_bytes()[0];
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(before);
            hasher.update(&[flags_lo & mask]);
            hasher.update(rest);
            Ok(hasher.finalize())
        }
        _ => Ok(crc32(covered)),
    }
}

/// Checks the trailing CRC-32 of one whole event when `alg` has one.
///
/// For a FORMAT_DESCRIPTION event (type byte 15), the CRC is computed with
/// the IN_USE flag cleared. With `alg` OFF or UNDEF nothing is checked.
///
/// # Errors
///
/// [`DecodeError::Truncated`] when `event` is too short to hold a header and
/// a CRC, [`DecodeError::Checksum`] on a mismatch.
pub fn verify_event(event: &[u8], alg: ChecksumAlg) -> Result<(), DecodeError> {
    if !alg.has_crc() {
        return Ok(());
    }
    let stored = LittleEndian::read_u32(split_crc(event)?.1);
    let computed = compute_event_crc(event)?;
    if stored == computed {
        Ok(())
    } else {
        Err(DecodeError::Checksum { stored, computed })
    }
}

/// Splits `event` into (covered bytes, 4 CRC bytes); the covered part must
/// hold at least a header.
fn split_crc(event: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let need = EventHeader::LEN + CRC_LEN;
    if event.len() < need {
        return Err(DecodeError::Truncated { what: "event.crc", need, have: event.len() });
    }
    let mut r = Reader::new(event);
    let covered = r.bytes(event.len() - CRC_LEN, "event.covered")?;
    Ok((covered, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends a CRC over `body` computed the way the server does.
    fn with_crc(mut event: Vec<u8>) -> Vec<u8> {
        event.extend_from_slice(&[0; 4]);
        let crc = compute_event_crc(&event).unwrap();
        let n = event.len();
        event[n - 4..].copy_from_slice(&crc.to_le_bytes());
        event
    }

    fn stop_event() -> Vec<u8> {
        let h = EventHeader {
            timestamp: 1,
            event_type: EventType::STOP,
            server_id: 1,
            event_len: 23,
            log_pos: 0,
            flags: 0,
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        with_crc(out)
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn parses_checksum_names_case_insensitively() {
        assert_eq!(ChecksumAlg::from_name(b"crc32"), Some(ChecksumAlg::CRC32));
        assert_eq!(ChecksumAlg::from_name(b"NONE"), Some(ChecksumAlg::OFF));
        assert_eq!(ChecksumAlg::from_name(b"None"), Some(ChecksumAlg::OFF));
        assert_eq!(ChecksumAlg::from_name(b"CRC"), None);
        assert_eq!(ChecksumAlg::CRC32.as_name(), Some("CRC32"));
        assert!(
            ChecksumAlg::CRC32.has_crc()
                && !ChecksumAlg::OFF.has_crc()
                && !ChecksumAlg::UNDEF.has_crc()
        );
    }

    #[test]
    fn verifies_and_rejects_event_crcs() {
        let mut event = stop_event();
        verify_event(&event, ChecksumAlg::CRC32).unwrap();
        event[0] ^= 1;
        assert!(matches!(
            verify_event(&event, ChecksumAlg::CRC32),
            Err(DecodeError::Checksum { .. })
        ));
        assert_eq!(verify_event(&event, ChecksumAlg::OFF), Ok(()));
        assert_eq!(verify_event(&event, ChecksumAlg::UNDEF), Ok(()));
    }

    #[test]
    fn fd_crc_ignores_the_in_use_flag() {
        let h = EventHeader {
            timestamp: 7,
            event_type: EventType::FORMAT_DESCRIPTION,
            server_id: 1,
            event_len: 30,
            log_pos: 34,
            flags: 0,
        };
        let mut event = Vec::new();
        h.encode(&mut event);
        event.extend_from_slice(b"fd-body");
        let mut event = with_crc(event);
        verify_event(&event, ChecksumAlg::CRC32).unwrap();
        event[17] |= 0x01;
        verify_event(&event, ChecksumAlg::CRC32).unwrap();
        event[17] |= 0x02;
        assert!(verify_event(&event, ChecksumAlg::CRC32).is_err());
    }

    #[test]
    fn rejects_every_truncation() {
        let event = stop_event();
        for cut in 0..event.len() {
            let prefix = &event[..cut];
            let result = verify_event(prefix, ChecksumAlg::CRC32);
            if cut < EventHeader::LEN + CRC_LEN {
                assert!(matches!(result, Err(DecodeError::Truncated { .. })), "{cut}: {result:?}");
            } else {
                assert!(result.is_err(), "{cut}");
            }
        }
    }

    #[test]
    fn payload_excludes_header_and_crc() {
        let event = stop_event();
        assert_eq!(event_payload(&event, ChecksumAlg::CRC32).unwrap(), b"");
        assert_eq!(event_payload(&event, ChecksumAlg::OFF).unwrap().len(), 4);
        assert!(event_payload(&event[..20], ChecksumAlg::CRC32).is_err());
        assert_eq!(payload_len(23, ChecksumAlg::CRC32), 0);
        assert_eq!(payload_len(10, ChecksumAlg::CRC32), 0);
        assert_eq!(payload_len(30, ChecksumAlg::OFF), 11);
    }
}
