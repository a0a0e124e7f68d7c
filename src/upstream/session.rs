//! Preparing a replication session on the primary: the statements a real
//! replica runs before the dump (docs/protocol.md §10.7), then the dump
//! request itself.

use log::{info, warn};

use super::connection::{Connection, QueryResult};
use super::{SemiSyncMode, UpstreamConfig, UpstreamError};
use crate::binlog::gtid_pos::{GtidPos, GtidPosError};
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::ChecksumAlg;
use crate::protocol::command::{
    ComBinlogDump, ComBinlogDumpGtid, ComRegisterSlave, BINLOG_SEND_ANNOTATE_ROWS_EVENT,
};
use crate::status::upstream::replica_uuid;

/// ER_UNKNOWN_SYSTEM_VARIABLE.
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;

/// A prepared session, ready for the dump command.
#[derive(Debug)]
pub struct Session {
    /// The connection.
    pub conn: Connection,
    /// The primary's `@@server_id`.
    pub primary_server_id: u32,
    /// The checksum the session negotiated (for events before the first FD).
    pub checksum: ChecksumAlg,
    /// True when we asked for semi-sync.
    pub semi_sync: bool,
    /// Set when we asked for semi-sync but the primary's semi-sync master
    /// is disabled: its commits do not wait for our ACKs.
    pub semi_sync_warning: Option<String>,
    /// The primary's binlogs and sizes at connect (empty if we may not see them).
    pub primary_logs: Vec<(String, u64)>,
}

fn first_value(row: Option<Vec<Option<String>>>, col: usize) -> Option<String> {
    row.and_then(|r| r.into_iter().nth(col)).flatten()
}

/// Runs the session statements and registers as a replica. With
/// `list_logs` false the primary's binlogs are not listed (see
/// [`list_binlogs_is_safe`]) and `primary_logs` stays empty.
pub fn prepare(
    mut conn: Connection,
    cfg: &UpstreamConfig,
    list_logs: bool,
) -> Result<Session, UpstreamError> {
    let mariadb = conn.is_mariadb();
    let id = first_value(conn.query_first_row("SELECT @@GLOBAL.server_id")?, 0).unwrap_or_default();
    let primary_server_id: u32 = id.trim().parse().unwrap_or(0);
    if primary_server_id == cfg.server_id {
        return Err(UpstreamError::Unsupported(format!(
            "the primary's server_id is {primary_server_id}, the same as ours; pass another \
             --server-id"
        )));
    }
    let checksum = negotiate_checksum(&mut conn)?;
    let ns = cfg.heartbeat.as_nanos();
    conn.execute(&format!("SET @master_heartbeat_period = {ns}, @source_heartbeat_period = {ns}"))?;
    if mariadb {
        // Capability 4 (GTID): the primary sends GTID events as they are
        // stored instead of rewriting them for old replicas.
        conn.execute("SET @mariadb_slave_capability = 4")?;
    } else {
        let uuid = replica_uuid(cfg.server_id);
        conn.execute(&format!("SET @slave_uuid = '{uuid}', @replica_uuid = '{uuid}'"))?;
    }
    let primary_logs = if list_logs { list_binlogs(&mut conn)? } else { Vec::new() };
    let register = ComRegisterSlave { server_id: cfg.server_id, ..Default::default() };
    let mut out = Vec::new();
    register.encode(&mut out);
    conn.command(&out, "COM_REGISTER_SLAVE").map_err(|e| match e {
        UpstreamError::Server { err, .. } => {
            UpstreamError::needs_replication_slave("COM_REGISTER_SLAVE", err)
        }
        e => e,
    })?;
    let (semi_sync, semi_sync_warning) = enable_semi_sync(&mut conn, cfg.semi_sync, mariadb)?;
    Ok(Session { conn, primary_server_id, checksum, semi_sync, semi_sync_warning, primary_logs })
}

/// True when `SHOW BINARY LOGS` (only used for catch-up progress) cannot
/// hang the reconnect. It takes the primary's binlog lock (`LOCK_log`);
/// under AFTER_SYNC semi-sync, while commits wait for an ACK, the next
/// group commit leader holds that lock while it queues behind them. When
/// we resume (`resuming`) after a crash or a cut link, those commits may be
/// waiting for *us*: the statement would then block until
/// `rpl_semi_sync_master_timeout` expires and the primary falls back to
/// asynchronous replication, which is the loss of protection semi-sync is
/// there to prevent. The dump request itself releases them (the primary
/// treats the requested position as acknowledged), so it must come first.
pub fn list_binlogs_is_safe(cfg: &UpstreamConfig, resuming: bool) -> bool {
    !resuming || cfg.semi_sync == SemiSyncMode::Off
}

pub(super) fn list_binlogs(conn: &mut Connection) -> Result<Vec<(String, u64)>, UpstreamError> {
    Ok(match conn.query("SHOW BINARY LOGS") {
        Ok(QueryResult::Rows { rows, .. }) => rows
            .into_iter()
            .filter_map(|r| {
                let mut it = r.into_iter();
                let name = it.next().flatten()?;
                let size = it.next().flatten()?.parse().ok()?;
                Some((name, size))
            })
            .collect(),
        Ok(QueryResult::Ok) => Vec::new(),
        Err(e @ UpstreamError::Server { .. }) => {
            warn!("cannot list the primary's binlogs, progress will not show the distance: {e}");
            Vec::new()
        }
        Err(e) => return Err(e),
    })
}

fn negotiate_checksum(conn: &mut Connection) -> Result<ChecksumAlg, UpstreamError> {
    let set = "SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = \
               @@global.binlog_checksum";
    match conn.execute(set) {
        Ok(()) => {}
        // A server without checksums (before MySQL 5.6 / MariaDB 5.3).
        Err(UpstreamError::Server { err, .. }) if err.code == ER_UNKNOWN_SYSTEM_VARIABLE => {
            return Ok(ChecksumAlg::OFF)
        }
        Err(e) => return Err(e),
    }
    let value =
        first_value(conn.query_first_row("SELECT @master_binlog_checksum")?, 0).unwrap_or_default();
    ChecksumAlg::from_name(value.as_bytes()).ok_or_else(|| {
        UpstreamError::Unsupported(format!(
            "primary uses binlog_checksum {value:?}, expected CRC32 or NONE"
        ))
    })
}

/// Asks for semi-sync per `mode`; true when the session is semi-sync, with
/// a warning when the primary's semi-sync master is disabled.
fn enable_semi_sync(
    conn: &mut Connection,
    mode: SemiSyncMode,
    mariadb: bool,
) -> Result<(bool, Option<String>), UpstreamError> {
    if mode == SemiSyncMode::Off {
        return Ok((false, None));
    }
    let enabled = if mariadb {
        let row = conn.query_first_row("SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'")?;
        row.map(|r| ("rpl_semi_sync_master_enabled", first_value(Some(r), 1).unwrap_or_default()))
    } else {
        mysql_semi_sync_enabled(conn)?
    };
    let Some((var, enabled)) = enabled else {
        if mode == SemiSyncMode::On {
            return Err(UpstreamError::Unsupported(
                "--semi-sync on, but the primary has no semi-sync master (install/enable \
                 rpl_semi_sync_master or rpl_semi_sync_source)"
                    .into(),
            ));
        }
        info!("primary does not support semi-sync, replicating asynchronously");
        return Ok((false, None));
    };
    conn.execute("SET @rpl_semi_sync_slave = 1, @rpl_semi_sync_replica = 1")?;
    info!("semi-sync requested, primary_semi_sync_enabled={enabled}");
    let disabled = enabled.eq_ignore_ascii_case("OFF") || enabled == "0";
    let warning = disabled.then(|| {
        format!(
            "the primary's {var} is OFF: it does not wait for binlogserver's ACKs, so a commit it \
             acknowledges may be missing here after a crash (SET GLOBAL {var} = ON on the primary)"
        )
    });
    match (&warning, mode) {
        (Some(w), SemiSyncMode::On) => warn!("--semi-sync on, but {w}"),
        (Some(w), _) => info!("{w}"),
        (None, _) => {}
    }
    Ok((true, warning))
}

fn mysql_semi_sync_enabled(
    conn: &mut Connection,
) -> Result<Option<(&'static str, String)>, UpstreamError> {
    for var in ["rpl_semi_sync_source_enabled", "rpl_semi_sync_master_enabled"] {
        match conn.query_first_row(&format!("SELECT @@global.{var}")) {
            Ok(row) => return Ok(Some((var, first_value(row, 0).unwrap_or_default()))),
            Err(UpstreamError::Server { err, .. }) if err.code == ER_UNKNOWN_SYSTEM_VARIABLE => {
                continue
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

impl Session {
    /// Sends `COM_BINLOG_DUMP` for `file` at `pos` (empty file = the primary's oldest).
    pub fn request_dump(
        &mut self,
        file: &[u8],
        pos: u64,
        cfg: &UpstreamConfig,
    ) -> Result<(), UpstreamError> {
        self.request_dump_with(file, pos, cfg, 0)
    }

    /// [`Session::request_dump`] with `extra` flags, e.g.
    /// `BINLOG_DUMP_NON_BLOCK` for a dump that ends with EOF at the end of
    /// the binlogs instead of waiting for more.
    pub fn request_dump_with(
        &mut self,
        file: &[u8],
        pos: u64,
        cfg: &UpstreamConfig,
        extra: u16,
    ) -> Result<(), UpstreamError> {
        let position = u32::try_from(pos).map_err(|_| {
            UpstreamError::Unsupported(format!(
                "position {pos} is past 4 GiB, which COM_BINLOG_DUMP cannot express"
            ))
        })?;
        let flags =
            extra | if self.conn.is_mariadb() { BINLOG_SEND_ANNOTATE_ROWS_EVENT } else { 0 };
        let dump = ComBinlogDump { position, flags, server_id: cfg.server_id, file: file.to_vec() };
        let mut out = Vec::new();
        dump.encode(&mut out);
        self.conn.send_command(&out)
    }

    /// Sends a GTID dump: MariaDB `@slave_connect_state`, or MySQL `COM_BINLOG_DUMP_GTID`.
    pub fn request_gtid_dump(
        &mut self,
        gtid: &str,
        cfg: &UpstreamConfig,
    ) -> Result<(), UpstreamError> {
        if self.conn.is_mariadb() {
            let pos = mariadb_start_position(gtid)?;
            // The position as parsed: digits, '-' and ',' only, so it is safe to quote.
            self.conn.execute(&format!("SET @slave_connect_state = '{pos}'"))?;
            self.conn.execute("SET @slave_gtid_strict_mode = 1")?;
            return self.request_dump(b"", 4, cfg);
        }
        let set = GtidSet::parse(gtid)
            .map_err(|e| UpstreamError::Unsupported(format!("--start-gtid: {e}")))?;
        let mut gtid_set = Vec::new();
        set.encode(&mut gtid_set);
        let dump = ComBinlogDumpGtid {
            flags: 0,
            server_id: cfg.server_id,
            file: Vec::new(),
            position: 4,
            gtid_set,
        };
        let mut out = Vec::new();
        dump.encode(&mut out);
        self.conn.send_command(&out)
    }
}

/// `--start-gtid` for a MariaDB primary: a GTID position, whose errors name
/// the bad element.
fn mariadb_start_position(gtid: &str) -> Result<GtidPos, UpstreamError> {
    gtid.parse().map_err(|e: GtidPosError| {
        UpstreamError::Unsupported(format!(
            "--start-gtid {gtid:?} is not a MariaDB GTID position like 0-1-100,1-2-7: {e} ({:?})",
            e.element(gtid)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_start_gtid_names_the_element() {
        let err = mariadb_start_position("0-1-5,0-1'; DROP").unwrap_err().to_string();
        assert!(err.contains("GTID 2 of the position"), "{err}");
        assert!(err.contains("\"0-1'; DROP\""), "{err}");
        let pos = mariadb_start_position("0-1-5, 2-1-9").unwrap();
        assert_eq!(pos.to_string(), "0-1-5,2-1-9", "sent to the primary as parsed");
    }
}
