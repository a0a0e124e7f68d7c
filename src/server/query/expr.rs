//! Evaluating one expression term to a typed value: literals, user and
//! system variables, and the few functions clients call on connect
//! (`UNIX_TIMESTAMP()`, `VERSION()`, `USER()`, `BINLOG_GTID_POS()`, …).
//!
//! The value's kind picks the result column's type the way MariaDB does
//! (docs/protocol.md §2.5): integers are `LONGLONG`, strings `VAR_STRING`, user variables
//! and `BINLOG_GTID_POS()` `LONG_BLOB`.

use super::parser::Expr;
use super::sysvars;
use crate::protocol::resultset::Column;
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::session_vars::SessionVars;

/// What a value is, for its column definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueKind {
    /// An integer (`LONGLONG`).
    Integer,
    /// A string (`VAR_STRING`).
    Text,
    /// A user variable or a long string (`LONG_BLOB`).
    LongText,
}

/// An evaluated term: its text (`None` = NULL) and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Value {
    /// The kind.
    pub(super) kind: ValueKind,
    /// The text, `None` for NULL.
    pub(super) text: Option<String>,
}

impl Value {
    /// An integer value.
    pub(super) fn integer(n: impl ToString) -> Self {
        Value { kind: ValueKind::Integer, text: Some(n.to_string()) }
    }

    /// A string value (`None` = NULL).
    pub(super) fn text(s: Option<String>) -> Self {
        Value { kind: ValueKind::Text, text: s }
    }

    /// The result column for this value, named `name`.
    pub(super) fn column(&self, name: &str) -> Column {
        match self.kind {
            ValueKind::Integer if self.text.is_none() => Column::nullable_integer(name),
            ValueKind::Integer => Column::integer(name),
            ValueKind::Text => Column::text(name),
            ValueKind::LongText => Column::long_text(name),
        }
    }
}

/// What an expression may read.
#[derive(Clone, Copy)]
pub(super) struct Env<'e> {
    /// The session.
    pub(super) vars: &'e SessionVars,
    /// The server.
    pub(super) info: &'e dyn ServerInfo,
    /// Seconds since the epoch, for `UNIX_TIMESTAMP()`.
    pub(super) now_unix: u64,
}

/// Evaluates `expr`.
///
/// # Errors
///
/// 1193 for an unknown system variable, 1054 for a bare column name, 1305
/// for an unknown function, 1582 for a wrong argument count.
pub(super) fn eval(expr: &Expr, env: Env<'_>) -> Result<Value, ErrPacket> {
    match expr {
        Expr::Str(s) => Ok(Value::text(Some(s.clone()))),
        Expr::Number(n) if n.parse::<i64>().is_ok() => Ok(Value::integer(n)),
        Expr::Number(n) => Ok(Value::text(Some(n.clone()))),
        Expr::Null => Ok(Value::text(None)),
        Expr::UserVar(name) => Ok(Value {
            kind: ValueKind::LongText,
            text: env.vars.user_var(name).map(str::to_owned),
        }),
        Expr::SysVar(scope, name) => sysvars::select_value(name, *scope, env.vars, env.info),
        Expr::Call(name, args) => call(name, args, env),
        Expr::Word(word) => {
            Err(ErrPacket::new(1054, b"42S22", format!("Unknown column '{word}' in 'field list'")))
        }
    }
}

/// A function call.
fn call(name: &str, args: &[Expr], env: Env<'_>) -> Result<Value, ErrPacket> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(ErrPacket::new(
                1582,
                b"42000",
                format!("Incorrect parameter count in the call to native function '{name}'"),
            ))
        }
    };
    match name {
        "UNIX_TIMESTAMP" => arity(0).map(|()| Value::integer(env.now_unix)),
        "VERSION" => arity(0).map(|()| Value::text(Some(env.info.version()))),
        "DATABASE" | "SCHEMA" => {
            arity(0).map(|()| Value::text(env.vars.database().map(str::to_owned)))
        }
        "USER" | "SESSION_USER" | "SYSTEM_USER" => {
            arity(0).map(|()| Value::text(Some(account(env.vars.user(), env.vars.host()))))
        }
        // Our accounts are not tied to a host, so the matched account is `user@%`.
        "CURRENT_USER" => arity(0).map(|()| Value::text(Some(account(env.vars.user(), "%")))),
        "CONNECTION_ID" => arity(0).map(|()| Value::integer(env.info.connection_id())),
        "BINLOG_GTID_POS" => {
            arity(2)?;
            let mut values = args.iter().map(|a| eval(a, env));
            let file = values.next().transpose()?.and_then(|v| v.text);
            let pos = values
                .next()
                .transpose()?
                .and_then(|v| v.text)
                .and_then(|p| p.trim().parse::<u64>().ok());
            let state = file.zip(pos).and_then(|(file, pos)| env.info.binlog_gtid_pos(&file, pos));
            Ok(Value { kind: ValueKind::LongText, text: state })
        }
        _ => Err(ErrPacket::new(1305, b"42000", format!("FUNCTION {name} does not exist"))),
    }
}

/// `user@host`, or empty before authentication.
fn account(user: &str, host: &str) -> String {
    if user.is_empty() {
        String::new()
    } else {
        format!("{user}@{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::Scope;
    use super::super::tests::FakeInfo;
    use super::*;

    fn env<'e>(vars: &'e SessionVars, info: &'e FakeInfo) -> Env<'e> {
        Env { vars, info, now_unix: 1_795_461_747 }
    }

    #[test]
    fn literals_keep_their_text_and_kind() {
        let (vars, info) = (SessionVars::new(), FakeInfo::mariadb());
        assert_eq!(
            eval(&Expr::Number("-7".into()), env(&vars, &info)).unwrap(),
            Value::integer(-7)
        );
        assert_eq!(
            eval(&Expr::Number("1.5".into()), env(&vars, &info)).unwrap(),
            Value::text(Some("1.5".into()))
        );
        assert_eq!(eval(&Expr::Null, env(&vars, &info)).unwrap().text, None);
    }

    #[test]
    fn functions_read_the_session_and_the_server() {
        let mut vars = SessionVars::new();
        vars.set_account("repl", "127.0.0.1");
        let info = FakeInfo::mariadb();
        let call = |name: &str, args: Vec<Expr>| {
            eval(&Expr::Call(name.into(), args), env(&vars, &info)).unwrap()
        };
        assert_eq!(call("UNIX_TIMESTAMP", vec![]), Value::integer(1_795_461_747));
        assert_eq!(call("USER", vec![]).text.as_deref(), Some("repl@127.0.0.1"));
        assert_eq!(call("CURRENT_USER", vec![]).text.as_deref(), Some("repl@%"));
        assert_eq!(call("CONNECTION_ID", vec![]), Value::integer(13));
        assert_eq!(call("DATABASE", vec![]).text, None);
        let pos = call(
            "BINLOG_GTID_POS",
            vec![Expr::Str("mysql-bin.000005".into()), Expr::Number("1336".into())],
        );
        assert_eq!(pos, Value { kind: ValueKind::LongText, text: Some("0-23100-55".into()) });
        let null = call("BINLOG_GTID_POS", vec![Expr::Null, Expr::Number("4".into())]);
        assert_eq!(null.text, None);
    }

    #[test]
    fn errors_carry_mariadb_codes() {
        let (vars, info) = (SessionVars::new(), FakeInfo::mariadb());
        let code = |e: Expr| eval(&e, env(&vars, &info)).unwrap_err().code;
        assert_eq!(code(Expr::Call("NOW2".into(), vec![])), 1305);
        assert_eq!(code(Expr::Call("VERSION".into(), vec![Expr::Null])), 1582);
        assert_eq!(code(Expr::Word("foo".into())), 1054);
        assert_eq!(code(Expr::SysVar(Scope::Global, "no_such_var".into())), 1193);
    }

    #[test]
    fn columns_follow_the_value_kind() {
        assert_eq!(Value::integer(1).column("x").column_type, 8);
        assert_eq!(Value::text(None).column("x").column_type, 253);
        assert_eq!(Value { kind: ValueKind::LongText, text: None }.column("x").column_type, 251);
    }
}
