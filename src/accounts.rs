//! The accounts downstream clients log in with, from the command line or
//! the configuration file: `--replica-user` with `--replica-password` (or
//! `--replica-password-file`), every `--replica-account USER:PASSWORD`,
//! every `--admin-account USER:PASSWORD`, and the lines of
//! `--replica-accounts-file FILE` (`USER:PASSWORD`, or `admin USER:PASSWORD`
//! for an admin account, each may start with `ssl ` for an account that
//! logs in only over TLS, like MariaDB's `REQUIRE SSL`; `#` comments).
//! Without `--replica-account` or `--replica-accounts-file` the upstream
//! `--user`/`--password` is the one replication account (admin accounts
//! come on top of it).
//!
//! Replication accounts may log in, dump, `SHOW`, `SELECT` and `KILL` their
//! own connections; admin accounts may also `PURGE`, `KILL` anyone and
//! control replication ([`crate::server::privilege`]). A user is one or the
//! other: given as both, or twice, is an error naming it.

use std::path::Path;

use getopts::Matches;

use crate::cnf::{file_error, world_readable, Sources};
use crate::error::Error;
use crate::server::{Account, Role};
use crate::upstream::UpstreamConfig;

fn bad(flag: &str, reason: impl Into<String>) -> Error {
    Error::Config { flag: flag.into(), reason: reason.into() }
}

/// Every account, in the order given; an error names the flag, or the file
/// and line, of a malformed or repeated account.
pub fn accounts(
    m: &Matches,
    upstream: Option<&UpstreamConfig>,
    src: &mut Sources,
) -> Result<Vec<Account>, Error> {
    let listed = m.opt_present("replica-account") || m.opt_present("replica-accounts-file");
    let mut out: Vec<Account> = Vec::new();
    if !listed
        || m.opt_present("replica-user")
        || m.opt_present("replica-password")
        || m.opt_present("replica-password-file")
    {
        out.push(main_account(m, upstream).map_err(|e| src.locate(m, e))?);
    }
    for (flag, role) in [("replica-account", Role::Replication), ("admin-account", Role::Admin)] {
        for (pos, value) in m.opt_strs_pos(flag) {
            let locate = |reason: String| match src.line_of(pos) {
                Some((path, line)) => file_error(path, line, format!("{flag}: {reason}")),
                None => bad(&format!("--{flag}"), reason),
            };
            let account = split_account(&value, role).map_err(&locate)?;
            add(&mut out, account).map_err(&locate)?;
        }
    }
    if let Some(path) = m.opt_str("replica-accounts-file") {
        read_accounts_file(m, Path::new(&path), src, &mut out)?;
    }
    if out.is_empty() {
        return Err(src.locate(m, bad("--replica-accounts-file", "lists no account")));
    }
    Ok(out)
}

/// Adds `account` unless its user is already there (as either role).
fn add(out: &mut Vec<Account>, account: Account) -> Result<(), String> {
    if let Some(known) = out.iter().find(|a| a.user == account.user) {
        return Err(if known.role == account.role {
            format!("account {:?} is given twice", account.user)
        } else {
            format!(
                "account {:?} is given both as a replica account and as an admin account",
                account.user
            )
        });
    }
    out.push(account);
    Ok(())
}

/// The accounts of `--replica-accounts-file`, added to `out`.
fn read_accounts_file(
    m: &Matches,
    path: &Path,
    src: &mut Sources,
    out: &mut Vec<Account>,
) -> Result<(), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        src.locate(
            m,
            bad("--replica-accounts-file", format!("cannot read {}: {e}", path.display())),
        )
    })?;
    if world_readable(path) {
        src.warnings.push(format!(
            "accounts file is readable by every user path={} (chmod o-r it, e.g. chmod 640)",
            path.display()
        ));
    }
    for (line, account) in
        parse_accounts_file(&text).map_err(|(line, reason)| file_error(path, line, reason))?
    {
        add(out, account).map_err(|reason| file_error(path, line, reason))?;
    }
    Ok(())
}

/// `--replica-user` (the upstream user by default) with its password.
fn main_account(m: &Matches, upstream: Option<&UpstreamConfig>) -> Result<Account, Error> {
    let user = m.opt_str("replica-user").or_else(|| upstream.map(|u| u.user.clone()));
    let user = user.filter(|u| !u.is_empty()).ok_or_else(|| {
        bad("--replica-user", "required when serving without --host (or give --replica-account)")
    })?;
    let password = match (m.opt_str("replica-password"), m.opt_str("replica-password-file")) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "--replica-password-file",
                "give either --replica-password or --replica-password-file",
            ))
        }
        (Some(p), None) => p,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| bad("--replica-password-file", format!("cannot read {path}: {e}")))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        (None, None) => match upstream {
            Some(u) => u.password.clone(),
            None => return Err(bad("--replica-password", "required when serving without --host")),
        },
    };
    Ok(Account { user, password, role: Role::Replication, require_ssl: false })
}

/// `USER:PASSWORD` (the password may hold `:`) as an account of `role`;
/// the error never repeats the value, which may be a password.
pub fn split_account(value: &str, role: Role) -> Result<Account, String> {
    match value.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Account {
            user: user.to_owned(),
            password: password.to_owned(),
            role,
            require_ssl: false,
        }),
        Some(_) => Err("empty user name (expected USER:PASSWORD)".to_owned()),
        None => Err("expected USER:PASSWORD".to_owned()),
    }
}

/// The accounts of an accounts file with their line numbers: one
/// `USER:PASSWORD` per line taken as it is (no quotes, no escapes), or
/// `admin USER:PASSWORD` (the word `admin`, blanks, then the account) for
/// an admin account; either preceded by the word `ssl` (`ssl USER:PASSWORD`,
/// `ssl admin USER:PASSWORD`) for an account that must log in over TLS;
/// blank lines and lines starting with `#` skipped.
pub fn parse_accounts_file(text: &str) -> Result<Vec<(usize, Account)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (require_ssl, raw) = match word_then_blanks(raw, "ssl") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (role, account) = match word_then_blanks(raw, "admin") {
            Some(rest) => (Role::Admin, rest),
            None => (Role::Replication, raw),
        };
        let mut account = split_account(account, role).map_err(|reason| (i + 1, reason))?;
        account.require_ssl = require_ssl;
        out.push((i + 1, account));
    }
    Ok(out)
}

/// The rest of a line that starts with `word` then blanks (`admin
/// USER:PASSWORD`), if it does.
fn word_then_blanks<'a>(raw: &'a str, word: &str) -> Option<&'a str> {
    let rest = raw.trim_start().strip_prefix(word)?;
    let account = rest.trim_start_matches([' ', '\t']);
    (account.len() < rest.len()).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_account_keeps_colons_in_the_password() {
        let a = split_account("alice:pa:ss", Role::Admin).unwrap();
        assert_eq!((a.user.as_str(), a.password.as_str()), ("alice", "pa:ss"));
        assert_eq!(a.role, Role::Admin);
        assert_eq!(split_account("bob:", Role::Replication).unwrap().password, "");
        assert!(split_account(":pw", Role::Replication).is_err());
        let err = split_account("alicesecret", Role::Replication).unwrap_err();
        assert!(!err.contains("alicesecret"), "{err}");
    }

    #[test]
    fn accounts_file_skips_comments_and_names_the_bad_line() {
        let text = "# replicas\n\nalice:a pw\n  # more\nbob:b#pw\n";
        let got = parse_accounts_file(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0, got[0].1.user.as_str(), got[0].1.password.as_str()),
            (3, "alice", "a pw")
        );
        assert_eq!((got[1].0, got[1].1.password.as_str()), (5, "b#pw"));
        assert_eq!(parse_accounts_file("alice:x\nnocolon\n").unwrap_err().0, 2);
    }

    #[test]
    fn accounts_file_marks_admin_accounts_with_a_leading_word() {
        let text = "admin ops:o pw\n  admin\tdba:d\nadmin:not an admin\nadministrator:a\n";
        let got: Vec<(String, String, Role)> = parse_accounts_file(text)
            .unwrap()
            .into_iter()
            .map(|(_, a)| (a.user, a.password, a.role))
            .collect();
        let want = [
            ("ops", "o pw", Role::Admin),
            ("dba", "d", Role::Admin),
            ("admin", "not an admin", Role::Replication),
            ("administrator", "a", Role::Replication),
        ];
        let want: Vec<(String, String, Role)> =
            want.iter().map(|(u, p, r)| ((*u).to_owned(), (*p).to_owned(), *r)).collect();
        assert_eq!(got, want);
        assert_eq!(parse_accounts_file("ok:1\nadmin nocolon\n").unwrap_err().0, 2);
    }

    #[test]
    fn accounts_file_marks_tls_only_accounts_with_a_leading_ssl() {
        let text = "ssl r1:a\nssl admin ops:b\nssl:not tls only\nr2:c\nadmin ssl x:y\n";
        let got: Vec<(String, String, Role, bool)> = parse_accounts_file(text)
            .unwrap()
            .into_iter()
            .map(|(_, a)| (a.user, a.password, a.role, a.require_ssl))
            .collect();
        let want = [
            ("r1", "a", Role::Replication, true),
            ("ops", "b", Role::Admin, true),
            ("ssl", "not tls only", Role::Replication, false),
            ("r2", "c", Role::Replication, false),
            // `ssl` comes first: here it is the user name.
            ("ssl x", "y", Role::Admin, false),
        ];
        let want: Vec<(String, String, Role, bool)> =
            want.iter().map(|(u, p, r, s)| ((*u).to_owned(), (*p).to_owned(), *r, *s)).collect();
        assert_eq!(got, want);
    }
}
