//! Where a binlog dump starts: a file and position, a MariaDB GTID state
//! (`@slave_connect_state`), or a MySQL GTID set (`COM_BINLOG_DUMP_GTID`).
//! Errors are the ERR packets a real primary sends (1236 ends the client's
//! retries, as it should when the request cannot be served).

use std::path::Path;

use super::state::durable_files;
use super::Shared;
use crate::binlog::gtid::GtidTriple;
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::BinlogFileName;
use crate::protocol::ErrPacket;
use crate::storage::gtid_scan::{scan_file, scan_head, FileGtids, GtidState};

/// What to skip while streaming.
#[derive(Debug, Clone)]
pub enum Skip {
    /// Nothing: file/position dump.
    None,
    /// MariaDB: groups whose GTID is at or before the state of its domain.
    Mariadb(GtidState),
    /// MySQL: groups whose GTID is in the set.
    Mysql(GtidSet),
}

/// A resolved start.
#[derive(Debug, Clone)]
pub struct Start {
    /// First file.
    pub file: BinlogFileName,
    /// Position in it.
    pub pos: u64,
    /// Groups to leave out.
    pub skip: Skip,
}

fn fatal(msg: impl Into<String>) -> ErrPacket {
    ErrPacket::new(1236, b"HY000", msg)
}

/// A file/position start, checked like MySQL's `check_start_file`.
pub fn file_pos(shared: &Shared, file: &[u8], pos: u64) -> Result<Start, ErrPacket> {
    let files = durable_files(shared);
    let trimmed: &[u8] = match file.iter().position(|&b| b == 0) {
        Some(n) => file.get(..n).unwrap_or_default(),
        None => file,
    };
    let found = if trimmed.is_empty() {
        files.first()
    } else {
        let name = BinlogFileName::new(trimmed).map_err(|_| fatal("Could not find first log file name in binary log index file"))?;
        files.iter().find(|(f, _)| *f == name)
    };
    let Some((file, size)) = found else {
        return Err(fatal("Could not find first log file name in binary log index file"));
    };
    if pos < 4 {
        return Err(fatal("Client requested master to start replication from position < 4."));
    }
    if pos > *size {
        return Err(fatal("Client requested master to start replication from position > file size"));
    }
    Ok(Start { file: file.clone(), pos, skip: Skip::None })
}

/// A MariaDB GTID start: the newest file whose GTID_LIST the state contains.
pub fn mariadb_gtid(shared: &Shared, connect_state: &str) -> Result<Start, ErrPacket> {
    let state = GtidState::parse(connect_state)
        .ok_or_else(|| fatal(format!("Failed to parse GTID position '{connect_state}' requested by slave")))?;
    let files = durable_files(shared);
    let (last_file, last_limit) = files.last().cloned().ok_or_else(|| fatal("Binary log is not open"))?;
    let end = scan(&shared.dir, &last_file, last_limit)?.state;
    // A replica ahead of everything stored cannot be served from here.
    for (domain, wanted) in &state.0 {
        if let Some(have) = end.0.get(domain) {
            if wanted.seq_no > have.seq_no {
                return Err(fatal(format!(
                    "Error: connecting slave requested to start from GTID {wanted}, which is not in the master's binlog"
                )));
            }
        }
    }
    for (file, limit) in files.iter().rev() {
        let list: Vec<GtidTriple> = head(&shared.dir, file, *limit)?.gtid_list.unwrap_or_default();
        if state.contains_all(&list) {
            return Ok(Start { file: file.clone(), pos: 4, skip: Skip::Mariadb(state) });
        }
    }
    Err(fatal(
        "Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and \
         required binlog files have been purged.",
    ))
}

/// A MySQL GTID start: the newest file whose PREVIOUS_GTIDS the set contains.
pub fn mysql_gtid(shared: &Shared, file: &[u8], pos: u64, set: GtidSet) -> Result<Start, ErrPacket> {
    let files = durable_files(shared);
    // What the oldest stored file does not hold is gone (`gtid_purged`); a
    // client lacking any of it cannot be served (MySQL `report_missing_purged_gtids`).
    if let Some((oldest, limit)) = files.first() {
        if let Some(purged) = head(&shared.dir, oldest, *limit)?.previous_gtids {
            if !purged.is_subset_of(&set) {
                return Err(fatal(format!(
                    "Cannot replicate because the master purged required binary logs. Replicate the missing \
                     transactions from elsewhere, or provision a new slave from backup. The GTID set sent by the \
                     slave is '{set}', and the missing transactions are in '{purged}'"
                )));
            }
        }
    }
    if !file.is_empty() {
        let start = file_pos(shared, file, pos)?;
        return Ok(Start { skip: Skip::Mysql(set), ..start });
    }
    for (file, limit) in files.iter().rev() {
        let prev = head(&shared.dir, file, *limit)?.previous_gtids;
        match prev {
            Some(p) if p.is_subset_of(&set) => return Ok(Start { file: file.clone(), pos: 4, skip: Skip::Mysql(set) }),
            Some(_) => {}
            None => return Err(fatal("The binary logs hold no GTIDs (no PREVIOUS_GTIDS event); use file and position")),
        }
    }
    Err(fatal(
        "Cannot replicate because the master purged required binary logs. Replicate the missing transactions from \
         elsewhere, or provision a new slave from backup.",
    ))
}

fn scan(dir: &Path, file: &BinlogFileName, limit: u64) -> Result<FileGtids, ErrPacket> {
    scan_file(dir, file, limit).map_err(|e| fatal(format!("could not read binlog {file}: {e}")))
}

fn head(dir: &Path, file: &BinlogFileName, limit: u64) -> Result<FileGtids, ErrPacket> {
    scan_head(dir, file, limit).map_err(|e| fatal(format!("could not read binlog {file}: {e}")))
}
