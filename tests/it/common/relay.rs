//! A fault-injecting TCP relay for the network-fault tests: listens on
//! 127.0.0.1:0 and forwards every accepted connection to a target port
//! (switchable at run time), one thread per direction of each connection.
//!
//! Faults are injected from the test while the relay runs:
//! * [`Relay::reset_now`] / [`Relay::reset_after`]: both sides of the live
//!   links are shut down abruptly, optionally after exactly N more bytes in
//!   one direction (so the cut falls inside a packet). std has no stable
//!   `SO_LINGER`, so the peers see a FIN in the middle of a packet rather
//!   than an RST; both read it as a connection that broke mid-packet.
//! * [`Relay::stall`] / [`Relay::release`]: the live links stop reading
//!   and forwarding (kernel buffers fill up, sockets stay open) until
//!   released.
//! * [`Relay::half_open`]: the live links forward nothing in either
//!   direction and never close; what the peers send is read and dropped, so
//!   their writes succeed and nothing ever arrives.
//! * [`Relay::set_trickle`]: every link forwards one byte per write with a
//!   small pause.
//! * [`Relay::refuse`]: new connections are accepted and closed at once.
//!
//! Faults given to live links never affect links accepted later.
//! Everything is closed when the relay is dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// How often a pump looks at its link's fault while idle.
const POLL: Duration = Duration::from_millis(50);
/// The pause after each byte while trickling.
const TRICKLE_PAUSE: Duration = Duration::from_micros(300);

/// A direction of a relayed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelayDir {
    /// From the connecting client to the target (e.g. binlogserver to the
    /// primary: commands, semi-sync ACKs).
    ToServer,
    /// From the target to the client (e.g. the primary's binlog events).
    ToClient,
}

/// What a link does with the bytes it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Pass,
    /// Forward this many more bytes in `Dir`, then reset.
    ResetAfter(RelayDir, u64),
    Stall,
    HalfOpen,
}

/// One relayed connection: the client's socket and ours to the target
/// (the pumps use clones; all are dropped when the link closes, so that
/// the sockets really close and a peer still sending gets an RST instead
/// of filling a buffer nobody reads).
#[derive(Debug)]
struct Link {
    sockets: Mutex<Option<(TcpStream, TcpStream)>>,
    fault: Mutex<Fault>,
    changed: Condvar,
    closed: AtomicBool,
}

impl Link {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some((client, server)) = self.sockets.lock().expect("sockets lock").take() {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        self.changed.notify_all();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn set(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = fault;
        self.changed.notify_all();
    }

    fn fault(&self) -> Fault {
        *self.fault.lock().expect("fault lock")
    }
}

#[derive(Debug)]
struct Shared {
    target: Mutex<SocketAddr>,
    links: Mutex<Vec<Arc<Link>>>,
    accepted: AtomicUsize,
    refused: AtomicUsize,
    forwarded: [AtomicU64; 2],
    resets: AtomicUsize,
    refuse: AtomicBool,
    trickle: AtomicBool,
    stop: AtomicBool,
}

/// A running relay; see the module documentation.
#[derive(Debug)]
pub(crate) struct Relay {
    shared: Arc<Shared>,
    port: u16,
    accept: Option<thread::JoinHandle<()>>,
}

impl Relay {
    /// Listens on 127.0.0.1:0 and relays to 127.0.0.1:`target_port`.
    pub(crate) fn start(target_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay on 127.0.0.1:0");
        let port = listener.local_addr().expect("relay local_addr").port();
        let shared = Arc::new(Shared {
            target: Mutex::new(SocketAddr::from(([127, 0, 0, 1], target_port))),
            links: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            resets: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
            trickle: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = thread::Builder::new()
            .name(format!("relay-{port}-accept"))
            .spawn(move || accept_loop(&listener, &s))
            .expect("spawn the relay accept thread");
        eprintln!("relay 127.0.0.1:{port} -> 127.0.0.1:{target_port}");
        Relay { shared, port, accept: Some(accept) }
    }

    /// The port clients connect to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Relays connections accepted from now on to 127.0.0.1:`port`.
    pub(crate) fn set_target(&self, port: u16) {
        *self.shared.target.lock().expect("target lock") = SocketAddr::from(([127, 0, 0, 1], port));
        eprintln!("relay 127.0.0.1:{} now -> 127.0.0.1:{port}", self.port);
    }

    /// Connections accepted so far (refused ones included).
    pub(crate) fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections closed at once because the relay was refusing.
    pub(crate) fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Links reset by [`Relay::reset_now`] or [`Relay::reset_after`].
    pub(crate) fn resets(&self) -> usize {
        self.shared.resets.load(Ordering::SeqCst)
    }

    /// Bytes forwarded so far in `dir`, over all links.
    pub(crate) fn forwarded(&self, dir: RelayDir) -> u64 {
        self.shared.forwarded[dir as usize].load(Ordering::SeqCst)
    }

    fn live_links(&self) -> Vec<Arc<Link>> {
        let mut links = self.shared.links.lock().expect("links lock");
        links.retain(|l| !l.is_closed());
        links.clone()
    }

    /// Resets every live link now; returns how many.
    pub(crate) fn reset_now(&self) -> usize {
        let links = self.live_links();
        for l in &links {
            l.close();
            self.shared.resets.fetch_add(1, Ordering::SeqCst);
        }
        links.len()
    }

    /// Every live link forwards exactly `bytes` more bytes in `dir`, then
    /// is reset; returns how many links were armed.
    pub(crate) fn reset_after(&self, dir: RelayDir, bytes: u64) -> usize {
        self.set_live(Fault::ResetAfter(dir, bytes))
    }

    /// Every live link stops reading and forwarding, keeping its sockets
    /// open, until [`Relay::release`]; returns how many.
    pub(crate) fn stall(&self) -> usize {
        self.set_live(Fault::Stall)
    }

    /// Stalled links forward again (those a peer closed meanwhile close).
    pub(crate) fn release(&self) {
        for l in self.live_links() {
            if l.fault() == Fault::Stall {
                l.set(Fault::Pass);
            }
        }
    }

    /// Every live link becomes half-open: nothing is forwarded in either
    /// direction and nothing is ever closed (until the relay is dropped);
    /// returns how many.
    pub(crate) fn half_open(&self) -> usize {
        self.set_live(Fault::HalfOpen)
    }

    /// Every link (live and new) forwards one byte per write with a small
    /// pause while `on`.
    pub(crate) fn set_trickle(&self, on: bool) {
        self.shared.trickle.store(on, Ordering::SeqCst);
    }

    /// While `on`, new connections are accepted and closed at once.
    pub(crate) fn refuse(&self, on: bool) {
        self.shared.refuse.store(on, Ordering::SeqCst);
    }

    fn set_live(&self, fault: Fault) -> usize {
        let links = self.live_links();
        for l in &links {
            l.set(fault);
        }
        links.len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for l in self.shared.links.lock().expect("links lock").drain(..) {
            l.close();
        }
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for (n, conn) in listener.incoming().enumerate() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = conn else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.refuse.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let target = *shared.target.lock().expect("target lock");
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let link = Arc::new(Link {
            sockets: Mutex::new(Some((client, server))),
            fault: Mutex::new(Fault::Pass),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
        });
        shared.links.lock().expect("links lock").push(link.clone());
        for dir in [RelayDir::ToServer, RelayDir::ToClient] {
            let (l, s) = (link.clone(), shared.clone());
            thread::Builder::new()
                .name(format!("relay-{n}-{dir:?}"))
                .spawn(move || pump(&l, &s, dir))
                .expect("spawn a relay pump");
        }
    }
}

/// Copies one direction of `link` until it closes, obeying its fault.
fn pump(link: &Link, shared: &Shared, dir: RelayDir) {
    let clones = {
        let sockets = link.sockets.lock().expect("sockets lock");
        let Some((client, server)) = sockets.as_ref() else {
            return;
        };
        let (src, dst) = match dir {
            RelayDir::ToServer => (client, server),
            RelayDir::ToClient => (server, client),
        };
        (src.try_clone(), dst.try_clone())
    };
    let (mut src, mut dst) = match clones {
        (Ok(s), Ok(d)) => (s, d),
        _ => return link.close(),
    };
    let _ = src.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 64 << 10];
    while !link.is_closed() && !shared.stop.load(Ordering::SeqCst) {
        if wait_while_stalled(link) {
            continue;
        }
        let n = match src.read(&mut buf) {
            Ok(n) if n > 0 => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            // A half-open link never passes a close on: the other peer
            // keeps waiting on a socket that stays open.
            _ if link.fault() == Fault::HalfOpen => return,
            _ => return link.close(),
        };
        // The fault may have changed while reading: a stall holds the bytes.
        while wait_while_stalled(link) {}
        let (take, reset) = match link.fault() {
            Fault::HalfOpen => continue,
            Fault::ResetAfter(d, left) if d == dir => {
                let take = n.min(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - take as u64;
                link.set(Fault::ResetAfter(d, left));
                (take, left == 0)
            }
            _ => (n, false),
        };
        if forward(&mut dst, &buf[..take], shared, link).is_err() {
            return link.close();
        }
        shared.forwarded[dir as usize].fetch_add(take as u64, Ordering::SeqCst);
        if reset {
            shared.resets.fetch_add(1, Ordering::SeqCst);
            return link.close();
        }
    }
}

/// While the link is stalled, waits (at most [`POLL`]); true if it was.
fn wait_while_stalled(link: &Link) -> bool {
    let fault = link.fault.lock().expect("fault lock");
    if *fault != Fault::Stall || link.is_closed() {
        return false;
    }
    let _unused = link.changed.wait_timeout(fault, POLL).expect("fault lock");
    true
}

fn forward(dst: &mut TcpStream, bytes: &[u8], shared: &Shared, link: &Link) -> std::io::Result<()> {
    if !shared.trickle.load(Ordering::SeqCst) {
        return dst.write_all(bytes);
    }
    for (i, b) in bytes.iter().enumerate() {
        if link.is_closed() {
            return Err(ErrorKind::BrokenPipe.into());
        }
        if !shared.trickle.load(Ordering::SeqCst) {
            return dst.write_all(&bytes[i..]);
        }
        dst.write_all(std::slice::from_ref(b))?;
        thread::sleep(TRICKLE_PAUSE);
    }
    Ok(())
}
