//! The statements downstream clients send over `COM_QUERY`, answered with
//! typed replies: an OK, a text result set, or an ERR with a MySQL error code.
//!
//! Replicas, `mariadb-binlog`/`mysqlbinlog`, CDC libraries and the `mysql`
//! client send a small, known set of statements on connect
//! (docs/protocol.md §10). This is an honest evaluator of exactly those shapes — not a
//! general SQL parser and not canned packets: a tokenizer, a grammar of
//! single terms, and one function per statement shape, every value read
//! from [`ServerInfo`] or the session's [`SessionVars`]. Anything else gets
//! ERR 1064 "binlogserver does not understand: …" and the connection stays
//! usable; statements that would change data or binlogs get ERR 1290
//! "binlogserver does not support …".
//!
//! Supported: `SELECT` of literals, `@user`/`@@system` variables and
//! `UNIX_TIMESTAMP()`, `VERSION()`, `DATABASE()`, `USER()`,
//! `CURRENT_USER()`, `CONNECTION_ID()`, `BINLOG_GTID_POS(file, pos)`;
//! `SET` of user variables, `NAMES` and session variables; `SHOW
//! VARIABLES`/`STATUS`/`DATABASES`/`WARNINGS`/`BINARY LOGS`/`MASTER
//! STATUS`/`SLAVE HOSTS`/`SLAVE STATUS` and their MySQL 8 spellings;
//! `KILL`; `USE`; `BEGIN`/`COMMIT`/`ROLLBACK`/`START TRANSACTION` (no-ops);
//! `PURGE BINARY LOGS TO|BEFORE` (carried out by [`ServerInfo`]).
//!
//! The evaluator does no I/O itself apart from reading the clock for `UNIX_TIMESTAMP()`
//! in [`evaluate`]; [`evaluate_at`] takes the time as an argument. No I/O.
//!
//! The submodules: `lexer` tokens, `parser` the cursor and terms, `expr`
//! term evaluation, `sysvars` the system-variable table, `set`, `select`,
//! `show` (`SHOW VARIABLES`/`STATUS`/…), `show_repl` (`SHOW BINARY
//! LOGS`/`MASTER STATUS`/`SLAVE …`) and `purge`; tests in `tests.rs` and
//! `statement_tests.rs`.

mod admin;
#[cfg(test)]
mod admin_tests;
mod expr;
mod lexer;
mod parser;
mod processlist;
mod purge;
mod select;
mod set;
mod show;
mod show_repl;
mod slave_status;
#[cfg(test)]
mod statement_tests;
mod sysvars;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use log::info;

use crate::protocol::resultset::ResultSet;
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::privilege::{self, Role};
use crate::server::session_vars::SessionVars;
use lexer::{tokenize, Token, TokenKind};
use parser::Parser;

/// The answer to one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An OK packet.
    Ok,
    /// A text result set (see [`crate::protocol::resultset::encode_result_set`]).
    Rows(ResultSet),
    /// An ERR packet; the connection stays usable.
    Err(ErrPacket),
}

/// Evaluates one statement against the session and the server, reading
/// the wall clock for `UNIX_TIMESTAMP()`.
///
/// `BINLOG_GTID_POS(file, pos)` returns what [`ServerInfo::binlog_gtid_pos`]
/// says, NULL for `None`: MariaDB answers `('', 4)` with the empty string
/// (docs/protocol.md §10.1), so the implementation should return `Some("")` there.
pub fn evaluate(sql: &str, vars: &mut SessionVars, info: &dyn ServerInfo) -> Reply {
    let now_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    evaluate_at(sql, vars, info, now_unix)
}

/// [`evaluate`] with the time given (seconds since the epoch): pure.
pub fn evaluate_at(
    sql: &str,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
    now_unix: u64,
) -> Reply {
    let statement = Statement { sql, vars, info, now_unix };
    match statement.run() {
        Ok(reply) => reply,
        Err(err) => Reply::Err(err),
    }
}

/// One statement being evaluated.
struct Statement<'s> {
    sql: &'s str,
    vars: &'s mut SessionVars,
    info: &'s dyn ServerInfo,
    now_unix: u64,
}

/// Statements that would change data, binlogs or replication: refused.
const REFUSED: &[&str] = &[
    "ALTER",
    "ANALYZE",
    "BINLOG",
    "CALL",
    "CHANGE",
    "CHECK",
    "CREATE",
    "DELETE",
    "DROP",
    "FLUSH",
    "GRANT",
    "HANDLER",
    "INSERT",
    "INSTALL",
    "LOAD",
    "LOCK",
    "OPTIMIZE",
    "RENAME",
    "REPAIR",
    "REPLACE",
    "RESET",
    "REVOKE",
    "SHUTDOWN",
    "START",
    "STOP",
    "TRUNCATE",
    "UNINSTALL",
    "UPDATE",
];

impl Statement<'_> {
    fn run(self) -> Result<Reply, ErrPacket> {
        let mut toks = tokenize(self.sql).map_err(|_| not_understood(self.sql))?;
        while toks.last().is_some_and(|t| t.is_punct(';')) {
            toks.pop();
        }
        let Some(first) = toks.first() else {
            return Err(ErrPacket::new(1065, b"42000", "Query was empty"));
        };
        let mut p = Parser::new(&toks);
        p.next();
        let verb = first.text.to_ascii_uppercase();
        // Only diagnostics keep the last statement's warnings.
        if verb != "SHOW" {
            self.vars.set_warnings(Vec::new());
        }
        self.check_privilege(&toks)?;
        let reply = match verb.as_str() {
            "SELECT" => select::select(&mut p, self.sql, self.env())?,
            "SET" => set::set(&mut p, self.sql, self.vars, self.info, self.now_unix)?,
            "SHOW" => show::show(&mut p, self.sql, self.vars, self.info, self.now_unix)?,
            "KILL" => kill(&mut p, self.sql, self.vars, self.info)?,
            "PURGE" => purge::purge(&mut p, self.sql, self.vars, self.info, self.now_unix)?,
            "START" | "STOP" if p.eat_one_of(&["SLAVE", "REPLICA"]).is_some() => {
                admin::start_stop(&mut p, self.sql, self.vars, self.info, verb == "START")?
            }
            "CHANGE" if p.eat_keyword("MASTER") || p.eat_keywords(&["REPLICATION", "SOURCE"]) => {
                admin::change_master(&mut p, self.sql, self.vars, self.info)?
            }
            "RESET" if p.eat_one_of(&["SLAVE", "REPLICA"]).is_some() => {
                admin::reset_slave(&mut p, self.sql, self.vars, self.info)?
            }
            "USE" => {
                let db = p.name().ok_or_else(|| not_understood(self.sql))?;
                self.vars.set_database(Some(db.to_owned()));
                Reply::Ok
            }
            // Nothing here is transactional; these are trivially done.
            "BEGIN" | "COMMIT" | "ROLLBACK" => {
                p.eat_keyword("WORK");
                Reply::Ok
            }
            "START" if p.eat_keyword("TRANSACTION") => {
                while p.next().is_some() {}
                Reply::Ok
            }
            verb if REFUSED.contains(&verb) => {
                return Err(not_supported(&statement_name(&toks), self.sql))
            }
            _ => return Err(not_understood(self.sql)),
        };
        if p.at_end() {
            Ok(reply)
        } else {
            Err(not_understood(self.sql))
        }
    }

    /// The one privilege check, before anything runs: an admin statement
    /// from an account that is not an admin gets MariaDB's ERR 1227.
    fn check_privilege(&self, toks: &[Token<'_>]) -> Result<(), ErrPacket> {
        let words: Vec<String> = toks
            .iter()
            .take(3)
            .take_while(|t| t.kind == TokenKind::Word)
            .map(|t| t.text.to_ascii_uppercase())
            .collect();
        let Some((needed, name)) = admin::privilege_needed(&words) else { return Ok(()) };
        privilege::check(self.vars.role(), needed).inspect_err(|e| {
            info!(
                "admin statement refused id={} user={} host={} statement={name:?} code={}",
                self.info.connection_id(),
                self.vars.user(),
                self.vars.host(),
                e.code
            )
        })
    }

    fn env(&self) -> expr::Env<'_> {
        expr::Env { vars: self.vars, info: self.info, now_unix: self.now_unix }
    }
}

/// `KILL [HARD|SOFT] [CONNECTION|QUERY] id`: anyone's connection for an
/// admin, only its own user's for others (MariaDB's ERR 1095); our own
/// upstream connection is stopped with `STOP SLAVE`, not killed.
fn kill(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &SessionVars,
    info: &dyn ServerInfo,
) -> Result<Reply, ErrPacket> {
    p.eat_one_of(&["HARD", "SOFT"]);
    p.eat_one_of(&["CONNECTION", "QUERY"]);
    let id = p.unsigned().ok_or_else(|| not_understood(sql))?;
    let unknown = || ErrPacket::new(1094, b"HY000", format!("Unknown thread id: {id}"));
    let target = u32::try_from(id)
        .ok()
        .and_then(|id| info.processlist().into_iter().find(|row| row.id == id))
        .ok_or_else(unknown)?;
    let (user, host, me) = (vars.user(), vars.host(), info.connection_id());
    let owner = if target.upstream { "system user" } else { target.user.as_str() };
    if !privilege::may_kill(vars.role(), user, owner)
        || (target.upstream && vars.role() != Role::Admin)
    {
        info!("kill refused id={me} user={user} host={host} target={id} owner={owner:?}");
        return Err(privilege::not_owner(id));
    }
    if target.upstream {
        return Err(ErrPacket::new(
            1290,
            b"HY000",
            format!(
                "binlogserver does not support KILL of its own upstream connection (id {id}): \
                 use STOP SLAVE"
            ),
        ));
    }
    if !info.kill(target.id) {
        return Err(unknown());
    }
    info!("kill id={me} user={user} host={host} target={id} owner={owner:?}");
    Ok(Reply::Ok)
}

/// `sql` with the string literal of each password option hidden
/// (`MASTER_PASSWORD = '…'` and its `SOURCE_`/bare `PASSWORD` forms,
/// `PASSWORD('…')`, `IDENTIFIED BY '…'`): for log lines and `SHOW
/// PROCESSLIST`. A statement that does not tokenize is hidden whole if it
/// mentions a password.
pub fn redacted(sql: &str) -> Cow<'_, str> {
    const HIDDEN: &str = "'<hidden>'";
    let Ok(toks) = tokenize(sql) else {
        let lower = sql.to_ascii_lowercase();
        if lower.contains("password") || lower.contains("identified") {
            return Cow::Borrowed("<statement hidden: it mentions a password>");
        }
        return Cow::Borrowed(sql);
    };
    let mut out = String::new();
    let mut copied = 0;
    for (i, tok) in toks.iter().enumerate() {
        let before = |back: usize| i.checked_sub(back).and_then(|j| toks.get(j));
        let is_secret = matches!(tok.kind, TokenKind::Str(_))
            && match (before(2), before(1)) {
                (Some(name), Some(op)) if op.is_punct('=') || op.is_punct('(') => {
                    name.kind == TokenKind::Word
                        && name.text.to_ascii_uppercase().ends_with("PASSWORD")
                }
                (Some(identified), Some(by)) => {
                    identified.is_keyword("IDENTIFIED") && by.is_keyword("BY")
                }
                _ => false,
            };
        if is_secret {
            out.push_str(sql.get(copied..tok.start).unwrap_or_default());
            out.push_str(HIDDEN);
            copied = tok.end;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(sql);
    }
    out.push_str(sql.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// The leading words of a refused statement, for its error message
/// (`PURGE BINARY LOGS`, `RESET MASTER`, `INSERT`).
fn statement_name(toks: &[Token<'_>]) -> String {
    let words: Vec<String> = toks
        .iter()
        .take(3)
        .take_while(|t| t.kind == lexer::TokenKind::Word)
        .map(|t| t.text.to_ascii_uppercase())
        .collect();
    match words.first().map(String::as_str) {
        Some("PURGE" | "RESET" | "FLUSH" | "CHANGE" | "START" | "STOP" | "LOAD") => words.join(" "),
        _ => words.first().cloned().unwrap_or_default(),
    }
}

/// The first `max` characters of `sql`, trimmed, with `...` when cut.
fn truncated(sql: &str, max: usize) -> String {
    let sql = sql.trim();
    let mut out: String = sql.chars().take(max).collect();
    if out.len() < sql.len() {
        out.push_str("...");
    }
    out
}

/// ERR 1064 (42000): a statement this evaluator does not handle.
fn not_understood(sql: &str) -> ErrPacket {
    ErrPacket::new(
        1064,
        b"42000",
        format!("binlogserver does not understand: {}", truncated(sql, 100)),
    )
}

/// ERR 1290 (HY000): a statement this server refuses (writes, binlog
/// management, replication control).
fn not_supported(what: &str, sql: &str) -> ErrPacket {
    ErrPacket::new(
        1290,
        b"HY000",
        format!("binlogserver does not support {what}: {}", truncated(sql, 60)),
    )
}

/// ERR 1193 (HY000), `ER_UNKNOWN_SYSTEM_VARIABLE`.
fn unknown_system_variable(name: &str) -> ErrPacket {
    ErrPacket::new(1193, b"HY000", format!("Unknown system variable '{name}'"))
}
