//! `GtidPos`: a MariaDB GTID position, the last GTID of each replication
//! domain, such as `0-1-100,1-2-7`.
//!
//! It is what MariaDB calls a GTID position (`@@gtid_slave_pos`,
//! `@@gtid_binlog_pos`, `@@gtid_current_pos`, `BINLOG_GTID_POS()`) and what a
//! replica sends as `@slave_connect_state` to start a dump; `--start-gtid`
//! takes one too. At most one GTID per domain, kept in domain order; the
//! empty string is the empty position. Parsing follows MariaDB's
//! `slave_connection_state::load`: comma-separated `domain-server-seq`
//! elements (spaces around them allowed), no empty element, no domain twice.
//! Errors say which element is wrong and how ([`GtidPosError`]).
//!
//! The whole position can be walked domain by domain ([`GtidPos::domains`],
//! [`GtidPos::domain`]), so two positions compare per domain. No I/O here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::binlog::gtid::GtidTriple;
use crate::protocol::DecodeError;

/// A MariaDB GTID position: at most one GTID per domain, in domain order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GtidPos {
    by_domain: BTreeMap<u32, GtidTriple>,
}

impl GtidPos {
    /// The empty position.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `gtid` as its domain's last GTID (replacing the one before).
    pub fn update(&mut self, gtid: GtidTriple) {
        self.by_domain.insert(gtid.domain_id, gtid);
    }

    /// The GTID of `domain_id`, if the position has one.
    pub fn domain(&self, domain_id: u32) -> Option<GtidTriple> {
        self.by_domain.get(&domain_id).copied()
    }

    /// The domains present, in order.
    pub fn domains(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_domain.keys().copied()
    }

    /// The GTIDs, one per domain, in domain order.
    pub fn iter(&self) -> impl Iterator<Item = GtidTriple> + '_ {
        self.by_domain.values().copied()
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.by_domain.len()
    }

    /// True for the empty position.
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }
}

impl FromIterator<GtidTriple> for GtidPos {
    /// Each GTID becomes its domain's last; a later one of the same domain wins.
    fn from_iter<I: IntoIterator<Item = GtidTriple>>(iter: I) -> Self {
        let mut pos = Self::new();
        iter.into_iter().for_each(|g| pos.update(g));
        pos
    }
}

impl FromStr for GtidPos {
    type Err = GtidPosError;

    /// Parses `0-1-100,1-2-7`; blank text is the empty position.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pos = Self::new();
        if s.trim().is_empty() {
            return Ok(pos);
        }
        for (index, element) in s.split(',').map(str::trim).enumerate() {
            let bad = |part| GtidPosError::BadGtid { index, part };
            if element.is_empty() {
                return Err(bad(GtidPart::Shape));
            }
            let gtid: GtidTriple = element.parse().map_err(|e| bad(GtidPart::of(e)))?;
            if pos.domain(gtid.domain_id).is_some() {
                return Err(GtidPosError::DuplicateDomain { index, domain_id: gtid.domain_id });
            }
            pos.update(gtid);
        }
        Ok(pos)
    }
}

impl fmt::Display for GtidPos {
    /// `0-1-100,1-2-7`, in domain order; empty for the empty position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            g.fmt(f)?;
        }
        Ok(())
    }
}

/// Which part of a `domain-server-seq` element is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GtidPart {
    /// The domain id: not a decimal number below 2^32.
    DomainId,
    /// The server id: not a decimal number below 2^32.
    ServerId,
    /// The sequence number: not a decimal number below 2^64.
    SeqNo,
    /// Empty, or not three `-`-separated parts.
    Shape,
}

impl GtidPart {
    /// The part a [`GtidTriple`] parse error names (its `value` is the index
    /// of the bad part, 3 for a wrong number of parts).
    fn of(e: DecodeError) -> Self {
        match e {
            DecodeError::Invalid { value: 0, .. } => GtidPart::DomainId,
            DecodeError::Invalid { value: 1, .. } => GtidPart::ServerId,
            DecodeError::Invalid { value: 2, .. } => GtidPart::SeqNo,
            _ => GtidPart::Shape,
        }
    }
}

/// Why a GTID position does not parse. `index` counts the comma-separated
/// elements from 0; [`GtidPosError::element`] finds the element's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GtidPosError {
    /// Element `index` is not `domain-server-seq`.
    BadGtid {
        /// Which element (from 0).
        index: usize,
        /// What is wrong with it.
        part: GtidPart,
    },
    /// Element `index` names a domain an earlier element already gave
    /// (MariaDB: `ER_DUPLICATE_GTID_DOMAIN`).
    DuplicateDomain {
        /// Which element (from 0).
        index: usize,
        /// The repeated domain.
        domain_id: u32,
    },
}

impl GtidPosError {
    /// The text of the wrong element in `text`, the string that was parsed.
    pub fn element<'a>(&self, text: &'a str) -> &'a str {
        let (GtidPosError::BadGtid { index, .. } | GtidPosError::DuplicateDomain { index, .. }) =
            *self;
        text.split(',').nth(index).map(str::trim).unwrap_or_default()
    }
}

impl fmt::Display for GtidPosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GtidPosError::BadGtid { index, part } => {
                let what = match part {
                    GtidPart::DomainId => "its domain id is not a 32-bit number",
                    GtidPart::ServerId => "its server id is not a 32-bit number",
                    GtidPart::SeqNo => "its sequence number is not a 64-bit number",
                    GtidPart::Shape => "it is empty or not three numbers joined by '-'",
                };
                write!(f, "GTID {} of the position is not domain-server-seq: {what}", index + 1)
            }
            GtidPosError::DuplicateDomain { index, domain_id } => write!(
                f,
                "GTID {} of the position repeats domain {domain_id} (one GTID per domain)",
                index + 1
            ),
        }
    }
}

impl std::error::Error for GtidPosError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(domain_id: u32, server_id: u32, seq_no: u64) -> GtidTriple {
        GtidTriple { domain_id, server_id, seq_no }
    }

    #[test]
    fn parses_and_prints_positions_in_domain_order() {
        let pos: GtidPos = "1-2-7,0-1-100".parse().unwrap();
        assert_eq!(pos.len(), 2);
        assert_eq!(pos.domain(1), Some(g(1, 2, 7)));
        assert_eq!(pos.domain(2), None);
        assert_eq!(pos.domains().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(pos.to_string(), "0-1-100,1-2-7");
        assert_eq!(" 0-1-100 , 1-2-7 ".parse::<GtidPos>().unwrap(), pos);
        assert_eq!(pos.to_string().parse::<GtidPos>().unwrap(), pos);
        assert_eq!("".parse::<GtidPos>().unwrap(), GtidPos::new());
        assert_eq!("  ".parse::<GtidPos>().unwrap(), GtidPos::new());
        assert_eq!(GtidPos::new().to_string(), "");
        let max = "4294967295-4294967295-18446744073709551615";
        assert_eq!(max.parse::<GtidPos>().unwrap().to_string(), max);
    }

    #[test]
    fn update_keeps_the_last_gtid_of_each_domain() {
        let mut pos: GtidPos = [g(0, 1, 5), g(3, 1, 2)].into_iter().collect();
        pos.update(g(0, 2, 6));
        assert_eq!(pos.iter().collect::<Vec<_>>(), [g(0, 2, 6), g(3, 1, 2)]);
        assert!(!pos.is_empty() && GtidPos::new().is_empty());
    }

    #[test]
    fn names_the_wrong_element_and_part() {
        let bad = |text: &str| text.parse::<GtidPos>().unwrap_err();
        let cases = [
            ("0-1-2,x", 1, GtidPart::DomainId, "x"),
            ("0-1-2, 1-x-3", 1, GtidPart::ServerId, "1-x-3"),
            ("0-1-18446744073709551616", 0, GtidPart::SeqNo, "0-1-18446744073709551616"),
            ("4294967296-1-2", 0, GtidPart::DomainId, "4294967296-1-2"),
            ("0-1", 0, GtidPart::Shape, "0-1"),
            ("0-1-2-3", 0, GtidPart::Shape, "0-1-2-3"),
            ("0-1-2,", 1, GtidPart::Shape, ""),
            ("0-1-2,,1-1-1", 1, GtidPart::Shape, ""),
            ("+0-1-2", 0, GtidPart::DomainId, "+0-1-2"),
        ];
        for (text, index, part, element) in cases {
            let e = bad(text);
            assert_eq!(e, GtidPosError::BadGtid { index, part }, "{text:?}");
            assert_eq!(e.element(text), element, "{text:?}");
        }
        let e = bad("0-1-2,1-1-1,0-2-3");
        assert_eq!(e, GtidPosError::DuplicateDomain { index: 2, domain_id: 0 });
        assert_eq!(e.element("0-1-2,1-1-1,0-2-3"), "0-2-3");
        assert_eq!(e.to_string(), "GTID 3 of the position repeats domain 0 (one GTID per domain)");
        assert_eq!(
            bad("0-1-2,0-x-1").to_string(),
            "GTID 2 of the position is not domain-server-seq: its server id is not a 32-bit number"
        );
    }
}
