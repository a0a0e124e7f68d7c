//! caching_sha2_password both ways, without a MySQL server: binlogserver
//! serving a MySQL 8.0 binlog greets like MySQL 8 (caching_sha2_password),
//! and with `--listen-sha2-full-auth` asks every such login for full
//! authentication, as a MySQL primary does after its restart. Against it:
//! binlogserver's own upstream login (the library's `Connection`, and the
//! binary following it with `--get-server-public-key`), PyMySQL (RSA over
//! plain TCP) and mysql-connector-python (which sends the password in
//! clear, refused without TLS; both send it inside TLS, accepted, with no
//! RSA key anywhere), and a raw client switched from another plugin,
//! packet by packet. The RSA test key: tests/fixtures/rsa/. And the
//! follower given the primary's key by `CHANGE MASTER TO
//! MASTER_PUBLIC_KEY_PATH` (a key made by the test with `openssl`), kept
//! across a restart, a wrong file refused with ERR 1210.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use binlogserver::protocol::auth::caching_sha2_scramble;
use binlogserver::protocol::caching_sha2::ServerPublicKey;
use binlogserver::protocol::handshake::HandshakeResponse41;
use binlogserver::protocol::CapabilityFlags;
use binlogserver::upstream::connection::Connection;
use binlogserver::upstream::{
    SemiSyncMode, StartFrom, UpstreamConfig, UpstreamError, DEFAULT_CONNECT_RETRY,
};

use crate::common::raw_client::RawConn;
use crate::common::{
    admin_err, admin_ok, bls_slave_status, free_port, listen_addr, serve_dir, start_on_free_port,
    venv_python, wait_until_ok, Binlogserver, Certs, TestDir, ADMIN_ARGS, FOLLOW_ARGS,
    REPL_PASSWORD, REPL_USER,
};

/// The account the harness's followers log in with (`-u repl -p replpass`).
const USER: &str = REPL_USER;
const PASSWORD: &str = REPL_PASSWORD;
/// 8.0.28, ends with an XID (provenance in tests/fixtures/binlogs/README.md).
const MYSQL_8_0_28: &str = "mysql_common/mysql-enum-string-set.000001";
const FILE: &str = "mysql-bin.000001";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn rsa_fixture(name: &str) -> String {
    fixture(&format!("rsa/{name}")).to_str().unwrap().to_owned()
}

/// binlogserver serving a MySQL 8.0.28 binlog with `extra` options.
fn serve_mysql_8(extra: &[&str]) -> (TestDir, Binlogserver, u16) {
    let dir = TestDir::new("sha2-primary");
    fs::copy(fixture(&format!("binlogs/{MYSQL_8_0_28}")), dir.join(FILE)).unwrap();
    fs::write(dir.join("mysql-bin.index"), format!("./{FILE}\n")).unwrap();
    let (bls, port) = serve_dir(dir.path(), USER, PASSWORD, extra);
    (dir, bls, port)
}

fn upstream(port: u16, password: &str) -> UpstreamConfig {
    UpstreamConfig {
        host: "127.0.0.1".into(),
        port,
        user: USER.into(),
        password: password.into(),
        server_id: 4711,
        semi_sync: SemiSyncMode::Off,
        heartbeat: Duration::from_secs(1),
        start: StartFrom::Oldest,
        connect_timeout: Duration::from_secs(5),
        connect_retry: DEFAULT_CONNECT_RETRY,
        trace_packets: false,
        ssl: binlogserver::net::tls::SslSettings::default(),
        server_public_key: None,
        get_server_public_key: false,
    }
}

fn test_public_key() -> ServerPublicKey {
    ServerPublicKey::from_pem(&fs::read(rsa_fixture("test_key_public.pem")).unwrap()).unwrap()
}

/// Logs in and lists the binlogs, proving the session works.
fn logs_in(cfg: &UpstreamConfig) -> Result<(), UpstreamError> {
    let mut conn = Connection::connect(cfg)?;
    assert_eq!(conn.greeting().auth_plugin_name, b"caching_sha2_password");
    let row = conn.query_first_row("SHOW BINARY LOGS")?;
    assert_eq!(row.and_then(|r| r.into_iter().next().flatten()).as_deref(), Some(FILE));
    Ok(())
}

#[test]
fn the_upstream_login_takes_the_fast_path_when_the_scramble_suffices() {
    let (_dir, bls, port) = serve_mysql_8(&[]);
    logs_in(&upstream(port, PASSWORD)).unwrap();
    let err = logs_in(&upstream(port, "wrong")).unwrap_err();
    assert!(matches!(err, UpstreamError::AuthRejected(_)), "{err}");
    bls.assert_running();
}

#[test]
fn the_upstream_login_does_full_authentication_over_plain_tcp_with_rsa() {
    let (_dir, bls, port) = serve_mysql_8(&["--listen-sha2-full-auth"]);
    // Fetched key.
    logs_in(&UpstreamConfig { get_server_public_key: true, ..upstream(port, PASSWORD) }).unwrap();
    let wrong = UpstreamConfig { get_server_public_key: true, ..upstream(port, "wrong") };
    let err = logs_in(&wrong).unwrap_err();
    assert!(matches!(err, UpstreamError::AuthRejected(_)), "{err}");
    // A key that is not the server's: it cannot decrypt, so the login is refused.
    let other_key =
        UpstreamConfig { server_public_key: Some(test_public_key()), ..upstream(port, PASSWORD) };
    let err = logs_in(&other_key).unwrap_err();
    assert!(matches!(err, UpstreamError::AuthRejected(_)), "{err}");
    // Neither TLS nor a key: the clear error, naming the primary and the ways out.
    let err = logs_in(&upstream(port, PASSWORD)).unwrap_err().to_string();
    for want in [&format!("127.0.0.1:{port}")[..], "full authentication", "--get-server-public-key"]
    {
        assert!(err.contains(want), "{want}: {err}");
    }
    bls.assert_running();
}

#[test]
fn a_configured_listener_key_is_the_one_clients_can_pin() {
    let key = rsa_fixture("test_key_pkcs1.pem");
    let (_dir, bls, port) =
        serve_mysql_8(&["--listen-sha2-full-auth", "--listen-rsa-key", key.as_str()]);
    let pinned =
        UpstreamConfig { server_public_key: Some(test_public_key()), ..upstream(port, PASSWORD) };
    logs_in(&pinned).unwrap();
    logs_in(&UpstreamConfig { get_server_public_key: true, ..upstream(port, PASSWORD) }).unwrap();
    // Full authentication was asked for: without a key the login stops.
    let err = logs_in(&upstream(port, PASSWORD)).unwrap_err();
    assert!(matches!(err, UpstreamError::Unsupported(_)), "{err}");
    bls.assert_running();
}

/// Waits until `ours` holds the primary's file as it is in `primary`.
fn wait_file_stored(bls: &Binlogserver, ours: &Path, primary: &Path) {
    wait_until_ok(Duration::from_secs(30), "the primary's file stored", || {
        bls.assert_running();
        let a = fs::read(ours.join(FILE)).map_err(|e| e.to_string())?;
        let b = fs::read(primary.join(FILE)).unwrap();
        // The stream clears the format description's in-use flag (byte 21).
        let same = a.len() == b.len()
            && a.iter().zip(&b).enumerate().all(|(i, (x, y))| x == y || (i == 21 && (x ^ y) == 1));
        if same {
            Ok(())
        } else {
            Err(format!("{} of {} bytes", a.len(), b.len()))
        }
    });
}

#[test]
fn the_binary_follows_a_primary_that_demands_full_authentication() {
    let (primary_dir, _primary, port) = serve_mysql_8(&["--listen-sha2-full-auth"]);
    let ours = TestDir::new("sha2-follower");
    let args = [&FOLLOW_ARGS[..], &["--get-server-public-key"]].concat();
    let bls = Binlogserver::follow_port_as(port, ours.path(), "4712", &args);
    wait_file_stored(&bls, ours.path(), primary_dir.path());
    // Without the key option the follower stops with the clear error.
    let other = TestDir::new("sha2-follower-nokey");
    let refused = Binlogserver::follow_port_as(port, other.path(), "4713", &FOLLOW_ARGS);
    refused.assert_failed_exit(Duration::from_secs(20), "full authentication needs TLS or RSA");
    refused.assert_error_logged(&["full authentication", "--get-server-public-key"]);
}

/// An RSA key pair made with `openssl` in `dir`: (private, public) paths.
fn openssl_rsa_pair(dir: &TestDir) -> (String, String) {
    let (private, public) = (dir.join("rsa-private.pem"), dir.join("rsa-public.pem"));
    for args in [
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"][..],
        &["pkey", "-pubout", "-in", private.to_str().unwrap(), "-out"][..],
    ] {
        let out_file = if args[0] == "genpkey" { &private } else { &public };
        let out = Command::new("openssl").args(args).arg(out_file).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    (private.to_str().unwrap().to_owned(), public.to_str().unwrap().to_owned())
}

/// binlogserver B following a closed port (so that CHANGE MASTER names its
/// primary) into `dir`, serving on a free port with the admin account.
fn follower_set_by_change_master(dir: &Path) -> (Binlogserver, u16) {
    let closed = free_port();
    start_on_free_port(|sql| {
        let addr = listen_addr(sql);
        let args = [&FOLLOW_ARGS[..], &ADMIN_ARGS[..], &["--listen", &addr]].concat();
        Binlogserver::follow_port_as(closed, dir, "4714", &args)
    })
}

#[test]
fn change_master_public_key_path_lets_the_follower_do_full_authentication_over_plain_tcp() {
    let keys = TestDir::new("sha2-openssl-rsa");
    let (private, public) = openssl_rsa_pair(&keys);
    let (primary_dir, primary, port) =
        serve_mysql_8(&["--listen-sha2-full-auth", "--listen-rsa-key", private.as_str()]);
    let ours = TestDir::new("sha2-change-master");
    let (bls, sql) = follower_set_by_change_master(ours.path());
    admin_ok(sql, "STOP SLAVE");
    // Wrong files are refused by name, and nothing changes.
    for (file, why) in [("/nonexistent/rsa.pem", "cannot read"), (&private[..], "not a PEM RSA")] {
        let stmt = format!("CHANGE MASTER TO MASTER_PUBLIC_KEY_PATH='{file}'");
        let err = admin_err(sql, &stmt, 1210);
        assert!(err.contains(file) && err.contains(why), "{err}");
    }
    admin_ok(
        sql,
        &format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, \
             MASTER_PUBLIC_KEY_PATH='{public}'"
        ),
    );
    let stored = fs::read_to_string(ours.join("binlogserver.upstream")).unwrap();
    assert!(stored.contains(&format!("\npublic_key_path={public}\n")), "{stored}");
    admin_ok(sql, "START SLAVE");
    wait_file_stored(&bls, ours.path(), primary_dir.path());
    // Every login there is a full one, without TLS, and B does not ask for
    // the key (no GET_MASTER_PUBLIC_KEY): it encrypted with the given one.
    assert!(sha2_logins(&primary) >= 1, "{}", primary.log());

    // Restarted with nothing on the command line: the stored key is read.
    drop(bls);
    let (bls, sql) = follower_set_by_change_master(ours.path());
    let logins = sha2_logins(&primary);
    wait_until_ok(Duration::from_secs(30), "following again with the stored key", || {
        let st = bls_slave_status(sql);
        match (st["Slave_IO_Running"].as_str(), sha2_logins(&primary) > logins) {
            ("Yes", true) => Ok(()),
            (io, _) => Err(format!("Slave_IO_Running={io} Last_IO_Error={}", st["Last_IO_Error"])),
        }
    });
    drop(bls);
    // The stored key file gone: a start error naming both files.
    fs::remove_file(&public).unwrap();
    let closed = free_port();
    let args = [&FOLLOW_ARGS[..], &ADMIN_ARGS[..]].concat();
    let refused = Binlogserver::follow_port_as(closed, ours.path(), "4714", &args);
    refused.assert_failed_exit(Duration::from_secs(20), "the stored public key file is gone");
    refused.assert_error_logged(&["binlogserver.upstream", &public, "public_key_path"]);
}

/// Logins with caching_sha2_password in binlogserver's log.
fn sha2_logins(bls: &Binlogserver) -> usize {
    let log = bls.log();
    log.lines().filter(|l| l.contains("authenticated") && l.contains("plugin=caching_sha2")).count()
}

/// Runs `script` with the venv's python: argv is port, user, password.
fn python(script: &str, port: u16, password: &str) -> (bool, String) {
    let out = Command::new(venv_python())
        .args(["-c", script, &port.to_string(), USER, password])
        .output()
        .expect("run python");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

const PYMYSQL: &str = "\
import sys, pymysql
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = open(sys.argv[4], 'rb').read() if len(sys.argv) > 4 else None
c = pymysql.connect(host='127.0.0.1', port=port, user=user, password=pw, server_public_key=key)
cur = c.cursor(); cur.execute('SHOW BINARY LOGS')
print('plugin', c._auth_plugin_name, 'file', cur.fetchone()[0])";

const CONNECTOR: &str = "\
import sys, mysql.connector
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = mysql.connector.connect(host='127.0.0.1', port=port, user=user, password=pw,
                            use_pure=True, ssl_disabled=True)
cur = c.cursor(); cur.execute('SHOW BINARY LOGS')
print('plugin', c._handshake['auth_plugin'], 'file', cur.fetchall()[0][0])";

#[test]
fn python_clients_log_in_with_caching_sha2_password() {
    let want = format!("plugin caching_sha2_password file {FILE}");
    // Fast path: both clients.
    let (_dir, bls, port) = serve_mysql_8(&[]);
    for (client, script) in [("PyMySQL", PYMYSQL), ("mysql-connector-python", CONNECTOR)] {
        let before = sha2_logins(&bls);
        let (ok, out) = python(script, port, PASSWORD);
        assert!(ok && out.contains(&want), "{client}: {out}");
        assert_eq!(sha2_logins(&bls), before + 1, "{client} logged in with caching_sha2");
        let (ok, out) = python(script, port, "wrong");
        assert!(!ok && out.contains("1045"), "{client} with a wrong password: {out}");
    }
    bls.assert_running();
    drop(bls);
    // Full authentication over plain TCP: PyMySQL fetches the key and
    // encrypts; mysql-connector-python sends the password in clear, refused.
    let (_dir, bls, port) = serve_mysql_8(&["--listen-sha2-full-auth"]);
    let (ok, out) = python(PYMYSQL, port, PASSWORD);
    assert!(ok && out.contains(&want), "PyMySQL: {out}");
    let (ok, out) = python(CONNECTOR, port, PASSWORD);
    assert!(!ok && out.contains("1045"), "mysql-connector-python in clear: {out}");
    wait_until_ok(Duration::from_secs(5), "the refusal logged", || {
        let log = bls.log();
        if log.contains("password sent in clear over a connection without TLS") {
            Ok(())
        } else {
            Err(log)
        }
    });
    drop(bls);
    // A pinned key: PyMySQL given the listener's public key sends no request.
    let key = rsa_fixture("test_key_pkcs8.pem");
    let (_dir, _bls, port) =
        serve_mysql_8(&["--listen-sha2-full-auth", "--listen-rsa-key", key.as_str()]);
    let out = Command::new(venv_python())
        .args(["-c", PYMYSQL, &port.to_string(), USER, PASSWORD])
        .arg(rsa_fixture("test_key_public.pem"))
        .output()
        .expect("run python");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains(&want), "PyMySQL with a pinned key: {text}");
}

#[test]
fn a_client_of_another_plugin_is_switched_to_caching_sha2_with_exact_packets() {
    let (_dir, _bls, port) = serve_mysql_8(&["--listen-sha2-full-auth"]);
    let mut c = RawConn::connect(port);
    let nonce = c.greeting().scramble;
    let mut resp = Vec::new();
    HandshakeResponse41 {
        capabilities: CapabilityFlags::CLIENT_PROTOCOL_41
            .with(CapabilityFlags::CLIENT_SECURE_CONNECTION)
            .with(CapabilityFlags::CLIENT_PLUGIN_AUTH)
            .with(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA),
        max_packet_size: 1 << 24,
        character_set: 255,
        username: USER.as_bytes().to_vec(),
        auth_response: vec![0x42; 64],
        database: None,
        auth_plugin_name: Some(b"client_ed25519".to_vec()),
        connect_attrs: Vec::new(),
    }
    .encode(&mut resp);
    c.write_packet(1, &resp);
    // AuthSwitchRequest: plugin, the same scramble and a NUL.
    let (seq, switch) = c.read_packet().unwrap();
    let mut want = b"\xfecaching_sha2_password\0".to_vec();
    want.extend_from_slice(&nonce);
    want.push(0);
    assert_eq!((seq, switch), (2, want));
    c.write_packet(3, &caching_sha2_scramble(PASSWORD.as_bytes(), &nonce));
    assert_eq!(c.read_packet().unwrap(), (4, vec![0x01, 0x04]), "perform full authentication");
    c.write_packet(5, &[0x02]);
    let (seq, key) = c.read_packet().unwrap();
    assert_eq!((seq, key.first()), (6, Some(&0x01)));
    let key = ServerPublicKey::from_pem(&key[1..]).unwrap();
    c.write_packet(7, &key.encrypt_password(PASSWORD.as_bytes(), &nonce, [9; 32]).unwrap());
    let (seq, ok) = c.read_packet().unwrap();
    assert_eq!((seq, ok.first()), (8, Some(&0x00)), "OK: {ok:02x?}");
}

/// PyMySQL and mysql-connector-python over TLS (checking binlogserver's
/// certificate against `argv[4]`): argv is port, user, password, CA.
const PYMYSQL_TLS: &str = "\
import sys, pymysql
port, user, pw, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = pymysql.connect(host='127.0.0.1', port=port, user=user, password=pw, ssl_ca=ca)
cur = c.cursor(); cur.execute('SHOW BINARY LOGS')
print('plugin', c._auth_plugin_name, 'file', cur.fetchone()[0])";

const CONNECTOR_TLS: &str = "\
import sys, mysql.connector
port, user, pw, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = mysql.connector.connect(host='127.0.0.1', port=port, user=user, password=pw,
                            use_pure=True, ssl_ca=ca, ssl_verify_cert=True)
cur = c.cursor(); cur.execute('SHOW BINARY LOGS')
print('plugin', c._handshake['auth_plugin'], 'file', cur.fetchall()[0][0])";

#[test]
fn full_authentication_over_tls_takes_the_password_inside_the_session() {
    let certs = Certs::new();
    let (cert, key) = (certs.path("server.pem"), certs.path("server.key"));
    let tls = ["--listen-ssl-cert", &cert, "--listen-ssl-key", &key];
    // No RSA key anywhere: over TLS the clients send the password itself.
    let extra = [&tls[..], &["--listen-sha2-full-auth", "--require-secure-transport"]].concat();
    let (_dir, bls, port) = serve_mysql_8(&extra);
    let want = format!("plugin caching_sha2_password file {FILE}");
    let ca = certs.path("ca.pem");
    for (client, script) in [("PyMySQL", PYMYSQL_TLS), ("mysql-connector-python", CONNECTOR_TLS)] {
        let before = sha2_logins(&bls);
        let run = |pw: &str| {
            let out = Command::new(venv_python())
                .args(["-c", script, &port.to_string(), USER, pw, &ca])
                .output()
                .expect("run python");
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            (out.status.success(), text)
        };
        let (ok, out) = run(PASSWORD);
        assert!(ok && out.contains(&want), "{client} over TLS: {out}");
        assert_eq!(sha2_logins(&bls), before + 1, "{client} logged in with caching_sha2");
        let (ok, out) = run("wrong");
        assert!(!ok && out.contains("1045"), "{client} over TLS with a wrong password: {out}");
    }
    let log = bls.log();
    assert!(!log.contains("password sent in clear over a connection without TLS"), "{log}");
    bls.assert_running();
}
