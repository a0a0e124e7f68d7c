//! Our upstream as others see it: the status the dump thread keeps up to
//! date for `SHOW SLAVE STATUS` and the exporter, and the replica UUID we
//! present to the primary (which also serves as our `@@server_uuid`).

/// A stable replica UUID derived from our server id (MySQL keys dump threads by it).
pub fn replica_uuid(server_id: u32) -> String {
    format!("b1b10650-0000-4000-8000-{server_id:012x}")
}

/// Our own upstream, for `SHOW SLAVE STATUS`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamStatus {
    /// Primary host.
    pub host: String,
    /// Primary port.
    pub port: u16,
    /// Replication user.
    pub user: String,
    /// True while the dump connection is up.
    pub connected: bool,
    /// The primary's file we are in.
    pub file: String,
    /// Our position in it (stored and durable).
    pub position: u64,
    /// Bytes behind the primary's end as last seen, if known.
    pub behind_bytes: Option<u64>,
    /// True when the session is semi-sync.
    pub semi_sync: bool,
    /// Why semi-sync does not protect anything although we acknowledge
    /// (the primary's semi-sync master is disabled); empty if it does.
    pub semi_sync_warning: String,
    /// Semi-sync ACKs sent since start.
    pub acks_sent: u64,
    /// The last error, empty if none.
    pub last_error: String,
    /// The primary's server id.
    pub primary_server_id: u32,
}
