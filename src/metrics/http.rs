//! The `--metrics` exporter: Prometheus text over plain HTTP/1.x on
//! std::net. Each connection is served by its own short-lived
//! `metrics-<peer>` thread, at most [`super::slots::MAX_CONNECTIONS`] at
//! once (a new one closes the oldest: [`super::slots`]), and each has one
//! deadline, [`super::slots::DEADLINE`] from accept, for the whole
//! exchange: read one request (at most [`MAX_REQUEST`] bytes), answer,
//! close. A client that has not sent its request head by then gets an
//! answer to what arrived (a 400) and the close, however steadily it
//! trickles bytes, so slow clients neither hold a connection for long nor
//! delay anyone else's scrape. `GET
//! /metrics` gets the samples; other paths 404, other methods 405, anything
//! unparsable 400. A scrape touches no hot-path lock: it reads atomics, the
//! upstream status, the registry and stats the binlog files.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{debug, info, warn};

use super::collect::{collect, View};
use super::slots::{Limits, Slots};
use super::text::{prometheus, status_rows, Family};
use crate::net::accept::Acceptor;
use crate::server::registry::Registry;
use crate::server::StatusRows;
use crate::shutdown::Shutdown;
use crate::status::{Counters, UpstreamStatus};
use crate::storage::watermark::Watermark;

/// Largest request head (request line and headers) read.
pub const MAX_REQUEST: usize = 8 << 10;
/// Bytes read and discarded after answering, at most.
const DRAIN_MAX: usize = 64 << 10;
/// How long to wait for the client to finish sending after the answer
/// (within the deadline).
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
/// Time to write the answer past the deadline (the answer to a request
/// the deadline cut short: small, it fits in the socket buffer).
const ANSWER_GRACE: Duration = Duration::from_millis(250);
/// Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything a scrape reads.
#[derive(Debug, Clone)]
pub struct Source {
    /// The counters.
    pub counters: Arc<Counters>,
    /// Our upstream, when following a primary.
    pub upstream: Option<Arc<Mutex<UpstreamStatus>>>,
    /// The data directory.
    pub dir: PathBuf,
    /// The durable end.
    pub watermark: Watermark,
    /// Downstream connections, when listening.
    pub registry: Option<Arc<Registry>>,
}

impl Source {
    /// The samples as of now.
    pub fn families(&self) -> Vec<Family> {
        let upstream = self
            .upstream
            .as_ref()
            .map(|u| u.lock().unwrap_or_else(PoisonError::into_inner).clone());
        let now_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        collect(&View {
            counters: &self.counters,
            upstream,
            dir: &self.dir,
            watermark: &self.watermark,
            registry: self.registry.as_deref(),
            now_unix,
        })
    }
}

impl StatusRows for Source {
    fn status_rows(&self) -> Vec<(String, String)> {
        status_rows(&self.families())
    }
}

/// The exporter's listening socket.
#[derive(Debug)]
pub struct Exporter {
    acceptor: Acceptor,
    source: Source,
    limits: Limits,
}

impl Exporter {
    /// Binds `addr`, with the default [`Limits`].
    pub fn bind(addr: SocketAddr, source: Source, shutdown: Shutdown) -> std::io::Result<Self> {
        Self::bind_with(addr, source, shutdown, Limits::default())
    }

    /// Binds `addr`, serving within `limits`.
    pub fn bind_with(
        addr: SocketAddr,
        source: Source,
        shutdown: Shutdown,
        limits: Limits,
    ) -> std::io::Result<Self> {
        let acceptor = Acceptor::bind(addr, shutdown, "metrics")?;
        info!(
            "serving metrics addr={} path=/metrics max_connections={} deadline_ms={}",
            acceptor.local_addr()?,
            limits.max_connections,
            limits.deadline.as_millis()
        );
        Ok(Exporter { acceptor, source, limits })
    }

    /// The bound address.
    ///
    /// # Errors
    /// When the socket cannot tell.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.acceptor.local_addr()
    }

    /// Serves connections until shutdown, each in its own thread; then
    /// closes those still open and joins their threads.
    ///
    /// # Errors
    /// When the accept loop cannot run.
    pub fn run(self) -> std::io::Result<()> {
        let source = Arc::new(self.source);
        let slots = Arc::new(Slots::new(self.limits.max_connections));
        let deadline = self.limits.deadline;
        let next_id = AtomicU64::new(0);
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        let ran = self.acceptor.run(|s| {
            threads.retain(|t| !t.is_finished());
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let conn = Conn { id, source: Arc::clone(&source), slots: Arc::clone(&slots) };
            if let Some(t) = conn.spawn(s, Instant::now() + deadline) {
                threads.push(t);
            }
        });
        slots.close_all();
        for t in threads {
            let _ = t.join();
        }
        ran
    }
}

/// One accepted connection, on its way to its own thread.
struct Conn {
    id: u64,
    source: Arc<Source>,
    slots: Arc<Slots>,
}

impl Conn {
    /// Takes a slot (closing the oldest connection if need be) and serves
    /// `s` in a new thread, by `deadline`.
    fn spawn(self, s: TcpStream, deadline: Instant) -> Option<JoinHandle<()>> {
        let peer = s.peer_addr().map_or_else(|_| "unknown".to_owned(), |a| a.to_string());
        let clone = match s.try_clone() {
            Ok(c) => c,
            Err(e) => {
                warn!("metrics connection dropped peer={peer}: cannot clone its socket: {e}");
                return None;
            }
        };
        if let Some(old) = self.slots.take(self.id, clone) {
            debug!("metrics connections full, closed the oldest id={old} for peer={peer}");
        }
        let (id, slots) = (self.id, Arc::clone(&self.slots));
        let spawned = thread::Builder::new().name(format!("metrics-{peer}")).spawn(move || {
            if let Err(e) = serve(&self.source, s, deadline) {
                debug!("metrics connection ended peer={peer}: {e}");
            }
            self.slots.free(self.id);
        });
        match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                warn!("metrics connection dropped: cannot start its thread: {e}");
                slots.free(id);
                None
            }
        }
    }
}

/// The time left until `deadline`, or a `TimedOut` error once it passed.
fn left(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection deadline passed",
        ));
    }
    Ok(left)
}

/// Answers one connection, all of it by `deadline`.
fn serve(source: &Source, mut s: TcpStream, deadline: Instant) -> std::io::Result<()> {
    let head = read_head(&mut s, deadline)?;
    let (status, body) = match route(&head) {
        Ok(()) => (Status::Ok, prometheus(&source.families())),
        Err(st) => (st, format!("{}\n", st.reason())),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        st_code(status),
        status.reason(),
        if status == Status::Ok { CONTENT_TYPE } else { "text/plain; charset=utf-8" },
        body.len()
    );
    if status == Status::MethodNotAllowed {
        out.push_str("Allow: GET\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    // The answer to a request the deadline cut short still gets a moment.
    write_by(&mut s, out.as_bytes(), deadline.max(Instant::now() + ANSWER_GRACE))?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    drain(&mut s, deadline.min(Instant::now() + DRAIN_TIMEOUT));
    Ok(())
}

/// Writes all of `bytes` by `deadline`: a client that reads slowly cannot
/// stretch the answer (a write timeout alone restarts at every write that
/// makes progress).
fn write_by(s: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !bytes.is_empty() {
        s.set_write_timeout(Some(left(deadline)?))?;
        match s.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn st_code(s: Status) -> u16 {
    s as u16
}

/// Reads what the client still sends (a body, an oversized head) before
/// closing: closing with unread input resets the connection, and the
/// client could lose the answer. Bounded in bytes and by `until`.
fn drain(s: &mut TcpStream, until: Instant) {
    let mut buf = [0u8; 4096];
    let mut left_bytes = DRAIN_MAX;
    while left_bytes > 0 {
        let Ok(wait) = left(until) else { break };
        if s.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left_bytes = left_bytes.saturating_sub(n),
        }
    }
}

/// Reads until the end of the request head, EOF, [`MAX_REQUEST`] bytes or
/// `deadline`, whichever comes first: a request cut short by the deadline
/// is answered from what arrived (a 400, most likely).
fn read_head(s: &mut TcpStream, deadline: Instant) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_REQUEST && !head_complete(&head) {
        let Ok(wait) = left(deadline) else { break };
        s.set_read_timeout(Some(wait))?;
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The timeout was the time left: the next turn reports it.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    Ok(head)
}

fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// HTTP status codes the exporter answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200.
    Ok = 200,
    /// 400: not an HTTP request we can read.
    BadRequest = 400,
    /// 404: a path other than `/metrics`.
    NotFound = 404,
    /// 405: a method other than GET.
    MethodNotAllowed = 405,
    /// 431: request head larger than [`MAX_REQUEST`].
    HeadersTooLarge = 431,
}

impl Status {
    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::HeadersTooLarge => "Request Header Fields Too Large",
        }
    }
}

/// Decides the answer to a request head: `Ok` for `GET /metrics`.
pub fn route(head: &[u8]) -> Result<(), Status> {
    if !head_complete(head) {
        return Err(if head.len() >= MAX_REQUEST {
            Status::HeadersTooLarge
        } else {
            Status::BadRequest
        });
    }
    let line_end = head.iter().position(|&b| b == b'\n').ok_or(Status::BadRequest)?;
    let line = std::str::from_utf8(head.get(..line_end).unwrap_or_default())
        .map_err(|_| Status::BadRequest)?;
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    if !version.starts_with("HTTP/1.")
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(Status::BadRequest);
    }
    if method != "GET" {
        return Err(Status::MethodNotAllowed);
    }
    let path = target.split('?').next().unwrap_or_default();
    if path == "/metrics" {
        Ok(())
    } else {
        Err(Status::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exporter over an empty directory, within `limits`, on its own
    /// thread; returns its address, its stop flag and its thread.
    fn exporter(limits: Limits) -> (SocketAddr, Shutdown, JoinHandle<()>) {
        let source = Source {
            counters: Arc::default(),
            upstream: None,
            dir: std::env::temp_dir().join(format!("bls-http-{}", std::process::id())),
            watermark: Watermark::new(),
            registry: None,
        };
        let shutdown = Shutdown::new();
        let e =
            Exporter::bind_with("127.0.0.1:0".parse().unwrap(), source, shutdown.clone(), limits)
                .unwrap();
        let addr = e.local_addr().unwrap();
        (addr, shutdown, thread::spawn(move || e.run().unwrap()))
    }

    fn scrape(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }

    /// Sends one byte every 100 ms until the server closes; returns how
    /// long the connection lasted.
    fn trickle(addr: SocketAddr) -> Duration {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().cycle() {
            if s.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(20) {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        started.elapsed()
    }

    #[test]
    fn a_trickling_client_is_dropped_at_the_deadline_and_scrapes_go_on() {
        let deadline = Duration::from_millis(800);
        let (addr, shutdown, t) = exporter(Limits { max_connections: 8, deadline });
        let slow: Vec<_> = (0..3).map(|_| thread::spawn(move || trickle(addr))).collect();
        for _ in 0..5 {
            let started = Instant::now();
            assert!(scrape(addr).starts_with("HTTP/1.1 200 OK"));
            assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        }
        for s in slow {
            let lasted = s.join().unwrap();
            assert!(lasted >= deadline && lasted < deadline * 4, "{lasted:?}");
        }
        shutdown.trigger();
        t.join().unwrap();
    }

    #[test]
    fn more_slow_clients_than_slots_cannot_lock_out_a_scraper() {
        let limits = Limits { max_connections: 2, deadline: Duration::from_secs(30) };
        let (addr, shutdown, t) = exporter(limits);
        let idle: Vec<_> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        assert!(scrape(addr).starts_with("HTTP/1.1 200 OK"));
        drop(idle);
        let started = Instant::now();
        shutdown.trigger();
        t.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "open connections closed");
    }

    #[test]
    fn get_metrics_is_served_and_everything_else_refused() {
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Ok(()));
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Ok(()));
        assert_eq!(route(b"GET /metrics HTTP/1.1\n\n"), Ok(()));
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Err(Status::NotFound));
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Err(Status::MethodNotAllowed));
        assert_eq!(route(b"HEAD /metrics HTTP/1.1\r\n\r\n"), Err(Status::MethodNotAllowed));
    }

    #[test]
    fn garbage_is_a_bad_request() {
        for head in [
            &b""[..],
            b"\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET /metrics HTTP/1.1",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"get /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics SPDY/3\r\n\r\n",
            b"\xff\xfe\x00 / HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ] {
            assert_eq!(route(head), Err(Status::BadRequest), "{head:?}");
        }
        assert_eq!(route(&vec![b'A'; MAX_REQUEST]), Err(Status::HeadersTooLarge));
    }
}
