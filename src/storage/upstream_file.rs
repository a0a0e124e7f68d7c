//! The stored upstream: `binlogserver.upstream` in the data directory, what
//! `CHANGE MASTER`, `START`/`STOP SLAVE` and `RESET SLAVE` set, so that a
//! restart follows the primary the operator chose (never the dead one the
//! command line may still name), as MySQL's `master.info` did.
//!
//! The file is small text, one `key=value` per line, written like the index
//! (a temp file, fsync, rename over the old one, fsync of the directory) so
//! that a crash leaves the old or the new settings, never a mix. It holds the
//! replication password, so it is created with mode 0600 and a more open
//! mode found at start is reported. Values escape `\`, newline and carriage
//! return as `\\`, `\n`, `\r`; unknown keys are refused (a file from a newer
//! version is not half understood).
//!
//! ```text
//! # binlogserver upstream (CHANGE MASTER); written by binlogserver, mode 0600
//! state=running
//! host=db2.example
//! port=3306
//! user=repl
//! password=s3cret
//! heartbeat_period=1.000
//! connect_retry=10.000
//! switch_file=mysql-bin.000124
//! ssl_mode=VERIFY_CA
//! ssl_ca=/etc/binlogserver/ca.pem
//! public_key_path=/etc/binlogserver/primary-rsa.pem
//! get_public_key=0
//! ```
//!
//! The `ssl_*` keys are there once `CHANGE MASTER` set a `MASTER_SSL*`
//! option (`ssl_mode` with `--ssl-mode`'s names, then the files given);
//! without them the command line's `--ssl-*` settings apply. Likewise
//! `public_key_path` (`MASTER_PUBLIC_KEY_PATH`; empty: no key) and
//! `get_public_key` (`GET_MASTER_PUBLIC_KEY`, 0 or 1) stand in for
//! `--server-public-key-path` and `--get-server-public-key` once set; the
//! key file itself is read when binlogserver starts.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::warn;

use super::StorageError;
use crate::binlog::BinlogFileName;
use crate::net::tls::{SslMode, SslSettings};

/// The file's name in the data directory.
pub const UPSTREAM_FILE: &str = "binlogserver.upstream";

/// Whether binlogserver follows its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Following (`START SLAVE`, or the command line's `-h`).
    Running,
    /// Stopped by `STOP SLAVE` (or never started since `CHANGE MASTER`).
    Stopped,
    /// `RESET SLAVE ALL`: no upstream at all; serving only.
    Reset,
}

impl RunState {
    fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Stopped => "stopped",
            RunState::Reset => "reset",
        }
    }
}

/// The upstream as `CHANGE MASTER` and friends left it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredUpstream {
    /// Running, stopped or reset.
    pub run: RunState,
    /// `MASTER_HOST`; empty after `RESET SLAVE ALL`.
    pub host: String,
    /// `MASTER_PORT`.
    pub port: u16,
    /// `MASTER_USER`.
    pub user: String,
    /// `MASTER_PASSWORD` (never logged).
    pub password: String,
    /// `MASTER_HEARTBEAT_PERIOD`; `None`: the command line's `--heartbeat`.
    pub heartbeat_period: Option<Duration>,
    /// `MASTER_CONNECT_RETRY`; `None`: the default.
    pub connect_retry: Option<Duration>,
    /// `MASTER_LOG_FILE`: the new primary's file to continue with, until
    /// its first bytes are stored.
    pub switch_file: Option<BinlogFileName>,
    /// TLS as `MASTER_SSL*` set it; `None`: the command line's `--ssl-*`.
    pub ssl: Option<SslSettings>,
    /// The primary's RSA public key file as `MASTER_PUBLIC_KEY_PATH` set
    /// it (empty: none); `None`: the command line's `--server-public-key-path`.
    pub public_key_path: Option<PathBuf>,
    /// `GET_MASTER_PUBLIC_KEY`; `None`: the command line's
    /// `--get-server-public-key`.
    pub get_public_key: Option<bool>,
}

impl fmt::Debug for StoredUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredUpstream")
            .field("run", &self.run)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("heartbeat_period", &self.heartbeat_period)
            .field("connect_retry", &self.connect_retry)
            .field("switch_file", &self.switch_file)
            .field("ssl", &self.ssl)
            .field("public_key_path", &self.public_key_path)
            .field("get_public_key", &self.get_public_key)
            .finish()
    }
}

const HEADER: &str =
    "# binlogserver upstream (CHANGE MASTER); written by binlogserver, mode 0600\n";

impl StoredUpstream {
    /// The file's text.
    pub fn encode(&self) -> String {
        let mut out = String::from(HEADER);
        let mut line = |key: &str, value: &str| {
            out.push_str(key);
            out.push('=');
            out.push_str(&escape(value));
            out.push('\n');
        };
        line("state", self.run.as_str());
        line("host", &self.host);
        line("port", &self.port.to_string());
        line("user", &self.user);
        line("password", &self.password);
        if let Some(p) = self.heartbeat_period {
            line("heartbeat_period", &format!("{:.3}", p.as_secs_f64()));
        }
        if let Some(r) = self.connect_retry {
            line("connect_retry", &format!("{:.3}", r.as_secs_f64()));
        }
        if let Some(f) = &self.switch_file {
            line("switch_file", f.as_str());
        }
        if let Some(ssl) = &self.ssl {
            line("ssl_mode", ssl.mode.as_str());
            for (key, path) in [("ssl_ca", &ssl.ca), ("ssl_cert", &ssl.cert), ("ssl_key", &ssl.key)]
            {
                if let Some(p) = path {
                    line(key, &p.to_string_lossy());
                }
            }
        }
        if let Some(p) = &self.public_key_path {
            line("public_key_path", &p.to_string_lossy());
        }
        if let Some(get) = self.get_public_key {
            line("get_public_key", if get { "1" } else { "0" });
        }
        out
    }

    /// Reads the file's text; the error names the line and what is wrong.
    pub fn decode(text: &str) -> Result<StoredUpstream, String> {
        let mut up = StoredUpstream {
            run: RunState::Stopped,
            host: String::new(),
            port: 3306,
            user: String::new(),
            password: String::new(),
            heartbeat_period: None,
            connect_retry: None,
            switch_file: None,
            ssl: None,
            public_key_path: None,
            get_public_key: None,
        };
        let mut state = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |reason: String| format!("line {}: {reason}", n + 1);
            let (key, value) =
                line.split_once('=').ok_or_else(|| at(format!("{line:?} is not key=value")))?;
            let value = unescape(value).map_err(at)?;
            up.set(key.trim(), value, &mut state).map_err(at)?;
        }
        up.run = state.ok_or("no state line")?;
        Ok(up)
    }

    fn set(
        &mut self,
        key: &str,
        value: String,
        state: &mut Option<RunState>,
    ) -> Result<(), String> {
        let bad = |what: &str| format!("{key}: invalid value {value:?} (expected {what})");
        match key {
            "state" => {
                *state = Some(match value.as_str() {
                    "running" => RunState::Running,
                    "stopped" => RunState::Stopped,
                    "reset" => RunState::Reset,
                    _ => return Err(bad("running, stopped or reset")),
                });
            }
            "host" => self.host = value,
            "port" => self.port = value.parse().map_err(|_| bad("1-65535"))?,
            "user" => self.user = value,
            "password" => self.password = value,
            "heartbeat_period" => {
                self.heartbeat_period = Some(seconds(&value).ok_or_else(|| bad("seconds"))?);
            }
            "connect_retry" => {
                self.connect_retry = Some(seconds(&value).ok_or_else(|| bad("seconds"))?);
            }
            "switch_file" => {
                let name = BinlogFileName::new(&value).map_err(|_| bad("a binlog file name"))?;
                self.switch_file = Some(name);
            }
            "ssl_mode" => {
                let mode = SslMode::parse(&value).ok_or_else(|| bad("an --ssl-mode"))?;
                self.ssl.get_or_insert_with(SslSettings::default).mode = mode;
            }
            "ssl_ca" | "ssl_cert" | "ssl_key" => {
                let ssl = self.ssl.as_mut().ok_or("ssl_* before ssl_mode")?;
                let slot = match key {
                    "ssl_ca" => &mut ssl.ca,
                    "ssl_cert" => &mut ssl.cert,
                    _ => &mut ssl.key,
                };
                *slot = Some(PathBuf::from(value));
            }
            "public_key_path" => self.public_key_path = Some(PathBuf::from(value)),
            "get_public_key" => {
                self.get_public_key = Some(match value.as_str() {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad("0 or 1")),
                });
            }
            _ => return Err(format!("unknown key {key:?}")),
        }
        Ok(())
    }
}

fn seconds(v: &str) -> Option<Duration> {
    v.parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok())
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r")
}

fn unescape(v: &str) -> Result<String, String> {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

/// The path of the stored upstream in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(UPSTREAM_FILE)
}

/// Reads the stored upstream of `dir`; `None` when there is none.
///
/// # Errors
/// [`StorageError::Layout`] for a file that cannot be read as one.
pub fn load(dir: &Path) -> Result<Option<StoredUpstream>, StorageError> {
    let path = path_in(dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", path)(e)),
    };
    if let Ok(meta) = fs::metadata(&path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            warn!(
                "stored upstream holds the replication password but others may read it \
                 file={} mode={mode:o} (chmod 600 it)",
                path.display()
            );
        }
    }
    StoredUpstream::decode(&text).map(Some).map_err(|reason| StorageError::Layout {
        path,
        reason: format!(
            "{reason}; this file holds the upstream set by CHANGE MASTER (fix or remove it)"
        ),
    })
}

/// Stores `up` in `dir` atomically, mode 0600: temp file, fsync, rename,
/// directory fsync. A failed write leaves the previous file as it was.
///
/// # Errors
/// [`StorageError::Io`] naming the step that failed.
pub fn store(dir: &Path, up: &StoredUpstream) -> Result<(), StorageError> {
    let path = path_in(dir);
    let tmp = dir.join(format!("{UPSTREAM_FILE}.tmp"));
    // Created anew, so its mode is ours whatever a stale temp file had.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(StorageError::io("remove", tmp)(e));
        }
        _ => {}
    }
    let written =
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).and_then(|mut f| {
            f.write_all(up.encode().as_bytes())?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StorageError::io("write", tmp)(e));
    }
    fs::rename(&tmp, &path).map_err(StorageError::io("rename", &path))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(StorageError::io("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredUpstream {
        StoredUpstream {
            run: RunState::Running,
            host: "db2".into(),
            port: 3307,
            user: "repl".into(),
            password: "a\\b=c\nd\r".into(),
            heartbeat_period: Some(Duration::from_millis(1500)),
            connect_retry: Some(Duration::from_secs(60)),
            switch_file: Some(BinlogFileName::new("mysql-bin.000124").unwrap()),
            ssl: Some(SslSettings {
                mode: SslMode::VerifyIdentity,
                ca: Some("/etc/ca.pem".into()),
                cert: Some("/etc/c.pem".into()),
                key: Some("/etc/c.key".into()),
            }),
            public_key_path: Some("/etc/primary-rsa.pem".into()),
            get_public_key: Some(true),
        }
    }

    #[test]
    fn round_trips_every_field_with_escapes() {
        let up = sample();
        let text = up.encode();
        assert!(text.contains("password=a\\\\b=c\\nd\\r\n"), "{text}");
        assert_eq!(StoredUpstream::decode(&text).unwrap(), up);
        let bare = StoredUpstream {
            run: RunState::Reset,
            host: String::new(),
            heartbeat_period: None,
            connect_retry: None,
            switch_file: None,
            ssl: None,
            public_key_path: None,
            get_public_key: None,
            ..up
        };
        assert_eq!(StoredUpstream::decode(&bare.encode()).unwrap(), bare);
        // An empty key path (the key forgotten) and GET_MASTER_PUBLIC_KEY=0
        // are kept as such: they stand in for the command line's.
        let forgot = StoredUpstream {
            public_key_path: Some(PathBuf::new()),
            get_public_key: Some(false),
            ..bare.clone()
        };
        let text = forgot.encode();
        assert!(text.contains("\npublic_key_path=\nget_public_key=0\n"), "{text}");
        assert_eq!(StoredUpstream::decode(&text).unwrap(), forgot);
        assert!(!format!("{bare:?}").contains("a\\b"), "Debug hides the password");
    }

    #[test]
    fn refuses_unknown_keys_bad_values_and_a_missing_state() {
        for (text, needle) in [
            ("state=running\ncolour=blue\n", "line 2: unknown key \"colour\""),
            ("state=sleeping\n", "line 1: state: invalid value"),
            ("state=running\nport=70000\n", "port: invalid value"),
            ("state=running\nswitch_file=nope\n", "switch_file: invalid value"),
            ("state=running\nget_public_key=yes\n", "get_public_key: invalid value"),
            ("state=running\nhost=a\\x\n", "bad escape"),
            ("host=a\n", "no state line"),
            ("state=running\njunk\n", "is not key=value"),
        ] {
            let err = StoredUpstream::decode(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn stores_atomically_with_mode_0600_and_loads_back() {
        let dir = std::env::temp_dir().join(format!("bls-upstream-file-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert!(load(&dir).unwrap().is_none());
        // A stale, world-readable temp file does not lend its mode.
        fs::write(dir.join(format!("{UPSTREAM_FILE}.tmp")), "junk").unwrap();
        let up = sample();
        store(&dir, &up).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(up.clone()));
        let mode = fs::metadata(path_in(&dir)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!dir.join(format!("{UPSTREAM_FILE}.tmp")).exists());
        let stopped = StoredUpstream { run: RunState::Stopped, ..up };
        store(&dir, &stopped).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(stopped));
        fs::write(path_in(&dir), "state=running\nbogus=1\n").unwrap();
        let err = load(&dir).unwrap_err().to_string();
        assert!(err.contains("line 2: unknown key") && err.contains("CHANGE MASTER"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
