//! Tests of the configuration file: the parser on its own, then through
//! `cli::parse` with real files (precedence, flags, accounts, errors).

use super::*;
use crate::cli::{parse, CliOutcome};
use crate::config::Config;
use crate::upstream::SemiSyncMode;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn entries(text: &str) -> Vec<(usize, String, Option<String>)> {
    parse_text(text, GROUP).unwrap().into_iter().map(|e| (e.line, e.key, e.value)).collect()
}

fn kv(line: usize, key: &str, value: Option<&str>) -> (usize, String, Option<String>) {
    (line, key.to_owned(), value.map(str::to_owned))
}

#[test]
fn reads_only_its_group_with_comments_and_both_key_spellings() {
    let text = "# comment\n; another\n[client]\nuser = root\n\n[binlogserver]\n\
                host = db1  # trailing\ndata_dir=/var/lib/bls\n  trace-packets\n[mysqld]\n\
                port = 1\n[BinlogServer]\nport = 3307\n";
    assert_eq!(
        entries(text),
        vec![
            kv(7, "host", Some("db1")),
            kv(8, "data-dir", Some("/var/lib/bls")),
            kv(9, "trace-packets", None),
            kv(13, "port", Some("3307")),
        ]
    );
}

#[test]
fn quotes_and_escapes_as_in_my_cnf() {
    let text = "[binlogserver]\na = \"se#cret\"   # comment\nb = 'it''s'\nc = \"with spaces \"\n\
                d = a\\sb\\\\c\\q\ne = \"\nf = ''\ng =\nh = x=y\n";
    assert_eq!(
        entries(text),
        vec![
            kv(2, "a", Some("se#cret")),
            kv(3, "b", Some("it''s")),
            kv(4, "c", Some("with spaces ")),
            kv(5, "d", Some("a b\\c\\q")),
            kv(6, "e", Some("\"")),
            kv(7, "f", Some("")),
            kv(8, "g", Some("")),
            kv(9, "h", Some("x=y")),
        ]
    );
}

#[test]
fn syntax_errors_name_the_line() {
    for (text, line, what) in [
        ("host = x\n", 1, "before the first"),
        ("[binlogserver]\n[oops\n", 2, "without ']'"),
        ("[binlogserver]\n\n!include /etc/x.cnf\n", 3, "not supported"),
        ("[binlogserver]\n = x\n", 2, "without a key"),
    ] {
        let (l, reason) = parse_text(text, GROUP).unwrap_err();
        assert_eq!(l, line, "{text:?}");
        assert!(reason.contains(what), "{text:?}: {reason}");
    }
}

#[test]
fn kind_asks_getopts() {
    let mut o = Options::new();
    o.optopt("h", "host", "", "HOST");
    o.optmulti("", "account", "", "A");
    o.optflag("", "trace", "");
    o.optflagmulti("v", "verbose", "");
    assert_eq!(kind(&o, "host"), Some(Kind::Value { multi: false }));
    assert_eq!(kind(&o, "account"), Some(Kind::Value { multi: true }));
    assert_eq!(kind(&o, "trace"), Some(Kind::Flag { multi: false }));
    assert_eq!(kind(&o, "verbose"), Some(Kind::Flag { multi: true }));
    for unknown in ["h", "v", "nope", "Host", "host=x", "-host", ""] {
        assert_eq!(kind(&o, unknown), None, "{unknown}");
    }
}

/// A file under the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name =
            format!("bls-cnf-{}-{}.conf", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        TempFile(path)
    }

    fn arg(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(file: &TempFile, cli: &str) -> Result<(Config, log::LevelFilter, Vec<String>), Error> {
    let mut args = vec!["--config".to_owned(), file.arg()];
    args.extend(cli.split_whitespace().map(String::from));
    match parse(&args, |_| None)? {
        CliOutcome::Run(c, level, warnings) => Ok((*c, level, warnings)),
        other => panic!("{other:?}"),
    }
}

const BASE: &str =
    "[binlogserver]\nhost = db1\nuser = repl\npassword = \"s3cret # not a comment\"\n";

#[test]
fn every_flag_is_a_key_and_the_command_line_wins() {
    let f = TempFile::new(&format!(
        "{BASE}port = 3310\nport = 3311\nsemi_sync = off\nheartbeat = 2.5\nlisten = 0.0.0.0:3400\n\
         max-connections = 7\nverbose\ntrace-packets = on\nserver-id = 42\ndata-dir = /srv/bls\n"
    ));
    let (c, level, warnings) = run(&f, "").unwrap();
    let up = c.upstream.clone().unwrap();
    assert_eq!(
        (up.host.as_str(), up.port, up.user.as_str()),
        ("db1", 3311, "repl"),
        "the last line wins"
    );
    assert_eq!(up.password, "s3cret # not a comment");
    assert_eq!(
        (up.semi_sync, up.heartbeat, up.server_id),
        (SemiSyncMode::Off, Duration::from_millis(2500), 42)
    );
    assert!(up.trace_packets);
    assert_eq!(c.data_dir, PathBuf::from("/srv/bls"));
    let s = c.server.unwrap();
    assert_eq!((s.listen.to_string().as_str(), s.max_connections), ("0.0.0.0:3400", 7));
    assert_eq!(level, log::LevelFilter::Debug);
    assert!(warnings.is_empty(), "mode 600: {warnings:?}");

    let (c, level, _) = run(&f, "-P 3999 --semi-sync on --listen off -p other -v").unwrap();
    let up = c.upstream.unwrap();
    assert_eq!((up.port, up.semi_sync, up.password.as_str()), (3999, SemiSyncMode::On, "other"));
    assert!(c.server.is_none());
    assert_eq!(level, log::LevelFilter::Trace, "-v adds to the file's verbose");
}

#[test]
fn an_alternative_on_the_command_line_overrides_the_file() {
    let pw = TempFile::new("from-file\n");
    let f = TempFile::new(&format!("\u{feff}{BASE}start-gtid = 0-1-5\n"));
    let (c, _, _) =
        run(&f, &format!("--password-file {} --start-file mysql-bin.000007", pw.arg())).unwrap();
    let up = c.upstream.unwrap();
    assert_eq!(up.password, "from-file");
    assert!(
        matches!(
            up.start,
            crate::upstream::StartFrom::File(ref f) if f.to_string() == "mysql-bin.000007"
        ),
        "{:?}",
        up.start
    );
    // Both in the file: the file's error, at the later line.
    let (got, from_file) = error_of(&format!("{BASE}password-file = {}\n", pw.arg()), "");
    assert!(
        from_file
            && got.starts_with("FILE:5: password-file: give either --password or --password-file"),
        "{got}"
    );
}

#[test]
fn flags_take_on_off_values() {
    for (value, on) in
        [("on", true), ("1", true), ("TRUE", true), ("off", false), ("0", false), ("false", false)]
    {
        let f = TempFile::new(&format!("{BASE}trace_packets = {value}\n"));
        assert_eq!(run(&f, "").unwrap().0.upstream.unwrap().trace_packets, on, "{value}");
    }
    let f = TempFile::new(&format!("{BASE}trace-packets\ntrace-packets = off\n"));
    assert!(!run(&f, "").unwrap().0.upstream.unwrap().trace_packets, "the last line wins");
}

/// The error's text and whether it came from the file.
fn error_of(file_text: &str, cli: &str) -> (String, bool) {
    let f = TempFile::new(file_text);
    let err = run(&f, cli).unwrap_err();
    let from_file = matches!(err, Error::ConfigFile { .. });
    (err.to_string().replace(&f.arg(), "FILE"), from_file)
}

#[test]
fn errors_name_file_line_and_key() {
    for (text, cli, want) in [
        (format!("{BASE}\nfoo = 1\n"), "", "FILE:6: unknown key \"foo\""),
        (format!("{BASE}h = x\n"), "", "FILE:5: unknown key \"h\""),
        (format!("{BASE}config = /x\n"), "", "FILE:5: key \"config\" is not allowed"),
        (format!("{BASE}port\n"), "", "FILE:5: port: needs a value"),
        (
            format!("{BASE}trace-packets = maybe\n"),
            "",
            "FILE:5: trace-packets: invalid value \"maybe\"",
        ),
        (format!("{BASE}port = 0\n"), "", "FILE:5: port: invalid value \"0\""),
        (format!("{BASE}port = 1\nport = x\n"), "", "FILE:6: port: invalid value \"x\""),
        (format!("{BASE}semi-sync = maybe\n"), "", "FILE:5: semi-sync: invalid value \"maybe\""),
        (format!("{BASE}listen = nowhere\n"), "", "FILE:5: listen: invalid address"),
        (format!("{BASE}password-file = /x\n"), "", "FILE:5: password-file: give either"),
        (
            format!("{BASE}replica-account = alice:a\n\nreplica-account = bob\n"),
            "",
            "FILE:7: replica-account: expected USER:PASSWORD",
        ),
        (
            format!("{BASE}replica_account = alice:a\nreplica_account = alice:b\n"),
            "",
            "FILE:6: replica-account: account \"alice\" is given twice",
        ),
        (
            "[binlogserver]\nuser = repl\n".to_owned(),
            "",
            "--replica-user: required when serving without --host",
        ),
    ] {
        let (got, _) = error_of(&text, cli);
        assert!(got.starts_with(want), "{text:?}: got {got:?}, want {want:?}");
    }
    // A bad value on the command line is the command line's, even if the file has the key too.
    let (got, from_file) = error_of(&format!("{BASE}port = 3307\n"), "-P 0");
    assert!(got.starts_with("--port: invalid value \"0\"") && !from_file, "{got}");
    let (got, _) = error_of(&format!("{BASE}replica-account = alice:a\n"), "--replica-account bob");
    assert!(got.starts_with("--replica-account: expected USER:PASSWORD"), "{got}");
    assert!(!got.contains("bob"), "never echo what may be a password: {got}");
}

#[test]
fn unreadable_file_names_it() {
    let args: Vec<String> =
        ["--config", "/nonexistent/bls.conf"].iter().map(|s| (*s).to_owned()).collect();
    let err = parse(&args, |_| None).unwrap_err().to_string();
    assert!(err.starts_with("--config: cannot read /nonexistent/bls.conf"), "{err}");
}

fn users(c: &Config) -> Vec<(String, String)> {
    c.server
        .as_ref()
        .unwrap()
        .accounts
        .iter()
        .map(|a| (a.user.clone(), a.password.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect()
}

#[test]
fn several_accounts_from_file_command_line_and_accounts_file() {
    let accounts = TempFile::new("# logins\ncarol:c:pw\n\ndave:d pw\n");
    let f = TempFile::new(&format!(
        "{BASE}replica-account = alice:a#1\nreplica-account = \"bob:b pw\"\n\
         replica-accounts-file = {}\n",
        accounts.arg()
    ));
    let (c, _, _) = run(&f, "--replica-account erin:e").unwrap();
    assert_eq!(
        users(&c),
        pairs(&[
            ("alice", "a"),
            ("bob", "b pw"),
            ("erin", "e"),
            ("carol", "c:pw"),
            ("dave", "d pw")
        ]),
        "listed accounts replace the upstream default; the command line adds to the file"
    );
    let (c, _, _) = run(&f, "--replica-user ops --replica-password o").unwrap();
    assert_eq!(users(&c)[0], ("ops".to_owned(), "o".to_owned()));
    assert_eq!(users(&c).len(), 5);

    let plain = TempFile::new(BASE);
    assert_eq!(users(&run(&plain, "").unwrap().0), pairs(&[("repl", "s3cret # not a comment")]));

    let serve_only = TempFile::new(&format!(
        "[binlogserver]\ndata-dir = /d\nreplica-accounts-file = {}\n",
        accounts.arg()
    ));
    let (c, _, _) = run(&serve_only, "").unwrap();
    assert!(c.upstream.is_none());
    assert_eq!(users(&c), pairs(&[("carol", "c:pw"), ("dave", "d pw")]));

    let dup = TempFile::new("carol:x\n");
    let f = TempFile::new(&format!(
        "{BASE}replica-account = carol:y\nreplica-accounts-file = {}\n",
        dup.arg()
    ));
    let err = run(&f, "").unwrap_err().to_string();
    assert_eq!(err, format!("{}:1: account \"carol\" is given twice", dup.arg()));
    let bad = TempFile::new("ok:1\nnot-an-account\n");
    let err = run(&serve_only, &format!("--replica-accounts-file {}", bad.arg()))
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{}:2: expected USER:PASSWORD", bad.arg()));
}

fn roles(c: &Config) -> Vec<(String, crate::server::Role)> {
    c.server.as_ref().unwrap().accounts.iter().map(|a| (a.user.clone(), a.role)).collect()
}

#[test]
fn admin_accounts_from_file_command_line_and_accounts_file() {
    use crate::server::Role::{Admin, Replication};
    let accounts = TempFile::new("carol:c\nadmin dba:d pw\n");
    let f = TempFile::new(&format!(
        "{BASE}admin-account = ops:o#1\nreplica-accounts-file = {}\n",
        accounts.arg()
    ));
    let (c, _, _) = run(&f, "--admin-account root2:r").unwrap();
    let want = [("ops", Admin), ("root2", Admin), ("carol", Replication), ("dba", Admin)];
    let want: Vec<_> = want.iter().map(|(u, r)| ((*u).to_owned(), *r)).collect();
    assert_eq!(roles(&c), want, "the file's admin-account lines come first, then the CLI's");
    assert_eq!(users(&c)[3], ("dba".to_owned(), "d pw".to_owned()));

    // Admin accounts do not replace the upstream account as the replicas' login.
    let plain = TempFile::new(&format!("{BASE}admin-account = ops:o\n"));
    let want: Vec<_> = [("repl", Replication), ("ops", Admin)]
        .iter()
        .map(|(u, r)| ((*u).to_owned(), *r))
        .collect();
    assert_eq!(roles(&run(&plain, "").unwrap().0), want);

    // One user, two roles: an error naming it, wherever the two come from.
    let both = "account \"carol\" is given both as a replica account and as an admin account";
    let err = run(&f, "--admin-account carol:x").unwrap_err().to_string();
    assert_eq!(err, format!("{}:1: {both}", accounts.arg()));
    let err = run(&plain, "--replica-account ops:p").unwrap_err().to_string();
    let both_ops = both.replace("carol", "ops");
    assert_eq!(err, format!("{}:5: admin-account: {both_ops}", plain.arg()));
    let err = run(&plain, "--replica-user ops --replica-password p").unwrap_err().to_string();
    assert!(err.contains("\"ops\" is given both as a replica account and as an admin"), "{err}");
    let err = run(&plain, "--admin-account ops:again").unwrap_err().to_string();
    assert_eq!(err, "--admin-account: account \"ops\" is given twice");
    let err = run(&plain, "--admin-account nocolon").unwrap_err().to_string();
    assert_eq!(err, "--admin-account: expected USER:PASSWORD");
}

#[test]
fn world_readable_file_with_a_password_warns() {
    let f = TempFile::new(BASE);
    std::fs::set_permissions(&f.0, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, _, warnings) = run(&f, "").unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("readable by every user") && warnings[0].contains("key=password"),
        "{warnings:?}"
    );
    assert!(!warnings[0].contains("s3cret"));
    assert_eq!(
        run(&f, "-p other").unwrap().2.len(),
        1,
        "the file holds the password even when overridden"
    );

    let no_secret =
        TempFile::new("[binlogserver]\nhost = db1\nuser = repl\npassword-file = /dev/null\n");
    std::fs::set_permissions(&no_secret.0, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(run(&no_secret, "").unwrap().2.is_empty());

    let accounts = TempFile::new("a:b\n");
    std::fs::set_permissions(&accounts.0, std::fs::Permissions::from_mode(0o604)).unwrap();
    let (_, _, warnings) =
        run(&no_secret, &format!("--replica-accounts-file {}", accounts.arg())).unwrap();
    assert!(
        warnings.len() == 1 && warnings[0].contains("accounts file is readable"),
        "{warnings:?}"
    );
}

#[test]
fn the_example_file_is_valid_and_shows_every_key() {
    let text = include_str!("../etc/binlogserver.conf");
    let opts = crate::cli::options();
    let active = parse_text(text, GROUP).unwrap();
    assert!(active.len() >= 5);
    for e in &active {
        assert!(
            kind(&opts, &e.key).is_some() && !NOT_IN_FILE.contains(&e.key.as_str()),
            "line {}: {}",
            e.line,
            e.key
        );
    }
    let shown = |key: &str| {
        text.lines().map(|l| l.trim_start_matches('#').trim_start()).any(|l| {
            l.strip_prefix(key).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(' ') || rest.starts_with('=')
            })
        })
    };
    opts.usage_with_format(|rows| {
        for row in rows {
            let long =
                row.split_whitespace().find_map(|w| w.strip_prefix("--")).unwrap().to_owned();
            if !NOT_IN_FILE.contains(&long.as_str()) {
                assert!(
                    shown(&long),
                    "etc/binlogserver.conf does not show the key {long:?}: add it (commented out)"
                );
            }
        }
        String::new()
    });
    // Its values are valid too (its password file exists only when installed).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/binlogserver.conf");
    let args: Vec<String> = ["--config", path, "--password-file", "/dev/null"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let c = match parse(&args, |_| None).unwrap() {
        CliOutcome::Run(c, _, _) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(c.upstream.unwrap().host, "db1.example.com");
    let accounts = c.server.unwrap().accounts;
    let names: Vec<&str> = accounts.iter().map(|a| a.user.as_str()).collect();
    assert_eq!(names, ["replica1", "cdc"]);
    assert!(
        accounts.iter().all(|a| a.role == crate::server::Role::Replication),
        "the example gives no sample account admin rights: {accounts:?}"
    );
}
