//! A raw MySQL-protocol client for the listener tests: exact bytes on a
//! `TcpStream` (greeting, a hand-made handshake response, garbage), a
//! binlogserver serving a copied MariaDB fixture without a primary, and the
//! checks the abuse and security tests share (one log line per bad
//! connection, the process's threads and memory from /proc).

use super::binlogserver::Binlogserver;
use super::serving::{bls_client, listen_addr, serve_dir, start_on_free_port};
use super::{tool, try_wait_for, TestDir};
use binlogserver::protocol::auth::native_password_scramble;
use binlogserver::protocol::handshake::{HandshakeResponse41, HandshakeV10};
use binlogserver::protocol::{CapabilityFlags, Reader};
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The account the served directory is open to.
pub(crate) const RAW_USER: &str = "reader";
/// Its password: distinctive, so a test can search logs and `ps` for it.
pub(crate) const RAW_PASSWORD: &str = "S3cr3t-pw-9f2c";
/// A real MariaDB 10.5 binlog (provenance in the fixtures' README; the
/// 11.x ones are refused by the 10.11 `mariadb-binlog` for their version).
pub(crate) const RAW_FIXTURE: &str = "mysql_common/mariadb-bin.000001";
/// Where the low flags byte of its format description is.
const IN_USE_AT: usize = 4 + 17;
/// Its name in the served directory.
pub(crate) const RAW_FILE: &str = "mariadb-bin.000001";

/// A data directory holding [`RAW_FIXTURE`] and its index.
pub(crate) fn fixture_dir() -> TestDir {
    let dir = TestDir::new("listener-fixture");
    let from =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/binlogs").join(RAW_FIXTURE);
    fs::copy(&from, dir.join(RAW_FILE)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    fs::write(dir.join("mariadb-bin.index"), format!("./{RAW_FILE}\n")).expect("write the index");
    dir
}

/// binlogserver serving [`fixture_dir`] to [`RAW_USER`] (plus `extra`).
pub(crate) fn serve_fixture(dir: &TestDir, extra: &[&str]) -> (Binlogserver, u16) {
    serve_dir(dir.path(), RAW_USER, RAW_PASSWORD, extra)
}

/// binlogserver on a free port with `--listen` and then `args` (no
/// account flags added), with extra environment `env`.
pub(crate) fn start_listening(args: &[&str], env: &[(&str, &str)]) -> (Binlogserver, u16) {
    start_on_free_port(|port| {
        let addr = listen_addr(port);
        let mut all = vec!["--listen", addr.as_str()];
        all.extend_from_slice(args);
        Binlogserver::start_with_env(&all, env)
    })
}

/// One client connection speaking raw packets.
pub(crate) struct RawConn {
    pub(crate) stream: TcpStream,
}

impl RawConn {
    /// Connects to binlogserver on `port` (reads time out after 30 s).
    pub(crate) fn connect(port: u16) -> RawConn {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set_read_timeout");
        RawConn { stream }
    }

    /// Our address: what binlogserver logs as `peer=`.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local_addr")
    }

    /// Reads one packet: (sequence id, payload).
    pub(crate) fn read_packet(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head)?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload)?;
        Ok((head[3], payload))
    }

    /// Reads the greeting and decodes it.
    pub(crate) fn greeting(&mut self) -> HandshakeV10 {
        let (seq, payload) = self.read_packet().expect("read the greeting");
        assert_eq!(seq, 0, "the greeting has sequence id 0");
        HandshakeV10::decode(&mut Reader::new(&payload))
            .unwrap_or_else(|e| panic!("decode the greeting {payload:02x?}: {e}"))
    }

    /// Writes one packet with sequence id `seq`.
    pub(crate) fn write_packet(&mut self, seq: u8, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("packet under 16 MiB");
        let mut wire = len.to_le_bytes()[..3].to_vec();
        wire.push(seq);
        wire.extend_from_slice(payload);
        self.stream.write_all(&wire).expect("write a packet");
    }

    /// Reads until the server closes; returns every packet it sent first.
    /// Panics if the connection is still open after `timeout`.
    pub(crate) fn until_closed(&mut self, timeout: Duration) -> Vec<Vec<u8>> {
        self.stream.set_read_timeout(Some(timeout)).expect("set_read_timeout");
        let mut packets = Vec::new();
        loop {
            match self.read_packet() {
                Ok((_, p)) => packets.push(p),
                Err(e)
                    if e.kind() == ErrorKind::UnexpectedEof
                        || e.kind() == ErrorKind::ConnectionReset =>
                {
                    return packets
                }
                Err(e) => panic!(
                    "binlogserver did not close the connection within {timeout:?} ({e}); got \
                     {packets:02x?}"
                ),
            }
        }
    }
}

/// A `HandshakeResponse41` as libmariadb sends it: mysql_native_password
/// over `scramble` (an empty auth response for an empty password).
pub(crate) fn login_response(user: &str, password: &str, scramble: &[u8]) -> Vec<u8> {
    let auth = if password.is_empty() {
        Vec::new()
    } else {
        native_password_scramble(password.as_bytes(), scramble)
    };
    let resp = HandshakeResponse41 {
        capabilities: CapabilityFlags::CLIENT_PROTOCOL_41
            .with(CapabilityFlags::CLIENT_SECURE_CONNECTION)
            .with(CapabilityFlags::CLIENT_PLUGIN_AUTH)
            .with(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
            .with(CapabilityFlags::CLIENT_DEPRECATE_EOF),
        max_packet_size: 1 << 24,
        character_set: 45,
        username: user.as_bytes().to_vec(),
        auth_response: auth,
        database: None,
        auth_plugin_name: Some(b"mysql_native_password".to_vec()),
        connect_attrs: Vec::new(),
    };
    let mut out = Vec::new();
    resp.encode(&mut out);
    out
}

/// The ERR code in an ERR packet's payload, `None` for any other packet.
pub(crate) fn err_code(payload: &[u8]) -> Option<u16> {
    match payload {
        [0xff, lo, hi, ..] => Some(u16::from_le_bytes([*lo, *hi])),
        _ => None,
    }
}

/// binlogserver's log lines at info level or above about connection `peer`.
pub(crate) fn peer_log_lines(bls: &Binlogserver, peer: SocketAddr) -> Vec<String> {
    let needle = format!("peer={peer}");
    bls.log()
        .lines()
        .filter(|l| l.contains(&needle) && !l.contains(" DEBUG ") && !l.contains(" TRACE "))
        .map(str::to_owned)
        .collect()
}

/// Waits (20 s at most) until exactly one log line at info or above names
/// `peer`, and that it contains `what`; returns it.
pub(crate) fn assert_one_log_line(bls: &Binlogserver, peer: SocketAddr, what: &str) -> String {
    let found = try_wait_for(Duration::from_secs(20), || {
        let lines = peer_log_lines(bls, peer);
        (!lines.is_empty()).then_some(lines)
    });
    let lines = found.unwrap_or_default();
    assert!(
        lines.len() == 1 && lines[0].contains(what),
        "expected one log line containing {what:?} for peer={peer}, got {lines:#?}"
    );
    lines[0].clone()
}

/// A field of /proc/PID/status (e.g. `Threads`, `VmRSS` in kB).
pub(crate) fn proc_status(pid: u32, field: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Checks that a normal client still gets served: `SHOW BINARY LOGS` with
/// the `mariadb` client, and a `mariadb-binlog --raw` copy of the file
/// identical to the stored one.
pub(crate) fn assert_still_serves(bls: &Binlogserver, port: u16, dir: &TestDir) {
    bls.assert_running();
    let out = bls_client(port, RAW_USER, RAW_PASSWORD)
        .arg("-e")
        .arg("SHOW BINARY LOGS")
        .output()
        .expect("spawn mariadb");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(RAW_FILE),
        "mariadb client after the abuse: {} {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = TestDir::new("raw-copy");
    let started = Instant::now();
    let out = Command::new(tool("mariadb-binlog"))
        .args(["--no-defaults", "--read-from-remote-server", "--raw", "-h127.0.0.1"])
        .arg(format!("-P{port}"))
        .arg(format!("-u{RAW_USER}"))
        .arg(format!("-p{RAW_PASSWORD}"))
        .arg(format!("--result-file={}/", copy.path().display()))
        .arg(RAW_FILE)
        .output()
        .expect("spawn mariadb-binlog");
    assert!(
        out.status.success(),
        "mariadb-binlog after the abuse exited with {} after {:?}: {}",
        out.status,
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = fs::read(copy.join(RAW_FILE)).expect("read the copy");
    let mut stored = fs::read(dir.join(RAW_FILE)).expect("read the stored file");
    // The fixture was copied from a live file: its format description has
    // IN_USE (flags bit 0, at byte 4 + 17); a stream clears it, as a
    // primary's does. The CRC does not cover that bit.
    stored[IN_USE_AT] &= !1;
    let diff = got.iter().zip(&stored).position(|(a, b)| a != b);
    assert!(
        got.len() == stored.len() && diff.is_none(),
        "the mariadb-binlog copy differs: {} bytes, stored {}, first difference at {diff:?}",
        got.len(),
        stored.len()
    );
}
