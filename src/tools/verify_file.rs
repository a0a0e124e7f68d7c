//! The per-file checks of `verify`: one walk over each file image with
//! [`crate::binlog::walk`] (magic, first event a FORMAT_DESCRIPTION, every
//! CRC under the FD's algorithm, the `log_pos` chain), plus what needs the
//! neighbouring files: the closing ROTATE and GTID continuity.
//!
//! GTID continuity, carried from file to file in [`Chain`]:
//! * MariaDB: per domain, every GTID's seq_no is above the previous one;
//!   each file's GTID_LIST holds, per domain, exactly the last GTID of the
//!   files before it.
//! * MySQL: each file's PREVIOUS_GTIDS equals the previous file's
//!   PREVIOUS_GTIDS plus the GTIDs in it (tagged GTIDs of 8.4+ included).

use std::collections::BTreeMap;

use super::stop_reason;
use crate::binlog::checksum::event_payload;
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::{
    walk, BinlogFileName, EventType, FormatDescription, GtidTriple, MariaGtid, MariaGtidList,
    MysqlGtid, MysqlTaggedGtid, Rotate, ScanStop, ScannedEvent,
};
use crate::protocol::DecodeError;

/// GTID state carried across files; `None` parts are unknown (first file,
/// or a previous file that could not be read to its end).
#[derive(Debug, Default)]
pub struct Chain {
    /// MariaDB: last GTID per domain.
    maria: Option<BTreeMap<u32, GtidTriple>>,
    /// MySQL: PREVIOUS_GTIDS plus the GTIDs seen so far.
    mysql: Option<GtidSet>,
}

/// What the checks of one file found.
#[derive(Debug, Default)]
pub struct FileCheck {
    /// Events that passed.
    pub events: u64,
    /// Bytes checked (the length at open).
    pub len: u64,
    /// First and last GTID seen, as text.
    pub gtids: Option<(String, String)>,
    /// `(offset, reason)` for each problem.
    pub problems: Vec<(u64, String)>,
    /// A note that is not a problem (live file).
    pub note: Option<String>,
}

/// Where the file sits in the directory.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The file after it on disk, `None` for the last.
    pub next: Option<&'a BinlogFileName>,
    /// The next file was begun by a server start (its FORMAT_DESCRIPTION
    /// has a non-zero `created`) or by another server (another server id in
    /// its FORMAT_DESCRIPTION): a crash, a restart or a failover, after
    /// which a file may end without a ROTATE (docs/protocol.md §9.3).
    pub next_after_start: bool,
    /// True when the file is still growing (a live last file).
    pub growing: bool,
}

/// Checks one file image; updates `chain` for the next file.
pub fn check_file(buf: &[u8], place: Place<'_>, chain: &mut Chain) -> FileCheck {
    let mut check = FileCheck { len: buf.len() as u64, ..FileCheck::default() };
    let mut gtids = GtidTracker { chain, first_list: true, file: &mut check };
    let mut w = walk(buf);
    let mut last: Option<ScannedEvent<'_>> = None;
    while let Some(ev) = w.next() {
        gtids.file.events += 1;
        if let Some(fd) = w.report().fd.as_ref() {
            if let Err(e) = gtids.event(&ev, fd) {
                gtids
                    .file
                    .problems
                    .push((ev.offset, format!("cannot decode {}: {e}", ev.header.event_type)));
            }
        }
        last = Some(ev);
    }
    let report = w.into_report();
    match &report.stop {
        Some(ScanStop::Torn { offset, .. }) if place.next.is_none() && place.growing => {
            check.note = Some(format!(
                "live file, checked up to offset {offset} (an event was being written)"
            ));
        }
        Some(stop) => {
            let (offset, why) = stop_reason(stop, check.len);
            check.problems.push((offset, why));
            chain.maria = None;
            chain.mysql = None;
            return check;
        }
        None => {}
    }
    if let (Some(ev), Some(fd)) = (last, report.fd.as_ref()) {
        check_end(&ev, fd, place, &mut check);
    } else if report.stop.is_none() {
        check.problems.push((
            check.len.min(4),
            "no events: a binlog file starts with a FORMAT_DESCRIPTION".into(),
        ));
    }
    check
}

/// The last event: ROTATE to the next file (or STOP, or nothing when the
/// next file begins after a server start), nothing after the last.
fn check_end(
    ev: &ScannedEvent<'_>,
    fd: &FormatDescription,
    place: Place<'_>,
    check: &mut FileCheck,
) {
    let next = place.next;
    let t = ev.header.event_type;
    let rotate = if t == EventType::ROTATE {
        Rotate::decode_event(ev.bytes, fd.checksum_alg).ok()
    } else {
        None
    };
    let target = rotate.as_ref().map(|r| String::from_utf8_lossy(&r.next_file).into_owned());
    match (next, target) {
        (Some(next), Some(target)) if target != next.as_str() => {
            check.problems.push((
                ev.offset,
                format!("ends with a ROTATE to {target}, but the next file is {next}"),
            ));
        }
        (Some(_), Some(_)) => {}
        (Some(_), None) if t == EventType::STOP => {}
        (Some(next), None) if place.next_after_start => {
            check.note = Some(format!(
                "ends without a ROTATE; {next} begins after a server start or on another server \
                 (a crash, a restart or a failover)"
            ));
        }
        (Some(next), None) => {
            check.problems.push((
                ev.offset,
                format!("last event is {t}, not a ROTATE to the next file {next}"),
            ));
        }
        (None, Some(target)) => {
            check
                .problems
                .push((ev.offset, format!("ends with a ROTATE to {target}, which is missing")));
        }
        (None, None) => {}
    }
}

struct GtidTracker<'c, 'f> {
    chain: &'c mut Chain,
    first_list: bool,
    file: &'f mut FileCheck,
}

impl GtidTracker<'_, '_> {
    fn event(&mut self, ev: &ScannedEvent<'_>, fd: &FormatDescription) -> Result<(), DecodeError> {
        match ev.header.event_type {
            EventType::GTID_LIST if self.first_list => {
                self.first_list = false;
                let list = MariaGtidList::decode_event(ev.bytes, fd.checksum_alg)?;
                self.gtid_list(ev.offset, &list.gtids);
            }
            EventType::MARIADB_GTID => {
                let g = MariaGtid::decode_event(ev.bytes)?.triple();
                self.maria_gtid(ev.offset, g);
            }
            EventType::PREVIOUS_GTIDS => {
                let set = GtidSet::decode(event_payload(ev.bytes, fd.checksum_alg)?)?;
                self.previous_gtids(ev.offset, set);
            }
            EventType::GTID => {
                let g = MysqlGtid::decode_event(ev.bytes)?;
                self.seen(g.to_string());
                if let Some(set) = self.chain.mysql.as_mut() {
                    set.insert(g.sid, g.gno);
                }
            }
            EventType::GTID_TAGGED => {
                let g = MysqlTaggedGtid::decode_event(ev.bytes, fd.checksum_alg)?;
                self.seen(g.to_string());
                if let Some(set) = self.chain.mysql.as_mut() {
                    set.insert_tagged(g.sid, &g.tag, g.gno);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn seen(&mut self, gtid: String) {
        match &mut self.file.gtids {
            Some((_, last)) => *last = gtid,
            None => self.file.gtids = Some((gtid.clone(), gtid)),
        }
    }

    /// A file's GTID_LIST against the state the files before it left.
    fn gtid_list(&mut self, offset: u64, list: &[GtidTriple]) {
        let mut listed: BTreeMap<u32, GtidTriple> = BTreeMap::new();
        for g in list {
            let e = listed.entry(g.domain_id).or_insert(*g);
            if g.seq_no > e.seq_no {
                *e = *g;
            }
        }
        if let Some(state) = &self.chain.maria {
            if *state != listed {
                self.file.problems.push((
                    offset,
                    format!(
                        "GTID_LIST [{}] does not match the last GTIDs of the files before it [{}]",
                        join(listed.values()),
                        join(state.values())
                    ),
                ));
            }
        }
        self.chain.maria = Some(listed);
    }

    fn maria_gtid(&mut self, offset: u64, g: GtidTriple) {
        self.seen(g.to_string());
        let state = self.chain.maria.get_or_insert_with(BTreeMap::new);
        if let Some(prev) = state.get(&g.domain_id) {
            if g.seq_no <= prev.seq_no {
                let why = format!(
                    "GTID {g} does not follow {prev}: seq_no must increase within domain {}",
                    g.domain_id
                );
                self.file.problems.push((offset, why));
            }
        }
        state.insert(g.domain_id, g);
    }

    fn previous_gtids(&mut self, offset: u64, set: GtidSet) {
        if let Some(executed) = &self.chain.mysql {
            if *executed != set {
                let why = format!(
                    "PREVIOUS_GTIDS [{set}] is not the GTIDs of the files before it [{executed}]"
                );
                self.file.problems.push((offset, why));
            }
        }
        self.chain.mysql = Some(set);
    }
}

fn join<'a>(gtids: impl Iterator<Item = &'a GtidTriple>) -> String {
    gtids.map(ToString::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
