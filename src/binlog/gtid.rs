//! Global transaction ids of both flavours, and the MariaDB GTID events.
//!
//! * MariaDB: `domain-server-seq` triples ([`GtidTriple`]); the GTID event
//!   (162, [`MariaGtid`]) starts every event group, the GTID_LIST event (163,
//!   [`MariaGtidList`]) holds the binlog state at the start of a file; a
//!   GTID position such as `0-1-100,1-2-7` is [`crate::binlog::gtid_pos`].
//! * MySQL: `uuid:gno` ([`MysqlGtid`]) from GTID (33) and ANONYMOUS_GTID (34)
//!   events. GTID_TAGGED (42) is in [`crate::binlog::gtid_tagged`].
//!
//! Layouts are in docs/protocol.md §8.11, §8.12 and §8.14. No I/O here.

use std::fmt;
use std::str::FromStr;

use crate::binlog::checksum::{event_payload, ChecksumAlg};
use crate::binlog::event_type::EventType;
use crate::binlog::header::EventHeader;
use crate::protocol::writer::{put_u32, put_u64};
use crate::protocol::{DecodeError, Reader};

/// A MariaDB GTID without flags: `domain_id-server_id-seq_no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GtidTriple {
    /// Replication domain.
    pub domain_id: u32,
    /// Server that originally committed the transaction.
    pub server_id: u32,
    /// Sequence number within the domain.
    pub seq_no: u64,
}

impl fmt::Display for GtidTriple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

impl FromStr for GtidTriple {
    type Err = DecodeError;

    /// Parses `0-1-100`: three unsigned decimal numbers, no signs or spaces.
    /// An error's `value` is the index of the bad part (3: wrong part count).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |index: u64| DecodeError::Invalid { what: "GtidTriple", value: index };
        let mut parts = s.split('-');
        let mut next = |index: u64| -> Result<u64, DecodeError> {
            let part = parts.next().ok_or(invalid(3))?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(index));
            }
            part.parse().map_err(|_| invalid(index))
        };
        let domain_id = u32::try_from(next(0)?).map_err(|_| invalid(0))?;
        let server_id = u32::try_from(next(1)?).map_err(|_| invalid(1))?;
        let seq_no = next(2)?;
        if parts.next().is_some() {
            return Err(invalid(3));
        }
        Ok(Self { domain_id, server_id, seq_no })
    }
}

/// A decoded MariaDB GTID_EVENT (162).
///
/// Body: `u64 seq_no, u32 domain_id, u8 flags2`, then optional parts (commit
/// id, XA xid, `flags_extra`) that are not decoded. The server id is the
/// event header's. See the [MariaDB KB page](https://mariadb.com/kb/en/gtid_event/).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MariaGtid {
    /// Replication domain.
    pub domain_id: u32,
    /// Server that originally committed the transaction (header `server_id`).
    pub server_id: u32,
    /// Sequence number within the domain.
    pub seq_no: u64,
    /// `FL_*` flags.
    pub flags2: u8,
}

impl MariaGtid {
    /// `FL_STANDALONE`: the group is one statement with no COMMIT/XID.
    pub const FL_STANDALONE: u8 = 0x01;
    /// `FL_GROUP_COMMIT_ID`: a u64 commit id follows.
    pub const FL_GROUP_COMMIT_ID: u8 = 0x02;
    /// `FL_TRANSACTIONAL`: the group touches only transactional engines.
    pub const FL_TRANSACTIONAL: u8 = 0x04;
    /// `FL_ALLOW_PARALLEL`: may be applied in parallel.
    pub const FL_ALLOW_PARALLEL: u8 = 0x08;
    /// `FL_WAITED`: had to wait for a row lock on the primary.
    pub const FL_WAITED: u8 = 0x10;
    /// `FL_DDL`: the group is DDL.
    pub const FL_DDL: u8 = 0x20;
    /// `FL_PREPARED_XA`: an `XA PREPARE`d part; xid follows.
    pub const FL_PREPARED_XA: u8 = 0x40;
    /// `FL_COMPLETED_XA`: `XA COMMIT`/`XA ROLLBACK`; xid follows.
    pub const FL_COMPLETED_XA: u8 = 0x80;

    /// Decodes a whole GTID_EVENT (162); the CRC, if any, is neither needed nor checked.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`]/[`DecodeError::Trailing`] when `event` is
    /// not exactly `event_len` bytes or too short, [`DecodeError::Invalid`]
    /// for another type.
    pub fn decode_event(event: &[u8]) -> Result<Self, DecodeError> {
        let header = EventHeader::parse_exact(event, EventType::MARIADB_GTID)?;
        let mut r = Reader::new(event);
        r.skip(EventHeader::LEN, "MariaGtid.header")?;
        let seq_no = r.u64_le("MariaGtid.seq_no")?;
        let domain_id = r.u32_le("MariaGtid.domain_id")?;
        let flags2 = r.u8("MariaGtid.flags2")?;
        Ok(Self { domain_id, server_id: header.server_id, seq_no, flags2 })
    }

    /// True when `FL_STANDALONE` is set.
    pub fn is_standalone(&self) -> bool {
        self.flags2 & Self::FL_STANDALONE != 0
    }

    /// The GTID without its flags.
    pub fn triple(&self) -> GtidTriple {
        GtidTriple { domain_id: self.domain_id, server_id: self.server_id, seq_no: self.seq_no }
    }
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.triple().fmt(f)
    }
}

impl FromStr for MariaGtid {
    type Err = DecodeError;

    /// Parses `0-1-100` (flags2 = 0).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t: GtidTriple = s.parse()?;
        Ok(Self { domain_id: t.domain_id, server_id: t.server_id, seq_no: t.seq_no, flags2: 0 })
    }
}

/// A decoded MariaDB GTID_LIST_EVENT (163): the binlog state before this file.
///
/// Body: `u32 count_and_flags` (low 28 bits count, high 4 bits flags), then
/// `count × {u32 domain_id, u32 server_id, u64 seq_no}`, then `count × u64
/// sub_id` if `FLAG_IGN_GTIDS` (internal, skipped). An empty list is
/// followed by 2 zero bytes of padding. See the
/// [MariaDB KB page](https://mariadb.com/kb/en/gtid_list_event/).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MariaGtidList {
    /// Last GTID per (domain, server), in file order.
    pub gtids: Vec<GtidTriple>,
    /// The high 4 bits of `count_and_flags`, shifted down.
    pub flags: u8,
}

impl MariaGtidList {
    /// `FLAG_UNTIL_REACHED` (bit 28, here 1).
    pub const FLAG_UNTIL_REACHED: u8 = 0x1;
    /// `FLAG_IGN_GTIDS` (bit 29, here 2): sub ids follow the list.
    pub const FLAG_IGN_GTIDS: u8 = 0x2;
    /// Bytes per listed GTID.
    const ENTRY_LEN: usize = 16;
    /// Largest count the 28-bit field holds.
    const MAX_COUNT: usize = 0x0fff_ffff;
    /// Zero bytes after an empty list: MariaDB's `get_data_size` keeps the
    /// body at 6 bytes at least, "needed for older slaves" that replace the
    /// event with a dummy one.
    const EMPTY_PADDING_LEN: usize = 2;

    /// Decodes a whole GTID_LIST event; `alg` says whether it ends with a CRC
    /// (stripped, not verified).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when the count needs more bytes than there
    /// are (checked before allocating), [`DecodeError::Trailing`] for extra
    /// bytes, [`DecodeError::Invalid`] for another type.
    pub fn decode_event(event: &[u8], alg: ChecksumAlg) -> Result<Self, DecodeError> {
        EventHeader::parse_exact(event, EventType::GTID_LIST)?;
        let mut r = Reader::new(event_payload(event, alg)?);
        let count_and_flags = r.u32_le("MariaGtidList.count")?;
        let count = usize::try_from(count_and_flags & 0x0fff_ffff).unwrap_or(usize::MAX);
        let flags = u8::try_from(count_and_flags >> 28).unwrap_or_default();
        let need = count.saturating_mul(Self::ENTRY_LEN);
        if need > r.remaining() {
            return Err(DecodeError::Truncated {
                what: "MariaGtidList.gtids",
                need,
                have: r.remaining(),
            });
        }
        let mut gtids = Vec::with_capacity(count);
        for _ in 0..count {
            gtids.push(GtidTriple {
                domain_id: r.u32_le("MariaGtidList.domain_id")?,
                server_id: r.u32_le("MariaGtidList.server_id")?,
                seq_no: r.u64_le("MariaGtidList.seq_no")?,
            });
        }
        if flags & Self::FLAG_IGN_GTIDS != 0 {
            r.skip(count.saturating_mul(8), "MariaGtidList.sub_id")?;
        }
        if count == 0 && r.remaining() <= Self::EMPTY_PADDING_LEN {
            r.rest();
        }
        r.finish("MariaGtidList")?;
        Ok(Self { gtids, flags })
    }

    /// Builds a whole GTID_LIST event (header, body, CRC if `alg` has one),
    /// e.g. a fake one (`timestamp = 0`, `LOG_EVENT_ARTIFICIAL_F`).
    /// `FLAG_IGN_GTIDS` is cleared, as no sub ids are kept.
    pub fn encode_event(
        &self,
        timestamp: u32,
        server_id: u32,
        log_pos: u32,
        flags: u16,
        alg: ChecksumAlg,
    ) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.gtids.len() * Self::ENTRY_LEN);
        // The count has 28 bits; a longer list (4 GiB of GTIDs) is cut there.
        let n = self.gtids.len().min(Self::MAX_COUNT);
        let list_flags = u32::from(self.flags & !Self::FLAG_IGN_GTIDS & 0x0f) << 28;
        put_u32(&mut body, u32::try_from(n).unwrap_or_default() | list_flags);
        for g in self.gtids.iter().take(n) {
            put_u32(&mut body, g.domain_id);
            put_u32(&mut body, g.server_id);
            put_u64(&mut body, g.seq_no);
        }
        if self.gtids.is_empty() {
            body.extend_from_slice(&[0; Self::EMPTY_PADDING_LEN]);
        }
        build_event(
            EventHeader {
                timestamp,
                event_type: EventType::GTID_LIST,
                server_id,
                event_len: 0,
                log_pos,
                flags,
            },
            &body,
            alg,
        )
    }
}

/// A MySQL GTID `uuid:gno` from a GTID (33) or ANONYMOUS_GTID (34) event.
///
/// Body prefix: `u8 gtid_flags, 16 bytes SID, i64 GNO` (the logical clock and
/// commit timestamps that follow are not decoded). ANONYMOUS_GTID has an
/// all-zero SID and GNO 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MysqlGtid {
    /// The source's `server_uuid`, as 16 bytes.
    pub sid: [u8; 16],
    /// Transaction number.
    pub gno: u64,
}

impl MysqlGtid {
    /// Decodes a whole GTID (33) or ANONYMOUS_GTID (34) event; the CRC, if
    /// any, is neither needed nor checked.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`]/[`DecodeError::Trailing`] when `event` is
    /// not exactly `event_len` bytes or too short, [`DecodeError::Invalid`]
    /// for another type.
    pub fn decode_event(event: &[u8]) -> Result<Self, DecodeError> {
        let header = EventHeader::parse(event)?;
        let expected = match header.event_type {
            EventType::ANONYMOUS_GTID => EventType::ANONYMOUS_GTID,
            _ => EventType::GTID,
        };
        EventHeader::parse_exact(event, expected)?;
        let mut r = Reader::new(event);
        r.skip(EventHeader::LEN, "MysqlGtid.header")?;
        r.skip(1, "MysqlGtid.gtid_flags")?;
        let sid_bytes = r.bytes(16, "MysqlGtid.sid")?;
        let sid = <[u8; 16]>::try_from(sid_bytes).map_err(|_| DecodeError::Truncated {
            what: "MysqlGtid.sid",
            need: 16,
            have: sid_bytes.len(),
        })?;
        let gno = r.u64_le("MysqlGtid.gno")?;
        Ok(Self { sid, gno })
    }

    /// True for the all-zero SID of ANONYMOUS_GTID events.
    pub fn is_anonymous(&self) -> bool {
        self.sid == [0; 16]
    }
}

impl fmt::Display for MysqlGtid {
    /// `3e11fa47-71ca-11e1-9e33-c80aa9429562:5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.sid.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        write!(f, ":{}", self.gno)
    }
}

/// Fills in `event_len` and appends `body` and, if `alg` has one, the CRC.
fn build_event(mut header: EventHeader, body: &[u8], alg: ChecksumAlg) -> Vec<u8> {
    let len = EventHeader::LEN + body.len() + alg.crc_len();
    header.event_len = u32::try_from(len).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(len);
    header.encode(&mut out);
    out.extend_from_slice(body);
    if alg.has_crc() {
        let crc = crate::binlog::checksum::crc32(&out);
        put_u32(&mut out, crc);
    }
    out
}

#[cfg(test)]
#[path = "gtid_tests.rs"]
mod tests;
