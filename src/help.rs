//! The `--help` text: every getopts option, grouped under headings, one
//! line each where the description fits, at most [`WIDTH`] columns.
//!
//! The rows come from getopts itself, so an option added to
//! `cli::options()` shows up even before it is given a group here (under
//! "Other options").

use getopts::Options;

use crate::cnf::{kind, Kind};

/// Columns at most.
pub const WIDTH: usize = 100;

/// Headings and the long names under them, in order. Names that no option
/// has are skipped.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "Following a primary:",
        &[
            "host",
            "port",
            "user",
            "password",
            "password-file",
            "server-id",
            "semi-sync",
            "heartbeat",
            "connect-timeout",
            "ssl-mode",
            "server-public-key-path",
            "get-server-public-key",
        ],
    ),
    (
        "Storing:",
        &[
            "data-dir",
            "start-file",
            "start-position",
            "start-gtid",
            "expire-logs-days",
            "binlog-expire-logs-seconds",
            "max-total-size",
        ],
    ),
    (
        "Archiving to S3:",
        &[
            "archive-url",
            "archive-endpoint",
            "archive-region",
            "archive-credentials-file",
            "archive-keep-local",
        ],
    ),
    (
        "Serving:",
        &[
            "listen",
            "replica-user",
            "replica-password",
            "replica-password-file",
            "replica-account",
            "admin-account",
            "replica-accounts-file",
            "max-connections",
            "max-handshakes",
            "max-login-delay",
            "listen-ssl-cert",
            "require-secure-transport",
            "listen-sha2-full-auth",
            "listen-rsa-key",
        ],
    ),
    ("General:", &["config", "metrics", "trace-packets", "verbose", "help", "version"]),
];

/// Options that share one row (each with its hint), with the row's
/// description: the TLS files go together, which keeps the help on one
/// screen. A row starts where its first option is grouped.
const JOINED: &[(&[&str], &str)] = &[
    (&["ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"], "TLS to the primary (PEM files)"),
    (&["listen-ssl-cert", "listen-ssl-key", "listen-ssl-ca"], "TLS for clients (PEM files)"),
    (&["server-public-key-path", "get-server-public-key"], "RSA key for caching_sha2 without TLS"),
    (&["archive-endpoint", "archive-region", "archive-credentials-file"], "store and keys"),
];

/// The row of the joined options that `name` starts, from the getopts rows.
fn joined_row(rows: &[Row], name: &str) -> Option<(Row, &'static [&'static str])> {
    let (names, desc) = JOINED.iter().find(|(names, _)| names.first() == Some(&name))?;
    let mut left = String::from("     ");
    for n in names.iter() {
        let r = rows.iter().find(|r| r.long == *n)?;
        left.push(' ');
        left.push_str(r.left.trim_start());
    }
    Some((Row { long: name.to_owned(), left, desc: (*desc).to_owned() }, names))
}

/// One option as the help shows it.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    long: String,
    left: String,
    desc: String,
}

/// Splits a getopts usage row (`    -h, --host HOST     text...`, wrapped at
/// 78 columns) into the option and its description; whether a hint follows
/// the name is asked of getopts, so descriptions may start with any word.
fn row(opts: &Options, text: &str) -> Option<Row> {
    let mut words = text.split_whitespace().peekable();
    let short = words
        .next_if(|w| w.starts_with('-') && !w.starts_with("--"))
        .map(|w| w.trim_end_matches(','));
    let long = words.next_if(|w| w.starts_with("--"))?.trim_start_matches("--").to_owned();
    let hint = match kind(opts, &long) {
        Some(Kind::Value { .. }) => words.next(),
        _ => None,
    };
    let mut left = match short {
        Some(s) => format!("  {s}, --{long}"),
        None => format!("      --{long}"),
    };
    if let Some(h) = hint {
        left.push(' ');
        left.push_str(h);
    }
    Some(Row { long, left, desc: words.collect::<Vec<_>>().join(" ") })
}

/// Appends `text` wrapped at [`WIDTH`], each line starting at column `indent`
/// (the first line's indent is already written, `first` columns of it).
fn push_wrapped(out: &mut String, text: &str, indent: usize, first: usize) {
    let mut col = first;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 && col + 1 + word.len() > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if i > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out.push('\n');
}

/// `brief`, the grouped options, then `footer`.
pub fn help(opts: &Options, brief: &str, footer: &str) -> String {
    let mut rows: Vec<Row> = Vec::new();
    opts.usage_with_format(|items| {
        rows.extend(items.filter_map(|r| row(opts, &r)));
        String::new()
    });
    let column = rows.iter().map(|r| r.left.len() + 2).max().unwrap_or(0).min(40);
    let mut out = format!("{brief}\n");
    let mut shown = vec![false; rows.len()];
    let grouped = GROUPS.iter().map(|(head, names)| (*head, names.to_vec()));
    let other = ("Other options:", rows.iter().map(|r| r.long.as_str()).collect::<Vec<_>>());
    for (head, names) in grouped.chain(std::iter::once(other)) {
        let mut heading = Some(head);
        for name in names {
            let Some(i) = rows.iter().position(|r| r.long == name) else { continue };
            if shown.get(i).copied().unwrap_or(true) {
                continue;
            }
            let joined = joined_row(&rows, name);
            for n in joined.as_ref().map_or(&[name][..], |(_, names)| names) {
                if let Some(done) =
                    rows.iter().position(|r| r.long == *n).and_then(|j| shown.get_mut(j))
                {
                    *done = true;
                }
            }
            let Some(r) = joined.as_ref().map(|(r, _)| r).or(rows.get(i)) else { continue };
            if let Some(h) = heading.take() {
                out.push_str(h);
                out.push('\n');
            }
            out.push_str(&r.left);
            let pad = column.saturating_sub(r.left.len()).max(2);
            out.push_str(&" ".repeat(pad));
            push_wrapped(&mut out, &r.desc, column, r.left.len() + pad);
        }
    }
    out.push_str(footer);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        let mut o = Options::new();
        o.optopt("h", "host", "primary to follow", "HOST");
        o.optopt("", "connect-timeout", "TCP connect timeout [10]", "SECONDS");
        o.optflag("", "trace-packets", "log every packet");
        o.optopt(
            "",
            "brand-new",
            "an option nobody grouped yet, with a description long enough to wrap past the one \
             hundred column limit of the help",
            "N",
        );
        o
    }

    #[test]
    fn rows_are_grouped_aligned_and_within_the_width() {
        let text = help(&opts(), "Usage: x", "footer");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Usage: x");
        assert_eq!(lines[1], "Following a primary:");
        assert!(lines[2].starts_with("  -h, --host HOST "), "{text}");
        // A description that starts with an upper-case word is not taken for the hint.
        assert!(lines[3].starts_with("      --connect-timeout SECONDS  TCP connect"), "{text}");
        assert_eq!(lines[4], "General:");
        assert!(lines[5].starts_with("      --trace-packets "));
        assert_eq!(lines[6], "Other options:");
        assert!(lines[7].starts_with("      --brand-new N "));
        let column = lines[7].find("an option").unwrap();
        assert!(
            lines[8].starts_with(&" ".repeat(column)) && lines[8].ends_with("of the help"),
            "wrapped: {text}"
        );
        assert_eq!(lines[2].find("primary"), lines[3].find("TCP"));
        assert!(lines.iter().all(|l| l.len() <= WIDTH), "{text}");
        assert_eq!(*lines.last().unwrap(), "footer");
    }
}
