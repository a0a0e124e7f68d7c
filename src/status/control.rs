//! Replication control: what an admin statement on the SQL port may ask of
//! the upstream side (`STOP SLAVE`, `START SLAVE`, `CHANGE MASTER TO`,
//! `RESET SLAVE [ALL]`), as a trait that the server calls and the upstream
//! side implements. It lives here, below both, so that neither imports the
//! other; `run` wires the two together.
//!
//! The server parses the statement (both spellings: MariaDB's `SLAVE` and
//! `MASTER_*`, MySQL 8's `REPLICA` and `SOURCE_*`), checks the account's
//! privileges, logs the action with user and host, and maps a
//! [`ControlError`] to the ERR packet MariaDB sends ([`ControlError::code`]).
//! No I/O here.

use std::fmt;
use std::time::Duration;

/// The options of one `CHANGE MASTER TO` (`CHANGE REPLICATION SOURCE TO`);
/// `None` leaves the stored value as it is, as MariaDB does.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChangeMaster {
    /// `MASTER_HOST` / `SOURCE_HOST`.
    pub host: Option<String>,
    /// `MASTER_PORT` / `SOURCE_PORT`.
    pub port: Option<u16>,
    /// `MASTER_USER` / `SOURCE_USER`.
    pub user: Option<String>,
    /// `MASTER_PASSWORD` / `SOURCE_PASSWORD` (never logged).
    pub password: Option<String>,
    /// `MASTER_LOG_FILE` / `SOURCE_LOG_FILE`: a file of the new primary to
    /// continue our sequence with (the checked switch of a failover).
    pub log_file: Option<String>,
    /// `MASTER_LOG_POS` / `SOURCE_LOG_POS` (only 4 is accepted with a file).
    pub log_pos: Option<u64>,
    /// `MASTER_HEARTBEAT_PERIOD` / `SOURCE_HEARTBEAT_PERIOD`.
    pub heartbeat_period: Option<Duration>,
    /// `MASTER_CONNECT_RETRY` / `SOURCE_CONNECT_RETRY`.
    pub connect_retry: Option<Duration>,
    /// `MASTER_SSL`: TLS to the primary (0: never).
    pub ssl: Option<bool>,
    /// `MASTER_SSL_CA`: the CA file; the certificate must lead to it.
    pub ssl_ca: Option<String>,
    /// `MASTER_SSL_CERT`: our client certificate file.
    pub ssl_cert: Option<String>,
    /// `MASTER_SSL_KEY`: its key file.
    pub ssl_key: Option<String>,
    /// `MASTER_SSL_VERIFY_SERVER_CERT`: the certificate must name the host.
    pub ssl_verify_server_cert: Option<bool>,
    /// `MASTER_PUBLIC_KEY_PATH` / `SOURCE_PUBLIC_KEY_PATH`: the primary's
    /// RSA public key file, for `caching_sha2_password` full authentication
    /// over plain TCP; empty forgets it.
    pub public_key_path: Option<String>,
    /// `GET_MASTER_PUBLIC_KEY` / `GET_SOURCE_PUBLIC_KEY`: ask the primary
    /// for that key when full authentication needs it.
    pub get_public_key: Option<bool>,
}

impl fmt::Debug for ChangeMaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeMaster")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("log_file", &self.log_file)
            .field("log_pos", &self.log_pos)
            .field("heartbeat_period", &self.heartbeat_period)
            .field("connect_retry", &self.connect_retry)
            .field("ssl", &self.ssl)
            .field("ssl_ca", &self.ssl_ca)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("ssl_verify_server_cert", &self.ssl_verify_server_cert)
            .field("public_key_path", &self.public_key_path)
            .field("get_public_key", &self.get_public_key)
            .finish()
    }
}

/// Who asked, for the `info` log line of every admin action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The account.
    pub user: String,
    /// The client's address.
    pub host: String,
    /// Its connection id.
    pub connection_id: u32,
}

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// `CHANGE MASTER` or `RESET SLAVE` while following: MariaDB's ERR 1198
    /// (`ER_SLAVE_MUST_STOP`).
    MustStop,
    /// `START SLAVE` without a primary to follow (after `RESET SLAVE ALL`,
    /// or never configured): MariaDB's ERR 1200 (`ER_BAD_SLAVE`).
    NotConfigured,
    /// binlogserver serves a directory without following anything and
    /// cannot start (recovery of a followed directory differs): ERR 1200
    /// with this explanation.
    ServeOnly(String),
    /// A bad option value (`MASTER_LOG_POS` other than 4, an empty host,
    /// a file name of another basename...): ERR 1210 (`ER_WRONG_ARGUMENTS`).
    WrongArguments(String),
    /// The checked switch to a new primary was refused (it lacks or holds
    /// extra transactions, its file number is not above ours): ERR 1236,
    /// the text names the GTIDs or the fix. Nothing on disk changed.
    SwitchRefused(String),
    /// Storing the new upstream failed (the data directory): ERR 1105
    /// (`ER_UNKNOWN_ERROR`) with the storage error's text.
    Storage(String),
}

impl ControlError {
    /// The MariaDB error code of the ERR packet.
    pub fn code(&self) -> u16 {
        match self {
            ControlError::MustStop => 1198,
            ControlError::NotConfigured | ControlError::ServeOnly(_) => 1200,
            ControlError::WrongArguments(_) => 1210,
            ControlError::SwitchRefused(_) => 1236,
            ControlError::Storage(_) => 1105,
        }
    }

    /// The SQLSTATE of the ERR packet.
    pub fn sql_state(&self) -> &'static [u8; 5] {
        b"HY000"
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::MustStop => f.write_str(
                "This operation cannot be performed as you have a running slave ''; \
                 run STOP SLAVE '' first",
            ),
            ControlError::NotConfigured => f.write_str(
                "Misconfigured slave: MASTER_HOST was not set; \
                 Fix in config file or with CHANGE MASTER TO",
            ),
            ControlError::ServeOnly(why)
            | ControlError::WrongArguments(why)
            | ControlError::SwitchRefused(why)
            | ControlError::Storage(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ControlError {}

/// The upstream side's controls, as the server sees them.
///
/// Each call returns once the request is carried out: `stop_slave` once
/// the dump connection is closed (the writer has what it received);
/// `start_slave` once the dump thread runs (and, for a pending switch to
/// a new primary, once that primary's continuity was checked, so a refusal
/// reaches the client); `change_master` once the new settings are stored
/// durably in the data directory.
pub trait ReplicationControl: Send + Sync + fmt::Debug {
    /// `START SLAVE` / `START REPLICA`. Starting a running slave is a no-op
    /// (MariaDB answers OK with warning 1254, returned as `Ok(true)`).
    fn start_slave(&self, by: &Requester) -> Result<bool, ControlError>;
    /// `STOP SLAVE` / `STOP REPLICA`. Stopping a stopped slave returns
    /// `Ok(true)` (MariaDB's warning 1255).
    fn stop_slave(&self, by: &Requester) -> Result<bool, ControlError>;
    /// `CHANGE MASTER TO ...` / `CHANGE REPLICATION SOURCE TO ...`.
    fn change_master(&self, change: &ChangeMaster, by: &Requester) -> Result<(), ControlError>;
    /// `RESET SLAVE` (forget the pending switch; keep the connection
    /// settings) or `RESET SLAVE ALL` (forget the primary: serve only).
    fn reset_slave(&self, all: bool, by: &Requester) -> Result<(), ControlError>;
}
