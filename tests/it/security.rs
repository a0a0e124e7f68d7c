//! Security of the serving side (issue 4, part 8), against the real binary:
//! no anonymous access, a wrong password gets ERR 1045 and nothing else, a
//! fresh scramble per connection so a recorded login cannot be replayed,
//! passwords never in the log (even with `-vv --trace-packets`) nor in
//! `/proc/PID/cmdline` when given by `--replica-password-file` or
//! `MYSQL_PWD`, and a listener on loopback unless told otherwise.

use crate::common::raw_client::{
    assert_still_serves, err_code, fixture_dir, login_response, serve_fixture, start_listening,
    RawConn, RAW_PASSWORD, RAW_USER,
};
use crate::common::{bls_admin_sql, bls_client, free_port, Binlogserver, TestDir, ADMIN_ARGS};
use binlogserver::cli::{self, CliOutcome};
use std::collections::HashSet;
use std::fs;
use std::time::Duration;

const CLOSE_WITHIN: Duration = Duration::from_secs(30);

/// Logs in as `user`/`password` on a fresh connection; returns every packet
/// the server sent after the greeting, up to its close (or the OK).
fn login(port: u16, user: &str, password: &str) -> Vec<Vec<u8>> {
    let mut conn = RawConn::connect(port);
    let g = conn.greeting();
    conn.write_packet(1, &login_response(user, password, &g.scramble));
    let (_, first) = conn.read_packet().expect("a reply to the login");
    if first.first() == Some(&0x00) {
        return vec![first];
    }
    let mut all = vec![first];
    all.extend(conn.until_closed(CLOSE_WITHIN));
    all
}

/// Asserts that `packets` is exactly one ERR 1045 (and returns its message).
fn assert_denied(packets: &[Vec<u8>], who: &str) -> String {
    assert!(
        packets.len() == 1 && err_code(&packets[0]) == Some(1045),
        "{who}: expected one ERR 1045 and the close, got {packets:02x?}"
    );
    String::from_utf8_lossy(&packets[0][9..]).into_owned()
}

#[test]
fn a_wrong_password_gets_1045_and_no_other_packet() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    let msg = assert_denied(&login(port, RAW_USER, "not-the-password"), "wrong password");
    assert!(
        msg.contains("Access denied for user 'reader'") && msg.contains("using password: YES"),
        "{msg}"
    );

    // The mariadb client sees the same.
    let out = bls_client(port, RAW_USER, "not-the-password")
        .arg("-e")
        .arg("SHOW BINARY LOGS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("1045"),
        "mariadb client: {} {stderr}",
        out.status
    );
    assert!(
        out.stdout.is_empty(),
        "data after a failed login: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_still_serves(&bls, port, &dir);
}

#[test]
fn there_is_no_anonymous_or_passwordless_access() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    for (user, password) in
        [("", ""), ("", RAW_PASSWORD), (RAW_USER, ""), ("root", ""), ("root", RAW_PASSWORD)]
    {
        let msg = assert_denied(
            &login(port, user, password),
            &format!("user {user:?} password {password:?}"),
        );
        let using = if password.is_empty() { "using password: NO" } else { "using password: YES" };
        assert!(msg.contains(using), "{msg}");
    }
    // The right password logs in, so the refusals above are the accounts, not the client.
    assert_eq!(login(port, RAW_USER, RAW_PASSWORD)[0].first(), Some(&0x00));
    bls.assert_running();
}

#[test]
fn every_connection_gets_a_fresh_scramble() {
    let dir = fixture_dir();
    let (_bls, port) = serve_fixture(&dir, &[]);
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let g = RawConn::connect(port).greeting();
        assert_eq!(g.scramble.len(), 20, "{:02x?}", g.scramble);
        assert!(!g.scramble.contains(&0), "a NUL in the scramble {:02x?}", g.scramble);
        assert!(seen.insert(g.scramble.clone()), "scramble {:02x?} seen twice", g.scramble);
    }
}

#[test]
fn a_recorded_login_cannot_be_replayed_on_another_connection() {
    let dir = fixture_dir();
    let (_bls, port) = serve_fixture(&dir, &[]);
    let mut first = RawConn::connect(port);
    let mut second = RawConn::connect(port);
    let g1 = first.greeting();
    let g2 = second.greeting();
    let recorded = login_response(RAW_USER, RAW_PASSWORD, &g1.scramble);
    // Replayed before and after the original is used: refused both times.
    second.write_packet(1, &recorded);
    let got = second.until_closed(CLOSE_WITHIN);
    assert_denied(&got, "replay on a second connection");
    first.write_packet(1, &recorded);
    assert_eq!(
        first.read_packet().unwrap().1.first(),
        Some(&0x00),
        "the recorded login is valid where it was made"
    );
    let mut third = RawConn::connect(port);
    let g3 = third.greeting();
    assert!(g3.scramble != g1.scramble && g2.scramble != g1.scramble);
    third.write_packet(1, &recorded);
    assert_denied(&third.until_closed(CLOSE_WITHIN), "replay after the original login");
}

/// Every 6-byte piece of the password that occurs in `text`.
fn password_pieces_in(text: &str) -> Vec<String> {
    let pw = RAW_PASSWORD.as_bytes();
    pw.windows(6)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .filter(|w| text.contains(w.as_str()))
        .collect()
}

/// Logs in right and wrong, runs statements and a binlog read, then checks
/// that neither the log nor the command line shows the password.
fn assert_password_hidden(bls: &Binlogserver, port: u16, dir: &TestDir) {
    assert_still_serves(bls, port, dir);
    assert_denied(&login(port, RAW_USER, "wrong"), "wrong password");
    let out = bls_client(port, RAW_USER, RAW_PASSWORD)
        .arg("-e")
        .arg("SHOW VARIABLES; SHOW SLAVE STATUS; SELECT USER(), @@version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = bls.log();
    assert!(log.contains("packet in"), "--trace-packets with -vv logged no packets; log:\n{log}");
    // The payloads follow in the `hexdump -C` layout (offset, hex, |ascii|).
    assert!(
        log.lines().any(|l| l.trim_start().starts_with("00000000  ") && l.ends_with('|')),
        "the packet trace has no hexdump -C lines; log:\n{log}"
    );
    let pieces = password_pieces_in(&log);
    assert!(pieces.is_empty(), "the log shows the password ({pieces:?})");
    let cmdline = fs::read(format!("/proc/{}/cmdline", bls.pid())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let pieces = password_pieces_in(&cmdline);
    assert!(pieces.is_empty(), "ps shows the password: {cmdline}");
}

#[test]
fn a_password_from_a_file_is_never_logged_nor_in_ps() {
    let dir = fixture_dir();
    let secrets = TestDir::new("secrets");
    let file = secrets.join("replica-password");
    fs::write(&file, format!("{RAW_PASSWORD}\n")).unwrap();
    let data = dir.path_str();
    let file = file.to_str().unwrap();
    let args = [
        "-d",
        data,
        "--replica-user",
        RAW_USER,
        "--replica-password-file",
        file,
        "-vv",
        "--trace-packets",
    ];
    let (bls, port) = start_listening(&args, &[("RUST_LOG", "trace")]);
    assert_password_hidden(&bls, port, &dir);
}

#[test]
fn a_password_from_mysql_pwd_is_never_logged_nor_in_ps() {
    // Following a primary that is not there (a closed port): binlogserver
    // retries in the background and serves what it has, to the upstream
    // account, whose password comes from MYSQL_PWD.
    let dir = fixture_dir();
    let primary_port = free_port().to_string();
    let data = dir.path_str();
    let args = [
        "-h",
        "127.0.0.1",
        "-P",
        &primary_port,
        "-u",
        RAW_USER,
        "-d",
        data,
        "-vv",
        "--trace-packets",
    ];
    let (bls, port) = start_listening(&args, &[("RUST_LOG", "trace"), ("MYSQL_PWD", RAW_PASSWORD)]);
    assert_password_hidden(&bls, port, &dir);
}

fn listen_of(args: &str) -> std::net::SocketAddr {
    let args: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
    match cli::parse(&args, |_| None) {
        Ok(CliOutcome::Run(config, ..)) => config.server.expect("serving is on by default").listen,
        Ok(_) => panic!("{args:?}: not a run configuration"),
        Err(e) => panic!("{args:?}: {e}"),
    }
}

#[test]
fn the_listener_binds_to_loopback_unless_told_otherwise() {
    assert!(listen_of("-h db1 -u repl -p x").ip().is_loopback());
    assert!(listen_of("-d /x --replica-user r --replica-password-file /dev/null")
        .ip()
        .is_loopback());
    assert_eq!(
        listen_of("-d /x --replica-user r --replica-password p --listen 0.0.0.0:3310").to_string(),
        "0.0.0.0:3310"
    );
    // And --help says which password flags show in ps.
    match cli::parse(&["--help".to_owned()], |_| None) {
        Ok(CliOutcome::Help(text)) => {
            assert!(text.contains("127.0.0.1:3307"), "{text}");
            for flag in ["-p, --password PASSWORD", "--replica-password PASSWORD"] {
                // The description is on the flag's line or the next one.
                let lines: Vec<&str> = text.lines().collect();
                let at = lines
                    .iter()
                    .position(|l| l.trim_start().starts_with(flag))
                    .unwrap_or_else(|| panic!("no {flag} in:\n{text}"));
                let described = lines[at..lines.len().min(at + 2)].join(" ");
                assert!(
                    described.contains("in ps"),
                    "{flag} should warn that it shows in ps: {described}"
                );
            }
        }
        _ => panic!("--help"),
    }
}

/// The bytes of every `hexdump -C` line of `log` (offset, hex columns,
/// `|ascii|`), joined: what the packet trace showed, across line breaks.
fn traced_bytes(log: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in log.lines().map(str::trim_start) {
        let Some((offset, rest)) = line.split_once("  ") else { continue };
        if offset.len() != 8 || !offset.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let hex = rest.split('|').next().unwrap_or_default();
        out.extend(hex.split_whitespace().filter_map(|h| u8::from_str_radix(h, 16).ok()));
    }
    out
}

#[test]
fn a_statement_naming_a_password_is_left_out_of_the_packet_trace() {
    const SECRET: &str = "n3w-pr1mary-s3cret";
    let dir = fixture_dir();
    let mut args = vec!["-d", dir.path_str(), "--replica-user", RAW_USER, "-vv", "--trace-packets"];
    args.extend(["--replica-password", RAW_PASSWORD]);
    args.extend(ADMIN_ARGS);
    let (bls, port) = start_listening(&args, &[("RUST_LOG", "trace")]);
    let change = format!("CHANGE MASTER TO MASTER_HOST='db2', MASTER_PASSWORD='{SECRET}'");
    // Serving a directory: refused, but the statement did arrive.
    bls_admin_sql(port, &change).expect_err("binlogserver serving a directory follows nothing");
    bls_admin_sql(port, "SELECT 'after the change'").unwrap();
    let log = bls.log();
    assert!(
        log.contains("(a statement naming a password: not dumped)"),
        "the CHANGE MASTER packet was not traced at all; log:\n{log}"
    );
    let traced = traced_bytes(&log);
    let needle = b"after the change";
    assert!(
        traced.windows(needle.len()).any(|w| w == needle),
        "setup: the trace's bytes are not read back from the log"
    );
    assert!(
        !traced.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the packet trace shows the MASTER_PASSWORD"
    );
    assert!(!log.contains(SECRET), "the log shows the MASTER_PASSWORD");
}
