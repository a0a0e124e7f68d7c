//! The accept loop that the listener and the metrics exporter share: bind,
//! accept until [`Shutdown`], back off while `accept` fails (out of file
//! descriptors, say), and wake the blocked `accept` at shutdown by
//! connecting to ourselves from a small `<name>-wake` thread (as tiny-http
//! does: std has no way to interrupt `accept`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use log::warn;

use crate::shutdown::Shutdown;

/// First pause after a failed `accept`; doubled per failure in a row.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause between `accept` attempts while they fail.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long the wake-up connection may take.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// A bound listening socket and the loop that accepts on it.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    shutdown: Shutdown,
    name: &'static str,
}

impl Acceptor {
    /// Binds `addr`; `name` names the thread that runs the loop (its wake
    /// thread is `<name>-wake`) and its log lines.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn bind(addr: SocketAddr, shutdown: Shutdown, name: &'static str) -> io::Result<Self> {
        Ok(Acceptor { listener: TcpListener::bind(addr)?, shutdown, name })
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// When the socket cannot tell.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Hands every accepted connection to `on_accept` until shutdown.
    ///
    /// # Errors
    /// When the wake thread cannot start (nothing could end the loop).
    pub fn run(self, mut on_accept: impl FnMut(TcpStream)) -> io::Result<()> {
        let wake = wake_address(self.listener.local_addr()?);
        let waker = self.shutdown.clone();
        let wake = thread::Builder::new().name(format!("{}-wake", self.name)).spawn(move || {
            while !waker.wait(Duration::from_secs(3600)) {}
            let _ = TcpStream::connect_timeout(&wake, WAKE_TIMEOUT);
        })?;
        let mut backoff = BACKOFF_MIN;
        while !self.shutdown.is_set() {
            match self.listener.accept() {
                // The wake-up connection, or one that raced with shutdown.
                Ok(_) if self.shutdown.is_set() => break,
                Ok((stream, _)) => {
                    backoff = BACKOFF_MIN;
                    on_accept(stream);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(
                        "accept failed listener={} retry_ms={}: {e}",
                        self.name,
                        backoff.as_millis()
                    );
                    if self.shutdown.wait(backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        // The flag is set: the wake thread has returned or is about to.
        let _ = wake.join();
        Ok(())
    }
}

/// Where to connect to reach a socket bound to `addr` (a wildcard address
/// is reached over loopback).
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    #[test]
    fn accepts_until_shutdown_then_returns_promptly() {
        let shutdown = Shutdown::new();
        let acceptor =
            Acceptor::bind("127.0.0.1:0".parse().unwrap(), shutdown.clone(), "test").unwrap();
        let addr = acceptor.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        let handle = thread::spawn(move || {
            acceptor.run(|s| tx.send(s.peer_addr().unwrap()).unwrap()).unwrap();
        });
        let client = TcpStream::connect(addr).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), client.local_addr().unwrap());
        let started = Instant::now();
        shutdown.trigger();
        handle.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "woken, not timed out");
        assert!(rx.try_recv().is_err(), "the wake-up connection is not handed on");
    }

    #[test]
    fn a_wildcard_address_is_woken_over_loopback() {
        assert_eq!(
            wake_address("0.0.0.0:3306".parse().unwrap()),
            "127.0.0.1:3306".parse().unwrap()
        );
        assert_eq!(wake_address("[::]:9104".parse().unwrap()), "[::1]:9104".parse().unwrap());
        assert_eq!(
            wake_address("10.1.2.3:3306".parse().unwrap()),
            "10.1.2.3:3306".parse().unwrap()
        );
    }
}
