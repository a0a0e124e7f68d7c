//! MySQL GTID sets: text (`uuid:1-5:7,uuid2:tag:3`) and the binary encoding
//! of `COM_BINLOG_DUMP_GTID` and PREVIOUS_GTIDS (docs/protocol.md §4.6), untagged
//! and tagged (MySQL 8.4+). No I/O.

use std::collections::BTreeMap;
use std::fmt;

use crate::protocol::writer::put_u64;
use crate::protocol::{DecodeError, Reader};

/// A server UUID plus an optional tag (MySQL 8.4+); the untagged tag is "".
pub type Tsid = ([u8; 16], String);

/// A set of MySQL GTIDs: per TSID, sorted disjoint `[start, end)` intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GtidSet {
    sids: BTreeMap<Tsid, Vec<(u64, u64)>>,
}

impl GtidSet {
    /// Parses `uuid:a-b:c,uuid2:tag:d` (whitespace and newlines allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = GtidSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid = fields.next().unwrap_or_default();
            let sid = parse_uuid(uuid).ok_or_else(|| format!("bad server uuid {uuid:?}"))?;
            let mut tag = String::new();
            let mut any = false;
            for field in fields {
                let field = field.trim();
                if field.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    tag = field.to_ascii_lowercase();
                    continue;
                }
                let (a, b) = field.split_once('-').unwrap_or((field, field));
                let start: u64 = a.trim().parse().map_err(|_| format!("bad interval {field:?}"))?;
                let end: u64 = b.trim().parse().map_err(|_| format!("bad interval {field:?}"))?;
                // MySQL's GNOs are 1 to 2^63 - 2 (GNO_END is 2^63 - 1).
                if start == 0 || end < start || end >= i64::MAX as u64 {
                    return Err(format!("bad interval {field:?}"));
                }
                set.add_interval((sid, tag.clone()), start, end + 1);
                any = true;
            }
            if !any {
                return Err(format!("{part:?} has no interval"));
            }
        }
        Ok(set)
    }

    fn add_interval(&mut self, tsid: Tsid, start: u64, end: u64) {
        let iv = self.sids.entry(tsid).or_default();
        iv.push((start, end));
        iv.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(iv.len());
        for &(s, e) in iv.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *iv = merged;
    }

    /// Adds one untagged GTID.
    pub fn insert(&mut self, sid: [u8; 16], gno: u64) {
        if !self.contains(&sid, "", gno) {
            self.add_interval((sid, String::new()), gno, gno.saturating_add(1));
        }
    }

    /// Adds one GTID with a tag ("" for none).
    pub fn insert_tagged(&mut self, sid: [u8; 16], tag: &str, gno: u64) {
        if !self.contains(&sid, tag, gno) {
            self.add_interval((sid, tag.to_owned()), gno, gno.saturating_add(1));
        }
    }

    /// True when the set holds `sid[:tag]:gno`.
    pub fn contains(&self, sid: &[u8; 16], tag: &str, gno: u64) -> bool {
        self.sids
            .get(&(*sid, tag.to_owned()))
            .is_some_and(|iv| iv.iter().any(|&(s, e)| s <= gno && gno < e))
    }

    /// True when every GTID of `self` is in `other`.
    pub fn is_subset_of(&self, other: &GtidSet) -> bool {
        self.sids.iter().all(|(tsid, ivs)| {
            let theirs = other.sids.get(tsid).map(Vec::as_slice).unwrap_or_default();
            ivs.iter().all(|&(s, e)| theirs.iter().any(|&(ts, te)| ts <= s && e <= te))
        })
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.sids.is_empty()
    }

    /// The GTIDs of `self` that are not in `other`.
    pub fn difference(&self, other: &GtidSet) -> GtidSet {
        let mut out = GtidSet::default();
        for (tsid, ivs) in &self.sids {
            let theirs = other.sids.get(tsid).map(Vec::as_slice).unwrap_or_default();
            for &(start, end) in ivs {
                let mut from = start;
                // Both interval lists are sorted and disjoint.
                for &(ts, te) in theirs.iter().filter(|&&(ts, te)| te > start && ts < end) {
                    if ts > from {
                        out.add_interval(tsid.clone(), from, ts);
                    }
                    from = from.max(te);
                }
                if from < end {
                    out.add_interval(tsid.clone(), from, end);
                }
            }
        }
        out
    }

    /// The binary encoding: untagged format unless a tag is present.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let tagged = self.sids.keys().any(|(_, t)| !t.is_empty());
        if tagged {
            put_u64(out, (1 << 56) | ((self.sids.len() as u64) << 8) | 1);
        } else {
            put_u64(out, self.sids.len() as u64);
        }
        for ((sid, tag), intervals) in &self.sids {
            out.extend_from_slice(sid);
            if tagged {
                // Tags are at most 32 characters (MySQL's limit), so the length fits.
                out.push(u8::try_from(tag.len().min(127)).unwrap_or(127) << 1);
                out.extend_from_slice(tag.as_bytes());
            }
            put_u64(out, intervals.len() as u64);
            for &(s, e) in intervals {
                put_u64(out, s);
                put_u64(out, e);
            }
        }
    }

    /// Decodes the binary encoding (untagged, or tagged with format byte 1).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = r.u64_le("GtidSet.n_sids")?;
        let tagged = header >> 56 == 1;
        let n = if tagged { (header >> 8) & 0xffff_ffff_ffff } else { header };
        let mut set = GtidSet::default();
        for _ in 0..n {
            let sid: [u8; 16] = r.bytes(16, "GtidSet.sid")?.try_into().unwrap_or_default();
            let mut tag = String::new();
            if tagged {
                let len = r.u8("GtidSet.tag_length")? >> 1;
                tag =
                    String::from_utf8_lossy(r.bytes(usize::from(len), "GtidSet.tag")?).into_owned();
            }
            let intervals = r.u64_le("GtidSet.n_intervals")?;
            if intervals > (r.remaining() / 16) as u64 {
                return Err(DecodeError::TooLarge {
                    what: "GtidSet.n_intervals",
                    len: intervals,
                    max: (r.remaining() / 16) as u64,
                });
            }
            for _ in 0..intervals {
                let s = r.u64_le("GtidSet.interval_start")?;
                let e = r.u64_le("GtidSet.interval_end")?;
                if s == 0 || e <= s {
                    return Err(DecodeError::Invalid { what: "GtidSet.interval", value: s });
                }
                set.add_interval((sid, tag.clone()), s, e);
            }
        }
        r.finish("GtidSet")?;
        Ok(set)
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut last_sid: Option<[u8; 16]> = None;
        for ((sid, tag), ivs) in &self.sids {
            if last_sid != Some(*sid) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{}", format_uuid(sid))?;
                last_sid = Some(*sid);
            }
            if !tag.is_empty() {
                write!(f, ":{tag}")?;
            }
            for &(s, e) in ivs {
                if e - 1 == s {
                    write!(f, ":{s}")?;
                } else {
                    write!(f, ":{s}-{}", e - 1)?;
                }
            }
        }
        Ok(())
    }
}

/// Formats a UUID as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn format_uuid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_keeps_what_the_other_set_lacks() {
        const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        const B: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
        let set = |t: &str| GtidSet::parse(t).unwrap();
        let ours = set(&format!("{A}:1-10:15-20,{B}:1-3"));
        let theirs = set(&format!("{A}:3-5:9-16,{B}:1-3"));
        assert_eq!(ours.difference(&theirs), set(&format!("{A}:1-2:6-8:17-20")));
        assert_eq!(theirs.difference(&ours), set(&format!("{A}:11-14")));
        assert_eq!(ours.difference(&GtidSet::default()), ours);
        assert_eq!(ours.difference(&ours), GtidSet::default());
        let tagged = set(&format!("{A}:1-10,{A}:t:1-2"));
        assert_eq!(tagged.difference(&ours), set(&format!("{A}:t:1-2")));
    }

    #[test]
    fn encodes_the_protocol_md_example() {
        let set = GtidSet::parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5").unwrap();
        let mut out = Vec::new();
        set.encode(&mut out);
        let want: Vec<u8> = [
            &[1u8, 0, 0, 0, 0, 0, 0, 0][..],
            &[
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62,
            ],
            &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(out, want);
        assert_eq!(GtidSet::decode(&out).unwrap(), set);
        assert_eq!(set.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5");
        for cut in 0..out.len() {
            assert!(GtidSet::decode(&out[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn merges_adjacent_intervals_and_sorts_sids() {
        let a = GtidSet::parse(
            "bbbbbbbb-0000-0000-0000-000000000000:3-4:1-2, aaaaaaaa-0000-0000-0000-000000000000:7",
        )
        .unwrap();
        let mut out = Vec::new();
        a.encode(&mut out);
        assert_eq!(out.len(), 8 + 2 * (16 + 8 + 16));
        assert_eq!(out[8], 0xaa);
        assert_eq!(
            a.to_string(),
            "aaaaaaaa-0000-0000-0000-000000000000:7,bbbbbbbb-0000-0000-0000-000000000000:1-4"
        );
    }

    #[test]
    fn tagged_sets_round_trip() {
        let set = GtidSet::parse("55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2").unwrap();
        let mut out = Vec::new();
        set.encode(&mut out);
        assert_eq!(out[7], 1, "format byte");
        assert_eq!(GtidSet::decode(&out).unwrap(), set);
        assert!(set.contains(
            &parse_uuid("55778904-0299-11f1-b1b8-4ef0c4956feb").unwrap(),
            "mytag",
            2
        ));
    }

    #[test]
    fn membership_and_subsets() {
        let mut s = GtidSet::parse("aaaaaaaa-0000-0000-0000-000000000000:1-3").unwrap();
        let sid = parse_uuid("aaaaaaaa-0000-0000-0000-000000000000").unwrap();
        assert!(s.contains(&sid, "", 3) && !s.contains(&sid, "", 4));
        s.insert(sid, 4);
        assert_eq!(s.to_string(), "aaaaaaaa-0000-0000-0000-000000000000:1-4");
        let small = GtidSet::parse("aaaaaaaa-0000-0000-0000-000000000000:2-3").unwrap();
        assert!(small.is_subset_of(&s) && !s.is_subset_of(&small));
        assert!(GtidSet::default().is_subset_of(&small));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "nope:1",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:5-1",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:0",
            // Found by the fuzzer: the interval end overflowed.
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-18446744073709551615",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:9223372036854775807",
        ] {
            assert!(GtidSet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(GtidSet::parse("").unwrap(), GtidSet::default());
    }
}
