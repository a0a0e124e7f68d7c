//! Bad input on the listener (issue 4, part 6), against the real binary
//! serving a copied MariaDB binlog without a primary: garbage before the
//! handshake response, oversized length prefixes, wrong sequence ids, a
//! handshake cut in half, a client trickling one byte a second (slowloris),
//! and 500 connections at once.
//!
//! Each bad connection is closed (with MariaDB's ERR where the client can
//! still read one) and leaves exactly one log line at info level or above;
//! afterwards a normal client (`mariadb`, `mariadb-binlog --raw`) is still
//! served, and the server's threads and memory return to where they were.

use crate::common::raw_client::{
    assert_one_log_line, assert_still_serves, err_code, fixture_dir, login_response, proc_status,
    serve_fixture, RawConn, RAW_PASSWORD, RAW_USER,
};
use crate::common::wait_until_ok;
use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

/// Longer than the server's 10 s handshake deadline, with room for a loaded machine.
const CLOSE_WITHIN: Duration = Duration::from_secs(40);

#[test]
fn garbage_before_the_handshake_response_is_refused_and_logged() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);

    // An HTTP request: "GET " reads as a 5.5 MB packet with sequence id 0x20.
    let mut http = RawConn::connect(port);
    http.greeting();
    http.stream.write_all(b"GET / HTTP/1.1\r\nHost: binlogserver\r\n\r\n").unwrap();
    let got = http.until_closed(CLOSE_WITHIN);
    assert_eq!(got.iter().map(|p| err_code(p)).collect::<Vec<_>>(), [Some(1156)], "{got:02x?}");
    assert_one_log_line(&bls, http.local_addr(), "handshake failed");

    // Well framed, but no handshake response inside.
    let mut junk = RawConn::connect(port);
    junk.greeting();
    junk.write_packet(1, &[0x5a; 40]);
    let got = junk.until_closed(CLOSE_WITHIN);
    assert_eq!(got.iter().map(|p| err_code(p)).collect::<Vec<_>>(), [Some(1043)], "{got:02x?}");
    assert_one_log_line(&bls, junk.local_addr(), "bad handshake response");

    assert_still_serves(&bls, port, &dir);
}

#[test]
fn oversized_length_prefixes_are_refused_before_any_payload() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    let rss_before = proc_status(bls.pid(), "VmRSS");
    let threads_before = proc_status(bls.pid(), "Threads");

    // 16 MiB - 1 announced, then nothing: refused at once, not after the deadline.
    let mut silent = RawConn::connect(port);
    silent.greeting();
    silent.stream.write_all(&[0xff, 0xff, 0xff, 1]).unwrap();
    // Then the same followed by garbage.
    let mut noisy = RawConn::connect(port);
    noisy.greeting();
    noisy.stream.write_all(&[0xff, 0xff, 0xff, 1]).unwrap();
    noisy.stream.write_all(&[0xab; 4096]).unwrap();
    let got = silent.until_closed(CLOSE_WITHIN);
    assert_eq!(got.iter().map(|p| err_code(p)).collect::<Vec<_>>(), [Some(1153)], "{got:02x?}");
    assert_one_log_line(&bls, silent.local_addr(), "exceeds");
    // Closing with the garbage unread resets the connection, which may
    // discard the ERR before the client reads it; nothing else may come.
    let got = noisy.until_closed(CLOSE_WITHIN);
    assert!(got.iter().all(|p| err_code(p) == Some(1153)) && got.len() <= 1, "{got:02x?}");
    assert_one_log_line(&bls, noisy.local_addr(), "exceeds");

    // The same after login: the cap is then 16 MiB, and a client announcing
    // that much and sending a little commits only what arrived.
    let mut authed = RawConn::connect(port);
    let g = authed.greeting();
    authed.write_packet(1, &login_response(RAW_USER, RAW_PASSWORD, &g.scramble));
    assert_eq!(authed.read_packet().unwrap().1.first(), Some(&0x00), "login OK");
    let mut many = Vec::new();
    for _ in 0..20 {
        let mut c = RawConn::connect(port);
        let g = c.greeting();
        c.write_packet(1, &login_response(RAW_USER, RAW_PASSWORD, &g.scramble));
        assert_eq!(c.read_packet().unwrap().1.first(), Some(&0x00), "login OK");
        c.stream.write_all(&[0xff, 0xff, 0xfe, 0, 0x03]).unwrap();
        c.stream.write_all(&[b'x'; 1000]).unwrap();
        many.push(c);
    }
    // Each holds a thread reading a 16 MiB packet; committing that size up
    // front would show as 20 x 16 MiB. (The baseline may include the
    // harness's readiness probe, hence 20 rather than 21.)
    wait_until_ok(Duration::from_secs(20), "20 sessions reading their big packets", || {
        let threads = proc_status(bls.pid(), "Threads");
        if threads >= threads_before + 20 {
            Ok(())
        } else {
            Err(format!("{threads} threads, {threads_before} before"))
        }
    });
    let rss_during = proc_status(bls.pid(), "VmRSS");
    assert!(
        rss_during < rss_before + 64 * 1024,
        "VmRSS grew from {rss_before} kB to {rss_during} kB with 20 clients announcing 16 MiB \
         packets"
    );
    drop(many);
    drop(authed);
    assert_still_serves(&bls, port, &dir);
}

#[test]
fn wrong_sequence_ids_are_refused() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);

    // The handshake response must carry sequence id 1.
    let mut conn = RawConn::connect(port);
    let g = conn.greeting();
    conn.write_packet(0, &login_response(RAW_USER, RAW_PASSWORD, &g.scramble));
    let got = conn.until_closed(CLOSE_WITHIN);
    assert_eq!(got.iter().map(|p| err_code(p)).collect::<Vec<_>>(), [Some(1156)], "{got:02x?}");
    assert_one_log_line(&bls, conn.local_addr(), "sequence_id");

    // After login, a command must start at sequence id 0.
    let mut conn = RawConn::connect(port);
    let g = conn.greeting();
    conn.write_packet(1, &login_response(RAW_USER, RAW_PASSWORD, &g.scramble));
    assert_eq!(conn.read_packet().unwrap().1.first(), Some(&0x00), "login OK");
    conn.write_packet(7, b"\x03SELECT 1");
    let got = conn.until_closed(CLOSE_WITHIN);
    assert_eq!(got.iter().map(|p| err_code(p)).collect::<Vec<_>>(), [Some(1156)], "{got:02x?}");
    assert_one_log_line(&bls, conn.local_addr(), "sequence_id");

    assert_still_serves(&bls, port, &dir);
}

#[test]
fn a_handshake_cut_in_half_is_logged_once() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    let mut conn = RawConn::connect(port);
    let g = conn.greeting();
    let resp = login_response(RAW_USER, RAW_PASSWORD, &g.scramble);
    let mut wire = u32::try_from(resp.len()).unwrap().to_le_bytes()[..3].to_vec();
    wire.push(1);
    wire.extend_from_slice(&resp);
    conn.stream.write_all(&wire[..wire.len() / 2]).unwrap();
    conn.stream.shutdown(Shutdown::Write).unwrap();
    let got = conn.until_closed(CLOSE_WITHIN);
    assert!(got.is_empty(), "nothing may follow a cut handshake: {got:02x?}");
    assert_one_log_line(&bls, conn.local_addr(), "connection closed by peer");
    assert_still_serves(&bls, port, &dir);
}

#[test]
fn slowloris_and_silent_clients_are_cut_off_by_the_handshake_deadline() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);

    // Says nothing after the greeting.
    let mut silent = RawConn::connect(port);
    silent.greeting();
    // Sends a valid handshake response one byte a second: each read returns
    // within the socket timeout, only the total deadline stops it.
    let mut slow = RawConn::connect(port);
    let g = slow.greeting();
    let resp = login_response(RAW_USER, RAW_PASSWORD, &g.scramble);
    let mut wire = u32::try_from(resp.len()).unwrap().to_le_bytes()[..3].to_vec();
    wire.push(1);
    wire.extend_from_slice(&resp);
    let mut writer = slow.stream.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        // The abuse itself, not a wait for a condition: one byte per second
        // until the server hangs up (or the whole response went out).
        for byte in wire {
            if writer.write_all(&[byte]).is_err() {
                return true;
            }
            thread::sleep(Duration::from_secs(1));
        }
        false
    });
    for conn in [&mut silent, &mut slow] {
        conn.until_closed(CLOSE_WITHIN);
        assert_one_log_line(&bls, conn.local_addr(), "timed out");
    }
    drop(slow);
    let cut_off = trickle.join().unwrap();
    assert!(cut_off, "the whole handshake response trickled in: the deadline did not stop it");
    assert_still_serves(&bls, port, &dir);
}

#[test]
fn five_hundred_connections_at_once_stay_bounded() {
    const CONNECTIONS: usize = 500;
    const MAX: usize = 200;
    let dir = fixture_dir();
    // The handshake caps out of the way: this is about --max-connections
    // (listener_limits:: tests the caps).
    let (bls, port) =
        serve_fixture(&dir, &["--max-connections", "200", "--max-handshakes", "500:500"]);
    let pid = bls.pid();
    let threads_before = proc_status(pid, "Threads");
    let rss_before = proc_status(pid, "VmRSS");

    let mut conns: Vec<RawConn> = (0..CONNECTIONS).map(|_| RawConn::connect(port)).collect();
    let (mut greeted, mut refused) = (0, 0);
    for c in &mut conns {
        let (seq, p) = c.read_packet().expect("a greeting or an ERR");
        match (seq, p.first(), err_code(&p)) {
            (0, Some(10), _) => greeted += 1,
            (_, _, Some(1040)) => refused += 1,
            other => panic!("unexpected first packet {other:?}: {p:02x?}"),
        }
    }
    // The harness's readiness probe may still hold one of the slots.
    assert!((MAX - 1..=MAX).contains(&greeted), "{greeted} greeted, {refused} refused");
    assert_eq!(greeted + refused, CONNECTIONS);
    let threads_during = proc_status(pid, "Threads");
    let rss_during = proc_status(pid, "VmRSS");
    assert!(
        threads_during <= threads_before + MAX as u64 + 1,
        "{threads_during} threads with {greeted} sessions (before: {threads_before})"
    );
    // A session before login costs its 256 KiB read buffer at most.
    assert!(
        rss_during <= rss_before + (MAX as u64) * 300,
        "VmRSS {rss_during} kB with {greeted} sessions (before: {rss_before} kB)"
    );
    // A normal client is refused too while the slots are full.
    let mut extra = RawConn::connect(port);
    assert_eq!(err_code(&extra.read_packet().unwrap().1), Some(1040));
    let refused_line = format!("refusing connection peer={}", extra.local_addr());
    assert!(bls.log().contains(&refused_line), "no log line {refused_line:?}");

    drop(conns);
    wait_until_ok(Duration::from_secs(30), "every session thread to end", || {
        let now = proc_status(pid, "Threads");
        if now <= threads_before {
            Ok(())
        } else {
            Err(format!("{now} threads, {threads_before} before"))
        }
    });
    let rss_after = proc_status(pid, "VmRSS");
    eprintln!(
        "VmRSS kB: before {rss_before}, with {greeted} sessions {rss_during}, after {rss_after}"
    );
    assert_still_serves(&bls, port, &dir);
}
