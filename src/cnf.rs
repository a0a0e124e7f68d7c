//! The configuration file (`--config FILE`): the `[binlogserver]` group of a
//! my.cnf-style file, turned into command-line arguments for the same
//! getopts [`Options`] as the command line, so every flag is a key with no
//! code per flag.
//!
//! Syntax as MariaDB reads option files: `[group]` headers (other groups
//! are ignored), `key = value` or a bare `key`, `#` and `;` comment lines,
//! a `#` comment after a value unless quoted, one pair of quotes around a
//! value removed, the escapes `\n \t \r \b \s \" \' \\` in values, `_` and
//! `-` alike in keys. `!include` is not supported. Keys are the long option
//! names; a flag takes a bare `key` or `key = on|off|1|0|true|false`.
//!
//! Precedence: the command line wins over the file (`--password-file` on
//! the command line also overrides the file's `password`, and so on for
//! the `ALTERNATIVES`); within the file the last line wins; options that
//! may be repeated (`replica-account`, `admin-account`, `verbose`) add up,
//! file first.
//! [`Sources`] remembers which argument came from which line, so a bad
//! value is reported as `FILE:LINE: key: reason`.

use std::path::{Path, PathBuf};

use getopts::{Fail, Matches, Options};

use crate::error::Error;

/// The group binlogserver reads.
pub const GROUP: &str = "binlogserver";

/// Keys that make no sense in a file.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// Options that are alternatives to each other: one of them on the command
/// line overrides all of them in the file.
const ALTERNATIVES: [&[&str]; 3] = [
    &["password", "password-file"],
    &["replica-password", "replica-password-file"],
    &["start-file", "start-gtid"],
];

/// True if the command line gives `key` or an alternative to it.
fn given_on_command_line(cli: &Matches, key: &str) -> bool {
    let group = ALTERNATIVES.iter().find(|g| g.contains(&key)).copied().unwrap_or_default();
    cli.opt_present(key) || group.iter().any(|k| cli.opt_defined(k) && cli.opt_present(k))
}

/// One `key [= value]` line of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The key with `_` turned into `-`.
    pub key: String,
    /// The value, unquoted and unescaped; `None` for a bare key.
    pub value: Option<String>,
}

/// Parses the text of an option file and returns the entries of `group`;
/// on a syntax error, the line number and what is wrong.
pub fn parse_text(text: &str, group: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut entries = Vec::new();
    // None before the first header, then whether we are inside `group`.
    let mut in_group: Option<bool> = None;
    for (i, raw) in text.strip_prefix('\u{feff}').unwrap_or(text).lines().enumerate() {
        let line = i + 1;
        let s = raw.trim();
        if s.is_empty() || s.starts_with('#') || s.starts_with(';') {
            continue;
        }
        if s.starts_with('!') {
            return Err((line, format!("{s:?}: !include and !includedir are not supported")));
        }
        if let Some(rest) = s.strip_prefix('[') {
            let name = rest.split_once(']').map(|(name, _)| name.trim());
            let name = name.ok_or_else(|| (line, "group header without ']'".to_owned()))?;
            in_group = Some(name.eq_ignore_ascii_case(group));
            continue;
        }
        match in_group {
            None => return Err((line, format!("option before the first [{group}] header"))),
            Some(false) => continue,
            Some(true) => {}
        }
        let s = strip_end_comment(s);
        let (key, value) = match s.split_once('=') {
            None => (s.trim(), None),
            Some((k, v)) => (k.trim(), Some(unescape(unquote(v.trim())))),
        };
        if key.is_empty() {
            return Err((line, "'=' without a key".to_owned()));
        }
        entries.push(Entry { line, key: key.replace('_', "-"), value });
    }
    Ok(entries)
}

/// Cuts a `#` comment that is not inside quotes (MariaDB's `remove_end_comment`).
fn strip_end_comment(s: &str) -> &str {
    let mut quote = None;
    let mut escape = false;
    for (i, c) in s.char_indices() {
        if (c == '\'' || c == '"') && !escape {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            }
        }
        if quote.is_none() && c == '#' {
            return s.get(..i).unwrap_or(s);
        }
        escape = quote.is_some() && c == '\\' && !escape;
    }
    s
}

/// Removes one pair of matching quotes around the whole value.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The option-file escapes; an unknown escape keeps its backslash.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some(e @ ('"' | '\'' | '\\')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// What kind of option a long name is, found by asking getopts itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Takes no value.
    Flag {
        /// May be given more than once.
        multi: bool,
    },
    /// Takes a value.
    Value {
        /// May be given more than once.
        multi: bool,
    },
}

/// The kind of the long option `name`, or `None` if `opts` has no such
/// long option.
pub fn kind(opts: &Options, name: &str) -> Option<Kind> {
    let valid = name.len() > 1
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid || name.starts_with('-') {
        return None;
    }
    let flag = format!("--{name}");
    match opts.parse([flag.as_str()]) {
        Ok(_) => Some(Kind::Flag { multi: opts.parse([flag.as_str(), flag.as_str()]).is_ok() }),
        Err(Fail::ArgumentMissing(_)) => {
            let v = format!("{flag}=x");
            Some(Kind::Value { multi: opts.parse([v.as_str(), v.as_str()]).is_ok() })
        }
        Err(_) => None,
    }
}

/// Parses a flag's value: on/off, 1/0, true/false (any case).
fn flag_value(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "1" | "true" => Some(true),
        "off" | "0" | "false" => Some(false),
        _ => None,
    }
}

/// Where the arguments came from: the first `lines.len()` arguments of the
/// combined argument list are the file's, one per line; the rest are the
/// command line's.
#[derive(Debug, Default)]
pub struct Sources {
    file: Option<PathBuf>,
    lines: Vec<usize>,
    /// Things to log once logging is up (e.g. a world-readable password).
    pub warnings: Vec<String>,
}

impl Sources {
    /// The file and line of the argument at getopts position `pos`, if it
    /// came from the file.
    pub fn line_of(&self, pos: usize) -> Option<(&Path, usize)> {
        Some((self.file.as_deref()?, *self.lines.get(pos)?))
    }

    /// `err` as the file's error if it is about an option whose (last)
    /// value came from the file; otherwise `err` as it is.
    pub fn locate(&self, m: &Matches, err: Error) -> Error {
        let Error::Config { flag, reason } = &err else { return err };
        let Some(name) = flag.strip_prefix("--").filter(|n| m.opt_defined(n)) else { return err };
        let last = m.opt_positions(name).last().copied();
        match last.and_then(|pos| self.line_of(pos)) {
            Some((path, line)) => file_error(path, line, format!("{name}: {reason}")),
            None => err,
        }
    }
}

/// An error at `path:line`.
pub fn file_error(path: &Path, line: usize, reason: impl Into<String>) -> Error {
    Error::ConfigFile { path: path.to_owned(), line, reason: reason.into() }
}

/// Reads `path` and returns its `[binlogserver]` options as arguments for
/// `opts` (to go before the command line's), leaving out every option the
/// command line `cli` gives that may be given only once.
pub fn load(path: &Path, opts: &Options, cli: &Matches) -> Result<(Vec<String>, Sources), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        flag: "--config".into(),
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    let entries =
        parse_text(&text, GROUP).map_err(|(line, reason)| file_error(path, line, reason))?;
    // Whether or not the command line overrides it, the password is in the file.
    let secret =
        entries.iter().find(|e| holds_secret(&e.key) && e.value.is_some()).map(|e| e.key.clone());
    // Kept per key: for options given once, the last line only.
    let mut kept: Vec<(Entry, String)> = Vec::new();
    for e in entries {
        let bad = |reason: String| file_error(path, e.line, reason);
        if NOT_IN_FILE.contains(&e.key.as_str()) {
            return Err(bad(format!("key {:?} is not allowed in a configuration file", e.key)));
        }
        let Some(kind) = kind(opts, &e.key) else {
            return Err(bad(format!("unknown key {:?}", e.key)));
        };
        let (multi, arg) = match (kind, &e.value) {
            (Kind::Value { .. }, None) => {
                return Err(bad(format!("{}: needs a value (key = value)", e.key)))
            }
            (Kind::Value { multi }, Some(v)) => (multi, Some(format!("--{}={v}", e.key))),
            (Kind::Flag { multi }, None) => (multi, Some(format!("--{}", e.key))),
            (Kind::Flag { multi }, Some(v)) => match flag_value(v) {
                Some(on) => (multi, on.then(|| format!("--{}", e.key))),
                None => {
                    return Err(bad(format!(
                        "{}: invalid value {v:?} (expected on, off, 1, 0, true or false)",
                        e.key
                    )))
                }
            },
        };
        if !multi {
            kept.retain(|(k, _)| k.key != e.key);
            if given_on_command_line(cli, &e.key) {
                continue;
            }
        } else if arg.is_none() {
            // `flag = off` for a repeatable flag clears the lines before it.
            kept.retain(|(k, _)| k.key != e.key);
        }
        if let Some(arg) = arg {
            kept.push((e, arg));
        }
    }
    let mut sources = Sources { file: Some(path.to_owned()), ..Sources::default() };
    if let Some(key) = secret {
        if world_readable(path) {
            sources.warnings.push(format!(
                "configuration file is readable by every user and holds a password path={} \
                 key={key} (chmod o-r it, e.g. chmod 640)",
                path.display()
            ));
        }
    }
    sources.lines = kept.iter().map(|(e, _)| e.line).collect();
    Ok((kept.into_iter().map(|(_, arg)| arg).collect(), sources))
}

/// Keys whose value is a password (not a file holding one).
pub fn holds_secret(key: &str) -> bool {
    (key.contains("password") || key.ends_with("-account")) && !key.ends_with("-file")
}

/// True if others than the owner and group may read `path`.
pub fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o004 != 0).unwrap_or(false)
}

#[cfg(test)]
#[path = "cnf_tests.rs"]
mod tests;
