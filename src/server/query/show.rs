//! `SHOW [GLOBAL|SESSION] VARIABLES`, `SHOW STATUS`, `SHOW DATABASES`,
//! `SHOW WARNINGS`, their `LIKE`/`WHERE` filters, and the dispatch to
//! `SHOW [FULL] PROCESSLIST` (`processlist.rs`) and to the replication
//! `SHOW`s (`show_repl.rs`).
//!
//! Filters: `LIKE 'pattern'` (`%`, `_`, `\` escape, case-insensitive, as
//! with the servers' default collations), or `WHERE col = 'x' | col LIKE 'p'
//! | col IN ('a', …)` joined by `OR`, where `col` is the first column
//! (`Variable_name`) or `Value`. That covers go-mysql's
//! `WHERE Variable_name IN (…)` and Connector/J's `WHERE Variable_name = … OR …`.

use super::lexer::Scope;
use super::parser::Parser;
use super::{not_understood, processlist, show_repl, sysvars, Reply};
use crate::protocol::resultset::{Column, ResultSet};
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::session_vars::SessionVars;

/// `SHOW …` after the `SHOW` keyword.
pub(super) fn show(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &SessionVars,
    info: &dyn ServerInfo,
    now_unix: u64,
) -> Result<Reply, ErrPacket> {
    let scope = match p.eat_one_of(&["GLOBAL", "SESSION", "LOCAL"]) {
        Some("GLOBAL") => Scope::Global,
        Some(_) => Scope::Session,
        None => Scope::Default,
    };
    if p.eat_keyword("VARIABLES") {
        let filter = Filter::parse(p, sql, "Variable_name")?;
        let rows = sysvars::show_rows(scope, vars, info)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value));
        return Ok(name_value_table(rows, &filter));
    }
    if p.eat_keyword("STATUS") {
        let filter = Filter::parse(p, sql, "Variable_name")?;
        return Ok(name_value_table(status_rows(vars, info).into_iter(), &filter));
    }
    if scope != Scope::Default {
        return Err(not_understood(sql));
    }
    if p.eat_one_of(&["DATABASES", "SCHEMAS"]).is_some() {
        let filter = Filter::parse(p, sql, "Database")?;
        let mut rs = ResultSet::new(vec![Column::text("Database")]);
        if filter.matches("information_schema", "") {
            rs.push_row(vec![Some("information_schema".to_owned())]);
        }
        return Ok(Reply::Rows(rs));
    }
    if p.eat_one_of(&["WARNINGS", "ERRORS"]).is_some() {
        // Only PURGE raises warnings, a few at most: `LIMIT` is accepted and ignored.
        if p.eat_keyword("LIMIT") {
            p.unsigned();
            if p.eat_punct(',') {
                p.unsigned();
            }
        }
        let columns = vec![Column::text("Level"), Column::integer("Code"), Column::text("Message")];
        let mut rs = ResultSet::new(columns);
        for w in vars.warnings() {
            rs.push_row(vec![
                Some(w.level.to_owned()),
                Some(w.code.to_string()),
                Some(w.message.clone()),
            ]);
        }
        return Ok(Reply::Rows(rs));
    }
    if p.eat_keyword("PROCESSLIST") {
        return Ok(processlist::processlist(false, vars, info));
    }
    if p.eat_keywords(&["FULL", "PROCESSLIST"]) {
        return Ok(processlist::processlist(true, vars, info));
    }
    show_repl::show(p, sql, info, now_unix).unwrap_or_else(|| Err(not_understood(sql)))
}

/// `SHOW STATUS`: only what this server can honestly report.
fn status_rows(vars: &SessionVars, info: &dyn ServerInfo) -> Vec<(String, String)> {
    let maria = info.is_mariadb();
    let on_off = |on: bool| if on { "ON" } else { "OFF" }.to_owned();
    let mut rows = Vec::new();
    if maria {
        if let Some((file, pos)) = info.master_status() {
            rows.push(("Binlog_snapshot_file", file));
            rows.push(("Binlog_snapshot_position", pos.to_string()));
        }
    }
    if info.semi_sync_master_enabled() {
        let name =
            if maria { "Rpl_semi_sync_master_status" } else { "Rpl_semi_sync_source_status" };
        // We never ask our replicas for an ACK (docs/protocol.md §5.6).
        rows.push((name, on_off(false)));
    }
    let upstream = info.upstream_status();
    if let Some(up) = &upstream {
        let name =
            if maria { "Rpl_semi_sync_slave_status" } else { "Rpl_semi_sync_replica_status" };
        rows.push((name, on_off(up.semi_sync)));
    }
    if maria {
        rows.push((
            "Slave_running",
            on_off(upstream.as_ref().is_some_and(crate::status::UpstreamStatus::connected)),
        ));
        rows.push(("Slaves_connected", info.slave_hosts().len().to_string()));
    }
    // Empty over plain TCP, as MariaDB shows them.
    let (ssl_version, ssl_cipher) = vars.tls();
    rows.push(("Ssl_cipher", ssl_cipher.to_owned()));
    rows.push(("Ssl_version", ssl_version.to_owned()));
    let mut rows: Vec<(String, String)> =
        rows.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
    rows.sort_by_key(|(name, _)| name.to_ascii_lowercase());
    // The exporter's samples, in the exporter's order (histogram buckets stay in order).
    rows.extend(info.metrics_status());
    rows
}

/// A `Variable_name`/`Value` result set of the rows `filter` keeps.
fn name_value_table(rows: impl Iterator<Item = (String, String)>, filter: &Filter) -> Reply {
    let mut rs = ResultSet::new(vec![Column::text("Variable_name"), Column::text("Value")]);
    for (name, value) in rows.filter(|(name, value)| filter.matches(name, value)) {
        rs.push_row(vec![Some(name), Some(value)]);
    }
    Reply::Rows(rs)
}

/// Which column a condition tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The first column (`Variable_name`, `Database`).
    Name,
    /// `Value`.
    Value,
}

/// One condition of a `WHERE`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    Eq(Target, String),
    Like(Target, String),
    In(Target, Vec<String>),
}

/// The conditions of a `LIKE`/`WHERE`, joined by OR; empty keeps every row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Filter(Vec<Cond>);

impl Filter {
    /// Parses an optional `LIKE 'p'` or `WHERE …`.
    fn parse(p: &mut Parser<'_, '_>, sql: &str, name_column: &str) -> Result<Self, ErrPacket> {
        if p.eat_keyword("LIKE") {
            let pattern = p.string().ok_or_else(|| not_understood(sql))?;
            return Ok(Filter(vec![Cond::Like(Target::Name, pattern.to_owned())]));
        }
        if !p.eat_keyword("WHERE") {
            return Ok(Filter::default());
        }
        let mut conds = Vec::new();
        loop {
            conds.push(Self::cond(p, sql, name_column)?);
            if !p.eat_keyword("OR") {
                return Ok(Filter(conds));
            }
        }
    }

    fn cond(p: &mut Parser<'_, '_>, sql: &str, name_column: &str) -> Result<Cond, ErrPacket> {
        let column = p.name().ok_or_else(|| not_understood(sql))?;
        let target = if column.eq_ignore_ascii_case(name_column) {
            Target::Name
        } else if column.eq_ignore_ascii_case("Value") {
            Target::Value
        } else {
            return Err(ErrPacket::new(
                1054,
                b"42S22",
                format!("Unknown column '{column}' in 'where clause'"),
            ));
        };
        let string = |p: &mut Parser<'_, '_>| {
            p.string().map(str::to_owned).ok_or_else(|| not_understood(sql))
        };
        if p.eat_punct('=') {
            return Ok(Cond::Eq(target, string(p)?));
        }
        if p.eat_keyword("LIKE") {
            return Ok(Cond::Like(target, string(p)?));
        }
        if p.eat_keyword("IN") && p.eat_punct('(') {
            let mut items = vec![string(p)?];
            while p.eat_punct(',') {
                items.push(string(p)?);
            }
            if p.eat_punct(')') {
                return Ok(Cond::In(target, items));
            }
        }
        Err(not_understood(sql))
    }

    /// True when the row passes.
    fn matches(&self, name: &str, value: &str) -> bool {
        let pick = |t: &Target| if *t == Target::Name { name } else { value };
        self.0.is_empty()
            || self.0.iter().any(|cond| match cond {
                Cond::Eq(t, s) => pick(t).eq_ignore_ascii_case(s),
                Cond::Like(t, pattern) => like(pattern, pick(t)),
                Cond::In(t, items) => items.iter().any(|s| pick(t).eq_ignore_ascii_case(s)),
            })
    }
}

/// One element of a compiled `LIKE` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pat {
    /// `%`: any run of characters.
    Any,
    /// `_`: one character.
    One,
    /// A literal character (lowercased).
    Lit(char),
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// SQL `LIKE`, case-insensitive, with `\` escaping `%`, `_` and itself.
pub(super) fn like(pattern: &str, text: &str) -> bool {
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '%' => Pat::Any,
            '_' => Pat::One,
            '\\' => Pat::Lit(fold(chars.next().unwrap_or('\\'))),
            c => Pat::Lit(fold(c)),
        });
    }
    let text: Vec<char> = text.chars().map(fold).collect();
    // Greedy match with one backtrack point: the last `%` and where it resumed.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(ti) {
        match pat.get(pi) {
            Some(Pat::Any) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(Pat::One) => (pi, ti) = (pi + 1, ti + 1),
            Some(Pat::Lit(l)) if *l == c => (pi, ti) = (pi + 1, ti + 1),
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    (pi, ti) = (sp + 1, st + 1);
                }
                None => return false,
            },
        }
    }
    pat.get(pi..).is_some_and(|rest| rest.iter().all(|p| *p == Pat::Any))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_wildcards_case_insensitively() {
        assert!(like("SERVER_ID", "server_id"));
        assert!(like("server\\_id", "server_id"));
        assert!(!like("server\\_id", "serverxid"));
        assert!(like("server_id", "serverxid"));
        assert!(like("rpl_semi_sync_%_enabled", "rpl_semi_sync_master_enabled"));
        assert!(like("%", ""));
        assert!(like("%gtid%", "gtid_binlog_pos"));
        assert!(like("%_pos", "gtid_slave_pos"));
        assert!(!like("%_pos", "pos"));
        assert!(like("a%b%c", "aXXbYYbc"));
        assert!(!like("a%b%c", "aXXbYY"));
        assert!(!like("gtid", "gtid_mode"));
        assert!(like("100\\%", "100%"));
        assert!(!like("100\\%", "1000"));
        assert!(like("ÉTÉ", "été"));
    }

    #[test]
    fn filters_join_conditions_with_or() {
        let f = Filter(vec![
            Cond::In(
                Target::Name,
                vec!["rpl_semi_sync_master_enabled".into(), "rpl_semi_sync_source_enabled".into()],
            ),
            Cond::Eq(Target::Value, "CRC32".into()),
        ]);
        assert!(f.matches("RPL_SEMI_SYNC_MASTER_ENABLED", "ON"));
        assert!(f.matches("binlog_checksum", "crc32"));
        assert!(!f.matches("server_id", "1"));
        assert!(Filter::default().matches("anything", ""));
    }
}
