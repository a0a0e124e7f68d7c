//! The checked switch to a promoted primary (`CHANGE MASTER TO ...
//! MASTER_LOG_FILE='mysql-bin.000124', MASTER_LOG_POS=4`, or `--start-file`
//! on a data directory that holds binlogs): before a byte of the new
//! primary's file is stored, its name and the GTID state it starts with are
//! compared with the end of our files ([`crate::binlog::continuity`]).
//!
//! * Our state: the last stored file scanned to its durable end
//!   ([`crate::storage::gtid_scan`]): MariaDB's GTID_LIST plus the GTIDs
//!   after it, MySQL's PREVIOUS_GTIDS plus the GTIDs after it.
//! * Theirs: a probe connection to the new primary (a non-semi-sync,
//!   non-blocking dump of the new file from 4) reads the artificial ROTATE,
//!   the FORMAT_DESCRIPTION and the GTID_LIST (MariaDB, read as a
//!   [`GtidPos`]: the last GTID of each domain) or PREVIOUS_GTIDS (MySQL),
//!   and closes.
//!
//! A refusal is [`UpstreamError::SwitchRefused`], whose text names the
//! GTIDs or the fix; nothing on disk changes. The dump thread runs this
//! check before every connection of a switch not begun yet, so nothing is
//! ever stored unchecked; `START SLAVE` and the start with `--start-file`
//! run it first too, to report a refusal at once.

use std::path::Path;

use log::info;

use super::connection::Connection;
use super::dump::split_event;
use super::session;
use super::stream::decode_fake_rotate;
use super::{SemiSyncMode, UpstreamConfig, UpstreamError};
use crate::binlog::checksum::event_payload;
use crate::binlog::continuity::{check_mariadb, check_mysql, check_next_file};
use crate::binlog::gtid_pos::GtidPos;
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::{
    verify_event, BinlogFileName, ChecksumAlg, EventHeader, EventType, FormatDescription,
    MariaGtidList,
};
use crate::protocol::command::BINLOG_DUMP_NON_BLOCK;
use crate::protocol::response::{is_eof, is_err};
use crate::protocol::{ErrPacket, Reader};
use crate::storage::gtid_scan::{scan_file, FileGtids};
use crate::storage::reader::{file_size, list_files};

/// Events of the new file read at most before its GTID state must have come.
const HEAD_EVENTS: usize = 16;

/// The GTID state at a point of a binlog sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidState {
    /// MariaDB: the last GTID of every domain.
    Mariadb(GtidPos),
    /// MySQL: the executed GTID set.
    Mysql(GtidSet),
}

impl std::fmt::Display for GtidState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GtidState::Mariadb(pos) => write!(f, "MariaDB GTID state {pos}"),
            GtidState::Mysql(set) => write!(f, "MySQL GTID set {set}"),
        }
    }
}

/// Checks that `theirs`, a file of the primary `cfg` names, may continue
/// our files, which end at `ours` (durable): file order first, then the
/// GTID states. Logs the accepted switch.
///
/// # Errors
/// [`UpstreamError::SwitchRefused`] with the reason and the fix; any error
/// of the probe connection (retryable or not, as for a dump).
pub fn check_switch(
    cfg: &UpstreamConfig,
    dir: &Path,
    ours: (&BinlogFileName, u64),
    theirs: &BinlogFileName,
) -> Result<(), UpstreamError> {
    check_switch_cached(cfg, dir, ours, theirs, &mut None)
}

/// [`check_switch`], scanning our last file only when `cache` is empty
/// (our end does not move while the switch is pending, so a dump that
/// retries an unreachable new primary scans it once).
///
/// # Errors
/// As [`check_switch`].
pub fn check_switch_cached(
    cfg: &UpstreamConfig,
    dir: &Path,
    ours: (&BinlogFileName, u64),
    theirs: &BinlogFileName,
    cache: &mut Option<GtidState>,
) -> Result<(), UpstreamError> {
    let (last, end) = ours;
    let refused = |why: String| {
        UpstreamError::SwitchRefused(format!(
            "refusing to continue binlogserver's files (last {last}, ending at {end}) with \
             {theirs} of {}:{}: {why}",
            cfg.host, cfg.port
        ))
    };
    check_next_file(last, theirs).map_err(|d| refused(d.to_string()))?;
    let our_state = match cache.take() {
        Some(state) => state,
        None => end_state(dir, last, end)?.ok_or_else(|| {
            refused(format!(
                "{last} has no GTID_LIST or PREVIOUS_GTIDS event, so there is no GTID state to \
                 compare (a server without GTIDs)"
            ))
        })?,
    };
    let our_state = &*cache.insert(our_state);
    let their_state = probe_head(cfg, theirs).map_err(|e| match e {
        UpstreamError::SwitchRefused(why) => refused(why),
        e => e,
    })?;
    match (our_state, &their_state) {
        (GtidState::Mariadb(o), GtidState::Mariadb(t)) => check_mariadb(o, t),
        (GtidState::Mysql(o), GtidState::Mysql(t)) => check_mysql(o, t),
        _ => {
            return Err(refused(format!(
                "binlogserver's files end with a {our_state} but the new file starts with a \
                 {their_state}: another server flavour"
            )))
        }
    }
    .map_err(|d| refused(d.to_string()))?;
    info!(
        "switch checked: the new primary's file continues binlogserver's files primary={}:{} \
         file={theirs} after={last} end={end} state=\"{our_state}\"",
        cfg.host, cfg.port
    );
    Ok(())
}

/// The GTID state at `end` of our last file `last` (the end of the file
/// before it when `last` holds nothing but the magic); `None` when the
/// files have no GTID state (neither GTID_LIST nor PREVIOUS_GTIDS).
///
/// # Errors
/// [`UpstreamError::Storage`] when the files cannot be read.
pub fn end_state(
    dir: &Path,
    last: &BinlogFileName,
    end: u64,
) -> Result<Option<GtidState>, UpstreamError> {
    let mut scanned = scan_file(dir, last, end).map_err(UpstreamError::Storage)?;
    if scanned.fd.is_none() {
        // A file a crash left with only its magic: the state is where the
        // file before it ends.
        let files = list_files(dir).map_err(UpstreamError::Storage)?;
        if let Some(prev) = files.iter().rev().find(|f| *f < last) {
            let len = file_size(dir, prev).map_err(UpstreamError::Storage)?;
            scanned = scan_file(dir, prev, len).map_err(UpstreamError::Storage)?;
        }
    }
    Ok(state_of(scanned))
}

fn state_of(scanned: FileGtids) -> Option<GtidState> {
    if scanned.gtid_list.is_some() {
        Some(GtidState::Mariadb(scanned.state))
    } else if scanned.previous_gtids.is_some() {
        Some(GtidState::Mysql(scanned.executed))
    } else {
        None
    }
}

/// Reads the GTID state `file` of the primary `cfg` starts with, over a
/// probe connection (not semi-sync, non-blocking dump, closed after).
fn probe_head(cfg: &UpstreamConfig, file: &BinlogFileName) -> Result<GtidState, UpstreamError> {
    let probe = UpstreamConfig { semi_sync: SemiSyncMode::Off, ..cfg.clone() };
    let conn = Connection::connect(&probe)?;
    let mut session = session::prepare(conn, &probe, false)?;
    session.request_dump_with(file.as_str().as_bytes(), 4, &probe, BINLOG_DUMP_NON_BLOCK)?;
    let mut head = HeadReader::new(file.clone(), session.checksum);
    let mut ps = session.conn.into_stream();
    ps.get_ref()
        .tcp()
        .set_read_timeout(Some(cfg.dead_link_after()))
        .map_err(|source| UpstreamError::Connect { addr: String::new(), source })?;
    ps.expect_seq(1);
    let mut packet = Vec::new();
    let result = loop {
        ps.read_packet(&mut packet)?;
        if is_err(&packet) {
            let err = ErrPacket::decode(&mut Reader::new(&packet))?;
            break Err(head.refused_by(err));
        }
        if is_eof(&packet) {
            break Err(head.incomplete("ends"));
        }
        let (event, _) = split_event(&packet, false)?;
        if let Some(state) = head.on_event(event)? {
            break Ok(state);
        }
    };
    let _ = ps.get_ref().tcp().shutdown(std::net::Shutdown::Both);
    result
}

/// The head of a new file as a dump sends it, event by event, until its
/// GTID state: no I/O, so each case can be tested with bytes.
#[derive(Debug)]
struct HeadReader {
    file: BinlogFileName,
    negotiated: ChecksumAlg,
    alg: Option<ChecksumAlg>,
    events: usize,
}

impl HeadReader {
    fn new(file: BinlogFileName, negotiated: ChecksumAlg) -> Self {
        HeadReader { file, negotiated, alg: None, events: 0 }
    }

    /// One event; `Some` once the GTID state came.
    fn on_event(&mut self, event: &[u8]) -> Result<Option<GtidState>, UpstreamError> {
        let header = EventHeader::parse(event)?;
        let t = header.event_type;
        if t == EventType::HEARTBEAT || t == EventType::HEARTBEAT_V2 {
            return Ok(None);
        }
        self.events += 1;
        if self.events > HEAD_EVENTS {
            return Err(self.incomplete("goes on"));
        }
        if t == EventType::ROTATE && (header.is_artificial() || header.log_pos == 0) {
            let (rotate, name) = decode_fake_rotate(event, self.negotiated)?;
            if name != self.file || rotate.position != 4 {
                return Err(UpstreamError::SwitchRefused(format!(
                    "asked for {} at 4, the new primary sends {name} at {}",
                    self.file, rotate.position
                )));
            }
            return Ok(None);
        }
        if t == EventType::FORMAT_DESCRIPTION {
            let fd = FormatDescription::decode_event(event)?;
            verify_event(event, fd.checksum_alg)?;
            self.alg = Some(fd.checksum_alg);
            return Ok(None);
        }
        let Some(alg) = self.alg else {
            return Err(UpstreamError::Unexpected {
                expected: "the new file's format description",
                got: t.0,
            });
        };
        verify_event(event, alg)?;
        match t {
            EventType::GTID_LIST => {
                let list = MariaGtidList::decode_event(event, alg)?;
                Ok(Some(GtidState::Mariadb(list.gtids.into_iter().collect())))
            }
            EventType::PREVIOUS_GTIDS => {
                let set = GtidSet::decode(event_payload(event, alg)?)?;
                Ok(Some(GtidState::Mysql(set)))
            }
            EventType::MARIADB_GTID
            | EventType::GTID
            | EventType::ANONYMOUS_GTID
            | EventType::GTID_TAGGED => Err(self.incomplete("has a transaction")),
            _ => Ok(None),
        }
    }

    /// The new file has no GTID state where it should.
    fn incomplete(&self, then: &str) -> UpstreamError {
        UpstreamError::SwitchRefused(format!(
            "the new primary's {} {then} before a GTID_LIST or PREVIOUS_GTIDS event, so there is \
             no GTID state to compare",
            self.file
        ))
    }

    /// The primary refused to send the file.
    fn refused_by(&self, err: ErrPacket) -> UpstreamError {
        if err.code != 1236 {
            return super::dump::explain_dump_error(err);
        }
        UpstreamError::SwitchRefused(format!(
            "the new primary cannot send {} ({err}); SHOW BINARY LOGS on it lists its files: run \
             FLUSH BINARY LOGS on it until {} exists, and name that file",
            self.file, self.file
        ))
    }
}

#[cfg(test)]
#[path = "switch_tests.rs"]
mod tests;
