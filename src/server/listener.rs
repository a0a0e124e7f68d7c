//! The accept loop of the MySQL port ([`Acceptor`]): one named
//! `client-<addr>` thread per connection, a connection cap, the handshake
//! caps of [`Admission`] (with a `login-log` thread that writes its summary
//! lines), and at shutdown every session's socket is shut down and its
//! thread joined.

use std::net::TcpStream;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::admission::{log_summaries, Admission};
use super::session::Session;
use super::Shared;
use crate::net::accept::Acceptor;
use crate::net::PacketWriter;
use crate::protocol::ErrPacket;
use crate::shutdown::Shutdown;

/// Accepts connections until shutdown.
#[derive(Debug)]
pub struct Listener {
    acceptor: Acceptor,
    shared: Arc<Shared>,
    admission: Arc<Admission>,
}

/// Unregisters a connection when its thread ends, however it ends; a
/// panic also stops the process (through shutdown and the listener).
struct ClientGuard {
    shared: Arc<Shared>,
    id: u32,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.shared.registry.unregister(self.id);
        if thread::panicking() {
            self.shared.shutdown.trigger();
        }
    }
}

impl Listener {
    /// Binds the configured address.
    pub fn bind(shared: Arc<Shared>) -> std::io::Result<Self> {
        let acceptor = Acceptor::bind(shared.config.listen, shared.shutdown.clone(), "listener")?;
        info!("listening for replicas and binlog clients addr={}", acceptor.local_addr()?);
        let admission = Admission::new(shared.config.login_limits);
        Ok(Listener { acceptor, shared, admission })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.acceptor.local_addr()
    }

    /// Accepts until the shutdown flag is set; then kills every session
    /// and joins its thread.
    ///
    /// # Errors
    /// When the accept loop cannot run. A session thread that panicked
    /// goes on panicking here, once every other one is joined.
    pub fn run(self) -> std::io::Result<()> {
        let shared = self.shared;
        let admission = self.admission;
        let stop = Shutdown::new();
        let logger = {
            let (admission, stop) = (Arc::clone(&admission), stop.clone());
            thread::Builder::new().name("login-log".into()).spawn(move || {
                while !stop.wait(Duration::from_secs(1)) {
                    log_summaries(&admission, Instant::now(), false);
                }
                log_summaries(&admission, Instant::now(), true);
            })?
        };
        let mut clients: Vec<JoinHandle<()>> = Vec::new();
        let result = self.acceptor.run(|stream| {
            // Threads that ended are joined as new ones start.
            let (done, live) = clients.drain(..).partition(|h: &JoinHandle<()>| h.is_finished());
            clients = live;
            let panicked = done.into_iter().filter_map(|h| h.join().err()).next();
            if let Some(panic) = panicked {
                std::panic::resume_unwind(panic);
            }
            clients.extend(accept(&shared, &admission, stream));
        });
        shared.registry.kill_all();
        stop.trigger();
        let _ = logger.join();
        let panicked = clients.into_iter().filter_map(|h| h.join().err()).next();
        if let Some(panic) = panicked {
            std::panic::resume_unwind(panic);
        }
        result
    }
}

/// Starts the session thread of a new connection (or refuses it).
fn accept(
    shared: &Arc<Shared>,
    admission: &Arc<Admission>,
    stream: TcpStream,
) -> Option<JoinHandle<()>> {
    let peer = stream.peer_addr().ok()?;
    // Logged by the admission, once per peer and interval.
    let ticket = match admission.admit(peer.ip(), Instant::now()) {
        Ok(ticket) => ticket,
        Err(_) => {
            let err = ErrPacket::new(1040, b"08004", "Too many connections");
            refuse(stream, &err, shared.config.trace_packets);
            return None;
        }
    };
    let max = shared.config.max_connections;
    let Some((id, killed)) = shared.registry.register(peer, stream.try_clone().ok(), max) else {
        warn!("refusing connection peer={peer}: {max} connections already (--max-connections)");
        refuse(
            stream,
            &ErrPacket::new(1040, b"08004", "Too many connections"),
            shared.config.trace_packets,
        );
        return None;
    };
    debug!("connection accepted id={id} peer={peer}");
    let guard = ClientGuard { shared: Arc::clone(shared), id };
    let spawned = thread::Builder::new().name(format!("client-{peer}")).spawn(move || {
        let session = Session::new(Arc::clone(&guard.shared), stream, id, killed, peer, ticket);
        session.run();
        drop(guard);
    });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            // The closure (and its guard) is dropped: the slot is freed.
            warn!("cannot start a thread for peer={peer}: {e}");
            None
        }
    }
}

/// Sends one ERR packet in place of the greeting and closes.
fn refuse(stream: TcpStream, err: &ErrPacket, trace_packets: bool) {
    let mut payload = Vec::new();
    err.encode(&mut payload);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = PacketWriter::new(stream, trace_packets).write_packet(0, &payload);
}
