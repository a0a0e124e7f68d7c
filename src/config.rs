//! `Config`: the validated, typed settings binlogserver runs with.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::server::ServerConfig;
use crate::storage::retention::RetentionPolicy;
use crate::upstream::UpstreamConfig;

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The primary and how to follow it (`-h`); `None` serves the data
    /// directory as it is, unless it holds a stored upstream.
    pub upstream: Option<UpstreamConfig>,
    /// How to follow whatever primary: `upstream` when given, else the
    /// command line's settings with an empty host (server id, semi-sync,
    /// heartbeat, timeouts), for a stored upstream (`CHANGE MASTER`).
    pub follow: UpstreamConfig,
    /// Serving downstream clients; `None` when not listening.
    pub server: Option<ServerConfig>,
    /// Where the binlog files live.
    pub data_dir: PathBuf,
    /// Where to serve Prometheus metrics over HTTP (`--metrics`); `None`: off.
    pub metrics: Option<SocketAddr>,
    /// `--expire-logs-days`, `--max-total-size`.
    pub retention: RetentionPolicy,
    /// `--archive-url`: the object store tier; `None`: off.
    pub archive: Option<crate::storage::archive::ArchiveConfig>,
}

/// The default server id: stable for a host and data directory, in a range
/// real servers rarely use, and never 0.
pub fn default_server_id(host_name: &str, data_dir: &str) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(host_name.as_bytes());
    h.update(b"\0");
    h.update(data_dir.as_bytes());
    0x4000_0000 | (h.finalize() & 0x3fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_server_id_is_stable_and_non_zero() {
        let a = default_server_id("db1", "/var/lib/binlogserver");
        assert_eq!(a, default_server_id("db1", "/var/lib/binlogserver"));
        assert_ne!(a, default_server_id("db2", "/var/lib/binlogserver"));
        assert!(a >= 0x4000_0000);
    }
}
