//! Lists the primary's binlogs on a second connection, for the catch-up
//! progress and `behind_bytes` of a dump that resumed under semi-sync.
//!
//! The dump connection itself must not run `SHOW BINARY LOGS` before its
//! dump request then ([`super::session::list_binlogs_is_safe`]): commits
//! waiting for our ACK would stall it. Once the dump runs, the primary has
//! taken the requested position as acknowledged and our ACKs flow, so a
//! second connection can list the binlogs; the answer reaches the dump
//! thread over a channel it polls without blocking.

use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{bounded, Receiver};
use log::debug;

use super::connection::Connection;
use super::session::list_binlogs;
use super::{UpstreamConfig, UpstreamError};

/// The listing connection's socket, and whether it must close at once.
type Slot = Arc<Mutex<(bool, Option<TcpStream>)>>;

/// The `upstream-list` thread: one `SHOW BINARY LOGS` on its own connection.
#[derive(Debug)]
pub(super) struct Lister {
    rx: Receiver<Vec<(String, u64)>>,
    slot: Slot,
    handle: Option<JoinHandle<()>>,
}

impl Lister {
    /// Starts listing the binlogs of the primary `cfg` names.
    pub(super) fn spawn(cfg: &UpstreamConfig) -> Lister {
        let (tx, rx) = bounded(1);
        let slot: Slot = Arc::default();
        let (cfg, thread_slot) = (cfg.clone(), Arc::clone(&slot));
        let handle = thread::Builder::new()
            .name("upstream-list".into())
            .spawn(move || match list(&cfg, &thread_slot) {
                Ok(logs) => {
                    debug!(
                        "listed the primary's binlogs on a second connection files={}",
                        logs.len()
                    );
                    let _ = tx.send(logs);
                }
                Err(e) => debug!("cannot list the primary's binlogs on a second connection: {e}"),
            })
            .map_err(|e| debug!("cannot start the upstream-list thread: {e}"))
            .ok();
        Lister { rx, slot, handle }
    }

    /// The primary's binlogs and sizes, once listed (taken once).
    pub(super) fn take(&self) -> Option<Vec<(String, u64)>> {
        self.rx.try_recv().ok()
    }

    /// Closes the listing connection and joins the thread.
    pub(super) fn finish(mut self) {
        {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            slot.0 = true;
            if let Some(socket) = slot.1.take() {
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn list(cfg: &UpstreamConfig, slot: &Slot) -> Result<Vec<(String, u64)>, UpstreamError> {
    let mut conn = Connection::connect(cfg)?;
    {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.0 {
            return Ok(Vec::new());
        }
        slot.1 = conn.socket().try_clone().ok();
    }
    list_binlogs(&mut conn)
}
