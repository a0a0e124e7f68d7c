//! Serving: binlogserver as a primary toward replicas, binlog clients and
//! operators.
//!
//! [`listener`] accepts connections and starts one named thread per
//! connection; [`session`] runs the handshake, authentication and the
//! command loop; [`query`] answers the statements clients send; [`dump`]
//! streams stored binlogs, never past the durable end published by the
//! writer ([`crate::storage::watermark::Watermark`]).

pub mod admission;
pub mod command_read;
pub mod dump;
pub mod info;
pub mod listener;
pub mod privilege;
pub mod query;
pub mod registry;
pub mod session;
pub mod session_info;
pub mod session_vars;
mod sha2_auth;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::protocol::caching_sha2::ServerKeyPair;
use crate::shutdown::Shutdown;
use crate::status::control::ReplicationControl;
use crate::status::{Counters, UpstreamStatus};
use crate::storage::purge::Purger;
use crate::storage::retention::RetentionPolicy;
use crate::storage::watermark::Watermark;
pub use privilege::Role;
use registry::Registry;

/// An account downstream clients may log in with.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub user: String,
    /// Password (never logged).
    pub password: String,
    /// What it may do.
    pub role: Role,
    /// The account logs in only over TLS (`ssl` in the accounts file),
    /// like MariaDB's `REQUIRE SSL`.
    pub require_ssl: bool,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("role", &self.role)
            .field("require_ssl", &self.require_ssl)
            .finish()
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Accounts allowed in.
    pub accounts: Vec<Account>,
    /// Connection cap.
    pub max_connections: usize,
    /// Handshake caps and the delay of failing peers.
    pub login_limits: admission::LoginLimits,
    /// Hex-dump every packet at trace level.
    pub trace_packets: bool,
    /// TLS for clients (`--listen-ssl-cert`, `--listen-ssl-key`,
    /// `--listen-ssl-ca`); `None`: `CLIENT_SSL` is not offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `--require-secure-transport`: logins over plain TCP are refused.
    pub require_secure_transport: bool,
    /// Ask every `caching_sha2_password` login for full authentication,
    /// as a MySQL server with an empty cache does (`--listen-sha2-full-auth`).
    pub sha2_full_auth: bool,
    /// The RSA key for full authentication over plain TCP
    /// (`--listen-rsa-key`); `None`: one made at the first need.
    pub rsa_key: Option<ServerKeyPair>,
}

/// State shared by the listener and every session.
#[derive(Debug)]
pub struct Shared {
    /// The data directory.
    pub dir: PathBuf,
    /// The durable end.
    pub watermark: Watermark,
    /// Live connections.
    pub registry: Arc<Registry>,
    /// Purges (`PURGE BINARY LOGS`).
    pub purger: Arc<Purger>,
    /// The retention limits, as `@@binlog_expire_logs_seconds` etc. report them.
    pub retention: RetentionPolicy,
    /// Serving settings.
    pub config: ServerConfig,
    /// Our upstream, when following a primary.
    pub upstream: Option<Arc<Mutex<UpstreamStatus>>>,
    /// The upstream side's controls (`START`/`STOP SLAVE`, `CHANGE MASTER`,
    /// `RESET SLAVE`); serving a directory without a primary, a control
    /// that says so.
    pub control: Arc<dyn ReplicationControl>,
    /// What the dump thread counts: `Seconds_Behind_Master` comes from it.
    pub counters: Arc<Counters>,
    /// Process-wide stop flag.
    pub shutdown: Shutdown,
    /// The `Binlogserver_*` rows of `SHOW STATUS`, from the exporter.
    pub status_rows: Option<Arc<dyn StatusRows>>,
}

/// Where `SHOW STATUS` gets its `Binlogserver_*` rows: the exporter, which
/// sits above the server and reads from it (the same figures it serves at
/// `/metrics`).
pub trait StatusRows: Send + Sync + fmt::Debug {
    /// The rows as of now, `(name, value)`.
    fn status_rows(&self) -> Vec<(String, String)>;
}
