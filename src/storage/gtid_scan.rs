//! GTID facts read from stored binlog files: the MariaDB GTID state at a
//! position (`BINLOG_GTID_POS`, `@@gtid_binlog_pos`), a file's initial
//! GTID_LIST (where a GTID-positioned dump starts), and MySQL's
//! PREVIOUS_GTIDS and executed set.

use std::collections::BTreeMap;
use std::path::Path;

use super::reader::BinlogReader;
use super::StorageError;
use crate::binlog::gtid::GtidTriple;
use crate::binlog::gtid_pos::GtidPos;
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::{
    BinlogFileName, ChecksumAlg, EventHeader, EventType, FormatDescription, MariaGtid,
    MariaGtidList, MysqlGtid,
};

/// A binlog state: the last seq_no of every (domain, server id), and the
/// last GTID of every domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinlogState {
    servers: BTreeMap<(u32, u32), u64>,
    domains: BTreeMap<u32, GtidTriple>,
}

impl BinlogState {
    /// Records `gtid` as logged.
    pub fn update(&mut self, gtid: GtidTriple) {
        self.servers.insert((gtid.domain_id, gtid.server_id), gtid.seq_no);
        self.domains.insert(gtid.domain_id, gtid);
    }

    /// The last seq_no logged by `server_id` in `domain_id`.
    pub fn find(&self, domain_id: u32, server_id: u32) -> Option<u64> {
        self.servers.get(&(domain_id, server_id)).copied()
    }

    /// The last GTID of `domain_id`.
    pub fn domain(&self, domain_id: u32) -> Option<GtidTriple> {
        self.domains.get(&domain_id).copied()
    }
}

/// What a scan of one file up to a position found.
#[derive(Debug, Clone, Default)]
pub struct FileGtids {
    /// The file's format description.
    pub fd: Option<FormatDescription>,
    /// MariaDB: the GTID_LIST at the start of the file.
    pub gtid_list: Option<Vec<GtidTriple>>,
    /// MariaDB: the state at the end of the scan (GTID_LIST plus the GTIDs seen).
    pub state: GtidPos,
    /// MariaDB: the same per server id.
    pub binlog_state: BinlogState,
    /// MySQL: PREVIOUS_GTIDS of the file.
    pub previous_gtids: Option<GtidSet>,
    /// MySQL: PREVIOUS_GTIDS plus the GTIDs seen.
    pub executed: GtidSet,
}

/// Scans `file` from its start up to `limit` (exclusive of events that start at or after it).
pub fn scan_file(dir: &Path, file: &BinlogFileName, limit: u64) -> Result<FileGtids, StorageError> {
    scan(dir, file, limit, false)
}

/// Reads only the head of `file`: its format description and its
/// GTID_LIST (MariaDB) or PREVIOUS_GTIDS (MySQL).
pub fn scan_head(dir: &Path, file: &BinlogFileName, limit: u64) -> Result<FileGtids, StorageError> {
    scan(dir, file, limit, true)
}

fn scan(
    dir: &Path,
    file: &BinlogFileName,
    limit: u64,
    head_only: bool,
) -> Result<FileGtids, StorageError> {
    let mut reader = BinlogReader::open(dir, file, 4)?;
    let mut out = FileGtids::default();
    let mut event = Vec::new();
    let path = dir.join(file.as_str());
    let corrupt = |offset, cause| StorageError::Corrupt { path: path.clone(), offset, cause };
    let mut events = 0;
    while reader.position() < limit && reader.next_event(limit, &mut event)? {
        let offset = reader.position() - event.len() as u64;
        let header = EventHeader::parse(&event).map_err(|c| corrupt(offset, c))?;
        events += 1;
        let past_head = out.gtid_list.is_some() || out.previous_gtids.is_some() || events > 8;
        let group_start = matches!(
            header.event_type,
            EventType::MARIADB_GTID
                | EventType::GTID
                | EventType::ANONYMOUS_GTID
                | EventType::GTID_TAGGED
        );
        if head_only && (past_head || group_start) {
            break;
        }
        let alg = out.fd.as_ref().map_or(ChecksumAlg::OFF, |fd| fd.checksum_alg);
        match header.event_type {
            EventType::FORMAT_DESCRIPTION => {
                out.fd =
                    Some(FormatDescription::decode_event(&event).map_err(|c| corrupt(offset, c))?);
            }
            EventType::GTID_LIST if out.gtid_list.is_none() => {
                let list =
                    MariaGtidList::decode_event(&event, alg).map_err(|c| corrupt(offset, c))?;
                for g in &list.gtids {
                    out.state.update(*g);
                    out.binlog_state.update(*g);
                }
                out.gtid_list = Some(list.gtids);
            }
            EventType::MARIADB_GTID => {
                let g = MariaGtid::decode_event(&event).map_err(|c| corrupt(offset, c))?;
                out.state.update(g.triple());
                out.binlog_state.update(g.triple());
            }
            EventType::PREVIOUS_GTIDS if out.previous_gtids.is_none() => {
                let body = crate::binlog::checksum::event_payload(&event, alg)
                    .map_err(|c| corrupt(offset, c))?;
                // `event_payload` is the body without the header and the CRC.
                let set = GtidSet::decode(body).map_err(|c| corrupt(offset, c))?;
                out.executed = set.clone();
                out.previous_gtids = Some(set);
            }
            EventType::GTID | EventType::ANONYMOUS_GTID => {
                let g = MysqlGtid::decode_event(&event).map_err(|c| corrupt(offset, c))?;
                if !g.is_anonymous() {
                    out.executed.insert(g.sid, g.gno);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
