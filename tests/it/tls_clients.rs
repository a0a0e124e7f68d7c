//! TLS toward clients (issue 11 item 3) with real peers: a MariaDB 10.11
//! replica with `MASTER_SSL=1` and `mariadb-binlog --ssl` reading through
//! binlogserver under `--require-secure-transport`, a plaintext login
//! refused with MariaDB's answer (ERR 1045, measured on 10.11), the
//! session's `Ssl_cipher`/`Ssl_version` and `@@have_ssl`, and an account
//! marked `ssl` in the accounts file; PyMySQL (PyPI) over TLS verifying the
//! certificate and address. Certificates are made by the test.

use crate::common::venv_python;
use crate::common::{
    assert_same_binlog_set, assert_same_binlogs, assert_same_tables, bls_client, bls_log_excerpt,
    client_output, describe_slave_status, mariadb_binlog_raw, mixed_workload, serve_dir,
    wait_replica_caught_up_checking, Certs, MariaDb, PrimaryOpts, ReplicaOpts, TestDir, Topology,
    UseGtid, REPL_PASSWORD, REPL_USER,
};
use std::process::Command;
use std::time::Duration;

const CATCH_UP: Duration = Duration::from_secs(30);

/// binlogserver's flags for TLS toward clients with `certs`.
fn listen_tls(certs: &Certs) -> Vec<String> {
    vec![
        "--listen-ssl-cert".into(),
        certs.path("server.pem"),
        "--listen-ssl-key".into(),
        certs.path("server.key"),
        "--listen-ssl-ca".into(),
        certs.path("ca.pem"),
    ]
}

/// The `mariadb` client over TLS, checking binlogserver's certificate.
fn tls_client(port: u16, user: &str, password: &str, certs: &Certs) -> Command {
    let mut cmd = bls_client(port, user, password);
    cmd.arg("--ssl")
        .arg(format!("--ssl-ca={}", certs.path("ca.pem")))
        .arg("--ssl-verify-server-cert");
    cmd
}

/// The `mariadb` client over plain TCP.
fn plain_client(port: u16, user: &str, password: &str) -> Command {
    let mut cmd = bls_client(port, user, password);
    cmd.arg("--skip-ssl");
    cmd
}

fn sql(mut cmd: Command, stmt: &str) -> Result<String, String> {
    client_output(cmd.arg("-e").arg(stmt))
}

#[test]
fn a_replica_and_mariadb_binlog_read_over_tls_and_plaintext_logins_are_refused() {
    let certs = Certs::new();
    let mut extra = listen_tls(&certs);
    extra.push("--require-secure-transport".into());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let t = Topology::start(PrimaryOpts::default(), &extra);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 20);

    // Plain TCP: refused as MariaDB 10.11 refuses it under require_secure_transport.
    let err = sql(plain_client(port, REPL_USER, REPL_PASSWORD), "SELECT 1").unwrap_err();
    assert!(err.contains("ERROR 1045 (28000): Access denied for user"), "{err}");

    // Over TLS: the session knows its cipher, and the server says it has TLS.
    let got = sql(
        tls_client(port, REPL_USER, REPL_PASSWORD, &certs),
        "SHOW STATUS LIKE 'Ssl_%'; SELECT @@have_ssl",
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", bls_log_excerpt(bls, 30)));
    let lines: Vec<&str> = got.lines().collect();
    assert!(lines[0].starts_with("Ssl_cipher\tTLS_") && lines[0].len() > 15, "{got}");
    assert!(lines[1] == "Ssl_version\tTLSv1.3" || lines[1] == "Ssl_version\tTLSv1.2", "{got}");
    assert_eq!(lines[2], "YES", "{got}");

    // A MariaDB replica with MASTER_SSL=1, verifying binlogserver's certificate.
    let replica = MariaDb::replica(ReplicaOpts::default());
    replica.change_master("127.0.0.1", port, REPL_USER, REPL_PASSWORD, UseGtid::SlavePos);
    replica.change_master_options(&format!(
        "MASTER_SSL=1, MASTER_SSL_CA='{}', MASTER_SSL_VERIFY_SERVER_CERT=1, \
         MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
        certs.path("ca.pem")
    ));
    replica.start_slave();
    mixed_workload(primary, 10);
    let mut alive = || bls.assert_running();
    wait_replica_caught_up_checking(primary, &replica, CATCH_UP, &mut alive);
    let st = replica.slave_status();
    assert_eq!(st["Master_SSL_Allowed"], "Yes", "{}", describe_slave_status(&st));
    assert_eq!(st["Master_Port"], port.to_string());
    assert!(assert_same_tables(primary, &replica) >= 3);

    // mariadb-binlog --ssl copies every file byte for byte.
    t.wait_caught_up(CATCH_UP);
    let copy = TestDir::new("tls-raw-copy");
    let first = primary.binlog_files()[0].0.clone();
    let mut cmd = mariadb_binlog_raw(port, copy.path(), &first, "--to-last-log");
    cmd.arg("--ssl").arg(format!("--ssl-ca={}", certs.path("ca.pem")));
    let out = cmd.output().expect("run mariadb-binlog");
    assert!(
        out.status.success(),
        "mariadb-binlog --ssl: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        bls_log_excerpt(bls, 30)
    );
    assert_same_binlog_set(primary, copy.path());
    assert_same_binlogs(primary, copy.path());
    // And without --ssl it is refused.
    let out = mariadb_binlog_raw(port, copy.path(), &first, "--to-last-log")
        .arg("--skip-ssl")
        .output()
        .expect("run mariadb-binlog");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Access denied for user"), "{out:?}");
    bls.assert_running();
}

#[test]
fn an_ssl_account_logs_in_only_over_tls_and_have_ssl_follows_the_listener() {
    let certs = Certs::new();
    let data = TestDir::new("tls-accounts");
    let accounts = data.join("accounts");
    std::fs::write(&accounts, "ssl tlsonly:pw1\nplain:pw2\nssl admin tlsops:pw3\n").unwrap();
    let mut extra = listen_tls(&certs);
    extra.extend(["--replica-accounts-file".into(), accounts.to_str().unwrap().to_owned()]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (bls, port) = serve_dir(data.path(), "x", "y", &extra);

    for (user, pw) in [("tlsonly", "pw1"), ("tlsops", "pw3")] {
        let err = sql(plain_client(port, user, pw), "SELECT 1").unwrap_err();
        assert!(err.contains("ERROR 1045 (28000)"), "{user}: {err}");
        let got = sql(tls_client(port, user, pw, &certs), "SHOW STATUS LIKE 'Ssl_version'");
        assert!(got.as_deref().unwrap_or_default().starts_with("Ssl_version\tTLSv1."), "{got:?}");
    }
    // Any other account may use either; over plain TCP the TLS rows are empty.
    let got =
        sql(plain_client(port, "plain", "pw2"), "SHOW STATUS LIKE 'Ssl_c%'; SELECT @@have_ssl");
    assert_eq!(got.unwrap(), "Ssl_cipher\t\nYES");
    let got = sql(tls_client(port, "plain", "pw2", &certs), "SELECT CURRENT_USER()").unwrap();
    assert!(got.starts_with("plain@"), "{got}");
    // A client certificate signed by the --listen-ssl-ca is accepted.
    let mut cmd = tls_client(port, "plain", "pw2", &certs);
    cmd.arg(format!("--ssl-cert={}", certs.path("client.pem")));
    cmd.arg(format!("--ssl-key={}", certs.path("client.key")));
    assert_eq!(sql(cmd, "SELECT 1").unwrap(), "1");
    drop(bls);

    // Without --listen-ssl-cert: no TLS offered, @@have_ssl DISABLED, --ssl fails.
    let (_plain_bls, port) = serve_dir(data.path(), "x", "y", &[]);
    assert_eq!(sql(plain_client(port, "x", "y"), "SELECT @@have_ssl").unwrap(), "DISABLED");
    let err = sql(tls_client(port, "x", "y", &certs), "SELECT 1").unwrap_err();
    assert!(err.contains("SSL"), "{err}");
}

/// PyMySQL (from PyPI) over TLS, verifying the certificate and its
/// address; prints `Ssl_version`, `Ssl_cipher` and `@@have_ssl`.
const PYMYSQL_TLS: &str = "\
import sys, pymysql
port, user, password, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = pymysql.connect(host='127.0.0.1', port=port, user=user, password=password,
                    ssl_ca=ca, ssl_verify_cert=True, ssl_verify_identity=True)
cur = c.cursor()
cur.execute(\"SHOW STATUS LIKE 'Ssl_%'\")
for name, value in cur.fetchall():
    print(name, value)
cur.execute('SELECT @@have_ssl')
print(cur.fetchone()[0])
";

#[test]
fn pymysql_logs_in_over_tls_where_plain_tcp_is_refused() {
    let certs = Certs::new();
    let data = TestDir::new("tls-pymysql");
    let mut extra = listen_tls(&certs);
    extra.push("--require-secure-transport".into());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (_bls, port) = serve_dir(data.path(), "py", "pypw", &extra);
    let out = Command::new(venv_python())
        .args(["-c", PYMYSQL_TLS, &port.to_string(), "py", "pypw", &certs.path("ca.pem")])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("Ssl_cipher TLS_"), "{stdout}");
    assert!(lines[1].starts_with("Ssl_version TLSv1."), "{stdout}");
    assert_eq!(lines[2], "YES", "{stdout}");
    // The same client without TLS is refused.
    let plain = PYMYSQL_TLS
        .replace("ssl_ca=ca, ssl_verify_cert=True, ssl_verify_identity=True", "ssl_disabled=True");
    let out = Command::new(venv_python())
        .args(["-c", &plain, &port.to_string(), "py", "pypw", &certs.path("ca.pem")])
        .output()
        .expect("run python");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1045") && stderr.contains("Access denied"), "{stderr}");
}
