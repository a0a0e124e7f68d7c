//! What a downstream session may ask about this server: the facts behind
//! the answers to the statements replicas and operators send.
//!
//! The query evaluator ([`super::query`]) sees the server only through
//! [`ServerInfo`], so it can be tested with a plain struct.

use crate::protocol::ErrPacket;
use crate::server::session_vars::Warning;
use crate::status::control::ReplicationControl;
use crate::status::UpstreamStatus;
use crate::storage::retention::RetentionPolicy;
use crate::storage::selection::Criterion;

/// A replica registered with `COM_REGISTER_SLAVE` (for `SHOW SLAVE HOSTS`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlaveHost {
    /// Its server id.
    pub server_id: u32,
    /// `report_host`.
    pub host: String,
    /// `report_port`.
    pub port: u16,
    /// Our server id (the `Master_id` column).
    pub master_id: u32,
    /// `@slave_uuid` / `@replica_uuid` of its session, if set.
    pub uuid: String,
}

/// One row of `SHOW PROCESSLIST`: a downstream connection, or our own
/// upstream connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Process {
    /// Connection id (`KILL` takes it).
    pub id: u32,
    /// The account; empty before login.
    pub user: String,
    /// `ip:port` of the client; empty for the upstream connection.
    pub host: String,
    /// Current database.
    pub db: Option<String>,
    /// `Sleep`, `Query`, `Binlog Dump`, `Connect`; `Slave_IO` or `Connect`
    /// for the upstream connection.
    pub command: &'static str,
    /// Seconds since the command began.
    pub time: u64,
    /// What the command is at (`Master has sent all binlog to slave;
    /// waiting for more updates`, ...); empty when idle.
    pub state: String,
    /// The statement being run.
    pub info: Option<String>,
    /// Our own upstream connection (MariaDB's `system user` row of the
    /// slave IO thread), not a client.
    pub upstream: bool,
}

/// Facts about this server, as the evaluator needs them.
pub trait ServerInfo {
    /// True when we pose as MariaDB (the stored binlogs are MariaDB's).
    fn is_mariadb(&self) -> bool;
    /// `@@server_id`: the id in the stored binlogs' events (the primary's).
    fn server_id(&self) -> u32;
    /// `@@server_uuid` (MySQL flavour).
    fn server_uuid(&self) -> String;
    /// `VERSION()`, e.g. `10.11.19-MariaDB-log` or `8.0.41`.
    fn version(&self) -> String;
    /// `@@global.binlog_checksum`: `CRC32` or `NONE`.
    fn binlog_checksum(&self) -> &'static str;
    /// The stored binlogs and their durable sizes, oldest first.
    fn binlog_files(&self) -> Vec<(String, u64)>;
    /// The durable end: file and position (`SHOW MASTER STATUS`).
    fn master_status(&self) -> Option<(String, u64)>;
    /// MariaDB `@@gtid_binlog_pos` / `@@gtid_current_pos`: the last GTID of each domain.
    fn gtid_binlog_pos(&self) -> String;
    /// MySQL `@@GLOBAL.gtid_executed`: the GTID set of the stored binlogs.
    fn gtid_executed(&self) -> String;
    /// MariaDB `BINLOG_GTID_POS(file, pos)`: the GTID state at that position, `None` if unknown.
    fn binlog_gtid_pos(&self, file: &str, pos: u64) -> Option<String>;
    /// `@@GLOBAL.gtid_domain_id`.
    fn gtid_domain_id(&self) -> u32;
    /// True when we offer semi-sync sessions to downstream replicas: the
    /// `rpl_semi_sync_master_enabled` variable exists. Its value is OFF, as
    /// is `Rpl_semi_sync_master_status`: we never ask them for an ACK.
    fn semi_sync_master_enabled(&self) -> bool;
    /// Replicas registered with `COM_REGISTER_SLAVE` and still connected.
    fn slave_hosts(&self) -> Vec<SlaveHost>;
    /// Our upstream, `None` when serving a directory without a primary.
    fn upstream_status(&self) -> Option<UpstreamStatus>;
    /// This session's connection id.
    fn connection_id(&self) -> u32;
    /// `KILL [CONNECTION|QUERY] id`: true when such a connection existed.
    fn kill(&self, id: u32) -> bool;
    /// Every connection and, while we follow a primary, our upstream
    /// connection, ordered by id (`SHOW PROCESSLIST`, and `KILL`'s owner check).
    fn processlist(&self) -> Vec<Process> {
        Vec::new()
    }
    /// The upstream side's controls; `None` when serving a directory
    /// without a primary.
    fn replication_control(&self) -> Option<&dyn ReplicationControl> {
        None
    }
    /// `Seconds_Behind_Master` at `now_unix` while connected: 0 once caught
    /// up, else the age of the last event received.
    fn seconds_behind_master(&self, now_unix: u64) -> u64 {
        let _ = now_unix;
        0
    }
    /// The `Binlogserver_*` rows of `SHOW STATUS`: the metrics the exporter serves.
    fn metrics_status(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// `@@have_ssl`: YES when the listener offers TLS (`--listen-ssl-cert`).
    fn have_ssl(&self) -> bool {
        false
    }
    /// `--expire-logs-days` and `--max-total-size` (`@@binlog_expire_logs_seconds`, ...).
    fn retention(&self) -> RetentionPolicy {
        RetentionPolicy::default()
    }
    /// `PURGE BINARY LOGS TO|BEFORE`: removes what `criterion` selects;
    /// the warnings for the client (why it stopped short), or the ERR.
    fn purge_binary_logs(&self, criterion: &Criterion) -> Result<Vec<Warning>, ErrPacket> {
        let _ = criterion;
        Err(ErrPacket::new(1290, b"HY000", "binlogserver does not support PURGE BINARY LOGS here"))
    }
}
