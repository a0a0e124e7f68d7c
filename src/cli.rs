//! The command line: getopts flags -> raw strings -> a validated [`Config`].
//!
//! Flags follow the mysql client (`-h -P -u -p`, `-?` for help). No getopts
//! type leaves this file.

use std::path::PathBuf;
use std::time::Duration;

use getopts::{Matches, Options};

use crate::binlog::BinlogFileName;
use std::net::SocketAddr;

use crate::config::{default_server_id, Config};
use crate::server::{Account, ServerConfig};
use crate::error::Error;
use crate::upstream::{SemiSyncMode, StartFrom, UpstreamConfig};

/// What the command line asks for.
#[derive(Debug)]
pub enum CliOutcome {
    /// Run with this configuration and log level.
    Run(Box<Config>, log::LevelFilter),
    /// Print this help text.
    Help(String),
    /// Print the version.
    Version(String),
}

fn options() -> Options {
    let mut o = Options::new();
    o.optopt("h", "host", "primary to follow; without it, serve the data directory as it is", "HOST");
    o.optopt("P", "port", "primary's port [3306]", "PORT");
    o.optopt("u", "user", "replication user on the primary (required)", "USER");
    o.optopt("p", "password", "its password (visible in ps: prefer --password-file or MYSQL_PWD)", "PASSWORD");
    o.optopt("", "password-file", "read the password from the first line of FILE", "FILE");
    o.optopt("", "server-id", "our server id toward the primary, non-zero [derived from host name and data dir]", "N");
    o.optopt("d", "data-dir", "directory of the binlog files [./binlogs]", "DIR");
    o.optopt("", "start-file", "empty data dir: start with this binlog file [the primary's oldest]", "NAME");
    o.optopt("", "start-position", "empty data dir: must be 4; files are always stored whole", "POS");
    o.optopt("", "start-gtid", "empty data dir: start with the file holding this GTID position", "GTIDS");
    o.optopt("", "semi-sync", "acknowledge as a semi-sync replica: auto (when the primary supports it), on, off [auto]", "MODE");
    o.optopt("", "heartbeat", "heartbeat period asked of the primary; a link silent for 4 periods is reconnected [1]", "SECONDS");
    o.optopt("", "connect-timeout", "TCP connect timeout [10]", "SECONDS");
    o.optopt("", "listen", "serve replicas and binlog clients on ADDR:PORT, or 'off' [127.0.0.1:3307]", "ADDR");
    o.optopt("", "replica-user", "account downstream clients log in with [the --user]", "USER");
    o.optopt("", "replica-password", "its password (shows in ps: prefer --replica-password-file) [the upstream password]", "PASSWORD");
    o.optopt("", "replica-password-file", "read it from the first line of FILE", "FILE");
    o.optopt("", "max-connections", "downstream connections at most [200]", "N");
    o.optflag("", "trace-packets", "log every packet as a hex dump (at trace level)");
    o.optflagmulti("v", "verbose", "more logging: -v debug, -vv trace (RUST_LOG overrides)");
    o.optflag("?", "help", "print this help");
    o.optflag("V", "version", "print the version");
    o
}

/// The help text.
pub fn usage() -> String {
    let brief = "Usage: binlogserver -h PRIMARY -u USER [-p PASSWORD] [-d DIR] [--listen ADDR] [options]\n\
                 \x20      binlogserver -d DIR --replica-user USER --replica-password PASSWORD [--listen ADDR]\n\n\
                 Follows a MySQL/MariaDB primary as a replica and keeps byte-identical copies of its\n\
                 binlog files in DIR, acknowledging semi-sync transactions only once they are fsync'd,\n\
                 and serves them to replicas and binlog clients on --listen. Without -h it serves DIR\n\
                 as it is. Password sources, first found wins: -p, --password-file, MYSQL_PWD.";
    options().usage(brief)
}

/// Parses the arguments (without the program name); `env` looks up environment variables.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<CliOutcome, Error> {
    let m = options().parse(args).map_err(|e| Error::Config { flag: "command line".into(), reason: e.to_string() })?;
    if m.opt_present("?") {
        return Ok(CliOutcome::Help(usage()));
    }
    if m.opt_present("V") {
        return Ok(CliOutcome::Version(format!("binlogserver {}", env!("CARGO_PKG_VERSION"))));
    }
    if let Some(extra) = m.free.first() {
        return Err(Error::Config { flag: extra.clone(), reason: "unexpected argument".into() });
    }
    let level = match m.opt_count("v") {
        0 => log::LevelFilter::Info,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let data_dir = PathBuf::from(m.opt_str("data-dir").unwrap_or_else(|| "./binlogs".into()));
    let upstream = if m.opt_present("host") { Some(upstream_config(&m, &data_dir, &env)?) } else { None };
    let server = server_config(&m, upstream.as_ref())?;
    if upstream.is_none() && server.is_none() {
        return Err(bad("--host", "required unless serving a data directory with --listen"));
    }
    Ok(CliOutcome::Run(Box::new(Config { upstream, server, data_dir }), level))
}

fn server_config(m: &Matches, upstream: Option<&UpstreamConfig>) -> Result<Option<ServerConfig>, Error> {
    let listen = m.opt_str("listen").unwrap_or_else(|| "127.0.0.1:3307".into());
    if listen == "off" {
        return Ok(None);
    }
    let listen: SocketAddr = listen
        .parse()
        .map_err(|_| bad("--listen", format!("invalid address {listen:?} (expected like 127.0.0.1:3307 or off)")))?;
    let user = m.opt_str("replica-user").or_else(|| upstream.map(|u| u.user.clone()));
    let user = user.filter(|u| !u.is_empty()).ok_or_else(|| bad("--replica-user", "required when serving without --host"))?;
    let password = match (m.opt_str("replica-password"), m.opt_str("replica-password-file")) {
        (Some(_), Some(_)) => return Err(bad("--replica-password-file", "give either --replica-password or --replica-password-file")),
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
    let max_connections = match m.opt_str("max-connections") {
        None => 200,
        Some(n) => n.parse::<usize>().ok().filter(|&n| (1..=100_000).contains(&n)).ok_or_else(|| {
            bad("--max-connections", format!("invalid value {n:?} (expected 1-100000)"))
        })?,
    };
    Ok(Some(ServerConfig {
        listen,
        accounts: vec![Account { user, password }],
        max_connections,
        trace_packets: m.opt_present("trace-packets"),
    }))
}

fn bad(flag: &str, reason: impl Into<String>) -> Error {
    Error::Config { flag: flag.into(), reason: reason.into() }
}

fn required(m: &Matches, name: &str, what: &str) -> Result<String, Error> {
    m.opt_str(name).filter(|v| !v.is_empty()).ok_or_else(|| bad(&format!("--{name}"), format!("required ({what})")))
}

fn seconds(m: &Matches, name: &str, default: f64) -> Result<Duration, Error> {
    let Some(v) = m.opt_str(name) else { return Ok(Duration::from_secs_f64(default)) };
    match v.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(bad(&format!("--{name}"), format!("invalid value {v:?} (expected seconds, 0 < s <= 3600)"))),
    }
}

fn password(m: &Matches, env: &impl Fn(&str) -> Option<String>) -> Result<String, Error> {
    if m.opt_present("password") && m.opt_present("password-file") {
        return Err(bad("--password-file", "give either --password or --password-file"));
    }
    if let Some(p) = m.opt_str("password") {
        return Ok(p);
    }
    if let Some(path) = m.opt_str("password-file") {
        let text = std::fs::read_to_string(&path).map_err(|e| bad("--password-file", format!("cannot read {path}: {e}")))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    Ok(env("MYSQL_PWD").unwrap_or_default())
}

fn start_from(m: &Matches) -> Result<StartFrom, Error> {
    if let Some(p) = m.opt_str("start-position") {
        if p != "4" {
            return Err(bad(
                "--start-position",
                format!("invalid value {p:?}: binlogserver stores whole files, so a file is always fetched from position 4"),
            ));
        }
    }
    match (m.opt_str("start-file"), m.opt_str("start-gtid")) {
        (Some(_), Some(_)) => Err(bad("--start-gtid", "give either --start-file or --start-gtid")),
        (Some(f), None) => BinlogFileName::new(&f)
            .map(StartFrom::File)
            .map_err(|_| bad("--start-file", format!("invalid binlog file name {f:?} (expected like mysql-bin.000042)"))),
        (None, Some(g)) if !g.trim().is_empty() => Ok(StartFrom::Gtid(g.trim().to_owned())),
        (None, Some(_)) => Err(bad("--start-gtid", "empty GTID position")),
        (None, None) => Ok(StartFrom::Oldest),
    }
}

fn upstream_config(m: &Matches, data_dir: &std::path::Path, env: &impl Fn(&str) -> Option<String>) -> Result<UpstreamConfig, Error> {
    let host = required(m, "host", "the primary to follow")?;
    let user = required(m, "user", "the replication user")?;
    let port = match m.opt_str("port") {
        None => 3306,
        Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| bad("--port", format!("invalid value {p:?} (expected 1-65535)")))?,
    };
    let server_id = match m.opt_str("server-id") {
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad("--server-id", format!("invalid value {s:?} (expected 1-4294967295)")))?,
        None => {
            let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            default_server_id(host_name.trim(), &data_dir.to_string_lossy())
        }
    };
    let semi_sync = match m.opt_str("semi-sync").as_deref() {
        None | Some("auto") => SemiSyncMode::Auto,
        Some("on") => SemiSyncMode::On,
        Some("off") => SemiSyncMode::Off,
        Some(other) => return Err(bad("--semi-sync", format!("invalid value {other:?} (expected auto, on or off)"))),
    };
    Ok(UpstreamConfig {
        host,
        port,
        user,
        password: password(m, env)?,
        server_id,
        semi_sync,
        heartbeat: seconds(m, "heartbeat", 1.0)?,
        start: start_from(m)?,
        connect_timeout: seconds(m, "connect-timeout", 10.0)?,
        trace_packets: m.opt_present("trace-packets"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Result<Config, Error> {
        match parse(&args(s), |_| None)? {
            CliOutcome::Run(c, _) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_mysql_client_style_flags_with_defaults() {
        let c = run("-h db1 -u repl -p secret").unwrap();
        let server = c.server.clone().unwrap();
        assert_eq!(server.listen.to_string(), "127.0.0.1:3307");
        assert_eq!(server.accounts[0].user, "repl");
        assert_eq!(server.accounts[0].password, "secret");
        assert_eq!(server.max_connections, 200);
        let up = c.upstream.unwrap();
        assert_eq!(up.host, "db1");
        assert_eq!(up.port, 3306);
        assert_eq!(up.password, "secret");
        assert_eq!(c.data_dir, PathBuf::from("./binlogs"));
        assert_eq!(up.semi_sync, SemiSyncMode::Auto);
        assert_eq!(up.heartbeat, Duration::from_secs(1));
        assert!(up.server_id > 0);
    }

    #[test]
    fn serves_a_directory_without_a_primary() {
        let c = run("-d /x --listen 0.0.0.0:3310 --replica-user r --replica-password pw --max-connections 5").unwrap();
        assert!(c.upstream.is_none());
        let s = c.server.unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:3310");
        assert_eq!(s.max_connections, 5);
        assert!(matches!(run("-d /x --listen 127.0.0.1:1"), Err(Error::Config { flag, .. }) if flag == "--replica-user"));
        assert!(matches!(run("-d /x --listen off"), Err(Error::Config { flag, .. }) if flag == "--host"));
        assert!(run("-h x -u r --listen off").unwrap().server.is_none());
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (line, flag) in [
            ("-h x -u r -P 0", "--port"),
            ("-h x -u r --server-id 0", "--server-id"),
            ("-h x -u r --semi-sync maybe", "--semi-sync"),
            ("-h x -u r --heartbeat -1", "--heartbeat"),
            ("-h x -u r --start-position 120", "--start-position"),
            ("-h x -u r --start-file nope", "--start-file"),
            ("-u r --listen off", "--host"),
            ("-h x -u r --listen nowhere", "--listen"),
            ("-h x -u r --max-connections 0", "--max-connections"),
            ("-h x", "--user"),
        ] {
            match run(line) {
                Err(Error::Config { flag: f, .. }) => assert_eq!(f, flag, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn password_comes_from_mysql_pwd_when_not_given() {
        let c = match parse(&args("-h x -u r"), |k| (k == "MYSQL_PWD").then(|| "envpw".to_string())).unwrap() {
            CliOutcome::Run(c, _) => c,
            other => panic!("{other:?}"),
        };
        let up = c.upstream.clone().unwrap();
        assert_eq!(up.password, "envpw");
        assert!(!format!("{:?}", c).contains("envpw"));
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse(&args("-?"), |_| None).unwrap(), CliOutcome::Help(h) if h.contains("--semi-sync")));
        assert!(matches!(parse(&args("--version"), |_| None).unwrap(), CliOutcome::Version(_)));
    }
}
