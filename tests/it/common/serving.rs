//! binlogserver's serving side as the tests use it: starting it with
//! `--listen` on a free port (following a primary, or serving a directory
//! without one), waiting until it greets clients, and the `mariadb` client
//! pointed at it.

use super::binlogserver::Binlogserver;
use super::mariadb::{MariaDb, REPL_PASSWORD, REPL_USER};
use super::{free_port, tail, tool, try_wait_for};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How long binlogserver may take to start listening.
pub(crate) const LISTEN_TIMEOUT: Duration = Duration::from_secs(20);

/// The upstream flags every serving test gives binlogserver.
pub(crate) const FOLLOW_ARGS: [&str; 4] = ["--semi-sync", "auto", "--heartbeat", "1"];

/// Why binlogserver is not (yet) listening.
enum NotListening {
    /// It exited because the port was taken: try another one.
    PortTaken,
}

/// Polls until a TCP client on `port` gets a MySQL protocol-10 greeting
/// from binlogserver; panics (with the log) if binlogserver exits for any
/// other reason than a taken port, or after [`LISTEN_TIMEOUT`].
fn wait_greeting(bls: &Binlogserver, port: u16) -> Result<(), NotListening> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut last = String::new();
    let got = try_wait_for(LISTEN_TIMEOUT, || {
        if let Some(status) = bls.try_exit_status() {
            let log = bls.log();
            if log.contains("Address already in use") || log.contains("address already in use") {
                return Some(Err(NotListening::PortTaken));
            }
            panic!(
                "binlogserver exited with {status} before listening on {addr}; last log lines:\n{}",
                tail(&log, 60)
            );
        }
        match greeting(addr) {
            Ok(()) => Some(Ok(())),
            Err(e) => {
                last = e;
                None
            }
        }
    });
    match got {
        Some(r) => r,
        None => panic!(
            "binlogserver did not greet a client on {addr} within {LISTEN_TIMEOUT:?} ({last}); \
             last log lines:\n{}",
            tail(&bls.log(), 60)
        ),
    }
}

/// Connects and reads the first packet: header, then protocol version 10.
fn greeting(addr: SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).map_err(|e| format!("read the greeting header: {e}"))?;
    // Read the whole packet, so that closing sends a FIN, not a reset.
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).map_err(|e| format!("read the greeting ({len} bytes): {e}"))?;
    if payload.first() == Some(&10) {
        Ok(())
    } else {
        Err(format!(
            "the first packet starts {:02x?}, not a v10 greeting",
            &payload[..payload.len().min(8)]
        ))
    }
}

/// Starts `start(port)` on free ports until binlogserver greets on one
/// (it may lose the race for a port picked by [`free_port`]).
pub(crate) fn start_on_free_port(
    mut start: impl FnMut(u16) -> Binlogserver,
) -> (Binlogserver, u16) {
    for _attempt in 0..5 {
        let port = free_port();
        let bls = start(port);
        match wait_greeting(&bls, port) {
            Ok(()) => return (bls, port),
            Err(NotListening::PortTaken) => {
                eprintln!("port {port} was taken before binlogserver could bind it; retrying");
            }
        }
    }
    panic!("binlogserver could not bind a free port in 5 attempts");
}

/// `127.0.0.1:<port>`.
pub(crate) fn listen_addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Starts binlogserver following `primary` into `datadir` ([`FOLLOW_ARGS`]
/// plus `extra`) and serving on a free port; returns it and the port once
/// it greets clients.
pub(crate) fn follow_and_serve(
    primary: &MariaDb,
    datadir: &Path,
    extra: &[&str],
) -> (Binlogserver, u16) {
    start_on_free_port(|port| follow_and_serve_at(primary, datadir, port, extra, false))
}

/// Starts binlogserver following `primary` and serving on `port` (e.g. the
/// port of a killed instance). With `wait`, returns once it greets clients.
pub(crate) fn follow_and_serve_at(
    primary: &MariaDb,
    datadir: &Path,
    port: u16,
    extra: &[&str],
    wait: bool,
) -> Binlogserver {
    let addr = listen_addr(port);
    let mut args: Vec<&str> = FOLLOW_ARGS.to_vec();
    args.extend(["--listen", &addr]);
    args.extend_from_slice(extra);
    let bls = Binlogserver::follow(primary, datadir, &args);
    if wait && wait_greeting(&bls, port).is_err() {
        panic!(
            "port {port} is taken: binlogserver cannot listen on it again; log:\n{}",
            tail(&bls.log(), 40)
        );
    }
    bls
}

/// Starts binlogserver without a primary, serving the files in `datadir`
/// to `user`/`password` on a free port (plus `extra`, e.g. `--server-id`).
pub(crate) fn serve_dir(
    datadir: &Path,
    user: &str,
    password: &str,
    extra: &[&str],
) -> (Binlogserver, u16) {
    let dir = datadir.to_str().expect("UTF-8 datadir");
    start_on_free_port(|port| {
        let addr = listen_addr(port);
        let mut args = vec![
            "-d",
            dir,
            "--listen",
            &addr,
            "--replica-user",
            user,
            "--replica-password",
            password,
        ];
        args.extend_from_slice(extra);
        Binlogserver::start(&args)
    })
}

/// A `mariadb` client command for binlogserver on `port` as `user`: batch
/// mode without column names, no automatic reconnect (a dropped connection
/// must show as an error).
pub(crate) fn bls_client(port: u16, user: &str, password: &str) -> Command {
    let mut cmd = Command::new(tool("mariadb"));
    cmd.args([
        "--no-defaults",
        "-h127.0.0.1",
        "--protocol=tcp",
        "-N",
        "-B",
        "--skip-reconnect",
        "--connect-timeout=10",
    ])
    .arg(format!("-P{port}"))
    .arg(format!("-u{user}"))
    .arg(format!("-p{password}"));
    cmd
}

/// `mariadb-binlog --read-from-remote-server --raw MODE` (`--to-last-log`
/// or `--stop-never`) from binlogserver (or a primary) on `port` as
/// `repl`, starting at file `first`, writing into the directory `out`.
pub(crate) fn mariadb_binlog_raw(port: u16, out: &Path, first: &str, mode: &str) -> Command {
    let mut cmd = Command::new(tool("mariadb-binlog"));
    cmd.args(["--no-defaults", "--read-from-remote-server", "--raw", mode, "-h127.0.0.1"])
        .arg(format!("-P{port}"))
        .arg(format!("-u{REPL_USER}"))
        .arg(format!("-p{REPL_PASSWORD}"))
        .arg(format!("--result-file={}/", out.display()))
        .arg(first);
    cmd
}

/// The same as the replication account of the primary (`repl`).
pub(crate) fn bls_repl_client(port: u16) -> Command {
    bls_client(port, REPL_USER, REPL_PASSWORD)
}

/// The admin account the tests give binlogserver with [`ADMIN_ARGS`].
pub(crate) const ADMIN_USER: &str = "ops";
/// Its password.
pub(crate) const ADMIN_PASSWORD: &str = "opspass";
/// binlogserver's arguments for the admin account [`ADMIN_USER`].
pub(crate) const ADMIN_ARGS: [&str; 2] = ["--admin-account", "ops:opspass"];

/// Runs `stmt` against binlogserver as the admin account ([`ADMIN_ARGS`]);
/// stdout trimmed, or the client's exit status and stderr.
pub(crate) fn bls_admin_sql(port: u16, stmt: &str) -> Result<String, String> {
    client_output(bls_client(port, ADMIN_USER, ADMIN_PASSWORD).arg("-e").arg(stmt))
}

/// Runs `stmt` against binlogserver as `repl`; stdout trimmed, or the
/// client's exit status and stderr.
pub(crate) fn bls_sql(port: u16, stmt: &str) -> Result<String, String> {
    client_output(bls_repl_client(port).arg("-e").arg(stmt))
}

/// Runs a `mariadb` client command: stdout trimmed, or its exit status and
/// stderr.
pub(crate) fn client_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().expect("spawn the mariadb client");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "mariadb client exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The last `n` lines of binlogserver's log that are not per-fsync debug
/// lines (which drown everything else under load).
pub(crate) fn bls_log_excerpt(bls: &Binlogserver, n: usize) -> String {
    let log = bls.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.contains("storage::writer] fsync")).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
