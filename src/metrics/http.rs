//! The `--metrics` exporter: Prometheus text over plain HTTP/1.x on
//! std::net. One connection at a time, each short-lived: read one request
//! (at most [`MAX_REQUEST`] bytes, within [`IO_TIMEOUT`]), answer, close.
//! `GET /metrics` gets the samples; other paths 404, other methods 405,
//! anything unparsable 400. A scrape touches no hot-path lock: it reads
//! atomics, the upstream status, the registry and stats the binlog files.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{debug, info};

use super::collect::{collect, View};
use super::text::{prometheus, status_rows, Family};
use crate::net::accept::Acceptor;
use crate::server::registry::Registry;
use crate::server::StatusRows;
use crate::shutdown::Shutdown;
use crate::status::{Counters, UpstreamStatus};
use crate::storage::watermark::Watermark;

/// Largest request head (request line and headers) read.
pub const MAX_REQUEST: usize = 8 << 10;
/// Read and write timeout of an exporter connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes read and discarded after answering, at most.
const DRAIN_MAX: usize = 64 << 10;
/// How long to wait for the client to finish sending after the answer.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
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
}

impl Exporter {
    /// Binds `addr`.
    pub fn bind(addr: SocketAddr, source: Source, shutdown: Shutdown) -> std::io::Result<Self> {
        let acceptor = Acceptor::bind(addr, shutdown, "metrics")?;
        info!("serving metrics addr={} path=/metrics", acceptor.local_addr()?);
        Ok(Exporter { acceptor, source })
    }

    /// Answers requests one at a time until shutdown.
    ///
    /// # Errors
    /// When the accept loop cannot run.
    pub fn run(self) -> std::io::Result<()> {
        let source = self.source;
        self.acceptor.run(|s| {
            if let Err(e) = serve(&source, s) {
                debug!("metrics connection failed: {e}");
            }
        })
    }
}

/// Answers one connection.
fn serve(source: &Source, mut s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut s)?;
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
    s.write_all(out.as_bytes())?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    drain(&mut s);
    Ok(())
}

fn st_code(s: Status) -> u16 {
    s as u16
}

/// Reads what the client still sends (a body, an oversized head) before
/// closing: closing with unread input resets the connection, and the
/// client could lose the answer. Bounded in bytes and time.
fn drain(s: &mut TcpStream) {
    let _ = s.set_read_timeout(Some(DRAIN_TIMEOUT));
    let mut buf = [0u8; 4096];
    let mut left = DRAIN_MAX;
    while left > 0 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// Reads until the end of the request head, EOF, [`MAX_REQUEST`] bytes or the timeout.
fn read_head(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_REQUEST && !head_complete(&head) {
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A timed-out request is answered from what arrived (likely a 400).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
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
