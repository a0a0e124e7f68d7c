//! Our upstream as others see it: the status the dump thread keeps up to
//! date for `SHOW SLAVE STATUS` and the exporter, and the replica UUID we
//! present to the primary (which also serves as our `@@server_uuid`).

/// A stable replica UUID derived from our server id (MySQL keys dump threads by it).
pub fn replica_uuid(server_id: u32) -> String {
    format!("b1b10650-0000-4000-8000-{server_id:012x}")
}

/// The state of our IO thread, as `Slave_IO_Running` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoState {
    /// Not following (`STOP SLAVE`, `RESET SLAVE ALL`, or a fatal error): `No`.
    #[default]
    No,
    /// Following, but not connected (connecting or reconnecting): `Connecting`.
    Connecting,
    /// The dump connection is up: `Yes`.
    Yes,
}

impl IoState {
    /// The `Slave_IO_Running` text.
    pub fn as_str(self) -> &'static str {
        match self {
            IoState::No => "No",
            IoState::Connecting => "Connecting",
            IoState::Yes => "Yes",
        }
    }
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
    /// Whether we follow, and whether the dump connection is up; change it
    /// with [`UpstreamStatus::set_io`], which keeps `io_since`.
    pub io: IoState,
    /// Since when `io` has its value: the `Time` of the upstream row of
    /// `SHOW PROCESSLIST`. `None` until first set.
    pub io_since: Option<std::time::Instant>,
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
    /// The MariaDB error number of the last error (`Last_IO_Errno`), 0 if none.
    pub last_io_errno: u32,
    /// The heartbeat period asked of the primary (`Slave_heartbeat_period`).
    pub heartbeat_period: std::time::Duration,
    /// The wait between connection attempts (`Connect_Retry`).
    pub connect_retry: std::time::Duration,
    /// The primary's server id.
    pub primary_server_id: u32,
    /// TLS toward the primary as set (`Master_SSL_*` of `SHOW SLAVE STATUS`).
    pub ssl: SslStatus,
    /// `MASTER_PUBLIC_KEY_PATH` as set by `CHANGE MASTER`, empty if none
    /// (MySQL's `Master_public_key_path`).
    pub public_key_path: String,
    /// The primary is asked for its RSA public key when needed
    /// (`--get-server-public-key`, `GET_MASTER_PUBLIC_KEY`).
    pub get_public_key: bool,
}

/// TLS toward the primary as `SHOW SLAVE STATUS` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SslStatus {
    /// TLS is used when offered (`--ssl-mode` other than DISABLED).
    pub allowed: bool,
    /// `--ssl-ca` / `MASTER_SSL_CA`, empty if none.
    pub ca: String,
    /// `--ssl-cert` / `MASTER_SSL_CERT`, empty if none.
    pub cert: String,
    /// `--ssl-key` / `MASTER_SSL_KEY`, empty if none.
    pub key: String,
    /// The certificate must name the host (VERIFY_IDENTITY).
    pub verify_server_cert: bool,
}

impl UpstreamStatus {
    /// Sets the IO state; `io_since` becomes `now` when the state changes.
    pub fn set_io(&mut self, io: IoState, now: std::time::Instant) {
        if self.io != io || self.io_since.is_none() {
            self.io = io;
            self.io_since = Some(now);
        }
    }

    /// True while the dump connection is up.
    pub fn connected(&self) -> bool {
        self.io == IoState::Yes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn set_io_keeps_since_when_the_state_holds() {
        let t0 = Instant::now();
        let mut s = UpstreamStatus::default();
        s.set_io(IoState::Connecting, t0);
        assert_eq!((s.io, s.io_since), (IoState::Connecting, Some(t0)));
        let t1 = t0 + Duration::from_secs(5);
        s.set_io(IoState::Connecting, t1);
        assert_eq!(s.io_since, Some(t0), "the same state again keeps its start");
        s.set_io(IoState::Yes, t1);
        assert_eq!((s.io, s.io_since), (IoState::Yes, Some(t1)));
    }
}
