//! The requests the replication thread carries out: `START SLAVE`, `STOP
//! SLAVE`, `CHANGE MASTER TO` and `RESET SLAVE [ALL]`, each answered once
//! it is done (and stored).
//!
//! `CHANGE MASTER` keeps what it does not name, as MariaDB does. A new
//! host or port without `MASTER_LOG_FILE` resumes where our files end on
//! that server (which must hold the same files: the overlap check of every
//! connection proves it), and forgets a switch pending for the old one.
//! `MASTER_LOG_FILE` (with `MASTER_LOG_POS` 4 or left out) names the new
//! primary's file to continue with; its name is checked here, its GTID
//! state by `START SLAVE` and before every connection until it begins.
//! `MASTER_SSL*` and `MASTER_PUBLIC_KEY_PATH` files are read and checked
//! when given, so that a wrong one is refused by `CHANGE MASTER` itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use log::info;

use super::{chain, who, Replication, Settings};
use crate::binlog::continuity::check_next_file;
use crate::binlog::BinlogFileName;
use crate::net::tls::{SslMode, SslSettings};
use crate::status::control::{ChangeMaster, ControlError, Requester};
use crate::storage::reader::list_files;
use crate::storage::upstream_file::RunState;
use crate::upstream::control::Request;
use crate::upstream::{read_server_public_key, StartFrom, DEFAULT_CONNECT_RETRY};

/// The longest `MASTER_HEARTBEAT_PERIOD` MariaDB accepts.
const MAX_HEARTBEAT: Duration = Duration::from_secs(4_294_967);

impl Replication {
    /// Carries out one request and answers it.
    pub(super) fn handle_request(&mut self, request: Request) {
        match request {
            Request::Start(by, reply) => {
                let _ = reply.send(self.start_slave(&by));
            }
            Request::Stop(by, reply) => {
                let _ = reply.send(self.stop_slave(&by));
            }
            Request::Change(change, by, reply) => {
                let _ = reply.send(self.change_master(&change, &by));
            }
            Request::Reset(all, by, reply) => {
                let _ = reply.send(self.reset_slave(all, &by));
            }
            Request::Wake => {}
        }
    }

    /// `START SLAVE`: `Ok(true)` when already following.
    fn start_slave(&mut self, by: &Requester) -> Result<bool, ControlError> {
        if self.dump.is_some() {
            return Ok(true);
        }
        if self.settings.run == RunState::Reset || self.settings.cfg.host.is_empty() {
            return Err(ControlError::NotConfigured);
        }
        self.check_pending_switch()?;
        let mut new = self.settings.clone();
        new.run = RunState::Running;
        self.persist(new)?;
        self.start_dump().map_err(|e| ControlError::Storage(chain(&e)))?;
        info!(
            "START SLAVE: following primary={}:{} {}",
            self.settings.cfg.host,
            self.settings.cfg.port,
            who(by)
        );
        Ok(false)
    }

    /// `STOP SLAVE`: `Ok(true)` when already stopped.
    fn stop_slave(&mut self, by: &Requester) -> Result<bool, ControlError> {
        let was_running = self.stop_dump();
        if self.settings.run == RunState::Running {
            let mut new = self.settings.clone();
            new.run = RunState::Stopped;
            self.persist(new)?;
        }
        let (file, position) =
            self.state.position().map(|(f, p)| (f.to_string(), p)).unwrap_or_default();
        info!(
            "STOP SLAVE: stopped following primary={}:{} file={file} position={position} {}",
            self.settings.cfg.host,
            self.settings.cfg.port,
            who(by)
        );
        Ok(!was_running)
    }

    /// `CHANGE MASTER TO ...`, only while stopped.
    pub(super) fn change_master(
        &mut self,
        c: &ChangeMaster,
        by: &Requester,
    ) -> Result<(), ControlError> {
        if self.dump.is_some() {
            return Err(ControlError::MustStop);
        }
        let new = self.changed(c)?;
        let switch_changed = new.switch != self.settings.switch;
        self.persist(new)?;
        if switch_changed {
            match &self.settings.switch {
                Some(f) => self.state.switch_to(f.clone()),
                None => self.state.clear_switch(),
            }
        }
        info!(
            "CHANGE MASTER: primary={}:{} user={} log_file={} {}",
            self.settings.cfg.host,
            self.settings.cfg.port,
            self.settings.cfg.user,
            self.settings.switch.as_ref().map(BinlogFileName::as_str).unwrap_or("(resume)"),
            who(by)
        );
        Ok(())
    }

    /// The settings `c` asks for, checked.
    fn changed(&self, c: &ChangeMaster) -> Result<Settings, ControlError> {
        let wrong = |why: &str| ControlError::WrongArguments(why.to_owned());
        let mut new = self.settings.clone();
        let old = &self.settings.cfg;
        let moved = c.host.as_ref().is_some_and(|h| *h != old.host)
            || c.port.is_some_and(|p| p != old.port);
        if let Some(host) = &c.host {
            if host.trim().is_empty() {
                return Err(wrong(
                    "MASTER_HOST must name the primary (to forget it, RESET SLAVE ALL)",
                ));
            }
            new.cfg.host.clone_from(host);
        }
        if let Some(port) = c.port {
            if port == 0 {
                return Err(wrong("MASTER_PORT must be 1-65535"));
            }
            new.cfg.port = port;
        }
        if let Some(user) = &c.user {
            new.cfg.user.clone_from(user);
        }
        if let Some(password) = &c.password {
            new.cfg.password.clone_from(password);
        }
        if let Some(period) = c.heartbeat_period {
            if period.is_zero() || period > MAX_HEARTBEAT {
                return Err(wrong(
                    "MASTER_HEARTBEAT_PERIOD must be 0.001 to 4294967 seconds: binlogserver needs \
                     heartbeats to tell a dead link from a quiet primary",
                ));
            }
            new.heartbeat_period = Some(period);
            new.cfg.heartbeat = period;
        }
        if let Some(retry) = c.connect_retry {
            if retry.is_zero() {
                return Err(wrong("MASTER_CONNECT_RETRY must be at least 1 second"));
            }
            new.connect_retry = Some(retry);
            new.cfg.connect_retry = retry;
        }
        if let Some(ssl) = changed_ssl(&new.cfg.ssl, c)? {
            new.cfg.ssl = ssl.clone();
            new.ssl = Some(ssl);
        }
        change_public_key(&mut new, c)?;
        match (&c.log_file, c.log_pos) {
            (None, Some(_)) => {
                return Err(wrong(
                    "MASTER_LOG_POS needs MASTER_LOG_FILE: binlogserver resumes where its files \
                     end; to continue with a promoted primary give MASTER_LOG_FILE='<its new \
                     file>', MASTER_LOG_POS=4",
                ))
            }
            (None, None) if moved => new.switch = None,
            (None, None) => {}
            (Some(_), Some(pos)) if pos != 4 => {
                return Err(wrong(
                    "MASTER_LOG_POS must be 4: binlogserver stores whole files, so it continues \
                     with the start of the new primary's file",
                ))
            }
            (Some(name), _) => {
                let file = BinlogFileName::new(name).map_err(|_| {
                    ControlError::WrongArguments(format!(
                        "MASTER_LOG_FILE {name:?} is not a binlog file name like mysql-bin.000124"
                    ))
                })?;
                self.check_switch_file(&file)?;
                if self.state.position().is_none() {
                    new.cfg.start = StartFrom::File(file.clone());
                }
                new.switch = Some(file);
            }
        }
        if new.run == RunState::Reset && !new.cfg.host.is_empty() {
            new.run = RunState::Stopped;
        }
        Ok(new)
    }

    /// `MASTER_LOG_FILE` must come after our last file (any file, in an
    /// empty data directory).
    fn check_switch_file(&self, file: &BinlogFileName) -> Result<(), ControlError> {
        let Some((last, end)) = self.state.position() else { return Ok(()) };
        let Err(d) = check_next_file(last, file) else { return Ok(()) };
        let held = list_files(&self.shared.writer.dir).is_ok_and(|files| files.contains(file));
        if held {
            return Err(ControlError::WrongArguments(format!(
                "binlogserver already holds {file} and resumes where its files end ({last} at \
                 {end}): leave MASTER_LOG_FILE out to resume on a server that holds the same \
                 files, or name the promoted primary's new file, above {last}"
            )));
        }
        Err(ControlError::SwitchRefused(d.to_string()))
    }

    /// `RESET SLAVE` (forget a pending switch) or `RESET SLAVE ALL` (forget
    /// the primary), only while stopped.
    pub(super) fn reset_slave(&mut self, all: bool, by: &Requester) -> Result<(), ControlError> {
        if self.dump.is_some() {
            return Err(ControlError::MustStop);
        }
        let mut new = self.settings.clone();
        new.switch = None;
        new.cfg.start = StartFrom::Oldest;
        if all {
            new.cfg = self.base.clone();
            new.cfg.host.clear();
            new.cfg.port = 3306;
            new.cfg.user.clear();
            new.cfg.password.clear();
            new.cfg.start = StartFrom::Oldest;
            new.cfg.connect_retry = DEFAULT_CONNECT_RETRY;
            new.heartbeat_period = None;
            new.connect_retry = None;
            new.ssl = None;
            new.public_key_path = None;
            new.get_public_key = None;
            new.run = RunState::Reset;
        }
        self.persist(new)?;
        self.state.clear_switch();
        self.status(|s| {
            s.last_error.clear();
            s.last_io_errno = 0;
        });
        info!("RESET SLAVE{}: {}", if all { " ALL" } else { "" }, who(by));
        Ok(())
    }
}

/// The TLS settings `c`'s `MASTER_SSL*` options make of `old`, checked
/// (the files are read); `None` when `c` names none. `MASTER_SSL=0` is
/// `--ssl-mode DISABLED`, `MASTER_SSL=1` at least REQUIRED, VERIFY_CA with
/// a CA (MariaDB checks the chain against a given CA),
/// `MASTER_SSL_VERIFY_SERVER_CERT=1` VERIFY_IDENTITY; an empty file name
/// forgets the file.
fn changed_ssl(old: &SslSettings, c: &ChangeMaster) -> Result<Option<SslSettings>, ControlError> {
    let named = [&c.ssl_ca, &c.ssl_cert, &c.ssl_key].iter().any(|f| f.is_some());
    if !named && c.ssl.is_none() && c.ssl_verify_server_cert.is_none() {
        return Ok(None);
    }
    let mut ssl = old.clone();
    let file = |f: &str| (!f.is_empty()).then(|| PathBuf::from(f));
    for (slot, given) in
        [(&mut ssl.ca, &c.ssl_ca), (&mut ssl.cert, &c.ssl_cert), (&mut ssl.key, &c.ssl_key)]
    {
        if let Some(f) = given {
            *slot = file(f);
        }
    }
    match c.ssl {
        Some(false) => ssl.mode = SslMode::Disabled,
        Some(true) if !ssl.mode.requires_tls() => ssl.mode = SslMode::Required,
        _ => {}
    }
    if ssl.mode.requires_tls() {
        match c.ssl_verify_server_cert {
            Some(true) => ssl.mode = SslMode::VerifyIdentity,
            Some(false) if ssl.mode == SslMode::VerifyIdentity => ssl.mode = SslMode::Required,
            _ => {}
        }
        if ssl.ca.is_some() && ssl.mode == SslMode::Required {
            ssl.mode = SslMode::VerifyCa;
        }
    }
    if ssl.mode != SslMode::Disabled {
        ssl.client_config().map_err(|e| {
            ControlError::WrongArguments(format!(
                "MASTER_SSL options: {e} (as --ssl-mode {})",
                ssl.mode.as_str()
            ))
        })?;
    }
    Ok(Some(ssl))
}

/// Applies `MASTER_PUBLIC_KEY_PATH` and `GET_MASTER_PUBLIC_KEY` to `new`:
/// the key file is read and checked now (a wrong file is ERR 1210 naming
/// it and why), an empty path forgets the key.
fn change_public_key(new: &mut Settings, c: &ChangeMaster) -> Result<(), ControlError> {
    if let Some(path) = &c.public_key_path {
        new.cfg.server_public_key = if path.is_empty() {
            None
        } else {
            let key = read_server_public_key(Path::new(path)).map_err(|why| {
                ControlError::WrongArguments(format!("MASTER_PUBLIC_KEY_PATH: {why}"))
            })?;
            Some(key)
        };
        new.public_key_path = Some(PathBuf::from(path));
    }
    if let Some(get) = c.get_public_key {
        new.cfg.get_server_public_key = get;
        new.get_public_key = Some(get);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(f: impl FnOnce(&mut ChangeMaster)) -> ChangeMaster {
        let mut c = ChangeMaster::default();
        f(&mut c);
        c
    }

    #[test]
    fn master_ssl_options_map_to_ssl_modes_and_bad_files_are_wrong_arguments() {
        let old = SslSettings::default();
        assert_eq!(changed_ssl(&old, &ChangeMaster::default()).unwrap(), None);
        let on = changed_ssl(&old, &change(|c| c.ssl = Some(true))).unwrap().unwrap();
        assert_eq!(on.mode, SslMode::Required);
        let off = changed_ssl(&on, &change(|c| c.ssl = Some(false))).unwrap().unwrap();
        assert_eq!(off.mode, SslMode::Disabled);
        let verify = change(|c| c.ssl_verify_server_cert = Some(true));
        let err = changed_ssl(&on, &verify).unwrap_err();
        assert!(
            matches!(&err, ControlError::WrongArguments(m) if m.contains("need --ssl-ca")),
            "{err:?}"
        );
        let missing = change(|c| {
            c.ssl = Some(true);
            c.ssl_ca = Some("/nonexistent/ca.pem".into());
        });
        let err = changed_ssl(&old, &missing).unwrap_err();
        assert!(
            matches!(&err, ControlError::WrongArguments(m)
                if m.contains("/nonexistent/ca.pem") && m.contains("VERIFY_CA")),
            "{err:?}"
        );
    }
}
