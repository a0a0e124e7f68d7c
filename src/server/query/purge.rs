//! `PURGE {BINARY | MASTER} LOGS {TO 'file' | BEFORE datetime}`.
//!
//! The datetime is a `'YYYY-MM-DD[ hh:mm:ss]'` string, `NOW()` (also
//! `CURRENT_TIMESTAMP`, `SYSDATE()`) optionally `- INTERVAL n unit`, or
//! `DATE_SUB(NOW(), INTERVAL n unit)`; strings are read in the session's
//! `time_zone` (`SYSTEM` is UTC here, as `@@system_time_zone` says; a
//! `+hh:mm` offset is honoured). The purge itself is
//! [`ServerInfo::purge_binary_logs`]; its notes become the statement's
//! warnings (`SHOW WARNINGS`). Only admin accounts get here (the
//! dispatcher checks), and each purge is logged with user and host.

use log::info;

use super::lexer::TokenKind;
use super::parser::Parser;
use super::{not_understood, Reply};
use crate::binlog::BinlogFileName;
use crate::protocol::ErrPacket;
use crate::server::info::ServerInfo;
use crate::server::session_vars::SessionVars;
use crate::storage::selection::Criterion;

/// `PURGE …` after the `PURGE` keyword.
pub(super) fn purge(
    p: &mut Parser<'_, '_>,
    sql: &str,
    vars: &mut SessionVars,
    info: &dyn ServerInfo,
    now_unix: u64,
) -> Result<Reply, ErrPacket> {
    if p.eat_one_of(&["BINARY", "MASTER"]).is_none() || !p.eat_keyword("LOGS") {
        return Err(not_understood(sql));
    }
    let criterion = if p.eat_keyword("TO") {
        let name = p.string().ok_or_else(|| not_understood(sql))?;
        // A name that cannot be a binlog is not in the index either.
        Criterion::To(BinlogFileName::new(name).map_err(|_| unknown_target())?)
    } else if p.eat_keyword("BEFORE") {
        let offset = time_zone_offset(vars)?;
        Criterion::Before(datetime(p, now_unix, offset).ok_or_else(|| not_understood(sql))?)
    } else {
        return Err(not_understood(sql));
    };
    if !p.at_end() {
        return Err(not_understood(sql));
    }
    let what = match &criterion {
        Criterion::To(file) => format!("to={file}"),
        Criterion::Before(t) => format!("before={t}"),
        Criterion::MaxTotalSize(n) => format!("max_total_size={n}"),
    };
    let (id, user, host) = (info.connection_id(), vars.user(), vars.host());
    let warnings = info.purge_binary_logs(&criterion).inspect_err(|e| {
        info!("purge binary logs failed id={id} user={user} host={host} {what} code={}", e.code)
    })?;
    info!("purge binary logs id={id} user={user} host={host} {what} warnings={}", warnings.len());
    vars.set_warnings(warnings);
    Ok(Reply::Ok)
}

/// ERR 1373, `ER_UNKNOWN_TARGET_BINLOG`.
pub(super) fn unknown_target() -> ErrPacket {
    ErrPacket::new(1373, b"HY000", "Target log not found in binlog index")
}

/// The session's offset from UTC in seconds.
fn time_zone_offset(vars: &SessionVars) -> Result<i64, ErrPacket> {
    let tz = vars.system_var("time_zone").unwrap_or("SYSTEM");
    if tz.eq_ignore_ascii_case("SYSTEM") || tz.eq_ignore_ascii_case("UTC") {
        return Ok(0);
    }
    let bad = || ErrPacket::new(1298, b"HY000", format!("Unknown or incorrect time zone: '{tz}'"));
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, tz.get(1..).unwrap_or_default()),
        Some(b'-') => (-1, tz.get(1..).unwrap_or_default()),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m) = (h.parse::<i64>().map_err(|_| bad())?, m.parse::<i64>().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// The datetime expression, as seconds since the epoch.
fn datetime(p: &mut Parser<'_, '_>, now: u64, offset: i64) -> Option<u64> {
    if let Some(text) = p.string() {
        let local = parse_datetime(text)?;
        return u64::try_from(local - offset).ok();
    }
    if p.eat_keyword("DATE_SUB") {
        if !p.eat_punct('(') || !now_call(p) || !p.eat_punct(',') {
            return None;
        }
        let back = interval(p)?;
        return p.eat_punct(')').then(|| now.saturating_sub(back));
    }
    if !now_call(p) {
        return None;
    }
    if p.eat_punct('-') {
        return Some(now.saturating_sub(interval(p)?));
    }
    Some(now)
}

/// `NOW()`, `CURRENT_TIMESTAMP[()]`, `SYSDATE()`.
fn now_call(p: &mut Parser<'_, '_>) -> bool {
    match p.eat_one_of(&["NOW", "SYSDATE", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP"]) {
        Some("NOW" | "SYSDATE") => p.eat_punct('(') && p.eat_punct(')'),
        Some(_) => !p.eat_punct('(') || p.eat_punct(')'),
        None => false,
    }
}

/// `INTERVAL n unit`, in seconds.
fn interval(p: &mut Parser<'_, '_>) -> Option<u64> {
    if !p.eat_keyword("INTERVAL") {
        return None;
    }
    let n = match p.peek().map(|t| &t.kind) {
        Some(TokenKind::Str(s)) => {
            let n = s.trim().parse::<u64>().ok()?;
            p.next();
            n
        }
        _ => p.unsigned()?,
    };
    let unit = match p.eat_one_of(&["SECOND", "MINUTE", "HOUR", "DAY", "WEEK"])? {
        "SECOND" => 1,
        "MINUTE" => 60,
        "HOUR" => 3600,
        "DAY" => 86_400,
        _ => 7 * 86_400,
    };
    n.checked_mul(unit)
}

/// `YYYY-MM-DD[ hh:mm:ss[.frac]]` as seconds since the epoch in its own zone.
pub(super) fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (text, None),
    };
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some()
        || !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || day < 1
        || day > days_in_month(y, mo)
    {
        return None;
    }
    let secs = match time {
        None => 0,
        Some(t) => {
            let t = t.split_once('.').map_or(t, |(whole, _)| whole);
            let mut parts = t.split(':').map(|x| x.parse::<i64>().ok());
            let (h, mi, s) = (
                parts.next()??,
                parts.next().unwrap_or(Some(0))?,
                parts.next().unwrap_or(Some(0))?,
            );
            if parts.next().is_some()
                || !(0..24).contains(&h)
                || !(0..60).contains(&mi)
                || !(0..60).contains(&s)
            {
                return None;
            }
            h * 3600 + mi * 60 + s
        }
    };
    Some(days_from_civil(y, mo, day) * 86_400 + secs)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn at(sql: &str, now: u64, offset: i64) -> Option<u64> {
        let toks = tokenize(sql).unwrap();
        let mut p = Parser::new(&toks);
        let t = datetime(&mut p, now, offset);
        assert!(p.at_end() || t.is_none(), "{sql}");
        t
    }

    #[test]
    fn datetimes_are_read_as_utc_or_the_session_offset() {
        assert_eq!(parse_datetime("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_datetime("2026-11-23 22:15:47"), Some(1_795_472_147));
        assert_eq!(parse_datetime("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_datetime("2026-11-23 22:15:47.123456"), Some(1_795_472_147));
        for bad in ["2023-02-29", "2026-13-01", "2026-11-23 24:00:00", "yesterday", "2026-11", ""] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(at("'2026-11-23 23:15:47'", 0, 3600), Some(1_795_472_147));
    }

    #[test]
    fn now_minus_an_interval() {
        assert_eq!(at("NOW()", 1000, 0), Some(1000));
        assert_eq!(at("now() - interval 2 day", 1_000_000, 0), Some(1_000_000 - 172_800));
        assert_eq!(at("CURRENT_TIMESTAMP - INTERVAL '3' HOUR", 100_000, 0), Some(100_000 - 10_800));
        assert_eq!(at("DATE_SUB(NOW(), INTERVAL 1 WEEK)", 1_000_000, 0), Some(1_000_000 - 604_800));
        assert_eq!(at("NOW() - 5", 1000, 0), None);
        assert_eq!(at("NOW", 1000, 0), None);
    }
}
