//! `FormatDescription`: FORMAT_DESCRIPTION_EVENT (type 15), the first event
//! of every v4 binlog file.
//!
//! It tells a reader the server version, the length of every event type's
//! post-header, and the checksum algorithm of the whole file. Layout
//! (MySQL `control_events.cpp` `Format_description_event`, MariaDB
//! `Format_description_log_event`; docs/protocol.md §8.6):
//!
//! ```text
//! header         19 bytes, type 15
//! u16            binlog_version = 4
//! char[50]       server_version, NUL-padded
//! u32            create_timestamp (0 for files opened by rotation)
//! u8             common_header_len = 19
//! u8[N]          post_header_len[type - 1] for type = 1..=N
//! u8             checksum_alg     } only from MySQL 5.6.1 / MariaDB 5.3 on
//! u32            CRC-32           } (the CRC is there even when alg = 0)
//! ```
//!
//! No I/O here.

use crate::binlog::checksum::{crc32, ChecksumAlg, CRC_LEN};
use crate::binlog::event_type::EventType;
use crate::binlog::header::{EventHeader, LOG_EVENT_BINLOG_IN_USE_F};
use crate::protocol::writer::put_u32;
use crate::protocol::{DecodeError, Reader};

/// Length of the fixed part of the body: version, server version, created, header length.
const FIXED_BODY_LEN: usize = 2 + SERVER_VERSION_LEN + 4 + 1;
/// Length of the NUL-padded server version field.
const SERVER_VERSION_LEN: usize = 50;
/// Body offset of `create_timestamp`.
const CREATED_OFFSET: usize = 2 + SERVER_VERSION_LEN;
/// The only binlog format version that has a FORMAT_DESCRIPTION.
const BINLOG_VERSION_4: u16 = 4;
/// First MySQL version writing the `checksum_alg` byte (`checksum_version_split_mysql`).
const CHECKSUM_VERSION_MYSQL: (u32, u32, u32) = (5, 6, 1);
/// First MariaDB version writing the `checksum_alg` byte (`checksum_version_split_mariadb`).
const CHECKSUM_VERSION_MARIADB: (u32, u32, u32) = (5, 3, 0);

/// A decoded FORMAT_DESCRIPTION_EVENT.
///
/// See the [MariaDB KB page](https://mariadb.com/kb/en/format_description_event/).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    /// Binlog format version; always 4.
    pub binlog_version: u16,
    /// Server version up to the first NUL, e.g. `8.0.28` or `11.8.5-MariaDB-ubu2404-log`.
    pub server_version: String,
    /// Creation time of the file (0 for files opened by rotation).
    pub create_timestamp: u32,
    /// Common header length; always 19.
    pub header_len: u8,
    /// Post-header length of event type `t` at index `t - 1`.
    pub post_header_lens: Vec<u8>,
    /// Checksum algorithm of every event after this one; `OFF` for servers
    /// too old to write the byte.
    pub checksum_alg: ChecksumAlg,
}

impl FormatDescription {
    /// Decodes a whole FORMAT_DESCRIPTION event (header included).
    ///
    /// The CRC is not verified here (see [`verify_event`](crate::binlog::verify_event)).
    /// Whether the `checksum_alg` byte exists follows from the server
    /// version as in MySQL's `get_checksum_alg`; the array length N follows
    /// from `event_len`, and is cross-checked against the FD's own entry,
    /// which is `57 + N` in every server.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`]/[`DecodeError::Trailing`] when `event` is not
    /// exactly `event_len` bytes or too short; [`DecodeError::Invalid`] for a
    /// wrong type, a binlog version other than 4, a header length other than
    /// 19, an inconsistent post-header array or an unknown `checksum_alg`.
    pub fn decode_event(event: &[u8]) -> Result<Self, DecodeError> {
        EventHeader::parse_exact(event, EventType::FORMAT_DESCRIPTION)?;
        let mut r = Reader::new(event);
        r.skip(EventHeader::LEN, "FormatDescription.header")?;
        let binlog_version = r.u16_le("FormatDescription.binlog_version")?;
        if binlog_version != BINLOG_VERSION_4 {
            return Err(DecodeError::Invalid {
                what: "FormatDescription.binlog_version",
                value: binlog_version.into(),
            });
        }
        let raw_version = r.bytes(SERVER_VERSION_LEN, "FormatDescription.server_version")?;
        let server_version = until_nul(raw_version);
        let create_timestamp = r.u32_le("FormatDescription.create_timestamp")?;
        let header_len = r.u8("FormatDescription.common_header_len")?;
        if usize::from(header_len) != EventHeader::LEN {
            return Err(DecodeError::Invalid {
                what: "FormatDescription.common_header_len",
                value: header_len.into(),
            });
        }
        let has_alg = has_checksum_alg(&server_version);
        let tail = if has_alg { 1 + CRC_LEN } else { 0 };
        let n = r.remaining().checked_sub(tail).ok_or(DecodeError::Truncated {
            what: "FormatDescription.checksum_alg",
            need: tail,
            have: r.remaining(),
        })?;
        let post_header_lens = r.bytes(n, "FormatDescription.post_header_len")?.to_vec();
        let checksum_alg = if has_alg {
            ChecksumAlg(r.u8("FormatDescription.checksum_alg")?)
        } else {
            ChecksumAlg::OFF
        };
        if ![ChecksumAlg::OFF, ChecksumAlg::CRC32, ChecksumAlg::UNDEF].contains(&checksum_alg) {
            return Err(DecodeError::Invalid {
                what: "FormatDescription.checksum_alg",
                value: checksum_alg.0.into(),
            });
        }
        let fd = Self {
            binlog_version,
            server_version,
            create_timestamp,
            header_len,
            post_header_lens,
            checksum_alg,
        };
        let own = fd.post_header_len(EventType::FORMAT_DESCRIPTION).map(usize::from);
        if own != Some(FIXED_BODY_LEN + n) {
            return Err(DecodeError::Invalid {
                what: "FormatDescription.post_header_len[FORMAT_DESCRIPTION]",
                value: own.map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX)),
            });
        }
        Ok(fd)
    }

    /// The stored FD event `stored` as a primary's dump thread re-sends it:
    /// `LOG_EVENT_BINLOG_IN_USE_F` cleared (the replica must not think the
    /// file was left open by a crash), and for a start in the middle of the
    /// file (`mid_file`) `log_pos` and `create_timestamp` zeroed, which
    /// tells the replica not to act on the file's creation again (MariaDB
    /// `sql_repl.cc` `send_format_descriptor_event`). The CRC is computed
    /// anew when the FD's algorithm has one; everything else is as stored.
    ///
    /// # Errors
    ///
    /// As [`FormatDescription::decode_event`] when `stored` is not a whole FD.
    pub fn resent_event(stored: &[u8], mid_file: bool) -> Result<Vec<u8>, DecodeError> {
        let alg = Self::decode_event(stored)?.checksum_alg;
        let mut header = EventHeader::parse(stored)?;
        header.flags &= !LOG_EVENT_BINLOG_IN_USE_F;
        let mut r = Reader::new(stored);
        r.skip(EventHeader::LEN, "FormatDescription.header")?;
        let before = r.bytes(CREATED_OFFSET, "FormatDescription.server_version")?;
        let mut created = r.u32_le("FormatDescription.create_timestamp")?;
        if mid_file {
            header.log_pos = 0;
            created = 0;
        }
        // Without a CRC to recompute, the rest (a CRC field included, when
        // the algorithm is OFF) goes out as stored.
        let crc = if alg.has_crc() { CRC_LEN } else { 0 };
        let rest_len = r.remaining().checked_sub(crc).ok_or(DecodeError::Truncated {
            what: "FormatDescription.crc",
            need: crc,
            have: r.remaining(),
        })?;
        let rest = r.bytes(rest_len, "FormatDescription.post_header_len")?;
        let mut out = Vec::with_capacity(stored.len());
        header.encode(&mut out);
        out.extend_from_slice(before);
        put_u32(&mut out, created);
        out.extend_from_slice(rest);
        if alg.has_crc() {
            // IN_USE is cleared already, so the CRC covers the bytes as they are.
            let crc = crc32(&out);
            put_u32(&mut out, crc);
        }
        Ok(out)
    }

    /// The post-header length of event type `t`, if the FD lists it.
    ///
    /// The table is returned as written. Note that MySQL 8.0/9.x list 40 for
    /// TRANSACTION_PAYLOAD where 0 was meant (docs/protocol.md §8.6); decoders of
    /// that event must not use this entry.
    pub fn post_header_len(&self, t: EventType) -> Option<u8> {
        let index = usize::from(t.0).checked_sub(1)?;
        self.post_header_lens.get(index).copied()
    }

    /// True when a MariaDB server wrote the file.
    pub fn is_mariadb(&self) -> bool {
        self.server_version.contains("MariaDB")
    }

    /// True when the event carries the `checksum_alg` byte and a CRC field
    /// (MySQL ≥ 5.6.1, MariaDB ≥ 5.3), whatever the algorithm.
    pub fn has_checksum_alg(&self) -> bool {
        has_checksum_alg(&self.server_version)
    }

    /// The leading `major.minor.patch` numbers of the server version.
    pub fn version_triple(&self) -> (u32, u32, u32) {
        version_triple(&self.server_version)
    }

    /// True when two FORMAT_DESCRIPTION events came from the same file of the same server.
    ///
    /// A primary re-sends the file's FD when a replica resumes mid-file with
    /// `log_pos = 0`, `create_timestamp = 0` and IN_USE cleared, and a new
    /// CRC. So the header's `timestamp`, type, `server_id` and `event_len`
    /// must be equal, and the body must be equal except `create_timestamp`
    /// (body offset 52..56) and the trailing 4 CRC bytes; `log_pos` and
    /// `flags` are ignored. Returns false for anything that does not look
    /// like an FD.
    pub fn same_origin(stored: &[u8], resent: &[u8]) -> bool {
        match (origin_parts(stored), origin_parts(resent)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// The parts of an FD that [`FormatDescription::same_origin`] compares:
/// (timestamp, server_id, event_len), the body before `create_timestamp`,
/// and the body after it without the CRC.
type OriginParts<'a> = ((u32, u32, u32), &'a [u8], &'a [u8]);

/// Splits an FD event into its [`OriginParts`]; `None` if it is not one.
fn origin_parts(event: &[u8]) -> Option<OriginParts<'_>> {
    let h = EventHeader::parse_exact(event, EventType::FORMAT_DESCRIPTION).ok()?;
    let mut r = Reader::new(event);
    r.skip(EventHeader::LEN, "FormatDescription.header").ok()?;
    let before = r.bytes(CREATED_OFFSET, "FormatDescription.server_version").ok()?;
    r.skip(4, "FormatDescription.create_timestamp").ok()?;
    let version = until_nul(before.get(2..).unwrap_or_default());
    let crc = if has_checksum_alg(&version) { CRC_LEN } else { 0 };
    let after =
        r.bytes(r.remaining().checked_sub(crc)?, "FormatDescription.post_header_len").ok()?;
    Some(((h.timestamp, h.server_id, h.event_len), before, after))
}

/// The bytes up to the first NUL, as lossy UTF-8.
fn until_nul(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
}

/// MySQL's `do_server_version_split`: up to three leading numbers separated
/// by `.`; parsing stops at the first other character, missing parts are 0.
fn version_triple(version: &str) -> (u32, u32, u32) {
    let mut parts = [0u32; 3];
    let mut rest = version;
    for part in parts.iter_mut() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        *part = number.parse().unwrap_or(0);
        match after.strip_prefix('.') {
            Some(next) if digits > 0 => rest = next,
            _ => break,
        }
    }
    let [major, minor, patch] = parts;
    (major, minor, patch)
}

/// MySQL/MariaDB `Format_description_log_event::is_version_before_checksum`, negated.
fn has_checksum_alg(version: &str) -> bool {
    let first =
        if version.contains("MariaDB") { CHECKSUM_VERSION_MARIADB } else { CHECKSUM_VERSION_MYSQL };
    version_triple(version) >= first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::checksum::{crc32, verify_event};

    /// A MariaDB-style FD built from parts, with a valid CRC when `alg_byte` is set.
    fn build_fd(version: &str, n: usize, alg_byte: Option<u8>) -> Vec<u8> {
        let mut body = vec![4, 0];
        let mut padded = version.as_bytes().to_vec();
        padded.resize(SERVER_VERSION_LEN, 0);
        body.extend_from_slice(&padded);
        body.extend_from_slice(&0x6954_edd5u32.to_le_bytes());
        body.push(19);
        let mut lens = vec![0u8; n];
        lens[1] = 13;
        lens[14] = u8::try_from(57 + n).unwrap();
        body.extend_from_slice(&lens);
        let tail = if alg_byte.is_some() { 5 } else { 0 };
        let len = u32::try_from(19 + body.len() + tail).unwrap();
        let header = EventHeader {
            timestamp: 0x6954_edd5,
            event_type: EventType::FORMAT_DESCRIPTION,
            server_id: 10,
            event_len: len,
            log_pos: 4 + len,
            flags: 1,
        };
        let mut event = Vec::new();
        header.encode(&mut event);
        event.extend_from_slice(&body);
        if let Some(alg) = alg_byte {
            event.push(alg);
            let mut cleared = event.clone();
            cleared[17] &= !1;
            event.extend_from_slice(&crc32(&cleared).to_le_bytes());
        }
        event
    }

    #[test]
    fn decodes_a_mariadb_11_fd() {
        let event = build_fd("11.8.5-MariaDB-ubu2404-log", 171, Some(1));
        assert_eq!(event.len(), 252);
        verify_event(&event, ChecksumAlg::CRC32).unwrap();
        let fd = FormatDescription::decode_event(&event).unwrap();
        assert_eq!(fd.server_version, "11.8.5-MariaDB-ubu2404-log");
        assert!(fd.is_mariadb() && fd.has_checksum_alg());
        assert_eq!(fd.checksum_alg, ChecksumAlg::CRC32);
        assert_eq!(fd.post_header_lens.len(), 171);
        assert_eq!(fd.post_header_len(EventType::QUERY), Some(13));
        assert_eq!(fd.post_header_len(EventType::FORMAT_DESCRIPTION), Some(228));
        assert_eq!(fd.post_header_len(EventType::UNKNOWN), None);
        assert_eq!(fd.post_header_len(EventType(172)), None);
        assert_eq!(fd.version_triple(), (11, 8, 5));
    }

    #[test]
    fn old_mysql_fd_has_no_checksum_byte() {
        let event = build_fd("5.5.40-log", 27, None);
        let fd = FormatDescription::decode_event(&event).unwrap();
        assert_eq!(fd.checksum_alg, ChecksumAlg::OFF);
        assert!(!fd.has_checksum_alg() && !fd.is_mariadb());
        assert_eq!(fd.post_header_lens.len(), 27);
    }

    #[test]
    fn rejects_inconsistent_array_length_and_bad_fields() {
        // A 5.6.1+ version but no alg byte: the own entry no longer matches.
        let event = build_fd("5.7.20-log", 38, None);
        assert!(matches!(
            FormatDescription::decode_event(&event),
            Err(DecodeError::Invalid { .. })
        ));
        let mut event = build_fd("8.0.28", 41, Some(7));
        assert!(matches!(
            FormatDescription::decode_event(&event),
            Err(DecodeError::Invalid { what: "FormatDescription.checksum_alg", value: 7 })
        ));
        event[19] = 3;
        assert!(matches!(
            FormatDescription::decode_event(&event),
            Err(DecodeError::Invalid { what: "FormatDescription.binlog_version", value: 3 })
        ));
    }

    #[test]
    fn rejects_every_truncation() {
        let event = build_fd("8.0.28", 41, Some(1));
        for cut in 0..event.len() {
            assert!(FormatDescription::decode_event(&event[..cut]).is_err(), "{cut}");
        }
        let mut longer = event.clone();
        longer.push(0);
        assert!(matches!(
            FormatDescription::decode_event(&longer),
            Err(DecodeError::Trailing { .. })
        ));
    }

    #[test]
    fn splits_versions_like_mysql() {
        assert_eq!(version_triple("8.0.28"), (8, 0, 28));
        assert_eq!(version_triple("5.6.1-m5"), (5, 6, 1));
        assert_eq!(version_triple("10.5.15-MariaDB-1:10.5.15+maria~focal-log"), (10, 5, 15));
        assert_eq!(version_triple("5.6"), (5, 6, 0));
        assert_eq!(version_triple("garbage"), (0, 0, 0));
        assert!(has_checksum_alg("5.3.0-MariaDB") && !has_checksum_alg("5.2.9-MariaDB"));
        assert!(has_checksum_alg("5.6.1") && !has_checksum_alg("5.6.0"));
    }

    #[test]
    fn recognises_a_resent_fd_as_the_same_origin() {
        let stored = build_fd("8.0.28", 41, Some(1));
        let mut resent = stored.clone();
        resent[13..17].copy_from_slice(&[0; 4]); // log_pos = 0
        resent[17] = 0; // IN_USE cleared
        resent[19 + 52..19 + 56].copy_from_slice(&[0; 4]); // created = 0
        let n = resent.len();
        resent[n - 4..].copy_from_slice(&[1, 2, 3, 4]);
        assert!(FormatDescription::same_origin(&stored, &resent));
        let mut other = resent.clone();
        other[5] = 2; // server_id
        assert!(!FormatDescription::same_origin(&stored, &other));
        let mut other = resent.clone();
        other[n - 5] = 0; // checksum alg
        assert!(!FormatDescription::same_origin(&stored, &other));
        assert!(!FormatDescription::same_origin(&stored, &stored[..40]));
    }

    /// A real MariaDB 10.5 binlog; its FD (CRC32, IN_USE set) is at 4..256.
    const MARIADB_10_5: &[u8] =
        include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");

    #[test]
    fn resends_the_fd_with_in_use_cleared_and_a_new_crc() {
        let stored = &MARIADB_10_5[4..256];
        assert_eq!(stored[17] & 1, 1, "the fixture's FD has IN_USE set");
        let resent = FormatDescription::resent_event(stored, false).unwrap();
        // Known bytes: the stored event with the flag bit cleared, and the
        // CRC over that (which the stored CRC already is: IN_USE is left
        // out of an FD's CRC).
        let mut want = stored.to_vec();
        want[17] &= !1;
        assert_eq!(resent, want);
        verify_event(&resent, ChecksumAlg::CRC32).unwrap();
    }

    #[test]
    fn resends_a_mid_file_fd_without_log_pos_and_created() {
        let stored = &MARIADB_10_5[4..256];
        let resent = FormatDescription::resent_event(stored, true).unwrap();
        let header = EventHeader::parse(&resent).unwrap();
        assert_eq!((header.log_pos, header.flags & 1), (0, 0));
        assert_eq!(&resent[19 + 52..19 + 56], &[0; 4]);
        assert_ne!(&stored[19 + 52..19 + 56], &[0; 4], "the fixture has a creation time");
        verify_event(&resent, ChecksumAlg::CRC32).unwrap();
        assert!(FormatDescription::same_origin(stored, &resent));
        let decoded = FormatDescription::decode_event(&resent).unwrap();
        assert_eq!(decoded.create_timestamp, 0);
        let before = FormatDescription::decode_event(stored).unwrap();
        assert_eq!(decoded, FormatDescription { create_timestamp: 0, ..before });
        // Without a CRC algorithm the CRC field goes out as stored.
        let off = build_fd("10.5.15-MariaDB-log", 165, Some(0));
        let resent = FormatDescription::resent_event(&off, true).unwrap();
        assert_eq!(resent[resent.len() - 4..], off[off.len() - 4..]);
        assert_eq!(resent.len(), off.len());
    }

    #[test]
    fn refuses_to_resend_a_truncated_or_padded_fd() {
        let stored = &MARIADB_10_5[4..256];
        for cut in 0..stored.len() {
            assert!(FormatDescription::resent_event(&stored[..cut], false).is_err(), "{cut}");
        }
        let mut longer = stored.to_vec();
        longer.push(0);
        assert!(matches!(
            FormatDescription::resent_event(&longer, true),
            Err(DecodeError::Trailing { .. })
        ));
    }
}
