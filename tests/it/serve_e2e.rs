//! End-to-end tests of binlogserver's serving side: real MariaDB 10.11
//! replicas, `mariadb-binlog` and python-mysql-replication read from a
//! binlogserver that follows a real primary, and must see exactly what the
//! primary would have sent them.
//!
//! Each test starts its own primary, binlogserver (with `--listen` on a
//! free port) and clients, in temporary directories. The `harness_*` tests
//! check the harness itself against the primary directly. If `mariadbd`,
//! `python3` or PyPI is missing the tests fail and say what to install. Set
//! `BLS_KEEP_TEST_DIRS=1` to keep the directories.

use crate::common::{
    assert_received, assert_replicating, assert_same_binlog_set, assert_same_binlogs,
    assert_same_tables, big_row, bls_client, bls_log_excerpt, bls_sql, compare_stream,
    describe_slave_status, expected_events, follow_and_serve_at, local_binlog_files,
    mariadb_binlog_raw, mixed_workload, read_events, run_vertical, stored_file, vertical_rows,
    wait_acked, wait_replica_caught_up, wait_replica_caught_up_checking, wait_semi_sync_client,
    wait_until, wait_until_ok, Binlogserver, GtidState, KillOnDrop, Load, MariaDb, PrimaryOpts,
    ReadOpts, ReplicaOpts, Start, TestDir, Topology, UseGtid, ANNOTATE_ROWS_TYPE, MARIA_GTID_TYPE,
    REPL_PASSWORD, REPL_USER,
};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for binlogserver or a replica to catch up after writes stop.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Upper bound for binlogserver to (re)connect and register for semi-sync.
const CONNECT: Duration = Duration::from_secs(20);
/// Commits of the concurrent load between two steps of a test, at least.
const LOAD_STEP: u64 = 150;
/// And how long such a step lasts, at least.
const LOAD_STEP_TIME: Duration = Duration::from_secs(1);

/// One step of live load: at least [`LOAD_STEP_TIME`] and at least
/// [`LOAD_STEP`] more acknowledged commits.
fn load_step(load: &Load) {
    let start = Instant::now();
    wait_acked(load, LOAD_STEP);
    // The load itself is the point here: it runs while this waits (and
    // `acked()` fails fast if a client failed).
    wait_until(LOAD_STEP_TIME + Duration::from_secs(1), "the load step to last", || {
        load.acked() > 0 && start.elapsed() >= LOAD_STEP_TIME
    });
}

/// The primary's binlog file names, in order.
fn binlog_names(primary: &MariaDb) -> Vec<String> {
    primary.binlog_files().into_iter().map(|f| f.0).collect()
}

/// Runs `cmd` to completion within `timeout`, killing it on timeout.
fn run_with_timeout(mut cmd: Command, timeout: Duration, what: &str) -> Output {
    let dir = TestDir::new("tool-out");
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("create stdout file"))
        .stderr(fs::File::create(&err).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut child = KillOnDrop(child);
    let status = crate::common::try_wait_for(timeout, || child.0.try_wait().expect("try_wait"));
    let stdout = fs::read(&out).unwrap_or_default();
    let stderr = fs::read(&err).unwrap_or_default();
    match status {
        Some(status) => Output { status, stdout, stderr },
        None => panic!(
            "{what} did not finish within {timeout:?}; stdout:\n{}\nstderr:\n{}",
            crate::common::tail(&String::from_utf8_lossy(&stdout), 20),
            crate::common::tail(&String::from_utf8_lossy(&stderr), 20)
        ),
    }
}

/// The offset and GTID of the middle GTID event of `file` in `dir`.
fn middle_gtid(dir: &Path, file: &str) -> (u64, String) {
    let f = stored_file(dir, file);
    let gtids: Vec<_> = f.events.iter().filter(|e| e.info.type_code == MARIA_GTID_TYPE).collect();
    assert!(gtids.len() >= 4, "{file} has only {} GTIDs", gtids.len());
    let e = gtids[gtids.len() / 2];
    (e.info.offset as u64, e.gtid.as_ref().expect("a GTID event has a GTID").to_string())
}

/// Writes some history over three binlog files.
fn three_files_of_history(primary: &MariaDb) {
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 10);
}

/// The four python reads every stream test does: MariaDB mode from the
/// start with and without ANNOTATE_ROWS, MariaDB mode by GTID from the
/// middle of the second file, and MySQL mode by file and position.
fn python_reads(port: u16, dir: &Path, files: &[String], bls: Option<&Binlogserver>) {
    let context = || {
        bls.map(|b| format!("binlogserver log, last lines:\n{}", bls_log_excerpt(b, 40)))
            .unwrap_or_default()
    };
    let first = files[0].clone();
    let base = ReadOpts { mariadb: true, ..ReadOpts::new(port, REPL_USER, REPL_PASSWORD) };

    let read = read_events(&ReadOpts { annotate: true, ..base.clone() });
    assert_received(&read, dir, files, &Start::Position(first.clone(), 4), &[], true, &context);

    let read = read_events(&base);
    assert_received(
        &read,
        dir,
        files,
        &Start::Position(first, 4),
        &[ANNOTATE_ROWS_TYPE],
        true,
        &context,
    );

    let (offset, gtid) = middle_gtid(dir, &files[1]);
    let read = read_events(&ReadOpts { annotate: true, gtid: Some(gtid.clone()), ..base.clone() });
    let state = GtidState::parse(&gtid);
    assert_received(&read, dir, files, &Start::Gtid(state.clone()), &[], true, &context);
    assert!(
        read.events
            .iter()
            .filter_map(|e| e.gtid.as_deref())
            .all(|g| !state.contains(&parse_maria_gtid(g))),
        "a transaction up to {gtid} was sent to a client that has it"
    );

    // MySQL mode: COM_BINLOG_DUMP at a file and position, no annotations.
    let read = read_events(&ReadOpts {
        log_file: Some(files[1].clone()),
        log_pos: Some(offset),
        ..ReadOpts::new(port, REPL_USER, REPL_PASSWORD)
    });
    assert_received(
        &read,
        dir,
        files,
        &Start::Position(files[1].clone(), offset),
        &[ANNOTATE_ROWS_TYPE],
        true,
        &context,
    );
}

fn parse_maria_gtid(g: &str) -> crate::common::Gtid {
    let n: Vec<u64> = g.split('-').map(|x| x.parse().expect("GTID number")).collect();
    crate::common::Gtid::Maria {
        domain: u32::try_from(n[0]).expect("domain"),
        server: u32::try_from(n[1]).expect("server"),
        seq: n[2],
    }
}

// ---------------------------------------------------------------------------
// Harness self-tests: the same clients against the primary directly.
// ---------------------------------------------------------------------------

/// The replica helper: one semi-sync replica by GTID and one async replica
/// by file and position follow the primary directly through a concurrent
/// load and STOP/START SLAVE, and end with the primary's tables.
#[test]
fn harness_replica_follows_the_primary_directly() {
    let begin = Instant::now();
    let primary = MariaDb::primary(PrimaryOpts::default());
    mixed_workload(&primary, 20);
    let by_gtid = MariaDb::replica(ReplicaOpts { semi_sync: true, ..ReplicaOpts::default() });
    let by_pos = MariaDb::replica(ReplicaOpts { log_bin: true, ..ReplicaOpts::default() });
    assert_eq!(by_pos.sql("SELECT @@log_bin, @@log_slave_updates"), "1\t0");
    assert_eq!(by_gtid.sql("SELECT @@log_bin"), "0");
    assert_eq!(by_gtid.sql("SELECT @@rpl_semi_sync_slave_enabled"), "1");
    assert_eq!(by_pos.sql("SELECT @@rpl_semi_sync_slave_enabled"), "0");
    assert_ne!(by_gtid.server_id(), by_pos.server_id());
    assert!(by_gtid.slave_status().is_empty(), "no replication configured yet");
    for (replica, mode) in [(&by_gtid, UseGtid::SlavePos), (&by_pos, UseGtid::No)] {
        replica.replicate_from(primary.port(), mode);
    }
    wait_replica_caught_up(&primary, &by_gtid, CATCH_UP);
    wait_replica_caught_up(&primary, &by_pos, CATCH_UP);
    let st = by_gtid.slave_status();
    assert_eq!(st["Master_Port"], primary.port().to_string());
    assert_eq!(st["Using_Gtid"], "Slave_Pos");
    assert_eq!(by_pos.slave_status()["Using_Gtid"], "No");
    wait_until(CONNECT, "the semi-sync replica to register", || {
        primary.status_u64("Rpl_semi_sync_master_clients") == 1
    });
    assert_eq!(by_gtid.status_var("Rpl_semi_sync_slave_status"), "ON");

    let yes = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    let load = Load::start(&primary, 4);
    load_step(&load);
    primary.sql("FLUSH BINARY LOGS");
    for replica in [&by_gtid, &by_pos] {
        replica.stop_slave();
        assert_eq!(replica.slave_status()["Slave_IO_Running"], "No");
    }
    load_step(&load);
    for replica in [&by_gtid, &by_pos] {
        replica.start_slave();
    }
    load_step(&load);
    let acked = load.stop();
    assert!(
        primary.status_u64("Rpl_semi_sync_master_yes_tx") > yes,
        "the semi-sync replica acknowledged nothing"
    );
    wait_replica_caught_up(&primary, &by_gtid, CATCH_UP);
    wait_replica_caught_up(&primary, &by_pos, CATCH_UP);
    let rows: u64 = by_pos.sql("SELECT COUNT(*) FROM loadgen.t").parse().expect("count");
    assert_eq!(rows, acked, "every acknowledged commit reached the replica");
    let tables = assert_same_tables(&primary, &by_gtid);
    assert_eq!(assert_same_tables(&primary, &by_pos), tables);
    assert!(tables >= 3, "only {tables} tables compared");

    // And the comparison notices a difference (the panic messages printed
    // below are expected).
    eprintln!("--- two expected failures of the harness follow ---");
    by_pos.sql("SET SESSION sql_log_bin = 0; DELETE FROM loadgen.t ORDER BY id LIMIT 1");
    let caught = std::panic::catch_unwind(|| assert_same_tables(&primary, &by_pos));
    assert!(caught.is_err(), "a deleted row must make the tables differ");
    // And a replication error is reported at once, with its message.
    primary.sql("DELETE FROM loadgen.t ORDER BY id LIMIT 1");
    let caught = std::panic::catch_unwind(|| {
        wait_replica_caught_up(&primary, &by_pos, CATCH_UP);
    });
    let message = caught
        .err()
        .and_then(|e| e.downcast::<String>().ok())
        .expect("wait_replica_caught_up must fail on a replication error");
    assert!(
        message.contains("Last_SQL_Errno: 1032"),
        "the failure must name the SQL error:\n{message}"
    );
    eprintln!("replica harness self-test took {} ms", begin.elapsed().as_millis());
}

/// The python client and the stream comparison: python-mysql-replication
/// reading the primary directly receives exactly the primary's files.
#[test]
fn harness_python_reads_every_event_from_the_primary() {
    let begin = Instant::now();
    crate::common::venv_python();
    eprintln!("venv ready after {} ms", begin.elapsed().as_millis());
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    three_files_of_history(&primary);
    let files = binlog_names(&primary);
    assert_eq!(files.len(), 3);
    python_reads(primary.port(), primary.datadir(), &files, None);

    // The comparison notices a missing event and a changed one.
    let read = read_events(&ReadOpts {
        mariadb: true,
        annotate: true,
        ..ReadOpts::new(primary.port(), REPL_USER, REPL_PASSWORD)
    });
    let start = Start::Position(files[0].clone(), 4);
    let expected = expected_events(primary.datadir(), &files, &start, &[]);
    let mut events = read.events.clone();
    let at = events.iter().position(|e| e.type_code == 16).expect("an XID event");
    events.remove(at);
    let report = compare_stream(&events, &expected, &files[0], true).expect_err("missing XID");
    assert!(report.contains("differs"), "{report}");
    let mut events = read.events.clone();
    events[at].footer = events[at].footer.map(|f| f ^ 1);
    let report = compare_stream(&events, &expected, &files[0], true).expect_err("changed XID");
    assert!(report.contains("footer"), "{report}");
    let report = compare_stream(&read.events[..read.events.len() - 1], &expected, &files[0], true)
        .expect_err("a short stream");
    assert!(report.contains("missing"), "{report}");
    eprintln!("python harness self-test took {} ms", begin.elapsed().as_millis());
}

// ---------------------------------------------------------------------------
// Serving.
// ---------------------------------------------------------------------------

/// SHOW SLAVE HOSTS on binlogserver lists `server_id`.
fn wait_listed_in_slave_hosts(port: u16, bls: &Binlogserver, server_id: u32) {
    wait_until_ok(CONNECT, "SHOW SLAVE HOSTS on binlogserver to list the replica", || {
        bls.assert_running();
        let rows = bls_sql(port, "SHOW SLAVE HOSTS")?;
        if rows.lines().any(|l| l.split('\t').next() == Some(&server_id.to_string())) {
            Ok(())
        } else {
            Err(format!("SHOW SLAVE HOSTS returned {rows:?}"))
        }
    });
}

#[test]
fn mariadb_replica_via_binlogserver_file_pos() {
    let begin = Instant::now();
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 20);

    let replica = t.replica(ReplicaOpts::default(), UseGtid::No);
    let mut alive = || bls.assert_running();
    wait_replica_caught_up_checking(primary, &replica, CATCH_UP, &mut alive);
    wait_listed_in_slave_hosts(port, bls, replica.server_id());

    let load = Load::start(primary, 4);
    load_step(&load);
    primary.sql("FLUSH BINARY LOGS");
    load_step(&load);
    replica.stop_slave();
    load_step(&load);
    replica.start_slave();
    load_step(&load);
    let acked = load.stop();
    mixed_workload(primary, 10);

    wait_replica_caught_up_checking(primary, &replica, CATCH_UP, &mut alive);
    let st = replica.slave_status();
    assert_eq!(st["Using_Gtid"], "No", "{}", describe_slave_status(&st));
    assert_eq!(st["Master_Port"], port.to_string());
    let rows: u64 = replica.sql("SELECT COUNT(*) FROM loadgen.t").parse().expect("count");
    assert_eq!(rows, acked, "every acknowledged commit reached the replica");
    let tables = assert_same_tables(primary, &replica);
    assert!(tables >= 3, "only {tables} tables compared");
    wait_listed_in_slave_hosts(port, bls, replica.server_id());
    bls.assert_running();
    eprintln!(
        "file/pos replica via binlogserver: {acked} load commits, {tables} tables, {} ms",
        begin.elapsed().as_millis()
    );
}

#[test]
fn mariadb_replica_via_binlogserver_gtid_semi_sync() {
    let begin = Instant::now();
    // A timeout long enough that a slow machine never counts a late ACK as
    // a missing one (no_tx must not rise while binlogserver is up), short
    // enough that the load goes on soon after binlogserver is killed.
    let mut t =
        Topology::start(PrimaryOpts::default(), &[]).with_ack_timeout(Duration::from_secs(5));
    let (primary, port) = (&t.primary, t.port);
    mixed_workload(primary, 30);

    let replica =
        t.replica(ReplicaOpts { semi_sync: true, ..ReplicaOpts::default() }, UseGtid::SlavePos);
    wait_replica_caught_up_checking(primary, &replica, CATCH_UP, &mut || t.bls.assert_running());
    wait_until(CONNECT, "the replica's semi-sync to binlogserver to be ON", || {
        replica.status_var("Rpl_semi_sync_slave_status") == "ON"
    });

    let yes_start = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    let no_start = primary.status_u64("Rpl_semi_sync_master_no_tx");
    let load = Load::start(primary, 4);
    load_step(&load);
    // A semi-sync replica stops by killing its dump connection from a
    // second connection (KILL <id>).
    replica.stop_slave();
    let st = replica.slave_status();
    assert_eq!(st["Slave_IO_Running"], "No", "{}", describe_slave_status(&st));
    load_step(&load);
    replica.start_slave();
    load_step(&load);
    let no_before_kill = primary.status_u64("Rpl_semi_sync_master_no_tx");
    let yes_before_kill = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    assert_eq!(
        no_before_kill - no_start,
        0,
        "commits went without a semi-sync ACK while binlogserver was up (yes_tx +{})",
        yes_before_kill - yes_start
    );
    assert!(
        yes_before_kill - yes_start >= 2 * LOAD_STEP,
        "binlogserver acknowledged only {} commits",
        yes_before_kill - yes_start
    );

    // kill -9 binlogserver mid-load, and restart it on the same port.
    t.bls.kill9();
    wait_acked(&load, LOAD_STEP / 3);
    let again = follow_and_serve_at(primary, t.data.path(), port, &[], true);
    let killed = std::mem::replace(&mut t.bls, again);
    wait_semi_sync_client(primary, &t.bls);
    wait_until(CONNECT, "Rpl_semi_sync_master_status = ON again", || {
        t.bls.assert_running();
        primary.status_var("Rpl_semi_sync_master_status") == "ON"
    });
    let no_after_restart = primary.status_u64("Rpl_semi_sync_master_no_tx");
    let yes_after_restart = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    load_step(&load);
    // The replica reconnects on its own (MASTER_CONNECT_RETRY=1) and
    // registers with the new instance.
    wait_listed_in_slave_hosts(port, &t.bls, replica.server_id());
    wait_until_ok(CONNECT, "the replica to reconnect to binlogserver", || {
        t.bls.assert_running();
        let st = replica.slave_status();
        assert_replicating(&replica, &st);
        if st["Slave_IO_Running"] == "Yes" {
            Ok(())
        } else {
            Err(describe_slave_status(&st))
        }
    });
    load_step(&load);
    let acked = load.stop();
    let no_end = primary.status_u64("Rpl_semi_sync_master_no_tx");
    let yes_end = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    assert_eq!(
        no_end - no_after_restart,
        0,
        "commits went without a semi-sync ACK after binlogserver was back (yes_tx +{})",
        yes_end - yes_after_restart
    );
    assert!(
        yes_end - yes_after_restart >= LOAD_STEP,
        "the restarted binlogserver acknowledged only {} commits",
        yes_end - yes_after_restart
    );

    mixed_workload(primary, 10);
    wait_replica_caught_up_checking(primary, &replica, CATCH_UP, &mut || t.bls.assert_running());
    let st = replica.slave_status();
    assert_eq!(st["Using_Gtid"], "Slave_Pos", "{}", describe_slave_status(&st));
    let rows: u64 = replica.sql("SELECT COUNT(*) FROM loadgen.t").parse().expect("count");
    assert_eq!(rows, acked, "every acknowledged commit reached the replica");
    let tables = assert_same_tables(primary, &replica);
    assert!(tables >= 3, "only {tables} tables compared");
    wait_until(CONNECT, "the replica's semi-sync to binlogserver to be ON", || {
        replica.status_var("Rpl_semi_sync_slave_status") == "ON"
    });
    t.wait_caught_up(CATCH_UP);
    assert_same_binlogs(primary, t.data.path());
    t.bls.assert_running();
    drop(killed);
    eprintln!(
        "GTID semi-sync replica via binlogserver: {acked} load commits, yes_tx +{}, {tables} \
         tables, {} ms",
        yes_end - yes_start,
        begin.elapsed().as_millis()
    );
}

#[test]
fn mariadb_binlog_raw_copy_from_binlogserver_is_identical() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 20);
    // One event bigger than a 16 MiB protocol packet.
    big_row(primary, 20 << 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 10);
    t.wait_caught_up(CATCH_UP);

    let copy = TestDir::new("raw-copy");
    let first = binlog_names(primary)[0].clone();
    let out = run_with_timeout(
        mariadb_binlog_raw(port, copy.path(), &first, "--to-last-log"),
        Duration::from_secs(60),
        "mariadb-binlog --raw --to-last-log",
    );
    assert!(
        out.status.success(),
        "mariadb-binlog exited with {}: {}\nbinlogserver log tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        bls_log_excerpt(bls, 40)
    );
    assert_same_binlog_set(primary, copy.path());
    assert_same_binlogs(primary, copy.path());
    bls.assert_running();
}

#[test]
fn mariadb_binlog_stop_never_follows_new_writes() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 20);
    t.wait_caught_up(CATCH_UP);

    let copy = TestDir::new("raw-follow");
    let log = fs::File::create(copy.join("mariadb-binlog.log")).expect("create log");
    let first = binlog_names(primary)[0].clone();
    let child = mariadb_binlog_raw(port, copy.path(), &first, "--stop-never")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("spawn mariadb-binlog");
    let mut tool = KillOnDrop(child);
    let tool_log = || fs::read_to_string(copy.join("mariadb-binlog.log")).unwrap_or_default();
    let mut running = || {
        bls.assert_running();
        if let Some(status) = tool.0.try_wait().expect("try_wait") {
            panic!(
                "mariadb-binlog --stop-never exited with {status}: {}\nbinlogserver log tail:\n{}",
                tool_log(),
                bls_log_excerpt(bls, 40)
            );
        }
    };
    // It has the existing history...
    wait_until_ok(CATCH_UP, "mariadb-binlog to copy the existing binlog", || {
        running();
        crate::common::compare_binlogs(primary, copy.path())
    });
    // ...and follows new writes and rotations.
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 10);
    t.wait_caught_up(CATCH_UP);
    wait_until_ok(CATCH_UP, "mariadb-binlog to follow the new writes", || {
        running();
        crate::common::compare_binlogs(primary, copy.path())
    });
    assert_eq!(binlog_names(primary).len(), 3);
    assert_same_binlog_set(primary, copy.path());
    assert_same_binlogs(primary, copy.path());
    running();
}

#[test]
fn python_mysql_replication_reads_every_event() {
    crate::common::venv_python();
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    three_files_of_history(primary);
    t.wait_caught_up(CATCH_UP);
    let files = binlog_names(primary);
    assert_eq!(local_binlog_files(t.data.path()), files);
    python_reads(port, t.data.path(), &files, Some(bls));
    bls.assert_running();
}

/// One `mariadb` client process against binlogserver with `--force`, the
/// statements fed on stdin (with `-e` the client stops at the first error
/// even with `--force`): (stdout, stderr, success).
fn bls_session(port: u16, user: &str, password: &str, stmts: &str) -> (String, String, bool) {
    use std::io::Write as _;
    let mut child = bls_client(port, user, password)
        .arg("--force")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the mariadb client");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A write error means the client exited early; its stderr says why.
    let _ = stdin.write_all(stmts.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().expect("wait for the mariadb client");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn operator_statements() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 10);
    t.wait_caught_up(CATCH_UP);
    let q = |stmt: &str| {
        bls_sql(port, stmt).unwrap_or_else(|e| {
            panic!(
                "{stmt} failed on binlogserver: {e}\nbinlogserver log tail:\n{}",
                bls_log_excerpt(bls, 30)
            )
        })
    };

    assert_eq!(
        q("SHOW BINARY LOGS"),
        primary.sql("SHOW BINARY LOGS"),
        "SHOW BINARY LOGS: binlogserver vs the primary"
    );
    assert_eq!(
        q("SHOW MASTER STATUS"),
        primary.sql("SHOW MASTER STATUS"),
        "SHOW MASTER STATUS: binlogserver vs the primary"
    );
    assert_eq!(
        q("SELECT @@gtid_binlog_pos"),
        primary.sql("SELECT @@gtid_binlog_pos"),
        "@@gtid_binlog_pos: binlogserver vs the primary"
    );
    let version = q("SELECT VERSION()");
    assert!(version.starts_with("10.11"), "SELECT VERSION() = {version:?}");
    let value = |row: String| row.split('\t').nth(1).map(str::to_owned);
    assert_eq!(
        value(q("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'")),
        Some("CRC32".to_owned()),
        "SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'"
    );

    let status = run_vertical(crate::common::bls_repl_client(port), "SHOW SLAVE STATUS")
        .unwrap_or_else(|e| panic!("SHOW SLAVE STATUS failed on binlogserver: {e}"));
    let rows = vertical_rows(&status);
    assert_eq!(rows.len(), 1, "SHOW SLAVE STATUS:\n{status}");
    let st = &rows[0];
    assert_eq!(st.get("Master_Host").map(String::as_str), Some("127.0.0.1"), "{status}");
    assert_eq!(st.get("Master_Port").cloned(), Some(primary.port().to_string()), "{status}");
    assert_eq!(st.get("Slave_IO_Running").map(String::as_str), Some("Yes"), "{status}");

    // A wrong password: ERROR 1045.
    let (out, err, ok) = bls_session(port, REPL_USER, "wrong", "SELECT 1;\n");
    assert!(!ok, "a wrong password was accepted: {out}");
    assert!(err.contains("ERROR 1045"), "wrong password: {err}");

    // An unknown statement gets an error naming it, and the same connection
    // (no reconnect: --skip-reconnect) still answers.
    let (out, err, _) = bls_session(
        port,
        REPL_USER,
        REPL_PASSWORD,
        "SELECT 1;\nFROBNICATE THE WIDGETS;\nSELECT 2;\n",
    );
    assert!(
        err.contains("ERROR") && err.contains("FROBNICATE"),
        "the error must name the unknown statement: {err}"
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["1", "2"],
        "the connection must answer before and after the error; stderr: {err}"
    );
    bls.assert_running();
}
