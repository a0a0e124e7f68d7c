//! The system variables this server has: one table behind `SELECT @@x`,
//! `SHOW VARIABLES` and `SET [SESSION] x = …`.
//!
//! Values come from [`ServerInfo`] where the server knows them (server id,
//! version, checksum, GTID positions), from the session where a client set
//! them, and are otherwise the fixed facts of a binlog server (`log_bin` ON,
//! `read_only` ON, `binlog_format` ROW). Variables that only one flavour has
//! exist only when we pose as that flavour, so a client probing a variable
//! gets the same 1193 the real server would give; `rpl_semi_sync_*_enabled`
//! exist only while semi-sync is offered (a MariaDB replica reads an empty
//! `SHOW VARIABLES` answer as "no semi-sync", docs/protocol.md §5.1).

use super::expr::Value;
use super::lexer::Scope;
use super::unknown_system_variable;
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::session_vars::SessionVars;

/// How a variable's value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    /// An integer.
    Int,
    /// A boolean, stored as `1`/`0`: an integer to `SELECT`, `ON`/`OFF` to `SHOW`.
    Bool,
    /// A string.
    Text,
}

/// Which flavour has the variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Both,
    MariaDb,
    MySql,
}

/// One entry of the table.
#[derive(Debug)]
struct Def {
    name: &'static str,
    ty: Type,
    flavour: Flavour,
    /// A client may change it for its session.
    session: bool,
}

const fn def(name: &'static str, ty: Type, flavour: Flavour, session: bool) -> Def {
    Def { name, ty, flavour, session }
}

use Flavour::{Both, MariaDb, MySql};
use Type::{Bool, Int, Text};

/// Every variable, sorted by name (the `SHOW VARIABLES` order).
const VARIABLES: &[Def] = &[
    def("auto_increment_increment", Int, Both, false),
    def("auto_increment_offset", Int, Both, false),
    def("autocommit", Bool, Both, true),
    def("binlog_checksum", Text, Both, false),
    def("binlog_expire_logs_seconds", Int, Both, false),
    def("binlog_format", Text, Both, false),
    def("binlog_row_image", Text, Both, false),
    def("binlog_row_metadata", Text, Both, false),
    def("character_set_client", Text, Both, true),
    def("character_set_connection", Text, Both, true),
    def("character_set_database", Text, Both, false),
    def("character_set_results", Text, Both, true),
    def("character_set_server", Text, Both, false),
    def("character_set_system", Text, Both, false),
    def("collation_connection", Text, Both, true),
    def("collation_database", Text, Both, false),
    def("collation_server", Text, Both, false),
    def("enforce_gtid_consistency", Text, MySql, false),
    def("expire_logs_days", Text, Both, false),
    def("gtid_binlog_pos", Text, MariaDb, false),
    def("gtid_current_pos", Text, MariaDb, false),
    def("gtid_domain_id", Int, MariaDb, false),
    def("gtid_executed", Text, MySql, false),
    def("gtid_mode", Text, MySql, false),
    def("gtid_purged", Text, MySql, false),
    def("gtid_slave_pos", Text, MariaDb, false),
    def("gtid_strict_mode", Bool, MariaDb, false),
    def("have_ssl", Text, Both, false),
    def("init_connect", Text, Both, false),
    def("interactive_timeout", Int, Both, true),
    def("license", Text, Both, false),
    def("log_bin", Bool, Both, false),
    def("lower_case_table_names", Int, Both, false),
    def("max_allowed_packet", Int, Both, false),
    def("max_binlog_total_size", Int, MariaDb, false),
    def("net_buffer_length", Int, Both, false),
    def("net_read_timeout", Int, Both, true),
    def("net_write_timeout", Int, Both, true),
    def("performance_schema", Bool, Both, false),
    def("read_only", Bool, Both, false),
    def("rpl_semi_sync_master_enabled", Bool, Both, false),
    def("rpl_semi_sync_source_enabled", Bool, MySql, false),
    def("server_id", Int, Both, false),
    def("server_uuid", Text, MySql, false),
    def("skip_networking", Bool, Both, false),
    def("skip_replication", Bool, MariaDb, true),
    def("sql_log_bin", Bool, Both, true),
    def("sql_mode", Text, Both, true),
    def("system_time_zone", Text, Both, false),
    def("time_zone", Text, Both, true),
    def("transaction_isolation", Text, Both, true),
    def("tx_isolation", Text, MariaDb, true),
    def("version", Text, Both, false),
    def("version_comment", Text, Both, false),
    def("wait_timeout", Int, Both, true),
];

/// The largest command the session reads (its `MAX_COMMAND`, 16 MiB).
const MAX_ALLOWED_PACKET: &str = "16777216";

/// The definition of `name` as this server has it now.
fn find(name: &str, info: &dyn ServerInfo) -> Option<&'static Def> {
    let def = VARIABLES.iter().find(|d| d.name.eq_ignore_ascii_case(name))?;
    available(def, info).then_some(def)
}

fn available(def: &Def, info: &dyn ServerInfo) -> bool {
    let flavour = match def.flavour {
        Both => true,
        MariaDb => info.is_mariadb(),
        MySql => !info.is_mariadb(),
    };
    flavour && (!def.name.starts_with("rpl_semi_sync_") || info.semi_sync_master_enabled())
}

/// The server-wide value.
fn global_value(def: &Def, info: &dyn ServerInfo) -> String {
    let fixed = match def.name {
        "auto_increment_increment"
        | "auto_increment_offset"
        | "autocommit"
        | "log_bin"
        | "read_only" => "1",
        "sql_log_bin" => "1",
        // Offered but off: binlogserver never asks its replicas for an ACK
        // (docs/protocol.md §5.6), and a replica still sees the variable.
        "rpl_semi_sync_master_enabled" | "rpl_semi_sync_source_enabled" => "0",
        "gtid_strict_mode"
        | "lower_case_table_names"
        | "performance_schema"
        | "skip_networking" => "0",
        "skip_replication" => "0",
        "binlog_format" => "ROW",
        "binlog_row_image" => "FULL",
        // The defaults of each flavour: MariaDB 10.11 answered NO_LOG (docs/protocol.md §10.5).
        "binlog_row_metadata" if info.is_mariadb() => "NO_LOG",
        "binlog_row_metadata" => "MINIMAL",
        "character_set_system" => "utf8mb3",
        name if name.starts_with("character_set_") => "utf8mb4",
        name if name.starts_with("collation_") => default_collation("utf8mb4", info),
        "enforce_gtid_consistency" | "gtid_mode" => "ON",
        "gtid_purged" | "gtid_slave_pos" | "init_connect" | "sql_mode" => "",
        "have_ssl" if info.have_ssl() => "YES",
        "have_ssl" => "DISABLED",
        "interactive_timeout" | "wait_timeout" => "28800",
        "license" => "MIT OR Apache-2.0",
        "max_allowed_packet" => MAX_ALLOWED_PACKET,
        "net_buffer_length" => "16384",
        "net_read_timeout" => "30",
        "net_write_timeout" => "60",
        "system_time_zone" => "UTC",
        "time_zone" => "SYSTEM",
        "transaction_isolation" | "tx_isolation" => "REPEATABLE-READ",
        "version_comment" => "binlogserver",
        _ => return info_value(def.name, info),
    };
    fixed.to_owned()
}

/// The values only the server knows.
fn info_value(name: &str, info: &dyn ServerInfo) -> String {
    match name {
        "binlog_checksum" => info.binlog_checksum().to_owned(),
        // Retention (--expire-logs-days, --max-total-size; 0 when off).
        "binlog_expire_logs_seconds" => {
            info.retention().expire.map_or(0, |d| d.as_secs()).to_string()
        }
        "expire_logs_days" => {
            format!("{:.6}", info.retention().expire.map_or(0.0, |d| d.as_secs_f64() / 86_400.0))
        }
        "max_binlog_total_size" => info.retention().max_total_size.unwrap_or(0).to_string(),
        "gtid_binlog_pos" | "gtid_current_pos" => info.gtid_binlog_pos(),
        "gtid_domain_id" => info.gtid_domain_id().to_string(),
        "gtid_executed" => info.gtid_executed(),
        "server_id" => info.server_id().to_string(),
        "server_uuid" => info.server_uuid(),
        "version" => info.version(),
        _ => String::new(),
    }
}

/// The value `scope` selects: the session's if it set one (and may), else the global.
fn current(def: &Def, scope: Scope, vars: &SessionVars, info: &dyn ServerInfo) -> String {
    let session =
        (scope != Scope::Global && def.session).then(|| vars.system_var(def.name)).flatten();
    session.map_or_else(|| global_value(def, info), str::to_owned)
}

/// `SELECT @@[scope.]name`.
///
/// # Errors
///
/// 1193 when the variable does not exist here.
pub(super) fn select_value(
    name: &str,
    scope: Scope,
    vars: &SessionVars,
    info: &dyn ServerInfo,
) -> Result<Value, ErrPacket> {
    let def = find(name, info).ok_or_else(|| unknown_system_variable(name))?;
    let value = current(def, scope, vars, info);
    Ok(match def.ty {
        Int | Bool => Value::integer(value),
        Text => Value::text(Some(value)),
    })
}

/// Every variable with its `SHOW VARIABLES` value, sorted by name.
pub(super) fn show_rows(
    scope: Scope,
    vars: &SessionVars,
    info: &dyn ServerInfo,
) -> Vec<(&'static str, String)> {
    VARIABLES
        .iter()
        .filter(|def| available(def, info))
        .map(|def| {
            let value = current(def, scope, vars, info);
            let value = match def.ty {
                Bool if value == "0" => "OFF".to_owned(),
                Bool => "ON".to_owned(),
                Int | Text => value,
            };
            (def.name, value)
        })
        .collect()
}

/// `SET [SESSION] name = value`; `None` is `DEFAULT`.
///
/// # Errors
///
/// 1193 unknown, 1238 not settable here, 1231/1232 bad value, 1115/1253
/// unknown character set or collation.
pub(super) fn set_session(
    name: &str,
    value: Option<&str>,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
) -> Result<(), ErrPacket> {
    let def = find(name, info).ok_or_else(|| unknown_system_variable(name))?;
    if !def.session {
        return Err(ErrPacket::new(
            1238,
            b"HY000",
            format!("Variable '{}' is a read only variable", def.name),
        ));
    }
    let Some(value) = value else {
        vars.reset_system_var(def.name);
        return Ok(());
    };
    let stored = match def.ty {
        Bool => match value.to_ascii_lowercase().as_str() {
            "1" | "on" | "true" => "1".to_owned(),
            "0" | "off" | "false" => "0".to_owned(),
            _ => return Err(wrong_value(def.name, value)),
        },
        Int => match value.trim().parse::<u64>() {
            Ok(n) => n.to_string(),
            Err(_) => {
                return Err(ErrPacket::new(
                    1232,
                    b"42000",
                    format!("Incorrect argument type to variable '{}'", def.name),
                ))
            }
        },
        Text if def.name.starts_with("character_set_") => {
            charset(value).ok_or_else(|| unknown_charset(value))?.to_owned()
        }
        Text if def.name == "collation_connection" => check_collation(value, None)?,
        Text => value.to_owned(),
    };
    vars.set_system_var(def.name, stored);
    Ok(())
}

/// `SET NAMES cs [COLLATE coll]` (`cs = None` for `DEFAULT`).
///
/// # Errors
///
/// 1115 unknown character set, 1253 collation of another character set.
pub(super) fn set_names(
    cs: Option<&str>,
    collation: Option<&str>,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
) -> Result<(), ErrPacket> {
    let cs = match cs {
        Some(cs) => charset(cs).ok_or_else(|| unknown_charset(cs))?,
        None => "utf8mb4",
    };
    let collation = match collation {
        Some(coll) => check_collation(coll, Some(cs))?,
        None => default_collation(cs, info).to_owned(),
    };
    for name in ["character_set_client", "character_set_connection", "character_set_results"] {
        vars.set_system_var(name, cs);
    }
    vars.set_system_var("collation_connection", collation);
    Ok(())
}

/// The character sets we accept, canonical names (`utf8` is `utf8mb3`).
fn charset(name: &str) -> Option<&'static str> {
    let canonical = match name.to_ascii_lowercase().as_str() {
        "utf8" | "utf8mb3" => "utf8mb3",
        "utf8mb4" => "utf8mb4",
        "latin1" => "latin1",
        "ascii" => "ascii",
        "binary" => "binary",
        _ => return None,
    };
    Some(canonical)
}

fn default_collation(cs: &str, info: &dyn ServerInfo) -> &'static str {
    match cs {
        "utf8mb4" if info.is_mariadb() => "utf8mb4_general_ci",
        "utf8mb4" => "utf8mb4_0900_ai_ci",
        "utf8mb3" => "utf8mb3_general_ci",
        "latin1" => "latin1_swedish_ci",
        "ascii" => "ascii_general_ci",
        _ => "binary",
    }
}

/// A collation name (lowercased) whose character set is known and, if
/// given, is `cs`.
fn check_collation(coll: &str, cs: Option<&str>) -> Result<String, ErrPacket> {
    let lower = coll.to_ascii_lowercase();
    let owner =
        if lower == "binary" { Some("binary") } else { lower.split('_').next().and_then(charset) };
    match (owner, cs) {
        (None, _) => Err(ErrPacket::new(1273, b"HY000", format!("Unknown collation: '{coll}'"))),
        (Some(owner), Some(cs)) if owner != cs => Err(ErrPacket::new(
            1253,
            b"42000",
            format!("COLLATION '{coll}' is not valid for CHARACTER SET '{cs}'"),
        )),
        _ => Ok(lower),
    }
}

fn unknown_charset(cs: &str) -> ErrPacket {
    ErrPacket::new(1115, b"42000", format!("Unknown character set: '{cs}'"))
}

fn wrong_value(name: &str, value: &str) -> ErrPacket {
    ErrPacket::new(
        1231,
        b"42000",
        format!("Variable '{name}' can't be set to the value of '{value}'"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::FakeInfo;
    use super::*;

    #[test]
    fn the_table_is_sorted_lowercase_and_unique() {
        for pair in VARIABLES.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} before {}", pair[0].name, pair[1].name);
        }
        assert!(VARIABLES.iter().all(|d| d.name == d.name.to_ascii_lowercase()));
    }

    #[test]
    fn flavour_decides_which_variables_exist() {
        let (maria, mysql) = (FakeInfo::mariadb(), FakeInfo::mysql());
        assert!(
            find("gtid_domain_id", &maria).is_some() && find("gtid_domain_id", &mysql).is_none()
        );
        assert!(find("GTID_MODE", &mysql).is_some() && find("gtid_mode", &maria).is_none());
        assert!(find("server_uuid", &mysql).is_some() && find("server_uuid", &maria).is_none());
    }

    #[test]
    fn semi_sync_variables_exist_only_when_offered() {
        let mut info = FakeInfo::mariadb();
        assert!(find("rpl_semi_sync_master_enabled", &info).is_some());
        info.semi_sync = false;
        assert!(find("rpl_semi_sync_master_enabled", &info).is_none());
        assert!(show_rows(Scope::Default, &SessionVars::new(), &info)
            .iter()
            .all(|(n, _)| !n.starts_with("rpl_")));
    }

    #[test]
    fn booleans_are_integers_to_select_and_on_off_to_show() {
        let (vars, info) = (SessionVars::new(), FakeInfo::mariadb());
        assert_eq!(
            select_value("log_bin", Scope::Default, &vars, &info).unwrap(),
            Value::integer(1)
        );
        let rows = show_rows(Scope::Default, &vars, &info);
        assert!(rows.contains(&("log_bin", "ON".to_owned())));
        assert!(rows.contains(&("performance_schema", "OFF".to_owned())));
    }

    #[test]
    fn session_values_shadow_global_ones_except_for_global_scope() {
        let (mut vars, info) = (SessionVars::new(), FakeInfo::mariadb());
        set_session("SQL_MODE", Some("ANSI_QUOTES"), &mut vars, &info).unwrap();
        let get = |scope, vars: &SessionVars| {
            select_value("sql_mode", scope, vars, &info).unwrap().text.unwrap()
        };
        assert_eq!(get(Scope::Session, &vars), "ANSI_QUOTES");
        assert_eq!(get(Scope::Default, &vars), "ANSI_QUOTES");
        assert_eq!(get(Scope::Global, &vars), "");
        set_session("sql_mode", None, &mut vars, &info).unwrap();
        assert_eq!(get(Scope::Default, &vars), "");
    }

    #[test]
    fn set_validates_values() {
        let (mut vars, info) = (SessionVars::new(), FakeInfo::mariadb());
        let code = |r: Result<(), ErrPacket>| r.unwrap_err().code;
        set_session("autocommit", Some("OFF"), &mut vars, &info).unwrap();
        assert!(!vars.autocommit());
        assert_eq!(code(set_session("autocommit", Some("maybe"), &mut vars, &info)), 1231);
        assert_eq!(code(set_session("wait_timeout", Some("soon"), &mut vars, &info)), 1232);
        assert_eq!(code(set_session("server_id", Some("5"), &mut vars, &info)), 1238);
        assert_eq!(code(set_session("no_such", Some("5"), &mut vars, &info)), 1193);
        assert_eq!(
            code(set_session("character_set_client", Some("klingon"), &mut vars, &info)),
            1115
        );
        assert_eq!(
            code(set_session("collation_connection", Some("klingon_ci"), &mut vars, &info)),
            1273
        );
    }

    #[test]
    fn set_names_sets_three_charsets_and_the_collation() {
        let (mut vars, info) = (SessionVars::new(), FakeInfo::mariadb());
        set_names(Some("utf8"), None, &mut vars, &info).unwrap();
        assert_eq!(vars.charset(), Some("utf8mb3"));
        assert_eq!(vars.system_var("character_set_results"), Some("utf8mb3"));
        assert_eq!(vars.system_var("collation_connection"), Some("utf8mb3_general_ci"));
        set_names(Some("utf8mb4"), Some("UTF8MB4_UNICODE_CI"), &mut vars, &info).unwrap();
        assert_eq!(vars.system_var("collation_connection"), Some("utf8mb4_unicode_ci"));
        let err = set_names(Some("latin1"), Some("utf8mb4_bin"), &mut vars, &info).unwrap_err();
        assert_eq!(err.code, 1253);
    }
}
