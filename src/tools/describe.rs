//! One-line descriptions of binlog events, shared by `events` and `proxy`.
//!
//! [`EventDescriber`] follows a stream of whole events (file or dump): it
//! keeps the current FORMAT_DESCRIPTION (post-header lengths, checksum alg)
//! and the table ids of the TABLE_MAP events seen, so that a rows event can
//! be shown with its `db.table`. Decoding problems are shown inline, never
//! fatal: the caller still prints the event.

use std::collections::HashMap;
use std::fmt::Write;

use crate::binlog::gtid_set::GtidSet;
use crate::binlog::{
    checksum::event_payload, query_text, rows_table_id, verify_event, ChecksumAlg, EventHeader,
    EventType, FormatDescription, MariaGtid, MariaGtidList, MysqlGtid, MysqlTaggedGtid, Rotate,
    TableMap,
};
use crate::protocol::DecodeError;

/// Longest text (query, annotate) shown before it is cut with `...`.
pub const MAX_TEXT: usize = 200;

/// State to describe a sequence of events.
#[derive(Debug, Default)]
pub struct EventDescriber {
    fd: Option<FormatDescription>,
    tables: HashMap<u64, String>,
}

impl EventDescriber {
    /// A describer that has seen no event yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The FORMAT_DESCRIPTION in force, if one was seen.
    pub fn format_description(&self) -> Option<&FormatDescription> {
        self.fd.as_ref()
    }

    /// `time type server_id size end` plus what the event says (GTID,
    /// table, query, next file...). `end` is the end position to show: the
    /// file offset after the event, or the header's `log_pos` on the wire.
    pub fn line(&mut self, header: &EventHeader, event: &[u8], end: u64) -> String {
        let name = header
            .event_type
            .name()
            .map_or_else(|| format!("Unknown_{}", header.event_type.0), str::to_owned);
        let mut s = format!(
            "{} {name:<18} server_id={} size={} end={}",
            utc_iso8601(header.timestamp),
            header.server_id,
            header.event_len,
            end
        );
        match self.detail(header, event) {
            Ok(d) if d.is_empty() => {}
            Ok(d) => {
                s.push(' ');
                s.push_str(&d);
            }
            Err(e) => {
                let _ = write!(s, " undecoded=\"{e}\"");
            }
        }
        s
    }

    /// The type-specific part; updates the FD and the table map.
    pub fn detail(&mut self, header: &EventHeader, event: &[u8]) -> Result<String, DecodeError> {
        let t = header.event_type;
        if t == EventType::FORMAT_DESCRIPTION {
            let fd = FormatDescription::decode_event(event)?;
            let alg = fd.checksum_alg.as_name().unwrap_or("undef").to_ascii_lowercase();
            let d = format!(
                "server_version={} binlog_version={} checksum={alg}",
                fd.server_version, fd.binlog_version
            );
            self.fd = Some(fd);
            self.tables.clear();
            return Ok(d);
        }
        let Some(fd) = self.fd.as_ref() else {
            // A dump opens with an artificial ROTATE before the FD: its
            // checksum alg is the one the replica asked for; the CRC tells.
            if t == EventType::ROTATE {
                let alg = if verify_event(event, ChecksumAlg::CRC32).is_ok() {
                    ChecksumAlg::CRC32
                } else {
                    ChecksumAlg::OFF
                };
                return rotate(event, alg);
            }
            return Ok(String::new());
        };
        let alg = fd.checksum_alg;
        let d = match t {
            EventType::ROTATE => rotate(event, alg)?,
            EventType::MARIADB_GTID => {
                let g = MariaGtid::decode_event(event)?;
                format!("gtid={}{}", g.triple(), if g.is_standalone() { " standalone" } else { "" })
            }
            EventType::GTID => format!("gtid={}", MysqlGtid::decode_event(event)?),
            EventType::ANONYMOUS_GTID => "gtid=anonymous".to_owned(),
            EventType::GTID_TAGGED => {
                format!("gtid={}", MysqlTaggedGtid::decode_event(event, alg)?)
            }
            EventType::GTID_LIST => {
                let list = MariaGtidList::decode_event(event, alg)?;
                let parts: Vec<String> = list.gtids.iter().map(ToString::to_string).collect();
                format!("gtid_list=[{}]", parts.join(","))
            }
            EventType::PREVIOUS_GTIDS => {
                let set = GtidSet::decode(event_payload(event, alg)?)?;
                format!("previous_gtids=[{set}]")
            }
            EventType::QUERY => format!("query=\"{}\"", text(query_text(event, fd)?)),
            EventType::ANNOTATE_ROWS => {
                format!("annotate=\"{}\"", text(event_payload(event, alg)?))
            }
            EventType::ROWS_QUERY => format!(
                "rows_query=\"{}\"",
                text(event_payload(event, alg)?.get(1..).unwrap_or_default())
            ),
            EventType::XID => {
                let body = event_payload(event, alg)?;
                let mut r = crate::protocol::Reader::new(body);
                format!("xid={}", r.u64_le("Xid.xid")?)
            }
            EventType::TABLE_MAP => {
                let tm = TableMap::decode_event(event, fd)?;
                let name = tm.qualified_name();
                let d = format!("table_id={} table={name}", tm.table_id);
                self.tables.insert(tm.table_id, name);
                d
            }
            t if t.is_rows() => {
                let id = rows_table_id(event, fd)?;
                let name = self.tables.get(&id).map_or("?", String::as_str);
                format!("table_id={id} table={name}")
            }
            _ => String::new(),
        };
        Ok(d)
    }
}

fn rotate(event: &[u8], alg: ChecksumAlg) -> Result<String, DecodeError> {
    let r = Rotate::decode_event(event, alg)?;
    Ok(format!("next={} pos={}", String::from_utf8_lossy(&r.next_file), r.position))
}

/// `bytes` as printable text: lossy UTF-8, control characters escaped,
/// cut at [`MAX_TEXT`] characters.
pub fn text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == MAX_TEXT {
            out.push_str("...");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A Unix timestamp as UTC ISO-8601, `2024-02-29T23:59:59Z`.
pub fn utc_iso8601(ts: u32) -> String {
    let secs = i64::from(ts);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_utc() {
        assert_eq!(utc_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_iso8601(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(utc_iso8601(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(utc_iso8601(u32::MAX), "2106-02-07T06:28:15Z");
    }

    #[test]
    fn text_is_escaped_and_cut() {
        assert_eq!(text(b"insert\n\"x\"\x01"), "insert\\n\\\"x\\\"\\x01");
        let long = vec![b'a'; MAX_TEXT + 5];
        assert_eq!(text(&long), format!("{}...", "a".repeat(MAX_TEXT)));
    }
}
