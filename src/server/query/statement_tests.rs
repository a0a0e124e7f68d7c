//! Tests of the query evaluator, statement by statement: flavour
//! differences, the replication `SHOW`s, session values, `KILL`, refusals
//! and unknown statements. The fake server and the peer tables are in
//! `tests.rs`.

use super::tests::{check, rows, run, Expect, FakeInfo};
use super::*;

#[test]
fn semi_sync_not_offered_gives_an_empty_show_and_1193_to_select() {
    let info = FakeInfo { semi_sync: false, ..FakeInfo::mariadb() };
    let mut vars = SessionVars::new();
    let empty = Expect::NoRows(&["Variable_name", "Value"]);
    check("SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'", &mut vars, &info, &empty);
    check(
        "SHOW VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', \
         'rpl_semi_sync_source_enabled')",
        &mut vars,
        &info,
        &empty,
    );
    let mysql = FakeInfo { semi_sync: false, ..FakeInfo::mysql() };
    check("SELECT @@global.rpl_semi_sync_source_enabled", &mut vars, &mysql, &Expect::Err(1193));
    check("SELECT @@global.rpl_semi_sync_master_enabled", &mut vars, &mysql, &Expect::Err(1193));
}

#[test]
fn the_mysql_client_connect_statements_work() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    vars.set_account("repl", "127.0.0.1");
    check(
        "select @@version_comment limit 1",
        &mut vars,
        &info,
        &Expect::Row(&[("@@version_comment", Some("binlogserver"))]),
    );
    check(
        "SELECT DATABASE(), USER() LIMIT 1",
        &mut vars,
        &info,
        &Expect::Row(&[("DATABASE()", None), ("USER()", Some("repl@127.0.0.1"))]),
    );
    check("USE `information_schema`", &mut vars, &info, &Expect::Ok);
    check(
        "SELECT DATABASE()",
        &mut vars,
        &info,
        &Expect::Row(&[("DATABASE()", Some("information_schema"))]),
    );
    check(
        "SHOW DATABASES",
        &mut vars,
        &info,
        &Expect::Row(&[("Database", Some("information_schema"))]),
    );
    check("SHOW WARNINGS", &mut vars, &info, &Expect::NoRows(&["Level", "Code", "Message"]));
    check(
        "SELECT CONNECTION_ID()",
        &mut vars,
        &info,
        &Expect::Row(&[("CONNECTION_ID()", Some("13"))]),
    );
    check("/* ping */ SELECT 1", &mut vars, &info, &Expect::Row(&[("1", Some("1"))]));
}

#[test]
fn flavours_differ_in_binlog_and_replica_tables() {
    let mut vars = SessionVars::new();
    let (maria, mysql) = (FakeInfo::mariadb(), FakeInfo::mysql());
    let columns = |sql: &str, info: &FakeInfo, vars: &mut SessionVars| -> Vec<String> {
        rows(run(sql, vars, info)).columns.into_iter().map(|c| c.name).collect()
    };
    assert_eq!(columns("SHOW BINARY LOGS", &maria, &mut vars), ["Log_name", "File_size"]);
    assert_eq!(
        columns("SHOW MASTER LOGS", &mysql, &mut vars),
        ["Log_name", "File_size", "Encrypted"]
    );
    assert_eq!(
        rows(run("SHOW BINARY LOGS", &mut vars, &mysql)).rows[1],
        vec![Some("mysql-bin.000002".to_owned()), Some("5678".to_owned()), Some("No".to_owned())]
    );
    assert_eq!(columns("SHOW BINLOG STATUS", &maria, &mut vars).len(), 4);
    assert_eq!(columns("SHOW MASTER STATUS", &mysql, &mut vars).len(), 5);
    assert_eq!(
        columns("SHOW SLAVE HOSTS", &maria, &mut vars),
        ["Server_id", "Host", "Port", "Master_id"]
    );
    assert_eq!(
        columns("SHOW REPLICAS", &maria, &mut vars),
        ["Server_id", "Host", "Port", "Master_id"]
    );
    assert_eq!(
        columns("SHOW SLAVE HOSTS", &mysql, &mut vars),
        ["Server_id", "Host", "Port", "Master_id", "Slave_UUID"]
    );
    assert_eq!(
        columns("SHOW REPLICAS", &mysql, &mut vars),
        ["Server_Id", "Host", "Port", "Source_Id", "Replica_UUID"]
    );
    assert!(columns("SHOW REPLICA STATUS", &mysql, &mut vars)
        .contains(&"Replica_IO_Running".to_owned()));
    assert!(
        columns("SHOW REPLICA STATUS", &maria, &mut vars).contains(&"Slave_IO_Running".to_owned())
    );
}

#[test]
fn master_status_is_empty_without_binlogs() {
    let info = FakeInfo { master: None, ..FakeInfo::mariadb() };
    let mut vars = SessionVars::new();
    check(
        "SHOW MASTER STATUS",
        &mut vars,
        &info,
        &Expect::NoRows(&["File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"]),
    );
}

#[test]
fn slave_status_describes_our_upstream() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    let rs = rows(run("SHOW SLAVE STATUS", &mut vars, &info));
    let get = |name: &str| {
        let i = rs.columns.iter().position(|c| c.name == name).unwrap_or_else(|| panic!("{name}"));
        rs.rows[0][i].clone()
    };
    assert_eq!(get("Master_Host").as_deref(), Some("10.0.0.1"));
    assert_eq!(get("Read_Master_Log_Pos").as_deref(), Some("5678"));
    assert_eq!(get("Slave_IO_Running").as_deref(), Some("Yes"));
    assert_eq!(get("Slave_SQL_Running").as_deref(), Some("Yes"), "nothing to apply: following");
    assert_eq!(get("Seconds_Behind_Master").as_deref(), Some("7"));
    assert_eq!(get("Master_Server_Id").as_deref(), Some("23100"));
    assert_eq!(get("Gtid_IO_Pos").as_deref(), Some("0-23100-55"));
    assert_eq!(get("Semi_Sync").as_deref(), Some("ON"));
    assert_eq!(get("Semi_Sync_Acks_Sent").as_deref(), Some("42"));
    assert_eq!(get("Semi_Sync_Warning").as_deref(), Some(""));
    assert_eq!(rs.columns.last().unwrap().name, "Semi_Sync_Warning");
    let none = FakeInfo { upstream: None, ..FakeInfo::mariadb() };
    assert!(rows(run("SHOW SLAVE STATUS", &mut vars, &none)).rows.is_empty());
}

#[test]
fn show_status_reports_what_the_server_knows() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    check(
        "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_status'",
        &mut vars,
        &info,
        &Expect::Row(&[
            ("Variable_name", Some("Rpl_semi_sync_master_status")),
            ("Value", Some("OFF")),
        ]),
    );
    check(
        "SHOW STATUS LIKE 'slaves_connected'",
        &mut vars,
        &info,
        &Expect::Row(&[("Variable_name", Some("Slaves_connected")), ("Value", Some("1"))]),
    );
}

#[test]
fn show_status_includes_the_metrics() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    check(
        "SHOW GLOBAL STATUS LIKE 'binlogserver\\_upstream%'",
        &mut vars,
        &info,
        &Expect::Row(&[
            ("Variable_name", Some("Binlogserver_upstream_connected")),
            ("Value", Some("1")),
        ]),
    );
    check(
        "SHOW STATUS WHERE Variable_name = 'Binlogserver_fsync_duration_seconds_count'",
        &mut vars,
        &info,
        &Expect::Row(&[
            ("Variable_name", Some("Binlogserver_fsync_duration_seconds_count")),
            ("Value", Some("7")),
        ]),
    );
}

#[test]
fn session_values_show_up_in_select_and_show() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    check("SET SESSION sql_mode = 'ANSI'", &mut vars, &info, &Expect::Ok);
    check(
        "SELECT @@sql_mode, @@GLOBAL.sql_mode",
        &mut vars,
        &info,
        &Expect::Row(&[("@@sql_mode", Some("ANSI")), ("@@GLOBAL.sql_mode", Some(""))]),
    );
    check(
        "SHOW VARIABLES LIKE 'sql\\_mode'",
        &mut vars,
        &info,
        &Expect::Row(&[("Variable_name", Some("sql_mode")), ("Value", Some("ANSI"))]),
    );
    check(
        "SHOW GLOBAL VARIABLES LIKE 'sql_mode'",
        &mut vars,
        &info,
        &Expect::Row(&[("Variable_name", Some("sql_mode")), ("Value", Some(""))]),
    );
    check("SELECT @unset", &mut vars, &info, &Expect::Row(&[("@unset", None)]));
}

#[test]
fn like_filters_list_many_variables_in_name_order() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    let rs = rows(run("SHOW VARIABLES LIKE 'gtid%'", &mut vars, &info));
    let names: Vec<_> = rs.rows.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "gtid_binlog_pos",
            "gtid_current_pos",
            "gtid_domain_id",
            "gtid_slave_pos",
            "gtid_strict_mode"
        ]
    );
    let rs = rows(run(
        "SHOW VARIABLES WHERE Variable_name = 'server_id' OR Variable_name LIKE 'version%'",
        &mut vars,
        &info,
    ));
    assert_eq!(rs.rows.len(), 3);
}

#[test]
fn kill_of_an_unknown_thread_is_1094() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    vars.set_role(crate::server::Role::Admin);
    check("KILL CONNECTION 45", &mut vars, &info, &Expect::Ok);
    check("KILL QUERY 32", &mut vars, &info, &Expect::Ok);
    let Reply::Err(e) = run("KILL 7", &mut vars, &info) else { panic!("expected an error") };
    assert_eq!((e.code, e.message.as_str()), (1094, "Unknown thread id: 7"));
    check("KILL 99999999999", &mut vars, &info, &Expect::Err(1094));
    check("KILL me", &mut vars, &info, &Expect::Err(1064));
}

#[test]
fn writes_and_binlog_management_are_refused_with_1290() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    let Reply::Err(e) = run("FLUSH BINARY LOGS DELETE_DOMAIN_ID = (2)", &mut vars, &info) else {
        panic!()
    };
    assert_eq!(e.code, 1290);
    assert_eq!(
        e.message,
        "binlogserver does not support FLUSH BINARY LOGS: FLUSH BINARY LOGS DELETE_DOMAIN_ID = (2)"
    );
    for sql in [
        "RESET MASTER",
        "FLUSH BINARY LOGS",
        "INSERT INTO t VALUES (1)",
        "create table t (a int)",
        "CHANGE REPLICATION FILTER REPLICATE_DO_DB = (d)",
        "SHOW BINLOG EVENTS",
    ] {
        check(sql, &mut vars, &info, &Expect::Err(1290));
    }
}

#[test]
fn unknown_statements_are_1064_and_the_session_carries_on() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    let long = format!("EXPLAIN {}", "x".repeat(300));
    let Reply::Err(e) = run(&long, &mut vars, &info) else { panic!() };
    assert_eq!((e.code, &e.sql_state), (1064, b"42000"));
    assert!(
        e.message.starts_with("binlogserver does not understand: EXPLAIN xxx")
            && e.message.len() < 150,
        "{}",
        e.message
    );
    for sql in [
        "SHOW PROCESSLISTS",
        "SELECT 'unterminated",
        "SELECT 1; SELECT 2",
        "SHOW GLOBAL DATABASES",
        "DESCRIBE t",
    ] {
        check(sql, &mut vars, &info, &Expect::Err(1064));
    }
    check("   ", &mut vars, &info, &Expect::Err(1065));
    check("BEGIN", &mut vars, &info, &Expect::Ok);
    check("SELECT @@nonexistent", &mut vars, &info, &Expect::Err(1193));
    check("SELECT 1", &mut vars, &info, &Expect::Row(&[("1", Some("1"))]));
}

#[test]
fn evaluate_reads_the_clock() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    let rs = rows(evaluate("SELECT UNIX_TIMESTAMP()", &mut vars, &info));
    let now: u64 = rs.rows[0][0].as_deref().unwrap().parse().unwrap();
    assert!(now > 1_600_000_000, "{now}");
}

#[test]
fn purge_binary_logs_to_and_before() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    vars.set_role(crate::server::Role::Admin);
    check("PURGE BINARY LOGS TO 'mysql-bin.000002'", &mut vars, &info, &Expect::Ok);
    check("purge master logs to 'mysql-bin.000003';", &mut vars, &info, &Expect::Ok);
    let Reply::Err(e) = run("PURGE BINARY LOGS TO 'mysql-bin.000009'", &mut vars, &info) else {
        panic!()
    };
    assert_eq!((e.code, e.message.as_str()), (1373, "Target log not found in binlog index"));
    check("PURGE BINARY LOGS TO 'no/such file'", &mut vars, &info, &Expect::Err(1373));
    for sql in [
        "PURGE BINARY LOGS",
        "PURGE LOGS TO 'x.1'",
        "PURGE BINARY LOGS TO x",
        "PURGE BINARY LOGS BEFORE 'soon'",
        "PURGE BINARY LOGS TO 'a.1' now",
    ] {
        check(sql, &mut vars, &info, &Expect::Err(1064));
    }
}

#[test]
fn purge_before_reads_the_time_and_its_notes_are_warnings() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    vars.set_role(crate::server::Role::Admin);
    let note = |vars: &mut SessionVars, sql: &str| {
        assert_eq!(run(sql, vars, &info), Reply::Ok, "{sql}");
        let Reply::Rows(rs) = run("SHOW WARNINGS", vars, &info) else { panic!() };
        assert_eq!(rs.rows.len(), 1, "{sql}");
        rs.rows[0][2].clone().unwrap()
    };
    assert_eq!(note(&mut vars, "PURGE BINARY LOGS BEFORE '2026-11-23 22:15:47'"), "1795472147");
    assert_eq!(
        note(&mut vars, "PURGE BINARY LOGS BEFORE NOW() - INTERVAL 1 DAY"),
        (super::tests::NOW - 86_400).to_string()
    );
    check("SET time_zone = '+01:00'", &mut vars, &info, &Expect::Ok);
    assert_eq!(note(&mut vars, "PURGE MASTER LOGS BEFORE '2026-11-23 23:15:47'"), "1795472147");
    // The next statement clears them.
    check("SELECT 1", &mut vars, &info, &Expect::Row(&[("1", Some("1"))]));
    check("SHOW WARNINGS", &mut vars, &info, &Expect::NoRows(&["Level", "Code", "Message"]));
    check("SET time_zone = 'Europe/Paris'", &mut vars, &info, &Expect::Ok);
    check("PURGE BINARY LOGS BEFORE '2026-11-23 23:15:47'", &mut vars, &info, &Expect::Err(1298));
}

#[test]
fn retention_variables_are_zero_when_off() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    check(
        "SELECT @@binlog_expire_logs_seconds",
        &mut vars,
        &info,
        &Expect::Row(&[("@@binlog_expire_logs_seconds", Some("0"))]),
    );
    check(
        "SELECT @@global.expire_logs_days",
        &mut vars,
        &info,
        &Expect::Row(&[("@@global.expire_logs_days", Some("0.000000"))]),
    );
    check(
        "SELECT @@max_binlog_total_size",
        &mut vars,
        &info,
        &Expect::Row(&[("@@max_binlog_total_size", Some("0"))]),
    );
    check("SELECT @@max_binlog_total_size", &mut vars, &FakeInfo::mysql(), &Expect::Err(1193));
}
