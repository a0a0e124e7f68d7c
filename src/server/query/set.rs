//! `SET`: user variables (how replicas configure their dump), `SET NAMES`,
//! and the harmless session system variables.
//!
//! Shapes: `SET @a = term [, @b := term …]`, `SET NAMES cs [COLLATE coll]`,
//! `SET CHARACTER SET cs`, `SET [SESSION|LOCAL] name = value`,
//! `SET @@[session.|local.]name = value`, and `SET [SESSION] TRANSACTION …`
//! (accepted: nothing here is transactional). `SET GLOBAL` is refused.
//!
//! As in MySQL (`sql_set_variables`: every `check()`, then every
//! `update()`), all right-hand sides are evaluated before anything is
//! assigned, so `SET @a = 1, @b = @a` gives `@b` the old `@a`; and nothing
//! is assigned when any part fails.

use super::expr::{eval, Env};
use super::lexer::{Scope, TokenKind};
use super::parser::{parse_expr, Expr, Parser};
use super::{not_supported, not_understood, sysvars, Reply};
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::session_vars::SessionVars;

/// One assignment, evaluated, not yet applied.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// `@name = value`.
    User(String, Option<String>),
    /// A session system variable; `None` is `DEFAULT`.
    System(String, Option<String>),
    /// `SET NAMES cs [COLLATE coll]`; `None` charset is `DEFAULT`.
    Names(Option<String>, Option<String>),
}

/// `SET …` after the `SET` keyword.
pub(super) fn set(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
    now_unix: u64,
) -> Result<Reply, ErrPacket> {
    let transaction = p.peek().is_some_and(|t| t.is_keyword("TRANSACTION"))
        || (p.peek().is_some_and(|t| t.is_keyword("SESSION") || t.is_keyword("LOCAL"))
            && p.peek_at(1).is_some_and(|t| t.is_keyword("TRANSACTION")));
    if transaction {
        while p.next().is_some() {}
        return Ok(Reply::Ok);
    }
    let mut actions = Vec::new();
    loop {
        let env = Env { vars, info, now_unix };
        actions.push(assignment(p, sql, env)?);
        if !p.eat_punct(',') {
            break;
        }
    }
    if !p.at_end() {
        return Err(not_understood(sql));
    }
    let mut next = vars.clone();
    for action in actions {
        apply(action, &mut next, info)?;
    }
    *vars = next;
    Ok(Reply::Ok)
}

/// Parses and evaluates one comma-separated part.
fn assignment(p: &mut Parser<'_, '_>, sql: &str, env: Env<'_>) -> Result<Action, ErrPacket> {
    let tok = p.peek().ok_or_else(|| not_understood(sql))?;
    match &tok.kind {
        TokenKind::UserVar(name) => {
            p.next();
            expect_equals(p, sql)?;
            let value = parse_expr(p).ok_or_else(|| not_understood(sql))?;
            Ok(Action::User(name.clone(), eval(&value, env)?.text))
        }
        TokenKind::SysVar(Scope::Global, _) => Err(not_supported("SET GLOBAL", sql)),
        TokenKind::SysVar(_, name) => {
            p.next();
            system(p, sql, name, env)
        }
        _ if p.eat_keyword("GLOBAL") => Err(not_supported("SET GLOBAL", sql)),
        _ if p.eat_keyword("NAMES") => {
            let cs = charset_name(p, sql)?;
            let collation = if p.eat_keyword("COLLATE") { charset_name(p, sql)? } else { None };
            Ok(Action::Names(cs, collation))
        }
        _ if p.eat_keywords(&["CHARACTER", "SET"]) || p.eat_keyword("CHARSET") => {
            Ok(Action::Names(charset_name(p, sql)?, None))
        }
        _ => {
            p.eat_one_of(&["SESSION", "LOCAL"]);
            let name = p.name().ok_or_else(|| not_understood(sql))?;
            system(p, sql, name, env)
        }
    }
}

/// `= value` for a system variable: bare words (`ON`, `utf8`, `SYSTEM`) are
/// strings, `DEFAULT` resets, anything else is evaluated; NULL is refused.
fn system(
    p: &mut Parser<'_, '_>,
    sql: &str,
    name: &str,
    env: Env<'_>,
) -> Result<Action, ErrPacket> {
    expect_equals(p, sql)?;
    let value = match parse_expr(p).ok_or_else(|| not_understood(sql))? {
        Expr::Word(w) if w.eq_ignore_ascii_case("DEFAULT") => None,
        Expr::Word(w) => Some(w),
        other => Some(eval(&other, env)?.text.ok_or_else(|| {
            ErrPacket::new(
                1231,
                b"42000",
                format!("Variable '{name}' can't be set to the value of 'NULL'"),
            )
        })?),
    };
    Ok(Action::System(name.to_owned(), value))
}

/// A character set or collation name: word, backquoted or quoted; `None` for `DEFAULT`.
fn charset_name(p: &mut Parser<'_, '_>, sql: &str) -> Result<Option<String>, ErrPacket> {
    if p.eat_keyword("DEFAULT") {
        return Ok(None);
    }
    let name = p.name().or_else(|| p.string()).ok_or_else(|| not_understood(sql))?;
    Ok(Some(name.to_owned()))
}

fn expect_equals(p: &mut Parser<'_, '_>, sql: &str) -> Result<(), ErrPacket> {
    if p.eat_punct('=') {
        Ok(())
    } else {
        Err(not_understood(sql))
    }
}

fn apply(action: Action, vars: &mut SessionVars, info: &dyn ServerInfo) -> Result<(), ErrPacket> {
    match action {
        Action::User(name, value) => vars
            .set_user_var(&name, value)
            .map_err(|e| ErrPacket::new(1105, b"HY000", format!("binlogserver: {e}"))),
        Action::System(name, value) => sysvars::set_session(&name, value.as_deref(), vars, info),
        Action::Names(cs, collation) => {
            sysvars::set_names(cs.as_deref(), collation.as_deref(), vars, info)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run, FakeInfo};
    use super::*;

    #[test]
    fn assigns_user_variables_from_every_kind_of_term() {
        let mut vars = SessionVars::new();
        let info = FakeInfo::mariadb();
        let sql = concat!(
            r#"SET @s = 'a''b', @d = "x\"y", @n = -12.5, @z = NULL, "#,
            "@c = @@binlog_checksum, @id := @@global.server_id"
        );
        assert_eq!(run(sql, &mut vars, &info), Reply::Ok);
        assert_eq!(vars.user_var("s"), Some("a'b"));
        assert_eq!(vars.user_var("d"), Some("x\"y"));
        assert_eq!(vars.user_var("n"), Some("-12.5"));
        assert_eq!(vars.user_var("z"), None);
        assert_eq!(vars.user_var("c"), Some("CRC32"));
        assert_eq!(vars.user_var("id"), Some("23100"));
    }

    #[test]
    fn evaluates_every_right_side_before_assigning() {
        let mut vars = SessionVars::new();
        let info = FakeInfo::mariadb();
        run("SET @a = 'old'", &mut vars, &info);
        assert_eq!(run("SET @a = 'new', @b = @a", &mut vars, &info), Reply::Ok);
        assert_eq!(vars.user_var("b"), Some("old"));
    }

    #[test]
    fn a_failing_part_assigns_nothing() {
        let mut vars = SessionVars::new();
        let info = FakeInfo::mariadb();
        let reply = run("SET @a = 1, autocommit = 'maybe'", &mut vars, &info);
        assert!(matches!(reply, Reply::Err(ref e) if e.code == 1231), "{reply:?}");
        assert_eq!(vars.user_var("a"), None);
        assert!(matches!(
            run("SET @a = 1, @b = @@nope", &mut vars, &info),
            Reply::Err(ref e) if e.code == 1193
        ));
        assert_eq!(vars.user_var("a"), None);
    }

    #[test]
    fn session_system_variables_and_names() {
        let mut vars = SessionVars::new();
        let info = FakeInfo::mariadb();
        for sql in [
            "SET NAMES utf8mb4 COLLATE 'utf8mb4_unicode_ci'",
            "SET CHARACTER SET latin1",
            "set session sql_mode = 'STRICT_TRANS_TABLES'",
            "SET @@session.time_zone = '+00:00'",
            "SET @@wait_timeout=600, LOCAL net_read_timeout = 60",
            "SET sql_log_bin=0",
            "SET autocommit=ON",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY",
            "SET time_zone = DEFAULT",
            "SET NAMES DEFAULT",
        ] {
            assert_eq!(run(sql, &mut vars, &info), Reply::Ok, "{sql}");
        }
        assert_eq!(vars.system_var("sql_mode"), Some("STRICT_TRANS_TABLES"));
        assert_eq!(vars.system_var("wait_timeout"), Some("600"));
        assert_eq!(vars.system_var("time_zone"), None);
        assert_eq!(vars.charset(), Some("utf8mb4"));
    }

    #[test]
    fn refuses_global_assignments_and_broken_syntax() {
        let mut vars = SessionVars::new();
        let info = FakeInfo::mariadb();
        let code = |sql: &str, vars: &mut SessionVars| match run(sql, vars, &info) {
            Reply::Err(e) => e.code,
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(code("SET GLOBAL server_id = 5", &mut vars), 1290);
        assert_eq!(code("SET @@global.read_only = 0", &mut vars), 1290);
        assert_eq!(code("SET @a", &mut vars), 1064);
        assert_eq!(code("SET @a = 1 + 2", &mut vars), 1064);
        assert_eq!(code("SET @a = 1,", &mut vars), 1064);
        assert_eq!(code("SET sql_mode = NULL", &mut vars), 1231);
        assert_eq!(code("SET NAMES klingon", &mut vars), 1115);
    }
}
