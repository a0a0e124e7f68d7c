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
//! * `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS` / `SHOW ALL SLAVES
//!   STATUS`: our own upstream, in `slave_status.rs`. Of our own columns
//!   there, `Semi_Sync_Warning` is empty unless the primary's semi-sync
//!   master is disabled while we acknowledge (then its commits do not wait).

use super::parser::Parser;
use super::{not_supported, slave_status, Reply};
use crate::protocol::resultset::{Column, ResultSet};
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;

/// The replication `SHOW`s after `SHOW`; `None` when the words match none.
pub(super) fn show(
    p: &mut Parser<'_, '_>,
    sql: &str,
    info: &dyn ServerInfo,
    now_unix: u64,
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
    } else if let Some(word) = p.eat_one_of(&["SLAVE", "REPLICA"]) {
        return Some(slave_status::show(p, sql, info, word == "REPLICA", now_unix));
    } else if info.is_mariadb()
        && (p.eat_keywords(&["ALL", "SLAVES", "STATUS"])
            || p.eat_keywords(&["ALL", "REPLICAS", "STATUS"]))
    {
        slave_status::slave_status(info, slave_status::Form::All, now_unix)
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
