//! The replication admin statements, carried out through the upstream
//! side's [`ReplicationControl`]:
//!
//! * `START SLAVE` / `START REPLICA`, `STOP SLAVE` / `STOP REPLICA`, each
//!   with MariaDB's optional connection name (`''` only) and thread types,
//!   and MySQL's `FOR CHANNEL ''`. binlogserver has one thread that talks
//!   to the primary (the IO thread) and none that applies anything, so
//!   `IO_THREAD` (or no thread type) starts or stops following, and
//!   `SQL_THREAD` alone changes nothing and says so in a note: tools that
//!   stop the SQL thread after the IO thread (to let it catch up) get
//!   their OK. `UNTIL` and MySQL's `USER=`/`PASSWORD=` are refused.
//! * `CHANGE MASTER ['conn'] TO` / `CHANGE REPLICATION SOURCE TO` with
//!   `MASTER_HOST`, `_PORT`, `_USER`, `_PASSWORD`, `_LOG_FILE`, `_LOG_POS`,
//!   `_HEARTBEAT_PERIOD` (seconds, decimals allowed, MariaDB's range and
//!   warning below 1 ms), `_CONNECT_RETRY`, `_SSL*`, and MySQL's
//!   `MASTER_PUBLIC_KEY_PATH` and `GET_MASTER_PUBLIC_KEY` (the primary's
//!   RSA key for caching_sha2 full authentication over plain TCP), or their
//!   `SOURCE_*` twins (`GET_SOURCE_PUBLIC_KEY`), in either statement;
//!   repeated options: the last wins, as in MariaDB.
//!   Any other option is refused by name before anything changes.
//! * `RESET SLAVE [ALL]` / `RESET REPLICA [ALL]`.
//!
//! The privilege check ([`privilege_needed`]) runs in the dispatcher before
//! any of these. Refusals of the control map [`ControlError`] to its ERR;
//! "already running/stopped" is an OK with MariaDB's note 1254/1255. Every
//! statement carried out is logged at info with user and host, and what a
//! `CHANGE MASTER` set (the password as `<hidden>`).

use std::time::Duration;

use log::info;

use super::lexer::TokenKind;
use super::parser::Parser;
use super::{not_understood, redacted, Reply};
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::privilege::Privilege;
use crate::server::session_vars::{SessionVars, Warning};
use crate::status::control::{ChangeMaster, ControlError, ReplicationControl, Requester};

/// The longest heartbeat period MariaDB accepts, in seconds.
const MAX_HEARTBEAT: f64 = 4_294_967.0;

/// The privilege a statement starting with `words` (upper-cased) needs,
/// and its name for the log; `None` for statements everyone may run.
pub(super) fn privilege_needed(words: &[String]) -> Option<(Privilege, &'static str)> {
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    match (word(0), word(1), word(2)) {
        ("PURGE", _, _) => Some((Privilege::BinlogAdmin, "PURGE BINARY LOGS")),
        ("START", "SLAVE" | "REPLICA", _) | ("START", "ALL", "SLAVES" | "REPLICAS") => {
            Some((Privilege::ReplicationSlaveAdmin, "START SLAVE"))
        }
        ("STOP", "SLAVE" | "REPLICA", _) | ("STOP", "ALL", "SLAVES" | "REPLICAS") => {
            Some((Privilege::ReplicationSlaveAdmin, "STOP SLAVE"))
        }
        ("CHANGE", "MASTER", _) | ("CHANGE", "REPLICATION", "SOURCE") => {
            Some((Privilege::ReplicationSlaveAdmin, "CHANGE MASTER"))
        }
        ("RESET", "SLAVE" | "REPLICA", _) => Some((Privilege::Reload, "RESET SLAVE")),
        _ => None,
    }
}

/// `START|STOP SLAVE|REPLICA …` after `SLAVE`/`REPLICA`.
pub(super) fn start_stop(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
    start: bool,
) -> Result<Reply, ErrPacket> {
    let verb = if start { "START SLAVE" } else { "STOP SLAVE" };
    connection_name(p)?;
    let (io, sql_thread) = thread_types(p, sql)?;
    if p.eat_keyword("UNTIL") {
        return Err(refused(&format!("{verb} UNTIL"), "it follows the primary to its end"));
    }
    if let Some(option) = p.eat_one_of(&["USER", "PASSWORD", "DEFAULT_AUTH", "PLUGIN_DIR"]) {
        return Err(refused(
            &format!("{verb} {option}"),
            "give the primary's account with CHANGE MASTER TO",
        ));
    }
    for_channel(p)?;
    if !p.at_end() {
        return Err(not_understood(&redacted(sql)));
    }
    if sql_thread && !io {
        vars.set_warnings(vec![Warning {
            level: "Note",
            code: 1105,
            message: format!(
                "binlogserver has no SQL thread (it applies nothing): {verb} SQL_THREAD \
                 changes nothing"
            ),
        }]);
        return Ok(Reply::Ok);
    }
    let (control, by) = control_and_requester(vars, info)?;
    let result = if start { control.start_slave(&by) } else { control.stop_slave(&by) };
    let already = result.map_err(|e| control_error(verb, &by, &e))?;
    info!(
        "{} id={} user={} host={}{}",
        verb.to_ascii_lowercase(),
        by.connection_id,
        by.user,
        by.host,
        if already { " (it was already)" } else { "" }
    );
    if already {
        let (code, message) = if start {
            (1254, "Slave is already running")
        } else {
            (1255, "Slave already has been stopped")
        };
        vars.set_warnings(vec![Warning { level: "Note", code, message: message.to_owned() }]);
    }
    Ok(Reply::Ok)
}

/// `RESET SLAVE|REPLICA ['conn'] [ALL] [FOR CHANNEL '']` after `SLAVE`/`REPLICA`.
pub(super) fn reset_slave(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
) -> Result<Reply, ErrPacket> {
    connection_name(p)?;
    let all = p.eat_keyword("ALL");
    for_channel(p)?;
    if !p.at_end() {
        return Err(not_understood(sql));
    }
    let (control, by) = control_and_requester(vars, info)?;
    control.reset_slave(all, &by).map_err(|e| control_error("RESET SLAVE", &by, &e))?;
    info!(
        "reset slave{} id={} user={} host={}",
        if all { " all" } else { "" },
        by.connection_id,
        by.user,
        by.host
    );
    Ok(Reply::Ok)
}

/// `CHANGE MASTER ['conn'] TO …` after `MASTER`, or `CHANGE REPLICATION
/// SOURCE TO …` after `SOURCE`.
pub(super) fn change_master(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
) -> Result<Reply, ErrPacket> {
    connection_name(p)?;
    if !p.eat_keyword("TO") {
        return Err(not_understood(&redacted(sql)));
    }
    let mut change = ChangeMaster::default();
    let mut warnings = Vec::new();
    loop {
        change_option(p, sql, &mut change, &mut warnings)?;
        if !p.eat_punct(',') {
            break;
        }
    }
    for_channel(p)?;
    if !p.at_end() {
        return Err(not_understood(&redacted(sql)));
    }
    let (control, by) = control_and_requester(vars, info)?;
    control.change_master(&change, &by).map_err(|e| control_error("CHANGE MASTER", &by, &e))?;
    info!(
        "change master id={} user={} host={} {}",
        by.connection_id,
        by.user,
        by.host,
        describe(&change)
    );
    vars.set_warnings(warnings);
    Ok(Reply::Ok)
}

/// One `NAME = value` of `CHANGE MASTER`, into `change`.
fn change_option(
    p: &mut Parser<'_, '_>,
    sql: &str,
    change: &mut ChangeMaster,
    warnings: &mut Vec<Warning>,
) -> Result<(), ErrPacket> {
    let bad = || not_understood(&redacted(sql));
    let name = p.name().ok_or_else(bad)?.to_ascii_uppercase();
    if !p.eat_punct('=') {
        return Err(bad());
    }
    // MySQL reads SOURCE_HOST as MASTER_HOST in both statements, and so do we.
    let option = match name.as_str() {
        "GET_SOURCE_PUBLIC_KEY" => "GET_MASTER_PUBLIC_KEY".to_owned(),
        _ => name.strip_prefix("SOURCE_").map_or(name.clone(), |o| format!("MASTER_{o}")),
    };
    match option.as_str() {
        "MASTER_HOST" => {
            let host = string(p, sql)?;
            if host.is_empty() {
                return Err(wrong_arguments(&name));
            }
            change.host = Some(host);
        }
        "MASTER_USER" => change.user = Some(string(p, sql)?),
        "MASTER_PASSWORD" => change.password = Some(string(p, sql)?),
        "MASTER_LOG_FILE" => change.log_file = Some(string(p, sql)?),
        "MASTER_PORT" => {
            let port = p.unsigned().ok_or_else(bad)?;
            let port = u16::try_from(port).ok().filter(|&n| n > 0);
            change.port = Some(port.ok_or_else(|| wrong_arguments(&name))?);
        }
        "MASTER_LOG_POS" => change.log_pos = Some(p.unsigned().ok_or_else(bad)?),
        "MASTER_CONNECT_RETRY" => {
            let secs = p.unsigned().ok_or_else(bad)?;
            let secs = u32::try_from(secs).ok().filter(|&n| n > 0);
            let secs = secs.ok_or_else(|| wrong_arguments(&name))?;
            change.connect_retry = Some(Duration::from_secs(u64::from(secs)));
        }
        "MASTER_HEARTBEAT_PERIOD" => {
            change.heartbeat_period = Some(heartbeat_period(p, sql, warnings)?);
        }
        "MASTER_SSL" => change.ssl = Some(zero_or_one(p, &name).ok_or_else(bad)??),
        "MASTER_SSL_VERIFY_SERVER_CERT" => {
            change.ssl_verify_server_cert = Some(zero_or_one(p, &name).ok_or_else(bad)??);
        }
        "MASTER_SSL_CA" => change.ssl_ca = Some(string(p, sql)?),
        "MASTER_SSL_CERT" => change.ssl_cert = Some(string(p, sql)?),
        "MASTER_SSL_KEY" => change.ssl_key = Some(string(p, sql)?),
        "MASTER_PUBLIC_KEY_PATH" => change.public_key_path = Some(string(p, sql)?),
        "GET_MASTER_PUBLIC_KEY" => {
            change.get_public_key = Some(zero_or_one(p, &name).ok_or_else(bad)??);
        }
        _ => {
            // Read the value so that a malformed statement still says so.
            skip_value(p).ok_or_else(bad)?;
            return Err(unsupported_option(&name));
        }
    }
    Ok(())
}

/// A `0`/`1` option's value (`MASTER_SSL`); `None` when no number follows.
fn zero_or_one(p: &mut Parser<'_, '_>, name: &str) -> Option<Result<bool, ErrPacket>> {
    match p.unsigned()? {
        0 => Some(Ok(false)),
        1 => Some(Ok(true)),
        _ => Some(Err(wrong_arguments(name))),
    }
}

/// `MASTER_HEARTBEAT_PERIOD`'s value: seconds in MariaDB's range; below
/// 1 ms it becomes 0 (no heartbeats) with MariaDB's warning 1703.
fn heartbeat_period(
    p: &mut Parser<'_, '_>,
    sql: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Duration, ErrPacket> {
    let tok = p.next().filter(|t| t.kind == TokenKind::Number);
    let secs = tok.and_then(|t| t.text.parse::<f64>().ok()).ok_or_else(|| not_understood(sql))?;
    if !(0.0..=MAX_HEARTBEAT).contains(&secs) {
        return Err(ErrPacket::new(
            1624,
            b"HY000",
            "The requested value for the heartbeat period is either negative or exceeds the \
             maximum allowed (4294967 seconds)",
        ));
    }
    if secs > 0.0 && secs < 0.001 {
        warnings.push(Warning {
            level: "Warning",
            code: 1703,
            message: "The requested value for the heartbeat period is less than 1 millisecond. \
                      The value is reset to 0, meaning that heartbeating will effectively be \
                      disabled"
                .to_owned(),
        });
        return Ok(Duration::ZERO);
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A string literal, or the "does not understand" error.
fn string(p: &mut Parser<'_, '_>, sql: &str) -> Result<String, ErrPacket> {
    p.string().map(str::to_owned).ok_or_else(|| not_understood(&redacted(sql)))
}

/// Skips an option value: a literal, a word (`slave_pos`) or a
/// parenthesized list (`IGNORE_SERVER_IDS = (1, 2)`).
fn skip_value(p: &mut Parser<'_, '_>) -> Option<()> {
    if p.eat_punct('(') {
        while !p.eat_punct(')') {
            p.next()?;
        }
        return Some(());
    }
    match p.next()?.kind {
        TokenKind::Str(_) | TokenKind::Number | TokenKind::Word | TokenKind::Ident(_) => Some(()),
        _ => None,
    }
}

/// An optional connection name: only the default one, `''`, exists.
fn connection_name(p: &mut Parser<'_, '_>) -> Result<(), ErrPacket> {
    match p.string() {
        Some(name) if !name.is_empty() => Err(no_such_connection(name)),
        _ => Ok(()),
    }
}

/// An optional `FOR CHANNEL 'name'` (MySQL; MariaDB 10.7+): `''` only.
fn for_channel(p: &mut Parser<'_, '_>) -> Result<(), ErrPacket> {
    if p.eat_keywords(&["FOR", "CHANNEL"]) {
        let name = p.string().or_else(|| p.name()).unwrap_or_default();
        if !name.is_empty() {
            return Err(no_such_connection(name));
        }
    }
    Ok(())
}

/// `IO_THREAD`, `SQL_THREAD`, separated by commas: (IO named or none named,
/// SQL named).
fn thread_types(p: &mut Parser<'_, '_>, sql: &str) -> Result<(bool, bool), ErrPacket> {
    let (mut io, mut sql_thread) = (false, false);
    while let Some(kind) = p.eat_one_of(&["IO_THREAD", "SQL_THREAD"]) {
        if kind == "IO_THREAD" {
            io = true;
        } else {
            sql_thread = true;
        }
        if !p.eat_punct(',') {
            break;
        }
        if !p.peek().is_some_and(|t| t.is_keyword("IO_THREAD") || t.is_keyword("SQL_THREAD")) {
            return Err(not_understood(sql));
        }
    }
    Ok((io || !sql_thread, sql_thread))
}

/// The control and who asks, or the ERR of a binlogserver without one.
fn control_and_requester<'i>(
    vars: &SessionVars,
    info: &'i dyn ServerInfo,
) -> Result<(&'i dyn ReplicationControl, Requester), ErrPacket> {
    let Some(control) = info.replication_control() else {
        let why = if info.upstream_status().is_some() {
            "binlogserver cannot control its replication here: this build has no replication \
             controller"
        } else {
            "binlogserver follows no primary: it serves its data directory as it is (started \
             without --host), so there is no replication to start, stop or change"
        };
        let e = ControlError::ServeOnly(why.to_owned());
        return Err(ErrPacket::new(e.code(), e.sql_state(), e.to_string()));
    };
    let by = Requester {
        user: vars.user().to_owned(),
        host: vars.host().to_owned(),
        connection_id: info.connection_id(),
    };
    Ok((control, by))
}

/// The ERR of a refused control request, logged with who asked.
fn control_error(verb: &str, by: &Requester, e: &ControlError) -> ErrPacket {
    info!(
        "{} refused id={} user={} host={} code={}: {e}",
        verb.to_ascii_lowercase(),
        by.connection_id,
        by.user,
        by.host,
        e.code()
    );
    ErrPacket::new(e.code(), e.sql_state(), e.to_string())
}

/// What a `CHANGE MASTER` sets, for the log (never the password).
fn describe(c: &ChangeMaster) -> String {
    let mut parts = Vec::new();
    if let Some(h) = &c.host {
        parts.push(format!("master_host={h}"));
    }
    if let Some(port) = c.port {
        parts.push(format!("master_port={port}"));
    }
    if let Some(u) = &c.user {
        parts.push(format!("master_user={u}"));
    }
    if c.password.is_some() {
        parts.push("master_password=<hidden>".to_owned());
    }
    if let Some(f) = &c.log_file {
        parts.push(format!("master_log_file={f}"));
    }
    if let Some(pos) = c.log_pos {
        parts.push(format!("master_log_pos={pos}"));
    }
    if let Some(hb) = c.heartbeat_period {
        parts.push(format!("master_heartbeat_period={}", hb.as_secs_f64()));
    }
    if let Some(r) = c.connect_retry {
        parts.push(format!("master_connect_retry={}", r.as_secs()));
    }
    if let Some(on) = c.ssl {
        parts.push(format!("master_ssl={}", u8::from(on)));
    }
    for (key, v) in [
        ("master_ssl_ca", &c.ssl_ca),
        ("master_ssl_cert", &c.ssl_cert),
        ("master_ssl_key", &c.ssl_key),
    ] {
        if let Some(v) = v {
            parts.push(format!("{key}={v}"));
        }
    }
    if let Some(on) = c.ssl_verify_server_cert {
        parts.push(format!("master_ssl_verify_server_cert={}", u8::from(on)));
    }
    if let Some(path) = &c.public_key_path {
        parts.push(format!("master_public_key_path={path}"));
    }
    if let Some(on) = c.get_public_key {
        parts.push(format!("get_master_public_key={}", u8::from(on)));
    }
    parts.join(" ")
}

/// ERR 1210 (HY000), `ER_WRONG_ARGUMENTS`, as MariaDB words it for an
/// empty `MASTER_HOST` (binlogserver also refuses port 0 or above 65535 and
/// a connect retry of 0, which MariaDB takes in silently).
fn wrong_arguments(option: &str) -> ErrPacket {
    ErrPacket::new(1210, b"HY000", format!("Incorrect arguments to {option}"))
}

/// ERR 1617 (HY000), `ER_MASTER_INFO`, MariaDB's text plus why.
fn no_such_connection(name: &str) -> ErrPacket {
    ErrPacket::new(
        1617,
        b"HY000",
        format!(
            "There is no master connection '{name}' (binlogserver follows one primary, the \
             default connection '')"
        ),
    )
}

/// ERR 1290 (HY000): a `CHANGE MASTER` option binlogserver does not take.
fn unsupported_option(name: &str) -> ErrPacket {
    let why = if name.contains("_SSL") || name.contains("_TLS") || name.contains("PUBLIC_KEY") {
        "it takes MASTER_SSL, MASTER_SSL_CA, MASTER_SSL_CERT, MASTER_SSL_KEY, \
         MASTER_SSL_VERIFY_SERVER_CERT, MASTER_PUBLIC_KEY_PATH and GET_MASTER_PUBLIC_KEY"
    } else if name.ends_with("_USE_GTID") || name.ends_with("_AUTO_POSITION") {
        "binlogserver continues its files by name and checks GTID continuity itself"
    } else if name.ends_with("_DELAY") {
        "binlogserver applies nothing; it stores what it receives at once"
    } else {
        "it takes MASTER_HOST, MASTER_PORT, MASTER_USER, MASTER_PASSWORD, MASTER_LOG_FILE, \
         MASTER_LOG_POS, MASTER_HEARTBEAT_PERIOD and MASTER_CONNECT_RETRY"
    };
    ErrPacket::new(
        1290,
        b"HY000",
        format!("binlogserver does not support the CHANGE MASTER option {name}: {why}"),
    )
}

/// ERR 1290 (HY000): a form of an admin statement binlogserver does not take.
fn refused(what: &str, why: &str) -> ErrPacket {
    ErrPacket::new(1290, b"HY000", format!("binlogserver does not support {what}: {why}"))
}
