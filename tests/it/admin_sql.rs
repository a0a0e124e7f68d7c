//! Administration over the SQL port (issue 10, items 1, 5 and 6), against
//! the real binary and real MariaDB 10.11 servers and clients: a
//! replication account gets MariaDB's ERR 1227 for every admin statement
//! (1095 for `KILL` of another user's connection) and nothing changes; an
//! admin account gets through (`PURGE`, `KILL`; without a primary, the
//! replication statements say there is none); `SHOW PROCESSLIST` lists a
//! `mariadb-binlog --stop-never` reader as `Binlog Dump` and the admin's
//! `KILL` of its id ends it.
//!
//! `STOP`/`START SLAVE` and `CHANGE MASTER` against a following
//! binlogserver need the replication controller; their end-to-end tests
//! are the failover tests'.

use crate::common::raw_client::{fixture_dir, login_response, serve_fixture, RawConn};
use crate::common::raw_client::{RAW_PASSWORD, RAW_USER};
use crate::common::{
    assert_dir_unchanged, bls_admin_sql, bls_client, bls_repl_client, bls_sql, client_output,
    mariadb_binlog_raw, mixed_workload, run_vertical, snapshot_dir, vertical_rows,
    wait_replica_caught_up, wait_until_ok, KillOnDrop, PrimaryOpts, ReplicaOpts, TestDir, Topology,
    UseGtid, ADMIN_ARGS, ADMIN_PASSWORD, ADMIN_USER,
};
use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

/// How long a reader may take to show up, or to go.
const WITHIN: Duration = Duration::from_secs(30);

const SLAVE_ADMIN: &str = "ERROR 1227 (42000) at line 1: Access denied; you need (at least one \
                           of) the SUPER, REPLICATION SLAVE ADMIN privilege(s) for this operation";
const RELOAD: &str = "ERROR 1227 (42000) at line 1: Access denied; you need (at least one of) the \
                      RELOAD privilege(s) for this operation";
const BINLOG_ADMIN: &str = "ERROR 1227 (42000) at line 1: Access denied; you need (at least one \
                            of) the SUPER, BINLOG ADMIN privilege(s) for this operation";

/// Every admin statement and the error MariaDB 10.11 gives an account
/// without the privilege (measured with the `mariadb` client).
const ADMIN_STATEMENTS: &[(&str, &str)] = &[
    ("STOP SLAVE", SLAVE_ADMIN),
    ("START SLAVE", SLAVE_ADMIN),
    ("STOP REPLICA", SLAVE_ADMIN),
    ("START REPLICA IO_THREAD", SLAVE_ADMIN),
    (
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3306, MASTER_USER='repl', \
         MASTER_PASSWORD='x', MASTER_LOG_FILE='mariadb-bin.000002', MASTER_LOG_POS=4",
        SLAVE_ADMIN,
    ),
    ("CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1'", SLAVE_ADMIN),
    ("RESET SLAVE", RELOAD),
    ("RESET REPLICA ALL", RELOAD),
    ("PURGE BINARY LOGS TO 'mariadb-bin.000001'", BINLOG_ADMIN),
];

/// A raw connection logged in as `user`; its connection id.
fn logged_in(port: u16, user: &str, password: &str) -> (RawConn, u32) {
    let mut conn = RawConn::connect(port);
    let g = conn.greeting();
    conn.write_packet(1, &login_response(user, password, &g.scramble));
    let (_, ok) = conn.read_packet().expect("the answer to the login");
    assert_eq!(ok.first(), Some(&0x00), "{user} could not log in: {ok:02x?}");
    (conn, g.connection_id)
}

#[test]
fn replication_accounts_get_1227_and_1095_and_admins_get_through() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &ADMIN_ARGS);
    let before = snapshot_dir(dir.path());
    let reader =
        |stmt: &str| client_output(bls_client(port, RAW_USER, RAW_PASSWORD).arg("-e").arg(stmt));
    for (stmt, want) in ADMIN_STATEMENTS {
        let err = reader(stmt).expect_err(stmt);
        assert!(err.ends_with(want), "{stmt}: got {err}\nwant {want}");
    }
    assert_dir_unchanged(&before, dir.path());

    // Serving a directory, binlogserver follows nothing: the admin learns so.
    for (stmt, _) in &ADMIN_STATEMENTS[..ADMIN_STATEMENTS.len() - 1] {
        let err = bls_admin_sql(port, stmt).expect_err(stmt);
        assert!(
            err.contains("ERROR 1200 (HY000)")
                && err.contains("without following a primary")
                && err.contains("restart it with -h"),
            "{stmt}: {err}"
        );
    }
    assert_eq!(bls_admin_sql(port, "PURGE BINARY LOGS TO 'mariadb-bin.000001'").unwrap(), "");
    assert_dir_unchanged(&before, dir.path());

    // KILL: one's own connections, or anyone's for an admin.
    let (mut admin, admin_id) = logged_in(port, ADMIN_USER, ADMIN_PASSWORD);
    let (_own, own_id) = logged_in(port, RAW_USER, RAW_PASSWORD);
    let err = reader(&format!("KILL {admin_id}")).expect_err("KILL of the admin");
    assert!(
        err.ends_with(&format!(
            "ERROR 1095 (HY000) at line 1: You are not owner of thread {admin_id}"
        )),
        "{err}"
    );
    reader(&format!("KILL {own_id}")).expect("KILL of one's own connection");
    let (_victim, victim_id) = logged_in(port, RAW_USER, RAW_PASSWORD);
    bls_admin_sql(port, &format!("KILL CONNECTION {victim_id}")).expect("the admin's KILL");
    // The admin connection lived through the refused KILL.
    admin.write_packet(0, &[0x0e]);
    assert_eq!(admin.read_packet().expect("a PING answer").1.first(), Some(&0x00));

    let log = bls.log();
    for needle in [
        "admin statement refused".to_owned(),
        format!("user={RAW_USER} host=127.0.0.1 statement=\"PURGE BINARY LOGS\" code=1227"),
        "kill refused id=".to_owned(),
        format!("user={ADMIN_USER} host=127.0.0.1 target={victim_id}"),
        format!("user={ADMIN_USER} host=127.0.0.1 to=mariadb-bin.000001 warnings=0"),
    ] {
        assert!(log.contains(&needle), "no {needle:?} in the log:\n{log}");
    }
    assert!(!log.contains("MASTER_PASSWORD='x'"), "a password in the log");
}

/// `SHOW PROCESSLIST` through the `mariadb` client as the admin or as
/// `repl`, one map per row.
fn processlist(port: u16, admin: bool) -> Vec<HashMap<String, String>> {
    let stmt = "SHOW PROCESSLIST";
    let out = if admin { bls_admin_sql(port, stmt) } else { bls_sql(port, stmt) };
    let out = out.expect("SHOW PROCESSLIST");
    let columns = ["Id", "User", "Host", "db", "Command", "Time", "State", "Info", "Progress"];
    out.lines()
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            assert_eq!(cells.len(), columns.len(), "row {line:?}");
            columns.iter().zip(cells).map(|(c, v)| ((*c).to_owned(), v.to_owned())).collect()
        })
        .collect()
}

#[test]
fn processlist_shows_a_binlog_dump_and_the_admins_kill_ends_it() {
    let t = Topology::start(PrimaryOpts::default(), &ADMIN_ARGS);
    mixed_workload(&t.primary, 5);
    t.wait_caught_up(WITHIN);
    let out = TestDir::new("reader");
    let child = mariadb_binlog_raw(t.port, out.path(), "mysql-bin.000001", "--stop-never")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mariadb-binlog");
    let mut reader = KillOnDrop(child);
    let waiting = "Master has sent all binlog to slave; waiting for more updates";
    let mut found = None;
    wait_until_ok(WITHIN, "the reader to wait at the end as a Binlog Dump", || {
        t.bls.assert_running();
        let rows = processlist(t.port, true);
        found =
            rows.iter().find(|r| r["Command"] == "Binlog Dump" && r["State"] == waiting).cloned();
        found.as_ref().map(drop).ok_or_else(|| format!("{rows:?}"))
    });
    let dump = found.expect("found");
    assert_eq!(dump["User"], "repl");
    assert!(dump["Host"].starts_with("127.0.0.1:"), "{dump:?}");
    assert_eq!((dump["Info"].as_str(), dump["Progress"].as_str()), ("NULL", "0.000"));

    let rows = processlist(t.port, true);
    let upstream = rows.iter().find(|r| r["User"] == "system user").expect("the upstream row");
    assert_eq!(
        (upstream["Command"].as_str(), upstream["State"].as_str()),
        ("Slave_IO", "Waiting for master to send event")
    );
    let me = rows.iter().find(|r| r["User"] == ADMIN_USER).expect("the admin's own row");
    assert_eq!((me["Command"].as_str(), me["Info"].as_str()), ("Query", "SHOW PROCESSLIST"));
    let mut ids: Vec<u64> = rows.iter().map(|r| r["Id"].parse().unwrap()).collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(ids, sorted, "rows by id");
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "ids are unique");

    // A replication account sees its own user's connections only.
    let own = processlist(t.port, false);
    assert!(own.iter().all(|r| r["User"] == "repl"), "{own:?}");
    assert!(own.iter().any(|r| r["Id"] == dump["Id"]), "{own:?}");

    bls_admin_sql(t.port, &format!("KILL {}", dump["Id"])).expect("KILL of the reader");
    wait_until_ok(WITHIN, "mariadb-binlog to end after the KILL", || {
        match reader.0.try_wait().expect("try_wait") {
            Some(_) => Ok(()),
            None => Err("still running".to_owned()),
        }
    });
    wait_until_ok(WITHIN, "the killed dump to leave the list", || {
        let rows = processlist(t.port, true);
        match rows.iter().any(|r| r["Id"] == dump["Id"]) {
            true => Err(format!("{rows:?}")),
            false => Ok(()),
        }
    });
    let log = t.bls.log();
    assert!(
        log.lines().any(|l| l.contains("kill id=")
            && l.contains(&format!("user={ADMIN_USER}"))
            && l.contains(&format!("target={}", dump["Id"]))),
        "no kill line in the log:\n{log}"
    );
}

/// The column names of vertical (`\G`) output, in order.
fn vertical_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("*****"))
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

#[test]
fn slave_status_reads_like_a_mariadb_replicas_and_follows_the_primary() {
    let mut t = Topology::start(PrimaryOpts::default(), &ADMIN_ARGS);
    mixed_workload(&t.primary, 5);
    t.wait_caught_up(WITHIN);
    // A real MariaDB 10.11 replica, for the columns a monitoring tool knows.
    let replica = t.replica(ReplicaOpts::default(), UseGtid::No);
    wait_replica_caught_up(&t.primary, &replica, WITHIN);
    for stmt in ["SHOW SLAVE STATUS", "SHOW ALL SLAVES STATUS"] {
        let theirs = vertical_names(&replica.sql_vertical(stmt));
        let ours = vertical_names(&run_vertical(bls_repl_client(t.port), stmt).expect(stmt));
        assert!(theirs.len() >= 54, "{stmt} on the replica: {theirs:?}");
        assert_eq!(ours[..theirs.len()], theirs[..], "{stmt}: ours {ours:?}");
        assert_eq!(ours[ours.len() - 4..], OUR_COLUMNS, "{stmt}: our columns come last");
    }

    let text = run_vertical(bls_repl_client(t.port), "SHOW SLAVE STATUS").expect("status");
    let st = vertical_rows(&text).pop().expect("one row");
    let (file, pos) = t.primary.master_status();
    let want = [
        ("Slave_IO_State", "Waiting for master to send event".to_owned()),
        ("Master_Host", "127.0.0.1".to_owned()),
        ("Master_User", "repl".to_owned()),
        ("Master_Port", t.primary.port().to_string()),
        ("Master_Log_File", file.clone()),
        ("Read_Master_Log_Pos", pos.to_string()),
        ("Exec_Master_Log_Pos", pos.to_string()),
        ("Slave_IO_Running", "Yes".to_owned()),
        ("Slave_SQL_Running", "Yes".to_owned()),
        ("Seconds_Behind_Master", "0".to_owned()),
        ("Last_IO_Errno", "0".to_owned()),
        ("Master_Server_Id", "1".to_owned()),
        ("Using_Gtid", "No".to_owned()),
        ("Gtid_IO_Pos", t.primary.gtid_binlog_pos()),
        ("Semi_Sync", "ON".to_owned()),
    ];
    for (name, value) in &want {
        assert_eq!(&st[*name], value, "{name} in\n{text}");
    }
    let semi = bls_sql(t.port, "SHOW STATUS LIKE 'Rpl_semi_sync_master_status'").unwrap();
    assert_eq!(semi, "Rpl_semi_sync_master_status\tOFF", "we ask our replicas for no ACK");

    // The primary is gone: binlogserver keeps trying, and says so.
    t.primary.stop();
    wait_until_ok(WITHIN, "Slave_IO_Running: Connecting", || {
        t.bls.assert_running();
        let text = run_vertical(bls_repl_client(t.port), "SHOW SLAVE STATUS")?;
        let st = vertical_rows(&text).pop().unwrap_or_default();
        let got: Vec<&str> =
            ["Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master", "Slave_IO_State"]
                .iter()
                .map(|n| st.get(*n).map_or("?", String::as_str))
                .collect();
        match got[..] {
            ["Connecting", "Yes", "NULL", "Connecting to master"] => Ok(()),
            _ => Err(format!("{got:?}")),
        }
    });
    let rows = processlist(t.port, true);
    let upstream = rows.iter().find(|r| r["User"] == "system user").expect("the upstream row");
    assert_eq!(
        (upstream["Command"].as_str(), upstream["State"].as_str()),
        ("Connect", "Connecting to master")
    );
}

/// binlogserver's own columns after MariaDB's.
const OUR_COLUMNS: [&str; 4] =
    ["Bytes_Behind_Master", "Semi_Sync", "Semi_Sync_Acks_Sent", "Semi_Sync_Warning"];
