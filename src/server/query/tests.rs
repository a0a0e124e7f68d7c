//! Tests of the query evaluator against a fake [`ServerInfo`]: every
//! statement quoted in docs/protocol.md §10.1 to §10.6, the MariaDB
//! replica sequence, and the column types MariaDB sent.

use super::*;
use crate::protocol::resultset::{
    MYSQL_TYPE_LONGLONG, MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_VAR_STRING,
};
use crate::server::info::{Process, SlaveHost};
use crate::status::control::{ChangeMaster, ControlError, ReplicationControl, Requester};
use crate::status::{IoState, UpstreamStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The clock the tests run at (the capture's `UNIX_TIMESTAMP()`).
pub(super) const NOW: u64 = 1_795_461_747;

/// A server with the facts of the MariaDB 10.11 capture (docs/protocol.md §10.1).
#[derive(Debug, Clone)]
pub(super) struct FakeInfo {
    pub(super) mariadb: bool,
    pub(super) semi_sync: bool,
    pub(super) upstream: Option<UpstreamStatus>,
    pub(super) master: Option<(String, u64)>,
    /// `None`: a binlogserver serving without a primary.
    pub(super) control: Option<Arc<FakeControl>>,
    /// `SHOW PROCESSLIST`: see [`processes`].
    pub(super) processes: Vec<Process>,
}

/// This session (13, `repl`), two dumps of `repl` (32, 45), a `cdc`
/// client (51) and the upstream connection (2).
pub(super) fn processes() -> Vec<Process> {
    let client = |id: u32, user: &str, command: &'static str, info: Option<&str>| Process {
        id,
        user: user.into(),
        host: format!("127.0.0.1:{}", 40000 + id),
        command,
        time: u64::from(id),
        info: info.map(str::to_owned),
        ..Process::default()
    };
    let mut dump = client(32, "repl", "Binlog Dump", None);
    dump.state = "Master has sent all binlog to slave; waiting for more updates".into();
    let upstream = Process {
        id: 2,
        user: "system user".into(),
        command: "Slave_IO",
        time: 300,
        state: "Waiting for master to send event".into(),
        upstream: true,
        ..Process::default()
    };
    vec![
        upstream,
        client(13, "repl", "Query", Some("SHOW PROCESSLIST")),
        dump,
        client(45, "repl", "Binlog Dump", None),
        client(51, "cdc", "Sleep", None),
    ]
}

/// A call the evaluator made on the replication control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Call {
    Start,
    Stop,
    Change(Box<ChangeMaster>),
    Reset { all: bool },
}

/// A replication control that records its calls and answers like
/// binlogserver's: "already" when started twice or stopped twice, ERR
/// 1198 for `CHANGE MASTER`/`RESET SLAVE` while running, or the error it
/// is told to give.
#[derive(Debug, Default)]
pub(super) struct FakeControl {
    pub(super) calls: Mutex<Vec<(Call, Requester)>>,
    pub(super) running: Mutex<bool>,
    pub(super) fail: Mutex<Option<ControlError>>,
}

impl FakeControl {
    fn record(&self, call: Call, by: &Requester) -> Result<bool, ControlError> {
        self.calls.lock().unwrap().push((call.clone(), by.clone()));
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e);
        }
        let mut running = self.running.lock().unwrap();
        match call {
            Call::Start => Ok(std::mem::replace(&mut *running, true)),
            Call::Stop => Ok(!std::mem::replace(&mut *running, false)),
            Call::Change(_) | Call::Reset { .. } if *running => Err(ControlError::MustStop),
            Call::Change(_) | Call::Reset { .. } => Ok(false),
        }
    }

    /// The calls so far, without who made them.
    pub(super) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().iter().map(|(c, _)| c.clone()).collect()
    }
}

impl ReplicationControl for FakeControl {
    fn start_slave(&self, by: &Requester) -> Result<bool, ControlError> {
        self.record(Call::Start, by)
    }
    fn stop_slave(&self, by: &Requester) -> Result<bool, ControlError> {
        self.record(Call::Stop, by)
    }
    fn change_master(&self, change: &ChangeMaster, by: &Requester) -> Result<(), ControlError> {
        self.record(Call::Change(Box::new(change.clone())), by).map(drop)
    }
    fn reset_slave(&self, all: bool, by: &Requester) -> Result<(), ControlError> {
        self.record(Call::Reset { all }, by).map(drop)
    }
}

impl FakeInfo {
    pub(super) fn mariadb() -> Self {
        let upstream = UpstreamStatus {
            host: "10.0.0.1".into(),
            port: 3306,
            user: "repl".into(),
            io: IoState::Yes,
            file: "mysql-bin.000002".into(),
            position: 5678,
            behind_bytes: Some(0),
            semi_sync: true,
            semi_sync_warning: String::new(),
            acks_sent: 42,
            last_error: String::new(),
            primary_server_id: 23100,
            ..UpstreamStatus::default()
        };
        FakeInfo {
            mariadb: true,
            semi_sync: true,
            upstream: Some(upstream),
            master: Some(("mysql-bin.000002".into(), 5678)),
            control: Some(Arc::default()),
            processes: processes(),
        }
    }

    pub(super) fn mysql() -> Self {
        FakeInfo { mariadb: false, ..FakeInfo::mariadb() }
    }
}

impl ServerInfo for FakeInfo {
    fn is_mariadb(&self) -> bool {
        self.mariadb
    }
    fn server_id(&self) -> u32 {
        23100
    }
    fn server_uuid(&self) -> String {
        "3e11fa47-71ca-11e1-9e33-c80aa9429562".into()
    }
    fn version(&self) -> String {
        if self.mariadb { "10.11.19-MariaDB-log" } else { "8.0.41" }.into()
    }
    fn binlog_checksum(&self) -> &'static str {
        "CRC32"
    }
    fn binlog_files(&self) -> Vec<(String, u64)> {
        vec![("mysql-bin.000001".into(), 1234), ("mysql-bin.000002".into(), 5678)]
    }
    fn master_status(&self) -> Option<(String, u64)> {
        self.master.clone()
    }
    fn gtid_binlog_pos(&self) -> String {
        "0-23100-55".into()
    }
    fn gtid_executed(&self) -> String {
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".into()
    }
    fn binlog_gtid_pos(&self, file: &str, pos: u64) -> Option<String> {
        match (file, pos) {
            ("", 4) => Some(String::new()),
            ("mysql-bin.000005", 1336) => Some("0-23100-55".into()),
            _ => None,
        }
    }
    fn gtid_domain_id(&self) -> u32 {
        0
    }
    fn semi_sync_master_enabled(&self) -> bool {
        self.semi_sync
    }
    fn slave_hosts(&self) -> Vec<SlaveHost> {
        vec![SlaveHost {
            server_id: 23102,
            host: String::new(),
            port: 23102,
            master_id: 23100,
            uuid: "u-1".into(),
        }]
    }
    fn upstream_status(&self) -> Option<UpstreamStatus> {
        self.upstream.clone()
    }
    fn connection_id(&self) -> u32 {
        13
    }
    fn kill(&self, id: u32) -> bool {
        id == 32 || id == 45 || id == 51
    }
    fn processlist(&self) -> Vec<Process> {
        self.processes.clone()
    }
    fn replication_control(&self) -> Option<&dyn ReplicationControl> {
        self.control.as_deref().map(|c| c as &dyn ReplicationControl)
    }
    fn seconds_behind_master(&self, now_unix: u64) -> u64 {
        assert_eq!(now_unix, NOW);
        7
    }
    fn metrics_status(&self) -> Vec<(String, String)> {
        vec![
            ("Binlogserver_upstream_connected".into(), "1".into()),
            ("Binlogserver_fsync_duration_seconds_count".into(), "7".into()),
        ]
    }

    /// Knows files 1-3 of `mysql-bin`; a purge BEFORE answers with a note
    /// holding the time it was asked for, so tests can check the parsing.
    fn purge_binary_logs(
        &self,
        criterion: &crate::storage::selection::Criterion,
    ) -> Result<Vec<crate::server::session_vars::Warning>, crate::protocol::ErrPacket> {
        use crate::storage::selection::Criterion;
        match criterion {
            Criterion::To(f) if f.sequence() > 3 => Err(crate::protocol::ErrPacket::new(
                1373,
                b"HY000",
                "Target log not found in binlog index",
            )),
            Criterion::To(_) => Ok(Vec::new()),
            Criterion::Before(t) => Ok(vec![crate::server::session_vars::Warning {
                level: "Note",
                code: 1,
                message: t.to_string(),
            }]),
            Criterion::MaxTotalSize(_) => Ok(Vec::new()),
        }
    }
}

/// Evaluates at [`NOW`].
pub(super) fn run(sql: &str, vars: &mut SessionVars, info: &FakeInfo) -> Reply {
    evaluate_at(sql, vars, info, NOW)
}

/// The result set of a reply, or a panic.
pub(super) fn rows(reply: Reply) -> ResultSet {
    match reply {
        Reply::Rows(rs) => rs,
        other => panic!("expected rows, got {other:?}"),
    }
}

/// What a statement must answer.
#[derive(Debug)]
pub(super) enum Expect {
    Ok,
    /// One row: (column name, value) per column.
    Row(&'static [(&'static str, Option<&'static str>)]),
    /// A result set with these columns and no rows.
    NoRows(&'static [&'static str]),
    Err(u16),
}

pub(super) fn check(sql: &str, vars: &mut SessionVars, info: &FakeInfo, expect: &Expect) {
    let reply = run(sql, vars, info);
    match (expect, reply) {
        (Expect::Ok, Reply::Ok) => {}
        (Expect::Err(code), Reply::Err(e)) => assert_eq!(e.code, *code, "{sql}: {e}"),
        (Expect::Row(cells), Reply::Rows(rs)) => {
            let names: Vec<_> = rs.columns.iter().map(|c| c.name.as_str()).collect();
            let want_names: Vec<_> = cells.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, want_names, "{sql}");
            let want: Vec<_> = cells.iter().map(|(_, v)| v.map(str::to_owned)).collect();
            assert_eq!(rs.rows, vec![want], "{sql}");
        }
        (Expect::NoRows(columns), Reply::Rows(rs)) => {
            let names: Vec<_> = rs.columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(&names, columns, "{sql}");
            assert!(rs.rows.is_empty(), "{sql}: {:?}", rs.rows);
        }
        (expect, reply) => panic!("{sql}: expected {expect:?}, got {reply:?}"),
    }
}

const SERVER_ID_ROW: Expect =
    Expect::Row(&[("Variable_name", Some("server_id")), ("Value", Some("23100"))]);
/// The variable exists (replicas ask for semi-sync) but is OFF: binlogserver
/// never asks its replicas for an ACK.
const SEMI_SYNC_ROW: Expect =
    Expect::Row(&[("Variable_name", Some("rpl_semi_sync_master_enabled")), ("Value", Some("OFF"))]);

/// docs/protocol.md §10.1, §10.2, §10.5, verbatim: the MariaDB 10.11 replica (all
/// modes), mariadb-binlog and python-mysql-replication, in the order they were sent.
const MARIADB_PEERS: &[(&str, Expect)] = &[
    ("SELECT UNIX_TIMESTAMP()", Expect::Row(&[("UNIX_TIMESTAMP()", Some("1795461747"))])),
    ("SHOW VARIABLES LIKE 'SERVER_ID'", SERVER_ID_ROW),
    ("SET @master_heartbeat_period= 30000001024", Expect::Ok),
    ("SET @master_binlog_checksum= @@global.binlog_checksum", Expect::Ok),
    ("SELECT @master_binlog_checksum", Expect::Row(&[("@master_binlog_checksum", Some("CRC32"))])),
    ("SET @mariadb_slave_capability=4", Expect::Ok),
    ("SELECT @@GLOBAL.gtid_domain_id", Expect::Row(&[("@@GLOBAL.gtid_domain_id", Some("0"))])),
    ("SET @slave_connect_state=''", Expect::Ok),
    ("SET @slave_gtid_strict_mode=1", Expect::Ok),
    ("SET @slave_gtid_ignore_duplicates=0", Expect::Ok),
    ("SET @slave_connect_state='0-23100-39'", Expect::Ok),
    ("SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'", SEMI_SYNC_ROW),
    ("SET @rpl_semi_sync_slave= 1", Expect::Ok),
    ("KILL 32", Expect::Ok),
    ("KILL 45", Expect::Ok),
    ("SELECT binlog_gtid_pos('',4)", Expect::Row(&[("binlog_gtid_pos('',4)", Some(""))])),
    (
        "SELECT binlog_gtid_pos('mysql-bin.000005',1336)",
        Expect::Row(&[("binlog_gtid_pos('mysql-bin.000005',1336)", Some("0-23100-55"))]),
    ),
    ("SET @master_heartbeat_period= 1000000000", Expect::Ok),
    ("SELECT VERSION()", Expect::Row(&[("VERSION()", Some("10.11.19-MariaDB-log"))])),
    ("SET @master_binlog_checksum='NONE'", Expect::Ok),
    ("SET @slave_connect_state='0-23100-5'", Expect::Ok),
    ("SET NAMES utf8", Expect::Ok),
    ("SET AUTOCOMMIT = 0", Expect::Ok),
    (
        "SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'",
        Expect::Row(&[("Variable_name", Some("binlog_checksum")), ("Value", Some("CRC32"))]),
    ),
    (
        "SHOW VARIABLES LIKE 'BINLOG_ROW_METADATA';",
        Expect::Row(&[("Variable_name", Some("binlog_row_metadata")), ("Value", Some("NO_LOG"))]),
    ),
    // docs/protocol.md §10.1: statements not in the capture.
    (
        "SELECT @@GLOBAL.COLLATION_SERVER",
        Expect::Row(&[("@@GLOBAL.COLLATION_SERVER", Some("utf8mb4_general_ci"))]),
    ),
    ("SELECT @@GLOBAL.TIME_ZONE", Expect::Row(&[("@@GLOBAL.TIME_ZONE", Some("SYSTEM"))])),
    ("SET skip_replication=1", Expect::Ok),
    ("SET @slave_until_gtid='0-23100-60'", Expect::Ok),
    ("SET @slave_gtid_until_before_gtids=1", Expect::Ok),
    // docs/protocol.md §10.2: mariadb-binlog.
    ("SET @slave_connect_state='0-1-100,1-10-7'", Expect::Ok),
    // docs/protocol.md §10.5, §10.6: CDC clients, MariaDB flavour.
    ("SET @master_binlog_checksum='NONE', @source_binlog_checksum='NONE'", Expect::Ok),
    (
        "SET @master_heartbeat_period = 5000000000, @source_heartbeat_period = 5000000000",
        Expect::Ok,
    ),
    ("SET @slave_uuid = 'u-1', @replica_uuid = 'u-1'", Expect::Ok),
    (
        "SHOW VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', \
         'rpl_semi_sync_source_enabled')",
        SEMI_SYNC_ROW,
    ),
    ("SET @rpl_semi_sync_slave = 1, @rpl_semi_sync_replica = 1;", Expect::Ok),
    ("SET @slave_connect_state = '0-23100-5'", Expect::Ok),
    (
        "SHOW MASTER STATUS",
        Expect::Row(&[
            ("File", Some("mysql-bin.000002")),
            ("Position", Some("5678")),
            ("Binlog_Do_DB", Some("")),
            ("Binlog_Ignore_DB", Some("")),
        ]),
    ),
    (
        "show global variables like 'binlog_checksum'",
        Expect::Row(&[("Variable_name", Some("binlog_checksum")), ("Value", Some("CRC32"))]),
    ),
    ("set @master_binlog_checksum= @@global.binlog_checksum", Expect::Ok),
    ("set @master_heartbeat_period=30000000000", Expect::Ok),
    ("show global variables like 'gtid_purged'", Expect::NoRows(&["Variable_name", "Value"])),
];

/// docs/protocol.md §10.3, §10.4, §10.6 verbatim, MySQL flavour.
const MYSQL_PEERS: &[(&str, Expect)] = &[
    ("SET NAMES utf8mb4", Expect::Ok),
    ("SELECT UNIX_TIMESTAMP()", Expect::Row(&[("UNIX_TIMESTAMP()", Some("1795461747"))])),
    ("SELECT @@GLOBAL.SERVER_ID", Expect::Row(&[("@@GLOBAL.SERVER_ID", Some("23100"))])),
    (
        "SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024",
        Expect::Ok,
    ),
    (
        "SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = \
         @@global.binlog_checksum",
        Expect::Ok,
    ),
    ("SELECT @source_binlog_checksum", Expect::Row(&[("@source_binlog_checksum", Some("CRC32"))])),
    ("SELECT @master_binlog_checksum", Expect::Row(&[("@master_binlog_checksum", Some("CRC32"))])),
    ("SELECT @@GLOBAL.GTID_MODE", Expect::Row(&[("@@GLOBAL.GTID_MODE", Some("ON"))])),
    (
        "SELECT @@GLOBAL.SERVER_UUID",
        Expect::Row(&[("@@GLOBAL.SERVER_UUID", Some("3e11fa47-71ca-11e1-9e33-c80aa9429562"))]),
    ),
    (
        "SET @slave_uuid = 'a8c1b8e0-0000-11ef-8000-000000000001', @replica_uuid = \
         'a8c1b8e0-0000-11ef-8000-000000000001'",
        Expect::Ok,
    ),
    (
        "SELECT @@global.rpl_semi_sync_source_enabled",
        Expect::Row(&[("@@global.rpl_semi_sync_source_enabled", Some("0"))]),
    ),
    (
        "SELECT @@global.rpl_semi_sync_master_enabled",
        Expect::Row(&[("@@global.rpl_semi_sync_master_enabled", Some("0"))]),
    ),
    ("SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1", Expect::Ok),
    ("SELECT VERSION()", Expect::Row(&[("VERSION()", Some("8.0.41"))])),
    ("SET @master_binlog_checksum = 'NONE', @source_binlog_checksum = 'NONE'", Expect::Ok),
    (
        "show global variables like 'gtid_purged'",
        Expect::Row(&[("Variable_name", Some("gtid_purged")), ("Value", Some(""))]),
    ),
    (
        "SHOW BINARY LOG STATUS",
        Expect::Row(&[
            ("File", Some("mysql-bin.000002")),
            ("Position", Some("5678")),
            ("Binlog_Do_DB", Some("")),
            ("Binlog_Ignore_DB", Some("")),
            ("Executed_Gtid_Set", Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")),
        ]),
    ),
];

#[test]
fn answers_every_statement_the_mariadb_peers_send() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    // A semi-sync replica's STOP SLAVE kills its dump as the same user.
    vars.set_account("repl", "127.0.0.1");
    for (sql, expect) in MARIADB_PEERS {
        check(sql, &mut vars, &info, expect);
    }
}

#[test]
fn answers_every_statement_the_mysql_peers_send() {
    let info = FakeInfo::mysql();
    let mut vars = SessionVars::new();
    for (sql, expect) in MYSQL_PEERS {
        check(sql, &mut vars, &info, expect);
    }
}

#[test]
fn the_mariadb_replica_sequence_configures_the_dump() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    for sql in [
        "SET @master_heartbeat_period= 30000001024",
        "SET @master_binlog_checksum= @@global.binlog_checksum",
        "SET @mariadb_slave_capability=4",
        "SET @slave_connect_state='0-23100-39'",
        "SET @slave_gtid_strict_mode=1",
        "SET @slave_gtid_ignore_duplicates=0",
        "SET @rpl_semi_sync_slave= 1",
    ] {
        assert_eq!(run(sql, &mut vars, &info), Reply::Ok, "{sql}");
    }
    assert_eq!(vars.checksum_alg(), Some(crate::binlog::ChecksumAlg::CRC32));
    assert_eq!(vars.heartbeat_period(), Some(Duration::from_nanos(30_000_001_024)));
    assert_eq!(vars.mariadb_capability(), 4);
    assert_eq!(vars.slave_connect_state().as_deref(), Some("0-23100-39"));
    assert!(
        vars.gtid_strict_mode() && !vars.gtid_ignore_duplicates() && vars.semi_sync_requested()
    );
    assert_eq!(run("SET @master_binlog_checksum='NONE'", &mut vars, &info), Reply::Ok);
    assert_eq!(vars.checksum_alg(), Some(crate::binlog::ChecksumAlg::OFF));
}

#[test]
fn column_types_match_what_mariadb_sent() {
    let info = FakeInfo::mariadb();
    let mut vars = SessionVars::new();
    let type_of =
        |sql: &str, vars: &mut SessionVars| rows(run(sql, vars, &info)).columns[0].column_type;
    run("SET @master_binlog_checksum= @@global.binlog_checksum", &mut vars, &info);
    assert_eq!(type_of("SELECT UNIX_TIMESTAMP()", &mut vars), MYSQL_TYPE_LONGLONG);
    assert_eq!(type_of("SELECT @master_binlog_checksum", &mut vars), MYSQL_TYPE_LONG_BLOB);
    assert_eq!(type_of("SELECT @@GLOBAL.gtid_domain_id", &mut vars), MYSQL_TYPE_LONGLONG);
    assert_eq!(type_of("SELECT binlog_gtid_pos('',4)", &mut vars), MYSQL_TYPE_LONG_BLOB);
    assert_eq!(type_of("SELECT VERSION()", &mut vars), MYSQL_TYPE_VAR_STRING);
    assert_eq!(type_of("SHOW VARIABLES LIKE 'SERVER_ID'", &mut vars), MYSQL_TYPE_VAR_STRING);
}
