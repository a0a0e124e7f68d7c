//! Helpers of the fault tests: binlogserver following a primary through a
//! [`super::Relay`], its reconnects read from its log,
//! and the GTID check of the stored files (no gap, no duplicate).

use super::binlogs::{binlog_events, local_binlog_files};
use super::binlogserver::Binlogserver;
use super::mariadb::MariaDb;
use super::serving::FOLLOW_ARGS;
use super::stream::MARIA_GTID_TYPE;
use std::fs;
use std::path::Path;

/// The log line binlogserver writes for every dump request (one per
/// successful (re)connection).
pub(crate) const DUMP_REQUEST: &str = "requesting binlog dump";
/// The log line of a dropped upstream link that will be retried.
pub(crate) const LINK_LOST: &str = "upstream connection lost";

/// Starts binlogserver following the primary behind 127.0.0.1:`port` (a
/// relay) into `datadir` with [`FOLLOW_ARGS`], listening on a port the
/// kernel picks, plus `extra`.
pub(crate) fn follow_port(port: u16, datadir: &Path, extra: &[&str]) -> Binlogserver {
    Binlogserver::follow_port(port, datadir, &[&FOLLOW_ARGS[..], extra].concat())
}

/// How many lines of binlogserver's log contain `needle`.
pub(crate) fn count_in_log(bls: &Binlogserver, needle: &str) -> usize {
    bls.log().lines().filter(|l| l.contains(needle)).count()
}

/// The (domain, sequence) of every MariaDB GTID event in the binlog files
/// of `dir`, in file order.
pub(crate) fn stored_gtids(dir: &Path) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    for name in local_binlog_files(dir) {
        let bytes = fs::read(dir.join(&name)).expect("read a stored binlog");
        for ev in binlog_events(&bytes) {
            if ev.type_code != MARIA_GTID_TYPE {
                continue;
            }
            let body = &bytes[ev.offset + 19..ev.offset + ev.size as usize];
            let seq = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
            let domain = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
            out.push((domain, seq));
        }
    }
    out
}

/// The stored files hold GTIDs 0-1-1 ... up to the primary's
/// `gtid_binlog_pos`, each exactly once and in order: no gap, no duplicate.
#[track_caller]
pub(crate) fn assert_gtids_contiguous(primary: &MariaDb, dir: &Path) {
    let gtids = stored_gtids(dir);
    let last = primary.gtid_seq();
    let want: Vec<(u32, u64)> = (1..=last).map(|s| (0, s)).collect();
    if gtids != want {
        let first_bad = gtids.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "stored GTIDs are not 0-1-1..0-1-{last} exactly once each: {} stored, first \
             difference at index {first_bad:?} (stored around it: {:?})",
            gtids.len(),
            first_bad.map(|i| &gtids[i.saturating_sub(2)..(i + 3).min(gtids.len())])
        );
    }
}
