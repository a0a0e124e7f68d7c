//! The server's way to the `replication` thread: [`ControlHandle`]
//! implements [`ReplicationControl`] by sending each request over a
//! bounded channel with a reply channel and waiting for the answer, so
//! requests are carried out one at a time, in order, by the one thread
//! that owns the dump ([`super::replication`]).
//!
//! Without an upstream at all (started without `-h` and without a stored
//! upstream), binlogserver serves the directory as it is: it ran the
//! recovery that changes nothing on disk, not the one that repairs a torn
//! tail before following, so it cannot start following later.
//! [`ServeOnlyControl`] answers every request with
//! [`ControlError::ServeOnly`], saying so.

use std::path::PathBuf;

use crossbeam_channel::{bounded, Sender};

use crate::status::control::{ChangeMaster, ControlError, ReplicationControl, Requester};

/// Requests queued ahead of the replication thread.
pub(super) const QUEUE: usize = 8;

/// One request to the replication thread, with where to answer.
#[derive(Debug)]
pub(super) enum Request {
    /// `START SLAVE`.
    Start(Requester, Sender<Result<bool, ControlError>>),
    /// `STOP SLAVE`.
    Stop(Requester, Sender<Result<bool, ControlError>>),
    /// `CHANGE MASTER TO`.
    Change(Box<ChangeMaster>, Requester, Sender<Result<(), ControlError>>),
    /// `RESET SLAVE [ALL]`.
    Reset(bool, Requester, Sender<Result<(), ControlError>>),
    /// Look at the shutdown flag (sent at shutdown).
    Wake,
}

/// The replication thread's controls, for the server.
#[derive(Debug, Clone)]
pub struct ControlHandle {
    pub(super) tx: Sender<Request>,
}

/// The answer when the replication thread is gone (the process stops).
fn stopping() -> ControlError {
    ControlError::Storage("binlogserver is shutting down".into())
}

impl ControlHandle {
    fn ask<T>(
        &self,
        request: impl FnOnce(Sender<Result<T, ControlError>>) -> Request,
    ) -> Result<T, ControlError> {
        let (reply, answer) = bounded(1);
        self.tx.send(request(reply)).map_err(|_| stopping())?;
        answer.recv().map_err(|_| stopping())?
    }
}

impl ReplicationControl for ControlHandle {
    fn start_slave(&self, by: &Requester) -> Result<bool, ControlError> {
        self.ask(|reply| Request::Start(by.clone(), reply))
    }

    fn stop_slave(&self, by: &Requester) -> Result<bool, ControlError> {
        self.ask(|reply| Request::Stop(by.clone(), reply))
    }

    fn change_master(&self, change: &ChangeMaster, by: &Requester) -> Result<(), ControlError> {
        self.ask(|reply| Request::Change(Box::new(change.clone()), by.clone(), reply))
    }

    fn reset_slave(&self, all: bool, by: &Requester) -> Result<(), ControlError> {
        self.ask(|reply| Request::Reset(all, by.clone(), reply))
    }
}

/// The controls of a binlogserver that only serves a directory.
#[derive(Debug, Clone)]
pub struct ServeOnlyControl {
    /// The data directory served.
    pub dir: PathBuf,
}

impl ServeOnlyControl {
    fn refuse(&self) -> ControlError {
        ControlError::ServeOnly(format!(
            "binlogserver serves {} without following a primary (started without -h and without \
             a stored upstream); it cannot follow one from here, because following needs the \
             recovery that repairs a torn tail at start: restart it with -h (and -P/-u/-p) to \
             follow a primary",
            self.dir.display()
        ))
    }
}

impl ReplicationControl for ServeOnlyControl {
    fn start_slave(&self, _by: &Requester) -> Result<bool, ControlError> {
        Err(self.refuse())
    }

    fn stop_slave(&self, _by: &Requester) -> Result<bool, ControlError> {
        Err(self.refuse())
    }

    fn change_master(&self, _change: &ChangeMaster, _by: &Requester) -> Result<(), ControlError> {
        Err(self.refuse())
    }

    fn reset_slave(&self, _all: bool, _by: &Requester) -> Result<(), ControlError> {
        Err(self.refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_only_refuses_everything_with_error_1200_saying_why() {
        let c = ServeOnlyControl { dir: PathBuf::from("/srv/archive") };
        let by = Requester { user: "admin".into(), host: "10.0.0.1".into(), connection_id: 7 };
        let err = c.start_slave(&by).unwrap_err();
        assert_eq!(err.code(), 1200);
        assert!(err.to_string().contains("serves /srv/archive without following"), "{err}");
        assert!(err.to_string().contains("restart it with -h"), "{err}");
        assert_eq!(c.stop_slave(&by), Err(err.clone()));
        assert_eq!(c.change_master(&ChangeMaster::default(), &by), Err(err.clone()));
        assert_eq!(c.reset_slave(true, &by), Err(err));
    }

    #[test]
    fn a_handle_whose_thread_is_gone_answers_instead_of_hanging() {
        let (tx, rx) = bounded(QUEUE);
        drop(rx);
        let by = Requester { user: "admin".into(), host: "h".into(), connection_id: 1 };
        let err = ControlHandle { tx }.stop_slave(&by).unwrap_err();
        assert!(err.to_string().contains("shutting down"), "{err}");
    }
}
