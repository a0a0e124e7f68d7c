//! Serving: binlogserver as a primary toward replicas, binlog clients and
//! operators.
//!
//! [`listener`] accepts connections and starts one named thread per
//! connection; [`session`] runs the handshake, authentication and the
//! command loop; [`query`] answers the statements clients send; [`dump`]
//! streams stored binlogs, never past the durable end published by the
//! writer ([`crate::storage::watermark::Watermark`]).

pub mod dump;
pub mod info;
pub mod listener;
pub mod query;
pub mod registry;
pub mod session;
pub mod session_info;
pub mod session_vars;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::shutdown::Shutdown;
use crate::status::UpstreamStatus;
use crate::storage::purge::Purger;
use crate::storage::retention::RetentionPolicy;
use crate::storage::watermark::Watermark;
use registry::Registry;

/// An account downstream clients may log in with.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub user: String,
    /// Password (never logged).
    pub password: String,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account").field("user", &self.user).field("password", &"<hidden>").finish()
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
    /// Hex-dump every packet at trace level.
    pub trace_packets: bool,
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
    /// `START`/`STOP SLAVE`, `CHANGE MASTER`, `RESET SLAVE`: the upstream side.
    pub control: Option<Arc<dyn crate::status::control::ReplicationControl>>,
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
