//! The accept loop: one named thread per connection, a connection cap, and
//! shutdown by a flag plus a self-connection that wakes `accept`.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::{debug, info, warn};

use super::session::Session;
use super::Shared;
use crate::net::PacketWriter;
use crate::protocol::ErrPacket;

/// Accepts connections until shutdown.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Listener {
    /// Binds the configured address.
    pub fn bind(shared: Arc<Shared>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(shared.config.listen)?;
        info!("listening for replicas and binlog clients addr={}", listener.local_addr()?);
        Ok(Listener { listener, shared })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts until the shutdown flag is set; then kills every session.
    pub fn run(self) {
        let addr = self.listener.local_addr().ok();
        let waker = self.shared.shutdown.clone();
        let wake = thread::Builder::new().name("listener-wake".into()).spawn(move || {
            while !waker.wait(Duration::from_secs(3600)) {}
            if let Some(a) = addr {
                let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
            }
        });
        for stream in self.listener.incoming() {
            if self.shared.shutdown.is_set() {
                break;
            }
            match stream {
                Ok(s) => self.accept(s),
                Err(e) => {
                    warn!("accept failed: {e}");
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
        self.shared.registry.kill_all();
        if let Ok(h) = wake {
            let _ = h.join();
        }
    }

    fn accept(&self, stream: TcpStream) {
        let Ok(peer) = stream.peer_addr() else { return };
        let max = self.shared.config.max_connections;
        let Some((id, killed)) = self.shared.registry.register(peer, stream.try_clone().ok(), max)
        else {
            warn!("refusing connection peer={peer}: {max} connections already (--max-connections)");
            refuse(
                stream,
                &ErrPacket::new(1040, b"08004", "Too many connections"),
                self.shared.config.trace_packets,
            );
            return;
        };
        debug!("connection accepted id={id} peer={peer}");
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new().name(format!("client-{peer}")).spawn(move || {
            let session = Session::new(shared.clone(), stream, id, killed, peer);
            session.run();
            shared.registry.unregister(id);
        });
        if let Err(e) = spawned {
            warn!("cannot start a thread for peer={peer}: {e}");
            self.shared.registry.unregister(id);
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
