//! Upstream: binlogserver as a replica of the primary.
//!
//! [`dump::DumpThread`] connects ([`connection`]), prepares the session
//! ([`session`]), asks for the binlog stream and turns it into writer
//! messages ([`stream`]); the `semi-sync-ack` thread ([`ack`]) acknowledges
//! what the writer has published as durable. The `replication` thread
//! ([`replication`]) owns the dump thread's life: it starts and stops it
//! for `START`/`STOP SLAVE` and changes the upstream for `CHANGE MASTER`
//! ([`control`], the server's way in), storing it in the data directory
//! ([`plan`] decides at start between the stored upstream and the command
//! line). A switch to a promoted primary is checked first ([`switch`]).

pub mod ack;
mod auth;
pub mod connection;
pub mod control;
pub mod dump;
mod gtid_start;
mod lister;
pub mod plan;
mod progress;
pub mod replication;
pub mod session;
pub mod stream;
pub mod switch;

pub use auth::read_server_public_key;

use std::fmt;
use std::time::Duration;

use crate::binlog::BinlogFileName;
use crate::net::tls::SslSettings;
use crate::net::NetError;
use crate::protocol::caching_sha2::ServerPublicKey;
use crate::protocol::{DecodeError, ErrPacket};
use crate::storage::StorageError;

/// The longest wait between connection attempts unless `MASTER_CONNECT_RETRY`
/// says otherwise.
pub const DEFAULT_CONNECT_RETRY: Duration = Duration::from_secs(10);

/// When to acknowledge as a semi-sync replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemiSyncMode {
    /// When the primary has semi-sync enabled.
    Auto,
    /// Always ask for semi-sync; fail if the primary does not support it.
    On,
    /// Never.
    Off,
}

/// Where to start when the data directory is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// The oldest binlog the primary still has.
    Oldest,
    /// This file, from its beginning.
    File(BinlogFileName),
    /// The file holding the first transaction after this GTID position
    /// (MariaDB `D-S-N,...` or a MySQL GTID set).
    Gtid(String),
}

/// How to reach and follow the primary.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Replication user.
    pub user: String,
    /// Its password (never logged).
    pub password: String,
    /// Our server id toward the primary.
    pub server_id: u32,
    /// Semi-sync policy.
    pub semi_sync: SemiSyncMode,
    /// Heartbeat period asked of the primary; a link silent for
    /// [`UpstreamConfig::dead_link_after`] is dropped.
    pub heartbeat: Duration,
    /// Start point for an empty data directory.
    pub start: StartFrom,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// The longest wait between connection attempts (`MASTER_CONNECT_RETRY`):
    /// the first retry comes after 100 ms, each next one waits twice as
    /// long, up to this.
    pub connect_retry: Duration,
    /// Hex-dump every packet at trace level.
    pub trace_packets: bool,
    /// TLS toward the primary (`--ssl-mode`, `--ssl-ca`, `--ssl-cert`, `--ssl-key`).
    pub ssl: SslSettings,
    /// The primary's RSA public key (`--server-public-key-path`), for
    /// `caching_sha2_password` full authentication over plain TCP.
    pub server_public_key: Option<ServerPublicKey>,
    /// Ask the primary for its RSA public key when full authentication
    /// needs it (`--get-server-public-key`).
    pub get_server_public_key: bool,
}

impl UpstreamConfig {
    /// How long a silent link is trusted: four heartbeat periods.
    pub fn dead_link_after(&self) -> Duration {
        (self.heartbeat * 4).max(Duration::from_secs(2))
    }
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("server_id", &self.server_id)
            .field("semi_sync", &self.semi_sync)
            .field("heartbeat", &self.heartbeat)
            .field("start", &self.start)
            .field("connect_retry", &self.connect_retry)
            .field("ssl", &self.ssl)
            .field("server_public_key", &self.server_public_key.is_some())
            .field("get_server_public_key", &self.get_server_public_key)
            .finish()
    }
}

/// How many of a wrong service's first bytes an error shows.
const OPENING_SHOWN: usize = 40;

/// Why following the primary failed.
#[derive(Debug)]
pub enum UpstreamError {
    /// Could not connect.
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The connection failed.
    Net(NetError),
    /// The primary sent bytes we cannot decode.
    Decode(DecodeError),
    /// The primary answered with an error.
    Server {
        /// What we asked.
        during: String,
        /// Its answer.
        err: ErrPacket,
    },
    /// The primary refused our credentials.
    AuthRejected(ErrPacket),
    /// The primary denied a replication command: the account lacks a privilege.
    MissingPrivilege {
        /// What we asked (`COM_REGISTER_SLAVE`, the binlog dump).
        during: &'static str,
        /// The privilege the command needs.
        privilege: &'static str,
        /// The primary's answer.
        err: ErrPacket,
    },
    /// What answers at the primary's address does not speak the MySQL
    /// protocol: another service (HTTP, SSH) or nothing at all.
    NotMysql {
        /// `host:port`.
        addr: String,
        /// The first bytes it sent; empty when it sent none within `waited`.
        opened_with: Vec<u8>,
        /// How long we waited for a greeting.
        waited: Duration,
    },
    /// The primary wants something we cannot do.
    Unsupported(String),
    /// The primary sent something out of place.
    Unexpected {
        /// What we expected.
        expected: &'static str,
        /// The first byte of what came.
        got: u8,
    },
    /// The primary's history does not match what is stored here.
    HistoryMismatch(String),
    /// The checked switch to a new primary's file was refused (the text
    /// names the GTIDs or the fix); nothing was stored.
    SwitchRefused(String),
    /// Reading our own stored files failed (for the switch check).
    Storage(StorageError),
    /// The writer thread is gone (it failed; its error is reported separately).
    WriterGone,
    /// TLS toward the primary failed: the text says what (no TLS offered
    /// under a mode that requires it, an untrusted certificate, a name
    /// mismatch, a file that cannot be used).
    Tls(String),
}

impl UpstreamError {
    /// True when reconnecting may help; false when we must stop.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect { .. } | UpstreamError::Net(_) | UpstreamError::Decode(_) => {
                true
            }
            // A primary being replaced may briefly leave something else there;
            // on the very first connect [`UpstreamError::is_wrong_service`] stops us.
            UpstreamError::Unexpected { .. } | UpstreamError::NotMysql { .. } => true,
            UpstreamError::Server { err, .. } => {
                !matches!(err.code, 1236 | 1045 | 1044 | 1227 | 1142 | 1698)
            }
            UpstreamError::AuthRejected(_)
            | UpstreamError::MissingPrivilege { .. }
            | UpstreamError::Unsupported(_)
            | UpstreamError::HistoryMismatch(_)
            | UpstreamError::SwitchRefused(_)
            | UpstreamError::Storage(_)
            | UpstreamError::WriterGone
            | UpstreamError::Tls(_) => false,
        }
    }

    /// The MariaDB error number `SHOW SLAVE STATUS` shows for this error
    /// (`Last_IO_Errno`): the client's 2003 (cannot connect) and 2013 (lost
    /// connection), the primary's own code (1236 for a binlog it cannot
    /// send, 1045 for a refused login), 1236 for a history that does not
    /// match ours or a refused switch, 1743 for a bad checksum, 1595 (relay
    /// log write failure) when our storage failed, 1593 (fatal error)
    /// otherwise.
    pub fn io_errno(&self) -> u32 {
        match self {
            UpstreamError::Connect { .. } => 2003,
            UpstreamError::Net(_) | UpstreamError::NotMysql { .. } => 2013,
            UpstreamError::Decode(DecodeError::Checksum { .. }) => 1743,
            UpstreamError::Server { err, .. }
            | UpstreamError::AuthRejected(err)
            | UpstreamError::MissingPrivilege { err, .. } => u32::from(err.code),
            UpstreamError::HistoryMismatch(_) | UpstreamError::SwitchRefused(_) => 1236,
            UpstreamError::Storage(_) | UpstreamError::WriterGone => 1595,
            // The client's CR_SSL_CONNECTION_ERROR.
            UpstreamError::Tls(_) => 2026,
            UpstreamError::Decode(_)
            | UpstreamError::Unsupported(_)
            | UpstreamError::Unexpected { .. } => 1593,
        }
    }
}

impl UpstreamError {
    /// True when the address answers but not as a MySQL/MariaDB server: a
    /// wrong `--host`/`--port`, fatal when it is so from the start.
    pub fn is_wrong_service(&self) -> bool {
        matches!(self, UpstreamError::NotMysql { .. })
    }

    /// `err` from a replication command, with the missing privilege named
    /// when the primary denied it: MariaDB 10.11 answers `COM_REGISTER_SLAVE`
    /// from an account without `REPLICATION SLAVE` with a bare 1045 "Access
    /// denied", MySQL with 1227 (ER_SPECIFIC_ACCESS_DENIED_ERROR).
    pub fn needs_replication_slave(during: &'static str, err: ErrPacket) -> Self {
        if matches!(err.code, 1045 | 1227) {
            UpstreamError::MissingPrivilege { during, privilege: "REPLICATION SLAVE", err }
        } else {
            UpstreamError::Server { during: during.into(), err }
        }
    }
}

impl From<NetError> for UpstreamError {
    fn from(e: NetError) -> Self {
        UpstreamError::Net(e)
    }
}

impl From<DecodeError> for UpstreamError {
    fn from(e: DecodeError) -> Self {
        UpstreamError::Decode(e)
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Connect { addr, .. } => write!(f, "cannot connect to primary at {addr}"),
            UpstreamError::Net(_) => write!(f, "connection to primary failed"),
            UpstreamError::Decode(_) => write!(f, "undecodable data from primary"),
            UpstreamError::Server { during, err } => write!(f, "primary refused {during}: {err}"),
            UpstreamError::AuthRejected(err) => {
                write!(
                    f,
                    "primary rejected the login ({err}); check --user/--password and the account's \
                     host"
                )
            }
            UpstreamError::MissingPrivilege { during, privilege, err } => write!(
                f,
                "primary refused {during}: {err}; the replication account needs the {privilege} \
                 privilege (on the primary: GRANT {privilege} ON *.* TO the account)"
            ),
            UpstreamError::NotMysql { addr, opened_with, waited } if opened_with.is_empty() => {
                write!(
                    f,
                    "{addr} is not a MySQL/MariaDB server, or not answering: it accepted the \
                     connection but sent nothing in {} s (a server greets at once); check --host \
                     and --port",
                    waited.as_secs_f64()
                )
            }
            UpstreamError::NotMysql { addr, opened_with, .. } => {
                let shown = opened_with.get(..OPENING_SHOWN).unwrap_or(opened_with);
                let more = if shown.len() < opened_with.len() { "..." } else { "" };
                write!(
                    f,
                    "{addr} is not a MySQL/MariaDB server: it opened with \"{}{more}\" where a \
                     server sends its handshake packet; check --host and --port",
                    shown.escape_ascii()
                )
            }
            UpstreamError::Unsupported(what) => write!(f, "{what}"),
            UpstreamError::Unexpected { expected, got } => {
                write!(f, "primary sent a packet starting {got:#04x} where {expected} was expected")
            }
            UpstreamError::HistoryMismatch(what) => {
                write!(f, "primary's binlogs do not match the stored ones: {what}")
            }
            UpstreamError::SwitchRefused(why) => f.write_str(why),
            UpstreamError::Storage(_) => write!(f, "cannot read the stored binlogs"),
            UpstreamError::WriterGone => write!(f, "storage writer stopped"),
            UpstreamError::Tls(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::Connect { source, .. } => Some(source),
            UpstreamError::Net(e) => Some(e),
            UpstreamError::Decode(e) => Some(e),
            UpstreamError::Storage(e) => Some(e),
            _ => None,
        }
    }
}
