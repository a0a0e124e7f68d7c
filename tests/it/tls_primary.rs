//! TLS toward the primary (issue 11 items 1 and 4) with a real MariaDB
//! 10.11 primary using certificates made by the test: a `REQUIRE SSL`
//! replication account followed with `--ssl-mode VERIFY_CA` under
//! semi-sync load (every commit acknowledged over the one TLS session that
//! carries events in and ACKs out, files identical); a wrong CA and a
//! wrong host name refused with errors that say so; REQUIRED against a
//! primary without TLS refused.

use crate::common::{
    admin_err, admin_ok, assert_same_binlog_set, assert_same_binlogs, bls_slave_status,
    follow_and_serve_at, mixed_workload, ADMIN_ARGS,
};
use crate::common::{
    follow_and_serve, wait_acked, wait_caught_up, wait_semi_sync_client, Binlogserver, Certs, Load,
    MariaDb, PrimaryOpts, TestDir, REPL_USER,
};
use std::time::Duration;

const CATCH_UP: Duration = Duration::from_secs(30);
const REFUSE: Duration = Duration::from_secs(30);

fn tls_primary(certs: &Certs, cert: &str) -> MariaDb {
    let primary =
        MariaDb::primary(PrimaryOpts { ssl: certs.primary_ssl(cert), ..PrimaryOpts::default() });
    assert_eq!(primary.sql("SELECT @@have_ssl"), "YES");
    primary.sql(&format!("ALTER USER {REPL_USER}@'%' REQUIRE SSL"));
    primary
}

#[test]
fn follows_a_require_ssl_account_with_verify_ca_and_acks_every_commit_over_tls() {
    let certs = Certs::new();
    let primary = tls_primary(&certs, "server");
    mixed_workload(&primary, 20);
    let data = TestDir::new("tls-primary-data");
    let ca = certs.path("ca.pem");
    let (bls, _port) =
        follow_and_serve(&primary, data.path(), &["--ssl-mode", "VERIFY_CA", "--ssl-ca", &ca]);
    wait_semi_sync_client(&primary, &bls);
    primary.sql("SET GLOBAL rpl_semi_sync_master_timeout = 30000");
    let yes_before = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    let no_before = primary.status_u64("Rpl_semi_sync_master_no_tx");

    let load = Load::start(&primary, 4);
    wait_acked(&load, 300);
    primary.sql("FLUSH BINARY LOGS");
    wait_acked(&load, 300);
    let acked = load.stop();

    let yes = primary.status_u64("Rpl_semi_sync_master_yes_tx") - yes_before;
    let no = primary.status_u64("Rpl_semi_sync_master_no_tx") - no_before;
    assert_eq!(no, 0, "every commit acknowledged over TLS ({yes} yes_tx)");
    assert!(yes >= acked, "yes_tx grew by {yes}, {acked} commits returned");
    assert_eq!(primary.status_var("Rpl_semi_sync_master_status"), "ON");
    // The account refuses plain TCP, so the session that followed was TLS.
    assert!(primary.status_u64("Ssl_accepts") >= 1);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlogs(&primary, data.path());
    assert_same_binlog_set(&primary, data.path());
    bls.assert_running();
    eprintln!("semi-sync over TLS: {acked} commits, yes_tx +{yes}, no_tx +{no}");
}

fn refused(primary: &MariaDb, args: &[&str], needles: &[&str]) {
    let data = TestDir::new("tls-refused");
    let bls = Binlogserver::follow(primary, data.path(), args);
    bls.assert_failed_exit(REFUSE, "the TLS connection to the primary cannot be trusted");
    bls.assert_error_logged(needles);
}

#[test]
fn a_wrong_ca_and_a_wrong_host_name_are_refused_with_errors_that_say_so() {
    let certs = Certs::new();
    let primary = tls_primary(&certs, "wrong-name");
    let (ca, other) = (certs.path("ca.pem"), certs.path("other-ca.pem"));
    refused(
        &primary,
        &["--ssl-mode", "VERIFY_CA", "--ssl-ca", &other, "--listen", "off"],
        &["untrusted certificate", "other-ca.pem"],
    );
    refused(
        &primary,
        &["--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", &ca, "--listen", "off"],
        &["name mismatch", "\"127.0.0.1\"", "VERIFY_IDENTITY"],
    );
    // The right CA without the name check follows.
    let data = TestDir::new("tls-verify-ca");
    let bls = Binlogserver::follow(
        &primary,
        data.path(),
        &["--ssl-mode", "VERIFY_CA", "--ssl-ca", &ca, "--listen", "off"],
    );
    wait_semi_sync_client(&primary, &bls);
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), CATCH_UP);
}

#[test]
fn required_against_a_primary_without_tls_is_refused() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    assert_eq!(primary.sql("SELECT @@have_ssl"), "DISABLED");
    refused(
        &primary,
        &["--ssl-mode", "REQUIRED", "--listen", "off"],
        &["does not offer TLS", "REQUIRED"],
    );
}

#[test]
fn change_master_sets_master_ssl_and_the_stored_setting_outlives_a_restart() {
    let certs = Certs::new();
    let primary = tls_primary(&certs, "server");
    let data = TestDir::new("tls-change-master");
    let ca = certs.path("ca.pem");
    let mut args = ADMIN_ARGS.to_vec();
    args.extend(["--ssl-mode", "VERIFY_CA", "--ssl-ca", &ca]);
    let (bls, port) = follow_and_serve(&primary, data.path(), &args);
    wait_semi_sync_client(&primary, &bls);

    admin_ok(port, "STOP SLAVE");
    let err = admin_err(port, "CHANGE MASTER TO MASTER_SSL_CA='/nonexistent/ca.pem'", 1210);
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    admin_ok(
        port,
        &format!(
            "CHANGE MASTER TO MASTER_SSL=1, MASTER_SSL_CA='{ca}', MASTER_SSL_VERIFY_SERVER_CERT=1"
        ),
    );
    let stored = std::fs::read_to_string(data.join("binlogserver.upstream")).unwrap();
    assert!(stored.contains("ssl_mode=VERIFY_IDENTITY\n"), "{stored}");
    assert!(stored.contains(&format!("ssl_ca={ca}\n")), "{stored}");
    let st = bls_slave_status(port);
    assert_eq!(
        (st["Master_SSL_Allowed"].as_str(), st["Master_SSL_Verify_Server_Cert"].as_str()),
        ("Yes", "Yes")
    );
    assert_eq!(st["Master_SSL_CA_File"], ca);
    admin_ok(port, "START SLAVE");
    wait_semi_sync_client(&primary, &bls);
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), CATCH_UP);

    // Restarted with TLS off on the command line, the stored MASTER_SSL*
    // win (the REQUIRE SSL account would refuse a plain login).
    drop(bls);
    let mut args = ADMIN_ARGS.to_vec();
    args.extend(["--ssl-mode", "DISABLED"]);
    let bls = follow_and_serve_at(&primary, data.path(), port, &args, true);
    wait_semi_sync_client(&primary, &bls);
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlogs(&primary, data.path());
}
