//! Where a binlog dump starts: a file and position, a MariaDB GTID state
//! (`@slave_connect_state`), or a MySQL GTID set (`COM_BINLOG_DUMP_GTID`).
//! Errors are the ERR packets a real primary sends (1236 ends the client's
//! retries, as it should when the request cannot be served).

use std::path::Path;

use super::mariadb_gtid::MariaStart;
use crate::binlog::gtid::GtidTriple;
use crate::binlog::gtid_pos::{GtidPos, GtidPosError};
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::BinlogFileName;
use crate::protocol::ErrPacket;
use crate::server::session_info::durable_files;
use crate::server::Shared;
use crate::storage::gtid_scan::{scan_file, scan_head, BinlogState, FileGtids};

/// What to skip while streaming.
#[derive(Debug, Clone)]
pub enum Skip {
    /// Nothing: file/position dump.
    None,
    /// MariaDB: groups before the replica's position (`requested`).
    Mariadb {
        /// The position the replica asked for (`@slave_connect_state`).
        requested: GtidPos,
        /// What is still skipped.
        start: MariaStart,
    },
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
    let trimmed = until_nul(file);
    let found = if trimmed.is_empty() {
        files.first()
    } else {
        let name = BinlogFileName::new(trimmed)
            .map_err(|_| fatal("Could not find first log file name in binary log index file"))?;
        files.iter().find(|(f, _)| *f == name)
    };
    let Some((file, size)) = found else {
        return Err(fatal("Could not find first log file name in binary log index file"));
    };
    if pos < 4 {
        return Err(fatal("Client requested master to start replication from position < 4."));
    }
    if pos > *size {
        return Err(fatal(
            "Client requested master to start replication from position > file size",
        ));
    }
    Ok(Start { file: file.clone(), pos, skip: Skip::None })
}

/// `name` up to its first NUL byte: the primary reads the file name of a
/// dump request as a C string.
fn until_nul(name: &[u8]) -> &[u8] {
    name.split(|&b| b == 0).next().unwrap_or_default()
}

/// A MariaDB GTID start: the newest file whose GTID_LIST the position
/// contains, after MariaDB's checks of the position (see [`MariaStart`]).
pub fn mariadb_gtid(
    shared: &Shared,
    connect_state: &str,
    strict: bool,
    ignore_duplicates: bool,
) -> Result<Start, ErrPacket> {
    let requested = requested_position(connect_state)?;
    let files = durable_files(shared);
    let binlog = binlog_state(shared)?;
    let mut start = MariaStart::check(&requested, &binlog, strict, ignore_duplicates)?;
    for (file, limit) in files.iter().rev() {
        let list: Vec<GtidTriple> = head(&shared.dir, file, *limit)?.gtid_list.unwrap_or_default();
        if start.starts_in(&list) {
            start.start_at(&list);
            return Ok(Start {
                file: file.clone(),
                pos: 4,
                skip: Skip::Mariadb { requested, start },
            });
        }
    }
    Err(fatal(
        "Could not find GTID state requested by slave in any binlog files. Probably the slave \
         state is too old and required binlog files have been purged.",
    ))
}

/// The replica's `@slave_connect_state` as a position; a bad one is refused
/// with 1236 (ending the replica's retries), naming the bad element.
fn requested_position(connect_state: &str) -> Result<GtidPos, ErrPacket> {
    connect_state.parse().map_err(|e: GtidPosError| {
        fatal(format!(
            "Failed to parse GTID position '{connect_state}' requested by slave: {e} ('{}')",
            e.element(connect_state)
        ))
    })
}

/// The MariaDB binlog state at the durable end: the last file's GTID_LIST
/// plus the GTIDs in it.
pub fn binlog_state(shared: &Shared) -> Result<BinlogState, ErrPacket> {
    let (last_file, last_limit) =
        durable_files(shared).last().cloned().ok_or_else(|| fatal("Binary log is not open"))?;
    Ok(scan(&shared.dir, &last_file, last_limit)?.binlog_state)
}

/// A MySQL GTID start: the newest file whose PREVIOUS_GTIDS the set contains.
pub fn mysql_gtid(
    shared: &Shared,
    file: &[u8],
    pos: u64,
    set: GtidSet,
) -> Result<Start, ErrPacket> {
    let files = durable_files(shared);
    // What the oldest stored file does not hold is gone (`gtid_purged`); a
    // client lacking any of it cannot be served (MySQL `report_missing_purged_gtids`).
    if let Some((oldest, limit)) = files.first() {
        if let Some(purged) = head(&shared.dir, oldest, *limit)?.previous_gtids {
            if !purged.is_subset_of(&set) {
                return Err(fatal(format!(
                    "Cannot replicate because the master purged required binary logs. Replicate \
                     the missing transactions from elsewhere, or provision a new slave from \
                     backup. The GTID set sent by the slave is '{set}', and the missing \
                     transactions are in '{purged}'"
                )));
            }
        }
    }
    // A C string on the primary: a name of NUL bytes (python-mysql-replication
    // sends three) is empty there, and an empty name starts by the set.
    if !until_nul(file).is_empty() {
        let start = file_pos(shared, file, pos)?;
        return Ok(Start { skip: Skip::Mysql(set), ..start });
    }
    for (file, limit) in files.iter().rev() {
        let prev = head(&shared.dir, file, *limit)?.previous_gtids;
        match prev {
            Some(p) if p.is_subset_of(&set) => {
                return Ok(Start { file: file.clone(), pos: 4, skip: Skip::Mysql(set) })
            }
            Some(_) => {}
            None => return Err(fatal(
                "The binary logs hold no GTIDs (no PREVIOUS_GTIDS event); use file and position",
            )),
        }
    }
    Err(fatal(
        "Cannot replicate because the master purged required binary logs. Replicate the missing \
         transactions from elsewhere, or provision a new slave from backup.",
    ))
}

fn scan(dir: &Path, file: &BinlogFileName, limit: u64) -> Result<FileGtids, ErrPacket> {
    scan_file(dir, file, limit).map_err(|e| fatal(format!("could not read binlog {file}: {e}")))
}

fn head(dir: &Path, file: &BinlogFileName, limit: u64) -> Result<FileGtids, ErrPacket> {
    scan_head(dir, file, limit).map_err(|e| fatal(format!("could not read binlog {file}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_connect_state_is_refused_naming_the_element() {
        let err = requested_position("0-1-5, 1-x-7").unwrap_err();
        assert_eq!(err.code, 1236);
        assert_eq!(
            err.message,
            "Failed to parse GTID position '0-1-5, 1-x-7' requested by slave: GTID 2 of the \
             position is not domain-server-seq: its server id is not a 32-bit number ('1-x-7')"
        );
        let err = requested_position("0-1-5,0-2-9").unwrap_err();
        assert!(err.message.ends_with("repeats domain 0 (one GTID per domain) ('0-2-9')"));
        let pos = requested_position("").unwrap();
        assert!(pos.is_empty());
        assert_eq!(requested_position("1-2-3,0-1-5").unwrap().to_string(), "0-1-5,1-2-3");
    }
}
