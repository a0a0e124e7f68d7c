//! The replication `SHOW`s: `BINARY LOGS`, `MASTER STATUS`, `SLAVE HOSTS`,
//! `SLAVE STATUS`, with their MySQL 8 names and columns where the flavour
//! has them.
//!
//! * `SHOW BINARY LOGS` / `SHOW MASTER LOGS`: `Log_name, File_size`, plus
//!   `Encrypted` for MySQL.
//! * `SHOW MASTER STATUS` / `SHOW BINARY LOG STATUS` / `SHOW BINLOG STATUS`:
//!   `File, Position, Binlog_Do_DB, Binlog_Ignore_DB`, plus
//!   `Executed_Gtid_Set` for MySQL; no row when nothing is stored.
//! * `SHOW SLAVE HOSTS` / `SHOW REPLICA HOSTS` / `SHOW REPLICAS`: MariaDB
//!   `Server_id, Host, Port, Master_id`; MySQL adds the UUID and, for
//!   `SHOW REPLICAS`, uses `Server_Id … Source_Id, Replica_UUID`.
//! * `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS`: our own upstream, no row
//!   when there is none. We store what we read and apply nothing, so the
//!   relay and executed positions are the stored (durable) position and
//!   `Slave_SQL_Running` is `No`. Unknowns (`Connect_Retry`,
//!   `Seconds_Behind_Master`) are NULL. Four columns of our own follow:
//!   `Bytes_Behind_Master`, `Semi_Sync`, `Semi_Sync_Acks_Sent` and
//!   `Semi_Sync_Warning` (empty unless the primary's semi-sync master is
//!   disabled while we acknowledge: then its commits do not wait). MySQL's
//!   `SHOW REPLICA STATUS` gets the `Replica_…`/`Source_…` names.

use super::expr::Value;
use super::parser::Parser;
use super::{not_supported, Reply};
use crate::protocol::resultset::{Column, ResultSet};
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::status::UpstreamStatus;

/// The replication `SHOW`s after `SHOW`; `None` when the words match none.
pub(super) fn show(
    p: &mut Parser<'_, '_>,
    sql: &str,
    info: &dyn ServerInfo,
) -> Option<Result<Reply, ErrPacket>> {
    let rs = if p.eat_keywords(&["BINARY", "LOGS"]) || p.eat_keywords(&["MASTER", "LOGS"]) {
        binary_logs(info)
    } else if p.eat_keywords(&["MASTER", "STATUS"])
        || p.eat_keywords(&["BINARY", "LOG", "STATUS"])
        || p.eat_keywords(&["BINLOG", "STATUS"])
    {
        master_status(info)
    } else if p.eat_keywords(&["SLAVE", "HOSTS"]) || p.eat_keywords(&["REPLICA", "HOSTS"]) {
        slave_hosts(info, false)
    } else if p.eat_keyword("REPLICAS") {
        slave_hosts(info, true)
    } else if p.eat_keywords(&["SLAVE", "STATUS"]) {
        slave_status(info, false)
    } else if p.eat_keywords(&["REPLICA", "STATUS"]) {
        slave_status(info, true)
    } else if p.eat_keywords(&["BINLOG", "EVENTS"]) || p.eat_keywords(&["RELAYLOG", "EVENTS"]) {
        while p.next().is_some() {}
        return Some(Err(not_supported("SHOW BINLOG EVENTS", sql)));
    } else {
        return None;
    };
    Some(Ok(Reply::Rows(rs)))
}

fn binary_logs(info: &dyn ServerInfo) -> ResultSet {
    let mysql = !info.is_mariadb();
    let mut columns = vec![Column::text("Log_name"), Column::integer("File_size")];
    if mysql {
        columns.push(Column::text("Encrypted"));
    }
    let mut rs = ResultSet::new(columns);
    for (name, size) in info.binlog_files() {
        let mut row = vec![Some(name), Some(size.to_string())];
        if mysql {
            row.push(Some("No".to_owned()));
        }
        rs.push_row(row);
    }
    rs
}

fn master_status(info: &dyn ServerInfo) -> ResultSet {
    let mysql = !info.is_mariadb();
    let mut columns = vec![
        Column::text("File"),
        Column::integer("Position"),
        Column::text("Binlog_Do_DB"),
        Column::text("Binlog_Ignore_DB"),
    ];
    if mysql {
        columns.push(Column::text("Executed_Gtid_Set"));
    }
    let mut rs = ResultSet::new(columns);
    if let Some((file, pos)) = info.master_status() {
        let mut row =
            vec![Some(file), Some(pos.to_string()), Some(String::new()), Some(String::new())];
        if mysql {
            row.push(Some(info.gtid_executed()));
        }
        rs.push_row(row);
    }
    rs
}

fn slave_hosts(info: &dyn ServerInfo, replicas_statement: bool) -> ResultSet {
    let mysql = !info.is_mariadb();
    let names: &[&str] = match (mysql, replicas_statement) {
        (false, _) => &["Server_id", "Host", "Port", "Master_id"],
        (true, false) => &["Server_id", "Host", "Port", "Master_id", "Slave_UUID"],
        (true, true) => &["Server_Id", "Host", "Port", "Source_Id", "Replica_UUID"],
    };
    let columns = names
        .iter()
        .map(|&name| {
            if matches!(name, "Host" | "Slave_UUID" | "Replica_UUID") {
                Column::text(name)
            } else {
                Column::integer(name)
            }
        })
        .collect();
    let mut rs = ResultSet::new(columns);
    for host in info.slave_hosts() {
        let mut row = vec![
            Some(host.server_id.to_string()),
            Some(host.host),
            Some(host.port.to_string()),
            Some(host.master_id.to_string()),
        ];
        if mysql {
            row.push(Some(host.uuid));
        }
        rs.push_row(row);
    }
    rs
}

fn slave_status(info: &dyn ServerInfo, replica_statement: bool) -> ResultSet {
    // MariaDB keeps the old names for both statements.
    let rename = replica_statement && !info.is_mariadb();
    let upstream = info.upstream_status();
    let fields =
        status_fields(upstream.as_ref().unwrap_or(&UpstreamStatus::default()), info, rename);
    let columns = fields
        .iter()
        .map(|(name, value)| {
            value.column(&if rename { replica_name(name) } else { (*name).to_owned() })
        })
        .collect();
    let mut rs = ResultSet::new(columns);
    if upstream.is_some() {
        rs.push_row(fields.into_iter().map(|(_, value)| value.text).collect());
    }
    rs
}

/// `Slave_IO_Running` → `Replica_IO_Running`, `Master_Host` → `Source_Host`.
fn replica_name(name: &str) -> String {
    name.replace("Slave", "Replica").replace("Master", "Source")
}

fn status_fields(
    up: &UpstreamStatus,
    info: &dyn ServerInfo,
    rename: bool,
) -> Vec<(&'static str, Value)> {
    let text = |s: &str| Value::text(Some(s.to_owned()));
    let null = Value { text: None, ..Value::integer(0) };
    let io_state = match (up.connected(), rename) {
        (true, false) => "Waiting for master to send event",
        (true, true) => "Waiting for source to send event",
        (false, false) => "Connecting to master",
        (false, true) => "Connecting to source",
    };
    let gtids = if info.is_mariadb() {
        ("Gtid_IO_Pos", text(&info.gtid_binlog_pos()))
    } else {
        ("Retrieved_Gtid_Set", text(&info.gtid_executed()))
    };
    vec![
        ("Slave_IO_State", text(io_state)),
        ("Master_Host", text(&up.host)),
        ("Master_User", text(&up.user)),
        ("Master_Port", Value::integer(up.port)),
        ("Connect_Retry", null.clone()),
        ("Master_Log_File", text(&up.file)),
        ("Read_Master_Log_Pos", Value::integer(up.position)),
        ("Relay_Log_File", text(&up.file)),
        ("Relay_Log_Pos", Value::integer(up.position)),
        ("Relay_Master_Log_File", text(&up.file)),
        // We reconnect until stopped, so a lost connection is "Connecting".
        ("Slave_IO_Running", text(up.io.as_str())),
        ("Slave_SQL_Running", text("No")),
        ("Last_Errno", Value::integer(0)),
        ("Last_Error", text("")),
        ("Exec_Master_Log_Pos", Value::integer(up.position)),
        ("Seconds_Behind_Master", null.clone()),
        ("Last_IO_Error", text(&up.last_error)),
        ("Last_SQL_Errno", Value::integer(0)),
        ("Last_SQL_Error", text("")),
        ("Master_Server_Id", Value::integer(up.primary_server_id)),
        gtids,
        ("Bytes_Behind_Master", up.behind_bytes.map_or(null, Value::integer)),
        ("Semi_Sync", text(if up.semi_sync { "ON" } else { "OFF" })),
        ("Semi_Sync_Acks_Sent", Value::integer(up.acks_sent)),
        ("Semi_Sync_Warning", text(&up.semi_sync_warning)),
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
        assert_eq!(replica_name("Last_IO_Error"), "Last_IO_Error");
    }
}
