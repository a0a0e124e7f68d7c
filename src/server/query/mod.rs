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

mod expr;
mod lexer;
mod parser;
mod purge;
mod select;
mod set;
mod show;
mod show_repl;
#[cfg(test)]
mod statement_tests;
mod sysvars;
#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::resultset::ResultSet;
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::session_vars::SessionVars;
use lexer::{tokenize, Token};
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
        let reply = match verb.as_str() {
            "SELECT" => select::select(&mut p, self.sql, self.env())?,
            "SET" => set::set(&mut p, self.sql, self.vars, self.info, self.now_unix)?,
            "SHOW" => show::show(&mut p, self.sql, self.vars, self.info)?,
            "KILL" => kill(&mut p, self.sql, self.info)?,
            "PURGE" => purge::purge(&mut p, self.sql, self.vars, self.info, self.now_unix)?,
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

    fn env(&self) -> expr::Env<'_> {
        expr::Env { vars: self.vars, info: self.info, now_unix: self.now_unix }
    }
}

/// `KILL [HARD|SOFT] [CONNECTION|QUERY] id`.
fn kill(p: &mut Parser<'_, '_>, sql: &str, info: &dyn ServerInfo) -> Result<Reply, ErrPacket> {
    p.eat_one_of(&["HARD", "SOFT"]);
    p.eat_one_of(&["CONNECTION", "QUERY"]);
    let id = p.unsigned().ok_or_else(|| not_understood(sql))?;
    let killed = u32::try_from(id).is_ok_and(|id| info.kill(id));
    if killed {
        Ok(Reply::Ok)
    } else {
        Err(ErrPacket::new(1094, b"HY000", format!("Unknown thread id: {id}")))
    }
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
