//! [`SessionInfo`]: the [`ServerInfo`] a session answers from, read from
//! the stored binlogs, the watermark and the registry.

use std::sync::PoisonError;
use std::time::Instant;

use log::warn;

use super::info::{Process, ServerInfo, SlaveHost};
use super::registry::{Command, ConnectionView};
use super::session_vars::Warning;
use super::Shared;
use crate::binlog::{BinlogFileName, ChecksumAlg, EventHeader, FormatDescription};
use crate::protocol::ErrPacket;
use crate::status::control::ReplicationControl;
use crate::status::{IoState, UpstreamStatus};
use crate::storage::gtid_scan::{scan_file, FileGtids};
use crate::storage::purge::{PurgeError, Reason};
use crate::storage::reader::{file_size, list_files, BinlogReader};
use crate::storage::retention::RetentionPolicy;
use crate::storage::selection::{Blocked, Criterion};

/// Version announced when nothing is stored yet.
const DEFAULT_VERSION: &str = "10.11.0-MariaDB-binlogserver";

/// The durable files and their durable lengths, oldest first.
pub fn durable_files(shared: &Shared) -> Vec<(BinlogFileName, u64)> {
    let Some(wm) = shared.watermark.get() else { return Vec::new() };
    let files = match list_files(&shared.dir) {
        Ok(f) => f,
        Err(e) => {
            warn!("cannot list binlogs: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        // Files a purge is removing are gone already for clients.
        if !shared.registry.may_read(&f) {
            continue;
        }
        if f == wm.file {
            out.push((f, wm.offset));
            break;
        }
        if f > wm.file {
            break;
        }
        match file_size(&shared.dir, &f) {
            Ok(size) => out.push((f, size)),
            Err(e) => warn!("cannot stat binlog: {e}"),
        }
    }
    out
}

/// The header and format description of the newest stored file.
fn newest_fd(shared: &Shared) -> Option<(EventHeader, FormatDescription)> {
    let (file, limit) = durable_files(shared).pop()?;
    let mut reader = BinlogReader::open(&shared.dir, &file, 4).ok()?;
    let mut event = Vec::new();
    if !reader.next_event(limit, &mut event).ok()? {
        return None;
    }
    Some((EventHeader::parse(&event).ok()?, FormatDescription::decode_event(&event).ok()?))
}

/// MariaDB's state of a dump thread that has sent everything.
const DUMP_WAITING: &str = "Master has sent all binlog to slave; waiting for more updates";
/// MariaDB's state of a dump thread that is sending.
const DUMP_SENDING: &str = "Sending binlog event to slave";

/// Every connection and our upstream connection (while we follow), by id.
fn processlist(shared: &Shared) -> Vec<Process> {
    let now = Instant::now();
    let durable = shared.watermark.get().map(|w| (w.file.as_str().to_owned(), w.offset));
    let mut rows: Vec<Process> =
        shared.registry.connections().into_iter().map(|c| client_row(c, &durable, now)).collect();
    let upstream = shared.upstream.as_ref().map(|u| {
        let s = u.lock().unwrap_or_else(PoisonError::into_inner);
        (s.io, s.io_since)
    });
    if let Some((io, since)) = upstream.filter(|(io, _)| *io != IoState::No) {
        // MariaDB shows its slave IO thread as `Connect` until connected.
        let (command, state) = match io {
            IoState::Yes => ("Slave_IO", "Waiting for master to send event"),
            _ => ("Connect", "Connecting to master"),
        };
        rows.push(Process {
            id: shared.registry.upstream_id(),
            user: "system user".to_owned(),
            command,
            time: since.map_or(0, |t| now.saturating_duration_since(t).as_secs()),
            state: state.to_owned(),
            upstream: true,
            ..Process::default()
        });
    }
    rows.sort_by_key(|r| r.id);
    rows
}

/// The row of one client connection; a dump is waiting when the position
/// it last reported is the durable end.
fn client_row(c: ConnectionView, durable: &Option<(String, u64)>, now: Instant) -> Process {
    let state = match c.command {
        Command::Connect => "login",
        Command::Sleep => "",
        Command::Query => "starting",
        Command::BinlogDump if c.position.is_some() && c.position == *durable => DUMP_WAITING,
        Command::BinlogDump => DUMP_SENDING,
    };
    Process {
        id: c.id,
        user: c.user,
        host: c.peer.to_string(),
        db: c.db,
        command: c.command.as_str(),
        time: now.saturating_duration_since(c.since).as_secs(),
        state: state.to_owned(),
        info: c.info,
        upstream: false,
    }
}

/// A session's view of the server.
#[derive(Debug)]
pub struct SessionInfo<'a> {
    shared: &'a Shared,
    connection_id: u32,
    fd: Option<(EventHeader, FormatDescription)>,
}

impl<'a> SessionInfo<'a> {
    /// The view for connection `connection_id`.
    pub fn new(shared: &'a Shared, connection_id: u32) -> Self {
        SessionInfo { shared, connection_id, fd: newest_fd(shared) }
    }

    fn last_file_gtids(&self) -> FileGtids {
        let Some((file, limit)) = durable_files(self.shared).pop() else {
            return FileGtids::default();
        };
        scan_file(&self.shared.dir, &file, limit).unwrap_or_else(|e| {
            warn!("cannot read GTIDs of {file}: {e}");
            FileGtids::default()
        })
    }
}

impl ServerInfo for SessionInfo<'_> {
    fn is_mariadb(&self) -> bool {
        self.fd.as_ref().is_none_or(|(_, fd)| fd.is_mariadb())
    }

    fn server_id(&self) -> u32 {
        self.fd.as_ref().map_or(0, |(h, _)| h.server_id)
    }

    fn server_uuid(&self) -> String {
        crate::status::upstream::replica_uuid(self.server_id())
    }

    fn version(&self) -> String {
        match &self.fd {
            Some((_, fd)) if !fd.server_version.is_empty() => fd.server_version.clone(),
            _ => DEFAULT_VERSION.to_owned(),
        }
    }

    fn binlog_checksum(&self) -> &'static str {
        match &self.fd {
            Some((_, fd)) if fd.checksum_alg == ChecksumAlg::CRC32 => "CRC32",
            Some(_) => "NONE",
            None => "CRC32",
        }
    }

    fn binlog_files(&self) -> Vec<(String, u64)> {
        durable_files(self.shared).into_iter().map(|(f, n)| (f.as_str().to_owned(), n)).collect()
    }

    fn master_status(&self) -> Option<(String, u64)> {
        self.shared.watermark.get().map(|w| (w.file.as_str().to_owned(), w.offset))
    }

    fn gtid_binlog_pos(&self) -> String {
        self.last_file_gtids().state.to_string()
    }

    fn gtid_executed(&self) -> String {
        self.last_file_gtids().executed.to_string()
    }

    fn binlog_gtid_pos(&self, file: &str, pos: u64) -> Option<String> {
        if file.is_empty() {
            return Some(String::new());
        }
        let name = BinlogFileName::new(file).ok()?;
        let (_, limit) = durable_files(self.shared).into_iter().find(|(f, _)| *f == name)?;
        if pos > limit {
            return None;
        }
        scan_file(&self.shared.dir, &name, pos).ok().map(|g| g.state.to_string())
    }

    fn gtid_domain_id(&self) -> u32 {
        0
    }

    fn semi_sync_master_enabled(&self) -> bool {
        true
    }

    fn have_ssl(&self) -> bool {
        self.shared.config.tls.is_some()
    }

    fn slave_hosts(&self) -> Vec<SlaveHost> {
        self.shared.registry.slave_hosts()
    }

    fn upstream_status(&self) -> Option<UpstreamStatus> {
        self.shared
            .upstream
            .as_ref()
            .map(|u| u.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    fn connection_id(&self) -> u32 {
        self.connection_id
    }

    fn kill(&self, id: u32) -> bool {
        self.shared.registry.kill(id)
    }

    fn processlist(&self) -> Vec<Process> {
        processlist(self.shared)
    }

    fn replication_control(&self) -> Option<&dyn ReplicationControl> {
        Some(self.shared.control.as_ref())
    }

    fn seconds_behind_master(&self, now_unix: u64) -> u64 {
        self.shared.counters.seconds_behind(now_unix)
    }

    fn metrics_status(&self) -> Vec<(String, String)> {
        self.shared.status_rows.as_ref().map(|s| s.status_rows()).unwrap_or_default()
    }

    fn retention(&self) -> RetentionPolicy {
        self.shared.retention
    }

    fn purge_binary_logs(&self, criterion: &Criterion) -> Result<Vec<Warning>, ErrPacket> {
        let report = match self
            .shared
            .purger
            .purge(criterion, Reason::Statement { client: self.connection_id })
        {
            Ok(r) => r,
            Err(PurgeError::UnknownTarget(_)) => {
                return Err(ErrPacket::new(1373, b"HY000", "Target log not found in binlog index"))
            }
            Err(PurgeError::Storage(e)) => {
                warn!("purge failed id={}: {e}", self.connection_id);
                return Err(ErrPacket::new(
                    1377,
                    b"HY000",
                    format!("Fatal error during log purge: {e}"),
                ));
            }
        };
        let s = &report.selection;
        // MySQL's ER_WARN_PURGE_LOG_IN_USE and ER_WARN_PURGE_LOG_IS_ACTIVE.
        let warning = match &s.blocked {
            Some(Blocked::InUse { file, readers }) => Warning {
                level: "Warning",
                code: 1867,
                message: format!(
                    "file {file} was not purged because it was being read by {readers} thread(s), \
                     purged only {} out of {} files.",
                    s.purge.len(),
                    s.wanted
                ),
            },
            Some(Blocked::Active(file)) => Warning {
                level: "Warning",
                code: 1868,
                message: format!("file {file} was not purged because it is the active log file."),
            },
            None => return Ok(Vec::new()),
        };
        Ok(vec![warning])
    }
}
