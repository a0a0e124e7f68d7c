//! MySQL GTID sets in text (`uuid:1-5:7,uuid2:3`) and in the binary
//! encoding of `COM_BINLOG_DUMP_GTID` (protocol.md §3.3). No I/O.

use crate::protocol::writer::put_u64;

/// A parsed MySQL GTID set: SIDs in sorted order, merged intervals per SID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GtidSet {
    sids: Vec<SidIntervals>,
}

/// A server UUID and its `[start, end)` intervals.
type SidIntervals = ([u8; 16], Vec<(u64, u64)>);

impl GtidSet {
    /// Parses `uuid:a-b:c,uuid2:d` (whitespace and newlines allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = GtidSet::default();
        for part in text.split(',').map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid = fields.next().unwrap_or_default();
            let sid = parse_uuid(uuid).ok_or_else(|| format!("bad server uuid {uuid:?}"))?;
            let mut intervals = Vec::new();
            for range in fields {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (range, range),
                };
                let start: u64 = a.trim().parse().map_err(|_| format!("bad interval {range:?}"))?;
                let end: u64 = b.trim().parse().map_err(|_| format!("bad interval {range:?}"))?;
                if start == 0 || end < start {
                    return Err(format!("bad interval {range:?}"));
                }
                intervals.push((start, end + 1));
            }
            if intervals.is_empty() {
                return Err(format!("{part:?} has no interval"));
            }
            match set.sids.iter_mut().find(|(s, _)| *s == sid) {
                Some((_, iv)) => iv.extend(intervals),
                None => set.sids.push((sid, intervals)),
            }
        }
        set.sids.sort_by_key(|s| s.0);
        for (_, iv) in &mut set.sids {
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
        Ok(set)
    }

    /// The binary encoding (untagged format).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.sids.len() as u64);
        for (sid, intervals) in &self.sids {
            out.extend_from_slice(sid);
            put_u64(out, intervals.len() as u64);
            for &(s, e) in intervals {
                put_u64(out, s);
                put_u64(out, e);
            }
        }
    }
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
    fn encodes_the_protocol_md_example() {
        let set = GtidSet::parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5").unwrap();
        let mut out = Vec::new();
        set.encode(&mut out);
        let want: Vec<u8> = [
            &[1u8, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62],
            &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(out, want);
    }

    #[test]
    fn merges_adjacent_intervals_and_sorts_sids() {
        let a = GtidSet::parse("bbbbbbbb-0000-0000-0000-000000000000:3-4:1-2, aaaaaaaa-0000-0000-0000-000000000000:7").unwrap();
        let mut out = Vec::new();
        a.encode(&mut out);
        assert_eq!(out.len(), 8 + 2 * (16 + 8 + 16));
        assert_eq!(out[8], 0xaa);
        let mut b = Vec::new();
        GtidSet::parse("bbbbbbbb-0000-0000-0000-000000000000:1-4,aaaaaaaa-0000-0000-0000-000000000000:7").unwrap().encode(&mut b);
        assert_eq!(out, b);
    }

    #[test]
    fn rejects_bad_text() {
        for bad in ["nope:1", "3E11FA47-71CA-11E1-9E33-C80AA9429562", "3E11FA47-71CA-11E1-9E33-C80AA9429562:5-1", "3E11FA47-71CA-11E1-9E33-C80AA9429562:0"] {
            assert!(GtidSet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(GtidSet::parse("").unwrap(), GtidSet::default());
    }
}
