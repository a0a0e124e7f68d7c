//! Tests of the admin statements against a fake replication control that
//! records its calls: every spelling reaches the right call with the right
//! `ChangeMaster`, the control's answers become MariaDB's OK notes and
//! ERRs, options binlogserver does not take and accounts without the
//! privilege are refused before the control is called; `KILL` ownership,
//! password hiding, `SHOW PROCESSLIST` and `SHOW SLAVE STATUS` columns.

use super::tests::{check, rows, run, Call, Expect, FakeControl, FakeInfo};
use super::*;
use crate::server::Role;
use crate::status::control::{ChangeMaster, ControlError};
use crate::status::IoState;
use std::time::Duration;

/// A session of `user` with `role`, and a fresh server with a fake control.
fn session(role: Role) -> (SessionVars, FakeInfo) {
    let mut vars = SessionVars::new();
    vars.set_account(if role == Role::Admin { "ops" } else { "repl" }, "10.0.0.9");
    vars.set_role(role);
    (vars, FakeInfo::mariadb())
}

fn control(info: &FakeInfo) -> &FakeControl {
    info.control.as_deref().unwrap()
}

fn err(sql: &str, vars: &mut SessionVars, info: &FakeInfo) -> ErrPacket {
    match run(sql, vars, info) {
        Reply::Err(e) => e,
        other => panic!("{sql}: expected an ERR, got {other:?}"),
    }
}

fn warnings(vars: &mut SessionVars, info: &FakeInfo) -> Vec<(String, String, String)> {
    rows(run("SHOW WARNINGS", vars, info))
        .rows
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap()))
        .collect()
}

#[test]
fn every_spelling_of_start_stop_and_reset_makes_its_call() {
    let cases: &[(&str, Call)] = &[
        ("START SLAVE", Call::Start),
        ("STOP SLAVE", Call::Stop),
        ("start replica;", Call::Start),
        ("STOP REPLICA", Call::Stop),
        ("START SLAVE IO_THREAD", Call::Start),
        ("STOP SLAVE '' IO_THREAD, SQL_THREAD", Call::Stop),
        ("START SLAVE SQL_THREAD, IO_THREAD FOR CHANNEL ''", Call::Start),
        ("STOP REPLICA IO_THREAD FOR CHANNEL ''", Call::Stop),
        ("RESET SLAVE", Call::Reset { all: false }),
        ("RESET REPLICA", Call::Reset { all: false }),
        ("RESET SLAVE ALL", Call::Reset { all: true }),
        ("reset slave '' all", Call::Reset { all: true }),
        ("RESET REPLICA ALL FOR CHANNEL ''", Call::Reset { all: true }),
    ];
    for (sql, call) in cases {
        let (mut vars, info) = session(Role::Admin);
        check(sql, &mut vars, &info, &Expect::Ok);
        assert_eq!(control(&info).calls(), std::slice::from_ref(call), "{sql}");
        let (_, by) = control(&info).calls.lock().unwrap()[0].clone();
        assert_eq!((by.user.as_str(), by.host.as_str(), by.connection_id), ("ops", "10.0.0.9", 13));
    }
}

#[test]
fn change_master_and_change_replication_source_give_the_same_change() {
    let want = ChangeMaster {
        host: Some("db2".into()),
        port: Some(3306),
        user: Some("repl".into()),
        password: Some("p'w".into()),
        log_file: Some("mysql-bin.000124".into()),
        log_pos: Some(4),
        heartbeat_period: Some(Duration::from_millis(1500)),
        connect_retry: Some(Duration::from_secs(10)),
        ..ChangeMaster::default()
    };
    for sql in [
        "CHANGE MASTER TO MASTER_HOST='db2', MASTER_PORT=3306, MASTER_USER='repl', \
         MASTER_PASSWORD='p''w', MASTER_LOG_FILE='mysql-bin.000124', MASTER_LOG_POS=4, \
         MASTER_HEARTBEAT_PERIOD=1.5, MASTER_CONNECT_RETRY=10",
        "change replication source to source_host = 'db2', source_port = 3306, \
         source_user = 'repl', source_password = 'p\\'w', source_log_file = \
         'mysql-bin.000124', source_log_pos = 4, source_heartbeat_period = 15e-1, \
         source_connect_retry = 10 for channel ''",
        "CHANGE MASTER '' TO MASTER_HOST='old', MASTER_PORT=3306, MASTER_USER='repl', \
         MASTER_PASSWORD='p''w', MASTER_LOG_FILE='mysql-bin.000124', MASTER_LOG_POS=4, \
         MASTER_HEARTBEAT_PERIOD=1.5, MASTER_CONNECT_RETRY=10, MASTER_HOST='db2';",
    ] {
        let (mut vars, info) = session(Role::Admin);
        check(sql, &mut vars, &info, &Expect::Ok);
        assert_eq!(control(&info).calls(), [Call::Change(Box::new(want.clone()))], "{sql}");
    }
    let (mut vars, info) = session(Role::Admin);
    check("CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000124'", &mut vars, &info, &Expect::Ok);
    let only_file =
        ChangeMaster { log_file: Some("mysql-bin.000124".into()), ..Default::default() };
    assert_eq!(
        control(&info).calls(),
        [Call::Change(Box::new(only_file))],
        "unset options stay None"
    );
}

#[test]
fn already_running_or_stopped_is_ok_with_mariadbs_notes() {
    let (mut vars, info) = session(Role::Admin);
    check("START SLAVE", &mut vars, &info, &Expect::Ok);
    assert!(warnings(&mut vars, &info).is_empty());
    check("START SLAVE", &mut vars, &info, &Expect::Ok);
    let note = |code: &str, text: &str| vec![("Note".into(), code.into(), text.into())];
    assert_eq!(warnings(&mut vars, &info), note("1254", "Slave is already running"));
    check("STOP SLAVE", &mut vars, &info, &Expect::Ok);
    check("STOP SLAVE", &mut vars, &info, &Expect::Ok);
    assert_eq!(warnings(&mut vars, &info), note("1255", "Slave already has been stopped"));
    // The SQL thread alone: nothing to do, and a note that says so.
    check("STOP SLAVE SQL_THREAD", &mut vars, &info, &Expect::Ok);
    let w = warnings(&mut vars, &info);
    assert!(w.len() == 1 && w[0].2.contains("has no SQL thread"), "{w:?}");
    assert_eq!(control(&info).calls().len(), 4, "SQL_THREAD alone calls nothing");
}

#[test]
fn control_errors_become_their_mariadb_errs() {
    let (mut vars, info) = session(Role::Admin);
    check("START SLAVE", &mut vars, &info, &Expect::Ok);
    let e = err("CHANGE MASTER TO MASTER_HOST='db2'", &mut vars, &info);
    assert_eq!((e.code, &e.sql_state), (1198, b"HY000"));
    assert_eq!(
        e.message,
        "This operation cannot be performed as you have a running slave ''; run STOP SLAVE '' \
         first"
    );
    assert_eq!(err("RESET SLAVE ALL", &mut vars, &info).code, 1198);
    let refusals = [
        (ControlError::NotConfigured, 1200, "Misconfigured slave: MASTER_HOST was not set"),
        (ControlError::WrongArguments("MASTER_LOG_POS must be 4".into()), 1210, "must be 4"),
        (ControlError::SwitchRefused("lacks 0-1-42".into()), 1236, "lacks 0-1-42"),
        (ControlError::Storage("disk full".into()), 1105, "disk full"),
    ];
    for (error, code, text) in refusals {
        *control(&info).fail.lock().unwrap() = Some(error);
        for sql in ["START SLAVE", "STOP SLAVE", "CHANGE MASTER TO MASTER_PORT=1", "RESET SLAVE"] {
            let e = err(sql, &mut vars, &info);
            assert!(e.code == code && e.message.contains(text), "{sql}: {e}");
        }
    }
}

#[test]
fn without_a_control_every_admin_statement_says_why() {
    let (mut vars, mut info) = session(Role::Admin);
    info.control = None;
    info.upstream = None;
    for sql in ["STOP SLAVE", "START REPLICA", "CHANGE MASTER TO MASTER_HOST='x'", "RESET SLAVE"] {
        let e = err(sql, &mut vars, &info);
        assert_eq!(e.code, 1200, "{sql}");
        assert!(e.message.contains("follows no primary"), "{sql}: {e}");
    }
}

#[test]
fn change_master_takes_the_master_ssl_options() {
    let want = ChangeMaster {
        ssl: Some(true),
        ssl_ca: Some("/etc/ca.pem".into()),
        ssl_cert: Some("/etc/c.pem".into()),
        ssl_key: Some("/etc/c.key".into()),
        ssl_verify_server_cert: Some(false),
        ..ChangeMaster::default()
    };
    let sql = "CHANGE MASTER TO MASTER_SSL=1, MASTER_SSL_CA='/etc/ca.pem', \
               MASTER_SSL_CERT='/etc/c.pem', MASTER_SSL_KEY='/etc/c.key', \
               MASTER_SSL_VERIFY_SERVER_CERT=0";
    let (mut vars, info) = session(Role::Admin);
    check(sql, &mut vars, &info, &Expect::Ok);
    assert_eq!(control(&info).calls(), vec![Call::Change(Box::new(want))]);
}

#[test]
fn change_master_takes_the_public_key_options_in_both_spellings() {
    let key = |path: &str, get: bool| ChangeMaster {
        public_key_path: Some(path.into()),
        get_public_key: Some(get),
        ..ChangeMaster::default()
    };
    let cases = [
        ("CHANGE MASTER TO MASTER_PUBLIC_KEY_PATH='/k', GET_MASTER_PUBLIC_KEY=1", key("/k", true)),
        ("CHANGE MASTER TO master_public_key_path='', get_master_public_key=0", key("", false)),
        ("CHANGE MASTER TO SOURCE_PUBLIC_KEY_PATH='/k', GET_SOURCE_PUBLIC_KEY=1", key("/k", true)),
        ("CHANGE MASTER TO GET_SOURCE_PUBLIC_KEY=0, SOURCE_PUBLIC_KEY_PATH='/s'", key("/s", false)),
    ];
    for (sql, want) in cases {
        let (mut vars, info) = session(Role::Admin);
        check(sql, &mut vars, &info, &Expect::Ok);
        assert_eq!(control(&info).calls(), vec![Call::Change(Box::new(want))], "{sql}");
    }
    let (mut vars, info) = session(Role::Admin);
    for (sql, code) in [
        ("CHANGE MASTER TO GET_MASTER_PUBLIC_KEY=2", 1210),
        ("CHANGE REPLICATION SOURCE TO GET_SOURCE_PUBLIC_KEY=7", 1210),
        ("CHANGE MASTER TO GET_MASTER_PUBLIC_KEY='1'", 1064),
        ("CHANGE MASTER TO MASTER_PUBLIC_KEY_PATH=1", 1064),
    ] {
        assert_eq!(err(sql, &mut vars, &info).code, code, "{sql}");
    }
    let e = err("CHANGE MASTER TO GET_SOURCE_PUBLIC_KEY=2", &mut vars, &info);
    assert_eq!(e.message, "Incorrect arguments to GET_SOURCE_PUBLIC_KEY");
    let e = err("CHANGE MASTER TO MASTER_SSL_CRLPATH='/c'", &mut vars, &info);
    assert!(e.message.contains("MASTER_PUBLIC_KEY_PATH and GET_MASTER_PUBLIC_KEY"), "{e}");
    assert!(control(&info).calls().is_empty(), "{:?}", control(&info).calls());
}

#[test]
fn options_binlogserver_does_not_take_are_refused_by_name_before_any_call() {
    let (mut vars, info) = session(Role::Admin);
    let refused = [
        ("CHANGE MASTER TO MASTER_HOST='db2', MASTER_USE_GTID=slave_pos", "MASTER_USE_GTID"),
        ("CHANGE MASTER TO MASTER_SSL_CIPHER='AES256-SHA'", "MASTER_SSL_CIPHER"),
        ("CHANGE MASTER TO MASTER_SSL_CRL='/crl.pem', MASTER_HOST='db2'", "MASTER_SSL_CRL"),
        ("CHANGE MASTER TO MASTER_DELAY=3600", "MASTER_DELAY"),
        ("CHANGE MASTER TO IGNORE_SERVER_IDS=(1, 2)", "IGNORE_SERVER_IDS"),
        ("CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1", "SOURCE_AUTO_POSITION"),
        ("CHANGE MASTER TO MASTER_BIND='10.0.0.1'", "MASTER_BIND"),
    ];
    for (sql, named) in refused {
        let e = err(sql, &mut vars, &info);
        assert!(
            e.code == 1290
                && e.message.contains("binlogserver does not support")
                && e.message.contains(named),
            "{sql}: {e}"
        );
    }
    let syntax = [
        ("CHANGE MASTER TO", 1064),
        ("CHANGE MASTER TO MASTER_PORT='3306'", 1064),
        ("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=-1", 1064),
        ("CHANGE MASTER TO MASTER_HOST='a' MASTER_PORT=1", 1064),
        ("CHANGE MASTER MASTER_HOST='a'", 1064),
        ("CHANGE MASTER TO MASTER_PORT=0", 1210),
        ("CHANGE MASTER TO MASTER_PORT=70000", 1210),
        ("CHANGE MASTER TO MASTER_HOST=''", 1210),
        ("CHANGE MASTER TO MASTER_CONNECT_RETRY=0", 1210),
        ("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=5000000", 1624),
        ("START SLAVE UNTIL MASTER_LOG_FILE='a.1', MASTER_LOG_POS=4", 1290),
        ("START REPLICA USER='u' PASSWORD='p'", 1290),
        ("START SLAVE IO_THREAD,", 1064),
        ("STOP SLAVE NOW", 1064),
        ("RESET SLAVE EVERYTHING", 1064),
    ];
    for (sql, code) in syntax {
        assert_eq!(err(sql, &mut vars, &info).code, code, "{sql}");
    }
    let e = err("CHANGE MASTER TO MASTER_PORT=0", &mut vars, &info);
    assert_eq!(e.message, "Incorrect arguments to MASTER_PORT");
    assert!(control(&info).calls().is_empty(), "{:?}", control(&info).calls());
}

#[test]
fn a_heartbeat_below_a_millisecond_is_zero_with_mariadbs_warning() {
    let (mut vars, info) = session(Role::Admin);
    check("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=0.0001", &mut vars, &info, &Expect::Ok);
    let w = warnings(&mut vars, &info);
    assert!(w.len() == 1 && w[0].0 == "Warning" && w[0].1 == "1703", "{w:?}");
    check("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=0", &mut vars, &info, &Expect::Ok);
    let zero = ChangeMaster { heartbeat_period: Some(Duration::ZERO), ..Default::default() };
    assert_eq!(
        control(&info).calls(),
        [Call::Change(Box::new(zero.clone())), Call::Change(Box::new(zero))]
    );
}

#[test]
fn other_connection_names_do_not_exist() {
    let (mut vars, info) = session(Role::Admin);
    for sql in [
        "CHANGE MASTER 'x' TO MASTER_HOST='db2'",
        "START SLAVE 'x'",
        "STOP REPLICA FOR CHANNEL 'x'",
        "RESET SLAVE 'x' ALL",
        "SHOW SLAVE 'x' STATUS",
        "SHOW REPLICA STATUS FOR CHANNEL 'x'",
    ] {
        let e = err(sql, &mut vars, &info);
        assert!(
            e.code == 1617 && e.message.starts_with("There is no master connection 'x'"),
            "{sql}: {e}"
        );
    }
    assert!(control(&info).calls().is_empty());
    assert_eq!(rows(run("SHOW SLAVE '' STATUS", &mut vars, &info)).rows.len(), 1);
}

#[test]
fn replication_accounts_get_1227_before_the_control_is_called() {
    let (mut vars, info) = session(Role::Replication);
    let slave_admin = "Access denied; you need (at least one of) the SUPER, REPLICATION SLAVE \
                       ADMIN privilege(s) for this operation";
    for (sql, text) in [
        ("STOP SLAVE", slave_admin),
        ("START REPLICA", slave_admin),
        ("START ALL SLAVES", slave_admin),
        ("CHANGE MASTER TO MASTER_HOST='db2'", slave_admin),
        ("CHANGE REPLICATION SOURCE TO SOURCE_HOST='db2'", slave_admin),
        ("CHANGE MASTER garbage", slave_admin),
        (
            "RESET SLAVE ALL",
            "Access denied; you need (at least one of) the RELOAD privilege(s) for this operation",
        ),
        (
            "PURGE BINARY LOGS TO 'mysql-bin.000002'",
            "Access denied; you need (at least one of) the SUPER, BINLOG ADMIN privilege(s) \
             for this operation",
        ),
    ] {
        let e = err(sql, &mut vars, &info);
        assert_eq!((e.code, &e.sql_state, e.message.as_str()), (1227, b"42000", text), "{sql}");
    }
    assert!(control(&info).calls().is_empty());
    // What replication accounts may do still works.
    assert_eq!(rows(run("SHOW SLAVE STATUS", &mut vars, &info)).rows.len(), 1);
    check("RESET MASTER", &mut vars, &info, &Expect::Err(1290));
}

#[test]
fn kill_is_for_ones_own_connections_unless_admin() {
    let (mut vars, info) = session(Role::Replication);
    check("KILL 32", &mut vars, &info, &Expect::Ok);
    check("KILL CONNECTION 45", &mut vars, &info, &Expect::Ok);
    let e = err("KILL 51", &mut vars, &info);
    assert_eq!((e.code, e.message.as_str()), (1095, "You are not owner of thread 51"));
    assert_eq!(err("KILL QUERY 2", &mut vars, &info).code, 1095, "the upstream is nobody's");
    assert_eq!(err("KILL 999", &mut vars, &info).code, 1094);
    let (mut admin, info) = session(Role::Admin);
    check("KILL 51", &mut admin, &info, &Expect::Ok);
    let e = err("KILL 2", &mut admin, &info);
    assert!(e.code == 1290 && e.message.contains("use STOP SLAVE"), "{e}");
}

#[test]
fn passwords_are_hidden_from_logs_and_the_processlist() {
    let cases = [
        (
            "CHANGE MASTER TO MASTER_HOST='db2', MASTER_PASSWORD='s3cret', MASTER_PORT=1",
            "CHANGE MASTER TO MASTER_HOST='db2', MASTER_PASSWORD='<hidden>', MASTER_PORT=1",
        ),
        (
            "change replication source to source_password = \"a'b\"",
            "change replication source to source_password = '<hidden>'",
        ),
        ("START REPLICA PASSWORD='pw'", "START REPLICA PASSWORD='<hidden>'"),
        ("SET PASSWORD = PASSWORD('pw')", "SET PASSWORD = PASSWORD('<hidden>')"),
        ("CREATE USER u IDENTIFIED BY 'pw'", "CREATE USER u IDENTIFIED BY '<hidden>'"),
        ("SELECT 'password'", "SELECT 'password'"),
        ("CHANGE MASTER TO MASTER_PASSWORD='unterminated", "<statement hidden: it mentions"),
    ];
    for (sql, shown) in cases {
        let got = redacted(sql);
        assert!(got.starts_with(shown), "{sql}: {got}");
        assert!(!got.contains("s3cret") && !got.contains("pw'") && !got.contains("a'b"), "{got}");
    }
}

#[test]
fn processlist_shows_mariadbs_columns_and_each_account_its_own() {
    let (mut vars, mut info) = session(Role::Replication);
    let rs = rows(run("SHOW PROCESSLIST", &mut vars, &info));
    let names: Vec<&str> = rs.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Id", "User", "Host", "db", "Command", "Time", "State", "Info", "Progress"]);
    let types: Vec<u8> = rs.columns.iter().map(|c| c.column_type).collect();
    assert_eq!(types, [8, 253, 253, 253, 253, 3, 253, 253, 5]);
    let ids: Vec<&str> = rs.rows.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(ids, ["13", "32", "45"], "a replication account sees its own user's");
    assert_eq!(
        rs.rows[1],
        [
            Some("32"),
            Some("repl"),
            Some("127.0.0.1:40032"),
            None,
            Some("Binlog Dump"),
            Some("32"),
            Some("Master has sent all binlog to slave; waiting for more updates"),
            None,
            Some("0.000"),
        ]
        .map(|c| c.map(str::to_owned))
    );
    let (mut admin, _) = session(Role::Admin);
    let long = format!("SELECT '{}'", "x".repeat(200));
    info.processes[1].info = Some(long.clone());
    let rs = rows(run("SHOW PROCESSLIST", &mut admin, &info));
    let ids: Vec<&str> = rs.rows.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(ids, ["2", "13", "32", "45", "51"], "an admin sees everyone and the upstream");
    assert_eq!(rs.rows[0][1].as_deref(), Some("system user"));
    assert_eq!(rs.rows[0][4].as_deref(), Some("Slave_IO"));
    assert_eq!(rs.rows[1][7].as_deref().map(str::len), Some(100), "Info cut to 100");
    let rs = rows(run("SHOW FULL PROCESSLIST", &mut admin, &info));
    assert_eq!(rs.rows[1][7].as_deref(), Some(long.as_str()));
}

/// MariaDB 10.11's `SHOW SLAVE STATUS` columns, in order (measured).
const MARIADB_COLUMNS: &str = "Slave_IO_State Master_Host Master_User Master_Port Connect_Retry \
    Master_Log_File Read_Master_Log_Pos Relay_Log_File Relay_Log_Pos Relay_Master_Log_File \
    Slave_IO_Running Slave_SQL_Running Replicate_Do_DB Replicate_Ignore_DB Replicate_Do_Table \
    Replicate_Ignore_Table Replicate_Wild_Do_Table Replicate_Wild_Ignore_Table Last_Errno \
    Last_Error Skip_Counter Exec_Master_Log_Pos Relay_Log_Space Until_Condition Until_Log_File \
    Until_Log_Pos Master_SSL_Allowed Master_SSL_CA_File Master_SSL_CA_Path Master_SSL_Cert \
    Master_SSL_Cipher Master_SSL_Key Seconds_Behind_Master Master_SSL_Verify_Server_Cert \
    Last_IO_Errno Last_IO_Error Last_SQL_Errno Last_SQL_Error Replicate_Ignore_Server_Ids \
    Master_Server_Id Master_SSL_Crl Master_SSL_Crlpath Using_Gtid Gtid_IO_Pos \
    Replicate_Do_Domain_Ids Replicate_Ignore_Domain_Ids Parallel_Mode SQL_Delay \
    SQL_Remaining_Delay Slave_SQL_Running_State Slave_DDL_Groups Slave_Non_Transactional_Groups \
    Slave_Transactional_Groups Replicate_Rewrite_DB";

const OUR_COLUMNS: [&str; 4] =
    ["Bytes_Behind_Master", "Semi_Sync", "Semi_Sync_Acks_Sent", "Semi_Sync_Warning"];

fn column_names(sql: &str, info: &FakeInfo) -> Vec<String> {
    let mut vars = SessionVars::new();
    rows(run(sql, &mut vars, info)).columns.into_iter().map(|c| c.name).collect()
}

#[test]
fn slave_status_has_mariadbs_columns_in_order_and_ours_after() {
    let info = FakeInfo::mariadb();
    let mut want: Vec<&str> = MARIADB_COLUMNS.split_whitespace().collect();
    assert_eq!(want.len(), 54);
    want.extend(OUR_COLUMNS);
    assert_eq!(column_names("SHOW SLAVE STATUS", &info), want);
    assert_eq!(column_names("SHOW REPLICA STATUS", &info), want);
    let all = column_names("SHOW ALL SLAVES STATUS", &info);
    assert_eq!(all[..2], ["Connection_name", "Slave_SQL_State"]);
    assert_eq!(all[2..56], want[..54]);
    assert_eq!(
        all[56..62],
        [
            "Retried_transactions",
            "Max_relay_log_size",
            "Executed_log_entries",
            "Slave_received_heartbeats",
            "Slave_heartbeat_period",
            "Gtid_Slave_Pos"
        ]
    );
    assert_eq!(all[62..], OUR_COLUMNS);
    let mysql = column_names("SHOW REPLICA STATUS", &FakeInfo::mysql());
    assert_eq!(
        mysql[..40],
        want[..40].iter().map(|n| slave_status::replica_name(n)).collect::<Vec<_>>()[..]
    );
    assert!(mysql.contains(&"Retrieved_Gtid_Set".to_owned()), "{mysql:?}");
    let ours: Vec<String> = OUR_COLUMNS.iter().map(|n| slave_status::replica_name(n)).collect();
    assert_eq!(mysql[mysql.len() - 4..], ours, "Bytes_Behind_Source, like Seconds_Behind_Source");
}

#[test]
fn slave_status_values_follow_the_io_state() {
    let mut info = FakeInfo::mariadb();
    let get = |info: &FakeInfo, sql: &str, name: &str| {
        let mut vars = SessionVars::new();
        let rs = rows(run(sql, &mut vars, info));
        let i = rs.columns.iter().position(|c| c.name == name).unwrap();
        rs.rows[0][i].clone()
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        get(&info, "SHOW SLAVE STATUS", "Slave_IO_State"),
        s("Waiting for master to send event")
    );
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Using_Gtid"), s("No"));
    assert_eq!(get(&info, "SHOW ALL SLAVES STATUS", "Connection_name"), s(""));
    let up = info.upstream.as_mut().unwrap();
    up.io = IoState::Connecting;
    up.heartbeat_period = Duration::from_millis(1500);
    up.last_io_errno = 2003;
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Slave_IO_Running"), s("Connecting"));
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Slave_SQL_Running"), s("Yes"));
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Seconds_Behind_Master"), None);
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Last_IO_Errno"), s("2003"));
    assert_eq!(get(&info, "SHOW ALL SLAVES STATUS", "Slave_heartbeat_period"), s("1.500"));
    let mut mysql = FakeInfo::mysql();
    let up = mysql.upstream.as_mut().unwrap();
    up.public_key_path = "/etc/k.pem".into();
    up.get_public_key = true;
    assert_eq!(get(&mysql, "SHOW REPLICA STATUS", "Source_public_key_path"), s("/etc/k.pem"));
    assert_eq!(get(&mysql, "SHOW REPLICA STATUS", "Get_Source_public_key"), s("1"));
    assert!(!column_names("SHOW SLAVE STATUS", &info).iter().any(|c| c.contains("public_key")));
    info.upstream.as_mut().unwrap().io = IoState::No;
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Slave_IO_Running"), s("No"));
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Slave_SQL_Running"), s("No"));
    assert_eq!(get(&info, "SHOW SLAVE STATUS", "Slave_IO_State"), s(""));
    info.upstream.as_mut().unwrap().host.clear();
    let mut vars = SessionVars::new();
    assert!(rows(run("SHOW SLAVE STATUS", &mut vars, &info)).rows.is_empty(), "forgotten primary");
}
