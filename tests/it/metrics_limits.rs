//! The exporter against hostile clients (issue 11, item 5), with the real
//! binary serving a directory: clients that trickle their request one byte
//! every 1.5 s (a per-read timeout never fires on them) get a 400 and the
//! close at the connection deadline (5 s from accept), and neither they nor more idle
//! connections than the exporter serves at once (16) delay a scrape.

use crate::common::raw_client::{fixture_dir, serve_fixture};
use crate::metrics_e2e::{metrics_addr, scrape};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// The exporter's deadline for a whole connection (`metrics::slots::DEADLINE`).
const DEADLINE: Duration = Duration::from_secs(5);
/// How often a slow client sends a byte: under any per-read timeout.
const TRICKLE: Duration = Duration::from_millis(1500);
/// A scrape must be answered within this.
const SCRAPE_WITHIN: Duration = Duration::from_secs(2);

/// Connects and sends a request head one byte every [`TRICKLE`] (never
/// finishing it) until the server closes the connection; returns how long
/// the connection lasted. Gives up after 60 s. The server may answer what
/// arrived with a 400 before it closes, nothing else.
fn slowloris(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(TRICKLE)).unwrap();
    let mut answer = Vec::new();
    for b in b"GET /metrics HTTP/1.1\r\nX-Padding: ".iter().chain([b'a'; 64].iter()).cycle() {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        if answer.is_empty() {
            // After the answer began, the server reads no more.
            let _ = s.write_all(&[*b]);
        }
        // Waiting for an answer is how the client paces itself: it sees
        // the close as soon as it happens.
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 400 "), "{answer}");
    started.elapsed()
}

/// Scrapes `n` times, `every` apart; each answered with 200 within [`SCRAPE_WITHIN`].
fn scrape_steadily(addr: SocketAddr, n: usize, every: Duration) {
    for i in 0..n {
        let started = Instant::now();
        let body = scrape(addr);
        let took = started.elapsed();
        assert!(body.contains("binlogserver_binlog_files"), "scrape {i}: {body}");
        assert!(took < SCRAPE_WITHIN, "scrape {i} took {took:?}");
        thread::sleep(every.saturating_sub(took));
    }
}

#[test]
fn slow_clients_are_dropped_at_the_deadline_while_every_scrape_is_answered() {
    let dir = fixture_dir();
    let (bls, _port) = serve_fixture(&dir, &["--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&bls);
    let slow: Vec<_> = (0..6).map(|_| thread::spawn(move || slowloris(addr))).collect();
    // Scrapes for longer than the deadline, so some run while the slow
    // clients hold connections and some after they were dropped.
    scrape_steadily(addr, 16, Duration::from_millis(500));
    for (i, s) in slow.into_iter().enumerate() {
        let lasted = s.join().unwrap();
        assert!(
            lasted >= DEADLINE - Duration::from_millis(500) && lasted < DEADLINE + TRICKLE * 2,
            "slow client {i} lasted {lasted:?}, not the {DEADLINE:?} deadline"
        );
    }
    bls.assert_running();
}

#[test]
fn more_idle_connections_than_the_exporter_serves_cannot_lock_out_scrapes() {
    let dir = fixture_dir();
    let (bls, _port) = serve_fixture(&dir, &["--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&bls);
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect"))
        .collect();
    scrape_steadily(addr, 5, Duration::from_millis(200));
    // At most 16 are served at once: the oldest were closed to make room.
    let closed = idle.iter().filter(|s| is_closed(s)).count();
    assert!(closed >= 40 - 16, "only {closed} of 40 idle connections were closed");
    bls.assert_running();
}

/// True when the server has closed `s` (an end of stream or a reset waits
/// to be read), without blocking.
fn is_closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    !matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock)
}
