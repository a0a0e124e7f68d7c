//! `SELECT term [[AS] alias] [, …] [FROM DUAL] [LIMIT n [OFFSET m] | LIMIT m, n]`:
//! one row, one column per term.
//!
//! Columns are named like MariaDB names them: after the term's text exactly
//! as written (`UNIX_TIMESTAMP()`, `@@GLOBAL.gtid_domain_id`,
//! `binlog_gtid_pos('',4)`), or the alias. `LIMIT` is accepted because the
//! `mysql` client sends `SELECT @@version_comment LIMIT 1` on connect.

use super::expr::{eval, Env};
use super::lexer::TokenKind;
use super::parser::{parse_expr, Parser};
use super::{not_understood, Reply};
use crate::protocol::resultset::ResultSet;
use crate::protocol::ErrPacket;

/// Words that end a term list rather than name an alias.
const CLAUSES: &[&str] =
    &["FROM", "LIMIT", "WHERE", "INTO", "FOR", "UNION", "ORDER", "GROUP", "HAVING"];

/// Select options that change nothing for a one-row answer.
const OPTIONS: &[&str] =
    &["ALL", "DISTINCT", "SQL_NO_CACHE", "SQL_CACHE", "SQL_CALC_FOUND_ROWS", "STRAIGHT_JOIN"];

/// `SELECT …` after the `SELECT` keyword.
pub(super) fn select(p: &mut Parser<'_, '_>, sql: &str, env: Env<'_>) -> Result<Reply, ErrPacket> {
    while p.eat_one_of(OPTIONS).is_some() {}
    let mut columns = Vec::new();
    let mut row = Vec::new();
    loop {
        let start = p.peek().map(|t| t.start).ok_or_else(|| not_understood(sql))?;
        let expr = parse_expr(p).ok_or_else(|| not_understood(sql))?;
        let end = p.last().map_or(start, |t| t.end);
        let text = sql.get(start..end).unwrap_or_default();
        let name = alias(p, sql)?.unwrap_or_else(|| text.to_owned());
        let value = eval(&expr, env)?;
        columns.push(value.column(&name));
        row.push(value.text);
        if !p.eat_punct(',') {
            break;
        }
    }
    if p.eat_keyword("FROM") && !p.eat_keyword("DUAL") {
        return Err(not_understood(sql));
    }
    let rows = limit(p, sql)?;
    let mut rs = ResultSet::new(columns);
    if rows > 0 {
        rs.push_row(row);
    }
    Ok(Reply::Rows(rs))
}

/// `[AS] alias`, where the alias is a name or a quoted string.
fn alias(p: &mut Parser<'_, '_>, sql: &str) -> Result<Option<String>, ErrPacket> {
    let explicit = p.eat_keyword("AS");
    let Some(tok) = p.peek() else {
        return if explicit { Err(not_understood(sql)) } else { Ok(None) };
    };
    let name = match &tok.kind {
        TokenKind::Word if !CLAUSES.iter().any(|c| tok.is_keyword(c)) => tok.text.to_owned(),
        TokenKind::Ident(name) | TokenKind::Str(name) => name.clone(),
        _ if explicit => return Err(not_understood(sql)),
        _ => return Ok(None),
    };
    p.next();
    Ok(Some(name))
}

/// How many of the one row `LIMIT` keeps: 0 or 1.
fn limit(p: &mut Parser<'_, '_>, sql: &str) -> Result<u64, ErrPacket> {
    if !p.eat_keyword("LIMIT") {
        return Ok(1);
    }
    let first = p.unsigned().ok_or_else(|| not_understood(sql))?;
    let (offset, count) = if p.eat_punct(',') {
        (first, p.unsigned().ok_or_else(|| not_understood(sql))?)
    } else if p.eat_keyword("OFFSET") {
        (p.unsigned().ok_or_else(|| not_understood(sql))?, first)
    } else {
        (0, first)
    };
    Ok(if offset == 0 { count.min(1) } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{rows, run, FakeInfo};
    use super::*;
    use crate::server::session_vars::SessionVars;

    #[test]
    fn names_columns_after_the_text_or_the_alias() {
        let info = FakeInfo::mariadb();
        let mut vars = SessionVars::new();
        let rs = rows(run(
            "SELECT  @@version_comment , 1 AS one, 'x' `quoted`, VERSION() v",
            &mut vars,
            &info,
        ));
        let names: Vec<_> = rs.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["@@version_comment", "one", "quoted", "v"]);
        assert_eq!(
            rs.rows,
            vec![vec![
                Some("binlogserver".to_owned()),
                Some("1".to_owned()),
                Some("x".to_owned()),
                Some("10.11.19-MariaDB-log".to_owned()),
            ]]
        );
    }

    #[test]
    fn limit_and_dual_are_accepted() {
        let info = FakeInfo::mariadb();
        let mut vars = SessionVars::new();
        assert_eq!(rows(run("select @@version_comment limit 1", &mut vars, &info)).rows.len(), 1);
        assert_eq!(rows(run("SELECT 1 FROM DUAL LIMIT 0", &mut vars, &info)).rows.len(), 0);
        assert_eq!(rows(run("SELECT 1 LIMIT 1, 5", &mut vars, &info)).rows.len(), 0);
        assert_eq!(rows(run("SELECT 1 LIMIT 5 OFFSET 0", &mut vars, &info)).rows.len(), 1);
        assert_eq!(rows(run("SELECT SQL_NO_CACHE 1", &mut vars, &info)).rows.len(), 1);
    }

    #[test]
    fn tables_and_operators_are_not_understood() {
        let info = FakeInfo::mariadb();
        let mut vars = SessionVars::new();
        for sql in [
            "SELECT * FROM mysql.user",
            "SELECT 1 FROM t",
            "SELECT 1 + 1",
            "SELECT",
            "SELECT 1 AS",
            "SELECT 1 LIMIT x",
        ] {
            assert!(
                matches!(run(sql, &mut vars, &info), Reply::Err(ref e) if e.code == 1064),
                "{sql}"
            );
        }
    }
}
