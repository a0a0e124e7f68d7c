//! Where a MariaDB GTID-positioned dump starts and which event groups it
//! skips, as MariaDB's `sql_repl.cc` decides it (`check_slave_start_position`,
//! `contains_all_slave_gtid`, `gtid_find_binlog_file` and the skip test of
//! `send_event_to_slave`). Pure logic over GTIDs; the files are read by the
//! caller.
//!
//! * The replica's position must exist in the binlog state: for its domain
//!   and server id a GTID at or past it (else ERR 1236 with MariaDB's texts
//!   of errors 1945/1955), unless the domain is empty here (checked again
//!   when the domain first shows up) or the replica ignores duplicates.
//! * The start file is the newest whose GTID_LIST the position contains.
//! * Groups are skipped per domain until the replica's own GTID (same server
//!   id, same or larger seq_no) goes by; with `@slave_gtid_strict_mode` a
//!   larger seq_no there means the requested GTID is a hole (error 1951).

use std::collections::BTreeMap;

use crate::binlog::gtid::GtidTriple;
use crate::binlog::gtid_pos::GtidPos;
use crate::protocol::ErrPacket;
use crate::storage::gtid_scan::BinlogState;

/// One domain of the replica's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    gtid: GtidTriple,
    /// The domain had no GTID here at connect: check again when one shows up.
    on_empty_domain: bool,
}

/// The skipping state of one GTID-positioned dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaStart {
    entries: BTreeMap<u32, Entry>,
    strict: bool,
}

fn fatal(msg: String) -> ErrPacket {
    ErrPacket::new(1236, b"HY000", msg)
}

/// MariaDB's `give_error_start_pos_missing_in_binlog`.
fn missing(gtid: GtidTriple, binlog: &BinlogState) -> ErrPacket {
    let base = format!(
        "Error: connecting slave requested to start from GTID {gtid}, which is not in the master's \
         binlog"
    );
    match binlog.domain(gtid.domain_id) {
        Some(last) if last.seq_no >= gtid.seq_no => fatal(format!(
            "{base}. Since the master's binlog contains GTIDs with higher sequence numbers, it \
             probably means that the slave has diverged due to executing extra erroneous \
             transactions"
        )),
        _ => fatal(base),
    }
}

impl MariaStart {
    /// Checks the replica's `position` against the binlog state at the durable end.
    pub fn check(
        position: &GtidPos,
        binlog: &BinlogState,
        strict: bool,
        ignore_duplicates: bool,
    ) -> Result<Self, ErrPacket> {
        let mut entries = BTreeMap::new();
        for gtid in position.iter() {
            let mut on_empty_domain = false;
            let present =
                binlog.find(gtid.domain_id, gtid.server_id).is_some_and(|seq| seq >= gtid.seq_no);
            if !present {
                match binlog.domain(gtid.domain_id) {
                    None => on_empty_domain = true,
                    Some(last) if ignore_duplicates && last.seq_no < gtid.seq_no => {}
                    Some(_) => return Err(missing(gtid, binlog)),
                }
            }
            entries.insert(gtid.domain_id, Entry { gtid, on_empty_domain });
        }
        Ok(MariaStart { entries, strict })
    }

    /// True when this file (its initial GTID_LIST is `list`, in file order)
    /// holds the first group to send for every domain (`contains_all_slave_gtid`).
    pub fn starts_in(&self, list: &[GtidTriple]) -> bool {
        list.iter().enumerate().all(|(i, g)| {
            let Some(entry) = self.entries.get(&g.domain_id) else { return false };
            let w = entry.gtid;
            if w.server_id != g.server_id || w.seq_no > g.seq_no {
                return true;
            }
            // Equal: fine when it is the domain's last GTID before this file.
            w.seq_no == g.seq_no && list.get(i + 1).is_none_or(|next| next.domain_id != g.domain_id)
        })
    }

    /// Starting at the file whose GTID_LIST is `list`: a domain whose
    /// requested GTID is the last one before the file skips nothing.
    pub fn start_at(&mut self, list: &[GtidTriple]) {
        for g in list {
            if self.entries.get(&g.domain_id).is_some_and(|e| e.gtid == *g) {
                self.entries.remove(&g.domain_id);
            }
        }
    }

    /// A group with `gtid` starts: true when it is skipped. `binlog` gives
    /// the binlog state now (read only for a domain empty at connect).
    pub fn on_group(
        &mut self,
        gtid: GtidTriple,
        binlog: impl FnOnce() -> Result<BinlogState, ErrPacket>,
    ) -> Result<bool, ErrPacket> {
        let Some(entry) = self.entries.get_mut(&gtid.domain_id) else { return Ok(false) };
        let w = entry.gtid;
        if entry.on_empty_domain {
            let state = binlog()?;
            if state.find(w.domain_id, w.server_id).is_none_or(|seq| seq < w.seq_no) {
                return Err(missing(w, &state));
            }
            entry.on_empty_domain = false;
        }
        let skip = gtid.server_id != w.server_id || gtid.seq_no <= w.seq_no;
        if gtid.server_id == w.server_id && gtid.seq_no >= w.seq_no {
            if self.strict && gtid.seq_no > w.seq_no {
                return Err(fatal(format!(
                    "The binlog on the master is missing the GTID {w} requested by the slave (even \
                     though both a prior and a subsequent sequence number does exist), and GTID \
                     strict mode is enabled"
                )));
            }
            self.entries.remove(&gtid.domain_id);
        }
        Ok(skip)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pos(gtids: &[GtidTriple]) -> GtidPos {
        gtids.iter().copied().collect()
    }

    fn g(d: u32, s: u32, n: u64) -> GtidTriple {
        GtidTriple { domain_id: d, server_id: s, seq_no: n }
    }

    fn state(gtids: &[GtidTriple]) -> BinlogState {
        let mut st = BinlogState::default();
        for x in gtids {
            st.update(*x);
        }
        st
    }

    fn none() -> Result<BinlogState, ErrPacket> {
        panic!("binlog state not expected to be read")
    }

    #[test]
    fn a_position_in_the_binlog_is_accepted_and_skips_up_to_itself() {
        let binlog = state(&[g(0, 1, 10)]);
        let mut start = MariaStart::check(&pos(&[g(0, 1, 5)]), &binlog, false, false).unwrap();
        assert!(start.on_group(g(0, 1, 4), none).unwrap());
        assert!(start.on_group(g(0, 1, 5), none).unwrap());
        assert!(!start.on_group(g(0, 1, 6), none).unwrap());
        // Once reached, the domain is no longer skipped, even out of order.
        assert!(!start.on_group(g(0, 1, 3), none).unwrap());
    }

    #[test]
    fn positions_not_in_the_binlog_get_mariadbs_errors() {
        let binlog = state(&[g(0, 1, 10)]);
        let ahead = MariaStart::check(&pos(&[g(0, 1, 11)]), &binlog, false, false).unwrap_err();
        assert!(
            ahead.message.contains("0-1-11, which is not in the master's binlog"),
            "{}",
            ahead.message
        );
        assert!(!ahead.message.contains("diverged"));
        let diverged = MariaStart::check(&pos(&[g(0, 7, 3)]), &binlog, false, false).unwrap_err();
        assert!(diverged.message.contains("diverged"), "{}", diverged.message);
        assert_eq!(diverged.code, 1236);
        // --gtid-ignore-duplicates: ahead of us is fine.
        assert!(MariaStart::check(&pos(&[g(0, 1, 11)]), &binlog, false, true).is_ok());
    }

    #[test]
    fn strict_mode_refuses_a_hole() {
        let binlog = state(&[g(0, 1, 10)]);
        let mut lax = MariaStart::check(&pos(&[g(0, 1, 5)]), &binlog, false, false).unwrap();
        assert!(!lax.on_group(g(0, 1, 6), none).unwrap());
        let mut strict = MariaStart::check(&pos(&[g(0, 1, 5)]), &binlog, true, false).unwrap();
        assert!(strict.on_group(g(0, 1, 4), none).unwrap());
        let err = strict.on_group(g(0, 1, 6), none).unwrap_err();
        assert!(err.message.contains("missing the GTID 0-1-5"), "{}", err.message);
    }

    #[test]
    fn other_servers_in_the_domain_are_skipped_until_the_own_gtid() {
        let binlog = state(&[g(0, 2, 3), g(0, 1, 10)]);
        let mut start = MariaStart::check(&pos(&[g(0, 1, 5)]), &binlog, false, false).unwrap();
        assert!(start.on_group(g(0, 2, 8), none).unwrap());
        assert!(start.on_group(g(0, 1, 5), none).unwrap());
        assert!(!start.on_group(g(0, 2, 9), none).unwrap());
        // Other domains are never skipped.
        assert!(!start.on_group(g(3, 1, 1), none).unwrap());
    }

    #[test]
    fn an_empty_domain_is_checked_when_it_shows_up() {
        let binlog = state(&[g(0, 1, 10)]);
        let mut start =
            MariaStart::check(&pos(&[g(0, 1, 10), g(5, 9, 4)]), &binlog, false, false).unwrap();
        let later = state(&[g(0, 1, 10), g(5, 9, 2)]);
        let err = start.clone().on_group(g(5, 9, 1), || Ok(later)).unwrap_err();
        assert!(err.message.contains("5-9-4"), "{}", err.message);
        let later = state(&[g(0, 1, 10), g(5, 9, 6)]);
        assert!(start.on_group(g(5, 9, 3), || Ok(later)).unwrap());
    }

    #[test]
    fn start_file_choice_follows_the_gtid_list() {
        let binlog = state(&[g(0, 1, 20), g(1, 1, 3)]);
        let start =
            MariaStart::check(&pos(&[g(0, 1, 10), g(1, 1, 3)]), &binlog, false, false).unwrap();
        // A file whose list is past the position: search further back.
        assert!(!start.starts_in(&[g(0, 1, 15), g(1, 1, 3)]));
        // The position is the last GTID of each domain before the file: start there.
        assert!(start.starts_in(&[g(0, 1, 10), g(1, 1, 3)]));
        // Equal but not the domain's last entry: further back.
        assert!(!start.starts_in(&[g(0, 1, 10), g(0, 2, 11), g(1, 1, 3)]));
        // A domain the replica does not know: from its very beginning, further back.
        assert!(!start.starts_in(&[g(0, 1, 5), g(2, 1, 1)]));
        assert!(start.starts_in(&[g(0, 1, 5)]));
        let mut s = start.clone();
        s.start_at(&[g(0, 1, 10), g(1, 1, 3)]);
        assert!(!s.on_group(g(0, 1, 9), none).unwrap());
    }
}
