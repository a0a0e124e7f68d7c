//! Which upstream to follow at start, and from where: the decision between
//! the stored upstream ([`crate::storage::upstream_file`], set by `CHANGE
//! MASTER`) and the command line, made once before anything runs. No I/O.
//!
//! * A stored upstream wins over `-h/-P/-u/-p` and the configuration file,
//!   with a warning naming both, as MySQL ignored its `master-*` options
//!   once `master.info` existed: a restart must never go back to a dead
//!   primary the command line still names. Its run state is kept (a
//!   `STOP SLAVE` or `RESET SLAVE ALL` lasts). Its `MASTER_SSL*` and
//!   public key settings, where set, stand in for the command line's; the
//!   stored key file is read by the caller ([`Plan::public_key_path`]).
//! * `--start-file F` and `--start-gtid` choose where an empty data
//!   directory starts. On a directory that holds binlogs, `--start-file F`
//!   is the checked switch of `MASTER_LOG_FILE=F` when F is above our last
//!   file, and a file already stored (the first run's start file, or a
//!   switch begun) is said and passed over; `--start-gtid` is refused.
//!   Nothing is silently ignored.

use std::path::PathBuf;
use std::time::Duration;

use super::{StartFrom, UpstreamConfig, DEFAULT_CONNECT_RETRY};
use crate::binlog::continuity::check_next_file;
use crate::binlog::BinlogFileName;
use crate::net::tls::SslSettings;
use crate::storage::upstream_file::{RunState, StoredUpstream, UPSTREAM_FILE};

/// What to follow and how, as decided at start.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The upstream to follow (host empty after `RESET SLAVE ALL`).
    pub cfg: UpstreamConfig,
    /// Whether to follow at once.
    pub run: RunState,
    /// `MASTER_HEARTBEAT_PERIOD` as stored, if set.
    pub heartbeat_period: Option<Duration>,
    /// `MASTER_CONNECT_RETRY` as stored, if set.
    pub connect_retry: Option<Duration>,
    /// `MASTER_SSL*` as stored, if set (`cfg.ssl` then holds them).
    pub ssl: Option<SslSettings>,
    /// `MASTER_PUBLIC_KEY_PATH` as stored, if set (empty: no key). The
    /// caller reads a non-empty one into `cfg.server_public_key` (the plan
    /// does no I/O); until then `cfg` holds the command line's key.
    pub public_key_path: Option<PathBuf>,
    /// `GET_MASTER_PUBLIC_KEY` as stored, if set (`cfg` then holds it).
    pub get_public_key: Option<bool>,
    /// The new primary's file to continue with, checked before its first byte.
    pub switch: Option<BinlogFileName>,
    /// The switch comes from `--start-file`: a refusal ends the start.
    pub switch_from_command_line: bool,
    /// The upstream comes from the stored file (set over SQL): a fatal
    /// error stops following (`Slave_IO_Running: No`) but not the process.
    pub stored: bool,
    /// What to tell the operator at start.
    pub warnings: Vec<String>,
}

/// A start the command line asks for that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRefusal {
    /// The flag at fault.
    pub flag: &'static str,
    /// Why, and what to do instead.
    pub reason: String,
}

/// Decides what to follow: `cli` is the command line's upstream (`-h`),
/// `follow` its settings whatever the host, `stored` the stored upstream,
/// `files` the binlogs in the data directory. `None`: serve only.
///
/// # Errors
/// A `--start-file`/`--start-gtid` that cannot apply to this directory.
pub fn plan(
    cli: Option<&UpstreamConfig>,
    follow: &UpstreamConfig,
    stored: Option<&StoredUpstream>,
    files: &[BinlogFileName],
) -> Result<Option<Plan>, PlanRefusal> {
    let mut plan = match (stored, cli) {
        (Some(s), _) => from_stored(s, cli, follow),
        (None, Some(c)) => Plan {
            cfg: c.clone(),
            run: RunState::Running,
            heartbeat_period: None,
            connect_retry: None,
            ssl: None,
            public_key_path: None,
            get_public_key: None,
            switch: None,
            switch_from_command_line: false,
            stored: false,
            warnings: Vec::new(),
        },
        (None, None) if follow.start != StartFrom::Oldest => {
            return Err(PlanRefusal {
                flag: start_flag(&follow.start),
                reason: "chooses where following a primary starts; give -h (and -u) to follow one"
                    .into(),
            })
        }
        (None, None) => return Ok(None),
    };
    if let Some(last) = files.last() {
        start_on_stored_files(&mut plan, &follow.start, files, last)?;
        plan.cfg.start = StartFrom::Oldest;
    } else if let Some(file) = plan.switch.take() {
        // An empty directory starts with the stored MASTER_LOG_FILE.
        plan.cfg.start = StartFrom::File(file);
    } else {
        plan.cfg.start = follow.start.clone();
    }
    Ok(Some(plan))
}

fn start_flag(start: &StartFrom) -> &'static str {
    match start {
        StartFrom::Gtid(_) => "--start-gtid",
        _ => "--start-file",
    }
}

/// The plan of a stored upstream, with the warnings of a command line that
/// names another.
fn from_stored(s: &StoredUpstream, cli: Option<&UpstreamConfig>, follow: &UpstreamConfig) -> Plan {
    let mut cfg = follow.clone();
    cfg.host.clone_from(&s.host);
    cfg.port = s.port;
    cfg.user.clone_from(&s.user);
    cfg.password.clone_from(&s.password);
    cfg.heartbeat = s.heartbeat_period.unwrap_or(follow.heartbeat);
    cfg.connect_retry = s.connect_retry.unwrap_or(DEFAULT_CONNECT_RETRY);
    if let Some(ssl) = &s.ssl {
        cfg.ssl = ssl.clone();
    }
    if s.public_key_path.is_some() {
        // The caller reads a stored key file; an empty path is no key.
        cfg.server_public_key = None;
    }
    if let Some(get) = s.get_public_key {
        cfg.get_server_public_key = get;
    }
    let mut warnings = Vec::new();
    if let Some(c) = cli {
        let same = (&c.host, c.port, &c.user) == (&s.host, s.port, &s.user);
        if s.run == RunState::Reset {
            warnings.push(format!(
                "not following -h {}:{} of the command line: RESET SLAVE ALL was run and is \
                 stored in {UPSTREAM_FILE}; CHANGE MASTER TO and START SLAVE on the SQL port to \
                 follow a primary",
                c.host, c.port
            ));
        } else if !same {
            warnings.push(format!(
                "following the stored upstream {}@{}:{} (set by CHANGE MASTER, in {UPSTREAM_FILE}) \
                 instead of the command line's {}@{}:{}: a stored upstream wins over -h/-P/-u/-p; \
                 change it with CHANGE MASTER TO on the SQL port",
                s.user, s.host, s.port, c.user, c.host, c.port
            ));
        } else if c.password != s.password {
            warnings.push(format!(
                "using the password stored in {UPSTREAM_FILE} (set by CHANGE MASTER), not the \
                 command line's"
            ));
        }
    }
    Plan {
        cfg,
        run: s.run,
        heartbeat_period: s.heartbeat_period,
        connect_retry: s.connect_retry,
        ssl: s.ssl.clone(),
        public_key_path: s.public_key_path.clone(),
        get_public_key: s.get_public_key,
        switch: s.switch_file.clone(),
        switch_from_command_line: false,
        stored: true,
        warnings,
    }
}

/// `--start-*` and the stored switch on a directory that holds `files`.
fn start_on_stored_files(
    plan: &mut Plan,
    start: &StartFrom,
    files: &[BinlogFileName],
    last: &BinlogFileName,
) -> Result<(), PlanRefusal> {
    if plan.switch.as_ref().is_some_and(|f| files.contains(f) || f <= last) {
        // Its first bytes are stored: the switch was made.
        plan.switch = None;
    }
    match start {
        StartFrom::Oldest => Ok(()),
        StartFrom::Gtid(_) => Err(PlanRefusal {
            flag: "--start-gtid",
            reason: format!(
                "only chooses where an empty data directory starts, and this one holds binlogs up \
                 to {last}: remove --start-gtid (binlogserver resumes where its files end), or \
                 give --start-file with a promoted primary's file above {last} to continue with it"
            ),
        }),
        StartFrom::File(f) if files.contains(f) => {
            plan.warnings.push(format!(
                "--start-file {f} is already stored here (the first file, or a switch already \
                 begun): resuming where the stored files end, after {last}"
            ));
            Ok(())
        }
        StartFrom::File(f) => {
            let refuse = |reason: String| PlanRefusal { flag: "--start-file", reason };
            if plan.run != RunState::Running {
                return Err(refuse(format!(
                    "the stored upstream in {UPSTREAM_FILE} is {} (STOP SLAVE or RESET SLAVE ALL \
                     over SQL): switch with CHANGE MASTER TO ... MASTER_LOG_FILE='{f}', \
                     MASTER_LOG_POS=4 and START SLAVE on the SQL port",
                    if plan.run == RunState::Reset { "reset" } else { "stopped" }
                )));
            }
            check_next_file(last, f).map_err(|d| refuse(d.to_string()))?;
            plan.switch = Some(f.clone());
            plan.switch_from_command_line = true;
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
