//! End-to-end tests of `--config FILE`: the real binary reads its primary,
//! data directory and several replica accounts from a my.cnf-style file
//! (the command line winning), follows a real MariaDB 10.11 primary, and
//! lets clients log in with every account the file lists and no other; a
//! bad file stops it before anything starts, naming file, line and key.
//!
//! If `mariadbd` is missing the first test fails and says what to install.

use crate::common::{
    bls_client, wait_for, wait_semi_sync_client, wait_until_ok, Binlogserver, MariaDb, PrimaryOpts,
    TestDir, REPL_PASSWORD, REPL_USER,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Upper bound for binlogserver to start, connect and catch up.
const START: Duration = Duration::from_secs(30);

fn write_file(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).expect("write the file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Logs in to binlogserver on `port` and runs `SHOW BINARY LOGS`: the file
/// names, or the client's error.
fn show_binary_logs(port: u16, user: &str, password: &str) -> Result<Vec<String>, String> {
    let out = bls_client(port, user, password)
        .args(["-e", "SHOW BINARY LOGS"])
        .output()
        .expect("spawn the mariadb client");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(text.lines().filter_map(|l| l.split('\t').next()).map(str::to_owned).collect())
}

#[test]
fn accounts_from_the_config_file_log_in_through_the_listener() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    primary.sql(
        "CREATE DATABASE cfg; CREATE TABLE cfg.t (id INT PRIMARY KEY); \
         INSERT INTO cfg.t VALUES (1)",
    );
    let dir = TestDir::new("config-file");
    let data = dir.join("binlogs");
    fs::create_dir(&data).unwrap();
    let accounts = dir.join("accounts");
    write_file(&accounts, "# from an accounts file\ncarol:carol:pw\n", 0o600);
    let conf = dir.join("binlogserver.conf");
    // World-readable on purpose: it holds passwords, so binlogserver warns.
    write_file(
        &conf,
        &format!(
            "# binlogserver test configuration\n\
             [client]\n\
             user = not-for-us\n\
             \n\
             [binlogserver]\n\
             host = 127.0.0.1\n\
             port = {port}\n\
             user = {REPL_USER}\n\
             password = \"{REPL_PASSWORD}\"\n\
             data_dir = {data}\n\
             server-id = 1001\n\
             semi-sync = on\n\
             heartbeat = 1\n\
             listen = off   # the command line's --listen wins\n\
             replica-account = alice:alice pw\n\
             replica-account = \"bob:b#ob\"\n\
             replica-accounts-file = {accounts}\n",
            port = primary.port(),
            data = data.display(),
            accounts = accounts.display(),
        ),
        0o644,
    );
    let conf_arg = conf.to_str().unwrap();
    let bls = Binlogserver::start(&["--config", conf_arg, "--listen", "127.0.0.1:0"]);
    let port: u16 = wait_for(START, "binlogserver to log its listening address", || {
        bls.assert_running();
        let log = bls.log();
        let line =
            log.lines().find(|l| l.contains("listening for replicas and binlog clients addr="))?;
        line.rsplit(':').next()?.trim().parse().ok()
    });
    // Host, port, user, password and semi-sync came from the file.
    wait_semi_sync_client(&primary, &bls);
    let log = bls.log();
    assert!(
        log.contains("configuration file is readable by every user and holds a password")
            && log.contains(&format!("path={conf_arg}")),
        "no warning about the world-readable password:\n{log}"
    );
    assert!(!log.contains("alice pw") && !log.contains("b#ob") && !log.contains("carol:pw"));

    let first = primary.binlog_files()[0].0.clone();
    for (user, password) in [("alice", "alice pw"), ("bob", "b#ob"), ("carol", "carol:pw")] {
        wait_until_ok(START, &format!("{user} to log in and see {first}"), || {
            let names = show_binary_logs(port, user, password)?;
            if names.contains(&first) {
                Ok(())
            } else {
                Err(format!("SHOW BINARY LOGS as {user}: {names:?}"))
            }
        });
    }
    // Listing accounts replaces the implicit upstream one; wrong passwords fail.
    for (user, password) in
        [(REPL_USER, REPL_PASSWORD), ("bob", "b"), ("alice", "alice"), ("nobody", "x")]
    {
        let err = show_binary_logs(port, user, password).expect_err(user);
        assert!(err.contains("ERROR 1045") && err.contains("Access denied"), "{user}: {err}");
    }
    bls.assert_running();
}

#[test]
fn a_bad_config_file_stops_binlogserver_naming_file_line_and_key() {
    let dir = TestDir::new("config-file-bad");
    let conf = dir.join("bad.conf");
    write_file(&conf, "[binlogserver]\nhost = 127.0.0.1\nuser = repl\n\nfoo = 1\n", 0o600);
    let conf = conf.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_binlogserver"))
            .args(args)
            .output()
            .expect("run binlogserver")
    };
    let out = run(&["--config", conf]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("binlogserver: {conf}:5: unknown key \"foo\"\n")),
        "{stderr}"
    );

    write_file(
        dir.join("bad.conf").as_path(),
        "[binlogserver]\nhost = h\nuser = u\nport = 99999\n",
        0o600,
    );
    let out = run(&["--config", conf]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("binlogserver: {conf}:4: port: invalid value \"99999\"")),
        "{stderr}"
    );
    // On the command line the same value is the command line's error.
    let out = run(&["--config", conf, "-P", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("binlogserver: --port: invalid value \"0\""), "{stderr}");
}
