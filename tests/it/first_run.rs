//! What a new user meets on a first run against a primary that is not
//! quite what binlogserver expects, each found by trying it (issue 9):
//!
//! * another service on the primary's port (SSH, HTTP, a silent one) is
//!   named as not a MySQL/MariaDB server, and on the first connect
//!   binlogserver stops instead of retrying every 30 s; found later, it is
//!   retried as a failed connect, not as a lost connection;
//! * an account without `REPLICATION SLAVE` is told which privilege it lacks;
//! * `--semi-sync on` against a primary whose semi-sync master is disabled
//!   warns at start and in `SHOW SLAVE STATUS`;
//! * `caught up with the primary` comes after the `new binlog file` line of
//!   its file;
//! * a data directory copied from a primary with an absolute `log_bin`
//!   (its index lists absolute paths) is followed.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    assert_same_binlogs, count_in_log, listen_addr, mixed_workload, run_vertical,
    start_on_free_port, vertical_rows, wait_caught_up, wait_until, Binlogserver, MariaDb,
    PrimaryOpts, TestDir, DATADIR, DUMP_REQUEST, LINK_LOST, REPL_PASSWORD,
};

const DEADLINE: Duration = Duration::from_secs(60);
const SSH_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2\r\n";
const HTTP_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A service on 127.0.0.1 that is not MySQL: sends `opening` (maybe
/// nothing) to each client, then keeps the connection open (as sshd waits
/// for the client's banner) or closes it (as an HTTP server after its 400).
struct OtherService {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl OtherService {
    fn start(port: u16, opening: &'static [u8], keep_open: bool) -> OtherService {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the other service");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.write_all(opening);
                if keep_open {
                    held.push(conn);
                }
            }
        });
        OtherService { port, stop, thread: Some(thread) }
    }
}

impl Drop for OtherService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn another_service_on_the_primary_port_stops_the_first_start_naming_it() {
    for (what, opening, keep_open) in
        [("an SSH server", SSH_BANNER, true), ("an HTTP server", HTTP_400, false)]
    {
        let service = OtherService::start(0, opening, keep_open);
        let data = TestDir::new("first-run-data");
        let started = Instant::now();
        let bls = Binlogserver::follow_port(service.port, data.path(), &[]);
        let status = bls.wait_exit(Duration::from_secs(20));
        let took = started.elapsed();
        let log = bls.log();
        eprintln!("{what}: exited with {status} after {took:?}:\n{log}");
        assert!(!status.success(), "{what}: exit status {status}");
        // The bytes prove it at once: no waiting for a read timeout.
        assert!(took < Duration::from_secs(8), "{what}: took {took:?} to stop");
        let shown = String::from_utf8_lossy(&opening[..12]).into_owned();
        let addr = format!("127.0.0.1:{} is not a MySQL/MariaDB server", service.port);
        assert!(
            log.contains(&addr) && log.contains(&shown),
            "{what}: log lacks {addr:?}, {shown:?}"
        );
        assert_eq!(count_in_log(&bls, LINK_LOST), 0, "{what}: no connection was ever lost");
    }

    // One that accepts and says nothing, as an HTTP server waiting for its
    // request: no greeting within --connect-timeout.
    let service = OtherService::start(0, b"", true);
    let data = TestDir::new("first-run-data");
    let bls = Binlogserver::follow_port(service.port, data.path(), &["--connect-timeout", "1"]);
    let status = bls.wait_exit(Duration::from_secs(20));
    let log = bls.log();
    assert!(!status.success(), "a silent service: exit status {status}\n{log}");
    let addr = format!("127.0.0.1:{} is not a MySQL/MariaDB server", service.port);
    assert!(log.contains(&addr) && log.contains("sent nothing in 1 s"), "{log}");
}

#[test]
fn another_service_found_after_the_primary_went_away_is_named_and_retried() {
    let mut primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    let data = TestDir::new("first-run-data");
    let bls = Binlogserver::follow(&primary, data.path(), &["--heartbeat", "1"]);
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), DEADLINE);

    primary.shutdown();
    let service = OtherService::start(primary.port(), SSH_BANNER, true);
    let wrong = format!("127.0.0.1:{} is not a MySQL/MariaDB server", primary.port());
    wait_until(DEADLINE, "binlogserver to meet the SSH server", || {
        bls.assert_running();
        count_in_log(&bls, &wrong) >= 2
    });
    let log = bls.log();
    let retried: Vec<&str> = log.lines().filter(|l| l.contains(&wrong)).collect();
    for line in &retried {
        assert!(
            line.contains("upstream connect failed") && line.contains("reconnecting in"),
            "a connection that never existed is not a lost one: {line}"
        );
    }
    assert!(count_in_log(&bls, LINK_LOST) >= 1, "the primary's shutdown cut the dump:\n{log}");

    drop(service);
    primary.restart();
    let dumps = count_in_log(&bls, DUMP_REQUEST);
    wait_until(DEADLINE, "binlogserver to follow the restarted primary", || {
        bls.assert_running();
        count_in_log(&bls, DUMP_REQUEST) > dumps
    });
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), DEADLINE);
    assert_same_binlogs(&primary, data.path());
}

#[test]
fn an_account_without_replication_slave_is_told_which_privilege_it_lacks() {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    // What a new user grants first: enough to see the binlogs, not to read them.
    primary.sql(&format!(
        "CREATE USER lacking@'%' IDENTIFIED BY '{REPL_PASSWORD}'; \
         GRANT REPLICATION CLIENT, BINLOG MONITOR ON *.* TO lacking@'%'"
    ));
    let data = TestDir::new("first-run-data");
    let port = primary.port().to_string();
    let bls = Binlogserver::start(&[
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "-u",
        "lacking",
        "-p",
        REPL_PASSWORD,
        "-d",
        data.path_str(),
        "--server-id",
        "1001",
        "--listen",
        "off",
    ]);
    let status = bls.wait_exit(DEADLINE);
    let log = bls.log();
    assert!(!status.success(), "exit status {status}\n{log}");
    let error = log.lines().find(|l| l.contains("ERROR")).unwrap_or_else(|| panic!("{log}"));
    // MariaDB 10.11 answers COM_REGISTER_SLAVE with a bare 1045.
    assert!(
        error.contains("1045")
            && error.contains("needs the REPLICATION SLAVE privilege")
            && error.contains("GRANT REPLICATION SLAVE ON *.*"),
        "{error}"
    );
}

#[test]
fn semi_sync_on_against_a_disabled_semi_sync_master_warns_at_start_and_in_slave_status() {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    assert_eq!(primary.sql("SELECT @@rpl_semi_sync_master_enabled"), "0");
    let data = TestDir::new("first-run-data");
    let (bls, port) = start_on_free_port(|port| {
        let addr = listen_addr(port);
        Binlogserver::follow(&primary, data.path(), &["--semi-sync", "on", "--listen", &addr])
    });
    let warning = "--semi-sync on, but the primary's rpl_semi_sync_master_enabled is OFF";
    wait_until(DEADLINE, "the warning at start", || {
        bls.assert_running();
        count_in_log(&bls, warning) == 1
    });
    let line = bls.log().lines().find(|l| l.contains(warning)).unwrap().to_owned();
    assert!(line.contains("WARN"), "{line}");

    let mut last = String::new();
    wait_until(DEADLINE, "Semi_Sync_Warning in SHOW SLAVE STATUS", || {
        let cmd = crate::common::bls_repl_client(port);
        last = run_vertical(cmd, "SHOW SLAVE STATUS").unwrap_or_else(|e| e);
        let rows = vertical_rows(&last);
        rows.first().and_then(|r| r.get("Semi_Sync_Warning")).is_some_and(|w| {
            w.contains("rpl_semi_sync_master_enabled is OFF") && w.contains("does not wait")
        })
    });
    let rows = vertical_rows(&last);
    assert_eq!(rows[0]["Semi_Sync"], "ON", "{last}");
    bls.assert_running();
}

/// `caught up with the primary` was logged by the dump thread as the last
/// event arrived, while the writer could still be creating that file.
#[test]
fn caught_up_is_logged_after_the_new_file_it_is_in() {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    mixed_workload(&primary, 5);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&primary, 5);
    let data = TestDir::new("first-run-data");
    let bls = Binlogserver::follow(&primary, data.path(), &["--heartbeat", "1"]);
    wait_until(DEADLINE, "binlogserver to catch up in the second file", || {
        bls.assert_running();
        count_in_log(&bls, "caught up with the primary") == 1
            && count_in_log(&bls, "new binlog file file=mysql-bin.000002") == 1
    });
    let log = bls.log();
    let lines: Vec<&str> = log.lines().collect();
    let caught_up = lines.iter().position(|l| l.contains("caught up with the primary")).unwrap();
    let file = lines[caught_up]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("file="))
        .unwrap_or_else(|| panic!("no file= in {}", lines[caught_up]));
    let created = lines
        .iter()
        .position(|l| l.contains(&format!("new binlog file file={file}")))
        .unwrap_or_else(|| panic!("no new binlog file line for {file}:\n{log}"));
    assert!(created < caught_up, "caught up in {file} before the file was created:\n{log}");
}

/// A primary started with an absolute `--log-bin` lists absolute paths in
/// its index; a data directory copied from it was refused while following
/// ("lists /…/mysql-bin.000001, which is missing") though serving and
/// `verify` took it.
#[test]
fn a_data_directory_copied_from_a_primary_with_an_absolute_log_bin_is_followed() {
    let primary = MariaDb::primary(PrimaryOpts {
        semi_sync: false,
        extra_args: vec![format!("--log-bin={DATADIR}/mysql-bin")],
        ..PrimaryOpts::default()
    });
    mixed_workload(&primary, 5);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&primary, 5);
    primary.sql("FLUSH BINARY LOGS");
    let index = fs::read_to_string(primary.binlog_path("mysql-bin.index")).unwrap();
    let lines: Vec<&str> = index.lines().collect();
    assert!(
        lines.len() == 3 && lines.iter().all(|l| l.starts_with('/')),
        "setup: the primary's index lists absolute paths:\n{index}"
    );

    // The closed files, and the index as the primary wrote it for them.
    let data = TestDir::new("first-run-data");
    for line in &lines[..2] {
        let name = line.rsplit('/').next().unwrap();
        fs::copy(line, data.join(name)).unwrap();
    }
    fs::write(data.join("mysql-bin.index"), format!("{}\n{}\n", lines[0], lines[1])).unwrap();

    let bls = Binlogserver::follow(&primary, data.path(), &["--heartbeat", "1"]);
    wait_until(DEADLINE, "binlogserver to resume from the copied files", || {
        bls.assert_running();
        count_in_log(&bls, DUMP_REQUEST) >= 1
    });
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), DEADLINE);
    assert_same_binlogs(&primary, data.path());
    let ours = fs::read_to_string(data.join("mysql-bin.index")).unwrap();
    assert_eq!(ours, "./mysql-bin.000001\n./mysql-bin.000002\n./mysql-bin.000003\n");
    bls.assert_running();
}
