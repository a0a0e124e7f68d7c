//! `SHOW [FULL] PROCESSLIST`: one row per connection in MariaDB 10.11's
//! columns and types (`Id, User, Host, db, Command, Time, State, Info,
//! Progress`, measured on the real server), ordered by id.
//!
//! * A client is `Sleep` (State empty) between statements, `Query` (State
//!   `starting`, Info the statement with its passwords hidden) while one
//!   runs, `Binlog Dump` while it streams binlogs: State `Master has sent
//!   all binlog to slave; waiting for more updates` at the durable end,
//!   else `Sending binlog event to slave`; `Connect` (user `unauthenticated
//!   user`, State `login`) before it has logged in.
//! * `Time` is the seconds since that command began (for a dump, since the
//!   dump began, as MariaDB counts it).
//! * While binlogserver follows a primary, its own dump connection is a
//!   row as MariaDB shows its slave IO thread: user `system user`, Command
//!   `Connect` (State `Connecting to master`) until connected, then
//!   `Slave_IO` (`Waiting for master to send event`), `Time` since then.
//!   There is no `Slave_SQL` row: nothing applies events here. `KILL` of
//!   that id is refused (use `STOP SLAVE`).
//! * Info is cut to 100 characters unless `FULL`, as MariaDB does.
//! * Like MariaDB without the `PROCESS` privilege, a replication account
//!   sees only its own user's connections; admin accounts see all.

use super::Reply;
use crate::protocol::resultset::{
    Column, ResultSet, BINARY_FLAG, CHARSET_BINARY, CHARSET_UTF8_GENERAL_CI, MYSQL_TYPE_DOUBLE,
    MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_VAR_STRING, NOT_FIXED_DEC, NOT_NULL_FLAG,
    NUM_FLAG,
};
use crate::server::info::ServerInfo;
use crate::server::privilege::{may_see, Role};
use crate::server::session_vars::SessionVars;

/// Characters of Info shown without `FULL`.
const INFO_WIDTH: usize = 100;

/// `SHOW [FULL] PROCESSLIST`.
pub(super) fn processlist(full: bool, vars: &SessionVars, info: &dyn ServerInfo) -> Reply {
    let mut rs = ResultSet::new(columns(full));
    let role = vars.role();
    for row in info.processlist() {
        let visible =
            if row.upstream { role == Role::Admin } else { may_see(role, vars.user(), &row.user) };
        if !visible {
            continue;
        }
        let user = if row.user.is_empty() { "unauthenticated user".to_owned() } else { row.user };
        let text = row.info.map(|i| if full { i } else { i.chars().take(INFO_WIDTH).collect() });
        rs.push_row(vec![
            Some(row.id.to_string()),
            Some(user),
            Some(row.host),
            row.db,
            Some(row.command.to_owned()),
            Some(row.time.to_string()),
            Some(row.state),
            text,
            Some("0.000".to_owned()),
        ]);
    }
    Reply::Rows(rs)
}

/// MariaDB 10.11's columns (type, length, flags as it sent them).
fn columns(full: bool) -> Vec<Column> {
    let text = |name: &str, length: u32, not_null: bool| Column {
        name: name.to_owned(),
        column_type: MYSQL_TYPE_VAR_STRING,
        length,
        charset: CHARSET_UTF8_GENERAL_CI,
        flags: if not_null { NOT_NULL_FLAG } else { 0 },
        decimals: NOT_FIXED_DEC,
    };
    let number = |name: &str, column_type: u8, length: u32, decimals: u8| Column {
        name: name.to_owned(),
        column_type,
        length,
        charset: CHARSET_BINARY,
        flags: NOT_NULL_FLAG | BINARY_FLAG | NUM_FLAG,
        decimals,
    };
    vec![
        number("Id", MYSQL_TYPE_LONGLONG, 11, 0),
        text("User", 384, true),
        text("Host", 192, true),
        text("db", 192, false),
        text("Command", 48, true),
        number("Time", MYSQL_TYPE_LONG, 7, 0),
        text("State", 90, false),
        text("Info", if full { 150_994_944 } else { 300 }, false),
        number("Progress", MYSQL_TYPE_DOUBLE, 7, 3),
    ]
}
