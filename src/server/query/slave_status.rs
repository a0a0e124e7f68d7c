//! `SHOW SLAVE ['conn'] STATUS`, `SHOW REPLICA STATUS` (optionally `FOR
//! CHANNEL ''`) and MariaDB's `SHOW ALL SLAVES STATUS` / `SHOW ALL
//! REPLICAS STATUS`: our own upstream in the columns, order and values
//! monitoring tools expect, no row when we follow nothing.
//!
//! The MariaDB flavour has exactly MariaDB 10.11's 54 columns in its order
//! (measured on a real replica), so tools that read by name or by position
//! (orchestrator, mysqld_exporter, heartbeat checks) find them; `SHOW ALL
//! SLAVES STATUS` adds `Connection_name` and `Slave_SQL_State` in front and
//! MariaDB's six columns after (`Slave_heartbeat_period` among them).
//! The MySQL flavour keeps the first 40 columns, which the two share, then
//! MySQL 8's (`Retrieved_Gtid_Set`, `Executed_Gtid_Set`, ...), with the
//! `Replica_…`/`Source_…` names for `SHOW REPLICA STATUS`. Our own four
//! columns come last: `Bytes_Behind_Master`, `Semi_Sync`,
//! `Semi_Sync_Acks_Sent`, `Semi_Sync_Warning`.
//!
//! binlogserver stores what it reads and applies nothing, so there is no
//! SQL thread to fall behind: `Slave_SQL_Running` is `Yes` while we follow
//! (the IO thread is `Yes` or `Connecting`) and `No` when we do not; the
//! read, relay and executed positions are all our durable end (the stored
//! files are the primary's, byte for byte), `Relay_Log_Space` the bytes
//! stored;
//! `Seconds_Behind_Master` is 0 once caught up, the age of the last event
//! received while catching up, NULL while not connected; `Using_Gtid` is
//! `No` (we follow by file and position) and `Gtid_IO_Pos` the GTID state
//! of what we store.

use super::expr::Value;
use super::parser::Parser;
use super::{not_understood, Reply};
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::status::{IoState, UpstreamStatus};

/// Which statement asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `SHOW SLAVE STATUS` (and MariaDB's `SHOW REPLICA STATUS`).
    Slave,
    /// MySQL's `SHOW REPLICA STATUS`: `Replica_…`/`Source_…` names.
    Replica,
    /// `SHOW ALL SLAVES STATUS`.
    All,
}

/// After `SHOW SLAVE`/`SHOW REPLICA` (`replica`): `['conn'] STATUS [FOR
/// CHANNEL '']`. `None` when `STATUS` does not follow (another `SHOW`).
pub(super) fn show(
    p: &mut Parser<'_, '_>,
    sql: &str,
    info: &dyn ServerInfo,
    replica: bool,
    now_unix: u64,
) -> Result<Reply, ErrPacket> {
    if let Some(name) = p.string() {
        if !name.is_empty() {
            return Err(no_such_connection(name));
        }
    }
    if !p.eat_keyword("STATUS") {
        return Err(not_understood(sql));
    }
    if p.eat_keywords(&["FOR", "CHANNEL"]) {
        let name = p.string().or_else(|| p.name()).unwrap_or_default();
        if !name.is_empty() {
            return Err(no_such_connection(name));
        }
    }
    // MariaDB keeps the old names for both statements.
    let form = if replica && !info.is_mariadb() { Form::Replica } else { Form::Slave };
    Ok(Reply::Rows(slave_status(info, form, now_unix)))
}

/// ERR 1617 (HY000), MariaDB's `There is no master connection 'x'`.
fn no_such_connection(name: &str) -> ErrPacket {
    ErrPacket::new(1617, b"HY000", format!("There is no master connection '{name}'"))
}

/// The result set: the columns always, one row while we follow a primary.
pub(super) fn slave_status(
    info: &dyn ServerInfo,
    form: Form,
    now_unix: u64,
) -> crate::protocol::resultset::ResultSet {
    let upstream = info.upstream_status().filter(|u| !u.host.is_empty());
    let up = upstream.clone().unwrap_or_default();
    let fields = fields(&up, info, form, now_unix);
    let columns = fields
        .iter()
        .map(|(name, value)| {
            value.column(&if form == Form::Replica { replica_name(name) } else { name.clone() })
        })
        .collect();
    let mut rs = crate::protocol::resultset::ResultSet::new(columns);
    if upstream.is_some() {
        rs.push_row(fields.into_iter().map(|(_, value)| value.text).collect());
    }
    rs
}

/// `Slave_IO_Running` → `Replica_IO_Running`, `Master_Host` → `Source_Host`.
pub(super) fn replica_name(name: &str) -> String {
    name.replace("Slave", "Replica").replace("Master", "Source").replace("master", "Source")
}

/// Every column, named as `SHOW SLAVE STATUS` names it.
fn fields(
    up: &UpstreamStatus,
    info: &dyn ServerInfo,
    form: Form,
    now_unix: u64,
) -> Vec<(String, Value)> {
    let following = up.io != IoState::No;
    let sql_state =
        if following { "Slave has read all relay log; waiting for more updates" } else { "" };
    let mut out: Vec<(&str, Value)> = Vec::new();
    if form == Form::All {
        out.push(("Connection_name", text("")));
        out.push(("Slave_SQL_State", text(sql_state)));
    }
    out.extend(common(up, info, form, now_unix));
    if info.is_mariadb() {
        out.extend(mariadb_tail(info, sql_state));
        if form == Form::All {
            out.extend([
                ("Retried_transactions", Value::integer(0)),
                ("Max_relay_log_size", Value::integer(0)),
                ("Executed_log_entries", Value::integer(0)),
                ("Slave_received_heartbeats", Value::integer(0)),
                (
                    "Slave_heartbeat_period",
                    text(&format!("{:.3}", up.heartbeat_period.as_secs_f64())),
                ),
                ("Gtid_Slave_Pos", text(&info.gtid_binlog_pos())),
            ]);
        }
    } else {
        out.extend(mysql_tail(up, info, sql_state));
    }
    out.extend([
        ("Bytes_Behind_Master", up.behind_bytes.map_or_else(null, Value::integer)),
        ("Semi_Sync", text(if up.semi_sync { "ON" } else { "OFF" })),
        ("Semi_Sync_Acks_Sent", Value::integer(up.acks_sent)),
        ("Semi_Sync_Warning", text(&up.semi_sync_warning)),
    ]);
    out.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
}

fn text(s: &str) -> Value {
    Value::text(Some(s.to_owned()))
}

fn null() -> Value {
    Value { text: None, ..Value::integer(0) }
}

/// The first 40 columns, the same in MariaDB 10.11 and MySQL 8.
fn common(
    up: &UpstreamStatus,
    info: &dyn ServerInfo,
    form: Form,
    now_unix: u64,
) -> Vec<(&'static str, Value)> {
    let mysql_names = form == Form::Replica;
    let io_state = match (up.io, mysql_names) {
        (IoState::Yes, false) => "Waiting for master to send event",
        (IoState::Yes, true) => "Waiting for source to send event",
        (IoState::Connecting, false) => "Connecting to master",
        (IoState::Connecting, true) => "Connecting to source",
        (IoState::No, _) => "",
    };
    let sql_running = if up.io == IoState::No { "No" } else { "Yes" };
    let behind = match up.io {
        IoState::Yes => Value::integer(info.seconds_behind_master(now_unix)),
        _ => null(),
    };
    let retry = up.connect_retry.as_secs();
    let stored: u64 = info.binlog_files().iter().map(|(_, size)| size).sum();
    // Our files are the primary's byte for byte: the durable end is where
    // we are in the primary's binlog.
    let (file, position) = info.master_status().unwrap_or_else(|| (up.file.clone(), up.position));
    let pos = || Value::integer(position);
    vec![
        ("Slave_IO_State", text(io_state)),
        ("Master_Host", text(&up.host)),
        ("Master_User", text(&up.user)),
        ("Master_Port", Value::integer(up.port)),
        ("Connect_Retry", if retry > 0 { Value::integer(retry) } else { null() }),
        ("Master_Log_File", text(&file)),
        ("Read_Master_Log_Pos", pos()),
        ("Relay_Log_File", text(&file)),
        ("Relay_Log_Pos", pos()),
        ("Relay_Master_Log_File", text(&file)),
        ("Slave_IO_Running", text(up.io.as_str())),
        ("Slave_SQL_Running", text(sql_running)),
        ("Replicate_Do_DB", text("")),
        ("Replicate_Ignore_DB", text("")),
        ("Replicate_Do_Table", text("")),
        ("Replicate_Ignore_Table", text("")),
        ("Replicate_Wild_Do_Table", text("")),
        ("Replicate_Wild_Ignore_Table", text("")),
        ("Last_Errno", Value::integer(0)),
        ("Last_Error", text("")),
        ("Skip_Counter", Value::integer(0)),
        ("Exec_Master_Log_Pos", pos()),
        // Our relay logs are the stored binlogs.
        ("Relay_Log_Space", Value::integer(stored)),
        ("Until_Condition", text("None")),
        ("Until_Log_File", text("")),
        ("Until_Log_Pos", Value::integer(0)),
        ("Master_SSL_Allowed", text(yes_no(up.ssl.allowed))),
        ("Master_SSL_CA_File", text(&up.ssl.ca)),
        ("Master_SSL_CA_Path", text("")),
        ("Master_SSL_Cert", text(&up.ssl.cert)),
        ("Master_SSL_Cipher", text("")),
        ("Master_SSL_Key", text(&up.ssl.key)),
        ("Seconds_Behind_Master", behind),
        ("Master_SSL_Verify_Server_Cert", text(yes_no(up.ssl.verify_server_cert))),
        ("Last_IO_Errno", Value::integer(up.last_io_errno)),
        ("Last_IO_Error", text(&up.last_error)),
        ("Last_SQL_Errno", Value::integer(0)),
        ("Last_SQL_Error", text("")),
        ("Replicate_Ignore_Server_Ids", text("")),
        ("Master_Server_Id", Value::integer(up.primary_server_id)),
    ]
}

fn yes_no(on: bool) -> &'static str {
    if on {
        "Yes"
    } else {
        "No"
    }
}

/// MariaDB 10.11's columns after `Master_Server_Id`.
fn mariadb_tail(info: &dyn ServerInfo, sql_state: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("Master_SSL_Crl", text("")),
        ("Master_SSL_Crlpath", text("")),
        ("Using_Gtid", text("No")),
        ("Gtid_IO_Pos", text(&info.gtid_binlog_pos())),
        ("Replicate_Do_Domain_Ids", text("")),
        ("Replicate_Ignore_Domain_Ids", text("")),
        ("Parallel_Mode", text("none")),
        ("SQL_Delay", Value::integer(0)),
        ("SQL_Remaining_Delay", null()),
        ("Slave_SQL_Running_State", text(sql_state)),
        ("Slave_DDL_Groups", Value::integer(0)),
        ("Slave_Non_Transactional_Groups", Value::integer(0)),
        ("Slave_Transactional_Groups", Value::integer(0)),
        ("Replicate_Rewrite_DB", text("")),
    ]
}

/// MySQL 8.0's columns after `Master_Server_Id`.
fn mysql_tail(
    up: &UpstreamStatus,
    info: &dyn ServerInfo,
    sql_state: &str,
) -> Vec<(&'static str, Value)> {
    let executed = info.gtid_executed();
    vec![
        ("Master_UUID", text("")),
        ("Master_Info_File", text("")),
        ("SQL_Delay", Value::integer(0)),
        ("SQL_Remaining_Delay", null()),
        ("Slave_SQL_Running_State", text(sql_state)),
        ("Master_Retry_Count", Value::integer(0)),
        ("Master_Bind", text("")),
        ("Last_IO_Error_Timestamp", text("")),
        ("Last_SQL_Error_Timestamp", text("")),
        ("Master_SSL_Crl", text("")),
        ("Master_SSL_Crlpath", text("")),
        ("Retrieved_Gtid_Set", text(&executed)),
        ("Executed_Gtid_Set", text(&executed)),
        ("Auto_Position", Value::integer(0)),
        ("Replicate_Rewrite_DB", text("")),
        ("Channel_Name", text("")),
        ("Master_TLS_Version", text("")),
        ("Master_public_key_path", text(&up.public_key_path)),
        ("Get_master_public_key", Value::integer(u8::from(up.get_public_key))),
        ("Network_Namespace", text("")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_names_follow_mysql_8() {
        assert_eq!(replica_name("Slave_IO_Running"), "Replica_IO_Running");
        assert_eq!(replica_name("Read_Master_Log_Pos"), "Read_Source_Log_Pos");
        assert_eq!(replica_name("Seconds_Behind_Master"), "Seconds_Behind_Source");
        assert_eq!(replica_name("Master_Server_Id"), "Source_Server_Id");
        assert_eq!(replica_name("Get_master_public_key"), "Get_Source_public_key");
        assert_eq!(replica_name("Last_IO_Error"), "Last_IO_Error");
    }
}
